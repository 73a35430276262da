//! ipcbench's client: the best-case measurements; then hands over to
//! `rclient` and powers off when that is done.
#![no_std]
#![no_main]

use ipcbench::*;
use mantle_runtime::abi::syscall::NULL;
use mantle_runtime::{
    debug_println, msginfo_new, power_off, protection_domain, raw, rdtsc, Channel, Handler,
};

const SERVER: Channel = Channel::new(CLIENT_SERVER);
const SINK: Channel = Channel::new(CLIENT_SINK);
const RCLIENT: Channel = Channel::new(CLIENT_RCLIENT);

struct Client {
    /// The best case has been measured.
    done: bool,
}

impl Handler for Client {
    /// `rclient` notifies twice. First as its first wait begins: it has the
    /// lowest priority, so every PD has finished `init` by then, and the
    /// benchmark starts only then so that the kernel's "all PDs
    /// initialised" line (the boot-time mark) is not delayed by it. Then
    /// when the realistic case is done.
    fn notified(&mut self, ch: Channel) {
        if ch != RCLIENT {
            return;
        }
        if self.done {
            power_off(CLIENT_EXIT_IOPORT, shared_read(SLOT_STATUS) as u8)
        }
        self.done = true;
        run_benchmarks()
    }
}

fn init() -> Client {
    Client { done: false }
}

fn run_benchmarks() {
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
    let (Some(null), Some(ppc), Some(notify)) = (null, ppc, notify) else {
        power_off(CLIENT_EXIT_IOPORT, 1)
    };
    debug_println!(
        "ipcbench: null_syscall={} ppc_roundtrip={} notify_wake={} iterations={}",
        null,
        ppc,
        notify,
        ITERATIONS
    );
    // rclient has lower priority: it runs once this handler returns.
    if RCLIENT.notify().is_err() {
        debug_println!("ipcbench: cannot start rclient");
        power_off(CLIENT_EXIT_IOPORT, 1);
    }
}

protection_domain!(init);
