//! Syscall numbers and register conventions.
//!
//! A PD enters the kernel with the `syscall` instruction:
//!
//! | register | on entry              | on return            |
//! |----------|-----------------------|----------------------|
//! | `rax`    | syscall number        | status ([`Status`]) or, for [`RECV`], the event kind |
//! | `rdi`    | argument 0            | result 0             |
//! | `rsi`    | argument 1            | result 1             |
//! | `rdx`    | argument 2            | preserved            |
//! | `r10`    | argument 3            | preserved            |
//! | `rcx`, `r11` | clobbered by the instruction | clobbered |
//!
//! All other registers are preserved. Message registers travel in the IPC
//! buffer ([`crate::ipc::IpcBuffer`]); no syscall takes a pointer.

/// Does nothing and returns [`Status::Ok`]. Used to measure the kernel
/// round trip.
pub const NULL: u64 = 0;
/// Print `rdi` bytes taken from the start of the caller's IPC buffer
/// (at most [`crate::ipc::IPC_BUFFER_BYTES`]) on the kernel console.
pub const DEBUG_PUTS: u64 = 1;
/// Notify channel `rdi`.
pub const NOTIFY: u64 = 2;
/// Acknowledge (unmask) the IRQ on channel `rdi`.
pub const IRQ_ACK: u64 = 3;
/// Protected procedure call on channel `rdi` with message info `rsi`; the
/// message registers are in the IPC buffer. Returns the reply's message info
/// in `rsi` (and its registers in the IPC buffer).
pub const PPCALL: u64 = 4;
/// Optionally perform one action, then wait for the next event.
///
/// `rdi` is the action ([`ACTION_NONE`], [`ACTION_REPLY`], [`ACTION_NOTIFY`],
/// [`ACTION_IRQ_ACK`]) and `rsi` its argument (reply message info, or a
/// channel id). If the action fails, the call returns its error at once
/// without waiting. Otherwise `rax` is the event kind ([`EVENT_NOTIFIED`],
/// [`EVENT_PROTECTED`], [`EVENT_FAULT`]) and:
/// - notified: `rdi` = bit mask of the channel ids that were notified;
/// - protected: `rdi` = channel id, `rsi` = message info;
/// - fault: `rdi` = child id, `rsi` = message info of the fault message
///   (see [`crate::fault`]).
pub const RECV: u64 = 5;
/// Restart child `rdi` at instruction pointer `rsi` with a fresh stack.
pub const PD_RESTART: u64 = 6;
/// Stop child `rdi`: it runs no more until restarted.
pub const PD_STOP: u64 = 7;
/// Resume child `rdi` where it stopped or faulted.
pub const PD_RESUME: u64 = 8;
/// Read port `rsi` of I/O port grant `rdi`; `rdx` is the width in bytes
/// (1, 2 or 4). The value is returned in `rdi`.
pub const IOPORT_IN: u64 = 9;
/// Write `r10` to port `rsi` of I/O port grant `rdi`; `rdx` is the width in
/// bytes (1, 2 or 4).
pub const IOPORT_OUT: u64 = 10;
/// Write `rdx` bytes, taken from the start of the caller's IPC buffer (at
/// most [`crate::ipc::IPC_BUFFER_BYTES`]), one after another to the 8-bit
/// port `rsi` of I/O port grant `rdi`. One call fills a device FIFO: a
/// UART driver would otherwise make one syscall per byte.
pub const IOPORT_OUT_REP: u64 = 11;
/// Number of syscalls; numbers at or above it return [`Status::InvalidSyscall`].
pub const COUNT: u64 = 12;

/// [`RECV`] action: none, just wait.
pub const ACTION_NONE: u64 = 0;
/// [`RECV`] action: reply to the pending protected call with message info `rsi`.
pub const ACTION_REPLY: u64 = 1;
/// [`RECV`] action: notify channel `rsi` (a deferred notify).
pub const ACTION_NOTIFY: u64 = 2;
/// [`RECV`] action: acknowledge the IRQ on channel `rsi` (a deferred ack).
pub const ACTION_IRQ_ACK: u64 = 3;

/// Event kind returned by [`RECV`]: notifications arrived.
pub const EVENT_NOTIFIED: u64 = 1;
/// Event kind returned by [`RECV`]: a protected procedure call arrived.
pub const EVENT_PROTECTED: u64 = 2;
/// Event kind returned by [`RECV`]: a child faulted.
pub const EVENT_FAULT: u64 = 3;

/// Status codes. They are returned in `rax` as the two's complement of the
/// code, so every error is a "negative" `u64`, distinct from event kinds.
///
/// A syscall on a channel id fails with exactly one reason, checked in this
/// order: [`Status::NoSuchChannel`] (nothing is granted on the id), then the
/// kind of the id ([`Status::NotAChannel`] for NOTIFY or PPCALL on an IRQ,
/// [`Status::NotAnIrq`] for IRQ_ACK on a channel), then the right
/// ([`Status::NotifyNotPermitted`], [`Status::PpcallNotPermitted`]).
///
/// There is no status for "the peer is not of higher priority": a boot
/// description with `pp` towards a PD of equal or lower priority is
/// rejected by the tool and again by the kernel's boot checks
/// (`BootDescription::parse`), and priorities never change at run time, so
/// a PPCALL can never meet that case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The syscall number is unknown.
    InvalidSyscall = 1,
    /// Nothing is granted on this id: it is out of range
    /// (`0..`[`crate::limits::MAX_IDS`]) or the SDF gives the PD no channel
    /// end and no IRQ with it.
    NoSuchChannel = 2,
    /// An argument is out of range (a length, a width, a message count).
    InvalidArgument = 3,
    /// The child id names no child of the caller.
    InvalidChild = 4,
    /// The I/O port id is not granted, or the port lies outside the grant.
    InvalidPort = 5,
    /// A reply was requested but no protected call is pending.
    NoReplyPending = 6,
    /// The callee of a protected call faulted or was stopped before replying.
    CalleeFailed = 7,
    /// The instruction pointer is not a user address.
    InvalidAddress = 8,
    /// NOTIFY on a channel whose end in this PD has `notify="false"`.
    NotifyNotPermitted = 9,
    /// PPCALL on a channel whose end in this PD lacks `pp="true"`.
    PpcallNotPermitted = 10,
    /// NOTIFY or PPCALL on an id that is an IRQ, not a channel.
    NotAChannel = 11,
    /// IRQ_ACK on an id that is a channel, not an IRQ.
    NotAnIrq = 12,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 13] = [
        Status::Ok,
        Status::InvalidSyscall,
        Status::NoSuchChannel,
        Status::InvalidArgument,
        Status::InvalidChild,
        Status::InvalidPort,
        Status::NoReplyPending,
        Status::CalleeFailed,
        Status::InvalidAddress,
        Status::NotifyNotPermitted,
        Status::PpcallNotPermitted,
        Status::NotAChannel,
        Status::NotAnIrq,
    ];

    /// The value placed in `rax`.
    pub const fn to_raw(self) -> u64 {
        (self as u64).wrapping_neg()
    }

    /// Decode `rax`; `None` if it is not a status (for example an event kind).
    #[inline]
    pub fn from_raw(raw: u64) -> Option<Status> {
        let code = raw.wrapping_neg();
        Status::ALL.iter().copied().find(|s| *s as u64 == code)
    }

    /// Whether this status is about a channel id (the reasons a NOTIFY,
    /// PPCALL or IRQ_ACK, or a RECV action doing one, can fail with).
    pub const fn is_channel_error(self) -> bool {
        matches!(
            self,
            Status::NoSuchChannel
                | Status::NotifyNotPermitted
                | Status::PpcallNotPermitted
                | Status::NotAChannel
                | Status::NotAnIrq
        )
    }

    /// A short description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::InvalidSyscall => "invalid syscall",
            Status::NoSuchChannel => "no such channel",
            Status::InvalidArgument => "invalid argument",
            Status::InvalidChild => "invalid child",
            Status::InvalidPort => "invalid I/O port",
            Status::NoReplyPending => "no reply pending",
            Status::CalleeFailed => "callee failed",
            Status::InvalidAddress => "invalid address",
            Status::NotifyNotPermitted => "notify not permitted",
            Status::PpcallNotPermitted => "ppcall not permitted",
            Status::NotAChannel => "not a channel",
            Status::NotAnIrq => "not an IRQ",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_never_collides_with_events() {
        for s in Status::ALL {
            assert_eq!(Status::from_raw(s.to_raw()), Some(s));
        }
        for ev in [EVENT_NOTIFIED, EVENT_PROTECTED, EVENT_FAULT] {
            assert_eq!(Status::from_raw(ev), None);
        }
    }

    #[test]
    fn all_is_complete_and_in_code_order() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as u64, i as u64, "{s:?}");
        }
        // One past the last code is no status.
        assert_eq!(
            Status::from_raw((Status::ALL.len() as u64).wrapping_neg()),
            None
        );
    }

    #[test]
    fn channel_errors_are_told_apart() {
        let channel: [Status; 5] = [
            Status::NoSuchChannel,
            Status::NotifyNotPermitted,
            Status::PpcallNotPermitted,
            Status::NotAChannel,
            Status::NotAnIrq,
        ];
        for s in Status::ALL {
            assert_eq!(s.is_channel_error(), channel.contains(&s), "{s:?}");
        }
        let mut texts: [&str; 13] = [""; 13];
        for (t, s) in texts.iter_mut().zip(Status::ALL) {
            *t = s.as_str();
        }
        for (i, a) in texts.iter().enumerate() {
            assert!(!texts[i + 1..].contains(a), "{a} twice");
        }
    }
}
