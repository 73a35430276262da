//! Kernel entry and exit: interrupt/exception stubs, the SYSCALL entry, the
//! return to user mode and the idle loop.
//!
//! Every entry from user mode saves the PD's registers into its TCB's
//! [`UserRegs`]: for interrupts and exceptions the CPU pushes the hardware
//! frame at `TSS.rsp0` (the top of that frame) and the stub pushes the rest;
//! the SYSCALL stub does the same by hand from `CURRENT_FRAME_TOP`. The
//! stub then switches to the single kernel stack and calls Rust, which
//! returns the frame of the PD to run next (or null to idle).
//!
//! Entries from ring 0 (only possible in the idle loop, or on a kernel bug)
//! are handled on the kernel stack and return with `iretq`.
//!
//! RFLAGS hygiene: a PD controls its own RFLAGS, and DF or AC left set
//! would make the kernel's string copies run backwards (DF) or switch SMAP
//! off (AC). SYSCALL clears them through `IA32_FMASK`; every interrupt and
//! exception stub (the per-vector stubs, and the #DB and #DF entries)
//! loads RFLAGS = 2 (everything clear, IF off) before anything else.
//!
//! Device vectors: the kernel assigns IOAPIC and MSI interrupts the
//! vectors `USER_VECTOR_BASE` (0x20) and up, the timer 0xF0 and the
//! spurious vector 0xFF; anything else that arrives is a stray, counted and
//! acknowledged. A device (an MSI programmed by a driver PD) could still
//! raise a vector 16..32 that the CPU uses for exceptions; the kernel
//! cannot tell those apart in general and treats them as the exception.
//! For the four such vectors that carry an error code (17, 21, 29, 30) the
//! stub does detect a missing error code, so the frame stays aligned.

use core::arch::global_asm;
use core::sync::atomic::AtomicU64;

use mantle_abi::layout::USER_TOP;

/// `UserRegs::vector` of a frame saved by the SYSCALL entry.
pub const SYSCALL_MARK: u64 = 0x100;

/// A PD's saved user registers, in the order the entry stubs push them.
/// The last five words are the CPU's interrupt frame.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default, Debug)]
pub struct UserRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector of the entry ([`SYSCALL_MARK`] for a syscall).
    pub vector: u64,
    /// CPU error code (0 if none).
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

const _: () = assert!(core::mem::size_of::<UserRegs>() == 22 * 8);

impl UserRegs {
    /// Address just above the frame: what `TSS.rsp0` must hold while this
    /// PD runs.
    pub fn frame_top(&self) -> u64 {
        self as *const UserRegs as u64 + core::mem::size_of::<UserRegs>() as u64
    }
}

/// Set in `UserRegs::vector` when a device raised a vector that the CPU
/// uses for an exception with an error code (see `error_code_check`).
pub const STRAY_DEVICE_MARK: u64 = 0x200;

/// NMIs taken (counted by the NMI stub; they are otherwise ignored).
#[no_mangle]
pub static NMI_COUNT: AtomicU64 = AtomicU64::new(0);

/// Top of the current PD's register frame, read by the SYSCALL stub.
#[no_mangle]
#[link_section = ".data.hot"]
pub static CURRENT_FRAME_TOP: AtomicU64 = AtomicU64::new(0);
/// Scratch slot for the user stack pointer during SYSCALL entry.
#[no_mangle]
#[link_section = ".data.hot"]
static SYSCALL_USER_RSP: AtomicU64 = AtomicU64::new(0);

extern "C" {
    /// 256 interrupt stubs, 16 bytes apart.
    pub fn trap_stubs();
    /// NMI stub (IST).
    pub fn nmi_entry();
    /// Debug-exception stub (IST).
    pub fn debug_entry();
    /// Double-fault stub (IST).
    pub fn double_fault_entry();
    /// SYSCALL entry point (LSTAR).
    pub fn syscall_entry();
    /// Reset the kernel stack and run `regs` (or idle if null).
    pub fn resume_from_kernel(regs: *const UserRegs) -> !;
}

global_asm!(
    r#"
    .macro PUSH_GPRS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    .endm

    .macro POP_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    .endm

    .text
    .p2align 4
    .globl trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
1:
    /* Clear every RFLAGS bit a PD may have left set, first: DF (Rust's
       string copies must run forwards), AC (would switch SMAP off), TF
       and NT (already cleared by the interrupt gate). IF stays 0. */
    pushq $2
    popfq
    .if vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 || vec == 14
    pushq $vec
    jmp trap_common
    .elseif vec == 17 || vec == 21 || vec == 29 || vec == 30
    pushq $vec
    jmp error_code_check
    .else
    pushq $0
    pushq $vec
    jmp trap_common
    .endif
    /* Pad to 16 bytes; an error if the stub is longer. */
    .org 1b + 16, 0xcc
    .set vec, vec + 1
    .endr

    /* NMI (IST): count it and return. The kernel runs with interrupts
       off but NMIs can arrive anywhere, so this touches nothing but one
       counter (and RFLAGS, which iretq restores). */
    .globl nmi_entry
nmi_entry:
    lock incq NMI_COUNT(%rip)
    iretq

    /* Vectors 17, 21, 29 and 30 carry a CPU error code, but a device (an
       MSI a driver programmed) can also raise them, without one. Tell the
       two apart by the word where CS would be with an error code: with
       none it is RFLAGS, which can never equal a code selector (RFLAGS bit
       1 is always set and bit 5 always clear). Without an error code,
       insert one and mark the vector as a stray device interrupt. Vectors
       below 16 cannot be raised by devices (the LAPIC refuses them). */
error_code_check:
    cmpq ${kernel_cs}, 24(%rsp)
    je trap_common
    cmpq ${user_cs}, 24(%rsp)
    je trap_common
    pushq (%rsp)
    movq $0, 8(%rsp)
    orq ${stray_mark}, (%rsp)
    jmp trap_common

    .section .text.hot, "ax"
trap_common:
    testb $3, 24(%rsp)
    jz kernel_trap
    PUSH_GPRS
    leaq kernel_stack_top(%rip), %rsp
    callq handle_user_trap
    jmp resume

    .p2align 4
    .globl syscall_entry
syscall_entry:
    movq %rsp, SYSCALL_USER_RSP(%rip)
    movq CURRENT_FRAME_TOP(%rip), %rsp
    pushq ${user_ds}
    pushq SYSCALL_USER_RSP(%rip)
    pushq %r11
    pushq ${user_cs}
    pushq %rcx
    pushq $0
    pushq ${syscall_mark}
    PUSH_GPRS
    leaq kernel_stack_top(%rip), %rsp
    callq handle_syscall

resume:
    testq %rax, %rax
    jz idle
    movq %rax, %rsp
    cmpq ${syscall_mark}, 120(%rsp)
    jne 1f
    movabsq ${user_top}, %rcx
    cmpq %rcx, 136(%rsp)
    jae 1f
    POP_GPRS
    movq 16(%rsp), %rcx
    movq 32(%rsp), %r11
    movq 40(%rsp), %rsp
    sysretq
1:  POP_GPRS
    addq $16, %rsp
    iretq

    .globl resume_from_kernel
resume_from_kernel:
    leaq kernel_stack_top(%rip), %rsp
    movq %rdi, %rax
    jmp resume

idle:
    leaq kernel_stack_top(%rip), %rsp
2:  sti
    hlt
    cli
    callq idle_pick
    testq %rax, %rax
    jz 2b
    jmp resume

kernel_trap:
    PUSH_GPRS
    movq %rsp, %rdi
    callq handle_kernel_trap
    POP_GPRS
    addq $16, %rsp
    iretq

    /* #DB arrives on its own IST stack. From ring 0 it can only be a
       single-step trap left over from user mode at the SYSCALL entry:
       ignore it. From user mode, move the frame into the TCB and handle it
       like any other trap. */
    .globl debug_entry
debug_entry:
    testb $3, 8(%rsp)
    jnz 4f
    iretq
4:  pushq $2
    popfq
    pushq $0
    pushq $1
    PUSH_GPRS
    movq %rsp, %rdi
    leaq kernel_stack_top(%rip), %rsp
    callq handle_user_debug
    jmp resume

    .globl double_fault_entry
double_fault_entry:
    cld
    movq %rsp, %rdi
    callq handle_double_fault
    ud2
"#,
    user_ds = const super::gdt::USER_DS,
    kernel_cs = const super::gdt::KERNEL_CS,
    stray_mark = const STRAY_DEVICE_MARK,
    user_cs = const super::gdt::USER_CS,
    syscall_mark = const SYSCALL_MARK,
    user_top = const USER_TOP,
    options(att_syntax)
);
