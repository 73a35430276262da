//! Building the pieces: the kernel (its own flags and target directory), PD
//! programs (bare-metal target, the runtime's linker script) and the tool.

use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const TARGET: &str = "x86_64-unknown-none";
/// Flags only the kernel needs: it is linked in the top 2 GiB.
pub const KERNEL_RUSTFLAGS: &str = "-C code-model=kernel -C relocation-model=static";

/// The repository root, found at run time: the nearest directory at or
/// above the current one that holds `xtask/Cargo.toml` beside a workspace
/// `Cargo.toml` (so `cargo xtask` works from any subdirectory, and a copied
/// tree builds itself, not the tree the harness was first compiled in).
/// Cargo's run-time `CARGO_MANIFEST_DIR` is the fallback for a harness
/// started from elsewhere.
pub fn root() -> PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let cwd = std::env::current_dir().ok();
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .and_then(|d| d.parent().map(Path::to_path_buf));
        cwd.iter()
            .flat_map(|d| d.ancestors())
            .chain(manifest.as_deref())
            .find(|d| is_root(d))
            .map(Path::to_path_buf)
            .unwrap_or_else(|| {
                eprintln!(
                    "xtask: cannot find the Mantle repository: no directory at or above {} \
                     holds xtask/Cargo.toml; run `cargo xtask` inside the repository",
                    cwd.as_deref().unwrap_or(Path::new("?")).display()
                );
                std::process::exit(2)
            })
    })
    .clone()
}

fn is_root(dir: &Path) -> bool {
    dir.join("xtask/Cargo.toml").is_file()
        && std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub fn run(mut cmd: Command, what: &str) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// Build the kernel; returns its ELF.
pub fn kernel() -> Result<PathBuf> {
    kernel_variant("target/kernel", &[], "building the kernel")
}

/// Build the kernel into `target_dir` (relative to the root; each variant
/// has its own, so variants never rebuild each other) with the extra build
/// environment `env` (e.g. `MANTLE_VSPACE`); returns its ELF.
pub fn kernel_variant(target_dir: &str, env: &[(&str, &str)], what: &str) -> Result<PathBuf> {
    let mut c = cargo();
    c.args([
        "build",
        "--quiet",
        "-p",
        "mantle-kernel",
        "--release",
        "--target",
        TARGET,
    ])
    .arg("--target-dir")
    .arg(root().join(target_dir))
    .env("RUSTFLAGS", KERNEL_RUSTFLAGS)
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .envs(env.iter().copied());
    run(c, what)?;
    Ok(root()
        .join(target_dir)
        .join(TARGET)
        .join("release/mantle-kernel"))
}

/// Where PD programs land.
pub fn pd_dir() -> PathBuf {
    root().join("target").join(TARGET).join("release")
}

/// Workspace members that are not built for the bare-metal target: host
/// programs, and the kernel (built with its own flags by [`kernel`]).
pub const NOT_BARE_METAL: &[&str] = &["mantle", "xtask", "mantle-kernel"];

/// Build the PD programs of these packages (all of them for `&[]`).
pub fn pds(packages: &[&str]) -> Result {
    let mut c = cargo();
    c.args(["build", "--quiet", "--release", "--target", TARGET]);
    select_bare_metal(&mut c, packages);
    c.env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    run(c, "building PD programs")
}

/// Build the `mantle` tool; returns its binary.
pub fn tool() -> Result<PathBuf> {
    let mut c = cargo();
    c.args(["build", "--quiet", "--release", "-p", "mantle"]);
    run(c, "building the mantle tool")?;
    Ok(root().join("target/release/mantle"))
}

/// Select `packages`, or every bare-metal workspace member for `&[]`.
pub fn select_bare_metal(c: &mut Command, packages: &[&str]) {
    if packages.is_empty() {
        c.arg("--workspace");
        for p in NOT_BARE_METAL {
            c.args(["--exclude", p]);
        }
    } else {
        for p in packages {
            c.args(["-p", p]);
        }
    }
}

pub fn build_everything() -> Result {
    kernel()?;
    pds(&[])?;
    tool()?;
    Ok(())
}

/// `mantle build SYSTEM -o IMAGE`; returns the image path.
pub fn image(system: &Path, name: &str) -> Result<PathBuf> {
    image_with_kernel(system, &kernel_path(), name)
}

/// `mantle build SYSTEM` with `kernel` into `target/images/NAME.img` (and
/// its report beside it); returns the image path.
pub fn image_with_kernel(system: &Path, kernel: &Path, name: &str) -> Result<PathBuf> {
    let dir = root().join("target/images");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let image = dir.join(format!("{name}.img"));
    let report = dir.join(format!("{name}.report.txt"));
    let mut c = Command::new(tool()?);
    c.arg("build")
        .arg(system)
        .arg("-o")
        .arg(&image)
        .arg("--kernel")
        .arg(kernel)
        .arg("--search-path")
        .arg(pd_dir())
        .arg("--report")
        .arg(&report);
    run(c, &format!("mantle build {}", system.display()))?;
    Ok(image)
}

pub fn kernel_path() -> PathBuf {
    root()
        .join("target/kernel")
        .join(TARGET)
        .join("release/mantle-kernel")
}
