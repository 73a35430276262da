//! Faults: a PD's exception stops only that PD; a kernel exception is a
//! kernel panic.

use mantle_abi::fault::FaultKind;
use mantle_abi::layout::{stack_bottom, PAGE_SIZE};

use crate::arch::{self, UserRegs};
use crate::kernel::Kernel;
use crate::kprintln;
use crate::pd::{FaultInfo, PdId, ThreadState};

/// #NM: the FPU is trapped (lazy switching), not a fault.
pub const DEVICE_NOT_AVAILABLE: u64 = 7;
const GENERAL_PROTECTION: u64 = 13;
const PAGE_FAULT: u64 = 14;
/// #GP error-code bit: the selector names an IDT gate (a user `int N`).
const ERROR_IDT: u64 = 1 << 1;

impl Kernel {
    /// PD `pd` raised CPU exception `vector`: stop it and tell its parent,
    /// or report it on the console.
    pub fn user_fault(&mut self, pd: PdId, vector: u64, error: u64) {
        let kind = if vector == GENERAL_PROTECTION && error & ERROR_IDT != 0 {
            FaultKind::InvalidInterrupt
        } else {
            FaultKind::from_vector(vector)
        };
        let regs = &self.tcbs[pd].regs;
        let info = FaultInfo {
            kind,
            ip: regs.rip,
            addr: if vector == PAGE_FAULT {
                arch::fault_address()
            } else {
                0
            },
            error,
            sp: regs.rsp,
        };
        self.detach(pd, true);
        self.init_ended(pd, false);
        let t = &mut self.tcbs[pd];
        t.state = ThreadState::Faulted;
        t.fault = info;
        let parent = t.parent;
        match parent {
            Some(parent) if self.can_take_fault(parent) => {
                let child_id = self.tcbs[pd].child_id;
                self.tcbs[parent].faulted_children |= 1 << child_id;
                if self.tcbs[parent].state == ThreadState::Recv && self.take_event(parent) {
                    self.make_ready(parent);
                }
            }
            _ => self.report_fault(pd),
        }
    }

    /// A parent handles its child's fault unless it is stopped, faulted or
    /// passive (then nothing would ever run its handler).
    fn can_take_fault(&self, parent: PdId) -> bool {
        let p = &self.tcbs[parent];
        !p.suspended && p.state != ThreadState::Faulted && !p.passive_now()
    }

    fn report_fault(&self, pd: PdId) {
        let t = &self.tcbs[pd];
        let f = t.fault;
        let guard = stack_bottom(t.stack_size) - PAGE_SIZE;
        let overflow =
            if f.kind == FaultKind::PageFault && (guard..guard + PAGE_SIZE).contains(&f.addr) {
                " (potential stack overflow)"
            } else {
                ""
            };
        kprintln!(
            "fault: PD '{}' {} ip={:#x} addr={:#x} error={:#x}{}",
            t.name(),
            f.kind.as_str(),
            f.ip,
            f.addr,
            f.error,
            overflow
        );
    }
}

/// An exception in kernel mode: print a report and stop the machine.
pub fn kernel_panic_trap(frame: &UserRegs) -> ! {
    kprintln!(
        "kernel panic: exception {} ({}) at ip={:#x} error={:#x} cr2={:#x} sp={:#x} (NMIs {}, stray interrupts {})",
        frame.vector,
        FaultKind::from_vector(frame.vector).as_str(),
        frame.rip,
        frame.error,
        arch::fault_address(),
        frame.rsp,
        arch::nmi_count(),
        crate::irq::stray_count()
    );
    arch::exit(crate::EXIT_KERNEL_ERROR)
}
