//! hello's child: writes to an unmapped address as soon as it starts. Its
//! attempt counter survives restarts, because a restart does not reload data
//! (Microkit semantics).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use hello::CHILD_BAD_ADDRESS;
use mantle_runtime::{debug_println, protection_domain, Handler};

static ATTEMPT: AtomicU32 = AtomicU32::new(0);

struct Child;
impl Handler for Child {}

fn init() -> Child {
    let n = ATTEMPT.fetch_add(1, Ordering::Relaxed) + 1;
    debug_println!(
        "child: attempt {}: writing to unmapped address {:#x}",
        n,
        CHILD_BAD_ADDRESS
    );
    // SAFETY: none needed for memory safety of this program: the store goes
    // to an address outside every Rust allocation and the MMU turns it into a
    // page fault, which the kernel reports to our parent. We never continue.
    unsafe {
        core::arch::asm!(
            "mov qword ptr [{addr}], {val}",
            addr = in(reg) CHILD_BAD_ADDRESS,
            val = in(reg) n as u64,
            options(nostack),
        );
    }
    debug_println!("child: FAIL: the write did not fault");
    Child
}

protection_domain!(init);
