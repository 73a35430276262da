//! timer example, client A: runs [`SCHEDULE_A`], waits for client B's
//! verdict, prints `timer: done` and powers off (status 0), or status 1 on
//! any failure.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, power_off, protection_domain, Channel, Handler};
use mantle_timer_client::Timer;
use timer_example::runner::Progress;
use timer_example::*;

mantle_config::config_blob!();

struct ClientA {
    timer: Timer,
    runner: Runner,
    mine_done: bool,
    b_done: bool,
}

fn finish(ok: bool) -> ! {
    if ok {
        debug_println!("timer: done");
        power_off(A_EXIT_IOPORT, 0)
    }
    debug_println!("timer: FAIL");
    power_off(A_EXIT_IOPORT, 1)
}

impl Handler for ClientA {
    fn notified(&mut self, ch: Channel) {
        match ch.index() {
            _ if ch == self.timer.channel() => match self.runner.notified() {
                Progress::Running => {}
                Progress::Done => self.mine_done = true,
                Progress::Failed => finish(false),
            },
            A_B_DONE => {
                debug_println!("client_a: client B reports success");
                self.b_done = true;
            }
            A_B_FAIL => {
                debug_println!("timer: FAIL: client B reports a failure");
                finish(false)
            }
            other => debug_println!("client_a: unexpected notification on {}", other),
        }
        if self.mine_done && self.b_done {
            finish(true);
        }
    }
}

fn init() -> ClientA {
    debug_println!("client_a: started; arming {} timeouts", SCHEDULE_A.len());
    // The timer channel: from a composed system's configuration, else the
    // hand-written SDF's id.
    let timer = Timer::configured(&__mantle_config, Channel::new(A_TIMER));
    let mut runner = match Runner::start("client_a", SCHEDULE_A, timer) {
        Ok(r) => r,
        Err(e) => {
            debug_println!("timer: FAIL: client_a: arming: {}", e);
            finish(false)
        }
    };
    if let Err(e) = runner.arm_watchdog(WATCHDOG_MS) {
        debug_println!("timer: FAIL: client_a: watchdog: {}", e);
        finish(false);
    }
    ClientA {
        timer,
        runner,
        mine_done: false,
        b_done: false,
    }
}

protection_domain!(init);
