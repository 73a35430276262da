//! stop_queued server (passive, priority 200): label 1 is a long call
//! (about 12 ms of TSC time) that first notifies the child (channel 3);
//! label 0 a short one; label 2 answers how many calls of labels 0 and 1
//! it has served.
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
        match msg.label() {
            2 => return MessageInfo::new(self.served, 0),
            1 => {
                let _ = Channel::new(3).notify();
                let start = rdtsc();
                while rdtsc() - start < LONG_TICKS {
                    core::hint::spin_loop();
                }
            }
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
