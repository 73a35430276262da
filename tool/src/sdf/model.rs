//! The system description as parsed: plain data, every item with the
//! position of its element and of each attribute it was given.

use crate::diag::Pos;
use std::collections::BTreeMap;

/// Positions of an element's attributes, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrPos(pub BTreeMap<String, Pos>);

impl AttrPos {
    /// Position of attribute `name`, or `fallback` if it was not given.
    pub fn get(&self, name: &str, fallback: Pos) -> Pos {
        self.0.get(name).copied().unwrap_or(fallback)
    }
    /// Was attribute `name` given?
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A whole system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct System {
    /// Every PD, children included, in pre-order: a parent precedes its
    /// children (this is also the boot-description order).
    pub pds: Vec<Pd>,
    /// Memory regions in document order.
    pub mrs: Vec<MemoryRegion>,
    /// Channels in document order.
    pub channels: Vec<Channel>,
    /// Position of the `<system>` element.
    pub pos: Pos,
}

impl System {
    /// Index of the PD named `name`.
    pub fn pd_index(&self, name: &str) -> Option<usize> {
        self.pds.iter().position(|p| p.name == name)
    }
    /// Index of the memory region named `name`.
    pub fn mr_index(&self, name: &str) -> Option<usize> {
        self.mrs.iter().position(|m| m.name == name)
    }
}

/// A protection domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pd {
    /// Name.
    pub name: String,
    /// Priority, 0..=254.
    pub priority: u8,
    /// Budget, µs.
    pub budget_us: u64,
    /// Period, µs.
    pub period_us: u64,
    /// Passive.
    pub passive: bool,
    /// Stack size, bytes.
    pub stack_size: u64,
    /// The program (None only while parsing has errors).
    pub program_image: Option<ProgramImage>,
    /// Maps of memory regions.
    pub maps: Vec<Map>,
    /// Interrupts.
    pub irqs: Vec<Irq>,
    /// I/O port grants.
    pub ioports: Vec<IoPort>,
    /// `<setvar>` elements.
    pub setvars: Vec<SetVar>,
    /// Parent PD index (into [`System::pds`]).
    pub parent: Option<usize>,
    /// Id in the parent's child-id space.
    pub child_id: Option<u8>,
    /// Symbol in the parent's image to receive `child_id`.
    pub setvar_id: Option<String>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// `<program_image>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramImage {
    /// Path as written (relative to the SDF's folder or a search path).
    pub path: String,
    /// Optional ELF to take symbols from.
    pub path_for_symbols: Option<String>,
    /// Position of the element.
    pub pos: Pos,
}

/// `<map>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map {
    /// Memory region name.
    pub mr: String,
    /// Virtual address.
    pub vaddr: u64,
    /// `bootdesc::PERM_*` bits.
    pub perms: u8,
    /// The permissions as written.
    pub perms_text: String,
    /// Cached.
    pub cached: bool,
    /// Symbol to receive the vaddr.
    pub setvar_vaddr: Option<String>,
    /// Symbol to receive the size.
    pub setvar_size: Option<String>,
    /// Symbol to receive the size of the region's prefill file.
    pub setvar_prefill_size: Option<String>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// Where an interrupt comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqKind {
    /// An IOAPIC pin.
    IoApic {
        /// IOAPIC index.
        ioapic: u8,
        /// Pin.
        pin: u8,
        /// Level triggered.
        level: bool,
        /// Active low.
        active_low: bool,
    },
    /// A PCI MSI/MSI-X vector.
    Msi {
        /// Bus.
        bus: u8,
        /// Device.
        dev: u8,
        /// Function.
        func: u8,
        /// MSI(-X) index.
        handle: u32,
    },
}

/// `<irq>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    /// Channel id.
    pub id: u8,
    /// Vector, 0..=107.
    pub vector: u8,
    /// Source.
    pub kind: IrqKind,
    /// Symbol to receive the id.
    pub setvar_id: Option<String>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// `<ioport>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoPort {
    /// Grant id.
    pub id: u8,
    /// First port.
    pub addr: u16,
    /// Number of ports.
    pub size: u32,
    /// Symbol to receive the id.
    pub setvar_id: Option<String>,
    /// Symbol to receive the first port.
    pub setvar_addr: Option<String>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// `<setvar>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetVar {
    /// Symbol.
    pub symbol: String,
    /// Memory region whose physical address the symbol receives.
    pub region_paddr: String,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// `<memory_region>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Name.
    pub name: String,
    /// Size, bytes.
    pub size: u64,
    /// Page size (0x1000 or 0x200000).
    pub page_size: u64,
    /// Fixed physical address.
    pub phys_addr: Option<u64>,
    /// Initial contents from a file (`prefill_path`).
    pub prefill: Option<Prefill>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// `<channel>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Ends (exactly 2 once validated).
    pub ends: Vec<End>,
    /// Position of the element.
    pub pos: Pos,
}

/// `<end>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    /// PD name.
    pub pd: String,
    /// Channel id in that PD.
    pub id: u8,
    /// This end may PPC the other.
    pub pp: bool,
    /// This end may notify the other.
    pub notify: bool,
    /// Symbol (in this end's PD) to receive the id.
    pub setvar_id: Option<String>,
    /// Position of the element.
    pub pos: Pos,
    /// Positions of its attributes.
    pub attrs: AttrPos,
}

/// A region's initial contents (`prefill_path`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prefill {
    /// The path as written (relative to the SDF's folder or a search path).
    pub path: String,
    /// The file's bytes, once read ([`crate::sdf::resolve_prefills`]).
    pub data: Vec<u8>,
}
