//! Calibration of the TSC and the LAPIC timer against the HPET.

use super::cpu::rdtsc;
use super::lapic;
use super::paging::phys_to_virt;

/// Physical address of the HPET on q35.
pub const HPET_PHYS: u64 = 0xfed0_0000;
const REG_CAPS: u64 = 0x00;
const REG_CONFIG: u64 = 0x10;
const REG_COUNTER: u64 = 0xf0;
const FS_PER_MS: u64 = 1_000_000_000_000;
/// Calibration interval. Boot time matters, and 1 ms gives well under 1%
/// error with a 10 MHz+ HPET and a GHz TSC.
const CALIBRATION_FS: u64 = FS_PER_MS;

fn reg(offset: u64) -> *mut u64 {
    phys_to_virt(HPET_PHYS + offset) as *mut u64
}

/// Measured clock rates.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// TSC ticks per millisecond.
    pub tsc_per_ms: u64,
    /// LAPIC timer ticks (divide by 1) per millisecond.
    pub lapic_per_ms: u64,
}

/// Measure the TSC and LAPIC timer against the HPET over about 1 ms.
/// `None` if there is no usable HPET.
pub fn calibrate() -> Option<Calibration> {
    // SAFETY: the HPET window is mapped uncached in the direct map; the
    // kernel owns the HPET during boot.
    let caps = unsafe { reg(REG_CAPS).read_volatile() };
    let period_fs = caps >> 32;
    if period_fs == 0 || period_fs > 100_000_000 || caps == u64::MAX {
        return None;
    }
    // SAFETY: as above; setting ENABLE_CNF starts the main counter.
    unsafe {
        let config = reg(REG_CONFIG).read_volatile();
        reg(REG_CONFIG).write_volatile(config | 1);
    }
    let counter = || {
        // SAFETY: as above; reading the low half of the counter.
        unsafe { (reg(REG_COUNTER) as *mut u32).read_volatile() }
    };
    let wait = (CALIBRATION_FS / period_fs).max(1) as u32;
    lapic::start_calibration();
    let h0 = counter();
    let t0 = rdtsc();
    let l0 = lapic::current_count();
    let mut h1 = h0;
    while h1.wrapping_sub(h0) < wait {
        h1 = counter();
    }
    let t1 = rdtsc();
    let l1 = lapic::current_count();
    lapic::stop();
    let elapsed_fs = h1.wrapping_sub(h0) as u128 * period_fs as u128;
    let per_ms = |ticks: u64| (ticks as u128 * FS_PER_MS as u128 / elapsed_fs) as u64;
    let cal = Calibration {
        tsc_per_ms: per_ms(t1.wrapping_sub(t0)),
        lapic_per_ms: per_ms(l0.wrapping_sub(l1) as u64),
    };
    (cal.tsc_per_ms > 0 && cal.lapic_per_ms > 0).then_some(cal)
}
