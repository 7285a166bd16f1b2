// SPDX-License-Identifier: GPL-2.0

//! What numa.rs and numa_props.rs share: planning into owned results.

use hv_evlog_host_tests::numa::*;

pub fn run(nodes: &[Node<'_>], dist: &[u8], r: &Request<'_>) -> Result<Owned, PlanError> {
    let topo = Topology::new(nodes, dist)?;
    let mut out = [BufferPlacement::default(); MAX_BUFFERS as usize];
    let p = plan(&topo, r, &mut out)?;
    Ok(Owned::of(&p))
}

/// Everything a plan exposes, owned, so tests can compare plans.
#[derive(Debug, PartialEq, Eq)]
pub struct Owned {
    pub buffers: Vec<BufferPlacement>,
    pub domains: Vec<DomainSummary>,
    pub total_pool_pages: u64,
}

impl Owned {
    pub fn of(p: &Plan<'_>) -> Self {
        Owned {
            buffers: p.buffers().to_vec(),
            domains: p.domains().collect(),
            total_pool_pages: p.total_pool_pages(),
        }
    }
}
