//! fastpath helper (priority 100). Notified by the client (channel 2): it
//! notifies the client back at once, so the client has a notification
//! pending when it next calls. Notified by the server (channel 1, as the
//! long call starts): it calls the busy server, queues, and checks the
//! echo it finally gets.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_get, mr_set, protection_domain, Channel, Handler, MessageInfo,
};

struct Helper;

impl Handler for Helper {
    fn notified(&mut self, ch: Channel) {
        if ch == Channel::new(2) {
            let _ = ch.notify();
            return;
        }
        mr_set(0, 20);
        mr_set(1, 21);
        match Channel::new(0).ppcall(MessageInfo::new(1, 2)) {
            Ok(r) if r.label() == 1 && r.count() == 2 && mr_get(0) == 41 && mr_get(1) == 43 => {
                debug_println!("fastpath: queued call ok")
            }
            r => debug_println!("fastpath: FAIL: queued call returned {:?}", r),
        }
    }
}

fn init() -> Helper {
    Helper
}

protection_domain!(init);
