//! The Rust consumer of `examples/c/mixed`: takes the words the C producer
//! (`producer.c`, built with the Microkit SDK) puts in the shared word
//! queue, checks they come in order, tells the producer when it has
//! drained the queue, and answers the producer's protected call for the
//! totals.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_set, msginfo_new, protection_domain, setvar, Channel, Handler, MessageInfo,
};
use sddf::word::{self, WordConsumer};

setvar!(queue_vaddr);

/// The queue region's size (`<memory_region name="queue" size=..>`).
const QUEUE_SIZE: usize = 0x1000;
/// The producer: notifies "words queued", is notified "queue drained",
/// calls for the totals.
const PRODUCER: Channel = Channel::new(0);
/// The label of the producer's call for the totals; the reply is
/// `(count, sum)`.
const TOTALS: u64 = 1;

struct Consumer {
    queue: WordConsumer<'static>,
    count: u64,
    sum: u64,
    out_of_order: u64,
}

impl Handler for Consumer {
    fn notified(&mut self, ch: Channel) {
        if ch != PRODUCER {
            return;
        }
        loop {
            while let Ok(w) = self.queue.dequeue() {
                // The producer sends 1, 2, 3, ...
                if w != self.count + 1 {
                    self.out_of_order += 1;
                }
                self.count += 1;
                self.sum += w;
            }
            if !self.queue.rearm() {
                break;
            }
        }
        if let Err(e) = PRODUCER.notify() {
            debug_println!("consumer: cannot notify the producer: {e}");
        }
    }

    fn protected(&mut self, ch: Channel, msg: MessageInfo) -> MessageInfo {
        if ch != PRODUCER || msg.label() != TOTALS {
            return msginfo_new(u64::MAX >> 12, 0);
        }
        debug_println!(
            "consumer (Rust): {} words, sum {}, {} out of order",
            self.count,
            self.sum,
            self.out_of_order
        );
        mr_set(0, self.count);
        mr_set(1, self.sum);
        msginfo_new(0, 2)
    }
}

fn init() -> Consumer {
    // SAFETY: the SDF maps the QUEUE_SIZE-byte queue region read-write at
    // `queue_vaddr` for this PD's life, and this PD is its only consumer.
    let queue = unsafe { word::consumer(queue_vaddr.get() as usize, QUEUE_SIZE) }
        .expect("the queue region is large enough");
    debug_println!("consumer (Rust): ready");
    Consumer {
        queue,
        count: 0,
        sum: 0,
        out_of_order: 0,
    }
}

protection_domain!(init);
