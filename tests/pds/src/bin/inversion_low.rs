//! inversion "low" caller (priority 10, budget 1 ms per 1 s): calls the
//! passive server in a tight loop, so its budget runs out in the middle of
//! a call about once a second. It counts its calls and those that took
//! far longer than the work (its budget ran out during the call) in the
//! shared page.
#![no_std]
#![no_main]

use mantle_runtime::{protection_domain, rdtsc, Channel, Handler, MessageInfo};
use mantle_test_pds::{
    shared_read, shared_write, INVERSION_LOW_CALLS, INVERSION_LOW_LONG, INVERSION_WORK,
};

struct Low;
impl Handler for Low {}

fn init() -> Low {
    loop {
        let start = rdtsc();
        let _ = Channel::new(0).ppcall(MessageInfo::new(0, 0));
        if rdtsc() - start > 100 * INVERSION_WORK {
            shared_write(INVERSION_LOW_LONG, shared_read(INVERSION_LOW_LONG) + 1);
        }
        shared_write(INVERSION_LOW_CALLS, shared_read(INVERSION_LOW_CALLS) + 1);
    }
}

protection_domain!(init);
