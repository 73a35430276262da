//! The atomics the crate uses, from `core` normally and from loom when built
//! with `--cfg loom` (so the loom models in `tests/loom.rs` check the very code
//! the protection domains run).
//!
//! Under loom, the header and slot types are loom's tracking objects, not the
//! `#[repr(C)]` shared-memory layout: loom builds are for the models only, and
//! the layout assertions are compiled out there.

#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

#[cfg(not(loom))]
pub use core::sync::atomic::{fence, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
