//! Debug output on the kernel console (`DEBUG_PUTS`).
//!
//! `DEBUG_PUTS` takes no pointer: it prints bytes from the start of the
//! caller's IPC buffer. The runtime formats into a buffer on the stack
//! (up to [`mantle_abi::ipc::IPC_BUFFER_BYTES`] bytes per syscall, so a
//! typical line is one syscall and is not interleaved with other PDs'
//! output), saves the message registers it is about to overwrite, issues
//! `DEBUG_PUTS`, and restores them. Printing therefore never disturbs
//! message registers set for a pending `ppcall` or reply. Longer output is
//! split into several syscalls.
//!
//! Cost: a print uses about 1.1 KiB of stack (the 512-byte line buffer and
//! the saved message registers) on top of `core::fmt`'s needs; the default
//! 8 KiB stack has room, but keep it in mind when choosing `stack_size`.

use crate::ipc::{restore_words, stash_bytes, MAX_MESSAGE_REGISTERS};
use crate::raw;
use core::fmt;
use mantle_abi::ipc::IPC_BUFFER_BYTES;
use mantle_abi::syscall;

/// Print raw bytes (at most `IPC_BUFFER_BYTES` per syscall).
pub fn puts(bytes: &[u8]) {
    for chunk in bytes.chunks(IPC_BUFFER_BYTES) {
        let mut save = [0u64; MAX_MESSAGE_REGISTERS];
        let words = stash_bytes(chunk, &mut save);
        // A failed DEBUG_PUTS cannot be reported anywhere; ignore it.
        let _ = raw::syscall(syscall::DEBUG_PUTS, chunk.len() as u64, 0, 0, 0);
        restore_words(&save, words);
    }
}

/// A `core::fmt::Write` sink that collects output and prints it in chunks of
/// up to `IPC_BUFFER_BYTES`.
pub struct DebugWriter {
    buf: [u8; IPC_BUFFER_BYTES],
    len: usize,
}

impl DebugWriter {
    /// An empty writer.
    pub const fn new() -> Self {
        DebugWriter {
            buf: [0; IPC_BUFFER_BYTES],
            len: 0,
        }
    }

    /// Print what is buffered.
    pub fn flush(&mut self) {
        if self.len > 0 {
            puts(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Default for DebugWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for DebugWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = bytes.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

impl Drop for DebugWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>, newline: bool) {
    use fmt::Write;
    let mut w = DebugWriter::new();
    let _ = w.write_fmt(args);
    if newline {
        let _ = w.write_str("\n");
    }
    w.flush();
}

/// Print to the kernel console, like `print!`.
#[macro_export]
macro_rules! debug_print {
    ($($arg:tt)*) => {
        $crate::debug::_print(::core::format_args!($($arg)*), false)
    };
}

/// Print a line to the kernel console, like `println!`. The line (up to 512
/// bytes) goes out in one syscall.
#[macro_export]
macro_rules! debug_println {
    () => {
        $crate::debug::_print(::core::format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::debug::_print(::core::format_args!($($arg)*), true)
    };
}
