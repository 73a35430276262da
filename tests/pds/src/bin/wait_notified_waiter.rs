//! wait_notified waiter (priority 200): waits for channel A inside
//! `notified` while the driver notifies channel B three times, makes its
//! child fault and calls it. Checks that the wait returns only for A, that
//! the message registers survive it, that the stashed fault and then B are
//! delivered after the handler returns (B exactly once), and that waiting
//! inside `protected` is refused. Reports to the driver's second call.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_get, mr_set, protection_domain, Channel, Child, Error, FaultInfo, FaultKind,
    Handler, MessageInfo,
};

const A: Channel = Channel::new(0);
const B: Channel = Channel::new(1);
/// The driver says "start" on it; the waiter answers "waiting" (deferred).
const START: Channel = Channel::new(2);
/// Where the child's fault reads.
const UNMAPPED: u64 = 0x3000_0000;
/// Written to message register 5 before the wait, checked after it.
const MAGIC: u64 = 0x5a5a_1234_8765_a5a5;

struct Waiter {
    woke: bool,
    b_seen: u32,
    faults_seen: u32,
    fault_ok: bool,
    /// B was delivered after the fault.
    order_ok: bool,
    ok: bool,
}

impl Waiter {
    fn fail(&mut self, what: &str) {
        debug_println!("wait_notified: FAIL: {}", what);
        self.ok = false;
    }
}

impl Handler for Waiter {
    fn notified(&mut self, ch: Channel) {
        match ch {
            START => {
                debug_println!("wait_notified: waiter waiting on channel 0");
                mr_set(5, MAGIC);
                // Rides on the wait's first RECV: the driver sees it only
                // if the wait carries the deferred action.
                if START.deferred_notify().is_err() {
                    self.fail("deferred_notify refused");
                }
                let r = A.wait();
                if r != Ok(()) {
                    self.fail("wait returned an error");
                }
                if self.b_seen != 0 || self.faults_seen != 0 {
                    self.fail("events delivered during the wait");
                }
                if mr_get(5) != MAGIC {
                    self.fail("message registers not restored after the wait");
                } else {
                    debug_println!(
                        "wait_notified: waiter woke on channel 0; message registers intact"
                    );
                }
                self.woke = true;
            }
            B => {
                self.b_seen += 1;
                self.order_ok = self.woke && self.faults_seen == 1;
                debug_println!(
                    "wait_notified: stashed notification on channel 1 delivered ({})",
                    self.b_seen
                );
            }
            _ => self.fail("unexpected notification (channel 0's must be consumed by the wait)"),
        }
    }

    fn protected(&mut self, _ch: Channel, _msg: MessageInfo) -> MessageInfo {
        match A.wait() {
            Err(Error::ServingCall) => {
                debug_println!("wait_notified: wait inside protected refused")
            }
            _ => self.fail("wait inside protected was not refused"),
        }
        if self.b_seen != 1 {
            debug_println!(
                "wait_notified: FAIL: channel 1 delivered {} times",
                self.b_seen
            );
            self.ok = false;
        } else if !self.order_ok {
            self.fail("channel 1 delivered before the wait ended or before the fault");
        } else {
            debug_println!("wait_notified: channel 1 delivered exactly once, after the fault");
        }
        if self.faults_seen != 1 || !self.fault_ok {
            self.fail("the child's fault was not delivered once, intact");
        }
        MessageInfo::new(self.ok as u64, 0)
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
        let f = FaultInfo::read(msg);
        self.faults_seen += 1;
        self.fault_ok = self.woke
            && child == Child::new(0)
            && f.kind == Ok(FaultKind::PageFault)
            && f.addr == UNMAPPED
            && !f.is_write();
        debug_println!(
            "wait_notified: stashed fault of child {} delivered after the wait: {}",
            child,
            f
        );
        false
    }
}

fn init() -> Waiter {
    Waiter {
        woke: false,
        b_seen: 0,
        faults_seen: 0,
        fault_ok: false,
        order_ok: false,
        ok: true,
    }
}

protection_domain!(init);
