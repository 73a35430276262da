/*
 * hierarchy: the crasher, child 0 of the restarter. Its data survives a
 * restart (as on Microkit), so it counts its attempts. The first time it
 * also hits a breakpoint, which its parent resumes; every time it then
 * writes to an unmapped address.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>

static seL4_Word attempts;

void init(void)
{
    attempts++;
    microkit_dbg_puts("crasher: attempt ");
    microkit_dbg_put32((seL4_Uint32)attempts);
    microkit_dbg_puts("\n");
    if (attempts == 1) {
        __asm__ volatile("int3");
        microkit_dbg_puts("crasher: resumed after the breakpoint\n");
    }
    microkit_dbg_puts("crasher: writing to unmapped address 0x10000000\n");
    *(volatile seL4_Word *)0x10000000 = attempts;
}

void notified(microkit_channel ch)
{
    (void)ch;
}
