//! Scheduling: fixed priorities with round robin, budgets and periods.
//!
//! - Ready queues: one FIFO per priority plus a bitmap of non-empty queues.
//!   The running PD (`Kernel::current`) is not in a queue.
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
//! - The LAPIC timer (one-shot) fires at the earliest of the running SC's
//!   budget end and the next replenishment of a depleted SC, or earlier: an
//!   early tick only re-arms it, so most switches leave the timer alone
//!   (a LAPIC write is expensive under emulation).
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
//! that is in the middle of a call and whose SC is depleted (`Kernel::lend`),
//! it runs the server on
//! 1. the call's own SC (its *home*: the SC of the chain's root caller,
//!    `Kernel::home_sc`) if that is eligible again, else
//! 2. the SC of the first caller queued on the server, or on a passive
//!    server up the chain of calls that runs on the same call, whose SC is
//!    eligible and whose priority is above the home PD's.
//!
//! Only a higher-priority caller lends: a lower one waiting behind a
//! higher-priority PD's call is not an inversion, and must not pay for it.
//! The server keeps its own priority (the ceiling: above every caller's, by
//! the boot checks), exactly as if the lender's own call were running.
//!
//! Invariants:
//! - Time is charged to the running SC (`running_sc`) only; a lent SC is
//!   charged like any other, so the lender pays for the time it lends.
//! - The time the running PD spends on a lent SC is also added to the
//!   home SC's `debt` (`Scheduler::debtor` names it), and a refill repays
//!   debt first: over time a PD gets no more server time than its budget,
//!   however often it is helped. A PD with `budget == period` is never
//!   depleted, so it is never helped and never owes.
//! - A loan is for one thread and one call: it ends when the server
//!   replies or abandons the call (the SC is set afresh), and it is revoked
//!   (`Kernel::loan_debtor`) when the borrower is next dispatched once no
//!   caller on the SC waits in the chain any more (stopped, faulted or
//!   restarted). While the borrower runs, nothing else can change that:
//!   every kernel entry ends in a dispatch, which re-checks (below).
//! - While any time is charged to a debtor, `timer_dirty` stays set, so
//!   every dispatch re-checks the loan and re-charges: the debtor never
//!   goes stale when the same SC goes on running a call of its own.
//!
//! A PPC fast path that skips `schedule`/`dispatch` must not run while
//! `sched.debtor != NONE` (a loan is being charged), nor hand a call to,
//! or reply into, a PD whose SC is depleted; the slow path handles both.

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

/// Most pending refills of one SC. When full, a new chunk is merged into
/// the last refill, which then comes due at the later of the two times:
/// budget may come back later than one period after use (the SC gets less
/// than its budget in some window), never earlier.
const MAX_REFILLS: usize = 8;

/// The budget an SC has consumed and not yet got back: `(due, amount)`
/// pairs in due order, a ring buffer. Invariant: `Sc::remaining` plus the
/// amounts here is `Sc::budget`.
#[derive(Clone, Copy, Debug)]
pub struct Refills {
    due: [u64; MAX_REFILLS],
    amount: [u64; MAX_REFILLS],
    head: u8,
    len: u8,
}

impl Refills {
    const EMPTY: Refills = Refills {
        due: [0; MAX_REFILLS],
        amount: [0; MAX_REFILLS],
        head: 0,
        len: 0,
    };

    fn slot(&self, i: usize) -> usize {
        (self.head as usize + i) % MAX_REFILLS
    }

    /// When the first refill comes due (`u64::MAX`: none pending).
    fn next_due(&self) -> u64 {
        if self.len == 0 {
            u64::MAX
        } else {
            self.due[self.head as usize]
        }
    }

    /// Return `amount` at `due` (no earlier than every pending refill).
    fn push(&mut self, due: u64, amount: u64) {
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
    fn take_due(&mut self, now: u64) -> u64 {
        let mut total = 0;
        while self.len > 0 && self.due[self.head as usize] <= now {
            total += self.amount[self.head as usize];
            self.head = ((self.head as usize + 1) % MAX_REFILLS) as u8;
            self.len -= 1;
        }
        total
    }
}

/// A scheduling context, in TSC ticks.
#[derive(Clone, Copy, Debug)]
pub struct Sc {
    /// Budget per period.
    pub budget: u64,
    /// Period.
    pub period: u64,
    /// Budget available now.
    pub remaining: u64,
    /// When the next refill comes due (`u64::MAX`: none pending).
    pub replenish_at: u64,
    /// Time lent to this SC's calls by other SCs (bandwidth inheritance),
    /// repaid from its next refills.
    pub debt: u64,
    /// Consumed budget not yet returned.
    pub refills: Refills,
}

/// Run queues, scheduling contexts and the preemption timer.
#[repr(C)]
pub struct Scheduler {
    bitmap: [u64; 4],
    depleted: u64,
    running_sc: Option<u8>,
    /// The SC that owes the running SC's time: the home SC of a call that
    /// runs on a lent SC (`NONE` if none).
    debtor: u8,
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
                debt: 0,
                refills: Refills::EMPTY,
            }; MAX_PDS],
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

    /// Record the calibrated clock rates.
    pub fn set_clock(&mut self, tsc_per_ms: u64, lapic_per_ms: u64) {
        self.tsc_per_ms = tsc_per_ms.max(1);
        self.lapic_per_ms = lapic_per_ms.max(1);
    }

    /// Microseconds to TSC ticks.
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
        self.sc_eligible(self.thread_sc[pd])
    }

    fn sc_eligible(&self, sc: u8) -> bool {
        self.depleted & (1 << sc) == 0
    }

    /// Give SC `sc` back the budget due at `now`: all of it if the SC is
    /// never throttled (budget = period), else every refill due, less what
    /// it owes for time lent to its calls (bandwidth inheritance). A repaid
    /// amount counts as consumed now and comes back one period later, so
    /// the SC's budget in flight (remaining plus pending refills) stays its
    /// budget: debt delays budget, it never destroys it.
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
    fn consumed(&mut self, sc: usize, start: u64, amount: u64) {
        let s = &mut self.scs[sc];
        if s.budget == s.period || amount == 0 {
            return;
        }
        s.refills.push(start.saturating_add(s.period), amount);
        s.replenish_at = s.refills.next_due();
    }

    /// Charge the running SC up to `now`. Returns true if it is used up.
    #[link_section = ".text.hot"]
    fn charge(&mut self, now: u64) -> bool {
        let Some(sc) = self.running_sc else {
            return false;
        };
        let start = self.slice_start;
        let used = now.saturating_sub(start);
        self.slice_start = now;
        if self.debtor != NONE {
            // Lent time: the lender pays now, the call's home SC later.
            let d = &mut self.scs[self.debtor as usize];
            d.debt = d.debt.saturating_add(used);
        }
        let s = &mut self.scs[sc as usize];
        let before = s.remaining;
        s.remaining = before.saturating_sub(used);
        let charged = before - s.remaining;
        self.consumed(sc as usize, start, charged);
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

    /// Switch the running SC to `next` at `now`, its time owed by
    /// `debtor` (`NONE`: by nobody), and re-arm the timer.
    #[link_section = ".text.hot"]
    fn switch_sc(&mut self, next: Option<u8>, debtor: u8, now: u64) {
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
            Some(c) => match self.best_above(Some(self.tcbs[c].priority)) {
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
                self.best_above(None)
            }
        };
        if let Some(n) = next {
            self.sched.remove(n);
        }
        self.dispatch(next)
    }

    /// The first eligible ready PD of priority above `floor` (all if
    /// `None`), highest priority first. A passive server stalled mid-call
    /// on a depleted SC counts as eligible if it can borrow one (`lend`).
    #[link_section = ".text.hot"]
    fn best_above(&mut self, floor: Option<u8>) -> Option<PdId> {
        for word in (0..4).rev() {
            let mut bits = self.sched.bitmap[word];
            while bits != 0 {
                let bit = 63 - bits.leading_zeros() as usize;
                bits &= !(1 << bit);
                let prio = word * 64 + bit;
                if floor.is_some_and(|f| prio <= f as usize) {
                    return None;
                }
                let mut pd = self.sched.ready[prio].head;
                while pd != NONE {
                    if self.sched.eligible(pd as usize) || self.lend(pd as usize) {
                        return Some(pd as usize);
                    }
                    pd = self.sched.links[pd as usize].next;
                }
            }
        }
        None
    }

    /// The home SC of the call `pd` runs: up the chain of passive servers
    /// serving calls to the first PD that is not one (the root caller),
    /// whose own SC it is. For any other PD, its own SC. Without loans,
    /// `thread_sc[pd] == home_sc(pd)` for every PD (`start_call` copies the
    /// caller's SC down the chain).
    fn home_sc(&self, pd: PdId) -> u8 {
        let mut x = pd;
        // A chain has fewer than MAX_PDS links (priorities strictly rise
        // along it); the bound only guards against a kernel bug.
        for _ in 0..MAX_PDS {
            match self.tcbs[x].reply_to {
                Some(caller) if self.tcbs[x].passive_now() => x = caller,
                _ => break,
            }
        }
        x as u8
    }

    /// The next PD up the chain of `x` that serves the same call: its
    /// caller, if `x` is a passive server serving a call and that caller is
    /// one too.
    fn chain_up(&self, x: PdId) -> Option<PdId> {
        let caller = self.tcbs[x]
            .reply_to
            .filter(|_| self.tcbs[x].passive_now())?;
        let c = &self.tcbs[caller];
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
    fn lend(&mut self, pd: PdId) -> bool {
        if !self.tcbs[pd].passive_now() || self.tcbs[pd].reply_to.is_none() {
            return false;
        }
        let home = self.home_sc(pd);
        let sc = if self.sched.sc_eligible(home) {
            Some(home)
        } else {
            let floor = self.tcbs[home as usize].priority;
            let mut x = Some(pd);
            let mut found = None;
            for _ in 0..MAX_PDS {
                let Some(server) = x else { break };
                found = self.queued_lender(server, floor);
                if found.is_some() {
                    break;
                }
                x = self.chain_up(server);
            }
            found
        };
        let Some(sc) = sc else {
            return false;
        };
        self.sched.thread_sc[pd] = sc;
        self.sched.timer_dirty = true;
        true
    }

    /// The SC of the first caller queued on `server` with a priority above
    /// `floor` and an eligible SC (the queue is in priority order).
    fn queued_lender(&self, server: PdId, floor: u8) -> Option<u8> {
        let mut c = self.sched.callers[server].head;
        while c != NONE && self.tcbs[c as usize].priority > floor {
            let sc = self.sched.thread_sc[c as usize];
            if self.sched.sc_eligible(sc) {
                return Some(sc);
            }
            c = self.sched.links[c as usize].next;
        }
        None
    }

    /// About to run `n` on an SC not its own: if that SC is lent, return
    /// the home SC that owes the time. A loan whose lender no longer waits
    /// in `n`'s chain (it was stopped, faulted or restarted, or its call
    /// failed) is revoked: `n` goes back to its home SC (if that is
    /// depleted, the timer fires at once and `lend` looks again).
    #[cold]
    #[inline(never)]
    fn loan_debtor(&mut self, n: PdId) -> u8 {
        let home = self.home_sc(n);
        let sc = self.sched.thread_sc[n];
        if sc == home {
            return NONE;
        }
        let mut x = Some(n);
        for _ in 0..MAX_PDS {
            let Some(server) = x else { break };
            let mut c = self.sched.callers[server].head;
            while c != NONE {
                if self.sched.thread_sc[c as usize] == sc {
                    return home;
                }
                c = self.sched.links[c as usize].next;
            }
            x = self.chain_up(server);
        }
        self.sched.thread_sc[n] = home;
        NONE
    }

    #[link_section = ".text.hot"]
    pub(crate) fn dispatch(&mut self, next: Option<PdId>) -> *const UserRegs {
        let mut sc = next.map(|n| self.sched.thread_sc[n]);
        if sc != self.sched.running_sc || self.sched.timer_dirty {
            let debtor = match next {
                Some(n) if sc != Some(n as u8) => self.loan_debtor(n),
                _ => NONE,
            };
            sc = next.map(|n| self.sched.thread_sc[n]);
            self.sched.switch_sc(sc, debtor, arch::rdtsc());
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
