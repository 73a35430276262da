//! `cargo xtask`: the one entry point for setting up, building, running,
//! testing and benchmarking Mantle.
//!
//! - `cargo xtask run EXAMPLE` boots `examples/EXAMPLE/EXAMPLE.system`.
//! - `cargo xtask test` runs every test: formatting and lints, host tests,
//!   then QEMU system tests (see `systest.rs`).
//! - `cargo xtask bench ipc` runs the IPC benchmark beside the Linux guest.
//! - `cargo xtask sdk [DIR]` writes a Microkit SDK for C PDs (see `sdk.rs`).
//! - `cargo xtask setup` installs what is missing (also done by the others).
//!
//! Every command first makes sure the machine has what it needs (QEMU, the
//! bare-metal target), installing it where it can, so a fresh clone works.
#![forbid(unsafe_code)]

mod artifacts;
mod bench;
mod boot;
mod doccmds;
mod sdk;
mod setup;
mod systest;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run EXAMPLE [--accel tcg|kvm]   build and boot examples/EXAMPLE (e.g. hello)
  test [--no-lint] [--no-host] [--no-docs] [--only NAME]
                                  run every test (lints, host tests, QEMU system tests,
                                  every documented command in a fresh copy)
  bench ipc                       IPC and boot benchmark, beside the Linux guest
  bench serial|timer              serial throughput / timer accuracy
  build                           build the kernel, the tool and every PD
  sdk [DIR]                       write a Microkit SDK for C PDs (default target/sdk)
  setup                           install what is missing (QEMU, a C toolchain, the x86_64-unknown-none target)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => match args.get(1) {
            Some(example) => run_example(example, &args[2..]),
            None => Err("run needs an example name, e.g. `cargo xtask run hello`".into()),
        },
        Some("test") => systest::test_all(&args[1..]),
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("ipc") => bench::ipc(),
            Some(name @ ("serial" | "timer")) => bench::subsystem(name),
            _ => Err("bench needs a benchmark name: ipc, serial or timer".into()),
        },
        Some("build") => setup::ensure_all().and_then(|()| artifacts::build_everything()),
        Some("sdk") => sdk::main(&args[1..]),
        Some("setup") => setup::ensure_all(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn run_example(example: &str, rest: &[String]) -> Result {
    setup::ensure_all()?;
    let system = artifacts::root()
        .join("examples")
        .join(example)
        .join(format!("{example}.system"));
    if !system.exists() {
        return Err(format!(
            "no example '{example}': {} does not exist",
            system.display()
        ));
    }
    let kernel = artifacts::kernel()?;
    // Every PD program: a composed system also needs the generated driver
    // and virtualiser programs, which belong to other crates.
    artifacts::pds(&[])?;
    let tool = artifacts::tool()?;
    let mut cmd = std::process::Command::new(tool);
    cmd.arg("run")
        .arg(&system)
        .arg("--kernel")
        .arg(&kernel)
        .arg("--search-path")
        .arg(artifacts::pd_dir())
        .args(rest);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start mantle: {e}"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(format!("the system ended with status {code}")),
        None => Err("mantle was killed by a signal".into()),
    }
}
