//! The [`Graph`] as a self-contained SVG, laid out here (no Graphviz):
//!
//! - **Rows by priority**, highest on top: every PD sits in the row of its
//!   priority, its device node just right of it; regions shared by three or
//!   more PDs get a row just below the highest PD that maps them.
//! - **Columns by cluster**: each composed subsystem's members form one
//!   column block, boxed and titled; the other nodes share a last block.
//! - **Edges** are straight between rows and arched within a row (so they
//!   do not run through the boxes between), with arrowheads for PPC and
//!   notify directions and a label at the middle. A legend explains the
//!   line styles.
//!
//! The layout depends only on the graph, so output is byte-for-byte stable
//! (golden tests).

use super::{Graph, NodeKind, Style};
use std::collections::BTreeMap;
use std::fmt::Write;

const MARGIN: f64 = 24.0;
const GROUP_GAP: f64 = 48.0;
const NODE_GAP: f64 = 28.0;
const ROW_GAP: f64 = 110.0;
const LINE: f64 = 13.0;
const TITLE_H: f64 = 20.0;
const CLUSTER_PAD: f64 = 14.0;
const CLUSTER_TITLE: f64 = 18.0;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

fn text_w(s: &str, px: f64) -> f64 {
    s.chars().count() as f64 * px
}

#[derive(Clone, Copy, Default)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
    /// Area shared with `o`.
    fn overlap(&self, o: &Rect) -> f64 {
        let w = (self.x + self.w).min(o.x + o.w) - self.x.max(o.x);
        let h = (self.y + self.h).min(o.y + o.h) - self.y.max(o.y);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }
    fn contains(&self, x: f64, y: f64, pad: f64) -> bool {
        x > self.x - pad
            && x < self.x + self.w + pad
            && y > self.y - pad
            && y < self.y + self.h + pad
    }
    /// Where the ray from the centre towards (tx, ty) leaves the box.
    fn exit(&self, tx: f64, ty: f64) -> (f64, f64) {
        let (dx, dy) = (tx - self.cx(), ty - self.cy());
        if dx == 0.0 && dy == 0.0 {
            return (self.cx(), self.cy());
        }
        let sx = if dx != 0.0 {
            (self.w / 2.0) / dx.abs()
        } else {
            f64::INFINITY
        };
        let sy = if dy != 0.0 {
            (self.h / 2.0) / dy.abs()
        } else {
            f64::INFINITY
        };
        let s = sx.min(sy);
        (self.cx() + dx * s, self.cy() + dy * s)
    }
}

/// Row key: priority (descending), then PDs/devices before regions.
fn row_key(g: &Graph, i: usize) -> (std::cmp::Reverse<u8>, u8) {
    let n = &g.nodes[i];
    (
        std::cmp::Reverse(n.priority),
        u8::from(n.kind == NodeKind::Region),
    )
}

/// Lay out `g`: each node's box, and each cluster's box.
fn layout(g: &Graph) -> (Vec<Rect>, Vec<Option<Rect>>, f64, f64) {
    let n = g.nodes.len();
    let mut r = vec![Rect::default(); n];
    for (i, node) in g.nodes.iter().enumerate() {
        let w = node
            .lines
            .iter()
            .map(|l| text_w(l, 6.0))
            .fold(text_w(&node.title, 7.2), f64::max)
            + 20.0;
        r[i].w = w.max(120.0).round();
        r[i].h = (TITLE_H + LINE * node.lines.len() as f64 + 10.0).round();
    }
    // A device node follows its PD.
    let pd_of_device = |i: usize| -> Option<usize> {
        let id = g.nodes[i].id.strip_prefix("dev:")?;
        g.nodes.iter().position(|m| m.id == format!("pd:{id}"))
    };
    // Groups: clusters in order, then the rest.
    let groups: Vec<Option<usize>> = (0..g.clusters.len())
        .map(Some)
        .chain(std::iter::once(None))
        .collect();
    let rows: Vec<(std::cmp::Reverse<u8>, u8)> = {
        let mut k: Vec<_> = (0..n).map(|i| row_key(g, i)).collect();
        k.sort();
        k.dedup();
        k
    };
    let row_of = |i: usize| rows.iter().position(|k| *k == row_key(g, i)).unwrap_or(0);
    let mut row_h = vec![0.0f64; rows.len()];
    for (i, rect) in r.iter().enumerate() {
        let ri = row_of(i);
        row_h[ri] = row_h[ri].max(rect.h);
    }
    let has_clusters = !g.clusters.is_empty();
    let mut row_y = Vec::with_capacity(rows.len());
    let mut y = MARGIN
        + 28.0
        + if has_clusters {
            CLUSTER_TITLE + CLUSTER_PAD
        } else {
            0.0
        };
    for h in &row_h {
        row_y.push(y);
        y += h + ROW_GAP;
    }
    let mut x = MARGIN;
    let mut clusters = vec![None; g.clusters.len()];
    for grp in groups {
        // Node order in this group, per row.
        let mut per_row: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            if g.nodes[i].cluster != grp || g.nodes[i].kind == NodeKind::Device {
                continue;
            }
            per_row.entry(row_of(i)).or_default().push(i);
            if g.nodes[i].kind == NodeKind::Pd {
                if let Some(d) = (0..n)
                    .find(|&d| g.nodes[d].kind == NodeKind::Device && pd_of_device(d) == Some(i))
                {
                    per_row.entry(row_of(i)).or_default().push(d);
                }
            }
        }
        if per_row.is_empty() {
            continue;
        }
        let pad = if grp.is_some() { CLUSTER_PAD } else { 0.0 };
        let mut width: f64 = 0.0;
        for (ri, ids) in &per_row {
            let mut cx = x + pad;
            for &i in ids {
                r[i].x = cx;
                r[i].y = row_y[*ri] + (row_h[*ri] - r[i].h) / 2.0;
                cx += r[i].w + NODE_GAP;
            }
            width = width.max(cx - NODE_GAP - x - pad);
        }
        // Centre each row in the group.
        for ids in per_row.values() {
            let used: f64 = ids.iter().map(|&i| r[i].w).sum::<f64>()
                + NODE_GAP * (ids.len().saturating_sub(1)) as f64;
            let shift = ((width - used) / 2.0).round();
            for &i in ids {
                r[i].x += shift;
            }
        }
        if let Some(c) = grp {
            let ids: Vec<usize> = per_row.values().flatten().copied().collect();
            let top = ids.iter().map(|&i| r[i].y).fold(f64::MAX, f64::min);
            let bottom = ids.iter().map(|&i| r[i].y + r[i].h).fold(0.0, f64::max);
            let title_w = text_w(&g.clusters[c].title, 6.6) + 2.0 * pad;
            let w = (width + 2.0 * pad).max(title_w);
            clusters[c] = Some(Rect {
                x,
                y: top - pad - CLUSTER_TITLE,
                w,
                h: bottom - top + 2.0 * pad + CLUSTER_TITLE,
            });
            width = w - 2.0 * pad;
        }
        x += width + 2.0 * pad + GROUP_GAP;
    }
    let total_w = (x - GROUP_GAP + MARGIN).max(920.0);
    let total_h = y - ROW_GAP + MARGIN;
    (r, clusters, total_w, total_h)
}

/// The control point of the quadratic curve from node `a` to node `b`:
/// the straight line if it crosses no other box, else the first bend (to
/// either side, further and further) that crosses the fewest.
fn route(r: &[Rect], a: usize, b: usize) -> (f64, f64) {
    let (ra, rb) = (r[a], r[b]);
    let (x1, y1, x2, y2) = (ra.cx(), ra.cy(), rb.cx(), rb.cy());
    let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
    let (dx, dy) = (x2 - x1, y2 - y1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (nx, ny) = (-dy / len, dx / len);
    let hits = |cx: f64, cy: f64| -> usize {
        let mut n = 0;
        for k in 1..40 {
            let t = k as f64 / 40.0;
            let u = 1.0 - t;
            let (px, py) = (
                u * u * x1 + 2.0 * u * t * cx + t * t * x2,
                u * u * y1 + 2.0 * u * t * cy + t * t * y2,
            );
            n += r
                .iter()
                .enumerate()
                .filter(|&(i, o)| i != a && i != b && o.contains(px, py, 6.0))
                .count();
        }
        n
    };
    let mut best = (hits(mx, my), (mx, my));
    if best.0 == 0 {
        return best.1;
    }
    for k in 1..=8 {
        for side in [1.0, -1.0] {
            let off = side * 70.0 * k as f64;
            let c = (mx + nx * off, my + ny * off);
            let h = hits(c.0, c.1);
            if h < best.0 {
                best = (h, c);
            }
            if h == 0 {
                return c;
            }
        }
    }
    best.1
}

fn style_of(s: Style) -> (&'static str, &'static str, f64) {
    match s {
        Style::Ppc => ("#223366", "", 1.8),
        Style::Notify => ("#aa3322", "6,4", 1.2),
        Style::Memory => ("#777777", "2,3", 1.2),
        Style::Attach => ("#999999", "", 1.0),
        Style::Parent => ("#226622", "2,3", 1.2),
    }
}

fn marker(s: Style) -> &'static str {
    match s {
        Style::Ppc => "a-ppc",
        Style::Notify => "a-notify",
        _ => "a-other",
    }
}

/// Render `g` as SVG.
pub fn write(g: &Graph) -> String {
    let (r, clusters, w, h) = layout(g);
    let legend_h = 70.0;
    let (w, h) = (w.round(), (h + legend_h).round());
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"Helvetica, Arial, DejaVu Sans, sans-serif\">"
    );
    let _ = writeln!(o, "<!-- Generated by `mantle diagram`. -->");
    let _ = writeln!(o, "<defs>");
    for (id, color) in [
        ("a-ppc", "#223366"),
        ("a-notify", "#aa3322"),
        ("a-other", "#226622"),
    ] {
        let _ = writeln!(
            o,
            "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{color}\"/></marker>"
        );
    }
    let _ = writeln!(o, "</defs>");
    let _ = writeln!(o, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let _ = writeln!(
        o,
        "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        MARGIN + 6.0,
        esc(&g.title)
    );
    for (c, rect) in clusters.iter().enumerate() {
        let Some(b) = rect else { continue };
        let _ = writeln!(
            o,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\" fill=\"#f4f7fc\" stroke=\"#5577aa\"/>",
            b.x, b.y, b.w, b.h
        );
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#5577aa\" font-weight=\"bold\">{}</text>",
            b.x + CLUSTER_PAD,
            b.y + 14.0,
            esc(&g.clusters[c].title)
        );
    }
    // Edges under nodes; labels over everything.
    let mut labels = String::new();
    let mut placed: Vec<Rect> = Vec::new();
    for e in &g.edges {
        let (a, b) = (r[e.from], r[e.to]);
        let (color, dash, width) = style_of(e.style);
        let (cx, cy) = route(&r, e.from, e.to);
        let (x1, y1) = a.exit(cx, cy);
        let (x2, y2) = b.exit(cx, cy);
        let mut attrs = format!("fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"");
        if !dash.is_empty() {
            let _ = write!(attrs, " stroke-dasharray=\"{dash}\"");
        }
        if e.head {
            let _ = write!(attrs, " marker-end=\"url(#{})\"", marker(e.style));
        }
        if e.tail {
            let _ = write!(attrs, " marker-start=\"url(#{})\"", marker(e.style));
        }
        let _ = writeln!(
            o,
            "<path d=\"M{x1:.1},{y1:.1} Q{cx:.1},{cy:.1} {x2:.1},{y2:.1}\" {attrs}/>"
        );
        if e.label.is_empty() {
            continue;
        }
        let lw = e.label.iter().map(|l| text_w(l, 5.0)).fold(0.0, f64::max) + 8.0;
        let lh = 11.0 * e.label.len() as f64 + 4.0;
        let at = |t: f64| {
            let u = 1.0 - t;
            (
                u * u * x1 + 2.0 * u * t * cx + t * t * x2,
                u * u * y1 + 2.0 * u * t * cy + t * t * y2,
            )
        };
        // The first spot along the line where the label covers no box and
        // no earlier label.
        let mut best = (f64::MAX, at(0.5));
        for t in [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78] {
            let (lx, ly) = at(t);
            let me = Rect {
                x: lx - lw / 2.0,
                y: ly - lh / 2.0,
                w: lw,
                h: lh,
            };
            let cost: f64 = r.iter().chain(placed.iter()).map(|o| me.overlap(o)).sum();
            if cost < best.0 {
                best = (cost, (lx, ly));
            }
            if cost == 0.0 {
                break;
            }
        }
        let (lx, ly) = best.1;
        placed.push(Rect {
            x: lx - lw / 2.0,
            y: ly - lh / 2.0,
            w: lw,
            h: lh,
        });
        let _ = writeln!(
            labels,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{lw:.1}\" height=\"{lh:.1}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"{color}\" stroke-width=\"0.4\"/>",
            lx - lw / 2.0,
            ly - lh / 2.0
        );
        for (k, l) in e.label.iter().enumerate() {
            let _ = writeln!(
                labels,
                "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"8.5\" text-anchor=\"middle\" fill=\"{color}\">{}</text>",
                ly - lh / 2.0 + 11.0 * (k as f64 + 1.0) - 1.0,
                esc(l)
            );
        }
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let b = r[i];
        let (fill, stroke, dash, rx) = match n.kind {
            NodeKind::Pd if n.passive => ("#eef4ff", "#223366", " stroke-dasharray=\"5,3\"", 8),
            NodeKind::Pd => ("#eef4ff", "#223366", "", 8),
            NodeKind::Region => ("#fff6dd", "#aa8833", "", 2),
            NodeKind::Device => ("#eeeeee", "#666666", "", 0),
        };
        let _ = writeln!(
            o,
            "<g id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.2\"{dash}/>",
            esc(&n.id),
            b.x,
            b.y,
            b.w,
            b.h
        );
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>",
            b.cx(),
            b.y + 15.0,
            esc(&n.title)
        );
        for (k, l) in n.lines.iter().enumerate() {
            let _ = writeln!(
                o,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333333\">{}</text>",
                b.cx(),
                b.y + TITLE_H + 9.0 + LINE * k as f64,
                esc(l)
            );
        }
        let _ = writeln!(o, "</g>");
    }
    o.push_str(&labels);
    // Legend.
    let ly = h - MARGIN - 4.0;
    let mut lx = MARGIN;
    for (name, style, head) in [
        ("PPC (caller to callee)", Style::Ppc, true),
        ("notify", Style::Notify, true),
        ("shared memory only", Style::Memory, false),
        ("map / device", Style::Attach, false),
        ("parent to child", Style::Parent, true),
    ] {
        let (color, dash, width) = style_of(style);
        let mut attrs = format!("stroke=\"{color}\" stroke-width=\"{width}\"");
        if !dash.is_empty() {
            let _ = write!(attrs, " stroke-dasharray=\"{dash}\"");
        }
        if head {
            let _ = write!(attrs, " marker-end=\"url(#{})\"", marker(style));
        }
        let _ = writeln!(
            o,
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" {attrs}/>",
            lx + 34.0
        );
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\">{name}</text>",
            lx + 40.0,
            ly + 3.5
        );
        lx += 40.0 + text_w(name, 5.6) + 22.0;
    }
    let _ = writeln!(
        o,
        "<text x=\"{lx}\" y=\"{}\" font-size=\"10\" fill=\"#555555\">dashed box: passive PD</text>",
        ly + 3.5
    );
    let _ = writeln!(o, "</svg>");
    o
}
