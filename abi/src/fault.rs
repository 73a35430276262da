//! Fault messages, as delivered to a parent's `fault` handler.
//!
//! The message's label is the [`FaultKind`]; its registers are indexed by
//! the `MR_*` constants.

/// Register 0: the faulting instruction pointer.
pub const MR_IP: usize = 0;
/// Register 1: the faulting address (page faults; 0 otherwise).
pub const MR_ADDR: usize = 1;
/// Register 2: the CPU's error code (0 when it pushes none).
pub const MR_ERROR_CODE: usize = 2;
/// Register 3: the stack pointer at the fault.
pub const MR_SP: usize = 3;
/// Number of registers in a fault message.
pub const FAULT_MR_COUNT: usize = 4;

/// Page-fault error-code bits.
pub const PF_PRESENT: u64 = 1 << 0;
/// The access was a write.
pub const PF_WRITE: u64 = 1 << 1;
/// The access was an instruction fetch.
pub const PF_FETCH: u64 = 1 << 4;

/// What went wrong, by CPU exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum FaultKind {
    /// #DE.
    DivideError = 0,
    /// #DB.
    Debug = 1,
    /// #BP (`int3`).
    Breakpoint = 3,
    /// #OF.
    Overflow = 4,
    /// #BR.
    BoundRange = 5,
    /// #UD.
    InvalidOpcode = 6,
    /// #NM.
    DeviceNotAvailable = 7,
    /// #TS.
    InvalidTss = 10,
    /// #NP.
    SegmentNotPresent = 11,
    /// #SS.
    StackSegment = 12,
    /// #GP, including privileged instructions and denied port I/O.
    GeneralProtection = 13,
    /// #PF.
    PageFault = 14,
    /// #MF.
    FloatingPoint = 16,
    /// #AC.
    AlignmentCheck = 17,
    /// #XM.
    SimdFloatingPoint = 19,
    /// A software interrupt or another vector a PD may not raise.
    InvalidInterrupt = 255,
}

impl FaultKind {
    /// The fault kind of CPU exception `vector`.
    pub const fn from_vector(vector: u64) -> FaultKind {
        match vector {
            0 => FaultKind::DivideError,
            1 => FaultKind::Debug,
            3 => FaultKind::Breakpoint,
            4 => FaultKind::Overflow,
            5 => FaultKind::BoundRange,
            6 => FaultKind::InvalidOpcode,
            7 => FaultKind::DeviceNotAvailable,
            10 => FaultKind::InvalidTss,
            11 => FaultKind::SegmentNotPresent,
            12 => FaultKind::StackSegment,
            13 => FaultKind::GeneralProtection,
            14 => FaultKind::PageFault,
            16 => FaultKind::FloatingPoint,
            17 => FaultKind::AlignmentCheck,
            19 => FaultKind::SimdFloatingPoint,
            _ => FaultKind::InvalidInterrupt,
        }
    }

    /// Decode a fault message label.
    pub const fn from_label(label: u64) -> Option<FaultKind> {
        let kind = FaultKind::from_vector(label);
        if kind as u64 == label {
            Some(kind)
        } else {
            None
        }
    }

    /// A human-readable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            FaultKind::DivideError => "divide error (#DE)",
            FaultKind::Debug => "debug exception (#DB)",
            FaultKind::Breakpoint => "breakpoint (#BP)",
            FaultKind::Overflow => "overflow (#OF)",
            FaultKind::BoundRange => "bound range exceeded (#BR)",
            FaultKind::InvalidOpcode => "invalid opcode (#UD)",
            FaultKind::DeviceNotAvailable => "device not available (#NM)",
            FaultKind::InvalidTss => "invalid TSS (#TS)",
            FaultKind::SegmentNotPresent => "segment not present (#NP)",
            FaultKind::StackSegment => "stack-segment fault (#SS)",
            FaultKind::GeneralProtection => "general protection fault (#GP)",
            FaultKind::PageFault => "page fault (#PF)",
            FaultKind::FloatingPoint => "x87 floating-point exception (#MF)",
            FaultKind::AlignmentCheck => "alignment check (#AC)",
            FaultKind::SimdFloatingPoint => "SIMD floating-point exception (#XM)",
            FaultKind::InvalidInterrupt => "invalid interrupt",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for v in 0..32 {
            let k = FaultKind::from_vector(v);
            assert_eq!(FaultKind::from_label(k as u64), Some(k));
        }
        assert_eq!(FaultKind::from_label(2), None);
    }
}
