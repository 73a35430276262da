//! # Mantle kernel (x86_64)
//!
//! A small static microkernel in the mould of seL4 + Microkit. The system
//! is fixed at build time: `mantle build` resolves the system description
//! into a boot description (`mantle_abi::bootdesc`) and one ELF image; this
//! kernel checks it, builds one address space per protection domain (PD),
//! and then only schedules, passes messages and delivers interrupts and
//! faults.
//!
//! ## Design principles
//! - **Untrusted input.** The boot description and every syscall argument
//!   are checked; nothing a PD does can panic, hang or corrupt the kernel
//!   or another PD. Bad boot input ends with `mantle: boot error: ...`.
//! - **No pointers from user space.** Data moves through IPC buffers whose
//!   physical frames the kernel knows, via its direct map.
//! - **Event-driven, one stack.** The kernel runs with interrupts off on a
//!   single kernel stack. On every entry the PD's registers go straight
//!   into its TCB (`TSS.rsp0` points there); the kernel handles the event,
//!   picks the next PD and returns to it. Idle is `sti; hlt` on the kernel
//!   stack.
//! - **Static memory.** No heap: tables are sized by `mantle_abi::limits`,
//!   and page tables come from a bump allocator above the image.
//! - **Cheap fast paths.** Under QEMU's TCG a CR3 write flushes every
//!   translation cache, so there most PDs share one live PML4 and a switch
//!   invalidates only the pages the outgoing PD touched
//!   (`arch::x86_64::vspace`); under KVM and on bare metal each PD has its
//!   own PML4, switched by CR3 writes. No clock read or timer write unless
//!   the scheduling context changes; lazy FPU switching; the IPC paths are
//!   packed into a few pages of `.text.hot`.
//! - **One architecture seam.** Everything x86-specific is under `arch/`.
//!
//! ## Isolation between PDs
//! - Memory: a PD maps only its own program, stack and IPC buffer, the
//!   memory regions and device ranges its description names; the boot
//!   checks (`system`, `mantle_kerncore::boot`) reject any map that reaches another
//!   PD's private memory, kernel memory or the kernel's page tables.
//! - CPU state: FPU/SSE registers are switched lazily and a PD's first use
//!   starts from a clean image; DS/ES/FS/GS are nulled on every switch to
//!   another PD; RFLAGS bits a PD leaves set (DF, AC, TF, NT) are cleared on
//!   every kernel entry.
//! - Calls: callers waiting for a busy server are served highest priority
//!   first.
//!
//! ## Known limitations
//! - **No Meltdown mitigation (KPTI).** Every PD's page tables contain the
//!   kernel half, including the supervisor-only direct map of the first
//!   4 GiB of physical memory. On CPUs affected by Meltdown (rogue data
//!   cache load; many Intel CPUs before 2019) a PD could read all of RAM
//!   through it speculatively. The CPUs Mantle targets (AMD EPYC, and QEMU)
//!   are not affected. Running on an affected CPU would need separate
//!   kernel/user page tables (KPTI), which is not implemented.
//! - No other speculative-execution mitigations (Spectre v2 / IBRS, MDS
//!   buffer clearing, L1TF) beyond what the page-table layout gives.
//! - No IOMMU: a PD that drives a DMA-capable device (or holds PCI
//!   configuration ports) can reach all memory and is trusted.
//! - The console is shared: PD debug output is printed unchanged and can
//!   imitate kernel lines (`mantle: ...`).

#![no_std]
#![no_main]

mod arch;
mod bootinfo;
mod child;
mod console;
mod deadlock;
mod fastpath;
mod fault;
mod global;
mod ipc;
mod irq;
mod kernel;
mod memory;
mod pd;
mod sched;
mod syscall;
mod system;

use mantle_abi::bootdesc::BootDescription;
use mantle_abi::layout::{BOOTDESC_MAX_SIZE, BOOTDESC_PHYS, KERNEL_VIRT_BASE};

use arch::paging::phys_to_virt;
use system::{BootErrorDisplay, DecodeErrorDisplay};

/// Exit status written to `isa-debug-exit` when the kernel cannot go on.
pub const EXIT_KERNEL_ERROR: u8 = mantle_abi::exit::KERNEL_ERROR;

extern "C" {
    /// End of the kernel image (linker script).
    static __kernel_end: u8;
}

/// Print a boot error and stop the machine.
fn boot_error(args: core::fmt::Arguments<'_>) -> ! {
    kprintln!("boot error: {}", args);
    arch::exit(EXIT_KERNEL_ERROR)
}

/// The Rust entry point, called by the trampoline on the kernel stack with
/// the physical address of `hvm_start_info`.
#[no_mangle]
extern "C" fn kmain(start_info: u32) -> ! {
    arch::console_init();
    kprintln!("Mantle microkernel (x86_64)");
    let features = arch::init_cpu();
    match arch::paging::protect_kernel() {
        Ok(()) => kprintln!(
            "kernel W^X: text r-x, rodata r--, data rw-, direct map rw- (r-- over text and rodata)"
        ),
        Err(e) => boot_error(format_args!("kernel W^X does not hold: {}", e)),
    }

    let kernel_end = core::ptr::addr_of!(__kernel_end) as u64 - KERNEL_VIRT_BASE;
    if kernel_end > BOOTDESC_PHYS {
        boot_error(format_args!("kernel image overlaps the boot description"));
    }
    let ram = match bootinfo::read_memmap(start_info as u64) {
        Ok(map) => map,
        Err(e) => boot_error(format_args!("{}", e)),
    };
    if !ram.is_ram(BOOTDESC_PHYS, BOOTDESC_PHYS + BOOTDESC_MAX_SIZE) {
        boot_error(format_args!("no RAM for the boot description"));
    }
    // SAFETY: the window is RAM in the direct map (checked above) that only
    // the boot description occupies; it is never written.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            phys_to_virt(BOOTDESC_PHYS) as *const u8,
            BOOTDESC_MAX_SIZE as usize,
        )
    };
    let desc = match BootDescription::parse(bytes) {
        Ok(d) => d,
        Err(e) => boot_error(format_args!(
            "invalid boot description: {}",
            DecodeErrorDisplay(e)
        )),
    };

    kprintln!(
        "address-space switch: {}",
        arch::vspace::Scheme::detect().describe()
    );
    let Some(cal) = arch::init_interrupts() else {
        boot_error(format_args!("no usable HPET to calibrate the timer"));
    };

    // SAFETY: kmain runs once, before any other kernel entry is possible.
    let k = unsafe { kernel::boot_state() };
    k.sched.set_clock(cal.tsc_per_ms, cal.lapic_per_ms);
    if let Err(error) = system::load(k, &desc, &ram, kernel_end) {
        boot_error(format_args!("{}", BootErrorDisplay { error, desc: &desc }));
    }
    kprintln!(
        "starting {} PDs (TSC {} MHz, SMEP {}, SMAP {}, UMIP {})",
        k.count,
        cal.tsc_per_ms / 1000,
        on_off(features.smep),
        on_off(features.smap),
        on_off(features.umip)
    );
    let first = k.schedule();
    // SAFETY: `first` is a PD's frame from the scheduler (or null to idle);
    // the kernel stack is reset, abandoning this frame for good.
    unsafe { arch::resume_from_kernel(first) }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("kernel panic: {}", info);
    arch::exit(EXIT_KERNEL_ERROR)
}
