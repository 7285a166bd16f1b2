// SPDX-License-Identifier: GPL-2.0

//! Completion tracking (pure, host-tested).
//!
//! The hypervisor marks a buffer it has filled [`BufferState::Complete`] in
//! the buffer's header and chains the buffers it completed together through
//! `next_buffer_index` ([`END_OF_CHAIN`] ends a chain). The device scans all
//! headers every few milliseconds; this file decides, from one such snapshot,
//! which buffers are *newly* complete and in which order, and keeps the queue
//! of completion records that `read()` hands out.
//!
//! Only `core` is used, so the same file builds in the module and in the host
//! tests (tests/host/tests/completion.rs). Storage is the caller's: the
//! module passes `KVec`s allocated once per open, the tests `Vec`s; nothing
//! here allocates, and the scan itself runs in bounded time and stack.
//!
//! # Per-buffer life cycle
//!
//! Each buffer has a [`Slot`]:
//!
//! ```text
//!        header Complete, seen by a scan         read() hands out the record
//! Idle ─────────────────────────────────► Queued ───────────────────────────► Delivered
//!  ▲                                        │ (record dropped: queue full)        │
//!  │                                        └────────────────────────────────────►│
//!  │      RELEASE ioctl succeeded, or a scan sees the header no longer Complete   │
//!  └──────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! A buffer is reported once per completion: a scan only reports buffers that
//! are Complete *and* Idle. Only a Delivered buffer may be released, so
//! userspace can only hand back what it was told about. A buffer whose record
//! was dropped goes straight to Delivered: the gap in the sequence numbers and
//! the drop counter tell userspace to look at the headers itself, and it can
//! then release what it finds complete.
//!
//! # Which completion
//!
//! In circular mode the hypervisor restarts the oldest complete buffer when
//! a CPU has no free one, released or not, so one buffer can complete again
//! while the record of its previous completion still waits in the queue or
//! after it was read. A completion is therefore told apart by the header's
//! `time_stamp`, the time the hypervisor started that fill (a restarted
//! buffer starts later), and each slot keeps the `time_stamp` of the
//! completion it reported. [`Tracker::recycled`] runs before every scan: a
//! Delivered buffer whose header is no longer Complete with that stamp
//! becomes Idle (its new completion is then reported), and a Queued one has
//! its record withdrawn from the queue (the data it describes is gone; the
//! withdrawal is counted as a dropped record and leaves a gap in the
//! sequence numbers) and becomes Idle too. So every completion a scan sees
//! is either read or counted as dropped. (A record that `read()` has taken
//! out of the queue and is copying cannot be withdrawn: it is delivered as
//! it was, and the next scan reports the new completion.)
//!
//! # Order
//!
//! Buffers of one chain are reported in chain order. Chains are reported in
//! the order of their first buffer's header `time_stamp`, lowest index first
//! on a tie. The headers carry no completion time, but one logical processor
//! fills its buffers one after another, so among one processor's buffers the
//! earlier time stamp is the earlier completion: two chains of one processor
//! found in the same scan (a reader that fell behind), or announced by two
//! messages that arrived together, are reported in the order they were
//! filled, and a consumer sees each processor's events in time order. (Index
//! order, used before, reported a processor's newer buffer first whenever it
//! had the lower index.) Across processors the order is by start time, which
//! is as good as any. A complete buffer that no other newly complete buffer
//! points to starts a chain; what remains after all chains were walked (only
//! possible when the `next` links form a cycle) is walked from the same
//! order's first buffer. Links to buffers out of range, not complete or already reported end
//! a chain, so a corrupt or stale header can neither loop the scan nor make it
//! report a buffer twice.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; in the kernel module they are crate-private.
#![allow(unreachable_pub)]

use core::ops::DerefMut;

use crate::tlfs::{BufferHeader, BufferState, MAX_BUFFERS};

/// Where a buffer is in its report cycle; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Not complete, or complete but not yet seen by a scan.
    #[default]
    Idle,
    /// Reported: its record waits in the queue.
    Queued,
    /// Its record was read (or dropped); it may be released.
    Delivered,
}

/// One buffer's [`Slot`] and the completion it is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tracked {
    slot: Slot,
    /// Header `time_stamp` of the completion reported (Queued, Delivered).
    fill: u64,
}

/// A set of buffer indices below [`MAX_BUFFERS`], on the stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSet([u64; WORDS]);

const WORDS: usize = (MAX_BUFFERS as usize).div_ceil(64);

impl IndexSet {
    /// The empty set.
    pub const fn new() -> Self {
        Self([0; WORDS])
    }

    /// Adds `index`; indices at or above [`MAX_BUFFERS`] are ignored.
    pub fn insert(&mut self, index: u32) {
        if let Some(word) = self.0.get_mut((index >> 6) as usize) {
            *word |= 1 << (index & 63);
        }
    }

    /// Whether `index` is in the set.
    pub fn contains(&self, index: u32) -> bool {
        self.0
            .get((index >> 6) as usize)
            .is_some_and(|word| word & (1 << (index & 63)) != 0)
    }

    /// Removes `index`.
    pub fn remove(&mut self, index: u32) {
        if let Some(word) = self.0.get_mut((index >> 6) as usize) {
            *word &= !(1 << (index & 63));
        }
    }

    /// Removes and returns the member whose header in `headers` has the
    /// lowest `time_stamp` (the lowest index on a tie): the report order of
    /// chain heads (see the module documentation). Members without a header
    /// are dropped. `O(MAX_BUFFERS)` per call, no allocation.
    pub fn take_earliest(&mut self, headers: &[BufferHeader]) -> Option<u32> {
        let mut best: Option<(u64, u32)> = None;
        for w in 0..WORDS {
            let mut bits = self.0[w];
            while bits != 0 {
                let index = (w * 64) as u32 + bits.trailing_zeros();
                bits &= bits - 1;
                let Some(h) = headers.get(index as usize) else {
                    self.remove(index);
                    continue;
                };
                let key = (h.time_stamp, index);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        let (_, index) = best?;
        self.remove(index);
        Some(index)
    }
}

/// Per-buffer report state of one open of the device.
pub struct Tracker<S> {
    slots: S,
}

impl<S: DerefMut<Target = [Tracked]>> Tracker<S> {
    /// Tracks `slots.len()` buffers (at most [`MAX_BUFFERS`] are looked at),
    /// all [`Slot::Idle`].
    pub fn new(mut slots: S) -> Self {
        slots.fill(Tracked::default());
        Self { slots }
    }

    /// Number of buffers tracked.
    pub fn len(&self) -> u32 {
        // At most `MAX_BUFFERS`: see `new`.
        self.slots.len().min(MAX_BUFFERS as usize) as u32
    }

    /// Whether no buffer is tracked.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slot of buffer `index`, `None` if out of range.
    pub fn slot(&self, index: u32) -> Option<Slot> {
        self.tracked(index).map(|t| t.slot)
    }

    fn tracked(&self, index: u32) -> Option<Tracked> {
        if index >= self.len() {
            return None;
        }
        self.slots.get(index as usize).copied()
    }

    fn set(&mut self, index: u32, slot: Slot) {
        if index < self.len() {
            if let Some(s) = self.slots.get_mut(index as usize) {
                s.slot = slot;
            }
        }
    }

    /// Reports buffer `index`, complete with `header`: [`Slot::Queued`] if
    /// `report` queued its record, [`Slot::Delivered`] if the record was
    /// dropped; either way about the fill `header` describes.
    fn report_one(
        &mut self,
        index: u32,
        header: &BufferHeader,
        report: &mut impl FnMut(u32) -> bool,
    ) {
        let slot = if report(index) {
            Slot::Queued
        } else {
            Slot::Delivered
        };
        if let Some(s) = self.slots.get_mut(index as usize) {
            *s = Tracked {
                slot,
                fill: header.time_stamp,
            };
        }
    }

    /// Whether `header` still shows the completion buffer `index` reported.
    fn still_reported(&self, index: u32, header: &BufferHeader) -> bool {
        header.state() == Some(BufferState::Complete)
            && self
                .tracked(index)
                .is_some_and(|t| t.fill == header.time_stamp)
    }

    /// Forgets completions that are gone from the headers: the hypervisor
    /// released or restarted the buffer (circular mode restarts complete
    /// buffers, released or not). A [`Slot::Delivered`] buffer whose header
    /// no longer shows the completion reported becomes [`Slot::Idle`]. For
    /// a [`Slot::Queued`] one `withdraw(index)` is asked to take its record
    /// out of the queue: if it did (the record is then dropped), the buffer
    /// becomes Idle; if not (a `read()` is copying it), it stays Queued
    /// until delivered, and a later call makes it Idle. Either way the next
    /// [`Tracker::scan`] or [`Tracker::announced`] reports the new
    /// completion. Call it before those, with the same headers. Returns the
    /// number of records withdrawn.
    pub fn recycled(
        &mut self,
        headers: &[BufferHeader],
        mut withdraw: impl FnMut(u32) -> bool,
    ) -> u32 {
        let count = self
            .len()
            .min(headers.len().min(MAX_BUFFERS as usize) as u32);
        let mut withdrawn = 0;
        for index in 0..count {
            if self.still_reported(index, &headers[index as usize]) {
                continue;
            }
            match self.slot(index) {
                Some(Slot::Delivered) => self.set(index, Slot::Idle),
                Some(Slot::Queued) if withdraw(index) => {
                    self.set(index, Slot::Idle);
                    withdrawn += 1;
                }
                _ => {}
            }
        }
        withdrawn
    }

    /// Whether buffer `index` is complete in `headers` and not reported yet.
    fn is_new(&self, headers: &[BufferHeader], index: u32) -> bool {
        self.slot(index) == Some(Slot::Idle)
            && headers
                .get(index as usize)
                .is_some_and(|h| h.state() == Some(BufferState::Complete))
    }

    /// Looks at one snapshot of all headers (`headers[i]` is buffer `i`'s)
    /// and reports each newly complete buffer, in chain order, by calling
    /// `report(index)`. `report` returns whether the buffer's record was
    /// queued; the buffer becomes [`Slot::Queued`] if so and
    /// [`Slot::Delivered`] if the record was dropped.
    ///
    /// Also returns [`Slot::Delivered`] buffers whose header no longer
    /// shows the completion reported (released behind the device's back,
    /// or restarted) to [`Slot::Idle`], as [`Tracker::recycled`] does
    /// without withdrawing records, so that their next completion is
    /// reported.
    ///
    /// Returns the number of buffers reported.
    pub fn scan(&mut self, headers: &[BufferHeader], mut report: impl FnMut(u32) -> bool) -> u32 {
        let count = self
            .len()
            .min(headers.len().min(MAX_BUFFERS as usize) as u32);
        self.recycled(headers, |_| false);

        // Buffers that another newly complete buffer's chain link points to.
        let mut linked = IndexSet::new();
        for index in 0..count {
            if !self.is_new(headers, index) {
                continue;
            }
            if let Some(next) = headers[index as usize].next_in_chain() {
                if next != index && next < count && self.is_new(headers, next) {
                    linked.insert(next);
                }
            }
        }

        let mut reported = 0;
        // First the chains with a head, then whatever a cycle left over,
        // each in time order.
        for pass in 0..2 {
            let mut starts = IndexSet::new();
            for start in 0..count {
                if self.is_new(headers, start) && (pass == 1 || !linked.contains(start)) {
                    starts.insert(start);
                }
            }
            while let Some(start) = starts.take_earliest(headers) {
                // A cycle's other members were reported by its first walk.
                if !self.is_new(headers, start) {
                    continue;
                }
                // Each step turns one Idle slot into a reported one, so the
                // walk ends after at most `count` steps, cycle or not.
                let mut index = start;
                loop {
                    self.report_one(index, &headers[index as usize], &mut report);
                    reported += 1;
                    match headers[index as usize].next_in_chain() {
                        Some(next) if next < count && self.is_new(headers, next) => index = next,
                        _ => break,
                    }
                }
            }
        }
        reported
    }

    /// Reports the chains the hypervisor announced with completion
    /// messages: from each head in `heads` (in
    /// time order, as [`Tracker::scan`] orders chains), follows `next_buffer_index` through buffers that
    /// are Complete in `headers`, reporting those not reported yet, in chain
    /// order, as `scan` does. A buffer is visited once however the links
    /// run. Returns `(reported, walked)`: buffers reported, and Complete
    /// buffers the chains held (reported now or before).
    pub fn announced(
        &mut self,
        heads: &IndexSet,
        headers: &[BufferHeader],
        mut report: impl FnMut(u32) -> bool,
    ) -> (u32, u32) {
        let count = self
            .len()
            .min(headers.len().min(MAX_BUFFERS as usize) as u32);
        let mut seen = IndexSet::new();
        let (mut reported, mut walked) = (0, 0);
        let mut heads = *heads;
        while let Some(head) = heads.take_earliest(&headers[..count as usize]) {
            let mut index = head;
            while index < count
                && !seen.contains(index)
                && headers[index as usize].state() == Some(BufferState::Complete)
            {
                seen.insert(index);
                walked += 1;
                if self.slot(index) == Some(Slot::Idle) {
                    self.report_one(index, &headers[index as usize], &mut report);
                    reported += 1;
                }
                match headers[index as usize].next_in_chain() {
                    Some(next) => index = next,
                    None => break,
                }
            }
        }
        (reported, walked)
    }

    /// The record of buffer `index` was handed to userspace.
    pub fn delivered(&mut self, index: u32) {
        if self.slot(index) == Some(Slot::Queued) {
            self.set(index, Slot::Delivered);
        }
    }

    /// Whether buffer `index` may be released, its live header being
    /// `header`: it was reported and its record delivered, and the header
    /// still shows that completion (Complete, same `time_stamp`), not a
    /// later one that was not reported yet.
    pub fn may_release(&self, index: u32, header: &BufferHeader) -> bool {
        self.slot(index) == Some(Slot::Delivered) && self.still_reported(index, header)
    }

    /// Buffer `index` was handed back to the hypervisor.
    pub fn released(&mut self, index: u32) {
        self.set(index, Slot::Idle);
    }
}

/// A bounded FIFO of records with sequence numbers.
///
/// Every record offered gets the next sequence number, 0, 1, 2, …, whether
/// it fits or not; one that does not fit is counted in [`Queue::dropped`]
/// instead, so a reader sees a gap in the numbers exactly where records were
/// lost and the count says how many.
pub struct Queue<T, S> {
    items: S,
    head: usize,
    len: usize,
    next_sequence: u64,
    dropped: u64,
    _item: core::marker::PhantomData<T>,
}

impl<T: Copy, S: DerefMut<Target = [T]>> Queue<T, S> {
    /// An empty queue holding up to `items.len()` records; the storage's
    /// contents are ignored.
    pub fn new(items: S) -> Self {
        Self {
            items,
            head: 0,
            len: 0,
            next_sequence: 0,
            dropped: 0,
            _item: core::marker::PhantomData,
        }
    }

    /// Room for this many records.
    pub fn capacity(&self) -> usize {
        self.items.len()
    }

    /// Records waiting.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no record waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records offered that will not reach the reader: dropped because the
    /// queue was full, or withdrawn ([`Queue::withdraw`]).
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The sequence number the next record will get.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests"))]
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Storage index of the `n`-th waiting record; `n < capacity`.
    fn wrap(&self, n: usize) -> usize {
        // Both terms are below the capacity, so one subtraction wraps; no
        // division (and so no division-by-zero path) is needed.
        let i = self.head + n;
        if i >= self.capacity() {
            i - self.capacity()
        } else {
            i
        }
    }

    /// Offers a record built by `make` from its sequence number. Returns the
    /// number and whether the record was queued (`false`: dropped).
    pub fn push_with(&mut self, make: impl FnOnce(u64) -> T) -> (u64, bool) {
        let sequence = self.next_sequence;
        self.next_sequence = sequence.wrapping_add(1);
        if self.len >= self.capacity() {
            self.dropped = self.dropped.saturating_add(1);
            return (sequence, false);
        }
        let at = self.wrap(self.len);
        if let Some(slot) = self.items.get_mut(at) {
            *slot = make(sequence);
            self.len += 1;
            (sequence, true)
        } else {
            self.dropped = self.dropped.saturating_add(1);
            (sequence, false)
        }
    }

    /// The oldest waiting record.
    pub fn front(&self) -> Option<&T> {
        if self.is_empty() {
            return None;
        }
        self.items.get(self.head)
    }

    /// Removes and returns the oldest waiting record.
    pub fn pop_front(&mut self) -> Option<T> {
        let item = *self.front()?;
        self.head = self.wrap(1);
        self.len -= 1;
        Some(item)
    }

    /// Takes the oldest waiting record for which `which` holds out of the
    /// queue, keeping the others in order, and counts it in
    /// [`Queue::dropped`]: a record that must not reach the reader any
    /// more, whose sequence number becomes a gap. Returns it, or `None`
    /// (and changes nothing) if no waiting record matches.
    pub fn withdraw(&mut self, which: impl Fn(&T) -> bool) -> Option<T> {
        let n = (0..self.len).find(|&n| self.items.get(self.wrap(n)).is_some_and(&which))?;
        let item = *self.items.get(self.wrap(n))?;
        for m in n..self.len - 1 {
            let (to, from) = (self.wrap(m), self.wrap(m + 1));
            if let Some(&next) = self.items.get(from) {
                if let Some(slot) = self.items.get_mut(to) {
                    *slot = next;
                }
            }
        }
        self.len -= 1;
        self.dropped = self.dropped.saturating_add(1);
        Some(item)
    }

    /// Puts `item` back before every waiting record, as the oldest one:
    /// for a record taken with [`Queue::pop_front`] that could not be
    /// handed on. Its sequence number is the one it had. Returns `false`,
    /// and leaves the queue as it was, when the queue is full.
    pub fn push_front(&mut self, item: T) -> bool {
        if self.len >= self.capacity() {
            return false;
        }
        let head = if self.head == 0 {
            self.capacity() - 1
        } else {
            self.head - 1
        };
        let Some(slot) = self.items.get_mut(head) else {
            return false;
        };
        *slot = item;
        self.head = head;
        self.len += 1;
        true
    }
}
