//! call_order low caller (priority 50): when the server starts the long
//! call it notifies this PD, which wakes the trigger and queues on the busy
//! server; the mid caller (priority 80) queues after it but must be served
//! first.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler, MessageInfo};
use mantle_test_pds::finish;

struct Low;

impl Handler for Low {
    fn notified(&mut self, _ch: Channel) {
        // The trigger (priority 10) runs only once this PD is queued.
        let _ = Channel::new(2).notify();
        debug_println!("call_order: low caller queues");
        let ok = match Channel::new(0).ppcall(MessageInfo::new(0, 0)) {
            Ok(m) if m.label() == 3 => {
                debug_println!(
                    "call_order: low caller served third, after the higher-priority caller"
                );
                true
            }
            Ok(m) => {
                debug_println!(
                    "call_order: FAIL: low caller served {} (expected 3)",
                    m.label()
                );
                false
            }
            Err(_) => {
                debug_println!("call_order: FAIL: low caller's call failed");
                false
            }
        };
        finish("call_order", ok)
    }
}

fn init() -> Low {
    Low
}

protection_domain!(init);
