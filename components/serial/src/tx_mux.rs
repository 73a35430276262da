//! virt_tx's policy: whole lines, prefixed, round-robin with a budget.

/// Where client output comes from (a client's tx queue).
pub trait Source {
    /// Take up to `out.len()` bytes; returns how many.
    fn pull(&mut self, out: &mut [u8]) -> usize;
}

/// Where the merged output goes (the driver's tx queue).
pub trait Sink {
    /// Put as many of `bytes` as fit; returns how many.
    fn push(&mut self, bytes: &[u8]) -> usize;
}

/// Longest line kept whole; longer ones are cut into several lines.
pub const LINE_MAX: usize = 256;
/// Bytes a client may emit per turn before the next client's turn.
pub const TURN_BUDGET: usize = 512;
const PREFIX_MAX: usize = 16;
const SUFFIX_MAX: usize = 8;
const RESET: &[u8] = b"\x1b[0m";

/// What [`TxMux::pump`] stopped on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pump {
    /// No complete line is waiting.
    Idle,
    /// The sink is full in the middle of a line: call again when it has
    /// space.
    Blocked,
}

#[derive(Clone, Copy)]
struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// Length of the next record's input (up to and including its newline,
    /// or a full buffer), if a record is complete.
    fn record_len(&self) -> Option<usize> {
        match self.buf[..self.len].iter().position(|&b| b == b'\n') {
            Some(p) => Some(p + 1),
            None if self.len == LINE_MAX => Some(LINE_MAX),
            None => None,
        }
    }
}

/// The multiplexer for up to `C` clients.
pub struct TxMux<const C: usize> {
    lines: [Line; C],
    clients: usize,
    colour: bool,
    turn: usize,
    spent: usize,
    record: [u8; PREFIX_MAX + LINE_MAX + SUFFIX_MAX],
    rec_len: usize,
    rec_off: usize,
    /// Bytes emitted per client (including prefixes).
    pub emitted: [u64; C],
}

impl<const C: usize> TxMux<C> {
    /// A multiplexer for `clients` (≤ `C`) clients, colouring lines with
    /// ANSI colours if `colour`.
    pub fn new(clients: usize, colour: bool) -> Self {
        assert!(clients <= C && C < 100);
        TxMux {
            lines: [Line {
                buf: [0; LINE_MAX],
                len: 0,
            }; C],
            clients,
            colour,
            turn: 0,
            spent: 0,
            record: [0; PREFIX_MAX + LINE_MAX + SUFFIX_MAX],
            rec_len: 0,
            rec_off: 0,
            emitted: [0; C],
        }
    }

    /// The ANSI colour code of client index `c` (0-based): 31–36.
    pub fn colour_of(c: usize) -> u8 {
        31 + (c % 6) as u8
    }

    /// The prefix of client index `c`'s lines, e.g. `[1] `.
    pub fn prefix(&self, c: usize, out: &mut [u8; PREFIX_MAX]) -> usize {
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            out[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        if self.colour {
            let code = Self::colour_of(c);
            put(&[0x1b, b'[', b'0' + code / 10, b'0' + code % 10, b'm']);
        }
        let num = c + 1;
        if num >= 10 {
            put(&[
                b'[',
                b'0' + (num / 10) as u8,
                b'0' + (num % 10) as u8,
                b']',
                b' ',
            ]);
        } else {
            put(&[b'[', b'0' + num as u8, b']', b' ']);
        }
        n
    }

    fn start_record(&mut self, c: usize) {
        let Some(k) = self.lines[c].record_len() else {
            return;
        };
        let mut prefix = [0; PREFIX_MAX];
        let mut n = self.prefix(c, &mut prefix);
        self.record[..n].copy_from_slice(&prefix[..n]);
        let mut body = &self.lines[c].buf[..k];
        if body.last() == Some(&b'\n') {
            body = &body[..body.len() - 1];
        }
        if body.last() == Some(&b'\r') {
            body = &body[..body.len() - 1];
        }
        self.record[n..n + body.len()].copy_from_slice(body);
        n += body.len();
        if self.colour {
            self.record[n..n + RESET.len()].copy_from_slice(RESET);
            n += RESET.len();
        }
        self.record[n] = b'\n';
        n += 1;
        self.rec_len = n;
        self.rec_off = 0;
        // Remove the record's input from the line buffer.
        let line = &mut self.lines[c];
        line.buf.copy_within(k..line.len, 0);
        line.len -= k;
        self.turn = c;
    }

    fn refill(&mut self, c: usize, src: &mut impl Source) {
        let line = &mut self.lines[c];
        if line.len < LINE_MAX {
            line.len += src.pull(&mut line.buf[line.len..]);
        }
    }

    /// Move complete lines from the sources (one per client, in client
    /// order) to the sink, in turns, until no complete line is waiting or
    /// the sink is full.
    pub fn pump<S: Source, K: Sink>(&mut self, sources: &mut [S], sink: &mut K) -> Pump {
        let clients = self.clients.min(sources.len());
        if clients == 0 {
            return Pump::Idle;
        }
        loop {
            if self.rec_off < self.rec_len {
                let n = sink.push(&self.record[self.rec_off..self.rec_len]);
                self.rec_off += n;
                self.emitted[self.turn] += n as u64;
                if self.rec_off < self.rec_len {
                    return Pump::Blocked;
                }
                self.spent += self.rec_len;
                self.rec_len = 0;
                self.rec_off = 0;
            }
            // Budget used up: the next client's turn.
            if self.spent >= TURN_BUDGET {
                self.turn = (self.turn + 1) % clients;
                self.spent = 0;
            }
            let mut next = None;
            for i in 0..clients {
                let c = (self.turn + i) % clients;
                self.refill(c, &mut sources[c]);
                if self.lines[c].record_len().is_some() {
                    next = Some(c);
                    break;
                }
            }
            let Some(c) = next else {
                return Pump::Idle;
            };
            if c != self.turn {
                self.spent = 0;
            }
            self.start_record(c);
        }
    }

    /// Bytes of client `c`'s unfinished line held back.
    pub fn held(&self, c: usize) -> usize {
        self.lines.get(c).map_or(0, |l| l.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sddf::serial::SerialQueueMemory;
    use std::vec::Vec;

    /// A source over a byte vector, handing out at most `chunk` per pull.
    struct VecSource {
        data: Vec<u8>,
        chunk: usize,
    }
    impl Source for VecSource {
        fn pull(&mut self, out: &mut [u8]) -> usize {
            let n = out.len().min(self.data.len()).min(self.chunk);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            n
        }
    }
    /// A sink accepting at most `room` bytes per call.
    struct VecSink {
        data: Vec<u8>,
        room: usize,
    }
    impl Sink for VecSink {
        fn push(&mut self, bytes: &[u8]) -> usize {
            let n = bytes.len().min(self.room);
            self.data.extend_from_slice(&bytes[..n]);
            n
        }
    }

    fn src(s: &[u8]) -> VecSource {
        VecSource {
            data: s.to_vec(),
            chunk: usize::MAX,
        }
    }

    fn text(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap()
    }

    #[test]
    fn prefixes_whole_lines_and_holds_partials() {
        let mut m = TxMux::<4>::new(2, false);
        let mut s = [src(b"hello\nwor"), src(b"a\r\nb")];
        let mut out = VecSink {
            data: Vec::new(),
            room: usize::MAX,
        };
        assert_eq!(m.pump(&mut s, &mut out), Pump::Idle);
        assert_eq!(text(&out.data), "[1] hello\n[2] a\n");
        assert_eq!((m.held(0), m.held(1)), (3, 1));
        s[0].data.extend_from_slice(b"ld\n");
        m.pump(&mut s, &mut out);
        assert_eq!(text(&out.data), "[1] hello\n[2] a\n[1] world\n");
    }

    #[test]
    fn lines_never_interleave_when_the_sink_is_slow() {
        let mut m = TxMux::<4>::new(3, false);
        let mut s = [
            src(b"aaaaaaaaaa\naaaa\n"),
            src(b"bbbbbbb\nbb\n"),
            src(b"cccccccccccc\n"),
        ];
        let mut out = VecSink {
            data: Vec::new(),
            room: 3,
        };
        // A sink taking 3 bytes a call: pump until everything is out.
        for _ in 0..100 {
            m.pump(&mut s, &mut out);
        }
        let t = text(&out.data);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        for l in lines {
            let (p, body) = l.split_at(4);
            let ch = match p {
                "[1] " => 'a',
                "[2] " => 'b',
                "[3] " => 'c',
                _ => panic!("bad prefix in {l:?}"),
            };
            assert!(body.chars().all(|x| x == ch), "mixed line {l:?}");
        }
    }

    #[test]
    fn long_lines_are_cut() {
        let mut m = TxMux::<1>::new(1, false);
        let mut s = [src(&[b'x'; LINE_MAX + 10])];
        let mut out = VecSink {
            data: Vec::new(),
            room: usize::MAX,
        };
        m.pump(&mut s, &mut out);
        assert_eq!(out.data.len(), 4 + LINE_MAX + 1);
        assert_eq!(m.held(0), 10);
    }

    #[test]
    fn a_flooding_client_does_not_starve_another() {
        let mut m = TxMux::<2>::new(2, false);
        let flood: Vec<u8> = b"0123456789012345678901234567890123456789\n".repeat(100);
        let mut s = [
            VecSource {
                data: flood,
                chunk: usize::MAX,
            },
            src(b"quiet 1\nquiet 2\n"),
        ];
        let mut out = VecSink {
            data: Vec::new(),
            room: usize::MAX,
        };
        m.pump(&mut s, &mut out);
        let t = text(&out.data);
        let first_quiet = t.lines().position(|l| l.starts_with("[2] ")).unwrap();
        // Client 1 gets one turn (at most TURN_BUDGET bytes plus one line)
        // before client 2 is served.
        let line = 4 + 40 + 1;
        assert!(first_quiet <= TURN_BUDGET / line + 1, "{first_quiet}");
        assert_eq!(t.lines().filter(|l| l.starts_with("[2] ")).count(), 2);
        assert_eq!(t.lines().count(), 102);
    }

    #[test]
    fn colours_wrap_the_line() {
        let mut m = TxMux::<2>::new(2, true);
        let mut s = [src(b""), src(b"hi\n")];
        let mut out = VecSink {
            data: Vec::new(),
            room: usize::MAX,
        };
        m.pump(&mut s, &mut out);
        assert_eq!(out.data, b"\x1b[32m[2] hi\x1b[0m\n");
    }

    /// The same policy over real sddf queues: a client queue and the driver
    /// queue, as the PD wires them.
    #[test]
    fn works_over_sddf_queues() {
        let cq = SerialQueueMemory::<64>::new();
        let dq = SerialQueueMemory::<16>::new();
        let (mut cp, cc) = cq.split(64).unwrap();
        let (dp, mut dc) = dq.split(16).unwrap();
        struct Q<'a>(sddf::serial::SerialConsumer<'a>);
        impl Source for Q<'_> {
            fn pull(&mut self, out: &mut [u8]) -> usize {
                self.0.dequeue_into(out).unwrap_or(0)
            }
        }
        struct P<'a>(sddf::serial::SerialProducer<'a>);
        impl Sink for P<'_> {
            fn push(&mut self, b: &[u8]) -> usize {
                self.0.enqueue_slice(b).unwrap_or(0)
            }
        }
        let mut m = TxMux::<1>::new(1, false);
        let mut srcs = [Q(cc)];
        let mut sink = P(dp);
        cp.enqueue_slice(b"a fairly long line of text\n").unwrap();
        let mut got = Vec::new();
        loop {
            let r = m.pump(&mut srcs, &mut sink);
            let mut buf = [0u8; 16];
            let n = dc.dequeue_into(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            if r == Pump::Idle && n == 0 {
                break;
            }
        }
        assert_eq!(text(&got), "[1] a fairly long line of text\n");
    }
}
