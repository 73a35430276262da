//! `mantle diagram`: a picture of a system.
//!
//! [`graph`] turns a checked [`System`] into a small graph model, which
//! [`dot`] writes as Graphviz DOT and [`svg`] draws from [`layout`]
//! (no Graphviz needed: the layout is simple and deterministic, so the
//! golden tests hold on any machine).
//!
//! What is drawn, chosen so that the largest system stays readable:
//! - **PDs** as boxes: name, priority, `passive`, program, and private
//!   regions (mapped by this PD only). A composed subsystem's driver,
//!   virtualisers and copiers are grouped in a cluster.
//! - **One connection per pair of PDs** that share a channel or memory,
//!   labelled with everything between them: a PPC is a solid arrow from the
//!   `pp` end to the callee; notifications are dashed arrows in each
//!   direction a notify is allowed; shared regions are listed with each
//!   side's permissions (`name rw|r`, in the order the first label line
//!   names the two PDs). Memory alone is a dotted line.
//! - **Regions mapped by three or more PDs** as their own node, with a
//!   line to each PD labelled with its permissions (a pairwise list would
//!   be a clique).
//! - **Devices** (a PD's IRQs, I/O ports and fixed-`phys_addr` regions
//!   that only it maps) as one node per PD, joined to it.
//! - A child PD is joined to its parent by a dotted "parent" arrow.

pub mod dot;
pub mod layout;
pub mod svg;

use crate::diag::{Diagnostic, Error, Pos, Severity};
use crate::sdf::compose::Kind;
use crate::sdf::model::{IrqKind, System};
use mantle_abi::bootdesc::{PERM_R, PERM_W, PERM_X};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A protection domain.
    Pd,
    /// A region mapped by three or more PDs.
    Region,
    /// A PD's devices.
    Device,
}

/// A box in the picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Unique id (`pd:NAME`, `mr:NAME`, `dev:NAME`).
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// First line, in bold.
    pub title: String,
    /// Further lines.
    pub lines: Vec<String>,
    /// Layer key: a PD's priority; devices and regions take their PD's
    /// (the highest of their PDs').
    pub priority: u8,
    /// A passive PD.
    pub passive: bool,
    /// Cluster index.
    pub cluster: Option<usize>,
}

/// How an edge looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A PPC from `from` (the `pp` end) to `to`; notifications may come
    /// with it.
    Ppc,
    /// Notifications only.
    Notify,
    /// Shared memory only.
    Memory,
    /// A region node's map into a PD, or a device's link to its PD.
    Attach,
    /// Parent to child.
    Parent,
}

/// A line between two nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Node index.
    pub from: usize,
    /// Node index.
    pub to: usize,
    /// Style.
    pub style: Style,
    /// Arrowhead at `to`.
    pub head: bool,
    /// Arrowhead at `from`.
    pub tail: bool,
    /// Label lines.
    pub label: Vec<String>,
}

/// A group of nodes drawn in one box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Its title.
    pub title: String,
}

/// The picture's content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// Boxes.
    pub nodes: Vec<Node>,
    /// Lines.
    pub edges: Vec<Edge>,
    /// Groups.
    pub clusters: Vec<Cluster>,
    /// The system's name (its file).
    pub title: String,
}

/// `"rw"`, `"r"`, `"rx"` ...
pub fn perms(p: u8) -> String {
    let mut s = String::new();
    for (b, c) in [(PERM_R, 'r'), (PERM_W, 'w'), (PERM_X, 'x')] {
        if p & b != 0 {
            s.push(c);
        }
    }
    s
}

/// A size as `4 KiB`, `2 MiB`, or hex.
pub fn size(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n:#x} B")
    }
}

/// Build the graph of `sys`.
pub fn graph(sys: &System, title: &str) -> Graph {
    let mut g = Graph {
        title: title.to_string(),
        ..Default::default()
    };
    for c in &sys.composed {
        g.clusters.push(Cluster {
            title: format!(
                "{} '{}'",
                c.sub.kind.map_or("subsystem", Kind::tag),
                c.sub.name
            ),
        });
    }
    // Who maps each region, with what.
    let mut mappers: BTreeMap<&str, Vec<(usize, u8, bool)>> = BTreeMap::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        for m in &pd.maps {
            mappers
                .entry(&m.mr)
                .or_default()
                .push((i, m.perms, m.cached));
        }
    }
    let fixed = |mr: &str| {
        sys.mrs
            .iter()
            .find(|r| r.name == mr)
            .and_then(|r| r.phys_addr)
    };
    let mr_size = |mr: &str| sys.mrs.iter().find(|r| r.name == mr).map_or(0, |r| r.size);
    // PD nodes.
    for pd in &sys.pds {
        let mut lines = vec![format!(
            "priority {}{}",
            pd.priority,
            if pd.passive { ", passive" } else { "" }
        )];
        if let Some(pi) = &pd.program_image {
            lines.push(format!("program {}", pi.path));
        }
        if let Some(r) = pd.role {
            lines.push(format!("role {}", r.name()));
        }
        for m in &pd.maps {
            let n = mappers.get(m.mr.as_str()).map_or(0, Vec::len);
            if n == 1 && fixed(&m.mr).is_none() {
                lines.push(format!(
                    "private {} ({}, {})",
                    m.mr,
                    size(mr_size(&m.mr)),
                    perms(m.perms)
                ));
            }
        }
        g.nodes.push(Node {
            id: format!("pd:{}", pd.name),
            kind: NodeKind::Pd,
            title: pd.name.clone(),
            lines,
            priority: pd.priority,
            passive: pd.passive,
            cluster: pd.group,
        });
    }
    // Device nodes.
    for (i, pd) in sys.pds.iter().enumerate() {
        let mut lines = Vec::new();
        for p in &pd.ioports {
            lines.push(format!(
                "ports {:#x}-{:#x} (id {})",
                p.addr,
                p.addr as u32 + p.size - 1,
                p.id
            ));
        }
        for irq in &pd.irqs {
            lines.push(match irq.kind {
                IrqKind::IoApic { pin, level, .. } => format!(
                    "irq id {}: pin {pin} {}, vector {}",
                    irq.id,
                    if level { "level" } else { "edge" },
                    irq.vector
                ),
                IrqKind::Msi {
                    bus,
                    dev,
                    func,
                    handle,
                } => format!(
                    "irq id {}: MSI {bus:02x}:{dev:02x}.{func} #{handle}, vector {}",
                    irq.id, irq.vector
                ),
            });
        }
        for m in &pd.maps {
            let n = mappers.get(m.mr.as_str()).map_or(0, Vec::len);
            if let (1, Some(pa)) = (n, fixed(&m.mr)) {
                lines.push(format!(
                    "{} @ {pa:#x} ({}, {}{})",
                    m.mr,
                    size(mr_size(&m.mr)),
                    perms(m.perms),
                    if m.cached { "" } else { ", uncached" }
                ));
            }
        }
        if lines.is_empty() {
            continue;
        }
        g.nodes.push(Node {
            id: format!("dev:{}", pd.name),
            kind: NodeKind::Device,
            title: format!("devices of {}", pd.name),
            lines,
            priority: pd.priority,
            passive: false,
            cluster: pd.group,
        });
        let d = g.nodes.len() - 1;
        g.edges.push(Edge {
            from: d,
            to: i,
            style: Style::Attach,
            head: false,
            tail: false,
            label: Vec::new(),
        });
    }
    // Regions mapped by three or more PDs (or fixed and shared).
    for mr in &sys.mrs {
        let Some(ms) = mappers.get(mr.name.as_str()) else {
            continue;
        };
        let shared_fixed = ms.len() == 2 && mr.phys_addr.is_some();
        if ms.len() < 3 && !shared_fixed {
            continue;
        }
        let mut lines = vec![size(mr.size)];
        if let Some(pa) = mr.phys_addr {
            lines.push(format!("phys {pa:#x}"));
        }
        if mr.dma {
            lines.push("DMA".into());
        }
        g.nodes.push(Node {
            id: format!("mr:{}", mr.name),
            kind: NodeKind::Region,
            title: mr.name.clone(),
            lines,
            priority: ms.iter().map(|m| sys.pds[m.0].priority).max().unwrap_or(0),
            passive: false,
            cluster: None,
        });
        let r = g.nodes.len() - 1;
        for &(pd, p, cached) in ms {
            g.edges.push(Edge {
                from: r,
                to: pd,
                style: Style::Attach,
                head: false,
                tail: false,
                label: vec![format!("{}{}", perms(p), if cached { "" } else { " uc" })],
            });
        }
    }
    // One connection per pair of PDs.
    #[derive(Default)]
    struct Pair {
        ppc: Option<(usize, usize)>,
        notify_ab: bool,
        notify_ba: bool,
        label: Vec<String>,
    }
    let mut pairs: BTreeMap<(usize, usize), Pair> = BTreeMap::new();
    for ch in &sys.channels {
        let (Some(a), Some(b)) = (
            ch.ends.first().and_then(|e| sys.pd_index(&e.pd)),
            ch.ends.get(1).and_then(|e| sys.pd_index(&e.pd)),
        ) else {
            continue;
        };
        let (ea, eb) = (&ch.ends[0], &ch.ends[1]);
        let (lo, hi, el, eh) = if a < b {
            (a, b, ea, eb)
        } else {
            (b, a, eb, ea)
        };
        let p = pairs.entry((lo, hi)).or_default();
        if el.pp {
            p.ppc = Some((lo, hi));
        }
        if eh.pp {
            p.ppc = Some((hi, lo));
        }
        p.notify_ab |= el.notify;
        p.notify_ba |= eh.notify;
        let (nl, nh) = (&sys.pds[lo].name, &sys.pds[hi].name);
        let notes = match (el.notify, eh.notify) {
            (true, true) => ", notify both ways",
            (true, false) => ", notify ->",
            (false, true) => ", notify <-",
            (false, false) => "",
        };
        p.label.push(match (el.pp, eh.pp, el.notify, eh.notify) {
            (true, _, _, _) => format!("ppc {nl} id {} -> {nh} id {}{notes}", el.id, eh.id),
            (_, true, _, _) => format!(
                "ppc {nh} id {} -> {nl} id {}{}",
                eh.id,
                el.id,
                match (eh.notify, el.notify) {
                    (true, true) => ", notify both ways",
                    (true, false) => ", notify ->",
                    (false, true) => ", notify <-",
                    (false, false) => "",
                }
            ),
            (_, _, true, true) => {
                format!("notify both ways: {nl} id {} / {nh} id {}", el.id, eh.id)
            }
            (_, _, true, false) => format!("notify {nl} id {} -> {nh} id {}", el.id, eh.id),
            (_, _, false, true) => format!("notify {nh} id {} -> {nl} id {}", eh.id, el.id),
            _ => format!(
                "channel without signals: {nl} id {} / {nh} id {}",
                el.id, eh.id
            ),
        });
    }
    for (mr, ms) in &mappers {
        if ms.len() != 2 || fixed(mr).is_some() || ms[0].0 == ms[1].0 {
            continue;
        }
        let (x, y) = if ms[0].0 < ms[1].0 {
            (ms[0], ms[1])
        } else {
            (ms[1], ms[0])
        };
        let p = pairs.entry((x.0, y.0)).or_default();
        if p.label.is_empty() {
            p.label.push(format!(
                "memory: {} / {}",
                sys.pds[x.0].name, sys.pds[y.0].name
            ));
        }
        p.label.push(format!("{mr} {}|{}", perms(x.1), perms(y.1)));
    }
    for ((lo, hi), p) in pairs {
        let (from, to, style, head, tail) = match p.ppc {
            Some((caller, callee)) => (caller, callee, Style::Ppc, true, false),
            None if p.notify_ab || p.notify_ba => (lo, hi, Style::Notify, p.notify_ab, p.notify_ba),
            None => (lo, hi, Style::Memory, false, false),
        };
        g.edges.push(Edge {
            from,
            to,
            style,
            head,
            tail,
            label: p.label,
        });
    }
    for (i, pd) in sys.pds.iter().enumerate() {
        if let Some(parent) = pd.parent {
            g.edges.push(Edge {
                from: parent,
                to: i,
                style: Style::Parent,
                head: true,
                tail: false,
                label: vec![format!("child id {}", pd.child_id.unwrap_or(0))],
            });
        }
    }
    g
}

/// Check the SDF at `path` and draw it: DOT when `dot`, else SVG. Returns
/// the text and the check's warnings.
pub fn render_file(
    path: &Path,
    search_paths: &[PathBuf],
    dot: bool,
) -> Result<(String, Vec<Diagnostic>), Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::msg(&name, format!("cannot read system description: {e}")))?;
    let mut dirs = vec![path.parent().map(Into::into).unwrap_or_default()];
    dirs.extend(search_paths.iter().cloned());
    let (sys, d) = crate::sdf::load_bytes(&name, &bytes, &dirs)?;
    let title = path
        .file_name()
        .map_or(name.clone(), |f| f.to_string_lossy().into_owned());
    let g = graph(&sys, &title);
    let mut d = d.into_vec();
    let text = if dot {
        dot::write(&g)
    } else {
        let l = layout::layout(&g);
        d.extend(l.problems().into_iter().map(|p| Diagnostic {
            severity: Severity::Warning,
            file: name.clone(),
            pos: Pos::NONE,
            message: format!("diagram: {p} (the SVG is written anyway; please report this layout)"),
        }));
        svg::draw(&l)
    };
    Ok((text, d))
}
