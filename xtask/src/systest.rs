//! `cargo xtask test`: lints, host tests, then QEMU system tests.
//!
//! A system test boots one image and checks its serial transcript: markers
//! that must appear in order, text that must never appear (a kernel panic),
//! and the status the system powered off with.

use crate::artifacts::{self, TARGET};
use crate::boot::{self, Outcome};
use crate::{setup, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A check of a whole transcript: the problems it finds.
pub type TranscriptCheck = fn(&[&str]) -> Vec<String>;

/// One QEMU system test.
pub struct SystemTest {
    /// Test name (also the image name).
    pub name: &'static str,
    /// System description, relative to the repository root.
    pub system: &'static str,
    /// Lines that must appear, in this order (substring match per line).
    pub expect: &'static [&'static str],
    /// Text that must not appear anywhere.
    pub forbid: &'static [&'static str],
    /// The status the system must power off with.
    pub status: i32,
    /// The last line must contain this.
    pub last_line: Option<&'static str>,
    /// Console input: after the console shows the marker, type the bytes.
    pub input: &'static [(&'static str, &'static [u8])],
    /// A check of the whole transcript beyond markers (problems found).
    pub extra: Option<TranscriptCheck>,
}

/// Printed only when something failed: the kernel itself, or a test PD's
/// own check (`<test>: FAIL...`).
const FAILURES: &[&str] = &["mantle: kernel panic", "mantle: boot error", "FAIL"];

/// The serial example's transcript, plain or composed.
const SERIAL_EXPECT: &[&str] = &[
    "prints as '[1]'",
    "virt_rx: 2 clients; input goes to client 1",
    "[1] client1: got 'hello'",
    "virt_rx: input now goes to client 2",
    "[2] client2: got 'world'",
    "virt_rx: input now goes to client 1",
    "[1] client1: got 'exit'",
    "[1] serial: done",
];

/// The serial example's console script (see examples/serial/README.md).
const SERIAL_INPUT: &[(&str, &[u8])] = &[
    ("mantle: all 5 PDs initialised", b"hello\r"),
    ("[1] client1: got 'hello'", b"\x1c2\r"),
    ("virt_rx: input now goes to client 2", b"world\r"),
    ("[2] client2: got 'world'", b"\x1c1"),
    ("virt_rx: input now goes to client 1", b"exit\r"),
];

/// The timer example's transcript, plain or composed.
const TIMER_EXPECT: &[&str] = &[
    "timer: HPET",
    "client_a: started; arming 5 timeouts",
    "client_b: cannot cancel ids it does not hold",
    "client_b: limit of 16 timeouts enforced; short period refused",
    "client_b: 7 expiries in order, none early",
    "client_a: client B reports success",
    "client_a: 8 expiries in order, none early",
    "timer: done",
];

pub const SYSTEM_TESTS: &[SystemTest] = &[
    SystemTest {
        name: "hello",
        system: "examples/hello/hello.system",
        expect: &[
            "parent: restarting child (restart 3 of 3)",
            "parent: child faulted 4 times; stopping it",
            "client: server says 3+4=7",
            "client: server says 10!=3628800",
            "client: parent notified me back",
            "hello: done",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("hello: done"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "fault_unmapped",
        system: "tests/systems/fault_unmapped.system",
        expect: &[
            "mantle: fault: PD 'victim' page fault",
            "fault_unmapped: survivor round 5 of 5",
            "fault_unmapped: survivor ok",
            "fault_unmapped: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "stack_overflow",
        system: "tests/systems/stack_overflow.system",
        expect: &[
            "(potential stack overflow)",
            "stack_overflow: survivor ok",
            "stack_overflow: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "bad_channel",
        system: "tests/systems/bad_channel.system",
        expect: &[
            "bad_channel: ppcall on channel 1 refused: channel 1 may not ppcall: its end in this PD lacks pp=\"true\"",
            "bad_channel: notify on channel 2 refused: channel 2 may not notify: its end in this PD has notify=\"false\"",
            "checks done in init, 0 failures",
            "checker: deferred irq_ack on channel 0 failed: channel 0 is not an IRQ",
            "bad_channel: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "starvation",
        system: "tests/systems/starvation.system",
        expect: &["starvation: counter ran", "starvation: ok"],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "wild_syscalls",
        system: "tests/systems/wild_syscalls.system",
        expect: &[
            "100000 calls:",
            "echo PPC still correct",
            "wild_syscalls: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "restart",
        system: "tests/systems/restart.system",
        expect: &[
            "restart: fault 1 ok",
            "restart: child finished after",
            "restart: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "runtime",
        system: "tests/systems/runtime.system",
        expect: &[
            "panicker: panic: deliberate panic number 42 (",
            "runtime: pd_name() is \"checker\" ok",
            "runtime: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "irq",
        system: "tests/systems/irq.system",
        expect: &[
            "irq: ppcall on the IRQ id refused: id 1 is an IRQ, not a channel",
            "irq: 10 RTC interrupts in",
            "irq: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "cpu_state",
        system: "tests/systems/cpu_state.system",
        expect: &[
            "cpu_state: first FPU use is clean",
            "mantle: fault: PD 'dirty' debug exception",
            "cpu_state: checker's FPU registers intact",
            "cpu_state: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "call_order",
        system: "tests/systems/call_order.system",
        expect: &[
            "call_order: low caller queues",
            "call_order: mid caller queues",
            "call_order: mid caller served second",
            "call_order: low caller served third",
            "call_order: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "passive_notify",
        system: "tests/systems/passive_notify.system",
        expect: &[
            "passive_notify: passive server notified (1)",
            "passive_notify: client notified back",
            "passive_notify: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "stop_queued",
        system: "tests/systems/stop_queued.system",
        expect: &[
            "stop_queued: parent stopped the queued child",
            "stop_queued: server served only the long call",
            "stop_queued: child's call failed (stopped while queued)",
            "stop_queued: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "large_map",
        system: "tests/systems/large_map.system",
        expect: &[
            "large_map: 1024 pages checked through both mappings, 0 bad",
            "large_map: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "serial",
        system: "examples/serial/serial.system",
        expect: SERIAL_EXPECT,
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: SERIAL_INPUT,
        extra: None,
    },
    SystemTest {
        name: "serial_composed",
        system: "examples/serial/serial.composed.system",
        expect: SERIAL_EXPECT,
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: SERIAL_INPUT,
        extra: None,
    },
    SystemTest {
        name: "timer",
        system: "examples/timer/timer.system",
        expect: TIMER_EXPECT,
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "timer_composed",
        system: "examples/timer/timer.composed.system",
        expect: TIMER_EXPECT,
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "serial_fairness",
        system: "bench/serial/fairness.system",
        expect: &["[2] quiet: tick 1", "serial-bench: bytes=65536"],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: Some(serial_lines_whole_and_fair),
    },
    SystemTest {
        name: "deadlock",
        system: "tests/systems/deadlock.system",
        expect: &[
            "deadlock: client's call to the passive server answered",
            "deadlock: waiter notified on channel 1",
            "waiter: child 0 faulted:",
            "mantle: deadlock: no PD can run and nothing can wake one",
            "mantle: deadlock:   PD 'server': passive, waiting for a call or a notification",
            "mantle: deadlock:   PD 'client': waiting for a notification",
            "mantle: deadlock:   PD 'waiter': waiting for a notification",
            "mantle: deadlock:   PD 'victim': faulted in init (its parent 'waiter' did not restart or resume it)",
        ],
        forbid: FAILURES,
        // mantle_abi::exit::DEADLOCK
        status: 4,
        last_line: Some("mantle: deadlock: powering off (status 4)"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "wait_notified",
        system: "tests/systems/wait_notified.system",
        expect: &[
            "wait_notified: waiter waiting on channel 0",
            "wait_notified: driver sees the waiter waiting",
            "wait_notified: call during the wait got the busy reply",
            "wait_notified: waiter woke on channel 0; message registers intact",
            "wait_notified: stashed fault of child 0 delivered after the wait",
            "wait_notified: stashed notification on channel 1 delivered (1)",
            "wait_notified: wait inside protected refused",
            "wait_notified: channel 1 delivered exactly once, after the fault",
            "wait_notified: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
];

/// How long one system may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(120);

pub fn test_all(args: &[String]) -> Result {
    let mut lint = true;
    let mut host = true;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-lint" => lint = false,
            "--no-host" => host = false,
            "--only" => only = it.next().cloned(),
            other => return Err(format!("test: unknown option {other}")),
        }
    }
    setup::ensure_all()?;
    if lint {
        lints()?;
    }
    if host && only.is_none() {
        host_tests()?;
    }
    artifacts::build_everything()?;
    if only.is_none() {
        diagrams()?;
    }
    system_tests(only.as_deref())
}

/// Draw every example (SVG and DOT) into `target/diagrams/`: a description
/// the tool cannot draw fails the run.
fn diagrams() -> Result {
    let out = artifacts::root().join("target/diagrams");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let examples = artifacts::root().join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&examples)
        .map_err(|e| format!("cannot list {}: {e}", examples.display()))?
        .filter_map(|d| d.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    let tool = artifacts::tool()?;
    let mut drawn = 0;
    for name in names {
        let system = examples.join(&name).join(format!("{name}.system"));
        if !system.exists() {
            continue;
        }
        for ext in ["svg", "dot"] {
            let mut c = Command::new(&tool);
            c.arg("diagram")
                .arg(&system)
                .arg("-o")
                .arg(out.join(format!("{name}.{ext}")))
                .arg("--search-path")
                .arg(artifacts::pd_dir());
            artifacts::run(c, &format!("mantle diagram {}", system.display()))?;
        }
        drawn += 1;
    }
    eprintln!("xtask: drew {drawn} example systems into {}", out.display());
    Ok(())
}

/// Crates with host tests (pure logic, the tool, the harness itself).
const HOST_PACKAGES: &[&str] = &[
    "mantle-abi",
    "mantle-config",
    "mantle-runtime",
    "mantle",
    "sddf",
    "mantle-timer-client",
    "mantle-serial-client",
    "xtask",
];

/// Crates whose library has host tests but whose PD binaries cannot link on
/// the host: tested and linted with `--lib`.
const HOST_LIB_PACKAGES: &[&str] = &["mantle-hpet-driver", "mantle-serial-virt", "timer-example"];

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(artifacts::root());
    c.env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

/// `cargo fmt --check` and clippy with warnings denied, for host and
/// bare-metal crates alike.
fn lints() -> Result {
    eprintln!("xtask: cargo fmt --check");
    let mut c = cargo();
    c.args(["fmt", "--all", "--check"]);
    artifacts::run(c, "cargo fmt --check (run `cargo fmt --all`)")?;

    eprintln!("xtask: clippy (host crates)");
    let mut c = cargo();
    c.args(["clippy", "--quiet", "--all-targets"]);
    for p in HOST_PACKAGES {
        c.args(["-p", p]);
    }
    c.args(["--features", "mantle-abi/alloc", "--", "-D", "warnings"]);
    artifacts::run(c, "clippy (host crates)")?;
    let mut c = cargo();
    c.args(["clippy", "--quiet", "--lib", "--tests"]);
    for p in HOST_LIB_PACKAGES {
        c.args(["-p", p]);
    }
    c.args(["--", "-D", "warnings"]);
    artifacts::run(c, "clippy (host libraries of PD crates)")?;

    eprintln!("xtask: clippy (PD crates, {TARGET})");
    let mut c = cargo();
    c.args(["clippy", "--quiet", "--release", "--target", TARGET]);
    artifacts::select_bare_metal(&mut c, &[]);
    c.args(["--", "-D", "warnings"]);
    artifacts::run(c, "clippy (PD crates)")?;

    eprintln!("xtask: clippy (kernel)");
    let mut c = cargo();
    c.args(["clippy", "--quiet", "--release", "--target", TARGET])
        .args(["-p", "mantle-kernel", "--target-dir"])
        .arg(artifacts::root().join("target/kernel"))
        .env("RUSTFLAGS", artifacts::KERNEL_RUSTFLAGS)
        .args(["--", "-D", "warnings"]);
    artifacts::run(c, "clippy (kernel)")
}

/// Host tests of every pure-logic crate, then the loom models.
fn host_tests() -> Result {
    eprintln!("xtask: host tests");
    let mut c = cargo();
    c.arg("test");
    for p in HOST_PACKAGES {
        c.args(["-p", p]);
    }
    c.args(["--features", "mantle-abi/alloc"]);
    artifacts::run(c, "host tests")?;
    let mut c = cargo();
    c.args(["test", "--lib"]);
    for p in HOST_LIB_PACKAGES {
        c.args(["-p", p]);
    }
    artifacts::run(c, "host tests (libraries of PD crates)")?;

    eprintln!("xtask: loom models of the queue signalling protocol");
    // Its own target directory: RUSTFLAGS are part of cargo's fingerprint,
    // so sharing `target/` would rebuild everything on every switch.
    let mut c = cargo();
    c.args(["test", "-p", "sddf", "--release", "--test", "loom"])
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", artifacts::root().join("target/loom"));
    artifacts::run(c, "loom models")
}

fn system_tests(only: Option<&str>) -> Result {
    let tests: Vec<&SystemTest> = SYSTEM_TESTS
        .iter()
        .filter(|t| only.is_none_or(|o| o == t.name))
        .collect();
    if tests.is_empty() {
        return Err(format!("no system test named {}", only.unwrap_or("?")));
    }
    let accel = boot::accelerator();
    eprintln!(
        "xtask: {} QEMU system tests, accelerator {}",
        tests.len(),
        accel.as_str()
    );
    let (mut passed, mut failed) = (0, 0);
    for t in tests {
        match run_one(t) {
            Ok(()) => {
                println!("test system::{} ... ok", t.name);
                passed += 1;
            }
            Err(e) => {
                println!("test system::{} ... FAILED\n{e}", t.name);
                failed += 1;
            }
        }
    }
    println!("system: {passed} passed, {failed} failed");
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} system test(s) failed"))
    }
}

fn run_one(t: &SystemTest) -> Result {
    let system: PathBuf = artifacts::root().join(t.system);
    let image = artifacts::image(&system, t.name)?;
    let run = boot::boot(&image, TIMEOUT, t.input)?;
    let log = artifacts::root()
        .join("target/images")
        .join(format!("{}.log", t.name));
    let _ = std::fs::write(&log, boot::timed_text(&run));
    let lines: Vec<&str> = run.lines.iter().map(|l| l.text.as_str()).collect();
    let problems = check(t, &lines, &run.outcome);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "  {}\n  transcript: {}",
            problems.join("\n  "),
            log.display()
        ))
    }
}

/// `bench/serial/fairness.system`: no line of either client is mixed with
/// the other's, and the quiet client's lines come through during the
/// flood, not after it.
fn serial_lines_whole_and_fair(lines: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let flood_ok = |l: &str| {
        l.strip_prefix("[1] sb ").is_some_and(|rest| {
            rest.len() == 60
                && rest[..5].bytes().all(|b| b.is_ascii_digit())
                && rest[5..].bytes().all(|b| b == b'.')
        })
    };
    let quiet_ok = |l: &str| {
        l.strip_prefix("[2] quiet: tick ")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    for l in lines {
        if (l.starts_with("[1] sb") && !flood_ok(l)) || (l.starts_with("[2] ") && !quiet_ok(l)) {
            problems.push(format!("mixed or broken line: {l:?}"));
        }
    }
    let last_flood = lines.iter().rposition(|l| l.starts_with("[1] sb "));
    let first_quiet = lines.iter().position(|l| l.starts_with("[2] quiet: tick"));
    match (first_quiet, last_flood) {
        (Some(q), Some(f)) if q < f => {}
        _ => problems.push("no quiet line came through during the flood".into()),
    }
    problems
}

/// Everything wrong with a transcript, as readable sentences.
pub fn check(t: &SystemTest, lines: &[&str], outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let mut at = 0;
    for marker in t.expect {
        match lines[at..].iter().position(|l| l.contains(marker)) {
            Some(i) => at += i + 1,
            None => problems.push(format!("missing (in order): {marker:?}")),
        }
    }
    for bad in t.forbid {
        if let Some(l) = lines.iter().find(|l| l.contains(bad)) {
            problems.push(format!("forbidden output: {l:?}"));
        }
    }
    if let Some(last) = t.last_line {
        let got = lines.iter().rev().find(|l| !l.trim().is_empty());
        if !got.is_some_and(|l| l.contains(last)) {
            problems.push(format!("last line is {got:?}, expected {last:?}"));
        }
    }
    if let Some(extra) = t.extra {
        problems.extend(extra(lines));
    }
    match outcome {
        Outcome::Guest(s) if i32::from(*s) == t.status => {}
        other => problems.push(format!(
            "{}; expected guest status {}",
            other.describe(),
            t.status
        )),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: SystemTest = SystemTest {
        name: "t",
        system: "t.system",
        expect: &["a", "b"],
        forbid: &["panic"],
        status: 0,
        last_line: Some("b"),
        input: &[],
        extra: None,
    };

    #[test]
    fn fairness_check_catches_mixed_lines_and_starvation() {
        let dots = ".".repeat(55);
        let flood = format!("[1] sb 00001{dots}");
        let good = [flood.as_str(), "[2] quiet: tick 1", flood.as_str()];
        assert!(serial_lines_whole_and_fair(&good).is_empty());
        let late = [flood.as_str(), flood.as_str(), "[2] quiet: tick 1"];
        assert_eq!(serial_lines_whole_and_fair(&late).len(), 1);
        let mixed = format!("[1] sb 00002..[2] quiet{dots}");
        let broken = [mixed.as_str(), "[2] quiet: tick 1", flood.as_str()];
        assert_eq!(serial_lines_whole_and_fair(&broken).len(), 1);
    }

    #[test]
    fn a_good_transcript_passes() {
        assert!(check(&T, &["x", "a", "y", "b"], &Outcome::Guest(0)).is_empty());
    }

    #[test]
    fn each_kind_of_failure_is_reported() {
        assert_eq!(check(&T, &["b", "a"], &Outcome::Guest(0)).len(), 2); // order, last line
        assert_eq!(check(&T, &["a", "panic", "b"], &Outcome::Guest(0)).len(), 1);
        assert_eq!(check(&T, &["a", "b"], &Outcome::Guest(3)).len(), 1);
        assert_eq!(check(&T, &["a", "b"], &Outcome::Timeout).len(), 1);
    }

    #[test]
    fn every_system_test_file_exists() {
        for t in SYSTEM_TESTS {
            assert!(
                artifacts::root().join(t.system).exists(),
                "{} is missing",
                t.system
            );
        }
    }
}
