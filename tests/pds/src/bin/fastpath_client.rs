//! fastpath client (priority 50, 2 ms budget per 200 ms): drives the
//! fast-path edge cases of `tests/systems/fastpath.system` and checks every
//! result.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_get, mr_set, protection_domain, Channel, Handler, MessageInfo,
};
use mantle_test_pds::finish;

const SERVER: Channel = Channel::new(0);
const HELPER: Channel = Channel::new(1);

struct Client {
    /// Set once the pending-notification call has returned.
    called: bool,
}

fn fail(what: &str) -> ! {
    debug_println!("fastpath: FAIL: {}", what);
    finish("fastpath", false)
}

impl Handler for Client {
    fn notified(&mut self, ch: Channel) {
        if ch != HELPER || !self.called {
            fail("unexpected notification");
        }
        debug_println!("fastpath: notification delivered after the call");
        // The queued case: the helper calls while this long call runs.
        match SERVER.ppcall(MessageInfo::new(3, 0)) {
            Ok(r) if r.label() == 3 => debug_println!("fastpath: long call ok"),
            _ => fail("long call"),
        }
        finish("fastpath", true)
    }
}

fn echo(count: usize, seed: u64) -> bool {
    for i in 0..count {
        mr_set(i, seed + 3 * i as u64);
    }
    match SERVER.ppcall(MessageInfo::new(1, count)) {
        Ok(r) if r.label() == 1 && r.count() == count => {
            (0..count).all(|i| mr_get(i) == (seed + 3 * i as u64) * 2 + 1)
        }
        _ => false,
    }
}

fn init() -> Client {
    if !echo(64, 7) {
        fail("64 registers");
    }
    debug_println!("fastpath: 64 registers ok");
    for n in 1..=200 {
        match SERVER.ppcall(MessageInfo::new(4, 0)) {
            Ok(r) if r.label() == n => {}
            _ => fail("counted calls"),
        }
    }
    debug_println!("fastpath: 200 calls ok");
    mr_set(0, 1000);
    match SERVER.ppcall(MessageInfo::new(2, 1)) {
        // The inner server sums 1000..1064; the server adds one.
        Ok(r) if r.label() == 2 && mr_get(0) == (1000..1064).sum::<u64>() + 1 => {
            debug_println!("fastpath: nested call ok")
        }
        _ => fail("nested call"),
    }
    // The helper (higher priority) notifies back at once: this PD has a
    // notification pending while it calls.
    if HELPER.notify().is_err() || !echo(5, 100) {
        fail("call with a pending notification");
    }
    debug_println!("fastpath: call with a pending notification ok");
    if !echo(64, 9) {
        fail("64 registers after the fallback");
    }
    Client { called: true }
}

protection_domain!(init);
