// SPDX-License-Identifier: GPL-2.0

//! NUMA topology and buffer placement (pure, host-tested).
//!
//! Turns the online NUMA topology into a placement plan for *local* event log
//! buffers: which buffer index serves which CPU, whose node memory backs it and
//! which proximity domain the hypervisor is told about when it is created.
//!
//! Only `core` is used, and all storage is borrowed from the caller, so the
//! same file builds in the kernel module and in the host tests.
//!
//! # Policy
//!
//! - Every online CPU of a served node gets `buffers_per_cpu` buffers of its
//!   own. A buffer serves exactly one CPU; the buffers of one CPU have
//!   consecutive indices (its *slots* `0..buffers_per_cpu`).
//! - A buffer lives on the CPU's own node when that node has memory. CPUs of a
//!   memoryless node are served from the nearest node that has memory: lowest
//!   distance from the memoryless node, ties going to the lower node id. The
//!   proximity domain passed to the hypervisor is always the *target* node's,
//!   because that is where the hypervisor charges and places the pages.
//! - Nodes without CPUs get no buffers of their own but can be targets.
//! - Each node's share is therefore `buffers_per_cpu * cpus`, at least one
//!   buffer for every node that has a served CPU.
//! - The total never exceeds the group maximum; if it would, planning fails
//!   with [`PlanError::TooManyBuffers`], which says what would fit.
//! - The [`NodeFilter`] only selects whose CPUs are served. A memoryless
//!   node's CPUs are still served from its nearest memory node even when that
//!   node is outside the filter: the filter says who is logged, not where the
//!   pages may come from.
//! - Indices are assigned in `(target node id, cpu id, slot)` order, so the
//!   plan depends only on the topology, never on the order nodes are listed.
//!
//! # Worked example
//!
//! The `memless` test topology: node 0 (CPU 0, memory), node 1 (CPUs 1-2, no
//! memory), node 2 (no CPUs, memory); node 1 is at distance 15 from node 2 and
//! 20 from node 0. With `buffers_per_cpu = 2` and `buffer_pages = 16`:
//!
//! ```text
//! index  cpu  slot  cpu node  target node (pxm)
//!   0     0    0       0          0 (0)
//!   1     0    1       0          0 (0)
//!   2     1    0       1          2 (2)
//!   3     1    1       1          2 (2)
//!   4     2    0       1          2 (2)
//!   5     2    1       1          2 (2)
//! ```
//!
//! Domain 0 needs `2 * (16 + 1) + 1 = 35` pool pages and domain 2 needs
//! `4 * (16 + 1) + 1 = 69` (see [`pool_pages`]).
//!
//! # Use
//!
//! The kernel fills one [`Node`] per online node (`node_to_pxm`, the online
//! CPUs of `cpumask_of_node`, `node_state(nid, N_MEMORY)`) and the distance
//! table from `node_distance`, in `KVec`s, then plans into storage of
//! `max_buffers` entries, which is always enough:
//!
//! ```
//! # use hv_evlog_host_tests::numa::*;
//! // The `2node` VM.
//! let nodes = [
//!     Node { id: 0, pxm: 0, cpus: &[0, 1], has_memory: true },
//!     Node { id: 1, pxm: 1, cpus: &[2, 3], has_memory: true },
//! ];
//! let distance = [10, 20, 20, 10];
//! let topo = Topology::new(&nodes, &distance)?;
//! let req = Request {
//!     buffers_per_cpu: 2,
//!     buffer_pages: 16,
//!     max_buffers: MAX_BUFFERS,
//!     filter: NodeFilter::All,
//! };
//! let mut storage = [BufferPlacement::default(); MAX_BUFFERS as usize];
//! let p = plan(&topo, &req, &mut storage)?;
//! for d in p.domains() {
//!     // Make sure `d.pool_pages` are in the pool for node `d.node`, then
//!     // create the domain's buffers, passing `d.pxm`.
//!     for index in d.buffer_range() {
//!         assert_eq!(p.buffer(index).map(|b| b.pxm), Some(d.pxm));
//!     }
//! }
//! assert_eq!(p.buffers_for_cpu(3), Some(6..8));
//! # Ok::<(), PlanError>(())
//! ```
//!
//! A [`PlanError`] prints as one line through `core::fmt::Display`, e.g.
//! `pr_err!("{}\n", e)`.

// Pure: nothing here may need `unsafe`.
#![forbid(unsafe_code)]
// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use core::fmt;
use core::num::NonZeroU32;
use core::ops::Range;

use crate::tlfs::BufferPages;

/// Most buffers one group can hold (the hypervisor's limit).
pub const MAX_BUFFERS: u32 = crate::tlfs::MAX_BUFFERS;

/// Largest buffer size in pages (the hypervisor's limit).
pub const MAX_BUFFER_PAGES: u32 = crate::tlfs::MAX_BUFFER_PAGES;

/// Pool pages the hypervisor charges per buffer for its own tracking of that
/// buffer, on top of the buffer's `buffer_pages`.
pub const BOOKKEEPING_PAGES_PER_BUFFER: u32 = 1;

/// Pool pages the hypervisor charges once per proximity domain that holds at
/// least one buffer, for the group's per-domain state.
pub const BOOKKEEPING_PAGES_PER_DOMAIN: u32 = 1;

/// The CPU bitmap of `cpu` in `W` 64-bit words (bit `cpu % 64` of word
/// `cpu / 64`), as the buffer table reports the CPUs a buffer serves. A CPU
/// the map cannot hold (`cpu >= W * 64`) gives the empty map: the table
/// reports what fits rather than failing for every buffer.
pub fn cpu_map<const W: usize>(cpu: u32) -> [u64; W] {
    let mut map = [0u64; W];
    if let Some(word) = map.get_mut(cpu as usize / 64) {
        *word |= 1 << (cpu % 64);
    }
    map
}

/// Pool pages one proximity domain needs for `buffers` buffers of
/// `buffer_pages` pages each, bookkeeping included.
///
/// A domain without buffers needs nothing: the per-domain state is only
/// created with the domain's first buffer.
pub fn pool_pages(buffers: u32, buffer_pages: BufferPages) -> u64 {
    if buffers == 0 {
        return 0;
    }
    let per_buffer = u64::from(buffer_pages.0) + u64::from(BOOKKEEPING_PAGES_PER_BUFFER);
    u64::from(buffers) * per_buffer + u64::from(BOOKKEEPING_PAGES_PER_DOMAIN)
}

/// One online NUMA node as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node<'a> {
    /// Kernel node id.
    pub id: u32,
    /// ACPI proximity domain of the node (`node_to_pxm`).
    pub pxm: u32,
    /// The node's online CPU ids, strictly ascending.
    pub cpus: &'a [u32],
    /// Whether the node has memory the buffers can be allocated from.
    pub has_memory: bool,
}

/// A validated topology: the online nodes plus their distance table.
#[derive(Clone, Copy, Debug)]
pub struct Topology<'a> {
    nodes: &'a [Node<'a>],
    distance: &'a [u8],
}

impl<'a> Topology<'a> {
    /// Checks and wraps the online nodes and their SLIT-style distances.
    ///
    /// `distance` is row-major and indexed by *position* in `nodes`:
    /// `distance[i * nodes.len() + j]` is the distance from `nodes[i]` to
    /// `nodes[j]` (10 = local). Only the row of a memoryless node is read, so
    /// an asymmetric table is honoured in the "from the CPU's node" direction.
    ///
    /// The node → proximity domain mapping must be one-to-one, since the
    /// per-domain pool accounting is reported per target node.
    pub fn new(nodes: &'a [Node<'a>], distance: &'a [u8]) -> Result<Self, PlanError> {
        let cells = nodes.len().checked_mul(nodes.len());
        if cells != Some(distance.len()) {
            return Err(PlanError::DistanceTableSize {
                nodes: nodes.len(),
                len: distance.len(),
            });
        }
        for (i, node) in nodes.iter().enumerate() {
            check_node(node)?;
            for other in &nodes[i + 1..] {
                check_node_pair(node, other)?;
            }
        }
        if !nodes.iter().any(|n| n.has_memory) {
            return Err(PlanError::NoMemoryNode);
        }
        Ok(Self { nodes, distance })
    }

    /// The online nodes, in the order they were given.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn nodes(&self) -> &'a [Node<'a>] {
        self.nodes
    }

    /// The node with id `id`, if it is online.
    pub fn node(&self, id: u32) -> Option<&'a Node<'a>> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node whose memory backs the buffers of node `id`'s CPUs.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn serving_node(&self, id: u32) -> Option<&'a Node<'a>> {
        let pos = self.nodes.iter().position(|n| n.id == id)?;
        Some(&self.nodes[self.memory_target(pos)])
    }

    /// Distance between the nodes at positions `from` and `to`.
    fn distance(&self, from: usize, to: usize) -> u8 {
        self.distance[from * self.nodes.len() + to]
    }

    /// Position of the node serving the node at position `pos`.
    fn memory_target(&self, pos: usize) -> usize {
        if self.nodes[pos].has_memory {
            return pos;
        }
        // Key on the node id, not the position, so that listing the nodes in
        // another order cannot change a tie-break.
        (0..self.nodes.len())
            .filter(|&to| self.nodes[to].has_memory)
            .min_by_key(|&to| (self.distance(pos, to), self.nodes[to].id))
            // `new` guarantees a memory node, so this fallback is never taken.
            .unwrap_or(pos)
    }

    /// Number of online CPUs on the nodes `filter` serves.
    fn served_cpus(&self, filter: NodeFilter<'_>) -> u32 {
        // Saturating is enough: any count near u32::MAX is rejected as too
        // many buffers anyway.
        self.nodes
            .iter()
            .filter(|n| filter.serves(n.id))
            .map(|n| u32::try_from(n.cpus.len()).unwrap_or(u32::MAX))
            .fold(0, u32::saturating_add)
    }
}

/// Rejects a CPU list that is not strictly ascending, which would make the
/// plan depend on the order the kernel happened to list the CPUs in.
fn check_node(node: &Node<'_>) -> Result<(), PlanError> {
    if node.cpus.windows(2).any(|w| w[0] >= w[1]) {
        return Err(PlanError::CpusNotSorted { node: node.id });
    }
    Ok(())
}

/// Rejects two nodes that collide in id, proximity domain or a CPU.
fn check_node_pair(a: &Node<'_>, b: &Node<'_>) -> Result<(), PlanError> {
    if a.id == b.id {
        return Err(PlanError::DuplicateNode { node: a.id });
    }
    if a.pxm == b.pxm {
        return Err(PlanError::SharedProximityDomain {
            pxm: a.pxm,
            nodes: (a.id, b.id),
        });
    }
    if let Some(&cpu) = a.cpus.iter().find(|c| b.cpus.binary_search(c).is_ok()) {
        return Err(PlanError::DuplicateCpu { cpu });
    }
    Ok(())
}

/// Which nodes' CPUs get buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NodeFilter<'a> {
    /// Every online node.
    #[default]
    All,
    /// Only the listed node ids; each must be online. Duplicates are harmless.
    Only(&'a [u32]),
}

impl NodeFilter<'_> {
    /// Whether the CPUs of node `id` are served.
    pub fn serves(&self, id: u32) -> bool {
        match self {
            Self::All => true,
            Self::Only(ids) => ids.contains(&id),
        }
    }

    /// The first listed node that is not online, if any.
    fn first_offline(&self, topo: &Topology<'_>) -> Option<u32> {
        match self {
            Self::All => None,
            Self::Only(ids) => ids.iter().copied().find(|&id| topo.node(id).is_none()),
        }
    }
}

/// What to plan for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// Buffers each served CPU gets (at least 1).
    pub buffers_per_cpu: u32,
    /// Size of each buffer in pages (`1..=MAX_BUFFER_PAGES`).
    pub buffer_pages: u32,
    /// The group maximum (`1..=MAX_BUFFERS`); the plan never exceeds it.
    pub max_buffers: u32,
    /// Whose CPUs are served.
    pub filter: NodeFilter<'a>,
}

impl Request<'_> {
    /// Checks the numbers that do not depend on the topology, returning the
    /// per-CPU count in a type that makes dividing by it panic-free.
    fn check(&self) -> Result<NonZeroU32, PlanError> {
        let per_cpu = NonZeroU32::new(self.buffers_per_cpu).ok_or(PlanError::ZeroBuffersPerCpu)?;
        if !(1..=MAX_BUFFER_PAGES).contains(&self.buffer_pages) {
            return Err(PlanError::BufferPagesOutOfRange {
                pages: self.buffer_pages,
            });
        }
        if !(1..=MAX_BUFFERS).contains(&self.max_buffers) {
            return Err(PlanError::MaxBuffersOutOfRange {
                max: self.max_buffers,
            });
        }
        Ok(per_cpu)
    }

    /// Total buffers for `cpus` served CPUs, if that fits the group maximum.
    fn fit(&self, cpus: NonZeroU32) -> Result<u32, PlanError> {
        let requested = u64::from(cpus.get()) * u64::from(self.buffers_per_cpu);
        if requested > u64::from(self.max_buffers) {
            return Err(PlanError::TooManyBuffers {
                cpus: cpus.get(),
                requested,
                max: self.max_buffers,
                max_buffers_per_cpu_that_fits: self.max_buffers / cpus,
            });
        }
        // Not above `max_buffers`, so the product fits in a u32.
        Ok(cpus.get() * self.buffers_per_cpu)
    }
}

/// Where one buffer goes and whom it serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BufferPlacement {
    /// Buffer index within the group.
    pub index: u32,
    /// The one CPU this buffer serves.
    pub cpu: u32,
    /// Which of the CPU's `buffers_per_cpu` buffers this is.
    pub slot: u32,
    /// The node the CPU belongs to.
    pub cpu_node: u32,
    /// The node whose memory holds the buffer's pages.
    pub target_node: u32,
    /// The target node's proximity domain, passed on buffer creation.
    pub pxm: u32,
}

/// Plans the buffers of `req` on `topo` into `out`.
///
/// `out` needs one entry per planned buffer; `req.max_buffers` entries are
/// always enough. Entries past the plan are left untouched. Checks run in a
/// fixed order (request, filter, CPUs, fit, storage) so a given bad input
/// always reports the same error.
pub fn plan<'p>(
    topo: &Topology<'_>,
    req: &Request<'_>,
    out: &'p mut [BufferPlacement],
) -> Result<Plan<'p>, PlanError> {
    let per_cpu = req.check()?;
    if let Some(node) = req.filter.first_offline(topo) {
        return Err(PlanError::FilterNodeOffline { node });
    }
    let cpus = NonZeroU32::new(topo.served_cpus(req.filter)).ok_or(PlanError::NoCpus)?;
    let total = req.fit(cpus)? as usize;
    let len = out.len();
    let out = out
        .get_mut(..total)
        .ok_or(PlanError::OutputTooSmall { needed: total, len })?;
    fill(topo, req, out);
    // Keys are unique (a CPU is on one node only), so the unstable sort is
    // deterministic.
    out.sort_unstable_by_key(|b| (b.target_node, b.cpu, b.slot));
    for (index, b) in (0u32..).zip(out.iter_mut()) {
        b.index = index;
    }
    Ok(Plan {
        buffers: out,
        buffers_per_cpu: per_cpu,
        buffer_pages: req.buffer_pages,
    })
}

/// Writes every served CPU's buffers into `out`, in no particular order.
fn fill(topo: &Topology<'_>, req: &Request<'_>, out: &mut [BufferPlacement]) {
    let per_cpu = req.buffers_per_cpu;
    let placements = topo
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| req.filter.serves(node.id))
        .flat_map(|(pos, node)| {
            let target = &topo.nodes[topo.memory_target(pos)];
            node.cpus.iter().flat_map(move |&cpu| {
                (0..per_cpu).map(move |slot| BufferPlacement {
                    index: 0,
                    cpu,
                    slot,
                    cpu_node: node.id,
                    target_node: target.id,
                    pxm: target.pxm,
                })
            })
        });
    for (dst, src) in out.iter_mut().zip(placements) {
        *dst = src;
    }
}

/// A finished plan, borrowing the storage it was written into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan<'p> {
    buffers: &'p [BufferPlacement],
    buffers_per_cpu: NonZeroU32,
    buffer_pages: u32,
}

impl<'p> Plan<'p> {
    /// All buffers; `buffers()[i].index == i`.
    pub fn buffers(&self) -> &'p [BufferPlacement] {
        self.buffers
    }

    /// Number of buffers in the plan.
    pub fn buffer_count(&self) -> u32 {
        // `plan` never produces more than MAX_BUFFERS entries.
        self.buffers.len() as u32
    }

    /// Buffers per served CPU.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn buffers_per_cpu(&self) -> u32 {
        self.buffers_per_cpu.get()
    }

    /// Pages per buffer.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn buffer_pages(&self) -> u32 {
        self.buffer_pages
    }

    /// The buffer with index `index`.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn buffer(&self, index: u32) -> Option<&'p BufferPlacement> {
        self.buffers.get(index as usize)
    }

    /// Indices of the buffers serving `cpu`, or `None` if it is not served.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn buffers_for_cpu(&self, cpu: u32) -> Option<Range<u32>> {
        // A linear scan: at most MAX_BUFFERS entries, and the plan is ordered
        // by target node first, so CPU ids are not globally sorted.
        let first = self.buffers.iter().find(|b| b.cpu == cpu)?.index;
        Some(first..first + self.buffers_per_cpu.get())
    }

    /// Per proximity domain summaries, in ascending target node id.
    pub fn domains(&self) -> Domains<'p> {
        Domains {
            rest: self.buffers,
            buffers_per_cpu: self.buffers_per_cpu,
            buffer_pages: self.buffer_pages,
        }
    }

    /// Pool pages needed over all domains.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn total_pool_pages(&self) -> u64 {
        self.domains().map(|d| d.pool_pages).sum()
    }
}

/// What one proximity domain (one target node) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainSummary {
    /// The target node whose memory holds the buffers.
    pub node: u32,
    /// Its proximity domain.
    pub pxm: u32,
    /// Index of the domain's first buffer; its buffers are consecutive.
    pub first_buffer: u32,
    /// Number of buffers in the domain.
    pub buffers: u32,
    /// Number of CPUs those buffers serve.
    pub cpus: u32,
    /// Pool pages the domain needs, bookkeeping included ([`pool_pages`]).
    pub pool_pages: u64,
}

impl DomainSummary {
    /// Indices of the domain's buffers.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn buffer_range(&self) -> Range<u32> {
        self.first_buffer..self.first_buffer + self.buffers
    }
}

/// Iterator over a plan's [`DomainSummary`]s, from [`Plan::domains`].
#[derive(Clone, Debug)]
pub struct Domains<'p> {
    rest: &'p [BufferPlacement],
    buffers_per_cpu: NonZeroU32,
    buffer_pages: u32,
}

impl Iterator for Domains<'_> {
    type Item = DomainSummary;

    fn next(&mut self) -> Option<DomainSummary> {
        let first = *self.rest.first()?;
        // The plan is sorted by target node, so a domain is a leading run.
        let len = self
            .rest
            .partition_point(|b| b.target_node == first.target_node);
        self.rest = &self.rest[len..];
        let buffers = len as u32;
        Some(DomainSummary {
            node: first.target_node,
            pxm: first.pxm,
            first_buffer: first.index,
            buffers,
            cpus: buffers / self.buffers_per_cpu,
            pool_pages: pool_pages(buffers, BufferPages(self.buffer_pages)),
        })
    }
}

/// Why no plan could be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// `buffers_per_cpu` was 0.
    ZeroBuffersPerCpu,
    /// `buffer_pages` was outside `1..=MAX_BUFFER_PAGES`.
    BufferPagesOutOfRange {
        /// The requested size.
        pages: u32,
    },
    /// `max_buffers` was outside `1..=MAX_BUFFERS`.
    MaxBuffersOutOfRange {
        /// The requested maximum.
        max: u32,
    },
    /// The distance table is not `nodes * nodes` entries.
    DistanceTableSize {
        /// Number of nodes.
        nodes: usize,
        /// Number of distance entries given.
        len: usize,
    },
    /// A node id is listed twice.
    DuplicateNode {
        /// The repeated id.
        node: u32,
    },
    /// Two nodes report the same proximity domain.
    SharedProximityDomain {
        /// The shared domain.
        pxm: u32,
        /// The two nodes.
        nodes: (u32, u32),
    },
    /// A node's CPU list is not strictly ascending.
    CpusNotSorted {
        /// The node.
        node: u32,
    },
    /// A CPU is listed on two nodes.
    DuplicateCpu {
        /// The CPU.
        cpu: u32,
    },
    /// No online node has memory.
    NoMemoryNode,
    /// The node filter names a node that is not online.
    FilterNodeOffline {
        /// The first such node in filter order.
        node: u32,
    },
    /// The served nodes have no online CPU.
    NoCpus,
    /// `buffers_per_cpu * cpus` exceeds the group maximum.
    TooManyBuffers {
        /// Served CPUs.
        cpus: u32,
        /// Buffers the request needs.
        requested: u64,
        /// The group maximum.
        max: u32,
        /// The largest `buffers_per_cpu` that fits; 0 if not even one
        /// buffer per CPU fits.
        max_buffers_per_cpu_that_fits: u32,
    },
    /// The output storage holds fewer entries than the plan needs.
    OutputTooSmall {
        /// Entries the plan needs.
        needed: usize,
        /// Entries given.
        len: usize,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroBuffersPerCpu => write!(f, "buffers_per_cpu must be at least 1"),
            Self::BufferPagesOutOfRange { pages } => write!(
                f,
                "buffer_pages={} is out of range 1-{}",
                pages, MAX_BUFFER_PAGES
            ),
            Self::MaxBuffersOutOfRange { max } => {
                write!(f, "max_buffers={} is out of range 1-{}", max, MAX_BUFFERS)
            }
            Self::DistanceTableSize { nodes, len } => write!(
                f,
                "distance table has {} entries, expected {} for {} nodes",
                len,
                nodes.saturating_mul(nodes),
                nodes
            ),
            Self::DuplicateNode { node } => write!(f, "node {} is listed twice", node),
            Self::SharedProximityDomain { pxm, nodes } => write!(
                f,
                "nodes {} and {} share proximity domain {}",
                nodes.0, nodes.1, pxm
            ),
            Self::CpusNotSorted { node } => {
                write!(f, "CPUs of node {} are not strictly ascending", node)
            }
            Self::DuplicateCpu { cpu } => write!(f, "CPU {} is listed on two nodes", cpu),
            Self::NoMemoryNode => write!(f, "no online node has memory"),
            Self::FilterNodeOffline { node } => {
                write!(f, "node filter names node {}, which is not online", node)
            }
            Self::NoCpus => write!(f, "no online CPU on the selected nodes"),
            Self::TooManyBuffers {
                cpus,
                requested,
                max,
                max_buffers_per_cpu_that_fits,
            } => fmt_too_many(f, cpus, requested, max, max_buffers_per_cpu_that_fits),
            Self::OutputTooSmall { needed, len } => {
                write!(f, "plan needs {} entries, storage has {}", needed, len)
            }
        }
    }
}

/// The one-line advice for [`PlanError::TooManyBuffers`]: what fits.
fn fmt_too_many(
    f: &mut fmt::Formatter<'_>,
    cpus: u32,
    requested: u64,
    max: u32,
    fits: u32,
) -> fmt::Result {
    write!(
        f,
        "{} buffers for {} CPUs exceed the group maximum of {}; ",
        requested, cpus, max
    )?;
    if fits == 0 {
        write!(f, "not even 1 buffer per CPU fits, select fewer nodes")
    } else {
        write!(f, "buffers_per_cpu={} fits", fits)
    }
}
