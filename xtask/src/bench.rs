//! `cargo xtask bench ipc`: Mantle's IPC costs and boot time, measured in the
//! same run and on the same QEMU configuration as the Linux guest of
//! `../shared/linux-guest/`.
//!
//! This is a benchmark, not a test: it prints what it measured and judges
//! nothing beyond saying which goals the figures meet.

use crate::artifacts;
use crate::boot;
use crate::{setup, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Boots of the Mantle benchmark system; the median of each figure is kept.
const MANTLE_BOOTS: usize = 5;

pub fn ipc() -> Result {
    setup::ensure_all()?;
    artifacts::kernel()?;
    artifacts::pds(&["ipcbench"])?;
    let system = artifacts::root().join("bench/ipc/ipc.system");
    let image = artifacts::image(&system, "ipcbench")?;
    let accel = boot::accelerator().as_str();
    eprintln!("xtask: accelerator {accel}");

    let mut samples: Vec<[u64; 4]> = Vec::new();
    for i in 0..MANTLE_BOOTS {
        let run = boot::boot(&image, Duration::from_secs(300), &[])?;
        let log = artifacts::root().join(format!("target/images/ipcbench.{i}.log"));
        let _ = std::fs::write(&log, boot::timed_text(&run));
        let line = run
            .lines
            .iter()
            .map(|l| l.text.as_str())
            .find(|l| l.starts_with("ipcbench:"))
            .ok_or_else(|| {
                format!(
                    "the benchmark printed no result (transcript {})",
                    log.display()
                )
            })?;
        let boot_ms = boot::time_of(&run, "mantle: all")
            .ok_or_else(|| format!("no `mantle: all ... initialised` line ({})", log.display()))?
            .as_millis() as u64;
        let field = |k: &str| value(line, k).ok_or_else(|| format!("no {k}= in {line:?}"));
        let s = [
            field("null_syscall")?,
            field("ppc_roundtrip")?,
            field("notify_wake")?,
            boot_ms,
        ];
        eprintln!(
            "mantle run {}: null_syscall={} ppc_roundtrip={} notify_wake={} boot_ms={}",
            i + 1,
            s[0],
            s[1],
            s[2],
            s[3]
        );
        samples.push(s);
    }
    let mantle: Vec<u64> = (0..4)
        .map(|k| median(samples.iter().map(|s| s[k])))
        .collect();

    let linux = linux_baseline(accel)?;
    let [getpid, futex, pipe, linux_boot_ms] = linux;

    println!(
        "benchmark: {MANTLE_BOOTS} Mantle boots (median of each figure) and one Linux guest run,"
    );
    println!(
        "           same QEMU machine (q35, qboot, qemu64, 512 MiB, 1 vCPU), accelerator {accel}."
    );
    println!("           Units: TSC ticks (under TCG these are host time, not guest cycles).");
    println!("boot: Mantle {} ms to the last PD's init, Linux {linux_boot_ms} ms to its ready line (QEMU start to console line, both)", mantle[3]);
    let goals = [
        (
            "ppc_roundtrip <= 0.25 x linux_futex_rt",
            mantle[1] * 4 <= futex,
        ),
        (
            "ppc_roundtrip <= 0.05 x linux_pipe_rt",
            mantle[1] * 20 <= pipe,
        ),
        (
            "notify_wake <= 0.15 x linux_futex_rt",
            mantle[2] * 100 <= futex * 15,
        ),
        ("null_syscall <= linux_getpid", mantle[0] <= getpid),
        ("boot_ms <= 300", mantle[3] <= 300),
    ];
    for (goal, met) in goals {
        println!("goal {goal}: {}", if met { "met" } else { "NOT met" });
    }
    println!(
        "ipc: null_syscall={} ppc_roundtrip={} notify_wake={} boot_ms={} linux_getpid={getpid} linux_futex_rt={futex} linux_pipe_rt={pipe} mode={accel}",
        mantle[0], mantle[1], mantle[2], mantle[3]
    );
    Ok(())
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

fn median(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    v[v.len() / 2]
}

/// `key=N` in a line of `key=value` words.
fn value(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn linux_guest_dir() -> Result<PathBuf> {
    // `MANTLE_SHARED` names shared/ for a tree that is not beside it (the
    // documentation test's fresh copy).
    let shared = std::env::var_os("MANTLE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts::root().join("../shared"));
    let dir = shared.join("linux-guest");
    if dir.join("run.sh").exists() {
        Ok(dir)
    } else {
        Err(format!(
            "the Linux guest harness is missing at {}",
            dir.display()
        ))
    }
}

/// getpid, futex round trip and pipe round trip medians of the Linux guest,
/// and its boot time in ms.
fn linux_baseline(accel: &str) -> Result<[u64; 4]> {
    let dir = linux_guest_dir()?;
    let out = std::env::var("LG_OUT").unwrap_or_else(|_| "/tmp/linux-guest".into());
    if !Path::new(&out).join("vmlinux").exists()
        || !Path::new(&out).join("initramfs.cpio.gz").exists()
    {
        eprintln!("xtask: building the Linux guest (../shared/linux-guest/build.sh) ...");
        let mut c = Command::new("bash");
        c.arg(dir.join("build.sh"));
        artifacts::run(c, "linux-guest build.sh")?;
    }
    // The harness boots with QEMU's default firmware; give it qboot too, so
    // both systems run on exactly the same machine.
    let wrapper = artifacts::root().join("target/qemu-with-qboot");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec qemu-system-x86_64 -bios {} \"$@\"\n",
            setup::QBOOT
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", wrapper.display()))?;
    make_executable(&wrapper)?;
    eprintln!("xtask: booting the Linux guest (run.sh --no-net --accel {accel}) ...");
    let output = Command::new("bash")
        .arg(dir.join("run.sh"))
        .args(["--no-net", "--accel", accel])
        .env("QEMU", &wrapper)
        .output()
        .map_err(|e| format!("cannot run linux-guest run.sh: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "linux-guest run.sh failed ({}):\n{}\n{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let _ = std::fs::write(
        artifacts::root().join("target/images/linux-guest.txt"),
        text.as_bytes(),
    );
    let med = |name: &str| {
        text.lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(name)).then(|| w.next()?.parse::<u64>().ok())?
            })
            .ok_or_else(|| format!("no '{name}' median in the Linux guest's results"))
    };
    Ok([
        med("getpid")?,
        med("futex_rtt_unpinned")?,
        med("pipe_rtt_unpinned")?,
        med("boot")?,
    ])
}

fn make_executable(path: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_values() {
        let l = "ipcbench: null_syscall=812 ppc_roundtrip=4000 notify_wake=3000 iterations=10000";
        assert_eq!(value(l, "null_syscall"), Some(812));
        assert_eq!(value(l, "notify_wake"), Some(3000));
        assert_eq!(value(l, "ppc"), None);
        assert_eq!(median([5, 1, 3].into_iter()), 3);
    }
}
