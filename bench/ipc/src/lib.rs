//! Mantle's IPC benchmark system (`ipc.system`).
//!
//! Two cases, measured one after the other in one boot:
//!
//! | PD | priority | role |
//! |---|---|---|
//! | `server` | 200, passive | best case: replies to every PPC at once, with no registers |
//! | `rserver` | 190, not passive | realistic case: on each PPC reads 4 message registers, touches [`TOUCHED_PAGES`] pages of its [`BIG_PAGES`]-page buffer, replies with 4 registers; on each notification stamps the TSC, then touches the same pages |
//! | `sink` | 150 | best case: on each notification, reads the TSC first thing and stores it in the shared page |
//! | `client` | 100 | best case: starts on `rclient`'s kick, measures, prints `ipcbench: ...`, hands over to `rclient`, powers off when it is done |
//! | `rclient` | 90 | realistic case: has a [`BIG_PAGES`]-page heap mapped; kicks the client when its first wait begins (lowest priority: every PD has initialised by then); measures, prints `ipcbench-realistic: ...` |
//!
//! `client`, `server` and `sink` are small (under 64 pages each), so under
//! TCG the kernel switches between them with its shared-top-level trick;
//! `rclient` and `rserver` map more than 64 pages, so every switch to one
//! of them is a CR3 write whatever the scheme (see
//! `kernel/src/arch/x86_64/vspace.rs`).
//!
//! Method: every sample is the difference of two `rdtsc` readings, each
//! fenced with `lfence` before and after ([`mantle_runtime::rdtsc`]);
//! nothing is subtracted, so every figure includes one fenced `rdtsc`
//! (tens of ticks; a handful of instructions under `-icount`). Each
//! measurement first runs [`WARMUP`] untimed iterations, then
//! [`ITERATIONS`] timed ones; the reported figure is the median (samples
//! sorted in a static buffer). Under QEMU TCG the TSC is the host's, so the
//! numbers are wall-clock ticks of an emulated CPU: compare them only
//! within one run. Under `-icount shift=0` the TSC counts instructions, so
//! the same code reports path lengths (user and kernel code together).
//!
//! - `null_syscall`: `rdtsc`, `NULL` syscall, `rdtsc`.
//! - `ppc_roundtrip`: `rdtsc`, `PPCALL` to the server (another address
//!   space), which replies, `rdtsc`. Realistic case: setting the 4 message
//!   registers before the call and reading the 4 of the reply are inside
//!   the timed window.
//! - `notify_wake`: the client reads the TSC, then `NOTIFY`s the
//!   higher-priority receiver, which preempts it; the receiver's `notified`
//!   reads the TSC first thing and stores it (and a sequence number) in the
//!   shared page. The sample is the receiver's reading minus the client's.
#![no_std]

use core::cell::UnsafeCell;
use mantle_runtime::{debug_println, SharedWords};

/// Timed iterations per measurement.
pub const ITERATIONS: usize = 10_000;
/// Untimed warm-up iterations per measurement.
pub const WARMUP: usize = 1_000;
/// Where client, rclient, sink and rserver map the shared `stamps` region.
pub const SHARED_VADDR: u64 = 0x2000_0000;
/// Shared word: the receiver's TSC reading.
pub const SLOT_STAMP: usize = 0;
/// Shared word: how many notifications the receivers have handled.
pub const SLOT_SEQ: usize = 1;
/// Shared word: `rclient`'s exit status for `client` to power off with
/// (0 when the realistic measurements all succeeded).
pub const SLOT_STATUS: usize = 2;

/// Pages of `rclient`'s heap and of `rserver`'s buffer (the `heap` and
/// `buffer` regions of `ipc.system`): more than the 64 a PD may have to
/// share the live top-level table.
pub const BIG_PAGES: usize = 96;
/// Where `rclient` maps its heap and `rserver` its buffer.
pub const BIG_VADDR: u64 = 0x3000_0000;
/// Pages of its buffer `rserver` touches per call and per notification.
pub const TOUCHED_PAGES: usize = 16;
/// Message registers of the realistic call and of its reply.
pub const REALISTIC_MRS: usize = 4;

/// client: channel to the server (pp).
pub const CLIENT_SERVER: usize = 0;
/// client: channel to the sink.
pub const CLIENT_SINK: usize = 1;
/// client and rclient: the channel between them.
pub const CLIENT_RCLIENT: usize = 2;
/// client: I/O port grant for QEMU's exit port.
pub const CLIENT_EXIT_IOPORT: usize = 0;
/// rclient: channel to the rserver (pp, and notify).
pub const RCLIENT_RSERVER: usize = 0;

/// The shared `stamps` page.
// SAFETY: `ipc.system` maps the 4 KiB `stamps` region at SHARED_VADDR in
// client (read-only; it only reads), rclient, sink and rserver (read-write).
pub const STAMPS: SharedWords = unsafe { SharedWords::new(SHARED_VADDR, 4096) };

/// `rclient`'s heap or `rserver`'s buffer.
// SAFETY: `ipc.system` maps a BIG_PAGES-page region read-write at BIG_VADDR
// in rclient (`heap`) and rserver (`buffer`); only those two use it.
pub const BIG: SharedWords = unsafe { SharedWords::new(BIG_VADDR, BIG_PAGES * 4096) };

/// Read shared word `slot`.
pub fn shared_read(slot: usize) -> u64 {
    STAMPS.read(slot)
}

/// Write shared word `slot` (not the client: it maps the page read-only).
pub fn shared_write(slot: usize, value: u64) {
    STAMPS.write(slot, value)
}

/// A notification receiver's first act: store the TSC reading `t` and
/// count the notification.
pub fn stamp(t: u64) {
    shared_write(SLOT_STAMP, t);
    shared_write(SLOT_SEQ, shared_read(SLOT_SEQ).wrapping_add(1));
}

/// Read and write the first word of each of the first [`TOUCHED_PAGES`]
/// pages of [`BIG`] (`rserver`'s working set); returns their sum.
pub fn touch_pages(add: u64) -> u64 {
    let mut sum = 0u64;
    for page in 0..TOUCHED_PAGES {
        let i = page * 4096 / 8;
        let v = BIG.read(i).wrapping_add(add);
        BIG.write(i, v);
        sum = sum.wrapping_add(v);
    }
    sum
}

/// The sample buffer (80 KB: too big for the stack).
struct Samples(UnsafeCell<[u64; ITERATIONS]>);

// SAFETY: a PD is single-threaded; only `measure` touches the buffer and it
// is never re-entered (its `sample` closures do not call it).
unsafe impl Sync for Samples {}

static SAMPLES: Samples = Samples(UnsafeCell::new([0; ITERATIONS]));

/// Warm up, then time `ITERATIONS` runs of `sample` (which returns one
/// sample in ticks, or `None` for a failed run) and return the median, or
/// `None` (after saying so) if any run failed.
pub fn measure(what: &str, mut sample: impl FnMut() -> Option<u64>) -> Option<u64> {
    for _ in 0..WARMUP {
        let _ = sample();
    }
    // SAFETY: see `Samples`: this is the only access path, and it is not
    // re-entered.
    let buf = unsafe { &mut *SAMPLES.0.get() };
    let mut failures = 0;
    for slot in buf.iter_mut() {
        *slot = match sample() {
            Some(v) => v,
            None => {
                failures += 1;
                u64::MAX
            }
        };
    }
    if failures > 0 {
        debug_println!("ipcbench: {}: {} failed iterations", what, failures);
        return None;
    }
    buf.sort_unstable();
    Some(buf[ITERATIONS / 2])
}
