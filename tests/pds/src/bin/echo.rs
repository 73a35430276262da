//! Echo server used by several test systems: notifies back on the channel
//! it was notified on, and answers PPCs with every register plus one.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Channel, Handler, MessageInfo};
use mantle_test_pds::echo_reply;

struct Echo;

impl Handler for Echo {
    fn notified(&mut self, ch: Channel) {
        // The other end may not be notifiable from here; ignore the error.
        let _ = ch.notify();
    }

    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        echo_reply(msg)
    }
}

fn init() -> Echo {
    Echo
}

protection_domain!(init);
