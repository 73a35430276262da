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
pub mod vspace;

pub use cpu::{exit, rdtsc};

use core::arch::asm;
pub use entry::{resume_from_kernel, UserRegs, STRAY_DEVICE_MARK};
pub use hpet::Calibration as ClockRates;
pub use lapic::TIMER_VECTOR;

use cpu::{cpuid, rdmsr, read_cr0, write_cr0, write_cr4, wrmsr};

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
/// CR0.WP: read-only pages bind the kernel too (W^X, `paging::protect_kernel`).
const CR0_WP: u64 = 1 << 16;
const CR4_PAE: u64 = 1 << 5;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_UMIP: u64 = 1 << 11;
const CR4_SMEP: u64 = 1 << 20;
const CR4_SMAP: u64 = 1 << 21;

const RFLAGS_TF: u64 = 1 << 8;
/// RFLAGS.IF.
pub const RFLAGS_IF: u64 = 1 << 9;
const RFLAGS_DF: u64 = 1 << 10;
const RFLAGS_NT: u64 = 1 << 14;
const RFLAGS_AC: u64 = 1 << 18;

/// RFLAGS of a PD that starts running: interrupts on, reserved bit 1 set.
const USER_RFLAGS: u64 = RFLAGS_IF | 2;

/// CPU features the kernel turned on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// Supervisor-mode execution prevention.
    pub smep: bool,
    /// Supervisor-mode access prevention.
    pub smap: bool,
    /// User-mode instruction prevention: SGDT, SIDT, SLDT, SMSW and STR
    /// raise #GP in user mode, so a PD cannot read where the GDT and IDT
    /// are (kernel addresses).
    pub umip: bool,
}

/// Set up the CPU: GDT, TSS, IDT, FPU control bits, NX, SMEP/SMAP/UMIP
/// (where the CPU has them) and the SYSCALL MSRs.
pub fn init_cpu() -> Features {
    gdt::init();
    idt::init();
    let (_, leaf7_ebx, leaf7_ecx, _) = if cpuid(0, 0).0 >= 7 {
        cpuid(7, 0)
    } else {
        (0, 0, 0, 0)
    };
    let features = Features {
        smep: leaf7_ebx & (1 << 7) != 0,
        smap: leaf7_ebx & (1 << 20) != 0,
        umip: leaf7_ecx & (1 << 2) != 0,
    };
    // An explicit CR4, not read|or: PAE (long mode), FXSAVE/SSE on; no PGE
    // (the shared-PML4 switch relies on INVLPG/CR3 writes flushing every
    // user translation), no PCIDE, no OSXSAVE (FXSAVE covers the state the
    // kernel switches), no FSGSBASE (PDs must not set their segment bases).
    let mut cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if features.smep {
        cr4 |= CR4_SMEP;
    }
    if features.smap {
        cr4 |= CR4_SMAP;
    }
    if features.umip {
        cr4 |= CR4_UMIP;
    }
    // SAFETY: the bits set are supported (SSE is baseline on x86_64; SMEP,
    // SMAP and UMIP were checked with CPUID). TS starts set: no PD owns the FPU.
    unsafe {
        write_cr0((read_cr0() & !CR0_EM) | CR0_MP | CR0_NE | CR0_TS | CR0_WP);
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
    fpu::probe_mxcsr_mask();
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

/// Load null selectors into DS, ES, FS and GS if any is not null, so
/// that one PD never sees the selectors another loaded. (Their bases stay
/// 0: no descriptor has another base and FSGSBASE is off.)
#[inline]
pub fn reset_user_segments() {
    let (ds, es, fs, gs): (u16, u16, u16, u16);
    // SAFETY: reading segment selectors has no side effects.
    unsafe {
        asm!(
            "mov {0:x}, ds", "mov {1:x}, es", "mov {2:x}, fs", "mov {3:x}, gs",
            out(reg) ds, out(reg) es, out(reg) fs, out(reg) gs,
            options(nomem, nostack, preserves_flags)
        )
    };
    if ds | es | fs | gs != 0 {
        // SAFETY: a null selector is valid in DS/ES/FS/GS in 64-bit mode;
        // the kernel does not use them (it addresses memory through CS/SS
        // and flat 64-bit segments).
        unsafe {
            asm!(
                "mov ds, {0:x}", "mov es, {0:x}", "mov fs, {0:x}", "mov gs, {0:x}",
                in(reg) 0u16,
                options(nomem, nostack, preserves_flags)
            )
        };
    }
}

/// Set up the kernel console (COM1).
pub fn console_init() {
    serial::init();
}

/// Set up the interrupt controllers (8259 off, LAPIC on, every IOAPIC pin
/// masked) and measure the clocks. `None` if there is no usable HPET.
pub fn init_interrupts() -> Option<ClockRates> {
    ioapic::disable_pic();
    lapic::init();
    ioapic::init();
    let rates = hpet::calibrate();
    lapic::enable_timer();
    rates
}

/// Physical ranges of the devices the kernel owns (LAPIC, IOAPIC): no PD
/// may map them.
pub fn kernel_device_ranges() -> [(u64, u64); 2] {
    [
        (lapic::LAPIC_PHYS, lapic::LAPIC_PHYS + 0x1000),
        (ioapic::IOAPIC_PHYS, ioapic::IOAPIC_PHYS + 0x1000),
    ]
}

/// Route IOAPIC `pin` to user vector `vector` on this CPU, unmasked.
/// Returns false if the pin does not exist.
pub fn irq_pin_route(pin: u8, vector: u8, level: bool, active_low: bool) -> bool {
    if pin >= ioapic::pin_count() {
        return false;
    }
    let cpu_vector = mantle_abi::layout::USER_VECTOR_BASE + vector;
    ioapic::route(pin, cpu_vector, level, active_low, lapic::id());
    true
}

/// Mask or unmask IOAPIC `pin`.
pub fn irq_pin_set_masked(pin: u8, masked: bool) {
    ioapic::set_masked(pin, masked);
}

/// Acknowledge the interrupt being handled at the LAPIC.
#[inline]
pub fn end_of_interrupt() {
    lapic::eoi();
}

/// Whether `vector` is the LAPIC's spurious vector (needs no EOI).
pub fn is_spurious(vector: u8) -> bool {
    vector == lapic::SPURIOUS_VECTOR
}

/// Whether the CPU can raise exception `vector` (< 32) in this kernel's
/// configuration: 0-14 and 16-19. The others (15, 20-31: reserved, or for
/// features that are off: #VE, #CP, #HV, #VC, #SX) can only be a device's
/// interrupt.
pub fn is_cpu_exception(vector: u64) -> bool {
    matches!(vector, 0..=14 | 16..=19)
}

/// NMIs taken so far.
pub fn nmi_count() -> u64 {
    entry::NMI_COUNT.load(core::sync::atomic::Ordering::Relaxed)
}

/// The address of the last page fault.
pub fn fault_address() -> u64 {
    cpu::read_cr2()
}

/// Registers of a PD entering user mode at `ip` with an empty stack below
/// `stack_top` (16-byte aligned): `rsp` is 8 below it, as after a call.
pub fn user_entry_regs(ip: u64, stack_top: u64) -> UserRegs {
    UserRegs {
        rip: ip,
        rsp: stack_top - 8,
        cs: gdt::USER_CS,
        ss: gdt::USER_DS,
        rflags: USER_RFLAGS,
        vector: entry::SYSCALL_MARK,
        ..UserRegs::default()
    }
}

/// Read `width` (1, 2 or 4) bytes from I/O port `port`.
///
/// # Safety
/// The caller must be entitled to the port (a PD's checked grant).
pub unsafe fn port_in(port: u16, width: u64) -> u64 {
    // SAFETY: see `# Safety`.
    unsafe {
        match width {
            1 => cpu::inb(port) as u64,
            2 => cpu::inw(port) as u64,
            _ => cpu::inl(port) as u64,
        }
    }
}

/// Write the low `width` (1, 2 or 4) bytes of `value` to I/O port `port`.
///
/// # Safety
/// As [`port_in`].
pub unsafe fn port_out(port: u16, width: u64, value: u64) {
    // SAFETY: see `# Safety`.
    unsafe {
        match width {
            1 => cpu::outb(port, value as u8),
            2 => cpu::outw(port, value as u16),
            _ => cpu::outl(port, value as u32),
        }
    }
}

/// I/O ports the kernel keeps for itself: no PD may be granted them.
/// - the 8259 PICs (0x20-0x21, 0xA0-0xA1): masked and remapped at boot;
///   a PD could unmask them and raise interrupts on kernel vectors;
/// - the debug console (0xE9): the kernel's console once a PD drives COM1,
///   and PD output must not pass for the kernel's there.
///
/// Deliberately grantable: COM1 (the kernel then moves its console to
/// 0xE9), `isa-debug-exit` (0xF4, how systems power off) and PCI
/// configuration space (0xCF8-0xCFF, which driver PDs need; a PD with it
/// can reprogram any device, and with DMA any memory, so it is trusted
/// like every DMA-capable driver without an IOMMU).
pub const KERNEL_PORTS: [core::ops::Range<u32>; 3] = [0x20..0x22, 0xa0..0xa2, 0xe9..0xea];

/// QEMU's debug console (`-debugcon`): a write-only byte port.
const DEBUGCON_PORT: u16 = 0xe9;
/// COM1's ports, `0x3f8..0x400`.
pub const COM1_PORTS: core::ops::Range<u32> = 0x3f8..0x400;

/// The kernel console has moved from COM1 to the debug console.
static ON_DEBUGCON: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Move the kernel console to the debug console (port 0xE9): a PD drives
/// COM1, and the kernel must not fight its driver over the UART.
pub fn console_use_debugcon() {
    ON_DEBUGCON.store(true, core::sync::atomic::Ordering::Relaxed);
}

/// Write one byte to the kernel console (COM1, or the debug console once
/// a PD owns COM1).
pub fn console_write_byte(b: u8) {
    if ON_DEBUGCON.load(core::sync::atomic::Ordering::Relaxed) {
        // SAFETY: writing port 0xE9 only emits a byte on QEMU's debug
        // console (and does nothing where there is none): no state that the
        // kernel or a PD relies on changes.
        unsafe { cpu::outb(DEBUGCON_PORT, b) }
    } else {
        serial::write_byte(b);
    }
}

/// The machine as the portable kernel logic sees it: the TSC as its clock
/// and the LAPIC timer (one-shot) as its preemption timer.
pub struct Hw;

impl mantle_kerncore::Machine for Hw {
    #[inline(always)]
    fn now(&self) -> u64 {
        rdtsc()
    }
    #[inline]
    fn arm_timer(&mut self, count: u32) {
        timer_one_shot(count);
    }
    #[inline]
    fn stop_timer(&mut self) {
        timer_stop();
    }
}

/// Arm the preemption timer to fire once after `ticks` LAPIC ticks.
pub fn timer_one_shot(ticks: u32) {
    lapic::one_shot(ticks);
}

/// Stop the preemption timer.
pub fn timer_stop() {
    lapic::stop();
}

/// Entries from user mode save registers below `top` from now on: the CPU
/// via `TSS.rsp0`, the SYSCALL stub via `CURRENT_FRAME_TOP`.
#[inline]
pub fn set_kernel_entry_frame(top: u64) {
    gdt::set_rsp0(top);
    entry::CURRENT_FRAME_TOP.store(top, core::sync::atomic::Ordering::Relaxed);
}
