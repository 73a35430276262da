//! Switching between PD address spaces with few TLB flushes.
//!
//! Under QEMU's TCG every CR3 write flushes the whole software TLB and jump
//! cache, which costs more than the rest of an IPC round trip. So most PDs
//! ("small" ones: at most [`MAX_TRACKED_PAGES`] pages in at most
//! [`MAX_SLOTS`] PML4 slots) share one live PML4 whose user half is
//! rewritten on a switch, and only the pages the outgoing PD actually used
//! are invalidated:
//!
//! - A TLB entry for a page can exist only if the page's PTE has its
//!   accessed (A) bit set: the CPU sets A when it caches a translation.
//! - So on a switch the kernel installs the incoming PD's PML4 entries,
//!   then, for each page of the outgoing PD whose PTE has A set, clears A
//!   and invalidates the page with INVLPG. (INVLPG also flushes the
//!   paging-structure caches, so at least one is always executed.)
//! - Invariant: every TLB (and QEMU jump-cache) entry of the current owner
//!   of the live PML4 belongs to a page whose PTE has A set.
//!
//! - Right after rewriting the live PML4 slots (and before the scan) the
//!   kernel executes one INVLPG: it flushes the paging-structure caches,
//!   so no later (speculative) walk can reach the outgoing PD's tables
//!   through a cached upper-level entry and cache a translation after its
//!   A bit was scanned.
//!
//! PDs with more pages (large memory regions) keep their own PML4 and are
//! switched to with a plain CR3 write, which flushes everything.
//!
//! The scheme relies on how TLBs fill (only through walks that set A bits)
//! and is only worth it where CR3 writes are dear, so it is used only under
//! QEMU's TCG ([`Scheme::detect`]). Under KVM and on bare metal every PD
//! has its own PML4 and a switch is a CR3 write (no PCID: each switch
//! flushes the user TLB entries).

use core::arch::asm;

use mantle_abi::layout::PAGE_SIZE;
use mantle_abi::limits::MAX_PDS;

use super::cpu::write_cr3;
use super::paging::{self, FrameSource};

/// Most pages a PD may have to share the live PML4.
pub const MAX_TRACKED_PAGES: usize = 64;
/// Most user-half PML4 slots a PD may use to share the live PML4.
pub const MAX_SLOTS: usize = 4;

/// One PD's address space.
#[derive(Clone, Copy)]
pub struct VSpace {
    /// The PD's own PML4 (physical).
    pml4: u64,
    /// Shares the live PML4 (see the module documentation).
    small: bool,
    slots: [u16; MAX_SLOTS],
    slot_count: usize,
    /// Virtual address of each mapped page.
    pages: [u64; MAX_TRACKED_PAGES],
    /// Physical address of each page's PTE.
    ptes: [u32; MAX_TRACKED_PAGES],
    page_count: usize,
}

impl VSpace {
    const EMPTY: VSpace = VSpace {
        pml4: 0,
        small: false,
        slots: [0; MAX_SLOTS],
        slot_count: 0,
        pages: [0; MAX_TRACKED_PAGES],
        ptes: [0; MAX_TRACKED_PAGES],
        page_count: 0,
    };

    /// An address space with PML4 `pml4`, small until [`VSpace::track`]
    /// records too many pages.
    pub fn new(pml4: u64) -> Self {
        VSpace {
            pml4,
            small: true,
            ..VSpace::EMPTY
        }
    }

    /// Record the user pages `[vaddr, vaddr + size)`, just mapped. A space
    /// with too many pages or slots becomes large (switched by CR3 write).
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
                self.slot_count += 1;
            }
            match paging::pte_address(self.pml4, va) {
                Some(pte) if self.page_count < MAX_TRACKED_PAGES && pte < u32::MAX as u64 => {
                    self.pages[self.page_count] = va;
                    self.ptes[self.page_count] = pte as u32;
                    self.page_count += 1;
                }
                _ => self.small = false,
            }
            va += PAGE_SIZE;
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
    #[inline]
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
    fn install(&mut self, old: Option<usize>, new: usize) {
        if let Some(old) = old {
            let o = &self.spaces[old];
            for &slot in &o.slots[..o.slot_count] {
                paging::set_pml4_entry(self.live, slot, 0);
            }
        }
        let n = &self.spaces[new];
        for &slot in &n.slots[..n.slot_count] {
            paging::set_pml4_entry(self.live, slot, paging::pml4_entry(n.pml4, slot));
        }
    }

    /// Invalidate every page `pd` may have in the TLB (see the module
    /// documentation); `hot` is an address it surely used.
    fn invalidate_used(&mut self, pd: usize, hot: u64) {
        let s = &self.spaces[pd];
        // First flush the paging-structure caches (any INVLPG does), so no
        // walk, speculative or not, reaches `pd`'s tables once the scan has
        // begun. This also drops the page of `hot` for good (no translation
        // of it can be cached again), so the scan only clears its A bit.
        let first = hot & !(PAGE_SIZE - 1);
        invlpg(first);
        for i in 0..s.page_count {
            if paging::take_accessed(s.ptes[i] as u64) && s.pages[i] != first {
                invlpg(s.pages[i]);
            }
        }
    }
}

fn invlpg(vaddr: u64) {
    // SAFETY: INVLPG only drops cached translations.
    unsafe { asm!("invlpg [{}]", in(reg) vaddr, options(nostack, preserves_flags)) };
}
