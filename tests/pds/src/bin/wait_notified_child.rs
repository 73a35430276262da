//! wait_notified child (priority 150, child 0 of the waiter): when the
//! driver notifies it, it reads an unmapped address. The fault reaches the
//! waiter while it waits, which must stash it with its registers.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Channel, Handler};

const UNMAPPED: u64 = 0x3000_0000;

struct ChildPd;

impl Handler for ChildPd {
    fn notified(&mut self, _ch: Channel) {
        // SAFETY: the load targets an address outside every Rust
        // allocation and every mapping; the MMU turns it into a page fault
        // and the kernel stops this PD, so execution never continues.
        unsafe {
            core::arch::asm!("mov {v}, qword ptr [{a}]", a = in(reg) UNMAPPED, v = out(reg) _, options(nostack));
        }
    }
}

fn init() -> ChildPd {
    ChildPd
}

protection_domain!(init);
