/*
 * _start: the entry of every PD linked with microkit.ld. The kernel enters
 * here with rsp at the top of the PD's stack (Mantle's layout: the stack
 * ends one guard page below the IPC buffer). Align the stack for the SysV
 * ABI, end frame-pointer chains, clear the direction flag, and run
 * libmicrokit's event loop, which never returns.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
    .section .text._start, "ax", @progbits
    .global _start
    .type _start, @function
_start:
    xor %ebp, %ebp
    and $-16, %rsp
    cld
    call __microkit_main
    ud2
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
