//! The fairness check's quiet client: every [`PERIOD_MS`] ms (a periodic
//! timeout) it prints one line, `quiet: tick N`, through the same virt_tx
//! that a flooding client saturates. If virt_tx's round robin works, these
//! lines come out between the flood's lines while the flood runs, and
//! every line of both clients is whole.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, setvar, Channel, Handler};
use mantle_serial_client::{layout, serial_println, SerialTx};
use mantle_timer_client::{Deadline, Timer};

setvar!(tx_queue);

const TX: Channel = Channel::new(0);
const TIMER: Timer = Timer::new(Channel::new(2));
const PERIOD_MS: u64 = 10;
/// Ticks printed before stopping.
const TICKS: u32 = 100;

struct Quiet {
    tx: SerialTx,
    ticks: u32,
}

impl Handler for Quiet {
    fn notified(&mut self, ch: Channel) {
        if ch == TX {
            self.tx.space();
            return;
        }
        let Ok(e) = TIMER.take_expired() else {
            return;
        };
        for id in e.ids() {
            for _ in 0..e.counts[id.index()] {
                self.ticks += 1;
                serial_println!(self.tx, "quiet: tick {}", self.ticks);
            }
            if self.ticks >= TICKS {
                let _ = TIMER.cancel(id);
            }
        }
    }
}

fn init() -> Quiet {
    // SAFETY: the SDF maps this client's tx queue region read-write at
    // `tx_queue`; this PD is its only producer.
    let q = match unsafe { layout::producer(tx_queue.get()) } {
        Ok(q) => q,
        Err(e) => panic!("tx queue: {}", e),
    };
    let ms = 1_000_000;
    if let Err(e) = TIMER.set_periodic(Deadline::Relative(PERIOD_MS * ms), PERIOD_MS * ms) {
        debug_println!("serial-fairness: FAIL: periodic timeout: {}", e);
    }
    Quiet {
        tx: SerialTx::new(q, TX),
        ticks: 0,
    }
}

protection_domain!(init);
