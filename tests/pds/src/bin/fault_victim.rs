//! fault_unmapped: reads an unmapped address; it has no parent, so the
//! kernel prints a fault report and stops it.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Handler};

const UNMAPPED: u64 = 0x3000_0000;

struct Victim;
impl Handler for Victim {}

fn init() -> Victim {
    debug_println!(
        "fault_unmapped: victim reading unmapped address {:#x}",
        UNMAPPED
    );
    let v: u64;
    // SAFETY: the load targets an address outside every Rust allocation;
    // the MMU turns it into a page fault and the kernel stops this PD, so
    // execution never continues past it.
    unsafe {
        core::arch::asm!("mov {v}, qword ptr [{a}]", a = in(reg) UNMAPPED, v = out(reg) v, options(nostack));
    }
    debug_println!("fault_unmapped: FAIL: victim still running (read {:#x})", v);
    Victim
}

protection_domain!(init);
