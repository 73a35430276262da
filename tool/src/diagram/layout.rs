//! Where everything in the SVG goes, and a check that the result is
//! readable.
//!
//! - **Rows by priority**, highest on top: every PD sits in the row of its
//!   priority, its device node just right of it; regions shared by three or
//!   more PDs get a row just below the highest PD that maps them.
//! - **Columns by cluster**: each composed subsystem's members form one
//!   column block, boxed and titled; the other nodes share a last block.
//!   Within a row, nodes are ordered by where their neighbours are.
//! - **Lines are orthogonal** and routed one by one on a grid of lanes that
//!   keep clear of every box (a shortest path that pays for bends, for
//!   crossing another line and much more for running along one). A line
//!   leaves and enters its boxes at right angles; it may cross only the
//!   subsystem boxes of its own ends.
//! - **Labels** sit on their line where they cover no box, no other label
//!   and no subsystem border, preferring spots that hide no other line.
//!   Long label lines are broken after `: ` or `, `.
//! - **The check**: [`Layout::problems`] lists every line that passes
//!   through a box it does not connect and every pair of texts whose
//!   estimated extents ([`text_width`]) overlap. When a layout has
//!   problems, the next attempt spreads the rows and columns further; the
//!   first attempt without problems (else the one with the fewest) is kept.
//!
//! Everything depends only on the graph, so output is byte-for-byte stable
//! (golden tests).

use super::{Graph, NodeKind, Style};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// A polyline.
type Points = Vec<(f64, f64)>;

/// Space around the picture.
pub const MARGIN: f64 = 24.0;
/// A line's lanes run this far from the boxes beside them.
const LANE_GAP: f64 = 10.0;
/// A line keeps at least this far from a box it does not end at.
const CLEAR: f64 = 5.0;
/// Lanes are about this far apart in open space.
const LANE: f64 = 14.0;
/// At most this many lanes are added between two neighbouring ones.
const MAX_LANES: usize = 8;
/// A line meets a box no closer than this to its corner.
const PORT_INSET: f64 = 10.0;
const ROW_GAP: f64 = 90.0;
const NODE_GAP: f64 = 40.0;
const GROUP_GAP: f64 = 60.0;
const CLUSTER_PAD: f64 = 22.0;
const CLUSTER_TITLE: f64 = 18.0;
const TITLE_H: f64 = 20.0;
const LINE_H: f64 = 13.0;
const LABEL_SIZE: f64 = 8.5;
const LABEL_LINE: f64 = 11.0;
/// Label lines longer than this are broken after `: ` or `, `.
const LABEL_WRAP: usize = 30;
/// How often a layout is spread further before the best one is kept.
const ATTEMPTS: usize = 7;

/// The estimated width of `s` at font size `size`: the fonts the SVG names
/// (Helvetica, Arial, DejaVu Sans) average at most 0.6 em a character for
/// this text, 0.68 em in bold.
pub fn text_width(s: &str, size: f64, bold: bool) -> f64 {
    s.chars().count() as f64 * size * if bold { 0.68 } else { 0.6 }
}

/// An axis-parallel rectangle.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    /// Horizontal centre.
    pub fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    /// Vertical centre.
    pub fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
    /// `d` larger on every side.
    pub fn grow(&self, d: f64) -> Rect {
        Rect {
            x: self.x - d,
            y: self.y - d,
            w: self.w + 2.0 * d,
            h: self.h + 2.0 * d,
        }
    }
    /// Do the interiors meet?
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }
    /// Is `o` inside (edges may touch)?
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.right() <= self.right() && o.bottom() <= self.bottom()
    }
    /// Is the point strictly inside?
    fn has(&self, (x, y): (f64, f64)) -> bool {
        x > self.x && x < self.right() && y > self.y && y < self.bottom()
    }
    /// Does the segment from `a` to `b` pass through the interior?
    /// (Touching an edge or a corner does not count.)
    pub fn cut_by(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, a.0 - self.x),
            (dx, self.right() - a.0),
            (-dy, a.1 - self.y),
            (dy, self.bottom() - a.1),
        ] {
            if p == 0.0 {
                if q <= 0.0 {
                    return false;
                }
            } else if p < 0.0 {
                t0 = t0.max(q / p);
            } else {
                t1 = t1.min(q / p);
            }
        }
        t0 < t1
    }
}

/// One line of text.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    /// Anchor x: the start, or the middle when `middle`.
    pub x: f64,
    /// Baseline.
    pub y: f64,
    /// Font size.
    pub size: f64,
    /// Bold.
    pub bold: bool,
    /// Centred on `x`.
    pub middle: bool,
    /// Colour.
    pub color: &'static str,
    /// What it says.
    pub text: String,
    /// Whose it is, for messages (`PD 'uart'`, `the legend`).
    pub owner: String,
    /// The node whose box it is written in.
    pub node: Option<usize>,
}

impl Text {
    /// Its estimated extent: [`text_width`] wide, from 0.8 em above the
    /// baseline to 0.25 em below.
    pub fn rect(&self) -> Rect {
        let w = text_width(&self.text, self.size, self.bold);
        Rect {
            x: if self.middle {
                self.x - w / 2.0
            } else {
                self.x
            },
            y: self.y - 0.8 * self.size,
            w,
            h: 1.05 * self.size,
        }
    }
}

/// A node's box.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeBox {
    /// Where.
    pub rect: Rect,
    /// The node's id.
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// A passive PD.
    pub passive: bool,
    /// Its cluster.
    pub cluster: Option<usize>,
    /// How messages name it (`PD 'uart'`).
    pub name: String,
}

/// A subsystem's box.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterBox {
    /// Where.
    pub rect: Rect,
    /// How messages name it.
    pub name: String,
}

/// A line's label: a white box with text on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// The box.
    pub rect: Rect,
    /// Its lines.
    pub lines: Vec<Text>,
}

/// A line between two nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Node index.
    pub from: usize,
    /// Node index.
    pub to: usize,
    /// How it looks.
    pub style: Style,
    /// Arrowhead at `to`.
    pub head: bool,
    /// Arrowhead at `from`.
    pub tail: bool,
    /// The polyline, from `from`'s border to `to`'s.
    pub points: Vec<(f64, f64)>,
    /// Its label.
    pub label: Option<Label>,
}

/// A legend entry's sample line: its left end, style and arrowhead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Left end.
    pub x: f64,
    /// Height.
    pub y: f64,
    /// Style.
    pub style: Style,
    /// With an arrowhead.
    pub head: bool,
}

/// The whole picture, ready to draw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// Canvas width.
    pub width: f64,
    /// Canvas height.
    pub height: f64,
    /// One per node.
    pub nodes: Vec<NodeBox>,
    /// One per cluster (`None` for a cluster without members).
    pub clusters: Vec<Option<ClusterBox>>,
    /// One per edge.
    pub lines: Vec<Line>,
    /// Every text but the labels': the title, cluster titles, node texts
    /// and the legend.
    pub texts: Vec<Text>,
    /// The legend's sample lines.
    pub samples: Vec<Sample>,
}

impl Layout {
    fn line_name(&self, l: &Line) -> String {
        format!(
            "the line between {} and {}",
            self.nodes[l.from].name, self.nodes[l.to].name
        )
    }

    /// Everything that makes the picture hard to read, one sentence each:
    /// a line through a box or subsystem box it does not connect, a label
    /// covering a box, overlapping texts or labels, anything outside the
    /// canvas.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let canvas = Rect {
            x: 0.0,
            y: 0.0,
            w: self.width,
            h: self.height,
        };
        for l in &self.lines {
            let name = self.line_name(l);
            let segs: Vec<_> = l.points.windows(2).map(|s| (s[0], s[1])).collect();
            for (i, n) in self.nodes.iter().enumerate() {
                if i != l.from && i != l.to && segs.iter().any(|&(a, b)| n.rect.cut_by(a, b)) {
                    out.push(format!("{name} passes through {}", n.name));
                }
            }
            let ends = [self.nodes[l.from].cluster, self.nodes[l.to].cluster];
            for (c, b) in self.clusters.iter().enumerate() {
                let Some(b) = b else { continue };
                if !ends.contains(&Some(c)) && segs.iter().any(|&(p, q)| b.rect.cut_by(p, q)) {
                    out.push(format!("{name} crosses the box of {}", b.name));
                }
            }
            if l.points.iter().any(|&(x, y)| {
                !canvas.contains(&Rect {
                    x,
                    y,
                    w: 0.0,
                    h: 0.0,
                })
            }) {
                out.push(format!("{name} runs off the picture"));
            }
        }
        // Every text and label, as its extent and a description.
        let mut items: Vec<(Rect, String, Option<usize>)> = self
            .texts
            .iter()
            .map(|t| {
                (
                    t.rect(),
                    format!("text '{}' of {}", t.text, t.owner),
                    t.node,
                )
            })
            .collect();
        for l in &self.lines {
            if let Some(lb) = &l.label {
                let first = lb.lines.first().map_or("", |t| t.text.as_str());
                items.push((
                    lb.rect,
                    format!("the label '{first}' of {}", self.line_name(l)),
                    None,
                ));
                for t in &lb.lines {
                    if !lb.rect.contains(&t.rect()) {
                        out.push(format!("text '{}' sticks out of its label", t.text));
                    }
                }
            }
        }
        for (k, (r, what, node)) in items.iter().enumerate() {
            for (o, owhat, _) in &items[k + 1..] {
                if r.overlaps(o) {
                    out.push(format!("{what} overlaps {owhat}"));
                }
            }
            for (i, n) in self.nodes.iter().enumerate() {
                if *node == Some(i) {
                    if !n.rect.contains(r) {
                        out.push(format!("{what} sticks out of its box"));
                    }
                } else if r.overlaps(&n.rect) {
                    out.push(format!("{what} covers {}", n.name));
                }
            }
            if !canvas.contains(r) {
                out.push(format!("{what} sticks out of the picture"));
            }
        }
        out
    }
}

impl Layout {
    /// How many times a label hides part of another line.
    pub fn hidden(&self) -> usize {
        let mut n = 0;
        for (k, l) in self.lines.iter().enumerate() {
            let Some(lb) = &l.label else { continue };
            for (o, m) in self.lines.iter().enumerate() {
                if o != k {
                    n += m
                        .points
                        .windows(2)
                        .filter(|s| lb.rect.cut_by(s[0], s[1]))
                        .count();
                }
            }
        }
        n
    }
}

/// How messages name node `i`.
fn node_name(g: &Graph, i: usize) -> String {
    let n = &g.nodes[i];
    match n.kind {
        NodeKind::Pd => format!("PD '{}'", n.title),
        NodeKind::Region => format!("region '{}'", n.title),
        NodeKind::Device => format!("the box '{}'", n.title),
    }
}

/// Label lines, long ones broken after `: ` or `, `.
fn wrap(line: &str) -> Vec<String> {
    if line.chars().count() > LABEL_WRAP {
        for sep in [": ", ", "] {
            if let Some(i) = line.find(sep) {
                let (a, b) = line.split_at(i + sep.len());
                let mut v = wrap(a.trim_end());
                v.extend(wrap(b));
                return v;
            }
        }
    }
    vec![line.to_string()]
}

/// Lay `g` out: the first attempt without problems, else the one with the
/// fewest.
pub fn layout(g: &Graph) -> Layout {
    let mut best: Option<((usize, usize), Layout)> = None;
    for k in 0..ATTEMPTS {
        let l = attempt(g, 1.0 + 0.4 * k as f64);
        let n = (l.problems().len(), l.hidden());
        if n == (0, 0) {
            return l;
        }
        if best.as_ref().is_none_or(|(b, _)| n < *b) {
            best = Some((n, l));
        }
    }
    best.map(|b| b.1).unwrap_or_default()
}

/// Row key: priority (descending), then PDs/devices before regions.
fn row_key(g: &Graph, i: usize) -> (Reverse<u8>, u8) {
    let n = &g.nodes[i];
    (Reverse(n.priority), u8::from(n.kind == NodeKind::Region))
}

/// Node boxes (placed, spread by `s`) and cluster boxes.
fn place(g: &Graph, s: f64) -> (Vec<Rect>, Vec<Option<Rect>>) {
    let n = g.nodes.len();
    let mut r = vec![Rect::default(); n];
    for (i, node) in g.nodes.iter().enumerate() {
        let w = node
            .lines
            .iter()
            .map(|l| text_width(l, 10.0, false))
            .fold(text_width(&node.title, 12.0, true), f64::max)
            + 20.0;
        r[i].w = w.max(110.0).round();
        r[i].h = (TITLE_H + LINE_H * node.lines.len() as f64 + 10.0).round();
    }
    let mut rows: Vec<_> = (0..n).map(|i| row_key(g, i)).collect();
    rows.sort();
    rows.dedup();
    let row_of = |i: usize| rows.binary_search(&row_key(g, i)).unwrap_or(0);
    let mut row_h = vec![0.0f64; rows.len()];
    for (i, b) in r.iter().enumerate() {
        row_h[row_of(i)] = row_h[row_of(i)].max(b.h);
    }
    let mut row_y = Vec::new();
    let mut y = CLUSTER_TITLE + CLUSTER_PAD;
    for h in &row_h {
        row_y.push(y);
        y += h + ROW_GAP * s;
    }
    // A device node follows its PD.
    let device_of = |pd: usize| {
        let name = g.nodes[pd].id.strip_prefix("pd:")?;
        g.nodes.iter().position(|m| m.id == format!("dev:{name}"))
    };
    // Neighbours, for ordering within a row.
    let mut nbrs = vec![Vec::new(); n];
    for e in &g.edges {
        nbrs[e.from].push(e.to);
        nbrs[e.to].push(e.from);
    }
    let groups = (0..g.clusters.len()).map(Some).chain([None]);
    let mut clusters = vec![None; g.clusters.len()];
    let mut x = 0.0;
    let mut order: Vec<f64> = (0..n).map(|i| i as f64).collect();
    for grp in groups {
        let mut per_row: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            if g.nodes[i].cluster == grp && g.nodes[i].kind != NodeKind::Device {
                per_row.entry(row_of(i)).or_default().push(i);
            }
        }
        if per_row.is_empty() {
            continue;
        }
        // Order each row by the mean position of its nodes' neighbours in
        // the rows above (the first row keeps the graph's order).
        for ids in per_row.values_mut() {
            let key = |i: usize| {
                let above: Vec<f64> = nbrs[i]
                    .iter()
                    .filter(|&&m| row_of(m) < row_of(i) && g.nodes[m].cluster == grp)
                    .map(|&m| order[m])
                    .collect();
                if above.is_empty() {
                    i as f64
                } else {
                    above.iter().sum::<f64>() / above.len() as f64
                }
            };
            let mut keyed: Vec<(f64, usize)> = ids.iter().map(|&i| (key(i), i)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            *ids = keyed.iter().map(|k| k.1).collect();
            for (k, &i) in ids.iter().enumerate() {
                order[i] = k as f64;
            }
            let with_devices: Vec<usize> = ids
                .iter()
                .flat_map(|&i| std::iter::once(i).chain(device_of(i)))
                .collect();
            *ids = with_devices;
        }
        let pad = if grp.is_some() { CLUSTER_PAD } else { 0.0 };
        let used = |r: &[Rect], ids: &[usize]| {
            ids.iter().map(|&i| r[i].w).sum::<f64>()
                + NODE_GAP * s * ids.len().saturating_sub(1) as f64
        };
        let mut width = per_row
            .values()
            .map(|ids| used(&r, ids))
            .fold(0.0, f64::max);
        if let Some(c) = grp {
            width = width.max(text_width(&g.clusters[c].title, 11.0, true) + 20.0 - 2.0 * pad);
        }
        for (ri, ids) in &per_row {
            let mut cx = x + pad + ((width - used(&r, ids)) / 2.0).round();
            for &i in ids {
                r[i].x = cx;
                r[i].y = row_y[*ri] + ((row_h[*ri] - r[i].h) / 2.0).round();
                cx += r[i].w + NODE_GAP * s;
            }
        }
        if let Some(c) = grp {
            let ids = per_row.values().flatten();
            let top = ids.clone().map(|&i| r[i].y).fold(f64::MAX, f64::min);
            let bottom = ids.map(|&i| r[i].bottom()).fold(0.0, f64::max);
            clusters[c] = Some(Rect {
                x,
                y: top - pad - CLUSTER_TITLE,
                w: width + 2.0 * pad,
                h: bottom - top + 2.0 * pad + CLUSTER_TITLE,
            });
        }
        x += width + 2.0 * pad + GROUP_GAP * s;
    }
    (r, clusters)
}

/// Directions on the grid: right, left, down, up.
const DIRS: [(i64, i64); 4] = [(1, 0), (-1, 0), (0, 1), (0, -1)];
const H_USED: u8 = 1;
const V_USED: u8 = 2;
const ENDS: u8 = 4;
/// Costs in tenths of a pixel of line length.
const BEND: u64 = 1_200;
const CROSS: u64 = 600;
const BORDER: u64 = 2_000;
const NEAR: u64 = 3_000;
const TOUCH: u64 = 50_000;
const ALONG: u64 = 100_000;

/// The lanes lines run in, and what earlier lines use.
struct Grid {
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// Per step to the right of / below each point: lines using it.
    h_used: Vec<u8>,
    v_used: Vec<u8>,
    /// Per point: `H_USED`, `V_USED`, `ENDS` (a bend or an end).
    at: Vec<u8>,
}

/// Sorted lane coordinates: every `must` value, `may` values not within
/// 4 px of another, and extra lanes in wide gaps.
fn lanes(must: Vec<f64>, may: Vec<f64>) -> Vec<f64> {
    let mut all: Vec<(f64, bool)> = must.into_iter().map(|v| (v, true)).collect();
    all.extend(may.into_iter().map(|v| (v, false)));
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut kept: Vec<(f64, bool)> = Vec::new();
    for (v, must) in all {
        match kept.last_mut() {
            Some(last) if v - last.0 < 4.0 && !must => {}
            Some(last) if v - last.0 < 4.0 && !last.1 => *last = (v, true),
            Some(last) if v == last.0 => {}
            _ => kept.push((v, must)),
        }
    }
    let mut out = Vec::new();
    for (k, &(v, _)) in kept.iter().enumerate() {
        out.push(v);
        if let Some(&(next, _)) = kept.get(k + 1) {
            let extra = ((next - v) / LANE) as usize;
            let extra = extra.saturating_sub(1).min(MAX_LANES);
            for j in 1..=extra {
                out.push(v + (next - v) * j as f64 / (extra + 1) as f64);
            }
        }
    }
    out
}

impl Grid {
    fn new(nodes: &[Rect], clusters: &[Rect]) -> Grid {
        let (mut mx, mut my) = (Vec::new(), Vec::new());
        let all = nodes.iter().chain(clusters);
        for b in all.clone() {
            mx.extend([b.x - LANE_GAP, b.right() + LANE_GAP]);
            my.extend([b.y - LANE_GAP, b.bottom() + LANE_GAP]);
        }
        for b in clusters {
            mx.extend([b.x + LANE_GAP, b.right() - LANE_GAP]);
            my.extend([b.y + LANE_GAP, b.bottom() - LANE_GAP]);
        }
        let lo = |v: &Vec<f64>| v.iter().copied().fold(f64::MAX, f64::min);
        let hi = |v: &Vec<f64>| v.iter().copied().fold(f64::MIN, f64::max);
        let (x0, x1, y0, y1) = (lo(&mx), hi(&mx), lo(&my), hi(&my));
        mx.extend([x0 - 2.0 * LANE, x1 + 2.0 * LANE]);
        my.extend([y0 - 2.0 * LANE, y1 + 2.0 * LANE]);
        let centres_x = nodes.iter().map(Rect::cx).collect();
        let centres_y = nodes.iter().map(Rect::cy).collect();
        let xs = lanes(mx, centres_x);
        let ys = lanes(my, centres_y);
        let n = xs.len() * ys.len();
        Grid {
            xs,
            ys,
            h_used: vec![0; n],
            v_used: vec![0; n],
            at: vec![0; n],
        }
    }

    fn pt(&self, p: usize) -> (f64, f64) {
        (self.xs[p % self.xs.len()], self.ys[p / self.xs.len()])
    }

    /// The neighbour of `p` in direction `d`, and the index of the step
    /// there (in `h_used` or `v_used`).
    fn step(&self, p: usize, d: usize) -> Option<(usize, usize)> {
        let nx = self.xs.len();
        let (ix, iy) = ((p % nx) as i64, (p / nx) as i64);
        let (jx, jy) = (ix + DIRS[d].0, iy + DIRS[d].1);
        if jx < 0 || jy < 0 || jx >= nx as i64 || jy >= self.ys.len() as i64 {
            return None;
        }
        let q = jy as usize * nx + jx as usize;
        Some((q, p.min(q)))
    }

    fn used(&self, d: usize, s: usize) -> u8 {
        if d < 2 {
            self.h_used[s]
        } else {
            self.v_used[s]
        }
    }

    /// Points just outside `b` where a line may leave or enter it, each
    /// with the outward direction.
    fn ports(&self, b: &Rect) -> Vec<(usize, usize)> {
        let nx = self.xs.len();
        let find = |v: &[f64], t: f64| v.iter().position(|&c| c == t);
        let mut out = Vec::new();
        let inside_x = |x: f64| x > b.x + PORT_INSET && x < b.right() - PORT_INSET;
        let inside_y = |y: f64| y > b.y + PORT_INSET / 2.0 && y < b.bottom() - PORT_INSET / 2.0;
        for (ix, _) in self.xs.iter().enumerate().filter(|x| inside_x(*x.1)) {
            if let Some(iy) = find(&self.ys, b.y - LANE_GAP) {
                out.push((iy * nx + ix, 3));
            }
            if let Some(iy) = find(&self.ys, b.bottom() + LANE_GAP) {
                out.push((iy * nx + ix, 2));
            }
        }
        for (iy, _) in self.ys.iter().enumerate().filter(|y| inside_y(*y.1)) {
            if let Some(ix) = find(&self.xs, b.x - LANE_GAP) {
                out.push((iy * nx + ix, 1));
            }
            if let Some(ix) = find(&self.xs, b.right() + LANE_GAP) {
                out.push((iy * nx + ix, 0));
            }
        }
        out
    }

    /// The cheapest path from a port of `from` to a port of `to` that
    /// stays clear of `walls`; crossing a `borders` edge costs extra.
    /// Grid points, first to last.
    fn route(
        &self,
        from: &Rect,
        to: &Rect,
        walls: &[Rect],
        borders: &[Rect],
    ) -> Option<Vec<usize>> {
        let n = self.xs.len() * self.ys.len();
        let walls: Vec<Rect> = walls.iter().map(|w| w.grow(CLEAR)).collect();
        let free = |p: usize| !walls.iter().any(|w| w.has(self.pt(p)));
        let blocked = |p: usize, q: usize| walls.iter().any(|w| w.cut_by(self.pt(p), self.pt(q)));
        let mut goal = vec![None; n];
        for (p, d) in self.ports(to) {
            if free(p) {
                goal[p] = Some(d ^ 1);
            }
        }
        let sink = n * 4;
        let mut dist = vec![u64::MAX; n * 4 + 1];
        let mut prev = vec![usize::MAX; n * 4 + 1];
        let mut heap = BinaryHeap::new();
        let touch = |p: usize| if self.at[p] != 0 { TOUCH } else { 0 };
        // Passing port `p` in direction `d` on the way in or out: crossing
        // a line there is fine, meeting one is not.
        let end = |p: usize, d: usize| {
            let across = if d < 2 { V_USED } else { H_USED };
            match self.at[p] {
                0 => 0,
                m if m == across => CROSS,
                _ => TOUCH,
            }
        };
        for (p, d) in self.ports(from) {
            if free(p) {
                let s = p * 4 + d;
                dist[s] = end(p, d);
                heap.push(Reverse((dist[s], s)));
            }
        }
        while let Some(Reverse((c, s))) = heap.pop() {
            if c > dist[s] {
                continue;
            }
            if s == sink {
                break;
            }
            let (p, dp) = (s / 4, s % 4);
            if let Some(inward) = goal[p] {
                let total = c + if dp == inward { 0 } else { BEND } + end(p, inward);
                if total < dist[sink] {
                    dist[sink] = total;
                    prev[sink] = s;
                    heap.push(Reverse((total, sink)));
                }
            }
            for d in 0..4 {
                if d == dp ^ 1 {
                    continue;
                }
                let Some((q, st)) = self.step(p, d) else {
                    continue;
                };
                if blocked(p, q) {
                    continue;
                }
                let (a, b) = (self.pt(p), self.pt(q));
                let mut cost = ((a.0 - b.0).abs() + (a.1 - b.1).abs()) as u64 * 10;
                if self.used(d, st) > 0 {
                    cost += ALONG;
                }
                if self.near_used(d, st) {
                    cost += NEAR;
                }
                if borders.iter().any(|r| r.has(a) != r.has(b)) {
                    cost += BORDER;
                }
                let mask = self.at[p];
                if d == dp {
                    let across = if d < 2 { V_USED } else { H_USED };
                    if mask & across != 0 {
                        cost += CROSS;
                    }
                    if mask & ENDS != 0 {
                        cost += TOUCH;
                    }
                } else {
                    cost += BEND + touch(p);
                }
                let t = q * 4 + d;
                if c + cost < dist[t] {
                    dist[t] = c + cost;
                    prev[t] = s;
                    heap.push(Reverse((dist[t], t)));
                }
            }
        }
        if dist[sink] == u64::MAX {
            return None;
        }
        let mut path = Vec::new();
        let mut s = prev[sink];
        while s != usize::MAX {
            if path.last() != Some(&(s / 4)) {
                path.push(s / 4);
            }
            s = prev[s];
        }
        path.reverse();
        Some(path)
    }

    /// Does an earlier line use the step beside step `s` (same range, the
    /// neighbouring lane, closer than 9 px)?
    fn near_used(&self, d: usize, s: usize) -> bool {
        let nx = self.xs.len();
        if d < 2 {
            let (ix, iy) = (s % nx, s / nx);
            [iy.wrapping_sub(1), iy + 1].iter().any(|&j| {
                j < self.ys.len()
                    && (self.ys[j] - self.ys[iy]).abs() < 9.0
                    && self.h_used[j * nx + ix] > 0
            })
        } else {
            let ix = s % nx;
            [ix.wrapping_sub(1), ix + 1].iter().any(|&j| {
                j < nx && (self.xs[j] - self.xs[ix]).abs() < 9.0 && self.v_used[s - ix + j] > 0
            })
        }
    }

    /// Forget every line.
    fn clear(&mut self) {
        for v in [&mut self.h_used, &mut self.v_used, &mut self.at] {
            v.iter_mut().for_each(|u| *u = 0);
        }
    }

    /// Record `path` as used.
    fn mark(&mut self, path: &[usize]) {
        let nx = self.xs.len();
        for (k, w) in path.windows(2).enumerate() {
            let (p, q) = (w[0], w[1]);
            let horizontal = p / nx == q / nx;
            let bit = if horizontal { H_USED } else { V_USED };
            if horizontal {
                self.h_used[p.min(q)] += 1;
            } else {
                self.v_used[p.min(q)] += 1;
            }
            self.at[p] |= bit;
            self.at[q] |= bit;
            if let Some(&r) = path.get(k + 2) {
                if (q / nx == r / nx) != horizontal {
                    self.at[q] |= ENDS;
                }
            }
        }
        for p in [path.first(), path.last()].into_iter().flatten() {
            self.at[*p] |= ENDS;
        }
    }
}

/// The point on `b`'s border next to port `p`.
fn border(b: &Rect, (x, y): (f64, f64)) -> (f64, f64) {
    if y < b.y {
        (x, b.y)
    } else if y > b.bottom() {
        (x, b.bottom())
    } else if x < b.x {
        (b.x, y)
    } else {
        (b.right(), y)
    }
}

/// Drop points in the middle of straight runs.
fn simplify(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if out.last() == Some(&p) {
            continue;
        }
        if out.len() >= 2 {
            let (a, b) = (out[out.len() - 2], out[out.len() - 1]);
            if (a.0 == b.0 && b.0 == p.0) || (a.1 == b.1 && b.1 == p.1) {
                out.pop();
            }
        }
        out.push(p);
    }
    out
}

/// Route every edge (long ones first, so they get the straight lanes),
/// then label each on its line where the label covers no box, label, title
/// or subsystem border, preferring spots that hide no other line and are
/// near the line's middle. A line that a label still hides is routed
/// again round every other label, and labelled again; a few rounds of that.
fn route_all(g: &Graph, r: &[Rect], clusters: &[Option<Rect>]) -> Vec<(Points, Option<Label>)> {
    let cl: Vec<Rect> = clusters.iter().flatten().copied().collect();
    let titles: Vec<Rect> = cl
        .iter()
        .map(|c| Rect {
            h: CLUSTER_TITLE,
            ..*c
        })
        .collect();
    let mut grid = Grid::new(r, &cl);
    let n = g.edges.len();
    let span = |k: usize| {
        let (a, b) = (r[g.edges[k].from], r[g.edges[k].to]);
        ((a.cx() - b.cx()).abs() + (a.cy() - b.cy()).abs()) as u64
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| (Reverse(span(k)), k));
    // Edge k's path on the grid, or None for a straight line.
    let route = |grid: &Grid, k: usize, labels: &[Rect]| {
        let e = &g.edges[k];
        let ends = [g.nodes[e.from].cluster, g.nodes[e.to].cluster];
        let mut walls: Vec<Rect> = r.to_vec();
        let mut borders = Vec::new();
        for (c, b) in clusters.iter().enumerate() {
            match b {
                Some(b) if ends.contains(&Some(c)) => borders.push(*b),
                Some(b) => walls.push(*b),
                None => {}
            }
        }
        walls.extend(&titles);
        let boxes = walls.len();
        walls.extend(labels);
        let (a, b) = (&r[e.from], &r[e.to]);
        grid.route(a, b, &walls, &borders)
            .or_else(|| grid.route(a, b, &walls[..boxes], &borders))
    };
    let points = |grid: &Grid, k: usize, path: &Option<Vec<usize>>| {
        let (a, b) = (r[g.edges[k].from], r[g.edges[k].to]);
        match path {
            Some(p) => {
                let mut pts = vec![border(&a, grid.pt(p[0]))];
                pts.extend(p.iter().map(|&q| grid.pt(q)));
                pts.push(border(&b, grid.pt(p[p.len() - 1])));
                simplify(pts)
            }
            // No way round (the check will say so): a straight line.
            None => vec![(a.cx(), a.cy()), (b.cx(), b.cy())],
        }
    };
    let mut paths: Vec<Option<Vec<usize>>> = vec![None; n];
    for &k in &order {
        paths[k] = route(&grid, k, &[]);
        if let Some(p) = &paths[k] {
            grid.mark(p);
        }
    }
    let mut pts: Vec<_> = (0..n).map(|k| points(&grid, k, &paths[k])).collect();
    let mut labels: Vec<Option<Label>> = vec![None; n];
    let others = |labels: &[Option<Label>], k: usize| -> Vec<Rect> {
        let l = labels.iter().enumerate().filter(|&(o, _)| o != k);
        l.filter_map(|(_, l)| l.as_ref().map(|l| l.rect)).collect()
    };
    for &k in order.iter().rev() {
        let taken = [titles.clone(), others(&labels, k)].concat();
        labels[k] = label(g, k, &pts, r, &cl, &taken);
    }
    for _ in 0..3 {
        let mut again = false;
        for &k in &order {
            let foreign = others(&labels, k);
            let hidden = pts[k]
                .windows(2)
                .any(|s| foreign.iter().any(|f| f.cut_by(s[0], s[1])));
            if !hidden {
                continue;
            }
            again = true;
            grid.clear();
            for p in paths
                .iter()
                .enumerate()
                .filter(|&(o, _)| o != k)
                .filter_map(|(_, p)| p.as_ref())
            {
                grid.mark(p);
            }
            paths[k] = route(&grid, k, &foreign);
            if let Some(p) = &paths[k] {
                grid.mark(p);
            }
            pts[k] = points(&grid, k, &paths[k]);
            let taken = [titles.clone(), foreign].concat();
            labels[k] = label(g, k, &pts, r, &cl, &taken);
        }
        if !again {
            break;
        }
    }
    pts.into_iter().zip(labels).collect()
}

/// Edge `k`'s label, on its line `path`.
fn label(
    g: &Graph,
    k: usize,
    lines: &[Vec<(f64, f64)>],
    r: &[Rect],
    clusters: &[Rect],
    taken: &[Rect],
) -> Option<Label> {
    let e = &g.edges[k];
    if e.label.is_empty() {
        return None;
    }
    let path = &lines[k];
    let text: Vec<String> = e.label.iter().flat_map(|l| wrap(l)).collect();
    let lw = text
        .iter()
        .map(|l| text_width(l, LABEL_SIZE, false))
        .fold(0.0, f64::max)
        + 8.0;
    let (lw, lh) = (lw.round(), LABEL_LINE * text.len() as f64 + 4.0);
    let half = path
        .windows(2)
        .map(|s| (s[0].0 - s[1].0).abs() + (s[0].1 - s[1].1).abs())
        .sum::<f64>()
        / 2.0;
    let mut best: Option<(f64, Rect)> = None;
    let mut walked = 0.0;
    for (si, s) in path.windows(2).enumerate() {
        let (a, b) = (s[0], s[1]);
        let len = (a.0 - b.0).abs() + (a.1 - b.1).abs();
        let steps = (len / 6.0).ceil().max(1.0) as usize;
        for j in 0..=steps {
            let t = j as f64 / steps as f64;
            let me = Rect {
                x: (a.0 + (b.0 - a.0) * t - lw / 2.0).round(),
                y: (a.1 + (b.1 - a.1) * t - lh / 2.0).round(),
                w: lw,
                h: lh,
            };
            let near = me.grow(3.0);
            let hard = r.iter().chain(taken).filter(|o| near.overlaps(o)).count()
                + clusters
                    .iter()
                    .filter(|c| near.overlaps(c) && !c.contains(&near))
                    .count();
            let mut soft = 0.0;
            let others = lines.iter().enumerate().filter(|&(o, _)| o != k);
            for seg in others.flat_map(|(_, p)| p.windows(2)) {
                if me.cut_by(seg[0], seg[1]) {
                    soft += 1000.0;
                }
            }
            for (oi, seg) in path.windows(2).enumerate() {
                if oi != si && me.cut_by(seg[0], seg[1]) {
                    soft += 300.0;
                }
            }
            let cost = hard as f64 * 1e7 + soft + (walked + len * t - half).abs() * 0.3;
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, me));
            }
        }
        walked += len;
    }
    let (_, rect) = best?;
    let color = super::svg::style_of(e.style).0;
    let lines = text
        .iter()
        .enumerate()
        .map(|(i, l)| Text {
            x: rect.cx(),
            y: rect.y + LABEL_LINE * (i as f64 + 1.0) - 1.0,
            size: LABEL_SIZE,
            bold: false,
            middle: true,
            color,
            text: l.clone(),
            owner: String::new(),
            node: None,
        })
        .collect();
    Some(Label { rect, lines })
}

/// One layout, with gaps `s` times the usual.
fn attempt(g: &Graph, s: f64) -> Layout {
    let (mut r, mut cl) = place(g, s);
    let flat: Vec<Rect> = cl.iter().flatten().copied().collect();
    let (mut paths, mut labels): (Vec<_>, Vec<_>) = route_all(g, &r, &cl).into_iter().unzip();
    // Shift everything below the title and inside the margin.
    let mut bb = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut add = |b: &Rect| {
        bb = (
            bb.0.min(b.x),
            bb.1.min(b.y),
            bb.2.max(b.right()),
            bb.3.max(b.bottom()),
        );
    };
    r.iter().chain(&flat).for_each(&mut add);
    labels.iter().flatten().for_each(|l| add(&l.rect));
    paths.iter().flatten().for_each(|&(x, y)| {
        add(&Rect {
            x,
            y,
            w: 0.0,
            h: 0.0,
        })
    });
    if r.is_empty() {
        bb = (0.0, 0.0, 0.0, 0.0);
    }
    let top = MARGIN + 30.0;
    let (dx, dy) = ((MARGIN - bb.0).round(), (top - bb.1).round());
    let mv = |b: &mut Rect| {
        b.x += dx;
        b.y += dy;
    };
    r.iter_mut().for_each(mv);
    cl.iter_mut().flatten().for_each(mv);
    for p in paths.iter_mut().flatten() {
        *p = (p.0 + dx, p.1 + dy);
    }
    for l in labels.iter_mut().flatten() {
        mv(&mut l.rect);
        for t in &mut l.lines {
            t.x += dx;
            t.y += dy;
        }
    }
    let mut texts = vec![Text {
        x: MARGIN,
        y: MARGIN + 12.0,
        size: 15.0,
        bold: true,
        middle: false,
        color: "black",
        text: g.title.clone(),
        owner: "the picture".into(),
        node: None,
    }];
    let clusters: Vec<Option<ClusterBox>> = cl
        .iter()
        .enumerate()
        .map(|(c, b)| {
            let b = (*b)?;
            let name = format!("subsystem {}", g.clusters[c].title);
            texts.push(Text {
                x: b.x + 10.0,
                y: b.y + 14.0,
                size: 11.0,
                bold: true,
                middle: false,
                color: "#5577aa",
                text: g.clusters[c].title.clone(),
                owner: name.clone(),
                node: None,
            });
            Some(ClusterBox { rect: b, name })
        })
        .collect();
    for (i, n) in g.nodes.iter().enumerate() {
        let b = r[i];
        let name = node_name(g, i);
        let mut t = Text {
            x: b.cx(),
            y: b.y + 15.0,
            size: 12.0,
            bold: true,
            middle: true,
            color: "black",
            text: n.title.clone(),
            owner: name.clone(),
            node: Some(i),
        };
        texts.push(t.clone());
        (t.size, t.bold, t.color) = (10.0, false, "#333333");
        for (k, l) in n.lines.iter().enumerate() {
            t.y = b.y + TITLE_H + 9.0 + LINE_H * k as f64;
            t.text = l.clone();
            texts.push(t.clone());
        }
    }
    // The legend, under everything.
    let bottom = bb.3 + dy;
    let ly = (bottom + 30.0).round();
    let mut lx = MARGIN;
    let mut samples = Vec::new();
    for (name, style, head) in [
        ("PPC (caller to callee)", Style::Ppc, true),
        ("notify", Style::Notify, true),
        ("shared memory only", Style::Memory, false),
        ("map / device", Style::Attach, false),
        ("parent to child", Style::Parent, true),
    ] {
        samples.push(Sample {
            x: lx,
            y: ly,
            style,
            head,
        });
        texts.push(legend_text(lx + 40.0, ly, name, "black"));
        lx += 40.0 + text_width(name, 10.0, false) + 22.0;
    }
    let passive = "dashed box: passive PD";
    texts.push(legend_text(lx, ly, passive, "#555555"));
    lx += text_width(passive, 10.0, false);
    let lines = g
        .edges
        .iter()
        .zip(paths)
        .zip(labels)
        .map(|((e, points), label)| Line {
            from: e.from,
            to: e.to,
            style: e.style,
            head: e.head,
            tail: e.tail,
            points,
            label,
        })
        .collect();
    let nodes = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeBox {
            rect: r[i],
            id: n.id.clone(),
            kind: n.kind,
            passive: n.passive,
            cluster: n.cluster,
            name: node_name(g, i),
        })
        .collect();
    Layout {
        width: (bb.2 + dx + MARGIN).max(lx + MARGIN).round(),
        height: (ly + 10.0 + MARGIN).round(),
        nodes,
        clusters,
        lines,
        texts,
        samples,
    }
}

fn legend_text(x: f64, y: f64, text: &str, color: &'static str) -> Text {
    Text {
        x,
        y: y + 3.5,
        size: 10.0,
        bold: false,
        middle: false,
        color,
        text: text.into(),
        owner: "the legend".into(),
        node: None,
    }
}
