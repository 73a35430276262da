//! stack_overflow: runs after the overflowing PD faulted (lower priority) and
//! proves the system still works by ping-ponging notifications with echo.
#![no_std]
#![no_main]

use mantle_runtime::{debug_println, protection_domain, Channel, Handler};
use mantle_test_pds::finish;

const ECHO: Channel = Channel::new(0);
const ROUNDS: u32 = 5;

struct Survivor {
    rounds: u32,
}

impl Handler for Survivor {
    fn notified(&mut self, ch: Channel) {
        if ch != ECHO {
            debug_println!("stack_overflow: unexpected notification on {}", ch);
            finish("stack_overflow", false);
        }
        self.rounds += 1;
        debug_println!(
            "stack_overflow: survivor round {} of {}",
            self.rounds,
            ROUNDS
        );
        if self.rounds == ROUNDS {
            debug_println!("stack_overflow: survivor ok");
            finish("stack_overflow", true);
        }
        ECHO.notify().expect("notify echo");
    }
}

fn init() -> Survivor {
    debug_println!("stack_overflow: survivor started");
    ECHO.notify().expect("notify echo");
    Survivor { rounds: 0 }
}

protection_domain!(init);
