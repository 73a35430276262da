//! x86 port I/O through the kernel (`IOPORT_IN` / `IOPORT_OUT`).
//!
//! A PD never gets IOPL or an I/O bitmap: every access is a syscall naming
//! the grant (`<ioport id=..>` in the SDF) and the port, which the kernel
//! checks lies (with its whole width) inside the grant.

use crate::error::Error;
use crate::ipc::{restore_words, stash_bytes};
use crate::raw;
use mantle_abi::ipc::IPC_BUFFER_BYTES;
use mantle_abi::limits::MAX_MESSAGE_REGISTERS;
use mantle_abi::syscall;

/// An I/O port grant of this PD, by its SDF `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPort(usize);

impl IoPort {
    /// The grant with SDF id `id` (checked by the kernel on use).
    pub const fn new(id: usize) -> Self {
        IoPort(id)
    }

    /// The SDF id.
    pub const fn index(self) -> usize {
        self.0
    }

    fn read(self, port: u16, width: u64) -> Result<u64, Error> {
        let r = raw::syscall(syscall::IOPORT_IN, self.0 as u64, port as u64, width, 0);
        Error::check(r.rax).map(|()| r.rdi)
    }

    fn write(self, port: u16, width: u64, value: u64) -> Result<(), Error> {
        let r = raw::syscall(
            syscall::IOPORT_OUT,
            self.0 as u64,
            port as u64,
            width,
            value,
        );
        Error::check(r.rax)
    }

    /// Read a byte from `port`.
    pub fn read8(self, port: u16) -> Result<u8, Error> {
        self.read(port, 1).map(|v| v as u8)
    }
    /// Read a 16-bit word from `port`.
    pub fn read16(self, port: u16) -> Result<u16, Error> {
        self.read(port, 2).map(|v| v as u16)
    }
    /// Read a 32-bit word from `port`.
    pub fn read32(self, port: u16) -> Result<u32, Error> {
        self.read(port, 4).map(|v| v as u32)
    }
    /// Write a byte to `port`.
    pub fn write8(self, port: u16, value: u8) -> Result<(), Error> {
        self.write(port, 1, value as u64)
    }
    /// Write a 16-bit word to `port`.
    pub fn write16(self, port: u16, value: u16) -> Result<(), Error> {
        self.write(port, 2, value as u64)
    }
    /// Write a 32-bit word to `port`.
    pub fn write32(self, port: u16, value: u32) -> Result<(), Error> {
        self.write(port, 4, value as u64)
    }

    /// Write `bytes` one after another to the 8-bit `port` (a device FIFO),
    /// with one `IOPORT_OUT_REP` syscall per 512 bytes instead of one per
    /// byte. The bytes travel in the IPC buffer, whose message registers
    /// are saved and restored around the call.
    pub fn write8_rep(self, port: u16, bytes: &[u8]) -> Result<(), Error> {
        for chunk in bytes.chunks(IPC_BUFFER_BYTES) {
            let mut save = [0u64; MAX_MESSAGE_REGISTERS];
            let words = stash_bytes(chunk, &mut save);
            let r = raw::syscall(
                syscall::IOPORT_OUT_REP,
                self.0 as u64,
                port as u64,
                chunk.len() as u64,
                0,
            );
            restore_words(&save, words);
            Error::check(r.rax)?;
        }
        Ok(())
    }
}

/// QEMU's `isa-debug-exit` port (`-device isa-debug-exit,iobase=0xf4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// End the system: write `status` to QEMU's `isa-debug-exit` device through
/// I/O port grant `ioport_id`, which must cover port 0xf4
/// (`<ioport id=".." addr="0xf4" size="1"/>`). QEMU exits with
/// `(status << 1) | 1`; `mantle run` maps that back to `status`, so 0 means
/// success.
///
/// Never returns: if the write fails (no such grant) or QEMU keeps running
/// (no such device), the PD panics, which the kernel reports as a fault.
pub fn power_off(ioport_id: usize, status: u8) -> ! {
    match IoPort::new(ioport_id).write8(DEBUG_EXIT_PORT, status) {
        Ok(()) => panic!("power_off: still running after writing the exit port"),
        Err(e) => panic!("power_off: cannot write the exit port: {e}"),
    }
}
