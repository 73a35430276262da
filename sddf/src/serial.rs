//! Serial queues: a byte ring over a separate data region.
//!
//! Shared layout (as in sDDF): a header
//! `{ tail: u32, head: u32, producer_signalled: u32 }` ([`SerialHeader`]) in
//! one region and a data region of `capacity` bytes (a power of two).
//!
//! Signalling: the producer always notifies the consumer after writing; the
//! consumer notifies the producer about free space only when the producer
//! asked ([`Producer::rearm_for_space`] /
//! [`Consumer::take_space_signal_request`]).
//!
//! # Invariants
//!
//! The [ring invariants](crate::ring#invariants) hold; in particular every
//! length is clamped: [`Producer::enqueue_slice`] writes at most
//! `min(bytes.len(), free space)` bytes and [`Consumer::dequeue_into`] reads
//! at most `min(out.len(), available)`, and "available" is never more than
//! the capacity, whatever the peer wrote into the header. A byte is just a
//! byte: there is nothing in the data to validate.
//!
//! [`Producer::rearm_for_space`]: crate::ring::Producer::rearm_for_space
//! [`Consumer::take_space_signal_request`]: crate::ring::Consumer::take_space_signal_request
//! [`Producer::enqueue_slice`]: crate::ring::Producer::enqueue_slice
//! [`Consumer::dequeue_into`]: crate::ring::Consumer::dequeue_into

use crate::ring::{Consumer, Entry, Layout, Producer, ProducerSignalled, QueueMemory, RingHeader};
use crate::sync::{AtomicU32, AtomicU8, Ordering};

impl Entry for u8 {
    type Slot = AtomicU8;

    fn zeroed_slot() -> AtomicU8 {
        AtomicU8::new(0)
    }
    fn load(slot: &AtomicU8) -> u8 {
        slot.load(Ordering::Relaxed)
    }
    fn store(slot: &AtomicU8, value: u8) {
        slot.store(value, Ordering::Relaxed);
    }
}

/// The shared header of a serial queue.
#[repr(C)]
#[derive(Debug)]
pub struct SerialHeader {
    /// Producer's free-running counter.
    pub tail: AtomicU32,
    /// Consumer's free-running counter.
    pub head: AtomicU32,
    /// 0: the producer asks to be told about free space.
    pub producer_signalled: AtomicU32,
}

impl RingHeader for SerialHeader {
    const COUNTER_MASK: u32 = u32::MAX;

    fn zeroed() -> Self {
        Self {
            tail: AtomicU32::new(0),
            head: AtomicU32::new(0),
            producer_signalled: AtomicU32::new(0),
        }
    }
    crate::ring::u32_counters!();
}

impl ProducerSignalled for SerialHeader {
    fn producer_signalled(&self) -> &AtomicU32 {
        &self.producer_signalled
    }
}

/// The serial queue layout.
#[derive(Debug)]
pub enum SerialQueue {}

impl Layout for SerialQueue {
    type Header = SerialHeader;
    type Entry = u8;
}

/// Producer handle on a serial queue.
pub type SerialProducer<'a> = Producer<'a, SerialQueue>;
/// Consumer handle on a serial queue.
pub type SerialConsumer<'a> = Consumer<'a, SerialQueue>;
/// Owned memory for a serial queue of up to `N` bytes.
pub type SerialQueueMemory<const N: usize> = QueueMemory<SerialQueue, N>;

#[cfg(not(loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<SerialHeader>() == 12);
    assert!(offset_of!(SerialHeader, tail) == 0);
    assert!(offset_of!(SerialHeader, head) == 4);
    assert!(offset_of!(SerialHeader, producer_signalled) == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_clamp() {
        let mem = SerialQueueMemory::<8>::new();
        let (mut p, mut c) = mem.split(8).unwrap();
        assert_eq!(p.enqueue_slice(b"hello, world"), Ok(8));
        assert_eq!(p.enqueue_slice(b"!"), Ok(0));
        let mut out = [0u8; 5];
        assert_eq!(c.dequeue_into(&mut out), Ok(5));
        assert_eq!(&out, b"hello");
        assert_eq!(p.enqueue_slice(b"xyz!?"), Ok(5));
        let mut out = [0u8; 64];
        assert_eq!(c.dequeue_into(&mut out), Ok(8));
        assert_eq!(&out[..8], b", wxyz!?");
    }

    #[test]
    fn huge_tail_reads_nothing() {
        let mem = SerialQueueMemory::<8>::new();
        let mut c = mem.consumer(8).unwrap();
        mem.header().tail.store(u32::MAX / 2, Ordering::Relaxed);
        let mut out = [0u8; 1024];
        assert!(c.dequeue_into(&mut out).is_err());
        assert_eq!(c.stats().corrupt, 1);
        assert_eq!(mem.header().head.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn space_signal() {
        let mem = SerialQueueMemory::<2>::new();
        let (mut p, mut c) = mem.split(2).unwrap();
        assert_eq!(p.enqueue_slice(b"ab"), Ok(2));
        // Full: producer re-arms and may sleep.
        assert!(!p.rearm_for_space());
        assert_eq!(c.dequeue(), Ok(b'a'));
        assert!(c.space_signal_required());
        assert!(c.take_space_signal_request());
        assert!(!c.take_space_signal_request());
        // Space present: re-arm cancels and says "go on".
        assert!(p.rearm_for_space());
        assert!(!c.space_signal_required());
    }

    #[test]
    fn counters_wrap_at_32_bits() {
        let mem = SerialQueueMemory::<4>::new();
        mem.header().tail.store(u32::MAX - 1, Ordering::Relaxed);
        mem.header().head.store(u32::MAX - 1, Ordering::Relaxed);
        let (mut p, mut c) = mem.split(4).unwrap();
        for i in 0..10u8 {
            assert_eq!(p.enqueue_slice(&[i, i + 1]), Ok(2));
            let mut o = [0; 2];
            assert_eq!(c.dequeue_into(&mut o), Ok(2));
            assert_eq!(o, [i, i + 1]);
        }
        assert_eq!(mem.header().tail.load(Ordering::Relaxed), 18);
    }
}
