//! The IPC buffer and message info.

use crate::limits::MAX_MESSAGE_REGISTERS;

/// Bytes of the IPC buffer usable for message registers (and debug strings).
pub const IPC_BUFFER_BYTES: usize = MAX_MESSAGE_REGISTERS * 8;

/// The layout of a PD's IPC buffer page, at
/// [`crate::layout::IPC_BUFFER_VADDR`]. The kernel copies the first `count`
/// message registers from caller to callee on a protected call, and back on
/// the reply.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
pub struct IpcBuffer {
    /// Message registers.
    pub mrs: [u64; MAX_MESSAGE_REGISTERS],
}

/// Label and register count of a message, packed in one word:
/// bits 0..7 hold the count (0..=64), bits 12..64 the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo(u64);

impl MessageInfo {
    /// Largest label: 52 bits.
    pub const MAX_LABEL: u64 = (1 << 52) - 1;

    /// A message with `label` (truncated to 52 bits) and `count` registers
    /// (clamped to [`MAX_MESSAGE_REGISTERS`]).
    pub const fn new(label: u64, count: usize) -> Self {
        let count = if count > MAX_MESSAGE_REGISTERS {
            MAX_MESSAGE_REGISTERS
        } else {
            count
        };
        MessageInfo(((label & Self::MAX_LABEL) << 12) | count as u64)
    }

    /// The packed word.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Unpack a word. Returns `None` if the count exceeds
    /// [`MAX_MESSAGE_REGISTERS`] or reserved bits are set: the kernel rejects
    /// such a word rather than guess.
    pub const fn from_raw(raw: u64) -> Option<Self> {
        let count = raw & 0x7f;
        if count as usize > MAX_MESSAGE_REGISTERS || raw & 0xf80 != 0 {
            return None;
        }
        Some(MessageInfo(raw))
    }

    /// The label.
    pub const fn label(self) -> u64 {
        self.0 >> 12
    }

    /// The number of message registers.
    pub const fn count(self) -> usize {
        (self.0 & 0x7f) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_info_packs() {
        let m = MessageInfo::new(0xabc, 3);
        assert_eq!(m.label(), 0xabc);
        assert_eq!(m.count(), 3);
        assert_eq!(MessageInfo::from_raw(m.raw()), Some(m));
        assert_eq!(MessageInfo::new(1, 1000).count(), MAX_MESSAGE_REGISTERS);
        assert_eq!(MessageInfo::from_raw(65), None);
        assert_eq!(MessageInfo::from_raw(0x100), None);
        assert_eq!(core::mem::size_of::<IpcBuffer>(), 4096);
    }
}
