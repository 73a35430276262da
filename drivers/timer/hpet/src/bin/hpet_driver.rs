//! The HPET timer driver PD.
//!
//! Configuration: from `__mantle_config` (`TimerDriverConfig`: the HPET
//! region, the IRQ id, the clients' channels in order) in a composed system
//! (`<timer_subsystem>`); otherwise this SDF contract (see
//! `examples/timer/timer.system`):
//! - the HPET's registers mapped uncached:
//!   `<memory_region name="hpet" size="0x1000" phys_addr="0xfed00000"/>` and
//!   `<map mr="hpet" vaddr=".." perms="rw" cached="false" setvar_vaddr="hpet_regs"/>`;
//! - the comparator's interrupt:
//!   `<irq id="16" pin="20" vector=".." trigger="level" polarity="high"/>`
//!   ([`HPET_IRQ`], [`IOAPIC_PIN`]);
//! - clients on channel ids `0..16`, each with `pp="true"` on the client's
//!   end; the driver has a higher priority than every client.
//!
//! The driver is passive: it runs only to serve a PPC (on the caller's
//! budget) or its IRQ (a notification, on its own budget, which needs the
//! kernel's passive-notification support). It works unchanged as an active
//! PD.
#![no_std]
#![no_main]

use hpet_driver::hpet::{self, Capabilities};
use hpet_driver::server::{Server, MAX_CLIENTS};
use mantle_config::timer::TimerDriverConfig;
use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, pd_name, protection_domain, Channel, Handler,
    MessageInfo,
};

/// Hand-written systems: the IRQ id of the comparator's interrupt.
const HPET_IRQ: Channel = Channel::new(16);
/// The IOAPIC pin the SDF grants (`<irq pin=..>`); must be in comparator
/// 0's routing capability. (Composed systems use the same pin.)
const IOAPIC_PIN: u8 = 20;
/// The comparator used.
const TIMER: usize = 0;
/// Where the comparator is parked while no timeout is pending: far in the
/// future (2^63 ticks), but not `u64::MAX`, which QEMU 7.2's HPET
/// takes for a time in the past (it compares `cmp - now` as signed) and
/// fires after one tick, again on every re-park: an interrupt storm.
const PARKED: u64 = i64::MAX as u64;

mantle_runtime::setvar!(hpet_regs);
mantle_config::config_blob!();

/// Where the HPET is, its IRQ id, and which channel is which client.
struct Wiring {
    regs: u64,
    irq: Channel,
    /// Client `i`'s channel.
    clients: [Channel; MAX_CLIENTS],
    count: usize,
}

impl Wiring {
    fn load() -> Wiring {
        match mantle_config::decode::<TimerDriverConfig, _>(&__mantle_config) {
            Err(mantle_config::Error::NotPatched) => Wiring {
                regs: hpet_regs.get(),
                irq: HPET_IRQ,
                clients: core::array::from_fn(Channel::new),
                count: MAX_CLIENTS,
            },
            Err(e) => panic!("bad __mantle_config: {}", e),
            Ok(c) => {
                let list = c.clients.as_slice();
                assert!(
                    list.len() <= MAX_CLIENTS,
                    "more than {} clients",
                    MAX_CLIENTS
                );
                let mut clients = [Channel::new(usize::MAX); MAX_CLIENTS];
                for (slot, cl) in clients.iter_mut().zip(list) {
                    *slot = Channel::new(cl.channel.0 as usize);
                }
                Wiring {
                    regs: c.device.map_or(0, |r| r.vaddr),
                    irq: c.irq.map_or(HPET_IRQ, |i| Channel::new(i.0 as usize)),
                    clients,
                    count: list.len(),
                }
            }
        }
    }

    /// The client index of channel `ch`.
    fn client_of(&self, ch: Channel) -> Option<usize> {
        self.clients[..self.count].iter().position(|&c| c == ch)
    }
}

/// The HPET register window.
mod mmio {
    /// The mapped HPET page.
    pub struct Hpet {
        base: usize,
    }

    impl Hpet {
        /// The window at `base` (the patched `hpet_regs` variable).
        ///
        /// # Safety
        /// `base` must be the virtual address of a 4 KiB uncached mapping of
        /// the HPET's registers, valid for the PD's life.
        pub unsafe fn new(base: u64) -> Self {
            Hpet {
                base: base as usize,
            }
        }

        fn reg(&self, offset: usize) -> *mut u64 {
            assert!(
                offset < 0x1000 && offset.is_multiple_of(8),
                "HPET register offset"
            );
            (self.base + offset) as *mut u64
        }

        /// Read a 64-bit register.
        pub fn read(&self, offset: usize) -> u64 {
            // SAFETY: `new`'s contract: the page is mapped and is device
            // memory; the offset is inside it and 8-byte aligned.
            unsafe { self.reg(offset).read_volatile() }
        }

        /// Write a 64-bit register.
        pub fn write(&self, offset: usize, value: u64) {
            // SAFETY: as in `read`.
            unsafe { self.reg(offset).write_volatile(value) }
        }
    }
}

struct Driver {
    wiring: Wiring,
    regs: mmio::Hpet,
    caps: Capabilities,
    server: Server,
}

impl Driver {
    fn now_ns(&self) -> u64 {
        self.caps.ticks_to_ns(self.regs.read(hpet::MAIN_COUNTER))
    }

    /// Deliver everything due, then program the comparator for the next
    /// deadline. If that deadline passes while it is being programmed, go
    /// round again, so no expiry waits for a counter wrap.
    fn service(&mut self) {
        loop {
            let now = self.now_ns();
            let notify = self.server.expire(now);
            for c in mantle_runtime::ChannelSet::from_mask(notify) {
                let ch = self.wiring.clients[c.index()];
                if let Err(e) = ch.notify() {
                    debug_println!("{}: notify client on {}: {}", pd_name(), ch, e);
                }
            }
            let Some(deadline) = self.server.next_deadline() else {
                // Nothing pending: park the comparator at the far end.
                self.regs.write(hpet::timer_comparator(TIMER), PARKED);
                return;
            };
            let ticks = self.caps.ns_to_ticks_ceil(deadline);
            self.regs.write(hpet::timer_comparator(TIMER), ticks);
            if self.regs.read(hpet::MAIN_COUNTER) < ticks {
                return;
            }
        }
    }
}

impl Handler for Driver {
    fn notified(&mut self, ch: Channel) {
        if ch != self.wiring.irq {
            debug_println!("{}: unexpected notification on {}", pd_name(), ch);
            return;
        }
        // Level-triggered: clear the status bit so the line drops, then
        // serve, then unmask (when this PD next waits).
        self.regs.write(hpet::GINTR_STA, 1 << TIMER);
        self.service();
        if let Err(e) = self.wiring.irq.deferred_irq_ack() {
            debug_println!("{}: irq ack: {}", pd_name(), e);
        }
    }

    fn protected(&mut self, ch: Channel, msg: MessageInfo) -> MessageInfo {
        let now = self.now_ns();
        // Unknown channels are refused by the server as unknown clients.
        let client = self.wiring.client_of(ch).unwrap_or(usize::MAX);
        let (label, regs, n) =
            self.server
                .handle_raw(client, msg.label(), msg.count(), mr_get, now);
        // A new or cancelled timeout may change the next deadline.
        self.service();
        for (i, r) in regs[..n].iter().enumerate() {
            mr_set(i, *r);
        }
        msginfo_new(label, n)
    }
}

fn init() -> Driver {
    let wiring = Wiring::load();
    if wiring.regs == 0 {
        panic!("no HPET mapping configured");
    }
    // SAFETY: the system maps the HPET page uncached at `wiring.regs`
    // (module docs); the tool patches the address before the PD runs.
    let regs = unsafe { mmio::Hpet::new(wiring.regs) };
    let caps = match Capabilities::decode(regs.read(hpet::GCAP_ID)) {
        Ok(c) => c,
        Err(e) => panic!("HPET unusable: {}", e),
    };
    let conf = regs.read(hpet::timer_conf(TIMER));
    let new_conf = match hpet::one_shot_config(conf, IOAPIC_PIN) {
        Ok(c) => c,
        Err(e) => panic!("HPET comparator {}: {}", TIMER, e),
    };
    // Quiet the comparator while configuring it, clear a stale status bit,
    // then enable it and make sure the counter runs (the kernel started it
    // to calibrate the TSC) without legacy routing.
    regs.write(hpet::timer_comparator(TIMER), PARKED);
    regs.write(hpet::timer_conf(TIMER), new_conf & !hpet::TN_INT_ENB);
    regs.write(hpet::GINTR_STA, 1 << TIMER);
    regs.write(hpet::timer_conf(TIMER), new_conf);
    regs.write(hpet::timer_comparator(TIMER), PARKED);
    let gen = regs.read(hpet::GEN_CONF);
    regs.write(hpet::GEN_CONF, (gen | hpet::ENABLE_CNF) & !hpet::LEG_RT_CNF);
    debug_println!(
        "{}: HPET {} Hz, {} comparators; comparator {} one-shot, level, IOAPIC pin {} (allowed {:#x})",
        pd_name(),
        caps.frequency_hz(),
        caps.timers,
        TIMER,
        IOAPIC_PIN,
        conf >> 32
    );
    Driver {
        wiring,
        regs,
        caps,
        server: Server::new(),
    }
}

protection_domain!(init);
