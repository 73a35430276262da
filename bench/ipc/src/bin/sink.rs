//! ipcbench's sink: stamps the TSC as soon as a notification arrives.
#![no_std]
#![no_main]

use ipcbench::stamp;
use mantle_runtime::{protection_domain, rdtsc, Channel, Handler};

struct Sink;

impl Handler for Sink {
    fn notified(&mut self, _ch: Channel) {
        stamp(rdtsc());
    }
}

fn init() -> Sink {
    Sink
}

protection_domain!(init);
