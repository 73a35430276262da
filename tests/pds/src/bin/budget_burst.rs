//! budget_window: a PD with budget 2000 µs per 20000 µs period that tries
//! to run twice its budget in one period-long window: it measures its
//! period from its throttled runs, starts the next period with a short run,
//! blocks, has the waker wake it in the middle of that period, and then
//! spins. Refills aligned to periods would let it run a budget then and a
//! fresh one from the period's end (2 budgets within one period);
//! sporadic-server refills must hold it to 1 budget in any window of one
//! period. It records when it ran (gaps in its TSC reads are times it
//! did not) and reports the most it ran in any window of one period.
#![no_std]
#![no_main]

use mantle_runtime::{debug_print, debug_println, protection_domain, rdtsc, Channel, Handler};
use mantle_test_pds::{finish, shared_write};

const WAKER: Channel = Channel::new(0);
/// A pause this long (TSC ticks, about 1.5 ms at 2.6 GHz) ends the first,
/// measuring run: the budget is used up.
const THROTTLED: u64 = 4_000_000;
/// A pause this long (about 40 µs) means the PD did not run meanwhile.
const GAP: u64 = 100_000;
const MAX_RUNS: usize = 64;
/// Most CPU time allowed in one window, in percent of the budget (the
/// rest is measurement noise: kernel entries, timer latency).
const LIMIT_PERCENT: u64 = 130;
/// The budget and period of this PD in budget_window.system.
const BUDGET_US: u64 = 2000;
const PERIOD_US: u64 = 20000;

struct Burst {
    budget: u64,
    period: u64,
}

fn init() -> Burst {
    // Output uses budget: only in the first run, which is not measured.
    debug_println!("budget_window: burst started (budget 2000/20000)");
    // Spin through two throttles: the second run starts with a refill and
    // runs its whole budget, so the time from its start to the next refill
    // is one period (the first run began at some time after the period
    // did, and after the runtime's start-up had used some budget).
    let throttled = || {
        let mut last = rdtsc();
        loop {
            let t = rdtsc();
            if t - last > THROTTLED {
                return t;
            }
            last = t;
        }
    };
    let first = throttled();
    let second = throttled();
    let period = second - first;
    let budget = period * BUDGET_US / PERIOD_US;
    // Now at the start of a period, with a whole budget: use a little of
    // it, and be woken in the middle of the period. Refills aligned to
    // periods would let it run its budget then, and another budget from
    // the period's end on: two budgets within one period from the wake-up,
    // however imprecise the wake-up time.
    shared_write(0, second + period / 2);
    Burst { budget, period }
}

impl Handler for Burst {
    fn notified(&mut self, ch: Channel) {
        if ch != WAKER {
            return;
        }
        let wake = rdtsc();
        let end = wake + self.period * 5 / 2;
        let mut runs = [(0u64, 0u64); MAX_RUNS];
        let mut n = 0;
        let (mut start, mut last) = (wake, wake);
        while last < end {
            let t = rdtsc();
            if t - last > GAP && n < MAX_RUNS - 1 {
                runs[n] = (start, last);
                n += 1;
                start = t;
            }
            last = t;
        }
        runs[n] = (start, last);
        n += 1;
        let runs = &runs[..n];
        // The busiest window of one period starts where some run starts.
        let mut most = 0;
        for &(from, _) in runs {
            let to = from + self.period;
            let ran: u64 = runs
                .iter()
                .map(|&(s, e)| e.min(to).saturating_sub(s.max(from)))
                .sum();
            most = most.max(ran);
        }
        let percent = most * 100 / self.budget.max(1);
        // When it ran, in thousandths of a period from the wake-up.
        let at = |t: u64| (t - wake) * 1000 / self.period.max(1);
        debug_print!("budget_window: runs at (1/1000 period from the wake-up):");
        for &(s, e) in runs {
            debug_print!(" {}-{}", at(s), at(e));
        }
        debug_println!("");
        debug_println!(
            "budget_window: budget {} ticks, period {} ticks; {} runs after the wake-up; most CPU time in one window of one period: {}% of the budget",
            self.budget,
            self.period,
            n,
            percent
        );
        if percent > LIMIT_PERCENT {
            debug_println!(
                "budget_window: FAIL: ran {}% of its budget within one period (limit {}%)",
                percent,
                LIMIT_PERCENT
            );
        } else {
            debug_println!("budget_window: at most one budget in any window of one period");
        }
        finish("budget_window", percent <= LIMIT_PERCENT)
    }
}

protection_domain!(init);
