// SPDX-License-Identifier: GPL-2.0

//! `/dev/hv_evlog`: the event log buffers, mapped read-only, and a record per
//! completed buffer.
//!
//! The device exists while a buffer group is set up ([`register`] to drop of
//! the returned [`Device`]). The userspace side, with the ABI of
//! `include/uapi/linux/hv_evlog.h`:
//!
//! ```c
//! int fd = open("/dev/hv_evlog", O_RDONLY);   // root only (0600); a second
//!                                             // open gets EBUSY
//! struct hv_evlog_info info;
//! ioctl(fd, HV_EVLOG_IOC_INFO, &info);
//! struct hv_evlog_buffer_info tab[HV_EVLOG_MAX_BUFFERS];
//! struct hv_evlog_buffers req = { .first = 0, .count = HV_EVLOG_MAX_BUFFERS,
//!                                 .table = (uintptr_t)tab };
//! ioctl(fd, HV_EVLOG_IOC_BUFFERS, &req);     // req.count: entries filled
//!
//! // Buffer i at offset i * buffer_size; PROT_READ + MAP_SHARED only.
//! const char *base = mmap(NULL, (size_t)info.buffer_count * info.buffer_size,
//!                         PROT_READ, MAP_SHARED, fd, 0);
//!
//! for (;;) {
//!         struct pollfd p = { .fd = fd, .events = POLLIN };
//!         poll(&p, 1, -1);
//!         struct hv_evlog_record rec[16];     // whole records only
//!         ssize_t n = read(fd, rec, sizeof(rec));
//!         for (i = 0; i < n / sizeof(rec[0]); i++) {
//!                 const char *buf = base + (size_t)rec[i].buffer_index * info.buffer_size;
//!                 // rec[i].bytes_used bytes of entries from buf + info.header_size
//!                 ioctl(fd, HV_EVLOG_IOC_RELEASE, &rec[i].buffer_index);
//!         }
//! }
//! ```
//!
//! # Errors
//!
//! One table for the ABI, each call's errno and when: "Errors of the
//! device" in Documentation/hv_evlog.rst.
//!
//! # Records
//!
//! The completion scanner reads every buffer header each `scan_interval_ms`
//! while the device is open; each newly completed buffer queues one record
//! (see [`crate::policy::completion`] for the order and the per-buffer life cycle).
//! Sequence numbers start at 0 for each open and have no gaps unless records
//! were dropped, which `stats.records_dropped` counts. The queue has room for
//! one record per buffer and a buffer is only reported again after it was
//! released, so with the regular (non-circular) mode nothing can be dropped.
//! In circular mode the hypervisor restarts complete buffers on its own: a
//! record still queued for a restarted buffer is withdrawn and counted as
//! dropped, and the new completion gets its own record.
//! A new open reports every buffer that is complete at the time, including
//! those a previous consumer read but did not release.
//!
//! Statistics count from the open of the file (`HV_EVLOG_IOC_STATS`) and,
//! summed over every open, from the registration of the device, which is
//! the module's load (`HV_EVLOG_IOC_LIFETIME_STATS`): a consumer that
//! opens the device after a capture still sees what was consumed.
//!
//! # Lifetime
//!
//! A mapping holds its file, an open file holds its [`Session`], a session
//! holds the [`Shared`] device state and through it the [`EventLog`] and its
//! pages; the file also holds a reference on the module (see
//! [`crate::device::chardev`]). So after `close()` a mapping stays valid until
//! `munmap()`, `rmmod` is refused while a file or mapping exists, and the
//! device stays busy for new openers until the last one is gone.
//!
//! The mapping is a PFN mapping (`VM_PFNMAP | VM_IO`, special PTEs), as
//! drivers map device memory: buffer pages are the
//! hypervisor's memory, not the page allocator's, so no page reference is
//! taken and `get_user_pages()` refuses them (`EFAULT` for `vmsplice()`,
//! `process_vm_readv()`, `O_DIRECT`, pins). Nothing outside the chain above
//! can hold a buffer page, so after `munmap()` (and `close()`, `rmmod`)
//! nothing of a buffer stays reachable from userspace. Nor does it before:
//! the fault handler maps a buffer's pages only while the group holds it
//! in the rotation ([`EventLog::with_user_pages`]), and before the group
//! hands a buffer back to the hypervisor (a resize, CPU hotplug, the stop
//! at reboot) it zaps every user PTE of its range (`platform::user_mapping`):
//! a mapping that still covers it gets `SIGBUS` there. The mapping is also
//! `VM_DONTCOPY`: a child made by `fork()` has no mapping of the buffers
//! (the range is unmapped in the child) and so does not keep the file, and
//! with it the device, busy.
//!
//! # Lock order
//!
//! Outermost first; a lock is only ever taken while holding the ones above
//! it, never the other way:
//!
//! 1. the mm's mmap lock (or the per-VMA lock), which the kernel holds
//!    around `mmap()`, the vma callbacks (`vma.rs`) and faults;
//! 2. [`Session::state`], the open file's records and tracker (scan, read,
//!    ioctls); nothing is copied to or from userspace under it;
//! 3. the group's `live` lock (resize, CPU hotplug, the reboot stop);
//! 4. the group's buffer table, under which faults insert PTEs (a fault
//!    on a buffer being taken out first waits for the group's `revoking`
//!    lock, which comes between 3 and 4 and is held across the zap);
//! 5. the hypercall pages' lock (one hypercall at a time).
//!
//! The CPU hotplug lock comes before 3: the hotplug callbacks run under it
//! (held for writing) and take `live`, as does the reconciliation at load
//! (held for reading, `group/hotplug.rs`); nothing takes it while holding a
//! lock of the list.
//!
//! The user mapping's lock (`platform::user_mapping`) and, under it, the
//! address space's `i_mmap_rwsem` are taken to zap PTEs with 3 and
//! `revoking` at most held, never 4: a fault holds 4 while the page table
//! locks are taken, and waits for `revoking` holding neither.
//!
//! `mmap()` maps nothing itself: each buffer is mapped read-only when it
//! is first touched (`vmf_insert_pfn()` from the fault handler, for every
//! page of the buffer inside the mapping). Mapping everything at `mmap()` time meant up to 512 × 512 =
//! 262,144 `remap_pfn_range()` calls under the mmap write lock, one per
//! physically contiguous run, and the simulator's pool hands out pages one
//! at a time, so runs were single pages.

use core::{
    mem::size_of,
    num::NonZeroU32,
    ops::Range,
    sync::atomic::{AtomicBool, Ordering},
};

pub(crate) mod chardev;
// The copying (compatibility) path, HV_EVLOG_IOC_COPY.
mod copyout;
pub(crate) mod debugfs;
// The UAPI's info and buffer table, built from what the log returns.
mod info;
mod scan;
// The kernel's half of the UAPI mirror: byte-copy traits, request checks.
mod uapi_kernel;
mod vma;

use kernel::{
    bindings, cpu,
    fs::{file, File, LocalFile},
    ioctl::_IOC_SIZE,
    mm::virt::VmaNew,
    new_mutex, new_poll_condvar,
    page::PAGE_SHIFT,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, AtomicFlag, Relaxed, Release},
        poll::{PollCondVar, PollTable},
        Arc, ArcBorrow, Mutex,
    },
    time::{msecs_to_jiffies, Jiffies},
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
    workqueue::{new_delayed_work, new_work, DelayedWork, Work},
};

use self::{
    chardev::{Operations, Registration},
    scan::{Kicker, KICK, SCAN_BACKOFF_MS},
};
use crate::{
    group::log::EventLog,
    hv::sint0::{Inbox, Wake},
    platform::ticker::{queue, RunTime},
    policy::completion::{Queue, Tracked, Tracker},
    tlfs::{self, BufferHeader, BufferIndex},
    uapi::{self, BufferInfo, Buffers, Info, Record, Stats},
};

/// Name of the device node.
const NAME: &CStr = c"hv_evlog";

/// Permissions of the device node: read and write for root only. (Write
/// permission is needed for nothing but is what `O_RDWR` openers expect.)
const MODE: u16 = 0o600;

/// Size of one record in `read()`.
const RECORD_SIZE: usize = size_of::<Record>();

/// Records `read()` takes out of the queue at a time (on the stack, so
/// small); a larger read takes batch after batch.
const READ_BATCH: usize = 16;

/// `VM_MAYSHARE`. 7.2's bindings give `VM_MAYSHARE` the value of
/// `VM_MAYEXEC` (rust/bindings/bindings_helper.h assigns
/// `RUST_CONST_HELPER_VM_MAYSHARE = VM_MAYEXEC`), and so does
/// `kernel::mm::virt::flags::MAYSHARE`; the bit number is right.
const VM_MAYSHARE: bindings::vm_flags_t = 1 << bindings::VMA_MAYSHARE_BIT;

const _: () = assert!(VM_MAYSHARE != bindings::VM_MAYEXEC);

/// `/dev/hv_evlog`, registered while this value exists.
#[pin_data]
pub(crate) struct Device {
    #[pin]
    registration: Registration<Session>,
}

/// Creates `/dev/hv_evlog` for `log`, scanning for completed buffers every
/// `scan_interval_ms` (at least one jiffy) while it is open.
///
/// Call it as the last fallible step of setting up the group: an opener can
/// use the device as soon as this returns. Dropping the result removes the
/// node; open files and mappings keep `log` alive on their own.
///
/// With `inbox`, the hypervisor's completion messages wake the scanner (or
/// the waiting reader) at once; the periodic scan stays as the safety net.
pub(crate) fn register(
    log: Arc<dyn EventLog>,
    scan_interval_ms: u32,
    inbox: Option<Arc<Inbox>>,
    scan_time: Arc<RunTime>,
) -> Result<Pin<KBox<Device>>> {
    let count = log.index_limit();
    let pages = log.buffer_pages();
    if count == 0 || count > uapi::MAX_BUFFERS || pages == 0 || pages > tlfs::MAX_BUFFER_PAGES {
        return Err(EINVAL);
    }
    let shared = Arc::new(
        Shared {
            log,
            scan_delay: msecs_to_jiffies(scan_interval_ms).max(1),
            // At least one: every interval when the interval is long.
            max_skips: (SCAN_BACKOFF_MS / scan_interval_ms.max(1)).max(1) - 1,
            busy: AtomicFlag::new(false),
            inbox,
            lifetime: Lifetime::new(),
            scan_time,
        },
        GFP_KERNEL,
    )?;
    KBox::try_pin_init(
        try_pin_init!(Device {
            registration <- Registration::register(NAME, MODE, shared),
        }),
        GFP_KERNEL,
    )
}

/// State of the device that its open files share.
pub(crate) struct Shared {
    log: Arc<dyn EventLog>,
    scan_delay: Jiffies,
    /// With messages, the most periodic runs a backed-off scanner skips in
    /// a row (see [`SCAN_BACKOFF_MS`]).
    max_skips: u32,
    /// A file is open: the one consumer slot is taken.
    busy: AtomicFlag,
    /// Completion messages, when the backend delivers them.
    inbox: Option<Arc<Inbox>>,
    /// Every open's counters, summed.
    lifetime: Lifetime,
    /// Time the completion scans take (debugfs `run_time`).
    scan_time: Arc<RunTime>,
}

/// The counters of `hv_evlog_stats` summed over every open since the
/// device was registered. Each is only ever added to (wrapping, which 64
/// bits never reach), relaxed: a reader wants each count, not an order
/// between them.
struct Lifetime {
    completions: Atomic<u64>,
    releases: Atomic<u64>,
    events_lost: Atomic<u64>,
    records_dropped: Atomic<u64>,
    flushes: Atomic<u64>,
}

impl Lifetime {
    fn new() -> Self {
        Self {
            completions: Atomic::new(0),
            releases: Atomic::new(0),
            events_lost: Atomic::new(0),
            records_dropped: Atomic::new(0),
            flushes: Atomic::new(0),
        }
    }

    fn snapshot(&self) -> Stats {
        Stats {
            completions: self.completions.load(Relaxed),
            releases: self.releases.load(Relaxed),
            events_lost: self.events_lost.load(Relaxed),
            records_dropped: self.records_dropped.load(Relaxed),
            flushes: self.flushes.load(Relaxed),
        }
    }
}

/// Adds `n` to a counter of this open and to its lifetime sum.
fn count(this_open: &mut u64, lifetime: &Atomic<u64>, n: u64) {
    *this_open = this_open.saturating_add(n);
    lifetime.add(n, Relaxed);
}

impl Shared {
    /// Bytes per buffer: at most 512 pages (checked by [`register`]).
    fn buffer_size(&self) -> u32 {
        self.log.buffer_pages() << PAGE_SHIFT
    }
}

impl Shared {
    /// Buffers `first..=last` that pages `pgoff..pgoff + pages` of the mmap
    /// space cover (`pages` at least 1).
    fn buffers_of(&self, pgoff: usize, pages: usize) -> (BufferIndex, BufferIndex) {
        let per_buffer = self.log.buffer_pages().max(1) as usize;
        let last = pgoff + pages.max(1) - 1;
        (
            BufferIndex((pgoff / per_buffer) as u32),
            BufferIndex((last / per_buffer) as u32),
        )
    }

    /// A copy of a mapping of pages `pgoff..pgoff + pages` was made.
    pub(crate) fn vma_copied(&self, pgoff: usize, pages: usize) {
        let (first, last) = self.buffers_of(pgoff, pages);
        // Never refused: the buffers are held by the original.
        let _ = self.log.map_user(first, last, false);
    }

    /// A mapping of pages `pgoff..pgoff + pages` is gone.
    pub(crate) fn vma_closed(&self, pgoff: usize, pages: usize) {
        let (first, last) = self.buffers_of(pgoff, pages);
        self.log.unmap_user(first, last);
    }
}

/// The consumer slot, taken by an open file until its session is gone; a
/// control file (opened `O_WRONLY`) takes none.
struct Claim(Arc<Shared>, bool);

impl Claim {
    fn take(shared: &Arc<Shared>) -> Result<Self> {
        shared
            .busy
            .cmpxchg(false, true, Acquire)
            .map_err(|_| EBUSY)?;
        Ok(Self(shared.clone(), true))
    }

    fn control(shared: &Arc<Shared>) -> Self {
        Self(shared.clone(), false)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.1 {
            self.0.busy.store(false, Release);
        }
    }
}

/// What one open of the device changes; under [`Session::state`].
struct State {
    tracker: Tracker<KVec<Tracked>>,
    queue: Queue<Record, KVec<Record>>,
    /// The last snapshot of every header, reused by each scan.
    headers: KVVec<BufferHeader>,
    stats: Stats,
    /// The file is being released: the scanner must not re-arm.
    stopping: bool,
    /// The table generation this file last read (INFO or BUFFERS); another
    /// one makes `poll()` report `POLLPRI`.
    seen_generation: u32,
    /// The generation the scanner last woke pollers for.
    woken_generation: u32,
    /// Full scans in a row that found nothing (with messages only).
    idle_scans: u32,
    /// Periodic runs to skip before the next full scan.
    skips: u32,
}

/// One open of the device: the consumer.
#[pin_data]
pub(crate) struct Session {
    claim: Claim,
    #[pin]
    state: Mutex<State>,
    /// Signalled when records are queued.
    #[pin]
    readable: PollCondVar,
    /// The completion scanner.
    #[pin]
    scan: DelayedWork<Session>,
    /// One scan now: a completion message arrived.
    #[pin]
    kick: Work<Session, KICK>,
    /// Whether the consumer's last `poll()` found nothing: a completion
    /// message then only wakes it, and it walks the chain itself
    /// ([`Session::pull`]), with no worker competing for a CPU meanwhile.
    /// Set after `poll()` registered on `readable`, so no wake-up is lost;
    /// stale at worst (the reader left `poll()` on a time-out): the records
    /// then wait for its next call or the next periodic scan.
    reader_waits: AtomicBool,
}

impl Session {
    fn shared(&self) -> &Shared {
        &self.claim.0
    }

    /// Whether this file is the consumer (not a control file).
    fn consumer(&self) -> bool {
        self.claim.1
    }

    fn log(&self) -> &dyn EventLog {
        &*self.shared().log
    }

    /// HV_EVLOG_IOC_INFO.
    fn info(&self) -> Info {
        let info = self.shared().info();
        self.state.lock().seen_generation = info.generation;
        info
    }

    /// HV_EVLOG_IOC_BUFFERS: the existing buffers from index `first` on,
    /// all of one generation of the table.
    fn buffers(&self, mut reader: UserSliceReader, mut writer: UserSliceWriter) -> Result {
        let mut req: Buffers = reader.read()?;
        let limit = self.log().index_limit();
        if req.first > limit {
            return Err(EINVAL);
        }
        let room = req.count.min(limit - req.first) as usize;
        let mut entries = KVVec::with_capacity(room, GFP_KERNEL)?;
        // Taken again if a resize changed the table meanwhile, so that the
        // generation returned describes every entry.
        let generation = loop {
            let before = self.log().generation();
            entries.clear();
            for index in req.first..limit {
                if entries.len() == room {
                    break;
                }
                if let Ok(info) = self.shared().buffer_info(index) {
                    entries.push(info, GFP_KERNEL)?;
                }
            }
            if self.log().generation() == before {
                break before;
            }
        };
        let table = UserPtr::from_addr(usize::try_from(req.table).map_err(|_| EFAULT)?);
        let mut out = UserSlice::new(table, entries.len() * size_of::<BufferInfo>()).writer();
        for e in entries.iter() {
            out.write(e)?;
        }
        req.count = entries.len() as u32;
        req.generation = generation;
        req.reserved = 0;
        writer.write(&req)?;
        self.state.lock().seen_generation = generation;
        Ok(())
    }

    /// HV_EVLOG_IOC_RELEASE.
    fn release_buffer(&self, index: u32) -> Result {
        if !self.consumer() {
            return Err(EBADF);
        }
        if index >= self.log().index_limit() {
            return Err(EINVAL);
        }
        let mut state = self.state.lock();
        // Complete with the very fill whose record was read: in circular
        // mode the buffer may have been restarted and completed again since,
        // and that completion is not reported yet.
        let header = self.log().header(BufferIndex(index)).ok_or(EINVAL)?;
        if !state.tracker.may_release(index, &header) {
            return Err(EINVAL);
        }
        self.hand_back(&mut state, index)
    }

    /// Hands buffer `index` back to the hypervisor and counts it, once the
    /// caller has checked under `state`'s lock that it may.
    fn hand_back(&self, state: &mut State, index: u32) -> Result {
        self.log().release(BufferIndex(index))?;
        state.tracker.released(index);
        count(
            &mut state.stats.releases,
            &self.shared().lifetime.releases,
            1,
        );
        Ok(())
    }

    /// HV_EVLOG_IOC_FLUSH.
    fn flush(&self, cpu: u32) -> Result {
        if cpu != uapi::ALL_CPUS && cpu >= cpu::nr_cpu_ids() {
            return Err(EINVAL);
        }
        self.log().flush(cpu)?;
        let mut state = self.state.lock();
        count(&mut state.stats.flushes, &self.shared().lifetime.flushes, 1);
        Ok(())
    }
}

impl Operations for Session {
    type Shared = Arc<Shared>;

    fn open(shared: &Arc<Shared>, file: &File) -> Result<Arc<Self>> {
        // `O_WRONLY`: a control file beside the consumer. It cannot read or
        // map (the kernel refuses both without `FMODE_READ`), so it needs
        // no records, no scanner and no consumer slot.
        let control = file.flags() & file::flags::O_ACCMODE == file::flags::O_WRONLY;
        let claim = if control {
            Claim::control(shared)
        } else {
            Claim::take(shared)?
        };
        let count = if control {
            0
        } else {
            shared.log.index_limit() as usize
        };
        let state = State {
            tracker: Tracker::new(KVec::from_elem(Tracked::default(), count, GFP_KERNEL)?),
            queue: Queue::new(KVec::from_elem(Record::default(), count, GFP_KERNEL)?),
            headers: KVVec::from_elem(BufferHeader::default(), count, GFP_KERNEL)?,
            stats: Stats::default(),
            stopping: false,
            seen_generation: shared.log.generation(),
            woken_generation: shared.log.generation(),
            idle_scans: 0,
            skips: 0,
        };
        let session = Arc::pin_init(
            try_pin_init!(Session {
                claim,
                state <- new_mutex!(state),
                readable <- new_poll_condvar!(),
                scan <- new_delayed_work!("hv_evlog::scan"),
                kick <- new_work!("hv_evlog::kick"),
                reader_waits: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        if control {
            return Ok(session);
        }
        if let Some(inbox) = &shared.inbox {
            let kicker: Arc<dyn Wake> = Arc::new(Kicker(session.clone()), GFP_KERNEL)?;
            inbox.set_waker(Some(kicker));
        }
        // The first scan right away: buffers already complete are reported
        // to this consumer too. Cannot fail: the work item is new.
        if shared.log.completes() {
            // On the kick's one queue, the one `Kicker::wake` uses:
            // `flush_work()` in `stop_scanner` waits only on the queue a
            // work item was last queued on, so a second queue could leave a
            // run holding the session after `release()`.
            let _ = queue().enqueue::<Arc<Session>, KICK>(session.clone());
        }
        // Last, after every step that can fail: the open succeeds now.
        // SAFETY: `file` is the consumer's, being opened; `release` clears
        // the record before the file's release ends.
        unsafe { shared.log.user_mapping().set(file.as_ptr()) };
        Ok(session)
    }

    fn release(this: Arc<Self>, _file: &File) {
        if this.consumer() {
            this.stop_scanner();
            // No mapping of the file is left (each holds it).
            this.log().user_mapping().clear();
        }
        // Usually the last reference: the session, and with it the consumer
        // slot, goes away here.
        drop(this);
    }

    fn read(
        this: ArcBorrow<'_, Self>,
        file: &LocalFile,
        out: &mut UserSliceWriter,
    ) -> Result<usize> {
        // Whole records only. (A constant divisor: no division-by-zero path.)
        let room = out.len() / RECORD_SIZE;
        if room == 0 {
            return Err(EINVAL);
        }
        let mut state = loop {
            // Announced chains first, then the queue (`Kicker::wake`).
            Session::pull(this);
            let mut state = this.state.lock();
            if !state.queue.is_empty() {
                break state;
            }
            if file.flags() & file::flags::O_NONBLOCK != 0 {
                return Err(EAGAIN);
            }
            // A message announced between the pull and this wait is not
            // lost: the reader is not marked waiting (`reader_waits`: the
            // mark would come before the wait's registration, and a wake-up
            // in between would be lost), so the handler kicks the scan,
            // which queues the records and wakes us.
            if this.readable.wait_interruptible(&mut state) {
                return Err(ERESTARTSYS);
            }
        };
        // Never copy to userspace under the lock: a destination that faults
        // slowly (userfaultfd, FUSE, a file on a slow device) would stall
        // the scanner, `poll()` and every ioctl behind it. So take a batch
        // out, copy it without the lock, and put back, in order and at the
        // front, what could not be copied. The records taken out stay
        // `Queued` in the tracker meanwhile, so the scanner does not report
        // their buffers again and RELEASE refuses them until delivered.
        let mut total = 0;
        loop {
            let mut batch = [Record::default(); READ_BATCH];
            let mut taken = 0;
            while taken < (room - total).min(READ_BATCH) {
                let Some(rec) = state.queue.pop_front() else {
                    break;
                };
                batch[taken] = rec;
                taken += 1;
            }
            drop(state);
            let mut copied = 0;
            let mut error = None;
            for rec in &batch[..taken] {
                if let Err(e) = out.write(rec) {
                    error = Some(e);
                    break;
                }
                copied += 1;
            }
            state = this.state.lock();
            let s = &mut *state;
            for rec in &batch[..copied] {
                s.tracker.delivered(rec.buffer_index);
            }
            // Newest first, each in front of the rest: the queue ends up in
            // its old order.
            for rec in batch[copied..taken].iter().rev() {
                if !s.queue.push_front(*rec) {
                    // Cannot happen: the records taken out are of `Queued`
                    // buffers, which the scanner does not report again, and
                    // the queue has room for one record per buffer. Should
                    // it happen, the record counts as dropped and its buffer
                    // may be released, so that it is not stuck.
                    count(
                        &mut s.stats.records_dropped,
                        &this.shared().lifetime.records_dropped,
                        1,
                    );
                    s.tracker.delivered(rec.buffer_index);
                }
            }
            total += copied;
            if let Some(e) = error {
                return if total == 0 {
                    Err(e)
                } else {
                    Ok(total * RECORD_SIZE)
                };
            }
            if total == room || s.queue.is_empty() {
                return Ok(total * RECORD_SIZE);
            }
        }
    }

    fn poll(this: ArcBorrow<'_, Self>, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &this.readable);
        // Registered first: a message announced after the pull wakes us.
        Session::pull(this);
        let state = this.state.lock();
        let mut events = 0;
        if !state.queue.is_empty() {
            events |= bindings::POLLIN | bindings::POLLRDNORM;
        }
        // Only the consumer's scanner wakes pollers.
        if this.consumer() && state.seen_generation != this.log().generation() {
            events |= bindings::POLLPRI;
        }
        if events == 0 && this.consumer() {
            // Registered on `readable` above: a message announced from here
            // on wakes this poller, which pulls; one announced before this
            // store kicked the scan.
            this.reader_waits.store(true, Ordering::SeqCst);
        }
        events
    }

    fn mmap(this: ArcBorrow<'_, Self>, _file: &File, vma: &VmaNew) -> Result {
        // A private mapping could be made writable (copy on write) and is of
        // no use for a buffer the hypervisor keeps writing: refused.
        // `VM_MAYSHARE`, not `VM_SHARED`: the kernel clears `VM_SHARED` of a
        // shared mapping of a file opened read-only.
        if vma.flags() & VM_MAYSHARE == 0 {
            return Err(EINVAL);
        }
        // For an `O_RDONLY` file the kernel already refused `PROT_WRITE`
        // with `EACCES`; the same answer for an `O_RDWR` one.
        if vma.writable() {
            return Err(EACCES);
        }
        // As a `noexec` mount answers `PROT_EXEC`.
        if vma.executable() {
            return Err(EPERM);
        }
        // Neither can be set by `mprotect()` later (`EACCES` then).
        vma.try_clear_maywrite()?;
        vma.try_clear_mayexec()?;
        // `mremap()` cannot grow the mapping past the buffers (`EFAULT`).
        vma.set_dontexpand();
        // Up to 1 GiB of hypervisor data has no place in a core dump.
        vma.set_dontdump();
        // A forked child gets no mapping: it would keep the file, and so the
        // one consumer slot, busy for as long as it lives.
        vma.set_dontcopy();
        // Not RAM as far as the rest of mm is concerned (with `VM_PFNMAP`,
        // set below): GUP refuses the range.
        vma.set_io();

        let log = this.log();
        let per_buffer = NonZeroU32::new(log.buffer_pages()).ok_or(EINVAL)?;
        // At most 512 * 512 (checked by `register`).
        let total = log.index_limit() * per_buffer.get();
        // SAFETY: `vma` is being set up by this `mmap()` call, so reading its
        // page offset cannot race with a writer.
        let first = unsafe { (*vma.as_ptr()).vm_pgoff };
        let pages = (vma.end() - vma.start()) >> PAGE_SHIFT;
        let in_range = |n: usize| u32::try_from(n).ok().filter(|&n| n <= total);
        let (Some(first), Some(pages)) = (in_range(first), in_range(pages)) else {
            return Err(EINVAL);
        };
        if pages == 0 || pages > total - first {
            return Err(EINVAL);
        }
        // Every buffer the range touches must exist and be in the rotation;
        // from here on none of them is deleted until the mapping goes.
        let buffers = (first / per_buffer, (first + pages - 1) / per_buffer);
        log.map_user(BufferIndex(buffers.0), BufferIndex(buffers.1), true)?;
        // Pages are mapped on first touch (`fault` below).
        chardev::set_pfnmap(vma);
        crate::device::vma::track(vma, this.shared());
        Ok(())
    }

    fn fault(this: ArcBorrow<'_, Self>, pages: Range<usize>, insert: &mut dyn FnMut(usize, u64)) {
        let per_buffer = this.log().buffer_pages() as usize;
        // One block is one buffer (`fault_block`), so `pages` lies in the
        // buffer of its first page. `mmap` checked the mapping's range
        // against the buffers and `mremap()` cannot grow it
        // (`VM_DONTEXPAND`); a buffer revoked since (retired by a resize,
        // or stopped at reboot) is refused by `with_user_pages`, and its
        // PTEs were zapped: `SIGBUS`.
        let Some(buffer) = pages.start.checked_div(per_buffer) else {
            return;
        };
        let Ok(index) = u32::try_from(buffer) else {
            return;
        };
        let base = buffer * per_buffer;
        this.log().with_user_pages(BufferIndex(index), &mut |pfns| {
            for page in pages.clone() {
                if let Some(&pfn) = page.checked_sub(base).and_then(|i| pfns.get(i)) {
                    insert(page, pfn);
                }
            }
        });
    }

    fn fault_block(this: ArcBorrow<'_, Self>) -> usize {
        // One buffer: the unit userspace reads.
        this.log().buffer_pages() as usize
    }

    fn ioctl(this: ArcBorrow<'_, Self>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // The consumer is not waiting: chains announced meanwhile are
        // walked now (RELEASE, STATS and FLUSH see their records queued).
        Session::pull(this);
        let user = UserSlice::new(UserPtr::from_addr(arg), _IOC_SIZE(cmd));
        match cmd {
            uapi::IOC_INFO => user.writer().write(&this.info())?,
            uapi::IOC_BUFFERS => {
                let (reader, writer) = user.reader_writer();
                this.buffers(reader, writer)?;
            }
            uapi::IOC_RELEASE => this.release_buffer(user.reader().read()?)?,
            uapi::IOC_FLUSH => this.flush(user.reader().read()?)?,
            uapi::IOC_SET_SOURCES => this.log().set_sources(user.reader().read()?)?,
            uapi::IOC_STATS => {
                if !this.consumer() {
                    return Err(EBADF);
                }
                let stats = this.state.lock().stats;
                user.writer().write(&stats)?;
            }
            uapi::IOC_LIFETIME_STATS => {
                user.writer().write(&this.shared().lifetime.snapshot())?;
            }
            uapi::IOC_COPY => {
                if !this.consumer() {
                    return Err(EBADF);
                }
                let (mut reader, mut writer) = user.reader_writer();
                writer.write(&this.copy_out(reader.read()?)?)?;
            }
            uapi::IOC_RESIZE => this.log().resize(user.reader().read()?)?,
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}
