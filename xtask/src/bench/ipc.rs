//! `cargo xtask bench ipc`: Mantle's IPC costs beside their Linux analogues,
//! measured in one run on the same QEMU machine, timed and counted.
//!
//! - Mantle (`bench/ipc/ipc.system`): null syscall, PPC round trip and
//!   notify to a higher-priority PD, each in a best case and a realistic
//!   case, each under both address-space schemes: the default kernel
//!   (shared top level under TCG) and one built with
//!   `MANTLE_VSPACE=per-pd-cr3` (see `kernel/src/arch/x86_64/vspace.rs`).
//! - Linux (`../shared/linux-guest`, `run.sh --no-net`): getpid,
//!   futex_xproc_rtt, futex_wake_hiprio, pipe_rtt.
//! - Every figure twice: timed (TSC ticks) and under QEMU's `-icount`
//!   (instructions).
//! - [`ROUNDS`] rounds, interleaved: in each, both Mantle builds then Linux,
//!   timed, then the same under `-icount`. Each figure is reported as the
//!   median and the min–max over the boots; a goal is met only if it holds
//!   across that spread.
//!
//! This is a benchmark, not a test: it prints what it measured and which
//! goals the figures meet, and fails only when a measurement cannot be made.

use crate::{artifacts, boot, setup, Result};
use mantle::qemu::{self, Accel};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Rounds of (Mantle, Linux) boots, each once timed and once counted.
const ROUNDS: usize = 3;
/// The Linux microbenchmarks' iteration scale under `-icount`: the counts
/// are deterministic, so a quarter of the samples is plenty.
const LINUX_ICOUNT_SCALE: &str = "0.25";
/// Longest a Mantle boot may take.
const MANTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Where the per-PD-CR3 kernel is built (its own target directory, so the
/// two kernels never rebuild each other).
const PER_PD_CR3_TARGET: &str = "target/kernel-per-pd-cr3";

/// The two kernel builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Build {
    /// The default kernel: under TCG it shares one top-level table.
    Default,
    /// Built with `MANTLE_VSPACE=per-pd-cr3`: every PD has its own PML4.
    PerPdCr3,
}

impl Build {
    const ALL: [Build; 2] = [Build::Default, Build::PerPdCr3];
    /// Its image's name.
    fn name(self) -> &'static str {
        match self {
            Build::Default => "ipcbench",
            Build::PerPdCr3 => "ipcbench-per-pd-cr3",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Build::Default => "default kernel",
            Build::PerPdCr3 => "per-PD CR3 kernel",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    Best,
    Realistic,
}

impl Case {
    const ALL: [Case; 2] = [Case::Best, Case::Realistic];
    /// The result line's prefix.
    fn prefix(self) -> &'static str {
        match self {
            Case::Best => "ipcbench: ",
            Case::Realistic => "ipcbench-realistic: ",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Case::Best => "best",
            Case::Realistic => "realistic",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Null,
    Ppc,
    Notify,
}

impl Op {
    const ALL: [Op; 3] = [Op::Null, Op::Ppc, Op::Notify];
    /// The key in the result line.
    fn key(self) -> &'static str {
        match self {
            Op::Null => "null_syscall",
            Op::Ppc => "ppc_roundtrip",
            Op::Notify => "notify_wake",
        }
    }
    /// The Linux tests it is compared with.
    fn analogues(self) -> &'static [&'static str] {
        match self {
            Op::Null => &["getpid"],
            Op::Ppc => &["futex_xproc_rtt", "pipe_rtt_unpinned"],
            Op::Notify => &["futex_wake_hiprio"],
        }
    }
}

/// Timed (TSC ticks) or counted (instructions, `-icount`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Ticks,
    Insn,
}

impl Unit {
    const ALL: [Unit; 2] = [Unit::Ticks, Unit::Insn];
}

/// The Linux guest's tests this benchmark reads (median column).
const LINUX_TESTS: [&str; 5] = [
    "getpid",
    "futex_xproc_rtt",
    "futex_wake_hiprio",
    "pipe_rtt_unpinned",
    "futex_rtt_unpinned",
];

/// Everything measured: one value per boot for each series.
#[derive(Default)]
struct Figures {
    mantle: BTreeMap<(Build, Case, Op, Unit), Vec<u64>>,
    /// The scheme each build's kernel said it uses, per unit.
    scheme: BTreeMap<(Build, Unit), String>,
    linux: BTreeMap<(&'static str, Unit), Vec<u64>>,
    mantle_boot_ms: Vec<u64>,
    linux_boot_ms: Vec<u64>,
}

/// Median and spread of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stats {
    median: u64,
    min: u64,
    max: u64,
}

impl Stats {
    fn of(values: &[u64]) -> Stats {
        let mut v = values.to_vec();
        v.sort_unstable();
        Stats {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = format!("{} [{}–{}]", self.median, self.min, self.max);
        f.pad(&s)
    }
}

impl Figures {
    fn mantle(&self, b: Build, c: Case, o: Op, u: Unit) -> Stats {
        Stats::of(&self.mantle[&(b, c, o, u)])
    }
    fn linux(&self, test: &str, u: Unit) -> Stats {
        let key = LINUX_TESTS
            .iter()
            .find(|t| **t == test)
            .expect("known test");
        Stats::of(&self.linux[&(*key, u)])
    }
}

/// A ratio of medians and its worst case across the spread.
struct Ratio {
    median: f64,
    worst: f64,
    best: f64,
}

impl Ratio {
    fn of(mantle: Stats, linux: Stats) -> Ratio {
        let r = |a: u64, b: u64| a as f64 / b.max(1) as f64;
        Ratio {
            median: r(mantle.median, linux.median),
            worst: r(mantle.max, linux.min),
            best: r(mantle.min, linux.max),
        }
    }
}

pub fn run() -> Result {
    setup::ensure_all()?;
    let kernels = [artifacts::kernel()?, kernel_per_pd_cr3()?];
    artifacts::pds(&["ipcbench"])?;
    let system = artifacts::root().join("bench/ipc/ipc.system");
    let mut images = Vec::new();
    for (build, kernel) in Build::ALL.iter().zip(&kernels) {
        images.push((
            *build,
            artifacts::image_with_kernel(&system, kernel, build.name())?,
        ));
    }
    let accel = boot::accelerator();
    let linux = LinuxGuest::prepare()?;

    let mut fig = Figures::default();
    for round in 1..=ROUNDS {
        for unit in Unit::ALL {
            for (build, image) in &images {
                mantle_boot(&mut fig, *build, image, unit, round)?;
            }
            linux_boot(&mut fig, &linux, accel, unit, round)?;
        }
    }
    report(&fig, accel);
    Ok(())
}

/// Build the kernel with `MANTLE_VSPACE=per-pd-cr3` in its own target
/// directory; returns its ELF.
fn kernel_per_pd_cr3() -> Result<PathBuf> {
    artifacts::kernel_variant(
        PER_PD_CR3_TARGET,
        &[("MANTLE_VSPACE", "per-pd-cr3")],
        "building the per-PD-CR3 kernel",
    )
}

/// Boot one Mantle image and record its figures.
fn mantle_boot(fig: &mut Figures, build: Build, image: &Path, unit: Unit, round: usize) -> Result {
    // Timed runs use this run's accelerator (`boot::accelerator`); counted
    // ones TCG under -icount.
    let (tag, icount) = match unit {
        Unit::Ticks => ("ticks", false),
        Unit::Insn => ("insn", true),
    };
    let run = boot::boot_in(image, MANTLE_TIMEOUT, &[], None, icount)?;
    let log = artifacts::root().join(format!("target/images/{}.{tag}.{round}.log", build.name()));
    let _ = std::fs::write(&log, boot::timed_text(&run));
    let text = |prefix: &str| {
        run.lines
            .iter()
            .find_map(|l| Some(&l.text[l.text.find(prefix)? + prefix.len()..]))
    };
    if run.outcome != boot::Outcome::Guest(0) {
        return Err(format!(
            "the Mantle benchmark failed: {} (transcript {})",
            run.outcome.describe(),
            log.display()
        ));
    }
    let scheme = text("address-space switch: ")
        .ok_or_else(|| format!("no address-space switch line ({})", log.display()))?;
    if build == Build::PerPdCr3 && !scheme.starts_with("per-PD CR3") {
        return Err(format!(
            "the per-PD-CR3 kernel switches by {scheme:?} ({})",
            log.display()
        ));
    }
    fig.scheme.insert((build, unit), scheme.to_string());
    let mut line = format!("mantle {:<19} {tag:<5} round {round}:", build.name());
    for case in Case::ALL {
        let result = text(case.prefix())
            .filter(|l| l.contains("null_syscall="))
            .ok_or_else(|| {
                format!(
                    "no `{}` result line ({})",
                    case.prefix().trim(),
                    log.display()
                )
            })?;
        for op in Op::ALL {
            let v = value(result, op.key())
                .ok_or_else(|| format!("no {}= in {result:?} ({})", op.key(), log.display()))?;
            fig.mantle
                .entry((build, case, op, unit))
                .or_default()
                .push(v);
            line += &format!(" {}.{}={v}", case.label(), op.key());
        }
    }
    if build == Build::Default && unit == Unit::Ticks {
        let ms = boot::time_of(&run, "mantle: all")
            .ok_or_else(|| format!("no `mantle: all ... initialised` line ({})", log.display()))?
            .as_millis() as u64;
        fig.mantle_boot_ms.push(ms);
        line += &format!(" boot_ms={ms}");
    }
    eprintln!("{line}");
    Ok(())
}

/// The Linux guest harness, built and wrapped to boot with qboot.
struct LinuxGuest {
    dir: PathBuf,
    /// A QEMU wrapper that adds `-bios qboot`.
    qemu: PathBuf,
}

impl LinuxGuest {
    fn prepare() -> Result<LinuxGuest> {
        let dir = linux_guest_dir()?;
        let out = std::env::var("LG_OUT").unwrap_or_else(|_| "/tmp/linux-guest".into());
        if !Path::new(&out).join("vmlinux").exists()
            || !Path::new(&out).join("initramfs.cpio.gz").exists()
        {
            eprintln!("xtask: building the Linux guest (../shared/linux-guest/build.sh) ...");
            let mut c = Command::new("bash");
            c.arg(dir.join("build.sh"));
            artifacts::run(c, "linux-guest build.sh")?;
        }
        // The harness boots with QEMU's default firmware; give it qboot
        // too, so both systems run on exactly the same machine.
        let qemu = artifacts::root().join("target/qemu-with-qboot");
        std::fs::write(
            &qemu,
            format!(
                "#!/bin/sh\nexec qemu-system-x86_64 -bios {} \"$@\"\n",
                setup::QBOOT
            ),
        )
        .map_err(|e| format!("cannot write {}: {e}", qemu.display()))?;
        make_executable(&qemu)?;
        Ok(LinuxGuest { dir, qemu })
    }
}

/// Boot the Linux guest once (`run.sh --no-net`, with `--icount` for
/// [`Unit::Insn`]) and record its microbenchmark medians.
fn linux_boot(
    fig: &mut Figures,
    lg: &LinuxGuest,
    accel: Accel,
    unit: Unit,
    round: usize,
) -> Result {
    let mut c = Command::new("bash");
    c.arg(lg.dir.join("run.sh")).arg("--no-net");
    let tag = match unit {
        Unit::Ticks => {
            c.args(["--accel", accel.as_str()]);
            "ticks"
        }
        Unit::Insn => {
            c.args([
                "--accel",
                "tcg",
                "--icount",
                "--micro-scale",
                LINUX_ICOUNT_SCALE,
            ]);
            "insn"
        }
    };
    let output = c
        .env("QEMU", &lg.qemu)
        .output()
        .map_err(|e| format!("cannot run linux-guest run.sh: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "linux-guest run.sh failed ({}):\n{}\n{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let _ = std::fs::write(
        artifacts::root().join(format!("target/images/linux-guest.{tag}.{round}.txt")),
        text.as_bytes(),
    );
    let mut line = format!("linux  {:<19} {tag:<5} round {round}:", "guest");
    for test in LINUX_TESTS {
        let v = linux_median(&text, test)
            .ok_or_else(|| format!("no '{test}' median in the Linux guest's results"))?;
        fig.linux.entry((test, unit)).or_default().push(v);
        line += &format!(" {test}={v}");
    }
    if unit == Unit::Ticks {
        let ms = linux_median(&text, "boot").ok_or("no boot time in the Linux guest's results")?;
        fig.linux_boot_ms.push(ms);
        line += &format!(" boot_ms={ms}");
    }
    eprintln!("{line}");
    Ok(())
}

/// The number after `name` at the start of a line of the harness's results
/// block (its median column, or the boot time in ms).
fn linux_median(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some(name)).then(|| w.next()?.parse::<u64>().ok())?
    })
}

/// The goals of issue 9 §1.
const PPC_RATIO_GOAL: f64 = 0.05;
const PPC_REALISTIC_RATIO_GOAL: f64 = 0.1;
const NOTIFY_RATIO_GOAL: f64 = 0.1;
const NULL_RATIO_GOAL: f64 = 0.5;
const PPC_INSN_GOAL: u64 = 500;
const NOTIFY_INSN_GOAL: u64 = 400;
const NULL_INSN_GOAL: u64 = 100;

fn report(fig: &Figures, accel: Accel) {
    let mode = accel.as_str();
    println!(
        "benchmark: {ROUNDS} rounds, interleaved; each round boots both Mantle builds, then the Linux guest,"
    );
    println!(
        "           timed (accelerator {mode}), then again under -icount (TCG, {} {}).",
        qemu::ICOUNT[0],
        qemu::ICOUNT[1]
    );
    println!("           Same QEMU machine for both: q35, qboot, qemu64, 512 MiB, 1 vCPU.");
    println!(
        "           ticks: TSC ticks (host time under TCG); insn: instructions, user and kernel."
    );
    println!(
        "           Each cell: median [min–max] over the {ROUNDS} boots of the per-boot medians."
    );
    println!();
    println!("Mantle (bench/ipc; best: passive server, no registers, small PDs;");
    println!("        realistic: non-passive server touching 16 pages per call, 4 registers each way, 96-page PDs)");
    println!(
        "  {:<42} {:<10} {:<14} {:>24} {:>24}",
        "kernel (address-space switch)", "case", "figure", "ticks", "insn"
    );
    for build in Build::ALL {
        let scheme = fig
            .scheme
            .get(&(build, Unit::Ticks))
            .map_or("?", String::as_str);
        let label = match build {
            Build::Default => format!("default: {scheme}"),
            Build::PerPdCr3 => "MANTLE_VSPACE=per-pd-cr3: per-PD CR3".to_string(),
        };
        for case in Case::ALL {
            for op in Op::ALL {
                println!(
                    "  {:<42} {:<10} {:<14} {:>24} {:>24}",
                    label,
                    case.label(),
                    op.key(),
                    fig.mantle(build, case, op, Unit::Ticks),
                    fig.mantle(build, case, op, Unit::Insn)
                );
            }
        }
    }
    if let Some(s) = fig.scheme.get(&(Build::Default, Unit::Insn)) {
        println!("  (under -icount the default kernel used: {s})");
    }
    println!();
    println!("Linux guest (../shared/linux-guest, run.sh --no-net; timer overhead subtracted by the harness)");
    println!("  {:<42} {:>24} {:>24}", "test", "ticks", "insn");
    for test in LINUX_TESTS {
        println!(
            "  {:<42} {:>24} {:>24}",
            test,
            fig.linux(test, Unit::Ticks),
            fig.linux(test, Unit::Insn)
        );
    }
    let mboot = Stats::of(&fig.mantle_boot_ms);
    let lboot = Stats::of(&fig.linux_boot_ms);
    println!();
    println!(
        "boot: Mantle {mboot} ms (QEMU start to `all N PDs initialised`), Linux {lboot} ms (to LG-READY), timed runs"
    );
    println!();
    println!("Mantle / Linux: ratio of medians [range across the spread: min/max .. max/min]");
    println!(
        "  {:<50} {:<20} {:>22} {:>22}",
        "Mantle figure", "Linux analogue", "ticks", "insn"
    );
    for op in [Op::Ppc, Op::Notify, Op::Null] {
        for build in Build::ALL {
            for case in Case::ALL {
                for analogue in op.analogues() {
                    let cell = |u| {
                        let r = Ratio::of(fig.mantle(build, case, op, u), fig.linux(analogue, u));
                        format!("{:.3} [{:.3}..{:.3}]", r.median, r.best, r.worst)
                    };
                    println!(
                        "  {:<50} {:<20} {:>22} {:>22}",
                        format!("{} {} ({})", op.key(), case.label(), build.label()),
                        analogue,
                        cell(Unit::Ticks),
                        cell(Unit::Insn)
                    );
                }
            }
        }
    }

    // The headline figures: the best case on the default kernel, the
    // realistic case on the per-PD-CR3 one.
    let best = |op| fig.mantle(Build::Default, Case::Best, op, Unit::Ticks);
    let insn = |op| fig.mantle(Build::Default, Case::Best, op, Unit::Insn);
    let ppc = Ratio::of(best(Op::Ppc), fig.linux("futex_xproc_rtt", Unit::Ticks));
    let ppc_realistic = Ratio::of(
        fig.mantle(Build::PerPdCr3, Case::Realistic, Op::Ppc, Unit::Ticks),
        fig.linux("futex_xproc_rtt", Unit::Ticks),
    );
    let notify = Ratio::of(
        best(Op::Notify),
        fig.linux("futex_wake_hiprio", Unit::Ticks),
    );
    let null = Ratio::of(best(Op::Null), fig.linux("getpid", Unit::Ticks));
    let ppc_insn_ratio = Ratio::of(insn(Op::Ppc), fig.linux("futex_xproc_rtt", Unit::Insn));
    println!();
    println!("goals (met only if they hold across the spread: worst = max Mantle / min Linux):");
    let ratio_goal = |name: &str, what: &str, r: &Ratio, goal: f64| {
        println!(
            "  {name:<20} {what:<58} median {:.3}, worst {:.3} <= {goal}: {}",
            r.median,
            r.worst,
            verdict(r.worst <= goal)
        );
    };
    ratio_goal(
        "ppc_ratio",
        "best PPC (default kernel) / futex_xproc_rtt",
        &ppc,
        PPC_RATIO_GOAL,
    );
    ratio_goal(
        "ppc_realistic_ratio",
        "realistic PPC (per-PD CR3) / futex_xproc_rtt",
        &ppc_realistic,
        PPC_REALISTIC_RATIO_GOAL,
    );
    ratio_goal(
        "notify_ratio",
        "best notify (default kernel) / futex_wake_hiprio",
        &notify,
        NOTIFY_RATIO_GOAL,
    );
    ratio_goal(
        "null_ratio",
        "null syscall (default kernel) / getpid",
        &null,
        NULL_RATIO_GOAL,
    );
    let insn_goal = |name: &str, what: &str, s: Stats, goal: u64| {
        println!(
            "  {name:<20} {what:<58} median {}, max {} <= {goal}: {}",
            s.median,
            s.max,
            verdict(s.max <= goal)
        );
    };
    insn_goal(
        "ppc_insn",
        "best PPC round trip (default kernel), instructions",
        insn(Op::Ppc),
        PPC_INSN_GOAL,
    );
    insn_goal(
        "notify_insn",
        "best notify (default kernel), instructions",
        insn(Op::Notify),
        NOTIFY_INSN_GOAL,
    );
    insn_goal(
        "null_insn",
        "null syscall (default kernel), instructions",
        insn(Op::Null),
        NULL_INSN_GOAL,
    );
    println!(
        "ipc: ppc_ratio={:.3} ppc_realistic_ratio={:.3} notify_ratio={:.3} null_ratio={:.3} ppc_insn={} notify_insn={} null_insn={} ppc_insn_ratio={:.3} boot_ms={} mode={mode}",
        ppc.median,
        ppc_realistic.median,
        notify.median,
        null.median,
        insn(Op::Ppc).median,
        insn(Op::Notify).median,
        insn(Op::Null).median,
        ppc_insn_ratio.median,
        mboot.median,
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

/// `key=N` in a line of `key=value` words.
fn value(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn linux_guest_dir() -> Result<PathBuf> {
    // `MANTLE_SHARED` names shared/ for a tree that is not beside it (the
    // documentation test's fresh copy).
    let shared = std::env::var_os("MANTLE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts::root().join("../shared"));
    let dir = shared.join("linux-guest");
    if dir.join("run.sh").exists() {
        Ok(dir)
    } else {
        Err(format!(
            "the Linux guest harness is missing at {}",
            dir.display()
        ))
    }
}

fn make_executable(path: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_values() {
        let l = "null_syscall=812 ppc_roundtrip=4000 notify_wake=3000 iterations=10000";
        assert_eq!(value(l, "null_syscall"), Some(812));
        assert_eq!(value(l, "notify_wake"), Some(3000));
        assert_eq!(value(l, "ppc"), None);
    }

    #[test]
    fn stats_and_ratios() {
        let s = Stats::of(&[5, 1, 3]);
        assert_eq!(
            s,
            Stats {
                median: 3,
                min: 1,
                max: 5
            }
        );
        assert_eq!(format!("{s}"), "3 [1–5]");
        let r = Ratio::of(s, Stats::of(&[10, 20, 30]));
        assert_eq!(r.median, 0.15);
        assert_eq!(r.worst, 0.5);
        assert!((r.best - 1.0 / 30.0).abs() < 1e-12);
    }

    #[test]
    fn reads_the_harness_results_block() {
        let t = "boot        4819 ms  (QEMU start -> LG-READY)\n  getpid   1030  978 1098\n  futex_xproc_rtt  135318  1 2\n";
        assert_eq!(linux_median(t, "boot"), Some(4819));
        assert_eq!(linux_median(t, "getpid"), Some(1030));
        assert_eq!(linux_median(t, "futex_xproc_rtt"), Some(135318));
        assert_eq!(linux_median(t, "pipe_rtt_unpinned"), None);
    }
}
