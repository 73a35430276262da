//! Booting an image for tests and benchmarks: a thin layer over
//! `mantle::qemu`, so that tests, benchmarks and `mantle run` boot exactly
//! the same machine.

use crate::{artifacts, Result};
use mantle::qemu::{self, Accel};
use mantle::symbolise::Symboliser;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

pub use mantle::qemu::{Outcome, Transcript};

/// The accelerator every boot of this run uses, chosen (and announced) once.
pub fn accelerator() -> Accel {
    static CHOICE: OnceLock<Accel> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        let (accel, why) = qemu::choose_accel(None);
        qemu::announce(accel, &why);
        accel
    })
}

/// Boot `image` and capture its console; QEMU is killed after `timeout`.
/// `input` is a console script: once the console shows each marker (in
/// order), the bytes are typed.
pub fn boot(image: &Path, timeout: Duration, input: &[(&str, &[u8])]) -> Result<Transcript> {
    boot_in(image, timeout, input, None, false)
}

/// [`boot`], with fault reports followed by `symbols`' annotations in the
/// transcript (as `mantle run` prints them), and under `-icount` (TCG)
/// when `icount` is set: the guest's clocks then count instructions, so
/// time-based checks do not depend on how busy the host is.
pub fn boot_in(
    image: &Path,
    timeout: Duration,
    input: &[(&str, &[u8])],
    symbols: Option<Symboliser>,
    icount: bool,
) -> Result<Transcript> {
    let mut c = qemu::Command::new(image)
        .accel(if icount { Accel::Tcg } else { accelerator() })
        .timeout(timeout)
        .input(
            input
                .iter()
                .map(|(marker, bytes)| {
                    qemu::Input::after(*marker, Duration::from_millis(20), bytes.to_vec())
                })
                .collect(),
        );
    if let Some(s) = symbols {
        c = c.symbolise(s);
    }
    if icount {
        c = c.icount();
    }
    c.run_captured()
        .map_err(|e| format!("cannot run QEMU on {}: {e}", image.display()))
}

/// The symboliser for the system at `system` (its programs from the PD
/// build; source paths relative to the repository), or `None` with a
/// warning if the description cannot be read.
pub fn symbols(system: &Path) -> Option<Symboliser> {
    let search = [artifacts::pd_dir()];
    match Symboliser::from_sdf_file(system, &search, Some(artifacts::root())) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!(
                "xtask: warning: fault reports of {} stay unsymbolised: {e}",
                system.display()
            );
            None
        }
    }
}

/// The console with each line's arrival time, for logs.
pub fn timed_text(t: &Transcript) -> String {
    t.lines
        .iter()
        .map(|l| format!("[{:>9.3} ms] {}\n", l.at.as_secs_f64() * 1e3, l.text))
        .chain(std::iter::once(format!(
            "[end] {}\n[qemu stderr] {}\n",
            t.outcome.describe(),
            t.stderr.trim()
        )))
        .collect()
}

/// When the first line containing `marker` arrived, since QEMU started.
pub fn time_of(t: &Transcript, marker: &str) -> Option<Duration> {
    t.lines
        .iter()
        .find(|l| l.text.contains(marker))
        .map(|l| l.at)
}
