//! The composition layer: golden expansions and diagrams, configurations
//! written into the images, and composed errors with positions.
//!
//! Goldens live beside the inputs in `tests/composed/`; regenerate them with
//! `MANTLE_BLESS=1 cargo test -p mantle --test compose` and review the diff.

mod common;
use common::*;
use mantle_config::net::*;
use mantle_config::serial::*;
use mantle_config::timer::*;
use std::path::{Path, PathBuf};

fn golden(path: &Path, actual: &str) {
    if std::env::var_os("MANTLE_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with MANTLE_BLESS=1 to create it)",
            path.display()
        )
    });
    if want != actual {
        let (w, a): (Vec<&str>, Vec<&str>) = (want.lines().collect(), actual.lines().collect());
        let first = w
            .iter()
            .zip(&a)
            .position(|(x, y)| x != y)
            .unwrap_or(w.len().min(a.len()));
        panic!(
            "{} differs from the output at line {}:\n  golden: {:?}\n  actual: {:?}\n(run with MANTLE_BLESS=1 to accept)",
            path.display(),
            first + 1,
            w.get(first),
            a.get(first)
        );
    }
}

/// The composed inputs (not the goldens).
fn inputs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("tests/composed")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".system") && !n.ends_with(".expanded.system")
        })
        .collect();
    v.sort();
    assert!(v.len() >= 2);
    v
}

fn with_ext(p: &Path, ext: &str) -> PathBuf {
    let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
    p.with_file_name(format!("{stem}.{ext}"))
}

/// Drop the comments the expansion adds, to compare two expansions.
fn without_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i..].find("-->") {
            Some(j) => rest = &rest[i + j + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn expansions_match_goldens_check_clean_and_are_fixed_points() {
    for input in inputs() {
        let (text, _) = mantle::expand(&input, &[]).unwrap();
        let out = with_ext(&input, "expanded.system");
        golden(&out, &text);
        // The expansion is a plain SDF that checks...
        mantle::check(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
        // ...and expands to itself.
        let (again, _) = mantle::expand(&out, &[]).unwrap();
        assert_eq!(
            without_comments(&again).split_once("<system>").unwrap().1,
            without_comments(&text).split_once("<system>").unwrap().1,
            "{}",
            input.display()
        );
    }
}

#[test]
fn diagrams_match_goldens() {
    let mut files = inputs();
    files.push(PathBuf::from("../examples/hello/hello.system"));
    for input in files {
        for ext in ["dot", "svg"] {
            let (text, _) = mantle::diagram::render_file(&input, &[], ext == "dot").unwrap();
            let name = input.file_stem().unwrap().to_string_lossy().into_owned();
            golden(
                &PathBuf::from(format!("tests/composed/{name}.{ext}")),
                &text,
            );
            if ext == "svg" {
                assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
            }
        }
    }
}

/// A fixture holding the composed system `name` and every program it uses
/// (all `pd.elf`, which declares `__mantle_config`).
fn composed_fixture(name: &str, programs: &[&str]) -> Fixture {
    let sdf = std::fs::read_to_string(format!("tests/composed/{name}")).unwrap();
    let f = Fixture::new(&sdf);
    for p in programs {
        f.write(p, &pd_elf());
    }
    f
}

fn blob<'b>(b: &'b mantle::Built, pd: &str) -> &'b [u8] {
    let i = b.system.pd_index(pd).unwrap();
    &b.configs.iter().find(|c| c.0 == i).unwrap().2
}

fn channel_between(sys: &mantle::sdf::System, a: &str, b: &str) -> (u8, u8) {
    for ch in &sys.channels {
        let (x, y) = (&ch.ends[0], &ch.ends[1]);
        if x.pd == a && y.pd == b {
            return (x.id, y.id);
        }
        if x.pd == b && y.pd == a {
            return (y.id, x.id);
        }
    }
    panic!("no channel between {a} and {b}");
}

fn vaddr_of(sys: &mantle::sdf::System, pd: &str, mr: &str) -> u64 {
    let p = &sys.pds[sys.pd_index(pd).unwrap()];
    p.maps.iter().find(|m| m.mr == mr).unwrap().vaddr
}

#[test]
fn serial_and_timer_configurations_reach_the_images() {
    let f = composed_fixture(
        "serial_timer.system",
        &["serial_virt_tx", "serial_virt_rx", "hpet_driver"],
    );
    let b = f.build().unwrap();
    let sys = &b.system;
    // alice is a client of both subsystems: two sections.
    let a = blob(&b, "alice");
    let sc: SerialClientConfig = mantle_config::decode(a).unwrap();
    let tc: TimerClientConfig = mantle_config::decode(a).unwrap();
    assert_eq!(
        sc.tx.channel.0,
        channel_between(sys, "alice", "serial_virt_tx").0
    );
    assert_eq!(
        sc.rx.unwrap().channel.0,
        channel_between(sys, "alice", "serial_virt_rx").0
    );
    assert_eq!(
        tc.channel.0,
        channel_between(sys, "alice", "timer_driver").0
    );
    assert_eq!(
        sc.tx.queue.queue.vaddr,
        vaddr_of(sys, "alice", "serial_tx_alice_queue")
    );
    assert_eq!(sc.tx.queue.data.size, 0x1000);
    // bob reads no input.
    let bc: SerialClientConfig = mantle_config::decode(blob(&b, "bob")).unwrap();
    assert!(bc.rx.is_none());
    // The driver (declared in the SDF) gets its own ioport and irq ids.
    let dc: SerialDriverConfig = mantle_config::decode(blob(&b, "uart")).unwrap();
    assert_eq!(dc.device.ioport.map(|c| c.0), Some(0));
    assert_eq!(dc.device.port_base, 0x3f8);
    assert_eq!(dc.device.irq.map(|c| c.0), Some(0));
    assert_eq!(
        dc.tx.channel.0,
        channel_between(sys, "uart", "serial_virt_tx").0
    );
    let vt: SerialVirtTxConfig = mantle_config::decode(blob(&b, "serial_virt_tx")).unwrap();
    let names: Vec<&str> = vt
        .clients
        .as_slice()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(
        vt.clients.as_slice()[1].conn.channel.0,
        channel_between(sys, "bob", "serial_virt_tx").1
    );
    // The timer driver knows its clients by channel, and its device's
    // physical address.
    let td: TimerDriverConfig = mantle_config::decode(blob(&b, "timer_driver")).unwrap();
    assert_eq!(td.clients.len(), 2);
    assert_eq!(td.device.unwrap().paddr, 0xfed0_0000);
    assert_eq!(
        td.clients.as_slice()[1].channel.0,
        channel_between(sys, "bob", "timer_driver").1
    );
    // The blob is in the image: alice's data segment holds it at
    // __mantle_config (0x202000, 0x1000 into the segment at 0x201000).
    let i = sys.pd_index("alice").unwrap();
    let chunk = b
        .chunks
        .iter()
        .find(|c| c.kind == mantle::layout::ChunkKind::Elf(i) && c.size == 0x2000)
        .unwrap();
    assert_eq!(&chunk.data[0x1000..0x1000 + 64], &a[..64]);
    // The report lists the configurations and the permission matrix.
    let r = mantle::report::render(&b);
    if std::env::var_os("MANTLE_PRINT_REPORT").is_some() {
        println!("{r}");
    }
    for want in [
        "## Permission matrix",
        "## Memory use per PD",
        "## Least privilege (0 findings)",
        "## Composed subsystems (2)",
        "serial client + timer client",
    ] {
        assert!(r.contains(want), "{want}\n{r}");
    }
}

#[test]
fn net_configurations_carry_dma_addresses() {
    let f = composed_fixture(
        "net.system",
        &["net_driver", "net_virt_rx", "net_virt_tx", "net_copy"],
    );
    let b = f.build().unwrap();
    let sys = &b.system;
    let dma = sys.mr_index("net_rx_dma").unwrap();
    assert!(sys.mrs[dma].dma);
    let vr: NetVirtRxConfig = mantle_config::decode(blob(&b, "net_virt_rx")).unwrap();
    assert_eq!(vr.data.paddr, b.mr_paddr[dma]);
    assert_eq!(vr.data.size, 256 * 2048);
    assert_eq!(vr.clients.as_slice()[0].mac, [2, 0, 0, 0, 0, 1]);
    assert_eq!(vr.clients.as_slice()[1].mac, [2, 0, 0, 0, 3, 2]);
    let web: NetClientConfig = mantle_config::decode(blob(&b, "web")).unwrap();
    assert_eq!(
        web.rx.channel.0,
        channel_between(sys, "web", "net_copy_web").0
    );
    assert_eq!(web.tx.queue.capacity, 256);
    assert_eq!(
        web.rx_data.paddr, 0,
        "clients are not told physical addresses"
    );
    let cp: NetCopierConfig = mantle_config::decode(blob(&b, "net_copy_web")).unwrap();
    assert_eq!(
        cp.virt_data.vaddr,
        vaddr_of(sys, "net_copy_web", "net_rx_dma")
    );
    let drv: NetDriverConfig = mantle_config::decode(blob(&b, "net_driver")).unwrap();
    assert_eq!(drv.device.unwrap().paddr, 0xfebc_0000);
    assert_eq!(drv.device.unwrap().size, 0x20000);
}

#[test]
fn a_component_without_the_config_symbol_is_an_error() {
    let f = composed_fixture("serial_timer.system", &["serial_virt_tx", "serial_virt_rx"]);
    // hpet_driver without __mantle_config.
    f.write(
        "hpet_driver",
        &elf(
            0x200000,
            &[seg(0x200000, PF_R | PF_X, vec![0x90; 16], 16)],
            &[],
        ),
    );
    let e = f.build().unwrap_err();
    let d = e.errors().next().unwrap();
    assert!(
        d.message
            .contains("protection_domain 'timer_driver' is part of a composed subsystem")
            && d.message.contains("has no symbol '__mantle_config'")
            && d.message.contains("config_blob!"),
        "{d}"
    );
    // The generated PD's position is the composed element's.
    assert_eq!((d.pos.line, d.pos.col), (26, 5), "{d}");
}

#[test]
fn regions_get_2mib_pages_when_everything_allows() {
    let f = Fixture::new(
        r#"<system>
  <memory_region name="big" size="0x400000"/>
  <memory_region name="odd" size="0x200000"/>
  <protection_domain name="a" priority="2">
    <program_image path="pd.elf"/>
    <map mr="big" vaddr="0x40000000"/>
    <map mr="odd" vaddr="0x50001000"/>
  </protection_domain>
  <protection_domain name="b" priority="1">
    <program_image path="pd.elf"/>
    <map mr="big" vaddr="0x60000000" perms="r"/>
  </protection_domain>
  <channel><end pd="a" id="0"/><end pd="b" id="0"/></channel>
</system>"#,
    );
    let b = f.build().unwrap();
    assert_eq!(b.mr_paddr[0] % 0x200000, 0);
    assert!(mantle::layout::large_pages(&b.system, 0));
    assert!(
        !mantle::layout::large_pages(&b.system, 1),
        "a map is not 2 MiB aligned"
    );
    let r = mantle::report::render(&b);
    assert!(
        r.contains("2 MiB pages") && r.contains("4 KiB pages"),
        "{r}"
    );
}

#[test]
fn cli_expand_and_diagram() {
    let bin = env!("CARGO_BIN_EXE_mantle");
    let out = std::process::Command::new(bin)
        .args(["expand", "tests/composed/serial_timer.system"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<protection_domain name=\"serial_virt_tx\""));
    let dir = tempfile::tempdir().unwrap();
    for ext in ["svg", "dot"] {
        let file = dir.path().join(format!("d.{ext}"));
        let st = std::process::Command::new(bin)
            .args(["diagram", "tests/composed/net.system", "-o"])
            .arg(&file)
            .status()
            .unwrap();
        assert!(st.success());
        let s = std::fs::read_to_string(&file).unwrap();
        assert!(s.contains(if ext == "svg" {
            "<svg"
        } else {
            "digraph system"
        }));
    }
    // diagram needs -o; errors exit 1 with file:line:col.
    let st = std::process::Command::new(bin)
        .args(["diagram", "tests/composed/net.system"])
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let bad = dir.path().join("bad.system");
    std::fs::write(
        &bad,
        "<system>\n<serial_subsystem drvier=\"x\"/>\n</system>\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin)
        .arg("expand")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.system:2:19: error: unknown attribute 'drvier' on serial_subsystem (did you mean 'driver'?)"), "{err}");
}

/// `mantle expand` carries every configuration (`<config>`, physical
/// addresses as `<paddr>`), so the plain SDF builds the very same image.
#[test]
fn expanded_examples_build_byte_identical_images() {
    let examples: [(&str, &[&str]); 3] = [
        (
            "../examples/serial/serial.composed.system",
            &[
                "uart16550_driver",
                "serial_virt_tx",
                "serial_virt_rx",
                "serial_client",
            ],
        ),
        (
            "../examples/timer/timer.composed.system",
            &["hpet_driver", "timer_client_a", "timer_client_b"],
        ),
        (
            "tests/composed/net.system",
            &["net_driver", "net_virt_rx", "net_virt_tx", "net_copy"],
        ),
    ];
    for (input, programs) in examples {
        // The stand-in program (`pd_elf`) has none of the examples' setvar
        // symbols; they are not part of the configuration.
        let sdf = std::fs::read_to_string(input)
            .unwrap()
            .replace(" setvar_vaddr=\"uart_stats\"", "")
            .replace(" setvar_vaddr=\"hpet_regs\"", "");
        let f = Fixture::new(&sdf);
        for p in programs {
            f.write(p, &pd_elf());
        }
        let composed = f.build().unwrap_or_else(|e| panic!("{input}: {e}"));
        let (text, _) = mantle::expand(&f.path("test.system"), &[]).unwrap();
        assert!(text.contains("<config kind="), "{input}");
        f.write("expanded.system", text.as_bytes());
        let plain = mantle::build(&f.path("expanded.system"), &f.opts())
            .unwrap_or_else(|e| panic!("{input} expanded: {e}"));
        assert!(plain.system.composed.is_empty());
        assert_eq!(composed.configs.len(), plain.configs.len(), "{input}");
        for (a, b) in composed.configs.iter().zip(&plain.configs) {
            assert_eq!(a, b, "{input}: configuration of PD {}", a.0);
        }
        assert_eq!(
            composed.bootdesc, plain.bootdesc,
            "{input}: boot description"
        );
        assert!(composed.image == plain.image, "{input}: the images differ");
    }
}
