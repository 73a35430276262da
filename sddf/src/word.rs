//! Word queues: 64-bit values from one PD to another, in one shared region.
//!
//! Not an sDDF device class but the same machinery for a system's own
//! data: sensor samples, events, small messages. A queue region of `size`
//! bytes holds the header ([`WordHeader`]: `{ tail: u32, head: u32,
//! consumer_signalled: u32 }`) at offset 0 and the slots (one `u64` each)
//! from [`SLOTS_OFFSET`]; both ends compute the capacity from the region's
//! size with [`capacity_for`], never from shared memory.
//!
//! ```xml
//! <memory_region name="samples" size="0x1000" />
//! <!-- in each of the two PDs: -->
//! <map mr="samples" vaddr="0x20000000" perms="rw" setvar_vaddr="samples" />
//! ```
//!
//! Signalling: the producer notifies the consumer after writing (or, with
//! the "signal only when asked" protocol, only when
//! [`Producer::signal_required`] says so); see [`signal`](crate::signal).
//!
//! # Invariants
//!
//! The [ring invariants](crate::ring#invariants) hold. A word is just a
//! word: what it means, and what values are valid, is the consumer's to
//! check.
//!
//! [`Producer::signal_required`]: crate::ring::Producer
use crate::ring::{Consumer, ConsumerSignalled, Entry, Layout, Producer, QueueMemory, RingHeader};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use crate::SetupError;

impl Entry for u64 {
    type Slot = AtomicU64;

    fn zeroed_slot() -> AtomicU64 {
        AtomicU64::new(0)
    }
    fn load(slot: &AtomicU64) -> u64 {
        slot.load(Ordering::Relaxed)
    }
    fn store(slot: &AtomicU64, value: u64) {
        slot.store(value, Ordering::Relaxed);
    }
}

/// The shared header of a word queue.
#[repr(C)]
#[derive(Debug)]
pub struct WordHeader {
    /// Producer's free-running counter.
    pub tail: AtomicU32,
    /// Consumer's free-running counter.
    pub head: AtomicU32,
    /// 0: the consumer asks to be signalled.
    pub consumer_signalled: AtomicU32,
}

impl RingHeader for WordHeader {
    const COUNTER_MASK: u32 = u32::MAX;

    fn zeroed() -> Self {
        Self {
            tail: AtomicU32::new(0),
            head: AtomicU32::new(0),
            consumer_signalled: AtomicU32::new(0),
        }
    }
    crate::ring::u32_counters!();
}

impl ConsumerSignalled for WordHeader {
    fn consumer_signalled(&self) -> &AtomicU32 {
        &self.consumer_signalled
    }
}

/// The word queue layout.
#[derive(Debug)]
pub enum WordQueue {}

impl Layout for WordQueue {
    type Header = WordHeader;
    type Entry = u64;
}

/// Producer handle on a word queue.
pub type WordProducer<'a> = Producer<'a, WordQueue>;
/// Consumer handle on a word queue.
pub type WordConsumer<'a> = Consumer<'a, WordQueue>;
/// Owned memory for a word queue of up to `N` words (host tests).
pub type WordQueueMemory<const N: usize> = QueueMemory<WordQueue, N>;

/// Where the slots start in a queue region (the header fits in front, and
/// the slots are cache-line aligned).
pub const SLOTS_OFFSET: usize = 64;

/// The capacity of a queue in a region of `size` bytes: the largest power
/// of two of slots that fits after the header (0 if none does).
pub const fn capacity_for(size: usize) -> usize {
    if size < SLOTS_OFFSET + 2 * core::mem::size_of::<u64>() {
        return 0;
    }
    let slots = (size - SLOTS_OFFSET) / core::mem::size_of::<u64>();
    1 << (usize::BITS - 1 - slots.leading_zeros())
}

/// The producer end of the queue region of `size` bytes mapped at `vaddr`.
///
/// # Safety
/// `vaddr..vaddr + size` must be a read-write mapping valid for the rest of
/// the PD's life, accessed in this PD only through this handle, and this
/// PD must be the queue's only producer.
pub unsafe fn producer(vaddr: usize, size: usize) -> Result<WordProducer<'static>, SetupError> {
    // SAFETY: the caller's contract covers the header and every slot: both
    // lie inside the region (`capacity_for` keeps the slots within `size`).
    unsafe {
        WordProducer::from_raw(
            vaddr as *mut WordHeader,
            vaddr.wrapping_add(SLOTS_OFFSET) as *mut AtomicU64,
            capacity_for(size),
        )
    }
}

/// The consumer end of the queue region of `size` bytes mapped at `vaddr`.
///
/// # Safety
/// As for [`producer`], with "only consumer".
pub unsafe fn consumer(vaddr: usize, size: usize) -> Result<WordConsumer<'static>, SetupError> {
    // SAFETY: as in `producer`.
    unsafe {
        WordConsumer::from_raw(
            vaddr as *mut WordHeader,
            vaddr.wrapping_add(SLOTS_OFFSET) as *mut AtomicU64,
            capacity_for(size),
        )
    }
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<WordHeader>() <= SLOTS_OFFSET);
    assert!(offset_of!(WordHeader, tail) == 0);
    assert!(offset_of!(WordHeader, head) == 4);
    assert!(offset_of!(WordHeader, consumer_signalled) == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_the_largest_power_of_two_that_fits() {
        assert_eq!(capacity_for(0), 0);
        assert_eq!(capacity_for(SLOTS_OFFSET + 8), 0);
        assert_eq!(capacity_for(SLOTS_OFFSET + 16), 2);
        assert_eq!(capacity_for(0x1000), 256); // 504 slots fit
        assert_eq!(capacity_for(0x2000), 512);
        for size in [80, 100, 0x1000, 0x1234, 0x10_0000] {
            let cap = capacity_for(size);
            assert!(cap.is_power_of_two());
            assert!(SLOTS_OFFSET + cap * 8 <= size);
            assert!(SLOTS_OFFSET + 2 * cap * 8 > size);
        }
    }

    #[test]
    fn words_round_trip_in_order() {
        let mem = WordQueueMemory::<4>::new();
        let (mut p, mut c) = mem.split(4).unwrap();
        for round in 0..5u64 {
            for i in 0..4 {
                assert_eq!(p.enqueue(round << 32 | i), Ok(()));
            }
            assert!(p.enqueue(0).is_err(), "full");
            for i in 0..4 {
                assert_eq!(c.dequeue(), Ok(round << 32 | i));
            }
            assert!(c.dequeue().is_err(), "empty");
        }
    }

    #[test]
    fn a_wild_tail_reads_nothing() {
        let mem = WordQueueMemory::<4>::new();
        let mut c = mem.consumer(4).unwrap();
        mem.header().tail.store(1000, Ordering::Relaxed);
        assert!(c.dequeue().is_err());
        assert_eq!(c.stats().corrupt, 1);
    }

    #[test]
    fn a_too_small_region_is_refused() {
        let mut mem = [0u64; 8];
        let at = mem.as_mut_ptr() as usize;
        // SAFETY: `mem` is a live, writable, aligned local of 64 bytes; the
        // handle is refused before touching it.
        assert!(unsafe { producer(at, 64) }.is_err());
    }
}
