//! A model test of the scheduler: random systems of PDs (priorities,
//! budgets, periods, passive or not) driven by random sequences of
//! syscalls and events (PPCALL, reply-and-wait, RECV, NOTIFY, PD_STOP,
//! PD_RESUME, time passing with the timer firing when due), the way the
//! kernel drives it: every kernel entry ends in `pick` and `dispatch`.
//!
//! The test keeps its own executable model of the Microkit semantics the
//! kernel's IPC code implements (`kernel/src/ipc.rs` and `child.rs`: who
//! calls whom, who serves whose call, who waits in which queue, and which
//! SC a call runs on), and after every step checks:
//!
//! - the scheduler's own invariants (`Scheduler::audit`);
//! - **one server per caller**: a caller in a call waits on exactly one
//!   server: queued on it (and on no other list), or being served by it;
//! - **passive servers**: a passive server runs only on the SC of a
//!   caller (its call's chain, or a higher-priority caller queued in the
//!   chain that lends it), or on its own to handle a notification (or to
//!   finish a handler after PD_STOP failed its call and PD_RESUME let it
//!   go on: the kernel's semantics, which the model states explicitly);
//! - **priorities**: the running PD is runnable, eligible and on no
//!   queue, and no ready PD of higher priority is eligible or could borrow
//!   an SC (a statement of the lending policy over the model's own state);
//!   every other runnable PD waits in its priority's ready queue;
//! - **budgets**: in every window of one period, an SC with budget <
//!   period runs at most its budget, measured from the runs the test saw
//!   (not from the scheduler's accounting), lent time included;
//! - **no starvation by the accounting**: a runnable PD on an SC that has
//!   not run for a whole period (and never owed for a loan) is eligible.

use mantle_kerncore::sched::{QueueId, Scheduler};
use mantle_kerncore::{Machine, PdId, Threads};
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
    passive: bool,
}

/// What a PD is doing (the kernel's `ThreadState`, less faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ready,
    Recv,
    /// Its call is being served by the PD.
    Call(PdId),
    /// Queued on the PD, waiting for it to take the call.
    Send(PdId),
}

/// The event a PD last took (what it runs for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Took {
    Nothing,
    Call,
    Notification,
    /// It was stopped in the middle of serving a call (which failed): if
    /// resumed, it finishes the handler on its own SC (the kernel's
    /// PD_RESUME semantics; the reply then finds no call).
    StoppedMidCall,
}

#[derive(Clone, Copy, Debug)]
struct Thread {
    state: State,
    suspended: bool,
    reply_to: Option<PdId>,
    pending: bool,
    took: Took,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// The running PD calls a PD (if of higher priority, as the boot
    /// checks require).
    Call(usize),
    /// The running PD replies (if it serves a call) and waits.
    ReplyRecv,
    /// The running PD waits, abandoning any call it serves.
    Recv,
    /// A notification (from the running PD or an IRQ) to a PD.
    Notify(usize),
    /// PD_STOP of a PD.
    Stop(usize),
    /// PD_RESUME of a PD.
    Resume(usize),
    /// Time passes; the timer fires whenever it is due.
    Advance(u64),
}

/// The model's threads, as the scheduler asks about them.
#[derive(Clone, Copy)]
struct Model<'a>(&'a [Thread], &'a [PdSpec]);

impl Threads for Model<'_> {
    fn runnable(&self, pd: PdId) -> bool {
        self.0[pd].state == State::Ready && !self.0[pd].suspended
    }
    fn serving_passively(&self, pd: PdId) -> Option<PdId> {
        self.0[pd].reply_to.filter(|_| self.1[pd].passive)
    }
}

/// The system, as the kernel would run it, and what the test saw.
struct System {
    pds: Vec<PdSpec>,
    t: Vec<Thread>,
    sched: Scheduler,
    m: Sim,
    current: Option<PdId>,
    /// Every run `(start, end)` of each SC, as the test saw it.
    runs: Vec<Vec<(u64, u64)>>,
    /// SCs that ever owed time for a loan.
    owed: u64,
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
        // Active PDs start ready; passive ones as after their init, in
        // their first RECV.
        let t = pds
            .iter()
            .map(|s| Thread {
                state: if s.passive { State::Recv } else { State::Ready },
                suspended: false,
                reply_to: None,
                pending: false,
                took: Took::Nothing,
            })
            .collect();
        let mut sys = System {
            pds,
            t,
            sched,
            m: Sim::default(),
            current: None,
            runs: vec![Vec::new(); n],
            owed: 0,
        };
        for pd in 0..n {
            if sys.t[pd].state == State::Ready {
                sys.make_ready(pd);
            }
        }
        sys.dispatch();
        sys
    }

    // ---- the kernel's IPC semantics, restated --------------------------

    fn make_ready(&mut self, pd: PdId) {
        self.t[pd].state = State::Ready;
        if !self.t[pd].suspended && self.current != Some(pd) {
            self.sched
                .push_back(QueueId::Ready(self.pds[pd].priority), pd);
        }
    }

    fn make_ready_front(&mut self, pd: PdId) {
        self.t[pd].state = State::Ready;
        if !self.t[pd].suspended && self.current != Some(pd) {
            self.sched
                .push_front(QueueId::Ready(self.pds[pd].priority), pd);
        }
    }

    fn start_call(&mut self, server: PdId, caller: PdId) {
        self.t[caller].state = State::Call(server);
        self.t[server].reply_to = Some(caller);
        self.t[server].took = Took::Call;
        self.sched.thread_sc[server] = if self.pds[server].passive {
            self.sched.thread_sc[caller]
        } else {
            server as u8
        };
    }

    fn fail_call(&mut self, caller: PdId) {
        if matches!(self.t[caller].state, State::Call(_) | State::Send(_)) {
            self.sched.remove(caller);
            self.make_ready_front(caller);
        }
    }

    /// A waiting caller, then a notification.
    fn take_event(&mut self, pd: PdId) -> bool {
        if let Some(caller) = self.sched.front(QueueId::Callers(pd as u8)) {
            self.sched.remove(caller);
            self.start_call(pd, caller);
            return true;
        }
        if self.t[pd].pending {
            self.t[pd].pending = false;
            self.t[pd].took = Took::Notification;
            return true;
        }
        false
    }

    fn ppcall(&mut self, caller: PdId, server: PdId) {
        if self.pds[server].priority <= self.pds[caller].priority || self.t[server].suspended {
            return; // Refused (no such channel, or CalleeFailed).
        }
        if self.t[server].state == State::Recv {
            self.start_call(server, caller);
            self.make_ready(server);
        } else {
            self.t[caller].state = State::Send(server);
            self.sched
                .insert_by_priority(QueueId::Callers(server as u8), caller);
        }
    }

    fn recv(&mut self, pd: PdId, reply: bool) {
        if reply {
            if let Some(caller) = self.t[pd].reply_to.take() {
                self.sched.thread_sc[pd] = pd as u8;
                if self.t[caller].state == State::Call(pd) {
                    self.make_ready_front(caller);
                }
            }
        }
        if let Some(caller) = self.t[pd].reply_to.take() {
            // Waiting again without replying abandons the call.
            self.sched.thread_sc[pd] = pd as u8;
            self.fail_call(caller);
        }
        self.t[pd].took = Took::Nothing;
        if !self.take_event(pd) {
            self.t[pd].state = State::Recv;
        }
    }

    fn signal(&mut self, pd: PdId) {
        self.t[pd].pending = true;
        if self.t[pd].state == State::Recv && !self.t[pd].suspended && self.take_event(pd) {
            self.make_ready(pd);
        }
    }

    fn stop(&mut self, pd: PdId) {
        if self.t[pd].suspended {
            return;
        }
        if self.current == Some(pd) {
            self.current = None;
        }
        if self.t[pd].state == State::Ready {
            self.sched.remove(pd);
        }
        if let Some(caller) = self.t[pd].reply_to.take() {
            self.t[pd].took = Took::StoppedMidCall;
            self.fail_call(caller);
        }
        while let Some(caller) = self.sched.front(QueueId::Callers(pd as u8)) {
            self.sched.remove(caller);
            self.fail_call(caller);
        }
        self.sched.thread_sc[pd] = pd as u8;
        self.rehome_calls_below(pd);
        self.t[pd].suspended = true;
        if let State::Send(_) = self.t[pd].state {
            self.fail_call(pd);
        }
    }

    /// A call `pd` makes goes on (a stop lets it complete), on `pd`'s SC
    /// now that `pd` serves no call.
    fn rehome_calls_below(&mut self, pd: PdId) {
        let sc = self.sched.thread_sc[pd];
        let mut x = pd;
        while let State::Call(server) = self.t[x].state {
            if self.t[server].reply_to != Some(x) || !self.pds[server].passive {
                break;
            }
            self.sched.thread_sc[server] = sc;
            x = server;
        }
    }

    fn resume(&mut self, pd: PdId) {
        if !self.t[pd].suspended {
            return;
        }
        self.t[pd].suspended = false;
        let wake = match self.t[pd].state {
            State::Ready => true,
            State::Recv => self.take_event(pd),
            _ => false,
        };
        if wake {
            self.make_ready(pd);
        }
    }

    // ---- the kernel's scheduling entry points ---------------------------

    /// What every kernel entry ends in.
    fn dispatch(&mut self) {
        let model = Model(&self.t, &self.pds);
        // Picks again while the PD picked ran on a loan that has ended (as
        // the kernel's `schedule_again`).
        loop {
            let next = self.sched.pick(self.current, model);
            if self.sched.dispatch(&mut self.m, next, model) {
                self.current = next;
                return;
            }
        }
    }

    /// Let the clock run to `to`, the current PD running meanwhile.
    fn run_until(&mut self, to: u64) {
        if let Some(debtor) = self.sched.debtor() {
            self.owed |= 1 << debtor;
        }
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
            Event::Call(server) => {
                if let Some(c) = self.current {
                    self.ppcall(c, server);
                }
            }
            Event::ReplyRecv => {
                if let Some(c) = self.current {
                    self.recv(c, true);
                }
            }
            Event::Recv => {
                if let Some(c) = self.current {
                    self.recv(c, false);
                }
            }
            Event::Notify(pd) => self.signal(pd),
            Event::Stop(pd) => self.stop(pd),
            Event::Resume(pd) => self.resume(pd),
            Event::Advance(dt) => {
                let end = self.m.now + dt;
                while let Some(at) = self.m.fires_at.filter(|&at| at <= end) {
                    self.run_until(at.max(self.m.now));
                    self.m.fires_at = None;
                    let running = self
                        .current
                        .filter(|&c| Model(&self.t, &self.pds).runnable(c));
                    if self.sched.timer_tick(&mut self.m, running) {
                        self.current = None;
                    }
                    self.dispatch();
                }
                self.run_until(end);
                return;
            }
        }
        self.dispatch();
    }

    // ---- the checks -----------------------------------------------------

    /// The PDs up `pd`'s chain of passive servers serving one call, `pd`
    /// first, the root caller (whose SC is the call's home) last.
    fn chain(&self, pd: PdId) -> Vec<PdId> {
        let model = Model(&self.t, &self.pds);
        let mut chain = vec![pd];
        while let Some(caller) = model.serving_passively(*chain.last().unwrap()) {
            chain.push(caller);
        }
        chain
    }

    /// The SCs a passive server serving a call may run on: the call's
    /// home, and those of the callers queued in its chain above the home
    /// PD's priority.
    fn may_run_on(&self, pd: PdId) -> Vec<u8> {
        let chain = self.chain(pd);
        let home = *chain.last().unwrap();
        let mut scs = vec![home as u8];
        for &server in &chain[..chain.len() - 1] {
            for (c, t) in self.t.iter().enumerate() {
                if t.state == State::Send(server) && self.pds[c].priority > self.pds[home].priority
                {
                    scs.push(self.sched.thread_sc[c]);
                }
            }
        }
        scs
    }

    /// Ready `pd` is eligible, or is a passive server mid-call that can
    /// borrow an eligible SC.
    fn could_run(&self, pd: PdId) -> bool {
        if self.sched.eligible(pd) {
            return true;
        }
        Model(&self.t, &self.pds).serving_passively(pd).is_some()
            && self
                .may_run_on(pd)
                .iter()
                .any(|&sc| self.sched.sc_eligible(sc))
    }

    /// SC `sc` ran nothing in the last period.
    fn idle_for_a_period(&self, sc: usize) -> bool {
        let since = self.m.now.saturating_sub(self.pds[sc].period);
        self.runs[sc].last().is_none_or(|&(_, end)| end <= since)
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let n = self.pds.len();
        if let Err(e) = self.sched.audit(n) {
            return Err(TestCaseError::fail(e));
        }
        let model = Model(&self.t, &self.pds);
        // One server per caller, and the lists agree with the states.
        for (pd, t) in self.t.iter().enumerate() {
            let on = self.sched.queue_of(pd);
            match t.state {
                State::Send(server) => {
                    prop_assert_eq!(on, QueueId::Callers(server as u8));
                }
                State::Call(server) => {
                    prop_assert_eq!(on, QueueId::None);
                    prop_assert_eq!(self.t[server].reply_to, Some(pd));
                }
                State::Ready if !t.suspended && self.current != Some(pd) => {
                    prop_assert_eq!(on, QueueId::Ready(self.pds[pd].priority));
                }
                _ => prop_assert_eq!(on, QueueId::None, "PD {} ({:?}) is queued", pd, t),
            }
            if let Some(caller) = t.reply_to {
                prop_assert_eq!(self.t[caller].state, State::Call(pd));
            }
        }
        // The running PD, its SC, and priorities.
        let running_prio = self.current.map(|c| self.pds[c].priority);
        if let Some(c) = self.current {
            prop_assert!(model.runnable(c), "PD {} runs but is {:?}", c, self.t[c]);
            prop_assert!(self.sched.eligible(c), "PD {} runs on a depleted SC", c);
            prop_assert_eq!(self.sched.running_sc(), Some(self.sched.thread_sc[c]));
            let sc = self.sched.thread_sc[c];
            if self.pds[c].passive {
                if self.t[c].reply_to.is_some() {
                    let ok = self.may_run_on(c);
                    prop_assert!(
                        ok.contains(&sc),
                        "passive PD {} runs on SC {}, not on a caller's ({:?})",
                        c,
                        sc,
                        ok
                    );
                } else {
                    prop_assert!(
                        matches!(self.t[c].took, Took::Notification | Took::StoppedMidCall),
                        "passive PD {} runs for no event ({:?})",
                        c,
                        self.t[c]
                    );
                    prop_assert_eq!(
                        sc as usize,
                        c,
                        "passive PD runs a notification on another's SC"
                    );
                }
            } else {
                prop_assert_eq!(sc as usize, c, "an active PD runs on another's SC");
            }
        }
        for pd in 0..n {
            if !model.runnable(pd) || self.current == Some(pd) {
                continue;
            }
            let prio = self.pds[pd].priority;
            let sc = self.sched.thread_sc[pd] as usize;
            if self.idle_for_a_period(sc) && self.owed & (1 << sc) == 0 {
                prop_assert!(
                    self.sched.eligible(pd),
                    "PD {} on SC {} idle for a period is not eligible",
                    pd,
                    sc
                );
            }
            if self.could_run(pd) {
                prop_assert!(
                    running_prio.is_some_and(|p| p >= prio),
                    "PD {} (priority {}) could run, but {:?} runs",
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
    (
        0u8..5,
        1u64..40,
        0u64..120,
        any::<bool>(),
        prop::bool::weighted(0.4),
    )
        .prop_map(|(priority, budget, extra, full, passive)| PdSpec {
            priority,
            budget,
            // Some PDs are never throttled (budget = period, the default).
            period: if full { budget } else { budget + extra },
            passive,
        })
}

fn event(n: usize) -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (0..n).prop_map(Event::Call),
        3 => Just(Event::ReplyRecv),
        1 => Just(Event::Recv),
        2 => (0..n).prop_map(Event::Notify),
        1 => (0..n).prop_map(Event::Stop),
        1 => (0..n).prop_map(Event::Resume),
        4 => (0u64..60).prop_map(Event::Advance),
    ]
}

fn system_and_events() -> impl Strategy<Value = (Vec<PdSpec>, Vec<Event>)> {
    prop::collection::vec(pd_spec(), 1..8).prop_flat_map(|pds| {
        let n = pds.len();
        (Just(pds), prop::collection::vec(event(n), 1..300))
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

proptest! {
    // 1024 cases by default (a few seconds); PROPTEST_CASES asks for more.
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn scheduling_calls_and_budgets_hold((pds, events) in system_and_events()) {
        let mut sys = System::new(pds);
        sys.check()?;
        for e in events {
            sys.step(e);
            sys.check()?;
        }
    }
}
