//! Install what a fresh machine lacks: QEMU (with qboot), rsvg-convert, a C
//! toolchain (for the Microkit SDK's C PDs) and the bare-metal Rust target. Each check is cheap, so every command runs them.

use crate::Result;
use std::path::Path;
use std::process::Command;

/// The firmware Mantle boots with (see docs/design.md).
pub const QBOOT: &str = "/usr/share/qemu/qboot.rom";

pub fn ensure_all() -> Result {
    ensure_qemu()?;
    ensure_rsvg()?;
    ensure_cc()?;
    ensure_target()?;
    ensure_components()
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ensure_qemu() -> Result {
    if have("qemu-system-x86_64") && Path::new(QBOOT).exists() {
        return Ok(());
    }
    apt_install(&["qemu-system-x86", "qemu-system-data"])?;
    if have("qemu-system-x86_64") && Path::new(QBOOT).exists() {
        Ok(())
    } else {
        Err(format!(
            "qemu-system-x86_64 or {QBOOT} is still missing after apt-get"
        ))
    }
}

/// `rsvg-convert`, which turns the example diagrams into PNGs a person can
/// look at (see `systest::diagrams`), and a font for their text.
fn ensure_rsvg() -> Result {
    if have("rsvg-convert") {
        return Ok(());
    }
    apt_install(&["librsvg2-bin", "fonts-dejavu-core"])?;
    if have("rsvg-convert") {
        Ok(())
    } else {
        Err("rsvg-convert is still missing after apt-get install librsvg2-bin".into())
    }
}

/// Debian's C toolchain, for the Microkit SDK (`cargo xtask sdk`): gcc
/// (also as `x86_64-linux-gnu-gcc`, which Microkit's Makefiles call), ld
/// and ar (binutils), and make.
fn ensure_cc() -> Result {
    const TOOLS: &[&str] = &[
        "gcc",
        "x86_64-linux-gnu-gcc",
        "x86_64-linux-gnu-ld",
        "ar",
        "make",
    ];
    if TOOLS.iter().all(|t| have(t)) {
        return Ok(());
    }
    apt_install(&["gcc", "binutils", "make"])?;
    match TOOLS.iter().find(|t| !have(t)) {
        None => Ok(()),
        Some(t) => Err(format!(
            "{t} is still missing after apt-get install gcc binutils make"
        )),
    }
}

fn apt_install(packages: &[&str]) -> Result {
    eprintln!("xtask: installing {} (apt-get) ...", packages.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let run = |args: &[&str]| -> Result {
        let mut argv: Vec<&str> = sudo.to_vec();
        argv.extend_from_slice(args);
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` failed ({status})", argv.join(" ")))
        }
    };
    run(&["apt-get", "update", "-qq"])?;
    let mut install = vec!["apt-get", "install", "-y", "-qq"];
    install.extend_from_slice(packages);
    run(&install)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ensure_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == "x86_64-unknown-none")
    {
        return Ok(());
    }
    eprintln!("xtask: adding the x86_64-unknown-none target (rustup) ...");
    let status = Command::new("rustup")
        .args(["target", "add", "x86_64-unknown-none"])
        .status()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("rustup target add x86_64-unknown-none failed".into())
    }
}

fn ensure_components() -> Result {
    for (component, probe) in [("rustfmt", "rustfmt"), ("clippy", "cargo-clippy")] {
        if !have(probe) {
            eprintln!("xtask: adding the {component} component (rustup) ...");
            let status = Command::new("rustup")
                .args(["component", "add", component])
                .status()
                .map_err(|e| format!("cannot run rustup: {e}"))?;
            if !status.success() {
                return Err(format!("rustup component add {component} failed"));
            }
        }
    }
    Ok(())
}
