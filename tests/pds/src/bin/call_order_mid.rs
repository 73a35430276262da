//! call_order mid caller (priority 80): calls when the trigger notifies
//! it, after the low caller queued; must be served second.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler, MessageInfo};

struct Mid;

impl Handler for Mid {
    fn notified(&mut self, _ch: Channel) {
        debug_println!("call_order: mid caller queues");
        match Channel::new(0).ppcall(MessageInfo::new(0, 0)) {
            Ok(m) if m.label() == 2 => debug_println!("call_order: mid caller served second"),
            Ok(m) => debug_println!(
                "call_order: FAIL: mid caller served {} (expected 2)",
                m.label()
            ),
            Err(_) => debug_println!("call_order: FAIL: mid caller's call failed"),
        }
    }
}

fn init() -> Mid {
    Mid
}

protection_domain!(init);
