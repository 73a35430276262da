//! The driver's timeout table: per client, up to `N` timeouts kept sorted
//! by deadline, plus the expiries not yet reported to the client.
//!
//! Pure logic (no hardware, no syscalls), tested on the host. Times are ns on
//! the driver's clock.
//!
//! Rules:
//! - A timeout expires when `now >= deadline`, never before.
//! - A periodic timeout's next deadline is `deadline + period` (no drift);
//!   if the driver was late by several periods, the missed expiries are
//!   counted, not delivered one by one.
//! - An id whose expiry has not been taken yet is not reused, so a report
//!   never names a timeout the client did not mean.
//! - Cancelling discards the id's untaken expiries.

use mantle_timer_client::protocol::{Expired, TimeoutId, TimerError, MAX_TIMEOUTS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timeout {
    deadline: u64,
    period: u64,
}

/// One client's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct ClientTimeouts {
    slots: [Option<Timeout>; MAX_TIMEOUTS],
    /// Ids of pending timeouts, earliest deadline first (ties: armed first).
    order: [u8; MAX_TIMEOUTS],
    len: usize,
    expired: Expired,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientTimeouts {
    /// No timeouts.
    pub const fn new() -> Self {
        ClientTimeouts {
            slots: [None; MAX_TIMEOUTS],
            order: [0; MAX_TIMEOUTS],
            len: 0,
            expired: Expired {
                mask: 0,
                counts: [0; MAX_TIMEOUTS],
            },
        }
    }

    /// Number of pending timeouts.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// The earliest pending deadline.
    pub fn earliest(&self) -> Option<u64> {
        (self.len > 0).then(|| self.deadline_at(0))
    }

    fn deadline_at(&self, pos: usize) -> u64 {
        match self.slots[self.order[pos] as usize] {
            Some(t) => t.deadline,
            None => u64::MAX, // unreachable: `order` names only used slots
        }
    }

    fn insert_sorted(&mut self, id: u8, deadline: u64) {
        let mut pos = self.len;
        while pos > 0 && self.deadline_at(pos - 1) > deadline {
            self.order[pos] = self.order[pos - 1];
            pos -= 1;
        }
        self.order[pos] = id;
        self.len += 1;
    }

    fn remove_from_order(&mut self, id: u8) {
        if let Some(pos) = self.order[..self.len].iter().position(|&x| x == id) {
            self.order.copy_within(pos + 1..self.len, pos);
            self.len -= 1;
        }
    }

    /// Arm a timeout at absolute `deadline`, repeating every `period` ns if
    /// `period > 0`. Returns its id.
    pub fn add(&mut self, deadline: u64, period: u64) -> Result<TimeoutId, TimerError> {
        let free = (0..MAX_TIMEOUTS)
            .find(|&i| self.slots[i].is_none() && self.expired.mask & (1 << i) == 0)
            .ok_or(TimerError::Full)?;
        self.slots[free] = Some(Timeout { deadline, period });
        self.insert_sorted(free as u8, deadline);
        TimeoutId::new(free as u64).ok_or(TimerError::Full)
    }

    /// Cancel `id`: pending or with untaken expiries (a fired one-shot).
    pub fn cancel(&mut self, id: TimeoutId) -> Result<(), TimerError> {
        let i = id.index();
        let had_expiry = self.expired.mask & (1 << i) != 0;
        self.expired.mask &= !(1 << i);
        self.expired.counts[i] = 0;
        match self.slots[i].take() {
            Some(_) => {
                self.remove_from_order(i as u8);
                Ok(())
            }
            None if had_expiry => Ok(()),
            None => Err(TimerError::NotFound),
        }
    }

    /// Expire every timeout with `deadline <= now`. Returns whether any did.
    pub fn expire(&mut self, now: u64) -> bool {
        let mut any = false;
        while self.len > 0 && self.deadline_at(0) <= now {
            let id = self.order[0];
            self.order.copy_within(1..self.len, 0);
            self.len -= 1;
            let i = id as usize;
            let Some(t) = self.slots[i] else { continue };
            // Missed periods are counted: deadline, deadline + p, ... <= now.
            // A one-shot (period 0) fires once.
            let fired = (now - t.deadline).checked_div(t.period).unwrap_or(0) + 1;
            self.expired.mask |= 1 << i;
            self.expired.counts[i] =
                self.expired.counts[i].saturating_add(fired.min(u32::MAX as u64) as u32);
            any = true;
            // The next deadline is after `now`; a periodic timeout whose next
            // deadline does not fit in 64 bits ends (it could never fire).
            let next = fired
                .checked_mul(t.period)
                .and_then(|d| t.deadline.checked_add(d))
                .filter(|_| t.period != 0);
            match next {
                Some(next) => {
                    self.slots[i] = Some(Timeout {
                        deadline: next,
                        period: t.period,
                    });
                    self.insert_sorted(id, next);
                }
                None => self.slots[i] = None,
            }
        }
        any
    }

    /// Take the expiries since the last call.
    pub fn take_expired(&mut self) -> Expired {
        core::mem::take(&mut self.expired)
    }
}

/// The timeouts of `C` clients.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts<const C: usize> {
    clients: [ClientTimeouts; C],
}

impl<const C: usize> Default for Timeouts<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize> Timeouts<C> {
    /// No timeouts.
    pub const fn new() -> Self {
        Timeouts {
            clients: [ClientTimeouts::new(); C],
        }
    }

    /// Client `c`'s table (`None` if `c >= C`).
    pub fn client(&mut self, c: usize) -> Option<&mut ClientTimeouts> {
        self.clients.get_mut(c)
    }

    /// The earliest deadline of any client.
    pub fn earliest(&self) -> Option<u64> {
        self.clients
            .iter()
            .filter_map(ClientTimeouts::earliest)
            .min()
    }

    /// Expire everything due at `now`; bit `c` of the result is set for each
    /// client with new expiries (to be notified).
    pub fn expire(&mut self, now: u64) -> u64 {
        let mut notify = 0;
        for (c, t) in self.clients.iter_mut().enumerate() {
            if t.expire(now) && c < 64 {
                notify |= 1 << c;
            }
        }
        notify
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn id(i: u64) -> TimeoutId {
        TimeoutId::new(i).unwrap()
    }

    #[test]
    fn expires_in_deadline_order_and_never_early() {
        let mut t = ClientTimeouts::new();
        let a = t.add(300, 0).unwrap();
        let b = t.add(100, 0).unwrap();
        let c = t.add(200, 0).unwrap();
        assert_eq!(t.earliest(), Some(100));
        assert!(!t.expire(99));
        assert!(t.expire(100));
        let e = t.take_expired();
        assert_eq!(e.ids().collect::<Vec<_>>(), [b]);
        assert_eq!(t.earliest(), Some(200));
        assert!(t.expire(250));
        assert_eq!(t.take_expired().ids().collect::<Vec<_>>(), [c]);
        assert!(t.expire(1000));
        assert_eq!(t.take_expired().ids().collect::<Vec<_>>(), [a]);
        assert_eq!(t.pending(), 0);
        assert!(t.take_expired().is_empty());
    }

    #[test]
    fn equal_deadlines_keep_arming_order() {
        let mut t = ClientTimeouts::new();
        t.add(50, 0).unwrap();
        t.add(50, 0).unwrap();
        t.add(10, 0).unwrap();
        assert_eq!(&t.order[..3], &[2, 0, 1]);
    }

    #[test]
    fn periodic_repeats_without_drift_and_counts_missed() {
        let mut t = ClientTimeouts::new();
        let p = t.add(100, 50).unwrap();
        assert!(t.expire(105));
        assert_eq!(t.earliest(), Some(150));
        assert_eq!(t.take_expired().counts[p.index()], 1);
        // Late by 3 periods: 150, 200, 250, 300 are all due at 310.
        assert!(t.expire(310));
        assert_eq!(t.take_expired().counts[p.index()], 4);
        assert_eq!(t.earliest(), Some(350));
        t.cancel(p).unwrap();
        assert_eq!(t.earliest(), None);
        assert_eq!(t.cancel(p), Err(TimerError::NotFound));
    }

    #[test]
    fn full_table_and_untaken_ids_are_not_reused() {
        let mut t = ClientTimeouts::new();
        for i in 0..MAX_TIMEOUTS as u64 {
            assert_eq!(t.add(1000 + i, 0), Ok(id(i)));
        }
        assert_eq!(t.add(5, 0), Err(TimerError::Full));
        assert!(t.expire(1000));
        // Id 0 fired but its expiry is not taken: still not free.
        assert_eq!(t.add(5, 0), Err(TimerError::Full));
        assert_eq!(t.take_expired().ids().collect::<Vec<_>>(), [id(0)]);
        assert_eq!(t.add(5, 0), Ok(id(0)));
    }

    #[test]
    fn cancel_discards_untaken_expiry() {
        let mut t = ClientTimeouts::new();
        let a = t.add(10, 0).unwrap();
        assert!(t.expire(10));
        assert_eq!(t.cancel(a), Ok(()));
        assert!(t.take_expired().is_empty());
        assert_eq!(t.cancel(a), Err(TimerError::NotFound));
        assert_eq!(t.cancel(id(7)), Err(TimerError::NotFound));
    }

    #[test]
    fn clients_are_isolated() {
        let mut all = Timeouts::<3>::new();
        let a = all.client(0).unwrap().add(100, 0).unwrap();
        let b = all.client(1).unwrap().add(50, 0).unwrap();
        assert_eq!(a, b); // ids are per client
        assert_eq!(all.earliest(), Some(50));
        // Client 2 cannot cancel the others' id 0.
        assert_eq!(all.client(2).unwrap().cancel(a), Err(TimerError::NotFound));
        assert_eq!(all.expire(60), 0b010);
        assert_eq!(all.expire(100), 0b001);
        assert!(all.client(2).unwrap().take_expired().is_empty());
        assert!(all.client(3).is_none());
    }

    #[test]
    fn huge_deadlines_saturate() {
        let mut t = ClientTimeouts::new();
        let p = t.add(u64::MAX - 10, 1_000_000).unwrap();
        assert!(t.expire(u64::MAX));
        assert_eq!(t.take_expired().counts[p.index()], 1);
        // The next period would overflow: the timeout ends.
        assert_eq!(t.earliest(), None);
        assert_eq!(t.pending(), 0);
    }

    /// A pseudo-random schedule: whatever the order of arming, expiries come
    /// out sorted by deadline and none before its deadline.
    #[test]
    fn random_schedules_expire_sorted() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut t = ClientTimeouts::new();
            let mut deadlines = [0u64; MAX_TIMEOUTS];
            for d in deadlines.iter_mut() {
                *d = rnd() % 1000;
                t.add(*d, 0).unwrap();
            }
            let mut fired: Vec<u64> = Vec::new();
            let mut now = 0;
            while t.pending() > 0 {
                let before = now;
                now += rnd() % 50;
                t.expire(now);
                for i in t.take_expired().ids() {
                    // Due by now, and not already due at the previous check.
                    assert!(deadlines[i.index()] <= now);
                    assert!(deadlines[i.index()] > before || before == 0);
                    fired.push(deadlines[i.index()]);
                }
            }
            let mut sorted = deadlines.to_vec();
            sorted.sort();
            fired.sort();
            assert_eq!(fired, sorted);
        }
    }
}
