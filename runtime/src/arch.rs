//! Small x86_64 helpers for PDs.

/// Read the time-stamp counter, serialised with `lfence` on both sides so
/// earlier instructions have completed before the read and later ones do not
/// start before it. Under QEMU TCG the TSC is the host's (wall-clock) TSC.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: `lfence` and `rdtsc` only read the TSC into edx:eax; user mode
    // may execute rdtsc unless CR4.TSD is set, which Mantle does not do.
    unsafe {
        core::arch::asm!(
            "lfence",
            "rdtsc",
            "lfence",
            out("eax") lo,
            out("edx") hi,
            options(nomem, nostack, preserves_flags),
        );
    }
    ((hi as u64) << 32) | lo as u64
}
