//! The user's entry points and the event loop.

use crate::channel::{Channel, ChannelSet, DEFERRED};
use crate::child::{Child, FaultInfo};
use crate::raw;
use crate::vars::pd_name;
use core::sync::atomic::{AtomicBool, Ordering};
use mantle_abi::ipc::MessageInfo;
use mantle_abi::syscall::{
    ACTION_NONE, ACTION_REPLY, EVENT_FAULT, EVENT_NOTIFIED, EVENT_PROTECTED, RECV,
};

/// Set while the panic handler prints, so a panic inside it does not
/// recurse. Cleared by [`run`], because a restarted PD keeps its data.
pub(crate) static PANICKING: AtomicBool = AtomicBool::new(false);

/// Label of the reply sent by the default [`Handler::protected`]: the
/// largest label, with no registers.
pub const UNHANDLED_LABEL: u64 = MessageInfo::MAX_LABEL;

/// A PD's event handlers (libmicrokit's `notified`, `protected` and
/// `fault`). The value returned by the PD's `init` function implements it.
pub trait Handler {
    /// Channel `ch` was notified (or its IRQ fired). Called once per set
    /// bit, lowest channel id first; several notifies on one channel before
    /// the PD runs coalesce into one call. The default prints a warning.
    fn notified(&mut self, ch: Channel) {
        crate::debug_println!("{}: unexpected notification on channel {}", pd_name(), ch);
    }

    /// A protected procedure call arrived on `ch`; its registers are in the
    /// IPC buffer ([`crate::mr_get`]). Set the reply's registers with
    /// [`crate::mr_set`] and return its message info; the event loop replies
    /// as it waits for the next event. The default replies with label
    /// [`UNHANDLED_LABEL`] and no registers.
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
/// loop {
///     (event, a, b) = RECV(action, arg)   // reply, deferred notify/irq_ack, or nothing
///     NOTIFIED  => notified(i) for each set bit i of a, lowest first
///     PROTECTED => the next action is REPLY(protected(a, b))
///     FAULT     => if fault(child a, b) { PD_RESUME(a) }
/// }
/// ```
///
/// When a reply and a deferred action are both pending, the deferred action
/// is performed first with its own syscall and the reply rides on `RECV`.
/// If `RECV`'s action fails the kernel returns the error without waiting;
/// the loop prints it and waits again without an action.
pub fn run<H: Handler>(init: impl FnOnce() -> H) -> ! {
    // A restarted PD re-enters here with its data as it was; start clean.
    DEFERRED.clear();
    PANICKING.store(false, Ordering::Relaxed);
    let mut handler = init();
    let mut reply: Option<MessageInfo> = None;
    loop {
        let (action, arg) = match reply.take() {
            Some(r) => {
                if let Some(d) = DEFERRED.take() {
                    if let Err(e) = d.run_now() {
                        crate::debug_println!("{}: deferred {:?} failed: {}", pd_name(), d, e);
                    }
                }
                (ACTION_REPLY, r.raw())
            }
            None => DEFERRED.take().map_or((ACTION_NONE, 0), |d| d.action()),
        };
        let r = raw::syscall(RECV, action, arg, 0, 0);
        match r.rax {
            EVENT_NOTIFIED => {
                for ch in ChannelSet::from_mask(r.rdi) {
                    handler.notified(ch);
                }
            }
            EVENT_PROTECTED => {
                let msg = MessageInfo::from_raw(r.rsi)
                    .unwrap_or_else(|| panic!("kernel delivered a bad message info {:#x}", r.rsi));
                reply = Some(handler.protected(Channel::new(r.rdi as usize), msg));
            }
            EVENT_FAULT => {
                let child = Child::new(r.rdi as usize);
                let msg = MessageInfo::from_raw(r.rsi)
                    .unwrap_or_else(|| panic!("kernel delivered a bad fault message {:#x}", r.rsi));
                if handler.fault(child, msg) {
                    if let Err(e) = child.resume() {
                        crate::debug_println!(
                            "{}: resuming child {} failed: {}",
                            pd_name(),
                            child,
                            e
                        );
                    }
                }
            }
            status => {
                let err = crate::Error::check(status);
                if action == ACTION_NONE {
                    panic!("RECV failed: {:?}", err);
                }
                crate::debug_println!(
                    "{}: RECV action {} ({:#x}) failed: {:?}",
                    pd_name(),
                    action,
                    arg,
                    err
                );
            }
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
