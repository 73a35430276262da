//! Line assembly for input (pure, tested on the host).

/// Collects bytes into lines of at most `N` bytes. A line ends at `\r` or
/// `\n` (a `\n` right after `\r` is ignored, so both terminal conventions
/// give one line); a longer line is cut at `N` bytes. Backspace and DEL
/// erase the previous byte.
pub struct LineReader<const N: usize> {
    buf: [u8; N],
    len: usize,
    last_cr: bool,
    /// A byte that did not fit in a full line: it starts the next one.
    carry: Option<u8>,
}

impl<const N: usize> Default for LineReader<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> LineReader<N> {
    /// Empty.
    pub const fn new() -> Self {
        LineReader {
            buf: [0; N],
            len: 0,
            last_cr: false,
            carry: None,
        }
    }

    /// Feed one byte; returns a complete line (without its terminator).
    pub fn push(&mut self, b: u8) -> Option<&[u8]> {
        if let Some(c) = self.carry.take() {
            self.buf[0] = c;
            self.len = 1;
        }
        let cr = self.last_cr;
        self.last_cr = b == b'\r';
        match b {
            b'\n' if cr => None,
            b'\r' | b'\n' => Some(self.take()),
            0x08 | 0x7f => {
                self.len = self.len.saturating_sub(1);
                None
            }
            _ => {
                if self.len == N {
                    // Full: cut here; this byte starts the next line.
                    self.carry = Some(b);
                    return Some(self.take());
                }
                self.buf[self.len] = b;
                self.len += 1;
                None
            }
        }
    }

    fn take(&mut self) -> &[u8] {
        let n = self.len;
        self.len = 0;
        &self.buf[..n]
    }

    /// Bytes of the current, unfinished line.
    pub fn partial(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        let mut r = LineReader::<8>::new();
        let mut out = Vec::new();
        for &b in input {
            if let Some(l) = r.push(b) {
                out.push(l.to_vec());
            }
        }
        out
    }

    #[test]
    fn assembles_lines() {
        assert_eq!(
            lines(b"ab\rcd\r\nef\n\n"),
            [b"ab".to_vec(), b"cd".to_vec(), b"ef".to_vec(), b"".to_vec()]
        );
        assert_eq!(lines(b"abx\x7fc\r"), [b"abc".to_vec()]);
        assert_eq!(lines(b"\x08\x08a\r"), [b"a".to_vec()]);
        assert_eq!(
            lines(b"0123456789\r"),
            [b"01234567".to_vec(), b"89".to_vec()]
        );
    }
}
