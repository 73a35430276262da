//! ipcbench's client: runs the three measurements and prints one line.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use ipcbench::*;
use mantle_runtime::abi::syscall::NULL;
use mantle_runtime::{
    debug_println, msginfo_new, power_off, protection_domain, raw, rdtsc, Channel, Handler,
};

const SERVER: Channel = Channel::new(CLIENT_SERVER);
const SINK: Channel = Channel::new(CLIENT_SINK);

/// The sample buffer (80 KB: too big for the stack).
struct Samples(UnsafeCell<[u64; ITERATIONS]>);

// SAFETY: a PD is single-threaded; only `with_samples` touches the buffer
// and it is never re-entered.
unsafe impl Sync for Samples {}

static SAMPLES: Samples = Samples(UnsafeCell::new([0; ITERATIONS]));

/// Run `f` with the sample buffer.
fn with_samples<R>(f: impl FnOnce(&mut [u64; ITERATIONS]) -> R) -> R {
    // SAFETY: see `Samples`: this is the only access path, and `f` cannot
    // call `with_samples` (the calls below are not nested).
    f(unsafe { &mut *SAMPLES.0.get() })
}

/// Warm up, then time `ITERATIONS` runs of `sample` (which returns one
/// sample in ticks, or `None` for a failed run) and return the median.
fn measure(what: &str, mut sample: impl FnMut() -> Option<u64>) -> u64 {
    for _ in 0..WARMUP {
        let _ = sample();
    }
    with_samples(|buf| {
        let mut failures = 0;
        for slot in buf.iter_mut() {
            *slot = match sample() {
                Some(v) => v,
                None => {
                    failures += 1;
                    u64::MAX
                }
            };
        }
        if failures > 0 {
            debug_println!("ipcbench: {}: {} failed iterations", what, failures);
            power_off(CLIENT_EXIT_IOPORT, 1);
        }
        buf.sort_unstable();
        buf[ITERATIONS / 2]
    })
}

struct Client;

impl Handler for Client {
    /// The sink's first notification says every PD has finished `init`:
    /// the benchmark starts only then, so the kernel's "all PDs initialised"
    /// line (the boot-time mark) is not delayed by it.
    fn notified(&mut self, ch: Channel) {
        if ch == SINK {
            run_benchmarks()
        }
    }
}

fn init() -> Client {
    // Sent as this PD's first wait begins, i.e. after `init` has returned.
    if SINK.deferred_notify().is_err() {
        debug_println!("ipcbench: cannot kick the sink");
        power_off(CLIENT_EXIT_IOPORT, 1);
    }
    Client
}

fn run_benchmarks() -> ! {
    let null = measure("null_syscall", || {
        let t0 = rdtsc();
        let r = raw::syscall(NULL, 0, 0, 0, 0);
        let t1 = rdtsc();
        (r.rax == 0).then_some(t1 - t0)
    });
    let ppc = measure("ppc_roundtrip", || {
        let t0 = rdtsc();
        let r = SERVER.ppcall(msginfo_new(0, 0));
        let t1 = rdtsc();
        r.ok().map(|_| t1 - t0)
    });
    let notify = measure("notify_wake", || {
        let seq = shared_read(SLOT_SEQ);
        let t0 = rdtsc();
        let r = SINK.notify();
        // The sink has higher priority, so it ran before NOTIFY returned.
        let stamped = shared_read(SLOT_SEQ) == seq.wrapping_add(1);
        let t1 = shared_read(SLOT_STAMP);
        (r.is_ok() && stamped && t1 >= t0).then(|| t1 - t0)
    });
    debug_println!(
        "ipcbench: null_syscall={} ppc_roundtrip={} notify_wake={} iterations={}",
        null,
        ppc,
        notify,
        ITERATIONS
    );
    power_off(CLIENT_EXIT_IOPORT, 0)
}

protection_domain!(init);
