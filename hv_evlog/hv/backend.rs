// SPDX-License-Identifier: GPL-2.0

//! The hypercall transport chosen at load (`backend=hv|sim`).
//!
//! Everything above [`crate::hv::hypercall`] sees only [`Transport`]; this is
//! the one place that knows there are two.

use kernel::sync::Arc;

use crate::{
    hv::{hypercall::Transport, trampoline::HvTransport},
    sim::SimBackend,
    tlfs::{BufferIndex, VpIndex},
};

/// The kernel's hypercall trampoline or the simulated hypervisor.
pub(crate) enum Backend {
    /// Microsoft's hypervisor.
    Hv(HvTransport),
    /// The simulator; its writers stop when the last reference goes.
    Sim(Arc<SimBackend>),
}

impl Backend {
    /// Starts what runs beside the hypervisor once the group is set up: the
    /// simulator's synthetic event writers.
    pub(crate) fn start(&self) {
        if let Backend::Sim(sim) = self {
            sim.start();
        }
    }

    /// Whether completion messages reach the module's SINT0 handler: the
    /// simulator's do; on Hyper-V with 7.2, SINT0 belongs to mshv_root
    /// (see `sint0.rs`).
    pub(crate) fn delivers_messages(&self) -> bool {
        matches!(self, Backend::Sim(_))
    }

    /// The simulator, if that is the backend.
    pub(crate) fn sim(&self) -> Option<&Arc<SimBackend>> {
        match self {
            Backend::Sim(sim) => Some(sim),
            Backend::Hv(_) => None,
        }
    }

    /// The simulator's pool ledger; `None` on Microsoft's hypervisor.
    pub(crate) fn sim_ledger(&self) -> Option<crate::sim::model::hypervisor::Ledger> {
        match self {
            Backend::Hv(_) => None,
            Backend::Sim(sim) => Some(sim.state().ledger()),
        }
    }

    /// Makes new buffer `index` serve `cpu`. Microsoft's hypervisor assigns
    /// a local buffer to a processor of its proximity domain itself; the
    /// simulator stands in for that assignment by being told (as at load,
    /// from the plan).
    pub(crate) fn assign(&self, index: BufferIndex, cpu: u32) -> kernel::error::Result {
        match self {
            Backend::Hv(_) => Ok(()),
            Backend::Sim(sim) => sim.state().assign(index.0, cpu),
        }
    }

    /// The virtual processor index the hypervisor knows Linux CPU `cpu` by.
    pub(crate) fn vp_index(&self, cpu: u32) -> Option<VpIndex> {
        match self {
            Backend::Hv(_) => crate::hv::trampoline::vp_index(cpu),
            // The simulator numbers its processors as Linux does.
            Backend::Sim(_) => Some(VpIndex(cpu)),
        }
    }
}

impl Transport for Backend {
    unsafe fn hypercall(&self, control: u64, input_pa: u64, output_pa: u64) -> u64 {
        match self {
            // SAFETY: our caller upholds the `Transport` contract, which is
            // the same for both.
            Backend::Hv(hv) => unsafe { hv.hypercall(control, input_pa, output_pa) },
            // SAFETY: as above.
            Backend::Sim(sim) => unsafe { sim.state().hypercall(control, input_pa, output_pa) },
        }
    }
}
