//! Mantle's driver-framework queues: bounded, lock-free, single-producer
//! single-consumer queues in memory shared between two protection domains
//! (PDs), with the shapes of seL4's sDDF, and the "signal only when asked"
//! protocol.
//!
//! * [`ring`]: the generic queue ([`ring::Producer`], [`ring::Consumer`],
//!   [`ring::QueueMemory`]) and its invariants.
//! * [`signal`]: the signalling protocol, and why it needs a full fence.
//! * [`net`]: free/active queues of buffer descriptors, descriptor
//!   validation ([`net::BufferRegion`]) and buffer ownership
//!   ([`net::Ownership`], [`net::NetBuffers`]).
//! * [`serial`]: a byte ring over a separate data region.
//! * [`blk`]: request and response queues, opcodes, statuses, and the
//!   storage-info page.
//! * [`word`]: 64-bit values between two PDs of one system (samples,
//!   events) in one region.
//!
//! # Design principles
//!
//! 1. **The peer is not trusted.** Everything in shared memory may be written
//!    by the other PD at any moment with any value. A faulty or hostile peer
//!    can deny *its own* service, never break this side: no access outside
//!    this side's regions, no unbounded loop, no panic, no undefined
//!    behaviour. Bad indices make an operation fail with `Corrupt` and are
//!    counted; bad entries are refused by validators and counted. (sDDF does
//!    not survive a bad peer; this crate must.)
//! 2. **Private state is authoritative.** The capacity, this side's own
//!    index and the last validated peer index live in the private handle.
//!    Nothing that shapes a memory access (capacity, mask, slot index) is
//!    ever read from shared memory.
//! 3. **Shared memory is only touched through atomics.** Headers and slots
//!    are `#[repr(C)]` structs of atomics with sDDF's C layouts, so no Rust
//!    reference to non-atomic data the peer may write ever exists. Indices
//!    use Acquire loads of the peer's index and Release stores of one's own;
//!    slot contents are relaxed and ordered by the indices; the signalling
//!    protocol adds `SeqCst` fences where it needs store→load ordering.
//! 4. **Copy, then validate, then use.** An entry is read once into a
//!    private copy; validation runs on the copy, so the peer cannot change
//!    an entry after it was checked.
//! 5. **Ownership moves with the index.** Putting an entry in hands what it
//!    names over at the Release store of `tail`; a buffer is in at most one
//!    queue at a time, and [`net::Ownership`] detects a peer breaking that.
//! 6. **Minimal `unsafe`.** The only `unsafe` is in the `from_raw`
//!    constructors that turn mapped addresses into references; everything
//!    else, including the host-test constructors, is safe code.
//! 7. **`no_std`, no allocation, bounded work.** Every call is O(1) or
//!    bounded by the caller's slice and the capacity.
//! 8. **Checked, not assumed.** The signalling protocol is model-checked with
//!    loom (`tests/loom.rs`, including broken variants loom must catch), the
//!    trust model is exercised by property tests with an adversarial peer
//!    (`tests/adversary.rs`).
//!
//! # Trust model
//!
//! Each queue is shared by exactly two PDs, one producer and one consumer,
//! each holding a private handle. The system builder maps the queue regions
//! and gives both sides the same capacity in their configuration; a PD
//! trusts its own configuration and the kernel, and nothing its peer writes.
//! See the `# Invariants` sections of [`ring`], [`signal`], [`net`],
//! [`serial`] and [`blk`] for what each side guarantees.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod blk;
pub mod net;
pub mod ring;
pub mod serial;
pub mod signal;
pub mod sync;
pub mod word;

pub use ring::{
    CheckedError, Consumer, Corrupt, DequeueError, EnqueueError, Producer, QueueMemory, SetupError,
    Stats,
};
