//! fault_unmapped: the PD that must keep working after another PD faulted (see
//! [`mantle_test_pds::survivor`]).
#![no_std]
#![no_main]

use mantle_runtime::protection_domain;
use mantle_test_pds::survivor::{self, Survivor};

fn init() -> Survivor {
    survivor::init("fault_unmapped")
}

protection_domain!(init);
