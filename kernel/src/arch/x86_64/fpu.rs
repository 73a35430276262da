//! Lazy FPU/SSE switching. CR0.TS is set whenever the running PD does not
//! own the FPU registers; its first FPU instruction then raises #NM and the
//! kernel swaps the state in. PDs that never use the FPU pay nothing.

use core::arch::asm;

use super::cpu::{read_cr0, write_cr0};

const CR0_TS: u64 = 1 << 3;

/// A PD's saved FPU/SSE state (FXSAVE format).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FpuState(pub [u8; 512]);

impl FpuState {
    /// An empty area (filled on first use).
    pub const fn new() -> Self {
        FpuState([0; 512])
    }
}

/// Set or clear CR0.TS.
pub fn set_trap(trap: bool) {
    let cr0 = read_cr0();
    let new = if trap { cr0 | CR0_TS } else { cr0 & !CR0_TS };
    if new != cr0 {
        // SAFETY: only the TS bit changes.
        unsafe { write_cr0(new) };
    }
}

/// Save the FPU registers into `state`. CR0.TS must be clear.
pub fn save(state: &mut FpuState) {
    // SAFETY: `state` is a 16-byte aligned 512-byte area; OSFXSR is set at
    // boot.
    unsafe {
        asm!("fxsave64 [{}]", in(reg) state.0.as_mut_ptr(), options(nostack, preserves_flags))
    };
}

/// Load the FPU registers from `state`. CR0.TS must be clear.
pub fn restore(state: &FpuState) {
    // SAFETY: as in `save`; the area was written by `save` (so reserved
    // MXCSR bits are clear).
    unsafe { asm!("fxrstor64 [{}]", in(reg) state.0.as_ptr(), options(nostack, preserves_flags)) };
}

/// The initial FPU/SSE state: FCW 0x37F (all x87 exceptions masked,
/// 64-bit precision), MXCSR 0x1F80 (all SSE exceptions masked), every
/// register (ST/MMX, XMM0-15), tag and status word zero.
static CLEAN: FpuState = {
    let mut area = [0u8; 512];
    area[0] = 0x7f; // FCW
    area[1] = 0x03;
    area[24] = 0x80; // MXCSR
    area[25] = 0x1f;
    FpuState(area)
};

/// Reset the FPU registers to their initial state, leaving nothing of the
/// previous owner: FNINIT alone would keep the ST/MMX and XMM contents.
/// CR0.TS must be clear.
pub fn reset() {
    restore(&CLEAN);
}
