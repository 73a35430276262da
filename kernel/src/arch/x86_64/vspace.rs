//! Switching between PD address spaces with few TLB flushes.
//!
//! Under QEMU's TCG every CR3 write flushes the whole software TLB and jump
//! cache, which costs more than the rest of an IPC round trip. So most PDs
//! ("small" ones: their pages, 4 KiB or 2 MiB, lie in at most
//! [`MAX_GROUPS`] tables spanning at most [`MAX_TRACKED_ENTRIES`] leaf
//! entries, in at most [`MAX_SLOTS`] PML4 slots) share one live PML4 whose
//! user half is rewritten on a switch, and only the pages the outgoing PD
//! actually used are invalidated:
//!
//! - A TLB entry for a page can exist only if the page's leaf entry (PTE,
//!   or PDE of a 2 MiB page) has its accessed (A) bit set, and so has the
//!   entry pointing to the leaf's table (the PDE of a page table, the
//!   PDPTE of a directory): the CPU sets A in every entry a walk uses.
//! - So on a switch the kernel installs the incoming PD's PML4 entries,
//!   then, for each table of the outgoing PD whose parent entry has A set,
//!   clears that A and, for each leaf of the table with A set, clears A and
//!   invalidates the page with INVLPG. A table whose parent entry has A
//!   clear was not walked since its last scan and is skipped whole, so a
//!   big region the PD did not touch costs one test. (INVLPG also flushes
//!   the paging-structure caches, so one is always executed first.)
//! - Invariant: every TLB (and QEMU jump-cache) entry of the current owner
//!   of the live PML4 belongs to a page whose leaf and parent entries have
//!   A set.
//!
//! - Right after rewriting the live PML4 slots (and before the scan) the
//!   kernel executes one INVLPG: it flushes the paging-structure caches,
//!   so no later (speculative) walk can reach the outgoing PD's tables
//!   through a cached upper-level entry and cache a translation after its
//!   A bit was scanned.
//!
//! Big regions get 2 MiB pages from the tool (`tool/src/layout.rs`), so a
//! network stack or file system server with megabytes of buffers is still
//! small here. PDs beyond the limits keep their own PML4 and are switched
//! to with a plain CR3 write, which flushes everything.
//!
//! The scheme relies on how TLBs fill (only through walks that set A bits)
//! and is only worth it where CR3 writes are dear, so it is used only under
//! QEMU's TCG ([`Scheme::detect`]). Under KVM and on bare metal every PD
//! has its own PML4 and a switch is a CR3 write (no PCID: each switch
//! flushes the user TLB entries).

use core::arch::asm;

use mantle_abi::layout::{LARGE_PAGE_SIZE, PAGE_SIZE};
use mantle_abi::limits::MAX_PDS;

use super::cpu::write_cr3;
use super::paging::{self, phys_to_virt, FrameSource, ACCESSED_BIT, LARGE_BIT};

/// Most leaf tables (or page directories of 2 MiB pages) a PD may use to
/// share the live PML4.
pub const MAX_GROUPS: usize = 8;
/// Most leaf entries (4 KiB or 2 MiB pages, with the unmapped entries
/// between them) a PD's groups may span to share the live PML4: this
/// bounds the scan of a switch (a few instructions per entry).
pub const MAX_TRACKED_ENTRIES: usize = 256;
/// Most user-half PML4 slots a PD may use to share the live PML4.
pub const MAX_SLOTS: usize = 4;

/// A run of leaf entries in one table of a PD's page tables, and the entry
/// pointing to that table (all as direct-map addresses).
#[derive(Clone, Copy)]
struct Group {
    /// The PDE of a page table, or the PDPTE of a directory of 2 MiB pages.
    parent: u64,
    /// The first leaf entry tracked.
    first: u64,
    /// Just past the last leaf entry tracked.
    end: u64,
    /// The user address `first` maps.
    vaddr: u64,
    /// 2 MiB pages: only entries with PS set are leaves (others point to
    /// page tables, tracked by their own groups).
    large: bool,
}

const NO_GROUP: Group = Group {
    parent: 0,
    first: 0,
    end: 0,
    vaddr: 0,
    large: false,
};

impl Group {
    fn entries(&self) -> usize {
        ((self.end - self.first) / 8) as usize
    }
}

/// One PD's address space.
#[derive(Clone, Copy)]
pub struct VSpace {
    /// The PD's own PML4 (physical).
    pml4: u64,
    /// Shares the live PML4 (see the module documentation).
    small: bool,
    slots: [u16; MAX_SLOTS],
    /// The PML4 entry of each slot (fixed once the space is built).
    slot_entries: [u64; MAX_SLOTS],
    slot_count: usize,
    /// Its mapped leaf entries, by table.
    groups: [Group; MAX_GROUPS],
    group_count: usize,
}

impl VSpace {
    const EMPTY: VSpace = VSpace {
        pml4: 0,
        small: false,
        slots: [0; MAX_SLOTS],
        slot_entries: [0; MAX_SLOTS],
        slot_count: 0,
        groups: [NO_GROUP; MAX_GROUPS],
        group_count: 0,
    };

    /// An address space with PML4 `pml4`, small until [`VSpace::track`]
    /// records too much.
    pub fn new(pml4: u64) -> Self {
        VSpace {
            pml4,
            small: true,
            ..VSpace::EMPTY
        }
    }

    /// Record the user pages `[vaddr, vaddr + size)`, just mapped (4 KiB or
    /// 2 MiB pages). A space with too many slots, tables or entries becomes
    /// large (switched by CR3 write).
    pub fn track(&mut self, vaddr: u64, size: u64) {
        let mut va = vaddr;
        while self.small && va < vaddr + size {
            let slot = paging::pml4_index(va);
            if !self.slots[..self.slot_count].contains(&slot) {
                if self.slot_count == MAX_SLOTS {
                    self.small = false;
                    break;
                }
                self.slots[self.slot_count] = slot;
                // (`vaddr` is mapped: its PML4 entry points to its PDPT,
                // which later maps in this slot share.)
                self.slot_entries[self.slot_count] = paging::pml4_entry(self.pml4, slot);
                self.slot_count += 1;
            }
            let Some((entry, parent, large)) = paging::leaf_entry(self.pml4, va) else {
                self.small = false;
                break;
            };
            let (entry, parent) = (phys_to_virt(entry), phys_to_virt(parent));
            // Ranges are whole runs of four entries (32 bytes, so they stay
            // in the table) for the scan in `invalidate_used`.
            let shift = if large { 21 } else { 12 };
            let lo = entry & !31;
            let lo_va = va - (((entry - lo) / 8) << shift);
            let hi = lo + 32;
            let groups = &mut self.groups[..self.group_count];
            match groups.iter_mut().find(|g| g.parent == parent) {
                Some(g) if lo < g.first => {
                    g.first = lo;
                    g.vaddr = lo_va;
                }
                Some(g) => g.end = g.end.max(hi),
                None if self.group_count < MAX_GROUPS => {
                    self.groups[self.group_count] = Group {
                        parent,
                        first: lo,
                        end: hi,
                        vaddr: lo_va,
                        large,
                    };
                    self.group_count += 1;
                }
                None => self.small = false,
            }
            let total: usize = self.groups[..self.group_count]
                .iter()
                .map(Group::entries)
                .sum();
            if total > MAX_TRACKED_ENTRIES {
                self.small = false;
            }
            // The next page: 4 KiB, or the next 2 MiB boundary.
            va = if large {
                (va | (LARGE_PAGE_SIZE - 1)) + 1
            } else {
                va + PAGE_SIZE
            };
        }
    }
}

/// The build forces per-PD CR3 everywhere: the kernel was compiled with
/// `MANTLE_VSPACE=per-pd-cr3`. Unset, empty or `detect` keeps the choice of
/// [`Scheme::detect`]; any other value stops the build.
pub const FORCED_PER_PD_CR3: bool = match option_env!("MANTLE_VSPACE") {
    None => false,
    Some(v) => match v.as_bytes() {
        b"per-pd-cr3" => true,
        b"" | b"detect" => false,
        _ => panic!("MANTLE_VSPACE must be per-pd-cr3, detect or empty"),
    },
};

/// How PD address spaces are switched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Small PDs share the live PML4 (QEMU TCG only).
    SharedTopLevel,
    /// One PML4 per PD, switched by a CR3 write.
    PerPdCr3,
}

impl Scheme {
    /// The shared top level under QEMU's TCG (CPUID leaf 0x4000_0000 says
    /// "TCGTCGTCGTCG"); per-PD CR3 under any other hypervisor (KVM), on
    /// bare metal, or when the kernel was built with
    /// `MANTLE_VSPACE=per-pd-cr3` in the environment ([`FORCED_PER_PD_CR3`];
    /// `cargo xtask bench ipc` builds such a kernel to measure both schemes
    /// under TCG).
    pub fn detect() -> Scheme {
        if FORCED_PER_PD_CR3 {
            return Scheme::PerPdCr3;
        }
        let hypervisor = super::cpu::cpuid(1, 0).2 & (1 << 31) != 0;
        if hypervisor {
            let (_, b, c, d) = super::cpu::cpuid(0x4000_0000, 0);
            let mut sig = [0u8; 12];
            sig[..4].copy_from_slice(&b.to_le_bytes());
            sig[4..8].copy_from_slice(&c.to_le_bytes());
            sig[8..].copy_from_slice(&d.to_le_bytes());
            if &sig == b"TCGTCGTCGTCG" {
                return Scheme::SharedTopLevel;
            }
        }
        Scheme::PerPdCr3
    }

    /// For the boot line.
    pub fn describe(self) -> &'static str {
        match self {
            Scheme::SharedTopLevel => "shared top level (TCG)",
            Scheme::PerPdCr3 if FORCED_PER_PD_CR3 => {
                "per-PD CR3 (built with MANTLE_VSPACE=per-pd-cr3)"
            }
            Scheme::PerPdCr3 => "per-PD CR3",
        }
    }
}

/// The address spaces of all PDs and the live PML4.
pub struct AddressSpaces {
    /// Small spaces share the live PML4 (see the module documentation).
    shared: bool,
    spaces: [VSpace; MAX_PDS],
    /// The PML4 small spaces share.
    live: u64,
    /// The small space whose entries are in `live`.
    owner: Option<usize>,
    /// The loaded CR3.
    loaded: u64,
}

impl AddressSpaces {
    /// No spaces yet.
    pub const fn new() -> Self {
        AddressSpaces {
            shared: false,
            spaces: [VSpace::EMPTY; MAX_PDS],
            live: 0,
            owner: None,
            loaded: 0,
        }
    }

    /// Choose how to switch (`scheme`) and allocate the live PML4.
    pub fn init(&mut self, scheme: Scheme, frames: &mut impl FrameSource) -> Option<()> {
        self.shared = scheme == Scheme::SharedTopLevel;
        self.live = paging::new_address_space(frames)?;
        Some(())
    }

    /// Set PD `pd`'s address space.
    pub fn set(&mut self, pd: usize, space: VSpace) {
        self.spaces[pd] = space;
    }

    /// Make PD `pd`'s address space current. `last_ip(old)` is where PD
    /// `old` last ran (its code page is surely in the TLB: the first page
    /// to invalidate when switching away from it).
    #[inline(always)]
    pub fn activate(&mut self, pd: usize, last_ip: impl Fn(usize) -> u64) {
        let space = &self.spaces[pd];
        if !space.small || !self.shared {
            if self.loaded != space.pml4 {
                self.load(space.pml4);
            }
            return;
        }
        if self.owner == Some(pd) && self.loaded == self.live {
            return;
        }
        self.switch_shared(pd, last_ip);
    }

    /// [`AddressSpaces::activate`] of small space `pd` when the live PML4
    /// is not loaded with its entries. Out of line, so a CR3 switch does not
    /// pay for the scan's registers, and outside `.text.hot`: inlined (or
    /// in the hot pages) it measured ~35 instructions fewer per PPC round
    /// trip but 1–5% slower under TCG, whose translated blocks chain
    /// directly only within a guest page, so a hot path spread over more
    /// pages costs more time.
    #[inline(never)]
    fn switch_shared(&mut self, pd: usize, last_ip: impl Fn(usize) -> u64) {
        let old = self.owner.replace(pd);
        if old != Some(pd) {
            self.install(old, pd);
        }
        if self.loaded != self.live {
            // The CR3 write flushes everything, the old owner's pages too.
            self.load(self.live);
        } else if let Some(old) = old {
            self.invalidate_used(old, last_ip(old));
        }
    }

    /// The 8 bytes at user address `vaddr` of PD `pd`, read through its
    /// own page tables ([`paging::read_user_u64`]); `None` if the PD could
    /// not read them, or it has no address space.
    pub fn read_user_u64(&self, pd: usize, vaddr: u64) -> Option<u64> {
        match self.spaces.get(pd)?.pml4 {
            0 => None,
            pml4 => paging::read_user_u64(pml4, vaddr),
        }
    }

    fn load(&mut self, pml4: u64) {
        self.loaded = pml4;
        // SAFETY: `pml4` is the live PML4 or a PD's, all built by
        // `paging::new_address_space` and sharing the kernel half.
        unsafe { write_cr3(pml4) };
    }

    /// Replace the user-half entries of `old` in the live PML4 by `new`'s.
    #[inline(always)]
    fn install(&mut self, old: Option<usize>, new: usize) {
        let live = self.live;
        let n = &self.spaces[new];
        let new_slots = &n.slots[..n.slot_count];
        if let Some(old) = old {
            let o = &self.spaces[old];
            // Most PDs use the same slots (often just slot 0): then every
            // one is overwritten below. (Unused entries of `slots` stay 0,
            // so equal arrays and counts mean equal slot lists.)
            if o.slot_count != n.slot_count || o.slots != n.slots {
                for &slot in &o.slots[..o.slot_count] {
                    // (A slot `new` uses is overwritten below.)
                    if !new_slots.contains(&slot) {
                        paging::set_pml4_entry(live, slot, 0);
                    }
                }
            }
        }
        for (&slot, &entry) in new_slots.iter().zip(&n.slot_entries) {
            paging::set_pml4_entry(live, slot, entry);
        }
    }

    /// Invalidate every page `pd` may have in the TLB (see the module
    /// documentation); `hot` is an address it surely used.
    #[inline(always)]
    fn invalidate_used(&mut self, pd: usize, hot: u64) {
        let s = &self.spaces[pd];
        // First flush the paging-structure caches (any INVLPG does), so no
        // walk, speculative or not, reaches `pd`'s tables once the scan has
        // begun.
        invlpg(hot);
        for g in &s.groups[..s.group_count] {
            // SAFETY: `parent` and the entries `first..end` are entries of
            // `pd`'s page tables in the direct map, recorded at boot. Only
            // this CPU writes them, and it sets A bits only while user code
            // runs (not `pd`'s: its slots are no longer in the live PML4).
            unsafe {
                let parent = g.parent as *mut u64;
                let p = parent.read();
                if p & ACCESSED_BIT == 0 {
                    // No walk went through this table since its last scan:
                    // none of its pages can be cached.
                    continue;
                }
                parent.write(p & !ACCESSED_BIT);
                if g.large {
                    scan::<true>(g);
                } else {
                    scan::<false>(g);
                }
            }
        }
    }
}

/// Groups of at least this many leaf entries are scanned eight entries per
/// test, smaller ones (a PD's code, data and stack, mostly used) four.
const WIDE_GROUP: usize = 16;

/// Clear the A bit of every leaf entry of `g` that has it, invalidating its
/// page; four or eight entries at a time (`track` aligns the range to
/// four): most entries of a big group are clean, and one test clears a
/// whole run of them.
///
/// # Safety
/// `g` is a group of a PD that is not running, recorded by `track`.
#[inline(always)]
unsafe fn scan<const LARGE: bool>(g: &Group) {
    let mut e = g.first as *mut u64;
    let end = g.end as *mut u64;
    let mut va = g.vaddr;
    if g.entries() >= WIDE_GROUP {
        while end as u64 - e as u64 >= 64 {
            // SAFETY: `e..e + 8` lies in the range (it has 8 entries left),
            // hence in the group's table.
            unsafe { clear_run::<LARGE, 8>(e, va) };
            // SAFETY: at most one past the end of the range.
            e = unsafe { e.add(8) };
            va += 8 << shift::<LARGE>();
        }
    }
    while e < end {
        // SAFETY: `e..e + 4` lies in the range (a multiple of four entries
        // long), hence in the group's table.
        unsafe { clear_run::<LARGE, 4>(e, va) };
        // SAFETY: at most one past the end of the range.
        e = unsafe { e.add(4) };
        va += 4 << shift::<LARGE>();
    }
}

/// log2 of the page size of a leaf.
const fn shift<const LARGE: bool>() -> u32 {
    if LARGE {
        21
    } else {
        12
    }
}

/// Clear the A bit of each of the `N` leaf entries from `e` (mapping `va`
/// on) that has it, invalidating its page: first one test of them all.
///
/// # Safety
/// `e..e + N` are leaf entries of a group of a PD that is not running.
#[inline(always)]
unsafe fn clear_run<const LARGE: bool, const N: usize>(e: *mut u64, va: u64) {
    let mask = if LARGE {
        ACCESSED_BIT | LARGE_BIT
    } else {
        ACCESSED_BIT
    };
    let mut any = 0;
    for j in 0..N {
        // SAFETY: (all accesses here) `e..e + N` lie in the group's table,
        // in the direct map (see `track` and `invalidate_used`).
        any |= unsafe { e.add(j).read() };
    }
    if any & ACCESSED_BIT == 0 {
        return;
    }
    for j in 0..N {
        // SAFETY: as above.
        let entry = unsafe { e.add(j) };
        // SAFETY: as above.
        let v = unsafe { entry.read() };
        if v & mask == mask {
            // SAFETY: as above.
            unsafe { entry.write(v & !ACCESSED_BIT) };
            invlpg(va + ((j as u64) << shift::<LARGE>()));
        }
    }
}

fn invlpg(vaddr: u64) {
    // SAFETY: INVLPG only drops cached translations.
    unsafe { asm!("invlpg [{}]", in(reg) vaddr, options(nostack, preserves_flags)) };
}
