//! stop_queued child (priority 80): when the server starts the long call
//! it tells the parent and calls the busy server, so it queues. The parent
//! stops it while it is queued; when resumed, its call must have failed.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Error, Handler, MessageInfo};
use mantle_test_pds::finish;

struct Child;

impl Handler for Child {
    fn notified(&mut self, _ch: Channel) {
        // The parent (priority 10) runs only once this PD is queued.
        let _ = Channel::new(2).notify();
        debug_println!("stop_queued: child queues on the busy server");
        let ok = match Channel::new(0).ppcall(MessageInfo::new(0, 0)) {
            Err(Error::CalleeFailed) => {
                debug_println!("stop_queued: child's call failed (stopped while queued)");
                true
            }
            Ok(m) => {
                debug_println!("stop_queued: FAIL: child's call was served ({})", m.label());
                false
            }
            Err(e) => {
                debug_println!("stop_queued: FAIL: child's call: {}", e);
                false
            }
        };
        finish("stop_queued", ok)
    }
}

fn init() -> Child {
    Child
}

protection_domain!(init);
