//! Round trips of the boot description, and decoding of arbitrary bytes.
use mantle_abi::bootdesc::*;
use proptest::prelude::*;

fn sample() -> SystemSpec {
    let mut client = Pd::new("client");
    client.priority = 10;
    client.entry = 0x20_1000;
    client.ipc_buffer_paddr = 0x90_0000;
    client.maps = Run { first: 0, count: 2 };
    client.ioports = Run { first: 0, count: 1 };
    client.ends[0] = End::Channel {
        peer_pd: 1,
        peer_id: 3,
        can_notify: true,
        can_ppc: true,
    };
    let mut server = Pd::new("server");
    server.priority = 20;
    server.passive = true;
    server.entry = 0x20_2000;
    server.ipc_buffer_paddr = 0x91_0000;
    server.maps = Run { first: 2, count: 1 };
    server.irqs = Run { first: 0, count: 2 };
    server.ends[3] = End::Channel {
        peer_pd: 0,
        peer_id: 0,
        can_notify: false,
        can_ppc: false,
    };
    server.ends[5] = End::Irq { irq: 0 };
    server.ends[6] = End::Irq { irq: 1 };
    let mut child = Pd::new("child");
    child.parent = Some(0);
    child.child_id = 2;
    child.budget_us = 500;
    child.period_us = 2000;
    child.entry = 0x20_0000;
    child.ipc_buffer_paddr = 0x92_0000;
    let map = |vaddr, paddr, perms, kind| Map {
        vaddr,
        paddr,
        size: 0x1000,
        perms,
        cached: true,
        kind,
    };
    SystemSpec {
        pds: vec![client, server, child],
        maps: vec![
            map(0x20_0000, 0xa0_0000, PERM_R | PERM_X, MapKind::Elf),
            map(0x4000_0000, 0xfeb0_0000, PERM_R | PERM_W, MapKind::Fixed),
            map(0x20_0000, 0xa1_0000, PERM_R, MapKind::Elf),
        ],
        irqs: vec![
            Irq {
                pd: 1,
                id: 5,
                vector: 4,
                source: IrqSource::IoApic {
                    ioapic: 0,
                    pin: 4,
                    level: false,
                    active_low: false,
                },
            },
            Irq {
                pd: 1,
                id: 6,
                vector: 7,
                source: IrqSource::Msi {
                    bus: 0,
                    dev: 3,
                    func: 0,
                    handle: 1,
                },
            },
        ],
        ioports: vec![IoPort {
            pd: 0,
            id: 0,
            base: 0x3f8,
            size: 8,
        }],
        image_end: 0x100_0000,
    }
}

#[test]
fn encode_then_parse_round_trips() {
    let spec = sample();
    let bytes = encode(&spec);
    let desc = BootDescription::parse(&bytes).expect("valid");
    assert_eq!(SystemSpec::from_description(&desc), spec);
    assert_eq!(desc.pd(0).name(), "client");
}

#[test]
fn rejects_asymmetric_channels_and_bad_ppc() {
    let mut spec = sample();
    spec.pds[1].ends[3] = End::None;
    assert!(matches!(
        BootDescription::parse(&encode(&spec)),
        Err(DecodeError::BadEnd { pd: 0, id: 0, .. })
    ));
    let mut spec = sample();
    spec.pds[0].priority = 30;
    assert!(matches!(
        BootDescription::parse(&encode(&spec)),
        Err(DecodeError::BadEnd {
            what: "ppc to a PD of no higher priority",
            ..
        })
    ));
}

#[test]
fn rejects_bad_records() {
    let mut spec = sample();
    spec.maps[0].vaddr = 0x7fff_ffff_f000;
    assert!(matches!(
        BootDescription::parse(&encode(&spec)),
        Err(DecodeError::BadMap { index: 0, .. })
    ));
    let mut spec = sample();
    spec.irqs[1].vector = 4;
    assert!(matches!(
        BootDescription::parse(&encode(&spec)),
        Err(DecodeError::BadIrq { index: 1, .. })
    ));
    let mut spec = sample();
    spec.pds[2].parent = Some(2);
    assert!(matches!(
        BootDescription::parse(&encode(&spec)),
        Err(DecodeError::BadPd { pd: 2, .. })
    ));
    let mut spec = sample();
    spec.ioports[0].size = 0;
    assert!(matches!(
        BootDescription::parse(&encode(&spec)),
        Err(DecodeError::BadIoPort { .. })
    ));
    let bytes = encode(&sample());
    assert_eq!(
        BootDescription::parse(&bytes[..bytes.len() - 1]).err(),
        Some(DecodeError::Truncated)
    );
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = BootDescription::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_valid_input(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut bytes = encode(&sample());
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        if let Ok(d) = BootDescription::parse(&bytes) {
            // Everything a checked description hands out must be readable.
            let _ = SystemSpec::from_description(&d);
        }
    }
}
