/*
 * bad_channel: a PD that uses ids the SDF did not grant it. Each call gets
 * libmicrokit's behaviour: a line "<name> <call>: invalid channel given
 * '<id>'" (with Mantle's reason) and the call returns; the PD and the
 * kernel go on.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>

#define PEER_CH 0 /* granted: notify only (no pp) */
#define EXIT_IOPORT 0

void init(void)
{
    microkit_dbg_puts("bad: notify on channel 5, which was not granted\n");
    microkit_notify(5);
    microkit_dbg_puts("bad: ppcall on channel 0, which lacks pp=\"true\"\n");
    microkit_msginfo r = microkit_ppcall(PEER_CH, microkit_msginfo_new(1, 0));
    if (microkit_msginfo_get_label(r) == 0 && microkit_msginfo_get_count(r) == 0) {
        microkit_dbg_puts("bad: the refused ppcall returned an empty msginfo\n");
    }
    microkit_dbg_puts("bad: irq_ack on channel 0, which is not an IRQ\n");
    microkit_irq_ack(0);
    microkit_dbg_puts("bad: ppcall on channel 61, which was not granted\n");
    microkit_ppcall(61, microkit_msginfo_new(1, 0));
    microkit_dbg_puts("bad: deferred notify on channel 70, out of range\n");
    microkit_deferred_notify(70);
    microkit_dbg_puts("bad: port read through I/O port id 3, which was not granted\n");
    if (microkit_x86_ioport_read_8(3, 0x60) == 0) {
        microkit_dbg_puts("bad: the refused read returned 0\n");
    }
    microkit_dbg_puts("bad: port write outside the grant of I/O port id 0\n");
    microkit_x86_ioport_write_8(EXIT_IOPORT, 0x80, 1);
    microkit_dbg_puts("bad: still running; notifying the peer\n");
    microkit_notify(PEER_CH);
    microkit_dbg_puts("bad: deferred notify on channel 7, which was not granted\n");
    microkit_deferred_notify(7);
}

void notified(microkit_channel ch)
{
    microkit_dbg_puts("bad: notified on channel ");
    microkit_dbg_put32(ch);
    microkit_dbg_puts("; the kernel is still up\n");
    microkit_dbg_puts("bad_channel: done\n");
    microkit_x86_ioport_write_8(EXIT_IOPORT, 0xf4, 0);
}
