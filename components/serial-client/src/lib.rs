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
//! - [`SerialTx`]: output. It implements `core::fmt::Write`
//!   ([`serial_print!`], [`serial_println!`]); what does not fit in the
//!   queue waits in a private buffer ([`TX_BUFFER`] bytes) and goes out when
//!   virt_tx signals space (call [`SerialTx::space`] from `notified`).
//!   Output beyond that is dropped and counted, never blocks.
//! - [`SerialRx`]: input. [`SerialRx::read`] is non-blocking;
//!   [`LineReader`] assembles lines from it.
//!
//! ## Blocking reads and the event-driven model
//! A Mantle PD is a single-threaded event handler: it cannot wait inside a
//! handler, because the runtime's `RECV` would hand it the next event of any
//! kind. So a "blocking read" is written in continuation style: return from
//! the handler, and when the rx channel is notified, call
//! [`SerialRx::read`] (feeding a [`LineReader`]) and carry on; read until
//! it returns 0. No wake-up is lost: virt_rx notifies after every batch it
//! delivers (serial queues always signal the consumer). A true
//! blocking `read` would need a runtime primitive that waits for one
//! channel while stashing other notifications (requested in
//! `docs/integration-notes.md`).
//!
//! ## Design principles
//! - **The peer is not trusted**: all shared-memory access goes through the
//!   `sddf` queue handles, which validate the peer's indices; the capacity
//!   comes from [`layout`], never from shared memory.
//! - **Never block, never lose silently**: full queues are buffered, then
//!   dropped and counted ([`SerialTx::dropped`]).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod layout;
mod lines;
mod rx;
mod tx;

pub use lines::LineReader;
pub use rx::SerialRx;
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
