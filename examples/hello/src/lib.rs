//! The hello system's shared protocol: channel ids, PPC labels and the
//! faulting child's constants. See `hello.system` for the wiring.
//!
//! | PD | priority | does |
//! |---|---|---|
//! | `server` | 200, passive | answers PPCs: sum of the registers, factorial |
//! | `child` (of `parent`) | 160 | writes to an unmapped address at start |
//! | `parent` | 150 | restarts the child 3 times, then stops it; talks to `client`; powers off |
//! | `client` | 100 | calls `server`, checks the answers, notifies `parent` |
#![no_std]

/// client: channel to the server (pp).
pub const CLIENT_SERVER: usize = 0;
/// client and parent: the channel between them (notify both ways).
pub const CLIENT_PARENT: usize = 1;
/// client and parent: the client reports a failed check on this channel.
pub const CLIENT_PARENT_FAIL: usize = 2;
/// server: channel from the client.
pub const SERVER_CLIENT: usize = 0;
/// parent: the I/O port grant covering QEMU's exit port.
pub const PARENT_EXIT_IOPORT: usize = 0;
/// parent: the child's id.
pub const PARENT_CHILD: usize = 0;

/// PPC label: reply with the (wrapping) sum of all message registers.
pub const OP_SUM: u64 = 1;
/// PPC label: reply with `mr0!`, or label [`REPLY_ERROR`] on overflow.
pub const OP_FACTORIAL: u64 = 2;
/// Reply label: success, result in register 0.
pub const REPLY_OK: u64 = 0;
/// Reply label: the request could not be served.
pub const REPLY_ERROR: u64 = 1;

/// The unmapped address the child writes to.
pub const CHILD_BAD_ADDRESS: u64 = 0x1000_0000;
/// How many times the parent restarts the child before stopping it.
pub const MAX_RESTARTS: u32 = 3;

/// `n!`, or `None` if it does not fit in 64 bits.
pub const fn factorial(n: u64) -> Option<u64> {
    let mut acc: u64 = 1;
    let mut i = 2;
    while i <= n {
        acc = match acc.checked_mul(i) {
            Some(v) => v,
            None => return None,
        };
        i += 1;
    }
    Some(acc)
}
