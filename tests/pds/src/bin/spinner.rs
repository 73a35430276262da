//! starvation: spins forever inside init, never calling RECV, counting in
//! shared word 0.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Handler};

struct Spinner;
impl Handler for Spinner {}

fn init() -> Spinner {
    debug_println!("starvation: spinner started (never yields)");
    mantle_test_pds::spin_forever(0)
}

protection_domain!(init);
