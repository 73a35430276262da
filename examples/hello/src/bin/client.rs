//! hello's client: calls the server, checks its answers, then talks to the
//! parent by notification in both directions.
#![no_std]
#![no_main]

use hello::*;
use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, protection_domain, Channel, Error, Handler,
};

const SERVER: Channel = Channel::new(CLIENT_SERVER);
const PARENT: Channel = Channel::new(CLIENT_PARENT);
const PARENT_FAIL: Channel = Channel::new(CLIENT_PARENT_FAIL);

/// Ask the server for the sum of `values`.
fn sum(values: &[u64]) -> Result<(u64, u64), Error> {
    for (i, v) in values.iter().enumerate() {
        mr_set(i, *v);
    }
    let reply = SERVER.ppcall(msginfo_new(OP_SUM, values.len()))?;
    Ok((reply.label(), mr_get(0)))
}

/// Ask the server for `n!`.
fn factorial_of(n: u64) -> Result<(u64, u64), Error> {
    mr_set(0, n);
    let reply = SERVER.ppcall(msginfo_new(OP_FACTORIAL, 1))?;
    Ok((reply.label(), mr_get(0)))
}

fn checks() -> bool {
    let mut ok = true;
    match sum(&[3, 4]) {
        Ok((REPLY_OK, 7)) => debug_println!("client: server says 3+4=7"),
        other => {
            debug_println!("client: FAIL: sum 3+4 gave {:?}", other);
            ok = false;
        }
    }
    let ten: [u64; 10] = core::array::from_fn(|i| i as u64 + 1);
    match sum(&ten) {
        Ok((REPLY_OK, 55)) => debug_println!("client: server says 1+2+...+10=55"),
        other => {
            debug_println!("client: FAIL: sum 1..=10 gave {:?}", other);
            ok = false;
        }
    }
    match factorial_of(10) {
        Ok((REPLY_OK, 3_628_800)) => debug_println!("client: server says 10!=3628800"),
        other => {
            debug_println!("client: FAIL: 10! gave {:?}", other);
            ok = false;
        }
    }
    match factorial_of(21) {
        Ok((REPLY_ERROR, _)) => debug_println!("client: server says 21! does not fit in 64 bits"),
        other => {
            debug_println!("client: FAIL: 21! gave {:?}", other);
            ok = false;
        }
    }
    ok
}

struct Client {
    ok: bool,
}

impl Handler for Client {
    fn notified(&mut self, ch: Channel) {
        if ch == PARENT {
            debug_println!("client: parent notified me back");
            if self.ok {
                debug_println!("client: all checks passed; telling parent");
                PARENT.notify().expect("notify parent");
            } else {
                PARENT_FAIL.notify().expect("notify parent (failure)");
            }
        }
    }
}

fn init() -> Client {
    debug_println!("client: started");
    let ok = checks();
    debug_println!("client: notifying parent");
    if let Err(e) = PARENT.notify() {
        debug_println!("client: FAIL: notify parent: {}", e);
    }
    Client { ok }
}

protection_domain!(init);
