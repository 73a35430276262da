//! runtime: a child that panics at start. The runtime's panic handler
//! prints `<pd name>: panic: <message> (<file>:<line>)` and executes `ud2`,
//! so the parent sees an invalid-opcode fault.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Handler};

struct Panicker;
impl Handler for Panicker {}

fn init() -> Panicker {
    let n = core::hint::black_box(42);
    panic!("deliberate panic number {}", n);
}

protection_domain!(init);
