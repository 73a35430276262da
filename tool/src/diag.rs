//! Diagnostics: every message names a file, a line and column where there is
//! one, what is wrong, the offending value and what is allowed.

use std::fmt;

/// A position in a source file (1-based line and column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1 (0: unknown).
    pub line: u32,
    /// Column, from 1 (0: unknown).
    pub col: u32,
}

impl Pos {
    /// A position.
    pub const fn new(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }
    /// No known position.
    pub const NONE: Pos = Pos { line: 0, col: 0 };
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The input is rejected.
    Error,
    /// The input is accepted, but probably not what was meant.
    Warning,
}

/// One message about the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the message is about.
    pub file: String,
    /// Where in it ([`Pos::NONE`] when the message is about the whole file).
    pub pos: Pos,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(file: impl Into<String>, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            pos,
            message: message.into(),
        }
    }
    /// Is this an error?
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.pos.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, self.pos.line, self.pos.col, sev, self.message
            )
        } else {
            write!(f, "{}: {}: {}", self.file, sev, self.message)
        }
    }
}

/// A collection of diagnostics about one file.
#[derive(Clone, Debug, Default)]
pub struct Diags {
    file: String,
    list: Vec<Diagnostic>,
}

impl Diags {
    /// Diagnostics about `file`.
    pub fn new(file: impl Into<String>) -> Diags {
        Diags {
            file: file.into(),
            list: Vec::new(),
        }
    }
    /// The file name used in messages.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// Record an error.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.list
            .push(Diagnostic::error(self.file.clone(), pos, message));
    }
    /// Record a warning.
    pub fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.list.push(Diagnostic {
            severity: Severity::Warning,
            file: self.file.clone(),
            pos,
            message: message.into(),
        });
    }
    /// Record a finished diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }
    /// Were there errors?
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }
    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.list.iter().filter(|d| d.is_error()).count()
    }
    /// All diagnostics, in the order they were found.
    pub fn list(&self) -> &[Diagnostic] {
        &self.list
    }
    /// Take the diagnostics out.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }
}

/// The tool's error: one or more diagnostics (at least one an error), plus any
/// warnings found on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The diagnostics, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Error {
    /// An error without a position (I/O and the like).
    pub fn msg(file: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            diagnostics: vec![Diagnostic::error(file, Pos::NONE, message)],
        }
    }
    /// An error at a position.
    pub fn at(file: impl Into<String>, pos: Pos, message: impl Into<String>) -> Error {
        Error {
            diagnostics: vec![Diagnostic::error(file, pos, message)],
        }
    }
    /// The error diagnostics only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl From<Diags> for Error {
    fn from(d: Diags) -> Error {
        Error {
            diagnostics: d.into_vec(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `Result` with the tool's error.
pub type Result<T> = std::result::Result<T, Error>;

/// The candidate closest to `word` (edit distance at most 2, or a prefix
/// either way), for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_chars: Vec<char> = word.chars().collect();
    if word_chars.is_empty() || word_chars.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word || c.is_empty() {
            continue;
        }
        let d = if c.starts_with(word) || word.starts_with(c) {
            1
        } else {
            edit_distance(&word_chars, &c.chars().take(65).collect::<Vec<_>>())
        };
        let limit = if word_chars.len() <= 3 { 1 } else { 2 };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `" (did you mean 'x'?)"`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(word, candidates)
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("prio", ["priority", "budget"]), Some("priority"));
        assert_eq!(suggest("clinet", ["client", "server"]), Some("client"));
        assert_eq!(suggest("xyz", ["client", "server"]), None);
        assert_eq!(suggest("", ["a"]), None);
        assert_eq!(suggest("mapp", ["map", "irq"]), Some("map"));
        assert_eq!(edit_distance(&['a', 'b'], &['b', 'a']), 2);
    }
}
