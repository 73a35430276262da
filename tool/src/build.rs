//! `mantle build`: read the program images, place all memory, patch
//! `setvar` symbols, encode and check the boot description, write the image.

use crate::diag::{Diagnostic, Diags, Error, Pos};
use crate::elf::{self, Elf, PF_R, PF_W, PT_LOAD, PT_NOTE};
use crate::image::{write_elf, OutSegment};
use crate::layout::{place, Placement};
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
    /// Configuration blobs written into composed PDs' `__mantle_config`:
    /// (PD index, the kinds of its sections, the blob).
    pub configs: Vec<ConfigBlob>,
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
    let programs = load_programs(&system, &search, &mut d);
    let Some(kernel) = kernel.filter(|_| !d.has_errors()) else {
        return Err(d.into());
    };
    check_maps_against_programs(&system, &programs, &mut d);
    if d.has_errors() {
        return Err(d.into());
    }
    let mut placed = match place(&system, &programs) {
        Ok(p) => p,
        Err((pos, msg)) => {
            d.error(pos, msg);
            return Err(d.into());
        }
    };
    check_fixed_regions(&system, &placed, &mut d);
    let patches = patch_programs(&system, &programs, &mut placed, &mut d);
    let configs = patch_configs(&system, &programs, &mut placed, &mut d);
    if d.has_errors() {
        return Err(d.into());
    }
    let spec = make_spec(&system, &programs, &placed);
    let bootdesc = encode_checked(name, &spec)?;
    let (image, kernel_segments) = write_image(&kernel, &bootdesc, &placed.chunks)?;
    Ok(Built {
        system,
        programs,
        chunks: placed.chunks,
        mr_paddr: placed.mr_paddr,
        spec,
        bootdesc,
        image,
        patches,
        configs,
        warnings: d.into_vec(),
        kernel_segments,
    })
}

/// Load every PD's program; a failure is reported at its program_image.
/// The result has one entry per PD unless there were errors.
fn load_programs(system: &System, search: &[PathBuf], d: &mut Diags) -> Vec<Program> {
    let mut programs = Vec::new();
    for pd in &system.pds {
        match load_program(pd, search) {
            Ok(p) => {
                if let Some(src) = crate::program::newer_source(&p.path) {
                    let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
                    d.warn(
                        pos,
                        format!(
                            "program {} of protection_domain '{}' is older than its source {}: \
                             the image would run the old program; rebuild it (`cargo xtask build`, \
                             or `cargo build --release --target x86_64-unknown-none -p CRATE`)",
                            p.path.display(),
                            pd.name,
                            src.display()
                        ),
                    );
                }
                programs.push(p)
            }
            Err(msg) => {
                let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
                d.error(pos, msg);
            }
        }
    }
    programs
}

/// Maps must not overlap the program's segments; a PD has a bounded number
/// of maps.
fn check_maps_against_programs(system: &System, programs: &[Program], d: &mut Diags) {
    for (pd, prog) in system.pds.iter().zip(programs) {
        for m in &pd.maps {
            let Some(mr) = system.mrs.iter().find(|r| r.name == m.mr) else {
                continue;
            };
            let end = m.vaddr.saturating_add(mr.size);
            if let Some(s) = prog
                .segs
                .iter()
                .find(|s| m.vaddr < s.vaddr + s.size && s.vaddr < end)
            {
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
}

/// Fixed regions must not overlap the memory the tool placed.
fn check_fixed_regions(system: &System, placed: &Placement, d: &mut Diags) {
    let image_end = placed.image_end;
    for (mr, &p) in system.mrs.iter().zip(&placed.mr_paddr) {
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
}

/// Every symbol PD `i`'s program receives: (symbol, value, where the SDF
/// asked for it).
fn setvars_of(system: &System, i: usize, mr_paddr: &[u64]) -> Vec<(String, u64, Pos)> {
    let pd = &system.pds[i];
    let mr_of = |name: &str| system.mrs.iter().find(|r| r.name == name);
    let mut want: Vec<(String, u64, Pos)> = Vec::new();
    for m in &pd.maps {
        if let Some(s) = &m.setvar_vaddr {
            want.push((s.clone(), m.vaddr, m.attrs.get("setvar_vaddr", m.pos)));
        }
        if let Some(s) = &m.setvar_size {
            let size = mr_of(&m.mr).map_or(0, |r| r.size);
            want.push((s.clone(), size, m.attrs.get("setvar_size", m.pos)));
        }
        if let Some(s) = &m.setvar_prefill_size {
            let len = mr_of(&m.mr)
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
                irq.id.into(),
                irq.attrs.get("setvar_id", irq.pos),
            ));
        }
    }
    for p in &pd.ioports {
        if let Some(s) = &p.setvar_id {
            want.push((s.clone(), p.id.into(), p.attrs.get("setvar_id", p.pos)));
        }
        if let Some(s) = &p.setvar_addr {
            want.push((s.clone(), p.addr.into(), p.attrs.get("setvar_addr", p.pos)));
        }
    }
    for child in system.pds.iter().filter(|c| c.parent == Some(i)) {
        if let (Some(s), Some(id)) = (&child.setvar_id, child.child_id) {
            want.push((
                s.clone(),
                id.into(),
                child.attrs.get("setvar_id", child.pos),
            ));
        }
    }
    for e in system.channels.iter().flat_map(|ch| &ch.ends) {
        if let (Some(s), true) = (&e.setvar_id, e.pd == pd.name) {
            want.push((s.clone(), e.id.into(), e.attrs.get("setvar_id", e.pos)));
        }
    }
    want
}

/// Patch every PD's name and setvar symbols into its placed segments;
/// returns the patches made (PD index, symbol, value).
fn patch_programs(
    system: &System,
    programs: &[Program],
    placed: &mut Placement,
    d: &mut Diags,
) -> Vec<(usize, String, u64)> {
    let mut patches = Vec::new();
    for (i, (pd, prog)) in system.pds.iter().zip(programs).enumerate() {
        let segs = &placed.seg_chunks[i];
        if let Err(msg) = patch_name(prog, segs, &mut placed.chunks, &pd.name) {
            let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
            d.error(pos, format!("protection_domain '{}': {msg}", pd.name));
        }
        for (sym, value, pos) in setvars_of(system, i, &placed.mr_paddr) {
            match patch(prog, segs, &mut placed.chunks, &sym, value) {
                Ok(()) => patches.push((i, sym, value)),
                Err(msg) => d.error(
                    pos,
                    format!("setvar in protection_domain '{}': {msg}", pd.name),
                ),
            }
        }
    }
    patches
}

pub use crate::sdf::compose::ConfigBlob;

/// Write every composed PD's configuration (now that physical addresses
/// are known) into its `__mantle_config`.
fn patch_configs(
    system: &System,
    programs: &[Program],
    placed: &mut Placement,
    d: &mut Diags,
) -> Vec<ConfigBlob> {
    let blobs = match crate::sdf::compose::configs(system, Some(&placed.mr_paddr)) {
        Ok(b) => b,
        Err(msg) => {
            d.error(system.pos, msg);
            return Vec::new();
        }
    };
    for (i, _, blob) in &blobs {
        let (Some(pd), Some(prog)) = (system.pds.get(*i), programs.get(*i)) else {
            continue;
        };
        let used = crate::sdf::compose::used_len(blob);
        if let Err(msg) = crate::program::patch_config(
            prog,
            &placed.seg_chunks[*i],
            &mut placed.chunks,
            blob,
            used,
        ) {
            let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
            d.error(
                pos,
                format!(
                    "protection_domain '{}' is part of a composed subsystem: {msg}",
                    pd.name
                ),
            );
        }
    }
    blobs
}

/// Encode `spec` and check the result with the kernel's own decoder.
fn encode_checked(name: &str, spec: &SystemSpec) -> Result<Vec<u8>, Error> {
    let bootdesc = bootdesc::encode(spec);
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
    Ok(bootdesc)
}

/// The image: the kernel's `PT_LOAD` and `PT_NOTE` segments, the boot
/// description at [`BOOTDESC_PHYS`], one `PT_LOAD` per placed chunk.
/// Returns the file and the kernel's (paddr, memsz) ranges.
fn write_image(
    kernel: &(PathBuf, Vec<u8>),
    bootdesc: &[u8],
    chunks: &[Chunk],
) -> Result<(Vec<u8>, KernelRanges), Error> {
    let kname = || kernel.0.display().to_string();
    let kelf = Elf::parse(&kernel.1).map_err(|e| Error::msg(kname(), e))?;
    let mut segs = Vec::new();
    let mut kernel_segments = Vec::new();
    for ph in kelf
        .phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD || p.p_type == PT_NOTE)
    {
        let data = kelf.bytes(ph).map_err(|e| Error::msg(kname(), e))?;
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
            // QEMU reads the PVH note with the note segment's p_align: keep
            // it. Loadable segments need no more than page alignment.
            align: if ph.p_type == PT_NOTE {
                ph.align
            } else {
                ph.align.min(PAGE_SIZE)
            },
        });
    }
    segs.push(OutSegment {
        p_type: PT_LOAD,
        flags: PF_R,
        vaddr: BOOTDESC_PHYS,
        paddr: BOOTDESC_PHYS,
        data: bootdesc,
        memsz: bootdesc.len() as u64,
        align: PAGE_SIZE,
    });
    for c in chunks {
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
    Ok((write_elf(kelf.entry, &segs), kernel_segments))
}

/// The kernel's loaded ranges: (physical address, memory size).
type KernelRanges = Vec<(u64, u64)>;

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
