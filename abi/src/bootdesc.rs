//! The boot description: the system, as `mantle build` resolved it, in the
//! form the kernel reads at boot.
//!
//! The tool does all placement at build time: every ELF segment, stack, IPC
//! buffer and memory region already has its physical address, and the image
//! loader (QEMU's PVH loader) has put the bytes there. The kernel's job is to
//! check this description ([`BootDescription::parse`]), build page tables
//! from the maps, program the interrupt controllers and start the PDs.
//!
//! # Format
//! Little-endian, at [`crate::layout::BOOTDESC_PHYS`]:
//!
//! ```text
//! header   HEADER_SIZE bytes
//! pds      pd_count     × PD_SIZE
//! maps     map_count    × MAP_SIZE
//! irqs     irq_count    × IRQ_SIZE
//! ioports  ioport_count × IOPORT_SIZE
//! ```
//!
//! PDs refer to contiguous runs of the other tables. A parent precedes its
//! children, so the parent relation cannot form a cycle.
//!
//! # Invariants checked by `parse`
//! Every count is within [`crate::limits`]; every table run and index is in
//! bounds; channel ends are symmetric and PPC only goes to strictly higher
//! priority; IRQ ends name an IRQ of the same PD and id; maps are page
//! aligned, non-empty and below [`crate::layout::USER_TOP`]; budgets, periods,
//! stack sizes, priorities and vectors are in range. What `parse` does not
//! check, because it needs the machine: that physical ranges are RAM (or
//! device memory) and that maps do not overlap (the kernel finds that while
//! building page tables).

use crate::layout::{PAGE_SIZE, USER_TOP};
use crate::limits::*;

/// `"MNTLBOOT"` as a little-endian word.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MNTLBOOT");
/// Format version; bumped on any layout change.
pub const VERSION: u32 = 1;
/// Bytes in the header.
pub const HEADER_SIZE: usize = 48;
/// Bytes in a channel-end record.
pub const END_SIZE: usize = 8;
/// Bytes in a PD record.
pub const PD_SIZE: usize = 136 + MAX_IDS * END_SIZE;
/// Bytes in a map record.
pub const MAP_SIZE: usize = 32;
/// Bytes in an IRQ record.
pub const IRQ_SIZE: usize = 16;
/// Bytes in an I/O port record.
pub const IOPORT_SIZE: usize = 8;
/// Most maps in one description.
pub const MAX_MAPS: usize = MAX_PDS * MAX_MAPS_PER_PD;
/// Most IRQs in one description.
pub const MAX_IRQS: usize = MAX_PDS * MAX_IDS;
/// Most I/O port grants in one description.
pub const MAX_IOPORTS: usize = MAX_PDS * MAX_IOPORTS_PER_PD;
/// `parent` value of a PD without a parent.
const NO_PARENT: u8 = 0xff;

/// Read permission of a map.
pub const PERM_R: u8 = 1;
/// Write permission of a map.
pub const PERM_W: u8 = 2;
/// Execute permission of a map.
pub const PERM_X: u8 = 4;

/// Why a boot description was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends before the data it must hold.
    Truncated,
    /// The magic number is wrong: this is not a boot description.
    BadMagic,
    /// Another format version.
    BadVersion(u32),
    /// A table count exceeds its limit (or there are no PDs).
    BadCount(&'static str),
    /// A field of PD `pd` is invalid.
    BadPd { pd: usize, what: &'static str },
    /// Channel end `id` of PD `pd` is invalid.
    BadEnd {
        pd: usize,
        id: usize,
        what: &'static str,
    },
    /// Map record `index` is invalid.
    BadMap { index: usize, what: &'static str },
    /// IRQ record `index` is invalid.
    BadIrq { index: usize, what: &'static str },
    /// I/O port record `index` is invalid.
    BadIoPort { index: usize, what: &'static str },
}

/// What a map holds; the kernel checks physical placement by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MapKind {
    /// A loadable ELF segment of the program image.
    Elf = 0,
    /// The stack.
    Stack = 1,
    /// The IPC buffer.
    IpcBuffer = 2,
    /// A memory region the tool placed in RAM.
    Region = 3,
    /// A memory region at a fixed physical address (`phys_addr` in the SDF):
    /// device memory or firmware-defined RAM.
    Fixed = 4,
}

impl MapKind {
    fn from_u8(v: u8) -> Option<MapKind> {
        Some(match v {
            0 => MapKind::Elf,
            1 => MapKind::Stack,
            2 => MapKind::IpcBuffer,
            3 => MapKind::Region,
            4 => MapKind::Fixed,
            _ => return None,
        })
    }
}

/// One virtual-to-physical mapping of a PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Map {
    /// First virtual address (page aligned).
    pub vaddr: u64,
    /// First physical address (page aligned).
    pub paddr: u64,
    /// Bytes (a non-zero multiple of the page size).
    pub size: u64,
    /// [`PERM_R`], [`PERM_W`], [`PERM_X`] bits.
    pub perms: u8,
    /// Cacheable (false for device memory).
    pub cached: bool,
    /// What the map holds.
    pub kind: MapKind,
}

/// How an IRQ reaches the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqSource {
    /// An IOAPIC pin.
    IoApic {
        /// IOAPIC index (only 0 exists on q35).
        ioapic: u8,
        /// Pin on that IOAPIC.
        pin: u8,
        /// Level (true) or edge (false) triggered.
        level: bool,
        /// Active low (true) or high (false).
        active_low: bool,
    },
    /// A PCI device's MSI or MSI-X vector.
    Msi {
        /// PCI bus.
        bus: u8,
        /// PCI device (0..32).
        dev: u8,
        /// PCI function (0..8).
        func: u8,
        /// MSI-X table index or MSI vector index.
        handle: u32,
    },
}

/// An interrupt granted to a PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Irq {
    /// Owning PD (index into the PD table).
    pub pd: u8,
    /// The channel id it arrives on.
    pub id: u8,
    /// Microkit vector, `0..NUM_USER_VECTORS`.
    pub vector: u8,
    /// Where it comes from.
    pub source: IrqSource,
}

/// An I/O port range granted to a PD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPort {
    /// Owning PD.
    pub pd: u8,
    /// The grant's id, `0..MAX_IOPORTS_PER_PD`.
    pub id: u8,
    /// First port.
    pub base: u16,
    /// Number of ports (at least 1; `base + size <= 0x10000`).
    pub size: u32,
}

/// One slot of a PD's id space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Nothing is granted on this id.
    None,
    /// One end of a channel.
    Channel {
        /// The PD at the other end.
        peer_pd: u8,
        /// The id of this channel in the peer's id space.
        peer_id: u8,
        /// This end may notify the peer.
        can_notify: bool,
        /// This end may PPC the peer.
        can_ppc: bool,
    },
    /// An interrupt (index into the IRQ table).
    Irq {
        /// Index into the IRQ table.
        irq: u32,
    },
}

/// A contiguous run of records in one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Run {
    /// First record.
    pub first: u32,
    /// Number of records.
    pub count: u32,
}

impl Run {
    /// The record indices.
    pub fn indices(self) -> core::ops::Range<usize> {
        self.first as usize..self.first as usize + self.count as usize
    }
}

/// A protection domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pd {
    name: [u8; MAX_NAME_LEN],
    name_len: u8,
    /// Priority, `0..=MAX_PRIORITY`.
    pub priority: u8,
    /// Passive: runs only on its callers' PPCs after `init`.
    pub passive: bool,
    /// Parent PD index, if this is a child.
    pub parent: Option<u8>,
    /// Id of this PD in its parent's child-id space (0 without a parent).
    pub child_id: u8,
    /// Budget per period, µs.
    pub budget_us: u64,
    /// Period, µs (at least the budget).
    pub period_us: u64,
    /// Entry point.
    pub entry: u64,
    /// Stack size in bytes.
    pub stack_size: u64,
    /// Physical address of the IPC buffer page (also among the maps).
    pub ipc_buffer_paddr: u64,
    /// Maps.
    pub maps: Run,
    /// IRQs.
    pub irqs: Run,
    /// I/O port grants.
    pub ioports: Run,
    /// The id space: channels and IRQs.
    pub ends: [End; MAX_IDS],
}

impl Pd {
    /// A PD with `name` (truncated to [`MAX_NAME_LEN`] bytes) and defaults
    /// elsewhere: priority 0, no parent, default budget and stack, no maps.
    pub fn new(name: &str) -> Pd {
        let mut buf = [0u8; MAX_NAME_LEN];
        let mut len = name.len().min(MAX_NAME_LEN);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        buf[..len].copy_from_slice(&name.as_bytes()[..len]);
        Pd {
            name: buf,
            name_len: len as u8,
            priority: 0,
            passive: false,
            parent: None,
            child_id: 0,
            budget_us: DEFAULT_BUDGET_US,
            period_us: DEFAULT_BUDGET_US,
            entry: 0,
            stack_size: DEFAULT_STACK_SIZE,
            ipc_buffer_paddr: 0,
            maps: Run::default(),
            irqs: Run::default(),
            ioports: Run::default(),
            ends: [End::None; MAX_IDS],
        }
    }

    /// The PD's name (validated UTF-8 by `parse`).
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len as usize]).unwrap_or("?")
    }
}

/// A checked boot description. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct BootDescription<'a> {
    buf: &'a [u8],
    pd_count: usize,
    map_count: usize,
    irq_count: usize,
    ioport_count: usize,
    image_end: u64,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bool(&mut self) -> Result<Option<bool>, DecodeError> {
        Ok(match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })
    }
}

impl<'a> BootDescription<'a> {
    /// Decode and check `buf`. Never panics.
    pub fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::at(buf, 0);
        if r.u64()? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let total_len = r.u32()? as usize;
        let pd_count = r.u32()? as usize;
        let map_count = r.u32()? as usize;
        let irq_count = r.u32()? as usize;
        let ioport_count = r.u32()? as usize;
        let image_end = r.u64()?;
        if pd_count == 0 || pd_count > MAX_PDS {
            return Err(DecodeError::BadCount("protection domains"));
        }
        if map_count > MAX_MAPS {
            return Err(DecodeError::BadCount("maps"));
        }
        if irq_count > MAX_IRQS {
            return Err(DecodeError::BadCount("irqs"));
        }
        if ioport_count > MAX_IOPORTS {
            return Err(DecodeError::BadCount("ioports"));
        }
        if image_end % PAGE_SIZE != 0 {
            return Err(DecodeError::BadCount("image end is not page aligned"));
        }
        let expected = encoded_len(pd_count, map_count, irq_count, ioport_count);
        if total_len != expected {
            return Err(DecodeError::BadCount("total length"));
        }
        if buf.len() < expected {
            return Err(DecodeError::Truncated);
        }
        let desc = BootDescription {
            buf: &buf[..expected],
            pd_count,
            map_count,
            irq_count,
            ioport_count,
            image_end,
        };
        desc.check()?;
        Ok(desc)
    }

    /// Number of PDs.
    pub fn pd_count(&self) -> usize {
        self.pd_count
    }
    /// Number of map records.
    pub fn map_count(&self) -> usize {
        self.map_count
    }
    /// Number of IRQ records.
    pub fn irq_count(&self) -> usize {
        self.irq_count
    }
    /// Number of I/O port records.
    pub fn ioport_count(&self) -> usize {
        self.ioport_count
    }
    /// First physical address above all PD memory the tool placed.
    pub fn image_end(&self) -> u64 {
        self.image_end
    }
    /// Length in bytes of the encoded description.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// Always false: a description has at least one PD.
    pub fn is_empty(&self) -> bool {
        false
    }

    fn offsets(&self) -> (usize, usize, usize, usize) {
        let pds = HEADER_SIZE;
        let maps = pds + self.pd_count * PD_SIZE;
        let irqs = maps + self.map_count * MAP_SIZE;
        let ioports = irqs + self.irq_count * IRQ_SIZE;
        (pds, maps, irqs, ioports)
    }

    /// PD `index`. Panics if `index >= pd_count()` (a caller bug, not input).
    pub fn pd(&self, index: usize) -> Pd {
        assert!(index < self.pd_count);
        self.read_pd(index).expect("checked by parse")
    }
    /// Map record `index`. Panics if out of range.
    pub fn map(&self, index: usize) -> Map {
        assert!(index < self.map_count);
        self.read_map(index).expect("checked by parse")
    }
    /// IRQ record `index`. Panics if out of range.
    pub fn irq(&self, index: usize) -> Irq {
        assert!(index < self.irq_count);
        self.read_irq(index).expect("checked by parse")
    }
    /// I/O port record `index`. Panics if out of range.
    pub fn ioport(&self, index: usize) -> IoPort {
        assert!(index < self.ioport_count);
        self.read_ioport(index).expect("checked by parse")
    }

    fn read_pd(&self, index: usize) -> Result<Pd, DecodeError> {
        let bad = |what| DecodeError::BadPd { pd: index, what };
        let mut r = Reader::at(self.buf, self.offsets().0 + index * PD_SIZE);
        let mut name = [0u8; MAX_NAME_LEN];
        name.copy_from_slice(r.bytes(MAX_NAME_LEN)?);
        let name_len = r.u8()?;
        if name_len as usize > MAX_NAME_LEN
            || core::str::from_utf8(&name[..name_len as usize]).is_err()
        {
            return Err(bad("name"));
        }
        let priority = r.u8()?;
        let passive = r.bool()?.ok_or(bad("passive flag"))?;
        let parent = match r.u8()? {
            NO_PARENT => None,
            p => Some(p),
        };
        let child_id = r.u8()?;
        r.bytes(3)?;
        let budget_us = r.u64()?;
        let period_us = r.u64()?;
        let entry = r.u64()?;
        let stack_size = r.u64()?;
        let ipc_buffer_paddr = r.u64()?;
        let mut run = || -> Result<Run, DecodeError> {
            Ok(Run {
                first: r.u32()?,
                count: r.u32()?,
            })
        };
        let maps = run()?;
        let irqs = run()?;
        let ioports = run()?;
        let mut ends = [End::None; MAX_IDS];
        for (id, end) in ends.iter_mut().enumerate() {
            let bad_end = |what| DecodeError::BadEnd {
                pd: index,
                id,
                what,
            };
            let kind = r.u8()?;
            let flags = r.u8()?;
            let peer_pd = r.u8()?;
            let peer_id = r.u8()?;
            let irq = r.u32()?;
            *end = match kind {
                0 => End::None,
                1 => {
                    if flags & !3 != 0 {
                        return Err(bad_end("flags"));
                    }
                    End::Channel {
                        peer_pd,
                        peer_id,
                        can_notify: flags & 1 != 0,
                        can_ppc: flags & 2 != 0,
                    }
                }
                2 => End::Irq { irq },
                _ => return Err(bad_end("kind")),
            };
        }
        Ok(Pd {
            name,
            name_len,
            priority,
            passive,
            parent,
            child_id,
            budget_us,
            period_us,
            entry,
            stack_size,
            ipc_buffer_paddr,
            maps,
            irqs,
            ioports,
            ends,
        })
    }

    fn read_map(&self, index: usize) -> Result<Map, DecodeError> {
        let bad = |what| DecodeError::BadMap { index, what };
        let mut r = Reader::at(self.buf, self.offsets().1 + index * MAP_SIZE);
        let vaddr = r.u64()?;
        let paddr = r.u64()?;
        let size = r.u64()?;
        let perms = r.u8()?;
        let cached = r.bool()?.ok_or(bad("cached flag"))?;
        let kind = MapKind::from_u8(r.u8()?).ok_or(bad("kind"))?;
        Ok(Map {
            vaddr,
            paddr,
            size,
            perms,
            cached,
            kind,
        })
    }

    fn read_irq(&self, index: usize) -> Result<Irq, DecodeError> {
        let bad = |what| DecodeError::BadIrq { index, what };
        let mut r = Reader::at(self.buf, self.offsets().2 + index * IRQ_SIZE);
        let pd = r.u8()?;
        let id = r.u8()?;
        let kind = r.u8()?;
        let vector = r.u8()?;
        let ioapic = r.u8()?;
        let pin = r.u8()?;
        let level = r.bool()?.ok_or(bad("trigger"))?;
        let active_low = r.bool()?.ok_or(bad("polarity"))?;
        let bus = r.u8()?;
        let dev = r.u8()?;
        let func = r.u8()?;
        r.u8()?;
        let handle = r.u32()?;
        let source = match kind {
            0 => IrqSource::IoApic {
                ioapic,
                pin,
                level,
                active_low,
            },
            1 => IrqSource::Msi {
                bus,
                dev,
                func,
                handle,
            },
            _ => return Err(bad("kind")),
        };
        Ok(Irq {
            pd,
            id,
            vector,
            source,
        })
    }

    fn read_ioport(&self, index: usize) -> Result<IoPort, DecodeError> {
        let mut r = Reader::at(self.buf, self.offsets().3 + index * IOPORT_SIZE);
        let pd = r.u8()?;
        let id = r.u8()?;
        let base = r.u16()?;
        let size = r.u32()?;
        Ok(IoPort { pd, id, base, size })
    }

    fn check_run(run: Run, len: usize) -> bool {
        (run.first as usize)
            .checked_add(run.count as usize)
            .is_some_and(|end| end <= len)
    }

    fn check(&self) -> Result<(), DecodeError> {
        for index in 0..self.map_count {
            let m = self.read_map(index)?;
            let bad = |what| DecodeError::BadMap { index, what };
            if m.size == 0 || m.size % PAGE_SIZE != 0 {
                return Err(bad("size"));
            }
            if m.vaddr % PAGE_SIZE != 0 || m.paddr % PAGE_SIZE != 0 {
                return Err(bad("alignment"));
            }
            if m.vaddr.checked_add(m.size).is_none_or(|end| end > USER_TOP) {
                return Err(bad("virtual range"));
            }
            if m.paddr.checked_add(m.size).is_none() {
                return Err(bad("physical range"));
            }
            if m.perms & PERM_R == 0 || m.perms & !(PERM_R | PERM_W | PERM_X) != 0 {
                return Err(bad("permissions"));
            }
        }
        let mut vectors_used = [false; NUM_USER_VECTORS as usize];
        for index in 0..self.irq_count {
            let irq = self.read_irq(index)?;
            let bad = |what| DecodeError::BadIrq { index, what };
            if irq.pd as usize >= self.pd_count || irq.id as usize >= MAX_IDS {
                return Err(bad("owner"));
            }
            if irq.vector >= NUM_USER_VECTORS {
                return Err(bad("vector"));
            }
            if core::mem::replace(&mut vectors_used[irq.vector as usize], true) {
                return Err(bad("vector used twice"));
            }
            match irq.source {
                IrqSource::IoApic { ioapic, pin, .. } => {
                    if ioapic != 0 || pin >= 24 {
                        return Err(bad("ioapic pin"));
                    }
                }
                IrqSource::Msi { dev, func, .. } => {
                    if dev >= 32 || func >= 8 {
                        return Err(bad("pci address"));
                    }
                }
            }
        }
        for index in 0..self.ioport_count {
            let p = self.read_ioport(index)?;
            let bad = |what| DecodeError::BadIoPort { index, what };
            if p.pd as usize >= self.pd_count || p.id as usize >= MAX_IOPORTS_PER_PD {
                return Err(bad("owner"));
            }
            if p.size == 0 || p.base as u32 + p.size > 0x1_0000 {
                return Err(bad("range"));
            }
        }
        for index in 0..self.pd_count {
            self.check_pd(index)?;
        }
        Ok(())
    }

    fn check_pd(&self, index: usize) -> Result<(), DecodeError> {
        let pd = self.read_pd(index)?;
        let bad = |what| DecodeError::BadPd { pd: index, what };
        if pd.priority > MAX_PRIORITY {
            return Err(bad("priority"));
        }
        if let Some(parent) = pd.parent {
            if parent as usize >= index {
                return Err(bad("parent must precede its child"));
            }
            if pd.child_id as usize >= MAX_CHILD_IDS {
                return Err(bad("child id"));
            }
            for other in 0..index {
                let o = self.read_pd(other)?;
                if o.parent == Some(parent) && o.child_id == pd.child_id {
                    return Err(bad("child id used twice"));
                }
            }
        }
        if pd.budget_us == 0 || pd.budget_us > MAX_BUDGET_US {
            return Err(bad("budget"));
        }
        if pd.period_us < pd.budget_us || pd.period_us > MAX_BUDGET_US {
            return Err(bad("period"));
        }
        if pd.stack_size < MIN_STACK_SIZE
            || pd.stack_size > MAX_STACK_SIZE
            || pd.stack_size % PAGE_SIZE != 0
        {
            return Err(bad("stack size"));
        }
        if pd.entry == 0 || pd.entry >= USER_TOP {
            return Err(bad("entry point"));
        }
        if pd.ipc_buffer_paddr % PAGE_SIZE != 0 || pd.ipc_buffer_paddr == 0 {
            return Err(bad("ipc buffer"));
        }
        if !Self::check_run(pd.maps, self.map_count) || pd.maps.count as usize > MAX_MAPS_PER_PD {
            return Err(bad("map run"));
        }
        if !Self::check_run(pd.irqs, self.irq_count) {
            return Err(bad("irq run"));
        }
        if !Self::check_run(pd.ioports, self.ioport_count)
            || pd.ioports.count as usize > MAX_IOPORTS_PER_PD
        {
            return Err(bad("ioport run"));
        }
        for i in pd.irqs.indices() {
            if self.read_irq(i)?.pd as usize != index {
                return Err(bad("irq run names another PD's irq"));
            }
        }
        for i in pd.ioports.indices() {
            let p = self.read_ioport(i)?;
            if p.pd as usize != index {
                return Err(bad("ioport run names another PD's grant"));
            }
            for j in pd.ioports.indices().filter(|&j| j < i) {
                if self.read_ioport(j)?.id == p.id {
                    return Err(bad("ioport id used twice"));
                }
            }
        }
        for (id, end) in pd.ends.iter().enumerate() {
            let bad_end = |what| DecodeError::BadEnd {
                pd: index,
                id,
                what,
            };
            match *end {
                End::None => {}
                End::Channel {
                    peer_pd,
                    peer_id,
                    can_ppc,
                    ..
                } => {
                    if peer_pd as usize >= self.pd_count || peer_pd as usize == index {
                        return Err(bad_end("peer"));
                    }
                    if peer_id as usize >= MAX_IDS {
                        return Err(bad_end("peer id"));
                    }
                    let peer = self.read_pd(peer_pd as usize)?;
                    match peer.ends[peer_id as usize] {
                        End::Channel {
                            peer_pd: back_pd,
                            peer_id: back_id,
                            can_ppc: back_ppc,
                            ..
                        } if back_pd as usize == index && back_id as usize == id => {
                            if can_ppc && back_ppc {
                                return Err(bad_end("pp on both ends"));
                            }
                        }
                        _ => return Err(bad_end("peer end does not point back")),
                    }
                    if can_ppc && peer.priority <= pd.priority {
                        return Err(bad_end("ppc to a PD of no higher priority"));
                    }
                }
                End::Irq { irq } => {
                    if irq as usize >= self.irq_count {
                        return Err(bad_end("irq index"));
                    }
                    let rec = self.read_irq(irq as usize)?;
                    if rec.pd as usize != index || rec.id as usize != id {
                        return Err(bad_end("irq record does not match"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Length in bytes of a description with these counts.
pub const fn encoded_len(pds: usize, maps: usize, irqs: usize, ioports: usize) -> usize {
    HEADER_SIZE + pds * PD_SIZE + maps * MAP_SIZE + irqs * IRQ_SIZE + ioports * IOPORT_SIZE
}

#[cfg(feature = "alloc")]
pub use encode::{encode, SystemSpec};

#[cfg(feature = "alloc")]
mod encode {
    use super::*;
    use alloc::vec::Vec;

    /// The whole system, as the tool resolved it. The `maps`, `irqs` and
    /// `ioports` runs in each [`Pd`] index these tables.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct SystemSpec {
        /// PDs, parents before children.
        pub pds: Vec<Pd>,
        /// Every map.
        pub maps: Vec<Map>,
        /// Every IRQ.
        pub irqs: Vec<Irq>,
        /// Every I/O port grant.
        pub ioports: Vec<IoPort>,
        /// First physical address above all PD memory.
        pub image_end: u64,
    }

    impl SystemSpec {
        /// Decode a checked description back into a spec (for tests and the
        /// tool's report).
        pub fn from_description(d: &BootDescription<'_>) -> SystemSpec {
            SystemSpec {
                pds: (0..d.pd_count()).map(|i| d.pd(i)).collect(),
                maps: (0..d.map_count()).map(|i| d.map(i)).collect(),
                irqs: (0..d.irq_count()).map(|i| d.irq(i)).collect(),
                ioports: (0..d.ioport_count()).map(|i| d.ioport(i)).collect(),
                image_end: d.image_end(),
            }
        }
    }

    /// Encode `spec`. The result is not checked here; the tool runs
    /// [`BootDescription::parse`] on it before writing an image, so a tool
    /// bug cannot produce a description the kernel would reject.
    pub fn encode(spec: &SystemSpec) -> Vec<u8> {
        let mut out = Vec::with_capacity(encoded_len(
            spec.pds.len(),
            spec.maps.len(),
            spec.irqs.len(),
            spec.ioports.len(),
        ));
        let total = encoded_len(
            spec.pds.len(),
            spec.maps.len(),
            spec.irqs.len(),
            spec.ioports.len(),
        );
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&VERSION.to_le_bytes());
        for n in [
            total,
            spec.pds.len(),
            spec.maps.len(),
            spec.irqs.len(),
            spec.ioports.len(),
        ] {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        out.extend_from_slice(&spec.image_end.to_le_bytes());
        out.resize(HEADER_SIZE, 0);
        for pd in &spec.pds {
            let start = out.len();
            out.extend_from_slice(&pd.name);
            out.push(pd.name_len);
            out.push(pd.priority);
            out.push(pd.passive as u8);
            out.push(pd.parent.unwrap_or(NO_PARENT));
            out.push(pd.child_id);
            out.extend_from_slice(&[0; 3]);
            for v in [
                pd.budget_us,
                pd.period_us,
                pd.entry,
                pd.stack_size,
                pd.ipc_buffer_paddr,
            ] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for run in [pd.maps, pd.irqs, pd.ioports] {
                out.extend_from_slice(&run.first.to_le_bytes());
                out.extend_from_slice(&run.count.to_le_bytes());
            }
            out.resize(start + PD_SIZE - MAX_IDS * END_SIZE, 0);
            for end in &pd.ends {
                let (kind, flags, peer_pd, peer_id, irq) = match *end {
                    End::None => (0u8, 0u8, 0u8, 0u8, 0u32),
                    End::Channel {
                        peer_pd,
                        peer_id,
                        can_notify,
                        can_ppc,
                    } => (
                        1,
                        can_notify as u8 | (can_ppc as u8) << 1,
                        peer_pd,
                        peer_id,
                        0,
                    ),
                    End::Irq { irq } => (2, 0, 0, 0, irq),
                };
                out.extend_from_slice(&[kind, flags, peer_pd, peer_id]);
                out.extend_from_slice(&irq.to_le_bytes());
            }
            debug_assert_eq!(out.len(), start + PD_SIZE);
        }
        for m in &spec.maps {
            out.extend_from_slice(&m.vaddr.to_le_bytes());
            out.extend_from_slice(&m.paddr.to_le_bytes());
            out.extend_from_slice(&m.size.to_le_bytes());
            out.extend_from_slice(&[m.perms, m.cached as u8, m.kind as u8, 0, 0, 0, 0, 0]);
        }
        for irq in &spec.irqs {
            let mut rec = [0u8; IRQ_SIZE];
            rec[0] = irq.pd;
            rec[1] = irq.id;
            rec[3] = irq.vector;
            match irq.source {
                IrqSource::IoApic {
                    ioapic,
                    pin,
                    level,
                    active_low,
                } => {
                    rec[2] = 0;
                    rec[4] = ioapic;
                    rec[5] = pin;
                    rec[6] = level as u8;
                    rec[7] = active_low as u8;
                }
                IrqSource::Msi {
                    bus,
                    dev,
                    func,
                    handle,
                } => {
                    rec[2] = 1;
                    rec[8] = bus;
                    rec[9] = dev;
                    rec[10] = func;
                    rec[12..16].copy_from_slice(&handle.to_le_bytes());
                }
            }
            out.extend_from_slice(&rec);
        }
        for p in &spec.ioports {
            out.extend_from_slice(&[p.pd, p.id]);
            out.extend_from_slice(&p.base.to_le_bytes());
            out.extend_from_slice(&p.size.to_le_bytes());
        }
        debug_assert_eq!(out.len(), total);
        out
    }
}
