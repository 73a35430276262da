//! restart: the parent. Checks the kind and address of each of the child's
//! faults, restarts it (resumes it after the breakpoint), then checks the
//! child-control errors and ends the system.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, protection_domain, Channel, Child, Error, FaultInfo, FaultKind, Handler,
    MessageInfo, ENTRY_POINT,
};
use mantle_test_pds::finish;

const CHILD: Child = Child::new(0);
const FROM_CHILD: Channel = Channel::new(0);
const LAST_ATTEMPT: u32 = 8;

struct Parent {
    /// The child's current attempt (1-based), as it counts them.
    attempt: u32,
    faults: u32,
    failures: u32,
    /// Whether the breakpoint was reported as such and resumed.
    resumed: bool,
}

impl Parent {
    fn check(&mut self, what: &str, ok: bool, info: &FaultInfo) {
        if ok {
            debug_println!("restart: fault {} ok: {}", self.faults, what);
        } else {
            self.failures += 1;
            debug_println!(
                "restart: FAIL: fault {}: expected {}, got {}",
                self.faults,
                what,
                info
            );
        }
    }
}

impl Handler for Parent {
    fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
        let f = FaultInfo::read(msg);
        self.faults += 1;
        if child != CHILD {
            self.failures += 1;
            debug_println!("restart: FAIL: fault from unknown child {}", child);
            return false;
        }
        let user_ip = f.ip >= ENTRY_POINT && f.ip < 0x40_0000;
        let mut resume = false;
        match self.attempt {
            1 => self.check(
                "page fault writing 0x10000000",
                f.kind == Ok(FaultKind::PageFault)
                    && f.addr == 0x1000_0000
                    && f.is_write()
                    && user_ip,
                &f,
            ),
            2 => self.check(
                "page fault reading kernel address 0xffff800000000000",
                f.kind == Ok(FaultKind::PageFault)
                    && f.addr == 0xffff_8000_0000_0000
                    && !f.is_write()
                    && user_ip,
                &f,
            ),
            3 => self.check(
                "general protection fault (non-canonical address)",
                f.kind == Ok(FaultKind::GeneralProtection) && user_ip,
                &f,
            ),
            4 => self.check(
                "invalid opcode (ud2)",
                f.kind == Ok(FaultKind::InvalidOpcode) && user_ip,
                &f,
            ),
            5 if f.kind == Ok(FaultKind::Breakpoint) => {
                self.check("breakpoint (int3); resuming", user_ip, &f);
                self.resumed = true;
                resume = true;
            }
            // After the resumed breakpoint: `hlt`. If the kernel reports
            // `int3` itself as a protection fault or an invalid interrupt,
            // this arm sees that instead (and no resume happens).
            5 => self.check(
                "general protection fault (hlt) or int3 refused",
                matches!(
                    f.kind,
                    Ok(FaultKind::GeneralProtection | FaultKind::InvalidInterrupt)
                ) && user_ip,
                &f,
            ),
            6 => self.check(
                "general protection fault (in al, 0x80)",
                f.kind == Ok(FaultKind::GeneralProtection) && user_ip,
                &f,
            ),
            7 => self.check(
                "page fault fetching from the stack",
                f.kind == Ok(FaultKind::PageFault) && f.is_fetch() && f.addr == f.ip,
                &f,
            ),
            8 => self.check(
                "divide error",
                f.kind == Ok(FaultKind::DivideError) && user_ip,
                &f,
            ),
            _ => self.check("no fault", false, &f),
        }
        if resume {
            return true;
        }
        if self.attempt > LAST_ATTEMPT || self.failures > 0 {
            let _ = child.stop();
            finish("restart", false);
        }
        self.attempt += 1;
        if let Err(e) = child.restart(ENTRY_POINT) {
            debug_println!("restart: FAIL: restart: {}", e);
            finish("restart", false);
        }
        false
    }

    fn notified(&mut self, ch: Channel) {
        if ch != FROM_CHILD {
            return;
        }
        debug_println!("restart: child finished after {} faults", self.faults);
        let mut ok = self.failures == 0 && self.faults == LAST_ATTEMPT + self.resumed as u32;
        let checks: [(&str, Result<(), Error>, Error); 4] = [
            (
                "restart(kernel address)",
                CHILD.restart(0xffff_8000_0000_0000),
                Error::InvalidAddress,
            ),
            (
                "restart(non-canonical)",
                CHILD.restart(0x0000_8000_0000_0000),
                Error::InvalidAddress,
            ),
            ("stop(child 1)", Child::new(1).stop(), Error::InvalidChild),
            (
                "resume(child 64)",
                Child::new(64).resume(),
                Error::InvalidChild,
            ),
        ];
        for (what, got, want) in checks {
            if got != Err(want) {
                debug_println!("restart: FAIL: {}: got {:?}, want {:?}", what, got, want);
                ok = false;
            }
        }
        if let Err(e) = CHILD.stop() {
            debug_println!("restart: FAIL: stop(child 0): {}", e);
            ok = false;
        }
        finish("restart", ok);
    }
}

fn init() -> Parent {
    debug_println!("restart: parent started");
    Parent {
        attempt: 1,
        faults: 0,
        failures: 0,
        resumed: false,
    }
}

protection_domain!(init);
