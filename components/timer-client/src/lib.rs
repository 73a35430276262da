//! # mantle-timer-client: talking to Mantle's timer driver
//!
//! The timer driver (`drivers/timer/hpet`) is a high-priority server that
//! owns the HPET. Clients reach it by protected procedure call (PPC) on a
//! channel whose client end has `pp="true"`; the driver identifies the
//! client by the channel the call arrived on, so a client can only ever see,
//! change or cancel its own timeouts.
//!
//! | call | registers in | reply |
//! |---|---|---|
//! | [`now_ns`](Timer::now_ns) | — | time since the HPET started, ns |
//! | [`set_timeout`](Timer::set_timeout) | time, period, flags | a per-client [`TimeoutId`] |
//! | [`cancel`](Timer::cancel) | id | — |
//! | [`take_expired`](Timer::take_expired) | — | which ids expired, how often |
//!
//! Each expiry is delivered as a **notification** on the same channel. A
//! notification carries no data and several coalesce, so the client's
//! `notified` handler calls [`Timer::take_expired`] to learn which timeouts
//! fired (a bit mask of ids, and for each id how many times it expired since
//! the last call, which is more than 1 only for a periodic timeout the
//! client did not keep up with).
//!
//! ## Design principles
//! - **One source of truth for the wire format**: [`protocol`] holds the
//!   labels, register positions and error codes, with pure encode/decode
//!   functions used by both the driver and this library, and tested on the
//!   host.
//! - **Never early.** Times are rounded *up* when converted to HPET ticks;
//!   an expiry is reported only once the HPET's counter has reached the
//!   deadline.
//! - **Bounded per client.** At most [`protocol::MAX_TIMEOUTS`] timeouts per
//!   client; periodic timeouts have a minimum period
//!   ([`protocol::MIN_PERIOD_NS`]) so one client cannot flood the driver.
//! - **Event-driven.** There is no blocking sleep: a PD arms a timeout and
//!   returns to its event loop; the expiry arrives as a notification.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod protocol;

pub use protocol::{Deadline, Expired, TimeoutId, TimerError};

use mantle_runtime::{mr_get, mr_set, msginfo_new, Channel};
use protocol::{Reply, Request};

/// A handle on the timer driver: the channel (with `pp="true"` on this end)
/// to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    ch: Channel,
}

impl Timer {
    /// The driver reached through channel `ch`.
    pub const fn new(ch: Channel) -> Self {
        Timer { ch }
    }

    /// The channel to the driver (expiries are notified on it).
    pub const fn channel(self) -> Channel {
        self.ch
    }

    /// The driver as a composed system's `__mantle_config` names it
    /// (`TimerClientConfig`; declare the blob with
    /// `mantle_config::config_blob!()`), or `fallback` when the image was not
    /// patched (a hand-written SDF). A patched but invalid blob panics with
    /// the reason: it is a build error.
    pub fn configured<B: mantle_config::Bytes + ?Sized>(blob: &B, fallback: Channel) -> Self {
        match Timer::connect(blob) {
            Ok(t) => t,
            Err(mantle_config::Error::NotPatched) => Timer::new(fallback),
            Err(e) => panic!("bad __mantle_config: {}", e),
        }
    }

    /// The driver as this PD's `__mantle_config` names it: the one call a
    /// client of a `<timer_subsystem>` needs (declare the blob with
    /// `mantle_config::config_blob!()`). The error says what to change:
    /// `NotPatched` means the PD is not a `<client>` of a timer subsystem.
    ///
    /// ```ignore
    /// mantle_config::config_blob!();
    /// let timer = Timer::connect(&__mantle_config).unwrap_or_else(|e| panic!("timer: {}", e));
    /// let now = timer.now_ns()?;
    /// timer.set_periodic(Deadline::Absolute(now + 50_000_000), 50_000_000)?;
    /// ```
    pub fn connect<B: mantle_config::Bytes + ?Sized>(
        blob: &B,
    ) -> Result<Self, mantle_config::Error> {
        use mantle_config::timer::TimerClientConfig;
        mantle_config::decode::<TimerClientConfig, B>(blob)
            .map(|c| Timer::new(Channel::new(c.channel.0 as usize)))
    }

    fn call(self, req: Request) -> Result<Reply, TimerError> {
        let (label, regs, n) = req.encode();
        for (i, r) in regs[..n].iter().enumerate() {
            mr_set(i, *r);
        }
        let reply =
            self.ch
                .ppcall(msginfo_new(label, n))
                .map_err(|cause| TimerError::Unreachable {
                    channel: self.ch,
                    cause,
                })?;
        Reply::decode(&req, reply.label(), reply.count(), mr_get)
    }

    /// The current time in nanoseconds (since the HPET's counter started).
    pub fn now_ns(self) -> Result<u64, TimerError> {
        match self.call(Request::GetTime)? {
            Reply::Time(t) => Ok(t),
            _ => Err(TimerError::BadReply),
        }
    }

    /// Arm a one-shot timeout at `deadline`.
    pub fn set_timeout(self, deadline: Deadline) -> Result<TimeoutId, TimerError> {
        self.arm(deadline, 0)
    }

    /// Arm a periodic timeout: first at `first`, then every `period_ns`
    /// (at least [`protocol::MIN_PERIOD_NS`]) after that first deadline,
    /// without drift, until cancelled.
    pub fn set_periodic(self, first: Deadline, period_ns: u64) -> Result<TimeoutId, TimerError> {
        if period_ns == 0 {
            return Err(TimerError::Invalid);
        }
        self.arm(first, period_ns)
    }

    fn arm(self, deadline: Deadline, period_ns: u64) -> Result<TimeoutId, TimerError> {
        match self.call(Request::SetTimeout {
            deadline,
            period_ns,
        })? {
            Reply::Armed(id) => Ok(id),
            _ => Err(TimerError::BadReply),
        }
    }

    /// Cancel timeout `id` (one of this client's). Expiries of it not yet
    /// taken with [`take_expired`](Self::take_expired) are discarded.
    pub fn cancel(self, id: TimeoutId) -> Result<(), TimerError> {
        match self.call(Request::Cancel(id))? {
            Reply::Done => Ok(()),
            _ => Err(TimerError::BadReply),
        }
    }

    /// Which of this client's timeouts expired since the last call. Call it
    /// from `notified` on the timer channel.
    pub fn take_expired(self) -> Result<Expired, TimerError> {
        match self.call(Request::TakeExpired)? {
            Reply::Expired(e) => Ok(e),
            _ => Err(TimerError::BadReply),
        }
    }
}
