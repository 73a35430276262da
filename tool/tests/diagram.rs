//! The SVG layout's own check: it catches a bad layout, and no system in
//! the repository (examples, benchmarks, test systems, composed fixtures)
//! is drawn with a line through a box or with overlapping texts.

use mantle::diagram::layout::{self, Layout};
use std::path::{Path, PathBuf};

/// Every `.system` file the repository ships (expansions are plain copies
/// of the composed fixtures, so they are left out).
fn systems() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        "../examples/hello",
        "../examples/serial",
        "../examples/timer",
        "../bench/ipc",
        "../bench/serial",
        "../bench/timer",
        "../tests/systems",
        "tests/composed",
    ] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.to_string_lossy().into_owned();
            if name.ends_with(".system") && !name.ends_with(".expanded.system") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn layout_of(path: &Path) -> Layout {
    let bytes = std::fs::read(path).unwrap();
    let dirs = [path.parent().unwrap().to_path_buf()];
    let (sys, _) = mantle::sdf::load_bytes(&path.display().to_string(), &bytes, &dirs)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    layout::layout(&mantle::diagram::graph(&sys, "t.system"))
}

#[test]
fn every_system_is_drawn_without_problems() {
    let files = systems();
    assert!(files.len() >= 20, "found only {files:?}");
    for f in files {
        let l = layout_of(&f);
        let p = l.problems();
        assert!(p.is_empty(), "{}:\n  {}", f.display(), p.join("\n  "));
        // And the tool reports none either.
        let (svg, warnings) = mantle::diagram::render_file(&f, &[], false).unwrap();
        assert!(svg.contains("<svg"));
        assert!(
            !warnings.iter().any(|w| w.message.starts_with("diagram:")),
            "{}: {warnings:?}",
            f.display()
        );
    }
}

#[test]
fn the_check_catches_a_line_through_a_box() {
    let mut l = layout_of(Path::new("../examples/serial/serial.system"));
    assert_eq!(l.problems(), Vec::<String>::new());
    // Move client2 onto the middle of the first segment of a line that does
    // not end at it.
    let c = l.nodes.iter().position(|n| n.id == "pd:client2").unwrap();
    let k = l
        .lines
        .iter()
        .position(|ln| ln.from != c && ln.to != c)
        .unwrap();
    let (a, b) = (l.lines[k].points[0], l.lines[k].points[1]);
    let r = &mut l.nodes[c].rect;
    r.x = (a.0 + b.0) / 2.0 - r.w / 2.0;
    r.y = (a.1 + b.1) / 2.0 - r.h / 2.0;
    let p = l.problems();
    assert!(
        p.iter().any(|s| s.contains("passes through PD 'client2'")),
        "{p:?}"
    );
}

#[test]
fn the_check_catches_overlapping_labels_and_crossed_subsystems() {
    let mut l = layout_of(Path::new("../examples/serial/serial.composed.system"));
    assert_eq!(l.problems(), Vec::<String>::new());
    // Two labels on top of each other.
    let with: Vec<usize> = (0..l.lines.len())
        .filter(|&k| l.lines[k].label.is_some())
        .collect();
    let target = l.lines[with[0]].label.clone().unwrap().rect;
    l.lines[with[1]].label.as_mut().unwrap().rect = target;
    let p = l.problems();
    assert!(p.iter().any(|s| s.contains("overlaps the label")), "{p:?}");
    // A line between the two clients through the serial subsystem's box.
    let k = l
        .lines
        .iter()
        .position(|ln| l.nodes[ln.from].cluster.is_none() && l.nodes[ln.to].cluster.is_none())
        .unwrap();
    let c = l.clusters[0].as_ref().unwrap().rect;
    l.lines[k].points = vec![(c.x - 10.0, c.cy()), (c.right() + 10.0, c.cy())];
    let p = l.problems();
    assert!(
        p.iter()
            .any(|s| s.contains("crosses the box of subsystem serial_subsystem 'serial'")),
        "{p:?}"
    );
    // A text outside the picture.
    l.texts[0].x = l.width + 5.0;
    assert!(l
        .problems()
        .iter()
        .any(|s| s.contains("sticks out of the picture")));
}
