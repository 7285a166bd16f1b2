// SPDX-License-Identifier: GPL-2.0

//! Host tests of the topology → buffer placement plan (hv_evlog_numa.rs).
//!
//! The unit tests pin the four topologies vm/run.py boots:
//!
//! - `1node`: node 0 = CPUs 0-1, memory.
//! - `2node`: node 0 = CPUs 0-1, node 1 = CPUs 2-3, both with memory, 10/20.
//! - `4node`: node 0 = CPU 0, node 1 = CPUs 1-2, node 2 = CPUs 3-5,
//!   node 3 = CPUs 6-7, all with memory, 10/20.
//! - `memless`: node 0 = CPU 0 with memory, node 1 = CPUs 1-2 without memory,
//!   node 2 = no CPUs with memory; node 1 is 15 from node 2 and 20 from
//!   node 0, so node 1's CPUs are served from node 2.
//!
//! numa_props.rs then checks the policy over random topologies against a
//! straightforward reference.

use hv_evlog_host_tests::numa::*;
use hv_evlog_host_tests::tlfs::BufferPages;
use std::ops::Range;

#[path = "numa/support.rs"]
mod support;
use support::run;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A SLIT table for `n` nodes: 10 on the diagonal, 20 unless `far` says
/// otherwise for an (unordered) pair.
fn slit(n: usize, far: &[(usize, usize, u8)]) -> Vec<u8> {
    let mut d = vec![20; n * n];
    for i in 0..n {
        d[i * n + i] = 10;
    }
    for &(a, b, v) in far {
        d[a * n + b] = v;
        d[b * n + a] = v;
    }
    d
}

fn node(id: u32, cpus: &[u32], has_memory: bool) -> Node<'_> {
    Node {
        id,
        pxm: id,
        cpus,
        has_memory,
    }
}

fn req(buffers_per_cpu: u32, buffer_pages: u32) -> Request<'static> {
    Request {
        buffers_per_cpu,
        buffer_pages,
        max_buffers: MAX_BUFFERS,
        filter: NodeFilter::All,
    }
}

/// Plans into fresh full-size storage and copies the plan out.
/// Expected placements, `(cpu, slot, cpu_node, target_node, pxm)` in index
/// order.
fn expect(rows: &[(u32, u32, u32, u32, u32)]) -> Vec<BufferPlacement> {
    (0u32..)
        .zip(rows)
        .map(
            |(index, &(cpu, slot, cpu_node, target_node, pxm))| BufferPlacement {
                index,
                cpu,
                slot,
                cpu_node,
                target_node,
                pxm,
            },
        )
        .collect()
}

fn domain(
    node: u32,
    pxm: u32,
    first_buffer: u32,
    buffers: u32,
    cpus: u32,
    pool: u64,
) -> DomainSummary {
    DomainSummary {
        node,
        pxm,
        first_buffer,
        buffers,
        cpus,
        pool_pages: pool,
    }
}

/// Checks `buffers_for_cpu` for each `(cpu, range)`.
fn assert_cpu_map(
    nodes: &[Node<'_>],
    dist: &[u8],
    r: &Request<'_>,
    map: &[(u32, Option<Range<u32>>)],
) {
    let topo = Topology::new(nodes, dist).unwrap();
    let mut out = [BufferPlacement::default(); MAX_BUFFERS as usize];
    let p = plan(&topo, r, &mut out).unwrap();
    for (cpu, range) in map {
        assert_eq!(p.buffers_for_cpu(*cpu), range.clone(), "cpu {cpu}");
    }
}

fn err(nodes: &[Node<'_>], dist: &[u8], r: &Request<'_>) -> PlanError {
    run(nodes, dist, r).unwrap_err()
}

// ---------------------------------------------------------------------------
// The bookkeeping model
// ---------------------------------------------------------------------------

#[test]
fn bookkeeping_model() {
    assert_eq!(BOOKKEEPING_PAGES_PER_BUFFER, 1);
    assert_eq!(BOOKKEEPING_PAGES_PER_DOMAIN, 1);
    assert_eq!(pool_pages(0, BufferPages(16)), 0);
    assert_eq!(pool_pages(1, BufferPages(1)), 3);
    assert_eq!(pool_pages(2, BufferPages(16)), 35);
    assert_eq!(pool_pages(512, BufferPages(512)), 512 * 513 + 1);
}

// ---------------------------------------------------------------------------
// The VM topologies
// ---------------------------------------------------------------------------

#[test]
fn topology_1node() {
    let nodes = [node(0, &[0, 1], true)];
    let dist = slit(1, &[]);
    let p = run(&nodes, &dist, &req(1, 16)).unwrap();
    assert_eq!(p.buffers, expect(&[(0, 0, 0, 0, 0), (1, 0, 0, 0, 0)]));
    assert_eq!(p.domains, [domain(0, 0, 0, 2, 2, 35)]);
    assert_eq!(p.total_pool_pages, 35);
    assert_cpu_map(
        &nodes,
        &dist,
        &req(1, 16),
        &[(0, Some(0..1)), (1, Some(1..2)), (2, None)],
    );
}

#[test]
fn topology_1node_four_per_cpu() {
    let nodes = [node(0, &[0, 1], true)];
    let dist = slit(1, &[]);
    let p = run(&nodes, &dist, &req(4, 1)).unwrap();
    let rows: Vec<_> = (0..2)
        .flat_map(|c| (0..4).map(move |s| (c, s, 0, 0, 0)))
        .collect();
    assert_eq!(p.buffers, expect(&rows));
    assert_eq!(p.domains, [domain(0, 0, 0, 8, 2, 8 * 2 + 1)]);
    assert_cpu_map(
        &nodes,
        &dist,
        &req(4, 1),
        &[(0, Some(0..4)), (1, Some(4..8))],
    );
}

#[test]
fn topology_2node() {
    let nodes = [node(0, &[0, 1], true), node(1, &[2, 3], true)];
    let dist = slit(2, &[]);
    let p = run(&nodes, &dist, &req(2, 8)).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[
            (0, 0, 0, 0, 0),
            (0, 1, 0, 0, 0),
            (1, 0, 0, 0, 0),
            (1, 1, 0, 0, 0),
            (2, 0, 1, 1, 1),
            (2, 1, 1, 1, 1),
            (3, 0, 1, 1, 1),
            (3, 1, 1, 1, 1),
        ])
    );
    // 4 buffers * (8 + 1) + 1 per domain.
    assert_eq!(
        p.domains,
        [domain(0, 0, 0, 4, 2, 37), domain(1, 1, 4, 4, 2, 37)]
    );
    assert_eq!(p.total_pool_pages, 74);
    assert_cpu_map(
        &nodes,
        &dist,
        &req(2, 8),
        &[
            (0, Some(0..2)),
            (1, Some(2..4)),
            (2, Some(4..6)),
            (3, Some(6..8)),
            (4, None),
        ],
    );
}

fn nodes_4node() -> [Node<'static>; 4] {
    [
        node(0, &[0], true),
        node(1, &[1, 2], true),
        node(2, &[3, 4, 5], true),
        node(3, &[6, 7], true),
    ]
}

#[test]
fn topology_4node() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    let p = run(&nodes, &dist, &req(2, 16)).unwrap();
    let owner = [0, 1, 1, 2, 2, 2, 3, 3];
    let rows: Vec<_> = (0..8u32)
        .flat_map(|c| {
            (0..2).map(move |s| {
                (
                    c,
                    s,
                    owner[c as usize],
                    owner[c as usize],
                    owner[c as usize],
                )
            })
        })
        .collect();
    assert_eq!(p.buffers, expect(&rows));
    // Shares follow the CPU counts 1:2:3:2; 17 pages per buffer + 1.
    assert_eq!(
        p.domains,
        [
            domain(0, 0, 0, 2, 1, 35),
            domain(1, 1, 2, 4, 2, 69),
            domain(2, 2, 6, 6, 3, 103),
            domain(3, 3, 12, 4, 2, 69),
        ]
    );
    assert_eq!(p.total_pool_pages, 276);
    let map: Vec<_> = (0..8).map(|c| (c, Some(2 * c..2 * c + 2))).collect();
    assert_cpu_map(&nodes, &dist, &req(2, 16), &map);
}

#[test]
fn topology_4node_one_per_cpu() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    let p = run(&nodes, &dist, &req(1, 512)).unwrap();
    let counts: Vec<_> = p.domains.iter().map(|d| (d.node, d.buffers)).collect();
    assert_eq!(counts, [(0, 1), (1, 2), (2, 3), (3, 2)]);
    let pools: Vec<_> = p.domains.iter().map(|d| d.pool_pages).collect();
    assert_eq!(pools, [514, 1027, 1540, 1027]);
}

#[test]
fn topology_4node_largest_fit() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    let p = run(&nodes, &dist, &req(64, 1)).unwrap();
    assert_eq!(p.buffers.len(), 512);
    assert_eq!(
        err(&nodes, &dist, &req(65, 1)),
        PlanError::TooManyBuffers {
            cpus: 8,
            requested: 520,
            max: 512,
            max_buffers_per_cpu_that_fits: 64,
        }
    );
}

fn nodes_memless() -> [Node<'static>; 3] {
    [
        node(0, &[0], true),
        node(1, &[1, 2], false),
        node(2, &[], true),
    ]
}

/// The `memless` VM: node 1 is nearer to node 2 (15) than to node 0 (20).
fn dist_memless() -> Vec<u8> {
    slit(3, &[(0, 1, 20), (0, 2, 20), (1, 2, 15)])
}

#[test]
fn topology_memless() {
    let nodes = nodes_memless();
    let dist = dist_memless();
    let p = run(&nodes, &dist, &req(2, 16)).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[
            (0, 0, 0, 0, 0),
            (0, 1, 0, 0, 0),
            (1, 0, 1, 2, 2),
            (1, 1, 1, 2, 2),
            (2, 0, 1, 2, 2),
            (2, 1, 1, 2, 2),
        ])
    );
    // Node 1 gets no domain: it has no memory. Node 2 has no CPUs but holds
    // node 1's buffers.
    assert_eq!(
        p.domains,
        [domain(0, 0, 0, 2, 1, 35), domain(2, 2, 2, 4, 2, 69)]
    );
    assert_eq!(p.total_pool_pages, 104);
    assert_cpu_map(
        &nodes,
        &dist,
        &req(2, 16),
        &[(0, Some(0..2)), (1, Some(2..4)), (2, Some(4..6)), (3, None)],
    );
    let topo = Topology::new(&nodes, &dist).unwrap();
    assert_eq!(topo.serving_node(1).map(|n| n.id), Some(2));
    assert_eq!(topo.serving_node(0).map(|n| n.id), Some(0));
    assert_eq!(topo.serving_node(2).map(|n| n.id), Some(2));
    assert_eq!(topo.serving_node(3), None);
}

#[test]
fn memless_tie_goes_to_lower_node_id() {
    // Node 1 is 20 from both memory nodes: node 0 wins on id.
    let nodes = nodes_memless();
    let dist = slit(3, &[]);
    let p = run(&nodes, &dist, &req(2, 16)).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[
            (0, 0, 0, 0, 0),
            (0, 1, 0, 0, 0),
            (1, 0, 1, 0, 0),
            (1, 1, 1, 0, 0),
            (2, 0, 1, 0, 0),
            (2, 1, 1, 0, 0),
        ])
    );
    assert_eq!(p.domains, [domain(0, 0, 0, 6, 3, 6 * 17 + 1)]);
}

#[test]
fn memless_tie_ignores_listing_order() {
    // The same tie with node 2 listed first: still node 0, by id.
    let nodes = [
        node(2, &[], true),
        node(1, &[1, 2], false),
        node(0, &[0], true),
    ];
    let dist = slit(3, &[]);
    let p = run(&nodes, &dist, &req(2, 16)).unwrap();
    let targets: Vec<_> = p.buffers.iter().map(|b| (b.cpu, b.target_node)).collect();
    assert_eq!(targets, [(0, 0), (0, 0), (1, 0), (1, 0), (2, 0), (2, 0)]);
}

#[test]
fn memless_passes_target_pxm() {
    // Proximity domains that differ from the node ids: the buffers of node
    // 1's CPUs carry node 2's domain, not node 1's.
    let nodes = [
        Node {
            pxm: 7,
            ..node(0, &[0], true)
        },
        Node {
            pxm: 3,
            ..node(1, &[1, 2], false)
        },
        Node {
            pxm: 5,
            ..node(2, &[], true)
        },
    ];
    let dist = dist_memless();
    let p = run(&nodes, &dist, &req(1, 4)).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[(0, 0, 0, 0, 7), (1, 0, 1, 2, 5), (2, 0, 1, 2, 5)])
    );
    assert_eq!(
        p.domains,
        [domain(0, 7, 0, 1, 1, 6), domain(2, 5, 1, 2, 2, 11)]
    );
}

#[test]
fn memless_cpus_interleave_by_cpu_id() {
    // Node 1's CPUs sit between node 0's: the target's buffers are ordered
    // by CPU id across both source nodes.
    let nodes = [node(0, &[0, 3], true), node(1, &[1, 2], false)];
    let dist = slit(2, &[]);
    let p = run(&nodes, &dist, &req(1, 1)).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[
            (0, 0, 0, 0, 0),
            (1, 0, 1, 0, 0),
            (2, 0, 1, 0, 0),
            (3, 0, 0, 0, 0)
        ])
    );
    assert_eq!(p.domains, [domain(0, 0, 0, 4, 4, 9)]);
}

#[test]
fn index_order_by_target_then_cpu() {
    // Node 5 (memory) owns the low CPUs but sorts after node 1.
    let nodes = [node(5, &[0, 1], true), node(1, &[2], true)];
    let dist = slit(2, &[]);
    let p = run(&nodes, &dist, &req(1, 1)).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[(2, 0, 1, 1, 1), (0, 0, 5, 5, 5), (1, 0, 5, 5, 5)])
    );
    assert_cpu_map(
        &nodes,
        &dist,
        &req(1, 1),
        &[(2, Some(0..1)), (0, Some(1..2)), (1, Some(2..3))],
    );
}

#[test]
fn plan_accessors() {
    let nodes = nodes_memless();
    let dist = dist_memless();
    let topo = Topology::new(&nodes, &dist).unwrap();
    let mut out = [BufferPlacement::default(); 8];
    let p = plan(&topo, &req(2, 16), &mut out).unwrap();
    assert_eq!(p.buffer_count(), 6);
    assert_eq!(p.buffers_per_cpu(), 2);
    assert_eq!(p.buffer_pages(), 16);
    assert_eq!(p.buffer(5).map(|b| (b.cpu, b.slot)), Some((2, 1)));
    assert_eq!(p.buffer(6), None);
    let ranges: Vec<_> = p.domains().map(|d| d.buffer_range()).collect();
    assert_eq!(ranges, [0..2, 2..6]);
    assert_eq!(topo.nodes().len(), 3);
    assert_eq!(topo.node(2).map(|n| n.pxm), Some(2));
}

#[test]
fn storage_past_the_plan_is_untouched() {
    let nodes = [node(0, &[0, 1], true)];
    let dist = slit(1, &[]);
    let topo = Topology::new(&nodes, &dist).unwrap();
    let marker = BufferPlacement {
        index: 99,
        ..BufferPlacement::default()
    };
    let mut out = [marker; 4];
    let n = plan(&topo, &req(1, 1), &mut out).unwrap().buffers().len();
    assert_eq!(n, 2);
    assert_eq!(out[2..], [marker, marker]);
}

#[test]
fn exact_storage_is_enough() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    let topo = Topology::new(&nodes, &dist).unwrap();
    let mut out = [BufferPlacement::default(); 24];
    assert_eq!(
        plan(&topo, &req(3, 1), &mut out).unwrap().buffer_count(),
        24
    );
}

// ---------------------------------------------------------------------------
// The node filter
// ---------------------------------------------------------------------------

fn filtered(ids: &[u32]) -> Request<'_> {
    Request {
        filter: NodeFilter::Only(ids),
        ..req(1, 1)
    }
}

#[test]
fn filter_selects_nodes() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    let p = run(&nodes, &dist, &filtered(&[3, 1])).unwrap();
    assert_eq!(
        p.buffers,
        expect(&[
            (1, 0, 1, 1, 1),
            (2, 0, 1, 1, 1),
            (6, 0, 3, 3, 3),
            (7, 0, 3, 3, 3)
        ])
    );
    assert_cpu_map(
        &nodes,
        &dist,
        &filtered(&[3, 1]),
        &[(0, None), (1, Some(0..1)), (7, Some(3..4))],
    );
}

#[test]
fn filter_duplicates_are_harmless() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    assert_eq!(
        run(&nodes, &dist, &filtered(&[2, 2])),
        run(&nodes, &dist, &filtered(&[2]))
    );
}

#[test]
fn filter_memless_node_still_served_from_unfiltered_node() {
    // Only node 1 is served; its pages still come from node 2.
    let nodes = nodes_memless();
    let dist = dist_memless();
    let p = run(&nodes, &dist, &filtered(&[1])).unwrap();
    assert_eq!(p.buffers, expect(&[(1, 0, 1, 2, 2), (2, 0, 1, 2, 2)]));
    assert_eq!(p.domains, [domain(2, 2, 0, 2, 2, 5)]);
}

#[test]
fn filter_all_is_default() {
    assert_eq!(NodeFilter::default(), NodeFilter::All);
    assert!(NodeFilter::All.serves(1000));
    assert!(NodeFilter::Only(&[1, 3]).serves(3));
    assert!(!NodeFilter::Only(&[1, 3]).serves(2));
}

// ---------------------------------------------------------------------------
// Errors, each with its exact fields and message
// ---------------------------------------------------------------------------

#[test]
fn error_zero_buffers_per_cpu() {
    let nodes = [node(0, &[0], true)];
    let e = err(&nodes, &slit(1, &[]), &req(0, 1));
    assert_eq!(e, PlanError::ZeroBuffersPerCpu);
    assert_eq!(e.to_string(), "buffers_per_cpu must be at least 1");
}

#[test]
fn error_buffer_pages_out_of_range() {
    let nodes = [node(0, &[0], true)];
    let dist = slit(1, &[]);
    assert_eq!(
        err(&nodes, &dist, &req(1, 0)),
        PlanError::BufferPagesOutOfRange { pages: 0 }
    );
    let e = err(&nodes, &dist, &req(1, 513));
    assert_eq!(e, PlanError::BufferPagesOutOfRange { pages: 513 });
    assert_eq!(e.to_string(), "buffer_pages=513 is out of range 1-512");
    assert!(run(&nodes, &dist, &req(1, 1)).is_ok());
    assert!(run(&nodes, &dist, &req(1, 512)).is_ok());
}

#[test]
fn error_max_buffers_out_of_range() {
    let nodes = [node(0, &[0], true)];
    let dist = slit(1, &[]);
    let with_max = |max_buffers| Request {
        max_buffers,
        ..req(1, 1)
    };
    assert_eq!(
        err(&nodes, &dist, &with_max(0)),
        PlanError::MaxBuffersOutOfRange { max: 0 }
    );
    let e = err(&nodes, &dist, &with_max(513));
    assert_eq!(e, PlanError::MaxBuffersOutOfRange { max: 513 });
    assert_eq!(e.to_string(), "max_buffers=513 is out of range 1-512");
    assert!(run(&nodes, &dist, &with_max(1)).is_ok());
}

#[test]
fn error_distance_table_size() {
    let nodes = [node(0, &[0], true), node(1, &[1], true)];
    let e = Topology::new(&nodes, &[10, 20, 10]).unwrap_err();
    assert_eq!(e, PlanError::DistanceTableSize { nodes: 2, len: 3 });
    assert_eq!(
        e.to_string(),
        "distance table has 3 entries, expected 4 for 2 nodes"
    );
}

#[test]
fn error_duplicate_node() {
    let nodes = [node(1, &[0], true), node(1, &[1], true)];
    let e = Topology::new(&nodes, &slit(2, &[])).unwrap_err();
    assert_eq!(e, PlanError::DuplicateNode { node: 1 });
    assert_eq!(e.to_string(), "node 1 is listed twice");
}

#[test]
fn error_shared_proximity_domain() {
    let nodes = [
        node(0, &[0], true),
        Node {
            pxm: 0,
            ..node(1, &[1], true)
        },
    ];
    let e = Topology::new(&nodes, &slit(2, &[])).unwrap_err();
    assert_eq!(
        e,
        PlanError::SharedProximityDomain {
            pxm: 0,
            nodes: (0, 1)
        }
    );
    assert_eq!(e.to_string(), "nodes 0 and 1 share proximity domain 0");
}

#[test]
fn error_cpus_not_sorted() {
    let dist = slit(1, &[]);
    let e = Topology::new(&[node(3, &[1, 0], true)], &dist).unwrap_err();
    assert_eq!(e, PlanError::CpusNotSorted { node: 3 });
    assert_eq!(e.to_string(), "CPUs of node 3 are not strictly ascending");
    let repeated = Topology::new(&[node(3, &[1, 1], true)], &dist).unwrap_err();
    assert_eq!(repeated, PlanError::CpusNotSorted { node: 3 });
}

#[test]
fn error_duplicate_cpu() {
    let nodes = [node(0, &[0, 2], true), node(1, &[1, 2], true)];
    let e = Topology::new(&nodes, &slit(2, &[])).unwrap_err();
    assert_eq!(e, PlanError::DuplicateCpu { cpu: 2 });
    assert_eq!(e.to_string(), "CPU 2 is listed on two nodes");
}

#[test]
fn error_no_memory_node() {
    let nodes = [node(0, &[0], false), node(1, &[1], false)];
    let e = Topology::new(&nodes, &slit(2, &[])).unwrap_err();
    assert_eq!(e, PlanError::NoMemoryNode);
    assert_eq!(e.to_string(), "no online node has memory");
    assert_eq!(
        Topology::new(&[], &[]).unwrap_err(),
        PlanError::NoMemoryNode
    );
}

#[test]
fn error_filter_node_offline() {
    let nodes = nodes_memless();
    let e = err(&nodes, &dist_memless(), &filtered(&[0, 7, 9]));
    assert_eq!(e, PlanError::FilterNodeOffline { node: 7 });
    assert_eq!(
        e.to_string(),
        "node filter names node 7, which is not online"
    );
}

#[test]
fn error_no_cpus() {
    // Node 2 is online with memory but has no CPUs.
    let e = err(&nodes_memless(), &dist_memless(), &filtered(&[2]));
    assert_eq!(e, PlanError::NoCpus);
    assert_eq!(e.to_string(), "no online CPU on the selected nodes");
    assert_eq!(
        err(&nodes_memless(), &dist_memless(), &filtered(&[])),
        PlanError::NoCpus
    );
    let cpuless = [node(0, &[], true)];
    assert_eq!(err(&cpuless, &slit(1, &[]), &req(1, 1)), PlanError::NoCpus);
}

#[test]
fn error_too_many_buffers_three_big_nodes() {
    let cpus: Vec<u32> = (0..120).collect();
    let nodes = [
        node(0, &cpus[..40], true),
        node(1, &cpus[40..80], true),
        node(2, &cpus[80..], true),
    ];
    let dist = slit(3, &[]);
    let e = err(&nodes, &dist, &req(5, 16));
    assert_eq!(
        e,
        PlanError::TooManyBuffers {
            cpus: 120,
            requested: 600,
            max: 512,
            max_buffers_per_cpu_that_fits: 4,
        }
    );
    assert_eq!(
        e.to_string(),
        "600 buffers for 120 CPUs exceed the group maximum of 512; buffers_per_cpu=4 fits"
    );
    assert_eq!(run(&nodes, &dist, &req(4, 16)).unwrap().buffers.len(), 480);
}

#[test]
fn error_too_many_buffers_not_even_one() {
    let cpus: Vec<u32> = (0..120).collect();
    let nodes = [node(0, &cpus[..60], true), node(1, &cpus[60..], true)];
    let r = Request {
        max_buffers: 100,
        ..req(1, 16)
    };
    let e = err(&nodes, &slit(2, &[]), &r);
    assert_eq!(
        e,
        PlanError::TooManyBuffers {
            cpus: 120,
            requested: 120,
            max: 100,
            max_buffers_per_cpu_that_fits: 0,
        }
    );
    assert_eq!(
        e.to_string(),
        "120 buffers for 120 CPUs exceed the group maximum of 100; \
         not even 1 buffer per CPU fits, select fewer nodes"
    );
    // Serving one node fits.
    let one = Request {
        filter: NodeFilter::Only(&[1]),
        ..r
    };
    assert_eq!(run(&nodes, &slit(2, &[]), &one).unwrap().buffers.len(), 60);
}

#[test]
fn error_too_many_buffers_huge_request() {
    // The product is computed wide, so a huge request cannot wrap into a fit.
    let nodes = [node(0, &[0, 1], true)];
    let e = err(&nodes, &slit(1, &[]), &req(u32::MAX, 1));
    assert_eq!(
        e,
        PlanError::TooManyBuffers {
            cpus: 2,
            requested: 2 * u64::from(u32::MAX),
            max: 512,
            max_buffers_per_cpu_that_fits: 256,
        }
    );
}

#[test]
fn error_output_too_small() {
    let nodes = nodes_4node();
    let dist = slit(4, &[]);
    let topo = Topology::new(&nodes, &dist).unwrap();
    let mut out = [BufferPlacement::default(); 7];
    let e = plan(&topo, &req(1, 1), &mut out).unwrap_err();
    assert_eq!(e, PlanError::OutputTooSmall { needed: 8, len: 7 });
    assert_eq!(e.to_string(), "plan needs 8 entries, storage has 7");
}

#[test]
fn error_order_is_fixed() {
    // Several things wrong at once: the request is reported first, then the
    // filter, then CPUs, then fit, then storage.
    let nodes = nodes_memless();
    let dist = dist_memless();
    let topo = Topology::new(&nodes, &dist).unwrap();
    let mut none: [BufferPlacement; 0] = [];
    let bad = Request {
        buffers_per_cpu: 0,
        buffer_pages: 0,
        max_buffers: 0,
        filter: NodeFilter::Only(&[9]),
    };
    let mut seen = Vec::new();
    let fixes: [fn(&mut Request<'static>); 5] = [
        |r| r.buffers_per_cpu = 600,
        |r| r.buffer_pages = 1,
        |r| r.max_buffers = 512,
        |r| r.filter = NodeFilter::Only(&[2, 0]),
        |r| r.buffers_per_cpu = 1,
    ];
    let mut r = bad;
    for fix in fixes {
        seen.push(plan(&topo, &r, &mut none).unwrap_err());
        fix(&mut r);
    }
    seen.push(plan(&topo, &r, &mut none).unwrap_err());
    assert_eq!(
        seen,
        [
            PlanError::ZeroBuffersPerCpu,
            PlanError::BufferPagesOutOfRange { pages: 0 },
            PlanError::MaxBuffersOutOfRange { max: 0 },
            PlanError::FilterNodeOffline { node: 9 },
            PlanError::TooManyBuffers {
                cpus: 1,
                requested: 600,
                max: 512,
                max_buffers_per_cpu_that_fits: 512,
            },
            PlanError::OutputTooSmall { needed: 1, len: 0 },
        ]
    );
}

/// The buffer table's CPU bitmap: one bit per CPU that fits, and an empty
/// map (not a failure of the whole table) for a CPU the map cannot hold.
#[test]
fn cpu_map_sets_one_bit_or_none_past_the_end() {
    let m = cpu_map::<16>(0);
    assert_eq!(m[0], 1);
    assert!(m[1..].iter().all(|&w| w == 0));
    let m = cpu_map::<16>(130);
    assert_eq!(m[2], 1 << 2);
    assert_eq!(m.iter().filter(|&&w| w != 0).count(), 1);
    assert_eq!(cpu_map::<16>(1023)[15], 1 << 63);
    assert_eq!(cpu_map::<16>(1024), [0; 16]);
    assert_eq!(cpu_map::<16>(u32::MAX), [0; 16]);
}
