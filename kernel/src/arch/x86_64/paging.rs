//! 4-level page tables for PD address spaces, and the kernel's direct map.
//!
//! The kernel half (PML4 entries 256..512: the direct map and the kernel
//! image) is copied from the boot tables into every PD's PML4; those
//! entries are supervisor-only. PD maps use 4 KiB pages.

use mantle_abi::layout::{PAGE_SIZE, PHYSMAP_BASE, PHYSMAP_SIZE};

use super::cpu::read_cr3;

const PRESENT: u64 = 1 << 0;
const ACCESSED: u64 = 1 << 5;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const NO_EXECUTE: u64 = 1 << 63;
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Kernel virtual address of physical `paddr` in the direct map.
/// `paddr` must be below [`PHYSMAP_SIZE`].
pub fn phys_to_virt(paddr: u64) -> u64 {
    debug_assert!(paddr < PHYSMAP_SIZE);
    PHYSMAP_BASE + paddr
}

/// Access rights of a user page.
#[derive(Clone, Copy, Debug)]
pub struct PageFlags {
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
    /// Cacheable (false: PCD | PWT, for device memory).
    pub cached: bool,
}

impl PageFlags {
    fn bits(self) -> u64 {
        let mut bits = PRESENT | USER;
        if self.write {
            bits |= WRITABLE;
        }
        if !self.execute {
            bits |= NO_EXECUTE;
        }
        if !self.cached {
            bits |= CACHE_DISABLE | WRITE_THROUGH;
        }
        bits
    }
}

/// Why a page could not be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The virtual page is already mapped (maps overlap).
    Overlap,
    /// No frame for a page table.
    OutOfMemory,
}

/// A source of zeroed page-table frames (physical addresses in the direct
/// map).
pub trait FrameSource {
    /// A zeroed 4 KiB frame, or `None` when memory runs out.
    fn alloc_zeroed(&mut self) -> Option<u64>;
}

fn table(paddr: u64) -> *mut u64 {
    phys_to_virt(paddr) as *mut u64
}

/// A new PML4 sharing the kernel half. It is copied from the current
/// PML4: the boot tables, or any PD's, which all share the same half.
pub fn new_address_space(frames: &mut impl FrameSource) -> Option<u64> {
    let pml4 = frames.alloc_zeroed()?;
    let current = read_cr3() & ADDR_MASK;
    for i in 256..512 {
        // SAFETY: both tables are 4 KiB frames in the direct map; index < 512.
        unsafe { table(pml4).add(i).write(table(current).add(i).read()) };
    }
    Some(pml4)
}

/// Index of `vaddr`'s entry in a PML4.
pub fn pml4_index(vaddr: u64) -> u16 {
    ((vaddr >> 39) & 511) as u16
}

/// Entry `slot` of the PML4 at `pml4`.
pub fn pml4_entry(pml4: u64, slot: u16) -> u64 {
    // SAFETY: `pml4` is a page-table frame in the direct map; slot < 512.
    unsafe { table(pml4).add(slot as usize & 511).read() }
}

/// Set entry `slot` (a user-half slot) of the PML4 at `pml4`.
pub fn set_pml4_entry(pml4: u64, slot: u16, value: u64) {
    debug_assert!(slot < 256);
    // SAFETY: as in `pml4_entry`; only user-half slots are written.
    unsafe { table(pml4).add(slot as usize & 255).write(value) }
}

/// Physical address of the PTE mapping `vaddr` in `pml4`, if its page
/// table exists.
pub fn pte_address(pml4: u64, vaddr: u64) -> Option<u64> {
    let mut tbl = pml4;
    for level in [39u32, 30, 21] {
        let index = (vaddr >> level) & 511;
        // SAFETY: `tbl` is a page-table frame in the direct map; index < 512.
        let value = unsafe { table(tbl).add(index as usize).read() };
        if value & PRESENT == 0 {
            return None;
        }
        tbl = value & ADDR_MASK;
    }
    Some(tbl + ((vaddr >> 12) & 511) * 8)
}

/// Clear the accessed bit of the PTE at physical `pte`; return whether it
/// was set.
pub fn take_accessed(pte: u64) -> bool {
    let entry = phys_to_virt(pte) as *mut u64;
    // SAFETY: `pte` is the address of a PTE of a PD's page tables (in the
    // direct map), recorded at boot.
    let value = unsafe { entry.read() };
    if value & ACCESSED == 0 {
        return false;
    }
    // SAFETY: as above. Only this CPU writes PTEs; the CPU sets A only while
    // user code runs.
    unsafe { entry.write(value & !ACCESSED) };
    true
}

/// The page table (level 1) covering user address `vaddr`, created with
/// its parents as needed.
fn leaf_table(frames: &mut impl FrameSource, pml4: u64, vaddr: u64) -> Result<u64, MapError> {
    let mut tbl = pml4;
    for level in [39u32, 30, 21] {
        let index = ((vaddr >> level) & 511) as usize;
        // SAFETY: `tbl` is a page-table frame in the direct map (the PML4 or
        // a table allocated here) and index < 512.
        let entry = unsafe { table(tbl).add(index) };
        // SAFETY: as above.
        let value = unsafe { entry.read() };
        tbl = if value & PRESENT != 0 {
            value & ADDR_MASK
        } else {
            let next = frames.alloc_zeroed().ok_or(MapError::OutOfMemory)?;
            // SAFETY: as above.
            unsafe { entry.write(next | PRESENT | WRITABLE | USER) };
            next
        };
    }
    Ok(tbl)
}

/// Map `size` bytes (whole pages) of user addresses from `vaddr` to
/// physical `paddr` in `pml4`. Any page already mapped is an overlap.
pub fn map_range(
    frames: &mut impl FrameSource,
    pml4: u64,
    vaddr: u64,
    paddr: u64,
    size: u64,
    flags: PageFlags,
) -> Result<(), MapError> {
    let mut leaf = None;
    for off in (0..size).step_by(PAGE_SIZE as usize) {
        let va = vaddr + off;
        let index = ((va >> 12) & 511) as usize;
        // The leaf table changes only every 2 MiB.
        let tbl = match leaf {
            Some(t) if index != 0 => t,
            _ => leaf_table(frames, pml4, va)?,
        };
        leaf = Some(tbl);
        // SAFETY: `tbl` is a page table in the direct map and index < 512.
        let entry = unsafe { table(tbl).add(index) };
        // SAFETY: as above.
        if unsafe { entry.read() } & PRESENT != 0 {
            return Err(MapError::Overlap);
        }
        // SAFETY: as above.
        unsafe { entry.write(((paddr + off) & ADDR_MASK) | flags.bits()) };
    }
    Ok(())
}
