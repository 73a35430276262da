//! Least-privilege findings about a checked [`System`]. `mantle check`
//! prints them as warnings and `mantle report` lists them.
//!
//! Definitions:
//! - A **device region** has a fixed `phys_addr` outside RAM (see
//!   [`PhysKind`]). Mapped into more than one PD, every one of them can
//!   drive the device: a warning.
//! - A region with a fixed `phys_addr` in RAM is **DMA memory** (a device
//!   reaches it by that address, as sdfgen's blk and virtio regions are),
//!   not a device: no device warning; it is shared memory like any other
//!   region. A fixed `phys_addr` between the end of RAM and the device
//!   window names nothing on Mantle's machine: a warning (sdfgen's
//!   x86_64_generic board places DMA memory there, for a 2 GiB machine).
//! - **The PCI configuration ports.** A PD granted any of ports
//!   0xCF8–0xCFF reaches every PCI device's configuration space (BARs,
//!   bus mastering, MSI): a warning.
//! - A **writable and executable map** lets a PD run what it (or a peer)
//!   wrote: a warning.
//! - A **DMA region** is one whose physical address a PD receives (a
//!   `<setvar region_paddr>`, or a region the composition layer marks, such
//!   as a network subsystem's receive buffers): a device reads or writes it
//!   by physical address. Mapped into a *client* — any PD other than the
//!   one(s) given its address and the driver, virtualisers and copiers of a
//!   composed subsystem — the client sees (or forges) other parties'
//!   device traffic: a warning.
//! - **Shared memory without a signalling path**: a region mapped by two or
//!   more PDs, where one of them has no channel to any other PD that maps
//!   it, so it can neither tell its peers that data is ready nor be told.
//!   That is almost always a forgotten `<channel>`: a warning, at that PD's
//!   map (or one warning at the region when no sharer has a channel to
//!   another). (Device regions are exempt: two PDs sharing a device is
//!   reported above instead.)

use super::model::*;
use crate::diag::Pos;
use mantle_abi::bootdesc::{PERM_W, PERM_X};
use std::collections::BTreeSet;

/// One finding: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Position in the SDF.
    pub pos: Pos,
    /// The message.
    pub message: String,
}

/// The end of RAM on Mantle's machine (QEMU q35 with
/// [`crate::qemu::MEMORY_MIB`] MiB): RAM is `0..RAM_END`.
pub const RAM_END: u64 = crate::qemu::MEMORY_MIB << 20;
/// Where q35's device window starts (the PCIe configuration window, then
/// the BARs firmware assigns, the IOAPIC, HPET and local APIC up to 4 GiB;
/// and everything above 4 GiB, where Mantle's machine has no RAM).
pub const DEVICE_WINDOW: u64 = 0xb000_0000;
/// The PCI configuration ports (address 0xCF8, data 0xCFC..0xCFF).
pub const PCI_CONFIG_PORTS: std::ops::Range<u32> = 0xcf8..0xd00;

/// What a fixed physical range `base..base+size` is on Mantle's machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhysKind {
    /// Entirely in RAM: DMA memory.
    Ram,
    /// Entirely in the device window: a device's registers.
    Device,
    /// Past RAM but below the device window (or straddling): nothing there.
    Hole,
}

/// Classify `base..base+size` (see [`PhysKind`]).
pub fn phys_kind(base: u64, size: u64) -> PhysKind {
    let end = base.saturating_add(size);
    if end <= RAM_END {
        PhysKind::Ram
    } else if base >= DEVICE_WINDOW {
        PhysKind::Device
    } else {
        PhysKind::Hole
    }
}

/// Every PD index mapping region `mr`, in PD order, with its map.
fn mappers<'s>(sys: &'s System, mr: &str) -> Vec<(usize, &'s Map)> {
    let mut v = Vec::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        for m in &pd.maps {
            if m.mr == mr {
                v.push((i, m));
            }
        }
    }
    v
}

/// Is `pd` given region `mr`'s physical address?
fn told_paddr(pd: &Pd, mr: &str) -> bool {
    pd.setvars.iter().any(|s| s.region_paddr == mr)
}

/// Is region `mr` a DMA region?
pub fn is_dma(sys: &System, mr: &MemoryRegion) -> bool {
    mr.dma || sys.pds.iter().any(|p| told_paddr(p, &mr.name))
}

/// All findings, in a stable order (by region, then by PD).
pub fn findings(sys: &System) -> Vec<Finding> {
    let mut out = Vec::new();
    let linked = |a: usize, b: usize| {
        let (na, nb) = (&sys.pds[a].name, &sys.pds[b].name);
        sys.channels.iter().any(|c| {
            c.ends.len() == 2
                && ((&c.ends[0].pd == na && &c.ends[1].pd == nb)
                    || (&c.ends[0].pd == nb && &c.ends[1].pd == na))
        })
    };
    for mr in &sys.mrs {
        let ms = mappers(sys, &mr.name);
        let pds: BTreeSet<usize> = ms.iter().map(|m| m.0).collect();
        let names = |set: &BTreeSet<usize>| -> String {
            set.iter()
                .map(|&i| format!("'{}'", sys.pds[i].name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let kind = mr.phys_addr.map(|pa| phys_kind(pa, mr.size));
        if let (Some(pa), Some(PhysKind::Hole)) = (mr.phys_addr, kind) {
            out.push(Finding {
                pos: mr.attrs.get("phys_addr", mr.pos),
                message: format!(
                    "memory_region '{}' at phys_addr {pa:#x}..{:#x} is neither RAM (0..{RAM_END:#x}: QEMU q35 with {} MiB) nor in the device window ({DEVICE_WINDOW:#x} and up): nothing answers there on Mantle's machine; for DMA memory leave out phys_addr (the tool places it in RAM), or boot a machine with more RAM (`mantle run --memory 2G`; sdfgen's x86_64_generic board assumes 2 GiB)",
                    mr.name,
                    pa.saturating_add(mr.size),
                    crate::qemu::MEMORY_MIB
                ),
            });
        }
        if let (Some(pa), Some(PhysKind::Device)) = (mr.phys_addr, kind) {
            if pds.len() > 1 {
                out.push(Finding {
                    pos: mr.pos,
                    message: format!(
                        "device memory_region '{}' (phys_addr {pa:#x}) is mapped into {} PDs ({}); least privilege: one driver should own a device",
                        mr.name,
                        pds.len(),
                        names(&pds)
                    ),
                });
            }
        } else if kind != Some(PhysKind::Device) && pds.len() > 1 {
            let alone: Vec<usize> = pds
                .iter()
                .copied()
                .filter(|&p| !pds.iter().any(|&q| q != p && linked(p, q)))
                .collect();
            if alone.len() == pds.len() {
                out.push(Finding {
                    pos: mr.pos,
                    message: format!(
                        "memory_region '{}' is shared by {}, but none of them has a channel to another: shared memory without a signalling path is almost always a mistake (add a <channel>, or ignore this for memory that is only polled)",
                        mr.name,
                        names(&pds)
                    ),
                });
            }
            for &p in alone.iter().filter(|_| alone.len() < pds.len()) {
                {
                    let m = ms.iter().find(|m| m.0 == p).map(|m| m.1);
                    let others: BTreeSet<usize> = pds.iter().copied().filter(|&q| q != p).collect();
                    out.push(Finding {
                        pos: m.map_or(mr.pos, |m| m.pos),
                        message: format!(
                            "memory_region '{}' is shared by '{}' with {}, but '{}' has no channel to any of them: shared memory without a signalling path is almost always a mistake (add a <channel>)",
                            mr.name,
                            sys.pds[p].name,
                            names(&others),
                            sys.pds[p].name
                        ),
                    });
                }
            }
        }
        if is_dma(sys, mr) {
            for &(p, m) in &ms {
                let pd = &sys.pds[p];
                if told_paddr(pd, &mr.name) || pd.role.is_some() {
                    continue;
                }
                out.push(Finding {
                    pos: m.pos,
                    message: format!(
                        "DMA memory_region '{}' ({}) is mapped into '{}', which is not its driver or a virtualiser; least privilege: clients should get copies, not the device's buffers",
                        mr.name,
                        if mr.dma {
                            "device buffers of a composed subsystem".to_string()
                        } else {
                            let holders: Vec<String> = sys
                                .pds
                                .iter()
                                .filter(|q| told_paddr(q, &mr.name))
                                .map(|q| format!("'{}'", q.name))
                                .collect();
                            format!("its physical address goes to {} via setvar region_paddr", holders.join(", "))
                        },
                        pd.name
                    ),
                });
            }
        }
    }
    for pd in &sys.pds {
        for io in &pd.ioports {
            let (first, end) = (u32::from(io.addr), u32::from(io.addr) + io.size);
            if first < PCI_CONFIG_PORTS.end && PCI_CONFIG_PORTS.start < end {
                out.push(Finding {
                    pos: io.pos,
                    message: format!(
                        "ioport {} of protection_domain '{}' ({first:#x}..{end:#x}) includes the PCI configuration ports 0xcf8..0xcff: through them '{}' reaches every PCI device's configuration space (any device's BARs, bus mastering and MSI), not only its own device's; least privilege: give the driver its device's registers as a memory_region (the BAR's phys_addr), its port range (the I/O BAR) and its irq, and leave configuration to firmware",
                        io.id, pd.name, pd.name
                    ),
                });
            }
        }
        for m in &pd.maps {
            if m.perms & PERM_W != 0 && m.perms & PERM_X != 0 {
                out.push(Finding {
                    pos: m.attrs.get("perms", m.pos),
                    message: format!(
                        "map of '{}' in protection_domain '{}' is writable and executable (perms \"{}\"); prefer \"rw\" or \"rx\" (W^X)",
                        m.mr, pd.name, m.perms_text
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_ranges_are_ram_device_or_nothing() {
        for (base, size, want) in [
            (0x0010_0000, 0x1000, PhysKind::Ram),
            (0x1fff_f000, 0x1000, PhysKind::Ram),
            (0x1fff_f000, 0x2000, PhysKind::Hole),
            (0x2000_0000, 0x1000, PhysKind::Hole),
            (0x5fdf_0000, 0x1_0000, PhysKind::Hole), // sdfgen's virtio_requests
            (0x6fdf_6000, 0x20_0000, PhysKind::Hole), // sdfgen's blk client data
            (0xafff_f000, 0x2000, PhysKind::Hole),
            (0xb000_0000, 0x1000, PhysKind::Device),
            (0xfe00_0000, 0x4000, PhysKind::Device), // virtio-blk's BAR under SeaBIOS
            (0xfed0_0000, 0x1000, PhysKind::Device), // HPET
            (0x8_0000_0000, 0x1000, PhysKind::Device),
            (u64::MAX - 0xfff, 0x1000, PhysKind::Device),
        ] {
            assert_eq!(phys_kind(base, size), want, "{base:#x}+{size:#x}");
        }
        assert_eq!(RAM_END, 0x2000_0000);
    }
}
