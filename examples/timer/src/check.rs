//! Schedules and the order/never-early checker (pure).

/// One timeout of a schedule. Times are ms after the client's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Name printed in the transcript.
    pub name: &'static str,
    /// First (or only) expiry.
    pub first_ms: u64,
    /// Armed as an absolute time (start + `first_ms`) rather than relative.
    pub absolute: bool,
    /// Period, 0 for one-shot.
    pub period_ms: u64,
    /// How many expiries before the client cancels it (periodic), or 1.
    pub fires: u32,
    /// Cancelled right after arming: must never fire.
    pub cancelled: bool,
}

impl Spec {
    /// A one-shot relative timeout.
    pub const fn once(name: &'static str, at_ms: u64) -> Self {
        Spec {
            name,
            first_ms: at_ms,
            absolute: false,
            period_ms: 0,
            fires: 1,
            cancelled: false,
        }
    }
    /// A one-shot absolute timeout.
    pub const fn absolute(name: &'static str, at_ms: u64) -> Self {
        Spec {
            absolute: true,
            ..Spec::once(name, at_ms)
        }
    }
    /// A periodic timeout, cancelled after `fires` expiries.
    pub const fn periodic(name: &'static str, first_ms: u64, period_ms: u64, fires: u32) -> Self {
        Spec {
            name,
            first_ms,
            absolute: false,
            period_ms,
            fires,
            cancelled: false,
        }
    }
    /// A one-shot timeout cancelled at once.
    pub const fn cancelled(name: &'static str, at_ms: u64) -> Self {
        Spec {
            cancelled: true,
            fires: 0,
            ..Spec::once(name, at_ms)
        }
    }
    /// Requested time of expiry `nth` (1-based), ms after start.
    pub const fn at_ms(&self, nth: u32) -> u64 {
        self.first_ms + self.period_ms * (nth as u64 - 1)
    }
}

/// One expected expiry: schedule entry `spec`, its `nth` expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Event {
    /// Index into the schedule.
    pub spec: usize,
    /// 1-based expiry number.
    pub nth: u32,
}

/// Most expiries a schedule may produce.
pub const MAX_EVENTS: usize = 32;

/// Every expiry the schedule produces, in requested-time order (ties: lower
/// schedule index first). Returns the array and the count.
pub fn expected_order(specs: &[Spec]) -> ([Event; MAX_EVENTS], usize) {
    let mut ev = [Event::default(); MAX_EVENTS];
    let mut n = 0;
    for (i, s) in specs.iter().enumerate() {
        for nth in 1..=s.fires {
            assert!(n < MAX_EVENTS, "schedule too long");
            ev[n] = Event { spec: i, nth };
            n += 1;
        }
    }
    ev[..n].sort_unstable_by_key(|e| (specs[e.spec].at_ms(e.nth), e.spec));
    (ev, n)
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Handled before the requested time.
    Early {
        /// The expiry.
        event: Event,
        /// Requested, ns after start.
        requested_ns: u64,
        /// Observed, ns after start.
        actual_ns: u64,
    },
    /// Not the expiry expected next.
    OutOfOrder {
        /// What arrived.
        got: Event,
        /// What was expected (`None`: nothing more was expected).
        expected: Option<Event>,
    },
}

/// Checks expiries against the expected order as they arrive.
pub struct Checker {
    expected: [Event; MAX_EVENTS],
    len: usize,
    next: usize,
    /// Largest lateness seen, ns.
    pub max_late_ns: u64,
}

impl Checker {
    /// A checker for `specs`.
    pub fn new(specs: &[Spec]) -> Self {
        let (expected, len) = expected_order(specs);
        Checker {
            expected,
            len,
            next: 0,
            max_late_ns: 0,
        }
    }

    /// Record that `event`, requested for `requested_ns`, was handled at
    /// `actual_ns` (both on the same clock).
    pub fn record(
        &mut self,
        event: Event,
        requested_ns: u64,
        actual_ns: u64,
    ) -> Result<(), Violation> {
        if actual_ns < requested_ns {
            return Err(Violation::Early {
                event,
                requested_ns,
                actual_ns,
            });
        }
        let expected = (self.next < self.len).then(|| self.expected[self.next]);
        if expected != Some(event) {
            return Err(Violation::OutOfOrder {
                got: event,
                expected,
            });
        }
        self.next += 1;
        self.max_late_ns = self.max_late_ns.max(actual_ns - requested_ns);
        Ok(())
    }

    /// Expiries seen so far.
    pub fn seen(&self) -> usize {
        self.next
    }

    /// Whether every expected expiry has been seen.
    pub fn complete(&self) -> bool {
        self.next == self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SCHEDULE_A, SCHEDULE_B};

    fn times(specs: &[Spec]) -> Vec<u64> {
        let (ev, n) = expected_order(specs);
        ev[..n].iter().map(|e| specs[e.spec].at_ms(e.nth)).collect()
    }

    #[test]
    fn schedules_interleave_and_have_no_ties() {
        assert_eq!(times(SCHEDULE_A), [20, 30, 40, 50, 60, 80, 100, 110]);
        assert_eq!(times(SCHEDULE_B), [15, 25, 30, 45, 52, 60, 90]);
    }

    #[test]
    fn checker_accepts_the_schedule_and_rejects_violations() {
        let (ev, n) = expected_order(SCHEDULE_A);
        let mut c = Checker::new(SCHEDULE_A);
        for e in &ev[..n] {
            let t = SCHEDULE_A[e.spec].at_ms(e.nth) * 1_000_000;
            c.record(*e, t, t + 5).unwrap();
        }
        assert!(c.complete());
        assert_eq!(c.max_late_ns, 5);
        // Anything more is out of order.
        assert!(matches!(
            c.record(ev[0], 0, 0),
            Err(Violation::OutOfOrder { expected: None, .. })
        ));

        let mut c = Checker::new(SCHEDULE_A);
        assert!(matches!(
            c.record(ev[0], 10, 9),
            Err(Violation::Early { .. })
        ));
        assert!(matches!(
            c.record(ev[1], 10, 20),
            Err(Violation::OutOfOrder { .. })
        ));
        assert_eq!(c.seen(), 0);
    }
}
