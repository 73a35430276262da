//! Child protection domains and their faults.

use crate::error::Error;
use crate::ipc::mr_get;
use crate::raw;
use core::fmt;
pub use mantle_abi::fault::FaultKind;
use mantle_abi::fault::{MR_ADDR, MR_ERROR_CODE, MR_IP, MR_SP, PF_FETCH, PF_PRESENT, PF_WRITE};
use mantle_abi::ipc::MessageInfo;
use mantle_abi::syscall;

/// The entry point of every PD built with this runtime: the linker script
/// puts `_start` first in `.text`, at the link address. Pass it to
/// [`Child::restart`] to start a child (built with this runtime) afresh.
pub const ENTRY_POINT: u64 = mantle_abi::layout::PD_LINK_ADDRESS;

/// A child PD, by the `id` its `<protection_domain>` element has inside this
/// PD's element in the SDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Child(usize);

impl Child {
    /// The child with SDF id `id`. Any number is accepted; the kernel checks
    /// it ([`Error::InvalidChild`]).
    pub const fn new(id: usize) -> Self {
        Child(id)
    }

    /// The SDF id.
    pub const fn index(self) -> usize {
        self.0
    }

    /// Restart the child at instruction pointer `entry` with a fresh stack.
    /// Its data is not reloaded (as in Microkit). [`ENTRY_POINT`] is the
    /// entry of a child built with this runtime.
    pub fn restart(self, entry: u64) -> Result<(), Error> {
        Error::check(raw::syscall(syscall::PD_RESTART, self.0 as u64, entry, 0, 0).rax)
    }

    /// Stop the child: it runs no more until restarted.
    pub fn stop(self) -> Result<(), Error> {
        Error::check(raw::syscall(syscall::PD_STOP, self.0 as u64, 0, 0, 0).rax)
    }

    /// Resume the child where it stopped or faulted. (Returning `true` from
    /// [`crate::Handler::fault`] does this for the faulting child.)
    pub fn resume(self) -> Result<(), Error> {
        Error::check(raw::syscall(syscall::PD_RESUME, self.0 as u64, 0, 0, 0).rax)
    }
}

impl fmt::Display for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Restart child `child` at `entry` (libmicrokit's `microkit_pd_restart`).
pub fn pd_restart(child: Child, entry: u64) -> Result<(), Error> {
    child.restart(entry)
}

/// Stop child `child` (libmicrokit's `microkit_pd_stop`).
pub fn pd_stop(child: Child) -> Result<(), Error> {
    child.stop()
}

/// Resume child `child`.
pub fn pd_resume(child: Child) -> Result<(), Error> {
    child.resume()
}

/// A decoded fault message, as a parent's [`crate::Handler::fault`] receives
/// it: the label is the [`FaultKind`], the registers are laid out per
/// [`mantle_abi::fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultInfo {
    /// The fault kind, or `Err(label)` if the label is not one.
    pub kind: Result<FaultKind, u64>,
    /// Faulting instruction pointer.
    pub ip: u64,
    /// Faulting address (page faults; 0 otherwise).
    pub addr: u64,
    /// The CPU's error code.
    pub error_code: u64,
    /// Stack pointer at the fault.
    pub sp: u64,
}

impl FaultInfo {
    /// Decode the fault message `msg` from the IPC buffer. Message
    /// registers beyond `msg.count()` read as 0.
    pub fn read(msg: MessageInfo) -> FaultInfo {
        Self::from_registers(msg, |i| if i < msg.count() { mr_get(i) } else { 0 })
    }

    /// Decode a fault message whose registers `mr(i)` supplies.
    pub fn from_registers(msg: MessageInfo, mr: impl Fn(usize) -> u64) -> FaultInfo {
        FaultInfo {
            kind: FaultKind::from_label(msg.label()).ok_or(msg.label()),
            ip: mr(MR_IP),
            addr: mr(MR_ADDR),
            error_code: mr(MR_ERROR_CODE),
            sp: mr(MR_SP),
        }
    }

    /// Whether this is a page fault caused by a write.
    pub fn is_write(&self) -> bool {
        self.kind == Ok(FaultKind::PageFault) && self.error_code & PF_WRITE != 0
    }

    /// Whether this is a page fault caused by an instruction fetch.
    pub fn is_fetch(&self) -> bool {
        self.kind == Ok(FaultKind::PageFault) && self.error_code & PF_FETCH != 0
    }

    /// Whether this is a page fault on a present page (a protection
    /// violation rather than a missing mapping).
    pub fn is_protection(&self) -> bool {
        self.kind == Ok(FaultKind::PageFault) && self.error_code & PF_PRESENT != 0
    }
}

impl fmt::Display for FaultInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Ok(k) => f.write_str(k.as_str())?,
            Err(l) => write!(f, "unknown fault {l}")?,
        }
        write!(f, " at ip={:#x}", self.ip)?;
        if self.kind == Ok(FaultKind::PageFault) {
            let access = if self.is_fetch() {
                "fetch"
            } else if self.is_write() {
                "write"
            } else {
                "read"
            };
            write!(f, " addr={:#x} ({access})", self.addr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn fault_info_decodes() {
        let msg = MessageInfo::new(FaultKind::PageFault as u64, 4);
        let regs = [0x20_1234, 0x1000_0000, PF_WRITE, 0x7fff_0000];
        let f = FaultInfo::from_registers(msg, |i| regs[i]);
        assert_eq!(f.kind, Ok(FaultKind::PageFault));
        assert!(f.is_write() && !f.is_fetch() && !f.is_protection());
        assert_eq!(f.addr, 0x1000_0000);
        assert_eq!(
            f.to_string(),
            "page fault (#PF) at ip=0x201234 addr=0x10000000 (write)"
        );
        let bad = FaultInfo::from_registers(MessageInfo::new(2, 0), |_| 0);
        assert_eq!(bad.kind, Err(2));
    }
}
