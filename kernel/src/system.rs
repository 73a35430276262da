//! Building the system from the boot description: checking every map,
//! building each PD's address space, and setting up TCBs, I/O port grants
//! and interrupt routing.
//!
//! The description is untrusted input: `BootDescription::parse` checks its
//! structure, and this module checks it against the machine (RAM, kernel
//! memory, overlaps). Any problem is a [`BootError`], never a panic.

use core::fmt;

use mantle_abi::bootdesc::{
    BootDescription, DecodeError, End, IrqSource, Map, MapKind, Pd, PERM_W, PERM_X, VERSION,
};
use mantle_abi::layout::{
    map_limit, stack_bottom, BOOTDESC_PHYS, IPC_BUFFER_VADDR, KERNEL_PHYS_BASE, PD_MEMORY_PHYS,
    STACK_TOP, USER_TOP,
};

use crate::arch;
use crate::arch::paging::{self, MapError, PageFlags};
use crate::arch::vspace::VSpace;
use crate::bootinfo::MemMap;
use crate::child::initial_regs;
use crate::kernel::Kernel;
use crate::memory::FrameAllocator;
use crate::pd::{IoGrant, PdId, ThreadState, NONE};

pub use mantle_kerncore::boot::BootError;

/// Formats a [`BootError`] with the PD's name.
pub struct BootErrorDisplay<'a> {
    /// The error.
    pub error: BootError,
    /// The description (for names).
    pub desc: &'a BootDescription<'a>,
}

impl fmt::Display for BootErrorDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pd) = self.error.pd {
            write!(f, "PD '{}': ", self.desc.pd(pd).name())?;
        }
        if let Some(map) = self.error.map {
            let m = self.desc.map(map);
            write!(
                f,
                "map {} (vaddr {:#x}, paddr {:#x}, size {:#x}): ",
                map, m.vaddr, m.paddr, m.size
            )?;
        }
        f.write_str(self.error.what)?;
        if let (Some(map), Some((pd, other))) = (self.error.map, self.error.other) {
            let (a, b) = (self.desc.map(map), self.desc.map(other));
            write!(
                f,
                " PD '{}' map {} (vaddr {:#x}, paddr {:#x}, size {:#x}); both map physical {:#x}..{:#x}",
                self.desc.pd(pd).name(),
                other,
                b.vaddr,
                b.paddr,
                b.size,
                a.paddr.max(b.paddr),
                (a.paddr + a.size).min(b.paddr + b.size)
            )?;
        }
        Ok(())
    }
}

/// Formats a [`DecodeError`] for the console.
pub struct DecodeErrorDisplay(pub DecodeError);

impl fmt::Display for DecodeErrorDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            DecodeError::Truncated => f.write_str("truncated"),
            DecodeError::BadMagic => write!(
                f,
                "no boot description at {:#x} (bad magic number)",
                BOOTDESC_PHYS
            ),
            DecodeError::BadVersion(v) => {
                write!(f, "format version {}, this kernel reads {}", v, VERSION)
            }
            DecodeError::BadCount(what) => write!(f, "bad count or size: {}", what),
            DecodeError::BadPd { pd, what } => write!(f, "PD {}: {}", pd, what),
            DecodeError::BadEnd { pd, id, what } => write!(f, "PD {} id {}: {}", pd, id, what),
            DecodeError::BadMap { index, what } => write!(f, "map {}: {}", index, what),
            DecodeError::BadIrq { index, what } => write!(f, "IRQ {}: {}", index, what),
            DecodeError::BadIoPort { index, what } => {
                write!(f, "I/O port grant {}: {}", index, what)
            }
        }
    }
}

/// Physical memory the kernel owns besides the page-table pool.
fn kernel_owned(kernel_end: u64) -> [(u64, u64); 4] {
    let [a, b] = arch::kernel_device_ranges();
    [
        (KERNEL_PHYS_BASE, kernel_end),
        (BOOTDESC_PHYS, PD_MEMORY_PHYS),
        a,
        b,
    ]
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Where a map may be placed in physical memory.
fn check_placement(m: &Map, limits: &PlacementLimits<'_>) -> Result<(), &'static str> {
    let PlacementLimits {
        ram,
        kernel_end,
        max_phys,
        image_end,
    } = *limits;
    let end = m.paddr + m.size; // no overflow: checked by parse
    match m.kind {
        MapKind::Elf | MapKind::Stack | MapKind::IpcBuffer | MapKind::Region => {
            if m.paddr < PD_MEMORY_PHYS || end > image_end {
                return Err("physical range outside the PD memory of the image");
            }
            if !ram.is_ram(m.paddr, end) {
                return Err("physical range is not RAM");
            }
        }
        MapKind::Fixed => {
            if end > max_phys {
                return Err("physical range beyond the CPU's physical address width");
            }
            if kernel_owned(kernel_end)
                .iter()
                .any(|&k| overlaps(k, (m.paddr, end)))
            {
                return Err("physical range overlaps kernel memory");
            }
        }
    }
    Ok(())
}

/// Where a map may be placed in the PD's virtual address space: the stack
/// and IPC buffer at their layout positions, everything else below the
/// guard page under the stack.
fn check_vaddr(m: &Map, stack_size: u64) -> Result<(), &'static str> {
    let end = m.vaddr + m.size;
    let ok = match m.kind {
        MapKind::Stack => m.vaddr >= stack_bottom(stack_size) && end <= STACK_TOP,
        MapKind::IpcBuffer => m.vaddr == IPC_BUFFER_VADDR && end == USER_TOP,
        _ => end <= map_limit(stack_size),
    };
    if ok {
        Ok(())
    } else {
        Err("virtual range outside its place in the PD layout")
    }
}

/// Build every PD from `desc`. On success the PDs are ready to run.
pub fn load(
    k: &mut Kernel,
    desc: &BootDescription<'_>,
    ram: &MemMap,
    kernel_end: u64,
) -> Result<(), BootError> {
    let global = BootError::global;
    if desc.image_end() < PD_MEMORY_PHYS {
        return Err(global("image end lies below PD memory"));
    }
    mantle_kerncore::boot::check_maps(desc)?;
    let max_phys = 1u64 << arch::phys_addr_bits().min(52);
    let mut frames = FrameAllocator::new(desc.image_end(), ram);
    let now = arch::rdtsc();
    k.count = desc.pd_count();
    k.spaces
        .init(arch::vspace::Scheme::detect(), &mut frames)
        .ok_or(global("out of RAM for page tables above the image"))?;
    check_ioports(desc)?;
    let limits = PlacementLimits {
        ram,
        kernel_end,
        max_phys,
        image_end: desc.image_end(),
    };
    for i in 0..desc.pd_count() {
        let pd = desc.pd(i);
        let space = build_space(desc, i, &pd, &limits, &mut frames)?;
        k.spaces.set(i, space);
        init_pd(k, desc, i, &pd, now);
    }
    // Fixed maps must also miss the page tables just built.
    let pool = frames.used();
    for i in 0..desc.pd_count() {
        for index in desc.pd(i).maps.indices() {
            let m = desc.map(index);
            if m.kind == MapKind::Fixed && overlaps(pool, (m.paddr, m.paddr + m.size)) {
                return Err(BootError::map(
                    i,
                    index,
                    "physical range overlaps kernel page tables",
                ));
            }
        }
    }
    route_irqs(k, desc)?;
    for i in 0..desc.pd_count() {
        k.make_ready(i);
    }
    Ok(())
}

/// What physical placement is allowed, for [`check_placement`].
struct PlacementLimits<'a> {
    ram: &'a MemMap,
    kernel_end: u64,
    max_phys: u64,
    image_end: u64,
}

/// Check and map every map of PD `i` into a new address space.
fn build_space(
    desc: &BootDescription<'_>,
    i: PdId,
    pd: &Pd,
    limits: &PlacementLimits<'_>,
    frames: &mut FrameAllocator<'_>,
) -> Result<VSpace, BootError> {
    let pml4 = paging::new_address_space(frames).ok_or(BootError::pd(
        i,
        "out of RAM for page tables above the image",
    ))?;
    let mut space = VSpace::new(pml4);
    let mut ipc_mapped = false;
    for index in pd.maps.indices() {
        let m = desc.map(index);
        check_placement(&m, limits)
            .and_then(|()| check_vaddr(&m, pd.stack_size))
            .map_err(|what| BootError::map(i, index, what))?;
        if m.kind == MapKind::IpcBuffer && m.paddr == pd.ipc_buffer_paddr {
            ipc_mapped = true;
        }
        let flags = PageFlags {
            write: m.perms & PERM_W != 0,
            execute: m.perms & PERM_X != 0,
            cached: m.cached,
        };
        paging::map_range(frames, pml4, m.vaddr, m.paddr, m.size, flags).map_err(|e| {
            let what = match e {
                MapError::Overlap => "overlaps another map of the PD",
                MapError::OutOfMemory => "out of RAM for page tables above the image",
            };
            BootError::map(i, index, what)
        })?;
        space.track(m.vaddr, m.size);
    }
    if !ipc_mapped {
        return Err(BootError::pd(
            i,
            "IPC buffer is not mapped at the IPC buffer address",
        ));
    }
    Ok(space)
}

/// Set up PD `i`'s control block and scheduling context at time `now`.
fn init_pd(k: &mut Kernel, desc: &BootDescription<'_>, i: PdId, pd: &Pd, now: u64) {
    let t = &mut k.tcbs[i];
    t.set_name(pd.name());
    t.priority = pd.priority;
    t.passive = pd.passive;
    t.ipc_paddr = pd.ipc_buffer_paddr;
    t.stack_size = pd.stack_size;
    t.ends = pd.ends;
    t.regs = initial_regs(pd.entry);
    t.state = ThreadState::Ready;
    t.parent = pd.parent.map(|p| p as PdId);
    t.child_id = pd.child_id;
    for index in pd.ioports.indices() {
        let p = desc.ioport(index);
        t.ioports[p.id as usize] = IoGrant {
            base: p.base,
            size: p.size,
        };
        let ports = p.base as u32..p.base as u32 + p.size;
        if ports.start < arch::COM1_PORTS.end && arch::COM1_PORTS.start < ports.end {
            crate::kprintln!(
                "PD '{}' drives COM1; kernel output continues on the debug console (port 0xe9)",
                pd.name()
            );
            arch::console_use_debugcon();
        }
    }
    for (id, end) in pd.ends.iter().enumerate() {
        if let End::Irq { irq } = *end {
            t.irq_line[id] = desc.irq(irq as usize).vector;
        }
    }
    if let Some(parent) = pd.parent {
        k.tcbs[parent as usize].children[pd.child_id as usize] = i as u8;
    }
    k.sched
        .init_pd(i, pd.priority, pd.budget_us, pd.period_us, now);
}

/// No I/O port grant may cover a port the kernel keeps
/// (`arch::KERNEL_PORTS`).
fn check_ioports(desc: &BootDescription<'_>) -> Result<(), BootError> {
    for i in 0..desc.pd_count() {
        for index in desc.pd(i).ioports.indices() {
            let p = desc.ioport(index);
            let ports = p.base as u32..p.base as u32 + p.size;
            if arch::KERNEL_PORTS
                .iter()
                .any(|k| ports.start < k.end && k.start < ports.end)
            {
                return Err(BootError::pd(
                    i,
                    "I/O port grant covers ports the kernel keeps (8259 PIC, debug console 0xe9)",
                ));
            }
        }
    }
    Ok(())
}

/// Program the IOAPIC for every pin IRQ and record every line's owner.
fn route_irqs(k: &mut Kernel, desc: &BootDescription<'_>) -> Result<(), BootError> {
    let mut pins_used = [false; 256];
    for index in 0..desc.irq_count() {
        let irq = desc.irq(index);
        let line = &mut k.irqs.lines[irq.vector as usize];
        line.owner = irq.pd;
        line.id = irq.id;
        line.pin = NONE;
        if let IrqSource::IoApic {
            pin,
            level,
            active_low,
            ..
        } = irq.source
        {
            if core::mem::replace(&mut pins_used[pin as usize], true) {
                return Err(BootError::pd(
                    irq.pd as PdId,
                    "IRQ on an IOAPIC pin that another IRQ already uses",
                ));
            }
            if !arch::irq_pin_route(pin, irq.vector, level, active_low) {
                return Err(BootError::pd(
                    irq.pd as PdId,
                    "IRQ on an IOAPIC pin that does not exist",
                ));
            }
            // A level-triggered pin stays asserted until the driver has
            // served the device, so it is masked while in service. An edge
            // on a masked IOAPIC pin is lost, so edge pins stay unmasked and
            // a repeat is held as pending, as for MSI.
            if level {
                line.pin = pin;
            }
        }
    }
    Ok(())
}
