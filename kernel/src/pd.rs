//! Protection domains: the per-PD control block (TCB).

use mantle_abi::bootdesc::End;
use mantle_abi::fault::FaultKind;
use mantle_abi::limits::{MAX_CHILD_IDS, MAX_IDS, MAX_IOPORTS_PER_PD, MAX_NAME_LEN};

use crate::arch::fpu::FpuState;
use crate::arch::UserRegs;

/// Index of a PD in the kernel's table (and the boot description).
pub type PdId = usize;
/// "No PD / no entry" in byte-sized tables.
pub const NONE: u8 = 0xff;

/// What a PD is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Not yet set up.
    Inactive,
    /// Runnable: running, or waiting in its priority's ready queue.
    Ready,
    /// Waiting in RECV for an event.
    Recv,
    /// Waiting for the reply to a protected call to `callee`.
    Call,
    /// Queued on `callee`, waiting for it to take the call.
    Send,
    /// Stopped by a fault, until restarted or resumed.
    Faulted,
}

/// An I/O port grant.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoGrant {
    /// First port.
    pub base: u16,
    /// Number of ports (0: no grant).
    pub size: u32,
}

/// A recorded fault.
#[derive(Clone, Copy, Debug)]
pub struct FaultInfo {
    /// What went wrong.
    pub kind: FaultKind,
    /// Faulting instruction.
    pub ip: u64,
    /// Faulting address (page faults), else 0.
    pub addr: u64,
    /// CPU error code.
    pub error: u64,
    /// Stack pointer.
    pub sp: u64,
}

/// A PD's control block.
//
// Hot fields first (fast paths touch them), large cold arrays last, so a
// syscall touches as few pages of the TCB as possible.
#[repr(C)]
pub struct Tcb {
    /// Saved user registers (the entry stubs write them directly).
    pub regs: UserRegs,
    /// What it is doing.
    pub state: ThreadState,
    /// Stopped with PD_STOP (independent of `state`, which resumes).
    pub suspended: bool,
    /// Scheduling priority.
    pub priority: u8,
    /// Passive: after init, runs only for events: protected calls (on the
    /// caller's scheduling context) and notifications (on its own).
    pub passive: bool,
    /// Has made its first RECV since it (re)started.
    pub initialised: bool,
    /// The call's channel id in the callee's id space.
    pub call_id: u8,
    /// Physical address of its IPC buffer page.
    pub ipc_paddr: u64,
    /// Notified channel ids not yet delivered.
    pub pending: u64,
    /// The caller whose protected call this PD is serving.
    pub reply_to: Option<PdId>,
    /// Callee of the call this PD is making (states Call and Send).
    pub callee: PdId,
    /// The call's message info.
    pub call_info: u64,
    /// Child ids with a fault not yet delivered.
    pub faulted_children: u64,
    /// The id space: channels and IRQs.
    pub ends: [End; MAX_IDS],
    /// The PD has used the FPU since it (re)started.
    pub fpu_used: bool,
    /// Has ever made a first RECV (for the "all initialised" line).
    pub ever_initialised: bool,
    /// Id in the parent's child-id space.
    pub child_id: u8,
    /// Stack size (for stack-overflow reports).
    pub stack_size: u64,
    /// Parent PD.
    pub parent: Option<PdId>,
    /// Children by child id.
    pub children: [u8; MAX_CHILD_IDS],
    /// The last fault.
    pub fault: FaultInfo,
    /// For IRQ ends: the index of the IRQ line (CPU vector - base).
    pub irq_line: [u8; MAX_IDS],
    /// I/O port grants by id.
    pub ioports: [IoGrant; MAX_IOPORTS_PER_PD],
    name_len: usize,
    name: [u8; MAX_NAME_LEN],
    /// Saved FPU/SSE state (lazily switched).
    pub fpu: FpuState,
}

impl Tcb {
    /// An unused control block.
    pub const EMPTY: Tcb = Tcb {
        regs: UserRegs {
            r15: 0,
            r14: 0,
            r13: 0,
            r12: 0,
            r11: 0,
            r10: 0,
            r9: 0,
            r8: 0,
            rbp: 0,
            rdi: 0,
            rsi: 0,
            rdx: 0,
            rcx: 0,
            rbx: 0,
            rax: 0,
            vector: 0,
            error: 0,
            rip: 0,
            cs: 0,
            rflags: 0,
            rsp: 0,
            ss: 0,
        },
        fpu: FpuState::new(),
        fpu_used: false,
        state: ThreadState::Inactive,
        suspended: false,
        priority: 0,
        passive: false,
        initialised: false,
        ever_initialised: false,
        ipc_paddr: 0,
        stack_size: 0,
        name: [0; MAX_NAME_LEN],
        name_len: 0,
        ends: [End::None; MAX_IDS],
        irq_line: [NONE; MAX_IDS],
        ioports: [IoGrant { base: 0, size: 0 }; MAX_IOPORTS_PER_PD],
        pending: 0,
        parent: None,
        child_id: 0,
        children: [NONE; MAX_CHILD_IDS],
        faulted_children: 0,
        fault: FaultInfo {
            kind: FaultKind::InvalidInterrupt,
            ip: 0,
            addr: 0,
            error: 0,
            sp: 0,
        },
        reply_to: None,
        callee: 0,
        call_id: 0,
        call_info: 0,
    };

    /// Set the name (already validated UTF-8 by the boot description).
    pub fn set_name(&mut self, name: &str) {
        let len = name.len().min(MAX_NAME_LEN);
        self.name[..len].copy_from_slice(&name.as_bytes()[..len]);
        self.name_len = len;
    }

    /// The PD's name.
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
    }

    /// Can be scheduled.
    pub fn runnable(&self) -> bool {
        self.state == ThreadState::Ready && !self.suspended
    }

    /// A passive PD after its init: serves calls on its callers'
    /// scheduling contexts and cannot take child faults.
    pub fn passive_now(&self) -> bool {
        self.passive && self.initialised
    }
}
