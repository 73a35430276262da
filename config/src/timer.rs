//! The timer subsystem: one driver serving its clients by PPC (the client
//! index is the channel a call arrives on) and notifying them on expiry.

use crate::types::{Ch, List, Name, Region};
use crate::wire::wire_struct;
use crate::{Config, Kind};

/// Most clients of one timer driver (one channel each, plus the IRQ).
pub const MAX_CLIENTS: usize = 61;

wire_struct! {
    /// A client as the driver sees it.
    pub struct TimerClient {
        /// The client PD's name.
        pub name: Name,
        /// The driver's channel id to this client.
        pub channel: Ch,
    }
}

wire_struct! {
    /// The driver's configuration.
    pub struct TimerDriverConfig {
        /// The timer's registers, if mapped (e.g. the HPET at 0xfed00000).
        pub device: Option<Region>,
        /// The timer's IRQ id, if it takes interrupts.
        pub irq: Option<Ch>,
        /// The clients, in order.
        pub clients: List<TimerClient, MAX_CLIENTS>,
    }
}

wire_struct! {
    /// A client's configuration.
    pub struct TimerClientConfig {
        /// The client's channel id to the driver (it PPCs and is notified on
        /// this channel).
        pub channel: Ch,
    }
}

impl Config for TimerDriverConfig {
    const KIND: Kind = Kind::TimerDriver;
}
impl Config for TimerClientConfig {
    const KIND: Kind = Kind::TimerClient;
}
