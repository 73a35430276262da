//! The local APIC (xAPIC, memory-mapped): end of interrupt, the one-shot
//! preemption timer, and the interrupt-controller set-up.

use super::cpu::{rdmsr, wrmsr};
use super::paging::phys_to_virt;

/// Vector of the LAPIC timer.
pub const TIMER_VECTOR: u8 = 0xf0;
/// Vector of spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xff;

const APIC_BASE_MSR: u32 = 0x1b;
const APIC_ENABLE: u64 = 1 << 11;
/// Physical address of the LAPIC window (the architectural default).
pub const LAPIC_PHYS: u64 = 0xfee0_0000;

const REG_ID: usize = 0x20;
const REG_TPR: usize = 0x80;
const REG_EOI: usize = 0xb0;
const REG_SVR: usize = 0xf0;
const REG_LVT_TIMER: usize = 0x320;
const REG_LVT_LINT0: usize = 0x350;
const REG_LVT_LINT1: usize = 0x360;
const REG_LVT_ERROR: usize = 0x370;
const REG_TIMER_INIT: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3e0;
const LVT_MASKED: u32 = 1 << 16;
const LVT_NMI: u32 = 0b100 << 8;

fn reg(offset: usize) -> *mut u32 {
    (phys_to_virt(LAPIC_PHYS) as usize + offset) as *mut u32
}

fn read(offset: usize) -> u32 {
    // SAFETY: the LAPIC window is mapped uncached in the direct map and
    // `offset` is a valid register.
    unsafe { reg(offset).read_volatile() }
}

fn write(offset: usize, v: u32) {
    // SAFETY: as in `read`; the kernel owns the LAPIC.
    unsafe { reg(offset).write_volatile(v) }
}

/// Enable the LAPIC at its default address with the timer masked.
pub fn init() {
    // SAFETY: IA32_APIC_BASE exists on every x86_64 CPU; the kernel keeps
    // the default base and sets the global enable bit.
    unsafe {
        let base = rdmsr(APIC_BASE_MSR);
        wrmsr(APIC_BASE_MSR, (base & 0xfff) | LAPIC_PHYS | APIC_ENABLE);
    }
    write(REG_SVR, 0x100 | SPURIOUS_VECTOR as u32);
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_LINT1, LVT_NMI);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_TIMER_DIVIDE, 0b1011); // divide by 1
    write(REG_LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    write(REG_TIMER_INIT, 0);
}

/// This CPU's APIC id.
pub fn id() -> u8 {
    (read(REG_ID) >> 24) as u8
}

/// Signal end of interrupt.
#[inline]
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Start a free-running count-down from `u32::MAX` (for calibration).
pub fn start_calibration() {
    write(REG_LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    write(REG_TIMER_INIT, u32::MAX);
}

/// The timer's current count.
pub fn current_count() -> u32 {
    read(REG_TIMER_CURRENT)
}

/// Stop the timer and unmask it in one-shot mode, for [`one_shot`].
pub fn enable_timer() {
    write(REG_TIMER_INIT, 0);
    write(REG_LVT_TIMER, TIMER_VECTOR as u32);
}

/// Fire [`TIMER_VECTOR`] once after `ticks` timer ticks (after
/// [`enable_timer`]). A single register write: LAPIC accesses are slow
/// under emulation.
pub fn one_shot(ticks: u32) {
    write(REG_TIMER_INIT, ticks.max(1));
}

/// Stop the timer.
pub fn stop() {
    write(REG_TIMER_INIT, 0);
}
