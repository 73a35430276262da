//! Checks of the boot description across PDs: that no PD can reach
//! another's private memory through its maps.
//!
//! Rules (each map was already checked on its own by `system`):
//! - Private maps (`Elf`, `Stack`, `IpcBuffer`) overlap no other map at
//!   all, of any PD: the tool gives each its own physical chunk.
//! - `Region` maps may overlap other `Region` maps (several PDs, or one PD
//!   twice, map the same memory region), never private memory.
//! - `Fixed` maps (device memory, firmware RAM) miss all placed PD memory,
//!   `[PD_MEMORY_PHYS, image_end)`; they may overlap each other (shared
//!   devices).
//! - Private maps are cacheable: an uncached user alias of RAM that the
//!   kernel's direct map maps write-back is a memory-type conflict.
//!   `Region` and `Fixed` maps may be uncached (device or DMA memory); the
//!   kernel itself touches only IPC buffers and page tables through its
//!   direct map, never a region.
//! - All placed PD memory lies below `PHYSMAP_SIZE`, inside the kernel's
//!   direct map (the kernel reaches IPC buffers through it).
//!
//! The pairwise check is quadratic in the number of RAM maps; systems have
//! tens to a few hundred, which takes well under a millisecond.

use mantle_abi::bootdesc::{BootDescription, Map, MapKind};
use mantle_abi::layout::{PD_MEMORY_PHYS, PHYSMAP_SIZE};

use crate::pd::PdId;
use crate::system::BootError;

fn private(kind: MapKind) -> bool {
    matches!(kind, MapKind::Elf | MapKind::Stack | MapKind::IpcBuffer)
}

fn range(m: &Map) -> (u64, u64) {
    (m.paddr, m.paddr + m.size) // no overflow: checked by parse
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Check every map of `desc` against every other (see the module
/// documentation).
pub fn check_maps(desc: &BootDescription<'_>) -> Result<(), BootError> {
    let image_end = desc.image_end();
    if image_end > PHYSMAP_SIZE {
        return Err(BootError::global(
            "PD memory extends beyond the kernel's direct map",
        ));
    }
    let placed = (PD_MEMORY_PHYS, image_end);
    for i in 0..desc.pd_count() {
        for index in desc.pd(i).maps.indices() {
            let m = desc.map(index);
            let err = |what| Err(BootError::map(i, index, what));
            if private(m.kind) && !m.cached {
                return err("private memory (program, stack, IPC buffer) must be cached");
            }
            if m.kind == MapKind::Fixed && overlaps(range(&m), placed) {
                return err("fixed physical range overlaps memory placed for PDs");
            }
            if private(m.kind) {
                if let Some(other) = aliased(desc, index, &m) {
                    return Err(BootError {
                        pd: Some(i),
                        map: Some(index),
                        what: match other {
                            MapKind::Region => "private memory is also mapped as a memory region",
                            _ => "private memory is also mapped by another map",
                        },
                    });
                }
            }
        }
    }
    Ok(())
}

/// The kind of another placed-RAM map that overlaps private map `m`
/// (record `index`), if any.
fn aliased(desc: &BootDescription<'_>, index: usize, m: &Map) -> Option<MapKind> {
    let r = range(m);
    (0..desc.pd_count() as PdId)
        .flat_map(|j| desc.pd(j).maps.indices())
        .filter(|&other| other != index)
        .map(|other| desc.map(other))
        .find(|o| o.kind != MapKind::Fixed && overlaps(r, range(o)))
        .map(|o| o.kind)
}
