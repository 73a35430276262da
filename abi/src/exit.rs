//! Power-off statuses: what a system writes to QEMU's `isa-debug-exit`
//! device (port 0xf4) when it ends. QEMU then exits with
//! `(status << 1) | 1`, and `mantle run` exits with `status`.
//!
//! PDs choose their own statuses (the test systems use 0 for success and 1
//! for failure); the kernel uses the two below, which PDs should not.

/// The kernel could not go on: a boot error or a kernel panic (the line
/// before it says which).
pub const KERNEL_ERROR: u8 = 3;

/// The system deadlocked: no PD could run and nothing could wake one (the
/// kernel printed `mantle: deadlock: ...` and each PD's state before).
pub const DEADLOCK: u8 = 4;
