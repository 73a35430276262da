//! Errors returned by syscalls.

use core::fmt;
use mantle_abi::syscall::Status;

/// Why a syscall failed: every [`Status`] except `Ok`, plus `Unknown` for a
/// value the kernel should never return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The syscall number is unknown.
    InvalidSyscall,
    /// The channel id is out of range, not granted, or granted without the
    /// right needed (notify, pp, IRQ).
    InvalidChannel,
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
    /// The kernel returned a value that is no status (a kernel bug), or a
    /// reply message info that does not decode.
    Unknown(u64),
}

impl Error {
    /// Decode a status register: `Ok(())` for [`Status::Ok`].
    pub fn check(raw: u64) -> Result<(), Error> {
        match Status::from_raw(raw) {
            Some(Status::Ok) => Ok(()),
            Some(s) => Err(Error::from_status(s)),
            None => Err(Error::Unknown(raw)),
        }
    }

    /// The error for a non-`Ok` status (`Ok` maps to `Unknown(0)`).
    pub const fn from_status(s: Status) -> Error {
        match s {
            Status::Ok => Error::Unknown(0),
            Status::InvalidSyscall => Error::InvalidSyscall,
            Status::InvalidChannel => Error::InvalidChannel,
            Status::InvalidArgument => Error::InvalidArgument,
            Status::InvalidChild => Error::InvalidChild,
            Status::InvalidPort => Error::InvalidPort,
            Status::NoReplyPending => Error::NoReplyPending,
            Status::CalleeFailed => Error::CalleeFailed,
            Status::InvalidAddress => Error::InvalidAddress,
        }
    }

    /// The corresponding status, if any.
    pub const fn status(self) -> Option<Status> {
        Some(match self {
            Error::InvalidSyscall => Status::InvalidSyscall,
            Error::InvalidChannel => Status::InvalidChannel,
            Error::InvalidArgument => Status::InvalidArgument,
            Error::InvalidChild => Status::InvalidChild,
            Error::InvalidPort => Status::InvalidPort,
            Error::NoReplyPending => Status::NoReplyPending,
            Error::CalleeFailed => Status::CalleeFailed,
            Error::InvalidAddress => Status::InvalidAddress,
            Error::ServingCall | Error::Unknown(_) => return None,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status() {
            Some(s) => f.write_str(s.as_str()),
            None => match self {
                Error::Unknown(v) => write!(f, "unknown status {v:#x}"),
                Error::ServingCall => f.write_str("cannot wait while serving a protected call"),
                _ => f.write_str("?"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_both_ways() {
        assert_eq!(Error::check(Status::Ok.to_raw()), Ok(()));
        for s in Status::ALL.iter().copied().skip(1) {
            let e = Error::check(s.to_raw()).unwrap_err();
            assert_eq!(e.status(), Some(s));
            assert_eq!(Error::from_status(s), e);
        }
        assert_eq!(Error::check(1), Err(Error::Unknown(1)));
        assert_eq!(Error::ServingCall.status(), None);
    }
}
