/*
 * hierarchy: the restarter, parent of the crasher (child id 0). Its fault
 * entry point sees each of the child's faults: a breakpoint is resumed
 * (fault returns seL4_True); a page fault restarts the child at its entry
 * point, three times, after which the child is stopped for good.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>

#define CRASHER 0
#define EXIT_IOPORT 0
#define MAX_RESTARTS 3

static int restarts;
static int resumed;

static void put_hex(seL4_Word x)
{
    char buf[19];
    int i = 18;
    buf[i] = 0;
    do {
        buf[--i] = "0123456789abcdef"[x & 0xf];
        x >>= 4;
    } while (x);
    buf[--i] = 'x';
    buf[--i] = '0';
    microkit_dbg_puts(&buf[i]);
}

void init(void)
{
    microkit_dbg_puts("restarter: supervising child ");
    microkit_dbg_put32(CRASHER);
    microkit_dbg_puts("\n");
}

void notified(microkit_channel ch)
{
    (void)ch;
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo)
{
    (void)reply_msginfo;
    seL4_Word kind = microkit_msginfo_get_label(msginfo);
    microkit_dbg_puts("restarter: child ");
    microkit_dbg_put32(child);
    if (kind == MANTLE_FAULT_BREAKPOINT) {
        microkit_dbg_puts(" hit a breakpoint at ip=");
        put_hex(microkit_mr_get(MANTLE_FAULT_MR_IP));
        microkit_dbg_puts("; resuming it\n");
        resumed++;
        return seL4_True;
    }
    if (kind != MANTLE_FAULT_PAGE_FAULT) {
        microkit_dbg_puts(" faulted unexpectedly (kind ");
        microkit_dbg_put32((seL4_Uint32)kind);
        microkit_dbg_puts(") FAIL\n");
        microkit_x86_ioport_write_8(EXIT_IOPORT, 0xf4, 1);
        return seL4_False;
    }
    microkit_dbg_puts(" page fault at address ");
    put_hex(microkit_mr_get(MANTLE_FAULT_MR_ADDR));
    microkit_dbg_puts("\n");
    if (restarts < MAX_RESTARTS) {
        restarts++;
        microkit_dbg_puts("restarter: restarting child (restart ");
        microkit_dbg_put32(restarts);
        microkit_dbg_puts(" of 3)\n");
        microkit_pd_restart(child, MANTLE_ENTRY_POINT);
        return seL4_False;
    }
    microkit_dbg_puts("restarter: child crashed 4 times; stopping it\n");
    microkit_pd_stop(child);
    if (resumed == 1) {
        microkit_dbg_puts("hierarchy: done\n");
    }
    microkit_x86_ioport_write_8(EXIT_IOPORT, 0xf4, resumed == 1 ? 0 : 1);
    return seL4_False;
}
