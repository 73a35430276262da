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

// ---------------------------------------------------------------------------
// Kernel W^X
//
// The boot trampoline maps everything with writable, executable 2 MiB
// pages: the kernel window (the first 1 GiB at `KERNEL_VIRT_BASE`), the
// direct map of 0..4 GiB and the identity map used until `kmain`. Once in
// `kmain`, [`protect_kernel`] replaces them:
// - the kernel window maps only the image, from 4 KiB pages: text r-x,
//   rodata r--, data and bss rw- (section bounds from the linker script);
// - the direct map is non-executable everywhere, and its alias of the
//   kernel's text and rodata (inside the first 8 MiB, remapped with 4 KiB
//   pages) read-only, so no writable alias of kernel code remains;
// - the identity map is removed.
// [`check_kernel_wx`] then walks the live tables and proves it.

use mantle_abi::layout::KERNEL_VIRT_BASE;

extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __kernel_end: u8;
}

/// Physical memory the kernel image may occupy, mapped with 4 KiB pages:
/// below the boot description (`kernel.ld` asserts the image ends there).
const IMAGE_LIMIT: u64 = 0x80_0000;
/// Page tables covering [`IMAGE_LIMIT`].
const IMAGE_TABLES: usize = (IMAGE_LIMIT / LARGE_PAGE_SIZE) as usize;

/// A page-table frame.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The kernel window's page directory, its page tables, and the page tables
/// of the direct map's first [`IMAGE_LIMIT`] bytes.
struct KernelTables {
    window: Table,
    image: [Table; IMAGE_TABLES],
    direct: [Table; IMAGE_TABLES],
}

static KERNEL_TABLES: crate::global::Global<KernelTables> =
    crate::global::Global::new(KernelTables {
        window: Table([0; 512]),
        image: [const { Table([0; 512]) }; IMAGE_TABLES],
        direct: [const { Table([0; 512]) }; IMAGE_TABLES],
    });

/// The kernel image's sections: virtual `[start, end)` of text, rodata and
/// data (with bss).
#[derive(Clone, Copy)]
struct Sections {
    text: (u64, u64),
    rodata: (u64, u64),
    data: (u64, u64),
}

fn sections() -> Sections {
    let a = |s: &u8| s as *const u8 as u64;
    // SAFETY: only the addresses of the linker-script symbols are taken.
    unsafe {
        Sections {
            text: (a(&__text_start), a(&__text_end)),
            rodata: (a(&__rodata_start), a(&__rodata_end)),
            data: (a(&__data_start), a(&__kernel_end)),
        }
    }
}

/// Physical address of a kernel static.
fn kernel_phys<T>(p: *const T) -> u64 {
    p as u64 - KERNEL_VIRT_BASE
}

fn within(v: u64, r: (u64, u64)) -> bool {
    r.0 <= v && v < r.1
}

/// Leaf entry bits of kernel-window page `vaddr`, if the image covers it.
fn image_page_bits(s: &Sections, vaddr: u64) -> Option<u64> {
    if within(vaddr, s.text) {
        Some(PRESENT)
    } else if within(vaddr, s.rodata) {
        Some(PRESENT | NO_EXECUTE)
    } else if within(vaddr, s.data) {
        Some(PRESENT | WRITABLE | NO_EXECUTE)
    } else {
        None
    }
}

/// Flush every TLB entry (CR4.PGE is off: a CR3 write flushes them all).
fn flush_tlb() {
    // SAFETY: reloading the current CR3 changes no mapping.
    unsafe { super::cpu::write_cr3(read_cr3()) };
}

/// Map the kernel image W^X and the direct map non-executable (see above),
/// then check it. Runs once, in `kmain`, while the boot tables are live and
/// before any PD address space copies the kernel half.
pub fn protect_kernel() -> Result<(), &'static str> {
    let s = sections();
    let page = PAGE_SIZE;
    let ordered = s.text.0 < s.text.1
        && s.text.1 <= s.rodata.0
        && s.rodata.0 <= s.rodata.1
        && s.rodata.1 <= s.data.0
        && s.data.0 < s.data.1;
    let aligned = [s.text, s.rodata, s.data]
        .iter()
        .all(|r| r.0 % page == 0 && r.1 % page == 0);
    if !ordered
        || !aligned
        || s.text.0 < KERNEL_VIRT_BASE
        || s.data.1 > KERNEL_VIRT_BASE + IMAGE_LIMIT
    {
        return Err("kernel sections are not page aligned, ordered and below 8 MiB");
    }
    let tables = KERNEL_TABLES.as_ptr();
    let pml4 = read_cr3() & ADDR_MASK;
    let entry = |tbl: u64, i: usize| table(tbl).wrapping_add(i);
    // SAFETY: `kmain` calls this once, before anything else uses
    // `KERNEL_TABLES`; the boot tables (PML4 from CR3, its PDPTs and page
    // directories, all in `.boot.bss`) are page-table frames in the direct
    // map, and every index is < 512. The kernel window is switched to the
    // new tables (which map the running code, data and stack at the same
    // physical addresses) before the old page directory loses execute
    // rights, and each step is followed by a full TLB flush.
    unsafe {
        let t = &mut *tables;
        for i in 0..IMAGE_TABLES * 512 {
            let phys = i as u64 * page;
            let (pt, slot) = (i / 512, i % 512);
            t.image[pt].0[slot] =
                image_page_bits(&s, KERNEL_VIRT_BASE + phys).map_or(0, |bits| phys | bits);
            let kernel_code = within(phys + KERNEL_VIRT_BASE, (s.text.0, s.rodata.1));
            t.direct[pt].0[slot] =
                phys | PRESENT | NO_EXECUTE | if kernel_code { 0 } else { WRITABLE };
        }
        for pt in 0..IMAGE_TABLES {
            t.window.0[pt] = kernel_phys(&t.image[pt]) | PRESENT | WRITABLE;
        }
        // PML4[511] -> PDPT, entry 510: the kernel window.
        let kernel_pdpt = entry(pml4, 511).read() & ADDR_MASK;
        entry(kernel_pdpt, 510).write(kernel_phys(&t.window) | PRESENT | WRITABLE);
        flush_tlb();
        // PML4[256] -> PDPT of the direct map: four page directories.
        let direct_pdpt = entry(pml4, 256).read() & ADDR_MASK;
        for gib in 0..4 {
            let e = entry(direct_pdpt, gib);
            let value = e.read();
            if value & PRESENT == 0 || value & PAGE_SIZE_BIT != 0 {
                return Err("unexpected boot direct map");
            }
            let dir = value & ADDR_MASK;
            for i in 0..512 {
                let pde = entry(dir, i);
                let v = pde.read();
                if gib == 0 && i < IMAGE_TABLES {
                    pde.write(kernel_phys(&t.direct[i]) | PRESENT | WRITABLE | NO_EXECUTE);
                } else if v & PRESENT != 0 {
                    pde.write(v | NO_EXECUTE);
                }
            }
            e.write(value | NO_EXECUTE);
        }
        // The identity map was only for the trampoline.
        entry(pml4, 0).write(0);
        flush_tlb();
    }
    check_kernel_wx()
}

/// One leaf mapping of the kernel half: effective rights over all levels.
#[derive(Clone, Copy)]
struct Leaf {
    vaddr: u64,
    size: u64,
    paddr: u64,
    write: bool,
    exec: bool,
    user: bool,
}

/// Call `f` for every present leaf of the kernel half of the live tables.
fn for_each_kernel_leaf(mut f: impl FnMut(Leaf)) {
    fn walk(tbl: u64, level: u32, base: u64, w: bool, x: bool, u: bool, f: &mut dyn FnMut(Leaf)) {
        let range = if level == 39 { 256..512 } else { 0..512 };
        for i in range {
            // SAFETY: `tbl` is a page-table frame of the live tables (the
            // boot tables or `KERNEL_TABLES`), in the direct map; i < 512.
            let v = unsafe { table(tbl).add(i).read() };
            if v & PRESENT == 0 {
                continue;
            }
            let mut vaddr = base | (i as u64) << level;
            if level == 39 {
                vaddr |= 0xffff_0000_0000_0000; // canonical upper half
            }
            let (w, x, u) = (
                w && v & WRITABLE != 0,
                x && v & NO_EXECUTE == 0,
                u && v & USER != 0,
            );
            if level == 12 || (level != 39 && v & PAGE_SIZE_BIT != 0) {
                let size = 1u64 << level;
                let paddr = v & ADDR_MASK & !(size - 1);
                f(Leaf {
                    vaddr,
                    size,
                    paddr,
                    write: w,
                    exec: x,
                    user: u,
                });
            } else {
                walk(v & ADDR_MASK, level - 9, vaddr, w, x, u, f);
            }
        }
    }
    walk(read_cr3() & ADDR_MASK, 39, 0, true, true, true, &mut f);
}

/// Check the live kernel half: no page anywhere is both writable and
/// executable or user-accessible; kernel text is r-x, rodata r--, data and
/// bss rw- (every page present); the direct map is non-executable, and
/// read-only over the kernel's text and rodata. Also that the CPU enforces
/// it: EFER.NXE (no-execute) and CR0.WP (read-only binds the kernel too).
pub fn check_kernel_wx() -> Result<(), &'static str> {
    let s = sections();
    // SAFETY: EFER exists on every x86_64 CPU (long mode runs); reading it
    // has no side effects.
    let efer = unsafe { super::cpu::rdmsr(super::MSR_EFER) };
    if efer & super::EFER_NXE == 0 {
        return Err("EFER.NXE is off: no page is non-executable");
    }
    if super::cpu::read_cr0() & super::CR0_WP == 0 {
        return Err("CR0.WP is off: read-only pages are writable by the kernel");
    }
    let mut problem = None;
    let mut pages = [0u64; 3];
    let code = (s.text.0 - KERNEL_VIRT_BASE, s.rodata.1 - KERNEL_VIRT_BASE);
    for_each_kernel_leaf(|l| {
        let mut fail = |what| {
            problem.get_or_insert(what);
        };
        if l.write && l.exec {
            fail("a kernel page is writable and executable");
        }
        if l.user {
            fail("a kernel page is user-accessible");
        }
        if within(l.vaddr, (PHYSMAP_BASE, PHYSMAP_BASE + PHYSMAP_SIZE)) {
            if l.exec {
                fail("the direct map is executable");
            }
            if l.write && l.paddr < code.1 && code.0 < l.paddr + l.size {
                fail("the direct map has a writable alias of kernel text or rodata");
            }
            return;
        }
        let want = [
            (s.text, false, true),
            (s.rodata, false, false),
            (s.data, true, false),
        ];
        for (k, &(r, w, x)) in want.iter().enumerate() {
            if within(l.vaddr, r) {
                if l.size != PAGE_SIZE || (l.write, l.exec) != (w, x) {
                    fail("a kernel section has the wrong rights");
                }
                if l.paddr != l.vaddr - KERNEL_VIRT_BASE {
                    fail("a kernel page maps the wrong frame");
                }
                pages[k] += 1;
            }
        }
    });
    if let Some(p) = problem {
        return Err(p);
    }
    let expected = [s.text, s.rodata, s.data].map(|r| (r.1 - r.0) / PAGE_SIZE);
    if pages != expected {
        return Err("a kernel section is not mapped in full");
    }
    Ok(())
}
