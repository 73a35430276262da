//! wait_notified driver (priority 100): starts the waiter (200), and once
//! the waiter's deferred "waiting" notification arrives (proof that the
//! wait's RECV carried it), notifies channel B twice, makes the waiter's
//! child fault, calls the waiter (expecting the busy reply), notifies B
//! again and then A, which ends the wait. A second call, served normally,
//! returns the waiter's verdict.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_set, protection_domain, Channel, Handler, MessageInfo, BUSY_LABEL,
};
use mantle_test_pds::finish;

const A: Channel = Channel::new(0);
const B: Channel = Channel::new(1);
const START: Channel = Channel::new(2);
const CALL: Channel = Channel::new(3);
const CHILD: Channel = Channel::new(4);

struct Driver;

impl Handler for Driver {
    fn notified(&mut self, ch: Channel) {
        if ch != START {
            debug_println!("wait_notified: FAIL: driver notified on {}", ch);
            finish("wait_notified", false);
        }
        debug_println!("wait_notified: driver sees the waiter waiting");
        // The waiter has the higher priority: each of these runs it (its
        // wait receives the event and waits again) before returning here.
        let _ = B.notify();
        let _ = B.notify();
        let _ = CHILD.notify();
        for i in 0..8 {
            mr_set(i, 0xdead_0000 + i as u64);
        }
        let busy = match CALL.ppcall(MessageInfo::new(7, 8)) {
            Ok(m) if m.label() == BUSY_LABEL && m.count() == 0 => {
                debug_println!("wait_notified: call during the wait got the busy reply");
                true
            }
            other => {
                debug_println!(
                    "wait_notified: FAIL: call during the wait returned {:?}",
                    other
                );
                false
            }
        };
        let _ = B.notify();
        let _ = A.notify();
        let verdict = match CALL.ppcall(MessageInfo::new(8, 0)) {
            Ok(m) if m.label() == 1 => true,
            other => {
                debug_println!("wait_notified: FAIL: the waiter reports {:?}", other);
                false
            }
        };
        finish("wait_notified", busy && verdict)
    }
}

fn init() -> Driver {
    let _ = START.notify();
    Driver
}

protection_domain!(init);
