//! Errors returned by syscalls.

use crate::channel::Channel;
use core::fmt;
use mantle_abi::limits::MAX_IDS;
use mantle_abi::syscall::Status;

/// Why a syscall failed: every [`Status`] except `Ok`, plus the runtime's
/// own [`Error::ServingCall`] and `Unknown` for a value the kernel should
/// never return.
///
/// The channel errors carry the channel the call was made on, and their
/// [`Display`](fmt::Display) says what is wrong with it and where to fix it
/// (the system description): a channel that does not exist is told from a
/// channel whose end lacks a right, and from an id of the wrong kind (an
/// IRQ used as a channel, or a channel acknowledged as an IRQ).
///
/// There is no error for "the peer is not of higher priority": a `pp` end
/// towards such a peer is rejected when the system is built (and by the
/// kernel's boot checks), so a running PD never meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The syscall number is unknown.
    InvalidSyscall,
    /// Nothing is granted on this id: it is out of range (`0..62`), or the
    /// SDF gives this PD no `<end>` and no `<irq>` with it.
    NoSuchChannel(Channel),
    /// The channel's end in this PD has `notify="false"`.
    NotifyNotPermitted(Channel),
    /// The channel's end in this PD lacks `pp="true"`.
    PpcallNotPermitted(Channel),
    /// The id is an IRQ, not a channel: it can only be acknowledged.
    NotAChannel(Channel),
    /// The id is a channel, not an IRQ: there is nothing to acknowledge.
    NotAnIrq(Channel),
    /// An argument is out of range.
    InvalidArgument,
    /// The child id names no child of this PD.
    InvalidChild,
    /// The I/O port grant is unknown or the port lies outside it.
    InvalidPort,
    /// A reply was requested but no protected call is pending.
    NoReplyPending,
    /// The callee of a protected call faulted or was stopped.
    CalleeFailed,
    /// The address is not a user address.
    InvalidAddress,
    /// [`crate::wait_notified`] was called inside
    /// [`crate::Handler::protected`]: waiting there would abandon the call
    /// being served. (Raised by the runtime, not the kernel.)
    ServingCall,
    /// The kernel returned a value that is no status (a kernel bug), a
    /// channel status for a syscall on no channel, or a reply message info
    /// that does not decode.
    Unknown(u64),
}

impl Error {
    /// Decode the status register of a syscall that takes no channel:
    /// `Ok(())` for [`Status::Ok`].
    pub fn check(raw: u64) -> Result<(), Error> {
        Error::decode(raw, None)
    }

    /// Decode the status register of a syscall on channel `ch` (NOTIFY,
    /// PPCALL, IRQ_ACK, or a RECV whose action is one of them): a channel
    /// error names `ch`.
    #[inline]
    pub fn check_channel(raw: u64, ch: Channel) -> Result<(), Error> {
        Error::decode(raw, Some(ch))
    }

    #[inline]
    fn decode(raw: u64, ch: Option<Channel>) -> Result<(), Error> {
        match Status::from_raw(raw) {
            Some(Status::Ok) => Ok(()),
            Some(s) => Err(Error::from_status(s, ch)),
            None => Err(Error::Unknown(raw)),
        }
    }

    /// The error for a non-`Ok` status of a syscall on channel `ch` (`None`:
    /// on no channel). `Ok` maps to `Unknown(0)`, and a channel status
    /// without a channel to `Unknown` of its raw value.
    pub const fn from_status(s: Status, ch: Option<Channel>) -> Error {
        if let (true, Some(c)) = (s.is_channel_error(), ch) {
            return match s {
                Status::NotifyNotPermitted => Error::NotifyNotPermitted(c),
                Status::PpcallNotPermitted => Error::PpcallNotPermitted(c),
                Status::NotAChannel => Error::NotAChannel(c),
                Status::NotAnIrq => Error::NotAnIrq(c),
                _ => Error::NoSuchChannel(c),
            };
        }
        match s {
            Status::Ok => Error::Unknown(0),
            Status::InvalidSyscall => Error::InvalidSyscall,
            Status::InvalidArgument => Error::InvalidArgument,
            Status::InvalidChild => Error::InvalidChild,
            Status::InvalidPort => Error::InvalidPort,
            Status::NoReplyPending => Error::NoReplyPending,
            Status::CalleeFailed => Error::CalleeFailed,
            Status::InvalidAddress => Error::InvalidAddress,
            Status::NoSuchChannel
            | Status::NotifyNotPermitted
            | Status::PpcallNotPermitted
            | Status::NotAChannel
            | Status::NotAnIrq => Error::Unknown(s.to_raw()),
        }
    }

    /// The corresponding status, if any.
    pub const fn status(self) -> Option<Status> {
        Some(match self {
            Error::InvalidSyscall => Status::InvalidSyscall,
            Error::NoSuchChannel(_) => Status::NoSuchChannel,
            Error::NotifyNotPermitted(_) => Status::NotifyNotPermitted,
            Error::PpcallNotPermitted(_) => Status::PpcallNotPermitted,
            Error::NotAChannel(_) => Status::NotAChannel,
            Error::NotAnIrq(_) => Status::NotAnIrq,
            Error::InvalidArgument => Status::InvalidArgument,
            Error::InvalidChild => Status::InvalidChild,
            Error::InvalidPort => Status::InvalidPort,
            Error::NoReplyPending => Status::NoReplyPending,
            Error::CalleeFailed => Status::CalleeFailed,
            Error::InvalidAddress => Status::InvalidAddress,
            Error::ServingCall | Error::Unknown(_) => return None,
        })
    }

    /// The channel a channel error is about.
    pub const fn channel(self) -> Option<Channel> {
        match self {
            Error::NoSuchChannel(c)
            | Error::NotifyNotPermitted(c)
            | Error::PpcallNotPermitted(c)
            | Error::NotAChannel(c)
            | Error::NotAnIrq(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidSyscall => {
                f.write_str("unknown syscall number (runtime and kernel disagree on the ABI)")
            }
            Error::NoSuchChannel(c) if c.index() >= MAX_IDS => write!(
                f,
                "no channel {c}: channel and IRQ ids are 0..{MAX_IDS}; check the id"
            ),
            Error::NoSuchChannel(c) => write!(
                f,
                "no channel {c}: this PD's system description has no <end> or <irq> \
                 with id {c}; check the id"
            ),
            Error::NotifyNotPermitted(c) => write!(
                f,
                "channel {c} may not notify: its end in this PD has notify=\"false\" \
                 in the system description"
            ),
            Error::PpcallNotPermitted(c) => write!(
                f,
                "channel {c} may not ppcall: its end in this PD lacks pp=\"true\" in the \
                 system description (the PD called must have higher priority)"
            ),
            Error::NotAChannel(c) => write!(
                f,
                "id {c} is an IRQ, not a channel: it can only be acknowledged (irq_ack)"
            ),
            Error::NotAnIrq(c) => write!(
                f,
                "channel {c} is not an IRQ: only ids of this PD's <irq> elements can be \
                 acknowledged"
            ),
            Error::InvalidArgument => {
                f.write_str("invalid argument (a length, width or message count out of range)")
            }
            Error::InvalidChild => f.write_str("no such child: this PD has no child with that id"),
            Error::InvalidPort => {
                f.write_str("I/O port not granted: the port lies outside this PD's <ioport> grants")
            }
            Error::NoReplyPending => f.write_str("no protected call to reply to"),
            Error::CalleeFailed => {
                f.write_str("the PD called faulted or was stopped before it replied")
            }
            Error::InvalidAddress => f.write_str("not a user address"),
            Error::ServingCall => f.write_str(
                "cannot wait while serving a protected call (reply first: return from protected)",
            ),
            Error::Unknown(v) => write!(f, "unknown status {v:#x} (a kernel bug)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn statuses_map_both_ways() {
        let ch = Channel::new(3);
        assert_eq!(Error::check(Status::Ok.to_raw()), Ok(()));
        assert_eq!(Error::check_channel(Status::Ok.to_raw(), ch), Ok(()));
        for s in Status::ALL.iter().copied().skip(1) {
            let e = Error::check_channel(s.to_raw(), ch).unwrap_err();
            assert_eq!(e.status(), Some(s));
            assert_eq!(Error::from_status(s, Some(ch)), e);
            assert_eq!(e.channel().is_some(), s.is_channel_error());
            if s.is_channel_error() {
                assert_eq!(e.channel(), Some(ch));
                // Without a channel, a channel status is a kernel bug.
                assert_eq!(Error::check(s.to_raw()), Err(Error::Unknown(s.to_raw())));
            } else {
                assert_eq!(Error::check(s.to_raw()), Err(e));
            }
        }
        assert_eq!(Error::check(1), Err(Error::Unknown(1)));
        assert_eq!(Error::ServingCall.status(), None);
    }

    #[test]
    fn channel_errors_say_why_and_what_to_do() {
        let c = Channel::new(3);
        let text = |s: Status| Error::from_status(s, Some(c)).to_string();
        assert_eq!(
            text(Status::PpcallNotPermitted),
            "channel 3 may not ppcall: its end in this PD lacks pp=\"true\" in the system \
             description (the PD called must have higher priority)"
        );
        assert!(text(Status::NotifyNotPermitted).starts_with("channel 3 may not notify"));
        assert!(text(Status::NoSuchChannel).starts_with("no channel 3: "));
        assert!(text(Status::NotAChannel).starts_with("id 3 is an IRQ"));
        assert!(text(Status::NotAnIrq).starts_with("channel 3 is not an IRQ"));
        assert!(Error::NoSuchChannel(Channel::new(62))
            .to_string()
            .contains("ids are 0..62"));
        // Every reason reads differently.
        let all: std::vec::Vec<_> = Status::ALL[1..].iter().map(|&s| text(s)).collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a}");
        }
    }
}
