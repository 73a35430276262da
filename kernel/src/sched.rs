//! Scheduling, the kernel's half: the queues, scheduling contexts, budgets,
//! bandwidth inheritance and the choice of the next PD are portable and
//! live in [`mantle_kerncore::sched`] (read its documentation for the
//! model, the lending policy and their invariants). This module ties them
//! to the kernel: thread states (`make_ready`), the control blocks as the
//! scheduler sees them ([`mantle_kerncore::Threads`]: which PDs may run,
//! and whose call a passive server serves) and the machine ([`arch::Hw`]:
//! RDTSC and the LAPIC timer).
//!
//! A PPC fast path that skips `schedule`/`dispatch` must not run while a
//! loan is being charged, nor hand a call to, or reply into, a PD whose SC
//! is depleted; the slow path handles both.

use mantle_abi::limits::MAX_PDS;

use crate::arch::{self, UserRegs};
use crate::kernel::Kernel;
use crate::pd::{PdId, Tcb, ThreadState};

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

    /// The chain of calls below `pd` (the server serving `pd`'s call, the
    /// one serving that server's, ...) has a new root: `pd`, whose own call
    /// failed or that serves none any more. Run its passive servers on
    /// `pd`'s SC, as `start_call` would have set them had the chain begun
    /// at `pd`: they must not go on charging the SC of a caller whose
    /// call is over (found by the scheduler's host model test). Ends any
    /// loan down the chain; `lend` looks again if that SC is depleted.
    #[cold]
    pub(crate) fn rehome_calls_below(&mut self, pd: PdId) {
        let sc = self.sched.thread_sc[pd];
        let mut x = pd;
        // A chain has fewer than MAX_PDS links; the bound only guards
        // against a kernel bug.
        for _ in 0..MAX_PDS {
            if self.tcbs[x].state != ThreadState::Call {
                break;
            }
            let server = self.tcbs[x].callee;
            let s = &self.tcbs[server];
            if s.reply_to != Some(x) || !s.passive_now() {
                break;
            }
            self.sched.thread_sc[server] = sc;
            x = server;
        }
    }

    /// Pick the PD to run next and prepare the CPU for it. Returns its
    /// register frame, or null to idle.
    #[link_section = ".text.hot"]
    pub fn schedule(&mut self) -> *const UserRegs {
        let next = self.sched.pick(self.current, Threads(&self.tcbs));
        self.dispatch(next)
    }

    /// `dispatch` found that the PD picked ran on a loan that has ended
    /// and left it on a depleted SC: it waits, and the scheduler picks
    /// again (see `mantle_kerncore::sched::Scheduler::dispatch`).
    #[cold]
    #[inline(never)]
    fn schedule_again(&mut self) -> *const UserRegs {
        self.schedule()
    }

    #[link_section = ".text.hot"]
    pub(crate) fn dispatch(&mut self, next: Option<PdId>) -> *const UserRegs {
        if !self
            .sched
            .dispatch(&mut arch::Hw, next, Threads(&self.tcbs))
        {
            return self.schedule_again();
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

/// The control blocks as the scheduler sees them.
#[derive(Clone, Copy)]
struct Threads<'a>(&'a [Tcb; MAX_PDS]);

impl mantle_kerncore::Threads for Threads<'_> {
    #[inline(always)]
    fn runnable(&self, pd: PdId) -> bool {
        self.0[pd].runnable()
    }
    #[inline]
    fn serving_passively(&self, pd: PdId) -> Option<PdId> {
        let t = &self.0[pd];
        t.reply_to.filter(|_| t.passive_now())
    }
}
