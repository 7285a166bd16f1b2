// SPDX-License-Identifier: GPL-2.0

//! The placement plan, owned: planned once at init from the topology
//! snapshot and the parameters, then read by the lifecycle, debugfs and the
//! device.

use kernel::prelude::*;

use crate::{
    hv_evlog_numa::{self as numa, BufferPlacement, DomainSummary, NodeFilter, PlanError},
    platform::topology::Snapshot,
    policy::params::{self, Config},
};

/// Where every buffer goes and what each proximity domain needs.
pub(crate) struct Placement {
    /// One entry per buffer; `buffers[i].index == i`.
    pub(crate) buffers: KVec<BufferPlacement>,
    /// One entry per domain that holds buffers, ascending node id.
    pub(crate) domains: KVec<DomainSummary>,
}

/// Names the parameter a planning failure is about, in one dmesg line.
fn report(cfg: &Config, nodes_text: &[u8], e: &PlanError) -> Error {
    let text = core::str::from_utf8(nodes_text).unwrap_or("?");
    match e {
        PlanError::FilterNodeOffline { .. } | PlanError::NoCpus if !cfg.nodes.is_all() => {
            pr_err!(
                "{}\n",
                format_args!("invalid parameter nodes='{text}': {e}")
            );
        }
        PlanError::TooManyBuffers { .. } => pr_err!(
            "{}\n",
            format_args!(
                "invalid parameter buffers_per_cpu={}: {e}",
                cfg.buffers_per_cpu
            )
        ),
        _ => pr_err!("{}\n", format_args!("cannot place buffers: {e}")),
    }
    EINVAL
}

impl Placement {
    /// Plans the buffers for `cfg` on the topology in `snap`.
    pub(crate) fn new(cfg: &Config, nodes_text: &[u8], snap: &Snapshot) -> Result<Self> {
        let nodes = snap.nodes()?;
        let topo = snap
            .topology(&nodes)
            .map_err(|e| report(cfg, nodes_text, &e))?;
        let mut filter_ids = KVec::new();
        for id in cfg.nodes.ids() {
            filter_ids.push(id, GFP_KERNEL)?;
        }
        let req = numa::Request {
            buffers_per_cpu: cfg.buffers_per_cpu,
            buffer_pages: cfg.buffer_pages,
            max_buffers: numa::MAX_BUFFERS,
            filter: if cfg.nodes.is_all() {
                NodeFilter::All
            } else {
                NodeFilter::Only(&filter_ids)
            },
        };
        let mut storage = KVec::from_elem(
            BufferPlacement::default(),
            numa::MAX_BUFFERS as usize,
            GFP_KERNEL,
        )?;
        let plan =
            numa::plan(&topo, &req, &mut storage).map_err(|e| report(cfg, nodes_text, &e))?;
        params::check_threshold(cfg.threshold, plan.buffer_count()).map_err(|e| {
            pr_err!("{}\n", format_args!("{e}"));
            EINVAL
        })?;
        let mut domains = KVec::new();
        for d in plan.domains() {
            domains.push(d, GFP_KERNEL)?;
        }
        let count = plan.buffers().len();
        storage.truncate(count);
        Ok(Placement {
            buffers: storage,
            domains,
        })
    }
}
