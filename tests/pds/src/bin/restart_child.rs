//! restart: the child. Each start performs the next fault of a fixed
//! sequence (its attempt counter survives restarts: data is not reloaded).
//! The parent checks every fault message and restarts (or, for the
//! breakpoint, resumes) it. After the last one it notifies the parent.
#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};
use mantle_runtime::{debug_println, protection_domain, Channel, Handler};

static ATTEMPT: AtomicU32 = AtomicU32::new(0);
const PARENT: Channel = Channel::new(0);

struct ChildPd;
impl Handler for ChildPd {}

/// The faults below are deliberate: each instruction traps, the kernel
/// stops this PD and reports to the parent, and (except for `int3`, which
/// the parent resumes past) execution never continues after it.
fn init() -> ChildPd {
    let n = ATTEMPT.fetch_add(1, Ordering::Relaxed) + 1;
    debug_println!("restart: child attempt {}", n);
    // SAFETY: each instruction below traps deliberately (see above); no
    // Rust-visible memory is touched.
    unsafe {
        match n {
            1 => asm!("mov qword ptr [{a}], 1", a = in(reg) 0x1000_0000u64, options(nostack)),
            2 => {
                asm!("mov {t}, qword ptr [{a}]", a = in(reg) 0xffff_8000_0000_0000u64, t = out(reg) _, options(nostack))
            }
            3 => {
                asm!("mov {t}, qword ptr [{a}]", a = in(reg) 0x0000_8000_0000_0000u64, t = out(reg) _, options(nostack))
            }
            4 => asm!("ud2", options(nostack)),
            5 => {
                asm!("int3", options(nostack));
                debug_println!("restart: child resumed after int3");
                asm!("hlt", options(nostack));
            }
            6 => asm!("in al, 0x80", out("al") _, options(nostack)),
            7 => {
                // Jump into the (never executable) stack.
                let code: [u8; 16] = [0xc3; 16]; // ret
                let target = core::hint::black_box(code.as_ptr());
                asm!("call {t}", t = in(reg) target);
            }
            8 => {
                asm!("xor edx, edx", "xor eax, eax", "div {z}", z = in(reg) 0u64, out("rax") _, out("rdx") _, options(nostack))
            }
            _ => {
                debug_println!("restart: child done with faults; telling parent");
                PARENT.notify().expect("notify parent");
            }
        }
    }
    ChildPd
}

protection_domain!(init);
