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
    /// System description, relative to the repository root; or
    /// [`EXPANDED`] and a composed one, whose `mantle expand` output (made
    /// at test time into `target/expanded/`) is the system booted.
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

/// Prefix of [`SystemTest::system`]: boot the plain SDF `mantle expand`
/// makes of the composed system named after it.
pub const EXPANDED: &str = "expanded:";

/// Prefix of [`SystemTest::system`]: a C example's system, in a folder
/// with a Makefile written for Microkit's SDK. The test writes the SDK
/// (`cargo xtask sdk`), runs `make` there against it and boots the image
/// the Makefile built (see `sdk.rs`).
pub const SDK: &str = "sdk:";

/// The system file test `t` boots (running `mantle expand` first for an
/// [`EXPANDED`] one).
fn system_file(t: &SystemTest) -> Result<PathBuf> {
    let root = artifacts::root();
    if let Some(c_example) = t.system.strip_prefix(SDK) {
        return Ok(root.join(c_example));
    }
    let Some(composed) = t.system.strip_prefix(EXPANDED) else {
        return Ok(root.join(t.system));
    };
    let dir = root.join("target/expanded");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let out = dir.join(format!("{}.expanded.system", t.name));
    let mut c = Command::new(artifacts::tool()?);
    c.arg("expand").arg(root.join(composed)).arg("-o").arg(&out);
    artifacts::run(c, &format!("mantle expand {composed}"))?;
    Ok(out)
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
pub const SERIAL_INPUT: &[(&str, &[u8])] = &[
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

/// The serial example's test; its plain, composed and expanded systems
/// differ only in name and file.
const SERIAL_EXAMPLE: SystemTest = SystemTest {
    name: "serial",
    system: "examples/serial/serial.system",
    expect: SERIAL_EXPECT,
    forbid: FAILURES,
    status: 0,
    last_line: None,
    input: SERIAL_INPUT,
    extra: None,
};

/// The timer example's test, likewise.
const TIMER_EXAMPLE: SystemTest = SystemTest {
    name: "timer",
    system: "examples/timer/timer.system",
    expect: TIMER_EXPECT,
    forbid: FAILURES,
    status: 0,
    last_line: None,
    input: &[],
    extra: None,
};

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
        name: "sensor",
        system: "examples/sensor/sensor.system",
        expect: &[
            "[1] logger: ready; waiting for 10 samples",
            "[1] logger: sample 1: 20.7 C",
            "[1] logger: sample 3: 22.1 C",
            "[1] logger: sampler faulted (page fault (#PF) at ip=",
            "[1] logger: sample 4: 22.8 C",
            "[1] logger: sample 10: 21.4 C",
            "[1] logger: 10 samples, min 20.0 C, max 22.8 C, mean 21.3 C",
            "[1] sensor: done",
        ],
        forbid: &[
            "mantle: kernel panic",
            "mantle: boot error",
            "FAIL",
            "dropped",
            "mantle: fault",
        ],
        status: 0,
        last_line: Some("[1] sensor: done"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "fault_unmapped",
        system: "tests/systems/fault_unmapped.system",
        expect: &[
            "mantle: fault: PD 'victim' page fault",
            // Symbolised: the faulting function and line (checked exactly
            // by `victim_fault_names_its_line`), and the frame-pointer
            // backtrace down to the runtime's entry.
            "mantle:   #0 test_fault_victim::init at tests/pds/src/bin/fault_victim.rs:",
            "__mantle_main at runtime/src/handler.rs:",
            "fault_unmapped: survivor round 5 of 5",
            "fault_unmapped: survivor ok",
            "fault_unmapped: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: Some(victim_fault_names_its_line),
    },
    SystemTest {
        name: "stack_overflow",
        system: "tests/systems/stack_overflow.system",
        expect: &[
            "(potential stack overflow, stack_size=0x2000)",
            // Symbolised: the recursing function, at the faulting
            // instruction and (frame-pointer walk) as its own caller.
            "mantle:   #0 test_stack_overflow::recurse at tests/pds/src/bin/stack_overflow.rs:",
            "mantle:   #1 test_stack_overflow::recurse at tests/pds/src/bin/stack_overflow.rs:",
            "mantle:   PD 'overflow' overflowed its stack of 0x2000 bytes: raise stack_size on its <protection_domain> (e.g. stack_size=\"0x4000\") in tests/systems/stack_overflow.system:16",
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
        name: "inversion",
        system: "tests/systems/inversion.system",
        expect: &[
            "inversion: server stalled mid-call",
            "inversion: worst latency",
            "inversion: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("inversion: ok"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "fastpath",
        system: "tests/systems/fastpath.system",
        expect: &[
            "fastpath: 64 registers ok",
            "fastpath: 200 calls ok",
            "fastpath: nested call ok",
            "fastpath: call with a pending notification ok",
            "fastpath: notification delivered after the call",
            "fastpath: queued call ok",
            "fastpath: long call ok",
            "fastpath: ok",
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
        ..SERIAL_EXAMPLE
    },
    SystemTest {
        name: "serial_composed",
        system: "examples/serial/serial.composed.system",
        ..SERIAL_EXAMPLE
    },
    SystemTest {
        name: "serial_expanded",
        system: "expanded:examples/serial/serial.composed.system",
        ..SERIAL_EXAMPLE
    },
    SystemTest {
        name: "timer",
        system: "examples/timer/timer.system",
        ..TIMER_EXAMPLE
    },
    SystemTest {
        name: "timer_composed",
        system: "examples/timer/timer.composed.system",
        ..TIMER_EXAMPLE
    },
    SystemTest {
        name: "timer_expanded",
        system: "expanded:examples/timer/timer.composed.system",
        ..TIMER_EXAMPLE
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
    SystemTest {
        name: "budget_window",
        system: "tests/systems/budget_window.system",
        expect: &[
            "budget_window: burst started (budget 2000/20000)",
            "most CPU time in one window of one period: ",
            "budget_window: at most one budget in any window of one period",
            "budget_window: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "cpu_protection",
        system: "tests/systems/cpu_protection.system",
        expect: &[
            "mantle: kernel W^X: text r-x, rodata r--, data rw-, direct map rw- (r-- over text and rodata)",
            // `-cpu qemu64` has no UMIP (see cpu_protection.system).
            "mantle: starting 2 PDs (TSC ",
            "cpu_protection: CPU lacks UMIP",
            "cpu_protection: no UMIP on this CPU: sgdt works in user mode",
            "cpu_protection: ok",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: None,
        input: &[],
        extra: Some(umip_off_on_the_boot_line),
    },
    SystemTest {
        name: "shared_record",
        system: "tests/systems/shared_record.system",
        // One line: both PDs, both uses of the record, the shared range.
        expect: &[
            "mantle: boot error: PD 'first': map 0 (vaddr 0x200000, paddr 0x900000, size ",
        ],
        forbid: &["mantle: kernel panic", "FAIL", "starvation:"],
        // mantle_abi::exit::KERNEL_ERROR
        status: 3,
        last_line: Some(
            "private memory (program, stack, IPC buffer) is also mapped by PD 'second' map 0 (vaddr 0x200000, paddr 0x900000, size ",
        ),
        input: &[],
        extra: None,
    },
    // C protection domains built with the Microkit SDK (examples/c/).
    SystemTest {
        name: "c_hello",
        system: "sdk:examples/c/hello/hello.system",
        expect: &[
            "hello, world",
            "hello: my name is 'hello', 2^32-1 is 4294967295 and 0xff is 255",
            "hello: done",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("hello: done"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "c_passive_server",
        system: "sdk:examples/c/passive_server/passive_server.system",
        expect: &[
            "server: ready (passive)",
            "client: server says 3+4=7",
            "client: server says 1+2+...+10=55",
            "client: server says 6*7=42",
            "client: unknown request refused",
            "client: notifying the server (deferred)",
            "server: notified on channel 0; notifying the client back",
            "client: server notified me back",
            "passive_server: done",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("passive_server: done"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "c_hierarchy",
        system: "sdk:examples/c/hierarchy/hierarchy.system",
        expect: &[
            "crasher: attempt 1",
            "restarter: child 0 hit a breakpoint at ip=0x2",
            "crasher: resumed after the breakpoint",
            "restarter: child 0 page fault at address 0x10000000",
            "restarter: restarting child (restart 1 of 3)",
            "crasher: attempt 2",
            "restarter: restarting child (restart 3 of 3)",
            "crasher: attempt 4",
            "restarter: child crashed 4 times; stopping it",
            "hierarchy: done",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("hierarchy: done"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "c_mixed",
        system: "sdk:examples/c/mixed/mixed.system",
        expect: &[
            "consumer (Rust): ready",
            "producer (C): sending 1..1000 in batches of 100",
            "consumer (Rust): 1000 words, sum 500500, 0 out of order",
            "producer (C): the consumer got 1000 words, sum 500500 (as sent)",
            "mixed: done",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("mixed: done"),
        input: &[],
        extra: None,
    },
    SystemTest {
        name: "c_bad_channel",
        system: "sdk:examples/c/bad_channel/bad_channel.system",
        expect: &[
            "bad microkit_notify: invalid channel given '5' (no such channel)",
            "bad microkit_ppcall: invalid channel given '0' (ppcall not permitted)",
            "bad: the refused ppcall returned an empty msginfo",
            "bad microkit_irq_ack: invalid channel given '0' (not an IRQ)",
            "bad microkit_ppcall: invalid channel given '61' (no such channel)",
            "bad microkit_deferred_notify: invalid channel given '70' (no such channel)",
            "bad microkit_x86_ioport_read_8: invalid I/O port given '3' (invalid I/O port)",
            "bad: the refused read returned 0",
            "bad microkit_x86_ioport_write_8: invalid I/O port given '0' (invalid I/O port)",
            "bad: still running; notifying the peer",
            "peer: notified; notifying back",
            "bad microkit_deferred_notify: invalid channel given '7' (no such channel)",
            "bad: notified on channel 0; the kernel is still up",
            "bad_channel: done",
        ],
        forbid: FAILURES,
        status: 0,
        last_line: Some("bad_channel: done"),
        input: &[],
        extra: None,
    },
];

/// How long one system may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(120);

pub fn test_all(args: &[String]) -> Result {
    let mut lint = true;
    let mut host = true;
    let mut docs = true;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-lint" => lint = false,
            "--no-host" => host = false,
            "--no-docs" => docs = false,
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
    let docs_only = only.as_deref() == Some("docs");
    let (mut passed, mut failed) = if docs_only {
        (0, 0)
    } else {
        system_tests(only.as_deref())?
    };
    if only.is_none() || only.as_deref() == Some("sdk_cli") {
        let (p, f) = crate::sdk::cli_tests()?;
        passed += p;
        failed += f;
    }
    if docs && (only.is_none() || docs_only) {
        let (p, f) = crate::doccmds::run_all()?;
        passed += p;
        failed += f;
    }
    println!("system: {passed} passed, {failed} failed");
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} system or documentation test(s) failed"))
    }
}

/// Draw every example system (SVG and DOT) into `target/diagrams/` and
/// render each SVG to PNG with `rsvg-convert`, for a person to look at. A
/// description the tool cannot draw, a layout the tool's own check faults
/// (a line through a box, overlapping labels: `mantle diagram` warns), and
/// a PNG that is missing or blank fail the run.
fn diagrams() -> Result {
    let out = artifacts::root().join("target/diagrams");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let examples = artifacts::root().join("examples");
    let mut systems: Vec<PathBuf> = Vec::new();
    for dir in std::fs::read_dir(&examples)
        .map_err(|e| format!("cannot list {}: {e}", examples.display()))?
    {
        let dir = dir.map_err(|e| format!("cannot list {}: {e}", examples.display()))?;
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.path().extension().is_some_and(|e| e == "system") {
                systems.push(f.path());
            }
        }
    }
    systems.sort();
    let tool = artifacts::tool()?;
    for system in &systems {
        // serial.composed.system -> serial.composed.svg
        let stem = system.file_stem().unwrap_or_default().to_string_lossy();
        for ext in ["svg", "dot"] {
            let what = format!("mantle diagram {} ({ext})", system.display());
            let o = Command::new(&tool)
                .arg("diagram")
                .arg(system)
                .arg("-o")
                .arg(out.join(format!("{stem}.{ext}")))
                .arg("--search-path")
                .arg(artifacts::pd_dir())
                .output()
                .map_err(|e| format!("cannot run {what}: {e}"))?;
            let stderr = String::from_utf8_lossy(&o.stderr);
            eprint!("{stderr}");
            if !o.status.success() {
                return Err(format!("{what} failed ({})", o.status));
            }
            if stderr.contains("warning: diagram:") {
                return Err(format!(
                    "{what}: the layout check found problems (above); fix the layout in tool/src/diagram/layout.rs"
                ));
            }
        }
        let svg = out.join(format!("{stem}.svg"));
        let png = out.join(format!("{stem}.png"));
        let _ = std::fs::remove_file(&png);
        let mut c = Command::new("rsvg-convert");
        c.arg(&svg).arg("-o").arg(&png);
        artifacts::run(c, &format!("rsvg-convert {}", svg.display()))?;
        check_png(&png)?;
    }
    eprintln!(
        "xtask: drew {} example systems into {} (SVG, DOT, and PNG to look at)",
        systems.len(),
        out.display()
    );
    Ok(())
}

/// A PNG that exists and shows something: sane dimensions, and both dark
/// pixels (text, lines) and light ones (background).
fn check_png(path: &std::path::Path) -> Result {
    let bad = |why: String| format!("{}: {why}", path.display());
    let file = std::fs::File::open(path).map_err(|e| bad(format!("missing: {e}")))?;
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec
        .read_info()
        .map_err(|e| bad(format!("not a PNG: {e}")))?;
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("cannot decode: {e}")))?;
    let (w, h) = (info.width, info.height);
    if w < 100 || h < 100 {
        return Err(bad(format!("{w}x{h} pixels is too small for a diagram")));
    }
    let channels = info.color_type.samples();
    let (mut dark, mut light) = (0usize, 0usize);
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        // Grey or RGB, with alpha: transparent counts as light.
        let alpha = if channels % 2 == 0 {
            px[channels - 1]
        } else {
            255
        };
        let v = if channels >= 3 {
            (u32::from(px[0]) + u32::from(px[1]) + u32::from(px[2])) / 3
        } else {
            u32::from(px[0])
        };
        if alpha < 128 || v > 200 {
            light += 1;
        } else if v < 100 {
            dark += 1;
        }
    }
    let total = (w * h) as usize;
    if dark < total / 1000 || light < total / 2 {
        return Err(bad(format!(
            "looks blank ({dark} dark and {light} light pixels of {total}); open it and see"
        )));
    }
    Ok(())
}

/// Crates with host tests (pure logic, the tool, the harness itself).
const HOST_PACKAGES: &[&str] = &[
    "mantle-abi",
    "mantle-kerncore",
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

/// Passed and failed checks, each reported as it ends with one
/// `test NAME ... ok` or `test NAME ... FAILED` line (the closing
/// `system: N passed, N failed` line adds them up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    /// Report check `name` and count it; a failure's reason follows its
    /// line, indented.
    pub fn record(&mut self, name: &str, outcome: Result) {
        match outcome {
            Ok(()) => {
                println!("test {name} ... ok");
                self.passed += 1;
            }
            Err(why) => {
                println!("test {name} ... FAILED\n  {why}");
                self.failed += 1;
            }
        }
    }
}

/// Boot every system test (or the one named); returns (passed, failed).
fn system_tests(only: Option<&str>) -> Result<(usize, usize)> {
    let tests: Vec<&SystemTest> = SYSTEM_TESTS
        .iter()
        .filter(|t| only.is_none_or(|o| o == t.name))
        .collect();
    if tests.is_empty() && only == Some("sdk_cli") {
        return Ok((0, 0));
    }
    if tests.is_empty() {
        return Err(format!("no system test named {}", only.unwrap_or("?")));
    }
    let accel = boot::accelerator();
    eprintln!(
        "xtask: {} QEMU system tests, accelerator {}",
        tests.len(),
        accel.as_str()
    );
    let mut tally = Tally::default();
    for t in tests {
        tally.record(&format!("system::{}", t.name), run_one(t));
    }
    Ok((tally.passed, tally.failed))
}

fn run_one(t: &SystemTest) -> Result {
    let system = system_file(t)?;
    let (image, symbols) = if t.system.starts_with(SDK) {
        let (image, build) = crate::sdk::make_example(&system, t.name)?;
        let search = [build, artifacts::pd_dir()];
        let symbols =
            mantle::symbolise::Symboliser::from_sdf_file(&system, &search, Some(artifacts::root()))
                .ok();
        (image, symbols)
    } else {
        (artifacts::image(&system, t.name)?, boot::symbols(&system))
    };
    if let Some((_, patch)) = IMAGE_PATCHES.iter().find(|(name, _)| *name == t.name) {
        patch_boot_description(&image, *patch)?;
    }
    let icount = ICOUNT_TESTS.contains(&t.name);
    let run = boot::boot_in(&image, TIMEOUT, t.input, symbols, icount)?;
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
            "{}\n  transcript: {}",
            problems.join("\n  "),
            log.display()
        ))
    }
}

/// A change to a built image's boot description, for tests of the kernel's
/// boot checks with descriptions `mantle build` would never write.
type DescriptionPatch = fn(&mut mantle_abi::bootdesc::SystemSpec) -> Result;

/// Tests whose outcome depends on time (latency bounds): booted under
/// `-icount` (TCG), so the guest's clocks count instructions and a busy
/// host cannot change what they see.
const ICOUNT_TESTS: &[&str] = &["inversion", "budget_window"];

/// System tests whose image is patched after `mantle build` (by test name).
const IMAGE_PATCHES: &[(&str, DescriptionPatch)] = &[("shared_record", share_first_pds_records)];

/// Decode the boot description of `image`, apply `patch`, and write it
/// back in place (a patch keeps every table's length).
fn patch_boot_description(image: &std::path::Path, patch: DescriptionPatch) -> Result {
    use mantle::elf::{Elf, PT_LOAD};
    use mantle_abi::bootdesc::{encode, BootDescription, SystemSpec};
    let what = |e: String| format!("patching {}: {e}", image.display());
    let mut bytes = std::fs::read(image).map_err(|e| what(e.to_string()))?;
    let elf = Elf::parse(&bytes).map_err(what)?;
    let seg = elf
        .phdrs
        .iter()
        .find(|p| p.p_type == PT_LOAD && p.paddr == mantle_abi::layout::BOOTDESC_PHYS)
        .ok_or_else(|| what("no boot description segment".into()))?;
    let (start, len) = (seg.offset as usize, seg.filesz as usize);
    let old = elf.bytes(seg).map_err(what)?;
    let desc = BootDescription::parse(old).map_err(|e| what(format!("{e:?}")))?;
    let mut spec = SystemSpec::from_description(&desc);
    patch(&mut spec).map_err(what)?;
    let new = encode(&spec);
    BootDescription::parse(&new).map_err(|e| what(format!("patched: {e:?}")))?;
    if new.len() != len {
        return Err(what("the patch changed the description's length".into()));
    }
    bytes[start..start + len].copy_from_slice(&new);
    std::fs::write(image, bytes).map_err(|e| what(e.to_string()))
}

/// `shared_record`: PD "second" names PD "first"'s map records and IPC
/// buffer (every record stays unique and well placed).
fn share_first_pds_records(spec: &mut mantle_abi::bootdesc::SystemSpec) -> Result {
    let find = |name: &str| {
        spec.pds
            .iter()
            .position(|p| p.name() == name)
            .ok_or(format!("no PD {name:?}"))
    };
    let (first, second) = (find("first")?, find("second")?);
    let a = spec.pds[first];
    let b = &mut spec.pds[second];
    b.maps = a.maps;
    b.ipc_buffer_paddr = a.ipc_buffer_paddr;
    b.entry = a.entry;
    b.stack_size = a.stack_size;
    Ok(())
}

/// `cpu_protection`: the kernel's boot line says UMIP is off, as the
/// parent PD found with CPUID.
fn umip_off_on_the_boot_line(lines: &[&str]) -> Vec<String> {
    match lines.iter().find(|l| l.starts_with("mantle: starting ")) {
        Some(l) if l.ends_with(", UMIP off)") => Vec::new(),
        other => vec![format!("boot line should end \", UMIP off)\": {other:?}")],
    }
}

/// `fault_unmapped`: the symbolised report's `#0` names the victim's `init`
/// at the line of its faulting load (found in the source, so editing the
/// file does not break the test).
fn victim_fault_names_its_line(lines: &[&str]) -> Vec<String> {
    const SRC: &str = "tests/pds/src/bin/fault_victim.rs";
    let load = std::fs::read_to_string(artifacts::root().join(SRC))
        .ok()
        .and_then(|t| t.lines().position(|l| l.contains("asm!(")));
    let Some(i) = load else {
        return vec![format!("no asm! load found in {SRC}")];
    };
    let want = format!("mantle:   #0 test_fault_victim::init at {SRC}:{}", i + 1);
    if lines.contains(&want.as_str()) {
        Vec::new()
    } else {
        vec![format!("missing: {want:?}")]
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
                artifacts::root()
                    .join(
                        t.system
                            .strip_prefix(EXPANDED)
                            .or_else(|| t.system.strip_prefix(SDK))
                            .unwrap_or(t.system)
                    )
                    .exists(),
                "{} is missing",
                t.system
            );
        }
    }

    /// A 200x200 grey PNG in the temp dir, white but for `dark` black rows.
    fn png_with(name: &str, dark: u32) -> PathBuf {
        let path = std::env::temp_dir().join(format!("xtask-{}-{name}.png", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), 200, 200);
        enc.set_color(png::ColorType::Grayscale);
        let mut px = vec![255u8; 200 * 200];
        px[..(200 * dark) as usize].fill(0);
        enc.write_header().unwrap().write_image_data(&px).unwrap();
        path
    }

    #[test]
    fn png_check_rejects_blank_missing_and_junk() {
        let ok = png_with("ok", 10);
        assert_eq!(check_png(&ok), Ok(()));
        let blank = png_with("blank", 0);
        assert!(check_png(&blank).unwrap_err().contains("looks blank"));
        let black = png_with("black", 200);
        assert!(check_png(&black).unwrap_err().contains("looks blank"));
        std::fs::write(&blank, b"not a png").unwrap();
        assert!(check_png(&blank).unwrap_err().contains("not a PNG"));
        for p in [&ok, &blank, &black] {
            std::fs::remove_file(p).unwrap();
        }
        assert!(check_png(&ok).unwrap_err().contains("missing"));
    }
}
