//! fastpath server (passive, priority 200). Labels:
//! - 1: echo: reply label 1 with the same number of registers, each
//!   `2 * v + 1`.
//! - 2: nested: forward MR0 to the inner server with 64 registers
//!   (`MR0 + i`), reply label 2 with MR0 = the inner reply's MR0 + 1.
//! - 3: long: notify the helper (channel 3), spin ~12 ms, reply label 3.
//! - 4: count: reply with the number of label-4 calls so far as label.
#![no_std]
#![no_main]

use mantle_runtime::{mr_get, mr_set, protection_domain, Channel, Handler, MessageInfo};
use mantle_test_pds::long_call;

struct Server {
    counted: u64,
}

impl Handler for Server {
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        match msg.label() {
            1 => {
                for i in 0..msg.count() {
                    mr_set(i, mr_get(i).wrapping_mul(2).wrapping_add(1));
                }
                MessageInfo::new(1, msg.count())
            }
            2 => {
                let base = mr_get(0);
                for i in 0..64 {
                    mr_set(i, base + i as u64);
                }
                match Channel::new(1).ppcall(MessageInfo::new(7, 64)) {
                    Ok(r) if r.label() == 7 && r.count() == 1 => {
                        mr_set(0, mr_get(0) + 1);
                        MessageInfo::new(2, 1)
                    }
                    _ => MessageInfo::new(99, 0),
                }
            }
            3 => {
                long_call(Channel::new(3));
                MessageInfo::new(3, 0)
            }
            4 => {
                self.counted += 1;
                MessageInfo::new(self.counted, 0)
            }
            _ => MessageInfo::new(98, 0),
        }
    }
}

fn init() -> Server {
    Server { counted: 0 }
}

protection_domain!(init);
