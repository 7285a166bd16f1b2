// SPDX-License-Identifier: GPL-2.0

//! The completion scanner of a consumer's open: a periodic delayed work,
//! kicked at once when a completion message arrives, that snapshots the
//! buffer headers and queues a record for each newly completed buffer. A
//! reader waiting in `poll()` or `read()` runs the same scan itself when a
//! message woke it ([`Session::pull`]).

use core::sync::atomic::Ordering;

use kernel::{
    bindings, impl_has_delayed_work, impl_has_work,
    sync::{Arc, ArcBorrow},
    workqueue::{self, Work, WorkItem},
};

use super::{count, Session, State};
use crate::{
    group::log::EventLog,
    hv::sint0::Wake,
    platform::ticker::{queue, stop_delayed},
    tlfs::{self, BufferHeader, BufferIndex, VpIndex},
    uapi::{self, Record},
};

/// With completion messages the periodic scan is only a safety net (for a
/// chain below `threshold`, or a message lost): after each full scan that
/// finds nothing, the next one comes twice as many intervals later, up to
/// this many milliseconds (or `scan_interval_ms` if that is longer); any
/// completion, message or table change brings it back to every interval.
/// Each skipped interval only compares the table generation, so an idle
/// open device costs the same whatever the number of buffers.
pub(super) const SCAN_BACKOFF_MS: u32 = 1000;

/// Work item id of [`Session::kick`] (the scanner's is 0).
pub(super) const KICK: u64 = 1;

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for Session { self.scan }
}

impl_has_work! {
    impl HasWork<Self, KICK> for Session { self.kick }
}

/// What the inbox calls when a completion message arrived: wakes the
/// reader and queues one scan of `0` at once (on top of the periodic ones).
pub(super) struct Kicker(pub(super) Arc<Session>);

impl Wake for Kicker {
    fn wake(&self) {
        // A reader waiting in `poll()` or `read()` walks the announced chains
        // itself ([`Session::pull`]): woken here, a completion reaches it
        // with one wake-up, as a pipe write does, instead of two (a worker's,
        // then the reader's, which doubled the wake-up latency). The kick below
        // stays for a reader that is not waiting (busy decoding): its
        // records are queued by the time it asks.
        self.0.readable.notify_all();
        if self.0.reader_waits.load(Ordering::SeqCst) {
            return;
        }
        // Already queued is as good as queued now. Unbound (`system_dfl_wq`;
        // 7.2 warns about `system_unbound_wq`): on a per-CPU queue the scan
        // would wait on this CPU for the (lazily preempted) task that took
        // the message while another CPU is idle.
        let _ = queue().enqueue::<Arc<Session>, KICK>(self.0.clone());
    }
}

impl Session {
    /// Walks the chains the SINT0 handler announced, now and in the caller's
    /// context (`poll()`, `read()`), if there are any: the reader need not
    /// wait for the kick's worker. The consumer's only: another file's
    /// call would take the consumer's heads for a scan whose records are
    /// not its own.
    pub(super) fn pull(this: ArcBorrow<'_, Self>) {
        this.reader_waits.store(false, Ordering::SeqCst);
        if this.consumer() && this.announced() {
            Session::scan(this.into(), true);
        }
    }

    /// Whether the SINT0 handler announced chains no scan has taken yet.
    fn announced(&self) -> bool {
        self.shared()
            .inbox
            .as_ref()
            .is_some_and(|inbox| inbox.has_heads())
    }

    /// One scan: snapshot every header, queue a record for each newly
    /// completed buffer, wake readers, and run again after the scan interval
    /// unless the file is being released. A periodic run (`kicked` false)
    /// of a backed-off scanner only checks the table generation
    /// ([`SCAN_BACKOFF_MS`]).
    pub(super) fn scan(this: Arc<Self>, kicked: bool) {
        this.shared()
            .scan_time
            .time(|| Session::scan_timed(&this, kicked));
    }

    fn scan_timed(this: &Arc<Self>, kicked: bool) {
        let mut guard = this.state.lock();
        if guard.stopping {
            return;
        }
        // Announced chains are never skipped: a reader that stopped waiting
        // without saying so (`reader_waits`) left them to this scan.
        if !kicked
            && !this.announced()
            && guard.skips > 0
            && this.log().generation() == guard.woken_generation
        {
            guard.skips -= 1;
            let _ = workqueue::system_power_efficient()
                .enqueue_delayed(this.clone(), this.shared().scan_delay);
            return;
        }
        let State {
            tracker,
            queue,
            headers,
            stats,
            ..
        } = &mut *guard;
        // Heads taken before the snapshot: a chain announced later is
        // walked by the next (kicked) scan.
        let heads = this.shared().inbox.as_ref().map(|inbox| inbox.take_heads());
        // A header the writer never let be read consistently keeps its last
        // snapshot: an all-zero stand-in would look released.
        this.log().headers(headers);
        let headers = &*headers;
        let lifetime = &this.shared().lifetime;
        // Completions that are gone (circular mode restarts complete
        // buffers): a record still queued for one is withdrawn and counted
        // as dropped, so that the new completion gets its own record.
        let withdrawn = tracker.recycled(headers, |index| {
            queue.withdraw(|r| r.buffer_index == index).is_some()
        });
        count(
            &mut stats.records_dropped,
            &lifetime.records_dropped,
            withdrawn.into(),
        );
        let log = this.log();
        let mut report = |index: u32| {
            let header = headers.get(index as usize).copied().unwrap_or_default();
            count(&mut stats.completions, &lifetime.completions, 1);
            count(
                &mut stats.events_lost,
                &lifetime.events_lost,
                header.events_lost.into(),
            );
            let (_, queued) = queue.push_with(|sequence| record(log, index, &header, sequence));
            if !queued {
                count(&mut stats.records_dropped, &lifetime.records_dropped, 1);
            }
            queued
        };
        // Every newly complete buffer, announced or not, in the scan's time
        // order: one processor's buffers in the order it filled them. The
        // announced chains are walked after, for their count (they hold
        // nothing new by then unless a link points past what the scan
        // takes). Walked first, they put a processor's newest buffer ahead
        // of its older ones that completed while nobody read (an open after
        // a while, a reader that fell behind).
        let mut reported = tracker.scan(headers, &mut report);
        let mut chains = 0;
        if let (Some(heads), Some(inbox)) = (heads, this.shared().inbox.as_ref()) {
            let (n, walked) = tracker.announced(&heads, headers, &mut report);
            chains = (0..tlfs::MAX_BUFFERS)
                .filter(|&i| heads.contains(i))
                .count();
            inbox.count_walked(chains as u64, walked.into());
            reported += n;
        }
        // A resize changed the table: pollers see POLLPRI.
        let generation = this.log().generation();
        let changed = generation != guard.woken_generation;
        if reported != 0 || changed {
            guard.woken_generation = generation;
            this.readable.notify_all();
        }
        // Without messages the scan is the only way: never backed off.
        if this.shared().inbox.is_none() || reported != 0 || chains != 0 || changed {
            guard.idle_scans = 0;
            guard.skips = 0;
        } else {
            guard.idle_scans = (guard.idle_scans + 1).min(31);
            guard.skips = ((1u32 << guard.idle_scans) - 1).min(this.shared().max_skips);
        }
        // Re-armed under the lock, so that `stop_scanner` either sees this
        // run's timer or this run sees `stopping`.
        let _ = workqueue::system_power_efficient()
            .enqueue_delayed(this.clone(), this.shared().scan_delay);
        drop(guard);
    }

    /// Stops the scanner for good: no run is pending or running afterwards.
    /// Sleeps; never called from the scanner itself (it would wait for
    /// itself).
    pub(super) fn stop_scanner(&self) {
        // No new kicks: the inbox lets go of this session.
        if let Some(inbox) = &self.shared().inbox {
            inbox.set_waker(None);
        }
        self.state.lock().stopping = true;
        // SAFETY: `self.kick` is an initialized work item that lives as long
        // as `self`. A kick queued before the waker was cleared runs now
        // (and sees `stopping`); none can be queued afterwards.
        unsafe { bindings::flush_work(Work::<Self, KICK>::raw_get(&raw const self.kick)) };
        // Every run sees `stopping` (set above, under the lock every run
        // takes before re-arming) and does not re-arm: the rule
        // `platform::ticker` states for all periodic work.
        stop_delayed(&self.scan);
    }
}

/// The record of buffer `index`, completed with `header`.
fn record(log: &dyn EventLog, index: u32, header: &BufferHeader, sequence: u64) -> Record {
    let vp = u32::from(header.logical_processor);
    Record {
        buffer_index: index,
        // The header names the processor by its VP index; FLUSH and the
        // buffer table speak of Linux CPUs: both, named.
        cpu: log
            .cpu_of_vp(BufferIndex(index), VpIndex(vp))
            .unwrap_or(uapi::NO_CPU),
        vp,
        reserved: 0,
        sequence,
        // The hypervisor's count of entry bytes after the header (not an
        // offset from the buffer start), passed on unchanged.
        bytes_used: header.next_buffer_offset,
        events_lost: header.events_lost,
        timestamp: header.time_stamp,
    }
}

impl WorkItem for Session {
    type Pointer = Arc<Session>;

    fn run(this: Arc<Session>) {
        Session::scan(this, false);
    }
}

impl WorkItem<KICK> for Session {
    type Pointer = Arc<Session>;

    fn run(this: Arc<Session>) {
        Session::scan(this, true);
    }
}
