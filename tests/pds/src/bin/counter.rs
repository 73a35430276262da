//! starvation: shares priority 50 (default budget) with a spinner that never
//! yields, and sits below a spinner at priority 100 with budget 1000 µs per
//! 10000 µs. It must still get time slices: it watches the spinners'
//! counters in the shared page change (each change means the CPU went
//! elsewhere and came back), and measures the gaps with the TSC.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, rdtsc, Handler};
use mantle_test_pds::{finish, shared_read};

/// Slices of the same-priority spinner to observe.
const SLICES: u32 = 10;
/// Periods of the high-priority spinner to observe.
const HI_PERIODS: u32 = 3;
/// Give up after this many TSC ticks (about 25 s at 2.4 GHz).
const TIMEOUT_TICKS: u64 = 60_000_000_000;

struct Counter;
impl Handler for Counter {}

fn init() -> Counter {
    debug_println!("starvation: counter started");
    let start = rdtsc();
    let mut last = rdtsc();
    let mut max_gap = 0u64;
    let mut seen = shared_read(0);
    let mut seen_hi = shared_read(1);
    let mut slices = 0u32;
    let mut hi_periods = 0u32;
    let mut iterations = 0u64;
    loop {
        iterations += 1;
        let now = rdtsc();
        max_gap = max_gap.max(now - last);
        last = now;
        let v = shared_read(0);
        if v != seen {
            seen = v;
            slices += 1;
        }
        let h = shared_read(1);
        if h != seen_hi {
            seen_hi = h;
            hi_periods += 1;
        }
        if slices >= SLICES && hi_periods >= HI_PERIODS {
            break;
        }
        if now - start > TIMEOUT_TICKS {
            debug_println!(
                "starvation: counter timed out: {} spinner slices, {} high-priority periods",
                slices,
                hi_periods
            );
            finish("starvation", false);
        }
    }
    debug_println!(
        "starvation: counter ran {} iterations in {} ticks; saw the spinner run {} times and the high-priority spinner {} times; longest gap {} ticks",
        iterations,
        last - start,
        slices,
        hi_periods,
        max_gap
    );
    finish("starvation", true)
}

protection_domain!(init);
