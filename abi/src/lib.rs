//! # mantle-abi: the contract between the kernel, the tool and the runtime
//!
//! Everything two Mantle components must agree on lives here and nowhere
//! else: syscall numbers and register conventions ([`syscall`]), system limits
//! ([`limits`]), the user and physical address-space layout ([`layout`]), the
//! IPC buffer and message format ([`ipc`]), fault reports ([`fault`]), the
//! kernel's power-off statuses ([`exit`]) and the boot description that
//! `mantle build` writes and the kernel reads ([`bootdesc`]).
//!
//! ## Design principles
//! - **One definition.** A constant defined here is never re-typed elsewhere.
//! - **Untrusted until checked.** The kernel decodes the boot description with
//!   [`bootdesc::BootDescription::parse`], which bounds-checks every table and
//!   cross-reference before anything is handed out. Decoding never panics, on
//!   any input (a property test holds this).
//! - **No pointers across the boundary.** Syscalls carry only register values
//!   and data in the caller's IPC buffer, whose frame the kernel already knows.
//!   A PD cannot make the kernel dereference an address of its choosing.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod bootdesc;
pub mod exit;
pub mod fault;
pub mod ipc;
pub mod layout;
pub mod limits;
pub mod syscall;
