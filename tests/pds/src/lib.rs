//! Shared pieces of the system-test PDs: the echo protocol, the shared
//! progress page, a seeded PRNG and the end-of-test helper.
//!
//! Every test system ends with a marker line printed by one PD and a
//! power-off through QEMU's `isa-debug-exit` port: status 0 when the PD saw
//! everything it expected, 1 otherwise. The marker lines are listed in each
//! `tests/systems/*.system` file.
#![no_std]

use mantle_runtime::{
    debug_println, mr_get, mr_set, power_off, rdtsc, Channel, MessageInfo, SharedWords,
};

/// The I/O port grant id that covers port 0xf4 in every test system.
pub const EXIT_IOPORT: usize = 0;

/// Where test systems map their shared `progress` memory region
/// (`<map mr="progress" vaddr="0x20000000" .../>`).
pub const SHARED_VADDR: u64 = 0x2000_0000;

/// The shared `progress` page.
// SAFETY: the SDF maps the 4 KiB `progress` region at SHARED_VADDR in every
// PD that uses it, read-write in those that write it.
pub const PROGRESS: SharedWords = unsafe { SharedWords::new(SHARED_VADDR, 4096) };

/// Word `slot` of the shared page.
pub fn shared_read(slot: usize) -> u64 {
    PROGRESS.read(slot)
}

/// Write word `slot` of the shared page.
pub fn shared_write(slot: usize, value: u64) {
    PROGRESS.write(slot, value)
}

/// How the echo server transforms each message register.
pub const fn echo_transform(v: u64) -> u64 {
    v.wrapping_add(1)
}

/// Serve one echo PPC: same label and count, each register transformed.
pub fn echo_reply(msg: MessageInfo) -> MessageInfo {
    for i in 0..msg.count() {
        mr_set(i, echo_transform(mr_get(i)));
    }
    msg
}

/// How long a server's long call spins: about 12 ms at 2.5 GHz.
pub const LONG_TICKS: u64 = 30_000_000;

/// A server's long call: notify `ch` first, then spin for [`LONG_TICKS`]
/// of TSC time.
pub fn long_call(ch: Channel) {
    let _ = ch.notify();
    let start = rdtsc();
    while rdtsc() - start < LONG_TICKS {
        core::hint::spin_loop();
    }
}

/// Print the marker (`<test>: ok` or `<test>: FAIL`) and power off with
/// status 0 or 1.
pub fn finish(test: &str, ok: bool) -> ! {
    if ok {
        debug_println!("{}: ok", test);
        power_off(EXIT_IOPORT, 0)
    } else {
        debug_println!("{}: FAIL", test);
        power_off(EXIT_IOPORT, 1)
    }
}

/// xorshift64*: a small, seeded, deterministic PRNG.
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0 is replaced by a constant).
    pub const fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Spin forever, counting in shared word `slot`, without ever calling
/// `RECV`. Used by the starvation test.
pub fn spin_forever(slot: usize) -> ! {
    let mut n: u64 = 0;
    loop {
        n = n.wrapping_add(1);
        shared_write(slot, n);
        core::hint::spin_loop();
    }
}

/// A PD that runs after another PD of its system faulted (it has lower
/// priority) and proves the system still works by ping-ponging
/// notifications with an echo PD on channel 0, [`SURVIVOR_ROUNDS`] times.
pub mod survivor {
    use super::finish;
    use mantle_runtime::{debug_println, Channel, Handler};

    const ECHO: Channel = Channel::new(0);
    /// Round trips before the test passes.
    pub const SURVIVOR_ROUNDS: u32 = 5;

    /// The survivor of test `test`.
    pub struct Survivor {
        test: &'static str,
        rounds: u32,
    }

    impl Handler for Survivor {
        fn notified(&mut self, ch: Channel) {
            let test = self.test;
            if ch != ECHO {
                debug_println!("{}: unexpected notification on {}", test, ch);
                finish(test, false);
            }
            self.rounds += 1;
            debug_println!(
                "{}: survivor round {} of {}",
                test,
                self.rounds,
                SURVIVOR_ROUNDS
            );
            if self.rounds == SURVIVOR_ROUNDS {
                debug_println!("{}: survivor ok", test);
                finish(test, true);
            }
            ECHO.notify().expect("notify echo");
        }
    }

    /// `init` of the survivor of test `test`.
    pub fn init(test: &'static str) -> Survivor {
        debug_println!("{}: survivor started", test);
        ECHO.notify().expect("notify echo");
        Survivor { test, rounds: 0 }
    }
}

/// The `inversion` test: what one call to its server costs, in TSC ticks
/// of the server's own running time (about 0.3 ms at 2.6 GHz).
pub const INVERSION_WORK: u64 = 780_000;

/// The `inversion` test: a TSC step larger than this between two reads
/// means the reading PD was not running in between (about 0.2 ms: longer
/// than a kernel entry under TCG, shorter than any throttling).
pub const INVERSION_GAP: u64 = 500_000;

/// Shared word: mid-call stalls the `inversion` server saw.
pub const INVERSION_STALLS: usize = 0;
/// Shared word: calls of the `inversion` low PD that took far longer than
/// the work (its budget ran out during the call).
pub const INVERSION_LOW_LONG: usize = 1;
/// Shared word: calls the `inversion` low PD completed.
pub const INVERSION_LOW_CALLS: usize = 2;
