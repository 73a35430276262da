//! The timer example's clients: each arms a fixed schedule of timeouts
//! (one-shot relative, one-shot absolute, periodic, one cancelled before it
//! could fire) and checks every expiry as it arrives:
//!
//! - **never early**: the client's own clock reading when it handles the
//!   expiry is at or after the time it asked for;
//! - **in order**: expiries arrive in the order of their requested times
//!   (several delivered by one notification are ordered by requested time,
//!   which is all a client can observe), exactly as [`expected_order`]
//!   computes from the schedule;
//! - **nothing else**: a cancelled timeout never fires, a periodic one fires
//!   exactly as often as asked before the client cancels it.
//!
//! The checker ([`Checker`]) is pure and tested on the host; [`Runner`]
//! drives it from a PD's event loop.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod check;
pub mod runner;

pub use check::{expected_order, Checker, Event, Spec, Violation, MAX_EVENTS};
pub use runner::Runner;

/// Client A's schedule (times in ms after the client starts).
pub const SCHEDULE_A: &[Spec] = &[
    Spec::periodic("tick", 20, 20, 5),
    Spec::once("once-30", 30),
    Spec::absolute("abs-50", 50),
    Spec::cancelled("cancel-70", 70),
    Spec::once("once-110", 110),
];

/// Client B's schedule.
pub const SCHEDULE_B: &[Spec] = &[
    Spec::periodic("fast", 15, 15, 4),
    Spec::once("once-25", 25),
    Spec::absolute("abs-52", 52),
    Spec::once("late-90", 90),
    Spec::cancelled("cancel-40", 40),
];

/// client A: channel to the timer driver (pp).
pub const A_TIMER: usize = 0;
/// client A: client B reports success here.
pub const A_B_DONE: usize = 1;
/// client A: client B reports a failure here.
pub const A_B_FAIL: usize = 2;
/// client A: the I/O port grant for QEMU's exit port.
pub const A_EXIT_IOPORT: usize = 0;
/// client B: channel to the timer driver (pp).
pub const B_TIMER: usize = 0;
/// client B: report success to A.
pub const B_DONE: usize = 1;
/// client B: report failure to A.
pub const B_FAIL: usize = 2;
/// client A: if the whole example has not finished after this long, fail.
pub const WATCHDOG_MS: u64 = 10_000;
