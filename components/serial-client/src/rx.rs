//! Client input from an rx queue: non-blocking and blocking reads.

use crate::lines::LineEditor;
use core::fmt;
use mantle_runtime::{Channel, Error};
use sddf::serial::SerialConsumer;

/// Why a blocking read returned without data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Waiting on the rx `channel` failed
    /// ([`mantle_runtime::wait_notified`]); `cause` says why: called inside
    /// `Handler::protected` ([`Error::ServingCall`]), or a channel error
    /// (a wrong rx channel id).
    Wait {
        /// The rx channel waited on.
        channel: Channel,
        /// Why the wait failed.
        cause: Error,
    },
    /// virt_rx's index in the shared header is out of range: the queue is
    /// corrupt (a misbehaving virt_rx) and nothing can be read from it.
    Corrupt,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Wait { channel, cause } => {
                write!(f, "cannot wait for input on rx channel {channel}: {cause}")?;
                match cause {
                    Error::ServingCall => f.write_str(
                        "; read from notified() instead (SerialRx::read) in a PD that serves calls",
                    ),
                    c if c.channel().is_some() => {
                        f.write_str("; check the channel id the subsystem gave this PD")
                    }
                    _ => Ok(()),
                }
            }
            ReadError::Corrupt => f.write_str("the rx queue is corrupt"),
        }
    }
}

/// How [`SerialRx`] signals and waits: the runtime in a PD, a script in
/// host tests.
trait Signals {
    /// Notify `ch`.
    fn notify(&mut self, ch: Channel) -> Result<(), Error>;
    /// Block until `ch` is notified.
    fn wait(&mut self, ch: Channel) -> Result<(), Error>;
}

/// The runtime's notify and [`mantle_runtime::wait_notified`].
struct Runtime;

impl Signals for Runtime {
    fn notify(&mut self, ch: Channel) -> Result<(), Error> {
        ch.notify()
    }
    fn wait(&mut self, ch: Channel) -> Result<(), Error> {
        ch.wait()
    }
}

/// A client's input: the consumer end of its rx queue from virt_rx.
///
/// Two ways to read, which may be mixed:
/// - **Non-blocking**: [`read`](Self::read) from `notified` when virt_rx
///   signals the rx [`channel`](Self::channel), until it returns 0 (feed a
///   [`LineReader`](crate::LineReader) for lines).
/// - **Blocking**: [`read_byte_blocking`](Self::read_byte_blocking) and
///   [`read_line_blocking`](Self::read_line_blocking) return only once
///   input is there, waiting with [`mantle_runtime::wait_notified`] on the
///   rx channel. While they wait, other notifications and child faults are
///   kept by the runtime and delivered after the current handler returns,
///   and protected calls are answered with
///   [`BUSY_LABEL`](mantle_runtime::BUSY_LABEL): use them in PDs that serve
///   no protected calls (see `wait_notified` for the rules). They fail with
///   [`ReadError::Wait`] inside `protected`.
///
/// No wake-up is lost: serial queues have no consumer-side signal flag to
/// re-arm (sDDF's serial protocol: the producer notifies the consumer after
/// every batch it enqueues, and only the producer asks for space signals).
/// A blocking read re-checks the queue (reloading virt_rx's index) right
/// before every wait, and virt_rx enqueues before it notifies; the kernel
/// keeps a notification pending until the PD receives it, and the runtime
/// keeps one received during another wait, so a batch that lands between
/// the check and the wait ends the wait at once. A wake-up with nothing new
/// in the queue (a notification for bytes already read) just checks again.
///
/// A blocking read consumes the rx notification it waits for: bytes it
/// leaves in the queue are not announced again, so read them with the next
/// read (blocking, or [`read`](Self::read) until 0), not only from
/// `notified`.
pub struct SerialRx {
    queue: SerialConsumer<'static>,
    ch: Channel,
    /// Line state of [`read_line_blocking`](Self::read_line_blocking).
    editor: LineEditor,
    /// The last failed notify of virt_rx (a space signal).
    notify_error: Option<Error>,
}

impl SerialRx {
    /// Input from `queue`; virt_rx notifies (and is notified) on `ch`.
    pub fn new(queue: SerialConsumer<'static>, ch: Channel) -> Self {
        SerialRx {
            queue,
            ch,
            editor: LineEditor::new(),
            notify_error: None,
        }
    }

    /// Why the last space signal to virt_rx failed, if one did (reads go
    /// on; virt_rx then waits longer for space). A channel error here means
    /// the rx channel id is wrong.
    pub fn notify_error(&self) -> Option<Error> {
        self.notify_error
    }

    /// The channel virt_rx notifies when input arrives.
    pub fn channel(&self) -> Channel {
        self.ch
    }

    /// Non-blocking read: copy up to `out.len()` available bytes, and tell
    /// virt_rx about the freed space if it asked. Returns the count (0 when
    /// nothing is available or the queue is corrupt).
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        self.try_read(&mut Runtime, out).unwrap_or(0)
    }

    /// Bytes waiting.
    pub fn available(&mut self) -> usize {
        self.queue.available().unwrap_or(0)
    }

    /// Blocking read of one byte: returns at once if a byte is waiting,
    /// else waits for virt_rx's notification on the rx channel (see the
    /// type's documentation for what happens to other events meanwhile).
    pub fn read_byte_blocking(&mut self) -> Result<u8, ReadError> {
        self.byte_blocking(&mut Runtime)
    }

    /// Blocking read of one line into `buf`; returns its length (the line
    /// is `buf[..n]`, without its terminator). The rules are
    /// [`LineReader`](crate::LineReader)'s: a line ends at `\r`, `\n` or
    /// `\r\n`; backspace and DEL erase; a line longer than `buf` is cut at
    /// `buf.len()` bytes (once the next byte shows it goes on) and the rest
    /// comes with the next call. Bytes after the line stay in the queue.
    ///
    /// Reads are byte by byte, so a partial line typed so far is in
    /// `buf[..]` only while the call runs; if it fails, that partial line
    /// is lost.
    pub fn read_line_blocking(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        self.line_blocking(&mut Runtime, buf)
    }

    /// Non-blocking read through `s`.
    fn try_read<S: Signals>(&mut self, s: &mut S, out: &mut [u8]) -> Result<usize, ReadError> {
        let n = self
            .queue
            .dequeue_into(out)
            .map_err(|_| ReadError::Corrupt)?;
        if n > 0 && self.queue.take_space_signal_request() {
            if let Err(e) = s.notify(self.ch) {
                self.notify_error = Some(e);
            }
        }
        Ok(n)
    }

    fn byte_blocking<S: Signals>(&mut self, s: &mut S) -> Result<u8, ReadError> {
        loop {
            let mut b = [0u8; 1];
            // `dequeue_into` reloads virt_rx's index when its cached view
            // shows nothing: this is the check right before the wait.
            if self.try_read(s, &mut b)? == 1 {
                return Ok(b[0]);
            }
            s.wait(self.ch).map_err(|cause| ReadError::Wait {
                channel: self.ch,
                cause,
            })?;
        }
    }

    fn line_blocking<S: Signals>(&mut self, s: &mut S, buf: &mut [u8]) -> Result<usize, ReadError> {
        let mut len = self.editor.start(buf);
        loop {
            let b = self.byte_blocking(s)?;
            if self.editor.push(buf, &mut len, b) {
                return Ok(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LineReader;
    extern crate std;
    use sddf::serial::{SerialProducer, SerialQueueMemory};
    use std::boxed::Box;
    use std::collections::VecDeque;
    use std::string::ToString;
    use std::vec::Vec;

    const RX: Channel = Channel::new(1);

    /// A virt_rx stand-in: each wait delivers the next batch of bytes.
    struct Script {
        producer: SerialProducer<'static>,
        batches: VecDeque<&'static [u8]>,
        waits: usize,
        notifies: usize,
        /// Fail the next wait with this error.
        fail: Option<Error>,
        /// Fail the next notify with this error.
        notify_fail: Option<Error>,
    }

    impl Signals for Script {
        fn notify(&mut self, ch: Channel) -> Result<(), Error> {
            assert_eq!(ch, RX);
            self.notifies += 1;
            self.notify_fail.take().map_or(Ok(()), Err)
        }
        fn wait(&mut self, ch: Channel) -> Result<(), Error> {
            assert_eq!(ch, RX);
            if let Some(e) = self.fail.take() {
                return Err(e);
            }
            self.waits += 1;
            // Nothing more to come: the PD would block forever.
            let batch = self.batches.pop_front().expect("waited with no input left");
            assert_eq!(self.producer.enqueue_slice(batch), Ok(batch.len()));
            Ok(())
        }
    }

    fn setup(batches: &[&'static [u8]]) -> (SerialRx, Script) {
        let mem: &'static SerialQueueMemory<16> = Box::leak(Box::new(SerialQueueMemory::new()));
        let (producer, consumer) = mem.split(16).unwrap();
        // virt_rx never asks for space signals; a fresh header (flag 0)
        // reads as a request, so withdraw it.
        producer.cancel_space_signal_request();
        let script = Script {
            producer,
            batches: batches.iter().copied().collect(),
            waits: 0,
            notifies: 0,
            fail: None,
            notify_fail: None,
        };
        (SerialRx::new(consumer, RX), script)
    }

    fn lines(rx: &mut SerialRx, s: &mut Script, size: usize, count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| {
                let mut buf = [0u8; 64];
                let n = rx.line_blocking(s, &mut buf[..size]).unwrap();
                buf[..n].to_vec()
            })
            .collect()
    }

    #[test]
    fn blocking_byte_reads_wait_only_when_the_queue_is_empty() {
        let (mut rx, mut s) = setup(&[b"ab", b"c"]);
        s.producer.enqueue_slice(b"x").unwrap();
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'x'));
        assert_eq!(s.waits, 0);
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'a'));
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'b'));
        assert_eq!(s.waits, 1);
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'c'));
        assert_eq!(s.waits, 2);
        assert_eq!(s.notifies, 0);
    }

    #[test]
    fn a_spurious_wake_up_just_checks_again() {
        let (mut rx, mut s) = setup(&[b"", b"", b"z"]);
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'z'));
        assert_eq!(s.waits, 3);
    }

    #[test]
    fn blocking_lines_span_batches_and_leave_the_rest_queued() {
        let (mut rx, mut s) = setup(&[b"he", b"llo\r", b"\nwor", b"ld\rne", b"xt\n"]);
        assert_eq!(lines(&mut rx, &mut s, 64, 2), [&b"hello"[..], b"world"]);
        // "ne" is queued; the line completes with the last batch.
        assert_eq!(rx.available(), 2);
        assert_eq!(lines(&mut rx, &mut s, 64, 1), [&b"next"[..]]);
        assert!(s.batches.is_empty());
    }

    #[test]
    fn blocking_lines_follow_the_line_reader_rules() {
        let input: &[&'static [u8]] = &[
            b"abcdefgh",
            b"ij\r\n",
            b"\x7fxy\x08z\r",
            b"\r",
            b"12345678\r",
        ];
        let mut expected = Vec::new();
        let mut r = LineReader::<4>::new();
        for &b in input.concat().iter() {
            if let Some(l) = r.push(b) {
                expected.push(l.to_vec());
            }
        }
        assert_eq!(expected.len(), 7);
        let (mut rx, mut s) = setup(input);
        assert_eq!(lines(&mut rx, &mut s, 4, expected.len()), expected);
    }

    #[test]
    fn the_space_signal_is_answered() {
        let (mut rx, mut s) = setup(&[b"q"]);
        s.producer.request_space_signal();
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'q'));
        assert_eq!(s.notifies, 1);
        assert_eq!(rx.notify_error(), None);
    }

    #[test]
    fn a_failed_space_signal_is_kept() {
        let (mut rx, mut s) = setup(&[b"q"]);
        s.producer.request_space_signal();
        s.notify_fail = Some(Error::NotifyNotPermitted(RX));
        assert_eq!(rx.byte_blocking(&mut s), Ok(b'q'));
        assert_eq!(rx.notify_error(), Some(Error::NotifyNotPermitted(RX)));
    }

    #[test]
    fn errors_are_returned() {
        let (mut rx, mut s) = setup(&[]);
        s.fail = Some(Error::ServingCall);
        let serving = ReadError::Wait {
            channel: RX,
            cause: Error::ServingCall,
        };
        assert_eq!(rx.byte_blocking(&mut s), Err(serving));
        assert!(serving
            .to_string()
            .starts_with("cannot wait for input on rx channel 1: cannot wait while serving"));
        // A wrong channel id: the cause and the advice are both shown.
        s.fail = Some(Error::NoSuchChannel(RX));
        let err = rx.byte_blocking(&mut s).unwrap_err();
        assert_eq!(
            err,
            ReadError::Wait {
                channel: RX,
                cause: Error::NoSuchChannel(RX)
            }
        );
        assert_eq!(
            err.to_string(),
            std::format!(
                "cannot wait for input on rx channel 1: {}; check the channel id the \
                 subsystem gave this PD",
                Error::NoSuchChannel(RX)
            )
        );
        // virt_rx writes a tail beyond the capacity.
        s.producer
            .header()
            .tail
            .store(1000, core::sync::atomic::Ordering::Relaxed);
        let mut buf = [0u8; 8];
        assert_eq!(rx.line_blocking(&mut s, &mut buf), Err(ReadError::Corrupt));
        assert_eq!(rx.read(&mut buf), 0);
    }
}
