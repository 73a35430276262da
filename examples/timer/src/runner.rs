//! Drives a schedule from a PD's event loop: arms it, then on each
//! notification takes the expiries, orders them, checks and prints them.

use crate::check::{Checker, Event, Spec, Violation};
use mantle_runtime::debug_println;
use mantle_timer_client::protocol::{Deadline, TimeoutId, TimerError, MAX_TIMEOUTS, MIN_PERIOD_NS};
use mantle_timer_client::Timer;

const NS_PER_MS: u64 = 1_000_000;
/// Largest schedule a runner takes.
pub const MAX_SPECS: usize = 8;

/// Where the runner is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Expiries still expected.
    Running,
    /// Every expiry arrived in order and none early.
    Done,
    /// A check failed (already printed as `timer: FAIL ...`).
    Failed,
}

/// A client running one schedule.
pub struct Runner {
    who: &'static str,
    specs: &'static [Spec],
    timer: Timer,
    start: u64,
    /// Requested time of each spec's first expiry (ns, driver clock).
    first: [u64; MAX_SPECS],
    fired: [u32; MAX_SPECS],
    by_id: [Option<usize>; MAX_TIMEOUTS],
    watchdog: Option<TimeoutId>,
    checker: Checker,
    /// Periodic expiries that happened after the last wanted one but before
    /// the client's cancel reached the driver (legitimate, counted).
    pub extra: u32,
}

/// Print a failure and report it.
fn fail(who: &str, what: core::fmt::Arguments<'_>) -> Progress {
    debug_println!("timer: FAIL: {}: {}", who, what);
    Progress::Failed
}

/// `ns` as `ms.µµµ`.
struct Ms(u64);
impl core::fmt::Display for Ms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:03}", self.0 / NS_PER_MS, self.0 % NS_PER_MS / 1000)
    }
}

impl Runner {
    /// Arm `specs` (cancelling the `cancelled` ones at once).
    pub fn start(
        who: &'static str,
        specs: &'static [Spec],
        timer: Timer,
    ) -> Result<Self, TimerError> {
        assert!(specs.len() <= MAX_SPECS);
        let start = timer.now_ns()?;
        let mut r = Runner {
            who,
            specs,
            timer,
            start,
            first: [0; MAX_SPECS],
            fired: [0; MAX_SPECS],
            by_id: [None; MAX_TIMEOUTS],
            watchdog: None,
            checker: Checker::new(specs),
            extra: 0,
        };
        for (i, s) in specs.iter().enumerate() {
            let offset = s.first_ms * NS_PER_MS;
            // For a relative timeout the driver adds `offset` to its own
            // clock when the call arrives, which is no earlier than `before`.
            let before = timer.now_ns()?;
            let (deadline, requested) = if s.absolute {
                (Deadline::Absolute(start + offset), start + offset)
            } else {
                (Deadline::Relative(offset), before + offset)
            };
            let id = if s.period_ms > 0 {
                timer.set_periodic(deadline, s.period_ms * NS_PER_MS)?
            } else {
                timer.set_timeout(deadline)?
            };
            r.first[i] = requested;
            if s.cancelled {
                timer.cancel(id)?;
            } else {
                r.by_id[id.index()] = Some(i);
            }
        }
        Ok(r)
    }

    /// Also fail if the schedule has not completed `ms` after the start.
    pub fn arm_watchdog(&mut self, ms: u64) -> Result<(), TimerError> {
        let id = self
            .timer
            .set_timeout(Deadline::Absolute(self.start + ms * NS_PER_MS))?;
        self.watchdog = Some(id);
        Ok(())
    }

    /// Handle a notification from the timer.
    pub fn notified(&mut self) -> Progress {
        let who = self.who;
        let (now, expired) = match (self.timer.now_ns(), self.timer.take_expired()) {
            (Ok(n), Ok(e)) => (n, e),
            (Err(e), _) | (_, Err(e)) => return fail(who, format_args!("timer call: {}", e)),
        };
        // Collect this batch as (requested time, event), then order it.
        let mut batch = [(0u64, Event::default()); 32];
        let mut n = 0;
        for id in expired.ids() {
            if Some(id) == self.watchdog {
                return fail(who, format_args!("watchdog expired; schedule incomplete"));
            }
            let Some(i) = self.by_id[id.index()] else {
                return fail(
                    who,
                    format_args!("expiry of id {} that it does not hold", id),
                );
            };
            let s = &self.specs[i];
            for _ in 0..expired.counts[id.index()] {
                if self.fired[i] == s.fires {
                    self.extra += 1;
                    continue;
                }
                self.fired[i] += 1;
                let nth = self.fired[i];
                if n == batch.len() {
                    return fail(who, format_args!("too many expiries in one notification"));
                }
                let requested = self.first[i] + (nth as u64 - 1) * s.period_ms * NS_PER_MS;
                batch[n] = (requested, Event { spec: i, nth });
                n += 1;
            }
            if self.fired[i] == s.fires {
                self.by_id[id.index()] = None;
                if s.period_ms > 0 {
                    if let Err(e) = self.timer.cancel(id) {
                        return fail(who, format_args!("cancel {}: {}", s.name, e));
                    }
                }
            }
        }
        batch[..n].sort_unstable_by_key(|(t, e)| (*t, e.spec));
        for &(requested, event) in &batch[..n] {
            let s = &self.specs[event.spec];
            match self.checker.record(event, requested, now) {
                Ok(()) => debug_println!(
                    "{}: {} #{} requested {} ms, handled {} ms (late {} us)",
                    who,
                    s.name,
                    event.nth,
                    Ms(requested - self.start),
                    Ms(now - self.start),
                    (now - requested) / 1000
                ),
                Err(Violation::Early { .. }) => {
                    return fail(
                        who,
                        format_args!(
                            "{} #{} EARLY: requested {} ms, handled {} ms",
                            s.name,
                            event.nth,
                            Ms(requested.saturating_sub(self.start)),
                            Ms(now.saturating_sub(self.start))
                        ),
                    )
                }
                Err(Violation::OutOfOrder { expected, .. }) => {
                    return match expected {
                        Some(x) => fail(
                            who,
                            format_args!(
                                "{} #{} out of order: expected {} #{} first",
                                s.name, event.nth, self.specs[x.spec].name, x.nth
                            ),
                        ),
                        None => fail(who, format_args!("unexpected {} #{}", s.name, event.nth)),
                    }
                }
            }
        }
        if !self.checker.complete() {
            return Progress::Running;
        }
        if let Some(w) = self.watchdog.take() {
            if let Err(e) = self.timer.cancel(w) {
                return fail(who, format_args!("cancel watchdog: {}", e));
            }
        }
        debug_println!(
            "{}: {} expiries in order, none early (max late {} us, {} extra periodic)",
            who,
            self.checker.seen(),
            self.checker.max_late_ns / 1000,
            self.extra
        );
        Progress::Done
    }
}

/// Protocol checks a client makes while another client has timeouts
/// pending: it cannot cancel ids it does not hold (ids are per client), bad
/// periods are refused, and the per-client limit holds.
pub fn check_isolation_and_limits(who: &str, timer: Timer) -> Result<(), TimerError> {
    for raw in 0..MAX_TIMEOUTS as u64 {
        let id = TimeoutId::new(raw).ok_or(TimerError::BadReply)?;
        match timer.cancel(id) {
            Err(TimerError::NotFound) => {}
            Ok(()) => {
                debug_println!("timer: FAIL: {}: cancelled id {} it never armed", who, raw);
                return Err(TimerError::BadReply);
            }
            Err(e) => return Err(e),
        }
    }
    debug_println!("{}: cannot cancel ids it does not hold", who);
    match timer.set_periodic(Deadline::Relative(NS_PER_MS), MIN_PERIOD_NS - 1) {
        Err(TimerError::Invalid) => {}
        other => {
            debug_println!("timer: FAIL: {}: too short a period gave {:?}", who, other);
            return Err(TimerError::BadReply);
        }
    }
    let mut ids = [None; MAX_TIMEOUTS];
    for slot in ids.iter_mut() {
        *slot = Some(timer.set_timeout(Deadline::Relative(60_000 * NS_PER_MS))?);
    }
    let seventeenth = timer.set_timeout(Deadline::Relative(60_000 * NS_PER_MS));
    for id in ids.iter().flatten() {
        timer.cancel(*id)?;
    }
    if seventeenth != Err(TimerError::Full) {
        debug_println!(
            "timer: FAIL: {}: timeout {} beyond the limit gave {:?}",
            who,
            MAX_TIMEOUTS + 1,
            seventeenth
        );
        return Err(TimerError::BadReply);
    }
    debug_println!(
        "{}: limit of {} timeouts enforced; short period refused",
        who,
        MAX_TIMEOUTS
    );
    Ok(())
}
