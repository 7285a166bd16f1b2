// SPDX-License-Identifier: GPL-2.0

//! Periodic work on the kernel crate's `DelayedWork`, stopped synchronously.
//!
//! The simulator's event writers run as a [`Ticker`]; the device's
//! completion scanner, which re-arms itself by its own policy (back-off,
//! kicks from completion messages), stops with [`stop_delayed`]. Both follow
//! one rule, because 7.2's `kernel::workqueue` can queue a delayed work but
//! not cancel one: a run re-arms only under a lock, after checking a stop
//! flag set under that same lock; the stopper sets the flag, then flushes.
//! The flush runs a pending timer's work at once and waits for it and for a
//! running one; every such run sees the flag and does not re-arm, so nothing
//! is pending or running afterwards, and the work's owner may go.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{
    bindings, impl_has_delayed_work, new_delayed_work, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{msecs_to_jiffies, Instant, Jiffies, Monotonic},
    workqueue::{self, DelayedWork, WorkItem},
};

/// The queue periodic work runs on: the system's default unbound queue
/// (`system_dfl_wq`; 7.2 warns that `system_unbound_wq` is going away), so
/// that a tick never waits behind the task it interrupted on one CPU.
pub(crate) fn queue() -> &'static workqueue::Queue {
    // SAFETY: `system_dfl_wq` is a C global, set up at boot and never
    // destroyed.
    unsafe { workqueue::Queue::from_raw(bindings::system_dfl_wq) }
}

/// Waits until `work` is neither pending nor running, running a pending
/// timer's work at once. The caller has made sure that no run re-arms it
/// any more (see the module doc); it must not be called from `work` itself,
/// which would wait for itself. Sleeps.
pub(crate) fn stop_delayed<T: ?Sized, const ID: u64>(work: &DelayedWork<T, ID>) {
    // SAFETY: The pointer is to `work`: aligned and not dangling.
    let work = unsafe { DelayedWork::<T, ID>::raw_as_work(work) };
    // SAFETY: `work` points at the `Work` inside that `DelayedWork`, which
    // lives as long as the borrow.
    let work = unsafe { workqueue::Work::raw_get(work) };
    // SAFETY: That `work_struct` is the `work` field of the `delayed_work`
    // inside the `DelayedWork`.
    let dwork = unsafe { kernel::container_of!(work, bindings::delayed_work, work) };
    // SAFETY: `dwork` is an initialized `delayed_work` (a `DelayedWork` only
    // exists initialized).
    unsafe { bindings::flush_delayed_work(dwork) };
}

/// Time spent running one kind of work, summed, with the number of runs:
/// debugfs `run_time`. The benchmarks' idle cost is measured with it where it is
/// spent: the whole guest's busy time (`/proc/stat`, in 10 ms ticks) drowns
/// a fraction of a millisecond per second. Wall time from start to end of
/// each run, which is its CPU time unless it is preempted or sleeps on a
/// lock; the queueing and timer around a run are not counted.
pub(crate) struct RunTime {
    ns: AtomicU64,
    runs: AtomicU64,
}

impl RunTime {
    pub(crate) const fn new() -> Self {
        Self {
            ns: AtomicU64::new(0),
            runs: AtomicU64::new(0),
        }
    }

    /// Runs `f`, counting its time.
    pub(crate) fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let start = Instant::<Monotonic>::now();
        let r = f();
        let ns = start.elapsed().as_nanos().unsigned_abs();
        // Relaxed: counters, read for their values only.
        self.ns.fetch_add(ns, Ordering::Relaxed);
        self.runs.fetch_add(1, Ordering::Relaxed);
        r
    }

    /// Nanoseconds and runs so far.
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.ns.load(Ordering::Relaxed),
            self.runs.load(Ordering::Relaxed),
        )
    }
}

/// What a [`Ticker`] runs each period.
pub(crate) trait Tick: Send + Sync + 'static {
    /// Runs in process context on [`queue`]; may sleep.
    fn tick(&self);
}

/// The shared part of a [`Ticker`]: the work, its schedule and the state.
#[pin_data]
pub(crate) struct Periodic<T: Tick> {
    #[pin]
    work: DelayedWork<Periodic<T>>,
    period: Jiffies,
    started: AtomicBool,
    /// Set once, by [`Ticker`]'s drop; re-arming happens under it.
    #[pin]
    stopping: Mutex<bool>,
    #[pin]
    state: T,
    /// Time spent in `T::tick`.
    run_time: RunTime,
}

impl_has_delayed_work! {
    impl{T: Tick} HasDelayedWork<Self> for Periodic<T> { self.work }
}

impl<T: Tick> Periodic<T> {
    /// Queues the next run a period from now, unless stopping.
    fn rearm(this: &Arc<Self>) {
        let stopping = this.stopping.lock();
        if !*stopping {
            // Already queued is as good as queued now.
            let _ = queue().enqueue_delayed(this.clone(), this.period);
        }
    }
}

impl<T: Tick> WorkItem for Periodic<T> {
    type Pointer = Arc<Self>;

    fn run(this: Arc<Self>) {
        this.run_time.time(|| this.state.tick());
        Self::rearm(&this);
    }
}

/// Runs `T::tick` every period from [`Ticker::start`] until dropped; the
/// drop returns once no tick is pending or running.
pub(crate) struct Ticker<T: Tick>(Arc<Periodic<T>>);

impl<T: Tick> Ticker<T> {
    /// A stopped ticker around `state`, ticking every `period_ms` once
    /// started.
    pub(crate) fn new(state: impl PinInit<T, Error>, period_ms: u32) -> Result<Self> {
        let periodic = Arc::pin_init(
            try_pin_init!(Periodic {
                work <- new_delayed_work!("hv_evlog::ticker"),
                period: msecs_to_jiffies(period_ms).max(1),
                started: AtomicBool::new(false),
                stopping <- new_mutex!(false),
                state <- state,
                run_time: RunTime::new(),
            }? Error),
            GFP_KERNEL,
        )?;
        Ok(Self(periodic))
    }

    /// The state the ticks run on.
    pub(crate) fn state(&self) -> &T {
        &self.0.state
    }

    /// Time spent in the ticks so far.
    pub(crate) fn run_time(&self) -> &RunTime {
        &self.0.run_time
    }

    /// Starts ticking; a second call does nothing.
    pub(crate) fn start(&self) {
        if !self.0.started.swap(true, Ordering::AcqRel) {
            Periodic::rearm(&self.0);
        }
    }
}

impl<T: Tick> Drop for Ticker<T> {
    fn drop(&mut self) {
        *self.0.stopping.lock() = true;
        stop_delayed(&self.0.work);
        // The queued runs held the only other references: `T` goes with
        // this handle's.
    }
}
