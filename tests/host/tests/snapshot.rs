// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/policy/snapshot.rs: a header that changes between the
//! reader's loads is never returned mixed.

use hv_evlog_host_tests::snapshot::*;
use hv_evlog_host_tests::tlfs::*;
use std::cell::{Cell, RefCell};

/// A header that a scripted writer changes: `events[k]` runs just before
/// the reader's k-th access (a state load or a byte copy).
struct Scripted {
    bytes: RefCell<[u8; ENTRIES_OFFSET]>,
    accesses: Cell<usize>,
    events: Vec<Option<BufferHeader>>,
}

impl Scripted {
    fn new(start: BufferHeader, events: Vec<Option<BufferHeader>>) -> Self {
        let s = Self {
            bytes: RefCell::new([0; ENTRIES_OFFSET]),
            accesses: Cell::new(0),
            events,
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

    fn copy(&self, out: &mut [u8; ENTRIES_OFFSET]) {
        self.step();
        *out = *self.bytes.borrow();
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

#[test]
fn a_quiet_header_is_read_in_one_try() {
    let h = header(BufferState::Complete, 3, 200);
    let live = Scripted::new(h, vec![]);
    assert_eq!(snapshot(&live), Some(h));
    assert_eq!(live.accesses.get(), 3);
}

#[test]
fn a_state_change_during_the_copy_is_retried() {
    let old = header(BufferState::Complete, 3, 200);
    let new = header(BufferState::InUse, 9, 0);
    // Before the copy (access 1) the writer restarts the buffer: the copy
    // holds the new fields, the second state load sees the new state.
    let live = Scripted::new(old, vec![None, Some(new)]);
    assert_eq!(snapshot(&live), Some(new));
    assert_eq!(live.accesses.get(), 6);
}

#[test]
fn a_state_that_changes_and_changes_back_is_caught_by_the_copied_state() {
    let a = header(BufferState::Complete, 1, 100);
    let b = header(BufferState::Ready, 1, 100);
    let a2 = header(BufferState::Complete, 5, 300);
    // Load A; the copy sees B; A again (with new fields) before the second
    // load: the copied state differs, so the first try is thrown away.
    let live = Scripted::new(a, vec![None, Some(b), Some(a2)]);
    assert_eq!(snapshot(&live), Some(a2));
}

#[test]
fn a_writer_that_never_settles_gives_none() {
    let events = (0..3 * SNAPSHOT_TRIES)
        .map(|k| {
            let state = [BufferState::InUse, BufferState::Complete][k % 2];
            Some(header(state, k as u32, 0))
        })
        .collect();
    let live = Scripted::new(header(BufferState::Free, 0, 0), events);
    assert_eq!(snapshot(&live), None);
    assert_eq!(live.accesses.get(), 3 * SNAPSHOT_TRIES);
}
