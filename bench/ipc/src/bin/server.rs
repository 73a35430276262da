//! ipcbench's passive server: replies to every PPC at once.
#![no_std]
#![no_main]

use mantle_runtime::{msginfo_new, protection_domain, Channel, Handler, MessageInfo};

struct Server;

impl Handler for Server {
    fn protected(&mut self, _ch: Channel, _msg: MessageInfo) -> MessageInfo {
        msginfo_new(0, 0)
    }
}

fn init() -> Server {
    Server
}

protection_domain!(init);
