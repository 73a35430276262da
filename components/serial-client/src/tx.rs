//! Client output over a tx queue.

use core::fmt;
use mantle_runtime::{Channel, Error};
use sddf::serial::SerialProducer;

/// Bytes of output a client may have waiting beyond the queue.
pub const TX_BUFFER: usize = 4096;

/// A client's output: the producer end of its tx queue to virt_tx, the
/// channel to virt_tx, and a private overflow buffer.
pub struct SerialTx {
    queue: SerialProducer<'static>,
    ch: Channel,
    buf: [u8; TX_BUFFER],
    /// Buffered bytes are `buf[start..start + len]` (wrapping).
    start: usize,
    len: usize,
    dropped: u64,
    corrupt: bool,
    notify_error: Option<Error>,
}

impl SerialTx {
    /// Output through `queue`, notifying virt_tx on `ch`.
    pub fn new(queue: SerialProducer<'static>, ch: Channel) -> Self {
        SerialTx {
            queue,
            ch,
            buf: [0; TX_BUFFER],
            start: 0,
            len: 0,
            dropped: 0,
            corrupt: false,
            notify_error: None,
        }
    }

    /// The channel to virt_tx (space notifications arrive on it).
    pub fn channel(&self) -> Channel {
        self.ch
    }

    /// Bytes dropped because queue and buffer were full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes not yet in the queue.
    pub fn buffered(&self) -> usize {
        self.len
    }

    /// Whether everything written has been taken by virt_tx (buffer and
    /// queue empty).
    pub fn drained(&mut self) -> bool {
        self.len == 0 && matches!(self.queue.free(), Ok(n) if n == self.queue.capacity())
    }

    /// Queue `bytes` (buffering what does not fit; dropping beyond
    /// [`TX_BUFFER`]). Call [`flush`](Self::flush) to notify virt_tx.
    pub fn write(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        if self.len == 0 {
            match self.queue.enqueue_slice(rest) {
                Ok(n) => rest = &rest[n..],
                Err(_) => self.corrupt = true,
            }
        }
        for &b in rest {
            if self.len == TX_BUFFER {
                self.dropped += 1;
                continue;
            }
            self.buf[(self.start + self.len) % TX_BUFFER] = b;
            self.len += 1;
        }
    }

    /// Move buffered bytes into the queue as space allows.
    fn drain_buffer(&mut self) {
        while self.len > 0 {
            let end = (self.start + self.len).min(TX_BUFFER);
            let chunk = &self.buf[self.start..end];
            let n = match self.queue.enqueue_slice(chunk) {
                Ok(n) => n,
                Err(_) => {
                    self.corrupt = true;
                    0
                }
            };
            self.start = (self.start + n) % TX_BUFFER;
            self.len -= n;
            if n < chunk.len() {
                break;
            }
        }
    }

    /// Notify virt_tx of new data; if bytes remain buffered, ask for a
    /// space signal (re-arm protocol: request, fence, re-check).
    pub fn flush(&mut self) {
        loop {
            self.drain_buffer();
            if self.len == 0 || !self.queue.rearm_for_space() {
                break;
            }
        }
        // The serial protocol: the producer always notifies the consumer.
        if let Err(e) = self.ch.notify() {
            self.notify_error = Some(e);
        }
    }

    /// Call from `notified` when virt_tx signals on [`channel`](Self::channel):
    /// moves buffered output on.
    pub fn space(&mut self) {
        self.flush();
    }

    /// Whether the queue was ever found corrupt (a misbehaving virt_tx).
    pub fn saw_corruption(&self) -> bool {
        self.corrupt
    }

    /// Why the last notify of virt_tx failed, if one did: output then
    /// stays in the queue unannounced. A channel error (its `Display` says
    /// which) means the tx channel id is wrong: check the id the subsystem
    /// gave this PD.
    pub fn notify_error(&self) -> Option<Error> {
        self.notify_error
    }
}

impl fmt::Write for SerialTx {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let before = self.dropped;
        self.write(s.as_bytes());
        if self.dropped == before {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}
