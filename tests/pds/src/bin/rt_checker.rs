//! runtime: checks runtime features end to end: the patched PD name and
//! `setvar` symbols, message registers surviving long debug output, deferred
//! notifications, and the panic handler (its child panics; the fault must be
//! an invalid opcode).
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, pd_name, protection_domain, setvar, Channel, Child,
    FaultInfo, FaultKind, Handler, MessageInfo,
};
use mantle_test_pds::{echo_transform, finish};

const ECHO_PP: Channel = Channel::new(0);
const ECHO: Channel = Channel::new(1);
const PANICKER: Child = Child::new(0);
const SCRATCH_VADDR: u64 = 0x2000_0000;

setvar!(scratch_vaddr);
setvar!(echo_channel_id, 99);

/// Formats " 00 01 ... 99 | 00 ... 99 |" (about 610 bytes).
struct Numbers;

impl core::fmt::Display for Numbers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for round in 0..2 {
            for i in 0..100 {
                write!(f, " {:02}", i)?;
            }
            write!(f, " | {}", round)?;
        }
        Ok(())
    }
}

struct Checker {
    failures: u32,
    fault_seen: bool,
    deferred_seen: u32,
}

impl Checker {
    fn check(&mut self, what: &str, ok: bool) {
        if ok {
            debug_println!("runtime: {} ok", what);
        } else {
            self.failures += 1;
            debug_println!("runtime: FAIL: {}", what);
        }
    }

    fn maybe_finish(&self) {
        if self.fault_seen && self.deferred_seen == 2 {
            finish("runtime", self.failures == 0);
        }
    }
}

impl Handler for Checker {
    fn notified(&mut self, ch: Channel) {
        if ch != ECHO {
            self.check("notification only on channel 1", false);
            return;
        }
        self.deferred_seen += 1;
        debug_println!(
            "runtime: echo answered deferred notify {}",
            self.deferred_seen
        );
        if self.deferred_seen == 1 {
            // Two deferred notifies: the second performs the first at once.
            let a = ECHO.deferred_notify();
            let b = ECHO.deferred_notify();
            self.check("two deferred notifies accepted", a.is_ok() && b.is_ok());
        }
        self.maybe_finish();
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
        let f = FaultInfo::read(msg);
        self.check(
            "panicking child stopped with invalid opcode (ud2)",
            child == PANICKER && f.kind == Ok(FaultKind::InvalidOpcode),
        );
        let _ = child.stop();
        self.fault_seen = true;
        self.maybe_finish();
        false
    }
}

fn init() -> Checker {
    let mut c = Checker {
        failures: 0,
        fault_seen: false,
        deferred_seen: 0,
    };
    debug_println!("runtime: checker started");
    let name = pd_name();
    c.check("pd_name() is \"checker\"", name.as_str() == "checker");
    if name.as_str() != "checker" {
        debug_println!("runtime: pd_name() = {:?}", name.as_str());
    }

    c.check(
        "setvar_vaddr patched to 0x20000000",
        scratch_vaddr.get() == SCRATCH_VADDR,
    );
    c.check("setvar_id patched to 1", echo_channel_id.get() == 1);
    if scratch_vaddr.get() == SCRATCH_VADDR {
        let p = SCRATCH_VADDR as *mut u64;
        // SAFETY: the SDF maps the 4 KiB `scratch` region read-write here
        // (just checked through the patched setvar).
        let back = unsafe {
            p.write_volatile(0x1234_5678);
            p.read_volatile()
        };
        c.check("scratch region is writable", back == 0x1234_5678);
    }

    // Message registers survive debug output longer than the IPC buffer.
    for i in 0..16 {
        mr_set(i, 0xabc0 + i as u64);
    }
    // One formatted line of about 620 bytes: more than the 512-byte IPC
    // buffer, so the runtime must split it into two DEBUG_PUTS calls.
    debug_println!("runtime: long line:{} (end)", Numbers);
    let regs_kept = (0..16).all(|i| mr_get(i) == 0xabc0 + i as u64);
    c.check("message registers kept across printing", regs_kept);
    match ECHO_PP.ppcall(msginfo_new(5, 16)) {
        Ok(r) => c.check(
            "PPC after printing",
            r.label() == 5
                && r.count() == 16
                && (0..16).all(|i| mr_get(i) == echo_transform(0xabc0 + i as u64)),
        ),
        Err(e) => {
            debug_println!("runtime: ppcall: {}", e);
            c.check("PPC after printing", false);
        }
    }

    c.check("deferred notify accepted", ECHO.deferred_notify().is_ok());
    c
}

protection_domain!(init);
