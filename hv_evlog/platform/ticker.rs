// SPDX-License-Identifier: GPL-2.0

//! A periodic delayed work that is stopped synchronously when dropped.
//!
//! The simulator's event writers and the completion scanner both run every
//! few milliseconds until teardown. 7.2's `kernel::workqueue` can queue a
//! delayed work but not cancel one, and a work that re-arms itself must be
//! cancelled with `cancel_delayed_work_sync()` before the module's code and
//! the work's memory go away. This is that one narrow wrapper.

use core::{
    marker::PhantomPinned,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::{bindings, prelude::*, sync::LockClassKey, time::msecs_to_jiffies, types::Opaque};

/// What a [`Ticker`] runs each period.
pub(crate) trait Tick: Send + Sync + 'static {
    /// Runs in process context on the system workqueue; may sleep.
    fn tick(&self);
}

/// Runs `T::tick` every `period` jiffies from [`Ticker::start`] until drop.
#[pin_data(PinnedDrop)]
pub(crate) struct Ticker<T: Tick> {
    #[pin]
    dwork: Opaque<bindings::delayed_work>,
    period: usize,
    stopping: AtomicBool,
    started: AtomicBool,
    #[pin]
    state: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the `delayed_work` is only touched through the workqueue API,
// which is safe to call from any thread; the flags are atomics and `T` is
// `Send + Sync` (a `Tick` bound).
unsafe impl<T: Tick> Send for Ticker<T> {}
// SAFETY: as above; `&Ticker` only allows `start` (an atomic swap and a
// queue call) and `state()`.
unsafe impl<T: Tick> Sync for Ticker<T> {}

impl<T: Tick> Ticker<T> {
    /// A stopped ticker around `state`, ticking every `period_ms` once started.
    pub(crate) fn new(
        state: impl PinInit<T, Error>,
        period_ms: u32,
        key: Pin<&'static LockClassKey>,
        timer_key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self, Error> {
        let period = msecs_to_jiffies(period_ms).max(1) as usize;
        try_pin_init!(Self {
            dwork <- Opaque::ffi_init(move |slot: *mut bindings::delayed_work| {
                // SAFETY: `slot` is valid for writes and pinned; `run::<T>`
                // only ever sees works embedded in a `Ticker<T>`.
                unsafe {
                    bindings::init_work_with_key(
                        &raw mut (*slot).work,
                        Some(Self::run),
                        false,
                        c"hv_evlog_ticker".as_char_ptr(),
                        key.as_ptr(),
                    );
                }
                // SAFETY: the timer is embedded in a `delayed_work`, is only
                // armed by the workqueue core, and runs in irqsafe context as
                // `delayed_work_timer_fn` requires.
                unsafe {
                    bindings::timer_init_key(
                        &raw mut (*slot).timer,
                        Some(bindings::delayed_work_timer_fn),
                        bindings::TIMER_IRQSAFE,
                        c"hv_evlog_ticker_timer".as_char_ptr(),
                        timer_key.as_ptr(),
                    );
                }
            }),
            period,
            stopping: AtomicBool::new(false),
            started: AtomicBool::new(false),
            state <- state,
            _pin: PhantomPinned,
        }? Error)
    }

    /// The state the ticks run on.
    pub(crate) fn state(&self) -> &T {
        &self.state
    }

    /// Starts ticking; a second call does nothing. (A `Ticker` only comes
    /// from its `PinInit`, so every `&Ticker` is of a pinned one.)
    pub(crate) fn start(&self) {
        if !self.started.swap(true, Ordering::AcqRel) {
            self.queue();
        }
    }

    fn queue(&self) {
        // SAFETY: the work was initialised in `new` and lives, pinned, until
        // `drop` has cancelled it synchronously; `system_wq` is a kernel
        // global that outlives modules.
        unsafe {
            bindings::queue_delayed_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
                bindings::system_dfl_wq,
                self.dwork.get(),
                self.period,
            );
        }
    }

    /// # Safety
    ///
    /// Called by the workqueue with the `work` of a `delayed_work` embedded
    /// in a live `Ticker<T>` (only `new` installs this function).
    unsafe extern "C" fn run(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the first field of the `delayed_work`, which is
        // the `dwork` field of a `Ticker<T>` (contract above); `Opaque` is
        // `repr(transparent)`.
        let this = unsafe {
            &*kernel::container_of!(work.cast::<Opaque<bindings::delayed_work>>(), Self, dwork)
        };
        this.state.tick();
        if !this.stopping.load(Ordering::Acquire) {
            this.queue();
        }
    }
}

#[pinned_drop]
impl<T: Tick> PinnedDrop for Ticker<T> {
    fn drop(self: Pin<&mut Self>) {
        self.stopping.store(true, Ordering::Release);
        // SAFETY: the work was initialised in `new`. This waits for a running
        // tick to return and handles a work that re-queues itself, so no tick
        // runs after this and the memory may go.
        unsafe { bindings::cancel_delayed_work_sync(self.dwork.get()) };
    }
}
