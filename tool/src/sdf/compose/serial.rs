//! `<serial_subsystem>`: a UART driver, a transmit virtualiser, a receive
//! virtualiser (unless `rx="false"`) and clients.
//!
//! ```xml
//! <serial_subsystem name="serial" driver="uart" virt_tx="serial_virt_tx"
//!                   virt_rx="serial_virt_rx" data_size="0x1000">
//!     <client pd="a"/>
//!     <client pd="b" rx="false"/>
//! </serial_subsystem>
//! ```
//!
//! | attribute | default | meaning |
//! |---|---|---|
//! | `name` | `serial` | prefix of generated names |
//! | `driver`, `virt_tx`, `virt_rx` | `NAME_driver`, `NAME_virt_tx`, `NAME_virt_rx` | the role PDs (declared, or generated: programs `uart16550_driver` (priority 200), `serial_virt_tx` (198), `serial_virt_rx` (199)) |
//! | `rx` | `true` | a receive path; clients read input unless their own `rx="false"` |
//! | `data_size` | `0x1000` | bytes per data ring (a power of two) |
//! | `ioport`, `irq_pin`, `irq_vector`, `baud` | `0x3f8`, 4, lowest free, 115200 | the UART, for a generated driver (8 ports, edge-triggered IOAPIC pin) |
//!
//! Connections, in id-allocation order: `tx_driver` (virt_tx ↔ driver),
//! `rx_driver` (driver ↔ virt_rx), then per client `tx:C` (C ↔ virt_tx)
//! and `rx:C` (virt_rx ↔ C). Each has a 4 KiB queue region and a data
//! region (`NAME_KEY_queue`, `NAME_KEY_data`) mapped read-write into both
//! ends, and a channel on which both ends may notify.

use super::{Ctx, Generate, Link, Role, Section, View};
use crate::sdf::model::IoPort;
use mantle_abi::bootdesc::{PERM_R, PERM_W};
use mantle_abi::layout::PAGE_SIZE;
use mantle_config::serial::*;
use mantle_config::{Ch, List, Name};

/// Expand one serial subsystem.
pub fn expand(cx: &mut Ctx<'_, '_>, sub: &super::Subsystem) -> Option<()> {
    let p = &sub.params;
    let spec = |r: Role| sub.role(r).cloned();
    let driver_spec = spec(Role::Driver)?;
    let declared = cx.sys.pd_index(&driver_spec.pd).is_some();
    let driver = cx.role_pd(
        &driver_spec,
        Generate {
            image: "uart16550_driver",
            priority: 200,
            passive: false,
            stack_size: mantle_abi::limits::DEFAULT_STACK_SIZE,
        },
    )?;
    let virt_tx = cx.role_pd(
        &spec(Role::VirtTx)?,
        Generate {
            image: "serial_virt_tx",
            priority: 198,
            passive: false,
            // Eight line buffers of 256 bytes and their bookkeeping.
            stack_size: 0x8000,
        },
    )?;
    let virt_rx = match spec(Role::VirtRx) {
        Some(s) => Some(cx.role_pd(
            &s,
            Generate {
                image: "serial_virt_rx",
                priority: 199,
                passive: false,
                stack_size: mantle_abi::limits::DEFAULT_STACK_SIZE,
            },
        )?),
        None => None,
    };
    let clients = cx.clients(MAX_CLIENTS)?;
    // The device.
    if declared {
        for a in ["ioport", "irq_pin", "irq_vector"] {
            cx.only_for_generated(a, &driver_spec.pd);
        }
        cx.out.device = cx.declared_device(driver);
    } else {
        let id = cx.free_ioport_id(driver)?;
        cx.sys.pds[driver].ioports.push(IoPort {
            id,
            addr: p.ioport,
            size: 8,
            pos: sub.pos,
            ..Default::default()
        });
        let irq = cx.add_irq(driver, p.irq_pin, p.irq_vector, false)?;
        cx.out.device = super::Device {
            ioport: Some(id),
            port_base: p.ioport,
            irq: Some(irq),
            region: None,
        };
    }
    let rw = PERM_R | PERM_W;
    let ring = |size| [("queue", PAGE_SIZE, rw, rw), ("data", size, rw, rw)];
    cx.link("tx_driver", virt_tx, driver, &ring(p.data_size), sub.pos)?;
    if let Some(vr) = virt_rx {
        cx.link("rx_driver", driver, vr, &ring(p.data_size), sub.pos)?;
    }
    for (c, &ci) in sub.clients.iter().zip(&clients) {
        cx.link(
            &format!("tx:{}", c.pd),
            ci,
            virt_tx,
            &ring(p.data_size),
            c.pos,
        )?;
        if let (true, Some(vr)) = (c.rx, virt_rx) {
            cx.link(&format!("rx:{}", c.pd), vr, ci, &ring(p.data_size), c.pos)?;
        }
    }
    Some(())
}

fn conn(v: &View<'_>, l: &Link, pd: &str) -> SerialConn {
    SerialConn {
        channel: Ch(l.ch(pd)),
        queue: SerialQueue {
            queue: v.region(pd, &l.mrs[0], false),
            data: v.region(pd, &l.mrs[1], false),
        },
    }
}

/// Each member's and client's configuration section.
pub fn configs(v: &View<'_>, c: &super::Composed) -> Vec<(String, Section)> {
    let mut out = Vec::new();
    let (Some(driver), Some(virt_tx)) = (c.sub.role(Role::Driver), c.sub.role(Role::VirtTx)) else {
        return out;
    };
    let Some(tx) = c.link("tx_driver") else {
        return out;
    };
    let rx = c.link("rx_driver");
    out.push((
        driver.pd.clone(),
        Section::SerialDriver(SerialDriverConfig {
            device: SerialDevice {
                ioport: c.device.ioport.map(Ch),
                port_base: c.device.port_base,
                irq: c.device.irq.map(Ch),
                baud: c.sub.params.baud,
            },
            tx: conn(v, tx, &driver.pd),
            rx: rx.map(|l| conn(v, l, &driver.pd)),
        }),
    ));
    let mut txc = List::default();
    let mut rxc = List::default();
    for cl in &c.sub.clients {
        if let Some(l) = c.link(&format!("tx:{}", cl.pd)) {
            let _ = txc.push(SerialVirtClient {
                name: Name::new(&cl.pd),
                conn: conn(v, l, &virt_tx.pd),
            });
        }
        if let (Some(l), Some(vr)) = (c.link(&format!("rx:{}", cl.pd)), c.sub.role(Role::VirtRx)) {
            let _ = rxc.push(SerialVirtClient {
                name: Name::new(&cl.pd),
                conn: conn(v, l, &vr.pd),
            });
        }
        out.push((
            cl.pd.clone(),
            Section::SerialClient(SerialClientConfig {
                tx: c
                    .link(&format!("tx:{}", cl.pd))
                    .map(|l| conn(v, l, &cl.pd))
                    .unwrap_or_default(),
                rx: c.link(&format!("rx:{}", cl.pd)).map(|l| conn(v, l, &cl.pd)),
            }),
        ));
    }
    out.push((
        virt_tx.pd.clone(),
        Section::SerialVirtTx(Box::new(SerialVirtTxConfig {
            driver: conn(v, tx, &virt_tx.pd),
            clients: txc,
            prefix_names: false,
        })),
    ));
    if let (Some(vr), Some(rx)) = (c.sub.role(Role::VirtRx), rx) {
        out.push((
            vr.pd.clone(),
            Section::SerialVirtRx(Box::new(SerialVirtRxConfig {
                driver: conn(v, rx, &vr.pd),
                clients: rxc,
                switch_char: 0x1c,
            })),
        ));
    }
    out
}
