//! A model test of the scheduler: random systems of PDs (priorities,
//! budgets, periods) driven by random sequences of events (a PD wakes, the
//! running PD blocks, a PD is stopped, time passes and the timer fires)
//! the way the kernel drives it: every event ends in `pick` and a switch of
//! the running SC. After every step it checks, against an executable model
//! of Microkit's scheduling semantics kept by the test itself:
//!
//! - the scheduler's own invariants (`Scheduler::audit`);
//! - the running PD is runnable and eligible, on no queue, and no eligible
//!   ready PD has a higher priority; every other runnable PD waits in its
//!   priority's ready queue, and no blocked PD is queued;
//! - **budgets**: in every window of one period, an SC with budget <
//!   period runs at most its budget, measured from the runs the test saw
//!   (not from the scheduler's accounting);
//! - **no starvation by the accounting**: a runnable PD whose SC has not
//!   run for a whole period is eligible, so (above) it runs unless a PD of
//!   higher priority does.

use mantle_kerncore::sched::{QueueId, Scheduler};
use mantle_kerncore::{Machine, PdId, NONE};
use proptest::prelude::*;

/// The simulated machine: a clock that moves when the test says, and a
/// one-shot timer (one clock tick per timer unit).
#[derive(Default)]
struct Sim {
    now: u64,
    fires_at: Option<u64>,
}

impl Machine for Sim {
    fn now(&self) -> u64 {
        self.now
    }
    fn arm_timer(&mut self, count: u32) {
        self.fires_at = Some(self.now + count as u64);
    }
    fn stop_timer(&mut self) {
        self.fires_at = None;
    }
}

#[derive(Clone, Copy, Debug)]
struct PdSpec {
    priority: u8,
    budget: u64,
    period: u64,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// A PD is made ready (a notification, a reply, an IRQ), if blocked.
    Wake(usize),
    /// The running PD blocks (RECV), if any.
    Block,
    /// A PD is stopped (PD_STOP, a fault) wherever it is.
    Stop(usize),
    /// Time passes; the timer fires whenever it is due.
    Advance(u64),
}

/// The system, as the kernel would run it, and what the test saw.
struct System {
    pds: Vec<PdSpec>,
    sched: Scheduler,
    m: Sim,
    runnable: Vec<bool>,
    current: Option<PdId>,
    /// Every run `(start, end)` of each SC, as the test saw it.
    runs: Vec<Vec<(u64, u64)>>,
}

impl System {
    fn new(pds: Vec<PdSpec>) -> Self {
        let mut sched = Scheduler::new();
        // One clock tick per microsecond, one timer unit per tick.
        sched.set_clock(1000, 1000);
        for (pd, s) in pds.iter().enumerate() {
            sched.init_pd(pd, s.priority, s.budget, s.period, 0);
        }
        let n = pds.len();
        let mut sys = System {
            pds,
            sched,
            m: Sim::default(),
            runnable: vec![true; n],
            current: None,
            runs: vec![Vec::new(); n],
        };
        // Boot: every PD starts ready, in PD order.
        for pd in 0..n {
            let prio = sys.pds[pd].priority;
            sys.sched.push_back(QueueId::Ready(prio), pd);
        }
        sys.dispatch();
        sys
    }

    /// What every kernel entry ends in: pick the next PD and switch to its
    /// SC (no loans: the PDs make no protected calls).
    fn dispatch(&mut self) {
        let runnable = &self.runnable;
        let next = self
            .sched
            .pick(self.current, |pd| runnable[pd], |_, _| false);
        let sc = next.map(|n| self.sched.thread_sc[n]);
        if sc != self.sched.running_sc() || self.sched.timer_dirty() {
            self.sched.switch_sc(&mut self.m, sc, NONE);
        }
        self.current = next;
    }

    /// Let the clock run to `to`, the current PD running meanwhile.
    fn run_until(&mut self, to: u64) {
        if let Some(c) = self.current {
            if to > self.m.now {
                let runs = &mut self.runs[self.sched.thread_sc[c] as usize];
                match runs.last_mut() {
                    Some(last) if last.1 == self.m.now => last.1 = to,
                    _ => runs.push((self.m.now, to)),
                }
            }
        }
        self.m.now = to;
    }

    fn step(&mut self, e: Event) {
        match e {
            Event::Wake(pd) => {
                if !self.runnable[pd] {
                    self.runnable[pd] = true;
                    if self.current != Some(pd) {
                        let prio = self.pds[pd].priority;
                        self.sched.push_back(QueueId::Ready(prio), pd);
                    }
                }
                self.dispatch();
            }
            Event::Block => {
                if let Some(c) = self.current {
                    self.runnable[c] = false;
                }
                self.dispatch();
            }
            Event::Stop(pd) => {
                self.runnable[pd] = false;
                self.sched.remove(pd);
                self.dispatch();
            }
            Event::Advance(dt) => {
                let end = self.m.now + dt;
                while let Some(at) = self.m.fires_at.filter(|&at| at <= end) {
                    self.run_until(at.max(self.m.now));
                    self.m.fires_at = None;
                    let running = self.current.filter(|&c| self.runnable[c]);
                    if self.sched.timer_tick(&mut self.m, running) {
                        self.current = None;
                    }
                    self.dispatch();
                }
                self.run_until(end);
            }
        }
    }

    /// The SC of `pd` ran nothing in the last period.
    fn idle_for_a_period(&self, pd: PdId) -> bool {
        let since = self.m.now.saturating_sub(self.pds[pd].period);
        self.runs[pd].last().is_none_or(|&(_, end)| end <= since)
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let n = self.pds.len();
        if let Err(e) = self.sched.audit(n) {
            return Err(TestCaseError::fail(e));
        }
        if let Some(c) = self.current {
            prop_assert!(self.runnable[c], "blocked PD {c} runs");
            prop_assert!(self.sched.eligible(c), "PD {c} runs on a depleted SC");
            prop_assert_eq!(self.sched.queue_of(c), QueueId::None);
            prop_assert_eq!(self.sched.running_sc(), Some(c as u8));
        }
        let running_prio = self.current.map(|c| self.pds[c].priority);
        for pd in 0..n {
            let prio = self.pds[pd].priority;
            if !self.runnable[pd] {
                prop_assert_eq!(
                    self.sched.queue_of(pd),
                    QueueId::None,
                    "blocked PD {} is queued",
                    pd
                );
                continue;
            }
            if self.current == Some(pd) {
                continue;
            }
            prop_assert_eq!(self.sched.queue_of(pd), QueueId::Ready(prio));
            // Eligible by the scheduler's accounting, or surely eligible by
            // the model's (idle for a period).
            let eligible = self.sched.eligible(pd);
            if self.idle_for_a_period(pd) {
                prop_assert!(eligible, "PD {} idle for a period is not eligible", pd);
            }
            if eligible {
                prop_assert!(
                    running_prio.is_some_and(|p| p >= prio),
                    "PD {} (priority {}) eligible and ready, but {:?} runs",
                    pd,
                    prio,
                    self.current
                );
            }
        }
        // Budgets: the most any window of one period holds, for each SC.
        for (sc, runs) in self.runs.iter().enumerate() {
            let PdSpec { budget, period, .. } = self.pds[sc];
            if budget == period {
                continue;
            }
            for &(start, _) in runs {
                let window = (start, start + period);
                let used: u64 = runs
                    .iter()
                    .map(|&(s, e)| e.min(window.1).saturating_sub(s.max(window.0)))
                    .sum();
                prop_assert!(
                    used <= budget,
                    "SC {} ran {} in the window {:?}, budget {}",
                    sc,
                    used,
                    window,
                    budget
                );
            }
        }
        Ok(())
    }
}

fn pd_spec() -> impl Strategy<Value = PdSpec> {
    (0u8..4, 1u64..40, 0u64..120, any::<bool>()).prop_map(|(priority, budget, extra, full)| {
        PdSpec {
            priority,
            budget,
            // Some PDs are never throttled (budget = period, the default).
            period: if full { budget } else { budget + extra },
        }
    })
}

fn event(n: usize) -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (0..n).prop_map(Event::Wake),
        2 => Just(Event::Block),
        1 => (0..n).prop_map(Event::Stop),
        4 => (0u64..60).prop_map(Event::Advance),
    ]
}

fn system_and_events() -> impl Strategy<Value = (Vec<PdSpec>, Vec<Event>)> {
    prop::collection::vec(pd_spec(), 1..7).prop_flat_map(|pds| {
        let n = pds.len();
        (Just(pds), prop::collection::vec(event(n), 1..200))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn scheduling_and_budgets_hold((pds, events) in system_and_events()) {
        let mut sys = System::new(pds);
        sys.check()?;
        for e in events {
            sys.step(e);
            sys.check()?;
        }
    }
}
