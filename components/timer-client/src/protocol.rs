//! The timer driver's PPC protocol: labels, registers, errors.
//!
//! Requests (label, then message registers):
//!
//! | label | registers | reply (label [`OK`]) |
//! |---|---|---|
//! | [`GET_TIME`] | — | `mr0` = now, ns |
//! | [`SET_TIMEOUT`] | `mr0` = time ns, `mr1` = period ns (0: one-shot), `mr2` = flags ([`FLAG_ABSOLUTE`]) | `mr0` = timeout id |
//! | [`CANCEL`] | `mr0` = timeout id | — |
//! | [`TAKE_EXPIRED`] | — | `mr0` = mask of expired ids, `mr1 + i` = expiries of id `i` (for `i` up to the highest set bit) |
//!
//! Any other reply label is an error code ([`TimerError::code`]). Every
//! field the peer sends is checked by the receiver: the driver refuses
//! unknown labels, short messages, unknown flags, bad ids and periods below
//! [`MIN_PERIOD_NS`]; the client refuses replies with the wrong register
//! count, ids out of range and counts for ids not in the mask.

use mantle_runtime::{Channel, Error};

/// Timeouts a client may have pending at once (ids `0..MAX_TIMEOUTS`).
pub const MAX_TIMEOUTS: usize = 16;
/// Shortest period of a periodic timeout: 100 µs.
pub const MIN_PERIOD_NS: u64 = 100_000;

/// Label: read the time.
pub const GET_TIME: u64 = 1;
/// Label: arm a timeout.
pub const SET_TIMEOUT: u64 = 2;
/// Label: cancel a timeout.
pub const CANCEL: u64 = 3;
/// Label: take the expired-timeout report.
pub const TAKE_EXPIRED: u64 = 4;

/// Reply label: success.
pub const OK: u64 = 0;
/// `SET_TIMEOUT` flag: `mr0` is an absolute time, not relative to now.
pub const FLAG_ABSOLUTE: u64 = 1;

/// When a timeout expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// This many ns after the driver receives the request.
    Relative(u64),
    /// At this time in ns, on the clock of [`GET_TIME`]. A time in the past
    /// expires at once.
    Absolute(u64),
}

impl Deadline {
    /// The absolute time, given the driver's `now`. Saturates instead of
    /// wrapping.
    pub const fn resolve(self, now: u64) -> u64 {
        match self {
            Deadline::Relative(d) => now.saturating_add(d),
            Deadline::Absolute(t) => t,
        }
    }
}

/// A client's name for one of its timeouts, in `0..MAX_TIMEOUTS`. Ids are
/// per client: two clients' id 3 are unrelated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeoutId(u8);

impl TimeoutId {
    /// The id `raw`, if in range.
    pub const fn new(raw: u64) -> Option<Self> {
        if raw < MAX_TIMEOUTS as u64 {
            Some(TimeoutId(raw as u8))
        } else {
            None
        }
    }
    /// As an index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl core::fmt::Display for TimeoutId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a timer call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// All [`MAX_TIMEOUTS`] ids are in use (or hold expiries not yet taken).
    Full,
    /// A malformed request: unknown label or flags, too few registers, a
    /// period below [`MIN_PERIOD_NS`].
    Invalid,
    /// No such timeout pending for this client.
    NotFound,
    /// The channel is not one of the driver's client channels.
    UnknownClient,
    /// The PPC itself failed: the driver was not reached on `channel`.
    /// `cause` is the runtime's reason: usually a channel error (a wrong
    /// channel id, or an end without `pp="true"`), or
    /// [`Error::CalleeFailed`] when the driver faulted or was stopped.
    /// Raised by the client, never sent by the driver.
    Unreachable {
        /// The channel the call was made on.
        channel: Channel,
        /// Why the call failed.
        cause: Error,
    },
    /// The reply did not decode.
    BadReply,
}

impl TimerError {
    /// The reply label carrying this error. [`TimerError::Unreachable`]
    /// and [`TimerError::BadReply`] arise in the client; their codes (5
    /// and 6) are reserved and the driver never sends them.
    pub const fn code(self) -> u64 {
        match self {
            TimerError::Full => 1,
            TimerError::Invalid => 2,
            TimerError::NotFound => 3,
            TimerError::UnknownClient => 4,
            TimerError::Unreachable { .. } => 5,
            TimerError::BadReply => 6,
        }
    }

    /// The error for reply label `code` (`None` for [`OK`], an unknown
    /// code, or 5: a driver cannot know why the client failed to reach it).
    pub const fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => TimerError::Full,
            2 => TimerError::Invalid,
            3 => TimerError::NotFound,
            4 => TimerError::UnknownClient,
            6 => TimerError::BadReply,
            _ => return None,
        })
    }
}

impl core::fmt::Display for TimerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TimerError::Full => "no free timeout id",
            TimerError::Invalid => "invalid request",
            TimerError::NotFound => "no such timeout",
            TimerError::UnknownClient => "not a client channel",
            TimerError::Unreachable { channel, cause } => {
                write!(f, "timer driver unreachable on channel {channel}: {cause}")?;
                return match cause {
                    Error::CalleeFailed => f.write_str("; see the driver's fault report"),
                    c if c.channel().is_some() => {
                        f.write_str("; check the channel id the subsystem gave this PD")
                    }
                    _ => Ok(()),
                };
            }
            TimerError::BadReply => "malformed reply",
        })
    }
}

/// Expiries since the last [`TAKE_EXPIRED`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Bit `i` set: timeout `i` expired at least once.
    pub mask: u64,
    /// How many times each id expired (0 where the mask bit is clear).
    pub counts: [u32; MAX_TIMEOUTS],
}

impl Expired {
    /// Whether nothing expired.
    pub const fn is_empty(&self) -> bool {
        self.mask == 0
    }

    /// The expired ids, lowest first.
    pub fn ids(&self) -> impl Iterator<Item = TimeoutId> + '_ {
        (0..MAX_TIMEOUTS as u64)
            .filter(move |i| self.mask & (1 << i) != 0)
            .filter_map(TimeoutId::new)
    }
}

/// A decoded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// [`GET_TIME`].
    GetTime,
    /// [`SET_TIMEOUT`]; `period_ns` 0 means one-shot.
    SetTimeout {
        /// First (or only) expiry.
        deadline: Deadline,
        /// Period, or 0.
        period_ns: u64,
    },
    /// [`CANCEL`].
    Cancel(TimeoutId),
    /// [`TAKE_EXPIRED`].
    TakeExpired,
}

/// Registers of an encoded message (the first `n` are used).
pub type Regs = [u64; 1 + MAX_TIMEOUTS];

impl Request {
    /// `(label, registers, count)` to send.
    pub fn encode(&self) -> (u64, Regs, usize) {
        let mut r = [0; 1 + MAX_TIMEOUTS];
        match *self {
            Request::GetTime => (GET_TIME, r, 0),
            Request::SetTimeout {
                deadline,
                period_ns,
            } => {
                let (t, flags) = match deadline {
                    Deadline::Relative(d) => (d, 0),
                    Deadline::Absolute(t) => (t, FLAG_ABSOLUTE),
                };
                r[0] = t;
                r[1] = period_ns;
                r[2] = flags;
                (SET_TIMEOUT, r, 3)
            }
            Request::Cancel(id) => {
                r[0] = id.0 as u64;
                (CANCEL, r, 1)
            }
            Request::TakeExpired => (TAKE_EXPIRED, r, 0),
        }
    }

    /// Decode (and check) a request: `get(i)` reads register `i < count`.
    pub fn decode(
        label: u64,
        count: usize,
        get: impl Fn(usize) -> u64,
    ) -> Result<Self, TimerError> {
        let need = |n: usize| {
            if count >= n {
                Ok(())
            } else {
                Err(TimerError::Invalid)
            }
        };
        match label {
            GET_TIME => Ok(Request::GetTime),
            SET_TIMEOUT => {
                need(3)?;
                let (t, period_ns, flags) = (get(0), get(1), get(2));
                if flags & !FLAG_ABSOLUTE != 0 || (period_ns != 0 && period_ns < MIN_PERIOD_NS) {
                    return Err(TimerError::Invalid);
                }
                let deadline = if flags & FLAG_ABSOLUTE != 0 {
                    Deadline::Absolute(t)
                } else {
                    Deadline::Relative(t)
                };
                Ok(Request::SetTimeout {
                    deadline,
                    period_ns,
                })
            }
            CANCEL => {
                need(1)?;
                TimeoutId::new(get(0))
                    .map(Request::Cancel)
                    .ok_or(TimerError::NotFound)
            }
            TAKE_EXPIRED => Ok(Request::TakeExpired),
            _ => Err(TimerError::Invalid),
        }
    }
}

/// A decoded reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// To [`GET_TIME`].
    Time(u64),
    /// To [`SET_TIMEOUT`].
    Armed(TimeoutId),
    /// To [`CANCEL`].
    Done,
    /// To [`TAKE_EXPIRED`].
    Expired(Expired),
}

impl Reply {
    /// `(label OK, registers, count)` to send.
    pub fn encode(&self) -> (u64, Regs, usize) {
        let mut r = [0; 1 + MAX_TIMEOUTS];
        let n = match self {
            Reply::Time(t) => {
                r[0] = *t;
                1
            }
            Reply::Armed(id) => {
                r[0] = id.0 as u64;
                1
            }
            Reply::Done => 0,
            Reply::Expired(e) => {
                let mask = e.mask & ((1 << MAX_TIMEOUTS) - 1);
                r[0] = mask;
                let used = 64 - mask.leading_zeros() as usize;
                for i in 0..used {
                    r[1 + i] = if mask & (1 << i) != 0 {
                        e.counts[i] as u64
                    } else {
                        0
                    };
                }
                1 + used
            }
        };
        (OK, r, n)
    }

    /// Decode (and check) the reply to `req`: `get(i)` reads register
    /// `i < count`.
    pub fn decode(
        req: &Request,
        label: u64,
        count: usize,
        get: impl Fn(usize) -> u64,
    ) -> Result<Self, TimerError> {
        if label != OK {
            return Err(TimerError::from_code(label).unwrap_or(TimerError::BadReply));
        }
        let need = |n: usize| {
            if count >= n {
                Ok(())
            } else {
                Err(TimerError::BadReply)
            }
        };
        match req {
            Request::GetTime => {
                need(1)?;
                Ok(Reply::Time(get(0)))
            }
            Request::SetTimeout { .. } => {
                need(1)?;
                TimeoutId::new(get(0))
                    .map(Reply::Armed)
                    .ok_or(TimerError::BadReply)
            }
            Request::Cancel(_) => Ok(Reply::Done),
            Request::TakeExpired => {
                need(1)?;
                let mask = get(0);
                if mask >> MAX_TIMEOUTS != 0 {
                    return Err(TimerError::BadReply);
                }
                let used = 64 - mask.leading_zeros() as usize;
                need(1 + used)?;
                let mut e = Expired {
                    mask,
                    counts: [0; MAX_TIMEOUTS],
                };
                for (i, c) in e.counts.iter_mut().enumerate().take(used) {
                    let v = get(1 + i);
                    let set = mask & (1 << i) != 0;
                    if set != (v != 0) || v > u32::MAX as u64 {
                        return Err(TimerError::BadReply);
                    }
                    *c = v as u32;
                }
                Ok(Reply::Expired(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_request(r: Request) -> Result<Request, TimerError> {
        let (label, regs, n) = r.encode();
        Request::decode(label, n, |i| regs[i])
    }

    fn round_trip_reply(req: Request, r: Reply) -> Result<Reply, TimerError> {
        let (label, regs, n) = r.encode();
        Reply::decode(&req, label, n, |i| regs[i])
    }

    #[test]
    fn requests_round_trip() {
        for r in [
            Request::GetTime,
            Request::TakeExpired,
            Request::Cancel(TimeoutId::new(15).unwrap()),
            Request::SetTimeout {
                deadline: Deadline::Relative(5),
                period_ns: 0,
            },
            Request::SetTimeout {
                deadline: Deadline::Absolute(u64::MAX),
                period_ns: MIN_PERIOD_NS,
            },
        ] {
            assert_eq!(round_trip_request(r), Ok(r));
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let z = |_| 0;
        assert_eq!(Request::decode(99, 0, z), Err(TimerError::Invalid));
        assert_eq!(Request::decode(SET_TIMEOUT, 2, z), Err(TimerError::Invalid));
        assert_eq!(Request::decode(CANCEL, 0, z), Err(TimerError::Invalid));
        assert_eq!(
            Request::decode(CANCEL, 1, |_| 16),
            Err(TimerError::NotFound)
        );
        // Unknown flag bits.
        let regs = [1, 0, 2];
        assert_eq!(
            Request::decode(SET_TIMEOUT, 3, |i| regs[i]),
            Err(TimerError::Invalid)
        );
        // Period too short.
        let regs = [1, MIN_PERIOD_NS - 1, 0];
        assert_eq!(
            Request::decode(SET_TIMEOUT, 3, |i| regs[i]),
            Err(TimerError::Invalid)
        );
    }

    #[test]
    fn replies_round_trip() {
        let mut e = Expired {
            mask: 0b1000_0000_0000_0101,
            ..Default::default()
        };
        e.counts[0] = 1;
        e.counts[2] = 7;
        e.counts[15] = 1;
        assert_eq!(
            round_trip_reply(Request::TakeExpired, Reply::Expired(e)),
            Ok(Reply::Expired(e))
        );
        let (_, _, n) = Reply::Expired(Expired::default()).encode();
        assert_eq!(n, 1);
        assert_eq!(
            round_trip_reply(Request::GetTime, Reply::Time(42)),
            Ok(Reply::Time(42))
        );
        let ids: [usize; 3] = [0, 2, 15];
        assert!(e.ids().map(TimeoutId::index).eq(ids));
    }

    #[test]
    fn bad_replies_are_refused() {
        let req = Request::TakeExpired;
        // Mask beyond MAX_TIMEOUTS.
        assert_eq!(
            Reply::decode(&req, OK, 1, |_| 1 << 16),
            Err(TimerError::BadReply)
        );
        // Count register missing.
        assert_eq!(
            Reply::decode(&req, OK, 1, |_| 0b10),
            Err(TimerError::BadReply)
        );
        // Count for an id not in the mask.
        let regs = [0b10, 3, 1];
        assert_eq!(
            Reply::decode(&req, OK, 3, |i| regs[i]),
            Err(TimerError::BadReply)
        );
        // Error labels map back.
        assert_eq!(
            Reply::decode(&req, TimerError::Full.code(), 0, |_| 0),
            Err(TimerError::Full)
        );
        assert_eq!(
            Reply::decode(&req, 1234, 0, |_| 0),
            Err(TimerError::BadReply)
        );
        let set = Request::SetTimeout {
            deadline: Deadline::Relative(1),
            period_ns: 0,
        };
        assert_eq!(
            Reply::decode(&set, OK, 1, |_| 16),
            Err(TimerError::BadReply)
        );
    }

    #[test]
    fn deadlines_resolve_without_wrapping() {
        assert_eq!(Deadline::Relative(5).resolve(10), 15);
        assert_eq!(Deadline::Relative(u64::MAX).resolve(10), u64::MAX);
        assert_eq!(Deadline::Absolute(3).resolve(10), 3);
    }

    #[test]
    fn error_codes_round_trip() {
        for e in [
            TimerError::Full,
            TimerError::Invalid,
            TimerError::NotFound,
            TimerError::UnknownClient,
            TimerError::BadReply,
        ] {
            assert_eq!(TimerError::from_code(e.code()), Some(e));
        }
        assert_eq!(TimerError::from_code(OK), None);
        // The client's own error is never decoded from a reply.
        let unreachable = TimerError::Unreachable {
            channel: Channel::new(1),
            cause: Error::CalleeFailed,
        };
        assert_eq!(TimerError::from_code(unreachable.code()), None);
    }

    #[test]
    fn unreachable_keeps_and_shows_its_cause() {
        extern crate std;
        use std::string::ToString;
        let ch = Channel::new(3);
        let wrong_id = TimerError::Unreachable {
            channel: ch,
            cause: Error::PpcallNotPermitted(ch),
        };
        assert_eq!(
            wrong_id.to_string(),
            std::format!(
                "timer driver unreachable on channel 3: {}; check the channel id the \
                 subsystem gave this PD",
                Error::PpcallNotPermitted(ch)
            )
        );
        assert!(wrong_id
            .to_string()
            .contains("channel 3 may not ppcall: its end in this PD lacks pp=\"true\""));
        let gone = TimerError::Unreachable {
            channel: ch,
            cause: Error::CalleeFailed,
        };
        assert_eq!(
            gone.to_string(),
            "timer driver unreachable on channel 3: the PD called faulted or was stopped \
             before it replied; see the driver's fault report"
        );
    }
}
