//! Deadlock detection: a system in which no PD can run and nothing can wake
//! one is reported and powered off, instead of idling forever.
//!
//! # The invariant
//!
//! The kernel checks, each time the scheduler finds nothing to run (just
//! before the CPU idles), whether any PD can ever run again. It can if
//! 1. some PD is `Ready` and not stopped: it runs now, or as soon as its
//!    budget is replenished (a PD waiting for replenishment is `Ready` and
//!    queued; the timer that replenishes it is kernel-internal), or
//! 2. some IRQ line belongs to a PD that waits in `RECV` and is not
//!    stopped: the interrupt would wake it.
//!
//! Otherwise nothing can ever happen again, because only these change a
//! PD's state:
//! - a syscall, which needs a running PD;
//! - the timer interrupt, which only charges and replenishes budgets: it
//!   makes a `Ready` PD eligible, never a blocked one `Ready` (the kernel
//!   has no timeouts);
//! - a device interrupt, which sets a notification bit of the line's owner
//!   and wakes it only if it waits in `RECV` and is not stopped (`signal`).
//!   An owner in any other state keeps the bit pending, and only a PD that
//!   runs could change that state.
//!
//! None of the blocked states leaves on its own: `Recv` needs a
//! notification, a call or a child fault (all sent by running PDs, or by an
//! interrupt as above); `Call` needs the callee's reply (the callee must
//! run); `Send` needs the callee to wait (it must run); `Faulted` and
//! stopped PDs need their parent to run. A PD whose `init` has not run yet
//! is `Ready`, so a system is never reported before every PD has had its
//! chance; a passive server waiting for calls is `Recv` like any other, so
//! a system of passive servers and waiting clients without a live IRQ owner
//! is (rightly) reported.
//!
//! The check is conservative: an IRQ owner that waits counts as wakeable
//! even if its device will never interrupt again (say, it never
//! acknowledged the last interrupt), so such a system idles rather than
//! being reported. It never reports a system that could still run.

use core::fmt;

use mantle_abi::bootdesc::End;
use mantle_abi::exit;

use crate::arch;
use crate::kernel::Kernel;
use crate::kprintln;
use crate::pd::{PdId, ThreadState, NONE};

impl Kernel {
    /// The scheduler found nothing to run: if nothing ever can again, report
    /// the deadlock and power off with [`exit::DEADLOCK`].
    #[cold]
    #[inline(never)]
    pub fn idle_check(&self) {
        if self.can_ever_run() {
            return;
        }
        kprintln!("deadlock: no PD can run and nothing can wake one");
        for pd in 0..self.count {
            kprintln!(
                "deadlock:   PD '{}': {}",
                self.tcbs[pd].name(),
                PdState { k: self, pd }
            );
        }
        kprintln!("deadlock: powering off (status {})", exit::DEADLOCK);
        arch::exit(exit::DEADLOCK)
    }

    /// Whether any PD can run now or be woken later (see the module
    /// documentation for why nothing else can make one run).
    fn can_ever_run(&self) -> bool {
        let count = self.count.min(self.tcbs.len());
        // A waiting IRQ owner first: the common case of a driver waiting
        // for its device, found without touching every TCB.
        let irq_wakes = self.irqs.lines.iter().any(|l| {
            let owner = l.owner as PdId;
            l.owner != NONE && owner < count && {
                let t = &self.tcbs[owner];
                t.state == ThreadState::Recv && !t.suspended
            }
        });
        irq_wakes || self.tcbs[..count].iter().any(|t| t.runnable())
    }

    /// Whether some other PD holds a channel end to `pd` that may call it.
    fn callable(&self, pd: PdId) -> bool {
        self.tcbs[pd].ends.iter().any(|e| match *e {
            End::Channel {
                peer_pd, peer_id, ..
            } => self
                .tcbs
                .get(peer_pd as usize)
                .and_then(|p| p.ends.get(peer_id as usize))
                .is_some_and(|back| matches!(back, End::Channel { can_ppc: true, .. })),
            _ => false,
        })
    }
}

/// One PD's state, in words, for the deadlock report.
struct PdState<'a> {
    k: &'a Kernel,
    pd: PdId,
}

impl fmt::Display for PdState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.k;
        let t = &k.tcbs[self.pd];
        let callee = || k.tcbs.get(t.callee).map_or("?", |c| c.name());
        if t.suspended {
            f.write_str("stopped by its parent")?;
            if !t.initialised {
                f.write_str(" before its init ended")?;
            }
            return match t.state {
                ThreadState::Call => write!(f, ", in a call to '{}'", callee()),
                _ => Ok(()),
            };
        }
        match t.state {
            ThreadState::Recv if t.passive => {
                f.write_str("passive, waiting for a call or a notification")
            }
            ThreadState::Recv if k.callable(self.pd) => {
                f.write_str("waiting for a notification or a call")
            }
            ThreadState::Recv => f.write_str("waiting for a notification"),
            ThreadState::Call => write!(f, "waiting for a reply from '{}'", callee()),
            ThreadState::Send => write!(f, "waiting for '{}' to take its call", callee()),
            ThreadState::Faulted => {
                f.write_str("faulted")?;
                if !t.initialised {
                    f.write_str(" in init")?;
                }
                match t.parent {
                    Some(p) => write!(
                        f,
                        " (its parent '{}' did not restart or resume it)",
                        k.tcbs.get(p).map_or("?", |p| p.name())
                    ),
                    None => f.write_str(" (reported above)"),
                }
            }
            ThreadState::Ready => f.write_str("ready"),
            ThreadState::Inactive => f.write_str("never started"),
        }
    }
}
