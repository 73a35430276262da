//! deadlock: the client calls the passive server once, notifies the waiter,
//! and returns from `init` to wait for a notification that never comes.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, protection_domain, Channel, Handler,
};
use mantle_test_pds::echo_transform;

const SERVER: Channel = Channel::new(0);
const WAITER: Channel = Channel::new(1);

struct Client;
impl Handler for Client {}

fn init() -> Client {
    mr_set(0, 41);
    match SERVER.ppcall(msginfo_new(1, 1)) {
        Ok(_) if mr_get(0) == echo_transform(41) => {
            debug_println!("deadlock: client's call to the passive server answered")
        }
        r => debug_println!("deadlock: FAIL: call to the passive server: {:?}", r),
    }
    if let Err(e) = WAITER.notify() {
        debug_println!("deadlock: FAIL: notify the waiter: {}", e);
    }
    debug_println!("deadlock: client waits");
    Client
}

protection_domain!(init);
