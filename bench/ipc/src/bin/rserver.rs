//! ipcbench's realistic server: not passive, a [`BIG_PAGES`]-page buffer
//! mapped, [`TOUCHED_PAGES`] of it touched on every call and notification.
#![no_std]
#![no_main]

use ipcbench::*;
use mantle_runtime::{
    mr_get, mr_set, msginfo_new, protection_domain, rdtsc, Channel, Handler, MessageInfo,
};

struct RServer {
    /// What the touched pages summed to last (kept so the work is not
    /// optimised away).
    sum: u64,
}

impl Handler for RServer {
    /// Answer each of the [`REALISTIC_MRS`] registers plus one.
    fn protected(&mut self, _ch: Channel, msg: MessageInfo) -> MessageInfo {
        let mut words = [0u64; REALISTIC_MRS];
        let n = msg.count().min(REALISTIC_MRS);
        for (i, w) in words.iter_mut().enumerate().take(n) {
            *w = mr_get(i);
        }
        self.sum = touch_pages(words[0]);
        for (i, &w) in words.iter().enumerate().take(n) {
            mr_set(i, w + 1);
        }
        msginfo_new(0, n)
    }

    fn notified(&mut self, _ch: Channel) {
        stamp(rdtsc());
        self.sum = touch_pages(self.sum);
    }
}

fn init() -> RServer {
    RServer { sum: 0 }
}

protection_domain!(init);
