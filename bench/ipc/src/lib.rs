//! Mantle's IPC benchmark system (`ipc.system`).
//!
//! | PD | priority | role |
//! |---|---|---|
//! | `server` | 200, passive | replies to every PPC at once, with no registers |
//! | `sink` | 150 | on each notification, reads the TSC first thing and stores it in the shared page |
//! | `client` | 100 | runs the measurements, prints one line, powers off |
//!
//! Method: every sample is the difference of two `rdtsc` readings, each
//! fenced with `lfence` before and after ([`mantle_runtime::rdtsc`]);
//! nothing is subtracted, so every figure includes one fenced `rdtsc`
//! (tens of ticks). Each measurement first runs [`WARMUP`] untimed
//! iterations, then [`ITERATIONS`] timed ones; the reported figure is the
//! median (samples sorted in a static buffer). Under QEMU TCG the TSC is the
//! host's, so the numbers are wall-clock ticks of an emulated CPU: compare
//! them only within one run.
//!
//! - `null_syscall`: `rdtsc`, `NULL` syscall, `rdtsc`.
//! - `ppc_roundtrip`: `rdtsc`, `PPCALL` with zero message registers to the
//!   passive server (another address space), which replies at once,
//!   `rdtsc`.
//! - `notify_wake`: the client reads the TSC, then `NOTIFY`s the
//!   higher-priority sink, which preempts it; the sink's `notified` reads
//!   the TSC first thing and stores it (and a sequence number) in the shared
//!   page. The sample is the sink's reading minus the client's.
#![no_std]

use mantle_runtime::SharedWords;

/// Timed iterations per measurement.
pub const ITERATIONS: usize = 10_000;
/// Untimed warm-up iterations per measurement.
pub const WARMUP: usize = 1_000;
/// Where both client and sink map the shared `stamps` region.
pub const SHARED_VADDR: u64 = 0x2000_0000;
/// Shared word: the sink's TSC reading.
pub const SLOT_STAMP: usize = 0;
/// Shared word: how many notifications the sink has handled.
pub const SLOT_SEQ: usize = 1;

/// client: channel to the server (pp).
pub const CLIENT_SERVER: usize = 0;
/// client: channel to the sink.
pub const CLIENT_SINK: usize = 1;
/// client: I/O port grant for QEMU's exit port.
pub const CLIENT_EXIT_IOPORT: usize = 0;

/// The shared `stamps` page.
// SAFETY: `ipc.system` maps the 4 KiB `stamps` region at SHARED_VADDR in the
// client (read-only; it only reads) and the sink (read-write).
pub const STAMPS: SharedWords = unsafe { SharedWords::new(SHARED_VADDR, 4096) };

/// Read shared word `slot`.
pub fn shared_read(slot: usize) -> u64 {
    STAMPS.read(slot)
}

/// Write shared word `slot` (the sink only).
pub fn shared_write(slot: usize, value: u64) {
    STAMPS.write(slot, value)
}
