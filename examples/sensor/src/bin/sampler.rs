//! The sampler: on every timer tick it reads the (simulated) sensor, puts
//! the sample into the shared `samples` queue and notifies the logger.
//! Its first life ends in a deliberate glitch; the logger, its parent,
//! restarts it.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use mantle_runtime::{debug_println, protection_domain, setvar, Channel, Handler};
use mantle_timer_client::{Deadline, Timer};
use sddf::word::{self, WordProducer};
use sensor_example::{ch, reading, Sample, GLITCH_AT, PERIOD_MS, SAMPLES_SIZE};

setvar!(samples); // where the SDF maps the queue region
mantle_config::config_blob!(); // the timer channel, from <timer_subsystem>

const LOGGER: Channel = Channel::new(ch::SAMPLER_LOGGER);

// A restart runs `init` again but does not reload `.data` (as in
// Microkit): these survive it.
static ARMED: AtomicBool = AtomicBool::new(false);
static LAST_SEQ: AtomicU32 = AtomicU32::new(0);
static LIFE: AtomicU32 = AtomicU32::new(0);

struct Sampler {
    timer: Timer,
    queue: WordProducer<'static>,
}

impl Handler for Sampler {
    fn notified(&mut self, ch: Channel) {
        if ch != self.timer.channel() {
            return;
        }
        // Ticks coalesce if we fall behind: the driver counts them.
        let ticks: u32 = match self.timer.take_expired() {
            Ok(e) => e.counts.iter().sum(),
            Err(e) => panic!("sampler: timer: {}", e),
        };
        if ticks == 0 {
            return;
        }
        for _ in 0..ticks {
            let seq = LAST_SEQ.load(Ordering::Relaxed) + 1;
            if seq == GLITCH_AT && LIFE.load(Ordering::Relaxed) == 1 {
                glitch();
            }
            let sample = Sample {
                seq,
                decidegrees: reading(seq),
            };
            if self.queue.enqueue(sample.to_word()).is_err() {
                debug_println!("sampler: queue full, sample {} dropped", seq);
            }
            LAST_SEQ.store(seq, Ordering::Relaxed);
        }
        let _ = LOGGER.notify();
    }
}

/// A sensor that hangs the bus: read from an address nothing maps.
fn glitch() -> ! {
    // SAFETY: none needed for memory safety of this program: the load is
    // from an address outside every Rust allocation, and the MMU turns it
    // into a page fault; the kernel stops this PD and tells its parent. We
    // never continue.
    unsafe {
        core::arch::asm!(
            "mov {tmp}, qword ptr [{addr}]",
            addr = in(reg) 0x1000_0000u64,
            tmp = out(reg) _,
            options(nostack, readonly),
        );
    }
    panic!("the read of an unmapped address did not fault")
}

fn init() -> Sampler {
    LIFE.fetch_add(1, Ordering::Relaxed);
    let timer = Timer::connect(&__mantle_config).unwrap_or_else(|e| panic!("sampler: {}", e));
    // SAFETY: the SDF maps `samples` read-write at this address, with
    // SAMPLES_SIZE bytes, for the PD's whole life; the sampler is its only
    // producer.
    let queue = unsafe { word::producer(samples.get() as usize, SAMPLES_SIZE) }
        .unwrap_or_else(|e| panic!("sampler: samples queue: {}", e));
    if !ARMED.swap(true, Ordering::Relaxed) {
        let period = PERIOD_MS * 1_000_000;
        if let Err(e) = timer.set_periodic(Deadline::Relative(period), period) {
            panic!("sampler: cannot arm the timer: {}", e);
        }
    }
    Sampler { timer, queue }
}

protection_domain!(init);
