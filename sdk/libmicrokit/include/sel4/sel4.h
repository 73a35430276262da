/*
 * sel4/sel4.h: the part of seL4's user API that libmicrokit programs (and
 * sDDF's microkit layer, include/microkit/os/sddf.h) include beside
 * microkit.h. Mantle has no seL4 system calls: what is here is either a
 * type or an alias of a libmicrokit call. Everything else of seL4's API is
 * absent, and a use of it does not compile.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MANTLE_SEL4_SEL4_H
#define MANTLE_SEL4_SEL4_H

#include <microkit.h>

/* seL4's debug console call: the kernel console, as microkit_dbg_putc
 * (which prints nothing in the release configuration). */
static inline void seL4_DebugPutChar(char c)
{
    microkit_dbg_putc(c);
}

#endif /* MANTLE_SEL4_SEL4_H */
