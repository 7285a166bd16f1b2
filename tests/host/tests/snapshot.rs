// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/policy/snapshot.rs: a header that changes between the
//! reader's loads is never returned mixed.

use hv_evlog_host_tests::snapshot::*;
use hv_evlog_host_tests::tlfs::*;
use std::cell::{Cell, RefCell};

/// A header that a scripted writer changes: `events[k]` runs just before
/// the reader's k-th access (a time stamp load, a state load or a byte
/// copy; one try is five: time stamp, state, copy, state, time stamp).
struct Scripted {
    bytes: RefCell<[u8; ENTRIES_OFFSET]>,
    accesses: Cell<usize>,
    events: Vec<Option<BufferHeader>>,
    /// What the first copy returns instead of the live bytes, and the
    /// header the writer leaves behind it.
    tear: Cell<Option<([u8; ENTRIES_OFFSET], BufferHeader)>>,
}

impl Scripted {
    fn new(start: BufferHeader, events: Vec<Option<BufferHeader>>) -> Self {
        let s = Self {
            bytes: RefCell::new([0; ENTRIES_OFFSET]),
            accesses: Cell::new(0),
            events,
            tear: Cell::new(None),
        };
        start.encode(&mut *s.bytes.borrow_mut()).unwrap();
        s
    }

    fn step(&self) {
        let k = self.accesses.get();
        self.accesses.set(k + 1);
        if let Some(Some(h)) = self.events.get(k) {
            h.encode(&mut *self.bytes.borrow_mut()).unwrap();
        }
    }
}

impl LiveHeader for Scripted {
    fn load_state(&self) -> u32 {
        self.step();
        u32::from_le_bytes(
            self.bytes.borrow()[STATE_OFFSET..STATE_OFFSET + 4]
                .try_into()
                .unwrap(),
        )
    }

    fn load_time_stamp(&self) -> u64 {
        self.step();
        u64::from_le_bytes(
            self.bytes.borrow()[TIME_STAMP_OFFSET..TIME_STAMP_OFFSET + 8]
                .try_into()
                .unwrap(),
        )
    }

    fn copy(&self, out: &mut [u8; ENTRIES_OFFSET]) {
        self.step();
        *out = *self.bytes.borrow();
        if let Some((bytes, then)) = self.tear.take() {
            *out = bytes;
            then.encode(&mut *self.bytes.borrow_mut()).unwrap();
        }
    }
}

fn header(state: BufferState, events_lost: u32, used: u32) -> BufferHeader {
    BufferHeader {
        buffer_size: 4096 - 72,
        buffer_index: 7,
        events_lost,
        time_stamp: 1000 + u64::from(events_lost),
        buffer_state: state.raw(),
        next_buffer_offset: used,
        log_type: 1,
        next_buffer_index: END_OF_CHAIN,
        ..BufferHeader::default()
    }
}

/// Accesses of one try: time stamp, state, copy, state, time stamp.
const TRY: usize = 5;

#[test]
fn a_quiet_header_is_read_in_one_try() {
    let h = header(BufferState::Complete, 3, 200);
    let live = Scripted::new(h, vec![]);
    assert_eq!(snapshot(&live), Some(h));
    assert_eq!(live.accesses.get(), TRY);
}

#[test]
fn a_state_change_during_the_copy_is_retried() {
    let old = header(BufferState::Complete, 3, 200);
    let new = header(BufferState::InUse, 9, 0);
    // Before the copy (access 2) the writer restarts the buffer: the copy
    // holds the new fields, the second state load sees the new state.
    let live = Scripted::new(old, vec![None, None, Some(new)]);
    assert_eq!(snapshot(&live), Some(new));
    assert_eq!(live.accesses.get(), 2 * TRY);
}

#[test]
fn a_state_that_changes_and_changes_back_is_caught_by_the_copied_state() {
    let a = header(BufferState::Complete, 1, 100);
    let b = header(BufferState::Ready, 1, 100);
    let a2 = header(BufferState::Complete, 5, 300);
    // Load A; the copy sees B; A again (with new fields) before the second
    // load: the copied state differs, so the first try is thrown away.
    let live = Scripted::new(a, vec![None, None, Some(b), Some(a2)]);
    assert_eq!(snapshot(&live), Some(a2));
}

/// The torn read circular mode can produce: the state reads Complete before
/// and after the copy, and so does the copied state, but a fill ended in
/// between (Complete, InUse, Complete) and the copy holds fields of both.
/// Only the time stamp, loaded before the first state load and after the
/// second, tells.
#[test]
fn a_fill_that_ends_during_the_copy_is_caught_by_the_time_stamp() {
    let old = header(BufferState::Complete, 1, 100);
    let new = header(BufferState::Complete, 7, 300);
    let mut mixed = [0u8; ENTRIES_OFFSET];
    // The copy read the old fill's first words and the new fill's others,
    // its time stamp and its state among them.
    old.encode(&mut mixed).unwrap();
    let mut tail = [0u8; ENTRIES_OFFSET];
    new.encode(&mut tail).unwrap();
    mixed[TIME_STAMP_OFFSET..].copy_from_slice(&tail[TIME_STAMP_OFFSET..]);
    let torn = BufferHeader::decode(&mixed).unwrap();
    assert_ne!(torn, old);
    assert_ne!(torn, new);
    assert_eq!(torn.state(), Some(BufferState::Complete));
    // The new fill completes while the copy runs.
    let live = Scripted::new(old, vec![]);
    live.tear.set(Some((mixed, new)));
    assert_eq!(snapshot(&live), Some(new));
    assert_eq!(live.accesses.get(), 2 * TRY);
}

#[test]
fn a_writer_that_never_settles_gives_none() {
    // A new fill at every access: the two state loads of a try see the same
    // state, the time stamps around them differ.
    let events = (0..TRY * SNAPSHOT_TRIES)
        .map(|k| {
            let state = [BufferState::InUse, BufferState::Complete][k % 2];
            Some(header(state, k as u32, 0))
        })
        .collect();
    let live = Scripted::new(header(BufferState::Free, 0, 0), events);
    assert_eq!(snapshot(&live), None);
    assert_eq!(live.accesses.get(), TRY * SNAPSHOT_TRIES);
}
