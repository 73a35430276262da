//! Parent control of child PDs: PD_RESTART, PD_STOP, PD_RESUME.

use mantle_abi::layout::{STACK_TOP, USER_TOP};
use mantle_abi::limits::MAX_CHILD_IDS;
use mantle_abi::syscall::Status;

use crate::arch::{self, UserRegs};
use crate::kernel::Kernel;
use crate::pd::{PdId, ThreadState, NONE};
use crate::sched::QueueId;

/// Registers of a PD (re)starting at `ip` with a fresh stack.
pub fn initial_regs(ip: u64) -> UserRegs {
    arch::user_entry_regs(ip, STACK_TOP)
}

impl Kernel {
    /// The PD with child id `id` of `parent`.
    fn child(&self, parent: PdId, id: u64) -> Result<PdId, Status> {
        if id >= MAX_CHILD_IDS as u64 {
            return Err(Status::InvalidChild);
        }
        match self.tcbs[parent].children[id as usize] {
            NONE => Err(Status::InvalidChild),
            c => Ok(c as PdId),
        }
    }

    /// Take `pd` out of scheduling and fail the calls it serves or queues.
    /// `full` also abandons a call `pd` is making or waiting to make.
    pub fn detach(&mut self, pd: PdId, full: bool) {
        if self.current == Some(pd) {
            self.current = None;
        }
        let on_ready = matches!(self.tcbs[pd].state, ThreadState::Ready);
        if full || on_ready {
            self.sched.remove(pd);
        }
        if let Some(caller) = self.tcbs[pd].reply_to.take() {
            self.fail_call(caller);
        }
        while let Some(caller) = self.sched.front(QueueId::Callers(pd as u8)) {
            self.sched.remove(caller);
            self.fail_call(caller);
        }
        self.sched.thread_sc[pd] = pd as u8;
        if full && self.tcbs[pd].state == ThreadState::Call {
            let server = self.tcbs[pd].callee;
            if self.tcbs[server].reply_to == Some(pd) {
                self.tcbs[server].reply_to = None;
                self.sched.thread_sc[server] = server as u8;
                // The calls the server makes go on, on its SC now.
                self.rehome_calls_below(server);
            }
        } else {
            // A call `pd` makes goes on (a stop lets it complete), on
            // `pd`'s own SC now that `pd` serves no call.
            self.rehome_calls_below(pd);
        }
    }

    /// PD_RESTART: run child `id` from `ip` with a fresh stack.
    pub fn pd_restart(&mut self, parent: PdId, id: u64, ip: u64) -> Result<(), Status> {
        let child = self.child(parent, id)?;
        if ip >= USER_TOP {
            return Err(Status::InvalidAddress);
        }
        self.detach(child, true);
        if self.fpu_owner == Some(child) {
            self.fpu_owner = None;
        }
        let t = &mut self.tcbs[child];
        t.regs = initial_regs(ip);
        t.fpu_used = false;
        t.pending = 0;
        t.faulted_children = 0;
        t.initialised = false;
        t.suspended = false;
        self.tcbs[parent].faulted_children &= !(1 << id);
        self.make_ready(child);
        Ok(())
    }

    /// PD_STOP: suspend child `id`.
    ///
    /// The calls it serves fail, and so does a call it is still queued to
    /// make (it leaves the server's queue; the PPCALL returns CalleeFailed
    /// when the child is resumed). A call already being served completes
    /// normally: the child sees the reply when it resumes.
    pub fn pd_stop(&mut self, parent: PdId, id: u64) -> Result<(), Status> {
        let child = self.child(parent, id)?;
        if !self.tcbs[child].suspended {
            self.detach(child, false);
            self.init_ended(child, false);
            self.tcbs[child].suspended = true;
            if self.tcbs[child].state == ThreadState::Send {
                self.fail_call(child);
            }
        }
        Ok(())
    }

    /// PD_RESUME: let child `id` continue where it stopped or faulted.
    pub fn pd_resume(&mut self, parent: PdId, id: u64) -> Result<(), Status> {
        let child = self.child(parent, id)?;
        self.tcbs[parent].faulted_children &= !(1 << id);
        let t = &mut self.tcbs[child];
        if !t.suspended && t.state != ThreadState::Faulted {
            return Ok(());
        }
        t.suspended = false;
        let wake = match t.state {
            ThreadState::Faulted | ThreadState::Ready => true,
            ThreadState::Recv => self.take_event(child),
            _ => false,
        };
        if wake {
            self.make_ready(child);
        }
        Ok(())
    }
}
