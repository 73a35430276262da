//! Scheduling: fixed priorities with round robin, budgets and periods.
//!
//! - Ready queues: one FIFO per priority plus a bitmap of non-empty queues.
//!   The running PD (the kernel's `current`) is not in a queue.
//! - Scheduling contexts (SCs): one per PD, holding its budget per period.
//!   A PD runs on an SC (`thread_sc`): its own, or, while a passive PD
//!   serves a protected call, its caller's. A PD whose SC is depleted stays
//!   queued but is skipped until the SC is replenished.
//! - Replenishment is sporadic-server style, so an SC with budget < period
//!   runs at most its budget in *any* window of one period, not just in
//!   periods aligned to its refills: every chunk of budget consumed is
//!   returned one period after the chunk started being consumed (see
//!   [`Refills`]). An SC with budget = period (the default) is never
//!   throttled and keeps no refills.
//! - Time is charged only when the running SC changes or the timer fires,
//!   so syscalls that do not switch SC read no clock and touch no timer.
//! - The one-shot timer ([`Machine::arm_timer`]) fires at the earliest of
//!   the running SC's budget end and the next replenishment of a depleted
//!   SC, or earlier: an early tick only re-arms it, so most switches leave
//!   the timer alone (arming it is expensive under emulation).
//!
//! The same intrusive lists also hold the callers waiting for a busy PD
//! to take their protected call, highest priority first and FIFO among
//! equals (as seL4's MCS endpoint queues), so a low-priority caller never
//! makes a higher-priority one wait behind it in the queue.
//!
//! # Bandwidth inheritance (helping)
//!
//! A passive server runs a call on its caller's SC, so when that SC runs
//! out mid-call the server stalls, and every caller queued on it would
//! wait for the depleted caller's next period (a priority inversion:
//! issue 9 §3). Instead, when the scheduler meets a ready passive server
//! that is in the middle of a call and whose SC is depleted
//! (`Scheduler::lend`; the kernel tells which PDs serve whose calls
//! through [`Threads`]), it runs the server on
//! 1. the call's own SC (its *home*: the SC of the chain's root caller)
//!    if that is eligible again, else
//! 2. the SC of the first caller queued on the server, or on a passive
//!    server up the chain of calls that runs on the same call, whose SC is
//!    eligible and whose priority is above the home PD's.
//!
//! Only a higher-priority caller lends: a lower one waiting behind a
//! higher-priority PD's call is not an inversion, and must not pay for it.
//! The server keeps its own priority (the ceiling: above every caller's, by
//! the boot checks), exactly as if the lender's own call were running.
//!
//! Invariants (kept here, by private fields):
//! - Every PD is on at most one list ([`QueueId`]), and `links` and the
//!   queues' heads and tails agree; a ready queue's bitmap bit is set iff
//!   the queue is non-empty. A callers queue is in priority order.
//! - `depleted` has bit `sc` set iff SC `sc` has no budget left
//!   (`remaining == 0`) and was not yet refilled.
//! - For every throttled SC (budget < period), `remaining` plus its
//!   pending refills is its budget (debt delays budget, never destroys
//!   it). An unthrottled one keeps no refills and no debt.
//! - Time is charged to the running SC (`running_sc`) only; a lent SC is
//!   charged like any other, so the lender pays for the time it lends.
//! - The time the running PD spends on a lent SC is also added to the
//!   home SC's `debt` (`Scheduler::debtor` names it), and a refill repays
//!   debt first: over time a PD gets no more server time than its budget,
//!   however often it is helped. A PD with `budget == period` is never
//!   depleted, so it is never helped and never owes.
//! - A loan is for one thread and one call: it ends when the server
//!   replies or abandons the call (the kernel sets `thread_sc` afresh), and
//!   it is revoked (`Scheduler::loan_debtor`) when the borrower is next
//!   dispatched once no caller on the SC waits in the chain any more
//!   (stopped, faulted or restarted). While the borrower runs, nothing else can change that:
//!   every kernel entry ends in a dispatch, which re-checks.
//! - While any time is charged to a debtor, `timer_dirty` stays set, so
//!   every dispatch re-checks the loan and re-charges: the debtor never
//!   goes stale when the same SC goes on running a call of its own.
//!
//! A PPC fast path that skips `pick`/`dispatch` must not run while a loan
//! is being charged, nor hand a call to, or reply into, a PD whose SC is
//! depleted; the slow path handles both ([`Scheduler::owns_running_sc`]
//! checks the first).
//!
//! Functions the kernel's hot paths call are `#[inline]`: the kernel is
//! built with one codegen unit and no LTO, so without it every queue
//! operation would be an out-of-line call across the crate boundary.

use mantle_abi::limits::{MAX_PDS, MAX_PRIORITY};

use crate::{Machine, PdId, Threads, NONE};

const PRIORITIES: usize = MAX_PRIORITY as usize + 1;

// `depleted` is one bit per SC.
const _: () = assert!(MAX_PDS <= 64);
// The bitmap covers every priority.
const _: () = assert!(PRIORITIES <= 4 * 64);

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

/// Most pending refills of one SC. When full, a new chunk is merged into
/// the last refill, which then comes due at the later of the two times:
/// budget may come back later than one period after use (the SC gets less
/// than its budget in some window), never earlier.
pub const MAX_REFILLS: usize = 8;

/// The budget an SC has consumed and not yet got back: `(due, amount)`
/// pairs in due order, a ring buffer. Invariants: `len <= MAX_REFILLS`,
/// `head < MAX_REFILLS`, dues non-decreasing from the head; `Sc::remaining`
/// plus the amounts here is `Sc::budget`.
#[derive(Clone, Copy, Debug)]
pub struct Refills {
    due: [u64; MAX_REFILLS],
    amount: [u64; MAX_REFILLS],
    head: u8,
    len: u8,
}

impl Refills {
    /// No refills pending.
    pub const EMPTY: Refills = Refills {
        due: [0; MAX_REFILLS],
        amount: [0; MAX_REFILLS],
        head: 0,
        len: 0,
    };

    #[inline]
    fn slot(&self, i: usize) -> usize {
        (self.head as usize + i) % MAX_REFILLS
    }

    /// How many refills are pending.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// No refill is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pending refills, `(due, amount)`, first due first.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        (0..self.len as usize).map(|i| (self.due[self.slot(i)], self.amount[self.slot(i)]))
    }

    /// The total budget pending.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, a)| a).sum()
    }

    /// When the first refill comes due (`u64::MAX`: none pending).
    #[inline]
    pub fn next_due(&self) -> u64 {
        if self.len == 0 {
            u64::MAX
        } else {
            self.due[self.head as usize]
        }
    }

    /// Return `amount` at `due` (no earlier than every pending refill).
    #[inline]
    pub fn push(&mut self, due: u64, amount: u64) {
        if self.len as usize == MAX_REFILLS {
            let last = self.slot(MAX_REFILLS - 1);
            self.amount[last] += amount;
            self.due[last] = self.due[last].max(due);
        } else {
            let at = self.slot(self.len as usize);
            self.due[at] = due;
            self.amount[at] = amount;
            self.len += 1;
        }
    }

    /// Take every refill due at `now`: their total.
    #[inline]
    pub fn take_due(&mut self, now: u64) -> u64 {
        let mut total = 0;
        while self.len > 0 && self.due[self.head as usize] <= now {
            total += self.amount[self.head as usize];
            self.head = ((self.head as usize + 1) % MAX_REFILLS) as u8;
            self.len -= 1;
        }
        total
    }
}

/// A scheduling context, in clock ticks ([`Machine::now`]). Its fields are
/// private: only the scheduler changes them, keeping the invariants of
/// the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Sc {
    /// Budget per period (at least 1).
    budget: u64,
    /// Period (at least the budget).
    period: u64,
    /// Budget available now.
    remaining: u64,
    /// When the next refill comes due (`u64::MAX`: none pending).
    replenish_at: u64,
    /// Time lent to this SC's calls by other SCs (bandwidth inheritance),
    /// repaid from its next refills.
    debt: u64,
    /// Consumed budget not yet returned.
    refills: Refills,
}

impl Sc {
    const EMPTY: Sc = Sc {
        budget: 0,
        period: 0,
        remaining: 0,
        replenish_at: 0,
        debt: 0,
        refills: Refills::EMPTY,
    };

    /// Budget per period.
    pub fn budget(&self) -> u64 {
        self.budget
    }
    /// Period.
    pub fn period(&self) -> u64 {
        self.period
    }
    /// Budget available now.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
    /// When the next refill comes due (`u64::MAX`: none pending).
    pub fn replenish_at(&self) -> u64 {
        self.replenish_at
    }
    /// Time owed for lent SCs.
    pub fn debt(&self) -> u64 {
        self.debt
    }
    /// Consumed budget not yet returned.
    pub fn refills(&self) -> &Refills {
        &self.refills
    }
}

/// Run queues, scheduling contexts and the preemption timer's state.
#[repr(C)]
pub struct Scheduler {
    bitmap: [u64; 4],
    depleted: u64,
    running_sc: Option<u8>,
    /// The SC that owes the running SC's time: the home SC of a call that
    /// runs on a lent SC (`NONE` if none).
    debtor: u8,
    slice_start: u64,
    /// When the armed timer fires (clock ticks), if it is armed.
    armed: Option<u64>,
    timer_dirty: bool,
    tsc_per_ms: u64,
    lapic_per_ms: u64,
    prio: [u8; MAX_PDS],
    /// The SC each PD runs on (an index below `MAX_PDS`). The kernel's IPC
    /// code sets it when a call starts and ends (a passive server runs on
    /// its caller's), and the lending policy when it lends; the scheduler
    /// only reads it.
    pub thread_sc: [u8; MAX_PDS],
    links: [Link; MAX_PDS],
    callers: [Queue; MAX_PDS],
    ready: [Queue; PRIORITIES],
    /// Scheduling contexts, by owner PD.
    scs: [Sc; MAX_PDS],
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
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
            scs: [Sc::EMPTY; MAX_PDS],
            depleted: 0,
            running_sc: None,
            debtor: NONE,
            slice_start: 0,
            armed: None,
            timer_dirty: false,
            tsc_per_ms: 1,
            lapic_per_ms: 1,
        }
    }

    /// Record the calibrated rates of the clock ([`Machine::now`]) and of
    /// the timer ([`Machine::arm_timer`]).
    pub fn set_clock(&mut self, tsc_per_ms: u64, lapic_per_ms: u64) {
        self.tsc_per_ms = tsc_per_ms.max(1);
        self.lapic_per_ms = lapic_per_ms.max(1);
    }

    /// Microseconds to clock ticks.
    pub fn us_to_ticks(&self, us: u64) -> u64 {
        (us as u128 * self.tsc_per_ms as u128 / 1000) as u64
    }

    /// Set up PD `pd`'s priority and SC (at time `_now`: the SC starts
    /// with its whole budget and no refills pending, so the time is not
    /// needed).
    pub fn init_pd(&mut self, pd: PdId, priority: u8, budget_us: u64, period_us: u64, _now: u64) {
        let budget = self.us_to_ticks(budget_us).max(1);
        let period = self.us_to_ticks(period_us).max(budget);
        self.prio[pd] = priority;
        self.thread_sc[pd] = pd as u8;
        self.scs[pd] = Sc {
            budget,
            period,
            remaining: budget,
            replenish_at: u64::MAX,
            debt: 0,
            refills: Refills::EMPTY,
        };
    }

    /// PD `pd`'s priority.
    #[inline]
    pub fn priority(&self, pd: PdId) -> u8 {
        self.prio[pd]
    }

    /// SC `sc` (the one PD `sc` owns).
    pub fn sc(&self, sc: usize) -> &Sc {
        &self.scs[sc]
    }

    /// The SC that is running, if any.
    #[inline(always)]
    pub fn running_sc(&self) -> Option<u8> {
        self.running_sc
    }

    /// The SC that owes the running SC's time (a loan), if any.
    pub fn debtor(&self) -> Option<u8> {
        (self.debtor != NONE).then_some(self.debtor)
    }

    /// When the timer was last armed to fire, if it is armed.
    pub fn armed(&self) -> Option<u64> {
        self.armed
    }

    /// The list `pd` is on.
    pub fn queue_of(&self, pd: PdId) -> QueueId {
        self.links[pd].on
    }

    #[inline(always)]
    fn queue(&mut self, q: QueueId) -> &mut Queue {
        match q {
            QueueId::Ready(p) => &mut self.ready[p as usize],
            QueueId::Callers(pd) => &mut self.callers[pd as usize],
            QueueId::None => unreachable!("no queue"),
        }
    }

    #[inline(always)]
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
    #[inline]
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
    #[inline]
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
    #[inline]
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

    /// Make the next dispatch charge the running SC and re-arm the timer
    /// (after a PD's SC changed under it: a loan).
    #[inline]
    pub fn set_timer_dirty(&mut self) {
        self.timer_dirty = true;
    }

    /// The first PD on `q`.
    #[inline]
    pub fn front(&self, q: QueueId) -> Option<PdId> {
        let head = match q {
            QueueId::Ready(p) => self.ready[p as usize].head,
            QueueId::Callers(pd) => self.callers[pd as usize].head,
            QueueId::None => NONE,
        };
        (head != NONE).then_some(head as usize)
    }

    /// The PD behind `pd` on its list.
    #[inline]
    pub fn next_in_queue(&self, pd: PdId) -> Option<PdId> {
        let next = self.links[pd].next;
        (next != NONE).then_some(next as usize)
    }

    /// The PDs on `q`, first first.
    pub fn iter(&self, q: QueueId) -> impl Iterator<Item = PdId> + '_ {
        core::iter::successors(self.front(q), |&pd| self.next_in_queue(pd))
    }

    /// The SC `pd` runs on has budget left.
    #[inline]
    pub fn eligible(&self, pd: PdId) -> bool {
        self.sc_eligible(self.thread_sc[pd])
    }

    /// SC `sc` has budget left.
    #[inline]
    pub fn sc_eligible(&self, sc: u8) -> bool {
        self.depleted & (1 << sc) == 0
    }

    /// Give SC `sc` back the budget due at `now`: all of it if the SC is
    /// never throttled (budget = period), else every refill due, less what
    /// it owes for time lent to its calls (bandwidth inheritance). A repaid
    /// amount counts as consumed now and comes back one period later, so
    /// the SC's budget in flight (remaining plus pending refills) stays its
    /// budget: debt delays budget, it never destroys it.
    #[inline]
    fn refill(&mut self, sc: usize, now: u64) {
        let s = &mut self.scs[sc];
        if s.budget == s.period {
            // Never depleted, so never a debtor.
            s.remaining = s.budget;
            s.debt = 0;
        } else {
            let back = s.refills.take_due(now);
            let repay = s.debt.min(back);
            s.debt -= repay;
            s.remaining += back - repay;
            if repay > 0 {
                s.refills.push(now.saturating_add(s.period), repay);
            }
            s.replenish_at = s.refills.next_due();
        }
        if s.remaining > 0 {
            self.depleted &= !(1 << sc);
        } else {
            self.depleted |= 1 << sc;
        }
    }

    /// SC `sc` consumed `amount` of budget in one run that began at
    /// `start`: it comes back one period after `start`.
    #[inline]
    fn consumed(&mut self, sc: usize, start: u64, amount: u64) {
        let s = &mut self.scs[sc];
        if s.budget == s.period || amount == 0 {
            return;
        }
        s.refills.push(start.saturating_add(s.period), amount);
        s.replenish_at = s.refills.next_due();
    }

    /// Charge the running SC up to `now`. Returns true if it is used up.
    #[inline]
    #[link_section = ".text.hot"]
    fn charge(&mut self, now: u64) -> bool {
        let Some(sc) = self.running_sc else {
            return false;
        };
        let start = self.slice_start;
        let used = now.saturating_sub(start);
        self.slice_start = now;
        let s = &mut self.scs[sc as usize];
        let before = s.remaining;
        s.remaining = before.saturating_sub(used);
        let charged = before - s.remaining;
        self.consumed(sc as usize, start, charged);
        if self.debtor != NONE {
            // Lent time: the lender pays now, the call's home SC later —
            // what the lender was charged, never more. Time nobody was
            // charged for (a stretch the timer fired late for, or a host
            // pause under TCG) is nobody's debt, so a debtor never owes
            // more than its lenders paid.
            let d = &mut self.scs[self.debtor as usize];
            d.debt = d.debt.saturating_add(charged);
        }
        let s = &self.scs[sc as usize];
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
    #[inline]
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

    /// The timer fired: charge the running SC; if it is used up and
    /// `running` (the PD on it, if it is still runnable) is given, that PD
    /// goes to the back of its queue and this returns true (it no longer
    /// runs). Replenish depleted SCs; the next dispatch re-arms the timer.
    #[inline]
    pub fn timer_tick(&mut self, m: &mut impl Machine, running: Option<PdId>) -> bool {
        let now = m.now();
        let mut preempted = false;
        if self.charge(now) {
            if let Some(cur) = running {
                self.push_back(QueueId::Ready(self.prio[cur]), cur);
                preempted = true;
            }
        }
        self.replenish(now);
        self.armed = None;
        self.timer_dirty = true;
        preempted
    }

    /// Pick the PD to run next and take it off its queue. `current` is the
    /// PD that ran (if any); `threads` tells which PDs may run at all and
    /// which serve calls (for lending, see the module documentation).
    ///
    /// The result is the first eligible PD of the highest priority that has
    /// one, or `current` if it is eligible and none is above it: the
    /// running PD is always the highest-priority eligible ready one. A PD
    /// on a depleted SC counts as eligible if it can borrow one (`lend`).
    /// `current`, if runnable but not picked, is queued: at the front of
    /// its queue if preempted, at the back if its SC is depleted. (A loan
    /// that has ended is found by [`Scheduler::dispatch`], after which the
    /// kernel picks again if that leaves the PD on a depleted SC.)
    // Always inlined: the kernel calls it from one place, its scheduler
    // entry, and an out-of-line call costs the IPC slow paths a prologue.
    #[inline(always)]
    #[link_section = ".text.hot"]
    pub fn pick(&mut self, current: Option<PdId>, threads: impl Threads) -> Option<PdId> {
        let cur = current.filter(|&c| threads.runnable(c) && self.eligible(c));
        let next = match cur {
            Some(c) => match self.best_above(Some(self.prio[c]), threads) {
                Some(b) => {
                    self.push_front(QueueId::Ready(self.prio[c]), c);
                    Some(b)
                }
                None => Some(c),
            },
            None => {
                if let Some(c) = current.filter(|&c| threads.runnable(c)) {
                    // Runnable but its SC is depleted: wait in the queue.
                    self.push_back(QueueId::Ready(self.prio[c]), c);
                }
                self.best_above(None, threads)
            }
        };
        if let Some(n) = next {
            self.remove(n);
        }
        next
    }

    /// The first eligible ready PD of priority above `floor` (all if
    /// `None`), highest priority first. A passive server stalled mid-call
    /// on a depleted SC counts as eligible if it can borrow one (`lend`).
    #[inline]
    #[link_section = ".text.hot"]
    fn best_above(&mut self, floor: Option<u8>, threads: impl Threads) -> Option<PdId> {
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
                    if self.eligible(pd as usize) || self.lend(pd as usize, threads) {
                        return Some(pd as usize);
                    }
                    pd = self.links[pd as usize].next;
                }
            }
        }
        None
    }

    /// The home SC of the call `pd` runs: up the chain of passive servers
    /// serving calls to the first PD that is not one (the root caller),
    /// whose own SC it is. For any other PD, its own SC. Without loans,
    /// `thread_sc[pd] == home_sc(pd)` for every PD (the kernel copies the
    /// caller's SC down the chain when a call starts).
    pub fn home_sc(&self, pd: PdId, threads: impl Threads) -> u8 {
        let mut x = pd;
        // A chain has fewer than MAX_PDS links (priorities strictly rise
        // along it); the bound only guards against a kernel bug.
        for _ in 0..MAX_PDS {
            match threads.serving_passively(x) {
                Some(caller) => x = caller,
                None => break,
            }
        }
        x as u8
    }

    /// The next PD up the chain of `x` that serves the same call: its
    /// caller, if `x` is a passive server serving a call and that caller is
    /// one too.
    fn chain_up(x: PdId, threads: impl Threads) -> Option<PdId> {
        let caller = threads.serving_passively(x)?;
        threads
            .serving_passively(caller)
            .is_some()
            .then_some(caller)
    }

    /// Bandwidth inheritance (see the module documentation): ready PD
    /// `pd`'s SC is depleted. If `pd` is a passive server in the middle of
    /// a call, move it to the call's home SC if that is eligible, else lend
    /// it the SC of the first caller of higher priority than the home PD
    /// that waits on `pd` or on a passive server up its chain and has an
    /// eligible SC. Returns whether `pd` is now eligible. The time is
    /// charged from the next dispatch on (which sees the SC change, or the
    /// `timer_dirty` set here when the SC happens to be running already).
    #[cold]
    #[inline(never)]
    fn lend(&mut self, pd: PdId, threads: impl Threads) -> bool {
        if threads.serving_passively(pd).is_none() {
            return false;
        }
        let home = self.home_sc(pd, threads);
        let sc = if self.sc_eligible(home) {
            Some(home)
        } else {
            let floor = self.prio[home as usize];
            let mut x = Some(pd);
            let mut found = None;
            for _ in 0..MAX_PDS {
                let Some(server) = x else { break };
                found = self.queued_lender(server, floor);
                if found.is_some() {
                    break;
                }
                x = Self::chain_up(server, threads);
            }
            found
        };
        let Some(sc) = sc else {
            return false;
        };
        self.thread_sc[pd] = sc;
        self.timer_dirty = true;
        true
    }

    /// The SC of the first caller queued on `server` with a priority above
    /// `floor` and an eligible SC (the queue is in priority order).
    fn queued_lender(&self, server: PdId, floor: u8) -> Option<u8> {
        self.iter(QueueId::Callers(server as u8))
            .take_while(|&c| self.prio[c] > floor)
            .map(|c| self.thread_sc[c])
            .find(|&sc| self.sc_eligible(sc))
    }

    /// `dispatch`'s loan check, off its hot path: the SC that owes `n`'s
    /// time (`loan_debtor`), or `None` if `n` must not run (its loan ended
    /// and left it on its depleted home SC; it waits in its queue).
    #[cold]
    #[inline(never)]
    fn settle_loan(&mut self, n: PdId, threads: impl Threads) -> Option<u8> {
        let debtor = self.loan_debtor(n, threads);
        if self.eligible(n) {
            Some(debtor)
        } else {
            self.push_back(QueueId::Ready(self.prio[n]), n);
            None
        }
    }

    /// About to run `n` on an SC not its own: if that SC is lent, return
    /// the home SC that owes the time. A loan whose lender no longer waits
    /// in `n`'s chain (it was stopped, faulted or restarted, or its call
    /// failed) is revoked: `n` goes back to its home SC (if that is
    /// depleted, `dispatch` refuses to run `n`).
    #[inline]
    fn loan_debtor(&mut self, n: PdId, threads: impl Threads) -> u8 {
        let home = self.home_sc(n, threads);
        let sc = self.thread_sc[n];
        if sc == home {
            return NONE;
        }
        let mut x = Some(n);
        for _ in 0..MAX_PDS {
            let Some(server) = x else { break };
            if self
                .iter(QueueId::Callers(server as u8))
                .any(|c| self.thread_sc[c] == sc)
            {
                return home;
            }
            x = Self::chain_up(server, threads);
        }
        self.thread_sc[n] = home;
        NONE
    }

    /// About to run `next` (`None`: idle), as `pick` returned it: if its
    /// SC is not the running one, or the timer needs re-arming, charge the
    /// running SC, settle any loan `next` runs on, and switch to `next`'s
    /// SC. Returns false, without switching, if `next`'s loan has ended
    /// and left it on its depleted home SC: it must not run, so it waits in
    /// its queue, and the caller picks again (`lend` looks again). Each
    /// such round revokes one loan, and a fresh loan is never stale, so
    /// picking again ends.
    #[inline]
    #[link_section = ".text.hot"]
    #[must_use]
    pub fn dispatch(
        &mut self,
        m: &mut impl Machine,
        next: Option<PdId>,
        threads: impl Threads,
    ) -> bool {
        let mut sc = next.map(|n| self.thread_sc[n]);
        if sc != self.running_sc || self.timer_dirty {
            if let Some(n) = next {
                if sc == Some(n as u8) && !self.timer_dirty && self.switch_unthrottled(m, n as u8) {
                    return true;
                }
            }
            let debtor = match next {
                Some(n) if sc != Some(n as u8) => match self.settle_loan(n, threads) {
                    Some(debtor) => debtor,
                    None => return false,
                },
                _ => NONE,
            };
            sc = next.map(|n| self.thread_sc[n]);
            self.switch_sc(m, sc, debtor);
        }
        true
    }

    /// Check the invariants this type keeps (see the module
    /// documentation) for PDs `0..count`; for tests and debugging, never
    /// called on a hot path (it walks every list). Returns the first
    /// broken one.
    pub fn audit(&self, count: usize) -> Result<(), &'static str> {
        let count = count.min(MAX_PDS);
        // Every list is well linked, and every PD on it says so.
        let lists = (0..PRIORITIES)
            .map(|p| (QueueId::Ready(p as u8), self.ready[p]))
            .chain((0..MAX_PDS).map(|pd| (QueueId::Callers(pd as u8), self.callers[pd])));
        let mut seen = 0usize;
        for (q, queue) in lists {
            let mut prev = NONE;
            let mut pd = queue.head;
            let mut len = 0;
            while pd != NONE {
                let l = self
                    .links
                    .get(pd as usize)
                    .ok_or("a list links to a PD out of range")?;
                if l.on != q || l.prev != prev {
                    return Err("a PD's link does not match the list it is on");
                }
                if let QueueId::Callers(_) = q {
                    if prev != NONE && self.prio[prev as usize] < self.prio[pd as usize] {
                        return Err("a callers queue is out of priority order");
                    }
                }
                len += 1;
                if len > MAX_PDS {
                    return Err("a list has a cycle");
                }
                prev = pd;
                pd = l.next;
            }
            if queue.tail != prev {
                return Err("a list's tail is not its last PD");
            }
            if let QueueId::Ready(p) = q {
                let bit = self.bitmap[p as usize / 64] & (1 << (p % 64)) != 0;
                if bit != (queue.head != NONE) {
                    return Err("the ready bitmap disagrees with a queue");
                }
            }
            seen += len;
        }
        let linked = self.links.iter().filter(|l| l.on != QueueId::None).count();
        if seen != linked {
            return Err("a PD says it is on a list that does not hold it");
        }
        for (sc, s) in self.scs.iter().enumerate().take(count) {
            if s.budget == 0 {
                continue;
            }
            if s.budget > s.period {
                return Err("an SC's budget exceeds its period");
            }
            if (self.depleted & (1 << sc) != 0) != (s.remaining == 0) {
                return Err("an SC's depleted bit disagrees with its budget");
            }
            if s.budget < s.period && s.remaining.checked_add(s.refills.total()) != Some(s.budget) {
                return Err("an SC's remaining budget and refills do not add up to its budget");
            }
            if s.budget == s.period && (!s.refills.is_empty() || s.debt != 0) {
                return Err("an unthrottled SC keeps refills or debt");
            }
            if s.replenish_at != s.refills.next_due() {
                return Err("an SC's next refill time is stale");
            }
            if s.refills
                .iter()
                .zip(s.refills.iter().skip(1))
                .any(|(a, b)| a.0 > b.0)
            {
                return Err("an SC's refills are out of due order");
            }
        }
        Ok(())
    }

    /// The common SC switch, in a few instructions: from one never-throttled
    /// SC (budget = period) to another, nothing depleted, nothing lent, the
    /// outgoing SC not used up, and the armed timer already due no later
    /// than the incoming SC's budget end. Then [`Scheduler::switch_sc`]
    /// would do exactly this (its charge records no refill and no debt, no
    /// refill is due, and it keeps the armed timer). Returns false, having
    /// changed nothing, when any of that does not hold.
    #[inline(always)]
    fn switch_unthrottled(&mut self, m: &mut impl Machine, next: u8) -> bool {
        let Some(cur) = self.running_sc else {
            return false;
        };
        if self.debtor != NONE || self.depleted != 0 {
            return false;
        }
        let now = m.now();
        let used = now.saturating_sub(self.slice_start);
        let (c, n) = (&self.scs[cur as usize], &self.scs[next as usize]);
        if c.budget != c.period || n.budget != n.period || used >= c.remaining {
            return false;
        }
        let deadline = now.saturating_add(n.remaining);
        if !self.armed.is_some_and(|a| a > now && a <= deadline) {
            return false;
        }
        self.scs[cur as usize].remaining -= used;
        self.running_sc = Some(next);
        self.slice_start = now;
        true
    }

    /// Switch the running SC to `next` (the SC of the PD about to run) at
    /// the machine's current time, its time owed by `debtor` (`NONE`: by
    /// nobody), and re-arm the timer if it would fire too late.
    #[inline]
    #[link_section = ".text.hot"]
    pub fn switch_sc(&mut self, m: &mut impl Machine, next: Option<u8>, debtor: u8) {
        let now = m.now();
        self.charge(now);
        self.running_sc = next;
        self.debtor = debtor;
        if let Some(sc) = next {
            let s = &self.scs[sc as usize];
            if self.depleted & (1 << sc) == 0 && s.replenish_at <= now {
                self.refill(sc as usize, now);
            }
        }
        self.slice_start = now;
        // While a debtor is charged, re-check at every dispatch.
        self.timer_dirty = debtor != NONE;
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
        // tick only re-arms. This saves a timer write on most switches.
        if self.armed.is_some_and(|a| a > now && a <= deadline) {
            return;
        }
        if deadline == u64::MAX {
            self.armed = None;
            m.stop_timer();
        } else {
            self.armed = Some(deadline);
            let ticks = deadline.saturating_sub(now) as u128 * self.lapic_per_ms as u128
                / self.tsc_per_ms as u128;
            m.arm_timer(ticks.clamp(1, u32::MAX as u128) as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when told to, and a timer that records
    /// how it was armed.
    struct Sim {
        now: u64,
        armed: Option<u32>,
    }

    impl Machine for Sim {
        fn now(&self) -> u64 {
            self.now
        }
        fn arm_timer(&mut self, count: u32) {
            self.armed = Some(count);
        }
        fn stop_timer(&mut self) {
            self.armed = None;
        }
    }

    /// Threads: all runnable but `blocked`; `serving[pd]` is the caller
    /// whose call passive server `pd` serves.
    struct Calls {
        blocked: u64,
        serving: [Option<PdId>; 8],
    }

    impl Calls {
        const NONE: Calls = Calls {
            blocked: 0,
            serving: [None; 8],
        };
    }

    impl Threads for &Calls {
        fn runnable(&self, pd: PdId) -> bool {
            self.blocked & (1 << pd) == 0
        }
        fn serving_passively(&self, pd: PdId) -> Option<PdId> {
            self.serving[pd]
        }
    }

    /// A scheduler with clock and timer at 1 tick per microsecond.
    fn sched() -> Scheduler {
        let mut s = Scheduler::new();
        s.set_clock(1000, 1000);
        s
    }

    fn list(s: &Scheduler, q: QueueId) -> [usize; 8] {
        let mut out = [usize::MAX; 8];
        for (slot, pd) in out.iter_mut().zip(s.iter(q)) {
            *slot = pd;
        }
        out
    }

    const X: usize = usize::MAX;

    #[test]
    fn refills_come_back_in_order() {
        let mut r = Refills::EMPTY;
        assert_eq!(r.next_due(), u64::MAX);
        r.push(10, 1);
        r.push(20, 2);
        r.push(30, 3);
        assert_eq!(r.next_due(), 10);
        assert_eq!(r.take_due(9), 0);
        assert_eq!(r.take_due(20), 3);
        assert_eq!(r.len(), 1);
        assert_eq!(r.next_due(), 30);
        assert_eq!(r.take_due(u64::MAX), 3);
        assert!(r.is_empty());
    }

    #[test]
    fn full_refills_merge_into_the_last_later() {
        let mut r = Refills::EMPTY;
        for i in 0..MAX_REFILLS as u64 {
            r.push(10 * (i + 1), 1);
        }
        r.push(1000, 5);
        r.push(500, 1); // Not earlier than the merged one: stays at 1000.
        assert_eq!(r.len(), MAX_REFILLS);
        assert_eq!(r.total(), MAX_REFILLS as u64 + 6);
        assert_eq!(r.iter().last(), Some((1000, 7)));
        // Wraps around the ring.
        assert_eq!(r.take_due(30), 3);
        r.push(2000, 4);
        assert_eq!(r.iter().last(), Some((2000, 4)));
        assert_eq!(r.total(), MAX_REFILLS as u64 + 6 - 3 + 4);
    }

    #[test]
    fn queues_link_and_unlink() {
        let mut s = sched();
        for pd in 0..5 {
            s.init_pd(pd, 3, 1000, 1000, 0);
        }
        let q = QueueId::Ready(3);
        s.push_back(q, 0);
        s.push_back(q, 1);
        s.push_front(q, 2);
        assert_eq!(list(&s, q), [2, 0, 1, X, X, X, X, X]);
        s.push_back(q, 2); // Moves it.
        assert_eq!(list(&s, q), [0, 1, 2, X, X, X, X, X]);
        s.remove(1);
        s.remove(1); // Not on a list: nothing.
        assert_eq!(list(&s, q), [0, 2, X, X, X, X, X, X]);
        assert_eq!(s.queue_of(1), QueueId::None);
        s.push_back(QueueId::Ready(7), 0); // Moves it to another queue.
        assert_eq!(list(&s, q), [2, X, X, X, X, X, X, X]);
        assert_eq!(s.front(QueueId::Ready(7)), Some(0));
        s.audit(5).unwrap();
        s.remove(2);
        s.remove(0);
        assert_eq!(s.front(q), None);
        assert!(s.none_ready_above(0));
        s.audit(5).unwrap();
    }

    #[test]
    fn callers_queue_in_priority_order_fifo_among_equals() {
        let mut s = sched();
        let prios = [1, 5, 3, 5, 1, 9];
        for (pd, &p) in prios.iter().enumerate() {
            s.init_pd(pd, p, 1000, 1000, 0);
        }
        let q = QueueId::Callers(7);
        for pd in 0..prios.len() {
            s.insert_by_priority(q, pd);
            s.audit(prios.len()).unwrap();
        }
        assert_eq!(list(&s, q), [5, 1, 3, 2, 0, 4, X, X]);
        assert!(!s.no_callers(7));
        assert!(s.none_ready_above(0));
    }

    #[test]
    fn bitmap_answers_none_ready_above() {
        let mut s = sched();
        for (pd, p) in [0u8, 63, 64, 200, 254].into_iter().enumerate() {
            s.init_pd(pd, p, 1000, 1000, 0);
            s.push_back(QueueId::Ready(p), pd);
        }
        assert!(s.none_ready_above(254));
        assert!(!s.none_ready_above(253));
        s.remove(4);
        assert!(s.none_ready_above(200));
        assert!(!s.none_ready_above(199));
        s.remove(3);
        assert!(!s.none_ready_above(63));
        assert!(s.none_ready_above(64));
        s.remove(2);
        assert!(s.none_ready_above(63));
        assert!(!s.none_ready_above(62));
        s.audit(5).unwrap();
    }

    #[test]
    fn pick_prefers_priority_then_the_running_pd() {
        let mut s = sched();
        let mut m = Sim {
            now: 0,
            armed: None,
        };
        for (pd, p) in [1u8, 2, 2].into_iter().enumerate() {
            s.init_pd(pd, p, 1000, 1000, 0);
            s.push_back(QueueId::Ready(p), pd);
        }
        assert_eq!(s.pick(None, &Calls::NONE), Some(1));
        // The running PD keeps the CPU against its equals...
        assert_eq!(s.pick(Some(1), &Calls::NONE), Some(1));
        // ...but not once blocked.
        let one_blocked = Calls {
            blocked: 1 << 1,
            ..Calls::NONE
        };
        assert_eq!(s.pick(Some(1), &one_blocked), Some(2));
        assert_eq!(s.pick(Some(2), &Calls::NONE), Some(2));
        s.switch_sc(&mut m, Some(2), NONE);
        assert_eq!(m.armed, Some(1000));
        s.audit(3).unwrap();
    }

    #[test]
    fn a_throttled_sc_is_skipped_until_refilled() {
        let mut s = sched();
        let mut m = Sim {
            now: 0,
            armed: None,
        };
        s.init_pd(0, 5, 100, 1000, 0); // 10% of the CPU.
        s.init_pd(1, 1, 1000, 1000, 0);
        s.push_back(QueueId::Ready(1), 1);
        s.push_back(QueueId::Ready(5), 0);
        assert_eq!(s.pick(None, &Calls::NONE), Some(0));
        s.switch_sc(&mut m, Some(0), NONE);
        assert_eq!(m.armed, Some(100)); // Its budget.
        m.now = 100;
        assert!(s.timer_tick(&mut m, Some(0)));
        assert!(!s.eligible(0));
        assert_eq!(s.sc(0).remaining(), 0);
        assert_eq!(s.sc(0).replenish_at(), 1000);
        assert_eq!(s.pick(None, &Calls::NONE), Some(1));
        s.switch_sc(&mut m, Some(1), NONE);
        // Fires at PD 0's refill, before PD 1's budget ends.
        assert_eq!(m.armed, Some(900));
        s.audit(2).unwrap();
        m.now = 1000;
        assert!(!s.timer_tick(&mut m, Some(1)));
        assert!(s.eligible(0));
        assert_eq!(s.pick(Some(1), &Calls::NONE), Some(0));
        s.audit(2).unwrap();
    }

    #[test]
    fn a_loan_is_charged_to_the_lender_and_owed_by_the_debtor() {
        let mut s = sched();
        let mut m = Sim {
            now: 0,
            armed: None,
        };
        s.init_pd(0, 1, 100, 1000, 0); // The debtor.
        s.init_pd(1, 5, 500, 1000, 0); // The lender.
        s.switch_sc(&mut m, Some(1), 0);
        assert_eq!(s.debtor(), Some(0));
        assert!(s.timer_dirty()); // Re-checked at every dispatch.
        m.now = 50;
        s.switch_sc(&mut m, Some(0), NONE);
        assert_eq!(s.sc(1).remaining(), 450);
        assert_eq!(s.sc(0).debt(), 50);
        m.now = 150;
        assert!(!s.timer_tick(&mut m, None)); // No PD to preempt.
        assert!(!s.eligible(0));
        // At the refill (due 1050, one period after the run began at 50),
        // the debt is repaid first: 50 of the 100 come back later.
        m.now = 1050;
        s.timer_tick(&mut m, None);
        assert_eq!(s.sc(0).remaining(), 50);
        assert_eq!(s.sc(0).debt(), 0);
        assert_eq!(s.sc(0).replenish_at(), 2050);
        s.audit(2).unwrap();
    }

    /// PD 0 (priority `low`) calls passive PD 2 (priority 5), which runs
    /// on SC 0 until it is depleted; PD 1 (priority `high`) queues on PD 2.
    fn stalled_call(low: u8, high: u8) -> (Scheduler, Sim, Calls) {
        let mut s = sched();
        let mut m = Sim {
            now: 0,
            armed: None,
        };
        s.init_pd(0, low, 10, 100, 0);
        s.init_pd(1, high, 50, 100, 0);
        s.init_pd(2, 5, 1000, 1000, 0);
        let mut calls = Calls::NONE;
        calls.serving[2] = Some(0);
        calls.blocked = 1 << 0 | 1 << 1; // In Call and Send.
        s.thread_sc[2] = 0;
        s.insert_by_priority(QueueId::Callers(2), 1);
        assert!(s.dispatch(&mut m, Some(2), &calls));
        assert_eq!(s.running_sc(), Some(0));
        m.now = 10;
        assert!(s.timer_tick(&mut m, Some(2)));
        assert!(!s.eligible(2));
        (s, m, calls)
    }

    #[test]
    fn a_higher_priority_caller_lends_and_the_home_owes() {
        let (mut s, mut m, calls) = stalled_call(1, 3);
        assert_eq!(s.pick(None, &calls), Some(2));
        assert_eq!(s.thread_sc[2], 1); // Borrowed from PD 1.
        assert!(s.dispatch(&mut m, Some(2), &calls));
        assert_eq!(s.running_sc(), Some(1));
        assert_eq!(s.debtor(), Some(0));
        m.now = 30;
        assert_eq!(s.pick(Some(2), &calls), Some(2));
        assert!(s.dispatch(&mut m, Some(2), &calls)); // Re-charged: a debtor is set.
        assert_eq!(s.sc(1).remaining(), 30);
        assert_eq!(s.sc(0).debt(), 20);
        s.audit(3).unwrap();
        // PD 1 leaves the queue (stopped): the loan is revoked when PD 2 is
        // next dispatched, and PD 2, back on its depleted home SC, waits.
        s.remove(1);
        assert_eq!(s.pick(Some(2), &calls), Some(2));
        assert!(!s.dispatch(&mut m, Some(2), &calls));
        assert_eq!(s.thread_sc[2], 0);
        assert_eq!(s.queue_of(2), QueueId::Ready(5));
        // Picking again: nobody can run.
        assert_eq!(s.pick(Some(2), &calls), None);
        assert!(s.dispatch(&mut m, None, &calls));
        assert_eq!(s.debtor(), None);
        assert_eq!(s.sc(0).debt(), 20);
        s.audit(3).unwrap();
    }

    #[test]
    fn a_lower_priority_caller_does_not_lend() {
        let (mut s, _m, calls) = stalled_call(1, 0);
        assert_eq!(s.pick(None, &calls), None);
        assert_eq!(s.thread_sc[2], 0);
        s.audit(3).unwrap();
    }
}
