//! The network subsystem, as in sDDF: a NIC driver; a receive virtualiser
//! that owns the receive DMA buffers and routes frames by MAC address; a
//! transmit virtualiser that multiplexes the clients' transmit buffers;
//! and one copier per client that copies received frames from the DMA
//! buffers into the client's own buffers (so no client can see another's
//! traffic or hold a DMA buffer).

use crate::types::{Ch, List, Mac, Name, Region};
use crate::wire::wire_struct;
use crate::{Config, Kind};

/// Most clients of one network subsystem.
pub const MAX_CLIENTS: usize = 16;

wire_struct! {
    /// A pair of descriptor queues (`sddf::net`): buffers going one way
    /// (active) and coming back (free).
    pub struct NetQueue {
        /// The free queue.
        pub free: Region,
        /// The active queue.
        pub active: Region,
        /// Entries per queue.
        pub capacity: u32,
    }
}

wire_struct! {
    /// A queue pair and the channel that signals about it.
    pub struct NetConn {
        /// This PD's channel id to the peer.
        pub channel: Ch,
        /// The queues.
        pub queue: NetQueue,
    }
}

wire_struct! {
    /// The driver's configuration.
    pub struct NetDriverConfig {
        /// The NIC's registers, if mapped.
        pub device: Option<Region>,
        /// Memory for the NIC's own descriptor rings (DMA), if any.
        pub hw_ring: Option<Region>,
        /// The NIC's IRQ id, if it takes interrupts.
        pub irq: Option<Ch>,
        /// Received frames to the receive virtualiser.
        pub rx: NetConn,
        /// Frames to send, from the transmit virtualiser.
        pub tx: NetConn,
        /// The NIC's MAC address.
        pub mac: Mac,
    }
}

wire_struct! {
    /// A client (through its copier) as the receive virtualiser sees it.
    pub struct NetVirtRxClient {
        /// The client PD's name.
        pub name: Name,
        /// Channel and queues to the client's copier.
        pub conn: NetConn,
        /// Frames to this MAC address go to this client.
        pub mac: Mac,
    }
}

wire_struct! {
    /// The receive virtualiser's configuration.
    pub struct NetVirtRxConfig {
        /// Queues from the driver.
        pub driver: NetConn,
        /// The receive DMA buffers (`paddr` set: descriptors carry
        /// physical addresses).
        pub data: Region,
        /// The copiers, one per client, in client order.
        pub clients: List<NetVirtRxClient, MAX_CLIENTS>,
    }
}

wire_struct! {
    /// A client as the transmit virtualiser sees it.
    pub struct NetVirtTxClient {
        /// The client PD's name.
        pub name: Name,
        /// Channel and queues to the client.
        pub conn: NetConn,
        /// The client's transmit buffers (`paddr` set).
        pub data: Region,
    }
}

wire_struct! {
    /// The transmit virtualiser's configuration.
    pub struct NetVirtTxConfig {
        /// Queues to the driver.
        pub driver: NetConn,
        /// The clients, in order.
        pub clients: List<NetVirtTxClient, MAX_CLIENTS>,
    }
}

wire_struct! {
    /// A copier's configuration.
    pub struct NetCopierConfig {
        /// Queues from the receive virtualiser.
        pub virt: NetConn,
        /// The receive DMA buffers (read-only here).
        pub virt_data: Region,
        /// Queues to the client.
        pub client: NetConn,
        /// The client's receive buffers.
        pub client_data: Region,
    }
}

wire_struct! {
    /// A client's configuration.
    pub struct NetClientConfig {
        /// Received frames, from the copier.
        pub rx: NetConn,
        /// The client's receive buffers.
        pub rx_data: Region,
        /// Frames to send, to the transmit virtualiser.
        pub tx: NetConn,
        /// The client's transmit buffers.
        pub tx_data: Region,
        /// The client's MAC address.
        pub mac: Mac,
    }
}

impl Config for NetDriverConfig {
    const KIND: Kind = Kind::NetDriver;
}
impl Config for NetVirtRxConfig {
    const KIND: Kind = Kind::NetVirtRx;
}
impl Config for NetVirtTxConfig {
    const KIND: Kind = Kind::NetVirtTx;
}
impl Config for NetCopierConfig {
    const KIND: Kind = Kind::NetCopier;
}
impl Config for NetClientConfig {
    const KIND: Kind = Kind::NetClient;
}
