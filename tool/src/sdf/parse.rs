//! SDF text → [`System`]: the XML schema, attribute syntax and per-attribute
//! ranges. Cross-element rules live in [`super::validate`].

use super::model::*;
use crate::diag::{did_you_mean, Diags, Pos};
use mantle_abi::bootdesc::{PERM_R, PERM_W, PERM_X};
use mantle_abi::layout::{LARGE_PAGE_SIZE, PAGE_SIZE};
use mantle_abi::limits::*;
use roxmltree::{Document, Node, NodeType};

pub use super::number::{parse_number, NumberError};

/// Most XML nodes accepted (bounds memory on hostile input).
const NODES_LIMIT: u32 = 1_000_000;

/// How to print the bounds of a range in messages.
#[derive(Clone, Copy)]
pub(crate) enum Fmt {
    Dec,
    Hex,
}

fn show(v: u64, f: Fmt) -> String {
    match f {
        Fmt::Dec => v.to_string(),
        Fmt::Hex => format!("{v:#x}"),
    }
}

/// One element being parsed.
pub(crate) struct E<'a, 'i> {
    pub(crate) node: Node<'a, 'i>,
    pub(crate) ctx: String,
    pub(crate) pos: Pos,
    pub(crate) attrs: AttrPos,
}

pub(crate) struct Parser<'a, 'i> {
    doc: &'a Document<'i>,
    lines: LineIndex<'i>,
    pub(crate) d: &'a mut Diags,
}

/// Byte offset → line and column, in O(log n) (roxmltree's own lookup
/// scans from the start, which is quadratic over a large file).
struct LineIndex<'i> {
    text: &'i str,
    starts: Vec<usize>,
}

impl<'i> LineIndex<'i> {
    fn new(text: &'i str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }
    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Pos::new(line as u32, col as u32 + 1)
    }
}

const SYSTEM_CHILDREN: &[&str] = &[
    "protection_domain",
    "memory_region",
    "channel",
    "serial_subsystem",
    "timer_subsystem",
    "net_subsystem",
];
const PD_CHILDREN: &[&str] = &[
    "program_image",
    "map",
    "irq",
    "ioport",
    "setvar",
    "config",
    "protection_domain",
];
const PD_ATTRS: &[&str] = &[
    "name",
    "priority",
    "budget",
    "period",
    "passive",
    "stack_size",
    "cpu",
    "fpu",
];
const CHILD_PD_ATTRS: &[&str] = &[
    "name",
    "priority",
    "budget",
    "period",
    "passive",
    "stack_size",
    "cpu",
    "fpu",
    "id",
    "setvar_id",
];
const MR_ATTRS: &[&str] = &["name", "size", "page_size", "phys_addr", "prefill_path"];
const MAP_ATTRS: &[&str] = &[
    "mr",
    "vaddr",
    "perms",
    "cached",
    "setvar_vaddr",
    "setvar_size",
    "setvar_prefill_size",
];
const IRQ_ATTRS: &[&str] = &[
    "id",
    "pin",
    "ioapic",
    "trigger",
    "polarity",
    "vector",
    "pcidev",
    "handle",
    "setvar_id",
];
const IOPORT_ATTRS: &[&str] = &["id", "addr", "size", "setvar_id", "setvar_addr"];
const SETVAR_ATTRS: &[&str] = &["symbol", "region_paddr"];
const CONFIG_ATTRS: &[&str] = &["kind", "data"];
const PADDR_ATTRS: &[&str] = &["offset", "mr"];
const IMAGE_ATTRS: &[&str] = &["path", "path_for_symbols"];
const END_ATTRS: &[&str] = &["pd", "id", "pp", "notify", "setvar_id"];

/// Parse SDF `text`; `d` collects diagnostics (named after `d.file()`).
/// Returns `None` if there were errors.
pub fn parse(text: &str, d: &mut Diags) -> Option<System> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..Default::default()
    };
    let doc = match Document::parse_with_options(text, opts) {
        Ok(doc) => doc,
        Err(e) => {
            let p = e.pos();
            d.error(
                Pos::new(p.row, p.col),
                format!("malformed XML: {}", strip_pos(&e.to_string())),
            );
            return None;
        }
    };
    let mut p = Parser {
        doc: &doc,
        lines: LineIndex::new(text),
        d,
    };
    let sys = p.system();
    if p.d.has_errors() {
        None
    } else {
        Some(sys)
    }
}

/// roxmltree appends " at L:C" to its messages; we print positions ourselves.
fn strip_pos(msg: &str) -> &str {
    match msg.rfind(" at ") {
        Some(i) if msg[i + 4..].chars().all(|c| c.is_ascii_digit() || c == ':') => &msg[..i],
        _ => msg,
    }
}

pub(crate) fn quote(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(64) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if s.chars().count() > 64 {
        out.push('…');
    }
    format!("\"{out}\"")
}

impl<'a, 'i> Parser<'a, 'i> {
    fn pos(&self, offset: usize) -> Pos {
        self.lines.pos(offset)
    }

    pub(crate) fn elem(
        &mut self,
        node: Node<'a, 'i>,
        tag: &'static str,
        allowed: &[&str],
    ) -> E<'a, 'i> {
        let pos = self.pos(node.range().start);
        let mut attrs = AttrPos::default();
        for a in node.attributes() {
            let apos = self.pos(a.range().start);
            attrs.0.insert(a.name().to_string(), apos);
            if !allowed.contains(&a.name()) {
                let why = unsupported_attr(tag, a.name());
                match why {
                    Some(why) => self.d.error(
                        apos,
                        format!("attribute '{}' on {tag} is not supported: {why}", a.name()),
                    ),
                    None if allowed.is_empty() => self.d.error(
                        apos,
                        format!(
                            "unknown attribute '{}' on {tag}; {tag} takes no attributes",
                            a.name()
                        ),
                    ),
                    None => self.d.error(
                        apos,
                        format!(
                            "unknown attribute '{}' on {tag}{}; allowed: {}",
                            a.name(),
                            did_you_mean(a.name(), allowed.iter().copied()),
                            allowed.join(", ")
                        ),
                    ),
                }
            }
        }
        E {
            node,
            ctx: tag.to_string(),
            pos,
            attrs,
        }
    }

    pub(crate) fn str_attr(&mut self, e: &E, name: &str) -> Option<String> {
        e.node.attribute(name).map(str::to_string)
    }

    pub(crate) fn req_str(&mut self, e: &E, name: &str) -> Option<String> {
        let v = self.str_attr(e, name);
        if v.is_none() {
            self.d.error(
                e.pos,
                format!("{} is missing required attribute '{name}'", e.ctx),
            );
        }
        v
    }

    /// A symbol name for setvar: non-empty.
    pub(crate) fn symbol_attr(&mut self, e: &E, name: &str) -> Option<String> {
        let v = self.str_attr(e, name)?;
        if v.is_empty() {
            self.d.error(
                e.attrs.get(name, e.pos),
                format!("{name} of {} is empty; expected a symbol name", e.ctx),
            );
            return None;
        }
        Some(v)
    }

    pub(crate) fn num(&mut self, e: &E, name: &str, lo: u64, hi: u64, f: Fmt) -> Option<u64> {
        let text = e.node.attribute(name)?;
        let at = e.attrs.get(name, e.pos);
        match parse_number(text) {
            Ok(v) if v >= lo && v <= hi => Some(v),
            Ok(_) => {
                self.d.error(
                    at,
                    format!(
                        "{name} {} of {} is out of range; allowed: {}..={}",
                        quote(text),
                        e.ctx,
                        show(lo, f),
                        show(hi, f)
                    ),
                );
                None
            }
            Err(NumberError::TooLarge) => {
                let allowed = if hi == u64::MAX {
                    String::new()
                } else {
                    format!("; allowed: {}..={}", show(lo, f), show(hi, f))
                };
                self.d.error(
                    at,
                    format!(
                        "{name} {} of {} is too large (more than 64 bits){allowed}",
                        quote(text),
                        e.ctx,
                    ),
                );
                None
            }
            Err(NumberError::Malformed) => {
                self.d.error(
                    at,
                    format!(
                        "{name} {} of {} is not a number; expected decimal or 0x-prefixed hex digits ('_' separators allowed)",
                        quote(text),
                        e.ctx
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn req_num(&mut self, e: &E, name: &str, lo: u64, hi: u64, f: Fmt) -> Option<u64> {
        if e.node.attribute(name).is_none() {
            self.d.error(
                e.pos,
                format!("{} is missing required attribute '{name}'", e.ctx),
            );
            return None;
        }
        self.num(e, name, lo, hi, f)
    }

    pub(crate) fn boolean(&mut self, e: &E, name: &str, default: bool) -> bool {
        match e.node.attribute(name) {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                self.d.error(
                    e.attrs.get(name, e.pos),
                    format!(
                        "{name} {} of {} is not a boolean; allowed: true, false",
                        quote(other),
                        e.ctx
                    ),
                );
                default
            }
        }
    }

    pub(crate) fn choice(&mut self, e: &E, name: &str, choices: &[&str]) -> Option<usize> {
        let v = e.node.attribute(name)?;
        match choices.iter().position(|c| *c == v) {
            Some(i) => Some(i),
            None => {
                self.d.error(
                    e.attrs.get(name, e.pos),
                    format!(
                        "{name} {} of {} is not valid; allowed: {}",
                        quote(v),
                        e.ctx,
                        choices.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn name_attr(&mut self, e: &mut E, kind: &str) -> String {
        let Some(name) = self.req_str(e, "name") else {
            return String::new();
        };
        let at = e.attrs.get("name", e.pos);
        if name.is_empty() {
            self.d.error(at, format!("{kind} name is empty"));
        } else if name.len() > MAX_NAME_LEN {
            self.d.error(
                at,
                format!(
                    "{kind} name {} is {} bytes long; allowed: at most {MAX_NAME_LEN}",
                    quote(&name),
                    name.len()
                ),
            );
        }
        e.ctx = format!("{kind} '{name}'");
        name
    }

    /// Element children of `node`, reporting text and unknown elements.
    pub(crate) fn children(
        &mut self,
        node: Node<'a, 'i>,
        tag: &str,
        allowed: &[&str],
    ) -> Vec<Node<'a, 'i>> {
        let mut out = Vec::new();
        for c in node.children() {
            match c.node_type() {
                NodeType::Element => {
                    let name = c.tag_name().name();
                    if allowed.contains(&name) {
                        out.push(c);
                    } else {
                        let pos = self.pos(c.range().start);
                        match unsupported_element(tag, name) {
                            Some(why) => self.d.error(
                                pos,
                                format!("element '{name}' inside {tag} is not supported: {why}"),
                            ),
                            None if allowed.is_empty() => self.d.error(
                                pos,
                                format!("unknown element '{name}' inside {tag}; {tag} has no child elements"),
                            ),
                            None => self.d.error(
                                pos,
                                format!(
                                    "unknown element '{name}' inside {tag}{}; allowed: {}",
                                    did_you_mean(name, allowed.iter().copied()),
                                    allowed.join(", ")
                                ),
                            ),
                        }
                    }
                }
                NodeType::Text => {
                    let t = c.text().unwrap_or("");
                    if !t.trim().is_empty() {
                        let start = c.range().start + (t.len() - t.trim_start().len());
                        let pos = self.pos(start);
                        self.d.error(
                            pos,
                            format!("unexpected text {} inside {tag}", quote(t.trim())),
                        );
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn system(&mut self) -> System {
        let root = self.doc.root_element();
        let mut sys = System::default();
        if root.tag_name().name() != "system" {
            let pos = self.pos(root.range().start);
            self.d.error(
                pos,
                format!(
                    "root element is '{}'; expected 'system'",
                    root.tag_name().name()
                ),
            );
            return sys;
        }
        let e = self.elem(root, "system", &[]);
        sys.pos = e.pos;
        for c in self.children(e.node, "system", SYSTEM_CHILDREN) {
            match c.tag_name().name() {
                "protection_domain" => self.pd(c, &mut sys, None, 0),
                "memory_region" => {
                    if let Some(mr) = self.mr(c) {
                        sys.mrs.push(mr)
                    }
                }
                "channel" => {
                    if let Some(ch) = self.channel(c) {
                        sys.channels.push(ch)
                    }
                }
                "serial_subsystem" | "timer_subsystem" | "net_subsystem" => {
                    if let Some(s) = self.subsystem(c) {
                        sys.composed.push(super::compose::Composed::new(s))
                    }
                }
                _ => {}
            }
        }
        sys
    }

    fn pd(&mut self, node: Node<'a, 'i>, sys: &mut System, parent: Option<usize>, depth: usize) {
        let allowed = if parent.is_some() {
            CHILD_PD_ATTRS
        } else {
            PD_ATTRS
        };
        let mut e = self.elem(node, "protection_domain", allowed);
        let name = self.name_attr(&mut e, "protection_domain");
        let priority = self
            .num(&e, "priority", 0, MAX_PRIORITY as u64, Fmt::Dec)
            .unwrap_or(0) as u8;
        let budget = self
            .num(&e, "budget", 1, MAX_BUDGET_US, Fmt::Dec)
            .unwrap_or(DEFAULT_BUDGET_US);
        let period = self.num(&e, "period", 1, MAX_BUDGET_US, Fmt::Dec);
        if let Some(period) = period {
            if budget > period {
                let at = if e.attrs.has("budget") {
                    e.attrs.get("budget", e.pos)
                } else {
                    e.attrs.get("period", e.pos)
                };
                self.d.error(
                    at,
                    format!(
                        "budget {budget} of {} is greater than its period {period}; the budget must be at most the period",
                        e.ctx
                    ),
                );
            }
        }
        let passive = self.boolean(&e, "passive", false);
        let stack_size = self
            .num(&e, "stack_size", MIN_STACK_SIZE, MAX_STACK_SIZE, Fmt::Hex)
            .unwrap_or(DEFAULT_STACK_SIZE);
        if stack_size % PAGE_SIZE != 0 {
            self.d.error(
                e.attrs.get("stack_size", e.pos),
                format!(
                    "stack_size {stack_size:#x} of {} is not a multiple of the page size {PAGE_SIZE:#x}",
                    e.ctx
                ),
            );
        }
        if let Some(text) = e.node.attribute("cpu") {
            match parse_number(text) {
                Ok(0) => {}
                Ok(_) | Err(NumberError::TooLarge) => self.d.error(
                    e.attrs.get("cpu", e.pos),
                    format!(
                        "cpu {} of {} is not supported yet: Mantle runs on one CPU; allowed: 0",
                        quote(text),
                        e.ctx
                    ),
                ),
                Err(NumberError::Malformed) => {
                    self.num(&e, "cpu", 0, 0, Fmt::Dec);
                }
            }
        }
        if let Some(text) = e.node.attribute("fpu") {
            if !self.boolean(&e, "fpu", true) {
                self.d.error(
                    e.attrs.get("fpu", e.pos),
                    format!(
                        "fpu {} of {} is not supported yet: every PD may use the FPU; allowed: true",
                        quote(text),
                        e.ctx
                    ),
                );
            }
        }
        let (child_id, setvar_id) = if parent.is_some() {
            (
                self.req_num(&e, "id", 0, MAX_CHILD_IDS as u64 - 1, Fmt::Dec)
                    .map(|v| v as u8),
                self.symbol_attr(&e, "setvar_id"),
            )
        } else {
            (None, None)
        };
        let index = sys.pds.len();
        sys.pds.push(Pd {
            name,
            priority,
            budget_us: budget,
            period_us: period.unwrap_or(budget),
            passive,
            stack_size,
            parent,
            child_id,
            setvar_id,
            pos: e.pos,
            ..Default::default()
        });
        let mut image: Option<ProgramImage> = None;
        let mut children = Vec::new();
        for c in self.children(node, "protection_domain", PD_CHILDREN) {
            match c.tag_name().name() {
                "program_image" => {
                    let pi = self.program_image(c, &e.ctx);
                    if image.is_some() {
                        self.d.error(
                            pi.pos,
                            format!(
                                "{} has more than one program_image; allowed: exactly one",
                                e.ctx
                            ),
                        );
                    } else {
                        image = Some(pi);
                    }
                }
                "map" => {
                    if let Some(m) = self.map(c, &e.ctx) {
                        sys.pds[index].maps.push(m)
                    }
                }
                "irq" => {
                    if let Some(irq) = self.irq(c, &e.ctx) {
                        sys.pds[index].irqs.push(irq)
                    }
                }
                "ioport" => {
                    if let Some(p) = self.ioport(c, &e.ctx) {
                        sys.pds[index].ioports.push(p)
                    }
                }
                "setvar" => {
                    if let Some(s) = self.setvar(c, &e.ctx) {
                        sys.pds[index].setvars.push(s)
                    }
                }
                "config" => {
                    if let Some(cfg) = self.config(c, &e.ctx) {
                        sys.pds[index].configs.push(cfg)
                    }
                }
                "protection_domain" => children.push(c),
                _ => {}
            }
        }
        if image.is_none() {
            self.d.error(
                e.pos,
                format!("{} has no program_image; allowed: exactly one", e.ctx),
            );
        }
        sys.pds[index].program_image = image;
        sys.pds[index].attrs = e.attrs;
        for c in children {
            if depth + 1 >= MAX_PDS {
                let pos = self.pos(c.range().start);
                self.d.error(
                    pos,
                    format!("protection_domains are nested too deeply; allowed: at most {MAX_PDS} PDs in all"),
                );
                break;
            }
            self.pd(c, sys, Some(index), depth + 1);
        }
    }

    fn program_image(&mut self, node: Node<'a, 'i>, pd: &str) -> ProgramImage {
        let mut e = self.elem(node, "program_image", IMAGE_ATTRS);
        e.ctx = format!("program_image of {pd}");
        self.children(node, "program_image", &[]);
        let path = self.req_str(&e, "path").unwrap_or_default();
        if path.is_empty() && e.attrs.has("path") {
            self.d.error(
                e.attrs.get("path", e.pos),
                format!("path of {} is empty", e.ctx),
            );
        }
        let path_for_symbols = self.str_attr(&e, "path_for_symbols");
        ProgramImage {
            path,
            path_for_symbols,
            pos: e.pos,
        }
    }

    fn map(&mut self, node: Node<'a, 'i>, pd: &str) -> Option<Map> {
        let mut e = self.elem(node, "map", MAP_ATTRS);
        self.children(node, "map", &[]);
        e.ctx = format!("map in {pd}");
        let mr = self.req_str(&e, "mr");
        e.ctx = match &mr {
            Some(mr) => format!("map of '{mr}' in {pd}"),
            None => format!("map in {pd}"),
        };
        let vaddr = self.req_num(&e, "vaddr", 0, u64::MAX, Fmt::Hex);
        let perms_text = e.node.attribute("perms").unwrap_or("rw").to_string();
        let mut perms = 0u8;
        let mut ok = true;
        for c in perms_text.chars() {
            let bit = match c {
                'r' => PERM_R,
                'w' => PERM_W,
                'x' => PERM_X,
                _ => 0,
            };
            if bit == 0 || perms & bit != 0 {
                ok = false;
            }
            perms |= bit;
        }
        let perms_at = e.attrs.get("perms", e.pos);
        if !ok || perms_text.is_empty() {
            self.d.error(
                perms_at,
                format!(
                    "perms {} of {} is not valid; allowed: a combination of 'r', 'w' and 'x', each at most once (e.g. \"rw\", \"rx\")",
                    quote(&perms_text),
                    e.ctx
                ),
            );
        } else if perms & PERM_W != 0 && perms & PERM_R == 0 {
            self.d.error(
                perms_at,
                format!(
                    "perms {} of {} is write-only; write-only maps are not allowed (use \"rw\")",
                    quote(&perms_text),
                    e.ctx
                ),
            );
        }
        // x86 cannot express execute-only pages: "x" maps as "rx".
        perms |= PERM_R;
        let cached = self.boolean(&e, "cached", true);
        let setvar_vaddr = self.symbol_attr(&e, "setvar_vaddr");
        let setvar_size = self.symbol_attr(&e, "setvar_size");
        let setvar_prefill_size = self.symbol_attr(&e, "setvar_prefill_size");
        Some(Map {
            mr: mr?,
            vaddr: vaddr?,
            perms,
            perms_text,
            cached,
            setvar_vaddr,
            setvar_size,
            setvar_prefill_size,
            pos: e.pos,
            attrs: e.attrs,
        })
    }

    fn irq(&mut self, node: Node<'a, 'i>, pd: &str) -> Option<Irq> {
        let mut e = self.elem(node, "irq", IRQ_ATTRS);
        self.children(node, "irq", &[]);
        e.ctx = format!("irq in {pd}");
        if e.attrs.has("irq") {
            // Reported by `elem` as unsupported (ARM/RISC-V form).
            return None;
        }
        let id = self.req_num(&e, "id", 0, MAX_IDS as u64 - 1, Fmt::Dec);
        if let Some(id) = id {
            e.ctx = format!("irq {id} in {pd}");
        }
        let vector = self.req_num(&e, "vector", 0, NUM_USER_VECTORS as u64 - 1, Fmt::Dec);
        let setvar_id = self.symbol_attr(&e, "setvar_id");
        let has_pin = e.attrs.has("pin");
        let has_pci = e.attrs.has("pcidev");
        let kind = match (has_pin, has_pci) {
            (true, true) => {
                self.d.error(
                    e.attrs.get("pcidev", e.pos),
                    format!("{} has both 'pin' (IOAPIC form) and 'pcidev' (MSI form); allowed: one of them", e.ctx),
                );
                None
            }
            (false, false) => {
                self.d.error(
                    e.pos,
                    format!("{} has neither 'pin' (IOAPIC form: id, pin, vector, trigger, polarity, ioapic) nor 'pcidev' (MSI form: id, pcidev, handle, vector)", e.ctx),
                );
                None
            }
            (true, false) => {
                for bad in ["handle"] {
                    if e.attrs.has(bad) {
                        self.d.error(
                            e.attrs.get(bad, e.pos),
                            format!("attribute '{bad}' belongs to the MSI form (pcidev) but {} uses the IOAPIC form (pin)", e.ctx),
                        );
                    }
                }
                let pin = self.num(&e, "pin", 0, 23, Fmt::Dec);
                let ioapic = self.num(&e, "ioapic", 0, 0, Fmt::Dec).unwrap_or(0);
                let level = self.choice(&e, "trigger", &["level", "edge"]).unwrap_or(0) == 0;
                let low = self.choice(&e, "polarity", &["high", "low"]).unwrap_or(0) == 1;
                pin.map(|pin| IrqKind::IoApic {
                    ioapic: ioapic as u8,
                    pin: pin as u8,
                    level,
                    active_low: low,
                })
            }
            (false, true) => {
                for bad in ["trigger", "polarity", "ioapic"] {
                    if e.attrs.has(bad) {
                        self.d.error(
                            e.attrs.get(bad, e.pos),
                            format!("attribute '{bad}' belongs to the IOAPIC form (pin) but {} uses the MSI form (pcidev)", e.ctx),
                        );
                    }
                }
                let pci = self.pcidev(&e);
                let handle = self.req_num(&e, "handle", 0, u32::MAX as u64, Fmt::Dec);
                match (pci, handle) {
                    (Some((bus, dev, func)), Some(handle)) => Some(IrqKind::Msi {
                        bus,
                        dev,
                        func,
                        handle: handle as u32,
                    }),
                    _ => None,
                }
            }
        };
        Some(Irq {
            id: id? as u8,
            vector: vector? as u8,
            kind: kind?,
            setvar_id,
            pos: e.pos,
            attrs: e.attrs,
        })
    }

    /// `pcidev="bus:dev.func"`, each part hexadecimal without a prefix, as
    /// `lspci` prints it (and as Microkit reads it).
    fn pcidev(&mut self, e: &E) -> Option<(u8, u8, u8)> {
        let text = e.node.attribute("pcidev")?;
        let at = e.attrs.get("pcidev", e.pos);
        let parts = text
            .split_once(':')
            .and_then(|(b, rest)| rest.split_once('.').map(|(d, f)| (b, d, f)));
        let Some((b, dv, f)) = parts else {
            self.d.error(
                at,
                format!(
                    "pcidev {} of {} is malformed; expected \"bus:device.function\" in hex (e.g. \"00:1f.3\")",
                    quote(text),
                    e.ctx
                ),
            );
            return None;
        };
        let mut out = [0u8; 3];
        let mut ok = true;
        for (i, (part, what, max)) in [
            (b, "bus", 0xffu64),
            (dv, "device", 0x1f),
            (f, "function", 7),
        ]
        .into_iter()
        .enumerate()
        {
            let part = part.trim();
            let hex =
                !part.is_empty() && part.len() <= 16 && part.chars().all(|c| c.is_ascii_hexdigit());
            match u64::from_str_radix(part, 16) {
                Ok(v) if hex && v <= max => out[i] = v as u8,
                Ok(_) if hex => {
                    self.d.error(
                        at,
                        format!(
                            "pcidev {} of {}: PCI {what} {} is out of range; allowed: 0..={max:x} (hex)",
                            quote(text),
                            e.ctx,
                            quote(part)
                        ),
                    );
                    ok = false;
                }
                _ => {
                    self.d.error(
                        at,
                        format!(
                            "pcidev {} of {} is malformed: PCI {what} {} is not a hex number; expected \"bus:device.function\" in hex (e.g. \"00:1f.3\")",
                            quote(text),
                            e.ctx,
                            quote(part)
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some((out[0], out[1], out[2]))
    }

    fn ioport(&mut self, node: Node<'a, 'i>, pd: &str) -> Option<IoPort> {
        let mut e = self.elem(node, "ioport", IOPORT_ATTRS);
        self.children(node, "ioport", &[]);
        e.ctx = format!("ioport in {pd}");
        let id = self.req_num(&e, "id", 0, MAX_IOPORTS_PER_PD as u64 - 1, Fmt::Dec);
        if let Some(id) = id {
            e.ctx = format!("ioport {id} in {pd}");
        }
        let addr = self.req_num(&e, "addr", 0, 0xffff, Fmt::Hex);
        let size = self.req_num(&e, "size", 1, 0x1_0000, Fmt::Hex);
        if let (Some(a), Some(s)) = (addr, size) {
            if a + s > 0x1_0000 {
                self.d.error(
                    e.attrs.get("size", e.pos),
                    format!(
                        "{} covers ports {a:#x}..{:#x}, past the last port 0xffff",
                        e.ctx,
                        a + s
                    ),
                );
            }
        }
        let setvar_id = self.symbol_attr(&e, "setvar_id");
        let setvar_addr = self.symbol_attr(&e, "setvar_addr");
        Some(IoPort {
            id: id? as u8,
            addr: addr? as u16,
            size: size? as u32,
            setvar_id,
            setvar_addr,
            pos: e.pos,
            attrs: e.attrs,
        })
    }

    fn setvar(&mut self, node: Node<'a, 'i>, pd: &str) -> Option<SetVar> {
        let mut e = self.elem(node, "setvar", SETVAR_ATTRS);
        self.children(node, "setvar", &[]);
        e.ctx = format!("setvar in {pd}");
        let symbol = self.req_str(&e, "symbol");
        if symbol.as_deref() == Some("") {
            self.d.error(
                e.attrs.get("symbol", e.pos),
                format!("symbol of {} is empty", e.ctx),
            );
        }
        let region = self.req_str(&e, "region_paddr");
        Some(SetVar {
            symbol: symbol?,
            region_paddr: region?,
            pos: e.pos,
            attrs: e.attrs,
        })
    }

    /// `<config kind data>` with `<paddr offset mr>` children (Mantle's
    /// extension; see [`super::config`]).
    fn config(&mut self, node: Node<'a, 'i>, pd: &str) -> Option<PdConfig> {
        use super::config::{check_data, from_hex, payload_size, tag, TAGS};
        let mut e = self.elem(node, "config", CONFIG_ATTRS);
        e.ctx = format!("config in {pd}");
        let tags: Vec<&str> = TAGS.iter().map(|(_, t)| *t).collect();
        if !e.attrs.has("kind") {
            self.d.error(
                e.pos,
                format!(
                    "{} is missing required attribute 'kind'; allowed: {}",
                    e.ctx,
                    tags.join(", ")
                ),
            );
        }
        let kind = self.choice(&e, "kind", &tags).map(|i| TAGS[i].0);
        if let Some(k) = kind {
            e.ctx = format!("{} config in {pd}", tag(k));
        }
        let text = self.req_str(&e, "data");
        let mut paddrs = Vec::new();
        for c in self.children(node, "config", &["paddr"]) {
            let mut p = self.elem(c, "paddr", PADDR_ATTRS);
            self.children(c, "paddr", &[]);
            p.ctx = format!("paddr in {}", e.ctx);
            let offset = self.req_num(&p, "offset", 0, u32::MAX as u64, Fmt::Hex);
            let mr = self.req_str(&p, "mr");
            if let (Some(offset), Some(mr)) = (offset, mr) {
                paddrs.push(PaddrRef {
                    offset: offset as usize,
                    mr,
                    pos: p.pos,
                    attrs: p.attrs,
                });
            }
        }
        let (kind, text) = (kind?, text?);
        let at = e.attrs.get("data", e.pos);
        let data = match from_hex(text.trim()) {
            Ok(d) => d,
            Err(why) => {
                self.d.error(at, format!("data of {} {why}", e.ctx));
                return None;
            }
        };
        let mut ok = true;
        let end = mantle_config::HEADER_SIZE + payload_size(kind);
        for p in &paddrs {
            let at = p.attrs.get("offset", p.pos);
            if p.offset < mantle_config::HEADER_SIZE || p.offset + 8 > end {
                self.d.error(
                    at,
                    format!(
                        "offset {:#x} of paddr in {} is outside the payload; allowed: {:#x}..={:#x} (8 bytes of a {} section of {end:#x} bytes, after the header)",
                        p.offset,
                        e.ctx,
                        mantle_config::HEADER_SIZE,
                        end - 8,
                        tag(kind)
                    ),
                );
                ok = false;
            } else if data.len() >= p.offset + 8 && data[p.offset..p.offset + 8] != [0; 8] {
                self.d.error(
                    at,
                    format!(
                        "offset {:#x} of paddr in {} holds a non-zero value in data; a physical address the build writes must be 0 in data",
                        p.offset,
                        e.ctx
                    ),
                );
                ok = false;
            }
        }
        if let Err(why) = check_data(kind, &data) {
            self.d.error(at, format!("data of {} {why}", e.ctx));
            ok = false;
        }
        ok.then_some(PdConfig {
            kind,
            data,
            paddrs,
            pos: e.pos,
            attrs: e.attrs,
        })
    }

    fn mr(&mut self, node: Node<'a, 'i>) -> Option<MemoryRegion> {
        let mut e = self.elem(node, "memory_region", MR_ATTRS);
        self.children(node, "memory_region", &[]);
        let name = self.name_attr(&mut e, "memory_region");
        let page_size = match e.node.attribute("page_size") {
            None => Some(PAGE_SIZE),
            Some(text) => match parse_number(text) {
                Ok(v) if v == PAGE_SIZE || v == LARGE_PAGE_SIZE => Some(v),
                _ => {
                    self.d.error(
                        e.attrs.get("page_size", e.pos),
                        format!(
                            "page_size {} of {} is not supported; allowed: 0x1000, 0x200000",
                            quote(text),
                            e.ctx
                        ),
                    );
                    None
                }
            },
        };
        let prefill = match e.node.attribute("prefill_path") {
            Some("") => {
                self.d.error(
                    e.attrs.get("prefill_path", e.pos),
                    format!("prefill_path of {} is empty; expected a file name", e.ctx),
                );
                None
            }
            Some(path) => Some(Prefill {
                path: path.to_string(),
                data: Vec::new(),
            }),
            None => None,
        };
        // With a prefill file the size may be left out: it is then the
        // file's size rounded up to the page size.
        let size = if prefill.is_some() {
            self.num(&e, "size", 0, u64::MAX, Fmt::Hex)
        } else {
            if e.node.attribute("size").is_none() {
                self.d.error(
                    e.pos,
                    format!(
                        "{} is missing required attribute 'size' (it may be left out only with prefill_path)",
                        e.ctx
                    ),
                );
            }
            self.num(&e, "size", 0, u64::MAX, Fmt::Hex)
        };
        let phys = self.num(&e, "phys_addr", 0, u64::MAX, Fmt::Hex);
        if prefill.is_some() && phys.is_some() {
            self.d.error(
                e.attrs.get("prefill_path", e.pos),
                format!(
                    "{} has both phys_addr and prefill_path; only regions the tool places in RAM can be prefilled",
                    e.ctx
                ),
            );
        }
        if let (Some(size), Some(ps)) = (size, page_size) {
            if size == 0 {
                self.d.error(
                    e.attrs.get("size", e.pos),
                    format!(
                        "size 0 of {} is empty; a memory region needs at least one page",
                        e.ctx
                    ),
                );
            } else if size % ps != 0 {
                self.d.error(
                    e.attrs.get("size", e.pos),
                    format!(
                        "size {size:#x} of {} is not a multiple of its page size {ps:#x}",
                        e.ctx
                    ),
                );
            }
            if let Some(p) = phys {
                if p % ps != 0 {
                    self.d.error(
                        e.attrs.get("phys_addr", e.pos),
                        format!(
                            "phys_addr {p:#x} of {} is not aligned to its page size {ps:#x}",
                            e.ctx
                        ),
                    );
                } else if p.checked_add(size).is_none() {
                    self.d.error(
                        e.attrs.get("phys_addr", e.pos),
                        format!(
                            "{} at phys_addr {p:#x} with size {size:#x} overflows the 64-bit address space",
                            e.ctx
                        ),
                    );
                }
            }
        }
        let size = match (size, &prefill) {
            (Some(size), _) => size,
            // Set from the file by `resolve_prefills`.
            (None, Some(_)) if !e.attrs.has("size") => 0,
            _ => return None,
        };
        Some(MemoryRegion {
            name,
            size,
            page_size: page_size?,
            phys_addr: phys,
            prefill,
            pos: e.pos,
            attrs: e.attrs,
            group: None,
            dma: false,
        })
    }

    fn channel(&mut self, node: Node<'a, 'i>) -> Option<Channel> {
        let e = self.elem(node, "channel", &[]);
        let mut ends = Vec::new();
        let mut ok = true;
        for c in self.children(node, "channel", &["end"]) {
            match self.end(c) {
                Some(end) => ends.push(end),
                None => ok = false,
            }
        }
        if ok && ends.len() != 2 {
            self.d.error(
                e.pos,
                format!(
                    "channel has {} end{}; allowed: exactly 2",
                    ends.len(),
                    if ends.len() == 1 { "" } else { "s" }
                ),
            );
        }
        ok.then_some(Channel {
            ends,
            pos: e.pos,
            group: None,
        })
    }

    fn end(&mut self, node: Node<'a, 'i>) -> Option<End> {
        let mut e = self.elem(node, "end", END_ATTRS);
        self.children(node, "end", &[]);
        e.ctx = "channel end".into();
        let pd = self.req_str(&e, "pd");
        e.ctx = match &pd {
            Some(pd) => format!("channel end of '{pd}'"),
            None => "channel end".into(),
        };
        let id = self.req_num(&e, "id", 0, MAX_IDS as u64 - 1, Fmt::Dec);
        let pp = self.boolean(&e, "pp", false);
        let notify = self.boolean(&e, "notify", true);
        let setvar_id = self.symbol_attr(&e, "setvar_id");
        Some(End {
            pd: pd?,
            id: id? as u8,
            pp,
            notify,
            setvar_id,
            pos: e.pos,
            attrs: e.attrs,
        })
    }
}

/// Known Microkit attributes Mantle does not support, with the reason.
fn unsupported_attr(tag: &str, attr: &str) -> Option<&'static str> {
    Some(match (tag, attr) {
        ("protection_domain", "smc") => "SMC calls exist only on ARM",
        ("protection_domain", "domain") => "domain scheduling is not supported yet",
        ("protection_domain", "setvar_id") => {
            "'setvar_id' is only allowed on a child protection_domain (one nested inside another)"
        }
        ("protection_domain", "id") => {
            "'id' is only allowed on a child protection_domain (one nested inside another)"
        }
        ("memory_region", "prefill_bootinfo") => {
            "boot-information prefill is not supported (Mantle has no seL4 boot information)"
        }
        ("irq", "irq") => {
            "this is the ARM/RISC-V form of <irq>; on x86 use the IOAPIC form (id, pin, vector, trigger, polarity) or the MSI form (id, pcidev, handle, vector)"
        }
        _ => return None,
    })
}

/// Known Microkit elements Mantle does not support, with the reason.
fn unsupported_element(parent: &str, tag: &str) -> Option<&'static str> {
    Some(match (parent, tag) {
        ("protection_domain", "virtual_machine") => "virtual machines are not supported yet",
        ("protection_domain", "cspace") => "capability mappings (cspace) are not supported yet",
        ("system", "domains") => "domain scheduling is not supported yet",
        ("system", "io_address_space") => "IOMMU address spaces are not supported yet",
        ("system", "virtual_machine") => {
            "virtual machines are not supported yet (and belong inside a protection_domain)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_counts_characters() {
        let text = "ab\nçd\n\nx";
        let li = LineIndex::new(text);
        assert_eq!(li.pos(0), Pos::new(1, 1));
        assert_eq!(li.pos(2), Pos::new(1, 3));
        assert_eq!(li.pos(3), Pos::new(2, 1));
        assert_eq!(li.pos(5), Pos::new(2, 2)); // after the two-byte 'ç'
        assert_eq!(li.pos(7), Pos::new(3, 1));
        assert_eq!(li.pos(8), Pos::new(4, 1));
        assert_eq!(li.pos(9), Pos::new(4, 2));
        assert_eq!(li.pos(100), Pos::new(4, 2));
    }

    #[test]
    fn messages_lose_roxmltree_positions() {
        assert_eq!(
            strip_pos("unexpected end of stream at 3:4"),
            "unexpected end of stream"
        );
        assert_eq!(strip_pos("no position"), "no position");
    }
}
