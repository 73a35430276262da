//! The GDT and TSS.
//!
//! Selector layout follows SYSCALL/SYSRET: kernel code and data at 0x08 and
//! 0x10; user data at 0x18 and user 64-bit code at 0x20 (SYSRET loads
//! SS = STAR.base + 8 and CS = STAR.base + 16 with STAR.base = 0x10).
//!
//! `TSS.rsp0` always points just above the current PD's saved-register
//! frame, so an interrupt from user mode pushes its frame straight into the
//! PD's TCB. `#DF` and NMI use their own IST stacks.

use core::arch::asm;
use core::mem::size_of;
use core::ptr::addr_of_mut;

use crate::global::Global;

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// User data selector (RPL 3).
pub const USER_DS: u64 = 0x18 | 3;
/// User code selector (RPL 3).
pub const USER_CS: u64 = 0x20 | 3;
/// SYSRET base selector for STAR[63:48].
pub const SYSRET_BASE: u64 = 0x10 | 3;
const TSS_SEL: u16 = 0x28;

/// IST slot used for double faults.
pub const IST_DOUBLE_FAULT: u8 = 1;
/// IST slot used for NMIs.
pub const IST_NMI: u8 = 2;
/// IST slot used for debug exceptions (#DB can hit the first instruction
/// of the SYSCALL entry, while RSP is still the user's).
pub const IST_DEBUG: u8 = 3;

#[repr(C, packed(4))]
struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

#[repr(C, align(16))]
struct IstStack([u8; 8192]);

#[link_section = ".data.hot"]
static TSS: Global<Tss> = Global::new(Tss {
    _reserved0: 0,
    rsp: [0; 3],
    _reserved1: 0,
    ist: [0; 7],
    _reserved2: 0,
    _reserved3: 0,
    // Beyond the TSS limit: no I/O bitmap, so user port I/O always faults.
    iomap_base: size_of::<Tss>() as u16,
});
static GDT: Global<[u64; 7]> = Global::new([0; 7]);
static IST_STACKS: Global<[IstStack; 3]> = Global::new([const { IstStack([0; 8192]) }; 3]);

/// Operand of `lgdt`/`lidt`.
#[repr(C, packed)]
pub struct DescriptorPointer {
    /// Size in bytes minus one.
    pub limit: u16,
    /// Linear address.
    pub base: u64,
}

/// Load the kernel's GDT and TSS.
pub fn init() {
    let tss = TSS.as_ptr();
    let tss_addr = tss as u64;
    let stacks = IST_STACKS.as_ptr() as u64;
    let limit = size_of::<Tss>() as u64 - 1;
    // SAFETY: boot runs once on one CPU before anything else uses the GDT
    // or TSS; the descriptors below are the architectural encodings.
    unsafe {
        addr_of_mut!((*tss).ist).write_unaligned([
            stacks + 8192,
            stacks + 2 * 8192,
            stacks + 3 * 8192,
            0,
            0,
            0,
            0,
        ]);
        let gdt = &mut *GDT.as_ptr();
        gdt[1] = 0x00AF_9A00_0000_FFFF; // kernel code, 64-bit
        gdt[2] = 0x00CF_9200_0000_FFFF; // kernel data
        gdt[3] = 0x00CF_F200_0000_FFFF; // user data, DPL 3
        gdt[4] = 0x00AF_FA00_0000_FFFF; // user code, 64-bit, DPL 3
        gdt[5] = (limit & 0xffff)
            | (tss_addr & 0xff_ffff) << 16
            | 0x89 << 40 // present, 64-bit TSS (available)
            | ((limit >> 16) & 0xf) << 48
            | ((tss_addr >> 24) & 0xff) << 56;
        gdt[6] = tss_addr >> 32;
        let ptr = DescriptorPointer {
            limit: (size_of::<[u64; 7]>() - 1) as u16,
            base: gdt.as_ptr() as u64,
        };
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:e}",
            "mov es, {ds:e}",
            "mov ss, {ds:e}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = in(reg) KERNEL_CS as u64,
            tmp = out(reg) _,
            ds = in(reg) KERNEL_DS as u32,
            tss = in(reg) TSS_SEL,
        );
    }
}

/// Set the stack the CPU switches to on an interrupt from user mode.
pub fn set_rsp0(top: u64) {
    // SAFETY: the TSS is only written here and at boot; the CPU reads it
    // only on the next privilege change, which cannot happen concurrently.
    unsafe {
        addr_of_mut!((*TSS.as_ptr()).rsp)
            .cast::<u64>()
            .write_unaligned(top)
    };
}
