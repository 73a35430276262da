//! Channels: notifications, IRQ acknowledgements and protected calls.

use crate::error::Error;
use crate::raw;
use core::cell::Cell;
use core::fmt;
pub use mantle_abi::ipc::MessageInfo;
use mantle_abi::limits::MAX_IDS;
use mantle_abi::syscall;

/// A channel (or IRQ) id of this PD, as given by the SDF (`<end id=..>` or
/// `<irq id=..>`), in `0..62`.
///
/// `Channel::new` accepts any number: whether the id is granted, and with
/// which rights, is checked by the kernel, and a refusal comes back as an
/// error naming the channel and the reason: [`Error::NoSuchChannel`] (no
/// such id), [`Error::NotifyNotPermitted`] / [`Error::PpcallNotPermitted`]
/// (this end lacks the right), [`Error::NotAChannel`] /
/// [`Error::NotAnIrq`] (the id is of the other kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(usize);

impl Channel {
    /// The channel with SDF id `id`.
    pub const fn new(id: usize) -> Self {
        Channel(id)
    }

    /// The SDF id.
    pub const fn index(self) -> usize {
        self.0
    }

    /// Signal the other end (`NOTIFY`).
    #[link_section = ".text.mantle_hot"]
    pub fn notify(self) -> Result<(), Error> {
        Error::check_channel(raw::syscall2(syscall::NOTIFY, self.0 as u64, 0).rax, self)
    }

    /// Acknowledge the IRQ delivered on this channel, unmasking it (`IRQ_ACK`).
    pub fn irq_ack(self) -> Result<(), Error> {
        Error::check_channel(
            raw::syscall(syscall::IRQ_ACK, self.0 as u64, 0, 0, 0).rax,
            self,
        )
    }

    /// Protected procedure call to the other end, which must have strictly
    /// higher priority and this end `pp="true"`. Set the first
    /// `msg.count()` message registers with [`crate::mr_set`] first; the
    /// reply's registers are in the IPC buffer afterwards ([`crate::mr_get`]).
    #[link_section = ".text.mantle_hot"]
    pub fn ppcall(self, msg: MessageInfo) -> Result<MessageInfo, Error> {
        let r = raw::syscall2(syscall::PPCALL, self.0 as u64, msg.raw());
        Error::check_channel(r.rax, self)?;
        MessageInfo::from_raw(r.rsi).ok_or(Error::Unknown(r.rsi))
    }

    /// Notify the other end when this PD next waits (the `RECV` carries the
    /// notify as its action, saving a kernel entry).
    ///
    /// At most one deferred action is pending, as in libmicrokit. If one is
    /// already pending, it is performed at once with a real syscall (so no
    /// request is ever lost) and its error, if any, is returned; this one
    /// becomes the pending action. Ids outside `0..62` are rejected here with
    /// [`Error::NoSuchChannel`]; whether the id is granted is checked by the
    /// kernel when the action runs, and a failure is then printed by the
    /// event loop.
    pub fn deferred_notify(self) -> Result<(), Error> {
        defer(Deferred::Notify(self))
    }

    /// Acknowledge this IRQ when the PD next waits. Same rules as
    /// [`Channel::deferred_notify`].
    pub fn deferred_irq_ack(self) -> Result<(), Error> {
        defer(Deferred::IrqAck(self))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A deferred action, performed by the next `RECV`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deferred {
    Notify(Channel),
    IrqAck(Channel),
}

impl Deferred {
    /// `(action, argument)` for `RECV`.
    pub(crate) fn action(self) -> (u64, u64) {
        match self {
            Deferred::Notify(c) => (syscall::ACTION_NOTIFY, c.0 as u64),
            Deferred::IrqAck(c) => (syscall::ACTION_IRQ_ACK, c.0 as u64),
        }
    }

    /// Perform the action now with its own syscall.
    pub(crate) fn run_now(self) -> Result<(), Error> {
        match self {
            Deferred::Notify(c) => c.notify(),
            Deferred::IrqAck(c) => c.irq_ack(),
        }
    }
}

/// The pending deferred action. A PD is single-threaded and the runtime never
/// re-enters user code, so a `Cell` suffices.
pub(crate) struct DeferredSlot(Cell<Option<Deferred>>);

// SAFETY: a PD has exactly one thread of execution and no interrupt
// handlers, so the slot is never accessed concurrently.
unsafe impl Sync for DeferredSlot {}

pub(crate) static DEFERRED: DeferredSlot = DeferredSlot(Cell::new(None));

impl DeferredSlot {
    /// Take the pending action. The event loop calls this on every turn:
    /// with none pending (the common case) it only reads.
    #[inline(always)]
    pub(crate) fn take(&self) -> Option<Deferred> {
        let d = self.0.get();
        if d.is_some() {
            self.0.set(None);
        }
        d
    }
    pub(crate) fn clear(&self) {
        self.0.set(None);
    }
    fn replace(&self, d: Deferred) -> Option<Deferred> {
        self.0.replace(Some(d))
    }
}

fn defer(d: Deferred) -> Result<(), Error> {
    let (Deferred::Notify(c) | Deferred::IrqAck(c)) = d;
    if c.0 >= MAX_IDS {
        return Err(Error::NoSuchChannel(c));
    }
    match DEFERRED.replace(d) {
        Some(previous) => previous.run_now(),
        None => Ok(()),
    }
}

/// The set of channels in a notification mask, iterated lowest id first (the
/// order in which the event loop calls `notified`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSet(u64);

impl ChannelSet {
    /// The set whose bit `i` stands for channel `i`.
    pub const fn from_mask(mask: u64) -> Self {
        ChannelSet(mask)
    }
    /// The mask.
    pub const fn mask(self) -> u64 {
        self.0
    }
    /// Whether `ch` is in the set.
    pub const fn contains(self, ch: Channel) -> bool {
        ch.0 < 64 && self.0 & (1 << ch.0) != 0
    }
}

impl Iterator for ChannelSet {
    type Item = Channel;
    fn next(&mut self) -> Option<Channel> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(Channel(i))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn channel_set_iterates_lowest_first() {
        let ids: Vec<usize> = ChannelSet::from_mask(0b1010_0101 | (1 << 61))
            .map(Channel::index)
            .collect();
        assert_eq!(ids, [0, 2, 5, 7, 61]);
        assert_eq!(ChannelSet::from_mask(0).next(), None);
        assert_eq!(ChannelSet::from_mask(u64::MAX).count(), 64);
        assert!(ChannelSet::from_mask(8).contains(Channel::new(3)));
        assert!(!ChannelSet::from_mask(8).contains(Channel::new(1000)));
    }

    #[test]
    fn deferred_rejects_out_of_range_ids_locally() {
        assert_eq!(
            Channel::new(62).deferred_notify(),
            Err(Error::NoSuchChannel(Channel::new(62)))
        );
        assert_eq!(
            Channel::new(usize::MAX).deferred_irq_ack(),
            Err(Error::NoSuchChannel(Channel::new(usize::MAX)))
        );
        assert_eq!(DEFERRED.take(), None);
        assert_eq!(Channel::new(3).deferred_notify(), Ok(()));
        assert_eq!(
            DEFERRED.take().map(Deferred::action),
            Some((syscall::ACTION_NOTIFY, 3))
        );
    }
}
