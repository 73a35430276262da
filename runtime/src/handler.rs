//! The user's entry points and the event loop.

use crate::channel::{Channel, DEFERRED};
use crate::child::{Child, FaultInfo};
use crate::raw::RawResult;
use crate::stash::Pending;
use crate::sys::{next_action, ActionName, Event, Real, Sys, STATE};
use crate::vars::pd_name;
use core::sync::atomic::{AtomicBool, Ordering};
use mantle_abi::ipc::MessageInfo;
use mantle_abi::syscall::{ACTION_NONE, EVENT_NOTIFIED, EVENT_PROTECTED};

/// Set while the panic handler prints, so a panic inside it does not
/// recurse. Cleared by [`run`], because a restarted PD keeps its data.
pub(crate) static PANICKING: AtomicBool = AtomicBool::new(false);

/// Label of the reply sent by the default [`Handler::protected`]: the
/// largest label, with no registers.
pub const UNHANDLED_LABEL: u64 = MessageInfo::MAX_LABEL;

/// Label of the reply a PD sends, with no registers, to a protected call
/// that arrives while it is in [`crate::wait_notified`]: the handler is
/// busy, so the call cannot be served. The caller's `ppcall` returns
/// `Ok` with this label; it may try again later.
pub const BUSY_LABEL: u64 = MessageInfo::MAX_LABEL - 1;

/// A PD's event handlers (libmicrokit's `notified`, `protected` and
/// `fault`). The value returned by the PD's `init` function implements it.
pub trait Handler {
    /// Channel `ch` was notified (or its IRQ fired). Called once per set
    /// bit, lowest channel id first; several notifies on one channel before
    /// the PD runs coalesce into one call. Notifications that arrived while
    /// a handler was in [`crate::wait_notified`] are delivered the same way
    /// when it returns. The default prints a warning.
    fn notified(&mut self, ch: Channel) {
        crate::debug_println!("{}: unexpected notification on channel {}", pd_name(), ch);
    }

    /// A protected procedure call arrived on `ch`; its registers are in the
    /// IPC buffer ([`crate::mr_get`]). Set the reply's registers with
    /// [`crate::mr_set`] and return its message info; the event loop replies
    /// as it waits for the next event. The default replies with label
    /// [`UNHANDLED_LABEL`] and no registers.
    ///
    /// A call that arrives while the PD is in [`crate::wait_notified`] does
    /// not reach this function: the wait replies [`BUSY_LABEL`] at once.
    /// Inside this function [`crate::wait_notified`] refuses to wait
    /// ([`crate::Error::ServingCall`]).
    fn protected(&mut self, ch: Channel, msg: MessageInfo) -> MessageInfo {
        let _ = (ch, msg);
        MessageInfo::new(UNHANDLED_LABEL, 0)
    }

    /// Child `child` faulted; `msg` is the fault message (decode it with
    /// [`FaultInfo::read`]). The child stays stopped unless this returns
    /// `true`, in which case the event loop resumes it (`PD_RESUME`). The
    /// handler may instead restart or stop it ([`Child::restart`],
    /// [`Child::stop`]) and return `false`. The default prints the fault and
    /// leaves the child stopped.
    ///
    /// A fault that arrived during [`crate::wait_notified`] is delivered
    /// when the waiting handler returns, with its message registers put
    /// back in the IPC buffer first, so [`FaultInfo::read`] works as usual.
    fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
        let info = FaultInfo::read(msg);
        crate::debug_println!(
            "{}: child {} faulted: {}; left stopped",
            pd_name(),
            child,
            info
        );
        false
    }
}

/// Run `init`, then the event loop. Called by the code that
/// [`crate::protection_domain!`] generates; never returns.
///
/// ```text
/// init(); deliver stashed events
/// loop {
///     (event, a, b) = RECV(action, arg)   // reply, deferred notify/irq_ack, or nothing
///     NOTIFIED  => notified(i) for each set bit i of a, lowest first
///     PROTECTED => the next action is REPLY(protected(a, b))
///     FAULT     => if fault(child a, b) { PD_RESUME(a) }
///     deliver stashed events
/// }
/// ```
///
/// "Stashed events" are those a [`crate::wait_notified`] inside a handler
/// (or in `init`) received while waiting: child faults (to `fault`, lowest
/// child id first, with their registers put back in the IPC buffer), then
/// notifications (to `notified`, lowest channel id first), each once, as
/// soon as the handler returns and before the next `RECV`. The loop's own
/// notification bits go through the same stash, so a handler that waits
/// for a channel whose notification is still undelivered returns at once.
///
/// When a reply and a deferred action are both pending, the deferred action
/// is performed first with its own syscall and the reply rides on `RECV`.
/// If `RECV`'s action fails the kernel returns the error without waiting;
/// the loop prints it and waits again without an action.
// The event loop is the hot path of every PD: it sits in its own section,
// which the linker script places right after `_start` (see build.rs).
#[link_section = ".text.mantle_hot"]
pub fn run<H: Handler>(init: impl FnOnce() -> H) -> ! {
    // A restarted PD re-enters here with its data as it was; start clean.
    DEFERRED.clear();
    PANICKING.store(false, Ordering::Relaxed);
    STATE.reset();
    let sys = Real;
    let mut handler = init();
    deliver_stashed(&sys, &mut handler);
    let mut reply: Option<MessageInfo> = None;
    loop {
        reply = step(&sys, &mut handler, reply);
    }
}

/// One turn of the event loop: `RECV` (carrying `reply` or the deferred
/// action), dispatch the event, deliver what is stashed. Returns the reply
/// for the next `RECV`.
#[inline(always)]
pub(crate) fn step<S: Sys, H: Handler>(
    sys: &S,
    handler: &mut H,
    reply: Option<MessageInfo>,
) -> Option<MessageInfo> {
    let (action, arg) = next_action(sys, reply);
    let r = sys.recv(action, arg);
    let mut reply = None;
    // Notifications and calls are the hot paths: test for them first,
    // without building an `Event` (fewer branches and calls, which matters
    // most under QEMU's TCG).
    if r.rax == EVENT_NOTIFIED {
        sys.state().stash.add_notified(r.rdi);
    } else if let (EVENT_PROTECTED, Some(msg)) = (r.rax, MessageInfo::from_raw(r.rsi)) {
        sys.state().set_serving(true);
        reply = Some(handler.protected(Channel::new(r.rdi as usize), msg));
        sys.state().set_serving(false);
    } else {
        other_event(sys, handler, r, action, arg);
    }
    deliver_stashed(sys, handler);
    reply
}

/// The events [`step`] does not handle inline: faults, bad message infos
/// and `RECV` errors.
#[cold]
#[inline(never)]
fn other_event<S: Sys, H: Handler>(sys: &S, handler: &mut H, r: RawResult, action: u64, arg: u64) {
    match Event::decode(r, action, arg) {
        Ok(Event::Fault(child, msg)) => deliver_fault(sys, handler, child, msg),
        // (Handled by `step`; decoded here only if `step` changes.)
        Ok(Event::Notified(mask)) => sys.state().stash.add_notified(mask),
        Ok(Event::Protected(..)) => unreachable!("step serves protected calls"),
        Err(err) => {
            if action == ACTION_NONE {
                panic!("RECV failed: {:?}", err);
            }
            sys.report(format_args!("{} failed: {}", ActionName(action, arg), err));
        }
    }
}

/// Deliver every stashed event, including those stashed by waits in the
/// handlers called here.
#[inline(always)]
pub(crate) fn deliver_stashed<S: Sys, H: Handler>(sys: &S, handler: &mut H) {
    // (The handler may wait and stash more; `pop` sees it.)
    while let Some(p) = sys.state().stash.pop() {
        match p {
            Pending::Notified(ch) => handler.notified(ch),
            Pending::Fault(child) => deliver_stashed_fault(sys, handler, child),
        }
    }
}

/// Deliver child `child`'s stashed fault: put its registers back in the
/// IPC buffer, where `fault` expects them, and call it.
#[cold]
#[inline(never)]
fn deliver_stashed_fault<S: Sys, H: Handler>(sys: &S, handler: &mut H, child: Child) {
    let f = sys.state().stash.fault_record(child);
    for (i, &v) in f.regs.iter().enumerate() {
        sys.mr_set(i, v);
    }
    deliver_fault(sys, handler, child, f.info);
}

fn deliver_fault<S: Sys, H: Handler>(sys: &S, handler: &mut H, child: Child, msg: MessageInfo) {
    if handler.fault(child, msg) {
        if let Err(e) = sys.resume(child) {
            sys.report(format_args!("resuming child {} failed: {}", child, e));
        }
    }
}

/// Declare the PD's entry point: `init` is a function (or closure) taking no
/// arguments and returning a value that implements [`Handler`].
///
/// ```ignore
/// struct Pd;
/// impl mantle_runtime::Handler for Pd {}
/// fn init() -> Pd { Pd }
/// mantle_runtime::protection_domain!(init);
/// ```
#[macro_export]
macro_rules! protection_domain {
    ($init:expr) => {
        /// Called by the runtime's `_start`.
        #[no_mangle]
        extern "C" fn __mantle_main() -> ! {
            $crate::run($init)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stash::StashedFault;
    use crate::sys::fake::{FakeSys, Script};
    use crate::wait::wait_on;
    use mantle_abi::fault::{FaultKind, FAULT_MR_COUNT};
    use mantle_abi::syscall::{ACTION_NONE, ACTION_REPLY};
    extern crate std;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    /// Records every callback; waits on `wait_for` when notified on
    /// `wait_in`, and tries to wait inside `protected`.
    struct Recorder<'a> {
        sys: &'a FakeSys,
        log: Vec<String>,
        wait_in: Channel,
        wait_for: Channel,
    }

    impl Handler for Recorder<'_> {
        fn notified(&mut self, ch: Channel) {
            self.log.push(format!("n{ch}"));
            if ch == self.wait_in {
                let r = wait_on(self.sys, self.wait_for);
                self.log.push(format!("woke {r:?}"));
            }
        }
        fn protected(&mut self, ch: Channel, msg: MessageInfo) -> MessageInfo {
            let r = wait_on(self.sys, self.wait_for);
            self.log.push(format!("p{ch} {} {r:?}", msg.label()));
            MessageInfo::new(42, 0)
        }
        fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
            let f = FaultInfo::from_registers(msg, |i| self.sys.mr_get(i));
            self.log
                .push(format!("f{child} {:?} {:#x}", f.kind, f.addr));
            child.index() == 1
        }
    }

    fn recorder(sys: &FakeSys) -> Recorder<'_> {
        Recorder {
            sys,
            log: Vec::new(),
            wait_in: Channel::new(2),
            wait_for: Channel::new(0),
        }
    }

    #[test]
    fn events_stashed_by_a_wait_are_delivered_after_the_handler_once_each() {
        let pf = MessageInfo::new(FaultKind::PageFault as u64, FAULT_MR_COUNT);
        let sys = FakeSys::new(&[
            // The loop's event: channels 2 and 5; notified(2) waits for 0.
            Script::Notify(1 << 2 | 1 << 5),
            // During the wait: channel 3 twice, a call, channel 5 again,
            // a fault of child 1, then channel 0 (with 3 once more).
            Script::Notify(1 << 3),
            Script::Notify(1 << 3),
            Script::Call(4, MessageInfo::new(9, 2), [7, 7, 7, 7]),
            Script::Notify(1 << 5),
            Script::Fault(1, pf, [0x20_0000, 0x3000_0000, 4, 0x7000]),
            Script::Notify(1 << 0 | 1 << 3),
            // The next turn of the loop.
            Script::Notify(1 << 1),
        ]);
        let mut h = recorder(&sys);
        let reply = step(&sys, &mut h, None);
        assert_eq!(reply, None);
        assert_eq!(
            h.log,
            [
                "n2",
                "woke Ok(())",
                "f1 Ok(PageFault) 0x30000000",
                "n3",
                "n5",
            ]
        );
        assert_eq!(*sys.resumed.borrow(), [Child::new(1)]);
        let busy = MessageInfo::new(BUSY_LABEL, 0).raw();
        assert_eq!(
            *sys.recvs.borrow(),
            [
                (ACTION_NONE, 0),
                (ACTION_NONE, 0),
                (ACTION_NONE, 0),
                (ACTION_NONE, 0),
                (ACTION_REPLY, busy),
                (ACTION_NONE, 0),
                (ACTION_NONE, 0),
            ]
        );
        h.log.clear();
        step(&sys, &mut h, None);
        assert_eq!(h.log, ["n1"]);
        assert!(sys.done());
    }

    #[test]
    fn a_wait_for_a_channel_later_in_the_same_batch_returns_at_once() {
        // notified(2) waits for 4, which is in the batch being delivered:
        // the wait takes it, and notified(4) is not called.
        let sys = FakeSys::new(&[Script::Notify(1 << 2 | 1 << 4 | 1 << 6)]);
        let mut h = recorder(&sys);
        h.wait_for = Channel::new(4);
        step(&sys, &mut h, None);
        assert_eq!(h.log, ["n2", "woke Ok(())", "n6"]);
        assert!(sys.done());
        assert_eq!(sys.recvs.borrow().len(), 1);
    }

    #[test]
    fn protected_cannot_wait_and_its_reply_goes_out_with_the_next_recv() {
        let sys = FakeSys::new(&[
            Script::Call(3, MessageInfo::new(8, 0), [0; 4]),
            Script::Notify(1 << 1),
        ]);
        let mut h = recorder(&sys);
        let reply = step(&sys, &mut h, None);
        assert_eq!(reply, Some(MessageInfo::new(42, 0)));
        assert_eq!(h.log, ["p3 8 Err(ServingCall)"]);
        // After `protected` returned, waiting is allowed again.
        assert!(!sys.state.serving());
        step(&sys, &mut h, reply);
        assert_eq!(
            sys.recvs.borrow()[1],
            (ACTION_REPLY, MessageInfo::new(42, 0).raw())
        );
    }

    #[test]
    fn stashed_faults_restore_their_registers_and_resume_on_request() {
        let sys = FakeSys::new(&[]);
        let info = MessageInfo::new(FaultKind::InvalidOpcode as u64, FAULT_MR_COUNT);
        sys.state.stash.add_fault(
            Child::new(0),
            StashedFault {
                info,
                regs: [0x1234, 0, 0, 0x8000],
            },
        );
        sys.state.stash.add_notified(1 << 9);
        let mut h = recorder(&sys);
        deliver_stashed(&sys, &mut h);
        assert_eq!(h.log, ["f0 Ok(InvalidOpcode) 0x0", "n9"]);
        assert_eq!(sys.mr_get(0), 0x1234);
        // fault() returned false for child 0: it stays stopped.
        assert!(sys.resumed.borrow().is_empty());
    }
}
