//! The system description format (SDF): Microkit's schema, read unchanged.

pub mod compose;
pub mod config;
pub mod model;
pub mod number;
pub mod parse;
pub mod privilege;
pub mod validate;
pub mod write;

pub use model::System;

use crate::diag::{Diags, Error};
use crate::layout::IMAGE_LIMIT;
use mantle_abi::layout::align_up;
use std::path::PathBuf;

/// Parse and validate SDF `text` (named `file` in messages). On success
/// returns the system and any warnings.
///
/// `dirs` are the folders searched for `prefill_path` files (the SDF's own
/// folder first); program images are not read here.
pub fn load(file: &str, text: &str, dirs: &[PathBuf]) -> Result<(System, Diags), Error> {
    let mut d = Diags::new(file);
    let Some(mut sys) = parse::parse(text, &mut d) else {
        return Err(d.into());
    };
    compose::expand(&mut sys, &mut d);
    if d.has_errors() {
        return Err(d.into());
    }
    resolve_prefills(&mut sys, dirs, &mut d);
    if d.has_errors() {
        return Err(d.into());
    }
    validate::validate(&sys, &mut d);
    config::check(&sys, &mut d);
    if let Err(msg) = compose::configs(&sys, None) {
        d.error(sys.pos, msg);
    }
    if d.has_errors() {
        return Err(d.into());
    }
    Ok((sys, d))
}

/// Read `bytes` as an SDF: non-UTF-8 input is an error, not a panic.
pub fn load_bytes(file: &str, bytes: &[u8], dirs: &[PathBuf]) -> Result<(System, Diags), Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => load(file, text, dirs),
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            let col = (before.len()
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)) as u32
                + 1;
            Err(Error::at(
                file,
                crate::diag::Pos::new(line, col),
                format!(
                    "the file is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            ))
        }
    }
}

/// Read every region's `prefill_path` file (searched in `dirs`), check it
/// against the region's size, and set the size of regions that left it out
/// (the file's size rounded up to the page size).
pub fn resolve_prefills(sys: &mut System, dirs: &[PathBuf], d: &mut Diags) {
    for mr in &mut sys.mrs {
        let Some(pf) = &mut mr.prefill else { continue };
        let at = mr.attrs.get("prefill_path", mr.pos);
        let ctx = format!(
            "prefill_path \"{}\" of memory_region '{}'",
            pf.path, mr.name
        );
        let path = match crate::program::find_file(&pf.path, dirs) {
            Ok(p) => p,
            Err(e) => {
                d.error(at, format!("{ctx}: {e}"));
                continue;
            }
        };
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len > IMAGE_LIMIT {
            d.error(
                at,
                format!(
                    "{ctx}: the file is {len:#x} bytes; at most {IMAGE_LIMIT:#x} fit in memory"
                ),
            );
            continue;
        }
        let data = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                d.error(at, format!("{ctx}: cannot read {}: {e}", path.display()));
                continue;
            }
        };
        if data.is_empty() {
            d.error(at, format!("{ctx}: the file {} is empty", path.display()));
            continue;
        }
        let len = data.len() as u64;
        if mr.attrs.has("size") {
            if len > mr.size {
                d.error(
                    at,
                    format!(
                        "{ctx}: the file is {len:#x} bytes, larger than the region's size {:#x}",
                        mr.size
                    ),
                );
                continue;
            }
        } else {
            mr.size = align_up(len, mr.page_size).unwrap_or(u64::MAX);
        }
        pf.data = data;
    }
}
