//! `<net_subsystem>`: a NIC driver, a receive and a transmit virtualiser,
//! and one copier per client (as in sDDF).
//!
//! ```xml
//! <net_subsystem driver="eth" capacity="512" device_paddr="0xfebc0000" device_size="0x20000">
//!     <client pd="web" mac="02:00:00:00:00:01"/>
//!     <client pd="dns"/>
//! </net_subsystem>
//! ```
//!
//! | attribute | default | meaning |
//! |---|---|---|
//! | `name` | `net` | prefix of generated names |
//! | `driver`, `virt_rx`, `virt_tx` | `NAME_driver`, `NAME_virt_rx`, `NAME_virt_tx` | role PDs (declared, or generated: programs `net_driver` (200), `net_virt_rx` (199), `net_virt_tx` (198)); copiers are `NAME_copy_C`, program `net_copy` (197) |
//! | `capacity` | 512 | buffers (and queue entries) per connection, a power of two |
//! | `mac` | `52:54:00:12:34:56` | the NIC's address; client `mac` defaults to `02:00:00:00:SS:NN` (locally administered: subsystem, client index) |
//! | `device_paddr`, `device_size`, `irq_pin`, `irq_vector` | none, 0x1000, 11, lowest free | the NIC's registers (uncached `NAME_device`) and IOAPIC pin (level-triggered, as PCI INTx), for a generated driver |
//!
//! Connections, in id-allocation order: `rx_driver` (driver ↔ virt_rx),
//! `tx_driver` (driver ↔ virt_tx), then per client `rx_virt:C` (virt_rx ↔
//! copier), `rx:C` (copier ↔ client) and `tx:C` (client ↔ virt_tx). Each
//! has a free and an active queue region (8 + 16 × capacity bytes, page
//! rounded). Data regions of 2048 × capacity bytes: `NAME_rx_dma` (the
//! receive DMA buffers: read-write in virt_rx, read-only in the copiers,
//! marked DMA), per client `NAME_rx_data_C` (copier and client, read-write)
//! and `NAME_tx_data_C` (client read-write, virt_tx read-only; its
//! physical address goes to virt_tx, which hands buffers to the device).

use super::{Ctx, Generate, Link, Role, RoleSpec, Section, View};
use mantle_abi::bootdesc::{PERM_R, PERM_W};
use mantle_abi::layout::{align_up, PAGE_SIZE};
use mantle_config::net::*;
use mantle_config::{Ch, List, Name};

/// A network buffer's size.
pub const BUFFER_SIZE: u64 = 2048;

fn copier_name(sub: &super::Subsystem, client: &str) -> String {
    format!("{}_copy_{client}", sub.name)
}

/// Expand one network subsystem.
pub fn expand(cx: &mut Ctx<'_, '_>, sub: &super::Subsystem) -> Option<()> {
    let p = &sub.params;
    let spec = |r: Role| sub.role(r).cloned();
    let driver_spec = spec(Role::Driver)?;
    let declared = cx.sys.pd_index(&driver_spec.pd).is_some();
    let gen = |image, priority| Generate {
        image,
        priority,
        passive: false,
        stack_size: mantle_abi::limits::DEFAULT_STACK_SIZE,
    };
    let driver = cx.role_pd(&driver_spec, gen("net_driver", 200))?;
    let virt_rx = cx.role_pd(&spec(Role::VirtRx)?, gen("net_virt_rx", 199))?;
    let virt_tx = cx.role_pd(&spec(Role::VirtTx)?, gen("net_virt_tx", 198))?;
    let mut copiers = Vec::new();
    for c in &sub.clients {
        let name = copier_name(sub, &c.pd);
        if name.len() > mantle_abi::limits::MAX_NAME_LEN {
            cx.d.error(
                c.pos,
                format!(
                    "the copier's name '{name}' would be {} bytes long; allowed: at most {} (use a shorter subsystem name or client name)",
                    name.len(),
                    mantle_abi::limits::MAX_NAME_LEN
                ),
            );
            return None;
        }
        let rs = RoleSpec {
            role: Role::Copier,
            pd: name,
            pos: c.pos,
        };
        copiers.push(cx.role_pd(&rs, gen("net_copy", 197))?);
    }
    let clients = cx.clients(MAX_CLIENTS)?;
    if declared {
        for a in ["device_paddr", "device_size", "irq_pin", "irq_vector"] {
            cx.only_for_generated(a, &driver_spec.pd);
        }
        cx.out.device = cx.declared_device(driver);
    } else {
        let mut dev = super::Device::default();
        if let Some(pa) = p.device_paddr {
            let mr = cx.region(
                format!("{}_device", sub.name),
                p.device_size,
                Some(pa),
                sub.pos,
            );
            cx.map(driver, &mr, PERM_R | PERM_W, false, sub.pos)?;
            dev.region = Some(mr);
        }
        dev.irq = Some(cx.add_irq(driver, p.irq_pin, p.irq_vector, true)?);
        cx.out.device = dev;
    }
    let rw = PERM_R | PERM_W;
    let q = align_up(8 + 16 * p.capacity as u64, PAGE_SIZE).unwrap_or(u64::MAX);
    let queues = [("free", q, rw, rw), ("active", q, rw, rw)];
    let data = BUFFER_SIZE * p.capacity as u64;
    cx.link("rx_driver", driver, virt_rx, &queues, sub.pos)?;
    cx.link("tx_driver", driver, virt_tx, &queues, sub.pos)?;
    let dma = cx.region(format!("{}_rx_dma", sub.name), data, None, sub.pos);
    if let Some(mi) = cx.sys.mr_index(&dma) {
        cx.sys.mrs[mi].dma = true;
    }
    cx.map(virt_rx, &dma, rw, true, sub.pos)?;
    cx.out.regions.insert("rx_dma".into(), dma.clone());
    for ((c, &ci), &cp) in sub.clients.iter().zip(&clients).zip(&copiers) {
        cx.link(&format!("rx_virt:{}", c.pd), virt_rx, cp, &queues, c.pos)?;
        cx.map(cp, &dma, PERM_R, true, c.pos)?;
        cx.link(&format!("rx:{}", c.pd), cp, ci, &queues, c.pos)?;
        let rxd = cx.region(format!("{}_rx_data_{}", sub.name, c.pd), data, None, c.pos);
        cx.map(cp, &rxd, rw, true, c.pos)?;
        cx.map(ci, &rxd, rw, true, c.pos)?;
        cx.out.regions.insert(format!("rx_data:{}", c.pd), rxd);
        cx.link(&format!("tx:{}", c.pd), ci, virt_tx, &queues, c.pos)?;
        let txd = cx.region(format!("{}_tx_data_{}", sub.name, c.pd), data, None, c.pos);
        cx.map(ci, &txd, rw, true, c.pos)?;
        cx.map(virt_tx, &txd, PERM_R, true, c.pos)?;
        cx.out.regions.insert(format!("tx_data:{}", c.pd), txd);
    }
    Some(())
}

fn conn(v: &View<'_>, l: &Link, pd: &str, capacity: u32) -> NetConn {
    NetConn {
        channel: Ch(l.ch(pd)),
        queue: NetQueue {
            free: v.region(pd, &l.mrs[0], false),
            active: v.region(pd, &l.mrs[1], false),
            capacity,
        },
    }
}

/// A client's MAC address: given, or `02:00:00:00:SS:NN`.
fn client_mac(c: &super::Composed, k: usize) -> [u8; 6] {
    c.sub.clients[k]
        .mac
        .unwrap_or([0x02, 0, 0, 0, c.sub.name.len() as u8, k as u8 + 1])
}

/// Each member's and client's configuration section.
pub fn configs(v: &View<'_>, c: &super::Composed) -> Vec<(String, Section)> {
    let mut out = Vec::new();
    let cap = c.sub.params.capacity;
    let (Some(driver), Some(vrx), Some(vtx)) = (
        c.sub.role(Role::Driver),
        c.sub.role(Role::VirtRx),
        c.sub.role(Role::VirtTx),
    ) else {
        return out;
    };
    let (Some(rxl), Some(txl), Some(dma)) = (
        c.link("rx_driver"),
        c.link("tx_driver"),
        c.regions.get("rx_dma"),
    ) else {
        return out;
    };
    out.push((
        driver.pd.clone(),
        Section::NetDriver(NetDriverConfig {
            device: c
                .device
                .region
                .as_ref()
                .map(|r| v.region(&driver.pd, r, true)),
            hw_ring: None,
            irq: c.device.irq.map(Ch),
            rx: conn(v, rxl, &driver.pd, cap),
            tx: conn(v, txl, &driver.pd, cap),
            mac: c.sub.params.mac,
        }),
    ));
    let mut rx_clients = List::default();
    let mut tx_clients = List::default();
    for (k, cl) in c.sub.clients.iter().enumerate() {
        let copier = copier_name(&c.sub, &cl.pd);
        let key = |p: &str| format!("{p}:{}", cl.pd);
        let (Some(rv), Some(rc), Some(tx)) = (
            c.link(&key("rx_virt")),
            c.link(&key("rx")),
            c.link(&key("tx")),
        ) else {
            continue;
        };
        let (Some(rxd), Some(txd)) = (
            c.regions.get(&key("rx_data")),
            c.regions.get(&key("tx_data")),
        ) else {
            continue;
        };
        let mac = client_mac(c, k);
        let _ = rx_clients.push(NetVirtRxClient {
            name: Name::new(&cl.pd),
            conn: conn(v, rv, &vrx.pd, cap),
            mac,
        });
        let _ = tx_clients.push(NetVirtTxClient {
            name: Name::new(&cl.pd),
            conn: conn(v, tx, &vtx.pd, cap),
            data: v.region(&vtx.pd, txd, true),
        });
        out.push((
            copier.clone(),
            Section::NetCopier(NetCopierConfig {
                virt: conn(v, rv, &copier, cap),
                virt_data: v.region(&copier, dma, false),
                client: conn(v, rc, &copier, cap),
                client_data: v.region(&copier, rxd, false),
            }),
        ));
        out.push((
            cl.pd.clone(),
            Section::NetClient(NetClientConfig {
                rx: conn(v, rc, &cl.pd, cap),
                rx_data: v.region(&cl.pd, rxd, false),
                tx: conn(v, tx, &cl.pd, cap),
                tx_data: v.region(&cl.pd, txd, false),
                mac,
            }),
        ));
    }
    out.push((
        vrx.pd.clone(),
        Section::NetVirtRx(Box::new(NetVirtRxConfig {
            driver: conn(v, rxl, &vrx.pd, cap),
            data: v.region(&vrx.pd, dma, true),
            clients: rx_clients,
        })),
    ));
    out.push((
        vtx.pd.clone(),
        Section::NetVirtTx(Box::new(NetVirtTxConfig {
            driver: conn(v, txl, &vtx.pd, cap),
            clients: tx_clients,
        })),
    ));
    out
}
