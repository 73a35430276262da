//! A cell for kernel-global state on a single CPU.
//!
//! Mantle runs on one CPU and the kernel always runs with interrupts
//! disabled, except in the idle loop, which holds no reference to kernel
//! state. So at any moment at most one kernel entry is active, and each
//! entry point takes the one `&mut` it needs from a [`Global`] and passes it
//! down. Nothing else touches the cell.

use core::cell::UnsafeCell;

/// Kernel-global state, accessed only from kernel entry points.
pub struct Global<T>(UnsafeCell<T>);

// SAFETY: single CPU, and kernel code never runs concurrently with itself
// (interrupts are off in the kernel); see the module documentation.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    /// Wrap `value`.
    pub const fn new(value: T) -> Self {
        Global(UnsafeCell::new(value))
    }

    /// A raw pointer to the value (always valid).
    pub const fn as_ptr(&self) -> *mut T {
        self.0.get()
    }

    /// The value.
    ///
    /// # Safety
    /// No other reference to the value may be live: call this once per
    /// kernel entry, at the entry point.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get(&self) -> &mut T {
        // SAFETY: the caller guarantees exclusive access.
        unsafe { &mut *self.0.get() }
    }
}
