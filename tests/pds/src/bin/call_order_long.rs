//! call_order "long" caller (priority 100, budget 2 ms per 30 ms): makes
//! the long call, which uses up its budget, so the passive server stops
//! mid-call and the lower-priority callers queue behind it.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler, MessageInfo};

struct Long;
impl Handler for Long {}

fn init() -> Long {
    match Channel::new(0).ppcall(MessageInfo::new(1, 0)) {
        Ok(m) => debug_println!("call_order: long call served {}", m.label()),
        Err(_) => debug_println!("call_order: FAIL: long call failed"),
    }
    Long
}

protection_domain!(init);
