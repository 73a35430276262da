//! Line assembly for input (pure, tested on the host).

/// The line-editing rules, over a buffer the caller owns (shared by
/// [`LineReader`] and [`crate::SerialRx::read_line_blocking`]): a line
/// ends at `\r` or `\n` (a `\n` right after `\r` is ignored, so both
/// terminal conventions give one line); a line longer than the buffer is
/// cut when the next byte that is neither a terminator nor an erase
/// arrives, and that byte starts the next line; backspace and DEL erase
/// the previous byte. With an empty buffer every line is empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LineEditor {
    last_cr: bool,
    /// A byte that did not fit in a full line: it starts the next one.
    carry: Option<u8>,
}

impl LineEditor {
    pub(crate) const fn new() -> Self {
        LineEditor {
            last_cr: false,
            carry: None,
        }
    }

    /// Start a line in `buf`: returns its length so far (1 if a byte was
    /// carried over from a cut line, else 0).
    pub(crate) fn start(&mut self, buf: &mut [u8]) -> usize {
        match (self.carry.take(), buf.first_mut()) {
            (Some(c), Some(first)) => {
                *first = c;
                1
            }
            _ => 0,
        }
    }

    /// Feed byte `b` to the line `buf[..*len]`; `true` when the line is
    /// complete (it is `buf[..*len]`, without its terminator). Start every
    /// line with [`start`](Self::start).
    pub(crate) fn push(&mut self, buf: &mut [u8], len: &mut usize, b: u8) -> bool {
        let cr = self.last_cr;
        self.last_cr = b == b'\r';
        match b {
            b'\n' if cr => false,
            b'\r' | b'\n' => true,
            0x08 | 0x7f => {
                *len = len.saturating_sub(1);
                false
            }
            _ if *len >= buf.len() => {
                // Full: cut here; this byte starts the next line.
                if !buf.is_empty() {
                    self.carry = Some(b);
                }
                true
            }
            _ => {
                buf[*len] = b;
                *len += 1;
                false
            }
        }
    }
}

/// Collects bytes into lines of at most `N` bytes, by the rules of
/// [`SerialRx::read_line_blocking`](crate::SerialRx::read_line_blocking):
/// a line ends at `\r` or `\n` (a `\n` right after `\r` is ignored, so
/// both terminal conventions give one line); a longer line is cut at `N`
/// bytes. Backspace and DEL erase the previous byte.
pub struct LineReader<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// The current line has been started ([`LineEditor::start`]).
    started: bool,
    editor: LineEditor,
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
            started: false,
            editor: LineEditor::new(),
        }
    }

    /// Feed one byte; returns a complete line (without its terminator).
    pub fn push(&mut self, b: u8) -> Option<&[u8]> {
        if !self.started {
            self.len = self.editor.start(&mut self.buf);
            self.started = true;
        }
        if self.editor.push(&mut self.buf, &mut self.len, b) {
            self.started = false;
            let n = core::mem::take(&mut self.len);
            return Some(&self.buf[..n]);
        }
        None
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
        // A full line ended by its terminator is one line; an erase on a
        // full line does not cut it.
        assert_eq!(
            lines(b"01234567\rx\n"),
            [b"01234567".to_vec(), b"x".to_vec()]
        );
        assert_eq!(lines(b"01234567\x7fZ\r"), [b"0123456Z".to_vec()]);
    }

    #[test]
    fn partial_line_shows_what_is_typed() {
        let mut r = LineReader::<4>::new();
        for &b in b"abcd" {
            assert_eq!(r.push(b), None);
        }
        assert_eq!(r.partial(), b"abcd");
        assert_eq!(r.push(b'e'), Some(&b"abcd"[..]));
        assert_eq!(r.partial(), b"");
        assert_eq!(r.push(b'f'), None);
        assert_eq!(r.partial(), b"ef");
    }

    #[test]
    fn an_empty_buffer_gives_empty_lines() {
        let mut e = LineEditor::new();
        let mut buf = [0u8; 0];
        let mut len = e.start(&mut buf);
        assert!(!e.push(&mut buf, &mut len, b'\x08'));
        assert!(e.push(&mut buf, &mut len, b'a'));
        assert_eq!(e.start(&mut buf), 0);
        assert!(e.push(&mut buf, &mut len, b'\n'));
        assert_eq!(len, 0);
    }
}
