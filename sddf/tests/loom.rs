//! Loom models of the signal-only-when-asked protocol, run on the crate's own
//! queue code (built with loom's atomics).
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p sddf --release --test loom
//! ```
//!
//! A PD's "wait for a notification" is modelled by `loom::sync::Notify`: a
//! binary semaphore like a seL4 notification (a notify with nobody waiting is
//! remembered; several collapse into one), which loom additionally lets wake
//! up spuriously. A lost wake-up shows up as loom's deadlock detection firing:
//! the producer has finished and the consumer waits forever with entries in
//! the queue and no notification coming. Every model also asserts that each
//! entry is delivered exactly once, in order, with the value that was put in
//! (slot contents are loom atomics too, so a missing Acquire/Release would
//! show up as a stale value).
//!
//! The `broken_*` models drop one step of the protocol (the consumer's
//! re-check, the consumer's fence, the notifier's fence, the space waiter's
//! re-check, the Release on `tail`) and must fail, which shows the models can
//! find the bug they are there to exclude.
//!
//! The signalling models start with no request outstanding; zeroed memory
//! (a request pending) is a state they reach after the waiter's first
//! re-arm, so it is covered too.
#![cfg(loom)]

// std's Arc, not loom's: loom's Arc touches the model when dropped, which
// aborts the process while a failing (should_panic) model unwinds. Leaks are
// not what these models are about.
use std::sync::Arc;

use loom::sync::Notify;
use loom::thread;
use sddf::net::{BufferDesc, NetConsumer, NetQueue};
use sddf::serial::SerialQueue;
use sddf::signal::NOT_REQUESTED;
use sddf::sync::Ordering;
use sddf::QueueMemory;

/// How the consumer of a network queue re-arms before sleeping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rearm {
    /// The library's protocol: request, SeqCst fence, check again.
    Protocol,
    /// Broken: request and sleep, no second check.
    NoRecheck,
    /// Broken: request, check again, but no fence between them.
    NoFence,
}

/// How the producer of a network queue checks for a signal request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notifier {
    /// The library's protocol: SeqCst fence, then check and clear the flag.
    Protocol,
    /// Broken: check and clear the flag without the fence.
    NoFence,
}

fn desc(i: u64) -> BufferDesc {
    BufferDesc {
        io_or_offset: i * 2048,
        len: i as u16 + 1,
    }
}

/// Producer puts `items` descriptors, in batches of `batch`, into a queue of
/// capacity `cap >= items` and signals when asked; the consumer processes,
/// re-arms and sleeps until it has them all.
fn consumer_waits(
    items: u64,
    batch: u64,
    cap: usize,
    (rearm, notifier): (Rearm, Notifier),
    preemption_bound: Option<usize>,
) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = preemption_bound;
    builder.check(move || {
        let mem = Arc::new(QueueMemory::<NetQueue, 4>::new());
        // Start with no request outstanding (zeroed memory would start with
        // one, which gives the first batch a free notification).
        mem.header()
            .consumer_signalled
            .store(NOT_REQUESTED, Ordering::Relaxed);
        let wake_consumer = Arc::new(Notify::new());

        let producer = {
            let mem = mem.clone();
            let wake = wake_consumer.clone();
            thread::spawn(move || {
                let mut tx = mem.producer(cap).unwrap();
                let mut i = 0;
                while i < items {
                    for _ in 0..batch.min(items - i) {
                        tx.enqueue(desc(i)).expect("sized never to fill");
                        i += 1;
                    }
                    let notify = match notifier {
                        Notifier::Protocol => tx.take_signal_request(),
                        Notifier::NoFence => {
                            let flag = &mem.header().consumer_signalled;
                            let requested = flag.load(Ordering::Relaxed) == 0;
                            if requested {
                                flag.store(NOT_REQUESTED, Ordering::Relaxed);
                            }
                            requested
                        }
                    };
                    if notify {
                        wake.notify();
                    }
                }
            })
        };

        let mut rx = mem.consumer(cap).unwrap();
        let mut got = 0u64;
        loop {
            // The notification handler.
            loop {
                while let Ok(d) = rx.dequeue() {
                    assert_eq!(d, desc(got), "wrong, duplicated or reordered entry");
                    got += 1;
                }
                let again = match rearm {
                    Rearm::Protocol => rx.rearm(),
                    Rearm::NoRecheck => {
                        rx.request_signal();
                        false
                    }
                    Rearm::NoFence => {
                        rx.request_signal();
                        let work = !rx.is_empty();
                        if work {
                            rx.cancel_signal_request();
                        }
                        work
                    }
                };
                if !again {
                    break;
                }
            }
            if got == items {
                break;
            }
            // Sleep until notified. If the wake-up was lost, loom reports a
            // deadlock here.
            wake_consumer.wait();
        }
        producer.join().unwrap();
        assert_eq!(got, items);
        assert_eq!(
            rx.dequeue(),
            Err(sddf::DequeueError::Empty),
            "entry delivered twice"
        );
        assert_eq!(rx.stats(), sddf::Stats::default());
    });
}

#[test]
fn consumer_waits_one_item_per_batch() {
    consumer_waits(2, 1, 2, (Rearm::Protocol, Notifier::Protocol), None);
}

#[test]
fn consumer_waits_two_item_batches() {
    consumer_waits(3, 2, 4, (Rearm::Protocol, Notifier::Protocol), Some(6));
}

#[test]
#[should_panic(expected = "deadlock")]
fn broken_consumer_without_recheck_loses_wakeup() {
    consumer_waits(2, 1, 2, (Rearm::NoRecheck, Notifier::Protocol), None);
}

#[test]
#[should_panic(expected = "deadlock")]
fn broken_consumer_without_fence_loses_wakeup() {
    consumer_waits(2, 1, 2, (Rearm::NoFence, Notifier::Protocol), None);
}

#[test]
#[should_panic(expected = "deadlock")]
fn broken_notifier_without_fence_loses_wakeup() {
    consumer_waits(2, 1, 2, (Rearm::Protocol, Notifier::NoFence), None);
}

/// Serial-style flow control: the producer writes `items` bytes through a
/// ring of capacity `cap`, asking for a space signal when full; the consumer
/// always gets notified by the producer and notifies the producer only when
/// asked.
fn producer_waits(items: u8, cap: usize, recheck: bool) {
    loom::model(move || {
        let mem = Arc::new(QueueMemory::<SerialQueue, 2>::new());
        mem.header()
            .producer_signalled
            .store(NOT_REQUESTED, Ordering::Relaxed);
        let wake_consumer = Arc::new(Notify::new());
        let wake_producer = Arc::new(Notify::new());

        let consumer = {
            let mem = mem.clone();
            let wake_consumer = wake_consumer.clone();
            let wake_producer = wake_producer.clone();
            thread::spawn(move || {
                let mut rx = mem.consumer(cap).unwrap();
                let mut got = 0u8;
                loop {
                    let mut buf = [0u8; 2];
                    let n = rx.dequeue_into(&mut buf).unwrap();
                    for &b in &buf[..n] {
                        assert_eq!(b, got, "wrong, duplicated or reordered byte");
                        got += 1;
                    }
                    if n > 0 && rx.take_space_signal_request() {
                        wake_producer.notify();
                    }
                    if got == items {
                        break;
                    }
                    // The producer always notifies after writing, and the
                    // notification is latched, so this cannot miss data.
                    wake_consumer.wait();
                }
                assert_eq!(rx.dequeue(), Err(sddf::DequeueError::Empty));
            })
        };

        let mut tx = mem.producer(cap).unwrap();
        let mut sent = 0u8;
        while sent < items {
            match tx.enqueue(sent) {
                Ok(()) => {
                    sent += 1;
                    wake_consumer.notify();
                }
                Err(sddf::EnqueueError::Full) => {
                    let go_on = if recheck {
                        tx.rearm_for_space()
                    } else {
                        tx.request_space_signal();
                        false
                    };
                    if !go_on {
                        // Lost wake-up => loom reports a deadlock here.
                        wake_producer.wait();
                    }
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        consumer.join().unwrap();
        assert_eq!(tx.stats(), sddf::Stats::default());
    });
}

#[test]
fn producer_waits_for_space() {
    producer_waits(2, 1, true);
}

#[test]
#[should_panic(expected = "deadlock")]
fn broken_space_waiter_without_recheck_loses_wakeup() {
    producer_waits(2, 1, false);
}

/// The models also check the data path: a producer that publishes `tail`
/// with a Relaxed store (instead of the library's Release) lets the consumer
/// see the new index but the old slot contents, and loom finds it.
#[test]
#[should_panic(expected = "stale slot")]
fn broken_relaxed_publication_is_caught() {
    use sddf::ring::Entry;
    loom::model(|| {
        let mem = Arc::new(QueueMemory::<NetQueue, 2>::new());
        let producer = {
            let mem = mem.clone();
            thread::spawn(move || {
                BufferDesc::store(&mem.slots()[0], desc(0));
                mem.header().tail.store(1, Ordering::Relaxed);
            })
        };
        assert_eq!(
            spin_dequeue(&mut mem.consumer(2).unwrap()),
            desc(0),
            "stale slot"
        );
        producer.join().unwrap();
    });
}

/// Spin (yielding to loom) until the queue hands out an entry; return it.
fn spin_dequeue(rx: &mut NetConsumer<'_>) -> BufferDesc {
    loop {
        match rx.dequeue() {
            Ok(d) => return d,
            Err(_) => thread::yield_now(),
        }
    }
}

/// The same hand-over through the library (Release store of `tail`, Acquire
/// load) is never stale.
#[test]
fn library_publication_is_never_stale() {
    loom::model(|| {
        let mem = Arc::new(QueueMemory::<NetQueue, 2>::new());
        let producer = {
            let mem = mem.clone();
            thread::spawn(move || {
                mem.producer(2).unwrap().enqueue(desc(0)).unwrap();
            })
        };
        assert_eq!(
            spin_dequeue(&mut mem.consumer(2).unwrap()),
            desc(0),
            "stale slot"
        );
        producer.join().unwrap();
    });
}
