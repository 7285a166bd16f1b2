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
mod setup;
mod table;
mod teardown;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use self::log::{BufferDesc, EventLog, Settings};
use self::table::{Buffer, Table};
use crate::{
    hv::backend::Backend,
    hv::hypercall::{self, CallLog, HvError, HypercallPages, Hypercalls},
    platform::placement::Placement,
    platform::user_mapping::UserMapping,
    policy::calllog::{Entry, Ring},
    policy::completion::IndexSet,
    policy::live::Served,
    policy::params::{self, Config},
    tlfs::{
        BufferHeader, BufferIndex, BufferState, DiagLogBufferConfig, EventLogMode, EventLogType,
        TimeBasis, VpIndex,
    },
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
    /// Held while a buffer is taken out of userspace's reach and the
    /// hypervisor is asked to take it back ([`Group::unmap_revoked`]), until
    /// it is answered (after `live`, before the table's lock): a fault on
    /// that buffer waits for the answer instead of failing for a buffer
    /// the hypervisor may refuse to take.
    revoking: Pin<KBox<Mutex<()>>>,
    /// The source mask the hypervisor was last given (0: none enabled).
    sources: AtomicU64,
    /// Whether [`Group::stop`] ran (at reboot, or on the way to drop).
    stopped: AtomicBool,
    /// `type=system`: the hypervisor's own buffers, as it reported them.
    system: Option<DiagLogBufferConfig>,
    /// Where userspace maps the buffers: zapped before a buffer goes back.
    user: UserMapping,
}

/// `EOPNOTSUPP`: release, flush and set sources on `type=system`, whose
/// buffers the hypervisor rotates on its own.
fn not_supported() -> Error {
    Error::from_errno(-crate::tlfs::errno::EOPNOTSUPP)
}

impl Group {
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

    /// Every index below the group maximum, in order (reversed, the order
    /// that undoes set-up).
    pub(crate) fn indices(&self) -> impl DoubleEndedIterator<Item = BufferIndex> {
        (0..self.max_buffers).map(BufferIndex)
    }

    /// `f` of buffer `index`, if it exists, under the table's lock.
    fn with_buffer<T>(&self, index: BufferIndex, f: impl FnOnce(&Buffer) -> T) -> Option<T> {
        self.table.lock().get(index).map(f)
    }

    /// Unmaps buffer `index` (of type `ty`) from the hypervisor, its pages
    /// out of userspace's reach first: they are taken out of the table
    /// under the table's lock, the one the fault handler maps under
    /// ([`EventLog::with_user_pages`]), so no fault maps them from then on,
    /// and every user PTE of its range is zapped; only then is the
    /// hypervisor asked. If it refuses, the buffer gets its pages back.
    fn unmap_revoked(&self, ty: EventLogType, index: BufferIndex) -> Result<(), HvError> {
        let _answered = self.revoking.lock();
        let pfns = match self.table.lock().get_mut(index) {
            Some(b) => {
                b.revoked = true;
                core::mem::take(&mut b.pfns)
            }
            None => KVec::new(),
        };
        let size = u64::from(self.buffer_pages()) << kernel::page::PAGE_SHIFT;
        self.user.zap(u64::from(index.0) * size, size);
        self.ctx
            .with(|hv, _| hv.unmap_buffer(ty, index))
            .inspect_err(|_| {
                if let Some(b) = self.table.lock().get_mut(index) {
                    b.pfns = pfns;
                    b.revoked = false;
                }
            })
    }

    /// Buffers in the rotation that serve `cpu`.
    fn buffers_of(&self, cpu: u32) -> u32 {
        let table = self.table.lock();
        let mine = |b: &&Buffer| !b.retired && b.serves.is_some_and(|s| s.cpu == cpu);
        table.slots.iter().flatten().filter(mine).count() as u32
    }

    /// Whom buffer `index` serves (`None` for the hypervisor's own) and
    /// whether a resize retired it; `None` if there is no such buffer.
    pub(crate) fn slot(&self, index: BufferIndex) -> Option<(Option<Served>, bool)> {
        self.with_buffer(index, |b| (b.serves, b.retired))
    }

    /// `f(pfn)` for each page of buffer `index` (none if it does not exist
    /// or is not mapped).
    pub(crate) fn for_each_pfn(&self, index: BufferIndex, mut f: impl FnMut(u64)) {
        self.with_buffer(index, |b| b.pfns.iter().for_each(|&p| f(p)));
    }

    /// The node all pages of buffer `index` are on, if they share one.
    pub(crate) fn pages_node(&self, index: BufferIndex) -> Option<u32> {
        self.with_buffer(index, |b| b.pages_node())?
    }

    /// The live header of buffer `index`, read from its first page. Taken
    /// under the table's lock: the buffer is not deleted meanwhile.
    pub(crate) fn header(&self, index: BufferIndex) -> Option<BufferHeader> {
        self.with_buffer(index, Buffer::header)?
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

    fn buffer_desc(&self, index: BufferIndex) -> Option<BufferDesc> {
        let table = self.table.lock();
        let b = table.get(index).filter(|b| b.shown())?;
        Some(BufferDesc {
            serves: b.serves,
            node: b.pages_node(),
            retired: b.retired,
            cpu_offline: b.serves.is_some_and(|s| table.is_offline(s.cpu)),
        })
    }

    fn map_user(&self, first: BufferIndex, last: BufferIndex, new: bool) -> Result {
        let mut table = self.table.lock();
        // All or nothing: every buffer of the range must be there and in
        // the rotation (a retired one is on its way out).
        for i in (first.0..=last.0).filter(|_| new).map(BufferIndex) {
            match table.get(i) {
                Some(b) if !b.retired && !b.pfns.is_empty() => {}
                _ => return Err(EINVAL),
            }
        }
        for i in (first.0..=last.0).map(BufferIndex) {
            if let Some(b) = table.get_mut(i) {
                b.user_maps += 1;
            }
        }
        Ok(())
    }

    fn unmap_user(&self, first: BufferIndex, last: BufferIndex) {
        let mut table = self.table.lock();
        for i in (first.0..=last.0).map(BufferIndex) {
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

    fn cpu_of_vp(&self, buffer: BufferIndex, vp: VpIndex) -> Option<u32> {
        let backend = self.ctx.backend();
        // Both come from the buffer's header, which names its processor by
        // VP index (`LogicalProcessor`).
        let vp = Some(vp);
        // Usually the CPU the buffer serves; otherwise look for it.
        let planned = self
            .table
            .lock()
            .get(buffer)
            .and_then(|b| b.serves)
            .map(|s| s.cpu);
        let others = 0..kernel::cpu::nr_cpu_ids();
        Iterator::chain(planned.into_iter(), others).find(|&cpu| backend.vp_index(cpu) == vp)
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

    fn pfn(&self, buffer: BufferIndex, page: u32) -> Option<u64> {
        // A page of a mapped buffer: RAM from the page allocator (deposited
        // or seeded), which stays allocated while the buffer exists; a
        // buffer has no pages once it was revoked (`Group::unmap_revoked`).
        self.with_buffer(buffer, |b| b.pfns.get(page as usize).copied())?
    }

    fn with_user_pages(&self, buffer: BufferIndex, f: &mut dyn FnMut(&[u64])) -> bool {
        let usable = |b: &Buffer| !b.retired && !b.pfns.is_empty();
        let table = self.table.lock();
        match table.get(buffer) {
            Some(b) if usable(b) => {
                f(&b.pfns);
                return true;
            }
            // Revoked, and perhaps still waiting for the hypervisor's
            // answer: if it refuses (the buffer went into use meanwhile),
            // the buffer stays and gets its pages back. Looked at again
            // once no buffer is between revocation and answer, so that a
            // buffer that stays never faults.
            Some(b) if b.revoked && !b.retired => {}
            // Retired, gone, or not yet mapped.
            _ => return false,
        }
        drop(table);
        let _answered = self.revoking.lock();
        let table = self.table.lock();
        match table.get(buffer) {
            Some(b) if usable(b) => {
                f(&b.pfns);
                true
            }
            _ => false,
        }
    }

    fn user_mapping(&self) -> &UserMapping {
        &self.user
    }

    fn header(&self, buffer: BufferIndex) -> Option<BufferHeader> {
        Group::header(self, buffer)
    }

    fn headers(&self, out: &mut [BufferHeader]) {
        // The table's lock once for all of them, not once per buffer: it is
        // most of a scan's cost, which grew with the buffers.
        let table = self.table.lock();
        for (index, header) in (0u32..).zip(out.iter_mut()) {
            match table.get(BufferIndex(index)) {
                // A header the writer never let be read consistently keeps
                // its last snapshot.
                Some(b) if !b.pfns.is_empty() => {
                    if let Some(h) = b.header() {
                        *header = h;
                    }
                }
                // Gone, or on its way out (revoked before the hypervisor
                // takes it back, so only released ones): nothing to report.
                // Its last snapshot kept, a completion already reported and
                // released would look new again to the scan.
                _ => *header = BufferHeader::default(),
            }
        }
    }

    fn release(&self, buffer: BufferIndex) -> Result {
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
        // The buffers in use now, all read before any is flushed: a flush
        // moves the CPU on to its next buffer, which a later header read
        // would see in use too and flush as well, completing every buffer
        // of that CPU, so that it loses events until one is released.
        let mut in_use = IndexSet::new();
        for i in self.indices() {
            let Some(h) = self.header(i) else { continue };
            let on_cpu = vp.is_none_or(|vp| VpIndex(h.logical_processor.into()) == vp);
            if h.state() == Some(BufferState::InUse) && on_cpu {
                in_use.insert(i.0);
            }
        }
        for i in self.indices().filter(|i| in_use.contains(i.0)) {
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
        // Not beside the stop sequence, nor after it: sources turned back on
        // between its "sources off" and its finalize would make the
        // hypervisor refuse the finalize, and the next kernel could not
        // initialize the type.
        let _no_stop = self.live.lock();
        if self.stopped.load(Ordering::Acquire) {
            return Err(EBUSY);
        }
        self.apply_sources(mask)
    }
}
