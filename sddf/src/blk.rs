//! Block queues: requests one way, responses the other, plus the
//! storage-info page.
//!
//! Transfers are in [`TRANSFER_SIZE`] (4096-byte) units. Shared layout:
//!
//! ```text
//! header (16 bytes): head: u32, tail: u32, consumer_signalled: u32, reserved: u32
//! request  slots (32 bytes): code: u32, _, io_or_offset: u64, block_number: u64, count: u16, _, id: u32
//! response slots (12 bytes): status: u32, success_count: u16, _, id: u32
//! ```
//!
//! The entry fields are sDDF's. sDDF's block queues always notify; ours carry
//! the same `consumer_signalled` flag as the network queues so the
//! [signal-only-when-asked protocol](crate::signal) works on them too (a
//! component that always notifies may ignore it).
//!
//! # Invariants
//!
//! The [ring invariants](crate::ring#invariants) hold. Opcodes and statuses
//! travel as raw `u32`s and are parsed, never transmuted: a peer writing an
//! unknown value gets [`RequestError::BadCode`] / [`ResponseError::BadStatus`],
//! not undefined behaviour. [`Request::check`] validates a request against the
//! consumer's own idea of the data region (aligned, inside, no overflow);
//! [`StorageInfo::snapshot`] copies the info page once into private memory.

use crate::ring::{Consumer, ConsumerSignalled, Entry, Layout, Producer, QueueMemory, RingHeader};
use crate::sync::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// The unit of transfer, in bytes.
pub const TRANSFER_SIZE: u64 = 4096;

/// Request opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ReqCode {
    /// Read `count` blocks into the buffer.
    Read = 0,
    /// Write `count` blocks from the buffer.
    Write = 1,
    /// Flush the device's write cache.
    Flush = 2,
    /// Order: complete everything before before anything after.
    Barrier = 3,
}

impl ReqCode {
    /// Parses a raw opcode.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Read,
            1 => Self::Write,
            2 => Self::Flush,
            3 => Self::Barrier,
            _ => return None,
        })
    }
}

/// Response statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum RespStatus {
    /// Success.
    Ok = 0,
    /// Unspecified error.
    ErrUnspec = 1,
    /// Invalid request parameters.
    ErrInvalidParam = 2,
    /// The device failed to complete the request.
    ErrIo = 3,
    /// No device (e.g. removed).
    ErrNoDevice = 4,
}

impl RespStatus {
    /// Parses a raw status.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::Ok,
            1 => Self::ErrUnspec,
            2 => Self::ErrInvalidParam,
            3 => Self::ErrIo,
            4 => Self::ErrNoDevice,
            _ => return None,
        })
    }
}

/// A request (private copy; `code` raw until [`check`](Self::check)ed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Request {
    /// Raw [`ReqCode`].
    pub code: u32,
    /// Offset into the data region, or DMA address.
    pub io_or_offset: u64,
    /// First block (in [`TRANSFER_SIZE`] units).
    pub block_number: u64,
    /// Number of blocks.
    pub count: u16,
    /// The requester's id, echoed in the response.
    pub id: u32,
}

/// A response (private copy; `status` raw until parsed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Response {
    /// Raw [`RespStatus`].
    pub status: u32,
    /// Blocks transferred.
    pub success_count: u16,
    /// The request's id.
    pub id: u32,
}

/// A request's slot in shared memory.
#[repr(C)]
#[derive(Debug)]
pub struct RequestSlot {
    /// Raw opcode.
    pub code: AtomicU32,
    /// Offset or DMA address.
    pub io_or_offset: AtomicU64,
    /// First block.
    pub block_number: AtomicU64,
    /// Number of blocks.
    pub count: AtomicU16,
    /// Request id.
    pub id: AtomicU32,
}

/// A response's slot in shared memory.
#[repr(C)]
#[derive(Debug)]
pub struct ResponseSlot {
    /// Raw status.
    pub status: AtomicU32,
    /// Blocks transferred.
    pub success_count: AtomicU16,
    /// Request id.
    pub id: AtomicU32,
}

impl Entry for Request {
    type Slot = RequestSlot;

    fn zeroed_slot() -> RequestSlot {
        RequestSlot {
            code: AtomicU32::new(0),
            io_or_offset: AtomicU64::new(0),
            block_number: AtomicU64::new(0),
            count: AtomicU16::new(0),
            id: AtomicU32::new(0),
        }
    }
    fn load(s: &RequestSlot) -> Self {
        Self {
            code: s.code.load(Ordering::Relaxed),
            io_or_offset: s.io_or_offset.load(Ordering::Relaxed),
            block_number: s.block_number.load(Ordering::Relaxed),
            count: s.count.load(Ordering::Relaxed),
            id: s.id.load(Ordering::Relaxed),
        }
    }
    fn store(s: &RequestSlot, v: Self) {
        s.code.store(v.code, Ordering::Relaxed);
        s.io_or_offset.store(v.io_or_offset, Ordering::Relaxed);
        s.block_number.store(v.block_number, Ordering::Relaxed);
        s.count.store(v.count, Ordering::Relaxed);
        s.id.store(v.id, Ordering::Relaxed);
    }
}

impl Entry for Response {
    type Slot = ResponseSlot;

    fn zeroed_slot() -> ResponseSlot {
        ResponseSlot {
            status: AtomicU32::new(0),
            success_count: AtomicU16::new(0),
            id: AtomicU32::new(0),
        }
    }
    fn load(s: &ResponseSlot) -> Self {
        Self {
            status: s.status.load(Ordering::Relaxed),
            success_count: s.success_count.load(Ordering::Relaxed),
            id: s.id.load(Ordering::Relaxed),
        }
    }
    fn store(s: &ResponseSlot, v: Self) {
        s.status.store(v.status, Ordering::Relaxed);
        s.success_count.store(v.success_count, Ordering::Relaxed);
        s.id.store(v.id, Ordering::Relaxed);
    }
}

/// The shared header of a block queue (requests and responses alike).
#[repr(C)]
#[derive(Debug)]
pub struct BlkHeader {
    /// Consumer's free-running counter.
    pub head: AtomicU32,
    /// Producer's free-running counter.
    pub tail: AtomicU32,
    /// 0: the consumer asks for a signal. See [`signal`](crate::signal).
    pub consumer_signalled: AtomicU32,
    /// Reserved (keeps the slots 16-byte aligned from the header).
    pub reserved: AtomicU32,
}

impl RingHeader for BlkHeader {
    const COUNTER_MASK: u32 = u32::MAX;

    fn zeroed() -> Self {
        Self {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            consumer_signalled: AtomicU32::new(0),
            reserved: AtomicU32::new(0),
        }
    }
    crate::ring::u32_counters!();
}

impl ConsumerSignalled for BlkHeader {
    fn consumer_signalled(&self) -> &AtomicU32 {
        &self.consumer_signalled
    }
}

/// The request queue layout.
#[derive(Debug)]
pub enum RequestQueue {}
/// The response queue layout.
#[derive(Debug)]
pub enum ResponseQueue {}

impl Layout for RequestQueue {
    type Header = BlkHeader;
    type Entry = Request;
}
impl Layout for ResponseQueue {
    type Header = BlkHeader;
    type Entry = Response;
}

/// Producer handle on a request queue (the client's side).
pub type RequestProducer<'a> = Producer<'a, RequestQueue>;
/// Consumer handle on a request queue (the virtualiser's or driver's side).
pub type RequestConsumer<'a> = Consumer<'a, RequestQueue>;
/// Producer handle on a response queue.
pub type ResponseProducer<'a> = Producer<'a, ResponseQueue>;
/// Consumer handle on a response queue.
pub type ResponseConsumer<'a> = Consumer<'a, ResponseQueue>;
/// Owned memory for a request queue of up to `N` entries.
pub type RequestQueueMemory<const N: usize> = QueueMemory<RequestQueue, N>;
/// Owned memory for a response queue of up to `N` entries.
pub type ResponseQueueMemory<const N: usize> = QueueMemory<ResponseQueue, N>;

/// Offset of the slot array from the start of a queue region.
pub const ENTRIES_OFFSET: usize = 16;

/// The slot array of a queue region that starts with its header (pure
/// address arithmetic, for `from_raw`).
pub fn entries_of<S>(header: *mut BlkHeader) -> *mut S {
    header.cast::<u8>().wrapping_add(ENTRIES_OFFSET).cast()
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Unknown opcode (the raw value).
    BadCode(u32),
    /// A read or write of zero blocks.
    BadCount,
    /// `io_or_offset` not a multiple of [`TRANSFER_SIZE`].
    Misaligned,
    /// The buffer runs outside the data region, or `block_number + count`
    /// overflows.
    OutOfRegion,
}

/// A request that passed [`Request::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidRequest {
    /// The opcode.
    pub code: ReqCode,
    /// Offset into the data region (READ/WRITE; 0 otherwise).
    pub offset: u64,
    /// First block (READ/WRITE; 0 otherwise).
    pub block_number: u64,
    /// Blocks (READ/WRITE; 0 otherwise).
    pub count: u16,
    /// The requester's id.
    pub id: u32,
}

impl Request {
    /// A request with a typed opcode.
    pub fn new(code: ReqCode, io_or_offset: u64, block_number: u64, count: u16, id: u32) -> Self {
        Self {
            code: code as u32,
            io_or_offset,
            block_number,
            count,
            id,
        }
    }

    /// Validates a request against this side's data region of
    /// `data_region_size` bytes (offsets from 0): a known opcode; for READ
    /// and WRITE, `count > 0`, an aligned offset and `count` blocks inside
    /// the region; block ranges that do not overflow. Device bounds
    /// (`block_number + count <= capacity`) are the caller's to check, it
    /// alone knows the device or partition.
    pub fn check(&self, data_region_size: u64) -> Result<ValidRequest, RequestError> {
        let code = ReqCode::from_raw(self.code).ok_or(RequestError::BadCode(self.code))?;
        match code {
            ReqCode::Flush | ReqCode::Barrier => Ok(ValidRequest {
                code,
                offset: 0,
                block_number: 0,
                count: 0,
                id: self.id,
            }),
            ReqCode::Read | ReqCode::Write => {
                if self.count == 0 {
                    return Err(RequestError::BadCount);
                }
                if self.io_or_offset % TRANSFER_SIZE != 0 {
                    return Err(RequestError::Misaligned);
                }
                let len = u64::from(self.count) * TRANSFER_SIZE;
                let end = self
                    .io_or_offset
                    .checked_add(len)
                    .ok_or(RequestError::OutOfRegion)?;
                if end > data_region_size {
                    return Err(RequestError::OutOfRegion);
                }
                self.block_number
                    .checked_add(u64::from(self.count))
                    .ok_or(RequestError::OutOfRegion)?;
                Ok(ValidRequest {
                    code,
                    offset: self.io_or_offset,
                    block_number: self.block_number,
                    count: self.count,
                    id: self.id,
                })
            }
        }
    }
}

/// Why a response was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// Unknown status (the raw value).
    BadStatus(u32),
    /// The id is not one this side has in flight.
    UnknownId(u32),
}

impl Response {
    /// A response with a typed status.
    pub fn new(status: RespStatus, success_count: u16, id: u32) -> Self {
        Self {
            status: status as u32,
            success_count,
            id,
        }
    }

    /// Parses the status and checks the id against `max_ids` (ids are
    /// `0..max_ids`, indices into the requester's private table). The caller
    /// still checks that the id is in flight and `success_count` is at most
    /// the request's `count`.
    pub fn check(&self, max_ids: u32) -> Result<(RespStatus, u16, u32), ResponseError> {
        let status =
            RespStatus::from_raw(self.status).ok_or(ResponseError::BadStatus(self.status))?;
        if self.id >= max_ids {
            return Err(ResponseError::UnknownId(self.id));
        }
        Ok((status, self.success_count, self.id))
    }
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<BlkHeader>() == ENTRIES_OFFSET);
    assert!(offset_of!(BlkHeader, head) == 0);
    assert!(offset_of!(BlkHeader, tail) == 4);
    assert!(size_of::<RequestSlot>() == 32);
    assert!(offset_of!(RequestSlot, code) == 0);
    assert!(offset_of!(RequestSlot, io_or_offset) == 8);
    assert!(offset_of!(RequestSlot, block_number) == 16);
    assert!(offset_of!(RequestSlot, count) == 24);
    assert!(offset_of!(RequestSlot, id) == 28);
    assert!(size_of::<ResponseSlot>() == 12);
    assert!(offset_of!(ResponseSlot, status) == 0);
    assert!(offset_of!(ResponseSlot, success_count) == 4);
    assert!(offset_of!(ResponseSlot, id) == 8);
    assert!(size_of::<StorageInfo>() == 88);
    assert!(size_of::<StorageInfo>() <= STORAGE_INFO_REGION_SIZE);
    assert!(offset_of!(StorageInfo, read_only) == 64);
    assert!(offset_of!(StorageInfo, ready) == 65);
    assert!(offset_of!(StorageInfo, sector_size) == 66);
    assert!(offset_of!(StorageInfo, capacity) == 80);
};

/// Size of the storage-info region.
pub const STORAGE_INFO_REGION_SIZE: usize = 0x1000;
/// Maximum length of the serial number (the field is one byte longer, for a
/// terminating NUL).
pub const MAX_SERIAL_NUMBER: usize = 63;

/// The storage-info page, written by the driver (or virtualiser) and read by
/// its clients. Same fields as sDDF's `blk_storage_info`; the booleans are
/// bytes (0 = false) so no peer can write an invalid `bool`.
#[repr(C)]
#[derive(Debug)]
pub struct StorageInfo {
    /// Serial number, NUL-terminated.
    pub serial_number: [AtomicU8; MAX_SERIAL_NUMBER + 1],
    /// Non-zero: the device refuses writes.
    pub read_only: AtomicU8,
    /// Non-zero: the page is populated (Release store / Acquire load).
    pub ready: AtomicU8,
    /// Sector size in bytes.
    pub sector_size: AtomicU16,
    /// Optimal block size, in [`TRANSFER_SIZE`] units.
    pub block_size: AtomicU16,
    /// Queue depth.
    pub queue_depth: AtomicU16,
    /// Geometry: cylinders.
    pub cylinders: AtomicU16,
    /// Geometry: heads.
    pub heads: AtomicU16,
    /// Geometry: blocks.
    pub blocks: AtomicU16,
    /// Capacity in [`TRANSFER_SIZE`] units.
    pub capacity: AtomicU64,
}

/// A private copy of the storage-info page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageDetails {
    /// Serial number bytes (always NUL-terminated within the array).
    pub serial_number: [u8; MAX_SERIAL_NUMBER + 1],
    /// The device refuses writes.
    pub read_only: bool,
    /// Sector size in bytes.
    pub sector_size: u16,
    /// Optimal block size, in transfer units.
    pub block_size: u16,
    /// Queue depth.
    pub queue_depth: u16,
    /// Geometry: cylinders.
    pub cylinders: u16,
    /// Geometry: heads.
    pub heads: u16,
    /// Geometry: blocks.
    pub blocks: u16,
    /// Capacity in transfer units.
    pub capacity: u64,
}

impl Default for StorageDetails {
    fn default() -> Self {
        Self {
            serial_number: [0; MAX_SERIAL_NUMBER + 1],
            read_only: false,
            sector_size: 0,
            block_size: 0,
            queue_depth: 0,
            cylinders: 0,
            heads: 0,
            blocks: 0,
            capacity: 0,
        }
    }
}

impl StorageDetails {
    /// The serial number up to its NUL.
    pub fn serial(&self) -> &[u8] {
        let end = self
            .serial_number
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(MAX_SERIAL_NUMBER);
        &self.serial_number[..end]
    }
}

impl StorageInfo {
    /// A zeroed page (not ready).
    pub fn zeroed() -> Self {
        Self {
            serial_number: core::array::from_fn(|_| AtomicU8::new(0)),
            read_only: AtomicU8::new(0),
            ready: AtomicU8::new(0),
            sector_size: AtomicU16::new(0),
            block_size: AtomicU16::new(0),
            queue_depth: AtomicU16::new(0),
            cylinders: AtomicU16::new(0),
            heads: AtomicU16::new(0),
            blocks: AtomicU16::new(0),
            capacity: AtomicU64::new(0),
        }
    }

    /// Whether the page is populated (Acquire: the fields written before
    /// [`publish`](Self::publish) are visible after this returns `true`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) != 0
    }

    /// Marks the page (not) ready, with a Release store.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(u8::from(ready), Ordering::Release);
    }

    /// Writes every field, then marks the page ready (writer's side).
    pub fn publish(&self, d: &StorageDetails) {
        for (s, &b) in self.serial_number.iter().zip(d.serial_number.iter()) {
            s.store(b, Ordering::Relaxed);
        }
        self.serial_number[MAX_SERIAL_NUMBER].store(0, Ordering::Relaxed);
        self.read_only
            .store(u8::from(d.read_only), Ordering::Relaxed);
        self.sector_size.store(d.sector_size, Ordering::Relaxed);
        self.block_size.store(d.block_size, Ordering::Relaxed);
        self.queue_depth.store(d.queue_depth, Ordering::Relaxed);
        self.cylinders.store(d.cylinders, Ordering::Relaxed);
        self.heads.store(d.heads, Ordering::Relaxed);
        self.blocks.store(d.blocks, Ordering::Relaxed);
        self.capacity.store(d.capacity, Ordering::Relaxed);
        self.set_ready(true);
    }

    /// Copies the page into private memory if it is ready (reader's side).
    /// Each field is read once; the serial number is forced NUL-terminated.
    pub fn snapshot(&self) -> Option<StorageDetails> {
        if !self.is_ready() {
            return None;
        }
        let mut serial_number = [0u8; MAX_SERIAL_NUMBER + 1];
        for (d, s) in serial_number[..MAX_SERIAL_NUMBER]
            .iter_mut()
            .zip(self.serial_number.iter())
        {
            *d = s.load(Ordering::Relaxed);
        }
        Some(StorageDetails {
            serial_number,
            read_only: self.read_only.load(Ordering::Relaxed) != 0,
            sector_size: self.sector_size.load(Ordering::Relaxed),
            block_size: self.block_size.load(Ordering::Relaxed),
            queue_depth: self.queue_depth.load(Ordering::Relaxed),
            cylinders: self.cylinders.load(Ordering::Relaxed),
            heads: self.heads.load(Ordering::Relaxed),
            blocks: self.blocks.load(Ordering::Relaxed),
            capacity: self.capacity.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::CheckedError;

    #[test]
    fn request_response_round_trip() {
        let req = RequestQueueMemory::<4>::new();
        let resp = ResponseQueueMemory::<4>::new();
        let (mut client_req, mut driver_req) = req.split(4).unwrap();
        let (mut driver_resp, mut client_resp) = resp.split(4).unwrap();
        client_req
            .enqueue(Request::new(ReqCode::Read, 8192, 10, 2, 7))
            .unwrap();
        client_req
            .enqueue(Request::new(ReqCode::Flush, 0, 0, 0, 8))
            .unwrap();
        assert!(client_req.take_signal_request());
        let r = driver_req.dequeue_checked(|r| r.check(16384)).unwrap();
        assert_eq!(
            (r.code, r.offset, r.block_number, r.count, r.id),
            (ReqCode::Read, 8192, 10, 2, 7)
        );
        let f = driver_req.dequeue_checked(|r| r.check(16384)).unwrap();
        assert_eq!(f.code, ReqCode::Flush);
        driver_resp
            .enqueue(Response::new(RespStatus::Ok, 2, 7))
            .unwrap();
        let back = client_resp.dequeue().unwrap();
        assert_eq!(back.check(16), Ok((RespStatus::Ok, 2, 7)));
    }

    #[test]
    fn request_validation() {
        let rq = |code, off, blk, count| Request {
            code,
            io_or_offset: off,
            block_number: blk,
            count,
            id: 0,
        };
        assert_eq!(rq(9, 0, 0, 1).check(1 << 20), Err(RequestError::BadCode(9)));
        assert_eq!(rq(0, 0, 0, 0).check(1 << 20), Err(RequestError::BadCount));
        assert_eq!(
            rq(1, 100, 0, 1).check(1 << 20),
            Err(RequestError::Misaligned)
        );
        assert_eq!(
            rq(0, 4096, 0, 256).check(1 << 20),
            Err(RequestError::OutOfRegion)
        );
        assert!(rq(0, 4096, 0, 255).check(1 << 20).is_ok());
        assert_eq!(
            rq(0, u64::MAX - 4095, 0, 2).check(u64::MAX),
            Err(RequestError::OutOfRegion)
        );
        assert_eq!(
            rq(0, 0, u64::MAX, 2).check(1 << 20),
            Err(RequestError::OutOfRegion)
        );
        assert!(rq(3, 12345, 0, 0).check(0).is_ok());
    }

    #[test]
    fn bad_codes_are_counted() {
        let req = RequestQueueMemory::<4>::new();
        let (mut p, mut c) = req.split(4).unwrap();
        p.enqueue(Request {
            code: 77,
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(
            c.dequeue_checked(|r| r.check(4096)),
            Err(CheckedError::Rejected {
                reason: RequestError::BadCode(77),
                ..
            })
        ));
        assert_eq!(c.stats().rejected, 1);
        assert_eq!(
            Response {
                status: 5,
                success_count: 0,
                id: 0
            }
            .check(1),
            Err(ResponseError::BadStatus(5))
        );
        assert_eq!(
            Response::new(RespStatus::ErrIo, 0, 3).check(3),
            Err(ResponseError::UnknownId(3))
        );
    }

    #[test]
    fn storage_info_page() {
        let page = StorageInfo::zeroed();
        assert_eq!(page.snapshot(), None);
        let mut d = StorageDetails {
            read_only: true,
            sector_size: 512,
            block_size: 1,
            queue_depth: 128,
            capacity: 1 << 20,
            ..Default::default()
        };
        d.serial_number[..4].copy_from_slice(b"QEMU");
        page.publish(&d);
        let s = page.snapshot().unwrap();
        assert_eq!(s, d);
        assert_eq!(s.serial(), b"QEMU");
        // A peer that fills the serial number without a NUL cannot make the
        // reader run off the end.
        for b in &page.serial_number {
            b.store(b'x', Ordering::Relaxed);
        }
        let s = page.snapshot().unwrap();
        assert_eq!(s.serial().len(), MAX_SERIAL_NUMBER);
    }
}
