// SPDX-License-Identifier: GPL-2.0

//! A snapshot of the online NUMA topology, read from the kernel.
//!
//! The placement policy in [`crate::hv_evlog_numa`] is pure; this file is the
//! only place that reads kernel NUMA state. It uses the kernel's own tables
//! (the online/memory node masks, `node_to_cpumask_map`, `__node_distance`,
//! `node_to_pxm`) rather than guessing from CPU numbers, and takes the CPU
//! hotplug read lock so the CPU lists are consistent with each other.
//!
//! CPUs brought online after the snapshot are not served; the group would
//! have to grow buffers for them, which the hypervisor allows but this
//! module does not do yet.

use core::{
    mem::size_of,
    sync::atomic::{AtomicUsize, Ordering},
};

use kernel::{bindings, cpu::CpuId, cpumask::Cpumask, fmt, prelude::*};

use crate::{
    hv_evlog_numa::{Node, PlanError, Topology},
    tlfs::Pxm,
};

/// A NUMA node id below `nr_node_ids`: checked once where it enters (the
/// plan, a page's node, a CPU's node), so that the kernel tables indexed by
/// it never see an id past their end, and so that it cannot be passed where
/// a proximity domain ([`Pxm`]) is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NodeId(u32);

impl NodeId {
    /// `id`, if it is below `nr_node_ids`.
    pub(crate) fn new(id: u32) -> Option<Self> {
        (id < nr_node_ids()).then_some(Self(id))
    }

    /// `id` from the placement plan, which took it from the kernel's tables
    /// at load: failing here is a bug, said in one dmesg line.
    pub(crate) fn of_plan(id: u32) -> Result<Self> {
        Self::new(id).ok_or_else(|| {
            pr_err!(
                "placement: node {id} is past nr_node_ids ({})\n",
                nr_node_ids()
            );
            EINVAL
        })
    }

    /// The id as the kernel's `int nid`.
    pub(crate) fn as_nid(self) -> i32 {
        // Below `nr_node_ids <= MAX_NUMNODES`, so it fits.
        self.0 as i32
    }

    /// The id as a number.
    pub(crate) fn as_u32(self) -> u32 {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One online node as recorded in a [`Snapshot`].
struct NodeRec {
    id: u32,
    pxm: u32,
    cpus: core::ops::Range<usize>,
    has_memory: bool,
}

/// The online nodes, their CPUs, memory and distances at one moment.
pub(crate) struct Snapshot {
    nodes: KVec<NodeRec>,
    cpus: KVec<u32>,
    distance: KVec<u8>,
}

/// Holds `cpus_read_lock()` for as long as it lives: no CPU comes or goes
/// meanwhile.
pub(crate) struct CpusReadGuard;

impl CpusReadGuard {
    pub(crate) fn lock() -> Self {
        // SAFETY: may sleep; called from process context (module init) with
        // no spinlock held. Released exactly once by `Drop`.
        unsafe { bindings::cpus_read_lock() };
        CpusReadGuard
    }
}

impl Drop for CpusReadGuard {
    fn drop(&mut self) {
        // SAFETY: paired with the `cpus_read_lock()` in `lock()`.
        unsafe { bindings::cpus_read_unlock() };
    }
}

/// Whether `node` is in the kernel's node mask for `state` (`node_state()`).
fn node_state(node: u32, state: bindings::node_states) -> bool {
    const BITS_PER_WORD: u32 = usize::BITS;
    const WORDS: usize = size_of::<bindings::nodemask_t>() / size_of::<usize>();

    if node >= bindings::MAX_NUMNODES {
        return false;
    }
    // `BITS_PER_WORD` is a power of two; shifts keep the division-free path.
    let word = (node >> BITS_PER_WORD.trailing_zeros()) as usize;
    let bit = node & (BITS_PER_WORD - 1);
    if word >= WORDS {
        return false;
    }
    let mask = (&raw mut bindings::node_states)
        .cast::<bindings::nodemask_t>()
        .wrapping_add(state as usize)
        .cast::<usize>()
        .wrapping_add(word);
    // SAFETY: `node_states` is an array of `NR_NODE_STATES` node masks and
    // `state` is one of its indices (a `node_states` constant); `word` is
    // below the words of one mask (checked above), so `mask` points into the
    // static and is aligned for a `usize` (the masks are arrays of `unsigned
    // long`). The kernel changes the masks only with atomic bit operations
    // (`node_set_state()`), so an atomic load is the right way to read one
    // word concurrently.
    let word = unsafe { AtomicUsize::from_ptr(mask) }.load(Ordering::Relaxed);
    word & (1 << bit) != 0
}

/// Whether `node` is a node id that currently has memory (`N_MEMORY`).
///
/// Allocating on a node outside that set is refused by the page allocator's
/// contract (`alloc_pages_node()` wants a valid, online node), and an id past
/// `MAX_NUMNODES` would index past the node data.
pub(crate) fn node_has_memory(node: NodeId) -> bool {
    node_state(node.0, bindings::node_states_N_MEMORY)
}

fn nr_node_ids() -> u32 {
    // SAFETY: set once during boot, read-only afterwards.
    unsafe { (&raw const bindings::nr_node_ids).read() }
}

fn node_cpumask(node: u32) -> &'static Cpumask {
    // `node_to_cpumask_map` is `cpumask_var_t[MAX_NUMNODES]`: an array of
    // masks, or with CPUMASK_OFFSTACK (distribution kernels with a large
    // NR_CPUS) an array of pointers to masks allocated at boot. The
    // out-of-line `cpumask_of_node()` exists only with DEBUG_PER_CPU_MAPS, so
    // the entry is read here in both shapes.
    let index = node as usize;
    // SAFETY: `node_to_cpumask_map` is a kernel global with one entry per
    // possible node (`node < nr_node_ids <= MAX_NUMNODES`, checked by every
    // caller), set up at boot (`setup_node_to_cpumask_map()`) before any
    // module loads and never freed or reassigned afterwards; the mask it
    // points to lives for the kernel's lifetime.
    unsafe {
        let map = &raw const bindings::node_to_cpumask_map;
        #[cfg(CONFIG_CPUMASK_OFFSTACK)]
        let mask = (*map)[index].cast_const();
        #[cfg(not(CONFIG_CPUMASK_OFFSTACK))]
        let mask = (*map)[index].as_ptr();
        Cpumask::from_raw(mask)
    }
}

fn online_cpumask() -> &'static Cpumask {
    // SAFETY: `__cpu_online_mask` is a kernel global that lives forever;
    // the caller holds the CPU hotplug read lock while testing it.
    unsafe { Cpumask::from_raw(&raw const bindings::__cpu_online_mask) }
}

/// Whether `cpu` is online; stable while `_cpus_stable` is held.
pub(crate) fn cpu_online(_cpus_stable: &CpusReadGuard, cpu: CpuId) -> bool {
    online_cpumask().test(cpu)
}

/// The node `cpu` belongs to (0 if no node's mask has it). Reads the
/// kernel's node masks without the CPU hotplug lock: the CPU hotplug
/// callbacks, which hold it for writing, call it.
pub(crate) fn node_of_cpu(cpu: CpuId) -> NodeId {
    NodeId(
        (0..nr_node_ids())
            .filter(|&n| node_state(n, bindings::node_states_N_ONLINE))
            .find(|&n| node_cpumask(n).test(cpu))
            .unwrap_or(0),
    )
}

/// Whether `cpu` is active: online and taking work. A CPU leaves the active
/// mask first on its way down and enters it last on its way up.
pub(crate) fn cpu_active(cpu: CpuId) -> bool {
    // SAFETY: `__cpu_active_mask` is a kernel global that lives forever; a
    // racy test of one bit is what `cpu_active()` does too.
    unsafe { Cpumask::from_raw(&raw const bindings::__cpu_active_mask) }.test(cpu)
}

/// Pages of RAM present on `node` (`node_present_pages()`).
pub(crate) fn present_pages(node: NodeId) -> u64 {
    // SAFETY: `node_data` has an entry for every possible node id below
    // `nr_node_ids` (a `NodeId` is); entries of online nodes point at their
    // `pglist_data`, which lives as long as the node. A null entry is
    // checked.
    unsafe {
        let data = (&raw const bindings::node_data)
            .cast::<*mut bindings::pglist_data>()
            .add(node.0 as usize)
            .read();
        data.as_ref().map_or(0, |d| d.node_present_pages as u64)
    }
}

/// The online node whose proximity domain is `pxm`.
pub(crate) fn node_of_pxm(pxm: Pxm) -> Option<NodeId> {
    (0..nr_node_ids())
        .map(NodeId)
        .filter(|&n| node_state(n.0, bindings::node_states_N_ONLINE))
        .find(|&n| pxm_of(n) == pxm)
}

/// The proximity domain of `node`, or the node id without an SRAT entry.
pub(crate) fn pxm_of(node: NodeId) -> Pxm {
    // SAFETY: `node_to_pxm` only reads the ACPI node→PXM table.
    let pxm = unsafe { bindings::node_to_pxm(node.as_nid()) };
    // Without an SRAT entry there is no PXM; the node id is then the only
    // stable name the hypervisor could have been told about.
    Pxm(u32::try_from(pxm).unwrap_or(node.0))
}

fn distance(a: u32, b: u32) -> u8 {
    // SAFETY: `__node_distance` reads the SLIT copy for two node ids; both
    // are below `nr_node_ids`.
    let d = unsafe { bindings::__node_distance(a as i32, b as i32) };
    u8::try_from(d).unwrap_or(u8::MAX)
}

impl Snapshot {
    /// Whether `cpu` was online when the snapshot was read.
    pub(crate) fn had_online(&self, cpu: u32) -> bool {
        self.cpus.contains(&cpu)
    }

    /// Reads the online nodes and CPUs now.
    pub(crate) fn read() -> Result<Self> {
        let _cpus_stable = CpusReadGuard::lock();
        let nr_cpus = kernel::cpu::nr_cpu_ids();
        let mut snap = Snapshot {
            nodes: KVec::new(),
            cpus: KVec::new(),
            distance: KVec::new(),
        };
        for id in (0..nr_node_ids()).filter(|&n| node_state(n, bindings::node_states_N_ONLINE)) {
            let start = snap.cpus.len();
            let mask = node_cpumask(id);
            for cpu in 0..nr_cpus {
                // SAFETY: `cpu < nr_cpu_ids`.
                let c = unsafe { CpuId::from_u32_unchecked(cpu) };
                if mask.test(c) && online_cpumask().test(c) {
                    snap.cpus.push(cpu, GFP_KERNEL)?;
                }
            }
            let rec = NodeRec {
                id,
                pxm: pxm_of(NodeId(id)).0,
                cpus: start..snap.cpus.len(),
                has_memory: node_has_memory(NodeId(id)),
            };
            snap.nodes.push(rec, GFP_KERNEL)?;
        }
        for a in &snap.nodes {
            for b in &snap.nodes {
                snap.distance.push(distance(a.id, b.id), GFP_KERNEL)?;
            }
        }
        Ok(snap)
    }

    /// The nodes in the form the placement policy takes.
    pub(crate) fn nodes(&self) -> Result<KVec<Node<'_>>> {
        let mut out = KVec::with_capacity(self.nodes.len(), GFP_KERNEL)?;
        for n in &self.nodes {
            let node = Node {
                id: n.id,
                pxm: n.pxm,
                cpus: &self.cpus[n.cpus.clone()],
                has_memory: n.has_memory,
            };
            out.push(node, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// The validated topology over `nodes` (from [`Self::nodes`]).
    pub(crate) fn topology<'a>(
        &'a self,
        nodes: &'a [Node<'a>],
    ) -> core::result::Result<Topology<'a>, PlanError> {
        Topology::new(nodes, &self.distance)
    }
}
