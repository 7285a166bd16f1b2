// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/policy/completion.rs: which buffers a scan reports, in
//! which order, exactly once; the per-buffer life cycle; the record queue.

use hv_evlog_host_tests::completion::*;
use hv_evlog_host_tests::tlfs::{BufferHeader, BufferState, END_OF_CHAIN, MAX_BUFFERS};
use proptest::prelude::*;

/// A header in `state` linking to `next` (`None`: end of chain).
fn header(index: u32, state: BufferState, next: Option<u32>) -> BufferHeader {
    BufferHeader {
        buffer_index: index,
        buffer_state: state.raw(),
        next_buffer_index: next.unwrap_or(END_OF_CHAIN),
        ..Default::default()
    }
}

/// `n` free buffers.
fn free(n: u32) -> Vec<BufferHeader> {
    (0..n).map(|i| header(i, BufferState::Free, None)).collect()
}

/// Marks `chain` complete, linked in that order.
fn complete_chain(headers: &mut [BufferHeader], chain: &[u32]) {
    for (k, &i) in chain.iter().enumerate() {
        headers[i as usize] = header(i, BufferState::Complete, chain.get(k + 1).copied());
    }
}

fn tracker(n: usize) -> Tracker<Vec<Tracked>> {
    Tracker::new(vec![Tracked::default(); n])
}

/// Runs one scan and returns what it reported, every record queued.
fn scan(t: &mut Tracker<Vec<Tracked>>, headers: &[BufferHeader]) -> Vec<u32> {
    let mut out = Vec::new();
    let n = t.scan(headers, |i| {
        out.push(i);
        true
    });
    assert_eq!(n as usize, out.len());
    out
}

#[test]
fn new_tracker_is_idle() {
    let t = tracker(4);
    assert_eq!(t.len(), 4);
    assert!(!t.is_empty());
    for i in 0..4 {
        assert_eq!(t.slot(i), Some(Slot::Idle));
    }
    assert_eq!(t.slot(4), None);
}

#[test]
fn nothing_complete_reports_nothing() {
    let mut t = tracker(8);
    assert!(scan(&mut t, &free(8)).is_empty());
}

#[test]
fn single_chain_in_chain_order() {
    let mut h = free(8);
    complete_chain(&mut h, &[5, 2, 7, 0]);
    let mut t = tracker(8);
    assert_eq!(scan(&mut t, &h), [5, 2, 7, 0]);
    for i in [5, 2, 7, 0] {
        assert_eq!(t.slot(i), Some(Slot::Queued));
    }
    // Reported once: the same snapshot again reports nothing.
    assert!(scan(&mut t, &h).is_empty());
}

#[test]
fn chains_in_order_of_their_heads() {
    let mut h = free(10);
    complete_chain(&mut h, &[6, 1]);
    complete_chain(&mut h, &[3, 9, 0]);
    complete_chain(&mut h, &[8]);
    let mut t = tracker(10);
    assert_eq!(scan(&mut t, &h), [3, 9, 0, 6, 1, 8]);
}

/// One processor filled buffers 3, then 1, then 0 (time stamps rising) and
/// each completed as a chain of its own before the reader looked: they are
/// reported in the order they were filled, not by index.
#[test]
fn chains_of_one_processor_in_the_order_they_were_filled() {
    let mut h = free(4);
    for (ts, i) in [(100, 3), (200, 1), (300, 0)] {
        complete_chain(&mut h, &[i]);
        h[i as usize].time_stamp = ts;
    }
    let mut t = tracker(4);
    assert_eq!(scan(&mut t, &h), [3, 1, 0]);
    // Announced together by two messages: the same order.
    let mut t = tracker(4);
    assert_eq!(announced(&mut t, &[0, 1, 3], &h), (vec![3, 1, 0], 3));
}

#[test]
fn chain_tail_whose_head_was_reported_earlier_is_its_own_head() {
    let mut h = free(6);
    complete_chain(&mut h, &[4]);
    let mut t = tracker(6);
    assert_eq!(scan(&mut t, &h), [4]);
    // The hypervisor appends 1 and 2 to the chain of 4.
    complete_chain(&mut h, &[4, 1, 2]);
    assert_eq!(scan(&mut t, &h), [1, 2]);
}

#[test]
fn links_out_of_range_or_to_incomplete_buffers_end_a_chain() {
    let mut h = free(6);
    h[1] = header(1, BufferState::Complete, Some(99));
    h[3] = header(3, BufferState::Complete, Some(4)); // 4 is free
    h[5] = header(5, BufferState::Complete, Some(5)); // itself
    let mut t = tracker(6);
    assert_eq!(scan(&mut t, &h), [1, 3, 5]);
}

#[test]
fn cycle_is_reported_once_from_its_lowest_index() {
    let mut h = free(6);
    h[4] = header(4, BufferState::Complete, Some(2));
    h[2] = header(2, BufferState::Complete, Some(5));
    h[5] = header(5, BufferState::Complete, Some(4));
    let mut t = tracker(6);
    assert_eq!(scan(&mut t, &h), [2, 5, 4]);
    assert!(scan(&mut t, &h).is_empty());
}

#[test]
fn two_links_to_one_buffer_report_it_once() {
    let mut h = free(4);
    h[0] = header(0, BufferState::Complete, Some(3));
    h[1] = header(1, BufferState::Complete, Some(3));
    h[3] = header(3, BufferState::Complete, None);
    let mut t = tracker(4);
    assert_eq!(scan(&mut t, &h), [0, 3, 1]);
}

#[test]
fn life_cycle_queued_delivered_released_reported_again() {
    let mut h = free(3);
    complete_chain(&mut h, &[1]);
    let mut t = tracker(3);
    assert_eq!(scan(&mut t, &h), [1]);
    assert!(!t.may_release(1, &h[1]), "queued, not read yet");
    t.delivered(1);
    assert_eq!(t.slot(1), Some(Slot::Delivered));
    assert!(t.may_release(1, &h[1]));
    // Still complete, delivered: not reported again.
    assert!(scan(&mut t, &h).is_empty());
    t.released(1);
    assert_eq!(t.slot(1), Some(Slot::Idle));
    // Completed again before the next scan saw it free: reported again.
    assert_eq!(scan(&mut t, &h), [1]);
}

#[test]
fn delivered_buffer_released_elsewhere_becomes_idle() {
    let mut h = free(2);
    complete_chain(&mut h, &[0]);
    let mut t = tracker(2);
    assert_eq!(scan(&mut t, &h), [0]);
    t.delivered(0);
    h[0] = header(0, BufferState::Ready, None);
    assert!(scan(&mut t, &h).is_empty());
    assert_eq!(t.slot(0), Some(Slot::Idle));
    assert!(!t.may_release(0, &h[0]));
    complete_chain(&mut h, &[0]);
    assert_eq!(scan(&mut t, &h), [0]);
}

/// Buffer `index` complete as the fill started at `stamp`.
fn filled(index: u32, stamp: u64) -> BufferHeader {
    BufferHeader {
        time_stamp: stamp,
        next_buffer_offset: stamp as u32,
        ..header(index, BufferState::Complete, None)
    }
}

#[test]
fn queued_buffer_stays_queued_while_a_read_holds_its_record() {
    let mut h = free(2);
    h[1] = filled(1, 10);
    let mut t = tracker(2);
    assert_eq!(scan(&mut t, &h), [1]);
    // Restarted and completed again while read() copies the record: it
    // cannot be withdrawn, so the buffer waits for that delivery.
    h[1] = filled(1, 20);
    assert_eq!(t.recycled(&h, |_| false), 0);
    assert!(
        scan(&mut t, &h).is_empty(),
        "one record per buffer at a time"
    );
    assert_eq!(t.slot(1), Some(Slot::Queued));
    t.delivered(1);
    // The record read was of fill 10: fill 20 may not be released on it...
    assert!(!t.may_release(1, &h[1]));
    // ... and is reported by the next scan.
    assert_eq!(scan(&mut t, &h), [1]);
    t.delivered(1);
    assert!(t.may_release(1, &h[1]));
}

/// Circular mode: a buffer restarted and completed again while the record
/// of its previous completion waits has that record withdrawn (counted as
/// dropped) and gets a new one; after delivery, a restart is reported again.
#[test]
fn circular_restart_withdraws_the_stale_record_and_reports_the_new_fill() {
    let mut h = free(3);
    let mut t = tracker(3);
    let mut q = Queue::new(vec![(0u64, 0u32, 0u64); 3]);
    let scan_q = |t: &mut Tracker<Vec<Tracked>>, q: &mut Queue<_, _>, h: &[BufferHeader]| {
        let withdrawn = t.recycled(h, |i| q.withdraw(|r: &(u64, u32, u64)| r.1 == i).is_some());
        t.scan(h, |i| q.push_with(|s| (s, i, h[i as usize].time_stamp)).1);
        withdrawn
    };
    h[0] = filled(0, 10);
    h[1] = filled(1, 11);
    assert_eq!(scan_q(&mut t, &mut q, &h), 0);
    assert_eq!(q.len(), 2);
    // The reader falls behind: 0 is restarted (in use), then completes again.
    h[0] = header(0, BufferState::InUse, None);
    assert_eq!(scan_q(&mut t, &mut q, &h), 1);
    assert_eq!(t.slot(0), Some(Slot::Idle));
    assert_eq!(q.dropped(), 1);
    h[0] = filled(0, 30);
    assert_eq!(scan_q(&mut t, &mut q, &h), 0);
    // Restarted and completed between two scans: the stamp tells.
    h[1] = filled(1, 31);
    assert_eq!(scan_q(&mut t, &mut q, &h), 1);
    assert_eq!(q.dropped(), 2);
    let got: Vec<_> = core::iter::from_fn(|| q.pop_front()).collect();
    // Sequence 0 and 1 are the gaps; the new fills come in order.
    assert_eq!(got, [(2, 0, 30), (3, 1, 31)]);
    for (_, i, _) in got {
        t.delivered(i);
    }
    // A delivered buffer restarted and completed: reported again.
    h[0] = filled(0, 40);
    assert_eq!(scan_q(&mut t, &mut q, &h), 0);
    assert_eq!(q.pop_front(), Some((4, 0, 40)));
    assert_eq!(q.pop_front(), None);
    assert_eq!(q.dropped(), 2);
}

#[test]
fn queue_withdraw_keeps_the_others_in_order() {
    let mut q = Queue::new(vec![0u64; 4]);
    // Wrap the storage first.
    for _ in 0..3 {
        assert!(q.push_with(|s| s).1);
        q.pop_front();
    }
    for _ in 0..4 {
        assert!(q.push_with(|s| s).1);
    }
    assert_eq!(q.withdraw(|&r| r == 4), Some(4));
    assert_eq!(q.withdraw(|&r| r == 99), None);
    assert_eq!(q.dropped(), 1);
    assert_eq!(q.len(), 3);
    assert_eq!(q.push_with(|s| s), (7, true));
    let rest: Vec<u64> = core::iter::from_fn(|| q.pop_front()).collect();
    assert_eq!(rest, [3, 5, 6, 7]);
}

#[test]
fn dropped_record_makes_buffer_releasable() {
    let mut h = free(2);
    complete_chain(&mut h, &[0, 1]);
    let mut t = tracker(2);
    let mut seen = Vec::new();
    t.scan(&h, |i| {
        seen.push(i);
        i != 1 // the record of 1 does not fit
    });
    assert_eq!(seen, [0, 1]);
    assert_eq!(t.slot(0), Some(Slot::Queued));
    assert_eq!(t.slot(1), Some(Slot::Delivered));
    assert!(t.may_release(1, &h[1]));
}

#[test]
fn delivered_and_released_ignore_other_states_and_out_of_range() {
    let mut t = tracker(2);
    t.delivered(0);
    assert_eq!(
        t.slot(0),
        Some(Slot::Idle),
        "not queued: nothing to deliver"
    );
    t.delivered(7);
    t.released(7);
    let h = header(7, BufferState::Complete, None);
    assert!(!t.may_release(7, &h));
    assert!(!t.may_release(u32::MAX, &h));
}

#[test]
fn fewer_headers_than_slots_and_the_reverse() {
    let mut h = free(2);
    complete_chain(&mut h, &[1, 0]);
    let mut t = tracker(4);
    assert_eq!(scan(&mut t, &h), [1, 0]);
    let mut h = free(4);
    complete_chain(&mut h, &[3, 1]);
    let mut t = tracker(2);
    // Buffer 3 is not tracked: the chain starts at 1.
    assert_eq!(scan(&mut t, &h), [1]);
}

#[test]
fn at_most_max_buffers_are_tracked() {
    let t = tracker(MAX_BUFFERS as usize + 5);
    assert_eq!(t.len(), MAX_BUFFERS);
    assert_eq!(t.slot(MAX_BUFFERS), None);
}

#[test]
fn index_set() {
    let mut s = IndexSet::new();
    for i in [0, 63, 64, 511] {
        s.insert(i);
    }
    s.insert(512);
    s.insert(u32::MAX);
    for i in 0..600 {
        assert_eq!(s.contains(i), [0, 63, 64, 511].contains(&i), "{i}");
    }
}

// ---------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------

#[test]
fn queue_fifo_with_sequence_numbers() {
    let mut q = Queue::new(vec![(0u64, 0u32); 3]);
    assert_eq!(q.capacity(), 3);
    assert!(q.is_empty());
    assert_eq!(q.pop_front(), None);
    for i in 0..3 {
        assert_eq!(q.push_with(|s| (s, i)), (u64::from(i), true));
    }
    assert_eq!(q.len(), 3);
    assert_eq!(q.front(), Some(&(0, 0)));
    assert_eq!(q.pop_front(), Some((0, 0)));
    assert_eq!(q.push_with(|s| (s, 3)), (3, true));
    assert_eq!(q.pop_front(), Some((1, 1)));
    assert_eq!(q.pop_front(), Some((2, 2)));
    assert_eq!(q.pop_front(), Some((3, 3)));
    assert_eq!(q.pop_front(), None);
    assert_eq!(q.dropped(), 0);
    assert_eq!(q.next_sequence(), 4);
}

#[test]
fn queue_full_drops_and_leaves_a_gap() {
    let mut q = Queue::new(vec![0u64; 2]);
    assert_eq!(q.push_with(|s| s), (0, true));
    assert_eq!(q.push_with(|s| s), (1, true));
    assert_eq!(q.push_with(|s| s), (2, false));
    assert_eq!(q.dropped(), 1);
    assert_eq!(q.pop_front(), Some(0));
    assert_eq!(q.push_with(|s| s), (3, true));
    assert_eq!(q.pop_front(), Some(1));
    assert_eq!(q.pop_front(), Some(3), "2 is the gap");
}

#[test]
fn queue_push_front_restores_the_order_a_read_took_out() {
    // As read() does: take a batch, copy part of it, put the rest back,
    // newest first, each in front.
    let mut q = Queue::new(vec![0u64; 4]);
    // Wrap the storage so the front crosses index 0 when put back.
    assert_eq!(q.push_with(|s| s), (0, true));
    assert_eq!(q.pop_front(), Some(0));
    for _ in 0..4 {
        assert!(q.push_with(|s| s).1);
    }
    assert!(!q.push_front(99), "full: nothing put back");
    let batch: Vec<u64> = (0..3).map(|_| q.pop_front().unwrap()).collect();
    assert_eq!(batch, vec![1, 2, 3]);
    // One was copied; 2 and 3 go back.
    for &r in batch[1..].iter().rev() {
        assert!(q.push_front(r));
    }
    assert_eq!(q.len(), 3);
    assert_eq!(q.push_with(|s| s), (5, true));
    let rest: Vec<u64> = core::iter::from_fn(|| q.pop_front()).collect();
    assert_eq!(rest, vec![2, 3, 4, 5]);
    assert_eq!(q.dropped(), 0);
    // Into an empty queue.
    assert!(q.push_front(7));
    assert_eq!(q.pop_front(), Some(7));
    assert!(!Queue::new(Vec::<u64>::new()).push_front(1));
}

#[test]
fn queue_without_room_drops_everything() {
    let mut q = Queue::new(Vec::<u64>::new());
    assert_eq!(q.push_with(|s| s), (0, false));
    assert_eq!(q.push_with(|s| s), (1, false));
    assert_eq!(q.dropped(), 2);
    assert_eq!(q.front(), None);
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// Random headers: each buffer free, in use, complete or ready, linking to
/// any index (in range or not) or the end of the chain.
fn headers_strategy() -> impl Strategy<Value = Vec<BufferHeader>> {
    (1u32..40).prop_flat_map(|n| {
        proptest::collection::vec(
            (
                prop_oneof![
                    Just(BufferState::Free),
                    Just(BufferState::InUse),
                    Just(BufferState::Complete),
                    Just(BufferState::Complete),
                    Just(BufferState::Ready),
                ],
                prop_oneof![Just(None), (0..n + 2).prop_map(Some)],
            ),
            n as usize,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (s, next))| header(i as u32, s, next))
                .collect()
        })
    })
}

proptest! {
    /// A scan reports exactly the complete buffers, each once, in an order
    /// that follows each chain link to a buffer not reported yet.
    #[test]
    fn scan_reports_each_complete_buffer_once_in_chain_order(h in headers_strategy()) {
        let mut t = tracker(h.len());
        let got = scan(&mut t, &h);
        let complete: Vec<u32> = (0..h.len() as u32)
            .filter(|&i| h[i as usize].state() == Some(BufferState::Complete))
            .collect();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        prop_assert_eq!(&sorted, &complete);
        for (k, &i) in got.iter().enumerate() {
            if let Some(next) = h[i as usize].next_in_chain() {
                if complete.contains(&next) && !got[..=k].contains(&next) {
                    prop_assert_eq!(got.get(k + 1), Some(&next));
                }
            }
        }
        // Nothing new: nothing reported.
        prop_assert!(scan(&mut t, &h).is_empty());
    }

    /// Unlinked complete buffers are reported by rising time stamp, the
    /// lower index first on a tie; the earliest-first order of
    /// `IndexSet::take_earliest`.
    #[test]
    fn unlinked_buffers_in_time_stamp_order(
        v in proptest::collection::vec((any::<bool>(), 0u64..4), 1..40),
    ) {
        let h: Vec<BufferHeader> = v
            .iter()
            .enumerate()
            .map(|(i, &(complete, ts))| {
                let state = if complete { BufferState::Complete } else { BufferState::Free };
                BufferHeader { time_stamp: ts, ..header(i as u32, state, None) }
            })
            .collect();
        let mut expected: Vec<(u64, u32)> = (0..h.len() as u32)
            .filter(|&i| h[i as usize].state() == Some(BufferState::Complete))
            .map(|i| (h[i as usize].time_stamp, i))
            .collect();
        expected.sort_unstable();
        let expected: Vec<u32> = expected.into_iter().map(|(_, i)| i).collect();
        let mut t = tracker(h.len());
        prop_assert_eq!(scan(&mut t, &h), expected.clone());
        let all: Vec<u32> = (0..h.len() as u32).collect();
        let mut t = tracker(h.len());
        prop_assert_eq!(announced(&mut t, &all, &h).0, expected);
    }

    /// Delivering and releasing everything reported makes the next scan
    /// report the buffers still (again) complete, and only those.
    #[test]
    fn release_cycle(h in headers_strategy(), h2 in headers_strategy()) {
        let n = h.len().min(h2.len());
        let (h, h2) = (&h[..n], &h2[..n]);
        let mut t = tracker(n);
        for i in scan(&mut t, h) {
            t.delivered(i);
            prop_assert!(t.may_release(i, &h[i as usize]));
            t.released(i);
        }
        let mut got = scan(&mut t, h2);
        got.sort_unstable();
        let complete: Vec<u32> = (0..n as u32)
            .filter(|&i| h2[i as usize].state() == Some(BufferState::Complete))
            .collect();
        prop_assert_eq!(got, complete);
    }

    /// Sequence numbers count every offer; what is queued comes out in
    /// order; drops are counted.
    #[test]
    fn queue_model(cap in 0usize..6, ops in proptest::collection::vec(any::<bool>(), 0..64)) {
        let mut q = Queue::new(vec![0u64; cap]);
        let mut model = std::collections::VecDeque::new();
        let (mut next, mut dropped) = (0u64, 0u64);
        for push in ops {
            if push {
                let (s, queued) = q.push_with(|s| s);
                prop_assert_eq!(s, next);
                prop_assert_eq!(queued, model.len() < cap);
                if queued { model.push_back(s) } else { dropped += 1 }
                next += 1;
            } else {
                prop_assert_eq!(q.pop_front(), model.pop_front());
            }
            prop_assert_eq!(q.len(), model.len());
            prop_assert_eq!(q.dropped(), dropped);
        }
    }
}

/// Runs `announced` for `heads` and returns (reported in order, walked).
fn announced(
    t: &mut Tracker<Vec<Tracked>>,
    heads: &[u32],
    headers: &[BufferHeader],
) -> (Vec<u32>, u32) {
    let mut set = IndexSet::new();
    for &h in heads {
        set.insert(h);
    }
    let mut out = Vec::new();
    let (n, walked) = t.announced(&set, headers, |i| {
        out.push(i);
        true
    });
    assert_eq!(n as usize, out.len());
    (out, walked)
}

#[test]
fn an_announced_chain_is_reported_in_chain_order_before_a_scan() {
    let mut t = tracker(8);
    let mut h = free(8);
    complete_chain(&mut h, &[5, 2, 7]);
    complete_chain(&mut h, &[1]);
    // Only the announced chain: buffer 1 is left to the scan.
    assert_eq!(announced(&mut t, &[5], &h), (vec![5, 2, 7], 3));
    assert_eq!(scan(&mut t, &h), vec![1]);
    // Announced again (a stale message): walked, nothing reported twice.
    assert_eq!(announced(&mut t, &[5], &h), (vec![], 3));
}

#[test]
fn an_announced_chain_stops_at_a_buffer_no_longer_complete_and_at_a_cycle() {
    let mut t = tracker(8);
    let mut h = free(8);
    complete_chain(&mut h, &[0, 3, 4]);
    h[3] = header(3, BufferState::Ready, Some(4));
    assert_eq!(announced(&mut t, &[0], &h), (vec![0], 1));
    let mut t = tracker(8);
    let mut h = free(8);
    complete_chain(&mut h, &[6, 1]);
    h[1] = header(1, BufferState::Complete, Some(6));
    assert_eq!(announced(&mut t, &[1, 6], &h), (vec![1, 6], 2));
}

proptest! {
    /// Whatever the links, announced chains and the scan after them report
    /// every complete buffer exactly once.
    #[test]
    fn announced_then_scan_reports_each_complete_buffer_once(
        states in proptest::collection::vec((any::<bool>(), 0u32..10), 8),
        heads in proptest::collection::vec(0u32..8, 0..4),
    ) {
        let mut t = tracker(8);
        let h: Vec<BufferHeader> = states
            .iter()
            .enumerate()
            .map(|(i, &(complete, next))| {
                let state = if complete { BufferState::Complete } else { BufferState::InUse };
                header(i as u32, state, (next < 8).then_some(next))
            })
            .collect();
        let (mut got, _) = announced(&mut t, &heads, &h);
        got.extend(scan(&mut t, &h));
        got.sort_unstable();
        let want: Vec<u32> = (0..8).filter(|&i| states[i as usize].0).collect();
        prop_assert_eq!(got, want);
    }
}
