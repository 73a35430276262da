//! The logger: takes samples from the shared queue, checks them, has the
//! statistics server count them and prints each over serial. It is the
//! sampler's parent: when the sampler faults, it restarts it. After
//! [`TOTAL`] samples it prints a summary and powers the system off.
#![no_std]
#![no_main]

use mantle_runtime::{
    mr_get, mr_set, msginfo_new, power_off, protection_domain, setvar, Channel, Child, FaultInfo,
    Handler, MessageInfo, ENTRY_POINT,
};
use mantle_serial_client::{serial_println, Serial, SerialTx};
use mantle_timer_client::{Deadline, Timer};
use sddf::word::{self, WordConsumer};
use sensor_example::{ch, stats, Sample, SAMPLER_CHILD, SAMPLES_SIZE, TOTAL};

setvar!(samples);
mantle_config::config_blob!(); // serial and timer channels and queues

const SAMPLER: Channel = Channel::new(ch::LOGGER_SAMPLER);
const STATS: Channel = Channel::new(ch::LOGGER_STATS);
const EXIT_IOPORT: usize = 0;
/// Time for the UART to send the last line before the power goes.
const DRAIN_MS: u64 = 100;

struct Logger {
    tx: SerialTx,
    timer: Timer,
    queue: WordConsumer<'static>,
    next_seq: u32,
    finished: bool,
}

impl Logger {
    /// Take every sample the queue holds.
    fn drain(&mut self) {
        while let Ok(word) = self.queue.dequeue() {
            let s = Sample::from_word(word);
            // The sampler may be buggy: check before use.
            if s.seq != self.next_seq || !s.plausible() {
                serial_println!(self.tx, "logger: dropped bad sample {:?}", s);
                continue;
            }
            self.next_seq += 1;
            mr_set(0, u64::from(s.decidegrees));
            match STATS.ppcall(msginfo_new(stats::ADD, 1)) {
                Ok(r) if r.label() == stats::OK => {}
                other => serial_println!(self.tx, "logger: stats server: {:?}", other),
            }
            serial_println!(
                self.tx,
                "logger: sample {}: {}.{} C",
                s.seq,
                s.decidegrees / 10,
                s.decidegrees % 10
            );
            if s.seq == TOTAL {
                self.finish();
                return;
            }
        }
    }

    fn finish(&mut self) {
        match STATS.ppcall(msginfo_new(stats::SUMMARY, 0)) {
            Ok(r) if r.label() == stats::OK && r.count() == 4 => {
                let c = |v: u64| (v / 10, v % 10);
                let ((lo, lo10), (hi, hi10), (mean, mean10)) =
                    (c(mr_get(1)), c(mr_get(2)), c(mr_get(3)));
                serial_println!(
                    self.tx,
                    "logger: {} samples, min {}.{} C, max {}.{} C, mean {}.{} C",
                    mr_get(0),
                    lo,
                    lo10,
                    hi,
                    hi10,
                    mean,
                    mean10
                );
            }
            other => serial_println!(self.tx, "logger: stats server: {:?}", other),
        }
        serial_println!(self.tx, "sensor: done");
        self.finished = true;
        let _ = Child::new(SAMPLER_CHILD).stop();
        if self
            .timer
            .set_timeout(Deadline::Relative(DRAIN_MS * 1_000_000))
            .is_err()
        {
            power_off(EXIT_IOPORT, 0);
        }
    }
}

impl Handler for Logger {
    fn notified(&mut self, ch: Channel) {
        if ch == SAMPLER && !self.finished {
            self.drain();
        } else if ch == self.tx.channel() {
            self.tx.space(); // virt_tx took some output: send the rest
        } else if ch == self.timer.channel() && self.finished {
            power_off(EXIT_IOPORT, 0);
        }
    }

    fn fault(&mut self, child: Child, msg: MessageInfo) -> bool {
        let info = FaultInfo::read(msg);
        serial_println!(self.tx, "logger: sampler faulted ({}); restarting it", info);
        if let Err(e) = child.restart(ENTRY_POINT) {
            serial_println!(self.tx, "logger: cannot restart the sampler: {}", e);
        }
        false // restarted, not resumed
    }
}

fn init() -> Logger {
    let serial = Serial::connect(&__mantle_config).unwrap_or_else(|e| panic!("logger: {}", e));
    let timer = Timer::connect(&__mantle_config).unwrap_or_else(|e| panic!("logger: {}", e));
    // SAFETY: the SDF maps `samples` read-write at this address, with
    // SAMPLES_SIZE bytes, for the PD's whole life; the logger is its only
    // consumer.
    let queue = unsafe { word::consumer(samples.get() as usize, SAMPLES_SIZE) }
        .unwrap_or_else(|e| panic!("logger: samples queue: {}", e));
    let mut tx = serial.tx;
    serial_println!(tx, "logger: ready; waiting for {} samples", TOTAL);
    Logger {
        tx,
        timer,
        queue,
        next_seq: 1,
        finished: false,
    }
}

protection_domain!(init);
