//! The 16550 UART driver PD (COM1).
//!
//! Configuration: from `__mantle_config` (`SerialDriverConfig`) in a
//! composed system (`<serial_subsystem>`); otherwise this SDF contract (see
//! `examples/serial/serial.system`):
//! - `<ioport id="0" addr="0x3f8" size="8"/>`: the UART's registers;
//! - `<irq id="16" pin="4" vector=".." trigger="edge" polarity="high"/>`;
//! - the tx queue from virt_tx (`setvar_vaddr="tx_queue"`, consumer) on
//!   channel 0, the rx queue to virt_rx (`setvar_vaddr="rx_queue"`,
//!   producer) on channel 1;
//! - optional: a stats page (`setvar_vaddr="uart_stats"`,
//!   `mantle_serial_client::layout::UartStats`) and channel 2, notified
//!   each time the transmitter goes idle (tx queue and transmit FIFO empty).
//!
//! Interrupt-driven both ways: received-data (and timeout) interrupts
//! drain the receive FIFO into the rx queue (bytes are dropped and counted
//! when it is full: the UART cannot wait); the transmitter-empty interrupt
//! is enabled only while the tx queue holds data, and each one refills the
//! 16-byte FIFO (with THRE masked during the refill, so a refill costs one
//! interrupt rather than one per byte under QEMU). The IRQ is
//! edge-triggered: the kernel delivers one interrupt per acknowledgement
//! and holds a repeat that arrives before it. The handler acknowledges
//! first and then reads IIR until no cause is pending, so a cause raised
//! while it serves comes back as a new notification rather than waiting.
#![no_std]
#![no_main]

use core::sync::atomic::Ordering;
use mantle_config::serial::SerialDriverConfig;
use mantle_runtime::{debug_println, pd_name, protection_domain, setvar, Channel, Handler, IoPort};
use mantle_serial_client::layout::{self, QueueAddr, UartStats};
use sddf::serial::{SerialConsumer, SerialProducer};

setvar!(tx_queue);
setvar!(rx_queue);
setvar!(uart_stats);
mantle_config::config_blob!();

/// Always channel 2 (not part of the serial protocol, so not in the
/// configuration).
const DRAINED: Channel = Channel::new(2);

/// The ids and addresses the driver uses.
struct Wiring {
    ports: IoPort,
    base: u16,
    irq: Channel,
    virt_tx: Channel,
    virt_rx: Channel,
    tx: QueueAddr,
    rx: Option<QueueAddr>,
}

impl Wiring {
    /// From the composed system's configuration, or the fixed SDF contract.
    fn load() -> Wiring {
        let Some(c) = layout::load_config::<SerialDriverConfig, _>(&__mantle_config) else {
            return Wiring {
                ports: IoPort::new(0),
                base: 0x3f8,
                irq: Channel::new(16),
                virt_tx: Channel::new(0),
                virt_rx: Channel::new(1),
                tx: QueueAddr::in_region(tx_queue.get()),
                rx: Some(QueueAddr::in_region(rx_queue.get())),
            };
        };
        let queue = |q| QueueAddr::from_config(q).unwrap_or_else(|| panic!("bad queue regions"));
        Wiring {
            ports: IoPort::new(c.device.ioport.map_or(0, |i| i.0 as usize)),
            base: c.device.port_base,
            irq: Channel::new(c.device.irq.map_or(16, |i| i.0 as usize)),
            virt_tx: Channel::new(c.tx.channel.0 as usize),
            virt_rx: Channel::new(c.rx.map_or(usize::MAX, |r| r.channel.0 as usize)),
            tx: queue(&c.tx.queue),
            rx: c.rx.as_ref().map(|r| queue(&r.queue)),
        }
    }
}

// Register offsets.
const RBR_THR: u16 = 0;
const IER: u16 = 1;
const IIR_FCR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const MSR: u16 = 6;
// Bits.
const IER_RX: u8 = 1 << 0;
const IER_THRE: u8 = 1 << 1;
const IER_LINE: u8 = 1 << 2;
const IIR_NONE: u8 = 1 << 0;
const LCR_DLAB: u8 = 0x80;
const LCR_8N1: u8 = 0x03;
const FCR_ENABLE_CLEAR_14: u8 = 0xc7;
/// DTR, RTS and OUT2 (OUT2 gates the IRQ line on PCs).
const MCR_DTR_RTS_OUT2: u8 = 0x0b;
const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
/// Transmit FIFO depth of a 16550A.
const FIFO: usize = 16;

struct Uart {
    w: Wiring,
    tx: SerialConsumer<'static>,
    rx: Option<SerialProducer<'static>>,
    stats: Option<&'static UartStats>,
    ier: u8,
    idle: bool,
    drained_ok: bool,
}

impl Uart {
    fn inb(&self, reg: u16) -> u8 {
        self.w.ports.read8(self.w.base + reg).unwrap_or(0xff)
    }

    fn outb(&self, reg: u16, v: u8) {
        if let Err(e) = self.w.ports.write8(self.w.base + reg, v) {
            debug_println!("{}: port write {:#x}: {}", pd_name(), self.w.base + reg, e);
        }
    }

    fn set_ier(&mut self, ier: u8) {
        if ier != self.ier {
            self.ier = ier;
            self.outb(IER, ier);
        }
    }

    /// Drain the receive FIFO into the rx queue.
    fn receive(&mut self) {
        let mut got = false;
        // Bounded: the FIFO holds at most 16 bytes, but input may keep
        // arriving; stop after a generous batch and let the next IRQ go on.
        for _ in 0..256 {
            if self.inb(LSR) & LSR_DR == 0 {
                break;
            }
            let b = self.inb(RBR_THR);
            if let Some(s) = self.stats {
                s.rx_bytes.fetch_add(1, Ordering::Relaxed);
            }
            match self.rx.as_mut().map(|q| q.enqueue(b)) {
                Some(Ok(())) => got = true,
                _ => {
                    if let Some(s) = self.stats {
                        s.rx_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if got {
            let _ = self.w.virt_rx.notify();
        }
    }

    /// Refill the transmit FIFO from the tx queue if it is empty; keep the
    /// THRE interrupt on exactly while data remains.
    fn transmit(&mut self) {
        let lsr = self.inb(LSR);
        if lsr & LSR_THRE != 0 {
            let mut buf = [0u8; FIFO];
            let n = self.tx.dequeue_into(&mut buf).unwrap_or(0);
            if n > 1 {
                // Mask THRE while refilling: QEMU sends each byte at once
                // and raises THRE again after every THR write, so each byte
                // would cost an interrupt (a kernel entry and a held edge).
                // Re-enabling it below with the FIFO empty raises THRE
                // once (as on a real 16550), so nothing is lost.
                let quiet = self.ier & !IER_THRE;
                self.set_ier(quiet);
            }
            // One syscall fills the FIFO (IOPORT_OUT_REP).
            if let Err(e) = self.w.ports.write8_rep(self.w.base + RBR_THR, &buf[..n]) {
                debug_println!("{}: FIFO refill: {}", pd_name(), e);
            }
            if n > 0 {
                if let Some(s) = self.stats {
                    s.tx_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                if self.tx.take_space_signal_request() {
                    let _ = self.w.virt_tx.notify();
                }
            }
        }
        let more = !self.tx.is_empty();
        // While bytes wait in the queue or in the FIFO, the THRE interrupt
        // (FIFO empty) brings us back. "Idle" is then: queue and FIFO empty;
        // at most the byte in the shift register is still going out (there
        // is no interrupt for TEMT), which QEMU sends at once.
        let busy = more || self.inb(LSR) & LSR_THRE == 0;
        let ier = if busy {
            self.ier | IER_THRE
        } else {
            self.ier & !IER_THRE
        };
        self.set_ier(ier);
        self.set_idle(!busy);
    }

    fn set_idle(&mut self, idle: bool) {
        if let Some(s) = self.stats {
            s.idle.store(idle as u64, Ordering::Release);
        }
        if idle && !self.idle && self.drained_ok && DRAINED.notify().is_err() {
            // No one watches: stop trying.
            self.drained_ok = false;
        }
        self.idle = idle;
    }

    fn interrupt(&mut self) {
        // Serve every pending cause so the (edge-triggered) line drops.
        for _ in 0..64 {
            let iir = self.inb(IIR_FCR);
            if iir & IIR_NONE != 0 {
                break;
            }
            match (iir >> 1) & 0x7 {
                0b011 => {
                    let _ = self.inb(LSR);
                }
                0b010 | 0b110 => self.receive(),
                0b001 => self.transmit(),
                _ => {
                    let _ = self.inb(MSR);
                }
            }
        }
        self.receive();
        self.transmit();
    }
}

impl Handler for Uart {
    fn notified(&mut self, ch: Channel) {
        if ch == self.w.irq {
            // Acknowledge first, then serve: serving (a THR write, a byte
            // arriving) can raise the line again at once, and that edge
            // then comes back as a new notification (at worst a spurious
            // one) instead of waiting for the next acknowledgement.
            if let Err(e) = self.w.irq.irq_ack() {
                debug_println!("{}: irq ack: {}", pd_name(), e);
            }
            self.interrupt();
        } else if ch == self.w.virt_tx {
            self.transmit();
        } else if ch != self.w.virt_rx {
            // (virt_rx freeing space needs nothing: received bytes are
            // never held back.)
            debug_println!("{}: unexpected notification on {}", pd_name(), ch);
        }
    }
}

fn init() -> Uart {
    let w = Wiring::load();
    // SAFETY: the SDF (or the composed system) maps the tx queue read-write
    // where `w.tx` says; this PD is its only consumer.
    let tx = match unsafe { w.tx.consumer() } {
        Ok(q) => q,
        Err(e) => panic!("tx queue: {}", e),
    };
    // SAFETY: as above for the rx queue; this PD is its only producer.
    let rx = w.rx.map(|a| match unsafe { a.producer() } {
        Ok(q) => q,
        Err(e) => panic!("rx queue: {}", e),
    });
    let stats = match uart_stats.get() {
        0 => None,
        // SAFETY: the SDF maps the stats page read-write at `uart_stats`.
        v => Some(unsafe { layout::stats(v) }),
    };
    let mut uart = Uart {
        w,
        tx,
        rx,
        stats,
        ier: 0,
        idle: false,
        drained_ok: true,
    };
    uart.outb(IER, 0);
    uart.outb(LCR, LCR_DLAB);
    uart.outb(RBR_THR, 1); // divisor 1: 115200 baud
    uart.outb(IER, 0);
    uart.outb(LCR, LCR_8N1);
    uart.outb(IIR_FCR, FCR_ENABLE_CLEAR_14);
    uart.outb(MCR, MCR_DTR_RTS_OUT2);
    // Clear anything pending.
    for reg in [LSR, RBR_THR, IIR_FCR, MSR] {
        let _ = uart.inb(reg);
    }
    uart.set_ier(IER_RX | IER_LINE);
    debug_println!(
        "{}: 16550 on COM1 ({:#x}, IRQ 4), 115200 8N1, FIFOs on, interrupt-driven",
        pd_name(),
        uart.w.base
    );
    uart.receive();
    uart.transmit();
    uart
}

protection_domain!(init);
