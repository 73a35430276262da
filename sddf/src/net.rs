//! Network queues: free and active queues of buffer descriptors.
//!
//! Each link between two network components has a **free** queue and an
//! **active** queue, both [`NetQueue`]s. Shared layout (as in sDDF):
//!
//! ```text
//! offset 0: tail: u16, head: u16, consumer_signalled: u32   (NetHeader, 8 bytes)
//! offset 8: BufferDesc[capacity] { io_or_offset: u64, len: u16 } (16 bytes each)
//! ```
//!
//! `io_or_offset` is an offset into the data region between client-side
//! components, and a DMA address between the virtualisers and the driver.
//!
//! # Invariants
//!
//! The queue itself keeps the [ring invariants](crate::ring#invariants). A
//! descriptor read from a queue is an **untrusted copy**. Before using the
//! buffer it names, a component validates it against its own
//! [`BufferRegion`] (inside the region, aligned to the buffer size, length in
//! range) and records ownership in an [`Ownership`] bitmap, which refuses a
//! buffer this side already holds (the peer handing the same buffer over
//! twice). [`NetBuffers`] does both; [`Consumer::dequeue_checked`] counts
//! every refusal in the handle's [`Stats::rejected`].
//!
//! What this does not cover: the *contents* of a buffer stay writable by the
//! peer if the peer still maps the region (sDDF's "client changes a tx buffer
//! after handing it over"); components that must not see the contents change
//! copy them or map the region read-only on the peer's side.
//!
//! [`Consumer::dequeue_checked`]: crate::ring::Consumer::dequeue_checked
//! [`Stats::rejected`]: crate::ring::Stats::rejected

use crate::ring::{Consumer, ConsumerSignalled, Entry, Layout, Producer, QueueMemory, RingHeader};
use crate::sync::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// The size of a network buffer, in bytes.
pub const BUFFER_SIZE: u32 = 2048;

/// The default number of buffers (and queue capacity) per client.
pub const DEFAULT_CAPACITY: usize = 512;

/// A buffer descriptor (private copy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BufferDesc {
    /// Offset into the data region, or DMA address.
    pub io_or_offset: u64,
    /// Length of the packet in the buffer (0 for a free buffer).
    pub len: u16,
}

/// A buffer descriptor's slot in shared memory.
#[repr(C)]
#[derive(Debug)]
pub struct BufferDescSlot {
    /// Offset into the data region, or DMA address.
    pub io_or_offset: AtomicU64,
    /// Packet length.
    pub len: AtomicU16,
}

impl Entry for BufferDesc {
    type Slot = BufferDescSlot;

    fn zeroed_slot() -> BufferDescSlot {
        BufferDescSlot {
            io_or_offset: AtomicU64::new(0),
            len: AtomicU16::new(0),
        }
    }

    fn load(slot: &BufferDescSlot) -> Self {
        Self {
            io_or_offset: slot.io_or_offset.load(Ordering::Relaxed),
            len: slot.len.load(Ordering::Relaxed),
        }
    }

    fn store(slot: &BufferDescSlot, value: Self) {
        slot.io_or_offset
            .store(value.io_or_offset, Ordering::Relaxed);
        slot.len.store(value.len, Ordering::Relaxed);
    }
}

/// The shared header of a network queue.
#[repr(C)]
#[derive(Debug)]
pub struct NetHeader {
    /// Producer's free-running counter.
    pub tail: AtomicU16,
    /// Consumer's free-running counter.
    pub head: AtomicU16,
    /// 0: the consumer asks for a signal. See [`signal`](crate::signal).
    pub consumer_signalled: AtomicU32,
}

impl RingHeader for NetHeader {
    const COUNTER_MASK: u32 = 0xffff;

    fn zeroed() -> Self {
        Self {
            tail: AtomicU16::new(0),
            head: AtomicU16::new(0),
            consumer_signalled: AtomicU32::new(0),
        }
    }
    fn load_tail(&self, order: Ordering) -> u32 {
        self.tail.load(order).into()
    }
    fn store_tail(&self, value: u32, order: Ordering) {
        self.tail.store(value as u16, order);
    }
    fn load_head(&self, order: Ordering) -> u32 {
        self.head.load(order).into()
    }
    fn store_head(&self, value: u32, order: Ordering) {
        self.head.store(value as u16, order);
    }
}

impl ConsumerSignalled for NetHeader {
    fn consumer_signalled(&self) -> &AtomicU32 {
        &self.consumer_signalled
    }
}

/// The network queue layout (free and active queues alike).
#[derive(Debug)]
pub enum NetQueue {}

impl Layout for NetQueue {
    type Header = NetHeader;
    type Entry = BufferDesc;
}

/// Producer handle on a network queue.
pub type NetProducer<'a> = Producer<'a, NetQueue>;
/// Consumer handle on a network queue.
pub type NetConsumer<'a> = Consumer<'a, NetQueue>;
/// Owned memory for a network queue of up to `N` descriptors.
pub type NetQueueMemory<const N: usize> = QueueMemory<NetQueue, N>;

/// Offset of the descriptor array from the start of a queue region.
pub const ENTRIES_OFFSET: usize = 8;

/// Bytes a queue region of `capacity` descriptors needs.
pub const fn region_size(capacity: usize) -> usize {
    ENTRIES_OFFSET + capacity * 16
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<NetHeader>() == ENTRIES_OFFSET);
    assert!(offset_of!(NetHeader, tail) == 0);
    assert!(offset_of!(NetHeader, head) == 2);
    assert!(offset_of!(NetHeader, consumer_signalled) == 4);
    assert!(size_of::<BufferDescSlot>() == 16);
    assert!(align_of::<BufferDescSlot>() == 8);
    assert!(offset_of!(BufferDescSlot, io_or_offset) == 0);
    assert!(offset_of!(BufferDescSlot, len) == 8);
};

/// The descriptor array of a queue region that starts with its header.
///
/// Pure address arithmetic (no access): pass the result to
/// [`Producer::from_raw`] or [`Consumer::from_raw`] with the same header.
pub fn entries_of(header: *mut NetHeader) -> *mut BufferDescSlot {
    header.cast::<u8>().wrapping_add(ENTRIES_OFFSET).cast()
}

/// Why a descriptor was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescError {
    /// `io_or_offset` is not inside the region (or the buffer would run past
    /// its end).
    OutOfRegion,
    /// `io_or_offset` is not a multiple of the buffer size from the base.
    Misaligned,
    /// `len` is 0 or larger than the buffer size (filled buffers only).
    BadLength,
    /// This side already owns the buffer: the peer handed it over twice.
    Duplicate,
    /// This side does not own the buffer it tried to hand over.
    NotOwned,
}

/// A region of equally sized buffers, as seen by one side: `io_or_offset`
/// values from `base` to `base + count * buffer_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferRegion {
    base: u64,
    buffer_size: u32,
    count: u32,
}

/// A descriptor that passed [`BufferRegion`] validation: a private,
/// well-formed view of one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidBuffer {
    index: u32,
    io_or_offset: u64,
    len: u16,
}

impl ValidBuffer {
    /// The buffer's slot number in its region.
    pub fn index(&self) -> usize {
        self.index as usize
    }
    /// Offset or DMA address of the buffer.
    pub fn io_or_offset(&self) -> u64 {
        self.io_or_offset
    }
    /// The length (0 for a free buffer).
    pub fn len(&self) -> u16 {
        self.len
    }
    /// Whether the length is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The descriptor to put in a queue.
    pub fn desc(&self) -> BufferDesc {
        BufferDesc {
            io_or_offset: self.io_or_offset,
            len: self.len,
        }
    }
}

impl BufferRegion {
    /// `count` buffers of `buffer_size` bytes (`1..=65535`) starting at
    /// `base`. `None` if the region would overflow the address space.
    pub const fn new(base: u64, buffer_size: u32, count: u32) -> Option<Self> {
        if buffer_size == 0 || buffer_size > u16::MAX as u32 {
            return None;
        }
        match (buffer_size as u64).checked_mul(count as u64) {
            Some(size) => match base.checked_add(size) {
                Some(_) => Some(Self {
                    base,
                    buffer_size,
                    count,
                }),
                None => None,
            },
            None => None,
        }
    }

    /// The number of buffers.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// The buffer size.
    pub fn buffer_size(&self) -> u32 {
        self.buffer_size
    }

    /// Buffer `index` as a free buffer (length 0), or `None` past the end.
    pub fn buffer(&self, index: usize) -> Option<ValidBuffer> {
        if index >= self.count as usize {
            return None;
        }
        Some(ValidBuffer {
            index: index as u32,
            io_or_offset: self.base + index as u64 * self.buffer_size as u64,
            len: 0,
        })
    }

    /// The slot number of the buffer at `io_or_offset`: inside the region
    /// and aligned to the buffer size.
    pub fn index_of(&self, io_or_offset: u64) -> Result<usize, DescError> {
        let off = io_or_offset
            .checked_sub(self.base)
            .ok_or(DescError::OutOfRegion)?;
        let size = u64::from(self.buffer_size);
        if off % size != 0 {
            return Err(DescError::Misaligned);
        }
        let index = off / size;
        if index >= u64::from(self.count) {
            return Err(DescError::OutOfRegion);
        }
        Ok(index as usize)
    }

    /// Validates a descriptor of a **filled** buffer (active queues):
    /// in the region, aligned, `0 < len <= buffer_size`.
    pub fn check_filled(&self, desc: BufferDesc) -> Result<ValidBuffer, DescError> {
        let index = self.index_of(desc.io_or_offset)?;
        if desc.len == 0 || u32::from(desc.len) > self.buffer_size {
            return Err(DescError::BadLength);
        }
        Ok(ValidBuffer {
            index: index as u32,
            io_or_offset: desc.io_or_offset,
            len: desc.len,
        })
    }

    /// Validates a descriptor of a **free** buffer (free queues): in the
    /// region and aligned; the length is ignored and set to 0.
    pub fn check_free(&self, desc: BufferDesc) -> Result<ValidBuffer, DescError> {
        let index = self.index_of(desc.io_or_offset)?;
        Ok(ValidBuffer {
            index: index as u32,
            io_or_offset: desc.io_or_offset,
            len: 0,
        })
    }

    /// The same buffer with a new length (after filling it): `0 < len <=
    /// buffer_size`.
    pub fn with_len(&self, buf: ValidBuffer, len: u16) -> Result<ValidBuffer, DescError> {
        if len == 0 || u32::from(len) > self.buffer_size {
            return Err(DescError::BadLength);
        }
        Ok(ValidBuffer { len, ..buf })
    }
}

/// Which buffers this side currently owns: one bit per buffer slot, in
/// private memory. `WORDS` 64-bit words cover up to `64 * WORDS` buffers.
///
/// Taking a buffer this side already owns (the peer handing it over twice)
/// and giving away a buffer it does not own are both refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership<const WORDS: usize> {
    bits: [u64; WORDS],
    count: u32,
    owned: u32,
}

impl<const WORDS: usize> Ownership<WORDS> {
    /// A tracker for `count` buffers, all owned by this side
    /// (`owned_initially`) or all by the peer. `None` if `count > 64 * WORDS`.
    pub fn new(count: usize, owned_initially: bool) -> Option<Self> {
        if count > WORDS.checked_mul(64)? || count > u32::MAX as usize {
            return None;
        }
        let mut bits = [0u64; WORDS];
        if owned_initially {
            for (w, word) in bits.iter_mut().enumerate() {
                let lo = w * 64;
                *word = match count.saturating_sub(lo) {
                    0 => 0,
                    n if n >= 64 => u64::MAX,
                    n => (1u64 << n) - 1,
                };
            }
        }
        Some(Self {
            bits,
            count: count as u32,
            owned: if owned_initially { count as u32 } else { 0 },
        })
    }

    fn locate(&self, index: usize) -> Result<(usize, u64), DescError> {
        if index >= self.count as usize {
            return Err(DescError::OutOfRegion);
        }
        Ok((index / 64, 1u64 << (index % 64)))
    }

    /// Whether this side owns buffer `index` (false past the end).
    pub fn owns(&self, index: usize) -> bool {
        match self.locate(index) {
            Ok((w, bit)) => self.bits[w] & bit != 0,
            Err(_) => false,
        }
    }

    /// The number of buffers this side owns.
    pub fn owned(&self) -> usize {
        self.owned as usize
    }

    /// Records that buffer `index` came to this side. Refuses a buffer
    /// already owned ([`DescError::Duplicate`]).
    pub fn take(&mut self, index: usize) -> Result<(), DescError> {
        let (w, bit) = self.locate(index)?;
        if self.bits[w] & bit != 0 {
            return Err(DescError::Duplicate);
        }
        self.bits[w] |= bit;
        self.owned += 1;
        Ok(())
    }

    /// Records that buffer `index` goes to the peer. Refuses a buffer not
    /// owned ([`DescError::NotOwned`]).
    pub fn give(&mut self, index: usize) -> Result<(), DescError> {
        let (w, bit) = self.locate(index)?;
        if self.bits[w] & bit == 0 {
            return Err(DescError::NotOwned);
        }
        self.bits[w] &= !bit;
        self.owned -= 1;
        Ok(())
    }
}

/// A component's view of one buffer region: validation plus ownership.
///
/// Use [`accept_filled`](Self::accept_filled) / [`accept_free`](Self::accept_free)
/// as the check of [`Consumer::dequeue_checked`] and
/// [`give`](Self::give) before [`Producer::enqueue`]:
///
/// ```
/// # use sddf::net::*;
/// # use sddf::ring::CheckedError;
/// let region = BufferRegion::new(0, BUFFER_SIZE, 4).unwrap();
/// let mut bufs = NetBuffers::<1>::new(region, false).unwrap();
/// let mem = NetQueueMemory::<4>::new();
/// let (mut client, mut virt) = mem.split(4).unwrap();
/// client.enqueue(BufferDesc { io_or_offset: 2048, len: 60 }).unwrap();
/// client.enqueue(BufferDesc { io_or_offset: 2048, len: 60 }).unwrap(); // twice!
/// let buf = virt.dequeue_checked(|d| bufs.accept_filled(d)).unwrap();
/// assert_eq!(buf.index(), 1);
/// assert!(matches!(
///     virt.dequeue_checked(|d| bufs.accept_filled(d)),
///     Err(CheckedError::Rejected { reason: DescError::Duplicate, .. })
/// ));
/// assert_eq!(virt.stats().rejected, 1);
/// ```
///
/// [`Consumer::dequeue_checked`]: crate::ring::Consumer::dequeue_checked
/// [`Producer::enqueue`]: crate::ring::Producer::enqueue
#[derive(Clone, Debug)]
pub struct NetBuffers<const WORDS: usize> {
    region: BufferRegion,
    owned: Ownership<WORDS>,
}

impl<const WORDS: usize> NetBuffers<WORDS> {
    /// Tracks `region`'s buffers, all owned by this side or all by the peer.
    pub fn new(region: BufferRegion, owned_initially: bool) -> Option<Self> {
        Some(Self {
            region,
            owned: Ownership::new(region.count(), owned_initially)?,
        })
    }

    /// The region.
    pub fn region(&self) -> &BufferRegion {
        &self.region
    }

    /// The ownership bitmap.
    pub fn ownership(&self) -> &Ownership<WORDS> {
        &self.owned
    }

    /// Validates a filled buffer from the peer and takes ownership.
    pub fn accept_filled(&mut self, desc: BufferDesc) -> Result<ValidBuffer, DescError> {
        let buf = self.region.check_filled(desc)?;
        self.owned.take(buf.index())?;
        Ok(buf)
    }

    /// Validates a free buffer from the peer and takes ownership.
    pub fn accept_free(&mut self, desc: BufferDesc) -> Result<ValidBuffer, DescError> {
        let buf = self.region.check_free(desc)?;
        self.owned.take(buf.index())?;
        Ok(buf)
    }

    /// Releases ownership of `buf` and returns the descriptor to enqueue.
    /// Refuses a buffer this side does not own.
    pub fn give(&mut self, buf: ValidBuffer) -> Result<BufferDesc, DescError> {
        self.owned.give(buf.index())?;
        Ok(buf.desc())
    }

    /// The first buffer this side owns, if any (a linear scan of the bitmap:
    /// O(WORDS)).
    pub fn first_owned(&self) -> Option<ValidBuffer> {
        (0..self.region.count())
            .find(|&i| self.owned.owns(i))
            .and_then(|i| self.region.buffer(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{CheckedError, DequeueError, EnqueueError};

    fn d(off: u64, len: u16) -> BufferDesc {
        BufferDesc {
            io_or_offset: off,
            len,
        }
    }

    #[test]
    fn fifo_and_full() {
        let mem = NetQueueMemory::<4>::new();
        let (mut p, mut c) = mem.split(4).unwrap();
        for i in 0..4 {
            p.enqueue(d(i * 2048, 1)).unwrap();
        }
        assert_eq!(p.enqueue(d(0, 1)), Err(EnqueueError::Full));
        for i in 0..4 {
            assert_eq!(c.dequeue().unwrap(), d(i * 2048, 1));
        }
        assert_eq!(c.dequeue(), Err(DequeueError::Empty));
    }

    #[test]
    fn counters_wrap_at_16_bits() {
        let mem = NetQueueMemory::<8>::new();
        let (mut p, mut c) = mem.split(8).unwrap();
        for i in 0..70_000u64 {
            p.enqueue(d(i, 7)).unwrap();
            assert_eq!(c.dequeue().unwrap(), d(i, 7));
        }
        assert_eq!(
            mem.header().tail.load(Ordering::Relaxed),
            (70_000u32 & 0xffff) as u16
        );
    }

    #[test]
    fn tail_beyond_capacity_is_corrupt() {
        let mem = NetQueueMemory::<4>::new();
        let mut c = mem.consumer(4).unwrap();
        mem.header().tail.store(5, Ordering::Relaxed);
        assert_eq!(c.dequeue(), Err(DequeueError::Corrupt));
        assert_eq!(c.stats().corrupt, 1);
        assert_eq!(mem.header().head.load(Ordering::Relaxed), 0);
        // Repaired by the peer: usable again.
        mem.header().tail.store(4, Ordering::Relaxed);
        assert!(c.dequeue().is_ok());
    }

    #[test]
    fn tail_moving_backwards_is_corrupt() {
        let mem = NetQueueMemory::<4>::new();
        let (mut p, mut c) = mem.split(4).unwrap();
        p.enqueue(d(0, 1)).unwrap();
        p.enqueue(d(0, 1)).unwrap();
        assert_eq!(c.available(), Ok(2));
        mem.header().tail.store(1, Ordering::Relaxed);
        assert_eq!(c.available(), Err(crate::ring::Corrupt));
        assert_eq!(c.stats().corrupt, 1);
    }

    #[test]
    fn head_beyond_tail_is_corrupt() {
        let mem = NetQueueMemory::<4>::new();
        let mut p = mem.producer(4).unwrap();
        for _ in 0..4 {
            p.enqueue(d(0, 1)).unwrap();
        }
        mem.header().head.store(9, Ordering::Relaxed);
        assert_eq!(p.enqueue(d(0, 1)), Err(EnqueueError::Corrupt));
        assert_eq!(p.stats().corrupt, 1);
        assert_eq!(mem.header().tail.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn own_index_overwritten_by_peer_is_ignored() {
        let mem = NetQueueMemory::<4>::new();
        let (mut p, mut c) = mem.split(4).unwrap();
        p.enqueue(d(1, 1)).unwrap();
        mem.header().head.store(3, Ordering::Relaxed); // the producer scribbles on head
        assert_eq!(c.dequeue(), Ok(d(1, 1)));
        assert_eq!(mem.header().head.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn signal_protocol_single_thread() {
        let mem = NetQueueMemory::<4>::new();
        let (mut p, mut c) = mem.split(4).unwrap();
        // Zeroed memory: a request is pending.
        assert!(p.signal_required());
        assert!(p.take_signal_request());
        assert!(!p.take_signal_request());
        // Consumer re-arms on an empty queue: may sleep.
        assert!(!c.rearm());
        p.enqueue(d(0, 1)).unwrap();
        assert!(p.take_signal_request());
        // Work present: re-arm cancels and says "process again".
        assert!(c.rearm());
        assert!(!p.signal_required());
    }

    #[test]
    fn region_validation() {
        let r = BufferRegion::new(0x1000, 2048, 4).unwrap();
        assert_eq!(r.check_filled(d(0x1000, 1)).unwrap().index(), 0);
        assert_eq!(
            r.check_filled(d(0x1000 + 3 * 2048, 2048)).unwrap().index(),
            3
        );
        assert_eq!(
            r.check_filled(d(0x1000 + 4 * 2048, 1)),
            Err(DescError::OutOfRegion)
        );
        assert_eq!(r.check_filled(d(0xfff, 1)), Err(DescError::OutOfRegion));
        assert_eq!(r.check_filled(d(0x1001, 1)), Err(DescError::Misaligned));
        assert_eq!(r.check_filled(d(0x1000, 0)), Err(DescError::BadLength));
        assert_eq!(r.check_filled(d(0x1000, 2049)), Err(DescError::BadLength));
        assert_eq!(r.check_free(d(0x1000, 9999)).unwrap().len(), 0);
        assert_eq!(r.check_filled(d(u64::MAX, 1)), Err(DescError::Misaligned));
        assert!(BufferRegion::new(u64::MAX - 10, 2048, 1).is_none());
        assert!(BufferRegion::new(0, 0, 1).is_none());
    }

    #[test]
    fn ownership_bitmap() {
        let mut o = Ownership::<2>::new(70, true).unwrap();
        assert_eq!(o.owned(), 70);
        assert!(o.owns(69) && !o.owns(70));
        assert_eq!(o.take(3), Err(DescError::Duplicate));
        o.give(3).unwrap();
        assert_eq!(o.give(3), Err(DescError::NotOwned));
        o.take(3).unwrap();
        assert_eq!(o.take(70), Err(DescError::OutOfRegion));
        assert!(Ownership::<1>::new(65, false).is_none());
        let o = Ownership::<2>::new(70, false).unwrap();
        assert_eq!(o.owned(), 0);
    }

    #[test]
    fn checked_dequeue_counts_rejections() {
        let region = BufferRegion::new(0, 2048, 4).unwrap();
        let mut bufs = NetBuffers::<1>::new(region, false).unwrap();
        let mem = NetQueueMemory::<8>::new();
        let (mut p, mut c) = mem.split(8).unwrap();
        for desc in [d(0, 10), d(0, 10), d(1, 10), d(4096, 0), d(6144, 60)] {
            p.enqueue(desc).unwrap();
        }
        let mut ok = 0;
        loop {
            match c.dequeue_checked(|x| bufs.accept_filled(x)) {
                Ok(_) => ok += 1,
                Err(CheckedError::Rejected { .. }) => {}
                Err(_) => break,
            }
        }
        assert_eq!(ok, 2);
        assert_eq!(c.stats().rejected, 3);
        assert_eq!(bufs.ownership().owned(), 2);
        let b = bufs.first_owned().unwrap();
        assert_eq!(b.index(), 0);
        bufs.give(b).unwrap();
        assert_eq!(bufs.give(b), Err(DescError::NotOwned));
    }

    #[test]
    fn from_raw_over_a_region() {
        #[repr(C, align(8))]
        struct Region([u8; region_size(4)]);
        let mut region = Region([0; region_size(4)]);
        let header = region.0.as_mut_ptr().cast::<NetHeader>();
        // SAFETY: the region is aligned, zeroed, large enough, outlives the
        // handles and is only accessed through them (atomics).
        let (mut p, mut c) = unsafe {
            (
                NetProducer::from_raw(header, entries_of(header), 4).unwrap(),
                NetConsumer::from_raw(header, entries_of(header), 4).unwrap(),
            )
        };
        p.enqueue(d(2048, 5)).unwrap();
        assert_eq!(c.dequeue(), Ok(d(2048, 5)));
        // SAFETY: as above; these calls must fail before touching memory.
        unsafe {
            assert!(NetProducer::from_raw(header, entries_of(header), 3).is_err());
            assert!(NetProducer::from_raw(header, entries_of(header), 65536).is_err());
            assert!(NetProducer::from_raw(core::ptr::null_mut(), entries_of(header), 4).is_err());
            let odd = region.0.as_mut_ptr().wrapping_add(1).cast::<NetHeader>();
            assert!(NetConsumer::from_raw(odd, entries_of(header), 4).is_err());
        }
    }
}
