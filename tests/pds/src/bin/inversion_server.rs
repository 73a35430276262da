//! inversion server (passive, priority 200): every call does
//! [`INVERSION_WORK`] ticks of work (TSC time while it runs). A TSC step
//! larger than [`INVERSION_GAP`] during the work means the server was not
//! running: its caller's budget ran out mid-call. It counts such calls in
//! shared word [`INVERSION_STALLS`].
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, rdtsc, Channel, Handler, MessageInfo};
use mantle_test_pds::{shared_read, shared_write, INVERSION_GAP, INVERSION_STALLS, INVERSION_WORK};

struct Server;

impl Handler for Server {
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        let mut done = 0;
        let mut stalled = false;
        let mut last = rdtsc();
        while done < INVERSION_WORK {
            let now = rdtsc();
            let step = now - last;
            last = now;
            if step > INVERSION_GAP {
                stalled = true;
            } else {
                done += step;
            }
        }
        if stalled {
            shared_write(INVERSION_STALLS, shared_read(INVERSION_STALLS) + 1);
        }
        msg
    }
}

fn init() -> Server {
    Server
}

protection_domain!(init);
