//! starvation: a higher-priority PD with budget 1000 µs per 10000 µs
//! period that spins forever, counting in shared word 1.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Handler};

struct Spinner;
impl Handler for Spinner {}

fn init() -> Spinner {
    debug_println!("starvation: high-priority spinner started (budget 1000/10000)");
    mantle_test_pds::spin_forever(1)
}

protection_domain!(init);
