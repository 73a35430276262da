//! `<timer_subsystem>`: a timer driver serving its clients by PPC.
//!
//! ```xml
//! <timer_subsystem driver="timer">
//!     <client pd="a"/>
//! </timer_subsystem>
//! ```
//!
//! | attribute | default | meaning |
//! |---|---|---|
//! | `name` | `timer` | prefix of generated names |
//! | `driver` | `NAME_driver` | the driver PD (declared, or generated: program `hpet_driver`, priority 254) |
//! | `device_paddr`, `irq_pin`, `irq_vector` | `0xfed00000`, 20, lowest free | the HPET, for a generated driver (4 KiB of uncached registers `NAME_device`; a level-triggered IOAPIC pin, which must be in comparator 0's routing capability) |
//!
//! Per client, one channel `client:C`: the client's end has `pp="true"`
//! (it calls the driver, so the driver's priority must be higher) and
//! `notify="false"`; the driver's end notifies the client on expiry. The
//! clients' channels are allocated before the driver's IRQ, so in a
//! generated driver client k has channel id k.

use super::{Ctx, Generate, Link, Role, Section, View};
use mantle_abi::bootdesc::{PERM_R, PERM_W};
use mantle_config::timer::*;
use mantle_config::{Ch, List, Name};

/// Expand one timer subsystem.
pub fn expand(cx: &mut Ctx<'_, '_>, sub: &super::Subsystem) -> Option<()> {
    let p = &sub.params;
    let spec = sub.role(Role::Driver)?.clone();
    let declared = cx.sys.pd_index(&spec.pd).is_some();
    let driver = cx.role_pd(
        &spec,
        Generate {
            image: "hpet_driver",
            priority: 254,
            // Served by PPC; its IRQ and notifications still reach it.
            passive: true,
            // 16 clients x 16 timeouts, built on the stack in `init`.
            stack_size: 0x10000,
        },
    )?;
    let clients = cx.clients(MAX_CLIENTS)?;
    // Clients first, so they get ids 0, 1, ... in the driver (the HPET
    // driver serves clients by channel id), then the device.
    for (c, &ci) in sub.clients.iter().zip(&clients) {
        let (cc, dc) = cx.channel(ci, driver, (false, true), true, c.pos)?;
        cx.out.links.insert(
            format!("client:{}", c.pd),
            Link {
                a: c.pd.clone(),
                a_ch: cc,
                b: spec.pd.clone(),
                b_ch: dc,
                mrs: Vec::new(),
            },
        );
    }
    if declared {
        for a in ["device_paddr", "irq_pin", "irq_vector"] {
            cx.only_for_generated(a, &spec.pd);
        }
        cx.out.device = cx.declared_device(driver);
    } else {
        let name = format!("{}_device", sub.name);
        let mr = cx.region(name, 0x1000, p.device_paddr, sub.pos);
        cx.map(driver, &mr, PERM_R | PERM_W, false, sub.pos)?;
        let irq = cx.add_irq(driver, p.irq_pin, p.irq_vector, true)?;
        cx.out.device = super::Device {
            irq: Some(irq),
            region: Some(mr),
            ..Default::default()
        };
    }
    Some(())
}

/// The driver's and each client's configuration section.
pub fn configs(v: &View<'_>, c: &super::Composed) -> Vec<(String, Section)> {
    let mut out = Vec::new();
    let Some(driver) = c.sub.role(Role::Driver) else {
        return out;
    };
    let mut list = List::default();
    for cl in &c.sub.clients {
        let Some(l) = c.link(&format!("client:{}", cl.pd)) else {
            continue;
        };
        let _ = list.push(TimerClient {
            name: Name::new(&cl.pd),
            channel: Ch(l.b_ch),
        });
        out.push((
            cl.pd.clone(),
            Section::TimerClient(TimerClientConfig {
                channel: Ch(l.a_ch),
            }),
        ));
    }
    out.push((
        driver.pd.clone(),
        Section::TimerDriver(Box::new(TimerDriverConfig {
            device: c
                .device
                .region
                .as_ref()
                .map(|r| v.region(&driver.pd, r, true)),
            irq: c.device.irq.map(Ch),
            clients: list,
        })),
    ));
    out
}
