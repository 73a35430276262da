//! # mantle-runtime: the protection-domain runtime
//!
//! The runtime plays libmicrokit's role for Mantle PDs (its Rust API is
//! modelled on rust-sel4's `sel4-microkit`): it provides the program entry,
//! the event loop, channels, message registers, child control, port I/O,
//! debug output, `setvar` variables and a panic handler.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use mantle_runtime::{debug_println, protection_domain, Channel, Handler};
//!
//! struct Pd;
//! impl Handler for Pd {
//!     fn notified(&mut self, ch: Channel) {
//!         debug_println!("notified on {ch}");
//!     }
//! }
//! fn init() -> Pd {
//!     debug_println!("hello");
//!     Pd
//! }
//! protection_domain!(init);
//! ```
//!
//! Every PD binary must invoke [`protection_domain!`] exactly once: it
//! defines `__mantle_main`, which the runtime's `_start` calls (a missing
//! invocation shows up as the link error "undefined symbol: __mantle_main").
//!
//! ## Design principles
//! - **The kernel is the authority.** The runtime does not keep its own copy
//!   of the SDF: ids are passed to the kernel, which checks every grant, and
//!   an id the SDF did not grant comes back as an [`Error`] the PD can see
//!   (libmicrokit only prints; sel4-microkit panics).
//! - **No hidden state in message registers.** Debug printing borrows the IPC
//!   buffer but saves and restores the words it uses, so it may be used
//!   anywhere, even between [`mr_set`] and [`Channel::ppcall`].
//! - **Minimal, documented `unsafe`.** `syscall` is executed in one module
//!   ([`raw`]); the IPC buffer is accessed only with volatile operations in
//!   [`ipc`]; patched variables are read volatilely in [`vars`]. Each block
//!   carries a `SAFETY:` comment.
//! - **Restart-safe.** A restarted PD re-enters `_start` with its data as it
//!   was (Microkit semantics); the runtime resets its own state there.
//! - **Host-testable.** Pure parts (mask iteration order, fault decoding,
//!   errors, names) are tested with `cargo test -p mantle-runtime` on the
//!   host, and so are the event loop and [`wait_notified`], run against a
//!   scripted kernel; `_start` and the panic handler exist only on the
//!   bare-metal target.
//!
//! ## The program image
//! The build script provides the linker script `mantle-pd.ld`: `_start` at
//! 0x200000 ([`ENTRY_POINT`]), then text (R X), rodata (R) and data+bss
//! (R W) in separate page-aligned `PT_LOAD` segments. `setvar` symbols
//! ([`setvar!`]) and the name buffer `__mantle_pd_name` are in `.data`, so
//! `mantle build` can patch them in the file.
//!
//! ## Events
//! After `init`, [`run`] loops on `RECV`; see [`Handler`] for the callbacks
//! and their order. Deferred actions ([`Channel::deferred_notify`],
//! [`Channel::deferred_irq_ack`]) ride on the next `RECV`.
//!
//! ## Blocking for one channel
//! [`wait_notified`] (or [`Channel::wait`]) blocks inside a handler until
//! one channel is notified. Other notifications and child faults that
//! arrive meanwhile are stashed and delivered by the event loop when the
//! handler returns; protected calls arriving meanwhile are answered at once
//! with [`BUSY_LABEL`]. It is meant for PDs that serve no protected calls;
//! see its documentation for the rules.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod arch;
pub mod channel;
pub mod child;
pub mod debug;
pub mod error;
mod handler;
pub mod ioport;
pub mod ipc;
pub mod raw;
#[cfg(all(target_os = "none", not(test)))]
mod rt;
pub mod shared;
mod stash;
mod sys;
pub mod vars;
mod wait;

pub use arch::rdtsc;
pub use channel::{Channel, ChannelSet, MessageInfo};
pub use child::{pd_restart, pd_resume, pd_stop, Child, FaultInfo, FaultKind, ENTRY_POINT};
pub use error::Error;
pub use handler::{run, Handler, BUSY_LABEL, UNHANDLED_LABEL};
pub use ioport::{power_off, IoPort, DEBUG_EXIT_PORT};
pub use ipc::{mr_get, mr_set, MAX_MESSAGE_REGISTERS};
pub use mantle_abi as abi;
pub use shared::SharedWords;
pub use vars::{pd_name, PdName, SetVar};
pub use wait::wait_notified;

/// Build a [`MessageInfo`] (libmicrokit's `microkit_msginfo_new`): `label`
/// is truncated to 52 bits, `count` clamped to 64.
pub const fn msginfo_new(label: u64, count: usize) -> MessageInfo {
    MessageInfo::new(label, count)
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_point_is_the_link_address() {
        assert_eq!(super::ENTRY_POINT, 0x20_0000);
        // build.rs hard-codes the same link address.
        let script = include_str!(concat!(env!("OUT_DIR"), "/mantle-pd.ld"));
        assert!(script.contains(". = 0x200000;"));
    }
}
