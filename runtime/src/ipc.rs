//! Message registers in the IPC buffer.
//!
//! The IPC buffer is the top user page ([`IPC_BUFFER_VADDR`]). Its first
//! [`MAX_MESSAGE_REGISTERS`] words are the message registers; the kernel
//! copies the first `count` of them on a protected call and on its reply.
//! All access is volatile, because the kernel reads and writes the page
//! during syscalls.
//!
//! Debug printing also uses the IPC buffer, but saves and restores the words
//! it overwrites, so printing between `mr_set` and `ppcall` (or inside
//! `protected` before replying) is harmless.

use mantle_abi::layout::IPC_BUFFER_VADDR;
pub use mantle_abi::limits::MAX_MESSAGE_REGISTERS;

#[inline(always)]
fn mr_ptr(i: usize) -> *mut u64 {
    assert!(
        i < MAX_MESSAGE_REGISTERS,
        "message register index out of range"
    );
    (IPC_BUFFER_VADDR as *mut u64).wrapping_add(i)
}

/// Set message register `i` (panics if `i >= MAX_MESSAGE_REGISTERS`).
#[inline]
pub fn mr_set(i: usize, value: u64) {
    let p = mr_ptr(i);
    // SAFETY: the kernel maps this PD's IPC buffer read-write at
    // IPC_BUFFER_VADDR for the PD's whole life; `i` is in bounds, so `p` lies
    // in that page and is 8-byte aligned. Nothing holds a reference to it.
    unsafe { p.write_volatile(value) }
}

/// Read message register `i` (panics if `i >= MAX_MESSAGE_REGISTERS`).
#[inline]
pub fn mr_get(i: usize) -> u64 {
    let p = mr_ptr(i);
    // SAFETY: as in `mr_set`.
    unsafe { p.read_volatile() }
}

/// Bytes at the start of the IPC buffer, for `DEBUG_PUTS`. Words are saved
/// into `save` first and must be restored with [`restore_words`].
pub(crate) fn stash_bytes(bytes: &[u8], save: &mut [u64; MAX_MESSAGE_REGISTERS]) -> usize {
    let words = bytes.len().div_ceil(8).min(MAX_MESSAGE_REGISTERS);
    for (i, s) in save.iter_mut().enumerate().take(words) {
        *s = mr_get(i);
    }
    for (i, chunk) in bytes.chunks(8).enumerate().take(words) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        mr_set(i, u64::from_le_bytes(w));
    }
    words
}

/// Put back the words saved by [`stash_bytes`].
pub(crate) fn restore_words(save: &[u64; MAX_MESSAGE_REGISTERS], words: usize) {
    for (i, s) in save.iter().enumerate().take(words) {
        mr_set(i, *s);
    }
}
