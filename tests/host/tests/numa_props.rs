// SPDX-License-Identifier: GPL-2.0

//! Property tests of the topology → buffer placement plan (hv_evlog_numa.rs):
//! the policy over random topologies, against a straightforward reference
//! written here.

use hv_evlog_host_tests::numa::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

#[path = "numa/support.rs"]
mod support;
use support::{run, Owned};

/// An owned random topology plus a request.
#[derive(Clone, Debug)]
struct Case {
    ids: Vec<u32>,
    pxms: Vec<u32>,
    cpus: Vec<Vec<u32>>,
    mem: Vec<bool>,
    /// Row-major, by position.
    dist: Vec<u8>,
    buffers_per_cpu: u32,
    buffer_pages: u32,
    max_buffers: u32,
    /// Node ids to serve, or `None` for all.
    filter: Option<Vec<u32>>,
}

/// Ids never given to an online node, for filters naming offline nodes.
const OFFLINE_ID: u32 = 100;

impl Case {
    fn n(&self) -> usize {
        self.ids.len()
    }

    fn nodes(&self) -> Vec<Node<'_>> {
        (0..self.n())
            .map(|i| Node {
                id: self.ids[i],
                pxm: self.pxms[i],
                cpus: &self.cpus[i],
                has_memory: self.mem[i],
            })
            .collect()
    }

    fn request(&self) -> Request<'_> {
        Request {
            buffers_per_cpu: self.buffers_per_cpu,
            buffer_pages: self.buffer_pages,
            max_buffers: self.max_buffers,
            filter: self
                .filter
                .as_deref()
                .map_or(NodeFilter::All, NodeFilter::Only),
        }
    }

    fn run(&self) -> Result<Owned, PlanError> {
        run(&self.nodes(), &self.dist, &self.request())
    }

    fn with_per_cpu(&self, buffers_per_cpu: u32) -> Result<Owned, PlanError> {
        let c = Case {
            buffers_per_cpu,
            ..self.clone()
        };
        c.run()
    }

    /// The same topology with the nodes listed in `perm` order.
    fn permuted(&self, perm: &[usize]) -> Case {
        let n = self.n();
        let mut dist = vec![0; n * n];
        for (i, &pi) in perm.iter().enumerate() {
            for (j, &pj) in perm.iter().enumerate() {
                dist[i * n + j] = self.dist[pi * n + pj];
            }
        }
        Case {
            ids: perm.iter().map(|&p| self.ids[p]).collect(),
            pxms: perm.iter().map(|&p| self.pxms[p]).collect(),
            cpus: perm.iter().map(|&p| self.cpus[p].clone()).collect(),
            mem: perm.iter().map(|&p| self.mem[p]).collect(),
            dist,
            ..self.clone()
        }
    }

    fn serves(&self, i: usize) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.contains(&self.ids[i]))
    }

    fn served_cpus(&self) -> u32 {
        (0..self.n())
            .filter(|&i| self.serves(i))
            .map(|i| self.cpus[i].len() as u32)
            .sum()
    }

    /// Reference policy: the position of the node serving position `i`.
    fn expected_target(&self, i: usize) -> usize {
        if self.mem[i] {
            return i;
        }
        let n = self.n();
        let mut memory: Vec<usize> = (0..n).filter(|&j| self.mem[j]).collect();
        memory.sort_by_key(|&j| (self.dist[i * n + j], self.ids[j]));
        memory[0]
    }

    /// Reference outcome for the errors the generator can produce.
    fn expected_error(&self) -> Option<PlanError> {
        if let Some(f) = &self.filter {
            if let Some(&node) = f.iter().find(|id| !self.ids.contains(id)) {
                return Some(PlanError::FilterNodeOffline { node });
            }
        }
        let cpus = self.served_cpus();
        if cpus == 0 {
            return Some(PlanError::NoCpus);
        }
        let requested = u64::from(cpus) * u64::from(self.buffers_per_cpu);
        (requested > u64::from(self.max_buffers)).then_some(PlanError::TooManyBuffers {
            cpus,
            requested,
            max: self.max_buffers,
            max_buffers_per_cpu_that_fits: self.max_buffers / cpus,
        })
    }
}

prop_compose! {
    fn topology()(n in 1usize..=8)(
        ids in Just((0u32..64).collect::<Vec<_>>()).prop_shuffle(),
        pxms in Just((0u32..64).collect::<Vec<_>>()).prop_shuffle(),
        cpu_ids in Just((0u32..200).collect::<Vec<_>>()).prop_shuffle(),
        counts in prop::collection::vec(0usize..=16, n),
        mut mem in prop::collection::vec(any::<bool>(), n),
        forced_memory in 0..n,
        // A narrow range makes equal distances, and so tie-breaks, common.
        far in prop::collection::vec(11u8..=14, n * n),
        n in Just(n),
    ) -> (Vec<u32>, Vec<u32>, Vec<Vec<u32>>, Vec<bool>, Vec<u8>) {
        if !mem.iter().any(|&m| m) {
            mem[forced_memory] = true;
        }
        let mut next = cpu_ids.into_iter();
        let cpus = counts
            .iter()
            .map(|&c| {
                let mut v: Vec<u32> = next.by_ref().take(c).collect();
                v.sort_unstable();
                v
            })
            .collect();
        let mut dist = vec![10; n * n];
        for i in 0..n {
            for j in i + 1..n {
                dist[i * n + j] = far[i * n + j];
                dist[j * n + i] = far[i * n + j];
            }
        }
        (ids[..n].to_vec(), pxms[..n].to_vec(), cpus, mem, dist)
    }
}

prop_compose! {
    fn case()(
        (ids, pxms, cpus, mem, dist) in topology(),
        buffers_per_cpu in prop_oneof![1u32..=4, 1u32..=64],
        buffer_pages in 1u32..=MAX_BUFFER_PAGES,
        max_buffers in prop_oneof![Just(MAX_BUFFERS), 1u32..=MAX_BUFFERS],
        filter_kind in 0u8..8,
        mask in prop::collection::vec(any::<bool>(), 8),
    ) -> Case {
        // Mostly all nodes; sometimes a subset; rarely an offline id too.
        let filter = match filter_kind {
            0..=4 => None,
            5..=6 => Some(ids.iter().zip(&mask).filter(|(_, &m)| m).map(|(&id, _)| id).collect()),
            _ => Some(vec![ids[0], OFFLINE_ID]),
        };
        Case { ids, pxms, cpus, mem, dist, buffers_per_cpu, buffer_pages, max_buffers, filter }
    }
}

/// Checks one successful plan against the reference policy.
fn check_plan(c: &Case, p: &Owned) {
    let bpc = c.buffers_per_cpu;
    let mut served = BTreeSet::new();
    for i in (0..c.n()).filter(|&i| c.serves(i)) {
        served.extend(c.cpus[i].iter().copied());
    }
    // Totals: exactly buffers_per_cpu per served CPU, within the maximum.
    assert_eq!(p.buffers.len() as u64, served.len() as u64 * u64::from(bpc));
    assert!(p.buffers.len() as u32 <= c.max_buffers);

    let pos_of_cpu = |cpu: u32| (0..c.n()).find(|&i| c.cpus[i].contains(&cpu)).unwrap();
    for (i, b) in p.buffers.iter().enumerate() {
        assert_eq!(b.index as usize, i);
        assert!(
            served.contains(&b.cpu),
            "buffer {i} serves unserved cpu {}",
            b.cpu
        );
        assert!(b.slot < bpc);
        let own = pos_of_cpu(b.cpu);
        let target = c.expected_target(own);
        assert_eq!(b.cpu_node, c.ids[own]);
        assert_eq!(b.target_node, c.ids[target]);
        assert_eq!(b.pxm, c.pxms[target]);
        assert!(c.mem[target]);
    }
    // Strictly ordered by (target node, cpu, slot).
    let keys: Vec<_> = p
        .buffers
        .iter()
        .map(|b| (b.target_node, b.cpu, b.slot))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));

    check_cpu_lookup(c, p, &served);
    check_domains(c, p);
}

/// Every served CPU has `buffers_per_cpu` consecutive buffers, slots in order.
fn check_cpu_lookup(c: &Case, p: &Owned, served: &BTreeSet<u32>) {
    let topo_nodes = c.nodes();
    let topo = Topology::new(&topo_nodes, &c.dist).unwrap();
    let mut out = vec![BufferPlacement::default(); MAX_BUFFERS as usize];
    let live = plan(&topo, &c.request(), &mut out).unwrap();
    for &cpu in served {
        let range = live.buffers_for_cpu(cpu).unwrap();
        assert_eq!(range.len() as u32, c.buffers_per_cpu);
        for (slot, index) in range.enumerate() {
            let b = &p.buffers[index as usize];
            assert_eq!((b.cpu, b.slot), (cpu, slot as u32));
        }
        let count = p.buffers.iter().filter(|b| b.cpu == cpu).count();
        assert_eq!(count as u32, c.buffers_per_cpu);
    }
    let unserved = (0..c.n())
        .filter(|&i| !c.serves(i))
        .flat_map(|i| c.cpus[i].iter());
    for &cpu in unserved {
        assert_eq!(live.buffers_for_cpu(cpu), None);
    }
}

/// Domain summaries partition the plan and their pages add up.
fn check_domains(c: &Case, p: &Owned) {
    let mut next = 0;
    let mut pages = 0;
    for d in &p.domains {
        assert_eq!(d.first_buffer, next);
        let run = &p.buffers[d.buffer_range().start as usize..d.buffer_range().end as usize];
        assert!(run
            .iter()
            .all(|b| b.target_node == d.node && b.pxm == d.pxm));
        assert_eq!(d.cpus * c.buffers_per_cpu, d.buffers);
        let per_buffer = u64::from(c.buffer_pages) + u64::from(BOOKKEEPING_PAGES_PER_BUFFER);
        let expected = u64::from(d.buffers) * per_buffer + u64::from(BOOKKEEPING_PAGES_PER_DOMAIN);
        assert_eq!(d.pool_pages, expected);
        next += d.buffers;
        pages += d.pool_pages;
    }
    assert_eq!(next as usize, p.buffers.len());
    assert_eq!(pages, p.total_pool_pages);
    let targets: BTreeSet<_> = p.buffers.iter().map(|b| b.target_node).collect();
    assert_eq!(targets.len(), p.domains.len());
    assert!(p.domains.windows(2).all(|w| w[0].node < w[1].node));
}

/// The reported fit fits and one more does not.
fn check_fit(c: &Case, fits: u32) {
    if fits > 0 {
        assert!(c.with_per_cpu(fits).is_ok());
    }
    assert!(matches!(
        c.with_per_cpu(fits + 1),
        Err(PlanError::TooManyBuffers { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plan_follows_policy(c in case()) {
        let result = c.run();
        match c.expected_error() {
            Some(e) => prop_assert_eq!(result, Err(e)),
            None => check_plan(&c, &result.unwrap()),
        }
    }

    #[test]
    fn too_many_buffers_reports_what_fits(c in case()) {
        if let Err(PlanError::TooManyBuffers { max_buffers_per_cpu_that_fits, .. }) = c.run() {
            check_fit(&c, max_buffers_per_cpu_that_fits);
        }
    }

    #[test]
    fn plan_is_deterministic(c in case(), perm_seed in Just((0usize..8).collect::<Vec<_>>()).prop_shuffle()) {
        let first = c.run();
        prop_assert_eq!(&first, &c.run());
        let perm: Vec<usize> = perm_seed.into_iter().filter(|&p| p < c.n()).collect();
        prop_assert_eq!(&first, &c.permuted(&perm).run());
    }

    #[test]
    fn storage_of_exact_size_suffices(c in case()) {
        if let Ok(p) = c.run() {
            let nodes = c.nodes();
            let topo = Topology::new(&nodes, &c.dist).unwrap();
            let needed = p.buffers.len();
            let mut exact = vec![BufferPlacement::default(); needed];
            prop_assert!(plan(&topo, &c.request(), &mut exact).is_ok());
            let mut short = vec![BufferPlacement::default(); needed - 1];
            prop_assert_eq!(
                plan(&topo, &c.request(), &mut short).unwrap_err(),
                PlanError::OutputTooSmall { needed, len: needed - 1 }
            );
        }
    }
}
