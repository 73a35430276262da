//! Faults: a PD's exception stops only that PD; a kernel exception is a
//! kernel panic.

use core::fmt;

use mantle_abi::fault::FaultKind;
use mantle_abi::layout::{stack_bottom, PAGE_SIZE, STACK_TOP};

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

    /// Print the console fault report of PD `pd` (see the design doc's
    /// "Fault reports"): one line, ending in a short backtrace (`bt=`) and,
    /// for a page fault in the guard page below the stack, the stack size.
    fn report_fault(&self, pd: PdId) {
        let t = &self.tcbs[pd];
        let f = t.fault;
        let guard = stack_bottom(t.stack_size) - PAGE_SIZE;
        let overflow =
            f.kind == FaultKind::PageFault && (guard..guard + PAGE_SIZE).contains(&f.addr);
        let mut frames = [0u64; BACKTRACE_DEPTH];
        let depth = self.backtrace(pd, &mut frames);
        kprintln!(
            "fault: PD '{}' {} ip={:#x} addr={:#x} error={:#x}{}{}",
            t.name(),
            f.kind.as_str(),
            f.ip,
            f.addr,
            f.error,
            Backtrace(&frames[..depth]),
            Overflow(overflow.then_some(t.stack_size)),
        );
    }

    /// Fill `out` with the return addresses of PD `pd`'s frame-pointer
    /// chain, innermost first; returns how many were found.
    ///
    /// PD programs keep frame pointers (`-C force-frame-pointers=yes`), so
    /// `rbp` points at `[saved rbp, return address]`. The walk trusts
    /// nothing the PD left: each frame must be 8-byte aligned, lie inside
    /// the PD's stack and be above the previous one (so the walk ends), and
    /// is read only through the PD's own page tables
    /// ([`AddressSpaces::read_user_u64`]); anything else ends the walk.
    ///
    /// [`AddressSpaces::read_user_u64`]: crate::arch::vspace::AddressSpaces::read_user_u64
    fn backtrace(&self, pd: PdId, out: &mut [u64; BACKTRACE_DEPTH]) -> usize {
        let t = &self.tcbs[pd];
        let stack = stack_bottom(t.stack_size)..STACK_TOP;
        let mut fp = t.regs.rbp;
        let mut n = 0;
        while n < out.len() {
            let Some(top) = fp.checked_add(16) else { break };
            if fp % 8 != 0 || !stack.contains(&fp) || top > stack.end {
                break;
            }
            let (Some(next), Some(ret)) = (
                self.spaces.read_user_u64(pd, fp),
                self.spaces.read_user_u64(pd, fp + 8),
            ) else {
                break;
            };
            if ret == 0 {
                break;
            }
            out[n] = ret;
            n += 1;
            if next <= fp {
                break;
            }
            fp = next;
        }
        n
    }
}

/// Most return addresses in a fault report's backtrace.
const BACKTRACE_DEPTH: usize = 8;

/// ` bt=0x..,0x..` (return addresses, innermost first), or nothing.
struct Backtrace<'a>(&'a [u64]);

impl fmt::Display for Backtrace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ret) in self.0.iter().enumerate() {
            let sep = if i == 0 { " bt=" } else { "," };
            write!(f, "{sep}{ret:#x}")?;
        }
        Ok(())
    }
}

/// ` (potential stack overflow, stack_size=0x..)` for a fault in the guard
/// page below a stack of that size, or nothing.
struct Overflow(Option<u64>);

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(size) => write!(f, " (potential stack overflow, stack_size={size:#x})"),
            None => Ok(()),
        }
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
