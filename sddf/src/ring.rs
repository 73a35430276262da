//! The generic single-producer, single-consumer ring that every queue kind
//! ([`net`](crate::net), [`serial`](crate::serial), [`blk`](crate::blk)) is
//! an instance of.
//!
//! A queue is a shared header (two free-running counters and, for most kinds,
//! a signal flag) plus an array of `capacity` slots, `capacity` a power of two.
//! Entry `i` lives in slot `i & (capacity - 1)`. The producer owns `tail`, the
//! consumer owns `head`; `tail - head` (wrapping, at the counters' width) is
//! the number of entries in the queue.
//!
//! # Memory ordering
//!
//! * The producer writes a slot (relaxed atomic stores), then publishes it with
//!   a **Release** store of `tail`. Putting an entry in hands over whatever it
//!   names (a buffer) at that store.
//! * The consumer reads the peer's `tail` with an **Acquire** load, which makes
//!   the slot contents written before it visible, reads the slot, then frees
//!   it with a **Release** store of `head`, so its reads of the slot happen
//!   before the producer (which loads `head` with **Acquire**) reuses it.
//! * The signal flag has its own protocol, with full fences; see
//!   [`signal`].
//!
//! # Invariants
//!
//! The handles ([`Producer`], [`Consumer`]) are private to one protection
//! domain (PD); the header and slots are shared with a peer PD that may be
//! faulty or hostile. Whatever the peer writes, at any time:
//!
//! * The capacity is taken from the private handle, never from shared memory.
//! * A handle never reads its *own* index back from shared memory after
//!   construction: the authoritative copy is private, so a peer overwriting it
//!   changes nothing on this side (the next publication overwrites it again).
//! * The peer's index is validated on every load against the window it can
//!   legitimately be in: the consumer accepts a `tail` only in
//!   `[last tail seen, head + capacity]`, the producer accepts a `head` only in
//!   `[last head seen, tail]`. Anything else (including `tail - head >
//!   capacity`, or an index moving backwards) is a **corrupt queue**: the
//!   operation returns `Corrupt`, reads or writes nothing, and the handle's
//!   [`Stats::corrupt`] counter goes up. Nothing is poisoned: if the peer
//!   repairs its index, the queue works again.
//! * Slots are only ever indexed with a masked counter into a slice of exactly
//!   `capacity` slots, so no access leaves the queue's own memory.
//! * Every call does O(1) work, or O(n) for the bulk calls with n bounded by
//!   both the caller's slice and the capacity: nothing loops on a value the
//!   peer controls.
//! * Shared memory is only touched through atomics (relaxed for slot
//!   contents, acquire/release for indices), never through plain Rust
//!   references to non-atomic data, so a peer writing concurrently cannot cause
//!   undefined behaviour on this side, only wrong *values*, and every value
//!   the peer can influence is either validated here (indices) or handed to the
//!   caller as an untrusted copy to validate (entries: see
//!   [`Consumer::dequeue_checked`] and the per-kind validators).
//! * A slot is read exactly once per dequeue, into a private copy: validating
//!   that copy cannot be undone by the peer rewriting the slot afterwards.

use core::fmt;
use core::marker::PhantomData;

use crate::signal;
use crate::sync::{AtomicU32, Ordering};

/// A queue's shared header: the two free-running counters.
///
/// Implementations are `#[repr(C)]` structs of atomics laid out as the C
/// headers of sDDF, so the peer may be written in another language.
pub trait RingHeader: Sync {
    /// Mask of the counters' width: `0xffff` for 16-bit counters,
    /// `u32::MAX` for 32-bit ones. Must be `2^k - 1` with `k >= 2`.
    const COUNTER_MASK: u32;

    /// A header with both counters zero and the signal flag (if any) zero.
    fn zeroed() -> Self;
    /// Loads the producer's counter.
    fn load_tail(&self, order: Ordering) -> u32;
    /// Stores the producer's counter (truncated to the counter width).
    fn store_tail(&self, value: u32, order: Ordering);
    /// Loads the consumer's counter.
    fn load_head(&self, order: Ordering) -> u32;
    /// Stores the consumer's counter (truncated to the counter width).
    fn store_head(&self, value: u32, order: Ordering);
}

/// The four counter accessors of a [`RingHeader`] whose `tail` and `head`
/// fields are full-width `AtomicU32`s (block and serial headers); used inside
/// the `impl RingHeader` block.
macro_rules! u32_counters {
    () => {
        fn load_tail(&self, order: Ordering) -> u32 {
            self.tail.load(order)
        }
        fn store_tail(&self, value: u32, order: Ordering) {
            self.tail.store(value, order);
        }
        fn load_head(&self, order: Ordering) -> u32 {
            self.head.load(order)
        }
        fn store_head(&self, value: u32, order: Ordering) {
            self.head.store(value, order);
        }
    };
}
pub(crate) use u32_counters;

/// A header whose flag lets the **consumer** ask the producer for a signal
/// (network and block queues: `consumer_signalled`, 0 = "please signal").
pub trait ConsumerSignalled: RingHeader {
    /// The shared flag.
    fn consumer_signalled(&self) -> &AtomicU32;
}

/// A header whose flag lets the **producer** ask the consumer for a signal
/// when space frees up (serial queues: `producer_signalled`, 0 = "please
/// signal").
pub trait ProducerSignalled: RingHeader {
    /// The shared flag.
    fn producer_signalled(&self) -> &AtomicU32;
}

/// A value carried by a queue, and its shared-memory slot.
///
/// The value type is a plain private copy; the slot type is a `#[repr(C)]`
/// struct of atomics with the C layout. Every bit pattern the peer can write
/// into a slot loads as *some* value of the entry type (entries contain only
/// integers; enumerations are carried raw and parsed by the validators).
pub trait Entry: Copy {
    /// The shared-memory representation.
    type Slot: Sync;
    /// A zeroed slot, for [`QueueMemory`].
    fn zeroed_slot() -> Self::Slot;
    /// Reads a slot (relaxed atomic loads; the index's Acquire orders them).
    fn load(slot: &Self::Slot) -> Self;
    /// Writes a slot (relaxed atomic stores; the index's Release orders them).
    fn store(slot: &Self::Slot, value: Self);
}

/// A queue kind: which header, which entries.
pub trait Layout {
    /// The shared header.
    type Header: RingHeader;
    /// The entries.
    type Entry: Entry;
}

/// The slot type of a layout.
pub type SlotOf<L> = <<L as Layout>::Entry as Entry>::Slot;

/// Why a handle could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The capacity is zero or not a power of two.
    NotPowerOfTwo,
    /// The capacity exceeds half the counters' range, so `tail - head` could
    /// not tell a full queue from an empty one.
    TooLarge,
    /// A pointer is null.
    Null,
    /// A pointer is not aligned for its type.
    Misaligned,
}

/// Why an entry could not be enqueued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnqueueError {
    /// No free slot.
    Full,
    /// The consumer's `head` is outside its legitimate window; nothing was
    /// written. Counted in [`Stats::corrupt`].
    Corrupt,
}

/// Why no entry was dequeued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DequeueError {
    /// No entry available.
    Empty,
    /// The producer's `tail` is outside its legitimate window; nothing was
    /// read. Counted in [`Stats::corrupt`].
    Corrupt,
}

/// The peer's index was outside its legitimate window. Counted in
/// [`Stats::corrupt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// What [`Consumer::dequeue_checked`] returns instead of a valid entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckedError<T, E> {
    /// No entry available.
    Empty,
    /// The queue is corrupt; nothing was read.
    Corrupt,
    /// An entry was dequeued (its slot is free again) but failed validation.
    /// It is returned so the caller can decide what to do (sDDF's virt_tx
    /// hands bad buffers back to the client). Counted in [`Stats::rejected`].
    Rejected {
        /// The entry as read (an untrusted copy).
        entry: T,
        /// Why the validator refused it.
        reason: E,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotPowerOfTwo => "queue capacity is not a power of two",
            Self::TooLarge => "queue capacity exceeds half the counter range",
            Self::Null => "null queue pointer",
            Self::Misaligned => "misaligned queue pointer",
        })
    }
}

/// Error counters kept in a private handle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations refused because the peer's index was out of its window.
    pub corrupt: u32,
    /// Entries dequeued but refused by a validator
    /// ([`Consumer::dequeue_checked`]).
    pub rejected: u32,
}

/// Checks a capacity against the counter width and returns it as `u32`.
fn check_capacity<H: RingHeader>(capacity: usize) -> Result<u32, SetupError> {
    if capacity == 0 || !capacity.is_power_of_two() {
        return Err(SetupError::NotPowerOfTwo);
    }
    // The largest capacity for which `tail - head` in 0..=capacity is
    // unambiguous and the window checks below cannot wrap.
    let max = (H::COUNTER_MASK as usize >> 1) + 1;
    if capacity > max {
        return Err(SetupError::TooLarge);
    }
    // `max` fits u32, so this cannot truncate.
    Ok(capacity as u32)
}

/// Checks the raw pointers handed to a `from_raw` constructor.
fn check_raw<H, S>(header: *mut H, slots: *mut S) -> Result<(), SetupError> {
    if header.is_null() || slots.is_null() {
        return Err(SetupError::Null);
    }
    if !header.is_aligned() || !slots.is_aligned() {
        return Err(SetupError::Misaligned);
    }
    Ok(())
}

/// Checks the raw pointers and capacity handed to a `from_raw` constructor
/// and borrows the header and the `capacity` slots behind them.
///
/// # Safety
///
/// As for [`Producer::from_raw`]: `header` must point to an `H` and `slots` to
/// `capacity` consecutive slots, both valid and mapped for `'a` and accessed
/// within this PD only through atomics.
unsafe fn borrow_raw<'a, H: RingHeader, S>(
    header: *mut H,
    slots: *mut S,
    capacity: usize,
) -> Result<(&'a H, &'a [S]), SetupError> {
    check_raw(header, slots)?;
    check_capacity::<H>(capacity)?;
    // SAFETY: the caller guarantees both regions are valid and mapped for
    // 'a; the pointers are non-null and aligned (checked above). Every
    // field of the header and slots is an atomic, so shared references
    // are sound even though the peer writes the memory concurrently.
    Ok(unsafe { (&*header, core::slice::from_raw_parts(slots, capacity)) })
}

/// The producer's private handle on a queue.
///
/// Holds the capacity, the authoritative `tail`, the last validated `head` and
/// the error counters. See the [module docs](self) for the invariants.
pub struct Producer<'a, L: Layout> {
    header: &'a L::Header,
    slots: &'a [SlotOf<L>],
    mask: u32,
    tail: u32,
    head_seen: u32,
    stats: Stats,
    _layout: PhantomData<L>,
}

/// The consumer's private handle on a queue.
///
/// Holds the capacity, the authoritative `head`, the last validated `tail` and
/// the error counters. See the [module docs](self) for the invariants.
pub struct Consumer<'a, L: Layout> {
    header: &'a L::Header,
    slots: &'a [SlotOf<L>],
    mask: u32,
    head: u32,
    tail_seen: u32,
    stats: Stats,
    _layout: PhantomData<L>,
}

impl<L: Layout> fmt::Debug for Producer<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("tail", &self.tail)
            .field("head_seen", &self.head_seen)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<L: Layout> fmt::Debug for Consumer<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("head", &self.head)
            .field("tail_seen", &self.tail_seen)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<'a, L: Layout> Producer<'a, L> {
    const M: u32 = <L::Header as RingHeader>::COUNTER_MASK;

    /// A producer over a header and `slots.len()` slots (the capacity: a
    /// power of two). Safe: the memory is borrowed and only ever accessed
    /// through atomics.
    ///
    /// The producer starts from the `tail` currently in the header (zero for a
    /// fresh queue) and reads it from shared memory this once only.
    pub fn new(header: &'a L::Header, slots: &'a [SlotOf<L>]) -> Result<Self, SetupError> {
        let cap = check_capacity::<L::Header>(slots.len())?;
        let tail = header.load_tail(Ordering::Relaxed) & Self::M;
        Ok(Self {
            header,
            slots,
            mask: cap - 1,
            tail,
            // Any head in [tail - capacity, tail] is legitimate at start.
            head_seen: tail.wrapping_sub(cap) & Self::M,
            stats: Stats::default(),
            _layout: PhantomData,
        })
    }

    /// A producer over a queue in memory shared with another PD.
    ///
    /// `capacity` comes from this PD's own configuration, never from the
    /// shared memory. Null or misaligned pointers and bad capacities are
    /// refused.
    ///
    /// # Safety
    ///
    /// * `header` must point to a `L::Header` and `slots` to `capacity`
    ///   consecutive slots, both mapped readable and writable for all of `'a`
    ///   and not freed or unmapped during it.
    /// * Within this PD, that memory must be accessed only through atomics
    ///   (this handle, the peer's handle, or other atomic accesses) during
    ///   `'a`; no `&mut` to it may exist. What the *peer* PD does to it is
    ///   irrelevant to soundness (it may write anything, any time).
    /// * There must be one producer per queue (a second one is a misbehaving
    ///   peer as far as the consumer is concerned, not undefined behaviour,
    ///   but it breaks the queue).
    pub unsafe fn from_raw(
        header: *mut L::Header,
        slots: *mut SlotOf<L>,
        capacity: usize,
    ) -> Result<Self, SetupError> {
        // SAFETY: forwarded from this function's contract.
        let (header, slots) = unsafe { borrow_raw::<L::Header, _>(header, slots, capacity)? };
        Self::new(header, slots)
    }

    /// The capacity (from the private handle).
    pub fn capacity(&self) -> usize {
        self.mask as usize + 1
    }

    /// The error counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The shared header (for tests and diagnostics).
    pub fn header(&self) -> &'a L::Header {
        self.header
    }

    fn used_cached(&self) -> u32 {
        self.tail.wrapping_sub(self.head_seen) & Self::M
    }

    /// Reloads and validates the consumer's `head`; returns the number of
    /// entries in the queue.
    fn refresh(&mut self) -> Result<u32, Corrupt> {
        let head = self.header.load_head(Ordering::Acquire) & Self::M;
        // Legitimate: head_seen <= head <= tail (modulo the counter width).
        let moved = head.wrapping_sub(self.head_seen) & Self::M;
        if moved > self.used_cached() {
            self.stats.corrupt = self.stats.corrupt.saturating_add(1);
            return Err(Corrupt);
        }
        self.head_seen = head;
        Ok(self.used_cached())
    }

    /// Number of free slots, after reloading the consumer's `head`.
    pub fn free(&mut self) -> Result<usize, Corrupt> {
        let used = self.refresh()?;
        Ok((self.mask + 1 - used) as usize)
    }

    /// Whether the queue is full, after reloading the consumer's `head`.
    /// A corrupt queue counts as full (nothing can be put in).
    pub fn is_full(&mut self) -> bool {
        !matches!(self.free(), Ok(n) if n > 0)
    }

    /// Free slots without touching shared memory if the cached view shows
    /// some; reloads `head` otherwise.
    fn free_lazy(&mut self) -> Result<u32, Corrupt> {
        let cap = self.mask + 1;
        let mut used = self.used_cached();
        if used == cap {
            used = self.refresh()?;
        }
        Ok(cap - used)
    }

    fn write_slot(&self, index: u32, value: L::Entry) {
        L::Entry::store(&self.slots[(index & self.mask) as usize], value);
    }

    /// Puts one entry in and publishes it (Release store of `tail`). Ownership
    /// of whatever the entry names passes to the consumer at that store.
    pub fn enqueue(&mut self, value: L::Entry) -> Result<(), EnqueueError> {
        match self.free_lazy() {
            Err(Corrupt) => Err(EnqueueError::Corrupt),
            Ok(0) => Err(EnqueueError::Full),
            Ok(_) => {
                self.write_slot(self.tail, value);
                self.tail = self.tail.wrapping_add(1) & Self::M;
                self.header.store_tail(self.tail, Ordering::Release);
                Ok(())
            }
        }
    }

    /// Puts as many entries of `values` in as fit and publishes them with one
    /// Release store of `tail`; returns how many. Bounded by `values.len()`
    /// and the capacity.
    pub fn enqueue_slice(&mut self, values: &[L::Entry]) -> Result<usize, Corrupt> {
        let mut free = self.free_lazy()? as usize;
        if free < values.len() {
            free = self.free()?;
        }
        let n = free.min(values.len());
        for (i, v) in values[..n].iter().enumerate() {
            self.write_slot(self.tail.wrapping_add(i as u32), *v);
        }
        if n > 0 {
            self.tail = self.tail.wrapping_add(n as u32) & Self::M;
            self.header.store_tail(self.tail, Ordering::Release);
        }
        Ok(n)
    }
}

impl<'a, L: Layout> Consumer<'a, L> {
    const M: u32 = <L::Header as RingHeader>::COUNTER_MASK;

    /// A consumer over a header and `slots.len()` slots (the capacity: a
    /// power of two). Safe: the memory is borrowed and only ever accessed
    /// through atomics.
    ///
    /// The consumer starts from the `head` currently in the header (zero for
    /// a fresh queue) and reads it from shared memory this once only.
    pub fn new(header: &'a L::Header, slots: &'a [SlotOf<L>]) -> Result<Self, SetupError> {
        let cap = check_capacity::<L::Header>(slots.len())?;
        let head = header.load_head(Ordering::Relaxed) & Self::M;
        Ok(Self {
            header,
            slots,
            mask: cap - 1,
            head,
            tail_seen: head,
            stats: Stats::default(),
            _layout: PhantomData,
        })
    }

    /// A consumer over a queue in memory shared with another PD.
    ///
    /// `capacity` comes from this PD's own configuration, never from the
    /// shared memory. Null or misaligned pointers and bad capacities are
    /// refused.
    ///
    /// # Safety
    ///
    /// As for [`Producer::from_raw`]: both regions valid and mapped for `'a`,
    /// accessed within this PD only through atomics, one consumer per queue.
    pub unsafe fn from_raw(
        header: *mut L::Header,
        slots: *mut SlotOf<L>,
        capacity: usize,
    ) -> Result<Self, SetupError> {
        // SAFETY: forwarded from this function's contract.
        let (header, slots) = unsafe { borrow_raw::<L::Header, _>(header, slots, capacity)? };
        Self::new(header, slots)
    }

    /// The capacity (from the private handle).
    pub fn capacity(&self) -> usize {
        self.mask as usize + 1
    }

    /// The error counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The shared header (for tests and diagnostics).
    pub fn header(&self) -> &'a L::Header {
        self.header
    }

    fn avail_cached(&self) -> u32 {
        self.tail_seen.wrapping_sub(self.head) & Self::M
    }

    /// Reloads and validates the producer's `tail`; returns the number of
    /// entries available.
    fn refresh(&mut self) -> Result<u32, Corrupt> {
        let tail = self.header.load_tail(Ordering::Acquire) & Self::M;
        // Legitimate: tail_seen <= tail <= head + capacity (modulo the width).
        let moved = tail.wrapping_sub(self.tail_seen) & Self::M;
        let limit = self
            .head
            .wrapping_add(self.mask + 1)
            .wrapping_sub(self.tail_seen)
            & Self::M;
        if moved > limit {
            self.stats.corrupt = self.stats.corrupt.saturating_add(1);
            return Err(Corrupt);
        }
        self.tail_seen = tail;
        Ok(self.avail_cached())
    }

    /// Number of entries available, after reloading the producer's `tail`.
    pub fn available(&mut self) -> Result<usize, Corrupt> {
        self.refresh().map(|n| n as usize)
    }

    /// Whether the queue is empty, after reloading the producer's `tail`.
    /// A corrupt queue counts as empty (nothing can be taken out).
    pub fn is_empty(&mut self) -> bool {
        !matches!(self.available(), Ok(n) if n > 0)
    }

    fn avail_lazy(&mut self) -> Result<u32, Corrupt> {
        match self.avail_cached() {
            0 => self.refresh(),
            n => Ok(n),
        }
    }

    fn read_slot(&self, index: u32) -> L::Entry {
        L::Entry::load(&self.slots[(index & self.mask) as usize])
    }

    fn publish_head(&mut self, n: u32) {
        self.head = self.head.wrapping_add(n) & Self::M;
        self.header.store_head(self.head, Ordering::Release);
    }

    /// Takes one entry out (an untrusted copy) and frees its slot (Release
    /// store of `head`). Ownership of whatever it names passed to this side
    /// when the producer published it.
    pub fn dequeue(&mut self) -> Result<L::Entry, DequeueError> {
        match self.avail_lazy() {
            Err(Corrupt) => Err(DequeueError::Corrupt),
            Ok(0) => Err(DequeueError::Empty),
            Ok(_) => {
                let v = self.read_slot(self.head);
                self.publish_head(1);
                Ok(v)
            }
        }
    }

    /// Takes one entry out and runs `check` on the private copy. A refused
    /// entry is still taken out (its slot is free again), counted in
    /// [`Stats::rejected`] and returned in [`CheckedError::Rejected`].
    pub fn dequeue_checked<V, E>(
        &mut self,
        check: impl FnOnce(L::Entry) -> Result<V, E>,
    ) -> Result<V, CheckedError<L::Entry, E>> {
        let entry = self.dequeue().map_err(|e| match e {
            DequeueError::Empty => CheckedError::Empty,
            DequeueError::Corrupt => CheckedError::Corrupt,
        })?;
        check(entry).map_err(|reason| {
            self.stats.rejected = self.stats.rejected.saturating_add(1);
            CheckedError::Rejected { entry, reason }
        })
    }

    /// Counts one entry as rejected, for callers that validate after
    /// [`dequeue`](Self::dequeue) or [`dequeue_into`](Self::dequeue_into).
    pub fn count_rejected(&mut self) {
        self.stats.rejected = self.stats.rejected.saturating_add(1);
    }

    /// Takes out as many entries as are available and fit in `out`, frees
    /// their slots with one Release store of `head`, and returns how many.
    /// Bounded by `out.len()` and the capacity.
    pub fn dequeue_into(&mut self, out: &mut [L::Entry]) -> Result<usize, Corrupt> {
        let mut avail = self.avail_lazy()? as usize;
        if avail < out.len() {
            avail = self.available()?;
        }
        let n = avail.min(out.len());
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = self.read_slot(self.head.wrapping_add(i as u32));
        }
        if n > 0 {
            self.publish_head(n as u32);
        }
        Ok(n)
    }
}

/// The consumer side of the signal-only-when-asked protocol (network and
/// block queues). See [`signal`] for the protocol.
impl<L: Layout> Consumer<'_, L>
where
    L::Header: ConsumerSignalled,
{
    /// Asks the producer for a signal at its next batch (clears
    /// `consumer_signalled`). On its own this is **not** enough before
    /// sleeping: use [`rearm`](Self::rearm), which re-checks.
    pub fn request_signal(&self) {
        signal::request(self.header.consumer_signalled());
    }

    /// Withdraws a signal request (sets `consumer_signalled`).
    pub fn cancel_signal_request(&self) {
        signal::cancel(self.header.consumer_signalled());
    }

    /// Re-arm step of the consumer protocol: request a signal, full fence,
    /// check the queue again. Returns `true` if work arrived meanwhile: the
    /// request has been cancelled and the caller must process again (then
    /// call `rearm` again). Returns `false` when it is safe to wait for a
    /// notification: the queue was empty after the request was visible, so
    /// the producer's next batch will signal. A corrupt queue also returns
    /// `false` (counted in [`Stats::corrupt`]): there is nothing to process.
    pub fn rearm(&mut self) -> bool {
        self.request_signal();
        signal::full_fence();
        match self.refresh() {
            Ok(n) if n > 0 => {
                self.cancel_signal_request();
                true
            }
            _ => false,
        }
    }
}

/// The producer side of the signal-only-when-asked protocol (network and
/// block queues). See [`signal`] for the protocol.
impl<L: Layout> Producer<'_, L>
where
    L::Header: ConsumerSignalled,
{
    /// After a batch: full fence, then whether the consumer asked for a
    /// signal. Does not clear the request.
    pub fn signal_required(&self) -> bool {
        signal::full_fence();
        signal::is_requested(self.header.consumer_signalled())
    }

    /// After a batch: full fence, then if the consumer asked for a signal,
    /// clear the request and return `true`: the caller must then notify the
    /// consumer.
    pub fn take_signal_request(&self) -> bool {
        signal::full_fence();
        signal::take(self.header.consumer_signalled())
    }
}

/// The producer side of the flow-control protocol (serial queues): the
/// producer asks to be told when space frees up.
impl<L: Layout> Producer<'_, L>
where
    L::Header: ProducerSignalled,
{
    /// Asks the consumer for a signal when it frees space (clears
    /// `producer_signalled`). Use [`rearm_for_space`](Self::rearm_for_space)
    /// before waiting.
    pub fn request_space_signal(&self) {
        signal::request(self.header.producer_signalled());
    }

    /// Withdraws a space-signal request.
    pub fn cancel_space_signal_request(&self) {
        signal::cancel(self.header.producer_signalled());
    }

    /// Re-arm step for a producer that found the queue full: request a
    /// signal, full fence, check for space again. Returns `true` if space
    /// appeared meanwhile (request cancelled: go on producing), `false` when
    /// it is safe to wait for the consumer's notification. A corrupt queue
    /// returns `false` (counted).
    pub fn rearm_for_space(&mut self) -> bool {
        self.request_space_signal();
        signal::full_fence();
        match self.free() {
            Ok(n) if n > 0 => {
                self.cancel_space_signal_request();
                true
            }
            _ => false,
        }
    }
}

/// The consumer side of the flow-control protocol (serial queues).
impl<L: Layout> Consumer<'_, L>
where
    L::Header: ProducerSignalled,
{
    /// After taking entries out: full fence, then whether the producer asked
    /// to be told about free space. Does not clear the request.
    pub fn space_signal_required(&self) -> bool {
        signal::full_fence();
        signal::is_requested(self.header.producer_signalled())
    }

    /// After taking entries out: full fence, then if the producer asked to be
    /// told about free space, clear the request and return `true`: the caller
    /// must then notify the producer.
    pub fn take_space_signal_request(&self) -> bool {
        signal::full_fence();
        signal::take(self.header.producer_signalled())
    }
}

/// A queue's shared memory owned by this side: for host tests, the loom
/// models and single-address-space use. PDs use `from_raw` on mapped memory.
///
/// `N` slots are allocated; the handles may use any power-of-two capacity up
/// to `N`. Everything inside is atomic, so handing out several handles (or
/// poking at [`header`](Self::header) and [`slots`](Self::slots) while they
/// exist, as the adversarial tests do) is sound; more than one producer or
/// consumer merely breaks the queue, like a misbehaving peer would.
pub struct QueueMemory<L: Layout, const N: usize> {
    header: L::Header,
    slots: [SlotOf<L>; N],
}

impl<L: Layout, const N: usize> Default for QueueMemory<L, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: Layout, const N: usize> QueueMemory<L, N> {
    /// Zeroed memory: both counters 0, the signal flag 0 (requested).
    pub fn new() -> Self {
        Self {
            header: L::Header::zeroed(),
            slots: core::array::from_fn(|_| L::Entry::zeroed_slot()),
        }
    }

    /// The shared header.
    pub fn header(&self) -> &L::Header {
        &self.header
    }

    /// The shared slots.
    pub fn slots(&self) -> &[SlotOf<L>] {
        &self.slots
    }

    fn with_capacity(&self, capacity: usize) -> Result<&[SlotOf<L>], SetupError> {
        if capacity > N {
            return Err(SetupError::TooLarge);
        }
        Ok(&self.slots[..capacity])
    }

    /// A producer handle with the given capacity (`<= N`, a power of two).
    pub fn producer(&self, capacity: usize) -> Result<Producer<'_, L>, SetupError> {
        Producer::new(&self.header, self.with_capacity(capacity)?)
    }

    /// A consumer handle with the given capacity (`<= N`, a power of two).
    pub fn consumer(&self, capacity: usize) -> Result<Consumer<'_, L>, SetupError> {
        Consumer::new(&self.header, self.with_capacity(capacity)?)
    }

    /// Both handles, with the given capacity.
    pub fn split(&self, capacity: usize) -> Result<(Producer<'_, L>, Consumer<'_, L>), SetupError> {
        Ok((self.producer(capacity)?, self.consumer(capacity)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{BufferDesc, NetQueue, NetQueueMemory};
    use crate::serial::SerialQueueMemory;

    #[test]
    fn capacities() {
        let mem = NetQueueMemory::<16>::new();
        assert_eq!(mem.producer(0).unwrap_err(), SetupError::NotPowerOfTwo);
        assert_eq!(mem.producer(12).unwrap_err(), SetupError::NotPowerOfTwo);
        assert_eq!(mem.consumer(32).unwrap_err(), SetupError::TooLarge);
        assert_eq!(mem.consumer(1).unwrap().capacity(), 1);
        assert_eq!(
            check_capacity::<crate::net::NetHeader>(1 << 15),
            Ok(1 << 15)
        );
        assert_eq!(
            check_capacity::<crate::net::NetHeader>(1 << 16),
            Err(SetupError::TooLarge)
        );
        assert_eq!(
            check_capacity::<crate::serial::SerialHeader>(1 << 31),
            Ok(1 << 31)
        );
    }

    #[test]
    fn capacity_one_works() {
        let mem = NetQueueMemory::<1>::new();
        let (mut p, mut c) = mem.split(1).unwrap();
        for i in 0..5 {
            let d = BufferDesc {
                io_or_offset: i,
                len: 1,
            };
            p.enqueue(d).unwrap();
            assert_eq!(p.enqueue(d), Err(EnqueueError::Full));
            assert_eq!(c.dequeue(), Ok(d));
            assert_eq!(c.dequeue(), Err(DequeueError::Empty));
        }
    }

    #[test]
    fn bulk_partial() {
        let mem = SerialQueueMemory::<4>::new();
        let (mut p, mut c) = mem.split(4).unwrap();
        assert_eq!(p.enqueue_slice(&[]), Ok(0));
        assert_eq!(p.enqueue_slice(&[1, 2, 3]), Ok(3));
        assert_eq!(p.enqueue_slice(&[4, 5, 6]), Ok(1));
        let mut out = [0; 3];
        assert_eq!(c.dequeue_into(&mut out), Ok(3));
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(c.dequeue_into(&mut []), Ok(0));
        assert_eq!(c.available(), Ok(1));
        assert!(!c.is_empty());
        assert!(!p.is_full());
        assert_eq!(p.free(), Ok(3));
    }

    #[test]
    fn attaches_to_a_queue_in_use() {
        let mem = NetQueueMemory::<4>::new();
        mem.header().tail.store(7, Ordering::Relaxed);
        mem.header().head.store(5, Ordering::Relaxed);
        let (mut p, mut c) = mem.split(4).unwrap();
        assert_eq!(p.free(), Ok(2));
        assert_eq!(c.available(), Ok(2));
    }

    #[test]
    fn debug_and_display() {
        extern crate std;
        use std::format;
        let mem = QueueMemory::<NetQueue, 2>::default();
        let (p, c) = mem.split(2).unwrap();
        assert!(format!("{p:?}").contains("capacity: 2"));
        assert!(format!("{c:?}").contains("head: 0"));
        assert_eq!(
            format!("{}", SetupError::TooLarge),
            "queue capacity exceeds half the counter range"
        );
    }
}
