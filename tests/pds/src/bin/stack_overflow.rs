//! stack_overflow: recurses until the stack runs into the guard page; the
//! kernel's report should say "potential stack overflow".
#![no_std]
#![no_main]

use core::hint::black_box;
use mantle_runtime::{debug_println, protection_domain, Handler};

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[(depth % 256) as usize] = depth as u8;
    let frame = black_box(frame);
    if black_box(depth) == u64::MAX {
        return frame[0] as u64;
    }
    recurse(depth + 1).wrapping_add(frame[1] as u64)
}

struct Overflow;
impl Handler for Overflow {}

fn init() -> Overflow {
    debug_println!("stack_overflow: recursing without bound");
    let r = recurse(0);
    debug_println!("stack_overflow: FAIL: recursion returned {}", r);
    Overflow
}

protection_domain!(init);
