//! The IOAPIC (redirection of pin interrupts) and the legacy 8259 PIC,
//! which is only remapped out of the way and masked.

use super::cpu::outb;
use super::paging::phys_to_virt;

/// Physical address of IOAPIC 0 on q35.
pub const IOAPIC_PHYS: u64 = 0xfec0_0000;
/// Vectors the (masked) 8259 PIC is remapped to; anything arriving there
/// is spurious.
pub const PIC_VECTOR_BASE: u8 = 0xe0;

const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;
const MASKED: u32 = 1 << 16;
const LEVEL: u32 = 1 << 15;
const ACTIVE_LOW: u32 = 1 << 13;

fn select(reg: u32) {
    // SAFETY: the IOAPIC window is mapped uncached in the direct map; the
    // index register is at offset 0.
    unsafe { (phys_to_virt(IOAPIC_PHYS) as *mut u32).write_volatile(reg) }
}

fn read(reg: u32) -> u32 {
    select(reg);
    // SAFETY: the data register is at offset 0x10 of the window.
    unsafe { ((phys_to_virt(IOAPIC_PHYS) + 0x10) as *mut u32).read_volatile() }
}

fn write(reg: u32, v: u32) {
    select(reg);
    // SAFETY: as in `read`; the kernel owns the IOAPIC.
    unsafe { ((phys_to_virt(IOAPIC_PHYS) + 0x10) as *mut u32).write_volatile(v) }
}

/// Number of redirection entries.
pub fn pin_count() -> u8 {
    (((read(REG_VERSION) >> 16) & 0xff) + 1) as u8
}

/// Mask every pin.
pub fn init() {
    for pin in 0..pin_count() {
        write(REG_REDIRECTION + 2 * pin as u32, MASKED);
        write(REG_REDIRECTION + 2 * pin as u32 + 1, 0);
    }
}

/// Route `pin` to `vector` on the CPU with APIC id `dest`, unmasked.
pub fn route(pin: u8, vector: u8, level: bool, active_low: bool, dest: u8) {
    let mut low = vector as u32;
    if level {
        low |= LEVEL;
    }
    if active_low {
        low |= ACTIVE_LOW;
    }
    write(REG_REDIRECTION + 2 * pin as u32 + 1, (dest as u32) << 24);
    write(REG_REDIRECTION + 2 * pin as u32, low);
}

/// Mask or unmask `pin`.
pub fn set_masked(pin: u8, masked: bool) {
    let reg = REG_REDIRECTION + 2 * pin as u32;
    let low = read(reg);
    write(reg, if masked { low | MASKED } else { low & !MASKED });
}

/// Remap the 8259 PIC to [`PIC_VECTOR_BASE`] and mask all its lines.
pub fn disable_pic() {
    // SAFETY: the PIC's ports belong to the kernel; this is the standard
    // initialisation sequence followed by a full mask.
    unsafe {
        outb(0x20, 0x11);
        outb(0xa0, 0x11);
        outb(0x21, PIC_VECTOR_BASE);
        outb(0xa1, PIC_VECTOR_BASE + 8);
        outb(0x21, 4);
        outb(0xa1, 2);
        outb(0x21, 1);
        outb(0xa1, 1);
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
    }
}
