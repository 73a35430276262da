//! Property tests: an honest side against an adversarial peer that writes
//! arbitrary indices, lengths, offsets, flags and duplicate buffers into the
//! shared memory between the honest side's operations; and honest pairs,
//! which must deliver everything in FIFO order.
//!
//! What is asserted for the honest side, whatever the peer does:
//! * it never panics (so never indexes out of bounds: every slot access is a
//!   checked slice index) and every call returns (no unbounded loop);
//! * it never reads more entries than the peer legitimately published, nor
//!   writes more than there is legitimate room for;
//! * every refusal is counted: `Corrupt` results match `stats().corrupt`,
//!   rejected entries match `stats().rejected`;
//! * its own index in shared memory is only ever what it published;
//! * validators only let through descriptors inside the region, aligned, with
//!   a legal length, and never the same buffer twice.

use std::collections::{HashSet, VecDeque};

use proptest::prelude::*;
use sddf::blk::{
    ReqCode, Request, RequestError, RequestQueueMemory, RespStatus, Response, ResponseQueueMemory,
};
use sddf::net::{BufferDesc, BufferRegion, DescError, NetBuffers, NetQueueMemory, BUFFER_SIZE};
use sddf::ring::CheckedError;
use sddf::serial::SerialQueueMemory;
use sddf::sync::Ordering::Relaxed;
use sddf::{DequeueError, EnqueueError};

const CAP: usize = 8;
const NBUFS: u32 = 16;

fn any_desc() -> impl Strategy<Value = BufferDesc> {
    prop_oneof![
        // Plausible: a buffer of the region, maybe a bad length.
        (0..NBUFS as u64 + 2, 0..=BUFFER_SIZE as u16 + 2).prop_map(|(i, len)| BufferDesc {
            io_or_offset: i * BUFFER_SIZE as u64,
            len
        }),
        // Anything at all.
        (any::<u64>(), any::<u16>())
            .prop_map(|(io_or_offset, len)| BufferDesc { io_or_offset, len }),
    ]
}

/// What the adversarial producer does, or what the honest consumer does.
#[derive(Clone, Debug)]
enum ConsumerStep {
    PeerTail(u16),
    PeerTailNear(u16),
    PeerHead(u16),
    PeerSlot(usize, BufferDesc),
    PeerFlag(u32),
    Dequeue,
    DequeueInto(usize),
    DequeueChecked,
    Rearm,
    Available,
}

fn consumer_step() -> impl Strategy<Value = ConsumerStep> {
    prop_oneof![
        any::<u16>().prop_map(ConsumerStep::PeerTail),
        (0..2 * CAP as u16 + 2).prop_map(ConsumerStep::PeerTailNear),
        any::<u16>().prop_map(ConsumerStep::PeerHead),
        (0..CAP, any_desc()).prop_map(|(i, d)| ConsumerStep::PeerSlot(i, d)),
        any::<u32>().prop_map(ConsumerStep::PeerFlag),
        Just(ConsumerStep::Dequeue),
        (0..3 * CAP).prop_map(ConsumerStep::DequeueInto),
        Just(ConsumerStep::DequeueChecked),
        Just(ConsumerStep::Rearm),
        Just(ConsumerStep::Available),
    ]
}

/// What the adversarial consumer does, or what the honest producer does.
#[derive(Clone, Debug)]
enum ProducerStep {
    PeerHead(u16),
    PeerHeadNear(u16),
    PeerTail(u16),
    PeerSlot(usize, BufferDesc),
    PeerFlag(u32),
    Enqueue(BufferDesc),
    EnqueueSlice(usize),
    Free,
    TakeSignal,
}

fn producer_step() -> impl Strategy<Value = ProducerStep> {
    prop_oneof![
        any::<u16>().prop_map(ProducerStep::PeerHead),
        (0..2 * CAP as u16 + 2).prop_map(ProducerStep::PeerHeadNear),
        any::<u16>().prop_map(ProducerStep::PeerTail),
        (0..CAP, any_desc()).prop_map(|(i, d)| ProducerStep::PeerSlot(i, d)),
        any::<u32>().prop_map(ProducerStep::PeerFlag),
        any_desc().prop_map(ProducerStep::Enqueue),
        (0..3 * CAP).prop_map(ProducerStep::EnqueueSlice),
        Just(ProducerStep::Free),
        Just(ProducerStep::TakeSignal),
    ]
}

fn region() -> BufferRegion {
    BufferRegion::new(0, BUFFER_SIZE, NBUFS).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// An honest network consumer (with descriptor validation and ownership
    /// tracking) against a producer that writes anything anywhere.
    #[test]
    fn honest_consumer_vs_adversarial_producer(steps in prop::collection::vec(consumer_step(), 0..80)) {
        let mem = NetQueueMemory::<CAP>::new();
        let h = mem.header();
        let mut rx = mem.consumer(CAP).unwrap();
        let mut bufs = NetBuffers::<1>::new(region(), false).unwrap();
        // Unwrapped positions: how far the consumer has read, and the
        // furthest the peer has ever legitimately published (a tail value
        // within `capacity` of the consumer's head at the time).
        let mut consumed: u64 = 0;
        let mut reach: u64 = 0;
        let mut rejected = 0u32;
        let mut accepted = HashSet::new();

        for step in steps {
            let my_head = consumed as u16;
            let legit = usize::from(h.tail.load(Relaxed).wrapping_sub(my_head));
            let legit = (legit <= CAP).then_some(legit);
            if let Some(n) = legit {
                reach = reach.max(consumed + n as u64);
            }
            let before = rx.stats();
            // Whether this step must count one corrupt queue (None: may).
            let mut corrupt: Option<bool> = Some(false);
            match step {
                ConsumerStep::PeerTail(t) => h.tail.store(t, Relaxed),
                ConsumerStep::PeerTailNear(k) => h.tail.store(my_head.wrapping_add(k), Relaxed),
                ConsumerStep::PeerHead(v) => h.head.store(v, Relaxed),
                ConsumerStep::PeerSlot(i, d) => {
                    mem.slots()[i].io_or_offset.store(d.io_or_offset, Relaxed);
                    mem.slots()[i].len.store(d.len, Relaxed);
                }
                ConsumerStep::PeerFlag(f) => h.consumer_signalled.store(f, Relaxed),
                ConsumerStep::Dequeue => match rx.dequeue() {
                    Ok(_) => consumed += 1,
                    Err(DequeueError::Empty) => prop_assert_eq!(legit, Some(0)),
                    Err(DequeueError::Corrupt) => corrupt = Some(true),
                },
                ConsumerStep::DequeueInto(n) => {
                    let mut out = vec![BufferDesc::default(); n];
                    match rx.dequeue_into(&mut out) {
                        Ok(got) => {
                            prop_assert!(got <= n && got <= CAP);
                            consumed += got as u64;
                        }
                        Err(_) => corrupt = Some(true),
                    }
                }
                ConsumerStep::DequeueChecked => match rx.dequeue_checked(|d| bufs.accept_filled(d)) {
                    Ok(b) => {
                        consumed += 1;
                        // Inside, aligned, legal length, never twice.
                        prop_assert!(b.io_or_offset() % u64::from(BUFFER_SIZE) == 0);
                        prop_assert!(b.io_or_offset() < u64::from(NBUFS * BUFFER_SIZE));
                        prop_assert!(!b.is_empty() && u32::from(b.len()) <= BUFFER_SIZE);
                        prop_assert!(accepted.insert(b.index()), "same buffer accepted twice");
                    }
                    Err(CheckedError::Rejected { .. }) => {
                        consumed += 1;
                        rejected += 1;
                    }
                    Err(CheckedError::Empty) => prop_assert_eq!(legit, Some(0)),
                    Err(CheckedError::Corrupt) => corrupt = Some(true),
                },
                ConsumerStep::Rearm => {
                    let again = rx.rearm();
                    // Work is reported only if the peer really published some;
                    // a corrupt queue never says "process again" (that could
                    // loop forever).
                    if again {
                        prop_assert!(legit.is_some_and(|n| n >= 1));
                    }
                    if legit.is_none() {
                        prop_assert!(!again);
                    }
                    corrupt = None;
                }
                ConsumerStep::Available => match rx.available() {
                    Ok(n) => prop_assert_eq!(Some(n), legit),
                    Err(_) => corrupt = Some(true),
                },
            }
            // Never read past what the peer legitimately published.
            prop_assert!(consumed <= reach, "consumed {} > published {}", consumed, reach);
            // Our index in shared memory is what we published, unless the
            // peer just scribbled on it.
            if !matches!(step, ConsumerStep::PeerHead(_))
                && before.corrupt == rx.stats().corrupt
                && consumed as u16 != my_head
            {
                prop_assert_eq!(h.head.load(Relaxed), consumed as u16);
            }
            let delta = rx.stats().corrupt - before.corrupt;
            match corrupt {
                Some(c) => prop_assert_eq!(delta, u32::from(c)),
                None => prop_assert!(delta <= 1),
            }
            prop_assert_eq!(rx.stats().rejected, rejected);
            prop_assert_eq!(bufs.ownership().owned(), accepted.len());
        }
    }

    /// An honest network producer against a consumer that writes anything
    /// anywhere: it never publishes more than there was room for, and its
    /// `tail` in shared memory is always what it published.
    #[test]
    fn honest_producer_vs_adversarial_consumer(steps in prop::collection::vec(producer_step(), 0..80)) {
        let mem = NetQueueMemory::<CAP>::new();
        let h = mem.header();
        let mut tx = mem.producer(CAP).unwrap();
        // Unwrapped positions: how far the producer has published, and the
        // furthest the consumer has ever legitimately freed. A producer
        // attaching to a queue accepts any head in [tail - capacity, tail],
        // so `freed` starts at -capacity.
        let mut produced: i64 = 0;
        let mut freed: i64 = -(CAP as i64);
        for step in steps {
            let my_tail = produced as u16;
            let used = usize::from(my_tail.wrapping_sub(h.head.load(Relaxed)));
            if used <= CAP {
                freed = freed.max(produced - used as i64);
            }
            let tail_before = h.tail.load(Relaxed);
            let before = tx.stats();
            let mut corrupt = false;
            let mut honest = true;
            match step {
                ProducerStep::PeerHead(v) => h.head.store(v, Relaxed),
                ProducerStep::PeerHeadNear(k) => h.head.store(my_tail.wrapping_sub(k), Relaxed),
                ProducerStep::PeerTail(v) => h.tail.store(v, Relaxed),
                ProducerStep::PeerSlot(i, d) => {
                    mem.slots()[i].io_or_offset.store(d.io_or_offset, Relaxed);
                    mem.slots()[i].len.store(d.len, Relaxed);
                }
                ProducerStep::PeerFlag(f) => h.consumer_signalled.store(f, Relaxed),
                ProducerStep::Enqueue(d) => match tx.enqueue(d) {
                    Ok(()) => produced += 1,
                    Err(EnqueueError::Full) => prop_assert_eq!(used, CAP),
                    Err(EnqueueError::Corrupt) => corrupt = true,
                },
                ProducerStep::EnqueueSlice(n) => {
                    let items = vec![BufferDesc { io_or_offset: 0, len: 1 }; n];
                    match tx.enqueue_slice(&items) {
                        Ok(k) => {
                            prop_assert!(k <= n);
                            produced += k as i64;
                        }
                        Err(_) => corrupt = true,
                    }
                }
                ProducerStep::Free => match tx.free() {
                    Ok(n) => prop_assert_eq!(n, CAP - used),
                    Err(_) => corrupt = true,
                },
                ProducerStep::TakeSignal => {
                    let f = h.consumer_signalled.load(Relaxed);
                    prop_assert_eq!(tx.take_signal_request(), f == 0);
                    prop_assert!(h.consumer_signalled.load(Relaxed) != 0);
                }
            }
            if matches!(
                step,
                ProducerStep::PeerHead(_)
                    | ProducerStep::PeerHeadNear(_)
                    | ProducerStep::PeerTail(_)
                    | ProducerStep::PeerSlot(..)
                    | ProducerStep::PeerFlag(_)
            ) {
                honest = false;
            }
            // Never into a slot the consumer has not legitimately freed.
            prop_assert!(produced - freed <= CAP as i64, "produced {} freed {}", produced, freed);
            if honest {
                if produced as u16 != my_tail {
                    prop_assert_eq!(h.tail.load(Relaxed), produced as u16);
                } else {
                    prop_assert_eq!(h.tail.load(Relaxed), tail_before);
                }
            }
            prop_assert_eq!(tx.stats().corrupt - before.corrupt, u32::from(corrupt));
        }
    }

    /// A serial consumer reads at most what fits and what is legitimately
    /// there, whatever the header says, for any buffer length.
    #[test]
    fn serial_lengths_are_clamped(
        tails in prop::collection::vec(any::<u32>(), 1..20),
        lens in prop::collection::vec(0usize..10_000, 1..20),
    ) {
        let mem = SerialQueueMemory::<16>::new();
        let mut rx = mem.consumer(16).unwrap();
        let mut head = 0u32;
        let mut corrupt = 0;
        for (t, len) in tails.into_iter().zip(lens) {
            mem.header().tail.store(t, Relaxed);
            let legit = t.wrapping_sub(head);
            let mut out = vec![0u8; len];
            match rx.dequeue_into(&mut out) {
                Ok(n) => {
                    prop_assert!(n <= len && n <= 16 && n as u32 <= legit);
                    head = head.wrapping_add(n as u32);
                    prop_assert_eq!(mem.header().head.load(Relaxed), head);
                }
                Err(_) => corrupt += 1,
            }
        }
        prop_assert_eq!(rx.stats().corrupt, corrupt);
    }

    /// The buffer checker against arbitrary descriptor sequences, with
    /// duplicates and give-backs, matches a simple model.
    #[test]
    fn buffer_checker_matches_model(
        ops in prop::collection::vec((any::<bool>(), any_desc()), 0..200),
    ) {
        let r = region();
        let mut bufs = NetBuffers::<1>::new(r, false).unwrap();
        let mut owned: HashSet<u64> = HashSet::new();
        for (take, d) in ops {
            let bs = u64::from(BUFFER_SIZE);
            let in_region = d.io_or_offset % bs == 0 && d.io_or_offset / bs < u64::from(NBUFS);
            if take {
                let res = bufs.accept_filled(d);
                let len_ok = d.len > 0 && u32::from(d.len) <= BUFFER_SIZE;
                let expect_ok = in_region && len_ok && !owned.contains(&d.io_or_offset);
                prop_assert_eq!(res.is_ok(), expect_ok, "{:?} -> {:?}", d, res);
                if let Err(e) = res {
                    if in_region && len_ok {
                        prop_assert_eq!(e, DescError::Duplicate);
                    }
                } else {
                    owned.insert(d.io_or_offset);
                }
            } else if in_region {
                let buf = r.check_free(d).unwrap();
                let res = bufs.give(buf);
                prop_assert_eq!(res.is_ok(), owned.remove(&d.io_or_offset));
            }
            prop_assert_eq!(bufs.ownership().owned(), owned.len());
        }
    }

    /// Block request validation never lets through a transfer outside the
    /// region or unaligned, and never panics.
    #[test]
    fn block_requests_are_bounded(
        code in 0u32..6, off in any::<u64>(), blk in any::<u64>(), count in any::<u16>(),
        region in prop_oneof![Just(1u64 << 20), any::<u64>()],
    ) {
        let r = Request { code, io_or_offset: off, block_number: blk, count, id: 1 };
        match r.check(region) {
            Ok(v) => {
                if matches!(v.code, ReqCode::Read | ReqCode::Write) {
                    prop_assert!(v.count > 0);
                    prop_assert!(v.offset % 4096 == 0);
                    prop_assert!(v.offset + u64::from(v.count) * 4096 <= region);
                    prop_assert!(v.block_number.checked_add(u64::from(v.count)).is_some());
                }
            }
            Err(RequestError::BadCode(c)) => prop_assert!(c > 3),
            Err(_) => prop_assert!(code <= 1),
        }
    }

    /// Honest pairs: everything put in comes out once, in order, for each
    /// queue kind and capacity, and Full/Empty match a model exactly.
    #[test]
    fn honest_net_pair_is_fifo(
        cap_log in 0u32..5,
        ops in prop::collection::vec((any::<bool>(), 0usize..20), 0..100),
    ) {
        let cap = 1usize << cap_log;
        let mem = NetQueueMemory::<16>::new();
        let (mut tx, mut rx) = mem.split(cap).unwrap();
        let mut model = VecDeque::new();
        let mut next = 0u64;
        for (put, n) in ops {
            if put {
                let items: Vec<_> = (0..n).map(|i| BufferDesc { io_or_offset: next + i as u64, len: 1 }).collect();
                let k = if n == 1 {
                    match tx.enqueue(items[0]) {
                        Ok(()) => 1,
                        Err(EnqueueError::Full) => 0,
                        Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
                    }
                } else {
                    tx.enqueue_slice(&items).unwrap()
                };
                prop_assert_eq!(k, n.min(cap - model.len()));
                model.extend(items[..k].iter().copied());
                next += k as u64;
            } else {
                let mut out = vec![BufferDesc::default(); n];
                let k = rx.dequeue_into(&mut out).unwrap();
                prop_assert_eq!(k, n.min(model.len()));
                for d in &out[..k] {
                    prop_assert_eq!(Some(*d), model.pop_front());
                }
            }
            prop_assert_eq!(rx.available().unwrap(), model.len());
            prop_assert_eq!(tx.free().unwrap(), cap - model.len());
        }
        while let Ok(d) = rx.dequeue() {
            prop_assert_eq!(Some(d), model.pop_front());
        }
        prop_assert!(model.is_empty());
        prop_assert_eq!(tx.stats(), Default::default());
        prop_assert_eq!(rx.stats(), Default::default());
    }

    #[test]
    fn honest_serial_pair_is_fifo(
        chunks in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..40)), 0..60),
    ) {
        let mem = SerialQueueMemory::<32>::new();
        let (mut tx, mut rx) = mem.split(32).unwrap();
        let mut model = VecDeque::new();
        for (put, bytes) in chunks {
            if put {
                let k = tx.enqueue_slice(&bytes).unwrap();
                prop_assert_eq!(k, bytes.len().min(32 - model.len()));
                model.extend(bytes[..k].iter().copied());
            } else {
                let mut out = vec![0u8; bytes.len()];
                let k = rx.dequeue_into(&mut out).unwrap();
                prop_assert_eq!(k, out.len().min(model.len()));
                let want: Vec<u8> = model.drain(..k).collect();
                prop_assert_eq!(&out[..k], &want[..]);
            }
        }
    }

    #[test]
    fn honest_blk_pair_is_fifo(reqs in prop::collection::vec((0u32..4, any::<u64>(), any::<u16>(), any::<u32>()), 0..40)) {
        let rq = RequestQueueMemory::<8>::new();
        let rs = ResponseQueueMemory::<8>::new();
        let (mut ctx, mut drx) = rq.split(8).unwrap();
        let (mut dtx, mut crx) = rs.split(8).unwrap();
        for chunk in reqs.chunks(8) {
            for &(code, blk, count, id) in chunk {
                let code = ReqCode::from_raw(code).unwrap();
                ctx.enqueue(Request::new(code, 0, blk, count, id)).unwrap();
            }
            for &(code, blk, count, id) in chunk {
                let r = drx.dequeue().unwrap();
                prop_assert_eq!(r, Request::new(ReqCode::from_raw(code).unwrap(), 0, blk, count, id));
                dtx.enqueue(Response::new(RespStatus::Ok, r.count, r.id)).unwrap();
            }
            for &(_, _, count, id) in chunk {
                let r = crx.dequeue().unwrap();
                prop_assert_eq!(r.check(u32::MAX), if id == u32::MAX {
                    Err(sddf::blk::ResponseError::UnknownId(id))
                } else {
                    Ok((RespStatus::Ok, count, id))
                });
            }
        }
        prop_assert_eq!(drx.dequeue(), Err(DequeueError::Empty));
        prop_assert_eq!(crx.dequeue(), Err(DequeueError::Empty));
    }
}
