//! Checks of the boot description across PDs: that no PD can reach
//! another's private memory through its maps.
//!
//! What is private and what is shared is told by the map's kind, the only
//! place the format records it:
//! - **Private memory** is every `Elf` (program segment), `Stack` and
//!   `IpcBuffer` map. The tool gives each its own physical chunk, so a
//!   private map belongs to exactly one *use*: one PD reaching one map
//!   record through its map run.
//! - **Shared memory** is every `Region` map (an SDF `memory_region`, which
//!   any number of PDs may map, one PD even twice) and every `Fixed` map
//!   (device memory or firmware RAM at a fixed address). The format has no
//!   "private region": a memory region mapped by one PD is private only
//!   because no other PD's description names memory that overlaps it, and
//!   that is what this check sees.
//!
//! Rules (each map was already checked on its own by the kernel's
//! `system` module, which decodes the description):
//! - A private map's physical range overlaps no other use of placed RAM:
//!   neither another record (of any kind but `Fixed`, of any PD) nor the
//!   *same* record reached from another PD. The check compares uses
//!   (PD, record), not records, because two PDs whose map runs name the
//!   same records would otherwise share program data, stack and IPC buffer
//!   while every record looks unique.
//! - `Region` maps may overlap other `Region` maps, never private memory.
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
//! The pairwise check is quadratic in the number of map uses; systems have
//! tens to a few hundred, which takes well under a millisecond (a
//! description at the format's limits would take seconds, at boot only).

use mantle_abi::bootdesc::{BootDescription, Map, MapKind};
use mantle_abi::layout::{PD_MEMORY_PHYS, PHYSMAP_SIZE};

use crate::PdId;

/// Why the system cannot start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootError {
    /// The PD concerned, if any.
    pub pd: Option<PdId>,
    /// The map record concerned, if any.
    pub map: Option<usize>,
    /// What is wrong.
    pub what: &'static str,
    /// The other PD and map record of a conflict between two maps.
    pub other: Option<(PdId, usize)>,
}

impl BootError {
    /// An error about the whole description.
    pub fn global(what: &'static str) -> Self {
        BootError {
            pd: None,
            map: None,
            what,
            other: None,
        }
    }
    /// An error about PD `pd`.
    pub fn pd(pd: PdId, what: &'static str) -> Self {
        BootError {
            pd: Some(pd),
            map: None,
            what,
            other: None,
        }
    }
    /// An error about map record `map` of PD `pd`.
    pub fn map(pd: PdId, map: usize, what: &'static str) -> Self {
        BootError {
            pd: Some(pd),
            map: Some(map),
            what,
            other: None,
        }
    }
}

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
                if let Some((j, other)) = aliased(desc, i, index, &m) {
                    return Err(BootError {
                        pd: Some(i),
                        map: Some(index),
                        what: match desc.map(other).kind {
                            MapKind::Region => {
                                "private memory (program, stack, IPC buffer) is also mapped as a memory region by"
                            }
                            _ => "private memory (program, stack, IPC buffer) is also mapped by",
                        },
                        other: Some((j, other)),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Another use (PD, record) of placed RAM that overlaps private map `m`,
/// which PD `pd` reaches as record `index`: a different record, or the
/// same record in another PD's map run.
fn aliased(desc: &BootDescription<'_>, pd: PdId, index: usize, m: &Map) -> Option<(PdId, usize)> {
    let r = range(m);
    (0..desc.pd_count() as PdId)
        .flat_map(|j| desc.pd(j).maps.indices().map(move |other| (j, other)))
        .filter(|&use_| use_ != (pd, index))
        .find(|&(_, other)| {
            let o = desc.map(other);
            o.kind != MapKind::Fixed && overlaps(r, range(&o))
        })
}
