//! `mantle build`: read the program images, place all memory, patch
//! `setvar` symbols, encode and check the boot description, write the image.

use crate::diag::{Diagnostic, Diags, Error, Pos};
use crate::elf::{self, Elf, Symbol, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE};
use crate::image::{write_elf, OutSegment};
use crate::layout::{ChunkKind, Placer};
use crate::sdf::model::{IrqKind, System};
use mantle_abi::bootdesc::{
    self, BootDescription, End, IoPort, Irq, IrqSource, Map, MapKind, Pd, Run, SystemSpec, PERM_R,
    PERM_W, PERM_X,
};
use mantle_abi::layout::{
    map_limit, stack_bottom, BOOTDESC_MAX_SIZE, BOOTDESC_PHYS, IPC_BUFFER_VADDR, KERNEL_PHYS_BASE,
    PAGE_SIZE, PD_MEMORY_PHYS,
};
use mantle_abi::limits::MAX_MAPS_PER_PD;
use std::path::{Path, PathBuf};

pub use crate::layout::Chunk;

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

/// A loaded, page-rounded piece of a program image.
#[derive(Clone, Debug)]
pub struct LoadSeg {
    /// First virtual address (page aligned).
    pub vaddr: u64,
    /// Size (page multiple).
    pub size: u64,
    /// `PERM_*` bits.
    pub perms: u8,
    /// Initial bytes from `vaddr`; zero beyond.
    pub data: Vec<u8>,
    /// The original segments' `[vaddr, vaddr + memsz)` ranges.
    pub parts: Vec<(u64, u64)>,
}

/// A PD's program as loaded.
#[derive(Clone, Debug)]
pub struct Program {
    /// The file used.
    pub path: PathBuf,
    /// Entry point.
    pub entry: u64,
    /// Loadable pieces.
    pub segs: Vec<LoadSeg>,
    /// Symbols (from `path_for_symbols` when given).
    pub symbols: Vec<Symbol>,
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
    let (system, diags) = crate::sdf::load_bytes(name, bytes)?;
    let mut d = diags;
    let kernel = read_kernel(&opts.kernel)?;
    let mut search = vec![dir.to_path_buf()];
    search.extend(opts.search_paths.iter().cloned());
    // 1. Programs.
    let mut programs = Vec::new();
    for pd in &system.pds {
        match load_program(&system, pd, &search) {
            Ok(p) => programs.push(Some(p)),
            Err(msg) => {
                let pos = pd.program_image.as_ref().map_or(pd.pos, |p| p.pos);
                d.error(pos, msg);
                programs.push(None);
            }
        }
    }
    if d.has_errors() {
        return Err(d.into());
    }
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
                Vec::new(),
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

fn find_file(rel: &str, search: &[PathBuf]) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("{} does not exist", p.display()))
        };
    }
    for dir in search {
        let c = dir.join(p);
        if c.is_file() {
            return Ok(c);
        }
    }
    let dirs: Vec<String> = search
        .iter()
        .map(|d| {
            if d.as_os_str().is_empty() {
                ".".to_string()
            } else {
                d.display().to_string()
            }
        })
        .collect();
    Err(format!("not found; looked in: {}", dirs.join(", ")))
}

fn perms_text(p: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(PERM_R, 'r'), (PERM_W, 'w'), (PERM_X, 'x')] {
        if p & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Load the program of `pd`, or say why not.
fn load_program(
    sys: &System,
    pd: &crate::sdf::model::Pd,
    search: &[PathBuf],
) -> Result<Program, String> {
    let _ = sys;
    let pi = pd
        .program_image
        .as_ref()
        .ok_or_else(|| format!("protection_domain '{}' has no program_image", pd.name))?;
    let ctx = format!(
        "program_image \"{}\" of protection_domain '{}'",
        pi.path, pd.name
    );
    let path = find_file(&pi.path, search).map_err(|e| format!("{ctx}: {e}"))?;
    let bytes =
        std::fs::read(&path).map_err(|e| format!("{ctx}: cannot read {}: {e}", path.display()))?;
    let elf = Elf::parse(&bytes).map_err(|e| format!("{ctx}: {e}"))?;
    if elf.e_type != elf::ET_EXEC {
        return Err(format!(
            "{ctx}: ELF type is {}, not an executable (ET_EXEC); PDs are linked statically",
            elf.e_type
        ));
    }
    let limit = map_limit(pd.stack_size);
    let mut loads: Vec<_> = elf
        .phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD && p.memsz > 0)
        .copied()
        .collect();
    if loads.is_empty() {
        return Err(format!("{ctx}: no loadable (PT_LOAD) segments"));
    }
    loads.sort_by_key(|p| p.vaddr);
    let mut segs: Vec<LoadSeg> = Vec::new();
    let mut prev_end = 0u64;
    for (k, ph) in loads.iter().enumerate() {
        let desc = format!("segment {k} at {:#x} (size {:#x})", ph.vaddr, ph.memsz);
        if ph.filesz > ph.memsz {
            return Err(format!(
                "{ctx}: {desc} has more file bytes ({:#x}) than memory bytes",
                ph.filesz
            ));
        }
        let end = ph
            .vaddr
            .checked_add(ph.memsz)
            .ok_or_else(|| format!("{ctx}: {desc} overflows the address space"))?;
        if end > limit {
            return Err(format!(
                "{ctx}: {desc} ends at {end:#x}, above {limit:#x}, where the stack's guard page begins (stack_size {:#x})",
                pd.stack_size
            ));
        }
        if ph.flags & PF_W != 0 && ph.flags & PF_X != 0 {
            return Err(format!("{ctx}: {desc} is both writable and executable; W^X: link writable data and code into separate segments"));
        }
        if k > 0 && ph.vaddr < prev_end {
            return Err(format!(
                "{ctx}: {desc} overlaps the previous segment (which ends at {prev_end:#x})"
            ));
        }
        prev_end = end;
        let page = ph.vaddr & !(PAGE_SIZE - 1);
        if page == 0 {
            return Err(format!("{ctx}: {desc} covers the null page; link above 0x1000 (Mantle links PDs at 0x200000)"));
        }
        let page_end = mantle_abi::layout::align_up(end, PAGE_SIZE).unwrap_or(end);
        let mut perms = PERM_R;
        if ph.flags & PF_W != 0 {
            perms |= PERM_W;
        }
        if ph.flags & PF_X != 0 {
            perms |= PERM_X;
        }
        let bytes = elf.bytes(ph).map_err(|e| format!("{ctx}: {desc}: {e}"))?;
        let merge = match segs.last() {
            Some(last) if page < last.vaddr + last.size => {
                if last.perms != perms {
                    return Err(format!(
                        "{ctx}: {desc} ({}) shares a page with the previous segment ({}); segments with different permissions must be page aligned",
                        perms_text(perms),
                        perms_text(last.perms)
                    ));
                }
                true
            }
            _ => false,
        };
        if !merge {
            segs.push(LoadSeg {
                vaddr: page,
                size: 0,
                perms,
                data: Vec::new(),
                parts: Vec::new(),
            });
        }
        let s = segs.last_mut().expect("pushed above");
        s.size = page_end - s.vaddr;
        if s.size > crate::layout::IMAGE_LIMIT {
            return Err(format!(
                "{ctx}: {desc} is too large: {:#x} bytes of memory; at most {:#x} fit",
                s.size,
                crate::layout::IMAGE_LIMIT
            ));
        }
        s.parts.push((ph.vaddr, end));
        if !bytes.is_empty() {
            let off = (ph.vaddr - s.vaddr) as usize;
            if s.data.len() < off + bytes.len() {
                s.data.resize(off + bytes.len(), 0);
            }
            s.data[off..off + bytes.len()].copy_from_slice(bytes);
        }
    }
    if !segs.iter().any(|s| {
        s.perms & PERM_X != 0
            && s.parts
                .iter()
                .any(|&(a, b)| elf.entry >= a && elf.entry < b)
    }) || !loads
        .iter()
        .any(|p| p.flags & PF_X != 0 && elf.entry >= p.vaddr && elf.entry < p.vaddr + p.memsz)
    {
        return Err(format!(
            "{ctx}: entry point {:#x} is not inside an executable segment",
            elf.entry
        ));
    }
    let symbols = match &pi.path_for_symbols {
        None => elf
            .symbols()
            .map_err(|e| format!("{ctx}: symbol table: {e}"))?,
        Some(sp) => {
            let p = find_file(sp, search)
                .map_err(|e| format!("{ctx}: path_for_symbols \"{sp}\": {e}"))?;
            let b = std::fs::read(&p)
                .map_err(|e| format!("{ctx}: cannot read {}: {e}", p.display()))?;
            let se =
                Elf::parse(&b).map_err(|e| format!("{ctx}: path_for_symbols \"{sp}\": {e}"))?;
            se.symbols()
                .map_err(|e| format!("{ctx}: path_for_symbols \"{sp}\": {e}"))?
        }
    };
    Ok(Program {
        path,
        entry: elf.entry,
        segs,
        symbols,
    })
}

/// Write `value` into the 8-byte symbol `sym` of a PD's placed segments.
fn patch(
    prog: &Program,
    seg_chunks: &[usize],
    chunks: &mut [Chunk],
    sym: &str,
    value: u64,
) -> Result<(), String> {
    let file = prog.path.display();
    let matches: Vec<&Symbol> = prog.symbols.iter().filter(|s| s.name == sym).collect();
    let s = match matches.as_slice() {
        [] => return Err(format!("symbol '{sym}' not found in {file}")),
        [s] => *s,
        [..] => {
            return Err(format!(
                "symbol '{sym}' is ambiguous: {} symbols of that name in {file}",
                matches.len()
            ))
        }
    };
    if s.size != 8 {
        return Err(format!(
            "symbol '{sym}' in {file} is {} bytes; setvar needs an 8-byte variable (u64/usize)",
            s.size
        ));
    }
    for (seg, &ci) in prog.segs.iter().zip(seg_chunks) {
        let inside = seg
            .parts
            .iter()
            .any(|&(a, b)| s.value >= a && s.value.checked_add(8).is_some_and(|e| e <= b));
        if !inside {
            continue;
        }
        let off = (s.value - seg.vaddr) as usize;
        let c = &mut chunks[ci];
        if c.data.len() < off + 8 {
            c.data.resize(off + 8, 0);
        }
        c.data[off..off + 8].copy_from_slice(&value.to_le_bytes());
        return Ok(());
    }
    Err(format!(
        "symbol '{sym}' at {:#x} in {file} does not lie inside a loadable segment",
        s.value
    ))
}

#[allow(clippy::too_many_arguments)]
fn make_spec(
    sys: &System,
    programs: &[Program],
    chunks: &[Chunk],
    seg_chunks: &[Vec<usize>],
    stack_chunk: &[usize],
    ipc_chunk: &[usize],
    mr_paddr: &[u64],
    image_end: u64,
) -> SystemSpec {
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
                source: match irq.kind {
                    IrqKind::IoApic {
                        ioapic,
                        pin,
                        level,
                        active_low,
                    } => IrqSource::IoApic {
                        ioapic,
                        pin,
                        level,
                        active_low,
                    },
                    IrqKind::Msi {
                        bus,
                        dev,
                        func,
                        handle,
                    } => IrqSource::Msi {
                        bus,
                        dev,
                        func,
                        handle,
                    },
                },
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
