//! The IPC fast path: a protected call to a waiting passive server, and
//! that server's reply combined with its next RECV, handed over directly
//! (in the manner of seL4's fastpath).
//!
//! Each fast path first checks every precondition without changing
//! anything; if one fails it returns `None` and the syscall takes the
//! general path (`Kernel::syscall`, then `Kernel::schedule`), which handles
//! every case. When all hold, the result is exactly what the general path
//! would produce, only without the ready queues, the scheduler's search
//! and the scheduling-context switch (which cannot happen: the SC stays
//! the same). See docs/design.md, "The IPC fast path".

use mantle_abi::bootdesc::End;
use mantle_abi::ipc::MessageInfo;
use mantle_abi::limits::MAX_IDS;
use mantle_abi::syscall::{self as sc, Status};

use crate::arch::{self, UserRegs};
use crate::ipc::copy_mrs;
use crate::kernel::Kernel;
use crate::pd::{PdId, ThreadState};
use crate::sched::QueueId;

impl Kernel {
    /// The NULL syscall, and only it, without the scheduler: the caller
    /// keeps the CPU (it is the best eligible PD, as it was on entry, unless
    /// the timer fired meanwhile, which leaves `timer_dirty` set). Returns
    /// `None` for any other syscall.
    #[inline(always)]
    pub fn fast_null(&mut self) -> Option<*const UserRegs> {
        let pd = self.current?;
        let regs = &mut self.tcbs[pd].regs;
        if regs.rax != sc::NULL || self.sched.timer_dirty() {
            return None;
        }
        regs.rax = Status::Ok.to_raw();
        Some(regs)
    }

    /// Try the fast path for the syscall of `pd`, the current PD. Returns
    /// the frame to resume, or `None` (nothing changed) for the general
    /// path.
    #[inline(always)]
    pub fn fastpath(&mut self, pd: PdId) -> Option<*const UserRegs> {
        let r = &self.tcbs[pd].regs;
        let (nr, a0, a1) = (r.rax, r.rdi, r.rsi);
        match nr {
            sc::PPCALL => self.fast_call(pd, a0, a1),
            sc::NOTIFY => self.fast_notify(pd, a0),
            sc::RECV if a0 == sc::ACTION_REPLY => self.fast_reply_recv(pd, a1),
            _ => None,
        }
    }

    /// PPCALL on channel `ch` of `caller`, fast: the server is passive and
    /// waiting, nothing is queued on it, and the caller runs on its own,
    /// non-depleted SC (which the server then runs on). A server that is
    /// not passive is tried by [`Kernel::fast_call_active`].
    #[link_section = ".text.hot"]
    fn fast_call(&mut self, caller: PdId, ch: u64, raw_info: u64) -> Option<*const UserRegs> {
        if ch >= MAX_IDS as u64 {
            return None;
        }
        let c = &self.tcbs[caller];
        let End::Channel {
            peer_pd,
            peer_id,
            can_ppc: true,
            ..
        } = c.ends[ch as usize]
        else {
            return None;
        };
        let info = MessageInfo::from_raw(raw_info)?;
        let server = peer_pd as PdId;
        let s = &self.tcbs[server];
        if s.state != ThreadState::Recv
            || s.suspended
            || s.priority <= c.priority
            || c.pending != 0
            || !self.sched.no_callers(server)
        {
            return None;
        }
        if !s.passive_now() {
            return self.fast_call_active(caller, server, peer_id, raw_info, info);
        }
        if !self.sched.owns_running_sc(caller) {
            return None;
        }
        // Committed: the same effects as `ppcall` + `start_call` +
        // `schedule` would have.
        self.hand_call(caller, server, peer_id, raw_info, info);
        self.sched.thread_sc[server] = caller as u8;
        Some(self.switch_to(server))
    }

    /// The rest of [`Kernel::fast_call`] for a server that is not passive
    /// (it runs on its own SC): its SC is eligible and no PD is ready at
    /// its priority or above, so the general path's `schedule` would pick
    /// it. The queue work and the search are skipped; the SC switch is the
    /// scheduler's (`dispatch`).
    #[inline(always)]
    fn fast_call_active(
        &mut self,
        caller: PdId,
        server: PdId,
        peer_id: u8,
        raw_info: u64,
        info: MessageInfo,
    ) -> Option<*const UserRegs> {
        let prio = self.tcbs[server].priority;
        // (`prio` is above the caller's, so `prio - 1` cannot wrap.)
        if self.sched.timer_dirty()
            || !self.sched.eligible(server)
            || !self.sched.none_ready_above(prio - 1)
        {
            return None;
        }
        // Committed: the same effects as `ppcall` + `start_call` +
        // `make_ready` + `schedule` (the server, on no queue since it waited
        // in RECV, is the one picked).
        self.hand_call(caller, server, peer_id, raw_info, info);
        self.sched.thread_sc[server] = server as u8;
        Some(self.dispatch(Some(server)))
    }

    /// Hand `caller`'s call to `server`, waiting in RECV (both fast calls).
    #[inline(always)]
    fn hand_call(
        &mut self,
        caller: PdId,
        server: PdId,
        peer_id: u8,
        raw_info: u64,
        info: MessageInfo,
    ) {
        copy_mrs(
            self.tcbs[caller].ipc_paddr,
            self.tcbs[server].ipc_paddr,
            info.count(),
        );
        let c = &mut self.tcbs[caller];
        c.callee = server;
        c.call_id = peer_id;
        c.call_info = raw_info;
        c.state = ThreadState::Call;
        let s = &mut self.tcbs[server];
        s.reply_to = Some(caller);
        s.state = ThreadState::Ready;
        s.regs.rax = sc::EVENT_PROTECTED;
        s.regs.rdi = peer_id as u64;
        s.regs.rsi = raw_info;
    }

    /// RECV with ACTION_REPLY by `server`, fast: the reply goes to a caller
    /// still waiting for it, which owns the SC the server ran on and is the
    /// PD the scheduler would pick next, and the server has no event to
    /// take (so it waits). A server that ran on its own SC is tried by
    /// [`Kernel::fast_reply_active`].
    #[link_section = ".text.hot"]
    fn fast_reply_recv(&mut self, server: PdId, raw_info: u64) -> Option<*const UserRegs> {
        let info = MessageInfo::from_raw(raw_info)?;
        let s = &self.tcbs[server];
        let caller = s.reply_to?;
        let c = &self.tcbs[caller];
        if c.state != ThreadState::Call
            || c.callee != server
            || c.suspended
            || !s.initialised
            || s.pending != 0
            || s.faulted_children != 0
        {
            return None;
        }
        if self.sched.thread_sc[server] as usize != caller {
            return self.fast_reply_active(server, caller, raw_info, info);
        }
        if !self.sched.no_callers(server)
            || !self.sched.owns_running_sc(caller)
            || !self.sched.none_ready_above(c.priority)
        {
            return None;
        }
        // Committed: the same effects as `reply` + `recv` + `schedule`.
        self.hand_reply(server, caller, raw_info, info);
        Some(self.switch_to(caller))
    }

    /// The rest of [`Kernel::fast_reply_recv`] for a server that is not
    /// passive and ran on its own SC: nothing is queued on it, the caller's
    /// SC is eligible and no PD is ready above the caller's priority, so
    /// the general path's `schedule` would pick the caller (put at the head
    /// of its queue). The SC switch is the scheduler's (`dispatch`).
    #[inline(always)]
    fn fast_reply_active(
        &mut self,
        server: PdId,
        caller: PdId,
        raw_info: u64,
        info: MessageInfo,
    ) -> Option<*const UserRegs> {
        if self.sched.thread_sc[server] as usize != server
            || self.tcbs[server].passive_now()
            || self.sched.timer_dirty()
            || !self.sched.no_callers(server)
            || !self.sched.eligible(caller)
            || !self.sched.none_ready_above(self.tcbs[caller].priority)
        {
            return None;
        }
        // Committed: the same effects as `reply` + `make_ready_front` +
        // `recv` + `schedule` (the caller, on no queue since it waited in
        // `Call`, is the one picked).
        self.hand_reply(server, caller, raw_info, info);
        Some(self.dispatch(Some(caller)))
    }

    /// Complete `caller`'s call with `server`'s reply and put `server` in
    /// RECV on its own SC (both fast replies).
    #[inline(always)]
    fn hand_reply(&mut self, server: PdId, caller: PdId, raw_info: u64, info: MessageInfo) {
        copy_mrs(
            self.tcbs[server].ipc_paddr,
            self.tcbs[caller].ipc_paddr,
            info.count(),
        );
        let s = &mut self.tcbs[server];
        s.reply_to = None;
        s.state = ThreadState::Recv;
        self.sched.thread_sc[server] = server as u8;
        let c = &mut self.tcbs[caller];
        c.regs.rax = Status::Ok.to_raw();
        c.regs.rsi = raw_info;
        c.state = ThreadState::Ready;
    }

    /// NOTIFY on channel `ch` of `pd`, fast, when it wakes a PD of higher
    /// priority that waits in RECV with no caller queued and no child fault
    /// to take first: the notification is delivered at once and the woken
    /// PD runs next (`pd` goes to the head of its ready queue, as the
    /// general path leaves it). The SC switch is the scheduler's
    /// (`dispatch`); only the queue work and the search are skipped.
    #[link_section = ".text.hot"]
    fn fast_notify(&mut self, pd: PdId, ch: u64) -> Option<*const UserRegs> {
        if ch >= MAX_IDS as u64 {
            return None;
        }
        let cur = &self.tcbs[pd];
        let End::Channel {
            peer_pd,
            peer_id,
            can_notify: true,
            ..
        } = cur.ends[ch as usize]
        else {
            return None;
        };
        let target = peer_pd as PdId;
        let t = &self.tcbs[target];
        if t.state != ThreadState::Recv
            || t.suspended
            || t.priority <= cur.priority
            || (t.faulted_children != 0 && !t.passive_now())
            || self.sched.timer_dirty()
            || !self.sched.no_callers(target)
            || !self.sched.eligible(target)
        {
            return None;
        }
        // Committed: the same effects as `notify` + `schedule`.
        let prio = cur.priority;
        self.tcbs[pd].regs.rax = Status::Ok.to_raw();
        let t = &mut self.tcbs[target];
        t.regs.rax = sc::EVENT_NOTIFIED;
        t.regs.rdi = t.pending | 1 << peer_id;
        t.pending = 0;
        t.state = ThreadState::Ready;
        self.sched.push_front(QueueId::Ready(prio), pd);
        Some(self.dispatch(Some(target)))
    }

    /// Make `n` the running PD: its address space, segments, entry stack
    /// and FPU trap. Shared by the fast path and `dispatch`.
    #[link_section = ".text.hot"]
    #[inline(always)]
    pub(crate) fn switch_to(&mut self, n: PdId) -> *const UserRegs {
        self.current = Some(n);
        let tcbs = &self.tcbs;
        self.spaces.activate(n, |old| tcbs[old].regs.rip);
        arch::reset_user_segments();
        let tcb = &self.tcbs[n];
        arch::set_kernel_entry_frame(tcb.regs.frame_top());
        let trap = self.fpu_owner != Some(n);
        if trap != self.fpu_trap {
            self.fpu_trap = trap;
            arch::fpu::set_trap(trap);
        }
        &self.tcbs[n].regs
    }
}
