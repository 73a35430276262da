//! hello's passive server: sums and factorials over PPC.
#![no_std]
#![no_main]

use hello::*;
use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, protection_domain, Channel, Handler, MessageInfo,
};

struct Server;

impl Handler for Server {
    fn protected(&mut self, ch: Channel, msg: MessageInfo) -> MessageInfo {
        if ch.index() != SERVER_CLIENT {
            return msginfo_new(REPLY_ERROR, 0);
        }
        match msg.label() {
            OP_SUM => {
                let sum = (0..msg.count()).fold(0u64, |acc, i| acc.wrapping_add(mr_get(i)));
                mr_set(0, sum);
                msginfo_new(REPLY_OK, 1)
            }
            OP_FACTORIAL if msg.count() == 1 => match factorial(mr_get(0)) {
                Some(f) => {
                    mr_set(0, f);
                    msginfo_new(REPLY_OK, 1)
                }
                None => msginfo_new(REPLY_ERROR, 0),
            },
            _ => msginfo_new(REPLY_ERROR, 0),
        }
    }
}

fn init() -> Server {
    debug_println!("server: ready (passive, priority 200)");
    Server
}

protection_domain!(init);
