//! wild_syscalls: the wild PD's child. It has the lowest priority, so it
//! only runs once the wild phase is over and its parent restarts it; then
//! it notifies the parent to show it is intact.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, Channel, Handler};

const PARENT: Channel = Channel::new(0);

struct WildChild;

impl Handler for WildChild {
    // The wild phase may notify us; ignore it.
    fn notified(&mut self, _ch: Channel) {}
}

fn init() -> WildChild {
    PARENT.notify().expect("notify parent");
    WildChild
}

protection_domain!(init);
