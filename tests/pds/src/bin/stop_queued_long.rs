//! stop_queued "long" caller (priority 100, budget 2 ms per 200 ms): makes
//! the long call, which throttles the passive server mid-call; when it
//! returns, it tells the parent (channel 1).
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler, MessageInfo};

struct Long;
impl Handler for Long {}

fn init() -> Long {
    if Channel::new(0).ppcall(MessageInfo::new(1, 0)).is_err() {
        debug_println!("stop_queued: FAIL: long call failed");
    }
    let _ = Channel::new(1).notify();
    Long
}

protection_domain!(init);
