//! # The HPET timer driver's logic
//!
//! The driver PD (`src/bin/hpet_driver.rs`) owns the HPET and serves the
//! timer protocol of `mantle-timer-client` to its clients by PPC. This
//! library holds everything that is not hardware access, so it is tested on
//! the host (`cargo test -p mantle-hpet-driver --lib`):
//!
//! - [`hpet`]: register offsets and bits, capability decoding, the
//!   comparator configuration, and tick/ns conversions (rounded so a
//!   timeout is never early);
//! - [`timeouts`]: per-client sorted timeout tables with periodic
//!   re-arming and expiry reports;
//! - [`server`]: request handling, generic over a clock, so the protocol
//!   behaviour (who may touch which timeout) is tested without hardware.
//!
//! ## Design principles
//! - **Clients are named by channel.** The client index is the channel id a
//!   PPC arrives on; a client never names another client, so it can neither
//!   see nor cancel another's timeouts.
//! - **Never early.** Deadlines are converted to comparator values rounded
//!   up, and a timeout expires only when the counter has reached it.
//! - **No lost expiry.** After programming the comparator the driver reads
//!   the counter again and handles anything already due, so a deadline that
//!   passes while it is being programmed is not missed.
//! - **Bounded work.** At most `MAX_TIMEOUTS` per client and a fixed number
//!   of clients; every call is O(clients × timeouts).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod hpet;
pub mod server;
pub mod timeouts;
