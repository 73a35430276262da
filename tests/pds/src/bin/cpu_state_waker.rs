//! cpu_state waker (priority 100): runs once the dirty PD has faulted;
//! FS must be null for it too, then it wakes the checker.
#![no_std]
#![no_main]

use core::arch::asm;

use mantle_runtime::{debug_println, protection_domain, Channel, Handler};

struct Waker;
impl Handler for Waker {}

fn init() -> Waker {
    let fs: u64;
    // SAFETY: reads a segment selector.
    unsafe { asm!("mov {f:e}, fs", f = out(reg) fs, options(nostack, nomem)) };
    if fs != 0 {
        debug_println!(
            "cpu_state: FAIL: waker sees the dirty PD's FS selector {:#x}",
            fs
        );
    }
    let _ = Channel::new(0).notify();
    Waker
}

protection_domain!(init);
