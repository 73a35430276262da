//! cpu_protection: the child. Runs `sgdt` in user mode: with UMIP on it
//! raises #GP and the parent gets the fault; without UMIP it reads the GDT
//! register and notifies the parent.
#![no_std]
#![no_main]

use core::arch::asm;
use mantle_runtime::{debug_println, protection_domain, Channel, Handler};

const PARENT: Channel = Channel::new(0);

struct ChildPd;
impl Handler for ChildPd {}

fn init() -> ChildPd {
    let mut gdtr = [0u8; 10];
    // SAFETY: SGDT stores 10 bytes (limit, base) into `gdtr`, which has
    // room for them; with UMIP it faults instead and this PD stops.
    unsafe { asm!("sgdt [{}]", in(reg) gdtr.as_mut_ptr(), options(nostack, preserves_flags)) };
    let mut base = [0u8; 8];
    base.copy_from_slice(&gdtr[2..10]);
    debug_println!(
        "cpu_protection: sgdt in user mode read the GDT base {:#x}",
        u64::from_le_bytes(base)
    );
    PARENT.notify().expect("notify parent");
    ChildPd
}

protection_domain!(init);
