//! fastpath inner server (passive, priority 250): replies label 7 with one
//! register, the sum of the call's registers.
#![no_std]
#![no_main]

use mantle_runtime::{mr_get, mr_set, protection_domain, Channel, Handler, MessageInfo};

struct Inner;

impl Handler for Inner {
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        let sum = (0..msg.count()).fold(0u64, |s, i| s.wrapping_add(mr_get(i)));
        mr_set(0, sum);
        MessageInfo::new(7, 1)
    }
}

fn init() -> Inner {
    Inner
}

protection_domain!(init);
