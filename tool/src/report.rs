//! `--report`: a readable account of what `mantle build` decided.

use crate::build::Built;
use crate::layout::ChunkKind;
use mantle_abi::bootdesc::{End, IrqSource, MapKind, PERM_R, PERM_W, PERM_X};
use mantle_abi::layout::{BOOTDESC_PHYS, PD_MEMORY_PHYS};
use std::fmt::Write;

fn perms(p: u8) -> String {
    let mut s = String::new();
    s.push(if p & PERM_R != 0 { 'r' } else { '-' });
    s.push(if p & PERM_W != 0 { 'w' } else { '-' });
    s.push(if p & PERM_X != 0 { 'x' } else { '-' });
    s
}

fn kind(k: MapKind) -> &'static str {
    match k {
        MapKind::Elf => "elf",
        MapKind::Stack => "stack",
        MapKind::IpcBuffer => "ipc buffer",
        MapKind::Region => "region",
        MapKind::Fixed => "fixed region",
    }
}

/// Render the report.
pub fn render(b: &Built) -> String {
    let mut o = String::new();
    let spec = &b.spec;
    let _ = writeln!(o, "# Mantle system report\n");
    let _ = writeln!(o, "## Protection domains ({})\n", spec.pds.len());
    for (i, pd) in spec.pds.iter().enumerate() {
        let src = &b.system.pds[i];
        let _ = writeln!(o, "### [{i}] {}", pd.name());
        let _ = writeln!(o, "  program:    {}", b.programs[i].path.display());
        let _ = writeln!(o, "  priority:   {}", pd.priority);
        if pd.passive {
            let _ = writeln!(o, "  passive:    yes");
        }
        let _ = writeln!(
            o,
            "  budget:     {} us every {} us",
            pd.budget_us, pd.period_us
        );
        match pd.parent {
            Some(p) => {
                let _ = writeln!(
                    o,
                    "  parent:     [{p}] {} (child id {})",
                    spec.pds[p as usize].name(),
                    pd.child_id
                );
            }
            None => {
                let _ = writeln!(o, "  parent:     none (faults go to the kernel's report)");
            }
        }
        let children: Vec<String> = spec
            .pds
            .iter()
            .enumerate()
            .filter(|(_, c)| c.parent == Some(i as u8))
            .map(|(j, c)| format!("[{j}] {} (id {})", c.name(), c.child_id))
            .collect();
        if !children.is_empty() {
            let _ = writeln!(o, "  children:   {}", children.join(", "));
        }
        let _ = writeln!(o, "  entry:      {:#x}", pd.entry);
        let _ = writeln!(o, "  stack:      {:#x} bytes", pd.stack_size);
        let _ = writeln!(o, "  maps:");
        let _ = writeln!(
            o,
            "    {:<18} {:<18} {:>10}  perm cached kind",
            "vaddr", "paddr", "size"
        );
        for mi in pd.maps.indices() {
            let m = spec.maps[mi];
            let _ = writeln!(
                o,
                "    {:<#18x} {:<#18x} {:>#10x}  {}  {:<6} {}",
                m.vaddr,
                m.paddr,
                m.size,
                perms(m.perms),
                if m.cached { "yes" } else { "no" },
                kind(m.kind)
            );
        }
        let mrs: Vec<String> = src
            .maps
            .iter()
            .map(|m| format!("{} at {:#x}", m.mr, m.vaddr))
            .collect();
        if !mrs.is_empty() {
            let _ = writeln!(o, "  regions:    {}", mrs.join(", "));
        }
        let mut ids = Vec::new();
        for (id, e) in pd.ends.iter().enumerate() {
            match *e {
                End::None => {}
                End::Channel {
                    peer_pd,
                    peer_id,
                    can_notify,
                    can_ppc,
                } => ids.push(format!(
                    "    id {id:>2}: channel to [{peer_pd}] {} id {peer_id}{}{}",
                    spec.pds[peer_pd as usize].name(),
                    if can_notify { ", may notify" } else { "" },
                    if can_ppc { ", may ppcall" } else { "" }
                )),
                End::Irq { irq } => {
                    let r = spec.irqs[irq as usize];
                    ids.push(format!("    id {id:>2}: irq, vector {}", r.vector));
                }
            }
        }
        if !ids.is_empty() {
            let _ = writeln!(o, "  ids:");
            for l in ids {
                let _ = writeln!(o, "{l}");
            }
        }
        let patches: Vec<String> = b
            .patches
            .iter()
            .filter(|p| p.0 == i)
            .map(|p| format!("{} = {:#x}", p.1, p.2))
            .collect();
        if !patches.is_empty() {
            let _ = writeln!(o, "  setvar:     {}", patches.join(", "));
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Channels ({})\n", b.system.channels.len());
    for ch in &b.system.channels {
        let e: Vec<String> = ch
            .ends
            .iter()
            .map(|e| format!("{} id {} (pp {}, notify {})", e.pd, e.id, e.pp, e.notify))
            .collect();
        let _ = writeln!(o, "  {}", e.join(" <-> "));
    }
    let _ = writeln!(o, "\n## Interrupts ({})\n", spec.irqs.len());
    for r in &spec.irqs {
        let src = match r.source {
            IrqSource::IoApic {
                ioapic,
                pin,
                level,
                active_low,
            } => format!(
                "IOAPIC {ioapic} pin {pin}, {} triggered, active {}",
                if level { "level" } else { "edge" },
                if active_low { "low" } else { "high" }
            ),
            IrqSource::Msi {
                bus,
                dev,
                func,
                handle,
            } => format!("MSI {bus:02x}:{dev:02x}.{func} handle {handle}"),
        };
        let _ = writeln!(
            o,
            "  {} id {}: vector {} (CPU vector {:#x}), {src}",
            spec.pds[r.pd as usize].name(),
            r.id,
            r.vector,
            r.vector as u32 + mantle_abi::layout::USER_VECTOR_BASE as u32
        );
    }
    let _ = writeln!(o, "\n## I/O port grants ({})\n", spec.ioports.len());
    for p in &spec.ioports {
        let _ = writeln!(
            o,
            "  {} id {}: ports {:#x}..={:#x} ({} port{})",
            spec.pds[p.pd as usize].name(),
            p.id,
            p.base,
            p.base as u32 + p.size - 1,
            p.size,
            if p.size == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(o, "\n## Physical memory\n");
    for (pa, sz) in &b.kernel_segments {
        let _ = writeln!(o, "  {pa:#010x}..{:#010x}  kernel segment", pa + sz);
    }
    let _ = writeln!(
        o,
        "  {BOOTDESC_PHYS:#010x}..{:#010x}  boot description ({} bytes)",
        BOOTDESC_PHYS + b.bootdesc.len() as u64,
        b.bootdesc.len()
    );
    let _ = writeln!(o, "  {PD_MEMORY_PHYS:#010x}            PD memory starts");
    for c in &b.chunks {
        let init = match c.kind {
            ChunkKind::Elf(_) => format!(", {:#x} bytes from the ELF", c.data.len()),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "  {:#010x}..{:#010x}  {}{init}",
            c.paddr,
            c.paddr + c.size,
            c.what
        );
    }
    for mr in &b.system.mrs {
        if let Some(pf) = &mr.prefill {
            let _ = writeln!(
                o,
                "  memory_region '{}' is prefilled from \"{}\" ({:#x} bytes)",
                mr.name,
                pf.path,
                pf.data.len()
            );
        }
    }
    for (mr, &p) in b.system.mrs.iter().zip(&b.mr_paddr) {
        if mr.phys_addr.is_some() {
            let _ = writeln!(
                o,
                "  {p:#010x}..{:#010x}  memory_region '{}' (fixed phys_addr)",
                p + mr.size,
                mr.name
            );
        }
    }
    let _ = writeln!(
        o,
        "  image end: {:#x} ({:.1} MiB of PD memory)",
        spec.image_end,
        (spec.image_end - PD_MEMORY_PHYS) as f64 / (1 << 20) as f64
    );
    o
}
