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

/// CPUID leaf `leaf`, sub-leaf 0: (eax, ecx).
fn cpuid(leaf: u32) -> (u32, u32) {
    let (eax, ecx): (u32, u32);
    // SAFETY: CPUID has no side effects and runs in user mode; rbx, which
    // LLVM reserves, is saved and restored around it.
    unsafe {
        core::arch::asm!(
            "mov {tmp:r}, rbx",
            "cpuid",
            "mov rbx, {tmp:r}",
            tmp = out(reg) _,
            inout("eax") leaf => eax,
            inout("ecx") 0u32 => ecx,
            out("edx") _,
            options(nostack, preserves_flags)
        )
    };
    (eax, ecx)
}

fn cpu_has_umip() -> bool {
    cpuid(0).0 >= 7 && cpuid(7).1 & (1 << 2) != 0
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
