//! The system description format (SDF): Microkit's schema, read unchanged.

pub mod model;
pub mod parse;
pub mod validate;

pub use model::System;

use crate::diag::{Diags, Error};

/// Parse and validate SDF `text` (named `file` in messages). On success
/// returns the system and any warnings.
pub fn load(file: &str, text: &str) -> Result<(System, Diags), Error> {
    let mut d = Diags::new(file);
    let Some(sys) = parse::parse(text, &mut d) else {
        return Err(d.into());
    };
    validate::validate(&sys, &mut d);
    if d.has_errors() {
        return Err(d.into());
    }
    Ok((sys, d))
}

/// Read `bytes` as an SDF: non-UTF-8 input is an error, not a panic.
pub fn load_bytes(file: &str, bytes: &[u8]) -> Result<(System, Diags), Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => load(file, text),
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
