//! stop_queued server (passive, priority 200): label 1 is a long call
//! (about 12 ms of TSC time) that first notifies the child (channel 3);
//! label 0 a short one; label 2 answers how many calls of labels 0 and 1
//! it has served.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Channel, Handler, MessageInfo};
use mantle_test_pds::long_call;

struct Server {
    served: u64,
}

impl Handler for Server {
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        match msg.label() {
            2 => return MessageInfo::new(self.served, 0),
            1 => long_call(Channel::new(3)),
            _ => {}
        }
        self.served += 1;
        MessageInfo::new(self.served, 0)
    }
}

fn init() -> Server {
    Server { served: 0 }
}

protection_domain!(init);
