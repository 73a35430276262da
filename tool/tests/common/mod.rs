//! Test helpers: hand-written minimal ELF files, so the tests need no other
//! crate's build output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A segment: (vaddr, flags PF_*, file bytes, memsz).
pub struct Seg {
    pub align: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub flags: u32,
    pub data: Vec<u8>,
    pub memsz: u64,
    pub p_type: u32,
}

pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

pub fn seg(vaddr: u64, flags: u32, data: Vec<u8>, memsz: u64) -> Seg {
    Seg {
        align: if flags == 0 { 4 } else { 0x1000 },
        vaddr,
        paddr: vaddr,
        flags,
        data,
        memsz,
        p_type: 1,
    }
}

/// An ELF64 x86_64 ET_EXEC with `segs`, entry `entry` and a symbol table
/// of `syms` (name, value, size).
pub fn elf(entry: u64, segs: &[Seg], syms: &[(&str, u64, u64)]) -> Vec<u8> {
    let phoff = 64u64;
    let mut data_off = phoff + 56 * segs.len() as u64;
    let mut offsets = Vec::new();
    for s in segs {
        // Keep offsets congruent to vaddr mod 0x1000.
        let want = s.vaddr % 0x1000;
        let cur = data_off % 0x1000;
        data_off += (want + 0x1000 - cur) % 0x1000;
        offsets.push(data_off);
        data_off += s.data.len() as u64;
    }
    // String table and symbol table follow the segment data.
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24]; // null symbol
    for (name, value, size) in syms {
        let off = strtab.len() as u32;
        strtab.extend_from_slice(name.as_bytes());
        strtab.push(0);
        symtab.extend_from_slice(&off.to_le_bytes());
        symtab.push(0x11); // GLOBAL OBJECT
        symtab.push(0);
        symtab.extend_from_slice(&1u16.to_le_bytes());
        symtab.extend_from_slice(&value.to_le_bytes());
        symtab.extend_from_slice(&size.to_le_bytes());
    }
    let symtab_off = data_off;
    let strtab_off = symtab_off + symtab.len() as u64;
    let shoff = (strtab_off + strtab.len() as u64 + 7) & !7;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&62u16.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&phoff.to_le_bytes());
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&56u16.to_le_bytes());
    out.extend_from_slice(&(segs.len() as u16).to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&3u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    for (s, off) in segs.iter().zip(&offsets) {
        out.extend_from_slice(&s.p_type.to_le_bytes());
        out.extend_from_slice(&s.flags.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&s.vaddr.to_le_bytes());
        out.extend_from_slice(&s.paddr.to_le_bytes());
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&s.memsz.to_le_bytes());
        out.extend_from_slice(&s.align.to_le_bytes());
    }
    for (s, off) in segs.iter().zip(&offsets) {
        out.resize(*off as usize, 0);
        out.extend_from_slice(&s.data);
    }
    out.resize(symtab_off as usize, 0);
    out.extend_from_slice(&symtab);
    out.extend_from_slice(&strtab);
    out.resize(shoff as usize, 0);
    // Section headers: null, .symtab (link 2), .strtab.
    let sh = |out: &mut Vec<u8>, ty: u32, off: u64, size: u64, link: u32, entsize: u64| {
        out.extend_from_slice(&0u32.to_le_bytes()); // name
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // flags
        out.extend_from_slice(&0u64.to_le_bytes()); // addr
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&link.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // info
        out.extend_from_slice(&8u64.to_le_bytes()); // addralign
        out.extend_from_slice(&entsize.to_le_bytes());
    };
    sh(&mut out, 0, 0, 0, 0, 0);
    sh(&mut out, 2, symtab_off, symtab.len() as u64, 2, 24);
    sh(&mut out, 3, strtab_off, strtab.len() as u64, 0, 0);
    out
}

/// A typical PD: text at 0x200000 (rx), data at 0x201000 (rw) holding
/// 8-byte variables `var0`..`var7` at 0x201000 + 8*i, bss after.
pub fn pd_elf() -> Vec<u8> {
    let text = vec![0x90u8; 0x80];
    let mut data = Vec::new();
    for i in 0..8u64 {
        data.extend_from_slice(&(0x1111_0000 + i).to_le_bytes());
    }
    let syms: Vec<(String, u64, u64)> = (0..8)
        .map(|i| (format!("var{i}"), 0x201000 + 8 * i, 8))
        .chain([
            ("small".to_string(), 0x201040, 4),
            ("dup".to_string(), 0x201000, 8),
            ("dup".to_string(), 0x201008, 8),
            ("in_bss".to_string(), 0x201100, 8),
            ("__mantle_pd_name".to_string(), 0x201080, 64),
            ("__mantle_config".to_string(), 0x202000, 4096),
        ])
        .collect();
    let syms_ref: Vec<(&str, u64, u64)> =
        syms.iter().map(|(n, v, s)| (n.as_str(), *v, *s)).collect();
    elf(
        0x200000,
        &[
            seg(0x200000, PF_R | PF_X, text, 0x80),
            seg(0x201000, PF_R | PF_W, data, 0x2000),
        ],
        &syms_ref,
    )
}

/// A fake kernel: one PT_LOAD at physical 0x100000 (virtual higher half)
/// and a PVH note.
pub fn kernel_elf() -> Vec<u8> {
    pvh_kernel(vec![0xf4; 0x100], 0x3000)
}

/// A kernel whose one PT_LOAD at physical 0x100000 (virtual higher half,
/// `memsz` bytes) holds `code`, with a PVH note entering at its start.
fn pvh_kernel(code: Vec<u8>, memsz: u64) -> Vec<u8> {
    let mut note = Vec::new();
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&8u32.to_le_bytes());
    note.extend_from_slice(&18u32.to_le_bytes());
    note.extend_from_slice(b"Xen\0");
    note.extend_from_slice(&0x100000u64.to_le_bytes());
    let mut load = seg(0xffff_ffff_8010_0000, PF_R | PF_X, code, memsz);
    load.paddr = 0x100000;
    let mut n = seg(0xffff_ffff_8010_0100, PF_R, note, 20);
    n.paddr = 0x100100;
    n.p_type = 4;
    n.align = 4;
    elf(0x100000, &[load, n], &[])
}

/// A temporary folder with `kernel.elf`, `pd.elf` and the given SDF as
/// `test.system`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(sdf: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kernel.elf"), kernel_elf()).unwrap();
        std::fs::write(dir.path().join("pd.elf"), pd_elf()).unwrap();
        std::fs::write(dir.path().join("test.system"), sdf).unwrap();
        Fixture { dir }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap();
    }
    pub fn opts(&self) -> mantle::BuildOptions {
        mantle::BuildOptions {
            kernel: self.path("kernel.elf"),
            search_paths: vec![],
        }
    }
    pub fn build(&self) -> Result<mantle::Built, mantle::Error> {
        mantle::build(&self.path("test.system"), &self.opts())
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A kernel whose PVH entry writes `status` to isa-debug-exit (32-bit code:
/// `mov al, status; out 0xf4, al; hlt`).
pub fn exiting_kernel_elf(status: u8) -> Vec<u8> {
    kernel_with_code(vec![0xb0, status, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd])
}

/// A kernel that prints "hi\n" on COM1, then spins forever.
pub fn spinning_kernel_elf() -> Vec<u8> {
    let mut code = Vec::new();
    for b in *b"hi\n" {
        // mov dx, 0x3f8; mov al, b; out dx, al
        code.extend_from_slice(&[0x66, 0xba, 0xf8, 0x03, 0xb0, b, 0xee]);
    }
    code.extend_from_slice(&[0xeb, 0xfe]); // jmp $
    kernel_with_code(code)
}

pub fn kernel_with_code(code: Vec<u8>) -> Vec<u8> {
    pvh_kernel(code, 0x1000)
}

/// A kernel that prints "ready" on the debug console (port 0xe9), then
/// echoes every byte COM1 receives to the debug console, and exits with
/// status 7 after echoing a 'q'.
pub fn echo_kernel_elf() -> Vec<u8> {
    let mut code = Vec::new();
    for b in *b"ready\n" {
        code.extend_from_slice(&[0xb0, b, 0xe6, 0xe9]); // mov al, b; out 0xe9, al
    }
    code.extend_from_slice(&[
        0x66, 0xba, 0xfd, 0x03, // 0: mov dx, 0x3fd (LSR)
        0xec, //                   4: in al, dx
        0xa8, 0x01, //             5: test al, 1
        0x74, 0xf7, //             7: jz 0
        0x66, 0xba, 0xf8, 0x03, // 9: mov dx, 0x3f8
        0xec, //                  13: in al, dx
        0xe6, 0xe9, //            14: out 0xe9, al
        0x3c, b'q', //            16: cmp al, 'q'
        0x74, 0x02, //            18: je 22
        0xeb, 0xea, //            20: jmp 0
        0xb0, 0x07, //            22: mov al, 7
        0xe6, 0xf4, //            24: out 0xf4, al
        0xf4, //                  26: hlt
    ]);
    kernel_with_code(code)
}

/// A minimal valid PD `a` (priority 10), on one line.
pub const PD_A: &str = r#"<protection_domain name="a" priority="10"><program_image path="a.elf"/></protection_domain>"#;
/// A minimal valid PD `b` (priority 20), on one line.
pub const PD_B: &str = r#"<protection_domain name="b" priority="20"><program_image path="b.elf"/></protection_domain>"#;

/// A row of an invalid-SDF table: the SDF, the message substring it must
/// produce, and where.
pub struct Case {
    pub name: &'static str,
    pub sdf: String,
    pub want: &'static str,
    pub line: u32,
    pub col: u32,
}

pub fn case(
    name: &'static str,
    sdf: impl Into<String>,
    want: &'static str,
    line: u32,
    col: u32,
) -> Case {
    Case {
        name,
        sdf: sdf.into(),
        want,
        line,
        col,
    }
}

/// Runs an invalid-SDF table: every case must be rejected with an error
/// whose message contains its `want`; `check_place` then checks that error
/// (returning a failure message, if any). All failures are reported at once.
pub fn check_rejected(
    cases: &[Case],
    mut check_place: impl FnMut(&Case, &mantle::Diagnostic) -> Option<String>,
) {
    let mut failures = Vec::new();
    for c in cases {
        match mantle::check_bytes("t.system", c.sdf.as_bytes()) {
            Ok(w) => failures.push(format!("{}: accepted (warnings: {w:?})", c.name)),
            Err(e) => {
                if std::env::var_os("MANTLE_SHOW_MESSAGES").is_some() {
                    println!("[{}]\n{e}", c.name);
                }
                match e.errors().find(|d| d.message.contains(c.want)) {
                    None => failures.push(format!(
                        "{}: no error contains {:?}; got:\n  {}",
                        c.name,
                        c.want,
                        e.to_string().replace('\n', "\n  ")
                    )),
                    Some(d) => failures.extend(check_place(c, d)),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
