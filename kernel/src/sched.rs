//! Scheduling: fixed priorities with round robin, budgets and periods.
//!
//! - Ready queues: one FIFO per priority plus a bitmap of non-empty queues.
//!   The running PD (`Kernel::current`) is not in a queue.
//! - Scheduling contexts (SCs): one per PD, holding its budget per period.
//!   A PD runs on an SC (`thread_sc`): its own, or, while a passive PD
//!   serves a protected call, its caller's. A PD whose SC is depleted stays
//!   queued but is skipped until the SC is replenished.
//! - Time is charged only when the running SC changes or the timer fires,
//!   so syscalls that do not switch SC read no clock and touch no timer.
//! - The LAPIC timer (one-shot) fires at the earliest of the running SC's
//!   budget end and the next replenishment of a depleted SC, or earlier: an
//!   early tick only re-arms it, so most switches leave the timer alone
//!   (a LAPIC write is expensive under emulation).
//!
//! The same intrusive lists also hold the callers waiting for a busy PD
//! to take their protected call, highest priority first and FIFO among
//! equals (as seL4's MCS endpoint queues), so a low-priority caller never
//! makes a higher-priority one wait behind it in the queue.

use mantle_abi::limits::{MAX_PDS, MAX_PRIORITY};

use crate::arch::{self, UserRegs};
use crate::kernel::Kernel;
use crate::pd::{PdId, ThreadState, NONE};

const PRIORITIES: usize = MAX_PRIORITY as usize + 1;

/// Which list a PD is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueId {
    /// None.
    None,
    /// The ready queue of a priority.
    Ready(u8),
    /// The callers waiting on a PD.
    Callers(u8),
}

#[derive(Clone, Copy)]
struct Link {
    prev: u8,
    next: u8,
    on: QueueId,
}

#[derive(Clone, Copy)]
struct Queue {
    head: u8,
    tail: u8,
}

const EMPTY_QUEUE: Queue = Queue {
    head: NONE,
    tail: NONE,
};

/// A scheduling context, in TSC ticks.
#[derive(Clone, Copy, Debug)]
pub struct Sc {
    /// Budget per period.
    pub budget: u64,
    /// Period.
    pub period: u64,
    /// Budget left in the current period.
    pub remaining: u64,
    /// When the next period starts.
    pub replenish_at: u64,
}

/// Run queues, scheduling contexts and the preemption timer.
#[repr(C)]
pub struct Scheduler {
    bitmap: [u64; 4],
    depleted: u64,
    running_sc: Option<u8>,
    slice_start: u64,
    /// When the armed timer fires (TSC), if it is armed.
    armed: Option<u64>,
    timer_dirty: bool,
    tsc_per_ms: u64,
    lapic_per_ms: u64,
    prio: [u8; MAX_PDS],
    /// The SC each PD runs on.
    pub thread_sc: [u8; MAX_PDS],
    links: [Link; MAX_PDS],
    callers: [Queue; MAX_PDS],
    ready: [Queue; PRIORITIES],
    /// Scheduling contexts, by owner PD.
    pub scs: [Sc; MAX_PDS],
}

impl Scheduler {
    /// Empty queues.
    pub const fn new() -> Self {
        Scheduler {
            links: [Link {
                prev: NONE,
                next: NONE,
                on: QueueId::None,
            }; MAX_PDS],
            ready: [EMPTY_QUEUE; PRIORITIES],
            callers: [EMPTY_QUEUE; MAX_PDS],
            bitmap: [0; 4],
            prio: [0; MAX_PDS],
            thread_sc: [0; MAX_PDS],
            scs: [Sc {
                budget: 0,
                period: 0,
                remaining: 0,
                replenish_at: 0,
            }; MAX_PDS],
            depleted: 0,
            running_sc: None,
            slice_start: 0,
            armed: None,
            timer_dirty: false,
            tsc_per_ms: 1,
            lapic_per_ms: 1,
        }
    }

    /// Record the calibrated clock rates.
    pub fn set_clock(&mut self, tsc_per_ms: u64, lapic_per_ms: u64) {
        self.tsc_per_ms = tsc_per_ms.max(1);
        self.lapic_per_ms = lapic_per_ms.max(1);
    }

    /// Microseconds to TSC ticks.
    pub fn us_to_ticks(&self, us: u64) -> u64 {
        (us as u128 * self.tsc_per_ms as u128 / 1000) as u64
    }

    /// Set up PD `pd`'s priority and SC at time `now`.
    pub fn init_pd(&mut self, pd: PdId, priority: u8, budget_us: u64, period_us: u64, now: u64) {
        let budget = self.us_to_ticks(budget_us).max(1);
        let period = self.us_to_ticks(period_us).max(budget);
        self.prio[pd] = priority;
        self.thread_sc[pd] = pd as u8;
        self.scs[pd] = Sc {
            budget,
            period,
            remaining: budget,
            replenish_at: now + period,
        };
    }

    fn queue(&mut self, q: QueueId) -> &mut Queue {
        match q {
            QueueId::Ready(p) => &mut self.ready[p as usize],
            QueueId::Callers(pd) => &mut self.callers[pd as usize],
            QueueId::None => unreachable!("no queue"),
        }
    }

    fn mark(&mut self, q: QueueId) {
        if let QueueId::Ready(p) = q {
            let nonempty = self.ready[p as usize].head != NONE;
            let (word, bit) = (p as usize / 64, p % 64);
            if nonempty {
                self.bitmap[word] |= 1 << bit;
            } else {
                self.bitmap[word] &= !(1 << bit);
            }
        }
    }

    /// Append `pd` to `q` (removing it from any other list first).
    ///
    /// `push_back`, `push_front` and `insert_by_priority` link by hand on
    /// purpose: a shared linking helper measurably slowed the notify path
    /// under TCG (5.25k to 5.55k ticks), where code layout decides TLB refills.
    #[link_section = ".text.hot"]
    pub fn push_back(&mut self, q: QueueId, pd: PdId) {
        self.remove(pd);
        let tail = self.queue(q).tail;
        self.links[pd] = Link {
            prev: tail,
            next: NONE,
            on: q,
        };
        if tail == NONE {
            self.queue(q).head = pd as u8;
        } else {
            self.links[tail as usize].next = pd as u8;
        }
        self.queue(q).tail = pd as u8;
        self.mark(q);
    }

    /// Insert `pd` into `q` behind every PD of its priority or higher and
    /// ahead of every lower one (removing it from any other list first).
    /// Keeps `q` ordered by priority, FIFO among equals. Off the fast path
    /// (a call to a busy server), so never inlined into it.
    #[inline(never)]
    pub fn insert_by_priority(&mut self, q: QueueId, pd: PdId) {
        self.remove(pd);
        let prio = self.prio[pd];
        // The last PD that stays ahead of `pd`.
        let mut prev = self.queue(q).tail;
        while prev != NONE && self.prio[prev as usize] < prio {
            prev = self.links[prev as usize].prev;
        }
        let next = if prev == NONE {
            self.queue(q).head
        } else {
            self.links[prev as usize].next
        };
        self.links[pd] = Link { prev, next, on: q };
        if prev == NONE {
            self.queue(q).head = pd as u8;
        } else {
            self.links[prev as usize].next = pd as u8;
        }
        if next == NONE {
            self.queue(q).tail = pd as u8;
        } else {
            self.links[next as usize].prev = pd as u8;
        }
        self.mark(q);
    }

    /// Put `pd` at the head of `q`.
    #[link_section = ".text.hot"]
    pub fn push_front(&mut self, q: QueueId, pd: PdId) {
        self.remove(pd);
        let head = self.queue(q).head;
        self.links[pd] = Link {
            prev: NONE,
            next: head,
            on: q,
        };
        if head == NONE {
            self.queue(q).tail = pd as u8;
        } else {
            self.links[head as usize].prev = pd as u8;
        }
        self.queue(q).head = pd as u8;
        self.mark(q);
    }

    /// Take `pd` off whatever list it is on.
    #[link_section = ".text.hot"]
    pub fn remove(&mut self, pd: PdId) {
        let Link { prev, next, on } = self.links[pd];
        if on == QueueId::None {
            return;
        }
        if prev == NONE {
            self.queue(on).head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NONE {
            self.queue(on).tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        self.links[pd] = Link {
            prev: NONE,
            next: NONE,
            on: QueueId::None,
        };
        self.mark(on);
    }

    /// Fast-path check (read only): `pd` runs on its own SC, that SC is
    /// the running one and not depleted, and the timer needs no re-arming,
    /// so handing the CPU to a PD on the same SC needs no scheduler work.
    #[inline(always)]
    pub fn owns_running_sc(&self, pd: PdId) -> bool {
        self.thread_sc[pd] as usize == pd
            && self.running_sc == Some(pd as u8)
            && !self.timer_dirty
            && self.depleted & (1 << pd) == 0
    }

    /// Fast-path check (read only): no PD is ready at a priority above
    /// `prio` (eligible or not).
    #[inline(always)]
    pub fn none_ready_above(&self, prio: u8) -> bool {
        let (word, bit) = (prio as usize / 64, prio % 64);
        let above = if bit == 63 { 0 } else { !0u64 << (bit + 1) };
        self.bitmap[word] & above == 0 && self.bitmap[word + 1..].iter().all(|&w| w == 0)
    }

    /// Fast-path check (read only): no caller is queued on `pd`.
    #[inline(always)]
    pub fn no_callers(&self, pd: PdId) -> bool {
        self.callers[pd].head == NONE
    }

    /// The timer must be re-armed before returning to user mode.
    #[inline(always)]
    pub fn timer_dirty(&self) -> bool {
        self.timer_dirty
    }

    /// The first PD on `q`.
    pub fn front(&self, q: QueueId) -> Option<PdId> {
        let head = match q {
            QueueId::Ready(p) => self.ready[p as usize].head,
            QueueId::Callers(pd) => self.callers[pd as usize].head,
            QueueId::None => NONE,
        };
        (head != NONE).then_some(head as usize)
    }

    pub(crate) fn eligible(&self, pd: PdId) -> bool {
        self.depleted & (1 << self.thread_sc[pd]) == 0
    }

    /// The first eligible ready PD of priority above `floor` (all if
    /// `None`), highest priority first.
    #[link_section = ".text.hot"]
    fn best_above(&self, floor: Option<u8>) -> Option<PdId> {
        for word in (0..4).rev() {
            let mut bits = self.bitmap[word];
            while bits != 0 {
                let bit = 63 - bits.leading_zeros() as usize;
                bits &= !(1 << bit);
                let prio = word * 64 + bit;
                if floor.is_some_and(|f| prio <= f as usize) {
                    return None;
                }
                let mut pd = self.ready[prio].head;
                while pd != NONE {
                    if self.eligible(pd as usize) {
                        return Some(pd as usize);
                    }
                    pd = self.links[pd as usize].next;
                }
            }
        }
        None
    }

    fn refill(&mut self, sc: usize, now: u64) {
        let s = &mut self.scs[sc];
        s.remaining = s.budget;
        s.replenish_at = now + s.period;
        self.depleted &= !(1 << sc);
    }

    /// Charge the running SC up to `now`. Returns true if it is used up.
    #[link_section = ".text.hot"]
    fn charge(&mut self, now: u64) -> bool {
        let Some(sc) = self.running_sc else {
            return false;
        };
        let used = now.saturating_sub(self.slice_start);
        self.slice_start = now;
        let s = &mut self.scs[sc as usize];
        s.remaining = s.remaining.saturating_sub(used);
        if s.remaining > 0 {
            return false;
        }
        if s.budget == s.period {
            // Never throttled: a new period starts now.
            self.refill(sc as usize, now);
        } else if s.replenish_at <= now {
            self.refill(sc as usize, now);
        } else {
            self.depleted |= 1 << sc;
        }
        true
    }

    /// Replenish depleted SCs whose period has begun.
    fn replenish(&mut self, now: u64) {
        let mut bits = self.depleted;
        while bits != 0 {
            let sc = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if self.scs[sc].replenish_at <= now {
                self.refill(sc, now);
            }
        }
    }

    /// Switch the running SC to `next` at `now` and re-arm the timer.
    #[link_section = ".text.hot"]
    fn switch_sc(&mut self, next: Option<u8>, now: u64) {
        self.charge(now);
        self.running_sc = next;
        if let Some(sc) = next {
            let s = &self.scs[sc as usize];
            if self.depleted & (1 << sc) == 0 && s.replenish_at <= now {
                self.refill(sc as usize, now);
            }
        }
        self.slice_start = now;
        self.timer_dirty = false;
        let mut deadline = u64::MAX;
        if let Some(sc) = next {
            deadline = now.saturating_add(self.scs[sc as usize].remaining);
        }
        let mut bits = self.depleted;
        while bits != 0 {
            let sc = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            deadline = deadline.min(self.scs[sc].replenish_at);
        }
        // An armed timer that fires no later than needed can stay: an early
        // tick only re-arms. This saves a LAPIC write on most switches.
        if self.armed.is_some_and(|a| a > now && a <= deadline) {
            return;
        }
        if deadline == u64::MAX {
            self.armed = None;
            arch::timer_stop();
        } else {
            self.armed = Some(deadline);
            let ticks = deadline.saturating_sub(now) as u128 * self.lapic_per_ms as u128
                / self.tsc_per_ms as u128;
            arch::timer_one_shot(ticks.clamp(1, u32::MAX as u128) as u32);
        }
    }
}

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
        let now = arch::rdtsc();
        if self.sched.charge(now) {
            if let Some(cur) = self.current.filter(|&c| self.tcbs[c].runnable()) {
                let prio = self.tcbs[cur].priority;
                self.current = None;
                self.sched.push_back(QueueId::Ready(prio), cur);
            }
        }
        self.sched.replenish(now);
        self.sched.armed = None;
        self.sched.timer_dirty = true;
    }

    /// Pick the PD to run next and prepare the CPU for it. Returns its
    /// register frame, or null to idle.
    #[link_section = ".text.hot"]
    pub fn schedule(&mut self) -> *const UserRegs {
        let cur = self
            .current
            .filter(|&c| self.tcbs[c].runnable() && self.sched.eligible(c));
        let next = match cur {
            Some(c) => match self.sched.best_above(Some(self.tcbs[c].priority)) {
                Some(b) => {
                    let prio = self.tcbs[c].priority;
                    self.sched.push_front(QueueId::Ready(prio), c);
                    Some(b)
                }
                None => Some(c),
            },
            None => {
                if let Some(c) = self.current.filter(|&c| self.tcbs[c].runnable()) {
                    // Runnable but its SC is depleted: wait in the queue.
                    let prio = self.tcbs[c].priority;
                    self.sched.push_back(QueueId::Ready(prio), c);
                }
                self.sched.best_above(None)
            }
        };
        if let Some(n) = next {
            self.sched.remove(n);
        }
        self.dispatch(next)
    }

    #[link_section = ".text.hot"]
    pub(crate) fn dispatch(&mut self, next: Option<PdId>) -> *const UserRegs {
        let sc = next.map(|n| self.sched.thread_sc[n]);
        if sc != self.sched.running_sc || self.sched.timer_dirty {
            self.sched.switch_sc(sc, arch::rdtsc());
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
