//! cpu_state checker (priority 200): loads secrets into XMM0, XMM15 and
//! MM0, then waits. The "dirty" PD runs meanwhile (first FPU use, DF and
//! AC set across timer interrupts, a #DB with DF set). When the waker
//! notifies, the secrets must be intact: the kernel saved them exactly
//! and its copies into the TCBs did not run backwards over them.
#![no_std]
#![no_main]

use core::arch::asm;

use mantle_runtime::{debug_println, protection_domain, Channel, Handler};
use mantle_test_pds::finish;

const SECRET0: u64 = 0x5ec7_e700_0000_0001;
const SECRET15: u64 = 0x1111_2222_3333_4444;
const SECRET_MM0: u64 = 0x0bad_cafe_0000_0007;

fn secrets() -> (u64, u64, u64) {
    let (a, b, c): (u64, u64, u64);
    // SAFETY: reads SSE and MMX registers only.
    unsafe {
        asm!("movq {a}, xmm0", "movq {b}, xmm15", "movq {c}, mm0",
             a = out(reg) a, b = out(reg) b, c = out(reg) c, options(nostack, nomem));
    }
    (a, b, c)
}

struct Checker;

impl Handler for Checker {
    fn notified(&mut self, _ch: Channel) {
        let got = secrets();
        let ok = got == (SECRET0, SECRET15, SECRET_MM0);
        if !ok {
            debug_println!(
                "cpu_state: FAIL: checker's registers changed: xmm0={:#x} xmm15={:#x} mm0={:#x}",
                got.0,
                got.1,
                got.2
            );
        } else {
            debug_println!("cpu_state: checker's FPU registers intact");
        }
        finish("cpu_state", ok)
    }
}

fn init() -> Checker {
    // SAFETY: writes SSE and MMX registers only (MMX use leaves the x87
    // stack in MMX state, which nothing here depends on).
    unsafe {
        asm!("movq xmm0, {a}", "movq xmm15, {b}", "movq mm0, {c}",
             a = in(reg) SECRET0, b = in(reg) SECRET15, c = in(reg) SECRET_MM0,
             options(nostack, nomem));
    }
    Checker
}

protection_domain!(init);
