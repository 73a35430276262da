//! System-wide limits, as in Microkit where Microkit has one.

/// Protection domains per system, children included (Microkit: 63).
pub const MAX_PDS: usize = 63;
/// Channel and IRQ ids per PD: `0..MAX_IDS` (Microkit: 62, two badge bits
/// being reserved for PPC and faults).
pub const MAX_IDS: usize = 62;
/// I/O port grants per PD (a separate id space).
pub const MAX_IOPORTS_PER_PD: usize = 64;
/// Child ids of a parent PD: `0..MAX_CHILD_IDS`.
pub const MAX_CHILD_IDS: usize = 64;
/// Highest scheduling priority. Priorities are `0..=MAX_PRIORITY`.
pub const MAX_PRIORITY: u8 = 254;
/// Default budget in microseconds (Microkit's default).
pub const DEFAULT_BUDGET_US: u64 = 1000;
/// Budgets and periods are at most this many microseconds (about an hour);
/// the kernel converts them to TSC ticks and must not overflow.
pub const MAX_BUDGET_US: u64 = 3_600_000_000;
/// Default stack size of a PD.
pub const DEFAULT_STACK_SIZE: u64 = 0x2000;
/// Smallest allowed stack.
pub const MIN_STACK_SIZE: u64 = 0x1000;
/// Largest allowed stack (16 MiB).
pub const MAX_STACK_SIZE: u64 = 0x100_0000;
/// Message registers in an IPC buffer.
pub const MAX_MESSAGE_REGISTERS: usize = 64;
/// Longest name of a PD or memory region, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Hardware interrupt vectors available to PDs: `0..NUM_USER_VECTORS`
/// (Microkit's x86 range 0..=107).
pub const NUM_USER_VECTORS: u8 = 108;
/// Maps per PD, ELF segments, stack and IPC buffer included.
pub const MAX_MAPS_PER_PD: usize = 256;
