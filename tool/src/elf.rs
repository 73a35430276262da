//! A small, careful ELF64 reader: program headers, and symbols from
//! `SHT_SYMTAB`. Every offset and size is bounds-checked; garbage input gives
//! an error, never a panic.

/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `PT_INTERP`.
pub const PT_INTERP: u32 = 3;
/// `PT_NOTE`.
pub const PT_NOTE: u32 = 4;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// Segment flag: readable.
pub const PF_R: u32 = 4;
/// `ET_EXEC`.
pub const ET_EXEC: u16 = 2;
/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
const SHT_SYMTAB: u32 = 2;

/// A program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeader {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags`.
    pub flags: u32,
    /// `p_offset`.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_paddr`.
    pub paddr: u64,
    /// `p_filesz`.
    pub filesz: u64,
    /// `p_memsz`.
    pub memsz: u64,
    /// `p_align`.
    pub align: u64,
}

/// A symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Name.
    pub name: String,
    /// `st_value`: its virtual address.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
}

/// A parsed ELF64 little-endian x86_64 executable.
#[derive(Clone, Debug)]
pub struct Elf<'a> {
    /// The whole file.
    pub data: &'a [u8],
    /// `e_type`.
    pub e_type: u16,
    /// Entry point.
    pub entry: u64,
    /// Program headers.
    pub phdrs: Vec<ProgramHeader>,
}

fn rd<const N: usize>(data: &[u8], off: u64) -> Result<[u8; N], String> {
    let start = usize::try_from(off).map_err(|_| "offset out of range".to_string())?;
    let end = start
        .checked_add(N)
        .ok_or_else(|| "offset out of range".to_string())?;
    let s = data.get(start..end).ok_or_else(|| {
        format!(
            "truncated: needs bytes {start:#x}..{end:#x}, file has {:#x}",
            data.len()
        )
    })?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}
fn u16_at(d: &[u8], off: u64) -> Result<u16, String> {
    rd::<2>(d, off).map(u16::from_le_bytes)
}
fn u32_at(d: &[u8], off: u64) -> Result<u32, String> {
    rd::<4>(d, off).map(u32::from_le_bytes)
}
fn u64_at(d: &[u8], off: u64) -> Result<u64, String> {
    rd::<8>(d, off).map(u64::from_le_bytes)
}

/// `data[off..off+len]`, checked.
pub fn slice(data: &[u8], off: u64, len: u64) -> Result<&[u8], String> {
    let end = off
        .checked_add(len)
        .ok_or_else(|| "range overflows".to_string())?;
    if end > data.len() as u64 {
        return Err(format!(
            "bytes {off:#x}..{end:#x} lie past the end of the file ({:#x} bytes)",
            data.len()
        ));
    }
    Ok(&data[off as usize..end as usize])
}

impl<'a> Elf<'a> {
    /// Parse the ELF header and program headers.
    pub fn parse(data: &'a [u8]) -> Result<Elf<'a>, String> {
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            return Err("not an ELF file (bad magic number)".into());
        }
        if data[4] != 2 {
            return Err("not a 64-bit ELF file".into());
        }
        if data[5] != 1 {
            return Err("not a little-endian ELF file".into());
        }
        let e_type = u16_at(data, 16)?;
        let machine = u16_at(data, 18)?;
        if machine != EM_X86_64 {
            return Err(format!(
                "ELF machine is {machine}, not x86_64 ({EM_X86_64})"
            ));
        }
        let entry = u64_at(data, 24)?;
        let phoff = u64_at(data, 32)?;
        let phentsize = u16_at(data, 54)? as u64;
        let phnum = u16_at(data, 56)? as u64;
        if phnum > 0 && phentsize < 56 {
            return Err(format!(
                "program header entry size {phentsize} is too small"
            ));
        }
        let mut phdrs = Vec::new();
        for i in 0..phnum {
            let base = phoff
                .checked_add(i * phentsize)
                .ok_or("program header table offset overflows")?;
            phdrs.push(ProgramHeader {
                p_type: u32_at(data, base)?,
                flags: u32_at(data, base + 4)?,
                offset: u64_at(data, base + 8)?,
                vaddr: u64_at(data, base + 16)?,
                paddr: u64_at(data, base + 24)?,
                filesz: u64_at(data, base + 32)?,
                memsz: u64_at(data, base + 40)?,
                align: u64_at(data, base + 48)?,
            });
        }
        Ok(Elf {
            data,
            e_type,
            entry,
            phdrs,
        })
    }

    /// The file bytes of program header `ph`.
    pub fn bytes(&self, ph: &ProgramHeader) -> Result<&'a [u8], String> {
        slice(self.data, ph.offset, ph.filesz)
    }

    /// Symbols from every `SHT_SYMTAB` section (an empty list when the file
    /// has no section headers or no symbol table).
    pub fn symbols(&self) -> Result<Vec<Symbol>, String> {
        let d = self.data;
        let shoff = u64_at(d, 40)?;
        let shentsize = u16_at(d, 58)? as u64;
        let shnum = u16_at(d, 60)? as u64;
        if shoff == 0 || shnum == 0 {
            return Ok(Vec::new());
        }
        if shentsize < 64 {
            return Err(format!(
                "section header entry size {shentsize} is too small"
            ));
        }
        let sh = |i: u64| -> Result<(u32, u64, u64, u32, u64), String> {
            let base = shoff
                .checked_add(i * shentsize)
                .ok_or("section header offset overflows")?;
            Ok((
                u32_at(d, base + 4)?,  // sh_type
                u64_at(d, base + 24)?, // sh_offset
                u64_at(d, base + 32)?, // sh_size
                u32_at(d, base + 40)?, // sh_link
                u64_at(d, base + 56)?, // sh_entsize
            ))
        };
        let mut out = Vec::new();
        for i in 0..shnum {
            let (ty, off, size, link, entsize) = sh(i)?;
            if ty != SHT_SYMTAB {
                continue;
            }
            if entsize != 0 && entsize < 24 {
                return Err(format!("symbol entry size {entsize} is too small"));
            }
            let entsize = if entsize == 0 { 24 } else { entsize };
            if link as u64 >= shnum {
                return Err("symbol table names a missing string table".into());
            }
            let (_, stroff, strsize, _, _) = sh(link as u64)?;
            let strtab = slice(d, stroff, strsize)?;
            let syms = slice(d, off, size)?;
            let count = size / entsize;
            for k in 0..count {
                let base = k * entsize;
                let name_off = u32_at(syms, base)? as usize;
                let value = u64_at(syms, base + 8)?;
                let sym_size = u64_at(syms, base + 16)?;
                if name_off == 0 || name_off >= strtab.len() {
                    continue;
                }
                let rest = &strtab[name_off..];
                let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                let name = String::from_utf8_lossy(&rest[..end]).into_owned();
                out.push(Symbol {
                    name,
                    value,
                    size: sym_size,
                });
            }
        }
        Ok(out)
    }

    /// Does this file carry a PVH entry note (name "Xen", type 18) in a
    /// `PT_NOTE` segment?
    pub fn has_pvh_note(&self) -> bool {
        self.pvh_entry().is_some()
    }

    /// The PVH entry note's 32-bit entry address, as the ELF note format
    /// lays it out and as QEMU reads it (QEMU aligns the name to the
    /// segment's `p_align`, so the two differ when `p_align` > 4).
    pub fn pvh_entry(&self) -> Option<(u64, u64)> {
        for ph in self.phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
            let Ok(all) = self.bytes(ph) else {
                continue;
            };
            let mut at = 0usize;
            while at + 12 <= all.len() {
                let notes = &all[at..];
                let word = |i: usize| -> Option<u32> {
                    notes
                        .get(i..i + 4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                };
                let namesz = word(0)? as usize;
                let descsz = word(4)? as usize;
                let ty = word(8)?;
                let name_end = 12usize.checked_add(namesz)?;
                let desc_start = name_end.checked_add(3)? & !3;
                let next = desc_start.checked_add(descsz)?.checked_add(3)? & !3;
                let name = notes.get(12..name_end)?;
                if ty == 18 && (name == b"Xen\0" || name == b"Xen") && descsz >= 4 {
                    let entry = word(desc_start)? as u64;
                    let align = (ph.align as usize).max(1);
                    let q = namesz
                        .checked_add(align - 1)
                        .map(|v| v / align * align)
                        .and_then(|v| v.checked_add(12));
                    let seen = q.and_then(word).map_or(0, |v| v as u64);
                    return Some((entry, seen));
                }
                at = at.checked_add(next)?;
            }
        }
        None
    }
}
