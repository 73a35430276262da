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
    memory_use(&mut o, b);
    regions(&mut o, b);
    matrix(&mut o, b);
    least_privilege(&mut o, b);
    composed(&mut o, b);
    o
}

fn kib(n: u64) -> String {
    format!("{} KiB", n.div_ceil(1024))
}

/// Per PD: program, stack, IPC buffer, private and shared regions.
fn memory_use(o: &mut String, b: &Built) {
    let sys = &b.system;
    let _ = writeln!(o, "\n## Memory use per PD\n");
    let _ = writeln!(
        o,
        "  {:<24} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "PD", "program", "stack", "ipc", "private", "shared", "total"
    );
    let mut all = 0u64;
    for (i, pd) in b.spec.pds.iter().enumerate() {
        let (mut prog, mut stack, mut ipc, mut private, mut shared) = (0, 0, 0, 0, 0);
        for mi in pd.maps.indices() {
            let m = b.spec.maps[mi];
            match m.kind {
                MapKind::Elf => prog += m.size,
                MapKind::Stack => stack += m.size,
                MapKind::IpcBuffer => ipc += m.size,
                MapKind::Region | MapKind::Fixed => {}
            }
        }
        for m in &sys.pds[i].maps {
            let Some(mr) = sys.mrs.iter().find(|r| r.name == m.mr) else {
                continue;
            };
            let users = sys
                .pds
                .iter()
                .filter(|p| p.maps.iter().any(|x| x.mr == m.mr))
                .count();
            if users > 1 {
                shared += mr.size;
            } else {
                private += mr.size;
            }
        }
        let total = prog + stack + ipc + private;
        all += total;
        let _ = writeln!(
            o,
            "  {:<24} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12}",
            pd.name(),
            kib(prog),
            kib(stack),
            kib(ipc),
            kib(private),
            kib(shared),
            kib(total)
        );
    }
    let shared_total: u64 = sys
        .mrs
        .iter()
        .filter(|mr| {
            mr.phys_addr.is_none()
                && sys
                    .pds
                    .iter()
                    .filter(|p| p.maps.iter().any(|x| x.mr == mr.name))
                    .count()
                    > 1
        })
        .map(|mr| mr.size)
        .sum();
    let _ = writeln!(
        o,
        "  (total = program + stack + ipc + private; shared regions, counted once: {}; all: {})",
        kib(shared_total),
        kib(all + shared_total)
    );
}

/// Every region: size, where, page size, DMA, who maps it.
fn regions(o: &mut String, b: &Built) {
    let sys = &b.system;
    let _ = writeln!(o, "\n## Memory regions ({})\n", sys.mrs.len());
    for (mi, mr) in sys.mrs.iter().enumerate() {
        let pages = if crate::layout::large_pages(sys, mi) {
            "2 MiB pages"
        } else {
            "4 KiB pages"
        };
        let users: Vec<String> = sys
            .pds
            .iter()
            .flat_map(|p| {
                p.maps
                    .iter()
                    .filter(|m| m.mr == mr.name)
                    .map(move |m| format!("{} {}@{:#x}", p.name, perms(m.perms), m.vaddr))
            })
            .collect();
        let _ = writeln!(
            o,
            "  {:<28} {:>10} at {:#012x} ({}){}{}; {}",
            mr.name,
            kib(mr.size),
            b.mr_paddr.get(mi).copied().unwrap_or(0),
            if mr.phys_addr.is_some() {
                "fixed"
            } else {
                "placed"
            },
            format_args!(", {pages}"),
            if crate::sdf::privilege::is_dma(sys, mr) {
                ", DMA"
            } else {
                ""
            },
            if users.is_empty() {
                "not mapped".to_string()
            } else {
                users.join(", ")
            }
        );
    }
}

/// Which PD can read, write or execute which region, and holds which I/O
/// ports and IRQs.
fn matrix(o: &mut String, b: &Built) {
    let sys = &b.system;
    let n = sys.pds.len();
    let _ = writeln!(o, "\n## Permission matrix\n");
    for (i, pd) in sys.pds.iter().enumerate() {
        let _ = writeln!(o, "  p{i:<3} = {}", pd.name);
    }
    let width = 28;
    let mut head = format!("  {:<width$}", "");
    for i in 0..n {
        let _ = write!(head, " {:>4}", format!("p{i}"));
    }
    let _ = writeln!(o, "\n{head}");
    let row = |o: &mut String, label: &str, cells: Vec<String>| {
        let mut l = format!("  {:<width$}", label);
        for c in cells {
            let _ = write!(l, " {c:>4}");
        }
        let _ = writeln!(o, "{}", l.trim_end());
    };
    for mr in &sys.mrs {
        let cells = sys
            .pds
            .iter()
            .map(|p| {
                let bits = p
                    .maps
                    .iter()
                    .filter(|m| m.mr == mr.name)
                    .fold(0u8, |a, m| a | m.perms);
                if bits == 0 {
                    ".".to_string()
                } else {
                    perms(bits)
                }
            })
            .collect();
        row(o, &mr.name, cells);
    }
    for (i, pd) in sys.pds.iter().enumerate() {
        for p in &pd.ioports {
            let cells = (0..n)
                .map(|j| if j == i { "io".into() } else { ".".into() })
                .collect();
            row(
                o,
                &format!("ports {:#x}-{:#x}", p.addr, p.addr as u32 + p.size - 1),
                cells,
            );
        }
        for irq in &pd.irqs {
            let cells = (0..n)
                .map(|j| if j == i { "irq".into() } else { ".".into() })
                .collect();
            let what = match irq.kind {
                crate::sdf::model::IrqKind::IoApic { pin, .. } => format!("irq pin {pin}"),
                crate::sdf::model::IrqKind::Msi { bus, dev, func, .. } => {
                    format!("irq msi {bus:02x}:{dev:02x}.{func}")
                }
            };
            row(o, &format!("{what} vector {}", irq.vector), cells);
        }
    }
    let _ = writeln!(
        o,
        "  (r/w/x: the PD maps the region so; io: holds the I/O ports; irq: receives the interrupt; x86 maps are always readable)"
    );
}

fn least_privilege(o: &mut String, b: &Built) {
    let f = crate::sdf::privilege::findings(&b.system);
    let _ = writeln!(
        o,
        "\n## Least privilege ({} finding{})\n",
        f.len(),
        if f.len() == 1 { "" } else { "s" }
    );
    if f.is_empty() {
        let _ = writeln!(o, "  none: no device region in two PDs, no W+X map, no DMA region in a client, no shared memory without a channel");
    }
    for x in f {
        let _ = writeln!(o, "  {}:{}: {}", x.pos.line, x.pos.col, x.message);
    }
}

fn composed(o: &mut String, b: &Built) {
    let sys = &b.system;
    if sys.composed.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n## Composed subsystems ({})\n", sys.composed.len());
    for c in &sys.composed {
        let _ = writeln!(
            o,
            "### {} '{}'\n  members: {}\n  clients: {}",
            c.sub.kind.map_or("subsystem", |k| k.tag()),
            c.sub.name,
            c.members.join(", "),
            c.sub
                .clients
                .iter()
                .map(|c| c.pd.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (key, l) in &c.links {
            let _ = writeln!(
                o,
                "  {key}: {} id {} <-> {} id {}{}{}",
                l.a,
                l.a_ch,
                l.b,
                l.b_ch,
                if l.mrs.is_empty() { "" } else { "; regions " },
                l.mrs.join(", ")
            );
        }
    }
    let _ = writeln!(
        o,
        "\n  configurations written to {}:",
        mantle_config::SYMBOL
    );
    for (i, kinds, blob) in &b.configs {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let _ = writeln!(
            o,
            "  {:<24} {} ({} bytes)",
            sys.pds[*i].name,
            names.join(" + "),
            crate::sdf::compose::used_len(blob)
        );
    }
}
