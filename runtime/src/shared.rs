//! Words of a memory region shared with other PDs.
//!
//! A region another PD may write at any moment must not be reached through
//! Rust references; [`SharedWords`] reads and writes whole aligned words
//! volatilely and bounds-checks every index, so what a peer writes can
//! change values but never where this PD reads or writes.

/// A run of `u64` words at a fixed virtual address, mapped by the SDF.
#[derive(Clone, Copy, Debug)]
pub struct SharedWords {
    base: u64,
    words: usize,
}

impl SharedWords {
    /// The `bytes`-byte region at `vaddr`.
    ///
    /// # Safety
    /// The SDF must map `vaddr..vaddr + bytes` into this PD (readable, and
    /// writable if [`SharedWords::write`] is used), `vaddr` must be 8-byte
    /// aligned, and no Rust reference may cover the region.
    pub const unsafe fn new(vaddr: u64, bytes: usize) -> SharedWords {
        SharedWords {
            base: vaddr,
            words: bytes / 8,
        }
    }

    /// Number of words.
    pub const fn len(&self) -> usize {
        self.words
    }

    /// Whether the region holds no whole word.
    pub const fn is_empty(&self) -> bool {
        self.words == 0
    }

    /// Word `index`. Panics if `index >= len()`.
    #[inline]
    pub fn read(&self, index: usize) -> u64 {
        assert!(index < self.words, "shared word {index} out of range");
        // SAFETY: `new`'s contract maps the region; the index is in bounds
        // and the address 8-byte aligned.
        unsafe { (self.base as *const u64).add(index).read_volatile() }
    }

    /// Set word `index`. Panics if `index >= len()`.
    #[inline]
    pub fn write(&self, index: usize, value: u64) {
        assert!(index < self.words, "shared word {index} out of range");
        // SAFETY: as in `read`; `new`'s contract maps the region writable
        // for PDs that call this.
        unsafe { (self.base as *mut u64).add(index).write_volatile(value) }
    }
}
