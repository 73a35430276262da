//! The serial receive virtualiser PD.
//!
//! Configuration: `__mantle_config` (`SerialVirtRxConfig`, including the
//! switch key) in a composed system; otherwise this SDF contract: client
//! `N` (1-based, up to 4, contiguous) is channel
//! `N - 1` with its rx queue region mapped at `setvar_vaddr="client{N}_rx"`;
//! the driver's rx queue at `setvar_vaddr="driver_rx"`, the driver on
//! channel 10. Input goes to one client at a time; `Ctrl-\ N` switches
//! (see `serial_virt::rx_switch`). Bytes for a client whose queue is full
//! are dropped and counted: input never waits for a slow client.
#![no_std]
#![no_main]

use mantle_config::serial::SerialVirtRxConfig;
use mantle_runtime::{debug_println, pd_name, protection_domain, setvar, Channel, Handler};
use mantle_serial_client::layout;
use sddf::serial::{SerialConsumer, SerialProducer};
use serial_virt::rx_switch::{Input, RxSwitch, SWITCH_KEY};
use serial_virt::wiring::Wiring;
use serial_virt::MAX_CLIENTS;

setvar!(client1_rx);
setvar!(client2_rx);
setvar!(client3_rx);
setvar!(client4_rx);
setvar!(driver_rx);
mantle_config::config_blob!();

/// The wiring and the switch key: from the configuration, or the `setvar`
/// contract (with the default key).
fn load_wiring() -> (Wiring, Option<u8>) {
    match layout::load_config::<SerialVirtRxConfig, _>(&__mantle_config) {
        Some(c) => (
            Wiring::from_config(&c.driver, c.clients.as_slice()),
            (c.switch_char != 0).then_some(c.switch_char),
        ),
        None => (
            Wiring::from_setvars(
                driver_rx.get(),
                [
                    client1_rx.get(),
                    client2_rx.get(),
                    client3_rx.get(),
                    client4_rx.get(),
                ],
            ),
            Some(SWITCH_KEY),
        ),
    }
}

struct VirtRx {
    driver_ch: Channel,
    channels: [Channel; MAX_CLIENTS],
    count: usize,
    driver: SerialConsumer<'static>,
    clients: [Option<SerialProducer<'static>>; MAX_CLIENTS],
    switch: RxSwitch,
    dropped: u64,
}

impl VirtRx {
    fn run(&mut self) {
        let mut delivered = 0u64; // bit i: client i got data
        let mut buf = [0u8; 64];
        loop {
            let n = self.driver.dequeue_into(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                match self.switch.feed(b) {
                    Input::Deliver { client, byte } => {
                        match self.clients[client].as_mut().map(|q| q.enqueue(byte)) {
                            Some(Ok(())) => delivered |= 1 << client,
                            _ => self.dropped += 1,
                        }
                    }
                    Input::Switched { client } => {
                        debug_println!("{}: input now goes to client {}", pd_name(), client + 1)
                    }
                    Input::NoSuchClient { number } => {
                        debug_println!(
                            "{}: no client {}; input stays with client {}",
                            pd_name(),
                            number,
                            self.switch.current() + 1
                        )
                    }
                    Input::Nothing => {}
                }
            }
        }
        if self.driver.take_space_signal_request() {
            let _ = self.driver_ch.notify();
        }
        // The serial protocol: the producer always notifies the consumer.
        for i in mantle_runtime::ChannelSet::from_mask(delivered) {
            let _ = self.channels[i.index()].notify();
        }
    }
}

impl Handler for VirtRx {
    fn notified(&mut self, ch: Channel) {
        if ch == self.driver_ch {
            self.run();
        } else if !self.channels[..self.count].contains(&ch) {
            // (A client freeing space needs nothing: input is dropped rather
            // than held.)
            debug_println!("{}: unexpected notification on {}", pd_name(), ch);
        }
    }
}

fn init() -> VirtRx {
    let (w, key) = load_wiring();
    let count = w.count;
    let clients = core::array::from_fn(|i| {
        (i < count).then(|| {
            // SAFETY: the system maps client i's rx queue read-write where
            // the wiring says; virt_rx is its only producer.
            match unsafe { w.clients[i].1.producer() } {
                Ok(q) => q,
                Err(e) => panic!("client {} rx queue: {}", i + 1, e),
            }
        })
    });
    // SAFETY: the system maps the driver's rx queue read-write; virt_rx is
    // its only consumer.
    let driver = match unsafe { w.driver.1.consumer() } {
        Ok(q) => q,
        Err(e) => panic!("driver rx queue: {}", e),
    };
    match key {
        Some(SWITCH_KEY) => debug_println!(
            "{}: {} clients; input goes to client 1; Ctrl-\\ N switches to client N",
            pd_name(),
            count
        ),
        Some(k) => debug_println!(
            "{}: {} clients; input goes to client 1; byte {:#x} then N switches to client N",
            pd_name(),
            count,
            k
        ),
        None => debug_println!("{}: {} clients; input goes to client 1", pd_name(), count),
    }
    let mut v = VirtRx {
        driver_ch: w.driver.0,
        channels: w.clients.map(|c| c.0),
        count,
        driver,
        clients,
        switch: RxSwitch::with_key(count, key),
        dropped: 0,
    };
    v.run();
    v
}

protection_domain!(init);
