//! Serial throughput benchmark client.
//!
//! Writes [`TOTAL`] bytes of text, in lines of [`LINE`] bytes, through its
//! tx queue to virt_tx (which adds a 4-byte `[1] ` prefix to each line) and
//! on to the UART driver, and measures the time from the first byte to the
//! moment the driver reports its transmitter idle with everything sent
//! (its `tx_bytes` counter has grown by the payload plus the prefixes). The
//! time comes from the HPET driver (ns) and the TSC (ticks). Prints
//! `serial-bench: bytes=N ticks=T ns=D bytes_per_s=R` and powers off.
#![no_std]
#![no_main]

use core::sync::atomic::Ordering;
use mantle_runtime::{
    debug_println, power_off, protection_domain, rdtsc, setvar, Channel, Handler,
};
use mantle_serial_client::layout::{self, UartStats};
use mantle_serial_client::SerialTx;
use mantle_timer_client::Timer;

setvar!(tx_queue);
setvar!(uart_stats);

const TX: Channel = Channel::new(0);
const DRAINED: Channel = Channel::new(1);
const TIMER: Timer = Timer::new(Channel::new(2));
const EXIT_IOPORT: usize = 0;
/// Payload bytes (64 KiB).
const TOTAL: usize = 64 * 1024;
/// Bytes per line, newline included.
const LINE: usize = 64;
/// The prefix virt_tx adds to each line (`[1] `).
const PREFIX: usize = 4;

struct Bench {
    tx: SerialTx,
    stats: &'static UartStats,
    written: usize,
    base_tx: u64,
    t0_ns: u64,
    t0_tsc: u64,
}

fn fail(what: &str) -> ! {
    debug_println!("serial-bench: FAIL: {}", what);
    power_off(EXIT_IOPORT, 1)
}

impl Bench {
    /// Write lines while the private buffer has room.
    fn produce(&mut self) {
        let mut line = [b'.'; LINE];
        line[LINE - 1] = b'\n';
        while self.written < TOTAL
            && self.tx.buffered() + LINE <= mantle_serial_client::TX_BUFFER / 2
        {
            let n = (self.written / LINE) as u32;
            // A recognisable, varying line: "sb NNNNN ....".
            let digits = [
                b'0' + (n / 10000 % 10) as u8,
                b'0' + (n / 1000 % 10) as u8,
                b'0' + (n / 100 % 10) as u8,
                b'0' + (n / 10 % 10) as u8,
                b'0' + (n % 10) as u8,
            ];
            line[..3].copy_from_slice(b"sb ");
            line[3..8].copy_from_slice(&digits);
            self.tx.write(&line);
            self.written += LINE;
        }
        self.tx.flush();
    }

    fn check_done(&mut self) {
        let expected = (TOTAL + TOTAL / LINE * PREFIX) as u64;
        let sent = self.stats.tx_bytes.load(Ordering::Acquire) - self.base_tx;
        if self.written < TOTAL || sent < expected || self.stats.idle.load(Ordering::Acquire) != 1 {
            return;
        }
        let ticks = rdtsc() - self.t0_tsc;
        let ns = TIMER.now_ns().unwrap_or_else(|_| fail("now")) - self.t0_ns;
        debug_println!(
            "serial-bench: bytes={} ticks={} ns={} bytes_per_s={} (uart bytes {} incl. prefixes)",
            TOTAL,
            ticks,
            ns,
            TOTAL as u128 * 1_000_000_000 / ns.max(1) as u128,
            sent
        );
        power_off(EXIT_IOPORT, 0)
    }
}

impl Handler for Bench {
    fn notified(&mut self, ch: Channel) {
        match ch {
            TX => {
                self.tx.space();
                self.produce();
            }
            DRAINED => {}
            _ => {}
        }
        self.check_done();
    }
}

fn init() -> Bench {
    // SAFETY: the SDF maps this client's tx queue region read-write at
    // `tx_queue`; only producer.
    let q = match unsafe { layout::producer(tx_queue.get()) } {
        Ok(q) => q,
        Err(_) => fail("tx queue"),
    };
    // SAFETY: the SDF maps the driver's stats page read-only at `uart_stats`.
    let stats = unsafe { layout::stats(uart_stats.get()) };
    debug_println!(
        "serial-bench: writing {} bytes in {}-byte lines",
        TOTAL,
        LINE
    );
    let mut b = Bench {
        tx: SerialTx::new(q, TX),
        stats,
        written: 0,
        base_tx: stats.tx_bytes.load(Ordering::Acquire),
        t0_ns: TIMER.now_ns().unwrap_or_else(|_| fail("now")),
        t0_tsc: rdtsc(),
    };
    b.produce();
    b.check_done();
    b
}

protection_domain!(init);
