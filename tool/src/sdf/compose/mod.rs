//! The composition layer: `<serial_subsystem>`, `<timer_subsystem>` and
//! `<net_subsystem>` describe a subsystem once; [`expand`] turns each into
//! the protection domains, memory regions, maps and channels it needs, and
//! [`configs`] (at build time, once physical addresses are known) into each
//! component's typed configuration ([`mantle_config`]), which the build
//! writes into the PD's [`mantle_config::SYMBOL`].
//!
//! Rules shared by every subsystem:
//! - A role PD (driver, virtualiser, copier) named in the element is used
//!   as written when the SDF declares a PD of that name, and generated with
//!   defaults otherwise (program image = the component's binary name).
//!   Clients must be declared.
//! - Channel ids are the lowest free ids of each PD (after everything the
//!   SDF writes itself), in the order connections are listed in each
//!   module's documentation; they are recorded in the configurations, so
//!   no program hard-codes them.
//! - A region is mapped at the lowest free virtual address at or above
//!   [`VADDR_BASE`] in each PD (aligned to 2 MiB when its size is a 2 MiB
//!   multiple), with the least permissions the protocol needs.
//! - Everything generated carries the position of the element that asked
//!   for it, so errors point into the composed SDF.

pub mod net;
pub mod parse;
pub mod serial;
pub mod timer;

use super::model::*;
use crate::diag::{did_you_mean, Diags, Pos};
use mantle_abi::bootdesc::{PERM_R, PERM_W};
use mantle_abi::layout::{align_up, map_limit, LARGE_PAGE_SIZE, PAGE_SIZE};
use mantle_abi::limits::{MAX_IDS, MAX_IOPORTS_PER_PD, NUM_USER_VECTORS};
use mantle_config::Region;
use std::collections::BTreeMap;

/// Lowest virtual address the composition layer maps regions at.
pub const VADDR_BASE: u64 = 0x4000_0000;

/// Which subsystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `<serial_subsystem>`.
    Serial,
    /// `<timer_subsystem>`.
    Timer,
    /// `<net_subsystem>`.
    Net,
}

impl Kind {
    /// The element's tag.
    pub fn tag(self) -> &'static str {
        match self {
            Kind::Serial => "serial_subsystem",
            Kind::Timer => "timer_subsystem",
            Kind::Net => "net_subsystem",
        }
    }
    /// The default `name` (prefix of generated names).
    pub fn default_name(self) -> &'static str {
        match self {
            Kind::Serial => "serial",
            Kind::Timer => "timer",
            Kind::Net => "net",
        }
    }
}

/// A PD's part in a subsystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Owns the device.
    Driver,
    /// Transmit virtualiser.
    VirtTx,
    /// Receive virtualiser.
    VirtRx,
    /// Per-client copier (network).
    Copier,
}

impl Role {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::VirtTx => "virt_tx",
            Role::VirtRx => "virt_rx",
            Role::Copier => "copier",
        }
    }
}

/// A role PD named by a subsystem element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    /// Which role.
    pub role: Role,
    /// The PD's name.
    pub pd: String,
    /// Where it was named (the attribute, or the element for a default).
    pub pos: Pos,
}

/// `<client>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSpec {
    /// The client PD.
    pub pd: String,
    /// Serial: does the client read input?
    pub rx: bool,
    /// Network: the client's MAC address.
    pub mac: Option<[u8; 6]>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// Numbers a subsystem element may set (each kind documents which).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// Serial: bytes per data ring (a power of two, ≥ 4 KiB).
    pub data_size: u64,
    /// Serial: the UART's first I/O port.
    pub ioport: u16,
    /// The device's IOAPIC pin.
    pub irq_pin: u8,
    /// The device's vector (default: the lowest unused one).
    pub irq_vector: Option<u8>,
    /// Serial: baud rate.
    pub baud: u32,
    /// Timer/network: the device registers' physical address.
    pub device_paddr: Option<u64>,
    /// Timer/network: size of the device registers.
    pub device_size: u64,
    /// Network: buffers (and queue entries) per connection.
    pub capacity: u32,
    /// Network: the NIC's MAC address.
    pub mac: [u8; 6],
    /// Serial: do clients read input by default (a receive path)?
    pub rx: bool,
}

/// A parsed subsystem element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subsystem {
    /// Which kind.
    pub kind: Option<Kind>,
    /// Prefix of generated names.
    pub name: String,
    /// Role PDs.
    pub roles: Vec<RoleSpec>,
    /// Clients, in order.
    pub clients: Vec<ClientSpec>,
    /// Parameters.
    pub params: Params,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

impl Subsystem {
    /// The PD named for `role`.
    pub fn role(&self, role: Role) -> Option<&RoleSpec> {
        self.roles.iter().find(|r| r.role == role)
    }
}

/// A connection made by the expansion: a channel between `a` and `b` and
/// the regions both map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// One PD.
    pub a: String,
    /// `a`'s channel id.
    pub a_ch: u8,
    /// The other PD.
    pub b: String,
    /// `b`'s channel id.
    pub b_ch: u8,
    /// Regions of the connection (queues, then data), by name.
    pub mrs: Vec<String>,
}

impl Link {
    /// `pd`'s channel id on this link.
    pub fn ch(&self, pd: &str) -> u8 {
        if pd == self.a {
            self.a_ch
        } else {
            self.b_ch
        }
    }
}

/// The device a driver owns, as the expansion found or made it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Device {
    /// I/O port grant id.
    pub ioport: Option<u8>,
    /// First I/O port.
    pub port_base: u16,
    /// IRQ id.
    pub irq: Option<u8>,
    /// Register region (fixed `phys_addr`), by name.
    pub region: Option<String>,
}

/// A subsystem and everything its expansion decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Composed {
    /// The element as parsed.
    pub sub: Subsystem,
    /// Its driver, virtualisers and copiers (the diagram's cluster).
    pub members: Vec<String>,
    /// Connections by key (e.g. `"tx_driver"`, `"tx:client"`).
    pub links: BTreeMap<String, Link>,
    /// Other regions by key (e.g. `"rx_dma"`).
    pub regions: BTreeMap<String, String>,
    /// The device.
    pub device: Device,
}

impl Composed {
    /// A subsystem not yet expanded.
    pub fn new(sub: Subsystem) -> Composed {
        Composed {
            sub,
            ..Default::default()
        }
    }
    /// The subsystem's kind.
    pub fn kind(&self) -> Kind {
        self.sub.kind.unwrap_or(Kind::Serial)
    }
    /// Link `key`, if it was made.
    pub fn link(&self, key: &str) -> Option<&Link> {
        self.links.get(key)
    }
}

/// Expand every composed subsystem of `sys` in place. Errors go to `d` at
/// the composed element's position.
pub fn expand(sys: &mut System, d: &mut Diags) {
    let subs: Vec<Subsystem> = sys.composed.iter().map(|c| c.sub.clone()).collect();
    // Clients: one subsystem of each kind per PD.
    let mut client_of: BTreeMap<(Kind, String), Pos> = BTreeMap::new();
    for s in &subs {
        let Some(kind) = s.kind else { continue };
        for c in &s.clients {
            if let Some(first) = client_of.insert((kind, c.pd.clone()), c.pos) {
                d.error(
                    c.attrs.get("pd", c.pos),
                    format!(
                        "protection_domain '{}' is already a client of a {} (at {}:{}); a PD may be a client of one subsystem of each kind",
                        c.pd,
                        kind.tag(),
                        first.line,
                        first.col
                    ),
                );
            }
        }
    }
    client_stacks(sys, &subs, d);
    for (g, s) in subs.iter().enumerate() {
        let mut cx = Ctx {
            sys,
            d,
            group: g,
            pos: s.pos,
            out: Composed::new(s.clone()),
        };
        let ok = match s.kind {
            Some(Kind::Serial) => serial::expand(&mut cx, s),
            Some(Kind::Timer) => timer::expand(&mut cx, s),
            Some(Kind::Net) => net::expand(&mut cx, s),
            None => None,
        };
        let out = cx.out;
        if ok.is_some() {
            sys.composed[g] = out;
        }
    }
}

/// The stack a client of a `kind` subsystem needs for its client library,
/// and why; `None` when the default stack is enough.
pub fn client_stack(kind: Kind) -> Option<(u64, &'static str)> {
    match kind {
        // components/serial-client: `SerialTx` holds a 4 KiB output buffer
        // (TX_BUFFER) that `init` builds on the stack and returns by value,
        // and `core::fmt` formatting and the blocking line reads run on
        // top of it: more than the default 8 KiB. 64 KiB is what the
        // examples' clients (and the timer driver, for the same reason)
        // run with.
        Kind::Serial => Some((
            0x10000,
            "its serial-client library builds a 4 KiB output buffer on the stack in init and formats and reads lines on top of it",
        )),
        // components/timer-client: a PPC and a few words of state.
        Kind::Timer => None,
        Kind::Net => None,
    }
}

/// Clients whose SDF leaves out `stack_size` get the stack their client
/// libraries need ([`client_stack`]); one that asks for less is warned.
fn client_stacks(sys: &mut System, subs: &[Subsystem], d: &mut Diags) {
    for s in subs {
        let Some(kind) = s.kind else { continue };
        let Some((need, why)) = client_stack(kind) else {
            continue;
        };
        for c in &s.clients {
            let Some(i) = sys.pd_index(&c.pd) else {
                continue;
            };
            let pd = &mut sys.pds[i];
            if !pd.attrs.has("stack_size") {
                pd.stack_size = pd.stack_size.max(need);
            } else if pd.stack_size < need {
                d.warn(
                    pd.attrs.get("stack_size", pd.pos),
                    format!(
                        "protection_domain '{}' has stack_size {:#x}, but as a client of {} '{}' it needs {need:#x}: {why}; set stack_size=\"{need:#x}\" (or leave it out to get that size)",
                        pd.name,
                        pd.stack_size,
                        kind.tag(),
                        s.name
                    ),
                );
            }
        }
    }
}

/// Every composed PD's configuration blob ([`mantle_config::CONFIG_SIZE`]
/// bytes, one section per subsystem the PD is part of): (PD index, kinds,
/// bytes). `paddr` gives each region's physical address (by region index),
/// or `None` during `mantle check`, when addresses are not known yet.
pub fn configs(sys: &System, paddr: Option<&[u64]>) -> Result<Vec<ConfigBlob>, String> {
    let mut per_pd: BTreeMap<usize, (Vec<mantle_config::Kind>, Vec<u8>)> = BTreeMap::new();
    let view = View { sys, paddr };
    // Sections written in the SDF (`<config>`) first, in element order.
    for (i, pd) in sys.pds.iter().enumerate() {
        for (c, data) in pd
            .configs
            .iter()
            .zip(super::config::explicit_sections(sys, i, paddr))
        {
            let (kinds, buf) = per_pd
                .entry(i)
                .or_insert_with(|| (Vec::new(), vec![0u8; mantle_config::CONFIG_SIZE]));
            let used = used_len(buf);
            let Some(dst) = buf.get_mut(used..used + data.len()) else {
                return Err(format!(
                    "the configuration of protection_domain '{}' does not fit in {} bytes",
                    pd.name,
                    mantle_config::CONFIG_SIZE
                ));
            };
            dst.copy_from_slice(&data);
            kinds.push(c.kind);
        }
    }
    for c in &sys.composed {
        let sections = match c.kind() {
            Kind::Serial => serial::configs(&view, c),
            Kind::Timer => timer::configs(&view, c),
            Kind::Net => net::configs(&view, c),
        };
        for (pd, section) in sections {
            let Some(i) = sys.pd_index(&pd) else { continue };
            let (kinds, buf) = per_pd
                .entry(i)
                .or_insert_with(|| (Vec::new(), vec![0u8; mantle_config::CONFIG_SIZE]));
            let used = used_len(buf);
            section.append(buf, used).map_err(|e| {
                format!(
                    "the configuration of protection_domain '{pd}' does not fit in {} bytes: {e}",
                    mantle_config::CONFIG_SIZE
                )
            })?;
            kinds.push(section.kind());
        }
    }
    Ok(per_pd.into_iter().map(|(i, (k, b))| (i, k, b)).collect())
}

/// A composed PD's configuration: (PD index, the kinds of its sections,
/// the [`mantle_config::CONFIG_SIZE`]-byte blob).
pub type ConfigBlob = (usize, Vec<mantle_config::Kind>, Vec<u8>);

/// Bytes used by the sections already in `buf`.
pub fn used_len(buf: &[u8]) -> usize {
    let mut at = 0;
    while at + mantle_config::HEADER_SIZE <= buf.len() {
        if buf[at..at + 4] != mantle_config::MAGIC.to_le_bytes() {
            break;
        }
        let len = u32::from_le_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]);
        at += mantle_config::HEADER_SIZE + len as usize;
    }
    at
}

/// One configuration section, of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Section {
    /// Serial driver.
    SerialDriver(mantle_config::serial::SerialDriverConfig),
    /// Serial transmit virtualiser.
    SerialVirtTx(Box<mantle_config::serial::SerialVirtTxConfig>),
    /// Serial receive virtualiser.
    SerialVirtRx(Box<mantle_config::serial::SerialVirtRxConfig>),
    /// Serial client.
    SerialClient(mantle_config::serial::SerialClientConfig),
    /// Timer driver.
    TimerDriver(Box<mantle_config::timer::TimerDriverConfig>),
    /// Timer client.
    TimerClient(mantle_config::timer::TimerClientConfig),
    /// Network driver.
    NetDriver(mantle_config::net::NetDriverConfig),
    /// Network receive virtualiser.
    NetVirtRx(Box<mantle_config::net::NetVirtRxConfig>),
    /// Network transmit virtualiser.
    NetVirtTx(Box<mantle_config::net::NetVirtTxConfig>),
    /// Network copier.
    NetCopier(mantle_config::net::NetCopierConfig),
    /// Network client.
    NetClient(mantle_config::net::NetClientConfig),
}

impl Section {
    /// Its kind.
    pub fn kind(&self) -> mantle_config::Kind {
        use mantle_config::Config;
        match self {
            Section::SerialDriver(_) => mantle_config::serial::SerialDriverConfig::KIND,
            Section::SerialVirtTx(_) => mantle_config::serial::SerialVirtTxConfig::KIND,
            Section::SerialVirtRx(_) => mantle_config::serial::SerialVirtRxConfig::KIND,
            Section::SerialClient(_) => mantle_config::serial::SerialClientConfig::KIND,
            Section::TimerDriver(_) => mantle_config::timer::TimerDriverConfig::KIND,
            Section::TimerClient(_) => mantle_config::timer::TimerClientConfig::KIND,
            Section::NetDriver(_) => mantle_config::net::NetDriverConfig::KIND,
            Section::NetVirtRx(_) => mantle_config::net::NetVirtRxConfig::KIND,
            Section::NetVirtTx(_) => mantle_config::net::NetVirtTxConfig::KIND,
            Section::NetCopier(_) => mantle_config::net::NetCopierConfig::KIND,
            Section::NetClient(_) => mantle_config::net::NetClientConfig::KIND,
        }
    }
    /// Append it to `buf` at `at`.
    pub fn append(&self, buf: &mut [u8], at: usize) -> Result<usize, mantle_config::Error> {
        use mantle_config::append;
        match self {
            Section::SerialDriver(c) => append(c, buf, at),
            Section::SerialVirtTx(c) => append(c.as_ref(), buf, at),
            Section::SerialVirtRx(c) => append(c.as_ref(), buf, at),
            Section::SerialClient(c) => append(c, buf, at),
            Section::TimerDriver(c) => append(c.as_ref(), buf, at),
            Section::TimerClient(c) => append(c, buf, at),
            Section::NetDriver(c) => append(c, buf, at),
            Section::NetVirtRx(c) => append(c.as_ref(), buf, at),
            Section::NetVirtTx(c) => append(c.as_ref(), buf, at),
            Section::NetCopier(c) => append(c, buf, at),
            Section::NetClient(c) => append(c, buf, at),
        }
    }
}

/// Read access for building configurations.
pub struct View<'s> {
    sys: &'s System,
    paddr: Option<&'s [u64]>,
}

impl View<'_> {
    /// Region `mr` as PD `pd` maps it; with its physical address when
    /// `with_paddr` (and the address is known).
    pub fn region(&self, pd: &str, mr: &str, with_paddr: bool) -> Region {
        let Some(mi) = self.sys.mr_index(mr) else {
            return Region::default();
        };
        let vaddr = self
            .sys
            .pd_index(pd)
            .and_then(|i| self.sys.pds[i].maps.iter().find(|m| m.mr == mr))
            .map_or(0, |m| m.vaddr);
        let paddr = match (with_paddr, self.paddr) {
            (true, Some(p)) => p.get(mi).copied().unwrap_or(0),
            _ => 0,
        };
        Region {
            vaddr,
            size: self.sys.mrs[mi].size,
            paddr,
        }
    }
}

/// The expansion of one subsystem in progress.
pub struct Ctx<'s, 'd> {
    /// The system being expanded.
    pub sys: &'s mut System,
    /// Diagnostics.
    pub d: &'d mut Diags,
    /// This subsystem's index in `sys.composed`.
    pub group: usize,
    /// The element's position (given to everything generated).
    pub pos: Pos,
    /// What the expansion decided.
    pub out: Composed,
}

/// Defaults for a generated role PD.
pub struct Generate<'a> {
    /// Program image path.
    pub image: &'a str,
    /// Priority.
    pub priority: u8,
    /// Passive.
    pub passive: bool,
    /// Stack size: what the component's program needs (its state is built
    /// on the stack in `init`).
    pub stack_size: u64,
}

impl Ctx<'_, '_> {
    fn tag(&self) -> String {
        let s = &self.out.sub;
        format!("{} '{}'", s.kind.map_or("subsystem", Kind::tag), s.name)
    }

    /// The PD for `role`: the declared one, or a generated one. Records it
    /// as a member of this subsystem.
    pub fn role_pd(&mut self, spec: &RoleSpec, gen: Generate<'_>) -> Option<usize> {
        let i = match self.sys.pd_index(&spec.pd) {
            Some(i) => {
                let pd = &self.sys.pds[i];
                if let (Some(g), Some(r)) = (pd.group, pd.role) {
                    let other = &self.sys.composed[g].sub;
                    let msg = format!(
                        "{}: protection_domain '{}' is already the {} of {} '{}'; a PD has one role in one subsystem",
                        self.tag(),
                        spec.pd,
                        r.name(),
                        other.kind.map_or("subsystem", Kind::tag),
                        other.name
                    );
                    self.d.error(spec.pos, msg);
                    return None;
                }
                i
            }
            None if spec.pd.len() > mantle_abi::limits::MAX_NAME_LEN => {
                let msg = format!(
                    "{}: the {} protection_domain name '{}' is {} bytes long; allowed: at most {}",
                    self.tag(),
                    spec.role.name(),
                    spec.pd,
                    spec.pd.len(),
                    mantle_abi::limits::MAX_NAME_LEN
                );
                self.d.error(spec.pos, msg);
                return None;
            }
            None => {
                self.sys.pds.push(Pd {
                    name: spec.pd.clone(),
                    priority: gen.priority,
                    budget_us: mantle_abi::limits::DEFAULT_BUDGET_US,
                    period_us: mantle_abi::limits::DEFAULT_BUDGET_US,
                    passive: gen.passive,
                    stack_size: gen.stack_size,
                    program_image: Some(ProgramImage {
                        path: gen.image.to_string(),
                        path_for_symbols: None,
                        pos: spec.pos,
                    }),
                    pos: spec.pos,
                    generated: true,
                    ..Default::default()
                });
                self.sys.pds.len() - 1
            }
        };
        self.sys.pds[i].group = Some(self.group);
        self.sys.pds[i].role = Some(spec.role);
        self.out.members.push(spec.pd.clone());
        Some(i)
    }

    /// Check the clients: declared PDs, listed once, not members.
    pub fn clients(&mut self, max: usize) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        let mut ok = true;
        let sub = self.out.sub.clone();
        if sub.clients.len() > max {
            let c = &sub.clients[max];
            self.d.error(
                c.pos,
                format!(
                    "{} has {} clients; allowed: at most {max}",
                    self.tag(),
                    sub.clients.len()
                ),
            );
            return None;
        }
        for (k, c) in sub.clients.iter().enumerate() {
            let at = c.attrs.get("pd", c.pos);
            match self.sys.pd_index(&c.pd) {
                None => {
                    let known: Vec<&str> = self
                        .sys
                        .pds
                        .iter()
                        .filter(|p| !p.generated)
                        .map(|p| p.name.as_str())
                        .collect();
                    self.d.error(
                        at,
                        format!(
                            "client of {} names unknown protection_domain '{}'{}; clients must be declared",
                            self.tag(),
                            c.pd,
                            did_you_mean(&c.pd, known.iter().copied())
                        ),
                    );
                    ok = false;
                }
                Some(_) if sub.clients[..k].iter().any(|o| o.pd == c.pd) => {
                    self.d.error(
                        at,
                        format!(
                            "protection_domain '{}' is listed twice as a client of {}",
                            c.pd,
                            self.tag()
                        ),
                    );
                    ok = false;
                }
                Some(_) if self.out.members.contains(&c.pd) => {
                    self.d.error(
                        at,
                        format!(
                            "protection_domain '{}' is a client of {} and also its driver or virtualiser",
                            c.pd,
                            self.tag()
                        ),
                    );
                    ok = false;
                }
                Some(i) => out.push(i),
            }
        }
        ok.then_some(out)
    }

    /// The lowest channel/IRQ id `pd` does not use yet.
    pub fn free_id(&mut self, pd: usize, pos: Pos) -> Option<u8> {
        let name = self.sys.pds[pd].name.clone();
        let mut used = [false; MAX_IDS];
        for irq in &self.sys.pds[pd].irqs {
            if let Some(u) = used.get_mut(irq.id as usize) {
                *u = true;
            }
        }
        for e in self.sys.channels.iter().flat_map(|c| &c.ends) {
            if e.pd == name {
                if let Some(u) = used.get_mut(e.id as usize) {
                    *u = true;
                }
            }
        }
        match used.iter().position(|u| !u) {
            Some(id) => Some(id as u8),
            None => {
                let msg = format!(
                    "{}: protection_domain '{name}' has no free channel id left (all {MAX_IDS} ids 0..={} are used by its channels and irqs)",
                    self.tag(),
                    MAX_IDS - 1
                );
                self.d.error(pos, msg);
                None
            }
        }
    }

    /// The lowest unused interrupt vector.
    pub fn free_vector(&mut self) -> Option<u8> {
        let used: Vec<u8> = self
            .sys
            .pds
            .iter()
            .flat_map(|p| p.irqs.iter().map(|i| i.vector))
            .collect();
        let v = (0..NUM_USER_VECTORS).find(|v| !used.contains(v));
        if v.is_none() {
            let msg = format!("{}: no interrupt vector is left", self.tag());
            self.d.error(self.pos, msg);
        }
        v
    }

    /// The lowest unused I/O port grant id of `pd`.
    pub fn free_ioport_id(&mut self, pd: usize) -> Option<u8> {
        let used: Vec<u8> = self.sys.pds[pd].ioports.iter().map(|p| p.id).collect();
        let v = (0..MAX_IOPORTS_PER_PD as u8).find(|v| !used.contains(v));
        if v.is_none() {
            let msg = format!(
                "{}: protection_domain '{}' has no free ioport id",
                self.tag(),
                self.sys.pds[pd].name
            );
            self.d.error(self.pos, msg);
        }
        v
    }

    /// Add region `name` (generated) and return its name.
    pub fn region(&mut self, name: String, size: u64, phys: Option<u64>, pos: Pos) -> String {
        let page_size = if phys.is_none() && size % LARGE_PAGE_SIZE == 0 {
            LARGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        };
        self.sys.mrs.push(MemoryRegion {
            name: name.clone(),
            size,
            page_size,
            phys_addr: phys,
            pos,
            group: Some(self.group),
            ..Default::default()
        });
        name
    }

    /// Map region `mr` into `pd` at the lowest free address at or above
    /// [`VADDR_BASE`]; returns the address.
    pub fn map(&mut self, pd: usize, mr: &str, perms: u8, cached: bool, pos: Pos) -> Option<u64> {
        let size_of = |sys: &System, n: &str| sys.mrs.iter().find(|r| r.name == n).map(|r| r.size);
        let size = size_of(self.sys, mr)?;
        let align = if size % LARGE_PAGE_SIZE == 0 {
            LARGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        };
        let mut taken: Vec<(u64, u64)> = self.sys.pds[pd]
            .maps
            .iter()
            .filter_map(|m| {
                let s = size_of(self.sys, &m.mr)?;
                Some((m.vaddr, m.vaddr.saturating_add(s)))
            })
            .collect();
        taken.sort_unstable();
        let limit = map_limit(self.sys.pds[pd].stack_size);
        let mut at = VADDR_BASE;
        for (s, e) in taken {
            if at.saturating_add(size) <= s {
                break;
            }
            if e > at {
                at = align_up(e, align).unwrap_or(u64::MAX);
            }
        }
        if at.checked_add(size).is_none_or(|e| e > limit) {
            let msg = format!(
                "{}: no room to map memory_region '{mr}' ({size:#x} bytes) into protection_domain '{}' below {limit:#x}",
                self.tag(),
                self.sys.pds[pd].name
            );
            self.d.error(pos, msg);
            return None;
        }
        let perms_text = match (
            perms & PERM_W != 0,
            perms & mantle_abi::bootdesc::PERM_X != 0,
        ) {
            (true, _) => "rw",
            (false, true) => "rx",
            (false, false) => "r",
        };
        self.sys.pds[pd].maps.push(Map {
            mr: mr.to_string(),
            vaddr: at,
            perms: perms | PERM_R,
            perms_text: perms_text.to_string(),
            cached,
            pos,
            ..Default::default()
        });
        Some(at)
    }

    /// A channel between `a` and `b` (ids allocated in both); `pp_a`: `a`
    /// may PPC `b`. Returns (a's id, b's id).
    pub fn channel(
        &mut self,
        a: usize,
        b: usize,
        notify: (bool, bool),
        pp_a: bool,
        pos: Pos,
    ) -> Option<(u8, u8)> {
        let ia = self.free_id(a, pos)?;
        let ib = self.free_id(b, pos)?;
        let end = |pd: &str, id: u8, pp: bool, notify: bool| End {
            pd: pd.to_string(),
            id,
            pp,
            notify,
            pos,
            ..Default::default()
        };
        let (na, nb) = (self.sys.pds[a].name.clone(), self.sys.pds[b].name.clone());
        self.sys.channels.push(Channel {
            ends: vec![end(&na, ia, pp_a, notify.0), end(&nb, ib, false, notify.1)],
            pos,
            group: Some(self.group),
        });
        Some((ia, ib))
    }

    /// A connection: a channel between `a` and `b` (both may notify) and
    /// regions `mrs` (name suffix, size, perms in `a`, perms in `b`) mapped
    /// into both. Recorded under `key`.
    pub fn link(
        &mut self,
        key: &str,
        a: usize,
        b: usize,
        mrs: &[(&str, u64, u8, u8)],
        pos: Pos,
    ) -> Option<()> {
        let mut names = Vec::new();
        for (suffix, size, pa, pb) in mrs {
            let name = format!("{}_{}_{suffix}", self.out.sub.name, key.replace(':', "_"));
            let name = self.region(name, *size, None, pos);
            self.map(a, &name, *pa, true, pos)?;
            self.map(b, &name, *pb, true, pos)?;
            names.push(name);
        }
        let (a_ch, b_ch) = self.channel(a, b, (true, true), false, pos)?;
        self.out.links.insert(
            key.to_string(),
            Link {
                a: self.sys.pds[a].name.clone(),
                a_ch,
                b: self.sys.pds[b].name.clone(),
                b_ch,
                mrs: names,
            },
        );
        Some(())
    }

    /// Report that attribute `attr` only applies to a generated driver.
    pub fn only_for_generated(&mut self, attr: &str, driver: &str) {
        let s = &self.out.sub;
        if s.attrs.has(attr) {
            let at = s.attrs.get(attr, s.pos);
            let msg = format!(
                "attribute '{attr}' of {} applies only when the tool generates the driver, but protection_domain '{driver}' is declared; give the device to it directly (ioport, irq, map)",
                self.tag()
            );
            self.d.error(at, msg);
        }
    }

    /// The device of a declared driver: its first I/O port grant, first
    /// IRQ and first map of a region with a fixed physical address.
    pub fn declared_device(&self, pd: usize) -> Device {
        let p = &self.sys.pds[pd];
        Device {
            ioport: p.ioports.first().map(|i| i.id),
            port_base: p.ioports.first().map_or(0, |i| i.addr),
            irq: p.irqs.first().map(|i| i.id),
            region: p
                .maps
                .iter()
                .find(|m| {
                    self.sys
                        .mrs
                        .iter()
                        .any(|r| r.name == m.mr && r.phys_addr.is_some())
                })
                .map(|m| m.mr.clone()),
        }
    }

    /// Give the generated driver `pd` an IOAPIC interrupt (active high;
    /// level- or edge-triggered); returns its id.
    pub fn add_irq(&mut self, pd: usize, pin: u8, vector: Option<u8>, level: bool) -> Option<u8> {
        let id = self.free_id(pd, self.pos)?;
        let vector = match vector {
            Some(v) => v,
            None => self.free_vector()?,
        };
        self.sys.pds[pd].irqs.push(Irq {
            id,
            vector,
            kind: IrqKind::IoApic {
                ioapic: 0,
                pin,
                level,
                active_low: false,
            },
            setvar_id: None,
            pos: self.pos,
            attrs: AttrPos::default(),
        });
        Some(id)
    }
}
