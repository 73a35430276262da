/*
 * passive_server: the client. It calls the passive server (microkit_ppcall
 * returns the reply's msginfo; the reply's registers are in the IPC
 * buffer), then notifies it with a deferred notify, which rides on the
 * client's next wait, and powers off when the server notifies back.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>
#include "protocol.h"

#define SERVER_CH 0
#define EXIT_IOPORT 0

static int failures;

static void expect(const char *what, seL4_Word label, seL4_Word got, seL4_Word want)
{
    microkit_dbg_puts("client: server says ");
    microkit_dbg_puts(what);
    microkit_dbg_put32((seL4_Uint32)got);
    if (label != OK || got != want) {
        microkit_dbg_puts(" FAIL: expected ");
        microkit_dbg_put32((seL4_Uint32)want);
        failures++;
    }
    microkit_dbg_puts("\n");
}

void init(void)
{
    microkit_dbg_puts("client: started\n");

    microkit_mr_set(0, 3);
    microkit_mr_set(1, 4);
    microkit_msginfo reply = microkit_ppcall(SERVER_CH, microkit_msginfo_new(ADD, 2));
    expect("3+4=", microkit_msginfo_get_label(reply), microkit_mr_get(0), 7);

    for (seL4_Uint8 i = 0; i < 10; i++) {
        microkit_mr_set(i, i + 1);
    }
    reply = microkit_ppcall(SERVER_CH, microkit_msginfo_new(ADD, 10));
    expect("1+2+...+10=", microkit_msginfo_get_label(reply), microkit_mr_get(0), 55);

    microkit_mr_set(0, 6);
    microkit_mr_set(1, 7);
    reply = microkit_ppcall(SERVER_CH, microkit_msginfo_new(MUL, 2));
    expect("6*7=", microkit_msginfo_get_label(reply), microkit_mr_get(0), 42);

    reply = microkit_ppcall(SERVER_CH, microkit_msginfo_new(99, 0));
    if (microkit_msginfo_get_label(reply) == BAD_REQUEST && microkit_msginfo_get_count(reply) == 0) {
        microkit_dbg_puts("client: unknown request refused\n");
    } else {
        microkit_dbg_puts("client: FAIL: unknown request not refused\n");
        failures++;
    }

    microkit_dbg_puts("client: notifying the server (deferred)\n");
    microkit_deferred_notify(SERVER_CH);
}

void notified(microkit_channel ch)
{
    if (ch != SERVER_CH) {
        return;
    }
    microkit_dbg_puts("client: server notified me back\n");
    if (failures == 0) {
        microkit_dbg_puts("passive_server: done\n");
    }
    microkit_x86_ioport_write_8(EXIT_IOPORT, 0xf4, failures == 0 ? 0 : 1);
}
