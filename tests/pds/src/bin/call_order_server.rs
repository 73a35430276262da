//! call_order server (passive, priority 200): label 1 is a long call
//! (about 12 ms of TSC time), label 0 a short one. Every reply's label is
//! the call's position in the order served (1, 2, 3, ...). When the long
//! call starts it notifies the low caller (channel 3).
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Channel, Handler, MessageInfo};
use mantle_test_pds::long_call;

struct Server {
    served: u64,
}

impl Handler for Server {
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        if msg.label() == 1 {
            long_call(Channel::new(3));
        }
        self.served += 1;
        MessageInfo::new(self.served, 0)
    }
}

fn init() -> Server {
    Server { served: 0 }
}

protection_domain!(init);
