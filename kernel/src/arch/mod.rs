//! The architecture seam. Everything CPU- or platform-specific lives below
//! `arch/<name>/`; the rest of the kernel uses only what is re-exported here.

pub mod x86_64;

pub use self::x86_64::*;
