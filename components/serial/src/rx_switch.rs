//! virt_rx's policy: input to one client at a time, switched by
//! `Ctrl-\` + digit.

/// The switch key, `Ctrl-\` (ASCII FS, 0x1c).
pub const SWITCH_KEY: u8 = 0x1c;

/// What to do with an input byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Give `byte` to client index `client` (0-based).
    Deliver {
        /// Client index.
        client: usize,
        /// The byte.
        byte: u8,
    },
    /// Input now goes to client index `client`.
    Switched {
        /// Client index.
        client: usize,
    },
    /// `Ctrl-\ N` named a client that does not exist (`number` is 1-based).
    NoSuchClient {
        /// The number typed.
        number: u8,
    },
    /// Nothing (part of a switch sequence, or an abandoned one).
    Nothing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    /// Saw `Ctrl-\`.
    Escape,
    /// Just switched: one Enter is swallowed.
    Switched,
}

/// The switch state machine.
#[derive(Clone, Copy, Debug)]
pub struct RxSwitch {
    clients: usize,
    current: usize,
    state: State,
    /// The switch key; `None`: input always goes to client 1.
    key: Option<u8>,
}

impl RxSwitch {
    /// `clients` clients; input starts with client 1 (index 0).
    pub const fn new(clients: usize) -> Self {
        Self::with_key(clients, Some(SWITCH_KEY))
    }

    /// As [`new`](Self::new) with another switch key (`None`: never
    /// switch).
    pub const fn with_key(clients: usize, key: Option<u8>) -> Self {
        RxSwitch {
            clients,
            current: 0,
            state: State::Normal,
            key,
        }
    }

    /// The client index holding the input.
    pub const fn current(&self) -> usize {
        self.current
    }

    /// Process one input byte.
    pub fn feed(&mut self, b: u8) -> Input {
        match self.state {
            State::Switched if b == b'\r' || b == b'\n' => {
                self.state = State::Normal;
                Input::Nothing
            }
            State::Normal | State::Switched => {
                self.state = State::Normal;
                if Some(b) == self.key {
                    self.state = State::Escape;
                    Input::Nothing
                } else if self.clients == 0 {
                    Input::Nothing
                } else {
                    Input::Deliver {
                        client: self.current,
                        byte: b,
                    }
                }
            }
            State::Escape => {
                self.state = State::Normal;
                match b {
                    _ if Some(b) == self.key && self.clients > 0 => Input::Deliver {
                        client: self.current,
                        byte: b,
                    },
                    b'1'..=b'9' => {
                        let number = b - b'0';
                        if (number as usize) <= self.clients {
                            self.current = number as usize - 1;
                            self.state = State::Switched;
                            Input::Switched {
                                client: self.current,
                            }
                        } else {
                            Input::NoSuchClient { number }
                        }
                    }
                    _ => Input::Nothing,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn run(sw: &mut RxSwitch, input: &[u8]) -> Vec<Input> {
        input.iter().map(|&b| sw.feed(b)).collect()
    }

    fn d(client: usize, byte: u8) -> Input {
        Input::Deliver { client, byte }
    }

    #[test]
    fn switches_with_ctrl_backslash_digit() {
        let mut sw = RxSwitch::new(2);
        assert_eq!(run(&mut sw, b"a"), [d(0, b'a')]);
        assert_eq!(
            run(&mut sw, b"\x1c2\rb"),
            [
                Input::Nothing,
                Input::Switched { client: 1 },
                Input::Nothing,
                d(1, b'b')
            ]
        );
        // Without Enter, the next byte goes straight to the new client.
        assert_eq!(
            run(&mut sw, b"\x1c1x"),
            [Input::Nothing, Input::Switched { client: 0 }, d(0, b'x')]
        );
        assert_eq!(sw.current(), 0);
    }

    #[test]
    fn bad_numbers_and_abandoned_sequences() {
        let mut sw = RxSwitch::new(2);
        assert_eq!(
            run(&mut sw, b"\x1c3"),
            [Input::Nothing, Input::NoSuchClient { number: 3 }]
        );
        assert_eq!(sw.current(), 0);
        assert_eq!(run(&mut sw, b"\x1c0"), [Input::Nothing, Input::Nothing]);
        assert_eq!(run(&mut sw, b"\x1cq"), [Input::Nothing, Input::Nothing]);
        // A literal Ctrl-\.
        assert_eq!(run(&mut sw, b"\x1c\x1c"), [Input::Nothing, d(0, 0x1c)]);
        // Enter is only swallowed right after a switch.
        assert_eq!(run(&mut sw, b"\r"), [d(0, b'\r')]);
    }

    #[test]
    fn other_or_no_switch_key() {
        let mut sw = RxSwitch::with_key(2, Some(0x01));
        assert_eq!(
            run(&mut sw, b"\x1c\x012x"),
            [
                d(0, 0x1c),
                Input::Nothing,
                Input::Switched { client: 1 },
                d(1, b'x')
            ]
        );
        let mut sw = RxSwitch::with_key(2, None);
        assert_eq!(run(&mut sw, b"\x1c2"), [d(0, 0x1c), d(0, b'2')]);
    }

    #[test]
    fn no_clients_means_nothing_delivered() {
        let mut sw = RxSwitch::new(0);
        assert_eq!(
            run(&mut sw, b"a\x1c1"),
            [
                Input::Nothing,
                Input::Nothing,
                Input::NoSuchClient { number: 1 }
            ]
        );
    }
}
