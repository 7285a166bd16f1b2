// SPDX-License-Identifier: GPL-2.0

//! Set-up, in the TLFS order the module comment gives: pools, initialize,
//! create, map, sources (or, for `type=system`, only the map).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{new_mutex, prelude::*, sync::Arc};

use super::table::{Buffer, Table};
use super::{Group, HvCtx, Live};
use crate::{
    hv::hypercall::HvError,
    hv::pool::PoolDomain,
    platform::mm::{self, NodeChoice},
    platform::placement::Placement,
    platform::topology::NodeId,
    platform::user_mapping::UserMapping,
    policy::live::Served,
    policy::params::Config,
    tlfs::{
        BufferIndex, EventLogType, InitializeGroupInput, Pfn, ProximityDomainInfo, MAX_BUFFERS,
        MAX_BUFFER_PAGES,
    },
    uapi::CPU_WORDS,
};

/// Checks what HvCallMapEventLogBuffer returned for buffer `index` before
/// anything uses it: all of `pfns` mapped (`n` of them), each a page of RAM.
/// `what` prefixes the one dmesg line a failure prints.
fn check_mapped(what: &str, index: BufferIndex, pfns: &[u64], n: usize) -> Result {
    if n != pfns.len() {
        pr_err!(
            "{what}buffer {index}: mapped {n} pages, expected {}\n",
            pfns.len()
        );
        return Err(EIO);
    }
    if let Some((k, &pfn)) = pfns
        .iter()
        .enumerate()
        .find(|&(_, &p)| !mm::pfn_valid(Pfn(p)))
    {
        pr_err!(
            "{what}buffer {index}: the hypervisor mapped page {k} at frame {pfn:#x}, \
             which is not RAM\n"
        );
        return Err(EIO);
    }
    Ok(())
}

impl Group {
    /// Sets up the group `placement` describes, on `ctx`'s hypervisor, with
    /// room for `max_buffers` (at least the plan's count; checked by the
    /// caller).
    pub(crate) fn new(
        ctx: Pin<KBox<HvCtx>>,
        cfg: &Config,
        placement: Arc<Placement>,
        max_buffers: u32,
    ) -> Result<Self> {
        let mut served = KVec::new();
        for b in placement.buffers.iter() {
            if !served.iter().any(|s: &Served| s.cpu == b.cpu) {
                let s = Served {
                    cpu: b.cpu,
                    target_node: b.target_node,
                    pxm: b.pxm,
                };
                served.push(s, GFP_KERNEL)?;
            }
        }
        let live = Live {
            served,
            per_cpu: cfg.buffers_per_cpu,
        };
        let mut slots = KVec::with_capacity(max_buffers as usize, GFP_KERNEL)?;
        for _ in 0..max_buffers {
            slots.push(None, GFP_KERNEL)?;
        }
        let table = Table {
            slots,
            generation: 0,
            offline: [0; CPU_WORDS],
        };
        let mut group = Group {
            ctx,
            max_buffers,
            table: KBox::pin_init(new_mutex!(table), GFP_KERNEL)?,
            live: KBox::pin_init(new_mutex!(live), GFP_KERNEL)?,
            revoking: KBox::pin_init(new_mutex!(()), GFP_KERNEL)?,
            placement,
            cfg: *cfg,
            initialized: false,
            sources: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            system: None,
            user: UserMapping::new()?,
        };
        if group.is_system() {
            group.map_system_buffers()?;
            return Ok(group);
        }
        group.fill_pools()?;
        group.initialize()?;
        group.create_buffers()?;
        group.map_buffers()?;
        group.apply_sources(cfg.sources)?;
        Ok(group)
    }

    /// `type=system`: system-diagnostics buffers belong to the hypervisor.
    /// Their number and size come from HvCallGetSystemProperty (property
    /// 28); each is then only mapped (type 2, by index), read-only. No pool
    /// check, no group, no create, no sources: the way Microsoft's reader
    /// does it (`mshv_diaglog_init()` in drivers/hv/diag/mshv_diaglog.c,
    /// microsoft/CBL-Mariner-Linux-Kernel). [`Group::stop`] only unmaps them.
    fn map_system_buffers(&mut self) -> Result {
        let config = self
            .ctx
            .with(|hv, hp| hv.diag_log_buffers(hp))
            .inspect_err(|e| pr_err!("type=system: {e}\n"))?;
        let (count, pages) = (config.buffer_count, config.buffer_size_in_pages);
        if !(1..=MAX_BUFFERS).contains(&count) || !(1..=MAX_BUFFER_PAGES).contains(&pages) {
            pr_err!(
                "type=system: the hypervisor reports {count} diagnostic log buffers of {pages} \
                 pages; expected 1-{MAX_BUFFERS} of 1-{MAX_BUFFER_PAGES}\n"
            );
            return Err(EIO);
        }
        self.system = Some(config);
        self.max_buffers = count;
        let mut slots = KVec::with_capacity(count as usize, GFP_KERNEL)?;
        for _ in 0..count {
            slots.push(None, GFP_KERNEL)?;
        }
        self.table.lock().slots = slots;
        pr_info!(
            "type=system: mapping the hypervisor's {count} diagnostic log buffers of {pages} \
             pages read-only (buffer_pages, buffers_per_cpu, threshold, mode, time_basis and \
             sources do not apply)\n"
        );
        for index in (0..count).map(BufferIndex) {
            let mut pfns = KVec::from_elem(0u64, pages as usize, GFP_KERNEL)?;
            let ty = EventLogType::SystemDiagnostics;
            let n = self.ctx.with(|hv, hp| {
                hv.map_buffer(hp, ty, index, &mut pfns)
                    .inspect_err(|e| pr_err!("type=system: buffer {index}: {e}\n"))
            })?;
            // Mapped: teardown unmaps it from here on. Its pages are kept
            // only once every page number is checked, as for a group's.
            self.table.lock().insert(Buffer::new(index, None, true));
            check_mapped("type=system: ", index, &pfns, n)?;
            if let Some(b) = self.table.lock().get_mut(index) {
                b.pfns = pfns;
            }
        }
        Ok(())
    }

    /// Local buffers need their pages in each domain's own pool; the other
    /// types draw on the pool as a whole.
    fn fill_pools(&self) -> Result {
        let placement = &self.placement;
        let ensure = |domain, need| {
            self.ctx
                .with(|hv, hp| hv.ensure_pool(hp, domain, need))
                .map_err(|e| {
                    pr_err!("{e}\n");
                    Error::from(e)
                })
        };
        if !self.is_local() {
            let need = placement.domains.iter().map(|d| d.pool_pages).sum();
            return ensure(PoolDomain::Whole, need).map(drop);
        }
        for d in placement.domains.iter() {
            ensure(PoolDomain::of_plan(d.node, d.pxm)?, d.pool_pages)?;
        }
        Ok(())
    }

    fn initialize(&mut self) -> Result {
        let cfg = &self.cfg;
        // `system_time` 0: the simulator ignores the field; whether the
        // hypervisor uses it is still to be confirmed on a root partition.
        let input = InitializeGroupInput::new(
            cfg.log_type,
            cfg.mode,
            self.max_buffers,
            cfg.buffer_pages,
            cfg.threshold,
            cfg.time_basis,
            0,
        );
        self.ctx.with(|hv, hp| {
            hv.with_deposit(hp, NodeChoice::Any, |hp| hv.initialize_group(hp, &input))
        })?;
        self.initialized = true;
        Ok(())
    }

    fn create_buffers(&mut self) -> Result {
        for b in self.placement.buffers.iter() {
            let serves = Served {
                cpu: b.cpu,
                target_node: b.target_node,
                pxm: b.pxm,
            };
            self.create_buffer(BufferIndex(b.index), serves)?;
        }
        Ok(())
    }

    /// Creates buffer `index` for `serves` (HvCallCreateEventLogBuffer with
    /// its proximity domain for a local group, depositing node-local pages
    /// and retrying on `HV_STATUS_INSUFFICIENT_MEMORY`) and enters it in the
    /// table, not yet mapped.
    pub(super) fn create_buffer(&self, index: BufferIndex, serves: Served) -> Result {
        let proximity = if self.is_local() {
            ProximityDomainInfo::node(serves.pxm)
        } else {
            ProximityDomainInfo::none()
        };
        let ty = self.cfg.log_type;
        let target = NodeId::of_plan(serves.target_node)?;
        self.ctx.with(|hv, hp| {
            hv.with_deposit(hp, NodeChoice::Only(target), |_| {
                hv.create_buffer(ty, index, proximity)
            })
        })?;
        self.table
            .lock()
            .insert(Buffer::new(index, Some(serves), false));
        Ok(())
    }

    fn map_buffers(&mut self) -> Result {
        for b in self.placement.buffers.iter() {
            self.map_buffer(BufferIndex(b.index), b.target_node)?;
        }
        Ok(())
    }

    /// Maps buffer `index`, depositing and retrying on
    /// `HV_STATUS_INSUFFICIENT_MEMORY` like the other set-up calls (pages
    /// from `node`, where the plan puts the buffer), and checks each page
    /// number the hypervisor returns before anything uses it. A buffer
    /// whose pages fail the check is unmapped again at once, so that it is
    /// only created, as before the call, and can be deleted; only if the
    /// hypervisor refuses that is it left marked mapped, for the unmap at
    /// its deletion or at teardown.
    pub(super) fn map_buffer(&self, index: BufferIndex, node: u32) -> Result {
        let pages = self.cfg.buffer_pages as usize;
        let ty = self.cfg.log_type;
        let mut pfns = KVec::from_elem(0u64, pages, GFP_KERNEL)?;
        let n = self.ctx.with(|hv, hp| {
            hv.with_deposit(hp, NodeChoice::Only(NodeId::of_plan(node)?), |hp| {
                hv.map_buffer(hp, ty, index, &mut pfns)
            })
            .inspect_err(|_| pr_err!("buffer {index}: not mapped\n"))
        })?;
        if let Err(e) = check_mapped("", index, &pfns, n) {
            let undone = self.ctx.with(|hv, _| hv.unmap_buffer(ty, index));
            if let Err(u) = &undone {
                pr_err!("buffer {index}: not unmapped after its bad map: {u}\n");
            }
            if let Some(b) = self.table.lock().get_mut(index) {
                b.mapped = undone.is_err();
            }
            return Err(e);
        }
        let mut table = self.table.lock();
        let b = table.get_mut(index).ok_or(EINVAL)?;
        b.mapped = true;
        b.pfns = pfns;
        table.changed();
        Ok(())
    }

    /// Gives the hypervisor a new source mask (0 disables all).
    ///
    /// On Hyper-V, refused (`EBUSY`) while mshv_root holds SINT0: the
    /// completion messages logging brings would block its slot (`sint0.rs`).
    pub(super) fn apply_sources(&self, mask: u64) -> Result {
        let ty = self.cfg.log_type;
        if mask != 0
            && !self.backend().delivers_messages()
            && crate::hv::trampoline::sint0_taken_by_mshv_root()
        {
            pr_err!(
                "sources={mask:#x} not enabled: mshv_root owns SINT0 and cannot take event log \
                 completion messages in this kernel (they would block its intercept messages); \
                 unload mshv_root first\n"
            );
            return Err(EBUSY);
        }
        self.ctx.with(|hv, hp| {
            // The lock on the call pages also orders updates of `sources`.
            hv.set_sources(hp, ty, mask)
                .inspect_err(|e| pr_err!("{e}\n"))?;
            self.sources.store(mask, Ordering::Relaxed);
            Ok::<(), HvError>(())
        })?;
        Ok(())
    }
}
