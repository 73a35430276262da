//! `mantle build`: read the program images, place all memory, patch
//! `setvar` symbols, encode and check the boot description, write the image.

use crate::diag::{Diagnostic, Diags, Error, Pos};
use crate::elf::{self, Elf, PF_R, PF_W, PT_LOAD, PT_NOTE};
use crate::image::{write_elf, OutSegment};
use crate::layout::{ChunkKind, Placer};
use crate::sdf::model::System;
use mantle_abi::bootdesc::{self, BootDescription, SystemSpec};
use mantle_abi::layout::{
    BOOTDESC_MAX_SIZE, BOOTDESC_PHYS, KERNEL_PHYS_BASE, PAGE_SIZE, PD_MEMORY_PHYS,
};
use mantle_abi::limits::MAX_MAPS_PER_PD;
use std::path::{Path, PathBuf};

pub use crate::layout::Chunk;
use crate::program::{load_program, patch, patch_name};
pub use crate::program::{LoadSeg, Program};
use crate::spec::make_spec;

/// Where to find things.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The kernel ELF.
    pub kernel: PathBuf,
    /// Folders searched for program images after the SDF's own folder.
    pub search_paths: Vec<PathBuf>,
}

/// Default kernel path: `$MANTLE_KERNEL`, else the xtask build output
/// relative to the current directory.
pub fn default_kernel_path() -> PathBuf {
    match std::env::var_os("MANTLE_KERNEL") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("target/kernel/x86_64-unknown-none/release/mantle-kernel"),
    }
}

/// The result of a build.
#[derive(Clone, Debug)]
pub struct Built {
    /// The system as parsed.
    pub system: System,
    /// Per PD (same order as `system.pds`), its program.
    pub programs: Vec<Program>,
    /// Placed memory.
    pub chunks: Vec<Chunk>,
    /// Physical address of each memory region (same order as `system.mrs`).
    pub mr_paddr: Vec<u64>,
    /// The boot description as encoded.
    pub spec: SystemSpec,
    /// The encoded boot description.
    pub bootdesc: Vec<u8>,
    /// The image file's bytes.
    pub image: Vec<u8>,
    /// Setvar patches made: (PD index, symbol, value).
    pub patches: Vec<(usize, String, u64)>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
    /// The kernel's `PT_LOAD` ranges (paddr, memsz).
    pub kernel_segments: Vec<(u64, u64)>,
}

/// Read the file at `path` as an SDF and build it.
pub fn build(sdf: &Path, opts: &BuildOptions) -> Result<Built, Error> {
    let name = sdf.display().to_string();
    let bytes = std::fs::read(sdf)
        .map_err(|e| Error::msg(&name, format!("cannot read system description: {e}")))?;
    let dir = sdf.parent().map(Path::to_path_buf).unwrap_or_default();
    build_bytes(&name, &bytes, &dir, opts)
}

/// Build the SDF `bytes` (named `name`; program images are looked up in
/// `dir`, then in the search paths).
pub fn build_bytes(
    name: &str,
    bytes: &[u8],
    dir: &Path,
    opts: &BuildOptions,
) -> Result<Built, Error> {
    let mut search = vec![dir.to_path_buf()];
    search.extend(opts.search_paths.iter().cloned());
    let (system, diags) = crate::sdf::load_bytes(name, bytes, &search)?;
    let mut d = diags;
    // A kernel problem is reported together with any program-image problems.
    let kernel = match read_kernel(&opts.kernel) {
        Ok(k) => Some(k),
        Err(e) => {
            for x in e.diagnostics {
                d.push(x);
            }
            None
        }
    };
    // 1. Programs.
    let mut programs = Vec::new();
    for pd in &system.pds {
        match load_program(pd, &search) {
            Ok(p) => programs.push(Some(p)),
            Err(msg) => {
                let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
                d.error(pos, msg);
                programs.push(None);
            }
        }
    }
    let Some(kernel) = kernel.filter(|_| !d.has_errors()) else {
        return Err(d.into());
    };
    let programs: Vec<Program> = programs.into_iter().flatten().collect();
    // 2. Maps against ELF segments; map counts.
    for (pd, prog) in system.pds.iter().zip(&programs) {
        for m in &pd.maps {
            let Some(mr) = system.mrs.iter().find(|r| r.name == m.mr) else {
                continue;
            };
            let end = m.vaddr.saturating_add(mr.size);
            for s in &prog.segs {
                if m.vaddr < s.vaddr + s.size && s.vaddr < end {
                    d.error(
                        m.attrs.get("vaddr", m.pos),
                        format!(
                            "map of '{}' at {:#x}..{end:#x} in protection_domain '{}' overlaps ELF segment {:#x}..{:#x} of '{}'",
                            m.mr,
                            m.vaddr,
                            pd.name,
                            s.vaddr,
                            s.vaddr + s.size,
                            prog.path.display()
                        ),
                    );
                    break;
                }
            }
        }
        let n = prog.segs.len() + 2 + pd.maps.len();
        if n > MAX_MAPS_PER_PD {
            d.error(
                pd.pos,
                format!(
                    "protection_domain '{}' needs {n} maps (ELF segments, stack and IPC buffer included); allowed: at most {MAX_MAPS_PER_PD}",
                    pd.name
                ),
            );
        }
    }
    if d.has_errors() {
        return Err(d.into());
    }
    // 3. Placement.
    let mut placer = Placer::default();
    let mut seg_chunks: Vec<Vec<usize>> = Vec::new();
    let mut stack_chunk = Vec::new();
    let mut ipc_chunk = Vec::new();
    let place_err = |d: &mut Diags, pos: Pos, msg: String| d.error(pos, msg);
    for (i, (pd, prog)) in system.pds.iter().zip(&programs).enumerate() {
        let mut v = Vec::new();
        for s in &prog.segs {
            match placer.place(
                s.size,
                PAGE_SIZE,
                s.data.clone(),
                ChunkKind::Elf(i),
                format!("'{}' ELF {:#x}..{:#x}", pd.name, s.vaddr, s.vaddr + s.size),
            ) {
                Ok(c) => v.push(c),
                Err(e) => {
                    place_err(&mut d, pd.pos, e);
                    return Err(d.into());
                }
            }
        }
        seg_chunks.push(v);
        match placer.place(
            pd.stack_size,
            PAGE_SIZE,
            Vec::new(),
            ChunkKind::Stack(i),
            format!("'{}' stack", pd.name),
        ) {
            Ok(c) => stack_chunk.push(c),
            Err(e) => {
                place_err(&mut d, pd.pos, e);
                return Err(d.into());
            }
        }
        match placer.place(
            PAGE_SIZE,
            PAGE_SIZE,
            Vec::new(),
            ChunkKind::IpcBuffer(i),
            format!("'{}' IPC buffer", pd.name),
        ) {
            Ok(c) => ipc_chunk.push(c),
            Err(e) => {
                place_err(&mut d, pd.pos, e);
                return Err(d.into());
            }
        }
    }
    let mut mr_paddr = Vec::new();
    for (i, mr) in system.mrs.iter().enumerate() {
        match mr.phys_addr {
            Some(p) => mr_paddr.push(p),
            None => match placer.place(
                mr.size,
                mr.page_size,
                mr.prefill
                    .as_ref()
                    .map(|p| p.data.clone())
                    .unwrap_or_default(),
                ChunkKind::Region(i),
                format!("memory_region '{}'", mr.name),
            ) {
                Ok(c) => mr_paddr.push(placer.chunks[c].paddr),
                Err(e) => {
                    place_err(&mut d, mr.pos, e);
                    return Err(d.into());
                }
            },
        }
    }
    let image_end = placer.end();
    // Fixed regions must not overlap placed memory.
    for (mr, &p) in system.mrs.iter().zip(&mr_paddr) {
        if mr.phys_addr.is_some() && p < image_end && p.saturating_add(mr.size) > PD_MEMORY_PHYS {
            d.error(
                mr.attrs.get("phys_addr", mr.pos),
                format!(
                    "memory_region '{}' at {p:#x}..{:#x} overlaps the memory the tool places PDs in ({PD_MEMORY_PHYS:#x}..{image_end:#x})",
                    mr.name,
                    p.saturating_add(mr.size)
                ),
            );
        }
    }
    // 4. Setvars.
    let mut patches = Vec::new();
    for (i, pd) in system.pds.iter().enumerate() {
        let mut want: Vec<(String, u64, Pos)> = Vec::new();
        for m in &pd.maps {
            let size = system
                .mrs
                .iter()
                .find(|r| r.name == m.mr)
                .map_or(0, |r| r.size);
            if let Some(s) = &m.setvar_vaddr {
                want.push((s.clone(), m.vaddr, m.attrs.get("setvar_vaddr", m.pos)));
            }
            if let Some(s) = &m.setvar_size {
                want.push((s.clone(), size, m.attrs.get("setvar_size", m.pos)));
            }
            if let Some(s) = &m.setvar_prefill_size {
                let len = system
                    .mrs
                    .iter()
                    .find(|r| r.name == m.mr)
                    .and_then(|r| r.prefill.as_ref())
                    .map_or(0, |p| p.data.len() as u64);
                want.push((s.clone(), len, m.attrs.get("setvar_prefill_size", m.pos)));
            }
        }
        for s in &pd.setvars {
            if let Some(mi) = system.mr_index(&s.region_paddr) {
                want.push((s.symbol.clone(), mr_paddr[mi], s.attrs.get("symbol", s.pos)));
            }
        }
        for irq in &pd.irqs {
            if let Some(s) = &irq.setvar_id {
                want.push((
                    s.clone(),
                    irq.id as u64,
                    irq.attrs.get("setvar_id", irq.pos),
                ));
            }
        }
        for p in &pd.ioports {
            if let Some(s) = &p.setvar_id {
                want.push((s.clone(), p.id as u64, p.attrs.get("setvar_id", p.pos)));
            }
            if let Some(s) = &p.setvar_addr {
                want.push((s.clone(), p.addr as u64, p.attrs.get("setvar_addr", p.pos)));
            }
        }
        for child in system.pds.iter().filter(|c| c.parent == Some(i)) {
            if let (Some(s), Some(id)) = (&child.setvar_id, child.child_id) {
                want.push((
                    s.clone(),
                    id as u64,
                    child.attrs.get("setvar_id", child.pos),
                ));
            }
        }
        for ch in &system.channels {
            for e in &ch.ends {
                if let (Some(s), true) = (&e.setvar_id, e.pd == pd.name) {
                    want.push((s.clone(), e.id as u64, e.attrs.get("setvar_id", e.pos)));
                }
            }
        }
        let prog = &programs[i];
        if let Err(msg) = patch_name(prog, &seg_chunks[i], &mut placer.chunks, &pd.name) {
            let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
            d.error(pos, format!("protection_domain '{}': {msg}", pd.name));
        }
        for (sym, value, pos) in want {
            match patch(prog, &seg_chunks[i], &mut placer.chunks, &sym, value) {
                Ok(()) => patches.push((i, sym, value)),
                Err(msg) => d.error(
                    pos,
                    format!("setvar in protection_domain '{}': {msg}", pd.name),
                ),
            }
        }
    }
    if d.has_errors() {
        return Err(d.into());
    }
    // 5. The boot description.
    let spec = make_spec(
        &system,
        &programs,
        &placer.chunks,
        &seg_chunks,
        &stack_chunk,
        &ipc_chunk,
        &mr_paddr,
        image_end,
    );
    let bootdesc = bootdesc::encode(&spec);
    if let Err(e) = BootDescription::parse(&bootdesc) {
        return Err(Error::msg(
            name,
            format!("internal error: the boot description the tool made does not pass the kernel's check ({e:?}); this is a bug in mantle"),
        ));
    }
    if bootdesc.len() as u64 > BOOTDESC_MAX_SIZE {
        return Err(Error::msg(
            name,
            format!(
                "the boot description is {:#x} bytes; allowed: at most {BOOTDESC_MAX_SIZE:#x}",
                bootdesc.len()
            ),
        ));
    }
    // 6. The image.
    let mut segs = Vec::new();
    let kelf = Elf::parse(&kernel.1).map_err(|e| Error::msg(kernel.0.display().to_string(), e))?;
    let mut kernel_segments = Vec::new();
    for ph in &kelf.phdrs {
        if ph.p_type == PT_LOAD || ph.p_type == PT_NOTE {
            let data = kelf
                .bytes(ph)
                .map_err(|e| Error::msg(kernel.0.display().to_string(), e))?;
            if ph.p_type == PT_LOAD {
                kernel_segments.push((ph.paddr, ph.memsz));
            }
            segs.push(OutSegment {
                p_type: ph.p_type,
                flags: ph.flags,
                vaddr: ph.vaddr,
                paddr: ph.paddr,
                data,
                memsz: ph.memsz,
                // QEMU reads the PVH note with the note segment's p_align:
                // keep it. Loadable segments need no more than page alignment.
                align: if ph.p_type == PT_NOTE {
                    ph.align
                } else {
                    ph.align.min(PAGE_SIZE)
                },
            });
        }
    }
    segs.push(OutSegment {
        p_type: PT_LOAD,
        flags: PF_R,
        vaddr: BOOTDESC_PHYS,
        paddr: BOOTDESC_PHYS,
        data: &bootdesc,
        memsz: bootdesc.len() as u64,
        align: PAGE_SIZE,
    });
    for c in &placer.chunks {
        segs.push(OutSegment {
            p_type: PT_LOAD,
            flags: PF_R | PF_W,
            vaddr: c.paddr,
            paddr: c.paddr,
            data: &c.data,
            memsz: c.size,
            align: PAGE_SIZE,
        });
    }
    let image = write_elf(kelf.entry, &segs);
    drop(segs);
    Ok(Built {
        system,
        programs,
        chunks: placer.chunks,
        mr_paddr,
        spec,
        bootdesc,
        image,
        patches,
        warnings: d.into_vec(),
        kernel_segments,
    })
}

/// Read and check the kernel ELF; returns (path, bytes).
fn read_kernel(path: &Path) -> Result<(PathBuf, Vec<u8>), Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Error::msg(
            &name,
            format!("cannot read the kernel: {e} (give --kernel PATH or set MANTLE_KERNEL; `cargo xtask` builds it)"),
        )
    })?;
    let elf = Elf::parse(&bytes).map_err(|e| Error::msg(&name, format!("kernel: {e}")))?;
    if elf.e_type != elf::ET_EXEC {
        return Err(Error::msg(&name, "kernel: not an executable ELF (ET_EXEC)"));
    }
    let mut loads = 0;
    for ph in elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        loads += 1;
        elf.bytes(ph)
            .map_err(|e| Error::msg(&name, format!("kernel segment: {e}")))?;
        let end = ph.paddr.checked_add(ph.memsz);
        if ph.paddr < KERNEL_PHYS_BASE || end.is_none_or(|e| e > BOOTDESC_PHYS) {
            return Err(Error::msg(
                &name,
                format!(
                    "kernel segment at physical {:#x} (size {:#x}) lies outside {KERNEL_PHYS_BASE:#x}..{BOOTDESC_PHYS:#x}: the kernel must end below the boot description",
                    ph.paddr, ph.memsz
                ),
            ));
        }
    }
    if loads == 0 {
        return Err(Error::msg(&name, "kernel: no PT_LOAD segments"));
    }
    match elf.pvh_entry() {
        None => {
            return Err(Error::msg(
                &name,
                "kernel: no PVH entry note (PT_NOTE, name \"Xen\", type 18); QEMU could not boot it",
            ))
        }
        Some((entry, seen_by_qemu)) if entry != seen_by_qemu => {
            return Err(Error::msg(
                &name,
                format!("kernel: the PVH note's entry is {entry:#x}, but QEMU, which aligns the note's fields to the PT_NOTE segment's p_align, would read {seen_by_qemu:#x}; give the note segment p_align 4"),
            ))
        }
        Some(_) => {}
    }
    Ok((path.to_path_buf(), bytes))
}
