/*
 * libmicrokit for Mantle: the event loop and the calls of microkit.h, on
 * Mantle's syscall ABI (abi/src/syscall.rs):
 *
 *   syscall: rax = number, rdi/rsi/rdx/r10 = arguments;
 *            rax = status (0 ok, -code an error) or RECV's event kind,
 *            rdi, rsi = results; rcx, r11 clobbered; the rest preserved.
 *
 * Message registers and debug strings travel in the IPC buffer; no
 * syscall takes a pointer.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>

/* Syscall numbers (mantle_abi::syscall). */
#define SYS_DEBUG_PUTS 1
#define SYS_NOTIFY 2
#define SYS_IRQ_ACK 3
#define SYS_PPCALL 4
#define SYS_RECV 5
#define SYS_PD_RESTART 6
#define SYS_PD_STOP 7
#define SYS_PD_RESUME 8
#define SYS_IOPORT_IN 9
#define SYS_IOPORT_OUT 10

/* RECV actions and events. */
#define ACTION_NONE 0
#define ACTION_REPLY 1
#define ACTION_NOTIFY 2
#define ACTION_IRQ_ACK 3
#define EVENT_NOTIFIED 1
#define EVENT_PROTECTED 2
#define EVENT_FAULT 3

/* Status codes, as returned (negated) in rax. */
#define ST_OK 0
#define ST_NO_SUCH_CHANNEL 2
#define ST_INVALID_ARGUMENT 3
#define ST_INVALID_CHILD 4
#define ST_INVALID_PORT 5
#define ST_CALLEE_FAILED 7
#define ST_INVALID_ADDRESS 8
#define ST_NOTIFY_NOT_PERMITTED 9
#define ST_PPCALL_NOT_PERMITTED 10
#define ST_NOT_A_CHANNEL 11
#define ST_NOT_AN_IRQ 12

#define IPC_BUFFER_BYTES (seL4_MsgMaxLength * 8)

struct sysret {
    seL4_Word rax, rdi, rsi;
};

static inline struct sysret mantle_syscall(seL4_Word n, seL4_Word a0, seL4_Word a1, seL4_Word a2, seL4_Word a3)
{
    register seL4_Word rax __asm__("rax") = n;
    register seL4_Word rdi __asm__("rdi") = a0;
    register seL4_Word rsi __asm__("rsi") = a1;
    register seL4_Word rdx __asm__("rdx") = a2;
    register seL4_Word r10 __asm__("r10") = a3;
    /* "memory": the kernel reads and writes the IPC buffer. */
    __asm__ volatile("syscall"
                     : "+r"(rax), "+r"(rdi), "+r"(rsi)
                     : "r"(rdx), "r"(r10)
                     : "rcx", "r11", "memory");
    struct sysret r = {rax, rdi, rsi};
    return r;
}

/* The status code of a syscall's rax (0 for success). */
static inline seL4_Word status_of(seL4_Word rax)
{
    return -rax;
}

/* ---- The PD's name, patched by the tool ---- */

/* In .data (file-backed), as the tool patches it by symbol. The tool looks
 * for Mantle's name symbol; it is the same 64 bytes. */
__attribute__((section(".data"))) char microkit_name[MICROKIT_PD_NAME_LENGTH] = {0};
extern char __mantle_pd_name[MICROKIT_PD_NAME_LENGTH] __attribute__((alias("microkit_name")));

/* ---- Debug output ---- */

#ifdef MICROKIT_CONFIG_debug
/* Print `len` bytes (at most IPC_BUFFER_BYTES) through DEBUG_PUTS, saving
 * and restoring the message registers the bytes pass through, so printing
 * between microkit_mr_set and microkit_ppcall is harmless. */
static void put_bytes(const char *s, seL4_Word len)
{
    volatile seL4_Word *ipc = (volatile seL4_Word *)MANTLE_IPC_BUFFER_VADDR;
    seL4_Word save[seL4_MsgMaxLength];
    seL4_Word words = (len + 7) / 8;
    for (seL4_Word i = 0; i < words; i++) {
        save[i] = ipc[i];
    }
    for (seL4_Word i = 0; i < words; i++) {
        seL4_Word w = 0;
        for (seL4_Word b = 0; b < 8 && i * 8 + b < len; b++) {
            w |= (seL4_Word)(unsigned char)s[i * 8 + b] << (8 * b);
        }
        ipc[i] = w;
    }
    mantle_syscall(SYS_DEBUG_PUTS, len, 0, 0, 0);
    for (seL4_Word i = 0; i < words; i++) {
        ipc[i] = save[i];
    }
}

void microkit_dbg_putc(int c)
{
    char ch = (char)c;
    put_bytes(&ch, 1);
}

void microkit_dbg_puts(const char *s)
{
    while (*s) {
        seL4_Word n = 0;
        while (s[n] && n < IPC_BUFFER_BYTES) {
            n++;
        }
        put_bytes(s, n);
        s += n;
    }
}
#else
void microkit_dbg_putc(int c)
{
    (void)c;
}

void microkit_dbg_puts(const char *s)
{
    (void)s;
}
#endif

void microkit_dbg_put32(seL4_Uint32 x)
{
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    microkit_dbg_puts(&buf[i]);
}

void microkit_dbg_put8(seL4_Uint8 x)
{
    microkit_dbg_put32(x);
}

static void put_name(void)
{
    if (microkit_name[0]) {
        /* The name may fill all 64 bytes without a NUL. */
        char n[MICROKIT_PD_NAME_LENGTH + 1];
        for (int i = 0; i < MICROKIT_PD_NAME_LENGTH; i++) {
            n[i] = microkit_name[i];
        }
        n[MICROKIT_PD_NAME_LENGTH] = 0;
        microkit_dbg_puts(n);
    } else {
        microkit_dbg_puts("?");
    }
}

static const char *status_text(seL4_Word code)
{
    switch (code) {
    case ST_NO_SUCH_CHANNEL:
        return "no such channel";
    case ST_INVALID_ARGUMENT:
        return "invalid argument";
    case ST_INVALID_CHILD:
        return "invalid child";
    case ST_INVALID_PORT:
        return "invalid I/O port";
    case ST_CALLEE_FAILED:
        return "callee failed";
    case ST_INVALID_ADDRESS:
        return "invalid address";
    case ST_NOTIFY_NOT_PERMITTED:
        return "notify not permitted";
    case ST_PPCALL_NOT_PERMITTED:
        return "ppcall not permitted";
    case ST_NOT_A_CHANNEL:
        return "not a channel";
    case ST_NOT_AN_IRQ:
        return "not an IRQ";
    default:
        return "error";
    }
}

/* libmicrokit's report of a refused id: "<name> <call>: invalid <what>
 * given '<id>'", then Mantle's reason in parentheses. */
static void report_invalid(const char *call, const char *what, seL4_Word id, seL4_Word code)
{
    put_name();
    microkit_dbg_puts(" ");
    microkit_dbg_puts(call);
    microkit_dbg_puts(": invalid ");
    microkit_dbg_puts(what);
    microkit_dbg_puts(" given '");
    microkit_dbg_put32((seL4_Uint32)id);
    microkit_dbg_puts("' (");
    microkit_dbg_puts(status_text(code));
    microkit_dbg_puts(")\n");
}

static void report_error(const char *call, seL4_Word id, seL4_Word code)
{
    put_name();
    microkit_dbg_puts(" ");
    microkit_dbg_puts(call);
    microkit_dbg_puts(" on '");
    microkit_dbg_put32((seL4_Uint32)id);
    microkit_dbg_puts("' failed: ");
    microkit_dbg_puts(status_text(code));
    microkit_dbg_puts("\n");
}

static int is_channel_error(seL4_Word code)
{
    return code == ST_NO_SUCH_CHANNEL || code == ST_NOTIFY_NOT_PERMITTED || code == ST_PPCALL_NOT_PERMITTED ||
           code == ST_NOT_A_CHANNEL || code == ST_NOT_AN_IRQ;
}

/* Report the outcome of a call on channel `ch`; 1 if it succeeded. */
static int channel_ok(const char *call, seL4_Word ch, seL4_Word rax)
{
    seL4_Word code = status_of(rax);
    if (code == ST_OK) {
        return 1;
    }
    if (is_channel_error(code)) {
        report_invalid(call, "channel", ch, code);
    } else {
        report_error(call, ch, code);
    }
    return 0;
}

static void crash(void) __attribute__((noreturn));
static void crash(void)
{
    for (;;) {
        __asm__ volatile("ud2");
    }
}

/* ---- Channels ---- */

void microkit_notify(microkit_channel ch)
{
    channel_ok("microkit_notify", ch, mantle_syscall(SYS_NOTIFY, ch, 0, 0, 0).rax);
}

void microkit_irq_ack(microkit_channel ch)
{
    channel_ok("microkit_irq_ack", ch, mantle_syscall(SYS_IRQ_ACK, ch, 0, 0, 0).rax);
}

microkit_msginfo microkit_ppcall(microkit_channel ch, microkit_msginfo msginfo)
{
    struct sysret r = mantle_syscall(SYS_PPCALL, ch, msginfo.words[0], 0, 0);
    if (!channel_ok("microkit_ppcall", ch, r.rax)) {
        return microkit_msginfo_new(0, 0);
    }
    microkit_msginfo reply = {{r.rsi}};
    return reply;
}

/* The deferred action, performed by the next wait (at most one pending,
 * as in libmicrokit). */
static seL4_Word deferred_action; /* ACTION_NONE, ACTION_NOTIFY, ACTION_IRQ_ACK */
static seL4_Word deferred_channel;
/* The same, as libmicrokit publishes it (see microkit.h). */
seL4_Bool microkit_have_signal;
seL4_CPtr microkit_signal_cap;

static void set_deferred(seL4_Word action, seL4_Word ch)
{
    deferred_action = action;
    deferred_channel = ch;
    microkit_have_signal = action != ACTION_NONE;
    microkit_signal_cap = action == ACTION_NOTIFY    ? BASE_OUTPUT_NOTIFICATION_CAP + ch
                          : action == ACTION_IRQ_ACK ? BASE_IRQ_CAP + ch
                                                     : 0;
}

static const char *action_call(seL4_Word action)
{
    return action == ACTION_NOTIFY ? "microkit_deferred_notify" : "microkit_deferred_irq_ack";
}

/* Perform the pending deferred action now, with its own syscall. */
static void flush_deferred(void)
{
    seL4_Word action = deferred_action;
    seL4_Word ch = deferred_channel;
    set_deferred(ACTION_NONE, 0);
    if (action != ACTION_NONE) {
        seL4_Word n = action == ACTION_NOTIFY ? SYS_NOTIFY : SYS_IRQ_ACK;
        channel_ok(action_call(action), ch, mantle_syscall(n, ch, 0, 0, 0).rax);
    }
}

static void defer(seL4_Word action, microkit_channel ch)
{
    if (ch > MICROKIT_MAX_CHANNEL_ID) {
        report_invalid(action_call(action), "channel", ch, ST_NO_SUCH_CHANNEL);
        return;
    }
    /* A second deferred action before a wait: perform the first now, so no
     * signal is lost. */
    flush_deferred();
    set_deferred(action, ch);
}

void microkit_deferred_notify(microkit_channel ch)
{
    defer(ACTION_NOTIFY, ch);
}

void microkit_deferred_irq_ack(microkit_channel ch)
{
    defer(ACTION_IRQ_ACK, ch);
}

/* ---- Children ---- */

void microkit_pd_restart(microkit_child pd, seL4_Word entry_point)
{
    seL4_Word code = status_of(mantle_syscall(SYS_PD_RESTART, pd, entry_point, 0, 0).rax);
    if (code == ST_INVALID_CHILD) {
        report_invalid("microkit_pd_restart", "child", pd, code);
    } else if (code != ST_OK) {
        report_error("microkit_pd_restart", pd, code);
    }
}

void microkit_pd_stop(microkit_child pd)
{
    seL4_Word code = status_of(mantle_syscall(SYS_PD_STOP, pd, 0, 0, 0).rax);
    if (code == ST_INVALID_CHILD) {
        report_invalid("microkit_pd_stop", "child", pd, code);
    } else if (code != ST_OK) {
        report_error("microkit_pd_stop", pd, code);
    }
}

/* ---- Port I/O ---- */

static seL4_Word port_in(const char *call, microkit_ioport id, seL4_Word port, seL4_Word width)
{
    struct sysret r = mantle_syscall(SYS_IOPORT_IN, id, port, width, 0);
    seL4_Word code = status_of(r.rax);
    if (code != ST_OK) {
        report_invalid(call, "I/O port", id, code);
        return 0;
    }
    return r.rdi;
}

static void port_out(const char *call, microkit_ioport id, seL4_Word port, seL4_Word width, seL4_Word data)
{
    seL4_Word code = status_of(mantle_syscall(SYS_IOPORT_OUT, id, port, width, data).rax);
    if (code != ST_OK) {
        report_invalid(call, "I/O port", id, code);
    }
}

seL4_Uint8 microkit_x86_ioport_read_8(microkit_ioport id, seL4_Word port)
{
    return (seL4_Uint8)port_in("microkit_x86_ioport_read_8", id, port, 1);
}

seL4_Uint16 microkit_x86_ioport_read_16(microkit_ioport id, seL4_Word port)
{
    return (seL4_Uint16)port_in("microkit_x86_ioport_read_16", id, port, 2);
}

seL4_Uint32 microkit_x86_ioport_read_32(microkit_ioport id, seL4_Word port)
{
    return (seL4_Uint32)port_in("microkit_x86_ioport_read_32", id, port, 4);
}

void microkit_x86_ioport_write_8(microkit_ioport id, seL4_Word port, seL4_Word data)
{
    port_out("microkit_x86_ioport_write_8", id, port, 1, data & 0xff);
}

void microkit_x86_ioport_write_16(microkit_ioport id, seL4_Word port, seL4_Word data)
{
    port_out("microkit_x86_ioport_write_16", id, port, 2, data & 0xffff);
}

void microkit_x86_ioport_write_32(microkit_ioport id, seL4_Word port, seL4_Word data)
{
    port_out("microkit_x86_ioport_write_32", id, port, 4, data & 0xffffffff);
}

void mantle_power_off(microkit_ioport ioport_id, seL4_Uint8 status)
{
    microkit_x86_ioport_write_8(ioport_id, 0xf4, status);
    put_name();
    microkit_dbg_puts(" mantle_power_off: still running after writing the exit port\n");
    crash();
}

/* ---- Default entry points ---- */

__attribute__((weak)) microkit_msginfo protected(microkit_channel ch, microkit_msginfo msginfo)
{
    (void)msginfo;
    put_name();
    microkit_dbg_puts(" is missing the 'protected' entry point (called on channel '");
    microkit_dbg_put32(ch);
    microkit_dbg_puts("')\n");
    crash();
}

__attribute__((weak)) seL4_Bool fault(microkit_child child, microkit_msginfo msginfo,
                                      microkit_msginfo *reply_msginfo)
{
    (void)msginfo;
    (void)reply_msginfo;
    put_name();
    microkit_dbg_puts(" is missing the 'fault' entry point (child '");
    microkit_dbg_put32(child);
    microkit_dbg_puts("' faulted; it stays stopped)\n");
    return seL4_False;
}

/* ---- The event loop, called by _start (crt0.S) ---- */

void __microkit_main(void) __attribute__((noreturn));
void __microkit_main(void)
{
    /* A restarted PD re-enters here with its data as it was: start clean. */
    set_deferred(ACTION_NONE, 0);
    init();
    int have_reply = 0;
    microkit_msginfo reply = {{0}};
    for (;;) {
        seL4_Word action = ACTION_NONE;
        seL4_Word arg = 0;
        if (have_reply) {
            /* The reply rides on the wait; a deferred action goes first. */
            flush_deferred();
            action = ACTION_REPLY;
            arg = reply.words[0];
        } else if (deferred_action != ACTION_NONE) {
            action = deferred_action;
            arg = deferred_channel;
            set_deferred(ACTION_NONE, 0);
        }
        have_reply = 0;
        struct sysret r = mantle_syscall(SYS_RECV, action, arg, 0, 0);
        if (r.rax == EVENT_NOTIFIED) {
            seL4_Word mask = r.rdi;
            while (mask) {
                unsigned ch = (unsigned)__builtin_ctzll(mask);
                mask &= mask - 1;
                notified(ch);
            }
        } else if (r.rax == EVENT_PROTECTED) {
            microkit_msginfo m = {{r.rsi}};
            reply = protected((microkit_channel)r.rdi, m);
            have_reply = 1;
        } else if (r.rax == EVENT_FAULT) {
            microkit_msginfo m = {{r.rsi}};
            microkit_msginfo unused = microkit_msginfo_new(0, 0);
            microkit_child child = (microkit_child)r.rdi;
            if (fault(child, m, &unused)) {
                seL4_Word code = status_of(mantle_syscall(SYS_PD_RESUME, child, 0, 0, 0).rax);
                if (code != ST_OK) {
                    report_error("resuming child", child, code);
                }
            }
        } else if (action == ACTION_NOTIFY || action == ACTION_IRQ_ACK) {
            /* The deferred action failed; the kernel did not wait. */
            channel_ok(action_call(action), arg, r.rax);
        } else if (action == ACTION_REPLY) {
            /* The caller went away (stopped or restarted) before the reply. */
            put_name();
            microkit_dbg_puts(" libmicrokit: reply failed: ");
            microkit_dbg_puts(status_text(status_of(r.rax)));
            microkit_dbg_puts("\n");
        } else {
            put_name();
            microkit_dbg_puts(" libmicrokit: waiting failed: ");
            microkit_dbg_puts(status_text(status_of(r.rax)));
            microkit_dbg_puts("\n");
            crash();
        }
    }
}
