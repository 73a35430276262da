/*
 * microkit.h: libmicrokit's C API for protection domains on Mantle (x86_64).
 *
 * Written for Mantle's syscall ABI (mantle-abi: abi/src/syscall.rs) from
 * Microkit's documented API. A PD written for libmicrokit includes this
 * header, defines init() and notified() (and protected() and fault() if it
 * needs them) and links with -lmicrokit -Tmicrokit.ld.
 *
 * What Mantle has not (virtual CPUs, ARM SMC calls, passing capabilities)
 * is declared so that a use is a compile-time error naming the reason.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MANTLE_MICROKIT_H
#define MANTLE_MICROKIT_H

#ifndef __x86_64__
#error "this libmicrokit is for Mantle on x86_64 (board x86_64_generic)"
#endif

/* The kernel configuration (CONFIG_ARCH_X86_64, CONFIG_DEBUG_BUILD, ...), as
 * seL4's headers provide it to libmicrokit programs. The SDK writes it for
 * each board configuration. */
#if defined(__has_include)
#if __has_include(<kernel/gen_config.h>)
#include <kernel/gen_config.h>
#endif
#endif

/* A PD has no thread pointer (fs base 0), so the stack protector's canary
 * (%fs:0x28) would fault. Debian's gcc enables it by default: switch it off
 * for the rest of this translation unit (better: -fno-stack-protector). */
#if defined(__SSP__) || defined(__SSP_STRONG__) || defined(__SSP_ALL__)
#if defined(__clang__)
#error "compile Mantle PDs with -fno-stack-protector: a PD has no thread pointer for the canary"
#else
#pragma GCC optimize("no-stack-protector")
#endif
#endif

/* ---- seL4 scalar types, as libmicrokit code uses them ---- */

typedef unsigned char seL4_Uint8;
typedef unsigned short seL4_Uint16;
typedef unsigned int seL4_Uint32;
typedef unsigned long long seL4_Uint64;
typedef signed char seL4_Int8;
typedef signed short seL4_Int16;
typedef signed int seL4_Int32;
typedef signed long long seL4_Int64;
typedef unsigned long seL4_Word;
typedef seL4_Word seL4_CPtr;
typedef seL4_Word seL4_Time;
typedef seL4_Int8 seL4_Bool;

#define seL4_True ((seL4_Bool)1)
#define seL4_False ((seL4_Bool)0)
#define seL4_WordBits 64
#define seL4_PageBits 12
#define seL4_MsgMaxLength 64 /* Mantle: 64 message registers (seL4: 120) */

/* The message info word. Mantle packs it as seL4 does: bits 0..6 the
 * length, bits 12..63 the label; seL4's capability fields (bits 7..11) are
 * always 0, since Mantle passes no capabilities. */
typedef struct seL4_MessageInfo {
    seL4_Uint64 words[1];
} seL4_MessageInfo_t;

/* A use of a Mantle-absent feature is a compile-time error. */
#if defined(__has_attribute)
#if __has_attribute(unavailable)
#define MANTLE_ABSENT(msg) __attribute__((unavailable(msg)))
#endif
#endif
#ifndef MANTLE_ABSENT
#define MANTLE_ABSENT(msg) __attribute__((error(msg)))
#endif

static inline seL4_MessageInfo_t seL4_MessageInfo_new(seL4_Uint64 label, seL4_Uint64 capsUnwrapped,
                                                      seL4_Uint64 extraCaps, seL4_Uint64 length)
{
    seL4_MessageInfo_t m;
    (void)capsUnwrapped; /* Mantle passes no capabilities: always 0 */
    (void)extraCaps;
    if (length > seL4_MsgMaxLength) {
        length = seL4_MsgMaxLength;
    }
    m.words[0] = ((label & 0xfffffffffffffull) << 12) | (length & 0x7f);
    return m;
}

static inline seL4_Uint64 seL4_MessageInfo_get_label(seL4_MessageInfo_t m)
{
    return m.words[0] >> 12;
}

static inline seL4_Uint64 seL4_MessageInfo_get_length(seL4_MessageInfo_t m)
{
    return m.words[0] & 0x7f;
}

static inline seL4_Uint64 seL4_MessageInfo_get_extraCaps(seL4_MessageInfo_t m)
{
    (void)m;
    return 0;
}

static inline seL4_Uint64 seL4_MessageInfo_get_capsUnwrapped(seL4_MessageInfo_t m)
{
    (void)m;
    return 0;
}

/* ---- Microkit's types and limits ---- */

typedef unsigned int microkit_channel;
typedef unsigned int microkit_child;
typedef unsigned int microkit_ioport;
typedef seL4_MessageInfo_t microkit_msginfo;

#define MICROKIT_MAX_CHANNELS 62
#define MICROKIT_MAX_CHANNEL_ID (MICROKIT_MAX_CHANNELS - 1)
#define MICROKIT_MAX_CHILDREN 64
#define MICROKIT_MAX_IOPORT_ID 63
#define MICROKIT_MAX_PDS 63
#define MICROKIT_PD_NAME_LENGTH 64

/* Where the kernel maps this PD's IPC buffer (mantle_abi::layout). */
#define MANTLE_IPC_BUFFER_VADDR 0x7fffffffe000ul
/* The entry point of every PD linked with microkit.ld (pass it to
 * microkit_pd_restart to start a child afresh). */
#define MANTLE_ENTRY_POINT 0x200000ul

/* The PD's name as written in the SDF, NUL-padded; patched by the tool. */
extern char microkit_name[MICROKIT_PD_NAME_LENGTH];

/* ---- Entry points the PD defines ---- */

void init(void);
void notified(microkit_channel ch);
/* Optional: a PD without it that receives a call reports it and faults. */
microkit_msginfo protected(microkit_channel ch, microkit_msginfo msginfo);
/* Optional (parents): return seL4_True to resume the child. Mantle resumes
 * at the faulting instruction; *reply_msginfo is not used. */
seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply_msginfo);

/* ---- Channels and IRQs ---- */

void microkit_notify(microkit_channel ch);
void microkit_irq_ack(microkit_channel ch);
microkit_msginfo microkit_ppcall(microkit_channel ch, microkit_msginfo msginfo);
void microkit_deferred_notify(microkit_channel ch);
void microkit_deferred_irq_ack(microkit_channel ch);

/* The pending deferred action, as libmicrokit exposes it (sDDF reads these
 * to find which channel a deferred notify is for): microkit_have_signal is
 * true while one is pending, and microkit_signal_cap is
 * BASE_OUTPUT_NOTIFICATION_CAP + channel for microkit_deferred_notify, or
 * BASE_IRQ_CAP + channel for microkit_deferred_irq_ack. Mantle has no
 * capabilities: these numbers only encode the action and the channel.
 * Read them; do not write them. */
#define BASE_OUTPUT_NOTIFICATION_CAP 10
#define BASE_IRQ_CAP 138
extern seL4_Bool microkit_have_signal;
extern seL4_CPtr microkit_signal_cap;

/* ---- Children ---- */

void microkit_pd_restart(microkit_child pd, seL4_Word entry_point);
void microkit_pd_stop(microkit_child pd);

/* ---- Messages ---- */

static inline microkit_msginfo microkit_msginfo_new(seL4_Word label, seL4_Uint16 count)
{
    return seL4_MessageInfo_new(label, 0, 0, count);
}

static inline seL4_Word microkit_msginfo_get_label(microkit_msginfo msginfo)
{
    return seL4_MessageInfo_get_label(msginfo);
}

static inline seL4_Word microkit_msginfo_get_count(microkit_msginfo msginfo)
{
    return seL4_MessageInfo_get_length(msginfo);
}

/* Message registers are the first 64 words of the IPC buffer. An index
 * beyond them is ignored (set) or reads as 0 (get). */
static inline void microkit_mr_set(seL4_Uint8 mr, seL4_Word value)
{
    if (mr < seL4_MsgMaxLength) {
        ((volatile seL4_Word *)MANTLE_IPC_BUFFER_VADDR)[mr] = value;
    }
}

static inline seL4_Word microkit_mr_get(seL4_Uint8 mr)
{
    if (mr < seL4_MsgMaxLength) {
        return ((volatile seL4_Word *)MANTLE_IPC_BUFFER_VADDR)[mr];
    }
    return 0;
}

static inline void seL4_SetMR(int i, seL4_Word mr)
{
    if (i >= 0) {
        microkit_mr_set((seL4_Uint8)i, mr);
    }
}

static inline seL4_Word seL4_GetMR(int i)
{
    return i >= 0 ? microkit_mr_get((seL4_Uint8)i) : 0;
}

/* ---- x86 port I/O, by the <ioport id=..> of the SDF; port is absolute ---- */

seL4_Uint8 microkit_x86_ioport_read_8(microkit_ioport ioport_id, seL4_Word port);
seL4_Uint16 microkit_x86_ioport_read_16(microkit_ioport ioport_id, seL4_Word port);
seL4_Uint32 microkit_x86_ioport_read_32(microkit_ioport ioport_id, seL4_Word port);
void microkit_x86_ioport_write_8(microkit_ioport ioport_id, seL4_Word port, seL4_Word data);
void microkit_x86_ioport_write_16(microkit_ioport ioport_id, seL4_Word port, seL4_Word data);
void microkit_x86_ioport_write_32(microkit_ioport ioport_id, seL4_Word port, seL4_Word data);

/* ---- Debug output (the debug config prints; release prints nothing, as
 * with Microkit's release kernel) ---- */

void microkit_dbg_putc(int c);
void microkit_dbg_puts(const char *s);
void microkit_dbg_put8(seL4_Uint8 x);
void microkit_dbg_put32(seL4_Uint32 x);

/* ---- Mantle extensions ---- */

/* A fault message (fault()'s msginfo): the label is the x86 exception
 * vector (mantle_abi::fault::FaultKind), not an seL4 fault type, and the
 * message registers are these. */
#define MANTLE_FAULT_DIVIDE_ERROR 0
#define MANTLE_FAULT_DEBUG 1
#define MANTLE_FAULT_BREAKPOINT 3
#define MANTLE_FAULT_INVALID_OPCODE 6
#define MANTLE_FAULT_GENERAL_PROTECTION 13
#define MANTLE_FAULT_PAGE_FAULT 14
#define MANTLE_FAULT_INVALID_INTERRUPT 255
#define MANTLE_FAULT_MR_IP 0
#define MANTLE_FAULT_MR_ADDR 1 /* page faults; 0 otherwise */
#define MANTLE_FAULT_MR_ERROR_CODE 2
#define MANTLE_FAULT_MR_SP 3

/* Power the machine off with `status` through QEMU's isa-debug-exit port
 * 0xf4, which the SDF must grant as <ioport id=ioport_id addr="0xf4"
 * size="1" />. Does not return. */
void mantle_power_off(microkit_ioport ioport_id, seL4_Uint8 status) __attribute__((noreturn));

/* ---- Absent on Mantle: using one is a compile-time error ---- */

#define MANTLE_NO_VCPU "Mantle has no virtual CPUs (no <virtual_machine>): this Microkit call is not available"
#define MANTLE_NO_SMC "Mantle runs on x86_64 only: ARM SMC calls are not available"
#define MANTLE_NO_CAPS "Mantle passes no capabilities between PDs: this seL4 call is not available"

void microkit_vcpu_restart(microkit_child vcpu, seL4_Word entry_point) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_stop(microkit_child vcpu) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_arm_inject_irq(microkit_child vcpu, seL4_Uint16 irq, seL4_Uint8 priority,
                                  seL4_Uint8 group, seL4_Uint8 index) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_arm_ack_vppi(microkit_child vcpu, seL4_Word irq) MANTLE_ABSENT(MANTLE_NO_VCPU);
seL4_Word microkit_vcpu_arm_read_reg(microkit_child vcpu, seL4_Word reg) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_arm_write_reg(microkit_child vcpu, seL4_Word reg, seL4_Word value)
    MANTLE_ABSENT(MANTLE_NO_VCPU);
seL4_Word microkit_vcpu_x86_read_vmcs(microkit_child vcpu, seL4_Word field) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_x86_write_vmcs(microkit_child vcpu, seL4_Word field, seL4_Word value)
    MANTLE_ABSENT(MANTLE_NO_VCPU);
seL4_Word microkit_vcpu_x86_read_msr(microkit_child vcpu, seL4_Word field) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_x86_write_msr(microkit_child vcpu, seL4_Word field, seL4_Word value)
    MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_x86_enable_ioports(microkit_child vcpu, microkit_ioport ioport_id, seL4_Word port_addr,
                                      seL4_Word port_size) MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_vcpu_x86_disable_ioports(microkit_child vcpu, seL4_Word port_addr, seL4_Word port_size)
    MANTLE_ABSENT(MANTLE_NO_VCPU);
void microkit_arm_smc_call(void *args, void *response) MANTLE_ABSENT(MANTLE_NO_SMC);
void seL4_SetCap(int i, seL4_CPtr cptr) MANTLE_ABSENT(MANTLE_NO_CAPS);
seL4_CPtr seL4_GetCap(int i) MANTLE_ABSENT(MANTLE_NO_CAPS);
void seL4_SetCapReceivePath(seL4_CPtr root, seL4_CPtr index, seL4_Word depth) MANTLE_ABSENT(MANTLE_NO_CAPS);

#endif /* MANTLE_MICROKIT_H */
