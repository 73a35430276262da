//! Table of systems that pass `check` but fail `build` because of their
//! program images or the kernel: message substring and line of each.

mod common;
use common::*;

const SYS_LINE2: &str = "<system>\n<protection_domain name=\"a\"><program_image path=\"pd.elf\"/>";

/// PD `a` on line 2 (its program_image at 2:29) plus `inner` on line 3.
fn pd(inner: &str) -> String {
    format!("{SYS_LINE2}\n{inner}\n</protection_domain>\n</system>\n")
}

struct Case {
    name: &'static str,
    sdf: String,
    /// Replace pd.elf with this.
    elf: Option<Vec<u8>>,
    /// Replace kernel.elf with this.
    kernel: Option<Vec<u8>>,
    want: &'static str,
    line: u32,
    col: u32,
}

fn text() -> Vec<u8> {
    vec![0x90; 16]
}

fn cases() -> Vec<Case> {
    let mr = "<memory_region name=\"m\" size=\"0x1000\"/>";
    let with_mr = |inner: &str| {
        format!("<system>\n{mr}\n<protection_domain name=\"a\"><program_image path=\"pd.elf\"/>\n{inner}\n</protection_domain>\n</system>\n")
    };
    let c = |name, sdf: String, elf: Option<Vec<u8>>, want, line, col| Case {
        name,
        sdf,
        elf,
        kernel: None,
        want,
        line,
        col,
    };
    let k = |name, kernel: Vec<u8>, want| Case {
        name,
        sdf: pd(""),
        elf: None,
        kernel: Some(kernel),
        want,
        line: 0,
        col: 0,
    };
    let mut bad_note_kernel = kernel_elf();
    // Make the note's p_align 8: QEMU would misread the entry.
    {
        let e = mantle::elf::Elf::parse(&bad_note_kernel).unwrap();
        let idx = e.phdrs.iter().position(|p| p.p_type == 4).unwrap();
        let off = 64 + idx * 56 + 48;
        bad_note_kernel[off..off + 8].copy_from_slice(&8u64.to_le_bytes());
    }
    let mut high_kernel = kernel_elf();
    {
        // paddr of the first PT_LOAD := 0x7ff000 (memsz 0x3000 crosses 0x800000).
        let off = 64 + 24;
        high_kernel[off..off + 8].copy_from_slice(&0x7ff000u64.to_le_bytes());
    }
    vec![
        c("missing program image", "<system>\n<protection_domain name=\"a\"><program_image path=\"nope.elf\"/></protection_domain>\n</system>".to_string(), None, "program_image \"nope.elf\" of protection_domain 'a': not found; looked in:", 2, 29),
        c("garbage program image", pd(""), Some(b"this is not an ELF file at all, just text".to_vec()), "not an ELF file (bad magic number)", 2, 29),
        c("empty program image", pd(""), Some(vec![]), "not an ELF file", 2, 29),
        c("truncated program image", pd(""), Some(pd_elf()[..100].to_vec()), "truncated", 2, 29),
        c("32-bit ELF", pd(""), Some({ let mut e = pd_elf(); e[4] = 1; e }), "not a 64-bit ELF file", 2, 29),
        c("wrong machine", pd(""), Some({ let mut e = pd_elf(); e[18] = 183; e }), "ELF machine is 183, not x86_64", 2, 29),
        c("shared object", pd(""), Some({ let mut e = pd_elf(); e[16] = 3; e }), "ELF type is 3, not an executable (ET_EXEC)", 2, 29),
        c("no loadable segments", pd(""), Some(elf(0x200000, &[], &[])), "no loadable (PT_LOAD) segments", 2, 29),
        c("dynamically linked", pd(""), Some({ let mut i = seg(0x200100, PF_R, b"/lib/ld.so\0".to_vec(), 11); i.p_type = 3; elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 16), i], &[]) }), "dynamically linked (it has PT_INTERP)", 2, 29),
        c("W+X segment", pd(""), Some(elf(0x200000, &[seg(0x200000, PF_R | PF_W | PF_X, text(), 16)], &[])), "is both writable and executable; W^X", 2, 29),
        c("overlapping segments", pd(""), Some(elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 0x2000), seg(0x201000, PF_R, text(), 16)], &[])), "overlaps the previous segment", 2, 29),
        c("segments share a page", pd(""), Some(elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 16), seg(0x200800, PF_R | PF_W, text(), 16)], &[])), "(rw) shares a page with the previous segment (rx)", 2, 29),
        c("entry outside code", pd(""), Some(elf(0x300000, &[seg(0x200000, PF_R | PF_X, text(), 16)], &[])), "entry point 0x300000 is not inside an executable segment", 2, 29),
        c("entry in data", pd(""), Some(elf(0x201000, &[seg(0x200000, PF_R | PF_X, text(), 16), seg(0x201000, PF_R | PF_W, text(), 16)], &[])), "entry point 0x201000 is not inside an executable segment", 2, 29),
        c("null page segment", pd(""), Some(elf(0x0, &[seg(0x0, PF_R | PF_X, text(), 16)], &[])), "covers the null page", 2, 29),
        c("segment into stack", pd(""), Some(elf(0x7fff_ffff_d000, &[seg(0x7fff_ffff_d000, PF_R | PF_X, text(), 0x1000)], &[])), "where the stack's guard page begins", 2, 29),
        c("segment overflows", pd(""), Some(elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 16), seg(0xffff_ffff_ffff_f000, PF_R, vec![], 0x2000)], &[])), "overflows the address space", 2, 29),
        c("filesz above memsz", pd(""), Some(elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 8)], &[])), "has more file bytes (0x10) than memory bytes", 2, 29),
        c("segment data past end of file", pd(""), Some({
            let mut e = elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 16)], &[]);
            // p_filesz := huge.
            e[64 + 32..64 + 40].copy_from_slice(&0x10_0000u64.to_le_bytes());
            e[64 + 40..64 + 48].copy_from_slice(&0x10_0000u64.to_le_bytes());
            e
        }), "lie past the end of the file", 2, 29),
        c("map overlaps ELF segment", with_mr("<map mr=\"m\" vaddr=\"0x201000\"/>"), None, "map of 'm' at 0x201000..0x202000 in protection_domain 'a' overlaps ELF segment 0x201000..0x203000", 4, 13),
        c("setvar symbol missing", with_mr("<map mr=\"m\" vaddr=\"0x1000000\" setvar_vaddr=\"nothere\"/>"), None, "symbol 'nothere' not found in", 4, 31),
        c("setvar symbol ambiguous", with_mr("<map mr=\"m\" vaddr=\"0x1000000\" setvar_vaddr=\"dup\"/>"), None, "symbol 'dup' is ambiguous: 2 symbols of that name", 4, 31),
        c("setvar symbol wrong size", with_mr("<map mr=\"m\" vaddr=\"0x1000000\" setvar_size=\"small\"/>"), None, "symbol 'small' in", 4, 31),
        c("setvar symbol outside segments", pd("<ioport id=\"0\" addr=\"0x3f8\" size=\"8\" setvar_id=\"far\"/>"), Some(elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 16)], &[("far", 0x900000, 8)])), "symbol 'far' at 0x900000", 3, 38),
        c("setvar with no symbol table", pd("<ioport id=\"0\" addr=\"0x3f8\" size=\"8\" setvar_id=\"x\"/>"), Some({
            let mut e = elf(0x200000, &[seg(0x200000, PF_R | PF_X, text(), 16)], &[]);
            e[40..48].copy_from_slice(&0u64.to_le_bytes()); // e_shoff := 0
            e
        }), "symbol 'x' not found", 3, 38),
        c("path_for_symbols missing", "<system>\n<protection_domain name=\"a\"><program_image path=\"pd.elf\" path_for_symbols=\"nope.elf\"/></protection_domain>\n</system>".into(), None, "path_for_symbols \"nope.elf\": not found", 2, 29),
        c("does not fit in memory", "<system>\n<memory_region name=\"huge\" size=\"0x2000_0000\"/>\n<protection_domain name=\"a\"><program_image path=\"pd.elf\"/><map mr=\"huge\" vaddr=\"0x10000000\"/></protection_domain>\n</system>".into(), None, "the system does not fit in memory: placing memory_region 'huge' (0x20000000 bytes) would end past 0x1c000000 (448 MiB)", 2, 1),
        c("fixed region over placed memory", "<system>\n<memory_region name=\"f\" size=\"0x1000\" phys_addr=\"0x900000\"/>\n<protection_domain name=\"a\"><program_image path=\"pd.elf\"/><map mr=\"f\" vaddr=\"0x10000000\"/></protection_domain>\n</system>".into(), None, "memory_region 'f' at 0x900000..0x901000 overlaps the memory the tool places PDs in", 2, 39),
        k("kernel garbage", b"\x7fELF garbage".to_vec(), "not an ELF file"),
        k("kernel without PVH note", elf(0x100000, &[{ let mut s = seg(0xffff_ffff_8010_0000, PF_R | PF_X, text(), 16); s.paddr = 0x100000; s }], &[]), "no PVH entry note"),
        k("kernel note misaligned", bad_note_kernel, "QEMU, which aligns the note's fields to the PT_NOTE segment's p_align, would read"),
        k("kernel over boot description", high_kernel, "the kernel must end below the boot description"),
        k("kernel missing", vec![], "not an ELF file"),
    ]
}

#[test]
fn build_errors_name_the_problem_and_place() {
    let cases = cases();
    let mut failures = Vec::new();
    for c in &cases {
        let f = Fixture::new(&c.sdf);
        if let Some(e) = &c.elf {
            f.write("pd.elf", e);
        }
        if let Some(k) = &c.kernel {
            f.write("kernel.elf", k);
        }
        match f.build() {
            Ok(_) => failures.push(format!("{}: built", c.name)),
            Err(e) => match e.errors().find(|d| d.message.contains(c.want)) {
                None => failures.push(format!(
                    "{}: no error contains {:?}; got:\n  {e}",
                    c.name, c.want
                )),
                Some(d) => {
                    if (c.line != 0 && d.pos.line != c.line) || (c.col != 0 && d.pos.col != c.col) {
                        failures.push(format!(
                            "{}: expected {}:{}, got {d}",
                            c.name, c.line, c.col
                        ));
                    }
                }
            },
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn check_does_not_need_program_images_or_kernel() {
    let f = Fixture::new(&pd(""));
    std::fs::remove_file(f.path("pd.elf")).unwrap();
    std::fs::remove_file(f.path("kernel.elf")).unwrap();
    mantle::check(&f.path("test.system")).unwrap();
}

#[test]
fn symbol_in_bss_is_patched() {
    let f = Fixture::new(&pd(
        "<ioport id=\"7\" addr=\"0x3f8\" size=\"8\" setvar_id=\"in_bss\"/>",
    ));
    let b = f.build().unwrap();
    // The data chunk was extended to cover the bss symbol.
    let data = b
        .chunks
        .iter()
        .find(|c| c.data.len() >= 0x108)
        .expect("extended");
    assert_eq!(
        u64::from_le_bytes(data.data[0x100..0x108].try_into().unwrap()),
        7
    );
}

#[test]
fn path_for_symbols_is_used() {
    let f = Fixture::new(
        "<system>\n<protection_domain name=\"a\"><program_image path=\"pd.elf\" path_for_symbols=\"syms.elf\"/><ioport id=\"2\" addr=\"0x3f8\" size=\"8\" setvar_id=\"other\"/></protection_domain>\n</system>",
    );
    f.write(
        "syms.elf",
        &elf(
            0x200000,
            &[seg(0x200000, PF_R | PF_X, text(), 16)],
            &[("other", 0x201010, 8)],
        ),
    );
    let b = f.build().unwrap();
    let data = b
        .chunks
        .iter()
        .find(|c| c.data.len() >= 0x18 && c.data[0] != 0x90)
        .unwrap();
    assert_eq!(
        u64::from_le_bytes(data.data[0x10..0x18].try_into().unwrap()),
        2
    );
}
