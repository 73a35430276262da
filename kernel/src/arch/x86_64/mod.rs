//! x86_64 (PC, QEMU q35) support.

pub mod boot;
pub mod cpu;
pub mod entry;
pub mod fpu;
pub mod gdt;
pub mod hpet;
pub mod idt;
pub mod ioapic;
pub mod lapic;
pub mod paging;
pub mod serial;

pub use cpu::{exit, rdtsc};
pub use entry::UserRegs;

use cpu::{cpuid, rdmsr, read_cr0, read_cr4, write_cr0, write_cr4, wrmsr};

const MSR_EFER: u32 = 0xc000_0080;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_FMASK: u32 = 0xc000_0084;
const EFER_SCE: u64 = 1 << 0;
const EFER_NXE: u64 = 1 << 11;

const CR0_MP: u64 = 1 << 1;
const CR0_EM: u64 = 1 << 2;
const CR0_TS: u64 = 1 << 3;
const CR0_NE: u64 = 1 << 5;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_SMEP: u64 = 1 << 20;
const CR4_SMAP: u64 = 1 << 21;

const RFLAGS_TF: u64 = 1 << 8;
const RFLAGS_IF: u64 = 1 << 9;
const RFLAGS_DF: u64 = 1 << 10;
const RFLAGS_NT: u64 = 1 << 14;
const RFLAGS_AC: u64 = 1 << 18;

/// RFLAGS of a PD that starts running: interrupts on, reserved bit 1 set.
pub const USER_RFLAGS: u64 = RFLAGS_IF | 2;

/// CPU features the kernel turned on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// Supervisor-mode execution prevention.
    pub smep: bool,
    /// Supervisor-mode access prevention.
    pub smap: bool,
}

/// Set up the CPU: GDT, TSS, IDT, FPU control bits, NX, SMEP/SMAP and the
/// SYSCALL MSRs.
pub fn init_cpu() -> Features {
    gdt::init();
    idt::init();
    let (_, leaf7_ebx, _, _) = if cpuid(0, 0).0 >= 7 {
        cpuid(7, 0)
    } else {
        (0, 0, 0, 0)
    };
    let features = Features {
        smep: leaf7_ebx & (1 << 7) != 0,
        smap: leaf7_ebx & (1 << 20) != 0,
    };
    let mut cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if features.smep {
        cr4 |= CR4_SMEP;
    }
    if features.smap {
        cr4 |= CR4_SMAP;
    }
    // SAFETY: the bits set are supported (SSE is baseline on x86_64; SMEP
    // and SMAP were checked with CPUID). TS starts set: no PD owns the FPU.
    unsafe {
        write_cr0((read_cr0() & !CR0_EM) | CR0_MP | CR0_NE | CR0_TS);
        write_cr4(cr4);
        wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE);
        wrmsr(
            MSR_STAR,
            gdt::SYSRET_BASE << 48 | (gdt::KERNEL_CS as u64) << 32,
        );
        wrmsr(MSR_LSTAR, entry::syscall_entry as *const () as u64);
        wrmsr(
            MSR_FMASK,
            RFLAGS_IF | RFLAGS_DF | RFLAGS_AC | RFLAGS_TF | RFLAGS_NT,
        );
    }
    features
}

/// Physical address bits of the CPU (page-table entries hold no more).
pub fn phys_addr_bits() -> u32 {
    if cpuid(0x8000_0000, 0).0 >= 0x8000_0008 {
        cpuid(0x8000_0008, 0).0 & 0xff
    } else {
        36
    }
}

/// Write one byte to the kernel console (COM1).
pub fn console_write_byte(b: u8) {
    serial::write_byte(b);
}

/// Arm the preemption timer to fire once after `ticks` LAPIC ticks.
pub fn timer_one_shot(ticks: u32) {
    lapic::one_shot(ticks);
}

/// Stop the preemption timer.
pub fn timer_stop() {
    lapic::stop();
}

/// Switch to the address space with PML4 `pml4` (built by
/// [`paging::new_address_space`]) on the way out of the kernel.
///
/// The exit path loads CR3 just before returning to user mode: under TCG a
/// CR3 write flushes all translation caches, so the kernel code still to
/// run should not pay for refilling them.
#[inline]
pub fn switch_address_space_on_exit(pml4: u64) {
    entry::NEXT_CR3.store(pml4, core::sync::atomic::Ordering::Relaxed);
}

/// Entries from user mode save registers below `top` from now on: the CPU
/// via `TSS.rsp0`, the SYSCALL stub via `CURRENT_FRAME_TOP`.
#[inline]
pub fn set_kernel_entry_frame(top: u64) {
    gdt::set_rsp0(top);
    entry::CURRENT_FRAME_TOP.store(top, core::sync::atomic::Ordering::Relaxed);
}
