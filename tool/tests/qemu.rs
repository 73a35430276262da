//! Boots a built image in QEMU (skipped when QEMU or qboot is missing).

mod common;
use common::*;
use mantle::qemu::{Accel, Command, Outcome};
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
