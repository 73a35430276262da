//! The "signal only when asked" protocol.
//!
//! Notifications (kernel signals between PDs) are expensive, so a side
//! notifies its peer only when the peer asked for it, through a flag in the
//! queue's shared header. The side that may go to sleep waiting is the
//! *waiter*; the other side is the *notifier*.
//!
//! | queue | waiter | flag | API (waiter) | API (notifier) |
//! |---|---|---|---|---|
//! | network, block | consumer (waits for entries) | `consumer_signalled` | [`Consumer::request_signal`], [`Consumer::rearm`] | [`Producer::signal_required`], [`Producer::take_signal_request`] |
//! | serial | producer (waits for space) | `producer_signalled` | [`Producer::request_space_signal`], [`Producer::rearm_for_space`] | [`Consumer::space_signal_required`], [`Consumer::take_space_signal_request`] |
//!
//! (On serial queues the producer always notifies the consumer, as in sDDF.)
//!
//! The flag value 0 means "a signal is requested"; any other value means "no
//! signal requested" (sDDF's name for it is "signalled"). Zeroed shared memory
//! therefore starts with a request pending, so the first batch always
//! notifies.
//!
//! # The protocol
//!
//! **Waiter**, in its notification handler (and once at start-up):
//!
//! 1. *Process*: take entries out (or put them in) until there are no more.
//! 2. *Re-arm*: request a signal (store 0 into the flag).
//! 3. *Fence*: `fence(SeqCst)`.
//! 4. *Check again*: reload the peer's index. If work arrived (entries for a
//!    consumer, space for a producer), cancel the request (store 1) and go
//!    back to 1. Otherwise return and wait for a notification.
//!
//! Steps 2–4 are one call: [`Consumer::rearm`] or
//! [`Producer::rearm_for_space`], returning `true` for "go back to 1":
//!
//! ```
//! # use sddf::net::{BufferDesc, NetQueueMemory};
//! # let mem = NetQueueMemory::<4>::new();
//! # let (mut tx, mut rx) = mem.split(4).unwrap();
//! # tx.enqueue(BufferDesc { io_or_offset: 0, len: 60 }).unwrap();
//! // Consumer's `notified` handler:
//! loop {
//!     while let Ok(desc) = rx.dequeue() {
//!         // ... process `desc` ...
//!     }
//!     if !rx.rearm() {
//!         break; // safe to sleep: the producer will signal
//!     }
//! }
//! ```
//!
//! **Notifier**, after each batch (entries put in, or space freed, and the
//! index published with its Release store):
//!
//! 1. *Fence*: `fence(SeqCst)`.
//! 2. *Check*: load the flag. If a signal is requested, clear the request
//!    (store 1) and notify the peer.
//!
//! Both steps are one call, [`Producer::take_signal_request`] (or
//! [`Consumer::take_space_signal_request`]):
//!
//! ```
//! # use sddf::net::{BufferDesc, NetQueueMemory};
//! # let mem = NetQueueMemory::<4>::new();
//! # let (mut tx, _rx) = mem.split(4).unwrap();
//! # fn notify_consumer() {}
//! tx.enqueue(BufferDesc { io_or_offset: 0, len: 60 }).unwrap();
//! if tx.take_signal_request() {
//!     notify_consumer(); // e.g. microkit_notify(channel)
//! }
//! ```
//!
//! # Why the re-check, and why a *full* fence
//!
//! Each side does "store my variable, then load the other's": the waiter
//! stores the flag then loads the index; the notifier stores the index then
//! loads the flag. This is the store-buffering (Dekker) pattern. A lost
//! wake-up is the outcome where *both* loads miss the other's store: the
//! waiter sees no work and sleeps, the notifier sees no request and does not
//! notify, and the work sits in the queue forever.
//!
//! * Without step 4 (no re-check) the waiter never loads the index after
//!   requesting, so nothing stops the notifier's whole batch from happening
//!   between the waiter's last look at the queue and its request; the
//!   notifier checks the flag before the request lands, and the wake-up is
//!   lost. (`tests/loom.rs` has this broken variant; loom finds the
//!   deadlock.)
//! * With the re-check but only acquire/release ordering it can still happen:
//!   release orders *earlier* accesses before a store and acquire orders
//!   *later* accesses after a load, but neither orders a store before a
//!   *later load of a different location*. Real hardware reorders exactly
//!   that (store buffers: even x86-TSO allows store→load reordering), so each
//!   side's load can be satisfied before its own store is visible to the
//!   other. Only a sequentially consistent fence between the store and the
//!   load on *both* sides forbids it (`mfence` on x86, `dmb ish` on Arm): the
//!   two fences are totally ordered, and the side whose fence comes second
//!   must see the other side's store. So at least one of "the waiter sees the
//!   work" and "the notifier sees the request" holds. Both may hold, which
//!   costs a spurious notification and nothing else. (`tests/loom.rs` also
//!   has this fence-less variant; loom finds that lost wake-up too.)
//!
//! The notifier's clear-then-notify may overwrite a request the waiter made
//! after the notifier loaded the flag; that is harmless because the
//! notification that follows the clear always wakes the waiter, which then
//! re-runs the whole protocol.
//!
//! # Invariants
//!
//! The flag is written by both sides and trusted by neither for safety: a
//! peer that corrupts it can only cause spurious notifications or fail to get
//! its own. It never affects memory safety or bounds on this side.
//!
//! [`Consumer::request_signal`]: crate::ring::Consumer::request_signal
//! [`Consumer::rearm`]: crate::ring::Consumer::rearm
//! [`Producer::signal_required`]: crate::ring::Producer::signal_required
//! [`Producer::take_signal_request`]: crate::ring::Producer::take_signal_request
//! [`Producer::request_space_signal`]: crate::ring::Producer::request_space_signal
//! [`Producer::rearm_for_space`]: crate::ring::Producer::rearm_for_space
//! [`Consumer::space_signal_required`]: crate::ring::Consumer::space_signal_required
//! [`Consumer::take_space_signal_request`]: crate::ring::Consumer::take_space_signal_request

use crate::sync::{fence, AtomicU32, Ordering};

/// Flag value: the waiter asks for a signal.
pub const REQUESTED: u32 = 0;
/// Flag value: no signal requested (sDDF: "signalled"). Any non-zero value
/// reads as this.
pub const NOT_REQUESTED: u32 = 1;

/// The store→load barrier of the protocol.
pub(crate) fn full_fence() {
    fence(Ordering::SeqCst);
}

/// Waiter: request a signal. The fence and re-check follow in the caller.
pub(crate) fn request(flag: &AtomicU32) {
    flag.store(REQUESTED, Ordering::Relaxed);
}

/// Waiter: withdraw a request.
pub(crate) fn cancel(flag: &AtomicU32) {
    flag.store(NOT_REQUESTED, Ordering::Relaxed);
}

/// Notifier: whether a signal is requested (after the caller's fence).
pub(crate) fn is_requested(flag: &AtomicU32) -> bool {
    flag.load(Ordering::Relaxed) == REQUESTED
}

/// Notifier: if a signal is requested, clear the request and return `true`
/// (after the caller's fence).
pub(crate) fn take(flag: &AtomicU32) -> bool {
    if is_requested(flag) {
        flag.store(NOT_REQUESTED, Ordering::Relaxed);
        true
    } else {
        false
    }
}
