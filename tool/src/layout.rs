//! Physical placement: everything the tool puts in RAM, from
//! [`PD_MEMORY_PHYS`] upwards, each chunk aligned to its page size.

use crate::diag::Pos;
use crate::program::Program;
use crate::sdf::model::System;
use mantle_abi::layout::{LARGE_PAGE_SIZE, PAGE_SIZE, PD_MEMORY_PHYS};

/// PD memory must end at or below this address: QEMU gets 512 MiB and the
/// kernel needs RAM above the image for page tables and its own data.
pub const IMAGE_LIMIT: u64 = 448 << 20;

/// What a chunk holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkKind {
    /// ELF segment(s) of a PD's program (PD index).
    Elf(usize),
    /// A PD's stack.
    Stack(usize),
    /// A PD's IPC buffer.
    IpcBuffer(usize),
    /// A memory region (MR index).
    Region(usize),
}

/// A physically contiguous piece of memory the image loader fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// First physical address (aligned to the chunk's page size).
    pub paddr: u64,
    /// Size in bytes (a multiple of the page size).
    pub size: u64,
    /// Initial contents of the first `data.len()` bytes; the rest is zero.
    pub data: Vec<u8>,
    /// What it is.
    pub kind: ChunkKind,
    /// A short description for reports.
    pub what: String,
}

/// Places chunks one after another.
#[derive(Debug)]
pub struct Placer {
    next: u64,
    /// Chunks placed so far, in address order.
    pub chunks: Vec<Chunk>,
}

impl Default for Placer {
    fn default() -> Self {
        Placer {
            next: PD_MEMORY_PHYS,
            chunks: Vec::new(),
        }
    }
}

impl Placer {
    /// Place `size` bytes aligned to `align` (a power of two); returns the
    /// chunk's index. Fails if memory would run past [`IMAGE_LIMIT`].
    pub fn place(
        &mut self,
        size: u64,
        align: u64,
        data: Vec<u8>,
        kind: ChunkKind,
        what: String,
    ) -> Result<usize, String> {
        let paddr = mantle_abi::layout::align_up(self.next, align);
        let end = paddr.and_then(|p| p.checked_add(size));
        match (paddr, end) {
            (Some(paddr), Some(end)) if end <= IMAGE_LIMIT => {
                self.next = end;
                self.chunks.push(Chunk {
                    paddr,
                    size,
                    data,
                    kind,
                    what,
                });
                Ok(self.chunks.len() - 1)
            }
            _ => Err(format!(
                "the system does not fit in memory: placing {what} ({size:#x} bytes) would end past {IMAGE_LIMIT:#x} ({} MiB), the most the tool can place (QEMU has 512 MiB and the kernel needs the rest); already placed: {:#x} bytes",
                IMAGE_LIMIT >> 20,
                self.next - PD_MEMORY_PHYS
            )),
        }
    }

    /// First address above everything placed (page aligned).
    pub fn end(&self) -> u64 {
        self.next
    }
}

/// Where everything went.
#[derive(Clone, Debug, Default)]
pub struct Placement {
    /// Placed memory, in address order.
    pub chunks: Vec<Chunk>,
    /// Per PD, the chunk of each of its program's [`crate::program::LoadSeg`]s.
    pub seg_chunks: Vec<Vec<usize>>,
    /// Per PD, its stack's chunk.
    pub stack_chunk: Vec<usize>,
    /// Per PD, its IPC buffer's chunk.
    pub ipc_chunk: Vec<usize>,
    /// Per memory region, its physical address (fixed or placed).
    pub mr_paddr: Vec<u64>,
    /// First address above all placed memory.
    pub image_end: u64,
}

/// Does memory region `mi` get 2 MiB pages? Yes when its `page_size` is
/// 2 MiB, or when everything allows it: the size is a multiple of 2 MiB,
/// every map's vaddr is 2 MiB aligned and the physical address (fixed, or
/// chosen by [`place`], which then aligns it to 2 MiB) is too. Maps must
/// also leave the whole 2 MiB pages to the region, which the alignment
/// and size guarantee.
pub fn large_pages(sys: &System, mi: usize) -> bool {
    let Some(mr) = sys.mrs.get(mi) else {
        return false;
    };
    if mr.page_size == LARGE_PAGE_SIZE {
        return true;
    }
    mr.size > 0
        && mr.size % LARGE_PAGE_SIZE == 0
        && mr.phys_addr.is_none_or(|p| p % LARGE_PAGE_SIZE == 0)
        && sys
            .pds
            .iter()
            .flat_map(|p| &p.maps)
            .filter(|m| m.mr == mr.name)
            .all(|m| m.vaddr % LARGE_PAGE_SIZE == 0)
}

/// Place every PD's program, stack and IPC buffer (PDs in order), then every
/// memory region without a fixed address. Fails with the position of the
/// item that did not fit.
pub fn place(sys: &System, programs: &[Program]) -> Result<Placement, (Pos, String)> {
    let mut placer = Placer::default();
    let mut out = Placement::default();
    for (i, (pd, prog)) in sys.pds.iter().zip(programs).enumerate() {
        let fail = |e| (pd.pos, e);
        let mut v = Vec::new();
        for s in &prog.segs {
            let what = format!("'{}' ELF {:#x}..{:#x}", pd.name, s.vaddr, s.vaddr + s.size);
            v.push(
                placer
                    .place(s.size, PAGE_SIZE, s.data.clone(), ChunkKind::Elf(i), what)
                    .map_err(fail)?,
            );
        }
        out.seg_chunks.push(v);
        let what = format!("'{}' stack", pd.name);
        out.stack_chunk.push(
            placer
                .place(
                    pd.stack_size,
                    PAGE_SIZE,
                    Vec::new(),
                    ChunkKind::Stack(i),
                    what,
                )
                .map_err(fail)?,
        );
        let what = format!("'{}' IPC buffer", pd.name);
        out.ipc_chunk.push(
            placer
                .place(
                    PAGE_SIZE,
                    PAGE_SIZE,
                    Vec::new(),
                    ChunkKind::IpcBuffer(i),
                    what,
                )
                .map_err(fail)?,
        );
    }
    for (i, mr) in sys.mrs.iter().enumerate() {
        let paddr = match mr.phys_addr {
            Some(p) => p,
            None => {
                let data = mr
                    .prefill
                    .as_ref()
                    .map(|p| p.data.clone())
                    .unwrap_or_default();
                let what = format!("memory_region '{}'", mr.name);
                let align = if large_pages(sys, i) {
                    LARGE_PAGE_SIZE
                } else {
                    mr.page_size
                };
                let c = placer
                    .place(mr.size, align, data, ChunkKind::Region(i), what)
                    .map_err(|e| (mr.pos, e))?;
                placer.chunks[c].paddr
            }
        };
        out.mr_paddr.push(paddr);
    }
    out.image_end = placer.end();
    out.chunks = placer.chunks;
    Ok(out)
}
