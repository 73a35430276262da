//! One call to set up a composed client: [`Serial::connect`].

use crate::layout::QueueAddr;
use crate::{SerialRx, SerialTx};
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use mantle_config::serial::{SerialClientConfig, SerialConn};
use mantle_runtime::Channel;

/// A client's connection to the serial subsystem: output, and input if the
/// SDF's `<client>` reads (`rx="false"` leaves it out).
pub struct Serial {
    /// Output to virt_tx.
    pub tx: SerialTx,
    /// Input from virt_rx, if this client reads.
    pub rx: Option<SerialRx>,
}

/// Why [`Serial::connect`] failed. Each is a mistake in how the system was
/// built, so the usual reaction is to panic with it: the message says what
/// to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// The image carries no serial client configuration (or another kind).
    Config(mantle_config::Error),
    /// The configuration names an empty or too small queue region.
    BadQueue(&'static str),
    /// The queue handle was refused (alignment, capacity).
    Queue(&'static str, sddf::SetupError),
    /// `connect` was called twice: a queue has one producer and one
    /// consumer, so the handles exist once.
    AlreadyConnected,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Config(mantle_config::Error::NotPatched) => f.write_str(
                "this PD has no serial configuration: list it as a <client pd=\"...\"/> of a \
                 <serial_subsystem> in the SDF (a hand-written system uses setvars and \
                 `layout::producer`/`consumer` instead)",
            ),
            ConnectError::Config(e) => {
                write!(f, "bad serial configuration in __mantle_config: {e}")
            }
            ConnectError::BadQueue(which) => write!(
                f,
                "the {which} queue in this PD's configuration is empty or too small for its header"
            ),
            ConnectError::Queue(which, e) => write!(f, "{which} queue refused: {e}"),
            ConnectError::AlreadyConnected => {
                f.write_str("Serial::connect called twice: keep the first connection")
            }
        }
    }
}

static CONNECTED: AtomicBool = AtomicBool::new(false);

impl Serial {
    /// Connect to the serial subsystem as this PD's `__mantle_config` (declare it
    /// with `mantle_config::config_blob!()`) describes. Call it once, from
    /// `init`.
    ///
    /// ```ignore
    /// mantle_config::config_blob!();
    /// fn init() -> Logger {
    ///     let serial = Serial::connect(&__mantle_config).unwrap_or_else(|e| panic!("{}", e));
    ///     let mut tx = serial.tx;
    ///     serial_println!(tx, "logger: ready");
    ///     Logger { tx }
    /// }
    /// ```
    pub fn connect<B: mantle_config::Bytes + ?Sized>(blob: &B) -> Result<Serial, ConnectError> {
        let config =
            mantle_config::decode::<SerialClientConfig, B>(blob).map_err(ConnectError::Config)?;
        let addr = |c: &SerialConn, which| {
            QueueAddr::from_config(&c.queue)
                .map(|q| (Channel::new(c.channel.0 as usize), q))
                .ok_or(ConnectError::BadQueue(which))
        };
        let (tx_ch, tx_at) = addr(&config.tx, "tx")?;
        let rx = config.rx.as_ref().map(|c| addr(c, "rx")).transpose()?;
        if CONNECTED.swap(true, Ordering::AcqRel) {
            return Err(ConnectError::AlreadyConnected);
        }
        // SAFETY: the mantle tool wrote this configuration from the same
        // system description it mapped the queues from: `tx_at` is this
        // PD's read-write mapping of its own tx queue (header and ring),
        // mapped for the PD's whole life. `CONNECTED` makes this the only
        // handle in this PD, and the subsystem makes this PD the queue's
        // only producer.
        let txq = unsafe { tx_at.producer() }.map_err(|e| ConnectError::Queue("tx", e))?;
        let rx = match rx {
            None => None,
            Some((ch, at)) => {
                // SAFETY: as for tx; this PD is the rx queue's only consumer.
                let q = unsafe { at.consumer() }.map_err(|e| ConnectError::Queue("rx", e))?;
                Some(SerialRx::new(q, ch))
            }
        };
        Ok(Serial {
            tx: SerialTx::new(txq, tx_ch),
            rx,
        })
    }
}
