//! Notifications and protected procedure calls.
//!
//! Message registers move between IPC buffers through their physical
//! frames in the kernel's direct map; the kernel never dereferences a user
//! pointer.

use mantle_abi::bootdesc::End;
use mantle_abi::fault::{FAULT_MR_COUNT, MR_ADDR, MR_ERROR_CODE, MR_IP, MR_SP};
use mantle_abi::ipc::MessageInfo;
use mantle_abi::limits::MAX_IDS;
use mantle_abi::syscall::{self, Status};

use crate::arch::paging::phys_to_virt;
use crate::kernel::Kernel;
use crate::pd::{PdId, ThreadState};
use crate::sched::QueueId;

/// The IPC buffer of a PD as message registers.
fn mrs(ipc_paddr: u64) -> *mut u64 {
    phys_to_virt(ipc_paddr) as *mut u64
}

/// Copy `count` (≤ 64) message registers between two IPC buffer frames.
/// Only the registers the message info names are copied; a call with none
/// (the common case) copies nothing and makes no `memmove` call.
#[inline(always)]
pub(crate) fn copy_mrs(from: u64, to: u64, count: usize) {
    if count == 0 {
        return;
    }
    let (src, dst) = (mrs(from), mrs(to));
    if count > SMALL_COPY {
        // SAFETY: both are page-sized IPC buffer frames in RAM, checked at
        // boot to be PD memory in the direct map; 64 registers fill at most
        // 512 bytes of the page. `copy` tolerates overlap.
        unsafe { core::ptr::copy(src, dst, count) };
        return;
    }
    // A few registers (the common case): word by word, without the
    // `memmove` call and its alignment prologue. Volatile, so the loop is
    // not turned back into a `memmove` call.
    for i in 0..count {
        // SAFETY: as above; i < count ≤ SMALL_COPY < 64. The two frames are
        // distinct pages or the same one (then each word is copied onto
        // itself), so word-by-word copying is exact.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
    }
}

/// Most message registers [`copy_mrs`] copies word by word.
const SMALL_COPY: usize = 8;

/// Why a NOTIFY or PPCALL on `end` was refused, when `end` is not a channel
/// end with the right: `no_right` if it is a channel end without it.
/// (There is no "peer not of higher priority" case: the boot checks reject
/// `pp` towards such a peer, and priorities never change.)
#[cold]
fn refusal(end: Option<End>, no_right: Status) -> Status {
    match end {
        Some(End::Channel { .. }) => no_right,
        Some(End::Irq { .. }) => Status::NotAChannel,
        Some(End::None) | None => Status::NoSuchChannel,
    }
}

impl Kernel {
    /// Set notification bit `bit` of `pd`, waking it if it waits.
    #[link_section = ".text.hot"]
    pub fn signal(&mut self, pd: PdId, bit: u8) {
        self.tcbs[pd].pending |= 1 << bit;
        if self.tcbs[pd].state == ThreadState::Recv
            && !self.tcbs[pd].suspended
            && self.take_event(pd)
        {
            self.make_ready(pd);
        }
    }

    /// NOTIFY on channel `ch` of `pd`.
    #[link_section = ".text.hot"]
    pub fn notify(&mut self, pd: PdId, ch: u64) -> Result<(), Status> {
        match self.end(pd, ch) {
            Some(End::Channel {
                peer_pd,
                peer_id,
                can_notify: true,
                ..
            }) => {
                self.signal(peer_pd as PdId, peer_id);
                Ok(())
            }
            end => Err(refusal(end, Status::NotifyNotPermitted)),
        }
    }

    /// What id `ch` of `pd` grants (`None` if it is out of range).
    fn end(&self, pd: PdId, ch: u64) -> Option<End> {
        (ch < MAX_IDS as u64).then(|| self.tcbs[pd].ends[ch as usize])
    }

    /// PPCALL on channel `ch`. On success the caller is blocked and its
    /// result is set when the call completes.
    #[link_section = ".text.hot"]
    pub fn ppcall(&mut self, caller: PdId, ch: u64, raw_info: u64) -> Result<(), Status> {
        let end = self.end(caller, ch);
        let Some(End::Channel {
            peer_pd,
            peer_id,
            can_ppc: true,
            ..
        }) = end
        else {
            return Err(refusal(end, Status::PpcallNotPermitted));
        };
        if MessageInfo::from_raw(raw_info).is_none() {
            return Err(Status::InvalidArgument);
        }
        let server = peer_pd as PdId;
        if self.tcbs[server].state == ThreadState::Faulted || self.tcbs[server].suspended {
            return Err(Status::CalleeFailed);
        }
        let c = &mut self.tcbs[caller];
        c.callee = server;
        c.call_id = peer_id;
        c.call_info = raw_info;
        if self.tcbs[server].state == ThreadState::Recv {
            self.start_call(server, caller);
            self.make_ready(server);
        } else {
            self.tcbs[caller].state = ThreadState::Send;
            self.sched
                .insert_by_priority(QueueId::Callers(server as u8), caller);
        }
        Ok(())
    }

    /// Hand `caller`'s call to `server` (which is taking an event).
    #[link_section = ".text.hot"]
    fn start_call(&mut self, server: PdId, caller: PdId) {
        let (info, id) = (self.tcbs[caller].call_info, self.tcbs[caller].call_id);
        let count = MessageInfo::from_raw(info).map_or(0, |m| m.count());
        copy_mrs(
            self.tcbs[caller].ipc_paddr,
            self.tcbs[server].ipc_paddr,
            count,
        );
        self.tcbs[caller].state = ThreadState::Call;
        let s = &mut self.tcbs[server];
        s.reply_to = Some(caller);
        s.regs.rax = syscall::EVENT_PROTECTED;
        s.regs.rdi = id as u64;
        s.regs.rsi = info;
        // A passive server runs on its caller's scheduling context.
        self.sched.thread_sc[server] = if s.passive_now() {
            self.sched.thread_sc[caller]
        } else {
            server as u8
        };
    }

    /// Reply to the call `server` is serving.
    #[link_section = ".text.hot"]
    pub fn reply(&mut self, server: PdId, raw_info: u64) -> Result<(), Status> {
        let caller = self.tcbs[server].reply_to.ok_or(Status::NoReplyPending)?;
        let info = MessageInfo::from_raw(raw_info).ok_or(Status::InvalidArgument)?;
        self.tcbs[server].reply_to = None;
        self.sched.thread_sc[server] = server as u8;
        let c = &self.tcbs[caller];
        if c.state == ThreadState::Call && c.callee == server {
            copy_mrs(self.tcbs[server].ipc_paddr, c.ipc_paddr, info.count());
            let c = &mut self.tcbs[caller];
            c.regs.rax = Status::Ok.to_raw();
            c.regs.rsi = raw_info;
            self.make_ready_front(caller);
        }
        Ok(())
    }

    /// Complete `caller`'s call (pending or queued) with CalleeFailed.
    pub fn fail_call(&mut self, caller: PdId) {
        let c = &mut self.tcbs[caller];
        if matches!(c.state, ThreadState::Call | ThreadState::Send) {
            c.regs.rax = Status::CalleeFailed.to_raw();
            self.sched.remove(caller);
            self.make_ready_front(caller);
        }
    }

    /// RECV: perform `action`, then wait for an event.
    #[link_section = ".text.hot"]
    pub fn recv(&mut self, pd: PdId, action: u64, arg: u64) -> Result<(), Status> {
        match action {
            syscall::ACTION_NONE => {}
            syscall::ACTION_REPLY => self.reply(pd, arg)?,
            syscall::ACTION_NOTIFY => self.notify(pd, arg)?,
            syscall::ACTION_IRQ_ACK => self.irq_ack(pd, arg)?,
            _ => return Err(Status::InvalidArgument),
        }
        if let Some(caller) = self.tcbs[pd].reply_to.take() {
            // Waiting again without replying abandons the call.
            self.sched.thread_sc[pd] = pd as u8;
            self.fail_call(caller);
        }
        if !self.tcbs[pd].initialised {
            self.first_recv(pd);
        }
        if !self.take_event(pd) {
            self.tcbs[pd].state = ThreadState::Recv;
        }
        Ok(())
    }

    fn first_recv(&mut self, pd: PdId) {
        self.tcbs[pd].initialised = true;
        self.init_ended(pd, true);
    }

    /// `pd`'s first `init` has ended, by its first RECV (`ok`) or by a fault
    /// or a stop. Once every PD's has, say so: this line is the boot-time
    /// mark of `cargo xtask bench` and tells a user the system is up.
    pub fn init_ended(&mut self, pd: PdId, ok: bool) {
        let t = &mut self.tcbs[pd];
        if t.ever_initialised {
            return;
        }
        t.ever_initialised = true;
        self.initialised += 1;
        if !ok {
            self.init_failed += 1;
        }
        if self.initialised == self.count {
            if self.init_failed == 0 {
                crate::kprintln!("all {} PDs initialised", self.count);
            } else {
                crate::kprintln!(
                    "all {} PDs initialised ({} faulted or stopped in init)",
                    self.count,
                    self.init_failed
                );
            }
        }
    }

    /// Give `pd` (in or entering RECV) its next event: a waiting caller,
    /// then a child fault, then notifications. Sets its return registers
    /// and returns true, or returns false if there is none.
    ///
    /// A passive PD takes calls (on the caller's scheduling context) and
    /// notifications (on its own, as Microkit binds a passive PD's
    /// scheduling context to its notification), but not child faults:
    /// those are reported by the kernel (see `can_take_fault`).
    #[link_section = ".text.hot"]
    pub fn take_event(&mut self, pd: PdId) -> bool {
        if let Some(caller) = self.sched.front(QueueId::Callers(pd as u8)) {
            self.sched.remove(caller);
            self.start_call(pd, caller);
            return true;
        }
        let t = &self.tcbs[pd];
        if t.faulted_children != 0 && !t.passive_now() {
            let child_id = t.faulted_children.trailing_zeros() as usize;
            let child = t.children[child_id] as PdId;
            let f = self.tcbs[child].fault;
            let t = &mut self.tcbs[pd];
            t.faulted_children &= !(1 << child_id);
            let buf = mrs(t.ipc_paddr);
            for (i, v) in [
                (MR_IP, f.ip),
                (MR_ADDR, f.addr),
                (MR_ERROR_CODE, f.error),
                (MR_SP, f.sp),
            ] {
                // SAFETY: the IPC buffer frame is checked PD memory in the
                // direct map; i < FAULT_MR_COUNT ≤ 64.
                unsafe { buf.add(i).write(v) };
            }
            t.regs.rax = syscall::EVENT_FAULT;
            t.regs.rdi = child_id as u64;
            t.regs.rsi = MessageInfo::new(f.kind as u64, FAULT_MR_COUNT).raw();
            return true;
        }
        if t.pending != 0 {
            let t = &mut self.tcbs[pd];
            t.regs.rax = syscall::EVENT_NOTIFIED;
            t.regs.rdi = t.pending;
            t.pending = 0;
            return true;
        }
        false
    }
}
