//! The PVH entry trampoline.
//!
//! QEMU enters `pvh_start32` in 32-bit protected mode with paging off and
//! `ebx` pointing at `hvm_start_info`. The trampoline zeroes the kernel's
//! `.bss`, builds boot page tables from 2 MiB pages, enters long mode and
//! calls [`crate::kmain`] on the kernel stack with the start-info address.
//!
//! Boot page tables (all in `.boot.bss`, eight pages):
//! - PML4[0]   → identity map of the first 1 GiB (only used until `kmain`);
//! - PML4[256] → direct map of the first 4 GiB at `layout::PHYSMAP_BASE`,
//!   the top 32 MiB below 4 GiB (LAPIC, IOAPIC, HPET) uncached;
//! - PML4[511] → PDPT[510] → the first 1 GiB at `layout::KERNEL_VIRT_BASE`.
//!
//! All of them writable and executable: `kmain` replaces them at once
//! (`paging::protect_kernel`: the kernel window W^X from 4 KiB pages, the
//! direct map no-execute, the identity map removed). The upper half of this
//! PML4 is later shared into every PD's PML4.

use core::arch::global_asm;

global_asm!(
    r#"
    .section .note.pvh, "a", @note
    .p2align 2
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .p2align 2
    .quad pvh_start32

    .section .boot.text, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, boot_info_paddr
    movl $boot_stack_top, %esp

    /* Zero the kernel's .bss: the loader need not. */
    movl $__bss_start_phys, %edi
    movl $__bss_end_phys, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    /* Zero the eight boot page-table pages. */
    movl $boot_tables, %edi
    movl $(8 * 1024), %ecx
    rep stosl

    /* Four page directories of 2 MiB pages covering 0..4 GiB. */
    movl $(boot_tables + 4 * 4096), %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax          /* present, writable, 2 MiB */
    cmpl $2032, %ecx         /* 0xFE000000 and up: devices */
    jb 2f
    orl $0x18, %eax          /* PWT | PCD */
2:  movl %eax, (%edi,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    /* PDPT (identity): 0..1 GiB. */
    movl $(boot_tables + 4 * 4096 + 3), boot_tables + 1 * 4096
    /* PDPT (direct map): 0..4 GiB. */
    movl $(boot_tables + 4 * 4096 + 3), boot_tables + 2 * 4096 + 0
    movl $(boot_tables + 5 * 4096 + 3), boot_tables + 2 * 4096 + 8
    movl $(boot_tables + 6 * 4096 + 3), boot_tables + 2 * 4096 + 16
    movl $(boot_tables + 7 * 4096 + 3), boot_tables + 2 * 4096 + 24
    /* PDPT (kernel): entry 510 → 0..1 GiB. */
    movl $(boot_tables + 4 * 4096 + 3), boot_tables + 3 * 4096 + 510 * 8
    /* PML4. */
    movl $(boot_tables + 1 * 4096 + 3), boot_tables + 0
    movl $(boot_tables + 2 * 4096 + 3), boot_tables + 256 * 8
    movl $(boot_tables + 3 * 4096 + 3), boot_tables + 511 * 8

    movl %cr4, %eax
    orl $(1 << 5), %eax      /* PAE */
    movl %eax, %cr4
    movl $boot_tables, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx   /* EFER */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax /* LME | NXE */
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax /* PG | WP | PE */
    movl %eax, %cr0
    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $kernel_stack_top, %rsp
    movl boot_info_paddr(%rip), %edi
    movabsq $kmain, %rax
    callq *%rax
3:  hlt
    jmp 3b

    .section .boot.data, "aw"
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF /* 64-bit code */
    .quad 0x00CF92000000FFFF /* data */
boot_gdt_ptr:
    .word 3 * 8 - 1
    .long boot_gdt
boot_info_paddr:
    .long 0

    .section .boot.bss, "aw", @nobits
    .p2align 12
boot_tables:
    .skip 8 * 4096
boot_stack:
    .skip 1024
boot_stack_top:

    .section .bss.kernel_stack, "aw", @nobits
    .p2align 12
    .globl kernel_stack_top
kernel_stack:
    .skip 64 * 1024
kernel_stack_top:
    .text
"#,
    options(att_syntax)
);
