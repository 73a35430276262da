//! What the tutorial's three programs share: channel ids, the sample
//! format and the statistics server's protocol (docs/writing-a-system.md).
#![no_std]
#![forbid(unsafe_code)]

/// Channel ids, as `sensor.system` gives them. The serial and timer
/// channels are not here: the subsystems choose those and write them into
/// each PD's configuration.
pub mod ch {
    /// Sampler's end of the sampler <-> logger channel.
    pub const SAMPLER_LOGGER: usize = 1;
    /// Logger's end of the sampler <-> logger channel.
    pub const LOGGER_SAMPLER: usize = 1;
    /// Logger's end of the channel to the statistics server (`pp="true"`).
    pub const LOGGER_STATS: usize = 2;
    /// The statistics server's end.
    pub const STATS_LOGGER: usize = 0;
}

/// The sampler's child id in the logger.
pub const SAMPLER_CHILD: usize = 0;
/// Size of the `samples` region (the SDF's `size`).
pub const SAMPLES_SIZE: usize = 0x1000;
/// Milliseconds between samples.
pub const PERIOD_MS: u64 = 100;
/// The sample at which the sampler's first life ends in a simulated glitch.
pub const GLITCH_AT: u32 = 4;
/// Samples the logger takes before it ends the system.
pub const TOTAL: u32 = 10;

/// One reading: its sequence number (from 1) and the temperature in tenths
/// of a degree Celsius.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Sequence number, from 1.
    pub seq: u32,
    /// Tenths of a degree Celsius.
    pub decidegrees: u32,
}

impl Sample {
    /// The word that carries it through the queue.
    pub const fn to_word(self) -> u64 {
        (self.seq as u64) << 32 | self.decidegrees as u64
    }
    /// The sample a word claims to be: untrusted until the consumer checks
    /// it ([`Sample::plausible`]).
    pub const fn from_word(w: u64) -> Sample {
        Sample {
            seq: (w >> 32) as u32,
            decidegrees: w as u32,
        }
    }
    /// Could a real sensor have produced this? (0.0 to 60.0 degrees.)
    pub const fn plausible(self) -> bool {
        self.decidegrees <= 600
    }
}

/// The simulated sensor: 20.0 degrees plus a slow triangle wave.
pub const fn reading(seq: u32) -> u32 {
    let phase = seq % 8;
    let up = if phase < 4 { phase } else { 8 - phase };
    200 + 7 * up
}

/// The statistics server's protocol (labels of the PPC).
pub mod stats {
    /// Add one value (MR0). Reply: [`OK`], no registers.
    pub const ADD: u64 = 1;
    /// Reply MR0 count, MR1 minimum, MR2 maximum, MR3 mean (rounded down).
    pub const SUMMARY: u64 = 2;
    /// The call succeeded.
    pub const OK: u64 = 0;
    /// The call was malformed.
    pub const ERROR: u64 = 1;
}
