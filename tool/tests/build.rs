//! End-to-end builds of valid systems with hand-made ELF files.

mod common;
use common::*;
use mantle::elf::{Elf, PT_LOAD, PT_NOTE};
use mantle_abi::bootdesc::{BootDescription, End, MapKind, SystemSpec};
use mantle_abi::layout::*;

const HELLO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<system>
    <memory_region name="shared" size="0x2000" />
    <memory_region name="big" size="0x200000" page_size="0x200000" />
    <memory_region name="dev" size="0x1000" phys_addr="0xfeb00000" />
    <protection_domain name="server" priority="200" passive="true" stack_size="0x4000">
        <program_image path="pd.elf" />
        <map mr="shared" vaddr="0x4000000" perms="rw" setvar_vaddr="var0" setvar_size="var1" />
        <map mr="dev" vaddr="0x5000000" perms="rw" cached="false" />
        <setvar symbol="var2" region_paddr="shared" />
        <irq id="5" pin="4" vector="4" trigger="edge" />
        <irq id="6" pcidev="00:02.0" handle="1" vector="10" />
        <ioport id="0" addr="0x3f8" size="8" setvar_addr="var3" />
        <protection_domain name="child" priority="100" id="3" setvar_id="var5" budget="500" period="2000">
            <program_image path="pd.elf" />
            <map mr="big" vaddr="0x40000000" perms="r" />
        </protection_domain>
    </protection_domain>
    <protection_domain name="client" priority="10">
        <program_image path="pd.elf" />
        <map mr="shared" vaddr="0x4000000" perms="r" />
        <ioport id="1" addr="0xf4" size="1" />
    </protection_domain>
    <channel>
        <end pd="client" id="1" pp="true" setvar_id="var0" />
        <end pd="server" id="2" notify="false" />
    </channel>
</system>
"#;

#[test]
fn builds_hello_and_image_round_trips() {
    let f = Fixture::new(HELLO);
    let b = f.build().unwrap_or_else(|e| panic!("{e}"));
    // The image's program headers.
    let elf = Elf::parse(&b.image).unwrap();
    let kernel = Elf::parse(&kernel_elf()).unwrap().entry;
    assert_eq!(elf.entry, kernel);
    assert_eq!(elf.e_type, 2);
    let notes: Vec<_> = elf.phdrs.iter().filter(|p| p.p_type == PT_NOTE).collect();
    assert_eq!(notes.len(), 1);
    assert!(elf.has_pvh_note());
    let bd = elf
        .phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.paddr == BOOTDESC_PHYS)
        .expect("boot description segment");
    let bytes = elf.bytes(bd).unwrap();
    let desc = BootDescription::parse(bytes).expect("decodes");
    let spec = SystemSpec::from_description(&desc);
    assert_eq!(spec, b.spec);
    assert_eq!(mantle_abi::bootdesc::encode(&spec), bytes);
    // PD order: parent before child.
    let names: Vec<&str> = spec.pds.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["server", "child", "client"]);
    assert_eq!(spec.pds[1].parent, Some(0));
    assert_eq!(spec.pds[1].child_id, 3);
    assert!(spec.pds[0].passive);
    assert_eq!(spec.pds[1].budget_us, 500);
    assert_eq!(spec.pds[1].period_us, 2000);
    // Channels.
    assert_eq!(
        spec.pds[2].ends[1],
        End::Channel {
            peer_pd: 0,
            peer_id: 2,
            can_notify: true,
            can_ppc: true
        }
    );
    assert_eq!(
        spec.pds[0].ends[2],
        End::Channel {
            peer_pd: 2,
            peer_id: 1,
            can_notify: false,
            can_ppc: false
        }
    );
    assert!(matches!(spec.pds[0].ends[5], End::Irq { .. }));
    // Maps.
    let server_maps: Vec<_> = spec.pds[0].maps.indices().map(|i| spec.maps[i]).collect();
    let kinds: Vec<MapKind> = server_maps.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MapKind::Elf,
            MapKind::Elf,
            MapKind::Stack,
            MapKind::IpcBuffer,
            MapKind::Region,
            MapKind::Fixed
        ]
    );
    assert_eq!(server_maps[2].vaddr, stack_bottom(0x4000));
    assert_eq!(server_maps[3].vaddr, IPC_BUFFER_VADDR);
    assert_eq!(server_maps[3].paddr, spec.pds[0].ipc_buffer_paddr);
    assert_eq!(server_maps[5].paddr, 0xfeb00000);
    assert!(!server_maps[5].cached);
    // Shared region: same paddr in both PDs.
    let client_shared = spec.pds[2]
        .maps
        .indices()
        .map(|i| spec.maps[i])
        .find(|m| m.kind == MapKind::Region)
        .unwrap();
    assert_eq!(client_shared.paddr, server_maps[4].paddr);
    // Large-page region is 2 MiB aligned.
    let big = spec.pds[1]
        .maps
        .indices()
        .map(|i| spec.maps[i])
        .find(|m| m.kind == MapKind::Region)
        .unwrap();
    assert_eq!(big.paddr % LARGE_PAGE_SIZE, 0);
    // Every placed chunk is a PT_LOAD with paddr == vaddr, at or above PD_MEMORY_PHYS.
    for c in &b.chunks {
        let ph = elf
            .phdrs
            .iter()
            .find(|p| p.p_type == PT_LOAD && p.paddr == c.paddr)
            .unwrap();
        assert_eq!(ph.vaddr, ph.paddr);
        assert_eq!(ph.memsz, c.size);
        assert!(ph.filesz <= ph.memsz);
        assert!(c.paddr >= PD_MEMORY_PHYS);
    }
    assert!(spec.image_end <= mantle::layout::IMAGE_LIMIT);
    // Setvar patching in the server's data segment.
    let data = server_maps[1];
    let ph = elf
        .phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.paddr == data.paddr)
        .unwrap();
    let bytes = elf.bytes(ph).unwrap();
    let word = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(word(0), 0x4000000, "setvar_vaddr");
    assert_eq!(word(1), 0x2000, "setvar_size");
    assert_eq!(word(2), server_maps[4].paddr, "region_paddr");
    assert_eq!(word(3), 0x3f8, "setvar_addr");
    assert_eq!(word(4), 0x1111_0004, "untouched");
    assert_eq!(word(5), 3, "child setvar_id in the parent");
    // The runtime's name buffer holds the PD's name, NUL-padded.
    let name = &bytes[0x80..0xc0];
    assert_eq!(&name[..7], b"server\0");
    assert!(name[7..].iter().all(|&b| b == 0));
    // Client's var0 got its channel id.
    let cdata = spec.pds[2]
        .maps
        .indices()
        .map(|i| spec.maps[i])
        .nth(1)
        .unwrap();
    let ph = elf
        .phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.paddr == cdata.paddr)
        .unwrap();
    let cb = elf.bytes(ph).unwrap();
    assert_eq!(u64::from_le_bytes(cb[..8].try_into().unwrap()), 1);
    // The report mentions every PD.
    let report = mantle::report::render(&b);
    for n in [
        "server",
        "child",
        "client",
        "boot description",
        "IOAPIC 0 pin 4",
        "MSI",
    ] {
        assert!(report.contains(n), "report lacks {n}:\n{report}");
    }
}

#[test]
fn cli_build_writes_image_and_report() {
    let f = Fixture::new(HELLO);
    let args: Vec<std::ffi::OsString> = vec![
        "build".into(),
        f.path("test.system").into(),
        "-o".into(),
        f.path("out.img").into(),
        "--kernel".into(),
        f.path("kernel.elf").into(),
        "--report".into(),
        f.path("report.txt").into(),
    ];
    assert_eq!(mantle::cli::main(args), 0);
    let img = std::fs::read(f.path("out.img")).unwrap();
    assert!(Elf::parse(&img).is_ok());
    assert!(std::fs::read_to_string(f.path("report.txt"))
        .unwrap()
        .contains("server"));
}

#[test]
fn search_path_finds_program_images() {
    let f = Fixture::new(
        r#"<system><protection_domain name="a"><program_image path="sub.elf"/></protection_domain></system>"#,
    );
    let sub = f.path("bin");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("sub.elf"), pd_elf()).unwrap();
    let e = f.build().unwrap_err().to_string();
    assert!(e.contains("not found; looked in"), "{e}");
    let mut o = f.opts();
    o.search_paths.push(sub);
    mantle::build(&f.path("test.system"), &o).unwrap();
}

#[test]
fn kernel_and_program_errors_are_reported_together() {
    let f = Fixture::new(
        r#"<system><protection_domain name="a"><program_image path="missing.elf"/></protection_domain></system>"#,
    );
    let mut o = f.opts();
    o.kernel = f.path("no-kernel");
    let e = mantle::build(&f.path("test.system"), &o).unwrap_err();
    assert_eq!(e.errors().count(), 2, "{e}");
    let text = e.to_string();
    assert!(text.contains("cannot read the kernel"), "{text}");
    assert!(text.contains("missing.elf"), "{text}");
}

#[test]
fn writable_executable_map_is_a_warning() {
    let f = Fixture::new(
        r#"<system><memory_region name="m" size="0x1000"/><protection_domain name="a"><program_image path="pd.elf"/><map mr="m" vaddr="0x1000000" perms="rwx"/></protection_domain></system>"#,
    );
    let b = f.build().unwrap();
    assert_eq!(b.warnings.len(), 1);
    assert!(b.warnings[0].message.contains("writable and executable"));
}

#[test]
fn prefilled_regions_are_placed_with_their_file() {
    let f = Fixture::new(
        r#"<system>
<memory_region name="data" prefill_path="blob.bin"/>
<memory_region name="sized" size="0x3000" prefill_path="blob.bin"/>
<protection_domain name="a"><program_image path="pd.elf"/>
<map mr="data" vaddr="0x1000000" perms="r" setvar_prefill_size="var0" setvar_size="var1"/>
<map mr="sized" vaddr="0x2000000" perms="r"/>
</protection_domain></system>"#,
    );
    let blob: Vec<u8> = (0..0x1234u32).map(|i| (i % 251) as u8).collect();
    f.write("blob.bin", &blob);
    mantle::check(&f.path("test.system")).unwrap();
    let b = f.build().unwrap();
    assert_eq!(
        b.system.mrs[0].size, 0x2000,
        "file size rounded up to the page size"
    );
    assert_eq!(b.system.mrs[1].size, 0x3000);
    for (i, mr) in b.system.mrs.iter().enumerate() {
        let c = b.chunks.iter().find(|c| c.paddr == b.mr_paddr[i]).unwrap();
        assert_eq!(c.data, blob, "{}", mr.name);
        assert_eq!(c.size, mr.size);
    }
    let data = b
        .chunks
        .iter()
        .find(|c| c.data.len() >= 16 && c.data[..8] != [0x90; 8] && c.data != blob)
        .unwrap();
    assert_eq!(
        u64::from_le_bytes(data.data[0..8].try_into().unwrap()),
        0x1234
    );
    assert_eq!(
        u64::from_le_bytes(data.data[8..16].try_into().unwrap()),
        0x2000
    );
    assert!(mantle::report::render(&b).contains("prefilled from \"blob.bin\" (0x1234 bytes)"));
}

#[test]
fn prefill_errors() {
    for (sdf, file, want) in [
        (
            r#"<memory_region name="m" size="0x1000" prefill_path="blob.bin"/>"#,
            vec![1u8; 0x1001],
            "the file is 0x1001 bytes, larger than the region's size 0x1000",
        ),
        (
            r#"<memory_region name="m" prefill_path="blob.bin"/>"#,
            vec![],
            "is empty",
        ),
        (
            r#"<memory_region name="m" prefill_path="other.bin"/>"#,
            vec![1],
            "prefill_path \"other.bin\" of memory_region 'm': not found",
        ),
    ] {
        let f = Fixture::new(&format!(
            "<system>\n{sdf}\n<protection_domain name=\"a\"><program_image path=\"pd.elf\"/><map mr=\"m\" vaddr=\"0x1000000\"/></protection_domain></system>"
        ));
        f.write("blob.bin", &file);
        let e = f.build().unwrap_err();
        let d = e.errors().next().unwrap();
        assert!(d.message.contains(want), "{e}");
        assert_eq!(d.pos.line, 2, "{e}");
        let e = mantle::check(&f.path("test.system")).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn prefill_is_found_on_the_search_path() {
    let f = Fixture::new(
        r#"<system><memory_region name="m" prefill_path="blob.bin"/><protection_domain name="a"><program_image path="pd.elf"/><map mr="m" vaddr="0x1000000"/></protection_domain></system>"#,
    );
    let sub = f.path("files");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("blob.bin"), [7u8; 10]).unwrap();
    assert!(mantle::check(&f.path("test.system")).is_err());
    mantle::check_with(&f.path("test.system"), std::slice::from_ref(&sub)).unwrap();
    let mut o = f.opts();
    o.search_paths.push(sub);
    let b = mantle::build(&f.path("test.system"), &o).unwrap();
    assert_eq!(b.system.mrs[0].size, 0x1000);
}
