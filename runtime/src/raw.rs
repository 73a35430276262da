//! Raw syscalls: the only place the runtime executes `syscall`.
//!
//! Register convention (see [`mantle_abi::syscall`]): number in `rax`,
//! arguments in `rdi`, `rsi`, `rdx`, `r10`; results in `rax`, `rdi`, `rsi`;
//! `rcx` and `r11` are clobbered by the instruction itself; every other
//! register is preserved by the kernel.
//!
//! These functions are safe: no syscall takes a pointer, so the kernel can
//! only touch this PD's memory through the IPC buffer, and the runtime only
//! ever accesses the IPC buffer with volatile reads and writes through raw
//! pointers (never through references that the compiler could assume stable
//! across a syscall). The asm blocks are not marked `nomem`, so they are also
//! compiler memory barriers.

use core::arch::asm;

/// The three result registers of a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawResult {
    /// `rax`: a status ([`mantle_abi::syscall::Status::to_raw`]) or, for
    /// `RECV`, an event kind.
    pub rax: u64,
    /// `rdi`: result 0.
    pub rdi: u64,
    /// `rsi`: result 1.
    pub rsi: u64,
}

/// Every register a syscall may legitimately change or must preserve, as
/// seen after the call. Used by tests that check the kernel preserves `rdx`
/// and `r10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullResult {
    /// `rax`, `rdi` and `rsi`.
    pub result: RawResult,
    /// `rdx` after the call (must equal argument 2).
    pub rdx: u64,
    /// `r10` after the call (must equal argument 3).
    pub r10: u64,
}

/// Perform syscall `number` with four arguments.
#[inline(always)]
pub fn syscall(number: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> RawResult {
    let rax: u64;
    let rdi: u64;
    let rsi: u64;
    // SAFETY: `syscall` transfers control to the kernel, which returns to the
    // next instruction. It reads and writes only the registers declared here
    // (rcx/r11 are clobbered by the instruction) and this PD's IPC buffer,
    // which Rust code only accesses volatilely through raw pointers. It does
    // not use the user stack (`nostack`).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => rax,
            inlateout("rdi") a0 => rdi,
            inlateout("rsi") a1 => rsi,
            in("rdx") a2,
            in("r10") a3,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    RawResult { rax, rdi, rsi }
}

/// Perform syscall `number` with two arguments (NOTIFY, PPCALL, RECV: the
/// IPC hot paths). `rdx` and `r10` are left as they are, which the kernel
/// ignores for these syscalls: two instructions fewer than [`syscall`].
#[inline(always)]
pub fn syscall2(number: u64, a0: u64, a1: u64) -> RawResult {
    let rax: u64;
    let rdi: u64;
    let rsi: u64;
    // SAFETY: as in `syscall`; the kernel preserves `rdx` and `r10`, and
    // reads them for no syscall made through this function.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => rax,
            inlateout("rdi") a0 => rdi,
            inlateout("rsi") a1 => rsi,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    RawResult { rax, rdi, rsi }
}

/// Like [`syscall`], but also returns `rdx` and `r10` as the kernel left
/// them, so a test can check that they were preserved.
#[inline(always)]
pub fn syscall_full(number: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> FullResult {
    let rax: u64;
    let rdi: u64;
    let rsi: u64;
    let rdx: u64;
    let r10: u64;
    // SAFETY: as in `syscall`; rdx and r10 are declared as outputs too, so
    // no assumption about their preservation is made.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number => rax,
            inlateout("rdi") a0 => rdi,
            inlateout("rsi") a1 => rsi,
            inlateout("rdx") a2 => rdx,
            inlateout("r10") a3 => r10,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    FullResult {
        result: RawResult { rax, rdi, rsi },
        rdx,
        r10,
    }
}
