//! # mantle-serial-client: the serial subsystem's client side
//!
//! ```text
//! client 1 ─tx queue─┐                 ┌─ rx queue ─ client 1
//! client 2 ─tx queue─┤ virt_tx ─tx─▶ UART driver ─rx─▶ virt_rx ├─ rx queue ─ client 2
//! ```
//!
//! Every arrow is an sDDF serial queue (`sddf::serial`) in its own memory
//! region ([`layout`]), mapped by its two ends. A producer notifies the
//! consumer after writing; a consumer notifies the producer about free space
//! only when the producer asked (the "signal only when asked" protocol).
//!
//! This crate gives a client PD:
//! - [`Serial::connect`]: one call in `init` that sets up both ends from
//!   the configuration a `<serial_subsystem>` wrote into the image.
//! - [`SerialTx`]: output. It implements `core::fmt::Write`
//!   ([`serial_print!`], [`serial_println!`]); what does not fit in the
//!   queue waits in a private buffer ([`TX_BUFFER`] bytes) and goes out when
//!   virt_tx signals space (call [`SerialTx::space`] from `notified`).
//!   Output beyond that is dropped and counted, never blocks.
//! - [`SerialRx`]: input. [`SerialRx::read`] is non-blocking (call it
//!   from `notified`; [`LineReader`] assembles lines from it);
//!   [`SerialRx::read_byte_blocking`] and [`SerialRx::read_line_blocking`]
//!   block until input is there.
//!
//! ## Blocking reads and the event-driven model
//! A Mantle PD is a single-threaded event handler. A blocking read waits
//! with the runtime's [`mantle_runtime::wait_notified`] on the rx channel:
//! it `RECV`s until virt_rx notifies that channel, while the runtime keeps
//! every other notification (say, virt_tx's "space" signal) and child fault
//! for the event loop to deliver once the current handler returns, and
//! answers protected calls that arrive meanwhile with
//! [`mantle_runtime::BUSY_LABEL`]. So blocking reads suit PDs that serve no
//! protected calls; inside `protected` they fail. Continuation style
//! (non-blocking reads from `notified`) remains the way for servers. No
//! wake-up is lost either way: see [`SerialRx`].
//!
//! ## Design principles
//! - **The peer is not trusted**: all shared-memory access goes through the
//!   `sddf` queue handles, which validate the peer's indices; the capacity
//!   comes from [`layout`], never from shared memory.
//! - **Output never blocks, never loses silently**: full queues are
//!   buffered, then dropped and counted ([`SerialTx::dropped`]). Input
//!   blocks only when asked to ([`SerialRx::read_line_blocking`]).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod connect;
pub mod layout;
mod lines;
mod rx;
mod tx;

pub use connect::{ConnectError, Serial};
pub use lines::LineReader;
pub use rx::{ReadError, SerialRx};
pub use tx::{SerialTx, TX_BUFFER};

/// Print to a [`SerialTx`], like `print!`.
#[macro_export]
macro_rules! serial_print {
    ($tx:expr, $($arg:tt)*) => {{
        let _ = ::core::fmt::Write::write_fmt(&mut $tx, ::core::format_args!($($arg)*));
        $tx.flush();
    }};
}

/// Print a line to a [`SerialTx`], like `println!`.
#[macro_export]
macro_rules! serial_println {
    ($tx:expr) => {{
        let _ = ::core::fmt::Write::write_str(&mut $tx, "\n");
        $tx.flush();
    }};
    ($tx:expr, $($arg:tt)*) => {{
        let _ = ::core::fmt::Write::write_fmt(&mut $tx, ::core::format_args!($($arg)*));
        let _ = ::core::fmt::Write::write_str(&mut $tx, "\n");
        $tx.flush();
    }};
}
