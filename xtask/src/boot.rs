//! Booting an image under QEMU and capturing its serial transcript, each line
//! stamped with the time since QEMU was started.
//!
//! The QEMU command line itself comes from the tool (`mantle::qemu`), so the
//! tests, the benchmarks and `mantle run` boot exactly the same machine.

use crate::Result;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a boot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote this status to `isa-debug-exit`.
    Exited(i32),
    /// QEMU ended without a status from the guest (its exit code, if any).
    QemuEnded(Option<i32>),
    /// The timeout ran out and QEMU was killed.
    TimedOut,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(s) => write!(f, "guest status {s}"),
            Outcome::QemuEnded(Some(c)) => write!(f, "QEMU exit code {c} without a guest status"),
            Outcome::QemuEnded(None) => write!(f, "QEMU killed by a signal"),
            Outcome::TimedOut => write!(f, "a timeout (QEMU killed)"),
        }
    }
}

/// A finished boot.
pub struct Run {
    /// Serial lines with the time since QEMU started.
    pub lines: Vec<(Duration, String)>,
    /// How it ended.
    pub outcome: Outcome,
}

impl Run {
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(t, l)| format!("[{:>9.3} ms] {l}\n", t.as_secs_f64() * 1e3))
            .collect()
    }

    /// Time at which the first line containing `marker` arrived.
    pub fn time_of(&self, marker: &str) -> Option<Duration> {
        self.lines.iter().find(|(_, l)| l.contains(marker)).map(|(t, _)| *t)
    }
}

/// The accelerator that will be used, as `mantle::qemu` decides it.
pub fn accelerator() -> String {
    mantle::qemu::Accel::detect().to_string()
}

/// Boot `image`, wait at most `timeout`.
pub fn boot(image: &Path, timeout: Duration) -> Result<Run> {
    let accel = mantle::qemu::Accel::detect();
    let mut cmd = mantle::qemu::command(image, accel);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start QEMU: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    if tx.send((start.elapsed(), line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let deadline = start + timeout;
    let mut lines = Vec::new();
    let outcome = loop {
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                break match status.code() {
                    Some(code) if code % 2 == 1 => Outcome::Exited(code >> 1),
                    code => Outcome::QemuEnded(code),
                }
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Outcome::TimedOut;
            }
            Ok(None) => match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(l) => lines.push(l),
                Err(_) => continue,
            },
            Err(e) => return Err(format!("waiting for QEMU: {e}")),
        }
    };
    let _ = reader.join();
    lines.extend(rx.try_iter());
    if let Outcome::QemuEnded(_) = outcome {
        if let Some(mut err) = child.stderr.take() {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            if !s.trim().is_empty() {
                lines.push((start.elapsed(), format!("[qemu stderr] {}", s.trim())));
            }
        }
    }
    Ok(Run { lines, outcome })
}
