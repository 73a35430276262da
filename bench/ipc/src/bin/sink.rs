//! ipcbench's sink: stamps the TSC as soon as a notification arrives.
#![no_std]
#![no_main]

use ipcbench::{shared_read, shared_write, SLOT_SEQ, SLOT_STAMP};
use mantle_runtime::{protection_domain, rdtsc, Channel, Handler};

struct Sink {
    started: bool,
}

impl Handler for Sink {
    fn notified(&mut self, ch: Channel) {
        let t = rdtsc();
        shared_write(SLOT_STAMP, t);
        shared_write(SLOT_SEQ, shared_read(SLOT_SEQ).wrapping_add(1));
        if !self.started {
            // The client's kick: answer it so the client starts measuring.
            self.started = true;
            let _ = ch.notify();
        }
    }
}

fn init() -> Sink {
    Sink { started: false }
}

protection_domain!(init);
