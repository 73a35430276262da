//! Invalid composed system descriptions (`<serial_subsystem>`,
//! `<timer_subsystem>`, `<net_subsystem>`): each row is one SDF, the
//! message it must produce and where. Errors in what a subsystem generates
//! point at the composed element (or its `<client>`). Then the
//! least-privilege warnings, each with its message and position.

#![allow(clippy::useless_format)]

mod common;
use common::{case, check_rejected, Case, PD_A, PD_B};

/// PDs `a` (line 2) and `b` (line 3), then `body` from line 4.
fn comp(body: &str) -> String {
    format!("<system>\n{PD_A}\n{PD_B}\n{body}\n</system>\n")
}

/// PD `c` (line 4) holding `inner` after its program_image (column 71),
/// then a region `hpet`.
fn cfg(inner: &str) -> String {
    comp(&format!("<protection_domain name=\"c\" priority=\"5\"><program_image path=\"c.elf\"/>{inner}</protection_domain>\n<memory_region name=\"hpet\" size=\"0x1000\"/>"))
}

/// `c` encoded as one configuration section, in hex.
fn section<C: mantle_config::Config>(c: &C) -> String {
    let mut buf = vec![0u8; mantle_config::CONFIG_SIZE];
    let n = mantle_config::encode(c, &mut buf).unwrap();
    buf[..n].iter().map(|b| format!("{b:02x}")).collect()
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        case("unknown subsystem attribute", comp(r#"<serial_subsystem drvier="u"/>"#), "unknown attribute 'drvier' on serial_subsystem (did you mean 'driver'?)", 4, 19),
        case("unknown subsystem child", comp(r#"<serial_subsystem><clinet pd="a"/></serial_subsystem>"#), "unknown element 'clinet' inside serial_subsystem (did you mean 'client'?); allowed: client", 4, 19),
        case("text in subsystem", comp("<timer_subsystem>\n  tick\n</timer_subsystem>"), "unexpected text \"tick\" inside timer_subsystem", 5, 3),
        case("client without pd", comp(r#"<serial_subsystem><client/></serial_subsystem>"#), "client of serial_subsystem 'serial' is missing required attribute 'pd'", 4, 19),
        case("client unknown pd", comp(r#"<serial_subsystem><client pd="c"/></serial_subsystem>"#), "client of serial_subsystem 'serial' names unknown protection_domain 'c' (did you mean 'a'?); clients must be declared", 4, 27),
        case("client typo", comp(r#"<timer_subsystem><client pd="aa"/></timer_subsystem>"#), "names unknown protection_domain 'aa' (did you mean 'a'?)", 4, 26),
        case("client listed twice", comp(r#"<serial_subsystem><client pd="a"/><client pd="a"/></serial_subsystem>"#), "protection_domain 'a' is listed twice as a client of serial_subsystem 'serial'", 4, 43),
        case("client of two serial subsystems", comp("<serial_subsystem><client pd=\"a\"/></serial_subsystem>\n<serial_subsystem name=\"s2\"><client pd=\"a\"/></serial_subsystem>"), "protection_domain 'a' is already a client of a serial_subsystem (at 4:19)", 5, 37),
        case("client is the driver", comp(r#"<serial_subsystem driver="a"><client pd="a"/></serial_subsystem>"#), "protection_domain 'a' is a client of serial_subsystem 'serial' and also its driver or virtualiser", 4, 38),
        case("role in two subsystems", comp("<serial_subsystem driver=\"a\"/>\n<serial_subsystem name=\"s2\" driver=\"a\"/>"), "serial_subsystem 's2': protection_domain 'a' is already the driver of serial_subsystem 'serial'", 5, 29),
        case("virt shared by serial and net", comp("<serial_subsystem virt_tx=\"v\"/>\n<net_subsystem virt_tx=\"v\"/>"), "net_subsystem 'net': protection_domain 'v' is already the virt_tx of serial_subsystem 'serial'", 5, 16),
        case("bad subsystem name", comp(r#"<serial_subsystem name="a b"/>"#), "name \"a b\" of serial_subsystem is not valid; allowed: 1 to 32 letters", 4, 19),
        case("empty subsystem name", comp(r#"<timer_subsystem name=""/>"#), "name \"\" of timer_subsystem is not valid", 4, 18),
        case("empty driver", comp(r#"<serial_subsystem driver=""/>"#), "driver of serial_subsystem 'serial' is empty", 4, 19),
        case("data_size not a power of two", comp(r#"<serial_subsystem data_size="0x3000"/>"#), "data_size 0x3000 of serial_subsystem 'serial' is not a power of two", 4, 19),
        case("data_size too small", comp(r#"<serial_subsystem data_size="0x800"/>"#), "data_size \"0x800\" of serial_subsystem 'serial' is out of range; allowed: 0x1000..=0x40000000", 4, 19),
        case("data_size overflows", comp(r#"<serial_subsystem data_size="0x1_0000_0000_0000_0000"/>"#), "data_size \"0x1_0000_0000_0000_0000\" of serial_subsystem 'serial' is too large (more than 64 bits)", 4, 19),
        case("rx not boolean", comp(r#"<serial_subsystem rx="maybe"/>"#), "rx \"maybe\" of serial_subsystem 'serial' is not a boolean", 4, 19),
        case("client rx without rx path", comp(r#"<serial_subsystem rx="false"><client pd="a" rx="true"/></serial_subsystem>"#), "client 'a' of serial_subsystem 'serial' asks for input (rx=\"true\") but the subsystem has rx=\"false\"", 4, 45),
        case("virt_rx without rx path", comp(r#"<serial_subsystem rx="false" virt_rx="v"/>"#), "serial_subsystem 'serial' has rx=\"false\" but names a virt_rx", 4, 30),
        case("ioport with a declared driver", comp(r#"<serial_subsystem driver="b" ioport="0x2f8"/>"#), "attribute 'ioport' of serial_subsystem 'serial' applies only when the tool generates the driver, but protection_domain 'b' is declared", 4, 30),
        case("ioport out of range", comp(r#"<serial_subsystem ioport="0x10000"/>"#), "ioport \"0x10000\" of serial_subsystem 'serial' is out of range; allowed: 0x0..=0xfff8", 4, 19),
        case("baud out of range", comp(r#"<serial_subsystem baud="10"/>"#), "baud \"10\" of serial_subsystem 'serial' is out of range", 4, 19),
        case("irq_vector out of range", comp(r#"<serial_subsystem irq_vector="108"/>"#), "irq_vector \"108\" of serial_subsystem 'serial' is out of range; allowed: 0..=107", 4, 19),
        case("irq_pin out of range", comp(r#"<timer_subsystem irq_pin="24"/>"#), "irq_pin \"24\" of timer_subsystem 'timer' is out of range; allowed: 0..=23", 4, 18),
        case("device_paddr unaligned", comp(r#"<timer_subsystem device_paddr="0xfed00010"/>"#), "device_paddr 0xfed00010 of timer_subsystem 'timer' is not aligned to the page size", 4, 18),
        case("timer client attribute", comp(r#"<timer_subsystem><client pd="a" rx="true"/></timer_subsystem>"#), "unknown attribute 'rx' on client; allowed: pd", 4, 33),
        case("capacity not a power of two", comp(r#"<net_subsystem capacity="300"/>"#), "capacity 300 of net_subsystem 'net' is not a power of two", 4, 16),
        case("capacity zero", comp(r#"<net_subsystem capacity="0"/>"#), "capacity \"0\" of net_subsystem 'net' is out of range; allowed: 1..=32768", 4, 16),
        case("bad mac", comp(r#"<net_subsystem mac="52:54"/>"#), "mac \"52:54\" of net_subsystem 'net' is not a MAC address", 4, 16),
        case("bad client mac", comp(r#"<net_subsystem><client pd="a" mac="zz:00:00:00:00:01"/></net_subsystem>"#), "mac \"zz:00:00:00:00:01\" of client 'a' is not a MAC address", 4, 31),
        case("device_size unaligned", comp(r#"<net_subsystem device_paddr="0xfebc0000" device_size="0x1800"/>"#), "device_size 0x1800 of net_subsystem 'net' is not a multiple of the page size", 4, 42),
        case("net unknown attribute", comp(r#"<net_subsystem copiers="2"/>"#), "unknown attribute 'copiers' on net_subsystem", 4, 16),
        // Rules checked on what the expansion generated, reported at the
        // composed element.
        case("generated ioport overlaps a grant", "<system>\n<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/><ioport id=\"0\" addr=\"0x3f8\" size=\"8\"/></protection_domain>\n<serial_subsystem/>\n</system>", "ioport 0 of protection_domain 'serial_driver' (ports 0x3f8..0x400) overlaps the grant of 'a'", 3, 1),
        case("generated vector already used", "<system>\n<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/><irq id=\"0\" pin=\"5\" vector=\"4\"/></protection_domain>\n<serial_subsystem irq_vector=\"4\"/>\n</system>", "vector 4 of irq 0 in protection_domain 'serial_driver' is already used by an irq of 'a'", 3, 1),
        case("generated pin already granted", "<system>\n<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/><irq id=\"0\" pin=\"20\" vector=\"9\"/></protection_domain>\n<timer_subsystem/>\n</system>", "IOAPIC 0 pin 20 of irq 0 in protection_domain 'timer_driver' is already granted to 'a'", 3, 1),
        case("timer client outranks its driver", comp(r#"<timer_subsystem driver="a"><client pd="b"/></timer_subsystem>"#), "'b' (priority 20) may not PPC 'a' (priority 10): the pp end must have strictly lower priority", 4, 29),
        case("generated region name collides", comp("<memory_region name=\"serial_tx_a_queue\" size=\"0x1000\"/>\n<serial_subsystem><client pd=\"a\"/></serial_subsystem>"), "duplicate memory_region name 'serial_tx_a_queue' (first defined at 4:1)", 5, 19),
        case("one pd in two roles", comp(r#"<serial_subsystem driver="x" virt_tx="x"/>"#), "protection_domain 'x' is already the driver of serial_subsystem 'serial'", 4, 30),
        case("generated pd name too long", comp(&format!("<serial_subsystem virt_tx=\"{}\"/>", "v".repeat(65))), "serial_subsystem 'serial': the virt_tx protection_domain name 'vvv", 4, 19),
        case("copier name too long", comp(&format!("<protection_domain name=\"{n}\" priority=\"1\"><program_image path=\"c.elf\"/></protection_domain>\n<net_subsystem name=\"network\"><client pd=\"{n}\"/></net_subsystem>", n = "c".repeat(60))), "the copier's name 'network_copy_ccc", 5, 31),
    ];
    // `<config>` (what `mantle expand` writes for each PD): its data is
    // checked like the component will check it, with the reason and the fix.
    let tc = section(&mantle_config::timer::TimerClientConfig::default());
    let td = section(&mantle_config::timer::TimerDriverConfig::default());
    let bad_ch = section(&mantle_config::timer::TimerClientConfig {
        channel: mantle_config::Ch(62),
    });
    let flipped = format!("{}01", &tc[..tc.len() - 2]);
    let old_version = format!("{}09{}", &tc[..8], &tc[10..]);
    let nonzero = format!("{}01{}", &td[..0x11 * 2], &td[0x11 * 2 + 2..]);
    v.extend([
        case("config kind unknown", cfg(&format!(r#"<config kind="timer_clinet" data="{tc}"/>"#)), "kind \"timer_clinet\" of config in protection_domain 'c' is not valid; allowed: serial_driver, serial_virt_tx", 4, 79),
        case("config without kind", cfg(&format!(r#"<config data="{tc}"/>"#)), "config in protection_domain 'c' is missing required attribute 'kind'; allowed: serial_driver", 4, 71),
        case("config without data", cfg(r#"<config kind="timer_client"/>"#), "timer_client config in protection_domain 'c' is missing required attribute 'data'", 4, 71),
        case("config data not hex", cfg(r#"<config kind="timer_client" data="4d43zz"/>"#), "data of timer_client config in protection_domain 'c' is not hex: 'z' at character 4; expected two hex digits per byte", 4, 99),
        case("config data odd length", cfg(r#"<config kind="timer_client" data="4d434"/>"#), "has an odd number of hex digits (5); expected two per byte", 4, 99),
        case("config data too short", cfg(r#"<config kind="timer_client" data="4d434647"/>"#), "is 4 bytes; a configuration section starts with a 16-byte header and a timer_client section is 17 bytes", 4, 99),
        case("config data bad magic", cfg(&format!(r#"<config kind="timer_client" data="00{}"/>"#, &tc[2..])), "does not start with the magic \"MCFG\"", 4, 99),
        case("config data other version", cfg(&format!(r#"<config kind="timer_client" data="{old_version}"/>"#)), "is a version 9 configuration; this tool and the components read version 1 (regenerate it with `mantle expand`", 4, 99),
        case("config kind disagrees", cfg(&format!(r#"<config kind="serial_client" data="{tc}"/>"#)), "holds a timer client configuration (kind=\"timer_client\"), but the element says kind=\"serial_client\"; make them agree", 4, 100),
        case("config data wrong length", cfg(&format!(r#"<config kind="timer_client" data="{}"/>"#, &tc[..tc.len() - 2])), "is 16 bytes with a payload length of 1 in its header; a timer_client section is 17 bytes (16-byte header, 1-byte payload)", 4, 99),
        case("config data edited", cfg(&format!(r#"<config kind="timer_client" data="{flipped}"/>"#)), "does not match its checksum: the payload was changed after it was written", 4, 99),
        case("config field invalid", cfg(&format!(r#"<config kind="timer_client" data="{bad_ch}"/>"#)), "does not decode as a timer client configuration: invalid channel id above 61", 4, 99),
        case("config paddr unknown region", cfg(&format!("<config kind=\"timer_driver\" data=\"{td}\">\n<paddr offset=\"0x11\" mr=\"hpte\"/>\n</config>")), "paddr in the timer_driver configuration of protection_domain 'c' names unknown memory_region 'hpte' (did you mean 'hpet'?)", 5, 22),
        case("config paddr outside payload", cfg(&format!("<config kind=\"timer_client\" data=\"{tc}\">\n<paddr offset=\"0x10\" mr=\"hpet\"/>\n</config>")), "offset 0x10 of paddr in timer_client config in protection_domain 'c' is outside the payload; allowed: 0x10..=0x9", 5, 8),
        case("config paddr not zero", cfg(&format!("<config kind=\"timer_driver\" data=\"{nonzero}\">\n<paddr offset=\"0x11\" mr=\"hpet\"/>\n</config>")), "holds a non-zero value in data; a physical address the build writes must be 0 in data", 5, 8),
        case("config paddr without mr", cfg(&format!("<config kind=\"timer_driver\" data=\"{td}\">\n<paddr offset=\"0x11\"/>\n</config>")), "paddr in timer_driver config in protection_domain 'c' is missing required attribute 'mr'", 5, 1),
        case("config twice", cfg(&format!("<config kind=\"timer_client\" data=\"{tc}\"/>\n<config kind=\"timer_client\" data=\"{tc}\"/>")), "protection_domain 'c' has a second timer_client configuration (the first is at 4:71); a PD has one configuration of each kind", 5, 9),
        case("config and composed client", format!("{}\n<timer_subsystem><client pd=\"c\"/></timer_subsystem>", cfg(&format!("<config kind=\"timer_client\" data=\"{tc}\"/>")).replace("\n</system>\n", ""))+"\n</system>\n", "protection_domain 'c' gets its timer_client configuration from a composed subsystem and also from this <config>; keep one", 4, 79),
    ]);
    // 17 serial clients: one too many.
    let mut many = String::from("<system>\n");
    let mut clients = String::new();
    for i in 0..17 {
        many.push_str(&format!(
            "<protection_domain name=\"c{i}\" priority=\"1\"><program_image path=\"c.elf\"/></protection_domain>\n"
        ));
        clients.push_str(&format!("<client pd=\"c{i}\"/>\n"));
    }
    many.push_str(&format!(
        "<serial_subsystem>\n{clients}</serial_subsystem>\n</system>\n"
    ));
    v.push(case(
        "too many serial clients",
        many,
        "serial_subsystem 'serial' has 17 clients; allowed: at most 16",
        36,
        1,
    ));
    // A PD whose ids are all used cannot join a subsystem.
    let mut full = String::from(
        "<system>\n<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/>\n",
    );
    for i in 0..62 {
        full.push_str(&format!(
            "<irq id=\"{i}\" pin=\"{}\" vector=\"{i}\" />\n",
            i % 24
        ));
    }
    full.push_str(
        "</protection_domain>\n<timer_subsystem><client pd=\"a\"/></timer_subsystem>\n</system>\n",
    );
    v.push(case(
        "no free channel id",
        full,
        "timer_subsystem 'timer': protection_domain 'a' has no free channel id left",
        66,
        18,
    ));
    v
}

#[test]
fn invalid_composed_sdfs_are_rejected_with_the_right_message_and_position() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    check_rejected(&cases, |c, d| {
        ((d.pos.line, d.pos.col) != (c.line, c.col)).then(|| {
            format!(
                "{}: expected {}:{}, got {}:{} for {d}",
                c.name, c.line, c.col, d.pos.line, d.pos.col
            )
        })
    });
}

/// Warnings: (SDF, message substring, line, col).
fn warning_cases() -> Vec<(&'static str, String, &'static str, u32, u32)> {
    let two = |maps_a: &str, maps_b: &str, rest: &str| {
        format!(
            "<system>\n<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/>{maps_a}</protection_domain>\n<protection_domain name=\"b\" priority=\"20\"><program_image path=\"b.elf\"/>{maps_b}</protection_domain>\n{rest}\n</system>\n"
        )
    };
    let mr = "<memory_region name=\"m\" size=\"0x1000\"/>";
    let dev = "<memory_region name=\"d\" size=\"0x1000\" phys_addr=\"0xfeb00000\"/>";
    let ch = "<channel><end pd=\"a\" id=\"0\"/><end pd=\"b\" id=\"0\"/></channel>";
    let passive = PASSIVE_P;
    vec![
        ("shared memory without a channel", two("<map mr=\"m\" vaddr=\"0x1000000\"/>", "<map mr=\"m\" vaddr=\"0x1000000\" perms=\"r\"/>", mr), "memory_region 'm' is shared by 'a', 'b', but none of them has a channel to another", 4, 1),
        ("device region in two PDs", two("<map mr=\"d\" vaddr=\"0x1000000\" cached=\"false\"/>", "<map mr=\"d\" vaddr=\"0x1000000\" cached=\"false\"/>", &format!("{dev}\n{ch}")), "device memory_region 'd' (phys_addr 0xfeb00000) is mapped into 2 PDs ('a', 'b')", 4, 1),
        ("DMA region in a client", two("<map mr=\"m\" vaddr=\"0x1000000\"/><setvar symbol=\"m_paddr\" region_paddr=\"m\"/>", "<map mr=\"m\" vaddr=\"0x1000000\"/>", &format!("{mr}\n{ch}")), "DMA memory_region 'm' (its physical address goes to 'a' via setvar region_paddr) is mapped into 'b'", 3, 72),
        ("serial client with a small stack", comp("<protection_domain name=\"c\" priority=\"5\" stack_size=\"0x2000\"><program_image path=\"c.elf\"/></protection_domain>\n<serial_subsystem><client pd=\"c\"/></serial_subsystem>"), "protection_domain 'c' has stack_size 0x2000, but as a client of serial_subsystem 'serial' it needs 0x10000: its serial-client library builds a 4 KiB output buffer on the stack in init and formats and reads lines on top of it; set stack_size=\"0x10000\"", 4, 42),
        ("passive pd nobody calls", comp(&format!("{}\n{}", passive, "<channel><end pd=\"a\" id=\"0\"/><end pd=\"p\" id=\"0\"/></channel>")), "protection_domain 'p' is passive, but no channel lets another PD call it (no end opposite it has pp=\"true\"): it can be notified, but its protected handler never runs; add pp=\"true\" on the caller's end of a channel to 'p', or drop passive=\"true\"", 4, 43),
        ("passive pd that only calls", comp(&format!("{}\n{}", passive, "<channel><end pd=\"b\" id=\"0\"/><end pd=\"p\" id=\"0\" pp=\"true\"/></channel>")), "protection_domain 'p' is passive, but no channel lets another PD call it", 4, 43),
        ("writable and executable map", two("<map mr=\"m\" vaddr=\"0x1000000\" perms=\"rwx\"/>", "", mr), "map of 'm' in protection_domain 'a' is writable and executable (perms \"rwx\")", 2, 102),
        ("device region in the device window above 4 GiB", two("<map mr=\"d\" vaddr=\"0x1000000\" cached=\"false\"/>", "<map mr=\"d\" vaddr=\"0x1000000\" cached=\"false\"/>", &format!("<memory_region name=\"d\" size=\"0x1000\" phys_addr=\"0x800000000\"/>\n{ch}")), "device memory_region 'd' (phys_addr 0x800000000) is mapped into 2 PDs", 4, 1),
        ("fixed RAM region shared without a channel", two("<map mr=\"r\" vaddr=\"0x1000000\"/>", "<map mr=\"r\" vaddr=\"0x1000000\"/>", "<memory_region name=\"r\" size=\"0x1000\" phys_addr=\"0x1f000000\"/>"), "memory_region 'r' is shared by 'a', 'b', but none of them has a channel to another", 4, 1),
        ("fixed region past RAM (sdfgen's blk data)", two("<map mr=\"x\" vaddr=\"0x1000000\"/>", "<map mr=\"x\" vaddr=\"0x1000000\"/>", &format!("<memory_region name=\"x\" size=\"0x200000\" phys_addr=\"0x6fdf6000\"/>\n{ch}")), "memory_region 'x' at phys_addr 0x6fdf6000..0x6fff6000 is neither RAM (0..0x20000000: QEMU q35 with 512 MiB) nor in the device window (0xb0000000 and up): nothing answers there", 4, 41),
        ("fixed region straddling the end of RAM", two("<map mr=\"x\" vaddr=\"0x1000000\"/>", "", "<memory_region name=\"x\" size=\"0x2000\" phys_addr=\"0x1ffff000\"/>"), "memory_region 'x' at phys_addr 0x1ffff000..0x20001000 is neither RAM", 4, 39),
        ("PCI configuration ports", two("<ioport id=\"1\" addr=\"0xcf8\" size=\"4\"/><ioport id=\"2\" addr=\"0xcfc\" size=\"4\"/>", "", ""), "ioport 1 of protection_domain 'a' (0xcf8..0xcfc) includes the PCI configuration ports 0xcf8..0xcff: through them 'a' reaches every PCI device's configuration space", 2, 72),
        ("PCI configuration data port alone", two("", "<ioport id=\"0\" addr=\"3324\" size=\"4\"/>", ""), "ioport 0 of protection_domain 'b' (0xcfc..0xd00) includes the PCI configuration ports", 3, 72),
        ("a range covering the PCI configuration ports", two("<ioport id=\"0\" addr=\"0xc00\" size=\"0x200\"/>", "", ""), "ioport 0 of protection_domain 'a' (0xc00..0xe00) includes the PCI configuration ports", 2, 72),
    ]
}

/// A passive PD `p` (priority 15, between `a` and `b`) on one line.
const PASSIVE_P: &str = r#"<protection_domain name="p" priority="15" passive="true"><program_image path="p.elf"/></protection_domain>"#;

/// Systems that must not warn: (name, SDF, message substring that must not
/// appear).
fn no_warning_cases() -> Vec<(&'static str, String, &'static str)> {
    let two_pds = |maps_a: &str, maps_b: &str, rest: &str| {
        format!(
            "<system>\n<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/>{maps_a}</protection_domain>\n<protection_domain name=\"b\" priority=\"20\"><program_image path=\"b.elf\"/>{maps_b}</protection_domain>\n{rest}\n</system>\n"
        )
    };
    let serial_client = |attrs: &str| {
        comp(&format!("<protection_domain name=\"c\" priority=\"5\"{attrs}><program_image path=\"c.elf\"/></protection_domain>\n<serial_subsystem><client pd=\"c\"/></serial_subsystem>"))
    };
    vec![
        ("serial client with the default stack", serial_client(""), "stack_size"),
        ("serial client with a large stack", serial_client(" stack_size=\"0x20000\""), "stack_size"),
        ("timer client with the default stack", comp("<timer_subsystem><client pd=\"a\"/></timer_subsystem>"), "stack_size"),
        ("passive pd that is called", comp(&format!("{PASSIVE_P}\n<channel><end pd=\"a\" id=\"0\" pp=\"true\"/><end pd=\"p\" id=\"0\"/></channel>")), "passive"),
        ("generated passive timer driver", comp("<timer_subsystem><client pd=\"a\"/></timer_subsystem>"), "passive"),
        ("fixed RAM region (DMA memory) in two PDs", two_pds("<map mr=\"r\" vaddr=\"0x1000000\"/>", "<map mr=\"r\" vaddr=\"0x1000000\"/>", "<memory_region name=\"r\" size=\"0x200000\" phys_addr=\"0x1fe00000\"/>\n<channel><end pd=\"a\" id=\"0\"/><end pd=\"b\" id=\"0\"/></channel>"), "device memory_region"),
        ("fixed RAM region in RAM is not a hole", two_pds("<map mr=\"r\" vaddr=\"0x1000000\"/>", "", "<memory_region name=\"r\" size=\"0x1000\" phys_addr=\"0x1ffff000\"/>"), "neither RAM"),
        ("a device region is not a hole", two_pds("<map mr=\"d\" vaddr=\"0x1000000\" cached=\"false\"/>", "", "<memory_region name=\"d\" size=\"0x4000\" phys_addr=\"0xfe000000\"/>"), "neither RAM"),
        ("ports next to the PCI configuration ports", two_pds("<ioport id=\"0\" addr=\"0xcf0\" size=\"8\"/><ioport id=\"1\" addr=\"0xd00\" size=\"8\"/>", "", ""), "PCI configuration"),
        ("COM1 and the debug exit port", two_pds("<ioport id=\"0\" addr=\"0x3f8\" size=\"8\"/><ioport id=\"1\" addr=\"0xf4\" size=\"1\"/>", "", ""), "PCI configuration"),
    ]
}

#[test]
fn warnings_that_do_not_apply_stay_silent() {
    for (name, sdf, not) in no_warning_cases() {
        let w = mantle::check_bytes("t.system", sdf.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        assert!(!w.iter().any(|d| d.message.contains(not)), "{name}: {w:?}");
    }
}

/// A serial client that leaves out `stack_size` gets the stack its client
/// library needs; a timer client keeps the default.
#[test]
fn clients_get_the_stack_their_library_needs() {
    let sdf = comp("<protection_domain name=\"c\" priority=\"5\"><program_image path=\"c.elf\"/></protection_domain>\n<serial_subsystem><client pd=\"c\"/></serial_subsystem>\n<timer_subsystem><client pd=\"a\"/></timer_subsystem>");
    let (sys, _) = mantle::sdf::load("t.system", &sdf, &[]).unwrap();
    let stack = |n: &str| sys.pds[sys.pd_index(n).unwrap()].stack_size;
    assert_eq!(stack("c"), 0x10000);
    assert_eq!(stack("a"), mantle_abi::limits::DEFAULT_STACK_SIZE);
}

#[test]
fn least_privilege_warnings_have_positions() {
    for (name, sdf, want, line, col) in warning_cases() {
        let w = mantle::check_bytes("t.system", sdf.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        let hit = w
            .iter()
            .find(|d| d.message.contains(want))
            .unwrap_or_else(|| panic!("{name}: no warning contains {want:?}: {w:?}"));
        assert_eq!((hit.pos.line, hit.pos.col), (line, col), "{name}: {hit}");
        assert!(hit.to_string().contains(": warning: "), "{hit}");
    }
}

#[test]
fn a_sharer_without_a_channel_is_named() {
    let sdf = "<system>\n<memory_region name=\"m\" size=\"0x1000\"/>\n<protection_domain name=\"a\"><program_image path=\"a.elf\"/><map mr=\"m\" vaddr=\"0x1000000\"/></protection_domain>\n<protection_domain name=\"b\"><program_image path=\"b.elf\"/><map mr=\"m\" vaddr=\"0x1000000\"/></protection_domain>\n<protection_domain name=\"c\"><program_image path=\"c.elf\"/><map mr=\"m\" vaddr=\"0x1000000\" perms=\"r\"/></protection_domain>\n<channel><end pd=\"a\" id=\"0\"/><end pd=\"b\" id=\"0\"/></channel>\n</system>";
    let w = mantle::check_bytes("t.system", sdf.as_bytes()).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].message.contains("memory_region 'm' is shared by 'c' with 'a', 'b', but 'c' has no channel to any of them"),
        "{}",
        w[0]
    );
    assert_eq!((w[0].pos.line, w[0].pos.col), (5, 58));
}

#[test]
fn a_channel_silences_the_shared_memory_warning() {
    let sdf = "<system>\n<memory_region name=\"m\" size=\"0x1000\"/>\n<protection_domain name=\"a\"><program_image path=\"a.elf\"/><map mr=\"m\" vaddr=\"0x1000000\"/></protection_domain>\n<protection_domain name=\"b\"><program_image path=\"b.elf\"/><map mr=\"m\" vaddr=\"0x1000000\"/></protection_domain>\n<channel><end pd=\"a\" id=\"0\"/><end pd=\"b\" id=\"0\"/></channel>\n</system>";
    let w = mantle::check_bytes("t.system", sdf.as_bytes()).unwrap();
    assert!(w.is_empty(), "{w:?}");
}
