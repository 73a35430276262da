//! Lazy FPU/SSE switching. CR0.TS is set whenever the running PD does not
//! own the FPU registers; its first FPU instruction then raises #NM and the
//! kernel swaps the state in. PDs that never use the FPU pay nothing.
//!
//! Where saved state comes from: only FXSAVE ([`save`]) and the clean
//! image ([`reset`]) write a PD's area; no syscall lets a PD (or its
//! parent) write it. FXSAVE stores the MXCSR the PD loaded, and a PD cannot
//! load reserved MXCSR bits (LDMXCSR/FXRSTOR with them fault in the PD).
//! So a saved MXCSR is always valid today; [`restore`] still clears the
//! bits the CPU reports as reserved (MXCSR_MASK) before FXRSTOR, because
//! FXRSTOR of a reserved bit raises #GP *in the kernel*, and no future way
//! of writing FPU state may turn into a kernel fault.

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

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

/// Byte offset of MXCSR in the FXSAVE area.
const MXCSR_OFFSET: usize = 24;
/// Byte offset of MXCSR_MASK in the FXSAVE area.
const MXCSR_MASK_OFFSET: usize = 28;
/// The MXCSR_MASK to assume when FXSAVE reports 0 (CPUs before the field
/// existed): every bit but DAZ (6) and the reserved bits 16-31.
const DEFAULT_MXCSR_MASK: u32 = 0xffbf;

/// The MXCSR bits the CPU accepts, from the MXCSR_MASK field FXSAVE
/// reported (`0`: [`DEFAULT_MXCSR_MASK`]).
pub const fn mxcsr_mask(reported: u32) -> u32 {
    if reported == 0 {
        DEFAULT_MXCSR_MASK
    } else {
        reported
    }
}

/// `mxcsr` with every bit outside `mask` cleared: a value FXRSTOR and
/// LDMXCSR accept.
pub const fn sanitise_mxcsr(mxcsr: u32, mask: u32) -> u32 {
    mxcsr & mask
}

// Checked at every build (the kernel has no host tests).
const _: () = {
    assert!(mxcsr_mask(0) == 0xffbf);
    assert!(mxcsr_mask(0xffff) == 0xffff);
    assert!(sanitise_mxcsr(0x1f80, mxcsr_mask(0)) == 0x1f80);
    // DAZ (bit 6) is kept only where the CPU reports it.
    assert!(sanitise_mxcsr(0x1fc0, mxcsr_mask(0)) == 0x1f80);
    assert!(sanitise_mxcsr(0x1fc0, 0xffff) == 0x1fc0);
    assert!(sanitise_mxcsr(0xffff_1f80, 0xffff) == 0x1f80);
};

/// The CPU's MXCSR mask ([`probe_mxcsr_mask`]); the default until then.
static MXCSR_MASK: AtomicU32 = AtomicU32::new(DEFAULT_MXCSR_MASK);

fn read_u32(state: &FpuState, offset: usize) -> u32 {
    let b = &state.0[offset..offset + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Read the CPU's MXCSR_MASK (FXSAVE offset 28) once at boot, after
/// CR4.OSFXSR is set. Leaves CR0.TS set: no PD owns the FPU.
pub fn probe_mxcsr_mask() {
    set_trap(false);
    let mut scratch = FpuState::new();
    save(&mut scratch);
    set_trap(true);
    let mask = mxcsr_mask(read_u32(&scratch, MXCSR_MASK_OFFSET));
    MXCSR_MASK.store(mask, Ordering::Relaxed);
}

/// Load the FPU registers from `state`. CR0.TS must be clear. A saved
/// MXCSR with bits the CPU reserves (impossible from FXSAVE; see the
/// module documentation) is loaded with those bits cleared instead of
/// faulting in the kernel.
pub fn restore(state: &FpuState) {
    let mask = MXCSR_MASK.load(Ordering::Relaxed);
    let mxcsr = read_u32(state, MXCSR_OFFSET);
    if mxcsr & !mask != 0 {
        let mut clean = *state;
        clean.0[MXCSR_OFFSET..MXCSR_OFFSET + 4]
            .copy_from_slice(&sanitise_mxcsr(mxcsr, mask).to_le_bytes());
        fxrstor(&clean);
    } else {
        fxrstor(state);
    }
}

/// FXRSTOR from `state`, whose MXCSR has no reserved bit set.
fn fxrstor(state: &FpuState) {
    // SAFETY: as in `save`; the caller checked MXCSR against the CPU's
    // mask, so FXRSTOR cannot raise #GP for it.
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
