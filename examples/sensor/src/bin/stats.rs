//! The statistics server: passive, so it runs only when the logger calls
//! it, on the logger's time. It keeps count, minimum, maximum and sum.
#![no_std]
#![no_main]

use mantle_runtime::{
    mr_get, mr_set, msginfo_new, protection_domain, Channel, Handler, MessageInfo,
};
use sensor_example::{ch, stats};

#[derive(Default)]
struct Stats {
    count: u64,
    min: u64,
    max: u64,
    sum: u64,
}

impl Handler for Stats {
    fn protected(&mut self, from: Channel, msg: MessageInfo) -> MessageInfo {
        if from.index() != ch::STATS_LOGGER {
            return msginfo_new(stats::ERROR, 0);
        }
        match (msg.label(), msg.count()) {
            (stats::ADD, 1) => {
                let v = mr_get(0);
                self.min = if self.count == 0 { v } else { self.min.min(v) };
                self.max = self.max.max(v);
                self.sum = self.sum.saturating_add(v);
                self.count += 1;
                msginfo_new(stats::OK, 0)
            }
            (stats::SUMMARY, 0) => {
                mr_set(0, self.count);
                mr_set(1, self.min);
                mr_set(2, self.max);
                mr_set(3, self.sum.checked_div(self.count).unwrap_or(0));
                msginfo_new(stats::OK, 4)
            }
            _ => msginfo_new(stats::ERROR, 0),
        }
    }
}

fn init() -> Stats {
    Stats::default()
}

protection_domain!(init);
