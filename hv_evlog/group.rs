// SPDX-License-Identifier: GPL-2.0

//! The event log buffer group's lifecycle, as one owning type.
//!
//! Set-up follows the TLFS order: make sure each proximity domain's pool
//! holds what its buffers need, initialize the group, create every buffer
//! with its proximity domain, map every buffer (learning its pages), enable
//! the sources. [`Group`] records each step as it succeeds, and its `Drop`
//! undoes exactly what was done, in reverse: sources off, flush (by buffer
//! index) each buffer whose header says in use and release what completed,
//! unmap, delete, finalize. Pages deposited into the pool stay there, as
//! upstream's `hv_proc.c` leaves them: the root's pool also holds what other
//! drivers deposited, so nothing is withdrawn. A
//! failure at any step of [`Group::new`] therefore unwinds through the same
//! `Drop` as `rmmod`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{delay::fsleep, Delta},
};

use crate::{
    backend::Backend,
    calllog::{Entry, Ring},
    device::EventLog,
    hypercall::{self, CallLog, HvError, HypercallPages, Hypervisor, PoolDomain},
    mm::{self, NodeChoice},
    params::{self, Config},
    placement::Placement,
    snapshot,
    tlfs::{
        BufferHeader, BufferState, DiagLogBufferConfig, EventLogMode, EventLogType,
        InitializeGroupInput, ProximityDomainInfo, TimeBasis, MAX_BUFFERS, MAX_BUFFER_PAGES,
        PAGE_SIZE,
    },
    uapi::{hv_evlog_buffer_info, hv_evlog_info, HV_EVLOG_CPU_WORDS},
};

/// The hypercall path: the transport, the pages calls are encoded in, and
/// the log of the last calls (debugfs `hypercalls`).
#[pin_data]
pub(crate) struct HvCtx {
    backend: Backend,
    #[pin]
    pages: Mutex<HypercallPages>,
    #[pin]
    log: CallLog,
}

impl HvCtx {
    /// The context for `backend`, recording the last `log_entries` calls
    /// (none for 0).
    pub(crate) fn new(backend: Backend, log_entries: u32) -> Result<impl PinInit<Self, Error>> {
        let pages = HypercallPages::new()?;
        let entries = KVec::from_elem(Entry::EMPTY, log_entries as usize, GFP_KERNEL)?;
        Ok(try_pin_init!(Self {
            backend,
            pages <- new_mutex!(pages),
            log <- new_mutex!(Ring::new(entries)),
        }? Error))
    }

    /// Runs `f` with the hypervisor handle and the (locked) call pages.
    pub(crate) fn with<T>(&self, f: impl FnOnce(Hypervisor<'_>, &mut HypercallPages) -> T) -> T {
        let mut pages = self.pages.lock();
        // Not recording skips even the copy of each input.
        let hv = if self.log.lock().enabled() {
            Hypervisor::logged(&self.backend, &self.log)
        } else {
            Hypervisor::new(&self.backend)
        };
        f(hv, &mut pages)
    }

    /// The log of the last calls.
    pub(crate) fn call_log(&self) -> &CallLog {
        &self.log
    }

    /// The transport.
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }
}

/// One created buffer and, once mapped, its pages.
struct Buffer {
    index: u32,
    /// Whether the hypervisor mapped it (so teardown must unmap it).
    mapped: bool,
    /// Its pages; empty unless mapped and every page number checked.
    pfns: KVec<u64>,
}

/// A set-up event log group; dropping it tears everything down.
pub(crate) struct Group {
    ctx: Pin<KBox<HvCtx>>,
    placement: Arc<Placement>,
    cfg: Config,
    initialized: bool,
    buffers: KVec<Buffer>,
    /// The source mask the hypervisor was last given (0: none enabled).
    sources: AtomicU64,
    /// Whether [`Group::stop`] ran (at reboot, or on the way to drop).
    stopped: AtomicBool,
    /// `type=system`: the hypervisor's own buffers, as it reported them.
    system: Option<DiagLogBufferConfig>,
}

/// `EOPNOTSUPP`: release, flush and set sources on `type=system`, whose
/// buffers the hypervisor rotates on its own.
fn not_supported() -> Error {
    Error::from_errno(-crate::tlfs::errno::EOPNOTSUPP)
}

/// How long [`Group::stop`] waits for flushed buffers to complete: what
/// Microsoft's driver waits (mshv_trace.c).
const STOP_WAIT_MS: u32 = 1000;
/// How often it looks at the headers meanwhile.
const STOP_POLL_MS: u32 = 10;

/// Logs a failed teardown step; teardown goes on with the next one.
fn warn_failed(step: &str, index: Option<u32>, e: HvError) {
    match index {
        Some(i) => pr_warn!("teardown: {step} buffer {i}: {e}\n"),
        None => pr_warn!("teardown: {step}: {e}\n"),
    }
}

/// What [`Group::stop`] did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StopReport {
    /// In-use buffers flushed.
    pub(crate) flushed: u32,
    /// Complete buffers released.
    pub(crate) released: u32,
    /// Buffers deleted (each unmapped first if it was mapped).
    pub(crate) deleted: u32,
    /// Whether the group was finalized.
    pub(crate) finalized: bool,
    /// Steps that failed (each logged).
    pub(crate) failures: u32,
}

impl StopReport {
    /// Logs a failed step and counts it.
    fn failed(&mut self, step: &str, index: Option<u32>, e: HvError) {
        warn_failed(step, index, e);
        self.failures += 1;
    }
}

impl Group {
    /// Sets up the group `placement` describes, on `ctx`'s hypervisor.
    pub(crate) fn new(
        ctx: Pin<KBox<HvCtx>>,
        cfg: &Config,
        placement: Arc<Placement>,
    ) -> Result<Self> {
        let mut group = Group {
            ctx,
            buffers: KVec::with_capacity(placement.buffers.len(), GFP_KERNEL)?,
            placement,
            cfg: *cfg,
            initialized: false,
            sources: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            system: None,
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

    /// The transport the group talks to.
    pub(crate) fn backend(&self) -> &Backend {
        self.ctx.backend()
    }

    /// The plan the group was set up from.
    pub(crate) fn placement(&self) -> &Placement {
        &self.placement
    }

    fn is_local(&self) -> bool {
        self.cfg.log_type == EventLogType::LocalDiagnostics
    }

    /// `type=system`: the hypervisor's own system-diagnostics buffers.
    pub(crate) fn is_system(&self) -> bool {
        self.cfg.log_type == EventLogType::SystemDiagnostics
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
        pr_info!(
            "type=system: mapping the hypervisor's {count} diagnostic log buffers of {pages} \
             pages read-only (buffer_pages, buffers_per_cpu, threshold, mode, time_basis and \
             sources do not apply)\n"
        );
        self.buffers = KVec::with_capacity(count as usize, GFP_KERNEL)?;
        for index in 0..count {
            let mut pfns = KVec::from_elem(0u64, pages as usize, GFP_KERNEL)?;
            let ty = EventLogType::SystemDiagnostics;
            let n = self.ctx.with(|hv, hp| {
                hv.map_buffer(hp, ty, index, &mut pfns)
                    .inspect_err(|e| pr_err!("type=system: buffer {index}: {e}\n"))
            })?;
            // Mapped: teardown unmaps it from here on. Its pages are kept
            // only once every page number is checked, as for a group's.
            self.buffers.push(
                Buffer {
                    index,
                    mapped: true,
                    pfns: KVec::new(),
                },
                GFP_KERNEL,
            )?;
            if n != pages as usize {
                pr_err!("type=system: buffer {index}: mapped {n} pages, expected {pages}\n");
                return Err(EIO);
            }
            if let Some((k, &pfn)) = pfns.iter().enumerate().find(|&(_, &p)| !mm::pfn_valid(p)) {
                pr_err!(
                    "type=system: buffer {index}: the hypervisor mapped page {k} at frame \
                     {pfn:#x}, which is not RAM\n"
                );
                return Err(EIO);
            }
            if let Some(b) = self.buffers.last_mut() {
                b.pfns = pfns;
            }
        }
        Ok(())
    }

    /// Local buffers need their pages in each domain's own pool; the other
    /// types draw on the pool as a whole.
    fn fill_pools(&self) -> Result {
        let placement = &self.placement;
        self.ctx
            .with(|hv, hp| {
                if !self.is_local() {
                    let need = placement.domains.iter().map(|d| d.pool_pages).sum();
                    return hv.ensure_pool(hp, PoolDomain::Whole, need).map(drop);
                }
                for d in placement.domains.iter() {
                    let domain = PoolDomain::Node {
                        node: d.node,
                        pxm: d.pxm,
                    };
                    hv.ensure_pool(hp, domain, d.pool_pages)?;
                }
                Ok(())
            })
            .map_err(|e| {
                pr_err!("{e}\n");
                Error::from(e)
            })
    }

    fn initialize(&mut self) -> Result {
        let cfg = &self.cfg;
        let input = InitializeGroupInput {
            log_type: cfg.log_type as u16,
            mode: cfg.mode as u16,
            max_buffer_count: self.placement.buffers.len() as u32,
            buffer_size_in_bytes: cfg.buffer_pages * PAGE_SIZE as u32,
            threshold: cfg.threshold,
            time_basis: cfg.time_basis as u32,
            system_time: 0,
        };
        self.ctx.with(|hv, hp| {
            hv.with_deposit(hp, NodeChoice::Any, |hp| hv.initialize_group(hp, &input))
        })?;
        self.initialized = true;
        Ok(())
    }

    fn create_buffers(&mut self) -> Result {
        let local = self.is_local();
        for b in self.placement.buffers.iter() {
            let proximity = if local {
                ProximityDomainInfo::node(b.pxm)
            } else {
                ProximityDomainInfo::none()
            };
            let (ctx, ty) = (&self.ctx, self.cfg.log_type);
            ctx.with(|hv, hp| {
                hv.with_deposit(hp, NodeChoice::Only(b.target_node), |_| {
                    hv.create_buffer(ty, b.index, proximity)
                })
            })?;
            self.buffers.push(
                Buffer {
                    index: b.index,
                    mapped: false,
                    pfns: KVec::new(),
                },
                GFP_KERNEL,
            )?;
        }
        Ok(())
    }

    /// Maps every buffer, depositing and retrying on
    /// `HV_STATUS_INSUFFICIENT_MEMORY` like the other set-up calls (pages
    /// from the node the plan puts the buffer on), and checks each page
    /// number the hypervisor returns before anything uses it.
    fn map_buffers(&mut self) -> Result {
        let pages = self.cfg.buffer_pages as usize;
        let ty = self.cfg.log_type;
        for (b, plan) in self.buffers.iter_mut().zip(self.placement.buffers.iter()) {
            let mut pfns = KVec::from_elem(0u64, pages, GFP_KERNEL)?;
            let n = self.ctx.with(|hv, hp| {
                hv.with_deposit(hp, NodeChoice::Only(plan.target_node), |hp| {
                    hv.map_buffer(hp, ty, b.index, &mut pfns)
                })
                .inspect_err(|_| pr_err!("buffer {}: not mapped\n", b.index))
            })?;
            b.mapped = true;
            if n != pages {
                pr_err!("buffer {}: mapped {n} pages, expected {pages}\n", b.index);
                return Err(EIO);
            }
            if let Some((k, &pfn)) = pfns.iter().enumerate().find(|&(_, &p)| !mm::pfn_valid(p)) {
                pr_err!(
                    "buffer {}: the hypervisor mapped page {k} at frame {pfn:#x}, which is not RAM\n",
                    b.index
                );
                return Err(EIO);
            }
            b.pfns = pfns;
        }
        Ok(())
    }

    /// Gives the hypervisor a new source mask (0 disables all).
    ///
    /// On Hyper-V, refused (`EBUSY`) while mshv_root holds SINT0: the
    /// completion messages logging brings would block its slot (`sint0.rs`).
    fn apply_sources(&self, mask: u64) -> Result {
        let ty = self.cfg.log_type;
        if mask != 0 && !self.backend().delivers_messages() && crate::hv::sint0_taken_by_mshv_root()
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

    /// The log of the last hypercalls.
    pub(crate) fn call_log(&self) -> &CallLog {
        self.ctx.call_log()
    }

    /// Starts whatever runs beside the hypervisor (the simulator's writers).
    pub(crate) fn start(&self) {
        self.ctx.backend().start();
    }

    /// Number of buffers created.
    pub(crate) fn buffer_count(&self) -> usize {
        self.buffers.len()
    }

    /// The page frames of buffer `index` (empty until mapped).
    pub(crate) fn pfns(&self, index: u32) -> &[u64] {
        self.buffers
            .get(index as usize)
            .map_or(&[], |b| &b.pfns[..])
    }

    /// The node all pages of buffer `index` are on, if they share one.
    pub(crate) fn pages_node(&self, index: u32) -> Option<u32> {
        let mut nodes = self.pfns(index).iter().map(|&p| mm::node_of_pfn(p));
        let first = nodes.next()??;
        nodes.all(|n| n == Some(first)).then_some(first)
    }

    /// The live header of buffer `index`, read from its first page.
    pub(crate) fn header(&self, index: u32) -> Option<BufferHeader> {
        let pfn = *self.pfns(index).first()?;
        snapshot::snapshot(&mm::HeaderPage(pfn))
    }

    /// Stops logging and hands everything back to the hypervisor, once: the
    /// sequence Microsoft's driver uses before unload, kexec and reboot
    /// (mshv_trace.c, `mshv_trace_disable` and its callers), because a group
    /// left behind makes the next kernel's initialize of the type fail.
    /// Sources off; flush each buffer whose header says in use; wait up to
    /// [`STOP_WAIT_MS`] until none is; release every complete one; unmap,
    /// delete, finalize. Linux memory is left alone (userspace may still map
    /// the pages; [`Drop`] frees them), so the reboot notifier may call it
    /// while the device is in use. Each failed step is logged and the next
    /// one runs. Returns what it did.
    pub(crate) fn stop(&self) -> StopReport {
        let mut report = StopReport::default();
        if self.stopped.swap(true, Ordering::AcqRel) {
            return report;
        }
        if self.is_system() {
            // The hypervisor's own buffers: only unmap them.
            let ty = EventLogType::SystemDiagnostics;
            for b in self.buffers.iter().rev().filter(|b| b.mapped) {
                if let Err(e) = self.ctx.with(|hv, _| hv.unmap_buffer(ty, b.index)) {
                    report.failed("unmap", Some(b.index), e);
                }
            }
            return report;
        }
        let ty = self.cfg.log_type;
        if self.sources.load(Ordering::Relaxed) != 0 {
            match self.ctx.with(|hv, hp| hv.set_sources(hp, ty, 0)) {
                Ok(()) => self.sources.store(0, Ordering::Relaxed),
                Err(e) => report.failed("disable sources", None, e),
            }
        }
        let count = self.buffers.len() as u32;
        let state = |i| self.header(i).and_then(|h| h.state());
        for i in 0..count {
            if state(i) == Some(BufferState::InUse) {
                match self.ctx.with(|hv, _| hv.flush(ty, i)) {
                    Ok(()) => report.flushed += 1,
                    Err(e) if hypercall::flush_raced(&e) => {}
                    Err(e) => report.failed("flush", Some(i), e),
                }
            }
        }
        // The hypervisor completes a flushed buffer asynchronously; unmap
        // is refused while one is still in use.
        let mut waited = 0;
        while (0..count).any(|i| state(i) == Some(BufferState::InUse)) {
            if waited >= STOP_WAIT_MS {
                pr_warn!("teardown: buffers still in use after {STOP_WAIT_MS} ms\n");
                report.failures += 1;
                break;
            }
            fsleep(Delta::from_millis(STOP_POLL_MS.into()));
            waited += STOP_POLL_MS;
        }
        for i in 0..count {
            if state(i) == Some(BufferState::Complete) {
                match self.ctx.with(|hv, _| hv.release_buffer(ty, i)) {
                    Ok(()) => report.released += 1,
                    Err(e) => report.failed("release", Some(i), e),
                }
            }
        }
        for b in self.buffers.iter().rev() {
            let ctx = &self.ctx;
            if b.mapped {
                if let Err(e) = ctx.with(|hv, _| hv.unmap_buffer(ty, b.index)) {
                    report.failed("unmap", Some(b.index), e);
                }
            }
            match ctx.with(|hv, _| hv.delete_buffer(ty, b.index)) {
                Ok(()) => report.deleted += 1,
                Err(e) => report.failed("delete", Some(b.index), e),
            }
        }
        if self.initialized {
            match self.ctx.with(|hv, _| hv.finalize_group(ty)) {
                Ok(()) => report.finalized = true,
                Err(e) => report.failed("finalize", None, e),
            }
        }
        report
    }

    /// Pages set-up deposited into the pool, per node: `f(node, pages)` for
    /// each node with a deposit. They stay with the hypervisor: nothing is
    /// withdrawn at teardown.
    pub(crate) fn for_each_deposit(&self, mut f: impl FnMut(u32, u64)) {
        self.ctx.with(|_, hp| {
            for (node, pages) in hp.deposited() {
                f(node, pages);
            }
        });
    }
}

impl EventLog for Group {
    fn info(&self) -> hv_evlog_info {
        if self.is_system() {
            // The hypervisor's log: it rotates and overwrites (circular), in
            // reference time, with no threshold and no sources to set.
            return hv_evlog_info {
                type_: self.cfg.log_type as u32,
                mode: EventLogMode::Circular as u32,
                time_basis: TimeBasis::Reference as u32,
                backend: u32::from(self.cfg.backend == params::Backend::Sim),
                ..Default::default()
            };
        }
        hv_evlog_info {
            type_: self.cfg.log_type as u32,
            mode: self.cfg.mode as u32,
            time_basis: self.cfg.time_basis as u32,
            threshold: self.cfg.threshold,
            sources: self.sources.load(Ordering::Relaxed),
            backend: u32::from(self.cfg.backend == params::Backend::Sim),
            ..Default::default()
        }
    }

    fn buffer_count(&self) -> u32 {
        self.buffers.len() as u32
    }

    fn buffer_info(&self, index: u32) -> Option<hv_evlog_buffer_info> {
        if self.is_system() {
            // No proximity domain and no CPU: the hypervisor's buffers.
            self.buffers.get(index as usize)?;
            return Some(hv_evlog_buffer_info {
                pxm: u32::MAX,
                node: self.pages_node(index).unwrap_or(u32::MAX),
                ..Default::default()
            });
        }
        let b = self.placement.buffers.get(index as usize)?;
        Some(hv_evlog_buffer_info {
            pxm: b.pxm,
            node: self.pages_node(index).unwrap_or(u32::MAX),
            // Empty for a CPU of HV_EVLOG_MAX_CPUS or more, which the map
            // cannot hold: records name such a CPU in full.
            cpus: crate::hv_evlog_numa::cpu_map::<HV_EVLOG_CPU_WORDS>(b.cpu),
            ..Default::default()
        })
    }

    fn cpu_of_vp(&self, buffer: u32, vp: u32) -> Option<u32> {
        let backend = self.ctx.backend();
        // Usually the CPU the plan gave the buffer; otherwise look for it.
        let planned = self.placement.buffers.get(buffer as usize).map(|b| b.cpu);
        let others = 0..kernel::cpu::nr_cpu_ids();
        Iterator::chain(planned.into_iter(), others).find(|&cpu| backend.vp_index(cpu) == Some(vp))
    }

    fn buffer_pages(&self) -> u32 {
        match self.system {
            Some(config) => config.buffer_size_in_pages,
            None => self.cfg.buffer_pages,
        }
    }

    fn completes(&self) -> bool {
        !self.is_system()
    }

    fn pfn(&self, buffer: u32, page: u32) -> Option<u64> {
        // A page of a mapped buffer: RAM from the page allocator (deposited
        // or seeded), which stays allocated while the buffer exists, i.e.
        // at least as long as `self`.
        self.pfns(buffer).get(page as usize).copied()
    }

    fn header(&self, buffer: u32) -> Option<BufferHeader> {
        Group::header(self, buffer)
    }

    fn release(&self, buffer: u32) -> Result {
        if self.is_system() {
            return Err(not_supported());
        }
        let ty = self.cfg.log_type;
        Ok(self.ctx.with(|hv, _| hv.release_buffer(ty, buffer))?)
    }

    /// Flushes, by buffer index, each buffer whose header says it is in
    /// use on `cpu` (every in-use buffer for `u32::MAX`). The hypervisor's
    /// flush takes a buffer index, not a processor (reference file, "Input
    /// layouts"); which processor fills a buffer only its header tells, as
    /// the logical processor, which is the processor's VP index. A buffer
    /// that completed between the header read and the call is no error.
    fn flush(&self, cpu: u32) -> Result {
        if self.is_system() {
            return Err(not_supported());
        }
        let ty = self.cfg.log_type;
        let vp = match cpu {
            u32::MAX => None,
            cpu => Some(self.ctx.backend().vp_index(cpu).ok_or(EINVAL)?),
        };
        for i in 0..self.buffers.len() as u32 {
            let Some(h) = self.header(i) else { continue };
            let on_cpu = vp.is_none_or(|vp| u32::from(h.logical_processor) == vp);
            if h.state() != Some(BufferState::InUse) || !on_cpu {
                continue;
            }
            match self.ctx.with(|hv, _| hv.flush(ty, i)) {
                Err(e) if !hypercall::flush_raced(&e) => {
                    pr_err!("flush buffer {i}: {e}\n");
                    return Err(e.into());
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn set_sources(&self, mask: u64) -> Result {
        if self.is_system() {
            return Err(not_supported());
        }
        params::check_sources_mask(mask).map_err(|_| EINVAL)?;
        self.apply_sources(mask)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}
