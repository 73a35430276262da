//! `check` and `build` never panic, whatever the input.

mod common;
use common::*;
use proptest::prelude::*;

const VALID: &str = r#"<system>
  <memory_region name="m" size="0x2000" page_size="0x1000"/>
  <protection_domain name="a" priority="10" budget="100" period="200" stack_size="0x2000">
    <program_image path="pd.elf"/>
    <map mr="m" vaddr="0x1000000" perms="rw" setvar_vaddr="var0"/>
    <irq id="3" pin="4" vector="4"/>
    <ioport id="0" addr="0x3f8" size="8"/>
    <protection_domain name="c" id="1"><program_image path="pd.elf"/></protection_domain>
  </protection_domain>
  <protection_domain name="b" priority="20"><program_image path="pd.elf"/></protection_domain>
  <channel><end pd="a" id="1" pp="true"/><end pd="b" id="1"/></channel>
</system>
"#;

#[test]
fn the_base_system_builds() {
    let f = Fixture::new(VALID);
    f.build().unwrap();
}

#[test]
fn fixed_garbage_inputs() {
    let mut deep = String::from("<system>");
    for _ in 0..20_000 {
        deep.push_str("<a>");
    }
    let mut deep_pd = String::from("<system>");
    for i in 0..5000 {
        deep_pd.push_str(&format!("<protection_domain name=\"p{i}\" id=\"0\">"));
    }
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"\0\0\0\0".to_vec(),
        (0..=255u8).collect(),
        b"\xef\xbb\xbf<system/>".to_vec(),
        b"<system>\xff</system>".to_vec(),
        deep.into_bytes(),
        deep_pd.into_bytes(),
        b"<system><protection_domain name=\"a\" priority=\"0x_\"/></system>".to_vec(),
        b"<system><protection_domain name=\"a\" stack_size=\"18446744073709551615\"/></system>".to_vec(),
        b"<system><memory_region name=\"m\" size=\"0xffff_ffff_ffff_f000\" phys_addr=\"0xffff_ffff_ffff_f000\"/></system>".to_vec(),
        b"<system><protection_domain name=\"a\"><program_image path=\"x\"/><map mr=\"m\" vaddr=\"18446744073709551615\"/></protection_domain><memory_region name=\"m\" size=\"0x1000\"/></system>".to_vec(),
        b"<system><protection_domain name=\"a\"><program_image path=\"x\"/><irq id=\"1\" pcidev=\":.\" handle=\"0\" vector=\"0\"/><irq id=\"2\" pcidev=\"\xc3\xa9:\xc3\xa9.\xc3\xa9\" handle=\"0\" vector=\"1\"/></protection_domain></system>".to_vec(),
        b"<system><channel><end/><end/><end/></channel></system>".to_vec(),
        b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><system>&a;</system>".to_vec(),
        b"<system xmlns=\"urn:x\"><x:protection_domain xmlns:x=\"urn:y\"/></system>".to_vec(),
    ];
    let f = Fixture::new(VALID);
    for input in inputs {
        let _ = mantle::check_bytes("g.system", &input);
        let _ = mantle::build_bytes("g.system", &input, f.dir(), &f.opts());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn check_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = mantle::check_bytes("g.system", &bytes);
    }

    #[test]
    fn check_never_panics_on_mutated_sdf(pos in 0usize..VALID.len(), len in 0usize..40, insert in "[ -~]{0,12}") {
        let mut s = VALID.as_bytes().to_vec();
        let end = (pos + len).min(s.len());
        s.splice(pos..end, insert.bytes());
        let _ = mantle::check_bytes("g.system", &s);
    }

    #[test]
    fn numbers_never_panic(n in "(0x)?[0-9a-fA-F_xX-]{0,30}") {
        let sdf = format!("<system><memory_region name=\"m\" size=\"{n}\" phys_addr=\"{n}\" page_size=\"{n}\"/><protection_domain name=\"a\" priority=\"{n}\" budget=\"{n}\" period=\"{n}\" stack_size=\"{n}\" cpu=\"{n}\"><program_image path=\"p\"/><map mr=\"m\" vaddr=\"{n}\"/><irq id=\"{n}\" pin=\"{n}\" vector=\"{n}\" ioapic=\"{n}\"/><ioport id=\"{n}\" addr=\"{n}\" size=\"{n}\"/></protection_domain></system>");
        let _ = mantle::check_bytes("g.system", sdf.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn build_never_panics_on_mutated_elf(flips in proptest::collection::vec((0usize..0x3000, any::<u8>()), 1..16), cut in 0usize..0x3000) {
        let f = Fixture::new(VALID);
        let mut e = pd_elf();
        for (at, v) in flips {
            if at < e.len() {
                e[at] = v;
            }
        }
        if cut > 64 && cut < e.len() && cut % 3 == 0 {
            e.truncate(cut);
        }
        f.write("pd.elf", &e);
        let _ = f.build();
    }

    #[test]
    fn build_never_panics_on_mutated_kernel(flips in proptest::collection::vec((0usize..0x1200, any::<u8>()), 1..16)) {
        let f = Fixture::new(VALID);
        let mut k = kernel_elf();
        for (at, v) in flips {
            if at < k.len() {
                k[at] = v;
            }
        }
        f.write("kernel.elf", &k);
        let _ = f.build();
    }

    #[test]
    fn build_never_panics_on_random_segments(segs in proptest::collection::vec((0u64..0x8000_0000_0000, 0u32..8, 0usize..64, 0u64..0x1_0000_0000), 0..5), entry in any::<u64>()) {
        let f = Fixture::new(VALID);
        let s: Vec<Seg> = segs.into_iter().map(|(v, fl, n, m)| seg(v, fl, vec![0xcc; n], m)).collect();
        f.write("pd.elf", &elf(entry, &s, &[("var0", entry, 8)]));
        let _ = f.build();
    }
}

#[test]
fn the_binary_exits_1_not_101_on_bad_input() {
    let exe = env!("CARGO_BIN_EXE_mantle");
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.system", vec![]),
        ("binary.system", (0..=255u8).cycle().take(4096).collect()),
        (
            "bad.system",
            b"<system><protection_domain name=\"a\" priority=\"999\"/></system>".to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        for args in [
            vec!["check"],
            vec!["build", "-o", "/dev/null"],
            vec!["report"],
        ] {
            let out = std::process::Command::new(exe)
                .args(&args)
                .arg(&p)
                .args(
                    ["--kernel", "/nonexistent"]
                        .iter()
                        .filter(|_| args[0] != "check"),
                )
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{args:?} {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("error"), "{err}");
        }
    }
    // Missing file, unknown command, bad options.
    for args in [
        vec!["check", "/nonexistent.system"],
        vec!["frobnicate"],
        vec!["build", "x.system"],
        vec!["run", "x.system", "--accel", "fast"],
        vec!["run", "x.system", "--timeout", "-1"],
        vec!["check"],
        vec![],
    ] {
        let out = std::process::Command::new(exe)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    let out = std::process::Command::new(exe)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("mantle build SYSTEM -o IMAGE"));
}

/// What the fuzz target (`fuzz/fuzz_targets/check.rs`) does with one input.
fn fuzz_one(data: &[u8]) {
    let _ = mantle::check_bytes("g.system", data);
    if let Ok((sys, _)) = mantle::sdf::load_bytes("g.system", data, &[]) {
        let _ = mantle::sdf::write::write(&sys, "g.system");
        let g = mantle::diagram::graph(&sys, "g");
        let _ = mantle::diagram::dot::write(&g);
        let _ = mantle::diagram::svg::write(&g);
        let _ = mantle::sdf::compose::configs(&sys, None);
    }
}

#[test]
fn the_fuzz_corpus_never_panics() {
    let mut n = 0;
    for e in std::fs::read_dir("fuzz/corpus/check").unwrap() {
        let p = e.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        let r = std::panic::catch_unwind(|| fuzz_one(&data));
        assert!(r.is_ok(), "{} panicked", p.display());
        n += 1;
    }
    assert!(n >= 40, "only {n} corpus files");
}

const COMPOSED: &str = include_str!("composed/serial_timer.system");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn composed_sdf_mutations_never_panic(pos in 0usize..COMPOSED.len(), len in 0usize..40, insert in "[ -~]{0,12}") {
        let mut s = COMPOSED.as_bytes().to_vec();
        let end = (pos + len).min(s.len());
        s.splice(pos..end, insert.bytes());
        fuzz_one(&s);
    }
}
