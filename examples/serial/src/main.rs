//! The serial example's client (one program, two PDs: `client1`, `client2`).
//!
//! At start it prints [`GREETING_LINES`] numbered lines (both clients do, so
//! their lines meet in virt_tx), then echoes every line typed while it holds
//! the input: `<name>: got '<line>'`.
//!
//! The two clients read in the two styles `mantle-serial-client` offers.
//! `client1` reads without blocking: each rx notification runs
//! [`SerialRx::read`] until the queue is empty and feeds a [`LineReader`].
//! `client2` (the client without the UART's stats page) reads with the
//! blocking API: when input arrives, [`SerialRx::read_line_blocking`]
//! collects whole lines, waiting inside `notified` for the rest of a line
//! typed slowly; virt_tx's space notifications that arrive meanwhile are
//! kept by the runtime and handled when `notified` returns. Neither client
//! serves protected calls, which is what blocking reads need. The line `exit` ends the system: the
//! client that holds the exit port (the one given the UART's stats page,
//! `client1`) prints `serial: done`, waits until the output has drained to
//! the UART, and powers off; the other client forwards the request to it.
//!
//! Channels: 0 virt_tx, 1 virt_rx, 2 the other client (exit request), 3 the
//! driver's "transmitter idle" notification (client1 only). In a composed
//! system (`<serial_subsystem>`) the queues and the virt_tx/virt_rx
//! channels come from `__mantle_config` instead.
#![no_std]
#![no_main]

use core::sync::atomic::Ordering;
use mantle_runtime::{
    debug_println, pd_name, power_off, protection_domain, setvar, Channel, Handler,
};
use mantle_serial_client::layout::{self, UartStats};
use mantle_serial_client::{serial_println, ConnectError, LineReader, Serial, SerialRx, SerialTx};

setvar!(tx_queue);
setvar!(rx_queue);
setvar!(uart_stats);
mantle_config::config_blob!();

const PEER: Channel = Channel::new(2);
const DRAINED: Channel = Channel::new(3);
const EXIT_IOPORT: usize = 0;
/// Lines each client prints at start.
const GREETING_LINES: u32 = 10;

struct Client {
    tx: SerialTx,
    rx: SerialRx,
    line: LineReader<128>,
    /// Present in the client that powers off.
    stats: Option<&'static UartStats>,
    /// Read with the blocking API (the client without `stats`).
    blocking: bool,
    exiting: bool,
}

impl Client {
    fn input(&mut self) {
        if self.blocking {
            self.input_blocking();
        } else {
            self.input_nonblocking();
        }
    }

    /// Called when virt_rx signals input: read whole lines, blocking until
    /// each started line is complete.
    fn input_blocking(&mut self) {
        while self.rx.available() > 0 {
            let mut line = [0u8; 128];
            match self.rx.read_line_blocking(&mut line) {
                Ok(n) => self.on_line(&line[..n]),
                Err(e) => {
                    debug_println!("{}: blocking read: {}", pd_name(), e);
                    break;
                }
            }
        }
    }

    /// Called when virt_rx signals input: take what is there, line by line.
    fn input_nonblocking(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            let n = self.rx.read(&mut buf);
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                let Some(line) = self.line.push(b) else {
                    continue;
                };
                let mut copy = [0u8; 128];
                let len = line.len();
                copy[..len].copy_from_slice(line);
                self.on_line(&copy[..len]);
            }
        }
    }

    fn on_line(&mut self, line: &[u8]) {
        let text = core::str::from_utf8(line).unwrap_or("<not UTF-8>");
        serial_println!(self.tx, "{}: got '{}'", pd_name(), text);
        if text.trim() == "exit" {
            self.exit();
        }
    }

    fn exit(&mut self) {
        if self.stats.is_none() {
            serial_println!(
                self.tx,
                "{}: asking the other client to power off",
                pd_name()
            );
            let _ = PEER.notify();
            return;
        }
        serial_println!(self.tx, "serial: done");
        self.exiting = true;
        self.try_power_off();
    }

    /// Power off once our output has left the UART: our queue is empty and
    /// the driver reports its transmitter idle. (This PD runs below
    /// virt_tx and the driver, so when it runs with both conditions true,
    /// neither holds output of ours.)
    fn try_power_off(&mut self) {
        let idle = self
            .stats
            .is_some_and(|s| s.idle.load(Ordering::Acquire) == 1);
        if self.exiting && idle && self.tx.drained() {
            power_off(EXIT_IOPORT, 0);
        }
    }
}

impl Handler for Client {
    fn notified(&mut self, ch: Channel) {
        if ch == self.tx.channel() {
            self.tx.space();
        } else if ch == self.rx.channel() {
            self.input();
        } else if ch == PEER {
            self.exit();
        } else if ch != DRAINED {
            debug_println!("{}: unexpected notification on {}", pd_name(), ch);
        }
        self.try_power_off();
    }
}

fn init() -> Client {
    let (tx, rx) = match Serial::connect(&__mantle_config) {
        Ok(Serial { tx, rx: Some(rx) }) => (tx, rx),
        Ok(Serial { rx: None, .. }) => panic!("this client reads: give it rx"),
        // A hand-written system: the queues are where the setvars say.
        Err(ConnectError::Config(mantle_config::Error::NotPatched)) => {
            // SAFETY: the system maps this client's tx queue read-write at
            // `tx_queue`; this PD is its only producer.
            let txq = match unsafe { layout::producer(tx_queue.get()) } {
                Ok(q) => q,
                Err(e) => panic!("tx queue: {}", e),
            };
            // SAFETY: as above for the rx queue at `rx_queue`; only consumer.
            let rxq = match unsafe { layout::consumer(rx_queue.get()) } {
                Ok(q) => q,
                Err(e) => panic!("rx queue: {}", e),
            };
            (
                SerialTx::new(txq, Channel::new(0)),
                SerialRx::new(rxq, Channel::new(1)),
            )
        }
        Err(e) => panic!("{}", e),
    };
    let stats = match uart_stats.get() {
        0 => None,
        // SAFETY: the SDF maps the driver's stats page (read-only) at
        // `uart_stats`.
        v => Some(unsafe { layout::stats(v) }),
    };
    let mut c = Client {
        tx,
        rx,
        line: LineReader::new(),
        stats,
        blocking: stats.is_none(),
        exiting: false,
    };
    for i in 1..=GREETING_LINES {
        serial_println!(c.tx, "{}: line {} of {}", pd_name(), i, GREETING_LINES);
    }
    serial_println!(
        c.tx,
        "{}: ready; type a line (Ctrl-\\ 1 or 2 selects the client, 'exit' ends)",
        pd_name()
    );
    c
}

protection_domain!(init);
