//! ipcbench's realistic client: a PD with [`BIG_PAGES`] pages of heap
//! mapped; calls `rserver` with 4 message registers each way.
#![no_std]
#![no_main]

use ipcbench::*;
use mantle_runtime::abi::syscall::NULL;
use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, protection_domain, raw, rdtsc, Channel, Handler,
};

const RSERVER: Channel = Channel::new(RCLIENT_RSERVER);
const CLIENT: Channel = Channel::new(CLIENT_RCLIENT);

struct RClient;

impl Handler for RClient {
    /// The client's notification: its measurements are done (it started
    /// them on this PD's kick from `init`).
    fn notified(&mut self, ch: Channel) {
        if ch == CLIENT {
            let ok = run_benchmarks();
            shared_write(SLOT_STATUS, if ok { 0 } else { 1 });
            // The client has higher priority and powers off at once.
            let _ = CLIENT.notify();
        }
    }
}

fn init() -> RClient {
    // Touch the heap, as a PD that uses it would.
    for page in 0..BIG_PAGES {
        BIG.write(page * 4096 / 8, page as u64);
    }
    // Sent as this PD's first wait begins: it has the lowest priority, so
    // every PD has finished `init` then. The client starts measuring.
    if CLIENT.deferred_notify().is_err() {
        debug_println!("ipcbench: cannot kick the client");
    }
    RClient
}

fn run_benchmarks() -> bool {
    let null = measure("realistic null_syscall", || {
        let t0 = rdtsc();
        let r = raw::syscall(NULL, 0, 0, 0, 0);
        let t1 = rdtsc();
        (r.rax == 0).then_some(t1 - t0)
    });
    let mut n = 0u64;
    let ppc = measure("realistic ppc_roundtrip", || {
        n += 1;
        let t0 = rdtsc();
        for i in 0..REALISTIC_MRS {
            mr_set(i, n + i as u64);
        }
        let r = RSERVER.ppcall(msginfo_new(1, REALISTIC_MRS));
        let mut reply = [0u64; REALISTIC_MRS];
        for (i, w) in reply.iter_mut().enumerate() {
            *w = mr_get(i);
        }
        let t1 = rdtsc();
        // The server answers each register plus one.
        let right = reply
            .iter()
            .enumerate()
            .all(|(i, &w)| w == n + i as u64 + 1);
        match r {
            Ok(m) if m.count() == REALISTIC_MRS && right => Some(t1 - t0),
            _ => None,
        }
    });
    let notify = measure("realistic notify_wake", || {
        let seq = shared_read(SLOT_SEQ);
        let t0 = rdtsc();
        let r = RSERVER.notify();
        // The rserver has higher priority, so it ran before NOTIFY returned.
        let stamped = shared_read(SLOT_SEQ) == seq.wrapping_add(1);
        let t1 = shared_read(SLOT_STAMP);
        (r.is_ok() && stamped && t1 >= t0).then(|| t1 - t0)
    });
    let (Some(null), Some(ppc), Some(notify)) = (null, ppc, notify) else {
        return false;
    };
    debug_println!(
        "ipcbench-realistic: null_syscall={} ppc_roundtrip={} notify_wake={} iterations={} mrs={} touched_pages={} mapped_pages={}",
        null,
        ppc,
        notify,
        ITERATIONS,
        REALISTIC_MRS,
        TOUCHED_PAGES,
        BIG_PAGES
    );
    true
}

protection_domain!(init);
