//! The program entry (`_start`) and the panic handler. Only built for the
//! bare-metal target.

use crate::handler::PANICKING;
use crate::vars::pd_name;
use core::arch::global_asm;
use core::sync::atomic::Ordering;

// The kernel enters a PD at `_start` with `rsp` at (or just below) the top of
// its stack. Align the stack to 16 bytes so that, after the `call` pushes the
// return address, `__mantle_main` sees the SysV ABI's entry alignment; clear
// the frame pointer (end of back-traces) and the direction flag. The linker
// script puts `.text._start` first, at the link address, so every PD built
// with this runtime has the same entry point (`crate::ENTRY_POINT`).
global_asm!(
    ".section .text._start, \"ax\", @progbits",
    ".global _start",
    ".type _start, @function",
    "_start:",
    "    xor ebp, ebp",
    "    and rsp, -16",
    "    cld",
    "    call __mantle_main",
    "    ud2",
    ".size _start, . - _start",
);

/// Print `<pd name>: panic: <message>` and stop the PD with `ud2`, so the
/// kernel reports the fault (or the parent's `fault` handler sees an
/// invalid-opcode fault).
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if !PANICKING.swap(true, Ordering::Relaxed) {
        let name = pd_name();
        match info.location() {
            Some(l) => crate::debug_println!(
                "{}: panic: {} ({}:{})",
                name,
                info.message(),
                l.file(),
                l.line()
            ),
            None => crate::debug_println!("{}: panic: {}", name, info.message()),
        }
    }
    loop {
        // SAFETY: `ud2` raises #UD, which stops this PD; it touches no
        // memory. The loop only matters if a parent resumes us.
        unsafe { core::arch::asm!("ud2", options(nomem, nostack)) }
    }
}
