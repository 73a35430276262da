//! A PD's program image: finding it, reading its loadable segments (W^X,
//! page rounding, placement below the stack) and patching `setvar`
//! symbols in the bytes that will be placed.

use crate::elf::{self, Elf, Symbol, PF_W, PF_X, PT_LOAD};
use crate::layout::Chunk;
use mantle_abi::bootdesc::{PERM_R, PERM_W, PERM_X};
use mantle_abi::layout::{map_limit, PAGE_SIZE};
use std::path::{Path, PathBuf};

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

/// Find `rel` (absolute, or relative to each folder of `search` in turn).
pub fn find_file(rel: &str, search: &[PathBuf]) -> Result<PathBuf, String> {
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

/// The first source file that changed after `program` was built, from the
/// dependency list cargo writes beside every binary (`PROGRAM.d`). `None`
/// when the program is current or when there is no such list (a program
/// built some other way is not second-guessed).
pub fn newer_source(program: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(program).ok()?.modified().ok()?;
    let mut dep_info = program.as_os_str().to_owned();
    dep_info.push(".d");
    let text = std::fs::read_to_string(dep_info).ok()?;
    dep_info_sources(&text).into_iter().find(|src| {
        std::fs::metadata(src)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > built)
    })
}

/// The prerequisites of a make-style dependency line (`target: a b\ c`),
/// with `\ ` unescaped; every line's prerequisites, in order.
pub fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in text.lines() {
        // The target ends at the first ": " (a Windows drive letter's colon
        // is not followed by a space).
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        let mut cur = String::new();
        let mut chars = deps.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    cur.push(' ');
                    chars.next();
                }
                ' ' => {
                    if !cur.is_empty() {
                        out.push(PathBuf::from(std::mem::take(&mut cur)));
                    }
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            out.push(PathBuf::from(cur));
        }
    }
    out
}

/// Load the program of `pd`, or say why not.
pub fn load_program(pd: &crate::sdf::model::Pd, search: &[PathBuf]) -> Result<Program, String> {
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
    if elf.phdrs.iter().any(|p| p.p_type == elf::PT_INTERP) {
        return Err(format!(
            "{ctx}: the program is dynamically linked (it has PT_INTERP); PDs must be linked statically"
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
pub fn patch(
    prog: &Program,
    seg_chunks: &[usize],
    chunks: &mut [Chunk],
    sym: &str,
    value: u64,
) -> Result<(), String> {
    let s = find_symbol(prog, sym)?;
    if s.size != 8 {
        return Err(format!(
            "symbol '{sym}' in {} is {} bytes; setvar needs an 8-byte variable (u64/usize)",
            prog.path.display(),
            s.size
        ));
    }
    write_bytes(prog, seg_chunks, chunks, s, &value.to_le_bytes())
}

/// The runtime's PD-name buffer (`mantle_runtime::pd_name`).
pub const PD_NAME_SYMBOL: &str = "__mantle_pd_name";

/// Write the PD's name, NUL-padded, into [`PD_NAME_SYMBOL`] if the program
/// has it (programs without the runtime need not). The name is cut to the
/// symbol's size.
pub fn patch_name(
    prog: &Program,
    seg_chunks: &[usize],
    chunks: &mut [Chunk],
    name: &str,
) -> Result<bool, String> {
    if !prog.symbols.iter().any(|s| s.name == PD_NAME_SYMBOL) {
        return Ok(false);
    }
    let s = find_symbol(prog, PD_NAME_SYMBOL)?;
    let size = usize::try_from(s.size)
        .ok()
        .filter(|&n| n > 0 && n <= 4096)
        .ok_or_else(|| format!("symbol '{PD_NAME_SYMBOL}' has an unusable size {}", s.size))?;
    let mut buf = vec![0u8; size];
    let n = name.len().min(size);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    write_bytes(prog, seg_chunks, chunks, s, &buf).map(|()| true)
}

/// Write a composed PD's configuration blob into
/// [`mantle_config::SYMBOL`]: `blob` is [`mantle_config::CONFIG_SIZE`]
/// bytes, of which the first `used` hold sections; the symbol must hold at
/// least those.
pub fn patch_config(
    prog: &Program,
    seg_chunks: &[usize],
    chunks: &mut [Chunk],
    blob: &[u8],
    used: usize,
) -> Result<(), String> {
    let sym = mantle_config::SYMBOL;
    if !prog.symbols.iter().any(|s| s.name == sym) {
        return Err(format!(
            "{} has no symbol '{sym}', so it cannot receive its configuration; declare it in the program with `mantle_config::config_blob!();`",
            prog.path.display()
        ));
    }
    let s = find_symbol(prog, sym)?;
    let size = usize::try_from(s.size).unwrap_or(usize::MAX);
    if size < used || size > blob.len() {
        return Err(format!(
            "symbol '{sym}' in {} is {} bytes; the configuration needs {used} and the symbol may be at most {} (use `mantle_config::config_blob!()`)",
            prog.path.display(),
            s.size,
            blob.len()
        ));
    }
    write_bytes(prog, seg_chunks, chunks, s, &blob[..size])
}

fn find_symbol<'p>(prog: &'p Program, sym: &str) -> Result<&'p Symbol, String> {
    let file = prog.path.display();
    let matches: Vec<&Symbol> = prog.symbols.iter().filter(|s| s.name == sym).collect();
    match matches.as_slice() {
        [] => Err(format!("symbol '{sym}' not found in {file}")),
        [s] => Ok(s),
        [..] => Err(format!(
            "symbol '{sym}' is ambiguous: {} symbols of that name in {file}",
            matches.len()
        )),
    }
}

/// Write `bytes` at symbol `s`, which must lie inside one loadable segment.
fn write_bytes(
    prog: &Program,
    seg_chunks: &[usize],
    chunks: &mut [Chunk],
    s: &Symbol,
    bytes: &[u8],
) -> Result<(), String> {
    let len = bytes.len() as u64;
    for (seg, &ci) in prog.segs.iter().zip(seg_chunks) {
        let inside = seg
            .parts
            .iter()
            .any(|&(a, b)| s.value >= a && s.value.checked_add(len).is_some_and(|e| e <= b));
        if !inside {
            continue;
        }
        let off = (s.value - seg.vaddr) as usize;
        let c = &mut chunks[ci];
        if c.data.len() < off + bytes.len() {
            c.data.resize(off + bytes.len(), 0);
        }
        c.data[off..off + bytes.len()].copy_from_slice(bytes);
        return Ok(());
    }
    Err(format!(
        "symbol '{}' at {:#x} in {} does not lie inside a loadable segment",
        s.name,
        s.value,
        prog.path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn dep_info_lines_are_split_and_unescaped() {
        let text = "/t/release/ping: /src/a.rs /src/my\\ dir/b.rs\n\n/t/x.d: /c.rs\nnot a rule\n";
        let want: Vec<PathBuf> = ["/src/a.rs", "/src/my dir/b.rs", "/c.rs"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(dep_info_sources(text), want);
        assert!(dep_info_sources("").is_empty());
    }

    #[test]
    fn a_source_newer_than_the_program_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let (prog, src) = (dir.path().join("ping"), dir.path().join("main.rs"));
        std::fs::write(&src, "fn main() {}").unwrap();
        std::fs::write(&prog, "ELF").unwrap();
        std::fs::write(
            dir.path().join("ping.d"),
            format!("{}: {}\n", prog.display(), src.display()),
        )
        .unwrap();
        let set = |p: &Path, t: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        let now = SystemTime::now();
        set(&src, now - Duration::from_secs(60));
        set(&prog, now);
        assert_eq!(newer_source(&prog), None, "program built after its source");
        set(&src, now + Duration::from_secs(60));
        assert_eq!(newer_source(&prog), Some(src));
        // No dependency list: nothing to say.
        std::fs::remove_file(dir.path().join("ping.d")).unwrap();
        assert_eq!(newer_source(&prog), None);
    }
}
