//! Events received during [`crate::wait_notified`] that the event loop
//! delivers afterwards, and the runtime's other per-PD state (pure logic,
//! tested on the host).
//!
//! While a PD waits for one channel, `RECV` may hand it other events. The
//! ones that can wait are kept here:
//! - **notifications**: one bit per channel, so a channel notified several
//!   times before delivery is delivered once (as the kernel coalesces
//!   notifications before the PD runs);
//! - **child faults**: one record per child id, holding the fault's
//!   [`MessageInfo`] and its [`FAULT_MR_COUNT`] message registers, because
//!   later `RECV`s overwrite the IPC buffer.
//!
//! [`Stash::pop`] gives them back in delivery order: faults first, lowest
//! child id first (the kernel's own order: faults before notifications),
//! then notifications, lowest channel id first; each exactly once.

use crate::channel::Channel;
use crate::child::Child;
use core::cell::Cell;
use mantle_abi::fault::FAULT_MR_COUNT;
use mantle_abi::ipc::MessageInfo;
use mantle_abi::limits::{MAX_CHILD_IDS, MAX_MESSAGE_REGISTERS};

/// A child fault saved for later delivery: the message info and the
/// fault message registers, as the kernel wrote them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StashedFault {
    /// The fault message's info (label = fault kind).
    pub info: MessageInfo,
    /// Message registers `0..FAULT_MR_COUNT` of the fault message.
    pub regs: [u64; FAULT_MR_COUNT],
}

impl StashedFault {
    const EMPTY: StashedFault = StashedFault {
        info: MessageInfo::new(0, 0),
        regs: [0; FAULT_MR_COUNT],
    };
}

/// One stashed event, as [`Stash::pop`] returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Child `.0` faulted; its record is [`Stash::fault_record`].
    Fault(Child),
    /// Channel `.0` was notified.
    Notified(Channel),
}

/// What [`Stash::add_fault`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultStashed {
    /// Stashed.
    Stored,
    /// The child already had an undelivered fault (it was restarted or
    /// resumed meanwhile and faulted again); the newer fault replaced it.
    Replaced,
    /// The child id is out of range (a kernel bug); nothing was stored.
    BadChild,
}

/// Undelivered notifications and child faults.
///
/// Every field is a [`Cell`] (plain loads and stores, nothing borrowed), so
/// the stash can be shared by the event loop and a wait without any
/// borrow bookkeeping, and a handler called between two operations cannot
/// invalidate anything.
pub(crate) struct Stash {
    /// Bit `i`: channel `i` was notified.
    notified: Cell<u64>,
    /// Bit `i`: `faults[i]` holds child `i`'s undelivered fault.
    faulted: Cell<u64>,
    faults: [Cell<StashedFault>; MAX_CHILD_IDS],
}

const _: () = assert!(MAX_CHILD_IDS <= 64);

impl Stash {
    /// Empty.
    pub const fn new() -> Self {
        Stash {
            notified: Cell::new(0),
            faulted: Cell::new(0),
            faults: [const { Cell::new(StashedFault::EMPTY) }; MAX_CHILD_IDS],
        }
    }

    /// Forget everything.
    pub fn clear(&self) {
        self.notified.set(0);
        self.faulted.set(0);
    }

    /// Whether nothing is stashed.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.notified.get() == 0 && self.faulted.get() == 0
    }

    /// Stash notification bits (`mask`, bit `i` = channel `i`). A bit
    /// already stashed stays one bit: it will be delivered once.
    #[inline]
    pub fn add_notified(&self, mask: u64) {
        self.notified.set(self.notified.get() | mask);
    }

    /// If `ch`'s notification is stashed, remove it (it will not be
    /// delivered) and return `true`.
    pub fn take_notified(&self, ch: Channel) -> bool {
        let i = ch.index();
        let n = self.notified.get();
        if i >= 64 || n & (1 << i) == 0 {
            return false;
        }
        self.notified.set(n & !(1 << i));
        true
    }

    /// Stash child `child`'s fault: its message info and registers.
    pub fn add_fault(&self, child: Child, fault: StashedFault) -> FaultStashed {
        let i = child.index();
        if i >= MAX_CHILD_IDS {
            return FaultStashed::BadChild;
        }
        let f = self.faulted.get();
        self.faulted.set(f | 1 << i);
        self.faults[i].set(fault);
        if f & (1 << i) != 0 {
            FaultStashed::Replaced
        } else {
            FaultStashed::Stored
        }
    }

    /// The record of child `child`'s fault, once [`pop`](Self::pop) has
    /// returned it (and until that child's next fault is stashed).
    pub fn fault_record(&self, child: Child) -> StashedFault {
        self.faults
            .get(child.index())
            .map_or(StashedFault::EMPTY, Cell::get)
    }

    /// Take the next event in delivery order: the fault of the lowest child
    /// id, else the notification of the lowest channel id.
    #[inline]
    pub fn pop(&self) -> Option<Pending> {
        let f = self.faulted.get();
        if f != 0 {
            let i = f.trailing_zeros() as usize;
            self.faulted.set(f & (f - 1));
            return Some(Pending::Fault(Child::new(i)));
        }
        let n = self.notified.get();
        if n != 0 {
            let i = n.trailing_zeros() as usize;
            self.notified.set(n & (n - 1));
            return Some(Pending::Notified(Channel::new(i)));
        }
        None
    }
}

/// A popped event with its fault record (for tests).
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Popped {
    Fault(Child, StashedFault),
    Notified(Channel),
}

#[cfg(test)]
impl Stash {
    /// [`Stash::pop`], with the fault record.
    pub fn pop_full(&self) -> Option<Popped> {
        Some(match self.pop()? {
            Pending::Fault(c) => Popped::Fault(c, self.fault_record(c)),
            Pending::Notified(ch) => Popped::Notified(ch),
        })
    }
}

/// The runtime's mutable per-PD state. All of it is in [`Cell`]s.
pub(crate) struct RtState {
    /// Events for the event loop to deliver.
    pub stash: Stash,
    /// Set while [`crate::Handler::protected`] runs: a protected call is
    /// being served, so waiting (a `RECV`) would abandon it.
    serving: Cell<bool>,
    /// The message registers as they were when the current wait began.
    saved_mrs: [Cell<u64>; MAX_MESSAGE_REGISTERS],
}

// SAFETY: a PD has exactly one thread of execution and no interrupt or
// signal handlers, so the state is never accessed concurrently. (Host
// tests only use states they own, never the runtime's static.)
unsafe impl Sync for RtState {}

impl RtState {
    /// The state of a freshly started PD.
    pub const fn new() -> Self {
        RtState {
            stash: Stash::new(),
            serving: Cell::new(false),
            saved_mrs: [const { Cell::new(0) }; MAX_MESSAGE_REGISTERS],
        }
    }

    /// Back to a fresh state (a restarted PD keeps its data).
    pub fn reset(&self) {
        self.stash.clear();
        self.serving.set(false);
    }

    /// Whether a protected call is being served.
    #[inline]
    pub fn serving(&self) -> bool {
        self.serving.get()
    }

    /// Mark the start (`true`) or end of `protected`.
    #[inline]
    pub fn set_serving(&self, serving: bool) {
        self.serving.set(serving);
    }

    /// Save message register `i` (its value `v`) for the current wait.
    pub fn save_mr(&self, i: usize, v: u64) {
        self.saved_mrs[i].set(v);
    }

    /// Message register `i` as saved by [`save_mr`](Self::save_mr).
    pub fn saved_mr(&self, i: usize) -> u64 {
        self.saved_mrs[i].get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn fault(tag: u64) -> StashedFault {
        StashedFault {
            info: MessageInfo::new(14, FAULT_MR_COUNT),
            regs: [tag, tag + 1, tag + 2, tag + 3],
        }
    }

    fn drain(s: &Stash) -> Vec<Popped> {
        core::iter::from_fn(|| s.pop_full()).collect()
    }

    #[test]
    fn notifications_coalesce_and_come_out_lowest_first_once() {
        let s = Stash::new();
        assert!(s.is_empty());
        s.add_notified(1 << 5 | 1 << 2);
        s.add_notified(1 << 5);
        s.add_notified(1 << 61 | 1);
        assert_eq!(
            drain(&s),
            [0, 2, 5, 61].map(|i| Popped::Notified(Channel::new(i)))
        );
        assert!(s.is_empty());
        assert_eq!(s.pop_full(), None);
    }

    #[test]
    fn faults_come_first_with_their_registers() {
        let s = Stash::new();
        s.add_notified(1);
        assert_eq!(s.add_fault(Child::new(7), fault(70)), FaultStashed::Stored);
        assert_eq!(s.add_fault(Child::new(3), fault(30)), FaultStashed::Stored);
        assert_eq!(
            drain(&s),
            [
                Popped::Fault(Child::new(3), fault(30)),
                Popped::Fault(Child::new(7), fault(70)),
                Popped::Notified(Channel::new(0)),
            ]
        );
    }

    #[test]
    fn a_second_fault_of_one_child_replaces_the_first() {
        let s = Stash::new();
        assert_eq!(s.add_fault(Child::new(0), fault(1)), FaultStashed::Stored);
        assert_eq!(s.add_fault(Child::new(0), fault(9)), FaultStashed::Replaced);
        assert_eq!(
            s.add_fault(Child::new(MAX_CHILD_IDS), fault(5)),
            FaultStashed::BadChild
        );
        assert_eq!(drain(&s), [Popped::Fault(Child::new(0), fault(9))]);
    }

    #[test]
    fn take_notified_consumes_one_channel() {
        let s = Stash::new();
        s.add_notified(0b1010);
        assert!(s.take_notified(Channel::new(3)));
        assert!(!s.take_notified(Channel::new(3)));
        assert!(!s.take_notified(Channel::new(0)));
        assert!(!s.take_notified(Channel::new(1000)));
        assert_eq!(drain(&s), [Popped::Notified(Channel::new(1))]);
    }

    #[test]
    fn new_events_stashed_between_pops_keep_the_order() {
        // A handler that waits while the loop is delivering adds events;
        // they are delivered in order with the rest, each once.
        let s = Stash::new();
        s.add_notified(0b1110);
        assert_eq!(s.pop_full(), Some(Popped::Notified(Channel::new(1))));
        s.add_notified(0b1001); // channel 3 again, and channel 0
        assert_eq!(s.add_fault(Child::new(2), fault(2)), FaultStashed::Stored);
        assert_eq!(
            drain(&s),
            [
                Popped::Fault(Child::new(2), fault(2)),
                Popped::Notified(Channel::new(0)),
                Popped::Notified(Channel::new(2)),
                Popped::Notified(Channel::new(3)),
            ]
        );
    }

    #[test]
    fn state_resets() {
        let st = RtState::new();
        st.set_serving(true);
        st.stash.add_notified(4);
        st.stash.add_fault(Child::new(1), fault(1));
        st.save_mr(3, 7);
        assert_eq!(st.saved_mr(3), 7);
        st.reset();
        assert!(!st.serving());
        assert!(st.stash.is_empty());
        assert_eq!(st.stash.pop(), None);
    }
}
