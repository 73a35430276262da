//! The virtualisers' wiring: the driver's channel and queue and the
//! clients', from a composed system's configuration or from the `setvar`
//! contract of a hand-written one. Shared by virt_tx and virt_rx.

use mantle_config::serial::{SerialConn, SerialVirtClient};
use mantle_config::Name;
use mantle_runtime::Channel;
use mantle_serial_client::layout::QueueAddr;

use crate::{DRIVER_CH, MAX_CLIENTS, SETVAR_CLIENTS};

/// Channels and queues.
pub struct Wiring {
    /// The driver's channel and queue.
    pub driver: (Channel, QueueAddr),
    /// Client `i`'s channel and queue (`i < count`).
    pub clients: [(Channel, QueueAddr); MAX_CLIENTS],
    /// Client `i`'s name (empty in hand-written systems).
    pub names: [Name; MAX_CLIENTS],
    /// Clients `0..count` are configured.
    pub count: usize,
}

impl Wiring {
    fn empty() -> Wiring {
        let none = (Channel::new(usize::MAX), QueueAddr::in_region(0));
        Wiring {
            driver: none,
            clients: [none; MAX_CLIENTS],
            names: [Name::default(); MAX_CLIENTS],
            count: 0,
        }
    }

    /// Hand-written systems: the driver on [`DRIVER_CH`] with its queue
    /// region at `driver_vaddr`; client `N` (1-based) on channel `N - 1`
    /// with its queue region at `client_vaddrs[N - 1]`. Clients 1..=count,
    /// numbered contiguously: the first zero address ends the list.
    pub fn from_setvars(driver_vaddr: u64, client_vaddrs: [u64; SETVAR_CLIENTS]) -> Wiring {
        let mut w = Wiring::empty();
        w.driver = (Channel::new(DRIVER_CH), QueueAddr::in_region(driver_vaddr));
        w.count = client_vaddrs
            .iter()
            .take_while(|&&v| v != 0)
            .count()
            .min(SETVAR_CLIENTS);
        for (i, &v) in client_vaddrs.iter().enumerate().take(w.count) {
            w.clients[i] = (Channel::new(i), QueueAddr::in_region(v));
        }
        w
    }

    /// Composed systems: the driver and clients as configured. Panics on bad
    /// queue regions or more than [`MAX_CLIENTS`] clients.
    pub fn from_config(driver: &SerialConn, clients: &[SerialVirtClient]) -> Wiring {
        let mut w = Wiring::empty();
        let queue = |q| QueueAddr::from_config(q).unwrap_or_else(|| panic!("bad queue regions"));
        w.driver = (
            Channel::new(driver.channel.0 as usize),
            queue(&driver.queue),
        );
        assert!(
            clients.len() <= MAX_CLIENTS,
            "more than {} clients",
            MAX_CLIENTS
        );
        for (i, cl) in clients.iter().enumerate() {
            w.clients[i] = (
                Channel::new(cl.conn.channel.0 as usize),
                queue(&cl.conn.queue),
            );
            w.names[i] = cl.name;
        }
        w.count = clients.len();
        w
    }
}
