//! Kernel console output: `kprintln!` prints a line prefixed `mantle: `.

use core::fmt::{self, Write};

use crate::arch;

/// Writes formatted text to the console device.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Write raw bytes (PD debug output goes here unchanged).
pub fn write_bytes(bytes: &[u8]) {
    for &b in bytes {
        arch::console_write_byte(b);
    }
}

/// Print `args` as one kernel console line.
pub fn print_line(args: fmt::Arguments<'_>) {
    let _ = Console.write_str("mantle: ");
    let _ = Console.write_fmt(args);
    let _ = Console.write_str("\n");
}

/// Print one `mantle: `-prefixed line.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}
