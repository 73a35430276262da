//! `cargo xtask bench ...`: the benchmarks.
//!
//! - `ipc` (`bench/ipc.rs`): Mantle's IPC costs beside the Linux guest of
//!   `../shared/linux-guest/`, on the same QEMU configuration.
//! - `serial`, `timer` ([`subsystem`]): a benchmark system that measures
//!   itself.
//!
//! These are benchmarks, not tests: they print what they measured and judge
//! nothing beyond saying which goals the figures meet.

mod ipc;

use crate::artifacts;
use crate::boot;
use crate::{setup, Result};
use std::time::Duration;

/// `cargo xtask bench ipc` (`xtask/src/bench/ipc.rs`).
pub fn ipc() -> Result {
    ipc::run()
}

/// `cargo xtask bench serial|timer`: boot the benchmark system of
/// `bench/NAME/NAME.system` and print its result line (`NAME-bench: ...`),
/// measured by the PDs themselves with the HPET as the clock.
pub fn subsystem(name: &str) -> Result {
    setup::ensure_all()?;
    artifacts::kernel()?;
    artifacts::pds(&[])?;
    let system = artifacts::root().join(format!("bench/{name}/{name}.system"));
    let image = artifacts::image(&system, &format!("{name}bench"))?;
    let accel = boot::accelerator().as_str();
    let run = boot::boot(&image, Duration::from_secs(300), &[])?;
    let log = artifacts::root().join(format!("target/images/{name}bench.log"));
    let _ = std::fs::write(&log, boot::timed_text(&run));
    let prefix = format!("{name}-bench: ");
    let result = run
        .lines
        .iter()
        .map(|l| l.text.trim_start_matches("[1] "))
        .rev()
        .find(|l| l.starts_with(&prefix) && l.contains('='))
        .ok_or_else(|| {
            format!(
                "the benchmark printed no result (transcript {})",
                log.display()
            )
        })?;
    if result.contains("FAIL") || run.outcome != boot::Outcome::Guest(0) {
        return Err(format!(
            "the benchmark failed: {result} ({})",
            run.outcome.describe()
        ));
    }
    println!("{result} mode={accel}");
    Ok(())
}
