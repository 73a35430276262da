//! The timer protocol's server side, independent of the hardware: decode a
//! request from a client, act on that client's timeout table, encode the
//! reply. The clock is passed in (`now`, ns), so this is tested on the host.

use crate::timeouts::Timeouts;
use mantle_timer_client::protocol::{Regs, Reply, Request, TimerError};

/// Client channels are ids `0..MAX_CLIENTS` of the driver.
pub const MAX_CLIENTS: usize = 16;

/// The driver's state apart from the hardware.
#[derive(Debug, Default)]
pub struct Server {
    timeouts: Timeouts<MAX_CLIENTS>,
}

impl Server {
    /// No client has a timeout.
    pub const fn new() -> Self {
        Server {
            timeouts: Timeouts::new(),
        }
    }

    /// Serve `req` from the client on channel `client` at time `now`.
    pub fn handle(&mut self, client: usize, req: Request, now: u64) -> Result<Reply, TimerError> {
        let table = self
            .timeouts
            .client(client)
            .ok_or(TimerError::UnknownClient)?;
        match req {
            Request::GetTime => Ok(Reply::Time(now)),
            Request::SetTimeout {
                deadline,
                period_ns,
            } => table
                .add(deadline.resolve(now), period_ns)
                .map(Reply::Armed),
            Request::Cancel(id) => table.cancel(id).map(|()| Reply::Done),
            Request::TakeExpired => Ok(Reply::Expired(table.take_expired())),
        }
    }

    /// Decode, serve and encode: `(reply label, registers, count)`.
    /// Malformed requests get an error label, never a panic.
    pub fn handle_raw(
        &mut self,
        client: usize,
        label: u64,
        count: usize,
        get: impl Fn(usize) -> u64,
        now: u64,
    ) -> (u64, Regs, usize) {
        let reply = Request::decode(label, count, get).and_then(|r| self.handle(client, r, now));
        match reply {
            Ok(r) => r.encode(),
            Err(e) => (e.code(), [0; 17], 0),
        }
    }

    /// Expire everything due at `now`; returns the mask of client channels
    /// to notify.
    pub fn expire(&mut self, now: u64) -> u64 {
        self.timeouts.expire(now)
    }

    /// The next deadline of any client, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timeouts.earliest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mantle_timer_client::protocol::{self as p, Deadline, TimeoutId};

    #[test]
    fn serves_a_client_session() {
        let mut s = Server::new();
        assert_eq!(s.handle(0, Request::GetTime, 7), Ok(Reply::Time(7)));
        let set = |deadline| Request::SetTimeout {
            deadline,
            period_ns: 0,
        };
        let a = match s.handle(0, set(Deadline::Relative(100)), 1000) {
            Ok(Reply::Armed(id)) => id,
            r => panic!("{r:?}"),
        };
        assert_eq!(s.next_deadline(), Some(1100));
        s.handle(1, set(Deadline::Absolute(500)), 1000).unwrap();
        // Client 1's absolute deadline is already past: due at once.
        assert_eq!(s.expire(1000), 0b10);
        assert_eq!(s.expire(1099), 0);
        assert_eq!(s.expire(1100), 0b01);
        match s.handle(0, Request::TakeExpired, 1100) {
            Ok(Reply::Expired(e)) => assert_eq!(e.ids().collect::<Vec<_>>(), [a]),
            r => panic!("{r:?}"),
        }
        assert_eq!(
            s.handle(16, Request::GetTime, 0),
            Err(TimerError::UnknownClient)
        );
    }

    #[test]
    fn one_client_cannot_cancel_anothers_timeout() {
        let mut s = Server::new();
        let req = Request::SetTimeout {
            deadline: Deadline::Relative(10),
            period_ns: p::MIN_PERIOD_NS,
        };
        assert_eq!(
            s.handle(3, req, 0),
            Ok(Reply::Armed(TimeoutId::new(0).unwrap()))
        );
        let id0 = TimeoutId::new(0).unwrap();
        assert_eq!(
            s.handle(4, Request::Cancel(id0), 0),
            Err(TimerError::NotFound)
        );
        assert_eq!(s.next_deadline(), Some(10));
        assert_eq!(s.handle(3, Request::Cancel(id0), 0), Ok(Reply::Done));
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn raw_requests_are_checked() {
        let mut s = Server::new();
        let (label, _, n) = s.handle_raw(0, 99, 0, |_| 0, 0);
        assert_eq!((label, n), (TimerError::Invalid.code(), 0));
        let regs = [5u64, 0, 0];
        let (label, r, n) = s.handle_raw(2, p::SET_TIMEOUT, 3, |i| regs[i], 10);
        assert_eq!((label, r[0], n), (p::OK, 0, 1));
        assert_eq!(s.next_deadline(), Some(15));
        let (label, _, _) = s.handle_raw(63, p::GET_TIME, 0, |_| 0, 0);
        assert_eq!(label, TimerError::UnknownClient.code());
    }
}
