//! irq: drives the CMOS RTC's periodic interrupt (ISA IRQ 8, IOAPIC pin 8)
//! through an I/O port grant, receives its IRQs as notifications on channel
//! 1 and acknowledges them, alternating `irq_ack` and `deferred_irq_ack`.
//! Also checks that an IRQ id cannot be used as a channel.
#![no_std]
#![no_main]

use mantle_runtime::{
    debug_println, mr_set, msginfo_new, protection_domain, rdtsc, Channel, Error, Handler, IoPort,
};
use mantle_test_pds::finish;

const RTC_IRQ: Channel = Channel::new(1);
const RTC: IoPort = IoPort::new(1);
const RTC_INDEX: u16 = 0x70;
const RTC_DATA: u16 = 0x71;
/// Index-port bit that keeps NMIs disabled while we touch CMOS.
const NMI_OFF: u8 = 0x80;
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
/// Register B: periodic interrupt enable.
const PIE: u8 = 0x40;
/// Register A rate 10: 32768 >> 9 = 64 interrupts per second.
const RATE: u8 = 10;
const WANTED: u32 = 10;

fn cmos_read(reg: u8) -> u8 {
    RTC.write8(RTC_INDEX, NMI_OFF | reg).expect("rtc index");
    RTC.read8(RTC_DATA).expect("rtc data")
}

fn cmos_write(reg: u8, value: u8) {
    RTC.write8(RTC_INDEX, NMI_OFF | reg).expect("rtc index");
    RTC.write8(RTC_DATA, value).expect("rtc data");
}

struct Irq {
    count: u32,
    start: u64,
}

impl Handler for Irq {
    fn notified(&mut self, ch: Channel) {
        if ch != RTC_IRQ {
            debug_println!("irq: FAIL: notification on channel {}", ch);
            finish("irq", false);
        }
        self.count += 1;
        // Reading register C tells the RTC the interrupt was handled, so it
        // can raise the next one.
        let c = cmos_read(REG_C);
        if c & PIE == 0 {
            debug_println!(
                "irq: FAIL: IRQ {} without the periodic flag (C={:#x})",
                self.count,
                c
            );
            finish("irq", false);
        }
        if self.count == WANTED {
            cmos_write(REG_B, cmos_read(REG_B) & !PIE);
            let _ = cmos_read(REG_C);
            let ticks = rdtsc() - self.start;
            debug_println!("irq: {} RTC interrupts in {} TSC ticks", self.count, ticks);
            // The last one is acknowledged too, so the line is left unmasked.
            let acked = RTC_IRQ.irq_ack();
            finish("irq", acked.is_ok());
        }
        let r = if self.count % 2 == 1 {
            RTC_IRQ.irq_ack()
        } else {
            RTC_IRQ.deferred_irq_ack()
        };
        if let Err(e) = r {
            debug_println!("irq: FAIL: ack {}: {}", self.count, e);
            finish("irq", false);
        }
    }
}

fn init() -> Irq {
    debug_println!("irq: started");
    let mut ok = true;
    let not_a_channel = Err(Error::NotAChannel(RTC_IRQ));
    let r = RTC_IRQ.notify();
    if r != not_a_channel {
        debug_println!("irq: FAIL: notify on an IRQ id: got {:?}", r);
        ok = false;
    }
    mr_set(0, 0);
    let r = RTC_IRQ.ppcall(msginfo_new(0, 1));
    if r.map(|_| ()) != not_a_channel {
        debug_println!("irq: FAIL: ppcall on an IRQ id: got {:?}", r);
        ok = false;
    }
    if let Err(e) = r {
        debug_println!("irq: ppcall on the IRQ id refused: {}", e);
    }
    if !ok {
        finish("irq", false);
    }
    // Program a 64 Hz periodic interrupt and clear anything pending.
    cmos_write(REG_A, (cmos_read(REG_A) & 0xf0) | RATE);
    cmos_write(REG_B, cmos_read(REG_B) | PIE);
    let _ = cmos_read(REG_C);
    debug_println!("irq: RTC periodic interrupt enabled at 64 Hz");
    Irq {
        count: 0,
        start: rdtsc(),
    }
}

protection_domain!(init);
