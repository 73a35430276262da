//! The layout of a serial queue region, fixed at build time and known
//! privately by both ends (never read from shared memory).
//!
//! Hand-written systems: a region of [`REGION_SIZE`] bytes holds the header
//! (`sddf::serial::SerialHeader`, 12 bytes) at offset 0 and the data ring
//! of [`CAPACITY`] bytes at [`DATA_OFFSET`]. In an SDF:
//!
//! ```xml
//! <memory_region name="tx_client1" size="0x2000" />
//! <map mr="tx_client1" vaddr="0x20000000" perms="rw" setvar_vaddr="tx_queue" />
//! ```
//!
//! Composed systems (`<serial_subsystem>`): the tool gives each queue a
//! header region and a data region and writes both addresses into the
//! component's `__mantle_config` (`mantle_config::serial`); see
//! [`QueueAddr::from_config`]. Every component tries the configuration
//! first and falls back to its `setvar`s when the image was not patched.

use sddf::serial::{SerialConsumer, SerialHeader, SerialProducer};
use sddf::SetupError;

/// Size of one queue region.
pub const REGION_SIZE: usize = 0x2000;
/// Offset of the data ring in the region.
pub const DATA_OFFSET: usize = 0x1000;
/// Bytes in the data ring (a power of two).
pub const CAPACITY: usize = 0x1000;

const _: () = assert!(DATA_OFFSET + CAPACITY <= REGION_SIZE);
const _: () = assert!(core::mem::size_of::<SerialHeader>() <= DATA_OFFSET);

/// Where one queue's header and data ring are, and the ring's capacity:
/// from [`QueueAddr::in_region`] (the single-region layout above, used
/// with `setvar_vaddr`) or from a composed system's configuration
/// ([`QueueAddr::from_config`]: separate header and data regions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueAddr {
    /// Address of the `SerialHeader`.
    pub header: u64,
    /// Address of the data ring.
    pub data: u64,
    /// Bytes in the ring (checked to be a power of two by the handles).
    pub capacity: usize,
}

impl QueueAddr {
    /// The layout of a [`REGION_SIZE`] region mapped at `vaddr`.
    pub const fn in_region(vaddr: u64) -> Self {
        QueueAddr {
            header: vaddr,
            data: vaddr + DATA_OFFSET as u64,
            capacity: CAPACITY,
        }
    }

    /// The queue a component's configuration describes (the ring's size is
    /// its capacity). `None` if a region is empty or too small for the
    /// header, or the size does not fit this machine.
    pub fn from_config(q: &mantle_config::serial::SerialQueue) -> Option<Self> {
        let header_fits = q.queue.size as usize >= core::mem::size_of::<SerialHeader>();
        if !q.queue.is_valid() || !q.data.is_valid() || !header_fits {
            return None;
        }
        Some(QueueAddr {
            header: q.queue.vaddr,
            data: q.data.vaddr,
            capacity: usize::try_from(q.data.size).ok()?,
        })
    }

    /// The producer end.
    ///
    /// # Safety
    /// `header` and `data` must be read-write mappings of the queue's
    /// header and of `capacity` ring bytes, valid for the rest of the PD's
    /// life and accessed in this PD only through this handle; this PD must
    /// be the queue's only producer.
    pub unsafe fn producer(self) -> Result<SerialProducer<'static>, SetupError> {
        // SAFETY: the caller's contract.
        unsafe {
            SerialProducer::from_raw(
                self.header as usize as *mut SerialHeader,
                self.data as usize as *mut _,
                self.capacity,
            )
        }
    }

    /// The consumer end.
    ///
    /// # Safety
    /// As for [`producer`](Self::producer), with "only consumer".
    pub unsafe fn consumer(self) -> Result<SerialConsumer<'static>, SetupError> {
        // SAFETY: the caller's contract.
        unsafe {
            SerialConsumer::from_raw(
                self.header as usize as *mut SerialHeader,
                self.data as usize as *mut _,
                self.capacity,
            )
        }
    }
}

/// The producer end of the queue region mapped at `vaddr`.
///
/// # Safety
/// `vaddr` must be the address of a read-write mapping of a
/// [`REGION_SIZE`]-byte queue region valid for the rest of the PD's life,
/// accessed in this PD only through this handle, and this PD must be the
/// queue's only producer.
pub unsafe fn producer(vaddr: u64) -> Result<SerialProducer<'static>, SetupError> {
    // SAFETY: the caller's contract covers the header and the ring, both
    // inside the region.
    unsafe { QueueAddr::in_region(vaddr).producer() }
}

/// The consumer end of the queue region mapped at `vaddr`.
///
/// # Safety
/// As for [`producer`], with "only consumer".
pub unsafe fn consumer(vaddr: u64) -> Result<SerialConsumer<'static>, SetupError> {
    // SAFETY: as in `producer`.
    unsafe { QueueAddr::in_region(vaddr).consumer() }
}

/// Counters the UART driver publishes in an optional read-only "stats"
/// region (`setvar_vaddr="uart_stats"` in the driver, mapped `r` by
/// whoever watches it, e.g. a benchmark or the PD that powers off).
#[repr(C)]
#[derive(Debug, Default)]
pub struct UartStats {
    /// Bytes written to the UART's transmitter.
    pub tx_bytes: core::sync::atomic::AtomicU64,
    /// Bytes received.
    pub rx_bytes: core::sync::atomic::AtomicU64,
    /// Bytes received but dropped (rx queue full).
    pub rx_dropped: core::sync::atomic::AtomicU64,
    /// 1 while the tx queue and the transmit FIFO are empty, else 0.
    pub idle: core::sync::atomic::AtomicU64,
}

/// The stats region mapped at `vaddr`.
///
/// # Safety
/// `vaddr` must be the address of a mapping (read-only is enough for
/// readers) of at least `size_of::<UartStats>()` bytes valid for the rest of
/// the PD's life, aligned to 8, accessed only atomically.
pub unsafe fn stats(vaddr: u64) -> &'static UartStats {
    // SAFETY: the caller guarantees the mapping; every field is an atomic,
    // so concurrent writes by the driver are sound.
    unsafe { &*(vaddr as *const UartStats) }
}

/// Decode this PD's configuration of type `C` from its `__mantle_config`
/// blob (declared with `mantle_config::config_blob!()`): `None` when the
/// tool did not patch it (a hand-written SDF: use the `setvar`s). A
/// patched but invalid blob is a build error, so it panics with the reason.
pub fn load_config<C, B>(blob: &B) -> Option<C>
where
    C: mantle_config::Config,
    B: mantle_config::Bytes + ?Sized,
{
    match mantle_config::decode::<C, B>(blob) {
        Ok(c) => Some(c),
        Err(mantle_config::Error::NotPatched) => None,
        Err(e) => panic!("bad __mantle_config: {}", e),
    }
}
