//! Polled 16550 UART on COM1: the kernel console.

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

/// Write one byte, waiting for the transmitter.
pub fn write_byte(b: u8) {
    // SAFETY: see `init`; reading LSR and writing THR has no other effect.
    unsafe {
        let mut spins = 0u32;
        while inb(COM1 + 5) & LSR_THR_EMPTY == 0 && spins < 100_000 {
            spins += 1;
        }
        outb(COM1, b);
    }
}
