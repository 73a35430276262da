//! Cross-element rules of a parsed [`System`]: names, id spaces, channels,
//! maps, memory regions, IRQs and I/O ports. Everything here needs only the
//! SDF; checks that need the program images are in [`mod@crate::build`].

use super::model::*;
use crate::diag::{did_you_mean, Diags, Pos};
use mantle_abi::layout::{map_limit, BOOTDESC_PHYS, KERNEL_PHYS_BASE, PD_MEMORY_PHYS, USER_TOP};
use mantle_abi::limits::*;
use std::collections::HashMap;

fn at(p: Pos) -> String {
    format!("{}:{}", p.line, p.col)
}

/// Check `sys`; errors and warnings go to `d`.
pub fn validate(sys: &System, d: &mut Diags) {
    if sys.pds.is_empty() {
        d.error(
            sys.pos,
            "system has no protection_domain; at least one is required",
        );
        return;
    }
    if sys.pds.len() > MAX_PDS {
        d.error(
            sys.pds[MAX_PDS].pos,
            format!(
                "too many protection domains: {} (children included); allowed: at most {MAX_PDS}",
                sys.pds.len()
            ),
        );
    }
    names(sys, d);
    for pd in &sys.pds {
        pd_checks(sys, pd, d);
    }
    channels(sys, d);
    ids(sys, d);
    memory_regions(sys, d);
    irqs(sys, d);
    ioports(sys, d);
    setvars(sys, d);
    for f in super::privilege::findings(sys) {
        d.warn(f.pos, f.message);
    }
    passive_without_callers(sys, d);
}

/// A passive PD runs only on its notified handler: without a channel whose
/// other end has `pp="true"`, no PD can call it, so its protected handler
/// never runs.
fn passive_without_callers(sys: &System, d: &mut Diags) {
    for pd in sys.pds.iter().filter(|p| p.passive) {
        let called = sys.channels.iter().any(|ch| {
            ch.ends.iter().any(|e| e.pd == pd.name)
                && ch.ends.iter().any(|e| e.pd != pd.name && e.pp)
        });
        if !called {
            d.warn(
                pd.attrs.get("passive", pd.pos),
                format!(
                    "protection_domain '{}' is passive, but no channel lets another PD call it (no end opposite it has pp=\"true\"): it can be notified, but its protected handler never runs; add pp=\"true\" on the caller's end of a channel to '{}', or drop passive=\"true\"",
                    pd.name, pd.name
                ),
            );
        }
    }
}

fn names(sys: &System, d: &mut Diags) {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for pd in &sys.pds {
        let p = pd.attrs.get("name", pd.pos);
        if pd.name == "monitor" {
            d.error(
                p,
                "protection_domain name 'monitor' is reserved; choose another name",
            );
        }
        if let Some(first) = seen.insert(&pd.name, pd.pos) {
            d.error(
                p,
                format!(
                    "duplicate protection_domain name '{}' (first defined at {})",
                    pd.name,
                    at(first)
                ),
            );
        }
    }
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for mr in &sys.mrs {
        if let Some(first) = seen.insert(&mr.name, mr.pos) {
            d.error(
                mr.attrs.get("name", mr.pos),
                format!(
                    "duplicate memory_region name '{}' (first defined at {})",
                    mr.name,
                    at(first)
                ),
            );
        }
    }
    // Child ids, per parent.
    let mut seen: HashMap<(usize, u8), (Pos, &str)> = HashMap::new();
    for pd in &sys.pds {
        if let (Some(parent), Some(id)) = (pd.parent, pd.child_id) {
            if let Some((first, other)) = seen.insert((parent, id), (pd.pos, &pd.name)) {
                d.error(
                    pd.attrs.get("id", pd.pos),
                    format!(
                        "child id {id} of protection_domain '{}' is already used by '{other}' (at {}) in parent '{}'",
                        pd.name,
                        at(first),
                        sys.pds[parent].name
                    ),
                );
            }
        }
    }
}

fn pd_checks(sys: &System, pd: &Pd, d: &mut Diags) {
    let limit = map_limit(pd.stack_size);
    // Maps: known MR, alignment, range, overlap.
    let mut ranges: Vec<(u64, u64, &Map)> = Vec::new();
    for m in &pd.maps {
        let Some(mr) = sys.mrs.iter().find(|r| r.name == m.mr) else {
            let known: Vec<&str> = sys.mrs.iter().map(|r| r.name.as_str()).collect();
            d.error(
                m.attrs.get("mr", m.pos),
                format!(
                    "map in protection_domain '{}' names unknown memory_region '{}'{}; defined: {}",
                    pd.name,
                    m.mr,
                    did_you_mean(&m.mr, known.iter().copied()),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            continue;
        };
        let vp = m.attrs.get("vaddr", m.pos);
        if m.vaddr % mr.page_size != 0 {
            d.error(
                vp,
                format!(
                    "vaddr {:#x} of map of '{}' in protection_domain '{}' is not aligned to the region's page size {:#x}",
                    m.vaddr, m.mr, pd.name, mr.page_size
                ),
            );
            continue;
        }
        let Some(end) = m.vaddr.checked_add(mr.size) else {
            d.error(
                vp,
                format!(
                    "map of '{}' in protection_domain '{}' at vaddr {:#x} with size {:#x} overflows the address space",
                    m.mr, pd.name, m.vaddr, mr.size
                ),
            );
            continue;
        };
        if end > limit {
            let why = if end > USER_TOP {
                format!("above the user address-space limit {USER_TOP:#x}")
            } else {
                format!(
                    "into the stack, its guard page or the IPC buffer (maps must end at or below {limit:#x} with stack_size {:#x})",
                    pd.stack_size
                )
            };
            d.error(
                vp,
                format!(
                    "map of '{}' in protection_domain '{}' at {:#x}..{end:#x} reaches {why}",
                    m.mr, pd.name, m.vaddr
                ),
            );
            continue;
        }
        if m.vaddr == 0 {
            d.error(
                vp,
                format!(
                    "map of '{}' in protection_domain '{}' at vaddr 0x0 covers the null page; allowed: vaddr >= 0x1000",
                    m.mr, pd.name
                ),
            );
            continue;
        }
        for (s, e, other) in &ranges {
            if m.vaddr < *e && *s < end {
                d.error(
                    vp,
                    format!(
                        "map of '{}' at {:#x}..{end:#x} in protection_domain '{}' overlaps the map of '{}' at {s:#x}..{e:#x} (at {})",
                        m.mr,
                        m.vaddr,
                        pd.name,
                        other.mr,
                        at(other.pos)
                    ),
                );
                break;
            }
        }
        ranges.push((m.vaddr, end, m));
    }
}

fn channels(sys: &System, d: &mut Diags) {
    for ch in &sys.channels {
        let mut idx = Vec::new();
        for e in &ch.ends {
            match sys.pd_index(&e.pd) {
                Some(i) => idx.push(i),
                None => d.error(
                    e.attrs.get("pd", e.pos),
                    format!(
                        "channel end names unknown protection_domain '{}'{}",
                        e.pd,
                        did_you_mean(&e.pd, sys.pds.iter().map(|p| p.name.as_str()))
                    ),
                ),
            }
        }
        if idx.len() != 2 || ch.ends.len() != 2 {
            continue;
        }
        let (a, b) = (&ch.ends[0], &ch.ends[1]);
        let (pa, pb) = (&sys.pds[idx[0]], &sys.pds[idx[1]]);
        if idx[0] == idx[1] {
            d.error(
                ch.pos,
                format!(
                    "both ends of the channel name protection_domain '{}'; a channel connects two different PDs",
                    pa.name
                ),
            );
            continue;
        }
        if a.pp && b.pp {
            d.error(
                b.attrs.get("pp", b.pos),
                format!(
                    "pp is true on both ends of the channel between '{}' and '{}'; PPC may go one way only",
                    pa.name, pb.name
                ),
            );
            continue;
        }
        for (end, me, peer) in [(a, pa, pb), (b, pb, pa)] {
            if end.pp && me.priority >= peer.priority {
                d.error(
                    end.attrs.get("pp", end.pos),
                    format!(
                        "'{}' (priority {}) may not PPC '{}' (priority {}): the pp end must have strictly lower priority than the other end",
                        me.name, me.priority, peer.name, peer.priority
                    ),
                );
            }
        }
    }
}

/// Channel ends and IRQs share one id space per PD.
fn ids(sys: &System, d: &mut Diags) {
    let mut used: HashMap<(usize, u8), (Pos, String)> = HashMap::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        for irq in &pd.irqs {
            let what = format!("irq {} of protection_domain '{}'", irq.id, pd.name);
            if let Some((first, other)) = used.insert((i, irq.id), (irq.pos, what.clone())) {
                d.error(
                    irq.attrs.get("id", irq.pos),
                    format!(
                        "id {} of {what} is already used by {other} (at {}); channel and irq ids share one space per PD",
                        irq.id,
                        at(first)
                    ),
                );
            }
        }
    }
    for ch in &sys.channels {
        for e in &ch.ends {
            let Some(i) = sys.pd_index(&e.pd) else {
                continue;
            };
            let what = format!("channel end of protection_domain '{}'", e.pd);
            if let Some((first, other)) = used.insert((i, e.id), (e.pos, what.clone())) {
                d.error(
                    e.attrs.get("id", e.pos),
                    format!(
                        "id {} of {what} is already used by {other} (at {}); channel and irq ids share one space per PD",
                        e.id,
                        at(first)
                    ),
                );
            }
        }
    }
}

fn memory_regions(sys: &System, d: &mut Diags) {
    let mut fixed: Vec<(u64, u64, &MemoryRegion)> = Vec::new();
    for mr in &sys.mrs {
        let used = sys.pds.iter().any(|p| {
            p.maps.iter().any(|m| m.mr == mr.name)
                || p.setvars.iter().any(|s| s.region_paddr == mr.name)
                || p.configs
                    .iter()
                    .any(|c| c.paddrs.iter().any(|r| r.mr == mr.name))
        });
        if !used {
            d.warn(
                mr.pos,
                format!(
                    "memory_region '{}' is not used by any map or setvar",
                    mr.name
                ),
            );
        }
        let Some(base) = mr.phys_addr else { continue };
        let Some(end) = base.checked_add(mr.size) else {
            continue;
        };
        let pp = mr.attrs.get("phys_addr", mr.pos);
        if base < PD_MEMORY_PHYS && end > KERNEL_PHYS_BASE {
            d.error(
                pp,
                format!(
                    "memory_region '{}' at {base:#x}..{end:#x} overlaps the kernel and boot description ({KERNEL_PHYS_BASE:#x}..{PD_MEMORY_PHYS:#x}, boot description at {BOOTDESC_PHYS:#x})",
                    mr.name
                ),
            );
        }
        for (s, e, other) in &fixed {
            if base < *e && *s < end {
                d.error(
                    pp,
                    format!(
                        "memory_region '{}' at {base:#x}..{end:#x} overlaps memory_region '{}' at {s:#x}..{e:#x} (at {}) physically",
                        mr.name,
                        other.name,
                        at(other.pos)
                    ),
                );
                break;
            }
        }
        fixed.push((base, end, mr));
    }
}

fn irqs(sys: &System, d: &mut Diags) {
    let mut sources: HashMap<IrqKey, (Pos, &str)> = HashMap::new();
    let mut vectors: HashMap<u8, (Pos, &str)> = HashMap::new();
    for pd in &sys.pds {
        for irq in &pd.irqs {
            let (key, desc) = match irq.kind {
                IrqKind::IoApic { ioapic, pin, .. } => (
                    IrqKey::Pin(ioapic, pin),
                    format!("IOAPIC {ioapic} pin {pin}"),
                ),
                IrqKind::Msi {
                    bus,
                    dev,
                    func,
                    handle,
                } => (
                    IrqKey::Msi(bus, dev, func, handle),
                    format!("MSI of PCI device {bus}:{dev}.{func} handle {handle}"),
                ),
            };
            if let Some((first, other)) = sources.insert(key, (irq.pos, &pd.name)) {
                d.error(
                    irq.pos,
                    format!(
                        "{desc} of irq {} in protection_domain '{}' is already granted to '{other}' (at {})",
                        irq.id,
                        pd.name,
                        at(first)
                    ),
                );
            }
            if let Some((first, other)) = vectors.insert(irq.vector, (irq.pos, &pd.name)) {
                d.error(
                    irq.attrs.get("vector", irq.pos),
                    format!(
                        "vector {} of irq {} in protection_domain '{}' is already used by an irq of '{other}' (at {}); each vector may be used once",
                        irq.vector,
                        irq.id,
                        pd.name,
                        at(first)
                    ),
                );
            }
        }
    }
}

#[derive(Hash, PartialEq, Eq)]
enum IrqKey {
    Pin(u8, u8),
    Msi(u8, u8, u8, u32),
}

/// Ports the kernel keeps for itself and never grants (the kernel rejects a
/// boot description that grants them).
const KERNEL_PORTS: [(u32, u32, &str); 3] = [
    (0x20, 0x22, "the master 8259 PIC"),
    (0xa0, 0xa2, "the slave 8259 PIC"),
    (0xe9, 0xea, "the debug console"),
];

fn ioports(sys: &System, d: &mut Diags) {
    let mut grants: Vec<(u32, u32, &str, Pos)> = Vec::new();
    for pd in &sys.pds {
        let mut ids: HashMap<u8, Pos> = HashMap::new();
        for p in &pd.ioports {
            if let Some(first) = ids.insert(p.id, p.pos) {
                d.error(
                    p.attrs.get("id", p.pos),
                    format!(
                        "ioport id {} in protection_domain '{}' is already used (at {})",
                        p.id,
                        pd.name,
                        at(first)
                    ),
                );
            }
            let (s, e) = (p.addr as u32, p.addr as u32 + p.size);
            if let Some((ks, ke, owner)) =
                KERNEL_PORTS.iter().find(|(ks, ke, _)| s < *ke && *ks < e)
            {
                d.error(
                    p.attrs.get("addr", p.pos),
                    format!(
                        "ioport {} of protection_domain '{}' (ports {s:#x}..{e:#x}) covers ports {ks:#x}..{ke:#x}, which the kernel keeps ({owner}); allowed: any other ports",
                        p.id, pd.name
                    ),
                );
            }
            for (os, oe, other, opos) in &grants {
                if s < *oe && *os < e {
                    d.error(
                        p.attrs.get("addr", p.pos),
                        format!(
                            "ioport {} of protection_domain '{}' (ports {s:#x}..{e:#x}) overlaps the grant of '{other}' (ports {os:#x}..{oe:#x}, at {})",
                            p.id,
                            pd.name,
                            at(*opos)
                        ),
                    );
                    break;
                }
            }
            grants.push((s, e, &pd.name, p.pos));
        }
    }
}

fn setvars(sys: &System, d: &mut Diags) {
    // Every symbol a PD's image receives, from any source.
    let mut per_pd: Vec<HashMap<String, Pos>> = vec![HashMap::new(); sys.pds.len()];
    let mut add = |d: &mut Diags, pd: usize, sym: &str, pos: Pos| {
        if let Some(first) = per_pd[pd].insert(sym.to_string(), pos) {
            d.error(
                pos,
                format!(
                    "setvar symbol '{sym}' of protection_domain '{}' is already set (at {}); each symbol may be set once",
                    sys.pds[pd].name,
                    at(first)
                ),
            );
        }
    };
    for pd in &sys.pds {
        for s in &pd.setvars {
            if sys.mr_index(&s.region_paddr).is_none() {
                d.error(
                    s.attrs.get("region_paddr", s.pos),
                    format!(
                        "setvar '{}' in protection_domain '{}' names unknown memory_region '{}'{}",
                        s.symbol,
                        pd.name,
                        s.region_paddr,
                        did_you_mean(&s.region_paddr, sys.mrs.iter().map(|m| m.name.as_str()))
                    ),
                );
            }
        }
    }
    for (i, pd) in sys.pds.iter().enumerate() {
        for m in &pd.maps {
            if let Some(s) = &m.setvar_vaddr {
                add(d, i, s, m.attrs.get("setvar_vaddr", m.pos));
            }
            if let Some(s) = &m.setvar_size {
                add(d, i, s, m.attrs.get("setvar_size", m.pos));
            }
            if let Some(s) = &m.setvar_prefill_size {
                let at = m.attrs.get("setvar_prefill_size", m.pos);
                add(d, i, s, at);
                if sys
                    .mrs
                    .iter()
                    .any(|r| r.name == m.mr && r.prefill.is_none())
                {
                    d.error(
                        at,
                        format!(
                            "setvar_prefill_size of map of '{}' in protection_domain '{}': memory_region '{}' has no prefill_path",
                            m.mr, pd.name, m.mr
                        ),
                    );
                }
            }
        }
        for s in &pd.setvars {
            add(d, i, &s.symbol, s.attrs.get("symbol", s.pos));
        }
        if let (Some(s), Some(parent)) = (&pd.setvar_id, pd.parent) {
            add(d, parent, s, pd.attrs.get("setvar_id", pd.pos));
        }
        for irq in &pd.irqs {
            if let Some(s) = &irq.setvar_id {
                add(d, i, s, irq.attrs.get("setvar_id", irq.pos));
            }
        }
        for p in &pd.ioports {
            if let Some(s) = &p.setvar_id {
                add(d, i, s, p.attrs.get("setvar_id", p.pos));
            }
            if let Some(s) = &p.setvar_addr {
                add(d, i, s, p.attrs.get("setvar_addr", p.pos));
            }
        }
    }
    for ch in &sys.channels {
        for e in &ch.ends {
            if let (Some(s), Some(i)) = (&e.setvar_id, sys.pd_index(&e.pd)) {
                add(d, i, s, e.attrs.get("setvar_id", e.pos));
            }
        }
    }
}
