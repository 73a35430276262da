//! Physical placement: everything the tool puts in RAM, from
//! [`PD_MEMORY_PHYS`] upwards, each chunk aligned to its page size.

use mantle_abi::layout::PD_MEMORY_PHYS;

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
