//! The boot description's [`SystemSpec`] from a placed system: PDs in
//! pre-order, their maps, id spaces, IRQs and I/O port grants.

use crate::build::Program;
use crate::layout::Placement;
use crate::sdf::model::System;
use mantle_abi::bootdesc::{End, IoPort, Irq, Map, MapKind, Pd, Run, SystemSpec, PERM_R, PERM_W};
use mantle_abi::layout::{stack_bottom, IPC_BUFFER_VADDR, PAGE_SIZE};

/// Build the spec from the parsed system, its programs and their placement.
pub fn make_spec(sys: &System, programs: &[Program], placed: &Placement) -> SystemSpec {
    let Placement {
        chunks,
        seg_chunks,
        stack_chunk,
        ipc_chunk,
        mr_paddr,
        image_end,
    } = placed;
    let image_end = *image_end;
    let mut spec = SystemSpec {
        image_end,
        ..Default::default()
    };
    for (i, (pd, prog)) in sys.pds.iter().zip(programs).enumerate() {
        let mut p = Pd::new(&pd.name);
        p.priority = pd.priority;
        p.passive = pd.passive;
        p.parent = pd.parent.map(|x| x as u8);
        p.child_id = pd.child_id.unwrap_or(0);
        p.budget_us = pd.budget_us;
        p.period_us = pd.period_us;
        p.entry = prog.entry;
        p.stack_size = pd.stack_size;
        p.ipc_buffer_paddr = chunks[ipc_chunk[i]].paddr;
        let first = spec.maps.len() as u32;
        for (s, &c) in prog.segs.iter().zip(&seg_chunks[i]) {
            spec.maps.push(Map {
                vaddr: s.vaddr,
                paddr: chunks[c].paddr,
                size: s.size,
                perms: s.perms,
                cached: true,
                kind: MapKind::Elf,
            });
        }
        spec.maps.push(Map {
            vaddr: stack_bottom(pd.stack_size),
            paddr: chunks[stack_chunk[i]].paddr,
            size: pd.stack_size,
            perms: PERM_R | PERM_W,
            cached: true,
            kind: MapKind::Stack,
        });
        spec.maps.push(Map {
            vaddr: IPC_BUFFER_VADDR,
            paddr: chunks[ipc_chunk[i]].paddr,
            size: PAGE_SIZE,
            perms: PERM_R | PERM_W,
            cached: true,
            kind: MapKind::IpcBuffer,
        });
        for m in &pd.maps {
            let Some(mi) = sys.mr_index(&m.mr) else {
                continue;
            };
            let mr = &sys.mrs[mi];
            spec.maps.push(Map {
                vaddr: m.vaddr,
                paddr: mr_paddr[mi],
                size: mr.size,
                perms: m.perms,
                cached: m.cached,
                kind: if mr.phys_addr.is_some() {
                    MapKind::Fixed
                } else {
                    MapKind::Region
                },
            });
        }
        p.maps = Run {
            first,
            count: spec.maps.len() as u32 - first,
        };
        let first = spec.irqs.len() as u32;
        for irq in &pd.irqs {
            p.ends[irq.id as usize] = End::Irq {
                irq: spec.irqs.len() as u32,
            };
            spec.irqs.push(Irq {
                pd: i as u8,
                id: irq.id,
                vector: irq.vector,
                source: irq.kind,
            });
        }
        p.irqs = Run {
            first,
            count: spec.irqs.len() as u32 - first,
        };
        let first = spec.ioports.len() as u32;
        for io in &pd.ioports {
            spec.ioports.push(IoPort {
                pd: i as u8,
                id: io.id,
                base: io.addr,
                size: io.size,
            });
        }
        p.ioports = Run {
            first,
            count: spec.ioports.len() as u32 - first,
        };
        spec.pds.push(p);
    }
    for ch in &sys.channels {
        let (Some(a), Some(b)) = (sys.pd_index(&ch.ends[0].pd), sys.pd_index(&ch.ends[1].pd))
        else {
            continue;
        };
        let (ea, eb) = (&ch.ends[0], &ch.ends[1]);
        spec.pds[a].ends[ea.id as usize] = End::Channel {
            peer_pd: b as u8,
            peer_id: eb.id,
            can_notify: ea.notify,
            can_ppc: ea.pp,
        };
        spec.pds[b].ends[eb.id as usize] = End::Channel {
            peer_pd: a as u8,
            peer_id: ea.id,
            can_notify: eb.notify,
            can_ppc: eb.pp,
        };
    }
    spec
}
