//! Boots a built image in QEMU (skipped when QEMU or qboot is missing).

mod common;
use common::*;
use mantle::qemu::{Accel, Command, Input, Outcome};
use std::time::Duration;

fn have_qemu() -> bool {
    std::process::Command::new(mantle::qemu::QEMU)
        .arg("--version")
        .output()
        .is_ok()
        && std::path::Path::new(mantle::qemu::BIOS).exists()
}

#[test]
fn image_boots_and_exit_status_maps_back() {
    if !have_qemu() {
        eprintln!("skipped: no QEMU");
        return;
    }
    let f = Fixture::new(
        r#"<system>
  <memory_region name="m" size="0x10000"/>
  <protection_domain name="a" priority="1"><program_image path="pd.elf"/><map mr="m" vaddr="0x1000000"/></protection_domain>
</system>"#,
    );
    f.write("kernel.elf", &exiting_kernel_elf(3));
    let b = f.build().unwrap();
    let img = f.path("out.img");
    std::fs::write(&img, &b.image).unwrap();
    let t = Command::new(&img)
        .accel(Accel::Tcg)
        .timeout(Duration::from_secs(20))
        .run_captured()
        .unwrap();
    assert_eq!(t.outcome, Outcome::Guest(3), "stderr: {}", t.stderr);
    assert_eq!(t.outcome.exit_code(), 3);
}

const ONE_PD: &str = r#"<system><protection_domain name="a"><program_image path="pd.elf"/></protection_domain></system>"#;

#[test]
fn timeout_kills_qemu_and_lines_are_timestamped() {
    if !have_qemu() {
        return;
    }
    let f = Fixture::new(ONE_PD);
    f.write("kernel.elf", &spinning_kernel_elf());
    let img = f.path("spin.img");
    std::fs::write(&img, f.build().unwrap().image).unwrap();
    let start = std::time::Instant::now();
    let mut run = Command::new(&img)
        .accel(Accel::Tcg)
        .timeout(Duration::from_secs(3))
        .spawn()
        .unwrap();
    let line = run.next_line(Duration::from_secs(3)).expect("a line");
    assert_eq!(line.text, "hi");
    assert!(line.at < Duration::from_secs(3));
    assert!(run
        .wait_for("never printed", Duration::from_millis(200))
        .is_none());
    let t = run.finish();
    assert_eq!(
        t.lines.len(),
        1,
        "lines seen by next_line stay in the transcript"
    );
    assert_eq!(t.outcome, Outcome::Timeout);
    assert_eq!(t.outcome.exit_code(), 124);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn mantle_run_exits_with_the_guest_status() {
    if !have_qemu() {
        return;
    }
    let f = Fixture::new(ONE_PD);
    f.write("kernel.elf", &exiting_kernel_elf(5));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mantle"))
        .args(["run", "--accel", "tcg", "--timeout", "20", "--kernel"])
        .arg(f.path("kernel.elf"))
        .arg(f.path("test.system"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("mantle: accelerator: tcg"), "{err}");
    assert!(err.contains("the guest exited with status 5"), "{err}");
}

#[test]
fn a_qemu_failure_is_not_guest_status_0() {
    if !have_qemu() {
        return;
    }
    let f = Fixture::new(ONE_PD);
    f.write("bad.img", b"not an image");
    let t = Command::new(f.path("bad.img"))
        .accel(Accel::Tcg)
        .timeout(Duration::from_secs(20))
        .run_captured()
        .unwrap();
    assert_eq!(t.outcome, Outcome::Qemu(1), "{}", t.stderr);
    assert_ne!(t.outcome.exit_code(), 0);
}

fn echo_image(f: &Fixture) -> std::path::PathBuf {
    f.write("kernel.elf", &echo_kernel_elf());
    let img = f.path("echo.img");
    std::fs::write(&img, f.build().unwrap().image).unwrap();
    img
}

#[test]
fn scripted_input_reaches_com1_and_debugcon_reaches_stdout() {
    if !have_qemu() {
        return;
    }
    let f = Fixture::new(ONE_PD);
    let img = echo_image(&f);
    let t = Command::new(&img)
        .accel(Accel::Tcg)
        .timeout(Duration::from_secs(20))
        .input(vec![
            Input::after("ready", Duration::from_millis(20), "ab\n"),
            Input::after("ab", Duration::ZERO, "cq"),
        ])
        .run_captured()
        .unwrap();
    assert_eq!(t.outcome, Outcome::Guest(7), "{}\n{}", t.text(), t.stderr);
    assert_eq!(t.text(), "ready\nab\ncq\n");
}

#[test]
fn running_send_feeds_input() {
    if !have_qemu() {
        return;
    }
    let f = Fixture::new(ONE_PD);
    let img = echo_image(&f);
    let mut run = Command::new(&img)
        .accel(Accel::Tcg)
        .timeout(Duration::from_secs(20))
        .spawn()
        .unwrap();
    assert!(run.wait_for("ready", Duration::from_secs(20)).is_some());
    run.send(b"hello\n").unwrap();
    assert_eq!(
        run.next_line(Duration::from_secs(20)).map(|l| l.text),
        Some("hello".to_string())
    );
    run.send(b"q").unwrap();
    let t = run.finish();
    assert_eq!(t.outcome, Outcome::Guest(7), "{}", t.stderr);
    assert_eq!(t.text(), "ready\nhello\nq\n");
}
