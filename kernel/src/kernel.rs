//! The kernel's state and its entry points from the architecture layer.
//!
//! All mutable kernel state lives in one [`Kernel`] value behind a
//! [`Global`]. Each entry point below takes it once and passes `&mut`
//! down; see [`crate::global`] for why that is sound on one CPU.

use mantle_abi::limits::MAX_PDS;

use crate::arch::vspace::AddressSpaces;
use crate::arch::{self, UserRegs};
use crate::global::Global;
use crate::irq::IrqTable;
use crate::pd::{PdId, Tcb};
use crate::sched::Scheduler;

/// Everything the kernel knows at run time. Small, hot fields first.
#[repr(C)]
pub struct Kernel {
    /// Number of PDs.
    pub count: usize,
    /// The PD running (or that entered the kernel).
    pub current: Option<PdId>,
    /// The PD whose state is in the FPU registers.
    pub fpu_owner: Option<PdId>,
    /// CR0.TS is set.
    pub fpu_trap: bool,
    /// PDs whose `init` has ended: by their first RECV, or by a fault or a
    /// stop before it.
    pub initialised: usize,
    /// Of those, the PDs whose `init` ended by a fault or a stop.
    pub init_failed: usize,
    /// Run queues and scheduling contexts.
    pub sched: Scheduler,
    /// Interrupt routing.
    pub irqs: IrqTable,
    /// PD control blocks; `0..count` are in use.
    pub tcbs: [Tcb; MAX_PDS],
    /// PD address spaces (used only on switches).
    pub spaces: AddressSpaces,
}

impl Kernel {
    const fn new() -> Self {
        Kernel {
            tcbs: [Tcb::EMPTY; MAX_PDS],
            count: 0,
            sched: Scheduler::new(),
            current: None,
            irqs: IrqTable::new(),
            fpu_owner: None,
            fpu_trap: true,
            spaces: AddressSpaces::new(),
            initialised: 0,
            init_failed: 0,
        }
    }
}

#[link_section = ".data.hot"]
static KERNEL: Global<Kernel> = Global::new(Kernel::new());

/// The kernel state, for `kmain`.
///
/// # Safety
/// Call once, from `kmain`, before any other entry point can run.
pub unsafe fn boot_state() -> &'static mut Kernel {
    // SAFETY: the caller guarantees exclusivity.
    unsafe { KERNEL.get() }
}

/// SYSCALL entry (from the assembly stub): the caller's registers are in
/// its TCB. Returns the frame to resume, or null to idle.
#[no_mangle]
#[link_section = ".text.hot"]
extern "C" fn handle_syscall() -> *const UserRegs {
    // SAFETY: a kernel entry point; interrupts are off and nothing else
    // holds the state.
    let k = unsafe { KERNEL.get() };
    // NULL first, in a function with the smallest frame; then the IPC fast
    // path; then the general path.
    if let Some(frame) = k.fast_null() {
        return frame;
    }
    syscall_slow(k)
}

/// A syscall other than a fast NULL: the IPC fast path if it applies, else
/// the general path (handle it, then schedule).
#[inline(never)]
#[link_section = ".text.hot"]
fn syscall_slow(k: &mut Kernel) -> *const UserRegs {
    if let Some(pd) = k.current {
        if let Some(frame) = k.fastpath(pd) {
            return frame;
        }
    }
    k.syscall();
    k.schedule()
}

/// Interrupt or exception from user mode.
#[no_mangle]
#[link_section = ".text.hot"]
extern "C" fn handle_user_trap() -> *const UserRegs {
    // SAFETY: as in `handle_syscall`.
    let k = unsafe { KERNEL.get() };
    if let Some(cur) = k.current {
        let (vector, error) = (k.tcbs[cur].regs.vector, k.tcbs[cur].regs.error);
        k.user_trap(cur, vector, error);
    }
    k.schedule()
}

/// #DB from user mode: its frame is on the IST stack; copy it into the
/// TCB, then handle it like any other trap.
#[no_mangle]
extern "C" fn handle_user_debug(frame: &UserRegs) -> *const UserRegs {
    // SAFETY: as in `handle_syscall`.
    let k = unsafe { KERNEL.get() };
    if let Some(cur) = k.current {
        k.tcbs[cur].regs = *frame;
        k.user_trap(cur, frame.vector, frame.error);
    }
    k.schedule()
}

/// The idle loop woke up: anything to run?
#[no_mangle]
extern "C" fn idle_pick() -> *const UserRegs {
    // SAFETY: as in `handle_syscall`; the idle loop holds no reference.
    let k = unsafe { KERNEL.get() };
    k.current = None;
    k.schedule()
}

/// Interrupt or exception taken in kernel mode (the idle loop, or a bug).
#[no_mangle]
extern "C" fn handle_kernel_trap(frame: &mut UserRegs) {
    // Exceptions in kernel code happen with interrupts off; with them on
    // (the idle loop) a low vector can only come from a device.
    let device = frame.rflags & arch::RFLAGS_IF != 0 && frame.vector >= 16;
    if frame.vector & arch::STRAY_DEVICE_MARK != 0
        || (frame.vector < 32 && (device || !arch::is_cpu_exception(frame.vector)))
    {
        crate::irq::stray_interrupt();
        return;
    }
    if frame.vector < 32 {
        crate::fault::kernel_panic_trap(frame);
    }
    // SAFETY: as in `handle_syscall`: ring-0 interrupts arrive only in the
    // idle loop, which holds no reference to the state.
    let k = unsafe { KERNEL.get() };
    k.interrupt(frame.vector as u8);
}

/// Double fault (IST stack): always a kernel bug.
#[no_mangle]
extern "C" fn handle_double_fault(frame: &mut [u64; 6]) -> ! {
    crate::kprintln!(
        "kernel panic: double fault at ip={:#x} sp={:#x}",
        frame[1],
        frame[4]
    );
    arch::exit(crate::EXIT_KERNEL_ERROR)
}

impl Kernel {
    /// An interrupt or exception from user mode while `cur` ran.
    fn user_trap(&mut self, cur: PdId, vector: u64, error: u64) {
        if vector & arch::STRAY_DEVICE_MARK != 0 || (vector < 32 && !arch::is_cpu_exception(vector))
        {
            crate::irq::stray_interrupt();
            return;
        }
        match vector {
            crate::fault::DEVICE_NOT_AVAILABLE => self.fpu_switch(cur),
            0..32 => self.user_fault(cur, vector, error),
            v => self.interrupt(v as u8),
        }
    }

    /// Give `cur` the FPU (lazy switching: CR0.TS was set).
    fn fpu_switch(&mut self, cur: PdId) {
        arch::fpu::set_trap(false);
        self.fpu_trap = false;
        if self.fpu_owner == Some(cur) {
            return;
        }
        if let Some(owner) = self.fpu_owner {
            arch::fpu::save(&mut self.tcbs[owner].fpu);
        }
        let tcb = &mut self.tcbs[cur];
        if tcb.fpu_used {
            arch::fpu::restore(&tcb.fpu);
        } else {
            arch::fpu::reset();
            tcb.fpu_used = true;
        }
        self.fpu_owner = Some(cur);
    }
}
