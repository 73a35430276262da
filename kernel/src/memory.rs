//! Physical memory for page tables: a bump allocator over RAM from the end
//! of the system image upwards.

use mantle_abi::layout::{PAGE_SIZE, PHYSMAP_SIZE};

use crate::arch::paging::{phys_to_virt, FrameSource};
use crate::bootinfo::MemMap;

/// Hands out zeroed page-table frames from `[start, next)`.
pub struct FrameAllocator<'a> {
    start: u64,
    next: u64,
    ram: &'a MemMap,
}

impl<'a> FrameAllocator<'a> {
    /// Allocate from `start` (page aligned) upwards, within `ram`.
    pub fn new(start: u64, ram: &'a MemMap) -> Self {
        FrameAllocator {
            start,
            next: start,
            ram,
        }
    }

    /// The memory handed out so far, `[start, end)`: kernel-owned.
    pub fn used(&self) -> (u64, u64) {
        (self.start, self.next)
    }
}

impl FrameSource for FrameAllocator<'_> {
    fn alloc_zeroed(&mut self) -> Option<u64> {
        let frame = self.next;
        let end = frame.checked_add(PAGE_SIZE)?;
        if end > PHYSMAP_SIZE || !self.ram.is_ram(frame, end) {
            return None;
        }
        self.next = end;
        // SAFETY: the frame is RAM in the direct map, above all PD memory and
        // not yet handed out, so nothing else refers to it.
        unsafe { core::ptr::write_bytes(phys_to_virt(frame) as *mut u8, 0, PAGE_SIZE as usize) };
        Some(frame)
    }
}
