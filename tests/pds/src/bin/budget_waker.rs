//! budget_window: the waker (lower priority, never throttled). Waits for
//! the burst PD to post a TSC time in shared word 0, spins until then and
//! notifies it. Runs whenever the burst PD does not.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, rdtsc, Channel, Handler};
use mantle_test_pds::{shared_read, shared_write};

const BURST: Channel = Channel::new(0);

struct Waker;
impl Handler for Waker {}

fn init() -> Waker {
    loop {
        let at = shared_read(0);
        if at != 0 && rdtsc() >= at {
            shared_write(0, 0);
            BURST.notify().expect("notify the burst PD");
        }
        core::hint::spin_loop();
    }
}

protection_domain!(init);
