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
//!
//! The buffers live in a table indexed by buffer index, below the group
//! maximum given to initialize (`max_buffers`); a resize (`resize.rs`) adds
//! and takes out buffers while the group is active, so the table is behind a
//! lock and every reader goes through it.

pub(crate) mod hotplug;
pub(crate) mod log;
pub(crate) mod reboot;
mod resize;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{delay::fsleep, Delta},
};

use self::log::{BufferDesc, EventLog, Settings};
use crate::{
    hv::backend::Backend,
    hv::hypercall::{self, CallLog, HvError, HypercallPages, Hypercalls},
    hv::pool::PoolDomain,
    platform::mm::{self, NodeChoice},
    platform::placement::Placement,
    platform::topology::NodeId,
    policy::calllog::{Entry, Ring},
    policy::live::Served,
    policy::params::{self, Config},
    policy::snapshot,
    tlfs::{
        BufferHeader, BufferState, DiagLogBufferConfig, EventLogMode, EventLogType,
        InitializeGroupInput, Pfn, ProximityDomainInfo, TimeBasis, MAX_BUFFERS, MAX_BUFFER_PAGES,
    },
    uapi::CPU_WORDS,
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
    pub(crate) fn with<T>(&self, f: impl FnOnce(Hypercalls<'_>, &mut HypercallPages) -> T) -> T {
        let mut pages = self.pages.lock();
        // Not recording skips even the copy of each input.
        let hv = if self.log.lock().enabled() {
            Hypercalls::logged(&self.backend, &self.log)
        } else {
            Hypercalls::new(&self.backend)
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
    /// Its pages; empty unless mapped and every page number checked. Kept
    /// after a resize unmapped it from the hypervisor, until it is deleted:
    /// userspace may still map them.
    pfns: KVec<u64>,
    /// The CPU it serves, its proximity domain and the node of its pool
    /// (`None` for the hypervisor's own `type=system` buffers).
    serves: Option<Served>,
    /// Taken out of the rotation by a resize (unmapped from the
    /// hypervisor), waiting for the last userspace mapping to go.
    retired: bool,
    /// Userspace mappings (vmas) covering it; it is not deleted while any.
    user_maps: u32,
}

impl Buffer {
    fn new(index: u32, serves: Option<Served>, mapped: bool) -> Self {
        Buffer {
            index,
            mapped,
            pfns: KVec::new(),
            serves,
            retired: false,
            user_maps: 0,
        }
    }

    /// Whether the table shows it: once mapped (its pages known; only then
    /// can userspace map it), and while retired. A buffer being created is
    /// not shown, so a reader never meets one it cannot map.
    fn shown(&self) -> bool {
        self.retired || !self.pfns.is_empty()
    }

    /// The node all its pages are on, if they share one.
    fn pages_node(&self) -> Option<u32> {
        let mut nodes = self
            .pfns
            .iter()
            .map(|&p| mm::node_of_pfn(Pfn(p)).map(NodeId::as_u32));
        let first = nodes.next()??;
        nodes.all(|n| n == Some(first)).then_some(first)
    }
}

/// Checks what HvCallMapEventLogBuffer returned for buffer `index` before
/// anything uses it: all of `pfns` mapped (`n` of them), each a page of RAM.
/// `what` prefixes the one dmesg line a failure prints.
fn check_mapped(what: &str, index: u32, pfns: &[u64], n: usize) -> Result {
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

/// The buffers by index and what describes the table as a whole.
struct Table {
    /// `max_buffers` slots; `slots[i]` is buffer `i` if it exists.
    slots: KVec<Option<Buffer>>,
    /// Bumped on every change a reader of the table must see.
    generation: u32,
    /// Served CPUs that are offline (CPU hotplug), a bit per CPU id below
    /// 1024; kept here, not with the served set, so that describing a buffer
    /// never waits for a resize.
    offline: [u64; CPU_WORDS],
}

impl Table {
    fn get(&self, index: u32) -> Option<&Buffer> {
        self.slots.get(index as usize)?.as_ref()
    }

    fn get_mut(&mut self, index: u32) -> Option<&mut Buffer> {
        self.slots.get_mut(index as usize)?.as_mut()
    }

    /// Puts `b` in its slot (free: the caller planned it so).
    fn insert(&mut self, b: Buffer) {
        if let Some(slot) = self.slots.get_mut(b.index as usize) {
            *slot = Some(b);
        }
        self.changed();
    }

    fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Whether `cpu` is marked offline.
    fn is_offline(&self, cpu: u32) -> bool {
        let (w, b) = (cpu as usize / 64, cpu % 64);
        self.offline.get(w).is_some_and(|&x| x & (1 << b) != 0)
    }

    /// Marks `cpu` offline or online.
    fn set_offline(&mut self, cpu: u32, offline: bool) {
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
    fn active(&self) -> u32 {
        self.slots
            .iter()
            .flatten()
            .filter(|b| b.shown() && !b.retired)
            .count() as u32
    }
}

/// The served CPUs and how many buffers each gets.
struct Live {
    /// In serving order (target node, CPU): the plan's, then CPUs that came
    /// online later.
    served: KVec<Served>,
    /// Buffers per served CPU (`buffers_per_cpu`, then each resize's).
    per_cpu: u32,
}

/// A set-up event log group; dropping it tears everything down.
pub(crate) struct Group {
    ctx: Pin<KBox<HvCtx>>,
    placement: Arc<Placement>,
    cfg: Config,
    initialized: bool,
    /// The group maximum given to initialize: every index is below it.
    max_buffers: u32,
    table: Pin<KBox<Mutex<Table>>>,
    /// Which CPUs are served: held by a resize, a CPU hotplug callback and
    /// [`Group::stop`], one at a time (before the table's lock).
    live: Pin<KBox<Mutex<Live>>>,
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
        for index in 0..count {
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
            self.create_buffer(b.index, serves)?;
        }
        Ok(())
    }

    /// Creates buffer `index` for `serves` (HvCallCreateEventLogBuffer with
    /// its proximity domain for a local group, depositing node-local pages
    /// and retrying on `HV_STATUS_INSUFFICIENT_MEMORY`) and enters it in the
    /// table, not yet mapped.
    fn create_buffer(&self, index: u32, serves: Served) -> Result {
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
            self.map_buffer(b.index, b.target_node)?;
        }
        Ok(())
    }

    /// Maps buffer `index`, depositing and retrying on
    /// `HV_STATUS_INSUFFICIENT_MEMORY` like the other set-up calls (pages
    /// from `node`, where the plan puts the buffer), and checks each page
    /// number the hypervisor returns before anything uses it.
    fn map_buffer(&self, index: u32, node: u32) -> Result {
        let pages = self.cfg.buffer_pages as usize;
        let ty = self.cfg.log_type;
        let mut pfns = KVec::from_elem(0u64, pages, GFP_KERNEL)?;
        let n = self.ctx.with(|hv, hp| {
            hv.with_deposit(hp, NodeChoice::Only(NodeId::of_plan(node)?), |hp| {
                hv.map_buffer(hp, ty, index, &mut pfns)
            })
            .inspect_err(|_| pr_err!("buffer {index}: not mapped\n"))
        })?;
        let mut table = self.table.lock();
        let b = table.get_mut(index).ok_or(EINVAL)?;
        b.mapped = true;
        check_mapped("", index, &pfns, n)?;
        b.pfns = pfns;
        table.changed();
        Ok(())
    }

    /// Gives the hypervisor a new source mask (0 disables all).
    ///
    /// On Hyper-V, refused (`EBUSY`) while mshv_root holds SINT0: the
    /// completion messages logging brings would block its slot (`sint0.rs`).
    fn apply_sources(&self, mask: u64) -> Result {
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

    /// The log of the last hypercalls.
    pub(crate) fn call_log(&self) -> &CallLog {
        self.ctx.call_log()
    }

    /// Starts whatever runs beside the hypervisor (the simulator's writers).
    pub(crate) fn start(&self) {
        self.ctx.backend().start();
    }

    /// Number of buffers in the hypervisor's rotation.
    pub(crate) fn buffer_count(&self) -> usize {
        self.table.lock().active() as usize
    }

    /// The group maximum: every buffer index is below it.
    pub(crate) fn index_limit(&self) -> u32 {
        self.max_buffers
    }

    /// `f` of buffer `index`, if it exists, under the table's lock.
    fn with_buffer<T>(&self, index: u32, f: impl FnOnce(&Buffer) -> T) -> Option<T> {
        self.table.lock().get(index).map(f)
    }

    /// The CPU buffer `index` serves, if it exists and serves one.
    fn cpu_of(&self, index: u32) -> Option<u32> {
        self.with_buffer(index, |b| b.serves.map(|s| s.cpu))?
    }

    /// Buffers in the rotation that serve `cpu`.
    fn buffers_of(&self, cpu: u32) -> u32 {
        let table = self.table.lock();
        let mine = |b: &&Buffer| !b.retired && b.serves.is_some_and(|s| s.cpu == cpu);
        table.slots.iter().flatten().filter(mine).count() as u32
    }

    /// Whom buffer `index` serves (`None` for the hypervisor's own) and
    /// whether a resize retired it; `None` if there is no such buffer.
    pub(crate) fn slot(&self, index: u32) -> Option<(Option<Served>, bool)> {
        self.with_buffer(index, |b| (b.serves, b.retired))
    }

    /// `f(pfn)` for each page of buffer `index` (none if it does not exist
    /// or is not mapped).
    pub(crate) fn for_each_pfn(&self, index: u32, mut f: impl FnMut(u64)) {
        self.with_buffer(index, |b| b.pfns.iter().for_each(|&p| f(p)));
    }

    /// The node all pages of buffer `index` are on, if they share one.
    pub(crate) fn pages_node(&self, index: u32) -> Option<u32> {
        self.with_buffer(index, |b| b.pages_node())?
    }

    /// The live header of buffer `index`, read from its first page. Taken
    /// under the table's lock: the buffer is not deleted meanwhile.
    pub(crate) fn header(&self, index: u32) -> Option<BufferHeader> {
        self.with_buffer(index, |b| {
            let pfn = *b.pfns.first()?;
            snapshot::snapshot(&mm::HeaderPage(pfn))
        })?
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
        // No resize runs beside it, and none starts after it.
        let _no_resize = self.live.lock();
        if self.stopped.swap(true, Ordering::AcqRel) {
            return report;
        }
        let count = self.max_buffers;
        // Whether buffer `i` exists and is mapped by the hypervisor; each
        // unmapped one is marked so, under the table's lock.
        let exists = |i| self.with_buffer(i, |b| b.mapped);
        let unmapped = |i| {
            if let Some(b) = self.table.lock().get_mut(i) {
                b.mapped = false;
            }
        };
        if self.is_system() {
            // The hypervisor's own buffers: only unmap them.
            let ty = EventLogType::SystemDiagnostics;
            for i in (0..count).rev().filter(|&i| exists(i) == Some(true)) {
                match self.ctx.with(|hv, _| hv.unmap_buffer(ty, i)) {
                    Ok(()) => unmapped(i),
                    Err(e) => report.failed("unmap", Some(i), e),
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
        for i in (0..count).rev() {
            let Some(mapped) = exists(i) else { continue };
            let ctx = &self.ctx;
            if mapped {
                match ctx.with(|hv, _| hv.unmap_buffer(ty, i)) {
                    Ok(()) => unmapped(i),
                    Err(e) => report.failed("unmap", Some(i), e),
                }
            }
            // The slot stays: userspace may still map the pages, which
            // stay allocated until the group is dropped.
            match ctx.with(|hv, _| hv.delete_buffer(ty, i)) {
                Ok(()) => report.deleted += 1,
                Err(e) => report.failed("delete", Some(i), e),
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
    fn settings(&self) -> Settings {
        if self.is_system() {
            // The hypervisor's log: it rotates and overwrites (circular), in
            // reference time, with no threshold and no sources to set.
            return Settings {
                log_type: self.cfg.log_type,
                mode: EventLogMode::Circular,
                time_basis: TimeBasis::Reference,
                threshold: 0,
                sources: 0,
                backend: self.cfg.backend,
            };
        }
        Settings {
            log_type: self.cfg.log_type,
            mode: self.cfg.mode,
            time_basis: self.cfg.time_basis,
            threshold: self.cfg.threshold,
            sources: self.sources.load(Ordering::Relaxed),
            backend: self.cfg.backend,
        }
    }

    fn buffer_count(&self) -> u32 {
        self.table.lock().active()
    }

    fn index_limit(&self) -> u32 {
        self.max_buffers
    }

    fn generation(&self) -> u32 {
        self.table.lock().generation
    }

    fn buffer_desc(&self, index: u32) -> Option<BufferDesc> {
        let table = self.table.lock();
        let b = table.get(index).filter(|b| b.shown())?;
        Some(BufferDesc {
            serves: b.serves,
            node: b.pages_node(),
            retired: b.retired,
            cpu_offline: b.serves.is_some_and(|s| table.is_offline(s.cpu)),
        })
    }

    fn map_user(&self, first: u32, last: u32, new: bool) -> Result {
        let mut table = self.table.lock();
        // All or nothing: every buffer of the range must be there and in
        // the rotation (a retired one is on its way out).
        for i in (first..=last).filter(|_| new) {
            match table.get(i) {
                Some(b) if !b.retired && !b.pfns.is_empty() => {}
                _ => return Err(EINVAL),
            }
        }
        for i in first..=last {
            if let Some(b) = table.get_mut(i) {
                b.user_maps += 1;
            }
        }
        Ok(())
    }

    fn unmap_user(&self, first: u32, last: u32) {
        let mut table = self.table.lock();
        for i in first..=last {
            if let Some(b) = table.get_mut(i) {
                b.user_maps = b.user_maps.saturating_sub(1);
            }
        }
    }

    fn resize(&self, per_cpu: u32) -> Result {
        if self.is_system() {
            return Err(not_supported());
        }
        Group::resize(self, per_cpu)
    }

    fn cpu_of_vp(&self, buffer: u32, vp: u32) -> Option<u32> {
        let backend = self.ctx.backend();
        // Usually the CPU the buffer serves; otherwise look for it.
        let planned = self
            .table
            .lock()
            .get(buffer)
            .and_then(|b| b.serves)
            .map(|s| s.cpu);
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
        // or seeded), which stays allocated while the buffer exists; a
        // resize deletes a buffer only once no mapping covers it
        // (`map_user`), and teardown frees nothing before `self` goes.
        self.with_buffer(buffer, |b| b.pfns.get(page as usize).copied())?
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
        for i in 0..self.max_buffers {
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
