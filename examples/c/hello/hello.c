/*
 * hello: Microkit's first example, for Mantle. It prints, says its name
 * (patched into microkit_name by the tool) and powers the machine off
 * through QEMU's isa-debug-exit port, which the SDF grants as I/O port 0.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>

#define EXIT_IOPORT 0 /* <ioport id="0" addr="0xf4" size="1" /> */
#define EXIT_PORT 0xf4

void init(void)
{
    microkit_dbg_puts("hello, world\n");
    microkit_dbg_puts("hello: my name is '");
    microkit_dbg_puts(microkit_name);
    microkit_dbg_puts("', 2^32-1 is ");
    microkit_dbg_put32(0xffffffffu);
    microkit_dbg_puts(" and 0xff is ");
    microkit_dbg_put8(0xff);
    microkit_dbg_puts("\n");
    microkit_dbg_puts("hello: done\n");
    microkit_x86_ioport_write_8(EXIT_IOPORT, EXIT_PORT, 0);
}

void notified(microkit_channel ch)
{
    (void)ch;
}
