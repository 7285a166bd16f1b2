// SPDX-License-Identifier: GPL-2.0

//! The group's buffer table: each buffer by index, with its pages, whom it
//! serves and how userspace and a resize hold it.

use kernel::prelude::*;

use crate::{
    platform::mm,
    platform::topology::NodeId,
    policy::{live::Served, snapshot},
    tlfs::{BufferHeader, BufferIndex, Pfn},
    uapi::{cpu_in, CPU_WORDS},
};

/// One created buffer and, once mapped, its pages.
pub(super) struct Buffer {
    pub(super) index: BufferIndex,
    /// Whether the hypervisor mapped it (so teardown must unmap it).
    pub(super) mapped: bool,
    /// Its pages; empty unless mapped and every page number checked, and
    /// empty again once revoked (`Group::unmap_revoked`), before the hypervisor
    /// is asked to take it back: nothing reads or maps them after that.
    pub(super) pfns: KVec<u64>,
    /// Its pages were revoked and the hypervisor asked to take it back.
    pub(super) revoked: bool,
    /// The CPU it serves, its proximity domain and the node of its pool
    /// (`None` for the hypervisor's own `type=system` buffers).
    pub(super) serves: Option<Served>,
    /// Taken out of the rotation by a resize (unmapped from the
    /// hypervisor), waiting for the last userspace mapping to go.
    pub(super) retired: bool,
    /// Userspace mappings (vmas) covering it; it is not deleted while any.
    pub(super) user_maps: u32,
}

impl Buffer {
    pub(super) fn new(index: BufferIndex, serves: Option<Served>, mapped: bool) -> Self {
        Buffer {
            index,
            mapped,
            pfns: KVec::new(),
            revoked: false,
            serves,
            retired: false,
            user_maps: 0,
        }
    }

    /// Whether the table shows it: once mapped (its pages known; only then
    /// can userspace map it), and on its way out (revoked, retired) while a
    /// mapping may still cover it. A buffer being created is not shown, so
    /// a reader never meets one it cannot map.
    pub(super) fn shown(&self) -> bool {
        self.retired || self.revoked || !self.pfns.is_empty()
    }

    /// Its live header, read from its first page (`None` before it has
    /// pages, or if the writer never held still); the caller holds the
    /// table's lock, so the buffer is not deleted meanwhile.
    pub(super) fn header(&self) -> Option<BufferHeader> {
        snapshot::snapshot(&mm::HeaderPage(*self.pfns.first()?))
    }

    /// The node all its pages are on, if they share one.
    pub(super) fn pages_node(&self) -> Option<u32> {
        let mut nodes = self
            .pfns
            .iter()
            .map(|&p| mm::node_of_pfn(Pfn(p)).map(NodeId::as_u32));
        let first = nodes.next()??;
        nodes.all(|n| n == Some(first)).then_some(first)
    }
}

/// The buffers by index and what describes the table as a whole.
pub(super) struct Table {
    /// `max_buffers` slots; `slots[i]` is buffer `i` if it exists.
    pub(super) slots: KVec<Option<Buffer>>,
    /// Bumped on every change a reader of the table must see.
    pub(super) generation: u32,
    /// Served CPUs that are offline (CPU hotplug), a bit per CPU id below
    /// 1024; kept here, not with the served set, so that describing a buffer
    /// never waits for a resize.
    pub(super) offline: [u64; CPU_WORDS],
}

impl Table {
    pub(super) fn get(&self, index: BufferIndex) -> Option<&Buffer> {
        self.slots.get(index.0 as usize)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, index: BufferIndex) -> Option<&mut Buffer> {
        self.slots.get_mut(index.0 as usize)?.as_mut()
    }

    /// Empties buffer `index`'s slot (deleted, or never to be).
    pub(super) fn remove(&mut self, index: BufferIndex) {
        if let Some(slot) = self.slots.get_mut(index.0 as usize) {
            *slot = None;
        }
    }

    /// Puts `b` in its slot (free: the caller planned it so).
    pub(super) fn insert(&mut self, b: Buffer) {
        if let Some(slot) = self.slots.get_mut(b.index.0 as usize) {
            *slot = Some(b);
        }
        self.changed();
    }

    pub(super) fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Whether `cpu` is marked offline.
    pub(super) fn is_offline(&self, cpu: u32) -> bool {
        cpu_in(&self.offline, cpu)
    }

    /// Marks `cpu` offline or online.
    pub(super) fn set_offline(&mut self, cpu: u32, offline: bool) {
        let (w, b) = (cpu as usize / 64, cpu % 64);
        if let Some(x) = self.offline.get_mut(w) {
            if offline {
                *x |= 1 << b;
            } else {
                *x &= !(1 << b);
            }
        }
        self.changed();
    }

    /// Buffers in the hypervisor's rotation (not retired).
    pub(super) fn active(&self) -> u32 {
        self.slots
            .iter()
            .flatten()
            .filter(|b| b.shown() && !b.retired)
            .count() as u32
    }
}
