//! Reading `<serial_subsystem>`, `<timer_subsystem>` and `<net_subsystem>`
//! (their attributes are listed in each kind's module).

use super::{ClientSpec, Kind, Params, Role, RoleSpec, Subsystem};
use crate::sdf::parse::{quote, Fmt, Parser};
use mantle_abi::layout::PAGE_SIZE;
use roxmltree::Node;

const SERIAL_ATTRS: &[&str] = &[
    "name",
    "driver",
    "virt_tx",
    "virt_rx",
    "rx",
    "data_size",
    "ioport",
    "irq_pin",
    "irq_vector",
    "baud",
];
const TIMER_ATTRS: &[&str] = &["name", "driver", "device_paddr", "irq_pin", "irq_vector"];
const NET_ATTRS: &[&str] = &[
    "name",
    "driver",
    "virt_rx",
    "virt_tx",
    "capacity",
    "mac",
    "device_paddr",
    "device_size",
    "irq_pin",
    "irq_vector",
];

/// Parse `"52:54:00:12:34:56"`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl<'a, 'i> Parser<'a, 'i> {
    /// A subsystem element (the tag says which kind).
    pub(crate) fn subsystem(&mut self, node: Node<'a, 'i>) -> Option<Subsystem> {
        let tag = node.tag_name().name();
        let (kind, allowed, tag): (Kind, &[&str], &'static str) = match tag {
            "serial_subsystem" => (Kind::Serial, SERIAL_ATTRS, "serial_subsystem"),
            "timer_subsystem" => (Kind::Timer, TIMER_ATTRS, "timer_subsystem"),
            _ => (Kind::Net, NET_ATTRS, "net_subsystem"),
        };
        let mut e = self.elem(node, tag, allowed);
        let name = self
            .str_attr(&e, "name")
            .unwrap_or_else(|| kind.default_name().to_string());
        let name_at = e.attrs.get("name", e.pos);
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.d.error(
                name_at,
                format!(
                    "name {} of {tag} is not valid; allowed: 1 to 32 letters, digits, '_' or '-' (it prefixes generated names)",
                    quote(&name)
                ),
            );
        }
        e.ctx = format!("{tag} '{name}'");
        let mut p = Params {
            data_size: 0x1000,
            ioport: 0x3f8,
            irq_pin: match kind {
                Kind::Serial => 4,
                Kind::Timer => 20,
                Kind::Net => 11,
            },
            baud: 115_200,
            device_size: 0x1000,
            capacity: 512,
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            rx: true,
            ..Default::default()
        };
        let mut roles = Vec::new();
        let mut role = |me: &mut Self, attr: &str, role: Role, default: String| {
            let pd = me.str_attr(&e, attr).unwrap_or(default);
            let pos = e.attrs.get(attr, e.pos);
            if pd.is_empty() {
                me.d.error(pos, format!("{attr} of {} is empty", e.ctx));
            }
            roles.push(RoleSpec { role, pd, pos });
        };
        role(self, "driver", Role::Driver, format!("{name}_driver"));
        match kind {
            Kind::Serial => {
                p.rx = self.boolean(&e, "rx", true);
                role(self, "virt_tx", Role::VirtTx, format!("{name}_virt_tx"));
                if p.rx {
                    role(self, "virt_rx", Role::VirtRx, format!("{name}_virt_rx"));
                } else if e.attrs.has("virt_rx") {
                    self.d.error(
                        e.attrs.get("virt_rx", e.pos),
                        format!("{} has rx=\"false\" but names a virt_rx", e.ctx),
                    );
                }
                if let Some(v) = self.num(&e, "data_size", PAGE_SIZE, 1 << 30, Fmt::Hex) {
                    if !v.is_power_of_two() {
                        self.d.error(
                            e.attrs.get("data_size", e.pos),
                            format!(
                                "data_size {v:#x} of {} is not a power of two; allowed: 0x1000, 0x2000, 0x4000, ...",
                                e.ctx
                            ),
                        );
                    }
                    p.data_size = v;
                }
                if let Some(v) = self.num(&e, "ioport", 0, 0xfff8, Fmt::Hex) {
                    p.ioport = v as u16;
                }
                if let Some(v) = self.num(&e, "baud", 50, 4_000_000, Fmt::Dec) {
                    p.baud = v as u32;
                }
            }
            Kind::Timer => {}
            Kind::Net => {
                role(self, "virt_rx", Role::VirtRx, format!("{name}_virt_rx"));
                role(self, "virt_tx", Role::VirtTx, format!("{name}_virt_tx"));
                if let Some(v) = self.num(&e, "capacity", 1, 0x8000, Fmt::Dec) {
                    if !v.is_power_of_two() {
                        self.d.error(
                            e.attrs.get("capacity", e.pos),
                            format!(
                                "capacity {v} of {} is not a power of two; allowed: 1, 2, 4, ... 32768",
                                e.ctx
                            ),
                        );
                    }
                    p.capacity = v as u32;
                }
                if let Some(text) = self.str_attr(&e, "mac") {
                    match parse_mac(&text) {
                        Some(m) => p.mac = m,
                        None => self.d.error(
                            e.attrs.get("mac", e.pos),
                            format!(
                                "mac {} of {} is not a MAC address; expected six hex pairs like \"52:54:00:12:34:56\"",
                                quote(&text),
                                e.ctx
                            ),
                        ),
                    }
                }
                if let Some(v) = self.num(&e, "device_size", PAGE_SIZE, 1 << 30, Fmt::Hex) {
                    if v % PAGE_SIZE != 0 {
                        self.d.error(
                            e.attrs.get("device_size", e.pos),
                            format!(
                                "device_size {v:#x} of {} is not a multiple of the page size 0x1000",
                                e.ctx
                            ),
                        );
                    }
                    p.device_size = v;
                }
            }
        }
        if kind != Kind::Serial {
            if let Some(v) = self.num(&e, "device_paddr", 0, u64::MAX, Fmt::Hex) {
                if v % PAGE_SIZE != 0 {
                    self.d.error(
                        e.attrs.get("device_paddr", e.pos),
                        format!(
                            "device_paddr {v:#x} of {} is not aligned to the page size 0x1000",
                            e.ctx
                        ),
                    );
                }
                p.device_paddr = Some(v);
            } else if kind == Kind::Timer {
                p.device_paddr = Some(0xfed0_0000);
            }
        }
        if let Some(v) = self.num(&e, "irq_pin", 0, 23, Fmt::Dec) {
            p.irq_pin = v as u8;
        }
        p.irq_vector = self
            .num(
                &e,
                "irq_vector",
                0,
                mantle_abi::limits::NUM_USER_VECTORS as u64 - 1,
                Fmt::Dec,
            )
            .map(|v| v as u8);
        let client_attrs: &[&str] = match kind {
            Kind::Serial => &["pd", "rx"],
            Kind::Timer => &["pd"],
            Kind::Net => &["pd", "mac"],
        };
        let mut clients = Vec::new();
        for c in self.children(node, tag, &["client"]) {
            let mut ce = self.elem(c, "client", client_attrs);
            self.children(c, "client", &[]);
            ce.ctx = format!("client of {}", e.ctx);
            let Some(pd) = self.req_str(&ce, "pd") else {
                continue;
            };
            let rx = kind == Kind::Serial && self.boolean(&ce, "rx", p.rx);
            if rx && !p.rx {
                self.d.error(
                    ce.attrs.get("rx", ce.pos),
                    format!(
                        "client '{pd}' of {} asks for input (rx=\"true\") but the subsystem has rx=\"false\"",
                        e.ctx
                    ),
                );
            }
            let mac = match self.str_attr(&ce, "mac") {
                None => None,
                Some(text) => match parse_mac(&text) {
                    Some(m) => Some(m),
                    None => {
                        self.d.error(
                            ce.attrs.get("mac", ce.pos),
                            format!(
                                "mac {} of client '{pd}' is not a MAC address; expected six hex pairs like \"02:00:00:00:00:01\"",
                                quote(&text)
                            ),
                        );
                        None
                    }
                },
            };
            clients.push(ClientSpec {
                pd,
                rx,
                mac,
                pos: ce.pos,
                attrs: ce.attrs,
            });
        }
        Some(Subsystem {
            kind: Some(kind),
            name,
            roles,
            clients,
            params: p,
            pos: e.pos,
            attrs: e.attrs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("52:54:00:12:34:5f"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x5f])
        );
        for bad in [
            "",
            "52:54:00:12:34",
            "52:54:00:12:34:56:78",
            "5:54:00:12:34:56",
            "zz:54:00:12:34:56",
            "+1:54:00:12:34:56",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
