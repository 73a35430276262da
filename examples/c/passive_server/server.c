/*
 * passive_server: the server. It is passive (no budget of its own): it
 * runs only on its client's protected procedure calls, on the client's
 * time, and on notifications.
 *
 *   label ADD: reply with the sum of the call's message registers
 *   label MUL: reply with the product of MR 0 and MR 1
 *   other labels: reply with label BAD_REQUEST and no registers
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>
#include "protocol.h"

#define CLIENT_CH 0

void init(void)
{
    microkit_dbg_puts("server: ready (passive)\n");
}

microkit_msginfo protected(microkit_channel ch, microkit_msginfo msginfo)
{
    if (ch != CLIENT_CH) {
        return microkit_msginfo_new(BAD_REQUEST, 0);
    }
    switch (microkit_msginfo_get_label(msginfo)) {
    case ADD: {
        seL4_Word sum = 0;
        for (seL4_Word i = 0; i < microkit_msginfo_get_count(msginfo); i++) {
            sum += microkit_mr_get(i);
        }
        microkit_mr_set(0, sum);
        return microkit_msginfo_new(OK, 1);
    }
    case MUL:
        microkit_mr_set(0, microkit_mr_get(0) * microkit_mr_get(1));
        return microkit_msginfo_new(OK, 1);
    default:
        return microkit_msginfo_new(BAD_REQUEST, 0);
    }
}

void notified(microkit_channel ch)
{
    microkit_dbg_puts("server: notified on channel ");
    microkit_dbg_put32(ch);
    microkit_dbg_puts("; notifying the client back\n");
    microkit_notify(CLIENT_CH);
}
