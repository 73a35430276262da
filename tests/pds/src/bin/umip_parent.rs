//! cpu_protection: the parent. Asks CPUID whether the CPU has UMIP (leaf 7,
//! ECX bit 2; the kernel turns it on where it exists), then expects its
//! child's user-mode `sgdt` to fault with #GP if so, and to succeed (a
//! documented limitation) if not.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, protection_domain, Channel, Child, FaultInfo, FaultKind, Handler, MessageInfo,
};
use mantle_test_pds::finish;

const FROM_CHILD: Channel = Channel::new(0);

struct Parent {
    umip: bool,
}

fn cpu_has_umip() -> bool {
    // SAFETY: CPUID is available on every x86_64 CPU and has no side
    // effects; leaf 7 is read only if leaf 0 reports it.
    unsafe {
        use core::arch::x86_64::__cpuid_count;
        __cpuid_count(0, 0).eax >= 7 && __cpuid_count(7, 0).ecx & (1 << 2) != 0
    }
}

impl Handler for Parent {
    fn notified(&mut self, ch: Channel) {
        if ch != FROM_CHILD {
            return;
        }
        if self.umip {
            debug_println!("cpu_protection: FAIL: sgdt worked in user mode with UMIP on");
            finish("cpu_protection", false);
        }
        debug_println!(
            "cpu_protection: no UMIP on this CPU: sgdt works in user mode (documented limitation)"
        );
        finish("cpu_protection", true)
    }

    fn fault(&mut self, _child: Child, msg: MessageInfo) -> bool {
        let f = FaultInfo::read(msg);
        let ok = self.umip && f.kind == Ok(FaultKind::GeneralProtection);
        if ok {
            debug_println!("cpu_protection: sgdt in user mode raised #GP (UMIP on)");
        } else {
            debug_println!("cpu_protection: FAIL: unexpected child fault: {}", f);
        }
        finish("cpu_protection", ok)
    }
}

fn init() -> Parent {
    let umip = cpu_has_umip();
    debug_println!(
        "cpu_protection: CPU {} UMIP",
        if umip { "has" } else { "lacks" }
    );
    Parent { umip }
}

protection_domain!(init);
