//! # Mantle's serial virtualisers
//!
//! - **virt_tx** multiplexes the clients' output onto the UART driver's tx
//!   queue ([`tx_mux`]): each line is prefixed with the client's number
//!   (`[1] `, optionally coloured), lines from different clients never
//!   interleave (a client's partial line waits until its newline or until
//!   [`tx_mux::LINE_MAX`] bytes), and clients take turns with a byte budget
//!   per turn ([`tx_mux::TURN_BUDGET`]), so one that floods cannot starve
//!   the others.
//! - **virt_rx** gives input to one client at a time ([`rx_switch`]):
//!   `Ctrl-\` (0x1c) then a digit `N` switches input to client `N`
//!   (1-based, as shown in the output prefix); an Enter right after the
//!   digit is swallowed (sDDF's `Ctrl-\ N Enter` works the same);
//!   `Ctrl-\ Ctrl-\` sends one literal 0x1c.
//!
//! ## Design principles
//! - **Policies are pure.** The multiplexer and the switch work on byte
//!   sources and sinks (traits), so they are tested on the host with real
//!   `sddf` queues in local memory; the PD binaries only wire queues,
//!   channels and the signalling protocol.
//! - **Untrusted peers.** All queue access goes through `sddf`'s checked
//!   handles; a corrupt queue reads as empty (or full) and is counted.
//! - **Bounded.** Fixed buffers, bounded loops: work per notification is
//!   bounded by what the queues hold.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod rx_switch;
pub mod tx_mux;
pub mod wiring;

/// Most clients a virtualiser serves (input switching names them by one
/// digit, 1–8).
pub const MAX_CLIENTS: usize = 8;
/// Hand-written systems: the virtualisers' channel to the UART driver
/// (client `N` is channel `N - 1`). Composed systems take every id from
/// the configuration.
pub const DRIVER_CH: usize = 10;
/// Hand-written systems: clients configured by `setvar` (1–4).
pub const SETVAR_CLIENTS: usize = 4;
