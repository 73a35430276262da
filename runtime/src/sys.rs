//! What the event loop and [`crate::wait_notified`] need from the kernel,
//! behind a trait, so that their logic runs against a scripted kernel in
//! host tests. [`Real`] is the PD's view: raw syscalls, the IPC buffer and
//! the runtime's statics.

use crate::channel::{Channel, Deferred, DEFERRED};
use crate::child::Child;
use crate::error::Error;
use crate::raw::{self, RawResult};
use crate::stash::RtState;
use core::fmt;
use mantle_abi::ipc::MessageInfo;
use mantle_abi::syscall::{
    ACTION_IRQ_ACK, ACTION_NONE, ACTION_NOTIFY, ACTION_REPLY, EVENT_FAULT, EVENT_NOTIFIED,
    EVENT_PROTECTED, RECV,
};

/// The kernel and the runtime state, as the event loop and the wait use
/// them.
pub(crate) trait Sys {
    /// `RECV(action, arg)`.
    fn recv(&self, action: u64, arg: u64) -> RawResult;
    /// Message register `i`.
    fn mr_get(&self, i: usize) -> u64;
    /// Set message register `i`.
    fn mr_set(&self, i: usize, value: u64);
    /// The runtime state.
    fn state(&self) -> &RtState;
    /// Take the pending deferred action.
    fn take_deferred(&self) -> Option<Deferred>;
    /// Perform a deferred action now, with its own syscall.
    fn run_deferred(&self, d: Deferred) -> Result<(), Error>;
    /// `PD_RESUME(child)`.
    fn resume(&self, child: Child) -> Result<(), Error>;
    /// Print a diagnostic line (the PD's name is prepended).
    fn report(&self, args: fmt::Arguments<'_>);
}

/// The runtime's state for this PD.
pub(crate) static STATE: RtState = RtState::new();

/// The real kernel.
pub(crate) struct Real;

impl Sys for Real {
    fn recv(&self, action: u64, arg: u64) -> RawResult {
        raw::syscall2(RECV, action, arg)
    }
    fn mr_get(&self, i: usize) -> u64 {
        crate::ipc::mr_get(i)
    }
    fn mr_set(&self, i: usize, value: u64) {
        crate::ipc::mr_set(i, value)
    }
    fn state(&self) -> &RtState {
        &STATE
    }
    fn take_deferred(&self) -> Option<Deferred> {
        DEFERRED.take()
    }
    fn run_deferred(&self, d: Deferred) -> Result<(), Error> {
        d.run_now()
    }
    fn resume(&self, child: Child) -> Result<(), Error> {
        child.resume()
    }
    fn report(&self, args: fmt::Arguments<'_>) {
        crate::debug_println!("{}: {}", crate::vars::pd_name(), args);
    }
}

/// An event `RECV` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// These channels (bit mask) were notified.
    Notified(u64),
    /// A protected call arrived; its registers are in the IPC buffer.
    Protected(Channel, MessageInfo),
    /// A child faulted; the fault message is in the IPC buffer.
    Fault(Child, MessageInfo),
}

impl Event {
    /// Decode the result registers of `RECV(action, arg)`: the event, or the
    /// error `RECV` returned (its action failed; a channel error names the
    /// action's channel). A malformed message info can only come from a
    /// kernel bug and panics.
    #[inline]
    pub(crate) fn decode(r: RawResult, action: u64, arg: u64) -> Result<Event, Error> {
        let info = |what: &str| {
            MessageInfo::from_raw(r.rsi)
                .unwrap_or_else(|| panic!("kernel delivered a bad {} {:#x}", what, r.rsi))
        };
        match r.rax {
            EVENT_NOTIFIED => Ok(Event::Notified(r.rdi)),
            EVENT_PROTECTED => Ok(Event::Protected(
                Channel::new(r.rdi as usize),
                info("message info"),
            )),
            EVENT_FAULT => Ok(Event::Fault(
                Child::new(r.rdi as usize),
                info("fault message"),
            )),
            status => {
                let checked = match action_channel(action, arg) {
                    Some(ch) => Error::check_channel(status, ch),
                    None => Error::check(status),
                };
                Err(checked.err().unwrap_or(Error::Unknown(status)))
            }
        }
    }
}

/// The channel a `RECV` action works on (a deferred notify or IRQ ack).
pub(crate) fn action_channel(action: u64, arg: u64) -> Option<Channel> {
    matches!(action, ACTION_NOTIFY | ACTION_IRQ_ACK).then_some(Channel::new(arg as usize))
}

/// A `RECV` action in words, for reports: `deferred notify on channel 3`.
pub(crate) struct ActionName(pub u64, pub u64);

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ACTION_NOTIFY => write!(f, "deferred notify on channel {}", self.1),
            ACTION_IRQ_ACK => write!(f, "deferred irq_ack on channel {}", self.1),
            ACTION_REPLY => f.write_str("reply"),
            a => write!(f, "RECV action {a} ({:#x})", self.1),
        }
    }
}

/// The action for the next `RECV`: the reply if there is one, else the
/// pending deferred action, else none. When a reply and a deferred action
/// are both pending, the deferred action is performed first with its own
/// syscall (a failure is reported) and the reply rides on `RECV`.
pub(crate) fn next_action<S: Sys>(sys: &S, reply: Option<MessageInfo>) -> (u64, u64) {
    match reply {
        Some(r) => {
            if let Some(d) = sys.take_deferred() {
                if let Err(e) = sys.run_deferred(d) {
                    let (action, arg) = d.action();
                    sys.report(format_args!("{} failed: {}", ActionName(action, arg), e));
                }
            }
            (ACTION_REPLY, r.raw())
        }
        None => sys.take_deferred().map_or((ACTION_NONE, 0), |d| d.action()),
    }
}

/// A scripted kernel for host tests.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use crate::stash::RtState;
    use core::cell::{Cell, RefCell};
    use mantle_abi::limits::MAX_MESSAGE_REGISTERS;
    use mantle_abi::syscall::Status;
    extern crate std;
    use std::collections::VecDeque;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// What the fake kernel delivers on one `RECV`.
    #[derive(Clone, Copy, Debug)]
    pub enum Script {
        /// `EVENT_NOTIFIED` with this mask.
        Notify(u64),
        /// `EVENT_PROTECTED` on a channel; the caller's registers are
        /// written to the IPC buffer.
        Call(usize, MessageInfo, [u64; 4]),
        /// `EVENT_FAULT` of a child; the fault registers are written to the
        /// IPC buffer.
        Fault(usize, MessageInfo, [u64; 4]),
        /// `RECV` fails with this status (without waiting).
        Fail(Status),
    }

    /// A kernel that plays a script of events and records what the PD did.
    pub struct FakeSys {
        pub script: RefCell<VecDeque<Script>>,
        /// `(action, arg)` of every `RECV`.
        pub recvs: RefCell<Vec<(u64, u64)>>,
        /// Deferred actions performed with their own syscall.
        pub ran_now: RefCell<Vec<Deferred>>,
        pub resumed: RefCell<Vec<Child>>,
        pub reports: RefCell<Vec<String>>,
        pub deferred: Cell<Option<Deferred>>,
        pub mrs: RefCell<[u64; MAX_MESSAGE_REGISTERS]>,
        pub state: RtState,
    }

    impl FakeSys {
        pub fn new(script: &[Script]) -> Self {
            FakeSys {
                script: RefCell::new(script.iter().copied().collect()),
                recvs: RefCell::new(Vec::new()),
                ran_now: RefCell::new(Vec::new()),
                resumed: RefCell::new(Vec::new()),
                reports: RefCell::new(Vec::new()),
                deferred: Cell::new(None),
                mrs: RefCell::new([0; MAX_MESSAGE_REGISTERS]),
                state: RtState::new(),
            }
        }

        /// Whether the script has been played to its end.
        pub fn done(&self) -> bool {
            self.script.borrow().is_empty()
        }
    }

    impl Sys for FakeSys {
        fn recv(&self, action: u64, arg: u64) -> RawResult {
            self.recvs.borrow_mut().push((action, arg));
            let next = self
                .script
                .borrow_mut()
                .pop_front()
                .expect("RECV past the end of the script (the PD would block forever)");
            let mut mrs = self.mrs.borrow_mut();
            match next {
                Script::Notify(mask) => RawResult {
                    rax: EVENT_NOTIFIED,
                    rdi: mask,
                    rsi: 0,
                },
                Script::Call(ch, info, regs) => {
                    mrs[..4].copy_from_slice(&regs);
                    RawResult {
                        rax: EVENT_PROTECTED,
                        rdi: ch as u64,
                        rsi: info.raw(),
                    }
                }
                Script::Fault(child, info, regs) => {
                    mrs[..4].copy_from_slice(&regs);
                    RawResult {
                        rax: EVENT_FAULT,
                        rdi: child as u64,
                        rsi: info.raw(),
                    }
                }
                Script::Fail(s) => RawResult {
                    rax: s.to_raw(),
                    rdi: 0,
                    rsi: 0,
                },
            }
        }
        fn mr_get(&self, i: usize) -> u64 {
            self.mrs.borrow()[i]
        }
        fn mr_set(&self, i: usize, value: u64) {
            self.mrs.borrow_mut()[i] = value;
        }
        fn state(&self) -> &RtState {
            &self.state
        }
        fn take_deferred(&self) -> Option<Deferred> {
            self.deferred.take()
        }
        fn run_deferred(&self, d: Deferred) -> Result<(), Error> {
            self.ran_now.borrow_mut().push(d);
            Ok(())
        }
        fn resume(&self, child: Child) -> Result<(), Error> {
            self.resumed.borrow_mut().push(child);
            Ok(())
        }
        fn report(&self, args: fmt::Arguments<'_>) {
            self.reports.borrow_mut().push(args.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeSys;
    use super::*;
    use mantle_abi::syscall::Status;

    #[test]
    fn events_decode() {
        let r = |rax, rdi, rsi| RawResult { rax, rdi, rsi };
        assert_eq!(
            Event::decode(r(EVENT_NOTIFIED, 0b101, 0), ACTION_NONE, 0),
            Ok(Event::Notified(0b101))
        );
        let m = MessageInfo::new(7, 2);
        assert_eq!(
            Event::decode(r(EVENT_PROTECTED, 3, m.raw()), ACTION_NONE, 0),
            Ok(Event::Protected(Channel::new(3), m))
        );
        assert_eq!(
            Event::decode(r(EVENT_FAULT, 1, m.raw()), ACTION_NONE, 0),
            Ok(Event::Fault(Child::new(1), m))
        );
        assert_eq!(
            Event::decode(r(Status::NoReplyPending.to_raw(), 0, 0), ACTION_REPLY, 0),
            Err(Error::NoReplyPending)
        );
        assert_eq!(
            Event::decode(r(0, 0, 0), ACTION_NONE, 0),
            Err(Error::Unknown(0))
        );
        // A failed deferred action names its channel.
        let fail = |s: Status| r(s.to_raw(), 0, 0);
        assert_eq!(
            Event::decode(fail(Status::NotifyNotPermitted), ACTION_NOTIFY, 2),
            Err(Error::NotifyNotPermitted(Channel::new(2)))
        );
        assert_eq!(
            Event::decode(fail(Status::NotAnIrq), ACTION_IRQ_ACK, 5),
            Err(Error::NotAnIrq(Channel::new(5)))
        );
        assert_eq!(
            Event::decode(fail(Status::NoSuchChannel), ACTION_REPLY, 0),
            Err(Error::Unknown(Status::NoSuchChannel.to_raw()))
        );
    }

    #[test]
    fn next_action_prefers_the_reply_and_runs_the_deferred_action_first() {
        let sys = FakeSys::new(&[]);
        assert_eq!(next_action(&sys, None), (ACTION_NONE, 0));
        sys.deferred.set(Some(Deferred::Notify(Channel::new(4))));
        assert_eq!(next_action(&sys, None), (ACTION_NOTIFY, 4));
        assert!(sys.ran_now.borrow().is_empty());
        sys.deferred.set(Some(Deferred::IrqAck(Channel::new(5))));
        let reply = MessageInfo::new(1, 0);
        assert_eq!(next_action(&sys, Some(reply)), (ACTION_REPLY, reply.raw()));
        assert_eq!(*sys.ran_now.borrow(), [Deferred::IrqAck(Channel::new(5))]);
        assert_eq!(sys.deferred.take(), None);
    }
}
