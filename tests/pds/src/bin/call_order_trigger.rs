//! call_order trigger (priority 10): notified by the low caller just
//! before it calls, it runs only once the low caller is queued on the
//! server (everything above is blocked); then it wakes the mid caller.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Channel, Handler};

struct Trigger;

impl Handler for Trigger {
    fn notified(&mut self, _ch: Channel) {
        let _ = Channel::new(1).notify();
    }
}

fn init() -> Trigger {
    Trigger
}

protection_domain!(init);
