//! call_order server (passive, priority 200): label 1 is a long call
//! (about 12 ms of TSC time), label 0 a short one. Every reply's label is
//! the call's position in the order served (1, 2, 3, ...). When the long
//! call starts it notifies the low caller (channel 3).
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, rdtsc, Channel, Handler, MessageInfo};

/// About 12 ms at 2.5 GHz.
const LONG_TICKS: u64 = 30_000_000;

struct Server {
    served: u64,
}

impl Handler for Server {
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        if msg.label() == 1 {
            let _ = Channel::new(3).notify();
            let start = rdtsc();
            while rdtsc() - start < LONG_TICKS {
                core::hint::spin_loop();
            }
        }
        self.served += 1;
        MessageInfo::new(self.served, 0)
    }
}

fn init() -> Server {
    Server { served: 0 }
}

protection_domain!(init);
