//! cpu_state dirty PD (priority 150): on its first FPU use every FPU/SSE
//! register must be in the initial state (nothing of the checker's), and
//! FS must be null. Then it loads FS, sets DF and AC and spins across
//! several timer interrupts, and finally single-steps with DF set, which
//! faults (#DB) and stops it for good.
#![no_std]
#![no_main]

use core::arch::asm;

use mantle_runtime::{debug_println, protection_domain, rdtsc, Handler};

struct Dirty;
impl Handler for Dirty {}

/// About 30 ms at 2.5 GHz: dozens of timer interrupts (1 ms budget).
const SPIN_TICKS: u64 = 75_000_000;

fn first_use_clean() -> bool {
    let (x0, x7, x15, mm0, fs): (u64, u64, u64, u64, u64);
    let mut mxcsr: u32 = 0;
    let mut fcw: u16 = 0;
    // SAFETY: reads registers and stores MXCSR / FCW to locals.
    unsafe {
        asm!("movq {a}, xmm0", "movq {b}, xmm7", "movq {c}, xmm15",
             a = out(reg) x0, b = out(reg) x7, c = out(reg) x15, options(nostack, nomem));
        asm!("movq {m}, mm0", "mov {f:e}, fs", "emms",
             m = out(reg) mm0, f = out(reg) fs, options(nostack, nomem));
        asm!("stmxcsr [{0}]", "fnstcw [{1}]", in(reg) &mut mxcsr, in(reg) &mut fcw, options(nostack));
    }
    let ok =
        x0 == 0 && x7 == 0 && x15 == 0 && mm0 == 0 && fs == 0 && mxcsr == 0x1f80 && fcw == 0x37f;
    if !ok {
        debug_println!(
            "cpu_state: FAIL: first FPU use not clean: xmm0={:#x} xmm7={:#x} xmm15={:#x} mm0={:#x} fs={:#x} mxcsr={:#x} fcw={:#x}",
            x0, x7, x15, mm0, fs, mxcsr, fcw
        );
    }
    ok
}

fn init() -> Dirty {
    if first_use_clean() {
        debug_println!("cpu_state: first FPU use is clean");
    }
    let start = rdtsc();
    // SAFETY: only this PD's segment register and flags change; the loop
    // uses no string instructions, so DF does not matter to it.
    unsafe {
        asm!("mov fs, {s:e}", s = in(reg) 0x1bu32, options(nostack, nomem));
        asm!(
            "pushfq",
            "or qword ptr [rsp], 0x40400", // AC | DF
            "popfq",
            "2:",
            "rdtsc",
            "shl rdx, 32",
            "or rax, rdx",
            "sub rax, {start}",
            "cmp rax, {spin}",
            "jb 2b",
            "pushfq",
            "and qword ptr [rsp], ~0x40400", // AC and DF off again (Rust needs DF clear)
            "popfq",
            start = in(reg) start,
            spin = in(reg) SPIN_TICKS,
            out("rax") _, out("rdx") _,
        );
    }
    debug_println!("cpu_state: dirty spun with DF and AC set; single-stepping with DF set");
    // SAFETY: sets DF and TF; the #DB that follows stops this PD.
    unsafe {
        asm!(
            "std",
            "pushfq",
            "or qword ptr [rsp], 0x100",
            "popfq",
            "nop",
            "nop"
        )
    };
    Dirty
}

protection_domain!(init);
