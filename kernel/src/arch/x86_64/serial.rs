//! Polled 16550 UART on COM1: the kernel console.

use core::sync::atomic::{AtomicBool, Ordering};

use super::cpu::{inb, outb};

const COM1: u16 = 0x3f8;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Program COM1 for 115200 8N1, no interrupts, FIFOs on.
pub fn init() {
    // SAFETY: COM1 belongs to the kernel console until a PD is granted it,
    // which happens only after boot.
    unsafe {
        outb(COM1 + 1, 0x00); // no interrupts
        outb(COM1 + 3, 0x80); // DLAB
        outb(COM1, 0x01); // divisor 1: 115200 baud
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03); // 8N1
        outb(COM1 + 2, 0xc7); // FIFOs on and cleared
        outb(COM1 + 4, 0x03); // DTR, RTS
    }
}

/// Most LSR polls for one byte. At 115200 baud a byte leaves in about
/// 87 µs, and one poll (a port read) takes about 1 µs on hardware, so a
/// working UART is always ready well within this.
const SPIN_LIMIT: u32 = 1000;

/// The last wait timed out: the UART is stuck or absent. Until it shows
/// ready again, bytes are written without waiting, so a `DEBUG_PUTS` (at
/// most 512 bytes, with interrupts off) costs at most one timed-out wait
/// plus one port read and write per byte.
static STUCK: AtomicBool = AtomicBool::new(false);

/// Write one byte, waiting (boundedly) for the transmitter.
pub fn write_byte(b: u8) {
    let limit = if STUCK.load(Ordering::Relaxed) {
        1
    } else {
        SPIN_LIMIT
    };
    // SAFETY: see `init`; reading LSR and writing THR has no other effect.
    unsafe {
        let mut spins = 0u32;
        while inb(COM1 + 5) & LSR_THR_EMPTY == 0 && spins < limit {
            spins += 1;
        }
        STUCK.store(spins >= limit, Ordering::Relaxed);
        outb(COM1, b);
    }
}
