//! deadlock: the waiter returns from `init` and waits; it is notified once
//! by the client, and its child panics in `init`, which the default
//! `fault` handler leaves stopped. Then nothing can run or be woken, and
//! the kernel must report the deadlock and power off.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler};

struct Waiter;

impl Handler for Waiter {
    fn notified(&mut self, ch: Channel) {
        debug_println!("deadlock: waiter notified on channel {}", ch);
    }
}

fn init() -> Waiter {
    debug_println!("deadlock: waiter started; it returns from init and waits");
    Waiter
}

protection_domain!(init);
