//! The serial transmit virtualiser PD.
//!
//! Configuration: `__mantle_config` (`SerialVirtTxConfig`) in a composed
//! system; otherwise this SDF contract: client `N` (1-based, up to 4) is
//! channel `N - 1` and its tx
//! queue region is mapped with `setvar_vaddr="client{N}_tx"`; the driver's
//! tx queue with `setvar_vaddr="driver_tx"` and the driver is channel 10.
//! Clients not configured (variable left 0) are skipped. virt_tx's priority
//! is below the driver's and above the clients'.
#![no_std]
#![no_main]

use mantle_config::serial::SerialVirtTxConfig;
use mantle_runtime::{debug_println, pd_name, protection_domain, setvar, Channel, Handler};
use mantle_serial_client::layout;
use sddf::serial::{SerialConsumer, SerialProducer};
use serial_virt::tx_mux::{Pump, Sink, Source, TxMux};
use serial_virt::wiring::Wiring;
use serial_virt::MAX_CLIENTS;

setvar!(client1_tx);
setvar!(client2_tx);
setvar!(client3_tx);
setvar!(client4_tx);
setvar!(driver_tx);
mantle_config::config_blob!();

/// Colour client lines (ANSI) besides the `[N] ` prefix.
const COLOUR: bool = false;
/// The wiring: from the configuration, or the `setvar` contract.
fn load_wiring() -> Wiring {
    match layout::load_config::<SerialVirtTxConfig, _>(&__mantle_config) {
        Some(c) => Wiring::from_config(&c.driver, c.clients.as_slice()),
        None => Wiring::from_setvars(
            driver_tx.get(),
            [
                client1_tx.get(),
                client2_tx.get(),
                client3_tx.get(),
                client4_tx.get(),
            ],
        ),
    }
}

/// A client's tx queue (absent if not configured).
struct ClientQueue {
    queue: Option<SerialConsumer<'static>>,
    pulled: bool,
}

impl Source for ClientQueue {
    fn pull(&mut self, out: &mut [u8]) -> usize {
        let n = self
            .queue
            .as_mut()
            .map_or(0, |q| q.dequeue_into(out).unwrap_or(0));
        self.pulled |= n > 0;
        n
    }
}

struct DriverQueue {
    queue: SerialProducer<'static>,
    pushed: bool,
}

impl Sink for DriverQueue {
    fn push(&mut self, bytes: &[u8]) -> usize {
        let n = self.queue.enqueue_slice(bytes).unwrap_or(0);
        self.pushed |= n > 0;
        n
    }
}

struct VirtTx {
    /// Clients `1..=count` are configured.
    clients: [ClientQueue; MAX_CLIENTS],
    count: usize,
    channels: [Channel; MAX_CLIENTS],
    driver_ch: Channel,
    driver: DriverQueue,
    mux: TxMux<MAX_CLIENTS>,
}

impl VirtTx {
    /// Pump lines until idle (or the driver's queue is full and it will
    /// signal space), then do the signalling.
    fn run(&mut self) {
        loop {
            let r = self
                .mux
                .pump(&mut self.clients[..self.count], &mut self.driver);
            if r == Pump::Blocked && self.driver.queue.rearm_for_space() {
                continue;
            }
            break;
        }
        // Tell clients that were waiting for space, and the driver about data.
        for (i, c) in self.clients.iter_mut().enumerate() {
            if core::mem::take(&mut c.pulled)
                && c.queue
                    .as_ref()
                    .is_some_and(|q| q.take_space_signal_request())
            {
                let _ = self.channels[i].notify();
            }
        }
        if core::mem::take(&mut self.driver.pushed) {
            let _ = self.driver_ch.notify();
        }
    }
}

impl Handler for VirtTx {
    fn notified(&mut self, ch: Channel) {
        if ch != self.driver_ch && !self.channels[..self.count].contains(&ch) {
            debug_println!("{}: unexpected notification on {}", pd_name(), ch);
            return;
        }
        self.run();
    }
}

fn init() -> VirtTx {
    let w = load_wiring();
    let count = w.count;
    let clients: [ClientQueue; MAX_CLIENTS] = core::array::from_fn(|i| ClientQueue {
        queue: (i < count).then(|| {
            // SAFETY: the system maps client i's tx queue read-write where
            // the wiring says, for this PD's life; virt_tx is its only
            // consumer.
            match unsafe { w.clients[i].1.consumer() } {
                Ok(q) => q,
                Err(e) => panic!("client {} tx queue: {}", i + 1, e),
            }
        }),
        pulled: false,
    });
    // SAFETY: the system maps the driver's tx queue read-write; virt_tx is
    // its only producer.
    let queue = match unsafe { w.driver.1.producer() } {
        Ok(q) => q,
        Err(e) => panic!("driver tx queue: {}", e),
    };
    let mux = TxMux::new(count, COLOUR);
    for i in 0..count {
        let mut p = [0; 16];
        let n = mux.prefix(i, &mut p);
        let name = w.names[i].as_str();
        debug_println!(
            "{}: client {}{}{} (channel {}) prints as '{}'",
            pd_name(),
            i + 1,
            if name.is_empty() { "" } else { " = " },
            name,
            w.clients[i].0,
            core::str::from_utf8(&p[..n]).unwrap_or("?").trim_end()
        );
    }
    let mut v = VirtTx {
        clients,
        count,
        channels: w.clients.map(|c| c.0),
        driver_ch: w.driver.0,
        driver: DriverQueue {
            queue,
            pushed: false,
        },
        mux,
    };
    // Output queued before we started.
    v.run();
    v
}

protection_domain!(init);
