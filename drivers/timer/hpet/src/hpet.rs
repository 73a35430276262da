//! The HPET's registers and the arithmetic around them (IA-PC HPET
//! specification 1.0a). Pure: no memory access here; the driver binary does
//! the MMIO.
//!
//! Choice of interrupt routing: comparator 0 in **one-shot** mode, 64-bit,
//! **level-triggered**, routed to an IOAPIC pin its `Tn_INT_ROUTE_CAP` allows
//! (QEMU's q35 allows pins 16–23; Mantle's systems use pin 20, active high).
//! Level triggering fits the kernel's mask-on-delivery / unmask-on-ack
//! model: the line stays asserted until the driver clears the timer's bit in
//! the general interrupt status register, so an expiry can never be lost
//! between delivery and acknowledgement. Legacy replacement routing is not
//! used: it would take over the PIT's and RTC's IRQs 0 and 8.

/// Physical address of the HPET on q35 (and most PCs).
pub const HPET_PHYS: u64 = 0xfed0_0000;

/// General capabilities and ID.
pub const GCAP_ID: usize = 0x000;
/// General configuration.
pub const GEN_CONF: usize = 0x010;
/// General interrupt status (level-triggered timers; write 1 to clear).
pub const GINTR_STA: usize = 0x020;
/// Main counter.
pub const MAIN_COUNTER: usize = 0x0f0;

/// `GEN_CONF`: the main counter runs.
pub const ENABLE_CNF: u64 = 1 << 0;
/// `GEN_CONF`: legacy replacement routing.
pub const LEG_RT_CNF: u64 = 1 << 1;

/// Timer `n`'s configuration and capabilities register.
pub const fn timer_conf(n: usize) -> usize {
    0x100 + 0x20 * n
}
/// Timer `n`'s comparator.
pub const fn timer_comparator(n: usize) -> usize {
    0x108 + 0x20 * n
}

/// `Tn_CONF`: level-triggered interrupt.
pub const TN_INT_TYPE_LEVEL: u64 = 1 << 1;
/// `Tn_CONF`: interrupt enabled.
pub const TN_INT_ENB: u64 = 1 << 2;
/// `Tn_CONF`: periodic mode.
pub const TN_TYPE_PERIODIC: u64 = 1 << 3;
/// `Tn_CONF`: the comparator is 64 bits wide.
pub const TN_SIZE_CAP: u64 = 1 << 5;
/// `Tn_CONF`: force 32-bit mode.
pub const TN_32MODE: u64 = 1 << 8;
/// `Tn_CONF`: IOAPIC routing field shift (5 bits).
pub const TN_INT_ROUTE_SHIFT: u32 = 9;
/// `Tn_CONF`: FSB (MSI) delivery enabled.
pub const TN_FSB_EN: u64 = 1 << 14;

/// What `GCAP_ID` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Counter tick in femtoseconds.
    pub period_fs: u64,
    /// Number of comparators.
    pub timers: usize,
    /// The main counter is 64 bits wide.
    pub counter_64: bool,
}

/// Why the HPET cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HpetError {
    /// All ones or zero: nothing (or no HPET) at that address.
    Absent,
    /// The period is 0 or above the specification's 100 ns maximum.
    BadPeriod(u64),
    /// The main counter is only 32 bits wide (not supported: it would wrap
    /// within a minute).
    Counter32,
    /// The comparator is only 32 bits wide.
    Comparator32,
    /// The comparator cannot be routed to the pin the system uses.
    PinNotRoutable {
        /// The pin the SDF grants.
        pin: u8,
        /// `Tn_INT_ROUTE_CAP`.
        allowed: u32,
    },
}

impl core::fmt::Display for HpetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HpetError::Absent => f.write_str("no HPET at the mapped address"),
            HpetError::BadPeriod(p) => write!(f, "bad counter period {p} fs"),
            HpetError::Counter32 => f.write_str("32-bit main counter not supported"),
            HpetError::Comparator32 => f.write_str("comparator 0 is only 32 bits wide"),
            HpetError::PinNotRoutable { pin, allowed } => write!(
                f,
                "comparator 0 cannot be routed to IOAPIC pin {pin} (allowed mask {allowed:#x})"
            ),
        }
    }
}

/// Largest period the specification allows: 100 ns.
const MAX_PERIOD_FS: u64 = 100_000_000;
const FS_PER_NS: u128 = 1_000_000;

impl Capabilities {
    /// Decode `GCAP_ID`.
    pub fn decode(gcap: u64) -> Result<Self, HpetError> {
        if gcap == u64::MAX || gcap == 0 {
            return Err(HpetError::Absent);
        }
        let period_fs = gcap >> 32;
        if period_fs == 0 || period_fs > MAX_PERIOD_FS {
            return Err(HpetError::BadPeriod(period_fs));
        }
        let counter_64 = gcap & (1 << 13) != 0;
        if !counter_64 {
            return Err(HpetError::Counter32);
        }
        Ok(Capabilities {
            period_fs,
            timers: ((gcap >> 8) & 0x1f) as usize + 1,
            counter_64,
        })
    }

    /// Counter ticks to ns, rounded down.
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        let ns = ticks as u128 * self.period_fs as u128 / FS_PER_NS;
        ns.min(u64::MAX as u128) as u64
    }

    /// The first counter value at or after `ns`, so that a comparator set to
    /// it never fires before `ns` (rounded up; saturates).
    pub fn ns_to_ticks_ceil(&self, ns: u64) -> u64 {
        let ticks = (ns as u128 * FS_PER_NS).div_ceil(self.period_fs as u128);
        ticks.min(u64::MAX as u128) as u64
    }

    /// Counter frequency in Hz (rounded).
    pub fn frequency_hz(&self) -> u64 {
        (1_000_000_000_000_000u128 / self.period_fs as u128) as u64
    }
}

/// The configuration for comparator 0 (given its current `Tn_CONF`): one
/// shot, 64-bit, level-triggered, interrupt enabled, routed to `pin`.
pub fn one_shot_config(current: u64, pin: u8) -> Result<u64, HpetError> {
    let allowed = (current >> 32) as u32;
    if pin >= 32 || allowed & (1 << pin) == 0 {
        return Err(HpetError::PinNotRoutable { pin, allowed });
    }
    if current & TN_SIZE_CAP == 0 {
        return Err(HpetError::Comparator32);
    }
    let keep = current
        & !(TN_INT_TYPE_LEVEL
            | TN_INT_ENB
            | TN_TYPE_PERIODIC
            | TN_32MODE
            | (0x1f << TN_INT_ROUTE_SHIFT)
            | TN_FSB_EN);
    Ok(keep | TN_INT_TYPE_LEVEL | TN_INT_ENB | ((pin as u64) << TN_INT_ROUTE_SHIFT))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU's HPET: 10 ns period, 3 timers, 64-bit counter, legacy capable.
    const QEMU_GCAP: u64 = (10_000_000 << 32) | 0x8086_a201;

    #[test]
    fn decodes_qemu_capabilities() {
        let c = Capabilities::decode(QEMU_GCAP).unwrap();
        assert_eq!(c.period_fs, 10_000_000);
        assert_eq!(c.timers, 3);
        assert_eq!(c.frequency_hz(), 100_000_000);
        assert_eq!(Capabilities::decode(u64::MAX), Err(HpetError::Absent));
        assert_eq!(
            Capabilities::decode(QEMU_GCAP & !(1 << 13)),
            Err(HpetError::Counter32)
        );
        assert_eq!(
            Capabilities::decode(200_000_000 << 32 | 1 << 13),
            Err(HpetError::BadPeriod(200_000_000))
        );
    }

    #[test]
    fn conversions_never_round_early() {
        // A 69.84 ns period (14.318 MHz, the classic HPET clock).
        let c = Capabilities {
            period_fs: 69_841_279,
            timers: 3,
            counter_64: true,
        };
        for ns in [0u64, 1, 69, 70, 1_000, 123_456_789, u64::MAX / 4] {
            let t = c.ns_to_ticks_ceil(ns);
            // The comparator value is at or after `ns` ...
            assert!(t as u128 * c.period_fs as u128 >= ns as u128 * 1_000_000);
            // ... and one tick less would be early.
            if t > 0 {
                assert!(((t - 1) as u128 * c.period_fs as u128) < ns as u128 * 1_000_000);
            }
        }
        // A 1 fs period saturates instead of wrapping.
        let fast = Capabilities {
            period_fs: 1,
            timers: 1,
            counter_64: true,
        };
        assert_eq!(fast.ns_to_ticks_ceil(u64::MAX), u64::MAX);
        let q = Capabilities::decode(QEMU_GCAP).unwrap();
        assert_eq!(q.ns_to_ticks_ceil(25), 3);
        assert_eq!(q.ticks_to_ns(3), 30);
    }

    #[test]
    fn comparator_configuration() {
        // QEMU: route cap pins 16-23, 64-bit, periodic capable.
        let conf = (0x00ff_0000u64 << 32) | (1 << 4) | TN_SIZE_CAP | TN_TYPE_PERIODIC;
        let c = one_shot_config(conf, 20).unwrap();
        assert_eq!(c & TN_TYPE_PERIODIC, 0);
        assert_ne!(c & TN_INT_ENB, 0);
        assert_ne!(c & TN_INT_TYPE_LEVEL, 0);
        assert_eq!((c >> TN_INT_ROUTE_SHIFT) & 0x1f, 20);
        assert_eq!(c >> 32, 0x00ff_0000);
        assert_eq!(
            one_shot_config(conf, 4),
            Err(HpetError::PinNotRoutable {
                pin: 4,
                allowed: 0x00ff_0000
            })
        );
        assert_eq!(
            one_shot_config(conf, 40).unwrap_err(),
            HpetError::PinNotRoutable {
                pin: 40,
                allowed: 0x00ff_0000
            }
        );
        assert_eq!(
            one_shot_config(conf & !TN_SIZE_CAP, 20),
            Err(HpetError::Comparator32)
        );
    }
}
