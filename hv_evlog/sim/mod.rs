// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor (`backend=sim`).
//!
//! The pure core ([`model`]: [`model::hypervisor`], [`model::writer`], and [`model::system`] for the
//! hypervisor's own system-diagnostics log) decodes each hypercall and
//! keeps the hypervisor's state; this kernel shell gives it real pages on
//! real nodes (through the direct map, as a hypervisor sees guest physical
//! memory), the time, one lock, and a [`Ticker`] that drives the per-CPU
//! synthetic event writers. The module reaches it only through
//! [`Transport`], exactly like the real hypervisor.

pub(crate) mod model;

use core::ptr::NonNull;

use kernel::{
    bindings,
    cpu::CpuId,
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed, Release},
        barrier::smp_wmb,
        Arc, Mutex,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
};

use self::model::{
    hypervisor::{Hypervisor, Ledger, MAX_CPUS},
    machine::Platform,
    synic::{CpuSet, SlotView, SynicError},
    system::{SYSTEM_BUFFERS, SYSTEM_BUFFER_PAGES},
    writer::events_this_tick,
};
use crate::{
    hv::{
        hypercall::Transport,
        sint0::{Inbox, MessagePort},
    },
    platform::placement::Placement,
    platform::{
        mm::{self, NodeChoice, NodePage},
        ticker::{Tick, Ticker},
        topology::{self, NodeId},
    },
    policy::params::SimConfig,
    tlfs::{
        Control, HvCall, HvStatus, Pfn, Pxm, TimeBasis, EVENTLOG_SINT, MESSAGE_SIZE, PAGE_SIZE,
    },
};

/// Payload bytes of each synthetic event: entries are 32 bytes, so a
/// consumer can check `count == bytes_used / 32`.
pub(crate) const PAYLOAD_BYTES: u16 = 16;
/// How often the writers run.
const TICK_MS: u32 = 5;
/// Events each CPU logs per tick at most: 51,200 per second and CPU at
/// [`TICK_MS`], so one tick's work under the core's lock is bounded.
const MAX_EVENTS_PER_TICK: u32 = 256;
/// Events per CPU a tick may leave owed to the next ones. A tick that ran
/// late (a busy host stalls a TCG guest's workqueues for a second or more)
/// catches up over the following ticks instead of losing events the
/// hypervisor would have logged; only a rate above the cap (`sim_rate`
/// beyond 51,200) outgrows it, and what is owed beyond it is lost, counted
/// as the hypervisor counts events it could not log.
const MAX_EVENTS_OWED: u64 = 4096;

/// Pages, nodes and time as the simulated hypervisor sees them.
struct KernelPlatform;

impl Platform for KernelPlatform {
    fn alloc_page(&mut self, node: u32) -> Option<u64> {
        let node = NodeId::new(node)?;
        NodePage::alloc(NodeChoice::Only(node))
            .ok()
            .map(|page| page.into_pfn().0)
    }

    fn free_page(&mut self, pfn: u64) {
        // SAFETY: the core frees only pages it owns: ones it seeded through
        // `alloc_page` or that were deposited to it, each exactly once.
        drop(unsafe { NodePage::from_pfn(Pfn(pfn)) });
    }

    fn node_of_pfn(&self, pfn: u64) -> Option<u32> {
        mm::node_of_pfn(Pfn(pfn)).map(NodeId::as_u32)
    }

    fn node_of_pxm(&self, pxm: u32) -> Option<u32> {
        topology::node_of_pxm(Pxm(pxm)).map(NodeId::as_u32)
    }

    fn call_page(&mut self, pfn: u64) -> Option<&mut [u8; PAGE_SIZE]> {
        mm::node_of_pfn(Pfn(pfn))?;
        let va = mm::phys_to_virt(pfn << 12);
        // SAFETY: `pfn` is online memory with a memory map entry
        // (`node_of_pfn`), so its direct-map address is valid for a page.
        // The core asks for this only for a hypercall's input and output
        // page, which the caller handed over for the call (the `Transport`
        // contract: it neither reads nor writes them until the call
        // returns), and it holds the simulator's lock, so no other
        // reference to the page exists while this one lives.
        Some(unsafe { &mut *va.cast::<[u8; PAGE_SIZE]>() })
    }

    fn read(&mut self, pfn: u64, offset: usize, out: &mut [u8]) -> bool {
        let Some(src) = shared_bytes(pfn, offset, out.len()) else {
            return false;
        };
        for (i, byte) in out.iter_mut().enumerate() {
            // SAFETY: `shared_bytes` checked that the `out.len()` bytes from
            // `src` lie in one page of memory that the core keeps (pool,
            // bookkeeping, buffer or message page), which stays allocated
            // while the core exists. The partition may write none of them
            // but may read them at any time, so they are never accessed
            // through a reference; a volatile load of one byte is a single
            // access (`READ_ONCE`), which cannot tear.
            *byte = unsafe { src.add(i).read_volatile() };
        }
        true
    }

    fn write(&mut self, pfn: u64, offset: usize, bytes: &[u8]) -> bool {
        let Some(dst) = shared_bytes(pfn, offset, bytes.len()) else {
            return false;
        };
        for (i, &byte) in bytes.iter().enumerate() {
            // SAFETY: as in `read`: bytes of a page the core keeps, inside
            // the page. The device's scanner, a SINT0 handler or userspace
            // (through a read-only mapping) may read them concurrently, so
            // each byte is stored with one volatile store (`WRITE_ONCE`) and
            // no reference is made; readers of a header or a message tell a
            // finished write by the state word the core stores around it
            // (`store_release_u32`, `write_barrier`).
            unsafe { dst.add(i).write_volatile(byte) };
        }
        true
    }

    fn store_u64(&mut self, pfn: u64, offset: usize, value: u64) {
        if !offset.is_multiple_of(8) {
            self.write(pfn, offset, &value.to_le_bytes());
            return;
        }
        let Some(dst) = shared_bytes(pfn, offset, 8) else {
            return;
        };
        // SAFETY: `shared_bytes` checked that the 8 bytes from `dst` lie in
        // one page of memory the core keeps, which stays allocated while the
        // core exists, and `dst` is 8-byte aligned (a page-aligned address
        // plus an aligned `offset`). The core's own accesses are serialised
        // by its lock; every other party only reads the page, with volatile
        // or atomic loads and never through a reference, so this one atomic
        // store (`WRITE_ONCE` of a `u64`) races with no plain access.
        unsafe { Atomic::from_ptr(dst.cast::<u64>()) }.store(u64::to_le(value), Relaxed);
    }

    fn store_release_u32(&mut self, pfn: u64, offset: usize, value: u32) {
        let Some(word) = shared_word::<u32>(pfn, offset) else {
            return;
        };
        // SAFETY: `pfn` is RAM, so its direct-map address is valid for a
        // page, and `offset` keeps the word inside it, 4-byte aligned
        // (`shared_word`). Every
        // reader of a word stored this way (a header's state or chain link,
        // a message slot's words) loads it with an atomic or volatile load
        // (`mm`'s header reader, the SINT0 handler; userspace through its
        // read-only mapping), so the store races with no plain access.
        unsafe { Atomic::from_ptr(word) }.store(u32::to_le(value), Release);
    }

    fn load_acquire_u32(&mut self, pfn: u64, offset: usize) -> u32 {
        let Some(word) = shared_word::<u32>(pfn, offset) else {
            return 0;
        };
        // SAFETY: as in `store_release_u32`: a 4-byte aligned word of RAM
        // that every party accesses atomically.
        u32::from_le(unsafe { Atomic::from_ptr(word) }.load(Acquire))
    }

    fn compare_exchange_u64(&mut self, pfn: u64, offset: usize, current: u64, new: u64) -> bool {
        let Some(word) = shared_word::<u64>(pfn, offset) else {
            return false;
        };
        // SAFETY: `pfn` is RAM, so its direct-map address is valid for a
        // page, and `offset` keeps the 8-byte aligned word inside it
        // (`shared_word`). The
        // partition's side (the SINT0 handler) accesses the slot's words
        // atomically or with volatile accesses only, so this atomic
        // exchange races with no plain access.
        unsafe { Atomic::from_ptr(word) }
            .cmpxchg(u64::to_le(current), u64::to_le(new), Full)
            .is_ok()
    }

    fn write_barrier(&mut self) {
        smp_wmb();
    }

    fn now(&self, basis: TimeBasis) -> u64 {
        match basis {
            // SAFETY: reads the TSC; no memory is touched.
            TimeBasis::Tsc => unsafe { core::arch::x86_64::_rdtsc() },
            // Reference time counts 100 ns units.
            _ => {
                // `Instant<Monotonic>` keeps its nanoseconds to the kernel
                // crate in 7.2, and a time stamp is what the core wants.
                // SAFETY: `ktime_get` only reads the monotonic clock.
                let ns = unsafe { bindings::ktime_get() };
                ns.unsigned_abs() / 100
            }
        }
    }

    fn cpu_count(&self) -> u32 {
        kernel::cpu::nr_cpu_ids()
    }
}

/// The direct-map address of byte `offset` of page `pfn`, if the page is
/// memory with a memory map entry and `len` bytes from there stay inside it.
fn shared_bytes(pfn: u64, offset: usize, len: usize) -> Option<*mut u8> {
    mm::node_of_pfn(Pfn(pfn))?;
    if offset.checked_add(len)? > PAGE_SIZE {
        return None;
    }
    Some(mm::phys_to_virt(pfn << 12).wrapping_add(offset))
}

/// [`shared_bytes`] for one `T`-sized word at `offset`, which must be
/// aligned to its size.
fn shared_word<T>(pfn: u64, offset: usize) -> Option<*mut T> {
    if !offset.is_multiple_of(size_of::<T>()) {
        return None;
    }
    Some(shared_bytes(pfn, offset, size_of::<T>())?.cast::<T>())
}

// SAFETY: every field of `Hypervisor` is an integer, a bool, an array of
// those, or an enum whose zero value is a variant; the all-zero value is the
// empty simulator (`Hypervisor::new()`), which a host test in
// tests/host/tests/sim/calls.rs checks byte for byte.
unsafe impl kernel::prelude::Zeroable for Hypervisor {}

/// A simulated pool may take at most half of a node's memory: seeding
/// drains the node, and the rest of the system must go on allocating.
fn check_pool_fits(pages: u32, node: u32) -> Result {
    let present = NodeId::new(node).map_or(0, topology::present_pages);
    if u64::from(pages) <= present / 2 {
        return Ok(());
    }
    pr_err!(
        "invalid parameter sim_pool_pages={pages}: node {node} has {present} pages, \
         the simulated pool may take at most half\n"
    );
    Err(ENOMEM)
}

/// The core's state, owning every page it holds: dropping it gives them all
/// back, so no error path after seeding the pools can leak them.
struct Core(KVBox<Hypervisor>);

impl Drop for Core {
    fn drop(&mut self) {
        let ledger = self.0.ledger();
        let freed = self.0.teardown(&mut KernelPlatform);
        // The simulator is part of the module, so it frees what it holds;
        // the module itself never takes a deposited page back.
        pr_info!(
            "simulator: freed {freed} pool pages: {} seeded, {} deposited, {} withdrawn\n",
            ledger.seeded,
            ledger.deposited,
            ledger.withdrawn
        );
    }
}

/// The simulated hypervisor and its writers' schedule.
#[pin_data]
pub(crate) struct Sim {
    #[pin]
    core: Mutex<Core>,
    /// Each served CPU's SynIC message page, registered with the core;
    /// dropped after it (fields drop in order).
    message_pages: KVec<(u32, NodePage)>,
    /// The module's SINT0 handler, called as the interrupt would be.
    inbox: Arc<Inbox>,
    cpus: KVec<u32>,
    rate: u32,
    #[pin]
    progress: Mutex<Progress>,
    /// Held while the module's SINT0 handler runs: a processor takes its
    /// own interrupts one at a time, so two handlers never race on a slot.
    #[pin]
    sint: Mutex<()>,
    /// Fault injection (debugfs `sim_faults`): every set-sources call
    /// returns this many milliseconds late, its effect already in place,
    /// which widens the window between a stop's "sources off" and its
    /// finalize for a test to hit.
    slow_sources_ms: Atomic<u32>,
}

/// A fault a test injects through debugfs `sim_faults`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The next map call reports a page that is not RAM
    /// ([`Hypervisor::bad_map_next`]).
    BadMap,
    /// Every set-sources call returns this many milliseconds late.
    SlowSources(u32),
    /// The `n`-th hypercall from now fails with `sim_fail_status`
    /// ([`Hypervisor::fail_in`]).
    FailIn(u32),
}

/// How many events per CPU the writers owe since they started.
struct Progress {
    start: Option<Instant<Monotonic>>,
    written: u64,
}

impl Sim {
    /// A simulator whose pools hold `cfg.pool_pages` on every node that
    /// holds buffers, told which CPU each planned buffer serves.
    ///
    /// Every possible CPU (up to [`hypervisor::MAX_CPUS`]) has a writer and
    /// a message page, as every processor has: a CPU logs once a buffer is
    /// assigned to it, at load or later (a CPU that comes online), and only
    /// while it is active (an offline processor runs nothing).
    fn new(
        cfg: &SimConfig,
        placement: &Placement,
        inbox: Arc<Inbox>,
    ) -> Result<impl PinInit<Self, Error> + use<>> {
        let mut cpus = KVec::new();
        if let Some(b) = placement.buffers.iter().find(|b| b.cpu >= MAX_CPUS) {
            pr_err!(
                "simulator: CPU {} is served, but the simulator models CPUs 0-{} only; \
                 serve fewer with nodes=\n",
                b.cpu,
                MAX_CPUS - 1
            );
            return Err(EINVAL);
        }
        for cpu in 0..kernel::cpu::nr_cpu_ids().min(MAX_CPUS) {
            cpus.push(cpu, GFP_KERNEL)?;
        }
        let mut core = Core(KVBox::<Hypervisor>::zeroed(GFP_KERNEL)?);
        let hv = &mut core.0;
        hv.fail_at = cfg.fail_at.into();
        hv.fail_status = HvStatus(cfg.fail_status);
        let mut plat = KernelPlatform;
        for d in placement.domains.iter() {
            check_pool_fits(cfg.pool_pages, d.node)?;
            let want = u64::from(cfg.pool_pages);
            let got = hv.seed_pool(&mut plat, d.node, want);
            if got < want {
                pr_err!(
                    "invalid parameter sim_pool_pages={want}: node {} gave only {got} pages\n",
                    d.node
                );
                return Err(ENOMEM);
            }
        }
        // The hypervisor's own system-diagnostics log (type 2), from its own
        // memory: not the partition's pool.
        let node = placement.domains.first().map_or(0, |d| d.node);
        hv.create_system_log(&mut plat, node, SYSTEM_BUFFERS, SYSTEM_BUFFER_PAGES)
            .map_err(|e| {
                pr_err!("simulator: no memory for its system log on node {node} ({e:?})\n");
                ENOMEM
            })?;
        for b in placement.buffers.iter() {
            // The plan only names online CPUs and indices below 512.
            hv.set_affinity(&plat, b.index, b.cpu).map_err(|_| EINVAL)?;
        }
        let mut message_pages = KVec::with_capacity(cpus.len(), GFP_KERNEL)?;
        for &cpu in cpus.iter() {
            let page = NodePage::alloc(NodeChoice::Any)?;
            hv.set_message_page(cpu, page.pfn().0).map_err(|_| EINVAL)?;
            message_pages.push((cpu, page), GFP_KERNEL)?;
        }
        let rate = cfg.rate;
        Ok(try_pin_init!(Self {
            core <- new_mutex!(core),
            message_pages,
            inbox,
            cpus,
            rate,
            progress <- new_mutex!(Progress {
                start: None,
                written: 0,
            }),
            sint <- new_mutex!(()),
            slow_sources_ms: Atomic::new(0),
        }? Error))
    }

    /// Buffers completed since the group was initialized, every completion
    /// of a restarted buffer included (debugfs `sim_completions`).
    pub(crate) fn completions(&self) -> u64 {
        self.core.lock().0.completions()
    }

    /// Pages seeded into, deposited into and withdrawn from the pools.
    pub(crate) fn ledger(&self) -> Ledger {
        self.core.lock().0.ledger()
    }

    /// Injects `fault` (debugfs `sim_faults`).
    pub(crate) fn inject(&self, fault: Fault) {
        match fault {
            Fault::BadMap => self.core.lock().0.bad_map_next = true,
            Fault::SlowSources(ms) => self.slow_sources_ms.store(ms, Relaxed),
            Fault::FailIn(n) => self.core.lock().0.fail_in(n.into()),
        }
    }

    /// The faults armed now: whether the next map is bad, the delay of
    /// set-sources calls, and the calls until the armed failure (0: none).
    pub(crate) fn faults(&self) -> (bool, u32, u64) {
        let core = self.core.lock();
        let (bad_map, fails_in) = (core.0.bad_map_next, core.0.fails_in());
        drop(core);
        (bad_map, self.slow_sources_ms.load(Relaxed), fails_in)
    }

    /// Makes buffer `index` serve `cpu` (the hypervisor's own assignment,
    /// which the module tells the model): for a buffer a resize creates.
    pub(crate) fn assign(&self, index: u32, cpu: u32) -> Result {
        self.core
            .lock()
            .0
            .set_affinity(&KernelPlatform, index, cpu)
            .map_err(|_| EINVAL)
    }

    /// This tick's share of what each CPU is owed by now: `(write, lost)`.
    /// At most [`MAX_EVENTS_PER_TICK`] are written; up to
    /// [`MAX_EVENTS_OWED`] more stay owed to the next ticks, the rest are
    /// lost.
    fn this_tick(&self) -> (u32, u32) {
        let mut p = self.progress.lock();
        let elapsed = p.start.get_or_insert_with(Instant::now).elapsed();
        let elapsed = elapsed.as_nanos().unsigned_abs();
        let total = u64::from(self.rate).saturating_mul(elapsed) / 1_000_000_000;
        let (write, excess) =
            events_this_tick(total.saturating_sub(p.written), MAX_EVENTS_PER_TICK);
        let owed = u64::from(excess).min(MAX_EVENTS_OWED);
        p.written = total - owed;
        // Fits: `owed <= excess`.
        (write, excess - owed as u32)
    }
}

impl Tick for Sim {
    /// Logs what each CPU is owed, at most [`MAX_EVENTS_PER_TICK`] events per
    /// CPU (and into the system log); up to [`MAX_EVENTS_OWED`] more wait for
    /// the next ticks, the rest are lost, counted per CPU as the hypervisor
    /// counts events it could not log. The core's lock is
    /// taken once per CPU, not across all of them, so FLUSH, RELEASE,
    /// SET_SOURCES and teardown wait for at most one CPU's share.
    fn tick(&self) {
        let (write, dropped) = self.this_tick();
        if write == 0 && dropped == 0 {
            return;
        }
        let mut plat = KernelPlatform;
        let mut raised = CpuSet::default();
        'cpus: for &cpu in self.cpus.iter() {
            let mut core = self.core.lock();
            // Under the lock: the module's CPU offline callback flushes the
            // CPU's buffer (under it too) after the CPU left the active
            // mask, so nothing is written after that flush.
            if !CpuId::from_u32(cpu).is_some_and(topology::cpu_active) {
                continue;
            }
            for _ in 0..write {
                // One message per threshold crossing, as the hypervisor
                // sends them: posted before the next chain can join it,
                // and the interrupt raised at once, not after the tick:
                // the hypervisor signals the SINT when it completes the
                // buffer (drivers/hv/diag/mshv_trace.c in
                // microsoft/CBL-Mariner-Linux-Kernel handles
                // HVMSG_EVENTLOG_BUFFERCOMPLETE from its SINT handler as
                // it arrives, and the TLFS SynIC asserts a SINT on message
                // delivery). Outside the lock, as `interrupt` needs.
                if core.0.write_event(&mut plat, cpu, PAYLOAD_BYTES).notify {
                    let now = core.0.post_messages(&mut plat);
                    drop(core);
                    self.interrupt(now);
                    core = self.core.lock();
                    // The CPU may have gone meanwhile (see above).
                    if !CpuId::from_u32(cpu).is_some_and(topology::cpu_active) {
                        continue 'cpus;
                    }
                }
            }
            core.0.drop_events(cpu, dropped);
            // Let waiters in between CPUs. (No `cond_resched()` needed: the
            // work runs preemptibly, and on a kernel built without
            // preemption the per-CPU share is bounded by the cap.)
            drop(core);
        }
        // The hypervisor's own log gets as many events as one CPU; it
        // rotates and counts no losses, so the excess just is not written.
        let mut core = self.core.lock();
        for _ in 0..write {
            core.0.write_system_event(&mut plat, PAYLOAD_BYTES);
        }
        raised.add(&core.0.post_messages(&mut plat));
        drop(core);
        self.interrupt(raised);
    }
}

impl Sim {
    /// Raises SINT0 on every CPU whose slot just received a message: runs
    /// the module's handler, as the interrupt would, outside the core's
    /// lock (the handler signals end-of-message through it).
    fn interrupt(&self, raised: CpuSet) {
        for cpu in raised.iter() {
            self.interrupt_one(cpu);
        }
    }

    fn interrupt_one(&self, cpu: u32) {
        let _one_at_a_time = self.sint.lock();
        self.inbox.handle(self, cpu);
    }

    /// The test hook behind debugfs `sim_sint0`: another driver's message
    /// of `message_type` arrives in `cpu`'s SINT0 slot (`EBUSY` if the slot
    /// is not empty), or with `None` that driver takes it back and signals
    /// end-of-message (`EINVAL` if the slot holds no such message).
    pub(crate) fn foreign_message(&self, cpu: u32, message_type: Option<u32>) -> Result {
        let mut core = self.core.lock();
        let mut plat = KernelPlatform;
        match message_type {
            Some(ty) => core
                .0
                .inject_foreign_message(&mut plat, cpu, ty)
                .map_err(|e| match e {
                    SynicError::SlotBusy => EBUSY,
                    _ => EINVAL,
                }),
            None => {
                let delivered = core
                    .0
                    .consume_foreign_message(&mut plat, cpu)
                    .map_err(|_| EINVAL)?;
                drop(core);
                if delivered {
                    self.interrupt_one(cpu);
                }
                Ok(())
            }
        }
    }

    /// What `cpu`'s SINT0 slot holds, for debugfs.
    pub(crate) fn slot_view(&self, cpu: u32) -> Option<SlotView> {
        self.core.lock().0.slot(&mut KernelPlatform, cpu)
    }

    /// The CPUs with a message page.
    pub(crate) fn message_cpus(&self) -> impl Iterator<Item = u32> + '_ {
        self.message_pages.iter().map(|(cpu, _)| *cpu)
    }
}

impl MessagePort for Sim {
    fn slot(&self, cpu: u32) -> Option<NonNull<u8>> {
        let (_, page) = self.message_pages.iter().find(|(c, _)| *c == cpu)?;
        let va = mm::phys_to_virt(page.phys()).wrapping_add(EVENTLOG_SINT * MESSAGE_SIZE);
        NonNull::new(va)
    }

    fn end_of_message(&self, cpu: u32) {
        // The handler reads the slot again itself: nothing to raise here.
        let _ = self.core.lock().0.end_of_message(&mut KernelPlatform, cpu);
    }
}

impl Transport for Sim {
    unsafe fn hypercall(&self, control: u64, input_pa: u64, output_pa: u64) -> u64 {
        // Callers follow the `Transport` contract: the pages named are theirs
        // for the call, which is all the core relies on.
        let mut core = self.core.lock();
        let result = core
            .0
            .hypercall(&mut KernelPlatform, control, input_pa, output_pa);
        // A flush or a release may complete a chain.
        let raised = core.0.post_messages(&mut KernelPlatform);
        drop(core);
        self.interrupt(raised);
        let slow = self.slow_sources_ms.load(Relaxed);
        if slow != 0 && Control::from_raw(control).call() == Some(HvCall::SetEventLogGroupSources) {
            // Set-sources is a memory call the module makes from process
            // context only (ioctl, load, stop), under its call-page mutex.
            fsleep(Delta::from_millis(slow.into()));
        }
        result
    }
}

/// The simulator with its writers; stopping the writers comes first on drop.
pub(crate) type SimBackend = Ticker<Sim>;

/// Creates the simulator for `placement`; its writers start with
/// [`Ticker::start`] once the group is set up.
pub(crate) fn create(
    cfg: &SimConfig,
    placement: &Placement,
    inbox: Arc<Inbox>,
) -> Result<Arc<SimBackend>> {
    let sim = Sim::new(cfg, placement, inbox)?;
    Ok(Arc::new(Ticker::new(sim, TICK_MS)?, GFP_KERNEL)?)
}
