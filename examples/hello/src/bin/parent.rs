//! hello's parent: supervises the faulting child (restarts it
//! `MAX_RESTARTS` times, then stops it), answers the client's notification,
//! and ends the system.
#![no_std]
#![no_main]

use hello::*;
use mantle_runtime::{
    debug_println, power_off, protection_domain, Channel, Child, FaultInfo, FaultKind, Handler,
    MessageInfo, ENTRY_POINT,
};

const CLIENT: Channel = Channel::new(CLIENT_PARENT);
const CLIENT_FAIL: Channel = Channel::new(CLIENT_PARENT_FAIL);
const CHILD: Child = Child::new(PARENT_CHILD);

struct Parent {
    faults: u32,
    child_done: bool,
    client_done: bool,
    failed: bool,
    greeted: bool,
}

impl Parent {
    fn maybe_finish(&self) {
        if self.failed {
            debug_println!("hello: FAILED");
            power_off(PARENT_EXIT_IOPORT, 1);
        }
        if self.child_done && self.client_done {
            debug_println!("hello: done");
            power_off(PARENT_EXIT_IOPORT, 0);
        }
    }
}

impl Handler for Parent {
    fn notified(&mut self, ch: Channel) {
        if ch == CLIENT && !self.greeted {
            self.greeted = true;
            debug_println!("parent: notified by client; notifying client back");
            if let Err(e) = CLIENT.notify() {
                debug_println!("parent: FAIL: notify client: {}", e);
                self.failed = true;
            }
        } else if ch == CLIENT {
            debug_println!("parent: client reports success");
            self.client_done = true;
        } else if ch == CLIENT_FAIL {
            debug_println!("parent: client reports a failed check");
            self.failed = true;
        }
        self.maybe_finish();
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
        let info = FaultInfo::read(msg);
        self.faults += 1;
        let expected = child == CHILD
            && info.kind == Ok(FaultKind::PageFault)
            && info.addr == CHILD_BAD_ADDRESS
            && info.is_write();
        if expected {
            debug_println!(
                "parent: child {} faulted: page fault writing {:#x}",
                child,
                info.addr
            );
        } else {
            debug_println!(
                "parent: FAIL: unexpected fault of child {}: {}",
                child,
                info
            );
            self.failed = true;
        }
        if self.faults <= MAX_RESTARTS && !self.failed {
            debug_println!(
                "parent: restarting child (restart {} of {})",
                self.faults,
                MAX_RESTARTS
            );
            if let Err(e) = child.restart(ENTRY_POINT) {
                debug_println!("parent: FAIL: restart: {}", e);
                self.failed = true;
            }
        } else {
            debug_println!("parent: child faulted {} times; stopping it", self.faults);
            if let Err(e) = child.stop() {
                debug_println!("parent: FAIL: stop: {}", e);
                self.failed = true;
            }
            self.child_done = true;
        }
        self.maybe_finish();
        false
    }
}

fn init() -> Parent {
    debug_println!("parent: started; supervising child {}", CHILD);
    Parent {
        faults: 0,
        child_done: false,
        client_done: false,
        failed: false,
        greeted: false,
    }
}

protection_domain!(init);
