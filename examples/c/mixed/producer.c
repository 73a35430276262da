/*
 * mixed: the C producer. It puts the words 1, 2, ..., TOTAL in the word
 * queue it shares with the Rust consumer, in batches, using the queue's
 * layout (sddf::word) and the "signal only when asked" protocol. When the
 * consumer has drained a batch it notifies back; after the last one the
 * producer calls the consumer for its totals, checks them and powers off.
 *
 * The queue region: a header {u32 tail, u32 head, u32 consumer_signalled}
 * at offset 0 (free-running counters; consumer_signalled == 0 means "the
 * consumer asks to be notified"), then u64 slots from offset 64; the
 * capacity is the largest power of two of slots that fits.
 *
 * Copyright the Mantle authors. SPDX-License-Identifier: BSD-2-Clause
 */
#include <microkit.h>

#define CONSUMER_CH 0
#define EXIT_IOPORT 0
#define QUEUE_SIZE 0x1000
#define SLOTS_OFFSET 64
#define CAPACITY 256 /* (0x1000 - 64) / 8 = 504 slots fit: 256 */
#define TOTAL 1000
#define BATCH 100
#define TOTALS 1 /* the call label; the reply is (count, sum) */

/* Patched by the tool: <map ... setvar_vaddr="queue_vaddr" />. */
seL4_Word queue_vaddr;

struct word_header {
    seL4_Uint32 tail;
    seL4_Uint32 head;
    seL4_Uint32 consumer_signalled;
};

static seL4_Uint32 tail;
static seL4_Word sent;

static struct word_header *header(void)
{
    return (struct word_header *)queue_vaddr;
}

static seL4_Uint64 *slots(void)
{
    return (seL4_Uint64 *)(queue_vaddr + SLOTS_OFFSET);
}

/* Put one word in; 0 if the queue is full. */
static int enqueue(seL4_Uint64 w)
{
    seL4_Uint32 head = __atomic_load_n(&header()->head, __ATOMIC_ACQUIRE);
    if ((seL4_Uint32)(tail - head) >= CAPACITY) {
        return 0;
    }
    __atomic_store_n(&slots()[tail % CAPACITY], w, __ATOMIC_RELAXED);
    tail++;
    __atomic_store_n(&header()->tail, tail, __ATOMIC_RELEASE);
    return 1;
}

/* After a batch: notify the consumer if it asked. */
static void signal_consumer(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&header()->consumer_signalled, __ATOMIC_RELAXED) == 0) {
        __atomic_store_n(&header()->consumer_signalled, 1, __ATOMIC_RELAXED);
        microkit_notify(CONSUMER_CH);
    }
}

static void send_batch(void)
{
    seL4_Word n = 0;
    while (n < BATCH && sent < TOTAL && enqueue(sent + 1)) {
        sent++;
        n++;
    }
    signal_consumer();
}

void init(void)
{
    tail = __atomic_load_n(&header()->tail, __ATOMIC_RELAXED);
    microkit_dbg_puts("producer (C): sending 1..1000 in batches of 100\n");
    send_batch();
}

void notified(microkit_channel ch)
{
    if (ch != CONSUMER_CH) {
        return;
    }
    if (sent < TOTAL) {
        send_batch();
        return;
    }
    microkit_msginfo reply = microkit_ppcall(CONSUMER_CH, microkit_msginfo_new(TOTALS, 0));
    seL4_Word count = microkit_mr_get(0);
    seL4_Word sum = microkit_mr_get(1);
    int ok = microkit_msginfo_get_label(reply) == 0 && microkit_msginfo_get_count(reply) == 2 &&
             count == TOTAL && sum == (seL4_Word)TOTAL * (TOTAL + 1) / 2;
    microkit_dbg_puts("producer (C): the consumer got ");
    microkit_dbg_put32((seL4_Uint32)count);
    microkit_dbg_puts(" words, sum ");
    microkit_dbg_put32((seL4_Uint32)sum);
    microkit_dbg_puts(ok ? " (as sent)\n" : " FAIL: expected 1000 words, sum 500500\n");
    if (ok) {
        microkit_dbg_puts("mixed: done\n");
    }
    microkit_x86_ioport_write_8(EXIT_IOPORT, 0xf4, ok ? 0 : 1);
}
