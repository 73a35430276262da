//! bad_channel: uses channel ids, rights, I/O ports and child ids it was not
//! granted and checks that each attempt returns the right error (for
//! channels, the exact reason and the channel id: no such channel, this end
//! may not notify / ppcall, not an IRQ), then checks that the granted ones
//! still work. It leaves a deferred `irq_ack` of channel 0 pending at the
//! end of `init`, which the event loop's first `RECV` performs and reports.
//!
//! Grants (see bad_channel.system): channel 0 to echo with pp; channel 1 to
//! echo, notify only; channel 2 to echo with notify="false" on this end;
//! I/O port grant 0 = port 0xf4 (size 1); no IRQs; no children.
#![no_std]
#![no_main]

use mantle_runtime::abi::syscall::{Status, ACTION_IRQ_ACK, ACTION_NOTIFY, ACTION_REPLY, RECV};
use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, protection_domain, raw, Channel, Child, Error,
    Handler, IoPort, ENTRY_POINT,
};
use mantle_test_pds::{echo_transform, finish, EXIT_IOPORT};

const PP: Channel = Channel::new(0);
const NOTIFY_ONLY: Channel = Channel::new(1);
const NO_NOTIFY: Channel = Channel::new(2);

struct Checker {
    failures: u32,
    checks: u32,
}

impl Checker {
    fn expect<T: core::fmt::Debug>(
        &mut self,
        what: &str,
        got: Result<T, Error>,
        want: Result<(), Error>,
    ) {
        self.checks += 1;
        let ok = match (&got, want) {
            (Ok(_), Ok(())) => true,
            (Err(g), Err(w)) => *g == w,
            _ => false,
        };
        if !ok {
            self.failures += 1;
            debug_println!(
                "bad_channel: FAIL: {}: got {:?}, want {:?}",
                what,
                got,
                want
            );
        }
    }

    fn expect_raw(&mut self, what: &str, rax: u64, want: Status) {
        self.expect_raw_any(what, rax, &[want]);
    }

    fn expect_raw_any(&mut self, what: &str, rax: u64, want: &[Status]) {
        self.checks += 1;
        if !want.iter().any(|w| rax == w.to_raw()) {
            self.failures += 1;
            debug_println!(
                "bad_channel: FAIL: {}: got rax={:#x} ({:?}), want {:?}",
                what,
                rax,
                Status::from_raw(rax),
                want
            );
        }
    }
}

struct Pd {
    checker: Checker,
    seen: u64,
}

impl Handler for Pd {
    fn notified(&mut self, ch: Channel) {
        if ch.index() >= 2 {
            debug_println!("bad_channel: FAIL: notification on channel {}", ch);
            self.checker.failures += 1;
        } else {
            self.seen |= 1 << ch.index();
        }
        if self.seen == 0b11 {
            debug_println!(
                "bad_channel: echo notified back on channels 0 and 1; {} checks, {} failures",
                self.checker.checks,
                self.checker.failures
            );
            finish("bad_channel", self.checker.failures == 0);
        }
    }
}

fn init() -> Pd {
    debug_println!("bad_channel: started");
    let mut c = Checker {
        failures: 0,
        checks: 0,
    };

    // Ids that are out of range or not granted at all: "no such channel",
    // naming the id.
    for id in [3usize, 17, 61, 62, 63, 64, 1000, usize::MAX / 2, usize::MAX] {
        let ch = Channel::new(id);
        let none = Err(Error::NoSuchChannel(ch));
        c.expect("notify(ungranted)", ch.notify(), none);
        c.expect("irq_ack(ungranted)", ch.irq_ack(), none);
        mr_set(0, 1);
        c.expect("ppcall(ungranted)", ch.ppcall(msginfo_new(0, 1)), none);
        let r = raw::syscall(RECV, ACTION_NOTIFY, id as u64, 0, 0);
        c.expect_raw("RECV(notify ungranted)", r.rax, Status::NoSuchChannel);
        let r = raw::syscall(RECV, ACTION_IRQ_ACK, id as u64, 0, 0);
        c.expect_raw("RECV(irq_ack ungranted)", r.rax, Status::NoSuchChannel);
    }
    for id in [62usize, 63, 1000, usize::MAX] {
        let ch = Channel::new(id);
        let none = Err(Error::NoSuchChannel(ch));
        c.expect("deferred_notify(out of range)", ch.deferred_notify(), none);
        c.expect(
            "deferred_irq_ack(out of range)",
            ch.deferred_irq_ack(),
            none,
        );
    }

    // Granted channels used without the right: "this end may not ...".
    mr_set(0, 5);
    let ppcall = NOTIFY_ONLY.ppcall(msginfo_new(0, 1));
    c.expect(
        "ppcall(notify-only channel)",
        ppcall,
        Err(Error::PpcallNotPermitted(NOTIFY_ONLY)),
    );
    if let Err(e) = ppcall {
        debug_println!("bad_channel: ppcall on channel 1 refused: {}", e);
    }
    c.expect(
        "ppcall(notify=false channel)",
        NO_NOTIFY.ppcall(msginfo_new(0, 1)),
        Err(Error::PpcallNotPermitted(NO_NOTIFY)),
    );
    let notify = NO_NOTIFY.notify();
    c.expect(
        "notify(notify=false end)",
        notify,
        Err(Error::NotifyNotPermitted(NO_NOTIFY)),
    );
    if let Err(e) = notify {
        debug_println!("bad_channel: notify on channel 2 refused: {}", e);
    }
    // Channels acknowledged as IRQs: "not an IRQ".
    for ch in [PP, NOTIFY_ONLY, NO_NOTIFY] {
        c.expect(
            "irq_ack(channel that is no IRQ)",
            ch.irq_ack(),
            Err(Error::NotAnIrq(ch)),
        );
        let r = raw::syscall(RECV, ACTION_IRQ_ACK, ch.index() as u64, 0, 0);
        c.expect_raw("RECV(irq_ack on a channel)", r.rax, Status::NotAnIrq);
    }
    let r = raw::syscall(RECV, ACTION_NOTIFY, NO_NOTIFY.index() as u64, 0, 0);
    c.expect_raw(
        "RECV(notify on notify=false end)",
        r.rax,
        Status::NotifyNotPermitted,
    );
    // A deferred action that fails when RECV performs it is reported by the
    // kernel's status, and the deferred notify of a channel without the
    // right fails with the same reason when run at once.
    c.expect(
        "deferred_notify(notify=false end)",
        NO_NOTIFY.deferred_notify(),
        Ok(()),
    );
    c.expect(
        "deferred_irq_ack(channel), running the pending notify",
        NOTIFY_ONLY.deferred_irq_ack(),
        Err(Error::NotifyNotPermitted(NO_NOTIFY)),
    );
    c.expect(
        "deferred_irq_ack(channel) again, running the pending ack",
        PP.deferred_irq_ack(),
        Err(Error::NotAnIrq(NOTIFY_ONLY)),
    );
    let r = raw::syscall(RECV, ACTION_REPLY, msginfo_new(0, 0).raw(), 0, 0);
    c.expect_raw(
        "RECV(reply with none pending)",
        r.rax,
        Status::NoReplyPending,
    );

    // A bad message info on a good channel.
    let r = raw::syscall(
        mantle_runtime::abi::syscall::PPCALL,
        PP.index() as u64,
        127,
        0,
        0,
    );
    c.expect_raw("ppcall(count 127)", r.rax, Status::InvalidArgument);

    // I/O ports outside the grant, and grants that do not exist.
    let exit = IoPort::new(EXIT_IOPORT);
    c.expect("read8(0xf4)", exit.read8(0xf4), Ok(()));
    c.expect(
        "write8(0xf5)",
        exit.write8(0xf5, 1),
        Err(Error::InvalidPort),
    );
    c.expect(
        "write8(0xf3)",
        exit.write8(0xf3, 1),
        Err(Error::InvalidPort),
    );
    c.expect(
        "write16(0xf4)",
        exit.write16(0xf4, 1),
        Err(Error::InvalidPort),
    );
    c.expect(
        "write32(0xf4)",
        exit.write32(0xf4, 1),
        Err(Error::InvalidPort),
    );
    c.expect("read8(0x3f8)", exit.read8(0x3f8), Err(Error::InvalidPort));
    for id in [1usize, 63, 64, 1000, usize::MAX] {
        c.expect(
            "write8(ungranted port grant)",
            IoPort::new(id).write8(0xf4, 1),
            Err(Error::InvalidPort),
        );
        c.expect(
            "read8(ungranted port grant)",
            IoPort::new(id).read8(0x80),
            Err(Error::InvalidPort),
        );
    }
    for width in [0u64, 3, 8, u64::MAX] {
        let r = raw::syscall(mantle_runtime::abi::syscall::IOPORT_IN, 0, 0xf4, width, 0);
        // Width 3 or 8 also runs past the one-port grant, so either error is right.
        c.expect_raw_any(
            "ioport_in(bad width)",
            r.rax,
            &[Status::InvalidArgument, Status::InvalidPort],
        );
    }

    // Children this PD does not have.
    for id in [0usize, 1, 63, 64, usize::MAX] {
        let child = Child::new(id);
        c.expect(
            "pd_stop(no such child)",
            child.stop(),
            Err(Error::InvalidChild),
        );
        c.expect(
            "pd_resume(no such child)",
            child.resume(),
            Err(Error::InvalidChild),
        );
        c.expect(
            "pd_restart(no such child)",
            child.restart(ENTRY_POINT),
            Err(Error::InvalidChild),
        );
    }

    // The granted rights still work.
    for i in 0..4 {
        mr_set(i, 100 + i as u64);
    }
    match PP.ppcall(msginfo_new(9, 4)) {
        Ok(reply) => {
            c.checks += 1;
            let regs_ok = (0..4).all(|i| mr_get(i) == echo_transform(100 + i as u64));
            if reply.label() != 9 || reply.count() != 4 || !regs_ok {
                c.failures += 1;
                debug_println!("bad_channel: FAIL: echo reply {:?} wrong", reply);
            }
        }
        Err(e) => c.expect("ppcall(granted)", Err::<(), _>(e), Ok(())),
    }
    c.expect("notify(pp channel)", PP.notify(), Ok(()));
    c.expect("notify(notify-only channel)", NOTIFY_ONLY.notify(), Ok(()));
    debug_println!(
        "bad_channel: {} checks done in init, {} failures",
        c.checks,
        c.failures
    );
    Pd {
        checker: c,
        seen: 0,
    }
}

protection_domain!(init);
