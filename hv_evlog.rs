// SPDX-License-Identifier: GPL-2.0

//! hv_evlog: Hyper-V hypervisor event log buffers, mapped to userspace.
//!
//! This is the module entry: parameters, init and exit. Every parameter is
//! checked at init by [`params::validate`]; a bad one fails `insmod` with
//! `-EINVAL` and one dmesg line naming it, its value and what is allowed.

use kernel::prelude::*;

// The folders are the layers (README.md, "Layout"). The crate root sits
// beside its folder, so each first-level module names its `mod.rs`; below
// that every module is declared the plain way.
//
// Pure (only `core`; tests/host compiles these same files):
mod hv_evlog_numa;
#[path = "hv_evlog/policy/mod.rs"]
mod policy;
#[path = "hv_evlog/tlfs/mod.rs"]
mod tlfs;
#[path = "hv_evlog/uapi.rs"]
mod uapi;

// Kernel-only (scripts/check-layers.py holds which may name which):
#[path = "hv_evlog/device/mod.rs"]
mod device;
#[path = "hv_evlog/group/mod.rs"]
mod group;
#[path = "hv_evlog/hv/mod.rs"]
mod hv;
#[path = "hv_evlog/platform/mod.rs"]
mod platform;
#[path = "hv_evlog/sim/mod.rs"]
mod sim;
#[path = "hv_evlog/word_params.rs"]
mod word_params;

use kernel::sync::Arc;

use crate::{
    device::debugfs,
    group::reboot,
    hv::{backend, sint0},
    platform::{placement, ticker::RunTime, topology},
    policy::{live, params},
};

module! {
    type: HvEvlog,
    name: "hv_evlog",
    authors: ["hv_evlog developers"],
    description: "Hyper-V hypervisor event log buffers for userspace",
    license: "GPL",
    params: {
        buffer_pages: u32 {
            default: crate::policy::params::default::BUFFER_PAGES,
            description: "Pages per event log buffer (1-512) [16]",
        },
        buffers_per_cpu: u32 {
            default: crate::policy::params::default::BUFFERS_PER_CPU,
            description: "Buffers per served CPU (1-512; all buffers together at most 512) [2]",
        },
        max_buffers: u32 {
            default: 0,
            description: "The group maximum: HV_EVLOG_IOC_RESIZE and CPUs coming online may grow the group up to it (the planned count-512; 0 = 4 times the planned count, at most 512) [0]",
        },
        threshold: u32 {
            default: crate::policy::params::default::THRESHOLD,
            description: "Completed buffers before the hypervisor notifies (1-number of buffers) [1]",
        },
        sources: u64 {
            default: crate::policy::params::default::SOURCES,
            description: "Event source group mask (legacy form): group bits 0x100-0x20000000 only, at least one [0x3fffff00: all groups]",
        },
        scan_interval_ms: u32 {
            default: crate::policy::params::default::SCAN_INTERVAL_MS,
            description: "Completion scan interval in ms (1-10000) [10]",
        },
        sim_pool_pages: u32 {
            default: crate::policy::params::default::SIM_POOL_PAGES,
            description: "backend=sim: pages in each node's pool at start (0-1048576) [256]",
        },
        sim_rate: u32 {
            default: crate::policy::params::default::SIM_RATE,
            description: "backend=sim: synthetic events per second per CPU (0-1000000) [1000]",
        },
        sim_fail_at: u32 {
            default: 0,
            description: "backend=sim: fail the N-th hypercall (1-based; 0 = never) [0]",
        },
        sim_fail_status: u32 {
            default: crate::policy::params::default::SIM_FAIL_STATUS,
            description: "backend=sim: HV_STATUS the failing call returns (1-65535) [5]",
        },
        log_hypercalls: u32 {
            default: 0,
            description: "Keep the last N hypercalls in debugfs hv_evlog/hypercalls (0-4096; 0 = off) [0]",
        },
    },
}

// Also in dkms.conf, the CLI's Cargo.toml and the documentation, which
// cannot name it: tests/host/tests/version.rs checks that they agree.
const VERSION: &str = "0.1.0";

/// Collects what `insmod` was given and checks it.
fn config() -> Result<params::Config> {
    use module_parameters as p;
    use word_params as w;

    let raw = params::Raw {
        backend: w::BACKEND.bytes(),
        log_type: w::TYPE.bytes(),
        mode: w::MODE.bytes(),
        time_basis: w::TIME_BASIS.bytes(),
        nodes: w::NODES.bytes(),
        text_too_long: w::too_long(),
        buffer_pages: *p::buffer_pages.value(),
        buffers_per_cpu: *p::buffers_per_cpu.value(),
        threshold: *p::threshold.value(),
        sources: *p::sources.value(),
        scan_interval_ms: *p::scan_interval_ms.value(),
        sim_pool_pages: *p::sim_pool_pages.value(),
        sim_rate: *p::sim_rate.value(),
        sim_fail_at: *p::sim_fail_at.value(),
        sim_fail_status: *p::sim_fail_status.value(),
        log_hypercalls: *p::log_hypercalls.value(),
    };
    params::validate(&raw).map_err(|e| {
        // Pure types implement `core::fmt::Display`; the kernel's printing
        // macros take them through `Arguments`.
        pr_err!("{}\n", format_args!("{e}"));
        EINVAL
    })
}

struct HvEvlog {
    // Dropped in order: the reboot hook, the device and the views first, then
    // the group (full teardown) once nothing else holds it.
    _reboot: Pin<KBox<reboot::RebootHook>>,
    _device: Pin<KBox<device::Device>>,
    // Before the group: no hotplug callback runs once it is gone.
    _hotplug: Option<group::hotplug::Hotplug>,
    _debugfs: debugfs::Debugfs,
    _group: Arc<group::Group>,
}

/// Connects to the hypervisor `cfg.backend` names; with the simulator, its
/// completion messages go to `inbox`.
fn connect(
    cfg: &params::Config,
    placement: &placement::Placement,
    inbox: &Arc<sint0::Inbox>,
) -> Result<backend::Backend> {
    Ok(match cfg.backend {
        params::BackendKind::Hv => backend::Backend::Hv(hv::trampoline::HvTransport::probe()?),
        params::BackendKind::Sim => {
            backend::Backend::Sim(sim::create(&cfg.sim, placement, inbox.clone())?)
        }
    })
}

/// The group maximum from `max_buffers` (0: room to grow,
/// [`live::DEFAULT_HEADROOM`] times the count planned at load), which must
/// hold the plan and fit the hypervisor's 512.
fn live_max_buffers(placement: &placement::Placement) -> Result<u32> {
    let planned = placement.buffers.len() as u32;
    let max = *module_parameters::max_buffers.value();
    live::check_max_buffers(max, planned).map_err(|e| {
        pr_err!("{}\n", format_args!("{e}"));
        EINVAL
    })
}

impl kernel::Module for HvEvlog {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let cfg = config()?;
        let snapshot = topology::Snapshot::read()?;
        let placement = placement::Placement::new(&cfg, word_params::NODES.bytes(), &snapshot)?;
        let max_buffers = live_max_buffers(&placement)?;
        let inbox = Arc::pin_init(sint0::Inbox::new(cfg.log_type as u32), GFP_KERNEL)?;
        let backend = connect(&cfg, &placement, &inbox)?;
        let ctx = KBox::pin_init(group::HvCtx::new(backend, cfg.log_hypercalls)?, GFP_KERNEL)?;
        let placement = Arc::new(placement, GFP_KERNEL)?;
        let group = Arc::new(
            group::Group::new(ctx, &cfg, placement, max_buffers)?,
            GFP_KERNEL,
        )?;
        let scan_time = Arc::new(RunTime::new(), GFP_KERNEL)?;
        let debugfs = debugfs::Debugfs::new(&group, &inbox, &scan_time)?;
        let reboot = KBox::pin_init(reboot::RebootHook::register(group.clone()), GFP_KERNEL)?;
        group.start();
        let hotplug = group::hotplug::Hotplug::register(group.clone(), &snapshot)?;
        // Last: an opener may use the device as soon as it exists.
        // The hypervisor's own system buffers complete with no message.
        let messages =
            (group.backend().delivers_messages() && !group.is_system()).then(|| inbox.clone());
        let device = device::register(
            group.clone(),
            cfg.scan_interval_ms,
            messages.clone(),
            scan_time,
        )?;
        if messages.is_some() {
            pr_info!(
                "completion: SynIC messages, header scan every {} ms as a safety net\n",
                cfg.scan_interval_ms
            );
        } else {
            pr_info!(
                "completion: header scan every {} ms (no SynIC messages here)\n",
                cfg.scan_interval_ms
            );
        }
        if group.is_system() {
            pr_info!(
                "version {VERSION} loaded (type=system): the hypervisor's {} buffers of {} pages\n",
                group.buffer_count(),
                group::log::EventLog::buffer_pages(&*group)
            );
        } else {
            pr_info!(
                "version {VERSION} loaded (buffer_pages={}): {} buffers on {} proximity domains\n",
                cfg.buffer_pages,
                group.buffer_count(),
                group.placement().domains.len()
            );
        }
        Ok(HvEvlog {
            _reboot: reboot,
            _device: device,
            _hotplug: hotplug,
            _debugfs: debugfs,
            _group: group,
        })
    }
}

impl Drop for HvEvlog {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
