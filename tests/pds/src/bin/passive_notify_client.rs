//! passive_notify client (priority 100): notifies the passive server,
//! waits for its notification back, then checks with a protected call
//! that the server saw exactly one notification.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler, MessageInfo};
use mantle_test_pds::finish;

struct Client;

impl Handler for Client {
    fn notified(&mut self, _ch: Channel) {
        debug_println!("passive_notify: client notified back");
        let ok = match Channel::new(1).ppcall(MessageInfo::new(0, 0)) {
            Ok(m) if m.label() == 1 => true,
            Ok(m) => {
                debug_println!(
                    "passive_notify: FAIL: server saw {} notifications",
                    m.label()
                );
                false
            }
            Err(_) => {
                debug_println!("passive_notify: FAIL: protected call failed");
                false
            }
        };
        finish("passive_notify", ok)
    }
}

fn init() -> Client {
    let _ = Channel::new(0).notify();
    Client
}

protection_domain!(init);
