//! Client input from an rx queue.

use mantle_runtime::Channel;
use sddf::serial::SerialConsumer;

/// A client's input: the consumer end of its rx queue from virt_rx.
pub struct SerialRx {
    queue: SerialConsumer<'static>,
    ch: Channel,
}

impl SerialRx {
    /// Input from `queue`; virt_rx notifies (and is notified) on `ch`.
    pub fn new(queue: SerialConsumer<'static>, ch: Channel) -> Self {
        SerialRx { queue, ch }
    }

    /// The channel virt_rx notifies when input arrives.
    pub fn channel(&self) -> Channel {
        self.ch
    }

    /// Non-blocking read: copy up to `out.len()` available bytes, and tell
    /// virt_rx about the freed space if it asked. Returns the count (0 when
    /// nothing is available or the queue is corrupt).
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.queue.dequeue_into(out).unwrap_or(0);
        if n > 0 && self.queue.take_space_signal_request() {
            let _ = self.ch.notify();
        }
        n
    }

    /// Bytes waiting.
    pub fn available(&mut self) -> usize {
        self.queue.available().unwrap_or(0)
    }
}
