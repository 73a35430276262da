//! inversion "high" client (priority 150, budget 2 ms per 5 ms): at the
//! start of each of its periods (it spins until it sees it was throttled,
//! so each call starts on a fresh budget) it calls the passive server once
//! and measures the call's latency. Once the low PD's budget has run out
//! during its call at least `CUTS` times and three of this PD's calls have
//! had to wait behind a low call, it checks the
//! worst latency against the bound: `BOUND_WORKS` times the server's work.
//! An uncontended call costs one work; one that finds the server stalled
//! mid-call must wait for the rest of that call (at most one work) on its
//! own budget (bandwidth inheritance), so about two. The rest of the bound
//! is slack. The test boots under `-icount`, so the guest's clocks count
//! instructions and host load cannot stretch what it measures. Without inheritance it waits for
//! the low PD's next period, about a second (over 3000 works).
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, rdtsc, Channel, Handler, MessageInfo};
use mantle_test_pds::{
    finish, shared_read, INVERSION_LOW_CALLS, INVERSION_LOW_LONG, INVERSION_STALLS, INVERSION_WORK,
};

/// Calls of the low PD cut by its budget to see before judging.
const CUTS: u64 = 5;
/// A TSC step that means this PD was throttled: it is throttled for 3 ms
/// of every 5, which is at least 3,000,000 ticks at any TSC rate of 1 GHz
/// or more (the test boots under `-icount shift=0`, where the TSC counts
/// instructions at 1 GHz).
const THROTTLED: u64 = 1_000_000;
/// Give up after this many calls (about 20 s) if the stalls never come.
const MAX_CALLS: u64 = 4000;
/// The bound on a call's latency, in server works.
const BOUND_WORKS: u64 = 10;

struct High;
impl Handler for High {}

/// Spin until the TSC jumps: this PD was not running (throttled at the end
/// of its budget), so it now starts a fresh period.
fn wait_for_fresh_budget() {
    let mut last = rdtsc();
    loop {
        let now = rdtsc();
        if now - last > THROTTLED {
            return;
        }
        last = now;
    }
}

fn init() -> High {
    let bound = BOUND_WORKS * INVERSION_WORK;
    let (mut calls, mut worst, mut behind, mut total) = (0u64, 0u64, 0u64, 0u64);
    while calls < MAX_CALLS && (shared_read(INVERSION_LOW_LONG) < CUTS || behind < 3) {
        wait_for_fresh_budget();
        let start = rdtsc();
        let _ = Channel::new(0).ppcall(MessageInfo::new(1, 0));
        let latency = rdtsc() - start;
        calls += 1;
        total += latency;
        worst = worst.max(latency);
        if latency > INVERSION_WORK * 3 / 2 {
            behind += 1;
        }
    }
    let stalls = shared_read(INVERSION_STALLS);
    debug_println!(
        "inversion: server stalled mid-call {} times; the low PD made {} calls, {} cut by its budget",
        stalls,
        shared_read(INVERSION_LOW_CALLS),
        shared_read(INVERSION_LOW_LONG)
    );
    debug_println!(
        "inversion: worst latency {} ticks = {}.{:02} works over {} calls (mean {} ticks, {} waited behind a low call; bound {} ticks = {} works)",
        worst,
        worst / INVERSION_WORK,
        worst % INVERSION_WORK * 100 / INVERSION_WORK,
        calls,
        total / calls.max(1),
        behind,
        bound,
        BOUND_WORKS
    );
    let mut ok = true;
    let cuts = shared_read(INVERSION_LOW_LONG);
    if cuts < CUTS || stalls == 0 {
        debug_println!(
            "inversion: FAIL: the attack did not happen ({} low calls cut, {} server stalls)",
            cuts,
            stalls
        );
        ok = false;
    }
    if behind < 3 {
        debug_println!("inversion: FAIL: no call found the server busy with a low call");
        ok = false;
    }
    if worst > bound {
        debug_println!(
            "inversion: FAIL: worst latency {} ticks above the bound {}",
            worst,
            bound
        );
        ok = false;
    }
    finish("inversion", ok)
}

protection_domain!(init);
