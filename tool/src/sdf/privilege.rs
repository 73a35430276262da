//! Least-privilege findings about a checked [`System`]. `mantle check`
//! prints them as warnings and `mantle report` lists them.
//!
//! Definitions:
//! - A **device region** has a fixed `phys_addr`. Mapped into more than one
//!   PD, every one of them can drive the device: a warning.
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
//!   another). (Regions with a fixed `phys_addr` are exempt: two PDs sharing a
//!   device is reported above instead.)

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
        if let Some(pa) = mr.phys_addr {
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
        } else if pds.len() > 1 {
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
