//! Scheduling, the kernel's half: the queues, scheduling contexts, budgets
//! and the choice of the next PD are portable and live in
//! [`mantle_kerncore::sched`] (read its documentation for the model and
//! its invariants). This module ties them to the kernel: thread states,
//! the chains of protected calls, the policy of bandwidth inheritance
//! (which SC a stalled passive server borrows, and when the loan ends),
//! and the machine ([`arch::Hw`]: RDTSC and the LAPIC timer).
//!
//! # Bandwidth inheritance (helping)
//!
//! When the scheduler meets a ready passive server that is in the middle
//! of a call and whose SC is depleted (`lend`), it runs the server on
//! 1. the call's own SC (its *home*: the SC of the chain's root caller,
//!    `home_sc`) if that is eligible again, else
//! 2. the SC of the first caller queued on the server, or on a passive
//!    server up the chain of calls that runs on the same call, whose SC is
//!    eligible and whose priority is above the home PD's.
//!
//! A loan is revoked (`Kernel::loan_debtor`) when the borrower is next
//! dispatched once no caller on the SC waits in the chain any more
//! (stopped, faulted or restarted).
//!
//! A PPC fast path that skips `schedule`/`dispatch` must not run while a
//! loan is being charged, nor hand a call to, or reply into, a PD whose SC
//! is depleted; the slow path handles both.

use mantle_abi::limits::MAX_PDS;

use crate::arch::{self, UserRegs};
use crate::kernel::Kernel;
use crate::pd::{PdId, Tcb, ThreadState, NONE};

pub use mantle_kerncore::sched::{QueueId, Scheduler};

impl Kernel {
    /// Make `pd` runnable, at the back of its priority's queue.
    #[link_section = ".text.hot"]
    pub fn make_ready(&mut self, pd: PdId) {
        self.tcbs[pd].state = ThreadState::Ready;
        if !self.tcbs[pd].suspended && self.current != Some(pd) {
            let prio = self.tcbs[pd].priority;
            self.sched.push_back(QueueId::Ready(prio), pd);
        }
    }

    /// Make `pd` runnable at the head of its queue (it was logically
    /// running, e.g. a caller whose callee replied).
    #[link_section = ".text.hot"]
    pub fn make_ready_front(&mut self, pd: PdId) {
        self.tcbs[pd].state = ThreadState::Ready;
        if !self.tcbs[pd].suspended && self.current != Some(pd) {
            let prio = self.tcbs[pd].priority;
            self.sched.push_front(QueueId::Ready(prio), pd);
        }
    }

    /// The timer fired: charge the running SC; if it is used up, the running
    /// PD goes to the back of its queue. Replenish depleted SCs.
    pub fn timer_tick(&mut self) {
        let running = self.current.filter(|&c| self.tcbs[c].runnable());
        if self.sched.timer_tick(&mut arch::Hw, running) {
            self.current = None;
        }
    }

    /// Pick the PD to run next and prepare the CPU for it. Returns its
    /// register frame, or null to idle.
    #[link_section = ".text.hot"]
    pub fn schedule(&mut self) -> *const UserRegs {
        let tcbs = &self.tcbs;
        let next = self.sched.pick(
            self.current,
            |pd| tcbs[pd].runnable(),
            |sched, pd| lend(tcbs, sched, pd),
        );
        self.dispatch(next)
    }

    /// About to run `n` on an SC not its own: if that SC is lent, return
    /// the home SC that owes the time. A loan whose lender no longer waits
    /// in `n`'s chain (it was stopped, faulted or restarted, or its call
    /// failed) is revoked: `n` goes back to its home SC (if that is
    /// depleted, the timer fires at once and `lend` looks again).
    #[cold]
    #[inline(never)]
    fn loan_debtor(&mut self, n: PdId) -> u8 {
        let tcbs = &self.tcbs;
        let home = home_sc(tcbs, n);
        let sc = self.sched.thread_sc[n];
        if sc == home {
            return NONE;
        }
        let mut x = Some(n);
        for _ in 0..MAX_PDS {
            let Some(server) = x else { break };
            let mut callers = self.sched.iter(QueueId::Callers(server as u8));
            if callers.any(|c| self.sched.thread_sc[c] == sc) {
                return home;
            }
            x = chain_up(tcbs, server);
        }
        self.sched.thread_sc[n] = home;
        NONE
    }

    #[link_section = ".text.hot"]
    pub(crate) fn dispatch(&mut self, next: Option<PdId>) -> *const UserRegs {
        let mut sc = next.map(|n| self.sched.thread_sc[n]);
        if sc != self.sched.running_sc() || self.sched.timer_dirty() {
            let debtor = match next {
                Some(n) if sc != Some(n as u8) => self.loan_debtor(n),
                _ => NONE,
            };
            sc = next.map(|n| self.sched.thread_sc[n]);
            self.sched.switch_sc(&mut arch::Hw, sc, debtor);
        }
        let Some(n) = next else {
            self.current = None;
            // About to idle: report a system that never can run again.
            self.idle_check();
            return core::ptr::null();
        };
        if self.current != Some(n) {
            return self.switch_to(n);
        }
        &self.tcbs[n].regs
    }
}

/// The home SC of the call `pd` runs: up the chain of passive servers
/// serving calls to the first PD that is not one (the root caller),
/// whose own SC it is. For any other PD, its own SC. Without loans,
/// `thread_sc[pd] == home_sc(pd)` for every PD (`start_call` copies the
/// caller's SC down the chain).
fn home_sc(tcbs: &[Tcb; MAX_PDS], pd: PdId) -> u8 {
    let mut x = pd;
    // A chain has fewer than MAX_PDS links (priorities strictly rise
    // along it); the bound only guards against a kernel bug.
    for _ in 0..MAX_PDS {
        match tcbs[x].reply_to {
            Some(caller) if tcbs[x].passive_now() => x = caller,
            _ => break,
        }
    }
    x as u8
}

/// The next PD up the chain of `x` that serves the same call: its
/// caller, if `x` is a passive server serving a call and that caller is
/// one too.
fn chain_up(tcbs: &[Tcb; MAX_PDS], x: PdId) -> Option<PdId> {
    let caller = tcbs[x].reply_to.filter(|_| tcbs[x].passive_now())?;
    let c = &tcbs[caller];
    (c.passive_now() && c.reply_to.is_some()).then_some(caller)
}

/// Bandwidth inheritance (see the module documentation): ready PD `pd`'s
/// SC is depleted. If `pd` is a passive server in the middle of a call,
/// move it to the call's home SC if that is eligible, else lend it the
/// SC of the first caller of higher priority than the home PD that
/// waits on `pd` or on a passive server up its chain and has an
/// eligible SC. Returns whether `pd` is now eligible. The time is
/// charged from the next dispatch on (which sees the SC change, or the
/// `timer_dirty` set here when the SC happens to be running already).
#[cold]
#[inline(never)]
fn lend(tcbs: &[Tcb; MAX_PDS], sched: &mut Scheduler, pd: PdId) -> bool {
    if !tcbs[pd].passive_now() || tcbs[pd].reply_to.is_none() {
        return false;
    }
    let home = home_sc(tcbs, pd);
    let sc = if sched.sc_eligible(home) {
        Some(home)
    } else {
        let floor = tcbs[home as usize].priority;
        let mut x = Some(pd);
        let mut found = None;
        for _ in 0..MAX_PDS {
            let Some(server) = x else { break };
            found = queued_lender(tcbs, sched, server, floor);
            if found.is_some() {
                break;
            }
            x = chain_up(tcbs, server);
        }
        found
    };
    let Some(sc) = sc else {
        return false;
    };
    sched.thread_sc[pd] = sc;
    sched.set_timer_dirty();
    true
}

/// The SC of the first caller queued on `server` with a priority above
/// `floor` and an eligible SC (the queue is in priority order).
fn queued_lender(tcbs: &[Tcb; MAX_PDS], sched: &Scheduler, server: PdId, floor: u8) -> Option<u8> {
    sched
        .iter(QueueId::Callers(server as u8))
        .take_while(|&c| tcbs[c].priority > floor)
        .map(|c| sched.thread_sc[c])
        .find(|&sc| sched.sc_eligible(sc))
}
