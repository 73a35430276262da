//! passive_notify server (passive, priority 150): after init it runs only
//! for events. A notification must still reach `notified` (on its own
//! scheduling context, as in Microkit); it notifies the client back. A
//! protected call returns how many notifications it has seen.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler, MessageInfo};

struct Server {
    notified: u64,
}

impl Handler for Server {
    fn notified(&mut self, ch: Channel) {
        self.notified += 1;
        debug_println!(
            "passive_notify: passive server notified ({})",
            self.notified
        );
        let _ = ch.notify();
    }

    fn protected(&mut self, _ch: Channel, _msg: MessageInfo) -> MessageInfo {
        MessageInfo::new(self.notified, 0)
    }
}

fn init() -> Server {
    Server { notified: 0 }
}

protection_domain!(init);
