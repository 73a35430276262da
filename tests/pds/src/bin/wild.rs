//! wild_syscalls: calls every syscall number 0..=20, and huge ones, with
//! pseudo-random and extreme arguments many thousands of times (seeded
//! xorshift, so runs are reproducible), checking that every call returns a
//! status, that error statuses are the expected ones where they are
//! determined, and that `rdx`/`r10` are preserved. Then it proves its peer
//! is unharmed: a PPC echo with known values and a notification round trip.
//!
//! Grants (see wild_syscalls.system): channel 0 to echo (pp); channel 1 to
//! echo (notify only); channel 2 to echo (notify only, kept out of the wild
//! phase for the final check); channel 3 to its child; I/O port 0 = 0xf4
//! (exit), 1 = 0x80; no IRQs; one child, id 0, of lower priority (so it
//! never runs during the wild phase, but is stopped, resumed and restarted
//! at random; `PD_RESTART` of it only ever uses its real entry point or an
//! invalid address). At the end the child is restarted and must notify.
//!
//! Avoided on purpose: `RECV` with an action that succeeds (it would block),
//! `IOPORT_OUT`/`IOPORT_OUT_REP` on grant 0 (port 0xf4 ends the system),
//! `DEBUG_PUTS` with a valid non-zero length (it would print garbage),
//! `NOTIFY` on channel 2.
#![no_std]
#![no_main]

use mantle_runtime::abi::layout::{IPC_BUFFER_VADDR, PHYSMAP_BASE, STACK_TOP, USER_TOP};
use mantle_runtime::abi::syscall::{self as sc, Status};
use mantle_runtime::{
    debug_println, mr_get, mr_set, msginfo_new, protection_domain, raw, Channel, Child, Handler,
    ENTRY_POINT,
};
use mantle_test_pds::{echo_transform, finish, XorShift};

const ITERATIONS: u32 = 100_000;
const SEED: u64 = 0x6d61_6e74_6c65_2121;
const ECHO_PP: Channel = Channel::new(0);
const FINAL: Channel = Channel::new(2);
const CHILD_CH: Channel = Channel::new(3);
const CHILD: Child = Child::new(0);
const HARMLESS_IOPORT: u64 = 1;

const EXTREMES: [u64; 28] = [
    0,
    1,
    2,
    3,
    4,
    7,
    61,
    62,
    63,
    64,
    127,
    128,
    255,
    511,
    512,
    513,
    4096,
    0xffff,
    0x1_0000,
    u32::MAX as u64,
    u64::MAX,
    u64::MAX - 1,
    1 << 63,
    PHYSMAP_BASE,
    0xffff_ffff_8000_0000,
    0x0000_8000_0000_0000, // non-canonical
    USER_TOP,
    IPC_BUFFER_VADDR,
];

fn arg(rng: &mut XorShift) -> u64 {
    match rng.below(8) {
        0..=2 => EXTREMES[rng.below(EXTREMES.len() as u64) as usize],
        3 => rng.below(70),
        4 => STACK_TOP - rng.below(0x3000),
        5 => 0x20_0000 + rng.below(0x10000),
        _ => rng.next_u64(),
    }
}

#[derive(Default)]
struct Stats {
    calls: u32,
    by_status: [u32; Status::ALL.len()],
    events: u32,
    failures: u32,
}

impl Stats {
    fn fail(&mut self, n: u64, a: [u64; 4], what: &str, rax: u64) {
        self.failures += 1;
        if self.failures <= 10 {
            debug_println!(
                "wild_syscalls: FAIL: syscall {:#x}({:#x}, {:#x}, {:#x}, {:#x}): {} (rax={:#x})",
                n,
                a[0],
                a[1],
                a[2],
                a[3],
                what,
                rax
            );
        }
    }
}

/// Make the call safe to issue (see the module docs).
fn sanitise(n: u64, a: &mut [u64; 4]) {
    match n {
        sc::DEBUG_PUTS
            if a[0] >= 1 && a[0] <= mantle_runtime::abi::ipc::IPC_BUFFER_BYTES as u64 =>
        {
            a[0] = 0
        }
        sc::NOTIFY if a[0] == FINAL.index() as u64 => a[0] = 62,
        sc::RECV => match a[0] {
            sc::ACTION_NONE => a[0] = sc::ACTION_REPLY,
            // Channels below 62 might be granted; shift them out of range.
            sc::ACTION_NOTIFY if a[1] < 62 => a[1] += 62,
            _ => {}
        },
        sc::IOPORT_OUT | sc::IOPORT_OUT_REP if a[0] == 0 => a[0] = HARMLESS_IOPORT,
        // Restarting the real child at an arbitrary user address would run
        // garbage later; use its entry point instead.
        sc::PD_RESTART if a[0] == 0 && a[1] < USER_TOP => a[1] = ENTRY_POINT,
        _ => {}
    }
}

/// The statuses a call may return, where the contract determines them.
fn allowed(n: u64, a: &[u64; 4], s: Status) -> bool {
    use Status::*;
    match n {
        sc::NULL => s == Ok,
        // No IRQs granted; ids 0..=3 are channels.
        sc::IRQ_ACK if a[0] <= 3 => s == NotAnIrq,
        sc::IRQ_ACK => s == NoSuchChannel,
        sc::RECV => s != Ok, // every action we issue fails
        // Child 0 exists: the outcome depends on its state.
        sc::PD_RESTART | sc::PD_STOP | sc::PD_RESUME if a[0] == 0 => true,
        sc::PD_RESTART => matches!(s, InvalidChild | InvalidAddress),
        sc::PD_STOP | sc::PD_RESUME => s == InvalidChild,
        sc::NOTIFY => {
            let granted = a[0] <= 1 || a[0] == CHILD_CH.index() as u64;
            if granted {
                s == Ok
            } else {
                s == NoSuchChannel
            }
        }
        sc::PPCALL => match a[0] {
            0 => matches!(s, Ok | InvalidArgument),
            // Channels without pp on this end.
            1..=3 => s == PpcallNotPermitted,
            _ => s == NoSuchChannel,
        },
        sc::IOPORT_IN | sc::IOPORT_OUT | sc::IOPORT_OUT_REP => {
            if a[0] > 1 {
                s == InvalidPort
            } else {
                matches!(s, Ok | InvalidPort | InvalidArgument)
            }
        }
        sc::DEBUG_PUTS => matches!(s, Ok | InvalidArgument),
        _ => s == InvalidSyscall,
    }
}

/// `ok 12, invalid syscall 3, ...`: the count of every status.
struct Counts<'a>(&'a [u32; Status::ALL.len()]);

impl core::fmt::Display for Counts<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, (s, n)) in Status::ALL.iter().zip(self.0).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{} {n}", s.as_str())?;
        }
        Ok(())
    }
}

struct Wild {
    ok: bool,
    echo_answered: bool,
    child_answered: bool,
}

impl Handler for Wild {
    fn notified(&mut self, ch: Channel) {
        if ch == FINAL && !self.echo_answered {
            self.echo_answered = true;
            debug_println!("wild_syscalls: echo answered a notification on channel 2");
        } else if ch == CHILD_CH && !self.child_answered {
            self.child_answered = true;
            debug_println!("wild_syscalls: restarted child notified");
        }
        // Channels 0 and 1: echoes of notifies made during the wild phase.
        if self.echo_answered && self.child_answered {
            finish("wild_syscalls", self.ok);
        }
    }
}

fn init() -> Wild {
    debug_println!(
        "wild_syscalls: {} random syscalls, seed {:#x}",
        ITERATIONS,
        SEED
    );
    let mut rng = XorShift::new(SEED);
    let mut st = Stats::default();
    for _ in 0..ITERATIONS {
        let n = match rng.below(10) {
            0 => rng.next_u64(),
            1 => EXTREMES[rng.below(EXTREMES.len() as u64) as usize],
            _ => rng.below(21),
        };
        let mut a = [arg(&mut rng), arg(&mut rng), arg(&mut rng), arg(&mut rng)];
        if n == sc::RECV && rng.below(2) == 0 {
            a[0] = rng.below(6);
        }
        if (n == sc::IOPORT_IN || n == sc::IOPORT_OUT || n == sc::IOPORT_OUT_REP)
            && rng.below(2) == 0
        {
            a[0] = rng.below(3);
            a[2] = [1, 2, 4, 3, 0][rng.below(5) as usize];
        }
        if (sc::PD_RESTART..=sc::PD_RESUME).contains(&n) && rng.below(2) == 0 {
            a[0] = 0; // the real child
        }
        sanitise(n, &mut a);
        let r = raw::syscall_full(n, a[0], a[1], a[2], a[3]);
        st.calls += 1;
        let rax = r.result.rax;
        if r.rdx != a[2] || r.r10 != a[3] {
            st.fail(n, a, "rdx/r10 not preserved", rax);
        }
        match Status::from_raw(rax) {
            Some(s) => {
                st.by_status[s as usize] += 1;
                if !allowed(n, &a, s) {
                    st.fail(n, a, s.as_str(), rax);
                }
            }
            None => {
                st.events += 1;
                st.fail(n, a, "not a status", rax);
            }
        }
    }
    debug_println!(
        "wild_syscalls: {} calls: {}; {} unexpected",
        st.calls,
        Counts(&st.by_status),
        st.failures
    );

    // The peer is unharmed: a PPC with known values comes back right.
    let mut ok = st.failures == 0;
    for i in 0..8 {
        mr_set(i, 0x1111 * i as u64);
    }
    match ECHO_PP.ppcall(msginfo_new(42, 8)) {
        Ok(reply)
            if reply.label() == 42
                && reply.count() == 8
                && (0..8).all(|i| mr_get(i) == echo_transform(0x1111 * i as u64)) =>
        {
            debug_println!("wild_syscalls: echo PPC still correct");
        }
        other => {
            debug_println!("wild_syscalls: FAIL: echo PPC gave {:?}", other);
            ok = false;
        }
    }
    if let Err(e) = FINAL.notify() {
        debug_println!("wild_syscalls: FAIL: notify channel 2: {}", e);
        finish("wild_syscalls", false);
    }
    // The child runs once this PD waits; it must notify us.
    if let Err(e) = CHILD.restart(ENTRY_POINT) {
        debug_println!("wild_syscalls: FAIL: restart child: {}", e);
        finish("wild_syscalls", false);
    }
    Wild {
        ok,
        echo_answered: false,
        child_answered: false,
    }
}

protection_domain!(init);
