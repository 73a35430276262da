//! timer example, client B: while client A's timeouts are pending, checks
//! that it cannot cancel ids it does not hold and that the limits hold, then
//! runs [`SCHEDULE_B`] and reports to client A.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler};
use mantle_timer_client::Timer;
use timer_example::runner::{check_isolation_and_limits, Progress};
use timer_example::*;

mantle_config::config_blob!();
const DONE: Channel = Channel::new(B_DONE);
const FAIL: Channel = Channel::new(B_FAIL);

struct ClientB {
    timer: Timer,
    runner: Option<Runner>,
}

fn report(ok: bool) {
    let ch = if ok { DONE } else { FAIL };
    if let Err(e) = ch.notify() {
        debug_println!("timer: FAIL: client_b: cannot report to client A: {}", e);
    }
}

impl Handler for ClientB {
    fn notified(&mut self, ch: Channel) {
        let Some(runner) = self.runner.as_mut() else {
            return;
        };
        if ch != self.timer.channel() {
            debug_println!("client_b: unexpected notification on {}", ch);
            return;
        }
        match runner.notified() {
            Progress::Running => {}
            Progress::Done => {
                report(true);
                self.runner = None;
            }
            Progress::Failed => {
                report(false);
                self.runner = None;
            }
        }
    }
}

fn init() -> ClientB {
    // The timer channel: from a composed system's configuration, else the
    // hand-written SDF's id.
    let timer = Timer::configured(&__mantle_config, Channel::new(B_TIMER));
    debug_println!("client_b: started; checking isolation and limits");
    if let Err(e) = check_isolation_and_limits("client_b", timer) {
        debug_println!("timer: FAIL: client_b: {}", e);
        report(false);
        return ClientB {
            timer,
            runner: None,
        };
    }
    debug_println!("client_b: arming {} timeouts", SCHEDULE_B.len());
    let runner = match Runner::start("client_b", SCHEDULE_B, timer) {
        Ok(r) => Some(r),
        Err(e) => {
            debug_println!("timer: FAIL: client_b: arming: {}", e);
            report(false);
            None
        }
    };
    ClientB { timer, runner }
}

protection_domain!(init);
