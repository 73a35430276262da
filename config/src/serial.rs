//! The serial subsystem: a UART driver, a transmit virtualiser that merges
//! the clients' output, a receive virtualiser that hands input to one
//! client at a time, and the clients. Each connection is one sDDF serial
//! queue (a header region and a data region) and one channel.

use crate::types::{Ch, List, Name, Region};
use crate::wire::wire_struct;
use crate::{Config, Kind};

/// Most clients of one serial subsystem.
pub const MAX_CLIENTS: usize = 16;

wire_struct! {
    /// One end of a serial queue as one PD sees it.
    pub struct SerialQueue {
        /// The queue header (`sddf::serial::SerialHeader`).
        pub queue: Region,
        /// The data ring (a power-of-two number of bytes).
        pub data: Region,
    }
}

wire_struct! {
    /// A queue and the channel that signals about it.
    pub struct SerialConn {
        /// This PD's channel id to the peer.
        pub channel: Ch,
        /// The queue.
        pub queue: SerialQueue,
    }
}

wire_struct! {
    /// The UART the driver owns.
    pub struct SerialDevice {
        /// I/O port grant id (`<ioport id>`), if the UART is port-mapped.
        pub ioport: Option<Ch>,
        /// First I/O port (e.g. 0x3f8 for COM1).
        pub port_base: u16,
        /// IRQ id, if the driver takes interrupts.
        pub irq: Option<Ch>,
        /// Baud rate.
        pub baud: u32,
    }
}

wire_struct! {
    /// The driver's configuration.
    pub struct SerialDriverConfig {
        /// The UART.
        pub device: SerialDevice,
        /// Output from the transmit virtualiser (the driver consumes).
        pub tx: SerialConn,
        /// Input to the receive virtualiser (the driver produces), if any.
        pub rx: Option<SerialConn>,
    }
}

wire_struct! {
    /// A client as a virtualiser sees it.
    pub struct SerialVirtClient {
        /// The client PD's name.
        pub name: Name,
        /// Channel and queue to this client.
        pub conn: SerialConn,
    }
}

wire_struct! {
    /// The transmit virtualiser's configuration.
    pub struct SerialVirtTxConfig {
        /// Queue to the driver (the virtualiser produces).
        pub driver: SerialConn,
        /// Clients' transmit queues (the virtualiser consumes), in order.
        pub clients: List<SerialVirtClient, MAX_CLIENTS>,
        /// Prefix each client's output with its name?
        pub prefix_names: bool,
    }
}

wire_struct! {
    /// The receive virtualiser's configuration.
    pub struct SerialVirtRxConfig {
        /// Queue from the driver (the virtualiser consumes).
        pub driver: SerialConn,
        /// Clients' receive queues (the virtualiser produces), in order.
        pub clients: List<SerialVirtClient, MAX_CLIENTS>,
        /// The byte that, followed by a client's index digit, switches input
        /// to that client (0: never switch; input goes to client 0).
        pub switch_char: u8,
    }
}

wire_struct! {
    /// A client's configuration.
    pub struct SerialClientConfig {
        /// Output: queue to the transmit virtualiser.
        pub tx: SerialConn,
        /// Input: queue from the receive virtualiser, if the client reads.
        pub rx: Option<SerialConn>,
    }
}

impl Config for SerialDriverConfig {
    const KIND: Kind = Kind::SerialDriver;
}
impl Config for SerialVirtTxConfig {
    const KIND: Kind = Kind::SerialVirtTx;
}
impl Config for SerialVirtRxConfig {
    const KIND: Kind = Kind::SerialVirtRx;
}
impl Config for SerialClientConfig {
    const KIND: Kind = Kind::SerialClient;
}
