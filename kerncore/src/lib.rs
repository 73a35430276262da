//! The portable core of the Mantle kernel: the logic that decides, kept
//! apart from the code that touches the machine, so that it builds and is
//! tested on the host as well as in the kernel.
//!
//! - [`sched`]: ready and caller queues with a priority bitmap, scheduling
//!   contexts with budgets and sporadic refills, bandwidth inheritance
//!   (which SC a stalled passive server borrows, the debt its home SC
//!   repays, when a loan ends), and the choice of the PD to run.
//! - [`boot`]: the boot description's cross-PD checks (no PD reaches
//!   another's private memory).
//!
//! # Design
//!
//! - **No unsafe code** (`#![forbid(unsafe_code)]`) and no allocation
//!   (`#![no_std]`, fixed-size tables indexed by PD): everything here is
//!   ordinary safe Rust, so its host tests exercise the same code the
//!   kernel runs.
//! - **The machine is a trait** ([`Machine`]): the clock and the one-shot
//!   preemption timer, the only hardware the scheduler needs. The kernel
//!   implements it with RDTSC and the LAPIC timer; tests implement it with
//!   a simulated clock, so a test decides when time passes and when the
//!   timer fires.
//! - **The kernel's control blocks are a trait too** ([`Threads`]): the
//!   scheduler asks only whether a PD is runnable and whose call a passive
//!   server serves (the chains of calls that bandwidth inheritance
//!   follows). The kernel implements it over its TCBs; both traits are
//!   generic parameters, monomorphised into the kernel's hot paths.
//! - **Private fields, stated invariants**: each type's invariants are
//!   documented where its fields are declared and kept by its methods;
//!   the one public table, `Scheduler::thread_sc`, is written by the
//!   kernel's IPC paths (it holds any SC index).
//! - **Hot functions are `#[inline]`**: the kernel is built with one codegen
//!   unit and no LTO, so code that must inline into its fast paths says so.
//!
//! # Known limits
//!
//! - PD ids are plain indices ([`PdId`], below `MAX_PDS`), as in the rest
//!   of the kernel; an out-of-range id is a kernel bug and panics on the
//!   bounds check (the kernel validates every id that comes from a PD
//!   before it gets here). A checked newtype would need every caller in
//!   the kernel to change with it.
//! - The IPC and fault state machines (call, reply, queued callers, stop,
//!   fault delivery) are still in the kernel (`ipc.rs`, `child.rs`,
//!   `fault.rs`): they set `thread_sc` and the callers queues, and the
//!   host model test re-states their scheduling effects rather than
//!   running them.
//! - Time is charged only at SC switches and timer ticks, so a PD runs at
//!   most until the timer fires past its budget: the precision is the
//!   timer's (the host model fires it exactly at its deadline).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod boot;
pub mod sched;

/// Index of a PD in the kernel's tables (and the boot description):
/// below `mantle_abi::limits::MAX_PDS`.
pub type PdId = usize;

/// "No PD / no entry" in byte-sized tables.
pub const NONE: u8 = 0xff;

/// What the scheduler needs to know of the PDs' threads, which the kernel
/// keeps in its control blocks. Passed by value (a reference to the
/// control blocks, typically), so it must be `Copy`.
pub trait Threads: Copy {
    /// PD `pd` may run: ready, not blocked, stopped or faulted.
    fn runnable(&self, pd: PdId) -> bool;
    /// If `pd` is a passive server (after its init) serving a protected
    /// call, the caller whose call it is: the link of a chain of calls
    /// that runs on one SC.
    fn serving_passively(&self, pd: PdId) -> Option<PdId>;
}

/// What the portable kernel logic needs of the machine: a clock and a
/// one-shot timer.
pub trait Machine {
    /// The clock: monotonic ticks (the unit of every budget and period,
    /// calibrated by [`sched::Scheduler::set_clock`]).
    fn now(&self) -> u64;
    /// Make the preemption timer fire once, `count` timer units from now
    /// (`count >= 1`), replacing any earlier arming.
    fn arm_timer(&mut self, count: u32);
    /// Stop the preemption timer.
    fn stop_timer(&mut self);
}
