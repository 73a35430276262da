//! Syscall dispatch. Numbers and registers are defined in
//! `mantle_abi::syscall`; every argument is checked here or in the handler.

use mantle_abi::ipc::IPC_BUFFER_BYTES;
use mantle_abi::limits::MAX_IOPORTS_PER_PD;
use mantle_abi::syscall::{self as sc, Status};

use crate::arch;
use crate::arch::paging::phys_to_virt;
use crate::console;
use crate::kernel::Kernel;
use crate::pd::PdId;

impl Kernel {
    /// Handle the syscall of the current PD, whose registers are saved in
    /// its TCB. Results go back into those registers.
    #[link_section = ".text.hot"]
    pub fn syscall(&mut self) {
        let Some(pd) = self.current else {
            return;
        };
        let r = &self.tcbs[pd].regs;
        let (nr, a0, a1, a2, a3) = (r.rax, r.rdi, r.rsi, r.rdx, r.r10);
        let result = match nr {
            sc::NULL => Ok(()),
            sc::DEBUG_PUTS => self.debug_puts(pd, a0),
            sc::NOTIFY => self.notify(pd, a0),
            sc::IRQ_ACK => self.irq_ack(pd, a0),
            sc::PPCALL => self.ppcall(pd, a0, a1),
            // RECV sets its event registers itself when an event arrives.
            sc::RECV => match self.recv(pd, a0, a1) {
                Ok(()) => return,
                Err(e) => Err(e),
            },
            sc::PD_RESTART => self.pd_restart(pd, a0, a1),
            sc::PD_STOP => self.pd_stop(pd, a0),
            sc::PD_RESUME => self.pd_resume(pd, a0),
            sc::IOPORT_IN => self.ioport_in(pd, a0, a1, a2),
            sc::IOPORT_OUT => self.ioport_out(pd, a0, a1, a2, a3),
            sc::IOPORT_OUT_REP => self.ioport_out_rep(pd, a0, a1, a2),
            _ => Err(Status::InvalidSyscall),
        };
        match (nr, result) {
            // A successful PPCALL's result arrives with the reply.
            (sc::PPCALL, Ok(())) => {}
            (_, Ok(())) => self.tcbs[pd].regs.rax = Status::Ok.to_raw(),
            (_, Err(e)) => self.tcbs[pd].regs.rax = e.to_raw(),
        }
    }

    /// DEBUG_PUTS: write `len` (≤ 512) bytes of the IPC buffer to the
    /// console, unchanged. The kernel polls the UART with interrupts off;
    /// the wait per byte is bounded (`serial::write_byte`), so one call
    /// delays interrupts by at most about 1000 polls plus 512 port writes.
    /// PD output is not marked: a PD can print lines that look like the
    /// kernel's (`mantle: ...`); the console is for debugging only. Never
    /// inlined: it is slow anyway and stays out of the IPC fast path.
    #[inline(never)]
    fn debug_puts(&mut self, pd: PdId, len: u64) -> Result<(), Status> {
        if len > IPC_BUFFER_BYTES as u64 {
            return Err(Status::InvalidArgument);
        }
        let buf = phys_to_virt(self.tcbs[pd].ipc_paddr) as *const u8;
        // SAFETY: the IPC buffer frame is checked PD memory in the direct
        // map and `len` ≤ IPC_BUFFER_BYTES < one page. The PD cannot change
        // it meanwhile: this CPU is in the kernel.
        let bytes = unsafe { core::slice::from_raw_parts(buf, len as usize) };
        console::write_bytes(bytes);
        Ok(())
    }

    /// Check an I/O port access against grant `id` of `pd`.
    fn port(&self, pd: PdId, id: u64, port: u64, width: u64) -> Result<u16, Status> {
        if id >= MAX_IOPORTS_PER_PD as u64 || self.tcbs[pd].ioports[id as usize].size == 0 {
            return Err(Status::InvalidPort);
        }
        if !matches!(width, 1 | 2 | 4) {
            return Err(Status::InvalidArgument);
        }
        let grant = self.tcbs[pd].ioports[id as usize];
        let base = grant.base as u64;
        if port < base || port + width > base + grant.size as u64 {
            return Err(Status::InvalidPort);
        }
        Ok(port as u16)
    }

    fn ioport_in(&mut self, pd: PdId, id: u64, port: u64, width: u64) -> Result<(), Status> {
        let port = self.port(pd, id, port.min(u32::MAX as u64), width)?;
        // SAFETY: the boot description grants this PD these ports.
        let value = unsafe { arch::port_in(port, width) };
        self.tcbs[pd].regs.rdi = value;
        Ok(())
    }

    fn ioport_out(
        &mut self,
        pd: PdId,
        id: u64,
        port: u64,
        width: u64,
        value: u64,
    ) -> Result<(), Status> {
        let port = self.port(pd, id, port.min(u32::MAX as u64), width)?;
        // SAFETY: the boot description grants this PD these ports.
        unsafe { arch::port_out(port, width, value) };
        Ok(())
    }

    /// IOPORT_OUT_REP: `len` (≤ 512) bytes of the IPC buffer to one 8-bit
    /// port of grant `id`, in order. Bounded like DEBUG_PUTS: at most 512
    /// port writes with interrupts off.
    fn ioport_out_rep(&mut self, pd: PdId, id: u64, port: u64, len: u64) -> Result<(), Status> {
        let port = self.port(pd, id, port.min(u32::MAX as u64), 1)?;
        if len > IPC_BUFFER_BYTES as u64 {
            return Err(Status::InvalidArgument);
        }
        let buf = phys_to_virt(self.tcbs[pd].ipc_paddr) as *const u8;
        // SAFETY: as in `debug_puts`: checked PD memory in the direct map,
        // `len` within one page, unchanged while this CPU is in the kernel.
        let bytes = unsafe { core::slice::from_raw_parts(buf, len as usize) };
        for &b in bytes {
            // SAFETY: the boot description grants this PD this port.
            unsafe { arch::port_out(port, 1, b as u64) };
        }
        Ok(())
    }
}
