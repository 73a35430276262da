//! # mantle: the host tool of the Mantle microkernel
//!
//! `mantle check|expand|diagram|build|run|report` reads a Microkit system
//! description (SDF), expands its composed subsystems ([`sdf::compose`]),
//! checks it, lays out all physical memory, patches `setvar` symbols and
//! each component's configuration ([`mantle_config`]), encodes the boot
//! description ([`mantle_abi::bootdesc`]) and writes one bootable ELF image
//! that QEMU loads with `-kernel`. It also draws the system
//! ([`diagram`]) and reports memory use, permissions and least-privilege
//! findings ([`report`], [`sdf::privilege`]).
//!
//! ## Design principles
//! - **Microkit's schema, unchanged.** An SDF that Microkit accepts for x86
//!   means the same here; a feature Mantle does not have yet is rejected with
//!   a message saying so, never silently ignored.
//! - **Every error is actionable.** Messages name `file:line:col`, what is
//!   wrong, the offending value and what is allowed; all errors found in one
//!   pass are reported together ([`diag`]).
//! - **Never panic on input.** Numbers are checked for overflow, files are
//!   read with bounds checks ([`elf`]), and the tool's own output is checked
//!   with the kernel's decoder ([`mantle_abi::bootdesc::BootDescription::parse`])
//!   before an image is written: a tool bug cannot produce an image the
//!   kernel rejects.
//! - **One definition.** Constants and formats come from `mantle-abi`; the
//!   QEMU command line is defined once, in [`qemu`].
//! - **Describe a subsystem once.** A `<serial_subsystem>` (or timer, or
//!   network) expands to everything it needs; channel ids and addresses go
//!   to the components through one shared definition ([`mantle_config`]),
//!   never through numbers written twice. A plain SDF stays valid.
//! - **Small modules**: [`sdf`] (parse, compose, model, validate,
//!   privilege, write), [`elf`], [`program`], [`layout`], [`spec`],
//!   [`mod@build`], [`image`], [`report`], [`diagram`] (dot, svg),
//!   [`qemu`], [`symbolise`] (fault reports from DWARF), [`cli`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod build;
pub mod cli;
pub mod diag;
pub mod diagram;
pub mod elf;
pub mod image;
pub mod layout;
pub mod program;
pub mod qemu;
pub mod report;
pub mod sdf;
pub mod spec;
pub mod symbolise;

pub use build::{build, build_bytes, BuildOptions, Built};
pub use diag::{Diagnostic, Error};

/// Check the SDF at `path` without reading any program image (`prefill_path`
/// files are read: they are looked up beside the SDF). Returns the warnings
/// on success.
pub fn check(path: &std::path::Path) -> Result<Vec<Diagnostic>, Error> {
    check_with(path, &[])
}

/// [`check`], also looking for `prefill_path` files in `search_paths`.
pub fn check_with(
    path: &std::path::Path,
    search_paths: &[std::path::PathBuf],
) -> Result<Vec<Diagnostic>, Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::msg(&name, format!("cannot read system description: {e}")))?;
    let mut dirs = vec![path.parent().map(Into::into).unwrap_or_default()];
    dirs.extend(search_paths.iter().cloned());
    sdf::load_bytes(&name, &bytes, &dirs).map(|(_, d)| d.into_vec())
}

/// Expand the SDF at `path`: the plain SDF its composed subsystems
/// (`<serial_subsystem>` ...) stand for, valid input for [`check`]. The
/// input is checked first; warnings are returned with the text.
pub fn expand(
    path: &std::path::Path,
    search_paths: &[std::path::PathBuf],
) -> Result<(String, Vec<Diagnostic>), Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::msg(&name, format!("cannot read system description: {e}")))?;
    let mut dirs = vec![path.parent().map(Into::into).unwrap_or_default()];
    dirs.extend(search_paths.iter().cloned());
    let (sys, d) = sdf::load_bytes(&name, &bytes, &dirs)?;
    Ok((sdf::write::write(&sys, &name), d.into_vec()))
}

/// Check SDF `bytes` (named `name` in messages; `prefill_path` files are
/// looked up in the current directory).
pub fn check_bytes(name: &str, bytes: &[u8]) -> Result<Vec<Diagnostic>, Error> {
    sdf::load_bytes(name, bytes, &[std::path::PathBuf::new()]).map(|(_, d)| d.into_vec())
}
