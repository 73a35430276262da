//! Table of invalid system descriptions: each row is one SDF, the message
//! substring it must produce, and the line (and column, when not 0) of that
//! message. `mantle check` needs no program images, so none exist here.

#![allow(clippy::useless_format)] // uniform `format!` rows in the table

mod common;
use common::{case, check_rejected, Case, PD_A, PD_B};

/// `<system>` on line 1, then `body` (line 2 on), then `</system>`.
fn sys(body: &str) -> String {
    format!("<system>\n{body}\n</system>\n")
}

/// PD `a` (priority 10) with `inner` on line 3; the PD's tag is on line 2.
fn pd_with(inner: &str) -> String {
    sys(&format!(
        "<protection_domain name=\"a\" priority=\"10\">\n{inner}\n<program_image path=\"a.elf\"/></protection_domain>"
    ))
}

/// PD `a` (line 2), PD `b` (line 3), then `rest` from line 4.
fn two_pds(rest: &str) -> String {
    sys(&format!("{PD_A}\n{PD_B}\n{rest}"))
}

fn pd_attr(attrs: &str) -> String {
    sys(&format!(
        "<protection_domain name=\"a\" {attrs}><program_image path=\"a.elf\"/></protection_domain>"
    ))
}

fn cases() -> Vec<Case> {
    let mr = r#"<memory_region name="m" size="0x1000"/>"#;
    let mut v = vec![
        // --- XML and structure ---
        case("malformed xml", "<system>\n<protection_domain name=\"a\">\n</system>", "malformed XML", 3, 1),
        case("empty file", "", "malformed XML", 1, 1),
        case("only whitespace", "  \n  ", "malformed XML", 0, 0),
        case("root is not system", "<systems>\n</systems>", "root element is 'systems'; expected 'system'", 1, 1),
        case("no pd", "<system>\n</system>", "system has no protection_domain", 1, 1),
        case("unknown element in system", sys("<protection_domian name=\"a\"/>"), "unknown element 'protection_domian' inside system (did you mean 'protection_domain'?); allowed: protection_domain, memory_region, channel", 2, 1),
        case("text in system", sys(&format!("{PD_A}\n  hello")), "unexpected text \"hello\" inside system", 3, 3),
        case("text in pd", pd_with("junk"), "unexpected text \"junk\" inside protection_domain", 3, 1),
        case("text in channel", two_pds("<channel>x<end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/></channel>"), "unexpected text \"x\" inside channel", 4, 10),
        case("doctype", "<!DOCTYPE system>\n<system/>", "malformed XML", 1, 1),
        case("duplicate attribute", sys("<protection_domain name=\"a\" name=\"b\"/>"), "malformed XML", 2, 0),
        case("io_address_space unsupported", sys(&format!("{PD_A}\n<io_address_space/>")), "element 'io_address_space' inside system is not supported: IOMMU", 3, 1),
        case("domains unsupported", sys(&format!("{PD_A}\n<domains/>")), "element 'domains' inside system is not supported: domain scheduling", 3, 1),
        case("virtual_machine in pd", pd_with("<virtual_machine name=\"vm\"/>"), "element 'virtual_machine' inside protection_domain is not supported: virtual machines", 3, 1),
        case("cspace unsupported", pd_with("<cspace/>"), "element 'cspace' inside protection_domain is not supported: capability mappings", 3, 1),
        case("attribute on channel", two_pds("<channel name=\"c\"><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/></channel>"), "unknown attribute 'name' on channel; channel takes no attributes", 4, 10),
        case("attribute on system", "<system version=\"2\">\n</system>", "unknown attribute 'version' on system; system takes no attributes", 1, 9),
        case("unknown element in pd", pd_with("<mapp mr=\"m\"/>"), "unknown element 'mapp' inside protection_domain (did you mean 'map'?); allowed: program_image, map, irq, ioport, setvar, config, protection_domain", 3, 1),
        case("child element in map", sys(&format!("{mr}\n<protection_domain name=\"a\"><program_image path=\"a.elf\"/><map mr=\"m\" vaddr=\"0x1000000\"><x/></map></protection_domain>")), "unknown element 'x' inside map; map has no child elements", 3, 88),
        // --- protection_domain attributes ---
        case("unknown pd attribute", pd_attr("prio=\"1\""), "unknown attribute 'prio' on protection_domain (did you mean 'priority'?); allowed: name, priority", 2, 29),
        case("pd missing name", sys("<protection_domain priority=\"1\"><program_image path=\"a.elf\"/></protection_domain>"), "protection_domain is missing required attribute 'name'", 2, 1),
        case("pd empty name", sys("<protection_domain name=\"\"><program_image path=\"a.elf\"/></protection_domain>"), "protection_domain name is empty", 2, 20),
        case("pd name too long", sys(&format!("<protection_domain name=\"{}\"><program_image path=\"a.elf\"/></protection_domain>", "n".repeat(65))), "is 65 bytes long; allowed: at most 64", 2, 20),
        case("priority out of range", pd_attr("priority=\"300\""), "priority \"300\" of protection_domain 'a' is out of range; allowed: 0..=254", 2, 29),
        case("priority not a number", pd_attr("priority=\"high\""), "priority \"high\" of protection_domain 'a' is not a number", 2, 29),
        case("priority negative", pd_attr("priority=\"-1\""), "priority \"-1\" of protection_domain 'a' is not a number", 2, 29),
        case("priority bare 0x", pd_attr("priority=\"0x\""), "priority \"0x\" of protection_domain 'a' is not a number", 2, 29),
        case("priority with space", pd_attr("priority=\" 1\""), "priority \" 1\" of protection_domain 'a' is not a number", 2, 29),
        case("priority huge", pd_attr("priority=\"99999999999999999999999\""), "is too large (more than 64 bits); allowed: 0..=254", 2, 29),
        case("budget above period", pd_attr("budget=\"2000\" period=\"1000\""), "budget 2000 of protection_domain 'a' is greater than its period 1000", 2, 29),
        case("budget above default period", pd_attr("period=\"500\""), "budget 1000 of protection_domain 'a' is greater than its period 500", 2, 29),
        case("budget zero", pd_attr("budget=\"0\""), "budget \"0\" of protection_domain 'a' is out of range; allowed: 1..=3600000000", 2, 29),
        case("period too large", pd_attr("period=\"3600000001\""), "period \"3600000001\" of protection_domain 'a' is out of range; allowed: 1..=3600000000", 2, 29),
        case("passive not boolean", pd_attr("passive=\"yes\""), "passive \"yes\" of protection_domain 'a' is not a boolean; allowed: true, false", 2, 29),
        case("passive capitalised", pd_attr("passive=\"True\""), "passive \"True\" of protection_domain 'a' is not a boolean", 2, 29),
        case("stack too small", pd_attr("stack_size=\"0x800\""), "stack_size \"0x800\" of protection_domain 'a' is out of range; allowed: 0x1000..=0x1000000", 2, 29),
        case("stack too large", pd_attr("stack_size=\"0x2000000\""), "stack_size \"0x2000000\" of protection_domain 'a' is out of range", 2, 29),
        case("stack unaligned", pd_attr("stack_size=\"0x1800\""), "stack_size 0x1800 of protection_domain 'a' is not a multiple of the page size 0x1000", 2, 29),
        case("cpu not zero", pd_attr("cpu=\"1\""), "cpu \"1\" of protection_domain 'a' is not supported yet: Mantle runs on one CPU; allowed: 0", 2, 29),
        case("cpu huge", pd_attr("cpu=\"0x1_0000_0000_0000_0000\""), "cpu \"0x1_0000_0000_0000_0000\" of protection_domain 'a' is not supported yet", 2, 29),
        case("cpu not a number", pd_attr("cpu=\"first\""), "cpu \"first\" of protection_domain 'a' is not a number", 2, 29),
        case("fpu false", pd_attr("fpu=\"false\""), "fpu \"false\" of protection_domain 'a' is not supported yet", 2, 29),
        case("smc", pd_attr("smc=\"true\""), "attribute 'smc' on protection_domain is not supported: SMC calls exist only on ARM", 2, 29),
        case("domain attribute", pd_attr("domain=\"d\""), "attribute 'domain' on protection_domain is not supported: domain scheduling", 2, 29),
        case("id on top-level pd", pd_attr("id=\"1\""), "'id' is only allowed on a child protection_domain", 2, 29),
        case("setvar_id on top-level pd", pd_attr("setvar_id=\"x\""), "'setvar_id' is only allowed on a child protection_domain", 2, 29),
        case("reserved name monitor", sys("<protection_domain name=\"monitor\"><program_image path=\"a.elf\"/></protection_domain>"), "protection_domain name 'monitor' is reserved", 2, 20),
        case("duplicate pd name", sys(&format!("{PD_A}\n{}", PD_A)), "duplicate protection_domain name 'a' (first defined at 2:1)", 3, 20),
        // --- program_image ---
        case("no program_image", sys("<protection_domain name=\"a\">\n</protection_domain>"), "protection_domain 'a' has no program_image; allowed: exactly one", 2, 1),
        case("two program_images", pd_with("<program_image path=\"b.elf\"/>"), "protection_domain 'a' has more than one program_image", 4, 1),
        case("program_image without path", sys("<protection_domain name=\"a\">\n<program_image/></protection_domain>"), "program_image of protection_domain 'a' is missing required attribute 'path'", 3, 1),
        case("program_image unknown attribute", sys("<protection_domain name=\"a\">\n<program_image path=\"a.elf\" prefix=\"x\"/></protection_domain>"), "unknown attribute 'prefix' on program_image; allowed: path, path_for_symbols", 3, 29),
        // --- child PDs ---
        case("child without id", sys("<protection_domain name=\"p\" priority=\"5\"><program_image path=\"p.elf\"/>\n<protection_domain name=\"c\"><program_image path=\"c.elf\"/></protection_domain>\n</protection_domain>"), "protection_domain 'c' is missing required attribute 'id'", 3, 1),
        case("child id out of range", sys("<protection_domain name=\"p\"><program_image path=\"p.elf\"/>\n<protection_domain name=\"c\" id=\"64\"><program_image path=\"c.elf\"/></protection_domain>\n</protection_domain>"), "id \"64\" of protection_domain 'c' is out of range; allowed: 0..=63", 3, 29),
        case("child id duplicate", sys("<protection_domain name=\"p\"><program_image path=\"p.elf\"/>\n<protection_domain name=\"c\" id=\"1\"><program_image path=\"c.elf\"/></protection_domain>\n<protection_domain name=\"d\" id=\"1\"><program_image path=\"d.elf\"/></protection_domain>\n</protection_domain>"), "child id 1 of protection_domain 'd' is already used by 'c' (at 3:1) in parent 'p'", 4, 29),
        case("child setvar_id duplicate in parent", sys("<protection_domain name=\"p\"><program_image path=\"p.elf\"/>\n<protection_domain name=\"c\" id=\"1\" setvar_id=\"x\"><program_image path=\"c.elf\"/></protection_domain>\n<protection_domain name=\"d\" id=\"2\" setvar_id=\"x\"><program_image path=\"d.elf\"/></protection_domain>\n</protection_domain>"), "setvar symbol 'x' of protection_domain 'p' is already set (at 3:36)", 4, 36),
        // --- memory regions ---
        case("mr missing size", sys(&format!("<memory_region name=\"m\"/>\n{PD_A}")), "memory_region 'm' is missing required attribute 'size' (it may be left out only with prefill_path)", 2, 1),
        case("mr missing name", sys(&format!("<memory_region size=\"0x1000\"/>\n{PD_A}")), "memory_region is missing required attribute 'name'", 2, 1),
        case("mr size zero", sys(&format!("<memory_region name=\"m\" size=\"0\"/>\n{PD_A}")), "size 0 of memory_region 'm' is empty", 2, 25),
        case("mr size not page multiple", sys(&format!("<memory_region name=\"m\" size=\"0x1800\"/>\n{PD_A}")), "size 0x1800 of memory_region 'm' is not a multiple of its page size 0x1000", 2, 25),
        case("mr size not large page multiple", sys(&format!("<memory_region name=\"m\" size=\"0x1000\" page_size=\"0x200000\"/>\n{PD_A}")), "size 0x1000 of memory_region 'm' is not a multiple of its page size 0x200000", 2, 25),
        case("mr bad page size", sys(&format!("<memory_region name=\"m\" size=\"0x3000\" page_size=\"0x3000\"/>\n{PD_A}")), "page_size \"0x3000\" of memory_region 'm' is not supported; allowed: 0x1000, 0x200000", 2, 39),
        case("mr phys_addr unaligned", sys(&format!("<memory_region name=\"m\" size=\"0x1000\" phys_addr=\"0xfeb00800\"/>\n{PD_A}")), "phys_addr 0xfeb00800 of memory_region 'm' is not aligned to its page size 0x1000", 2, 39),
        case("mr phys_addr overflow", sys(&format!("<memory_region name=\"m\" size=\"0x2000\" phys_addr=\"0xffff_ffff_ffff_f000\"/>\n{PD_A}")), "overflows the 64-bit address space", 2, 39),
        case("mr phys overlap", sys(&format!("<memory_region name=\"m\" size=\"0x2000\" phys_addr=\"0xfeb00000\"/>\n<memory_region name=\"n\" size=\"0x1000\" phys_addr=\"0xfeb01000\"/>\n{PD_A}")), "memory_region 'n' at 0xfeb01000..0xfeb02000 overlaps memory_region 'm' at 0xfeb00000..0xfeb02000 (at 2:1) physically", 3, 39),
        case("mr over kernel", sys(&format!("<memory_region name=\"m\" size=\"0x1000\" phys_addr=\"0x200000\"/>\n{PD_A}")), "overlaps the kernel and boot description", 2, 39),
        case("mr duplicate name", sys(&format!("{mr}\n{mr}\n{PD_A}")), "duplicate memory_region name 'm' (first defined at 2:1)", 3, 16),
        case("mr prefill file missing", sys(&format!("<memory_region name=\"m\" size=\"0x1000\" prefill_path=\"no-such-file.bin\"/>\n{PD_A}")), "prefill_path \"no-such-file.bin\" of memory_region 'm': not found; looked in: .", 2, 39),
        case("mr prefill empty path", sys(&format!("<memory_region name=\"m\" prefill_path=\"\"/>\n{PD_A}")), "prefill_path of memory_region 'm' is empty", 2, 25),
        case("mr prefill with phys_addr", sys(&format!("<memory_region name=\"m\" size=\"0x1000\" phys_addr=\"0xfeb00000\" prefill_path=\"x.bin\"/>\n{PD_A}")), "has both phys_addr and prefill_path", 2, 62),
        case("mr prefill_bootinfo", sys(&format!("<memory_region name=\"m\" size=\"0x1000\" prefill_bootinfo=\"x\"/>\n{PD_A}")), "attribute 'prefill_bootinfo' on memory_region is not supported", 2, 39),
        case("mr size huge", sys(&format!("<memory_region name=\"m\" size=\"0x1_0000_0000_0000_0000\"/>\n{PD_A}")), "size \"0x1_0000_0000_0000_0000\" of memory_region 'm' is too large", 2, 25),
        // --- maps ---
        case("map unknown mr", pd_with("<map mr=\"nope\" vaddr=\"0x1000000\"/>"), "map in protection_domain 'a' names unknown memory_region 'nope'; defined: none", 3, 6),
        case("map missing vaddr", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "map of 'm' in protection_domain 'a' is missing required attribute 'vaddr'", 4, 1),
        case("map missing mr", pd_with("<map vaddr=\"0x1000000\"/>"), "map in protection_domain 'a' is missing required attribute 'mr'", 3, 1),
        case("map write-only", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" perms=\"w\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "perms \"w\" of map of 'm' in protection_domain 'a' is write-only", 4, 31),
        case("map write-execute without read", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" perms=\"wx\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "is write-only; write-only maps are not allowed", 4, 31),
        case("map bad perm letter", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" perms=\"rq\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "perms \"rq\" of map of 'm' in protection_domain 'a' is not valid; allowed: a combination of 'r', 'w' and 'x'", 4, 31),
        case("map repeated perm letter", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" perms=\"rr\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "perms \"rr\" of map of 'm' in protection_domain 'a' is not valid", 4, 31),
        case("map empty perms", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" perms=\"\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "perms \"\" of map of 'm' in protection_domain 'a' is not valid", 4, 31),
        case("map cached not boolean", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" cached=\"no\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "cached \"no\" of map of 'm' in protection_domain 'a' is not a boolean", 4, 31),
        case("map vaddr unaligned", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000800\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "vaddr 0x1000800 of map of 'm' in protection_domain 'a' is not aligned to the region's page size 0x1000", 4, 13),
        case("map vaddr unaligned to large page", sys(&format!("<memory_region name=\"m\" size=\"0x200000\" page_size=\"0x200000\"/>\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1001000\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "is not aligned to the region's page size 0x200000", 4, 13),
        case("map into stack", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x7fff_ffff_c000\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "reaches into the stack, its guard page or the IPC buffer", 4, 13),
        case("map above user top", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0xffff_8000_0000_0000\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "above the user address-space limit 0x7ffffffff000", 4, 13),
        case("map overflows", sys(&format!("<memory_region name=\"m\" size=\"0x2000\"/>\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0xffff_ffff_ffff_f000\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "overflows the address space", 4, 13),
        case("map at null page", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "covers the null page", 4, 13),
        case("maps overlap", sys(&format!("<memory_region name=\"m\" size=\"0x2000\"/>\n<memory_region name=\"n\" size=\"0x1000\"/>\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\"/>\n<map mr=\"n\" vaddr=\"0x1001000\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "map of 'n' at 0x1001000..0x1002000 in protection_domain 'a' overlaps the map of 'm' at 0x1000000..0x1002000 (at 5:1)", 6, 13),
        case("maps overlap mixed page sizes", sys(&format!("<memory_region name=\"m\" size=\"0x200000\" page_size=\"0x200000\"/>\n<memory_region name=\"n\" size=\"0x1000\"/>\n<protection_domain name=\"a\">\n<map mr=\"n\" vaddr=\"0x1100000\"/>\n<map mr=\"m\" vaddr=\"0x1000000\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "map of 'm' at 0x1000000..0x1200000 in protection_domain 'a' overlaps the map of 'n'", 6, 13),
        case("map setvar_prefill_size without prefill", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" setvar_prefill_size=\"x\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "setvar_prefill_size of map of 'm' in protection_domain 'a': memory_region 'm' has no prefill_path", 4, 31),
        case("map empty setvar symbol", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" setvar_vaddr=\"\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "setvar_vaddr of map of 'm' in protection_domain 'a' is empty", 4, 31),
        // --- setvar ---
        case("setvar unknown mr", pd_with("<setvar symbol=\"x\" region_paddr=\"nope\"/>"), "setvar 'x' in protection_domain 'a' names unknown memory_region 'nope'", 3, 20),
        case("setvar missing symbol", pd_with("<setvar region_paddr=\"m\"/>"), "setvar in protection_domain 'a' is missing required attribute 'symbol'", 3, 1),
        case("setvar missing region", pd_with("<setvar symbol=\"x\"/>"), "setvar in protection_domain 'a' is missing required attribute 'region_paddr'", 3, 1),
        case("setvar duplicate symbol", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" setvar_vaddr=\"x\"/>\n<setvar symbol=\"x\" region_paddr=\"m\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "setvar symbol 'x' of protection_domain 'a' is already set (at 4:31)", 5, 9),
        case("setvar_size and setvar_vaddr same symbol", sys(&format!("{mr}\n<protection_domain name=\"a\">\n<map mr=\"m\" vaddr=\"0x1000000\" setvar_vaddr=\"x\" setvar_size=\"x\"/>\n<program_image path=\"a.elf\"/></protection_domain>")), "setvar symbol 'x' of protection_domain 'a' is already set", 4, 48),
        // --- channels ---
        case("channel one end", two_pds("<channel>\n<end pd=\"a\" id=\"1\"/>\n</channel>"), "channel has 1 end; allowed: exactly 2", 4, 1),
        case("channel three ends", two_pds("<channel>\n<end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/><end pd=\"b\" id=\"2\"/>\n</channel>"), "channel has 3 ends; allowed: exactly 2", 4, 1),
        case("channel no ends", two_pds("<channel/>"), "channel has 0 ends", 4, 1),
        case("channel unknown child", two_pds("<channel><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/><bend/></channel>"), "unknown element 'bend' inside channel (did you mean 'end'?); allowed: end", 4, 50),
        case("end pd typo", two_pds("<channel><end pd=\"a\" id=\"1\"/><end pd=\"bb\" id=\"1\"/></channel>"), "channel end names unknown protection_domain 'bb' (did you mean 'b'?)", 4, 35),
        case("map mr typo", sys("<memory_region name=\"shared\" size=\"0x1000\"/>\n<protection_domain name=\"a\"><program_image path=\"a.elf\"/><map mr=\"shraed\" vaddr=\"0x1000000\"/></protection_domain>"), "names unknown memory_region 'shraed' (did you mean 'shared'?); defined: shared", 3, 63),
        case("attribute typo", pd_attr("priorty=\"1\""), "unknown attribute 'priorty' on protection_domain (did you mean 'priority'?)", 2, 29),
        case("element typo", pd_with("<ioports id=\"0\" addr=\"0x3f8\" size=\"8\"/>"), "unknown element 'ioports' inside protection_domain (did you mean 'ioport'?)", 3, 1),
        case("end unknown pd", two_pds("<channel><end pd=\"a\" id=\"1\"/><end pd=\"c\" id=\"1\"/></channel>"), "channel end names unknown protection_domain 'c'", 4, 35),
        case("end missing pd", two_pds("<channel><end pd=\"a\" id=\"1\"/><end id=\"1\"/></channel>"), "channel end is missing required attribute 'pd'", 4, 30),
        case("end missing id", two_pds("<channel><end pd=\"a\" id=\"1\"/><end pd=\"b\"/></channel>"), "channel end of 'b' is missing required attribute 'id'", 4, 30),
        case("end id out of range", two_pds("<channel><end pd=\"a\" id=\"62\"/><end pd=\"b\" id=\"1\"/></channel>"), "id \"62\" of channel end of 'a' is out of range; allowed: 0..=61", 4, 22),
        case("end id not a number", two_pds("<channel><end pd=\"a\" id=\"one\"/><end pd=\"b\" id=\"1\"/></channel>"), "id \"one\" of channel end of 'a' is not a number", 4, 22),
        case("end unknown attribute", two_pds("<channel><end pd=\"a\" id=\"1\" ppc=\"true\"/><end pd=\"b\" id=\"1\"/></channel>"), "unknown attribute 'ppc' on end (did you mean 'pp'?); allowed: pd, id, pp, notify, setvar_id", 4, 29),
        case("end pp not boolean", two_pds("<channel><end pd=\"a\" id=\"1\" pp=\"maybe\"/><end pd=\"b\" id=\"1\"/></channel>"), "pp \"maybe\" of channel end of 'a' is not a boolean", 4, 29),
        case("end notify not boolean", two_pds("<channel><end pd=\"a\" id=\"1\" notify=\"1\"/><end pd=\"b\" id=\"1\"/></channel>"), "notify \"1\" of channel end of 'a' is not a boolean", 4, 29),
        case("pp both ways", two_pds("<channel><end pd=\"a\" id=\"1\" pp=\"true\"/>\n<end pd=\"b\" id=\"1\" pp=\"true\"/></channel>"), "pp is true on both ends of the channel between 'a' and 'b'", 5, 20),
        case("pp to lower priority", two_pds("<channel><end pd=\"a\" id=\"1\"/>\n<end pd=\"b\" id=\"1\" pp=\"true\"/></channel>"), "'b' (priority 20) may not PPC 'a' (priority 10): the pp end must have strictly lower priority", 5, 20),
        case("pp to equal priority", sys("<protection_domain name=\"a\" priority=\"7\"><program_image path=\"a.elf\"/></protection_domain>\n<protection_domain name=\"b\" priority=\"7\"><program_image path=\"b.elf\"/></protection_domain>\n<channel><end pd=\"a\" id=\"1\" pp=\"true\"/><end pd=\"b\" id=\"1\"/></channel>"), "'a' (priority 7) may not PPC 'b' (priority 7)", 4, 29),
        case("channel to itself", two_pds("<channel><end pd=\"a\" id=\"1\"/><end pd=\"a\" id=\"2\"/></channel>"), "both ends of the channel name protection_domain 'a'", 4, 1),
        case("duplicate channel id", two_pds("<channel><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/></channel>\n<channel><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"2\"/></channel>"), "id 1 of channel end of protection_domain 'a' is already used by channel end of protection_domain 'a' (at 4:10)", 5, 22),
        case("end setvar_id duplicate", two_pds("<channel><end pd=\"a\" id=\"1\" setvar_id=\"x\"/><end pd=\"b\" id=\"1\"/></channel>\n<channel><end pd=\"a\" id=\"2\" setvar_id=\"x\"/><end pd=\"b\" id=\"2\"/></channel>"), "setvar symbol 'x' of protection_domain 'a' is already set (at 4:29)", 5, 29),
        // --- irqs ---
        case("irq id used by channel", sys(&format!("<protection_domain name=\"a\" priority=\"10\"><program_image path=\"a.elf\"/>\n<irq id=\"1\" pin=\"4\" vector=\"4\"/></protection_domain>\n{PD_B}\n<channel><end pd=\"a\" id=\"1\"/><end pd=\"b\" id=\"1\"/></channel>")), "id 1 of channel end of protection_domain 'a' is already used by irq 1 of protection_domain 'a' (at 3:1)", 5, 22),
        case("irq ids duplicate", pd_with("<irq id=\"1\" pin=\"4\" vector=\"4\"/>\n<irq id=\"1\" pin=\"3\" vector=\"3\"/>"), "id 1 of irq 1 of protection_domain 'a' is already used by irq 1 of protection_domain 'a' (at 3:1)", 4, 6),
        case("irq id out of range", pd_with("<irq id=\"62\" pin=\"4\" vector=\"4\"/>"), "id \"62\" of irq in protection_domain 'a' is out of range; allowed: 0..=61", 3, 6),
        case("irq vector out of range", pd_with("<irq id=\"1\" pin=\"4\" vector=\"108\"/>"), "vector \"108\" of irq 1 in protection_domain 'a' is out of range; allowed: 0..=107", 3, 21),
        case("irq missing vector", pd_with("<irq id=\"1\" pin=\"4\"/>"), "irq 1 in protection_domain 'a' is missing required attribute 'vector'", 3, 1),
        case("irq missing id", pd_with("<irq pin=\"4\" vector=\"4\"/>"), "irq in protection_domain 'a' is missing required attribute 'id'", 3, 1),
        case("irq vector duplicate", sys("<protection_domain name=\"a\"><program_image path=\"a.elf\"/><irq id=\"1\" pin=\"4\" vector=\"4\"/></protection_domain>\n<protection_domain name=\"b\"><program_image path=\"b.elf\"/><irq id=\"1\" pin=\"3\" vector=\"4\"/></protection_domain>"), "vector 4 of irq 1 in protection_domain 'b' is already used by an irq of 'a' (at 2:58)", 3, 78),
        case("irq pin duplicate", sys("<protection_domain name=\"a\"><program_image path=\"a.elf\"/><irq id=\"1\" pin=\"4\" vector=\"4\"/></protection_domain>\n<protection_domain name=\"b\"><program_image path=\"b.elf\"/><irq id=\"1\" pin=\"4\" vector=\"5\"/></protection_domain>"), "IOAPIC 0 pin 4 of irq 1 in protection_domain 'b' is already granted to 'a' (at 2:58)", 3, 58),
        case("irq trigger invalid", pd_with("<irq id=\"1\" pin=\"4\" vector=\"4\" trigger=\"rising\"/>"), "trigger \"rising\" of irq 1 in protection_domain 'a' is not valid; allowed: level, edge", 3, 32),
        case("irq polarity invalid", pd_with("<irq id=\"1\" pin=\"4\" vector=\"4\" polarity=\"up\"/>"), "polarity \"up\" of irq 1 in protection_domain 'a' is not valid; allowed: high, low", 3, 32),
        case("irq pin out of range", pd_with("<irq id=\"1\" pin=\"24\" vector=\"4\"/>"), "pin \"24\" of irq 1 in protection_domain 'a' is out of range; allowed: 0..=23", 3, 13),
        case("irq ioapic not zero", pd_with("<irq id=\"1\" pin=\"4\" vector=\"4\" ioapic=\"1\"/>"), "ioapic \"1\" of irq 1 in protection_domain 'a' is out of range; allowed: 0..=0", 3, 32),
        case("irq neither form", pd_with("<irq id=\"1\" vector=\"4\"/>"), "irq 1 in protection_domain 'a' has neither 'pin' (IOAPIC form", 3, 1),
        case("irq both forms", pd_with("<irq id=\"1\" pin=\"4\" pcidev=\"00:02.0\" handle=\"0\" vector=\"4\"/>"), "has both 'pin' (IOAPIC form) and 'pcidev' (MSI form)", 3, 21),
        case("irq arm form", pd_with("<irq irq=\"33\" id=\"1\"/>"), "attribute 'irq' on irq is not supported: this is the ARM/RISC-V form of <irq>", 3, 6),
        case("irq unknown attribute", pd_with("<irq id=\"1\" pin=\"4\" vector=\"4\" level=\"true\"/>"), "unknown attribute 'level' on irq", 3, 32),
        case("msi malformed pcidev", pd_with("<irq id=\"1\" pcidev=\"0-2-0\" handle=\"0\" vector=\"4\"/>"), "pcidev \"0-2-0\" of irq 1 in protection_domain 'a' is malformed; expected \"bus:device.function\" in hex", 3, 13),
        case("msi pcidev not hex", pd_with("<irq id=\"1\" pcidev=\"00:zz.0\" handle=\"0\" vector=\"4\"/>"), "PCI device \"zz\" is not a hex number", 3, 13),
        case("msi device out of range", pd_with("<irq id=\"1\" pcidev=\"00:20.0\" handle=\"0\" vector=\"4\"/>"), "PCI device \"20\" is out of range; allowed: 0..=1f (hex)", 3, 13),
        case("msi function out of range", pd_with("<irq id=\"1\" pcidev=\"00:02.8\" handle=\"0\" vector=\"4\"/>"), "PCI function \"8\" is out of range; allowed: 0..=7 (hex)", 3, 13),
        case("msi bus out of range", pd_with("<irq id=\"1\" pcidev=\"100:02.0\" handle=\"0\" vector=\"4\"/>"), "PCI bus \"100\" is out of range; allowed: 0..=ff (hex)", 3, 13),
        case("msi missing handle", pd_with("<irq id=\"1\" pcidev=\"00:02.0\" vector=\"4\"/>"), "irq 1 in protection_domain 'a' is missing required attribute 'handle'", 3, 1),
        case("msi handle too large", pd_with("<irq id=\"1\" pcidev=\"00:02.0\" handle=\"0x1_0000_0000\" vector=\"4\"/>"), "handle \"0x1_0000_0000\" of irq 1 in protection_domain 'a' is out of range; allowed: 0..=4294967295", 3, 30),
        case("msi with trigger", pd_with("<irq id=\"1\" pcidev=\"00:02.0\" handle=\"0\" vector=\"4\" trigger=\"edge\"/>"), "attribute 'trigger' belongs to the IOAPIC form (pin) but irq 1 in protection_domain 'a' uses the MSI form", 3, 52),
        case("ioapic with handle", pd_with("<irq id=\"1\" pin=\"4\" handle=\"0\" vector=\"4\"/>"), "attribute 'handle' belongs to the MSI form (pcidev)", 3, 21),
        case("msi duplicate", sys("<protection_domain name=\"a\"><program_image path=\"a.elf\"/><irq id=\"1\" pcidev=\"00:02.0\" handle=\"0\" vector=\"4\"/></protection_domain>\n<protection_domain name=\"b\"><program_image path=\"b.elf\"/><irq id=\"1\" pcidev=\"0:2.0\" handle=\"0\" vector=\"5\"/></protection_domain>"), "MSI of PCI device 0:2.0 handle 0 of irq 1 in protection_domain 'b' is already granted to 'a'", 3, 58),
        // --- I/O ports ---
        case("ioport size zero", pd_with("<ioport id=\"0\" addr=\"0x3f8\" size=\"0\"/>"), "size \"0\" of ioport 0 in protection_domain 'a' is out of range; allowed: 0x1..=0x10000", 3, 29),
        case("ioport past 0xffff", pd_with("<ioport id=\"0\" addr=\"0xfff0\" size=\"0x20\"/>"), "ioport 0 in protection_domain 'a' covers ports 0xfff0..0x10010, past the last port 0xffff", 3, 30),
        case("ioport addr out of range", pd_with("<ioport id=\"0\" addr=\"0x10000\" size=\"1\"/>"), "addr \"0x10000\" of ioport 0 in protection_domain 'a' is out of range; allowed: 0x0..=0xffff", 3, 16),
        case("ioport id out of range", pd_with("<ioport id=\"64\" addr=\"0x3f8\" size=\"8\"/>"), "id \"64\" of ioport in protection_domain 'a' is out of range; allowed: 0..=63", 3, 9),
        case("ioport missing addr", pd_with("<ioport id=\"0\" size=\"8\"/>"), "ioport 0 in protection_domain 'a' is missing required attribute 'addr'", 3, 1),
        case("ioport covers the PIC", pd_with("<ioport id=\"0\" addr=\"0x20\" size=\"2\"/>"), "covers ports 0x20..0x22, which the kernel keeps (the master 8259 PIC)", 3, 16),
        case("ioport covers the debug console", pd_with("<ioport id=\"0\" addr=\"0xe0\" size=\"0x10\"/>"), "covers ports 0xe9..0xea, which the kernel keeps (the debug console)", 3, 16),
        case("ioport ids duplicate", pd_with("<ioport id=\"0\" addr=\"0x3f8\" size=\"8\"/>\n<ioport id=\"0\" addr=\"0x2f8\" size=\"8\"/>"), "ioport id 0 in protection_domain 'a' is already used (at 3:1)", 4, 9),
        case("ioport overlap", sys("<protection_domain name=\"a\"><program_image path=\"a.elf\"/><ioport id=\"0\" addr=\"0x3f8\" size=\"8\"/></protection_domain>\n<protection_domain name=\"b\"><program_image path=\"b.elf\"/><ioport id=\"0\" addr=\"0x3fc\" size=\"1\"/></protection_domain>"), "ioport 0 of protection_domain 'b' (ports 0x3fc..0x3fd) overlaps the grant of 'a' (ports 0x3f8..0x400, at 2:58)", 3, 73),
        case("ioport overlap same pd", pd_with("<ioport id=\"0\" addr=\"0xf4\" size=\"1\"/>\n<ioport id=\"1\" addr=\"0xf0\" size=\"8\"/>"), "overlaps the grant of 'a'", 4, 16),
    ];
    // 64 PDs.
    let mut many = String::from("<system>\n");
    for i in 0..64 {
        many.push_str(&format!("<protection_domain name=\"p{i}\"><program_image path=\"p.elf\"/></protection_domain>\n"));
    }
    many.push_str("</system>\n");
    v.push(case(
        "too many pds",
        many,
        "too many protection domains: 64 (children included); allowed: at most 63",
        65,
        1,
    ));
    // Deep nesting of PDs.
    let mut deep = String::from("<system>\n");
    for i in 0..70 {
        deep.push_str(&format!(
            "<protection_domain name=\"p{i}\" id=\"0\"><program_image path=\"p.elf\"/>\n"
        ));
    }
    for _ in 0..70 {
        deep.push_str("</protection_domain>");
    }
    deep.push_str("\n</system>\n");
    v.push(case(
        "pds nested too deeply",
        deep,
        "protection_domains are nested too deeply",
        65,
        1,
    ));
    v
}

#[test]
fn invalid_sdfs_are_rejected_with_the_right_message_and_position() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    check_rejected(&cases, |c, d| {
        let line_ok = c.line == 0 || d.pos.line == c.line;
        let col_ok = c.col == 0 || d.pos.col == c.col;
        let failure = (!line_ok || !col_ok).then(|| {
            format!(
                "{}: expected {}:{}, got {}:{} for {}",
                c.name, c.line, c.col, d.pos.line, d.pos.col, d
            )
        });
        let shown = d.to_string();
        if d.pos.line > 0 {
            assert!(
                shown.starts_with(&format!("t.system:{}:{}: error: ", d.pos.line, d.pos.col)),
                "{shown}"
            );
        }
        failure
    });
}

#[test]
fn several_errors_are_reported_at_once() {
    let sdf = sys("<protection_domain name=\"a\" priority=\"300\" budget=\"0\" passive=\"maybe\"><program_image path=\"a.elf\"/></protection_domain>");
    let e = mantle::check_bytes("t.system", sdf.as_bytes()).unwrap_err();
    assert_eq!(e.errors().count(), 3, "{e}");
}

#[test]
fn non_utf8_is_an_error_with_a_position() {
    let e = mantle::check_bytes("t.system", b"<system>\n  <a \xff/>").unwrap_err();
    let d = e.errors().next().unwrap();
    assert!(d.message.contains("not valid UTF-8"), "{d}");
    assert_eq!((d.pos.line, d.pos.col), (2, 6));
}

#[test]
fn unused_memory_region_is_a_warning() {
    let sdf = sys(&format!(
        "<memory_region name=\"m\" size=\"0x1000\"/>\n{PD_A}"
    ));
    let w = mantle::check_bytes("t.system", sdf.as_bytes()).unwrap();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].message.contains("memory_region 'm' is not used"),
        "{}",
        w[0]
    );
    assert!(w[0].to_string().starts_with("t.system:2:1: warning: "));
}

#[test]
fn valid_sdfs_pass() {
    for sdf in [
        sys(PD_A),
        sys(&format!("<!-- comment -->\n{PD_A}\n<?pi x?>")),
        pd_attr("priority=\"0x1_0\" budget=\"1_000\" period=\"0x7d0\" passive=\"false\" stack_size=\"0x1_0000\" cpu=\"0\" fpu=\"true\""),
        two_pds("<channel><end pd=\"a\" id=\"61\" pp=\"true\" notify=\"false\"/><end pd=\"b\" id=\"0\"/></channel>"),
        pd_with("<irq id=\"3\" pin=\"4\" vector=\"107\" trigger=\"edge\" polarity=\"low\" ioapic=\"0\"/><irq id=\"4\" pcidev=\"ff:1f.7\" handle=\"4294967295\" vector=\"0\"/><ioport id=\"63\" addr=\"0xffff\" size=\"1\"/>"),
        sys("<memory_region name=\"m\" size=\"0x1000\" phys_addr=\"0xfeb00000\"/><protection_domain name=\"a\"><program_image path=\"a.elf\"/><map mr=\"m\" vaddr=\"0x1000\" perms=\"x\"/></protection_domain>"),
    ] {
        if let Err(e) = mantle::check_bytes("t.system", sdf.as_bytes()) {
            panic!("{sdf}\n{e}");
        }
    }
}
