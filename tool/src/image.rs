//! Writing the bootable image: one ELF64 file whose program headers QEMU's
//! PVH loader follows (`PT_LOAD` at `p_paddr`, the PVH `PT_NOTE`).

use crate::elf::PT_LOAD;

/// One program header of the image and its file bytes.
#[derive(Clone, Debug)]
pub struct OutSegment<'a> {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags`.
    pub flags: u32,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_paddr`.
    pub paddr: u64,
    /// File bytes (`p_filesz` = `data.len()`).
    pub data: &'a [u8],
    /// `p_memsz` (at least `data.len()` for `PT_LOAD`).
    pub memsz: u64,
    /// `p_align`.
    pub align: u64,
}

/// Page alignment of file offsets.
const FILE_ALIGN: u64 = 0x1000;

/// Serialise an ELF64 x86_64 executable with `segments` and entry `entry`.
/// File offsets are congruent to `p_vaddr` modulo 4 KiB.
pub fn write_elf(entry: u64, segments: &[OutSegment<'_>]) -> Vec<u8> {
    let phoff = 64u64;
    let header_len = phoff + 56 * segments.len() as u64;
    let mut offsets = Vec::with_capacity(segments.len());
    let mut pos = header_len;
    for s in segments {
        if s.data.is_empty() {
            offsets.push(0);
            continue;
        }
        let want = s.vaddr % FILE_ALIGN;
        let cur = pos % FILE_ALIGN;
        pos += (want + FILE_ALIGN - cur) % FILE_ALIGN;
        offsets.push(pos);
        pos += s.data.len() as u64;
    }
    let mut out = Vec::with_capacity(pos as usize);
    // ELF header.
    out.extend_from_slice(b"\x7fELF");
    out.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, SysV
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&phoff.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    out.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    out.extend_from_slice(&(segments.len() as u16).to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    out.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    debug_assert_eq!(out.len(), 64);
    for (s, &off) in segments.iter().zip(&offsets) {
        out.extend_from_slice(&s.p_type.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&s.vaddr.to_le_bytes());
        out.extend_from_slice(&s.paddr.to_le_bytes());
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        let memsz = if s.p_type == PT_LOAD {
            s.memsz.max(s.data.len() as u64)
        } else {
            s.data.len() as u64
        };
        out.extend_from_slice(&memsz.to_le_bytes());
        out.extend_from_slice(&s.align.to_le_bytes());
    }
    for (s, &off) in segments.iter().zip(&offsets) {
        if s.data.is_empty() {
            continue;
        }
        out.resize(off as usize, 0);
        out.extend_from_slice(s.data);
    }
    out
}
