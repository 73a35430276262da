//! Address-space layout: where the kernel, the boot description and each
//! PD's stack and IPC buffer live.
//!
//! A PD's virtual address space, from the top:
//!
//! ```text
//! USER_TOP            ┐
//!   IPC buffer        │ one page, read-write
//! IPC_BUFFER_VADDR    ┘
//!   guard page          unmapped
//! STACK_TOP           ┐
//!   stack             │ stack_size bytes, read-write, never executable
//! STACK_TOP-stack_size┘
//!   guard page          unmapped: a stack overflow faults here
//!   ... maps (must end at or below the lower guard page) ...
//! PD_LINK_ADDRESS       program image (conventionally; any ELF address works)
//! ```

/// Size of a small page.
pub const PAGE_SIZE: u64 = 0x1000;
/// Size of a large page.
pub const LARGE_PAGE_SIZE: u64 = 0x20_0000;
/// First address above user space (exclusive). Every user mapping ends at or
/// below it. This is also Microkit's x86 user limit.
pub const USER_TOP: u64 = 0x0000_7fff_ffff_f000;
/// The IPC buffer is the top user page.
pub const IPC_BUFFER_VADDR: u64 = USER_TOP - PAGE_SIZE;
/// The stack ends one guard page below the IPC buffer.
pub const STACK_TOP: u64 = IPC_BUFFER_VADDR - PAGE_SIZE;
/// Where PD programs are conventionally linked (as in Microkit).
pub const PD_LINK_ADDRESS: u64 = 0x20_0000;

/// Lowest address of a PD's stack of `stack_size` bytes.
pub const fn stack_bottom(stack_size: u64) -> u64 {
    STACK_TOP - stack_size
}

/// Maps must end at or below this address: one guard page below the stack.
pub const fn map_limit(stack_size: u64) -> u64 {
    stack_bottom(stack_size) - PAGE_SIZE
}

/// Physical address at which QEMU loads the kernel (PVH: `p_paddr`).
pub const KERNEL_PHYS_BASE: u64 = 0x10_0000;
/// Virtual address of the kernel image (top 2 GiB; code model "kernel").
pub const KERNEL_VIRT_BASE: u64 = 0xffff_ffff_8000_0000;
/// The kernel maps the first [`PHYSMAP_SIZE`] bytes of physical memory here.
pub const PHYSMAP_BASE: u64 = 0xffff_8000_0000_0000;
/// Size of the kernel's direct map of physical memory (4 GiB: RAM below the
/// PCI hole plus the LAPIC and IOAPIC windows).
pub const PHYSMAP_SIZE: u64 = 0x1_0000_0000;
/// Physical address of the boot description. `mantle build` places it here;
/// the kernel image must end below it.
pub const BOOTDESC_PHYS: u64 = 0x80_0000;
/// Largest boot description, in bytes.
pub const BOOTDESC_MAX_SIZE: u64 = 0x10_0000;
/// `mantle build` places PD memory (ELF segments, stacks, IPC buffers,
/// memory regions) from here upwards.
pub const PD_MEMORY_PHYS: u64 = BOOTDESC_PHYS + BOOTDESC_MAX_SIZE;

/// Interrupt vector of Microkit vector 0. SDF vectors `0..108` map to CPU
/// vectors `USER_VECTOR_BASE..USER_VECTOR_BASE + 108`.
pub const USER_VECTOR_BASE: u8 = 0x20;

/// Round `value` up to a multiple of `align` (a power of two), or `None` on
/// overflow.
pub const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The layout constants are ordered and aligned (checked at compile time).
    const _: () = {
        assert!(IPC_BUFFER_VADDR % PAGE_SIZE == 0);
        assert!(STACK_TOP + PAGE_SIZE == IPC_BUFFER_VADDR);
        assert!(map_limit(0x2000) < stack_bottom(0x2000));
        assert!(BOOTDESC_PHYS > KERNEL_PHYS_BASE);
        assert!(PD_MEMORY_PHYS == BOOTDESC_PHYS + BOOTDESC_MAX_SIZE);
    };

    #[test]
    fn align_up_rounds_and_detects_overflow() {
        assert_eq!(align_up(1, 0x1000), Some(0x1000));
        assert_eq!(align_up(u64::MAX, 0x1000), None);
    }
}
