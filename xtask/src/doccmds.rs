//! The documentation, tested the way a newcomer reads it.
//!
//! - **Commands.** Every line of every ```` ```sh ```` block in the README
//!   and in `docs/`, `tool/` and `examples/*/` READMEs is run, in document
//!   order, in a fresh copy of the repository with an empty `target/` (so a
//!   command that only works because the tests built something first
//!   fails here). A command must exit 0; interactive ones get a console
//!   script and markers from [`SCRIPTS`]. The only command not run is the
//!   test command itself.
//! - **Excerpts.** A code block whose first line names a file
//!   (`// examples/x/src/main.rs`, `# path/Cargo.toml`,
//!   `<!-- path/x.system -->`) must be a verbatim excerpt of that file, so
//!   the tutorial cannot drift from the code it shows.

use crate::artifacts;
use crate::systest::Tally;
use crate::Result;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A documented command that needs more than "exits 0".
struct Script {
    /// The command exactly as documented (continuation lines joined).
    cmd: &'static str,
    /// Console input: after the output shows the marker, type the bytes.
    input: &'static [(&'static str, &'static [u8])],
    /// Lines the output must contain, in order.
    expect: &'static [&'static str],
}

/// The command that runs this test: documented, not run recursively.
const SELF: &str = "cargo xtask test";

const SCRIPTS: &[Script] = &[
    Script {
        cmd: "cargo xtask run hello",
        input: &[],
        expect: &["hello: done"],
    },
    Script {
        cmd: "cargo xtask run serial",
        input: crate::systest::SERIAL_INPUT,
        expect: &["[1] client1: got 'hello'", "[2] client2: got 'world'", "serial: done"],
    },
    Script {
        cmd: "cargo run -p mantle -- run examples/serial/serial.system --search-path target/x86_64-unknown-none/release",
        input: crate::systest::SERIAL_INPUT,
        expect: &["[1] client1: got 'hello'", "[2] client2: got 'world'", "serial: done"],
    },
    Script {
        cmd: "cargo xtask run timer",
        input: &[],
        expect: &["timer: done"],
    },
    Script {
        cmd: "cargo xtask run sensor",
        input: &[],
        expect: &["[1] logger: sample 10:", "[1] sensor: done"],
    },
    Script {
        cmd: "cargo xtask bench ipc",
        input: &[],
        expect: &["ipc: "],
    },
];

/// How long one documented command may take (a cold build included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(900);

/// The markdown files a newcomer reads, in reading order.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![
        root.join("README.md"),
        root.join("docs/writing-a-system.md"),
    ];
    let mut rest: Vec<PathBuf> = Vec::new();
    for dir in ["docs", "tool"] {
        rest.extend(markdown_in(&root.join(dir)));
    }
    if let Ok(examples) = std::fs::read_dir(root.join("examples")) {
        for e in examples.flatten() {
            rest.extend(markdown_in(&e.path()));
        }
    }
    rest.sort();
    for d in rest {
        if !docs.contains(&d) {
            docs.push(d);
        }
    }
    docs
}

fn markdown_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect()
}

/// A fenced code block: its info string, first line number, and lines.
#[derive(Debug, PartialEq)]
pub struct Block {
    pub lang: String,
    pub line: usize,
    pub lines: Vec<String>,
}

pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            match cur.take() {
                Some(b) => out.push(b),
                None => {
                    cur = Some(Block {
                        lang: info.trim().to_string(),
                        line: i + 2,
                        lines: Vec::new(),
                    })
                }
            }
        } else if let Some(b) = cur.as_mut() {
            b.lines.push(l.to_string());
        }
    }
    out
}

/// The commands of a `sh` block: continuation lines joined, comments and
/// blank lines dropped.
pub fn commands(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in &block.lines {
        let l = match l.find(" #") {
            Some(i) => &l[..i],
            None => l.as_str(),
        };
        let l = l.trim();
        if l.starts_with('#') || (l.is_empty() && cur.is_empty()) {
            continue;
        }
        match l.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part.trim_end());
                cur.push(' ');
            }
            None => {
                cur.push_str(l);
                let c = std::mem::take(&mut cur);
                let c = c.split_whitespace().collect::<Vec<_>>().join(" ");
                if !c.is_empty() {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The file a block says it is an excerpt of, from its first line.
pub fn excerpt_source(block: &Block) -> Option<String> {
    let first = block.lines.first()?.trim();
    let path = first
        .strip_prefix("// ")
        .or_else(|| first.strip_prefix("# "))
        .or_else(|| {
            first
                .strip_prefix("<!-- ")
                .and_then(|r| r.strip_suffix(" -->"))
        })?
        .trim();
    let looks_like_path = path.contains('/')
        && !path.contains(' ')
        && [".rs", ".toml", ".system", ".md"]
            .iter()
            .any(|e| path.ends_with(e));
    looks_like_path.then(|| path.to_string())
}

/// Problems with an excerpt: the block's lines (after the path line) must
/// appear in `file` as one contiguous run.
pub fn check_excerpt(block: &Block, file: &str) -> Option<String> {
    let want = &block.lines[1..];
    if want.is_empty() {
        return Some("the excerpt is empty".into());
    }
    let have: Vec<&str> = file.lines().collect();
    let found = have
        .windows(want.len())
        .any(|w| w.iter().zip(want).all(|(a, b)| a == b));
    if found {
        return None;
    }
    // Say which line first went wrong, from the best starting point.
    let first_bad = want
        .iter()
        .find(|w| !have.contains(&w.as_str()))
        .map(|w| format!("line {w:?} is not in the file"))
        .unwrap_or_else(|| "its lines are in the file, but not in this order".into());
    Some(first_bad)
}

/// Check every excerpt in the documents of `root` (no commands run).
pub fn check_excerpts(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for doc in documents(root) {
        let Ok(text) = std::fs::read_to_string(&doc) else {
            continue;
        };
        for b in blocks(&text) {
            let Some(src) = excerpt_source(&b) else {
                continue;
            };
            let at = format!("{}:{}", rel(root, &doc), b.line);
            match std::fs::read_to_string(root.join(&src)) {
                Err(e) => {
                    problems.push(format!("{at}: excerpt of {src}, which cannot be read: {e}"))
                }
                Ok(file) => {
                    if let Some(p) = check_excerpt(&b, &file) {
                        problems.push(format!("{at}: excerpt of {src} does not match it: {p}"));
                    }
                }
            }
        }
    }
    problems
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Every documented command, in reading order, with where it is written.
pub fn documented_commands(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for doc in documents(root) {
        let Ok(text) = std::fs::read_to_string(&doc) else {
            continue;
        };
        for b in blocks(&text).iter().filter(|b| b.lang == "sh") {
            for c in commands(b) {
                out.push((format!("{}:{}", rel(root, &doc), b.line), c));
            }
        }
    }
    out
}

/// Copy the repository's files (tracked and untracked-but-not-ignored, as
/// they are now) into `dest`, without `target/`.
fn fresh_copy(root: &Path, dest: &Path) -> Result {
    if dest.exists() {
        std::fs::remove_dir_all(dest)
            .map_err(|e| format!("cannot clear {}: {e}", dest.display()))?;
    }
    let out = Command::new("git")
        .current_dir(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .map_err(|e| format!("cannot run git ls-files: {e}"))?;
    if !out.status.success() {
        return Err("git ls-files failed: the docs test copies the repository's files".into());
    }
    for f in out.stdout.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let f = String::from_utf8_lossy(f);
        let (from, to) = (root.join(&*f), dest.join(&*f));
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        std::fs::copy(&from, &to).map_err(|e| format!("cannot copy {f}: {e}"))?;
    }
    Ok(())
}

/// Run one command in `dir` with `bash -c`, feeding its console script;
/// returns its output, or why it failed.
fn run_command(dir: &Path, cmd: &str, script: Option<&Script>) -> Result<String> {
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("exec 2>&1\n{cmd}"))
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO")
        .env("MANTLE_SHARED", artifacts::root().join("../shared"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start bash: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        // Line by line (a last line without a newline arrives at the end;
        // input triggers are whole lines).
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stdin = child.stdin.take();
    let mut input = script.map_or(&[][..], |s| s.input).iter().peekable();
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let mut output = String::new();
    let mut since_marker = 0; // input triggers match output after the last one
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => output.push_str(&chunk),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        while let Some((marker, bytes)) = input.peek() {
            let Some(i) = output[since_marker..].find(marker) else {
                break;
            };
            since_marker += i + marker.len();
            std::thread::sleep(Duration::from_millis(20));
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(bytes).and_then(|()| s.flush());
            }
            input.next();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "did not finish within {} s\n{}",
                COMMAND_TIMEOUT.as_secs(),
                tail(&output)
            ));
        }
    }
    drop(stdin);
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for bash: {e}"))?;
    if !status.success() {
        return Err(format!("exited with {status}\n{}", tail(&output)));
    }
    let mut at = 0;
    for m in script.map_or(&[][..], |s| s.expect) {
        match output[at..].find(m) {
            Some(i) => at += i + m.len(),
            None => return Err(format!("output lacks {m:?} (in order)\n{}", tail(&output))),
        }
    }
    Ok(output)
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let from = lines.len().saturating_sub(25);
    lines[from..]
        .iter()
        .map(|l| format!("    | {l}\n"))
        .collect()
}

/// Check the excerpts, then run every documented command in a fresh copy.
/// Prints one `test docs::...` line per command; returns (passed, failed).
pub fn run_all() -> Result<(usize, usize)> {
    let root = artifacts::root();
    let mut tally = Tally::default();
    let excerpts = check_excerpts(&root);
    tally.record(
        "docs::excerpts",
        if excerpts.is_empty() {
            Ok(())
        } else {
            Err(excerpts.join("\n  "))
        },
    );
    let tree = root.join("target/newcomer");
    fresh_copy(&root, &tree)?;
    let cmds = documented_commands(&tree);
    eprintln!(
        "xtask: running the {} documented commands in a fresh copy, {}",
        cmds.len(),
        tree.display()
    );
    let log_dir = root.join("target/images");
    let _ = std::fs::create_dir_all(&log_dir);
    for (n, (at, cmd)) in cmds.iter().enumerate() {
        if cmd == SELF {
            eprintln!("xtask: {at}: `{cmd}` is this test; not run again");
            continue;
        }
        let script = SCRIPTS.iter().find(|s| s.cmd == cmd);
        let started = Instant::now();
        let result = run_command(&tree, cmd, script);
        let log = log_dir.join(format!("docs.{n}.log"));
        let secs = started.elapsed().as_secs_f64();
        let _ = std::fs::write(&log, result.as_ref().unwrap_or_else(|e| e));
        tally.record(
            &format!("docs::`{cmd}` ({at}, {secs:.0} s)"),
            result.map(drop),
        );
    }
    Ok((tally.passed, tally.failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "text\n```sh\ncargo a   # why\n# only a comment\n\ncargo b \\\n    --flag x\n```\n```rust\n// examples/x/src/main.rs\nfn main() {\n}\n```\n";

    #[test]
    fn blocks_and_commands_are_read_as_a_shell_would() {
        let b = blocks(DOC);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].lang.as_str(), b[0].line), ("sh", 3));
        assert_eq!(commands(&b[0]), ["cargo a", "cargo b --flag x"]);
        assert_eq!(
            excerpt_source(&b[1]).as_deref(),
            Some("examples/x/src/main.rs")
        );
        assert_eq!(excerpt_source(&b[0]), None);
    }

    #[test]
    fn an_excerpt_must_match_its_file() {
        let b = &blocks(DOC)[1];
        assert_eq!(check_excerpt(b, "// x\nfn main() {\n}\n"), None);
        assert!(check_excerpt(b, "fn main() {\n    // changed\n}\n").is_some());
        assert!(
            check_excerpt(b, "}\nfn main() {\n").is_some(),
            "order matters"
        );
    }

    #[test]
    fn every_excerpt_in_the_docs_matches() {
        let problems = check_excerpts(&artifacts::root());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_script_is_a_documented_command() {
        let documented: Vec<String> = documented_commands(&artifacts::root())
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        for s in SCRIPTS {
            assert!(
                documented.iter().any(|c| c == s.cmd),
                "`{}` is in no doc",
                s.cmd
            );
        }
        assert!(documented.iter().any(|c| c == SELF));
    }
}
