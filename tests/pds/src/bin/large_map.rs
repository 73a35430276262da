//! large_map: the same 4 MiB of physical memory is mapped twice: at
//! 0x4000_0000 (virtual and physical addresses 2 MiB aligned, so the
//! kernel uses 2 MiB pages) and at 0x5000_1000 (4 KiB pages). Words
//! written through one mapping must read back through the other, at the
//! same offsets, across the whole range.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Handler};
use mantle_test_pds::finish;

const LARGE: usize = 0x4000_0000;
const SMALL: usize = 0x5000_1000;
const SIZE: usize = 0x40_0000;

struct LargeMap;
impl Handler for LargeMap {}

fn init() -> LargeMap {
    let mut bad = 0;
    let mut checked = 0;
    // Every 4 KiB page, at a varying offset within it.
    for (i, off) in (0..SIZE).step_by(0x1000).enumerate() {
        let at = off + (i * 8) % 0x1000;
        let value = 0x1a46_e000_0000_0000u64 | at as u64;
        // SAFETY: both ranges are mapped read-write by the SDF, 4 MiB each,
        // and nothing else uses them.
        unsafe {
            ((LARGE + at) as *mut u64).write_volatile(value);
            let back = ((SMALL + at) as *const u64).read_volatile();
            ((SMALL + at) as *mut u64).write_volatile(!value);
            let again = ((LARGE + at) as *const u64).read_volatile();
            if back != value || again != !value {
                bad += 1;
            }
        }
        checked += 1;
    }
    debug_println!(
        "large_map: {} pages checked through both mappings, {} bad",
        checked,
        bad
    );
    finish("large_map", bad == 0)
}

protection_domain!(init);
