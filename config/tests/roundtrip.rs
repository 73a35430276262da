//! Round trips of every configuration type, and decoding arbitrary bytes
//! never panics.

use mantle_config::net::*;
use mantle_config::serial::{self, *};
use mantle_config::timer::*;
use mantle_config::*;
use proptest::prelude::*;

/// A small deterministic generator of field values.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn ch(&mut self) -> Ch {
        Ch((self.next() % 62) as u8)
    }
    fn opt_ch(&mut self) -> Option<Ch> {
        (self.next() % 2 == 0).then(|| self.ch())
    }
    fn region(&mut self) -> Region {
        Region {
            vaddr: self.next(),
            size: self.next(),
            paddr: self.next(),
        }
    }
    fn name(&mut self) -> Name {
        Name::new(&format!("pd{}", self.next() % 1000))
    }
    fn mac(&mut self) -> Mac {
        let v = self.next().to_le_bytes();
        [v[0], v[1], v[2], v[3], v[4], v[5]]
    }
    fn n(&mut self, max: usize) -> usize {
        (self.next() % (max as u64 + 1)) as usize
    }
    fn sq(&mut self) -> SerialQueue {
        SerialQueue {
            queue: self.region(),
            data: self.region(),
        }
    }
    fn sc(&mut self) -> SerialConn {
        SerialConn {
            channel: self.ch(),
            queue: self.sq(),
        }
    }
    fn nq(&mut self) -> NetQueue {
        NetQueue {
            free: self.region(),
            active: self.region(),
            capacity: self.next() as u32,
        }
    }
    fn nc(&mut self) -> NetConn {
        NetConn {
            channel: self.ch(),
            queue: self.nq(),
        }
    }
}

fn round_trip<C: Config + PartialEq + std::fmt::Debug>(c: &C) {
    let mut buf = [0u8; CONFIG_SIZE];
    let n = encode(c, &mut buf).unwrap();
    assert!(n <= CONFIG_SIZE);
    assert_eq!(&decode::<C, _>(&buf[..]).unwrap(), c);
    assert_eq!(kind_of(&buf[..]), Some(C::KIND));
    // Every shorter prefix is an error, never a panic.
    for cut in [0, 1, 15, 16, 17, n / 2, n - 1]
        .into_iter()
        .filter(|&c| c < n)
    {
        assert!(decode::<C, _>(&buf[..cut]).is_err());
    }
}

fn all_types(seed: u64) {
    let mut g = Gen(seed | 1);
    round_trip(&SerialDriverConfig {
        device: SerialDevice {
            ioport: g.opt_ch(),
            port_base: g.next() as u16,
            irq: g.opt_ch(),
            baud: g.next() as u32,
        },
        tx: g.sc(),
        rx: (g.next() % 2 == 0).then(|| g.sc()),
    });
    let mut clients = List::default();
    for _ in 0..g.n(serial::MAX_CLIENTS) {
        clients
            .push(SerialVirtClient {
                name: g.name(),
                conn: g.sc(),
            })
            .unwrap();
    }
    round_trip(&SerialVirtTxConfig {
        driver: g.sc(),
        clients,
        prefix_names: g.next() % 2 == 0,
    });
    round_trip(&SerialVirtRxConfig {
        driver: g.sc(),
        clients,
        switch_char: g.next() as u8,
    });
    round_trip(&SerialClientConfig {
        tx: g.sc(),
        rx: (g.next() % 2 == 0).then(|| g.sc()),
    });
    let mut tclients = List::default();
    for _ in 0..g.n(mantle_config::timer::MAX_CLIENTS) {
        tclients
            .push(TimerClient {
                name: g.name(),
                channel: g.ch(),
            })
            .unwrap();
    }
    round_trip(&TimerDriverConfig {
        device: (g.next() % 2 == 0).then(|| g.region()),
        irq: g.opt_ch(),
        clients: tclients,
    });
    round_trip(&TimerClientConfig { channel: g.ch() });
    round_trip(&NetDriverConfig {
        device: Some(g.region()),
        hw_ring: (g.next() % 2 == 0).then(|| g.region()),
        irq: g.opt_ch(),
        rx: g.nc(),
        tx: g.nc(),
        mac: g.mac(),
    });
    let mut rx = List::default();
    let mut tx = List::default();
    for _ in 0..g.n(mantle_config::net::MAX_CLIENTS) {
        rx.push(NetVirtRxClient {
            name: g.name(),
            conn: g.nc(),
            mac: g.mac(),
        })
        .unwrap();
        tx.push(NetVirtTxClient {
            name: g.name(),
            conn: g.nc(),
            data: g.region(),
        })
        .unwrap();
    }
    round_trip(&NetVirtRxConfig {
        driver: g.nc(),
        data: g.region(),
        clients: rx,
    });
    round_trip(&NetVirtTxConfig {
        driver: g.nc(),
        clients: tx,
    });
    round_trip(&NetCopierConfig {
        virt: g.nc(),
        virt_data: g.region(),
        client: g.nc(),
        client_data: g.region(),
    });
    round_trip(&NetClientConfig {
        rx: g.nc(),
        rx_data: g.region(),
        tx: g.nc(),
        tx_data: g.region(),
        mac: g.mac(),
    });
}

#[test]
fn lists_refuse_too_many_items() {
    let mut l: List<u8, 2> = List::default();
    assert_eq!(l.push(1), Ok(()));
    assert_eq!(l.push(2), Ok(()));
    assert_eq!(l.push(3), Err(3));
    assert_eq!(l.as_slice(), &[1, 2]);
}

/// Re-seal a blob whose payload was changed, so decoding gets past the
/// checksum and reaches the field checks.
fn reseal(buf: &mut [u8]) {
    let len = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize;
    let end = (16 + len).min(buf.len());
    let mut h: u32 = 0x811c_9dc5;
    for &b in &buf[16..end] {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    buf[12..16].copy_from_slice(&h.to_le_bytes());
}

fn decode_any(buf: &[u8]) {
    let _ = decode::<SerialDriverConfig, _>(buf);
    let _ = decode::<SerialVirtTxConfig, _>(buf);
    let _ = decode::<SerialVirtRxConfig, _>(buf);
    let _ = decode::<SerialClientConfig, _>(buf);
    let _ = decode::<TimerDriverConfig, _>(buf);
    let _ = decode::<TimerClientConfig, _>(buf);
    let _ = decode::<NetDriverConfig, _>(buf);
    let _ = decode::<NetVirtRxConfig, _>(buf);
    let _ = decode::<NetVirtTxConfig, _>(buf);
    let _ = decode::<NetCopierConfig, _>(buf);
    let _ = decode::<NetClientConfig, _>(buf);
}

#[test]
fn bad_fields_are_errors() {
    let mut buf = [0u8; CONFIG_SIZE];
    encode(&TimerClientConfig { channel: Ch(5) }, &mut buf).unwrap();
    buf[16] = 62;
    reseal(&mut buf);
    assert_eq!(
        decode::<TimerClientConfig, _>(&buf[..]),
        Err(Error::Invalid("channel id above 61"))
    );
    let mut buf = [0u8; CONFIG_SIZE];
    encode(&TimerDriverConfig::default(), &mut buf).unwrap();
    // device: Option flag 2
    buf[16] = 2;
    reseal(&mut buf);
    assert_eq!(
        decode::<TimerDriverConfig, _>(&buf[..]),
        Err(Error::Invalid("boolean"))
    );
    let mut buf = [0u8; CONFIG_SIZE];
    encode(&TimerDriverConfig::default(), &mut buf).unwrap();
    // the client count follows device (1 + 24) and irq (1 + 1)
    buf[16 + 27..16 + 29].copy_from_slice(&62u16.to_le_bytes());
    reseal(&mut buf);
    assert_eq!(
        decode::<TimerDriverConfig, _>(&buf[..]),
        Err(Error::Count { count: 62, max: 61 })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_type_round_trips(seed in any::<u64>()) {
        all_types(seed);
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4200)) {
        decode_any(&bytes);
    }

    #[test]
    fn decoding_valid_headers_with_garbage_never_panics(
        kind in 1u16..12,
        payload in proptest::collection::vec(any::<u8>(), 0..4080),
    ) {
        let mut buf = vec![0u8; 16];
        buf[..4].copy_from_slice(&MAGIC.to_le_bytes());
        buf[4..6].copy_from_slice(&VERSION.to_le_bytes());
        buf[6..8].copy_from_slice(&kind.to_le_bytes());
        buf[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&payload);
        reseal(&mut buf);
        decode_any(&buf);
    }
}
