//! 4-level page tables for PD address spaces, and the kernel's direct map.
//!
//! The kernel half (PML4 entries 256..512: the direct map and the kernel
//! image) is copied from the boot tables into every PD's PML4; those
//! entries are supervisor-only. PD maps use 4 KiB pages, and 2 MiB pages
//! where virtual and physical addresses are both 2 MiB aligned. (`vspace`
//! tracks both kinds through [`leaf_entry`].)

use mantle_abi::layout::{LARGE_PAGE_SIZE, PAGE_SIZE, PHYSMAP_BASE, PHYSMAP_SIZE, USER_TOP};

use super::cpu::read_cr3;

const PRESENT: u64 = 1 << 0;
const ACCESSED: u64 = 1 << 5;
/// PS: the entry maps a large page (in a PDPT or page directory).
const PAGE_SIZE_BIT: u64 = 1 << 7;
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

/// The leaf entry mapping user address `vaddr` in `pml4`: its physical
/// address, the physical address of the entry pointing to its table (the
/// PDE of a 4 KiB page's table, the PDPTE of a 2 MiB page's directory),
/// and whether it is a 2 MiB page. `None` if `vaddr` is not mapped.
pub fn leaf_entry(pml4: u64, vaddr: u64) -> Option<(u64, u64, bool)> {
    let mut tbl = pml4;
    let mut parent = 0;
    for level in [39u32, 30, 21, 12] {
        let index = (vaddr >> level) & 511;
        let entry = tbl + index * 8;
        // SAFETY: `tbl` is a page-table frame in the direct map; index < 512.
        let value = unsafe { table(tbl).add(index as usize).read() };
        if value & PRESENT == 0 {
            return None;
        }
        match level {
            12 => return Some((entry, parent, false)),
            21 if value & PAGE_SIZE_BIT != 0 => return Some((entry, parent, true)),
            30 if value & PAGE_SIZE_BIT != 0 => return None,
            _ => {}
        }
        parent = entry;
        tbl = value & ADDR_MASK;
    }
    None
}

/// Accessed (A) bit of a page-table entry.
pub const ACCESSED_BIT: u64 = ACCESSED;
/// Page-size (PS) bit of a PDE or PDPTE.
pub const LARGE_BIT: u64 = PAGE_SIZE_BIT;

/// Read the 8 bytes at user address `vaddr` through the page tables at
/// `pml4`, the way the PD itself would read them: `None` unless `vaddr` is
/// 8-byte aligned, below [`USER_TOP`], and every level of its translation
/// is present and user-accessible, the page is cacheable (not device
/// memory) and its frame lies in the direct map. Never faults: a bad
/// address is a `None`, whatever the PD left in its registers.
pub fn read_user_u64(pml4: u64, vaddr: u64) -> Option<u64> {
    if vaddr % 8 != 0 || vaddr >= USER_TOP {
        return None;
    }
    let mut tbl = pml4;
    for level in [39u32, 30, 21, 12] {
        if tbl >= PHYSMAP_SIZE {
            return None;
        }
        let index = (vaddr >> level) & 511;
        // SAFETY: `tbl` is a page-table frame of the PD's tables (built at
        // boot by `map_range`) in the direct map (checked above); index <
        // 512.
        let value = unsafe { table(tbl).add(index as usize).read() };
        if value & (PRESENT | USER) != PRESENT | USER {
            return None;
        }
        let leaf = level == 12 || (level != 39 && value & PAGE_SIZE_BIT != 0);
        if leaf {
            if value & CACHE_DISABLE != 0 {
                return None;
            }
            let page = 1u64 << level;
            // A large-page entry keeps its PAT bit (12) in the address
            // field: mask to the page size.
            let paddr = (value & ADDR_MASK & !(page - 1)) + (vaddr & (page - 1));
            if paddr.checked_add(8)? > PHYSMAP_SIZE {
                return None;
            }
            // SAFETY: `paddr` is 8-byte aligned (so is `vaddr`, and pages
            // are aligned) and in the direct map (checked above); it is
            // cacheable memory the PD may read, mapped by the kernel at
            // boot. A plain read of it has no side effects.
            return Some(unsafe { (phys_to_virt(paddr) as *const u64).read() });
        }
        tbl = value & ADDR_MASK;
    }
    None
}

/// The table at the level below `levels` covering user address `vaddr`
/// (levels [39, 30]: the page directory; [39, 30, 21]: the page table),
/// created with its parents as needed. A large page on the way is an
/// overlap.
fn table_for(
    frames: &mut impl FrameSource,
    pml4: u64,
    vaddr: u64,
    levels: &[u32],
) -> Result<u64, MapError> {
    let mut tbl = pml4;
    for &level in levels {
        let index = ((vaddr >> level) & 511) as usize;
        // SAFETY: `tbl` is a page-table frame in the direct map (the PML4 or
        // a table allocated here) and index < 512.
        let entry = unsafe { table(tbl).add(index) };
        // SAFETY: as above.
        let value = unsafe { entry.read() };
        tbl = if value & PRESENT == 0 {
            let next = frames.alloc_zeroed().ok_or(MapError::OutOfMemory)?;
            // SAFETY: as above.
            unsafe { entry.write(next | PRESENT | WRITABLE | USER) };
            next
        } else if level != 39 && value & PAGE_SIZE_BIT != 0 {
            return Err(MapError::Overlap);
        } else {
            value & ADDR_MASK
        };
    }
    Ok(tbl)
}

/// Map one 2 MiB page at `vaddr` (2 MiB aligned) to `paddr` (2 MiB
/// aligned).
fn map_large(
    frames: &mut impl FrameSource,
    pml4: u64,
    vaddr: u64,
    paddr: u64,
    flags: PageFlags,
) -> Result<(), MapError> {
    let dir = table_for(frames, pml4, vaddr, &[39, 30])?;
    // SAFETY: `dir` is a page directory in the direct map; index < 512.
    let entry = unsafe { table(dir).add(((vaddr >> 21) & 511) as usize) };
    // SAFETY: as above.
    if unsafe { entry.read() } & PRESENT != 0 {
        return Err(MapError::Overlap);
    }
    // SAFETY: as above. `paddr` is 2 MiB aligned, so the PAT bit (12) of a
    // large-page entry stays clear.
    unsafe { entry.write((paddr & ADDR_MASK) | flags.bits() | PAGE_SIZE_BIT) };
    Ok(())
}

/// Map `size` bytes (whole pages) of user addresses from `vaddr` to
/// physical `paddr` in `pml4`. Any page already mapped is an overlap.
/// Wherever the virtual and physical addresses are both 2 MiB aligned and
/// at least 2 MiB remain, one 2 MiB page is used instead of 512 small ones.
pub fn map_range(
    frames: &mut impl FrameSource,
    pml4: u64,
    vaddr: u64,
    paddr: u64,
    size: u64,
    flags: PageFlags,
) -> Result<(), MapError> {
    let mut leaf = None;
    let mut off = 0;
    while off < size {
        let (va, pa) = (vaddr + off, paddr + off);
        if (va | pa) % LARGE_PAGE_SIZE == 0 && size - off >= LARGE_PAGE_SIZE {
            map_large(frames, pml4, va, pa, flags)?;
            off += LARGE_PAGE_SIZE;
            leaf = None;
            continue;
        }
        let index = ((va >> 12) & 511) as usize;
        // The leaf table changes only every 2 MiB.
        let tbl = match leaf {
            Some(t) if index != 0 => t,
            _ => table_for(frames, pml4, va, &[39, 30, 21])?,
        };
        leaf = Some(tbl);
        // SAFETY: `tbl` is a page table in the direct map and index < 512.
        let entry = unsafe { table(tbl).add(index) };
        // SAFETY: as above.
        if unsafe { entry.read() } & PRESENT != 0 {
            return Err(MapError::Overlap);
        }
        // SAFETY: as above.
        unsafe { entry.write((pa & ADDR_MASK) | flags.bits()) };
        off += PAGE_SIZE;
    }
    Ok(())
}
