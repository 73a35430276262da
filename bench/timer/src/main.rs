//! Timer accuracy benchmark client.
//!
//! Arms [`SAMPLES`] one-shot timeouts one after the other, each at an
//! absolute time 1–4 ms ahead (a fixed pseudo-random sequence), and records
//! how late each expiry is handled: the driver's clock read in the
//! `notified` handler minus the requested time. That lateness covers the
//! HPET interrupt, the driver's handling, the notification and the
//! `GET_TIME` call. Prints
//! `timer-bench: n=N late_median_ns=M late_max_ns=X late_min_ns=Y`
//! and powers off (status 0; 1 if any expiry was early or a call failed).
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, power_off, protection_domain, Channel, Handler};
use mantle_timer_client::{Deadline, Timer};

const TIMER: Timer = Timer::new(Channel::new(0));
const EXIT_IOPORT: usize = 0;
const SAMPLES: usize = 200;

struct Bench {
    late: [u64; SAMPLES],
    n: usize,
    requested: u64,
    seed: u64,
}

fn fail(what: &str) -> ! {
    debug_println!("timer-bench: FAIL: {}", what);
    power_off(EXIT_IOPORT, 1)
}

impl Bench {
    /// 1–4 ms, from a fixed xorshift sequence.
    fn next_delay(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        1_000_000 + self.seed % 3_000_000
    }

    fn arm(&mut self) {
        let now = TIMER.now_ns().unwrap_or_else(|_| fail("now"));
        self.requested = now + self.next_delay();
        if TIMER
            .set_timeout(Deadline::Absolute(self.requested))
            .is_err()
        {
            fail("set_timeout");
        }
    }

    fn report(&mut self) -> ! {
        let l = &mut self.late[..self.n];
        l.sort_unstable();
        debug_println!(
            "timer-bench: n={} late_median_ns={} late_max_ns={} late_min_ns={}",
            l.len(),
            l[l.len() / 2],
            l[l.len() - 1],
            l[0]
        );
        power_off(EXIT_IOPORT, 0)
    }
}

impl Handler for Bench {
    fn notified(&mut self, _ch: Channel) {
        let now = TIMER.now_ns().unwrap_or_else(|_| fail("now"));
        let expired = TIMER
            .take_expired()
            .unwrap_or_else(|_| fail("take_expired"));
        if expired.is_empty() {
            return;
        }
        if now < self.requested {
            fail("expiry handled before the requested time");
        }
        self.late[self.n] = now - self.requested;
        self.n += 1;
        if self.n == SAMPLES {
            self.report();
        }
        self.arm();
    }
}

fn init() -> Bench {
    debug_println!("timer-bench: {} one-shot timeouts, 1-4 ms apart", SAMPLES);
    let mut b = Bench {
        late: [0; SAMPLES],
        n: 0,
        requested: 0,
        seed: 0x9e37_79b9_7f4a_7c15,
    };
    b.arm();
    b
}

protection_domain!(init);
