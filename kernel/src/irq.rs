//! Device interrupts: delivery as notifications, masking until IRQ_ACK.
//!
//! A level-triggered IOAPIC pin is masked when it fires and unmasked on
//! acknowledgement. An edge-triggered pin must stay unmasked (the IOAPIC
//! drops an edge on a masked pin), and an MSI cannot be masked by the
//! kernel (the driver owns the device): for those the kernel keeps an "in
//! service" flag instead and holds further arrivals as one pending
//! interrupt, delivered on the acknowledgement. Either way a PD sees at
//! most one interrupt per acknowledgement and none is lost.

use core::sync::atomic::{AtomicU64, Ordering};

use mantle_abi::bootdesc::End;
use mantle_abi::layout::USER_VECTOR_BASE;
use mantle_abi::limits::{MAX_IDS, NUM_USER_VECTORS};
use mantle_abi::syscall::Status;

use crate::arch;
use crate::kernel::Kernel;
use crate::pd::{PdId, NONE};

/// One interrupt line (by user vector).
#[derive(Clone, Copy, Debug)]
pub struct IrqLine {
    /// Owning PD, or [`NONE`].
    pub owner: u8,
    /// Channel id in the owner's id space.
    pub id: u8,
    /// IOAPIC pin masked while in service (level-triggered), or [`NONE`]
    /// for an edge-triggered pin or an MSI.
    pub pin: u8,
    /// Delivered and not yet acknowledged (edge or MSI).
    pub in_service: bool,
    /// Arrived again while in service (edge or MSI).
    pub held: bool,
}

/// Interrupt lines by user vector.
pub struct IrqTable {
    /// Lines, indexed by SDF vector.
    pub lines: [IrqLine; NUM_USER_VECTORS as usize],
}

impl IrqTable {
    /// No lines.
    pub const fn new() -> Self {
        IrqTable {
            lines: [IrqLine {
                owner: NONE,
                id: 0,
                pin: NONE,
                in_service: false,
                held: false,
            }; NUM_USER_VECTORS as usize],
        }
    }
}

/// Interrupts that arrived on no PD's vector.
static STRAY: AtomicU64 = AtomicU64::new(0);

/// A device interrupt arrived on a vector nobody uses (see
/// `arch::STRAY_DEVICE_MARK`): count and acknowledge it.
pub fn stray_interrupt() {
    STRAY.fetch_add(1, Ordering::Relaxed);
    arch::end_of_interrupt();
}

/// Stray interrupts so far.
pub fn stray_count() -> u64 {
    STRAY.load(Ordering::Relaxed)
}

impl Kernel {
    /// Handle hardware interrupt `vector` (from user or idle).
    pub fn interrupt(&mut self, vector: u8) {
        if vector == arch::TIMER_VECTOR {
            self.timer_tick();
            arch::end_of_interrupt();
            return;
        }
        if arch::is_spurious(vector) {
            return;
        }
        let index = vector.wrapping_sub(USER_VECTOR_BASE) as usize;
        match self.irqs.lines.get_mut(index) {
            Some(line) if line.owner != NONE => {
                let (owner, id) = (line.owner as PdId, line.id);
                let deliver = if line.pin != NONE {
                    arch::irq_pin_set_masked(line.pin, true);
                    true
                } else if line.in_service {
                    line.held = true;
                    false
                } else {
                    line.in_service = true;
                    true
                };
                if deliver {
                    self.signal(owner, id);
                }
            }
            // Nobody's vector (the masked 8259's, an unassigned one, or one
            // a device made up): count it and acknowledge it, so that an
            // in-service bit never blocks the timer or a PD's interrupts.
            _ => {
                STRAY.fetch_add(1, Ordering::Relaxed);
            }
        }
        arch::end_of_interrupt();
    }

    /// IRQ_ACK on channel `ch` of `pd`.
    pub fn irq_ack(&mut self, pd: PdId, ch: u64) -> Result<(), Status> {
        if ch >= MAX_IDS as u64 {
            return Err(Status::NoSuchChannel);
        }
        let index = self.tcbs[pd].irq_line[ch as usize];
        if index == NONE {
            return Err(match self.tcbs[pd].ends[ch as usize] {
                End::Channel { .. } => Status::NotAnIrq,
                // (An IRQ end always has a line: `system::init_pd`.)
                End::Irq { .. } | End::None => Status::NoSuchChannel,
            });
        }
        let line = &mut self.irqs.lines[index as usize];
        if line.pin != NONE {
            arch::irq_pin_set_masked(line.pin, false);
        } else if line.held {
            line.held = false;
            let id = line.id;
            self.signal(pd, id);
        } else {
            line.in_service = false;
        }
        Ok(())
    }
}
