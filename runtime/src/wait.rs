//! Waiting for one channel inside a handler: [`wait_notified`].

use crate::channel::Channel;
use crate::error::Error;
use crate::handler::BUSY_LABEL;
use crate::stash::{FaultStashed, StashedFault};
use crate::sys::{next_action, ActionName, Event, Real, Sys};
use mantle_abi::fault::FAULT_MR_COUNT;
use mantle_abi::ipc::MessageInfo;
use mantle_abi::limits::{MAX_IDS, MAX_MESSAGE_REGISTERS};
use mantle_abi::syscall::ACTION_NONE;

/// Block until channel `ch` is notified (or its IRQ fires), from anywhere:
/// `init`, [`Handler::notified`](crate::Handler::notified) or
/// [`Handler::fault`](crate::Handler::fault). Also [`Channel::wait`].
///
/// This is a blocking call in an event-driven PD: it loops on `RECV` until
/// `ch` is among the notified channels, and keeps every other event the
/// kernel hands out meanwhile from being lost:
///
/// - **`ch`'s notification** is consumed: `notified(ch)` is not called for
///   it. If it is already waiting for delivery (it arrived during an earlier
///   wait, or it is in the batch the event loop is delivering), the call
///   returns at once without a syscall.
/// - **Other notifications** are stashed, and the event loop delivers them
///   to `notified` as soon as the current handler (or `init`) returns,
///   before its next `RECV`: lowest channel id first, each once (several
///   notifications of one channel coalesce, as they do in the kernel).
/// - **Child faults** are stashed with their message info and fault
///   registers and delivered to `fault` at the same point, before the
///   notifications; the registers are put back in the IPC buffer first, so
///   [`FaultInfo::read`](crate::FaultInfo::read) works. The child stays
///   stopped until then. (If this PD restarts a child and it faults again
///   before its first fault was delivered, only the newer fault is kept,
///   and a line is printed.)
/// - **Protected calls** cannot be served (the handler is borrowed): each
///   is answered at once with label [`BUSY_LABEL`] and no registers, and the
///   wait goes on. The caller's `ppcall` returns `Ok` with that label.
/// - **The deferred action** ([`Channel::deferred_notify`],
///   [`Channel::deferred_irq_ack`]) pending when the wait starts rides on
///   its first `RECV`, as it would on the event loop's. If `ch`'s
///   notification is already stashed, no `RECV` is made and the action
///   stays pending for the next one.
/// - **Message registers** are restored when the wait returns: calls and
///   faults received meanwhile overwrite the IPC buffer, so the wait saves
///   it first. (Printing with `debug_println!` does the same.)
///
/// It is meant for PDs that do not serve protected calls: a server that
/// waits answers every call arriving meanwhile with [`BUSY_LABEL`], and its
/// clients must cope with that (retry later). Inside
/// [`Handler::protected`](crate::Handler::protected) it refuses to wait
/// and returns [`Error::ServingCall`]: a `RECV` there would abandon the call
/// being served (its caller would get [`Error::CalleeFailed`]).
///
/// Other rules:
/// - In `init`, the wait's first `RECV` ends `init` as far as the kernel is
///   concerned (it counts the PD as initialised; a passive PD becomes
///   passive there).
/// - Whether `ch` is granted is the kernel's business and is not known
///   here: waiting for a channel that is never notified blocks forever.
///   IRQs must still be acknowledged ([`Channel::irq_ack`]).
/// - A passive PD is given no child faults (the kernel reports them), as in
///   the event loop.
///
/// # Errors
/// - [`Error::NoSuchChannel`]: `ch` is not below 62 (no channel id).
/// - [`Error::ServingCall`]: called inside `protected` (see above).
/// - The error of a failed `RECV` without an action (a kernel bug).
pub fn wait_notified(ch: Channel) -> Result<(), Error> {
    wait_on(&Real, ch)
}

impl Channel {
    /// Block until this channel is notified: [`wait_notified`]`(self)`,
    /// which documents the rules.
    pub fn wait(self) -> Result<(), Error> {
        wait_notified(self)
    }
}

/// [`wait_notified`] against any [`Sys`].
pub(crate) fn wait_on<S: Sys>(sys: &S, ch: Channel) -> Result<(), Error> {
    if ch.index() >= MAX_IDS {
        return Err(Error::NoSuchChannel(ch));
    }
    if sys.state().serving() {
        return Err(Error::ServingCall);
    }
    if sys.state().stash.take_notified(ch) {
        return Ok(());
    }
    let state = sys.state();
    for i in 0..MAX_MESSAGE_REGISTERS {
        state.save_mr(i, sys.mr_get(i));
    }
    let bit = 1u64 << ch.index();
    let mut reply: Option<MessageInfo> = None;
    let mut clobbered = false;
    let result = loop {
        let (action, arg) = next_action(sys, reply.take());
        match Event::decode(sys.recv(action, arg), action, arg) {
            Ok(Event::Notified(mask)) => {
                sys.state().stash.add_notified(mask & !bit);
                if mask & bit != 0 {
                    break Ok(());
                }
            }
            Ok(Event::Protected(..)) => {
                // The call's registers are in the IPC buffer now.
                clobbered = true;
                reply = Some(MessageInfo::new(BUSY_LABEL, 0));
            }
            Ok(Event::Fault(child, info)) => {
                clobbered = true;
                let mut regs = [0u64; FAULT_MR_COUNT];
                for (i, r) in regs.iter_mut().enumerate().take(info.count()) {
                    *r = sys.mr_get(i);
                }
                let f = StashedFault { info, regs };
                match sys.state().stash.add_fault(child, f) {
                    FaultStashed::Stored => {}
                    FaultStashed::Replaced => sys.report(format_args!(
                        "child {} faulted again before its earlier fault was delivered; \
                         only the newer fault will be",
                        child
                    )),
                    FaultStashed::BadChild => sys.report(format_args!(
                        "fault of unknown child {} dropped while waiting",
                        child
                    )),
                }
            }
            Err(e) if action == ACTION_NONE => break Err(e),
            Err(e) => sys.report(format_args!(
                "{} failed while waiting: {}",
                ActionName(action, arg),
                e
            )),
        }
    };
    if clobbered {
        for i in 0..MAX_MESSAGE_REGISTERS {
            sys.mr_set(i, state.saved_mr(i));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Deferred;
    use crate::child::Child;
    use crate::stash::Popped;
    use crate::sys::fake::{FakeSys, Script};
    use mantle_abi::syscall::{Status, ACTION_IRQ_ACK, ACTION_NOTIFY, ACTION_REPLY};
    extern crate std;
    use std::format;
    use std::vec::Vec;

    const A: Channel = Channel::new(0);

    fn busy() -> (u64, u64) {
        (ACTION_REPLY, MessageInfo::new(BUSY_LABEL, 0).raw())
    }

    fn pending(sys: &FakeSys) -> Vec<Popped> {
        core::iter::from_fn(|| sys.state.stash.pop_full()).collect()
    }

    #[test]
    fn returns_when_the_channel_is_notified_and_stashes_the_rest() {
        let sys = FakeSys::new(&[
            Script::Notify(1 << 3),
            Script::Notify(1 << 3 | 1 << 1),
            Script::Notify(1 << 0 | 1 << 2),
        ]);
        assert_eq!(wait_on(&sys, A), Ok(()));
        assert!(sys.done());
        assert_eq!(*sys.recvs.borrow(), [(ACTION_NONE, 0); 3]);
        // Channel 3 (notified twice) comes out once; A is consumed.
        assert_eq!(
            pending(&sys),
            [1, 2, 3].map(|i| Popped::Notified(Channel::new(i)))
        );
    }

    #[test]
    fn a_stashed_notification_satisfies_the_wait_without_recv() {
        let sys = FakeSys::new(&[]);
        sys.state.stash.add_notified(0b11);
        sys.deferred.set(Some(Deferred::Notify(Channel::new(7))));
        assert_eq!(wait_on(&sys, A), Ok(()));
        assert!(sys.recvs.borrow().is_empty());
        // The deferred action stays pending for the next RECV.
        assert_eq!(sys.deferred.get(), Some(Deferred::Notify(Channel::new(7))));
        assert_eq!(pending(&sys), [Popped::Notified(Channel::new(1))]);
    }

    #[test]
    fn the_deferred_action_rides_on_the_first_recv() {
        let sys = FakeSys::new(&[Script::Notify(1 << 4), Script::Notify(1)]);
        sys.deferred.set(Some(Deferred::Notify(Channel::new(9))));
        assert_eq!(wait_on(&sys, A), Ok(()));
        assert_eq!(*sys.recvs.borrow(), [(ACTION_NOTIFY, 9), (ACTION_NONE, 0)]);
        assert!(sys.ran_now.borrow().is_empty());
    }

    #[test]
    fn calls_get_the_busy_reply_and_registers_are_restored() {
        let call = MessageInfo::new(5, 4);
        let sys = FakeSys::new(&[
            Script::Call(2, call, [10, 11, 12, 13]),
            Script::Call(3, call, [20, 21, 22, 23]),
            Script::Notify(1 << 1),
            Script::Notify(1),
        ]);
        sys.mr_set(0, 0xfeed);
        sys.mr_set(63, 0xbeef);
        assert_eq!(wait_on(&sys, A), Ok(()));
        assert_eq!(
            *sys.recvs.borrow(),
            [(ACTION_NONE, 0), busy(), busy(), (ACTION_NONE, 0)]
        );
        assert_eq!((sys.mr_get(0), sys.mr_get(1)), (0xfeed, 0));
        assert_eq!(sys.mr_get(63), 0xbeef);
        assert_eq!(pending(&sys), [Popped::Notified(Channel::new(1))]);
    }

    #[test]
    fn a_call_and_a_deferred_action_both_go_out() {
        let call = MessageInfo::new(5, 0);
        let sys = FakeSys::new(&[Script::Call(2, call, [0; 4]), Script::Notify(1)]);
        sys.deferred.set(Some(Deferred::IrqAck(Channel::new(6))));
        assert_eq!(wait_on(&sys, A), Ok(()));
        // The ack rode on the first RECV; the busy reply on the second.
        assert_eq!(*sys.recvs.borrow(), [(ACTION_IRQ_ACK, 6), busy()]);
    }

    #[test]
    fn faults_are_stashed_with_their_registers() {
        let pf = MessageInfo::new(14, FAULT_MR_COUNT);
        let sys = FakeSys::new(&[
            Script::Fault(2, pf, [0x20_1000, 0x3000_0000, 4, 0x7fff_f000]),
            Script::Call(0, MessageInfo::new(1, 4), [1, 2, 3, 4]),
            Script::Fault(1, pf, [1, 2, 3, 4]),
            Script::Notify(1 << 5 | 1),
        ]);
        assert_eq!(wait_on(&sys, A), Ok(()));
        assert_eq!(
            pending(&sys),
            [
                Popped::Fault(
                    Child::new(1),
                    StashedFault {
                        info: pf,
                        regs: [1, 2, 3, 4]
                    }
                ),
                Popped::Fault(
                    Child::new(2),
                    StashedFault {
                        info: pf,
                        regs: [0x20_1000, 0x3000_0000, 4, 0x7fff_f000]
                    }
                ),
                Popped::Notified(Channel::new(5)),
            ]
        );
        assert!(sys.reports.borrow().is_empty());
        assert_eq!(sys.mr_get(1), 0);
    }

    #[test]
    fn refuses_inside_protected_and_bad_ids() {
        let sys = FakeSys::new(&[]);
        assert_eq!(
            wait_on(&sys, Channel::new(MAX_IDS)),
            Err(Error::NoSuchChannel(Channel::new(MAX_IDS)))
        );
        sys.state.set_serving(true);
        assert_eq!(wait_on(&sys, A), Err(Error::ServingCall));
        assert!(sys.recvs.borrow().is_empty());
    }

    #[test]
    fn a_failed_action_is_reported_and_the_wait_goes_on() {
        let sys = FakeSys::new(&[Script::Fail(Status::NotifyNotPermitted), Script::Notify(1)]);
        sys.deferred.set(Some(Deferred::Notify(Channel::new(40))));
        assert_eq!(wait_on(&sys, A), Ok(()));
        assert_eq!(*sys.recvs.borrow(), [(ACTION_NOTIFY, 40), (ACTION_NONE, 0)]);
        assert_eq!(
            *sys.reports.borrow(),
            [format!(
                "deferred notify on channel 40 failed while waiting: {}",
                Error::NotifyNotPermitted(Channel::new(40))
            )]
        );
        // Without an action a failure is returned.
        let sys = FakeSys::new(&[Script::Fail(Status::InvalidArgument)]);
        assert_eq!(wait_on(&sys, A), Err(Error::InvalidArgument));
    }
}
