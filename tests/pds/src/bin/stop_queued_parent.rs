//! stop_queued parent (priority 10): stops its child while the child is
//! queued on the busy server; once the long call is done, checks the
//! server served only that call (the stopped child left the queue), then
//! resumes the child.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Child, Handler, MessageInfo};

const CHILD: Child = Child::new(0);

struct Parent;

impl Handler for Parent {
    fn notified(&mut self, ch: Channel) {
        match ch.index() {
            1 => {
                if let Err(e) = CHILD.stop() {
                    debug_println!("stop_queued: FAIL: stop: {}", e);
                }
                debug_println!("stop_queued: parent stopped the queued child");
            }
            _ => {
                match Channel::new(0).ppcall(MessageInfo::new(2, 0)) {
                    Ok(m) if m.label() == 1 => {
                        debug_println!("stop_queued: server served only the long call")
                    }
                    Ok(m) => debug_println!(
                        "stop_queued: FAIL: server served {} calls (expected 1)",
                        m.label()
                    ),
                    Err(e) => debug_println!("stop_queued: FAIL: query: {}", e),
                }
                if let Err(e) = CHILD.resume() {
                    debug_println!("stop_queued: FAIL: resume: {}", e);
                }
            }
        }
    }
}

fn init() -> Parent {
    Parent
}

protection_domain!(init);
