//! The interrupt descriptor table.

use core::arch::asm;

use super::entry::{debug_entry, double_fault_entry, nmi_entry, trap_stubs};
use super::gdt::{DescriptorPointer, IST_DEBUG, IST_DOUBLE_FAULT, IST_NMI, KERNEL_CS};
use crate::global::Global;

/// Interrupt gate, present, DPL 0.
const GATE_KERNEL: u8 = 0x8e;
/// Interrupt gate, present, DPL 3: reachable with `int3` from user mode.
const GATE_USER: u8 = 0xee;
const BREAKPOINT: usize = 3;

static IDT: Global<[[u64; 2]; 256]> = Global::new([[0; 2]; 256]);

fn gate(handler: u64, ist: u8, attr: u8) -> [u64; 2] {
    let low = (handler & 0xffff)
        | (KERNEL_CS as u64) << 16
        | (ist as u64) << 32
        | (attr as u64) << 40
        | ((handler >> 16) & 0xffff) << 48;
    [low, handler >> 32]
}

/// Fill and load the IDT. Every vector gets a stub; a user `int N` of any
/// vector but 3 raises #GP (gate DPL 0), which the kernel reports as a fault.
pub fn init() {
    let base = trap_stubs as *const () as u64;
    // SAFETY: boot runs once on one CPU; the IDT is not yet in use.
    unsafe {
        let idt = &mut *IDT.as_ptr();
        for (vector, entry) in idt.iter_mut().enumerate() {
            let attr = if vector == BREAKPOINT {
                GATE_USER
            } else {
                GATE_KERNEL
            };
            *entry = gate(base + 16 * vector as u64, 0, attr);
        }
        idt[1] = gate(debug_entry as *const () as u64, IST_DEBUG, GATE_KERNEL);
        idt[2] = gate(nmi_entry as *const () as u64, IST_NMI, GATE_KERNEL);
        idt[8] = gate(
            double_fault_entry as *const () as u64,
            IST_DOUBLE_FAULT,
            GATE_KERNEL,
        );
        let ptr = DescriptorPointer {
            limit: (core::mem::size_of::<[[u64; 2]; 256]>() - 1) as u16,
            base: idt.as_ptr() as u64,
        };
        asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags));
    }
}
