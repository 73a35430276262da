//! The PVH start information and its E820 memory map.

use mantle_abi::layout::PHYSMAP_SIZE;

use crate::arch::paging::phys_to_virt;

const START_INFO_MAGIC: u32 = 0x336e_c578;
const E820_RAM: u32 = 1;
/// RAM ranges kept from the firmware map.
const MAX_RANGES: usize = 64;

/// A range of RAM, `[start, end)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RamRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The RAM ranges of the E820 map.
#[derive(Clone, Copy, Debug)]
pub struct MemMap {
    ranges: [RamRange; MAX_RANGES],
    count: usize,
}

impl MemMap {
    /// Whether `[start, end)` lies entirely in RAM (possibly across
    /// adjacent ranges).
    pub fn is_ram(&self, start: u64, end: u64) -> bool {
        let mut addr = start;
        while addr < end {
            match self.ranges[..self.count]
                .iter()
                .find(|r| r.start <= addr && addr < r.end)
            {
                Some(r) => addr = r.end,
                None => return false,
            }
        }
        true
    }
}

fn read_u32(paddr: u64) -> u32 {
    // SAFETY: callers pass addresses below PHYSMAP_SIZE - 4, which the
    // direct map covers; the firmware's structures may be unaligned.
    unsafe { (phys_to_virt(paddr) as *const u32).read_unaligned() }
}

fn read_u64(paddr: u64) -> u64 {
    // SAFETY: as in `read_u32`.
    unsafe { (phys_to_virt(paddr) as *const u64).read_unaligned() }
}

fn in_physmap(paddr: u64, len: u64) -> bool {
    paddr
        .checked_add(len)
        .is_some_and(|end| end <= PHYSMAP_SIZE)
}

/// Read the memory map from `hvm_start_info` at physical `paddr`.
pub fn read_memmap(paddr: u64) -> Result<MemMap, &'static str> {
    if !in_physmap(paddr, 56) {
        return Err("start info outside the direct map");
    }
    if read_u32(paddr) != START_INFO_MAGIC {
        return Err("bad hvm_start_info magic");
    }
    if read_u32(paddr + 4) < 1 {
        return Err("hvm_start_info version 0 has no memory map");
    }
    let table = read_u64(paddr + 40);
    let entries = read_u32(paddr + 48) as u64;
    if entries == 0 || !in_physmap(table, entries.saturating_mul(24)) {
        return Err("no usable E820 memory map");
    }
    let mut map = MemMap {
        ranges: [RamRange::default(); MAX_RANGES],
        count: 0,
    };
    for i in 0..entries {
        let e = table + i * 24;
        let (start, size, kind) = (read_u64(e), read_u64(e + 8), read_u32(e + 16));
        if kind != E820_RAM || size == 0 || map.count == MAX_RANGES {
            continue;
        }
        map.ranges[map.count] = RamRange {
            start,
            end: start.saturating_add(size),
        };
        map.count += 1;
    }
    if map.count == 0 {
        return Err("the memory map has no RAM");
    }
    Ok(map)
}
