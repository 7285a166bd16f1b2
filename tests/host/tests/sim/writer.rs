// SPDX-License-Identifier: GPL-2.0

//! The synthetic event writers (`writer.rs`): entries, time, affinity,
//! losses, circular mode.

use super::rig::*;

/// Checks a buffer the way the module's consumer reads it: the header, then
/// the entries through the tlfs walker. Returns the entries' contexts.
fn check_buffer(r: &mut Rig, index: u32, payload: u16, cpu: u32) -> Vec<u32> {
    let bytes = r.bytes(index);
    let h = BufferHeader::decode(&bytes).unwrap();
    assert_eq!(h.buffer_index, index);
    assert_eq!(u32::from(h.logical_processor), cpu);
    let used = h.next_buffer_offset as usize;
    let mut contexts = Vec::new();
    let mut last_ts = 0;
    for e in entries(&bytes) {
        let e = e.unwrap();
        assert_eq!(e.offset % ENTRY_ALIGN, 0);
        assert_eq!(
            usize::from(e.header.size),
            EntryHeader::SIZE + usize::from(payload)
        );
        assert_eq!(e.header.entry_type, SYNTHETIC_ENTRY_TYPE);
        assert!(e.header.timestamp > last_ts, "timestamps not increasing");
        if contexts.is_empty() {
            assert_eq!(h.time_stamp, e.header.timestamp);
        }
        last_ts = e.header.timestamp;
        for (i, &b) in e.payload.iter().enumerate() {
            assert_eq!(b, payload_byte(e.header.context, i));
        }
        contexts.push(e.header.context);
    }
    // `next_buffer_offset` counts entry bytes from the end of the header.
    assert_eq!(contexts.len(), used / padded(payload));
    assert_eq!(used % ENTRY_ALIGN, 0);
    assert!(ENTRIES_OFFSET + used <= bytes.len());
    assert_eq!(h.total_size(), bytes.len());
    contexts
}

#[test]
fn entries_decode_with_the_tlfs_walker() {
    let mut r = Rig::logging(GEO, 2);
    // 1 page: 4024 data bytes, 40-byte entries: 100 fit.
    for n in 0..100u32 {
        let w = r.write(0, 24);
        let offset = (ENTRIES_OFFSET + n as usize * 40) as u32;
        assert_eq!(w.outcome, Outcome::Written { buffer: 0, offset });
        assert_eq!((w.completed, w.notify), (None, false));
    }
    let h = r.header(0);
    assert_eq!(h.state(), Some(BufferState::InUse));
    // Entry bytes after the header, not an offset from the buffer start.
    assert_eq!(h.next_buffer_offset as usize, 100 * 40);
    let contexts = check_buffer(&mut r, 0, 24, 0);
    assert_eq!(contexts, (0..100).collect::<Vec<_>>());
    // The 101st completes buffer 0 and starts buffer 1.
    let w = r.write(0, 24);
    assert_eq!(
        w.outcome,
        Outcome::Written {
            buffer: 1,
            offset: ENTRIES_OFFSET as u32
        }
    );
    assert_eq!((w.completed, w.notify), (Some(0), true));
    assert_eq!(r.header(0).state(), Some(BufferState::Complete));
    assert_eq!(r.header(1).state(), Some(BufferState::InUse));
    assert_eq!(check_buffer(&mut r, 1, 24, 0), vec![100]);
    r.finish();
}

#[test]
fn entries_cross_page_boundaries_and_odd_sizes_are_padded() {
    let mut r = Rig::logging(Geo { pages: 3, ..GEO }, 1);
    // 16 + 1001 = 1017, padded to 1024: 11 fit in 12216 data bytes.
    for _ in 0..11 {
        assert!(matches!(
            r.write(0, 1001).outcome,
            Outcome::Written { buffer: 0, .. }
        ));
    }
    let contexts = check_buffer(&mut r, 0, 1001, 0);
    assert_eq!(contexts.len(), 11);
    let bytes = r.bytes(0);
    // Padding after the first entry is zero.
    assert_eq!(
        &bytes[ENTRIES_OFFSET + 1017..ENTRIES_OFFSET + 1024],
        &[0; 7]
    );
    r.finish();
}

#[test]
fn timestamps_are_strictly_increasing_per_cpu_even_with_a_stopped_clock() {
    let mut r = Rig::logging(GEO, 1);
    r.assign(1, 1);
    r.create_mapped(1, ProximityDomainInfo::node(PXM1));
    r.p.step = 0;
    for _ in 0..10 {
        r.write(0, 0);
        r.write(1, 0);
    }
    for (index, cpu) in [(0, 0), (1, 1)] {
        let contexts = check_buffer(&mut r, index, 0, cpu);
        assert_eq!(contexts, (0..10).collect::<Vec<_>>());
    }
    r.finish();
}

#[test]
fn writes_follow_affinity_and_the_lowest_free_index() {
    let mut r = Rig::two();
    r.init_ok(Geo {
        threshold: 8,
        ..GEO
    });
    // CPU 1 owns 4 and 2 (assigned out of order), CPU 2 owns 3.
    for (index, cpu) in [(4, 1), (2, 1), (3, 2)] {
        r.assign(index, cpu);
        r.create_mapped(index, ProximityDomainInfo::node(PXM0));
    }
    ok(r.sources(SOURCE_HC));
    assert_eq!(r.write(0, 8).outcome, Outcome::NotServed);
    assert_eq!(r.write(MAX_CPUS, 8).outcome, Outcome::NotServed);
    let buf = |w: WriteResult| match w.outcome {
        Outcome::Written { buffer, .. } => buffer,
        other => panic!("{other:?}"),
    };
    assert_eq!(buf(r.write(1, 8)), 2);
    assert_eq!(buf(r.write(2, 8)), 3);
    ok(r.flush(2));
    assert_eq!(buf(r.write(1, 8)), 4);
    ok(r.release(2));
    ok(r.flush(4));
    // Ready again, and the lowest index.
    assert_eq!(buf(r.write(1, 8)), 2);
    assert_eq!(r.header(2).logical_processor, 1);
    assert_eq!(r.header(3).logical_processor, 2);
    // Sources off: nothing is written.
    ok(r.sources(0));
    assert_eq!(r.write(1, 8).outcome, Outcome::Disabled);
    // Too large for a one-page buffer.
    ok(r.sources(SOURCE_HC));
    let max_payload = (PAGE_SIZE - ENTRIES_OFFSET - EntryHeader::SIZE) as u16;
    assert_eq!(r.write(2, max_payload + 1).outcome, Outcome::TooLarge);
    assert_eq!(r.write(2, u16::MAX).outcome, Outcome::TooLarge);
    // The largest entry fills a fresh buffer exactly.
    ok(r.flush(3));
    ok(r.release(3));
    let w = r.write(2, max_payload);
    assert_eq!(
        w.outcome,
        Outcome::Written {
            buffer: 3,
            offset: ENTRIES_OFFSET as u32
        }
    );
    // The entry ends exactly at the buffer end: `next_buffer_offset` is then
    // `buffer_size`, the bytes after the header.
    let h = r.header(3);
    assert_eq!(h.next_buffer_offset as usize, PAGE_SIZE - ENTRIES_OFFSET);
    assert_eq!(h.next_buffer_offset, h.buffer_size);
    assert_eq!(h.entries_end(), PAGE_SIZE);
    assert_eq!(check_buffer(&mut r, 3, max_payload, 2).len(), 1);
    r.finish();
}

#[test]
fn affinity_errors() {
    let mut r = Rig::logging(GEO, 1);
    assert_eq!(
        r.hv.set_affinity(&r.p, MAX_BUFFERS, 0),
        Err(AffinityError::BadBuffer)
    );
    assert_eq!(r.hv.set_affinity(&r.p, 0, 4), Err(AffinityError::BadCpu));
    r.write(0, 8);
    assert_eq!(r.hv.set_affinity(&r.p, 0, 1), Err(AffinityError::Busy));
    r.flush_in_use();
    assert_eq!(r.hv.set_affinity(&r.p, 0, 1), Err(AffinityError::Busy));
    ok(r.release(0));
    assert_eq!(r.hv.set_affinity(&r.p, 0, 1), Ok(()));
    assert_eq!(r.hv.affinity(0), Some(1));
    assert_eq!(r.hv.affinity(5), None);
    r.finish();
}

#[test]
fn regular_mode_drops_and_reports_losses_in_the_next_buffer() {
    let mut r = Rig::logging(
        Geo {
            threshold: 2,
            ..GEO
        },
        2,
    );
    // Fill both buffers: 2 * 100 entries of 40 bytes.
    for _ in 0..200 {
        assert!(matches!(r.write(0, 24).outcome, Outcome::Written { .. }));
    }
    // The next completes buffer 1; nothing is free, so 5 events are lost.
    let w = r.write(0, 24);
    assert_eq!(
        (w.outcome, w.completed, w.notify),
        (Outcome::Lost, Some(1), true)
    );
    for _ in 0..4 {
        assert_eq!(r.write(0, 24).outcome, Outcome::Lost);
    }
    assert_eq!(r.header(1).events_lost, 0);
    // Both are complete and chained 0 -> 1.
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.log_type, n.first_buffer, n.buffers), (LT, 0, 2));
    assert_eq!(r.header(0).next_in_chain(), Some(1));
    assert_eq!(r.header(1).next_in_chain(), None);
    // Releasing buffer 1 lets logging resume there, with the losses counted.
    ok(r.release(1));
    let w = r.write(0, 24);
    assert_eq!(
        w.outcome,
        Outcome::Written {
            buffer: 1,
            offset: ENTRIES_OFFSET as u32
        }
    );
    let h = r.header(1);
    assert_eq!(h.events_lost, 5);
    // The contexts show the gap: 200..205 were lost.
    assert_eq!(check_buffer(&mut r, 1, 24, 0), vec![205]);
    r.finish();
}

#[test]
fn events_this_tick_caps_and_counts_the_rest() {
    assert_eq!(events_this_tick(0, 256), (0, 0));
    assert_eq!(events_this_tick(100, 256), (100, 0));
    assert_eq!(events_this_tick(256, 256), (256, 0));
    assert_eq!(events_this_tick(5000, 256), (256, 4744));
    assert_eq!(events_this_tick(u64::MAX, 256), (256, u32::MAX));
    assert_eq!(events_this_tick(7, 0), (0, 7));
}

#[test]
fn dropped_events_are_lost_in_the_next_buffer_with_a_context_gap() {
    let mut r = Rig::logging(GEO, 2);
    // Not served, or another CPU: nothing counted.
    assert_eq!(r.hv.drop_events(MAX_CPUS, 3), 0);
    assert_eq!(r.hv.drop_events(0, 0), 0);
    // Two entries, then 7 events dropped by the writers' cap.
    for _ in 0..2 {
        assert!(matches!(r.write(0, 24).outcome, Outcome::Written { .. }));
    }
    assert_eq!(r.hv.drop_events(0, 7), 7);
    // The in-use buffer goes on: its entries show the gap (contexts 0, 1,
    // then 9), and its header keeps the losses it started with (none).
    for _ in 0..98 {
        assert!(matches!(r.write(0, 24).outcome, Outcome::Written { .. }));
    }
    assert_eq!(r.header(0).events_lost, 0);
    let contexts = check_buffer(&mut r, 0, 24, 0);
    assert_eq!(&contexts[..3], &[0, 1, 9]);
    // The next buffer the CPU starts counts them.
    let w = r.write(0, 24);
    assert_eq!(w.completed, Some(0));
    assert_eq!(r.header(1).events_lost, 7);
    r.finish();
}

#[test]
fn dropped_events_count_nothing_without_sources() {
    let mut r = Rig::logging(GEO, 1);
    assert_eq!(r.sources(0), HvStatus::SUCCESS);
    assert_eq!(r.hv.drop_events(0, 5), 0);
    r.finish();
}

#[test]
fn circular_mode_overwrites_the_oldest_complete_buffer() {
    let geo = Geo {
        mode: EventLogMode::Circular,
        threshold: 8,
        ..GEO
    };
    let mut r = Rig::logging(geo, 3);
    for _ in 0..300 {
        r.write(0, 24);
    }
    // Buffers 0 and 1 are complete, 2 is full and in use.
    let w = r.write(0, 24);
    assert_eq!(w.completed, Some(2));
    assert_eq!(
        w.outcome,
        Outcome::Overwrote {
            buffer: 0,
            offset: ENTRIES_OFFSET as u32,
            discarded: 100
        }
    );
    let h = r.header(0);
    assert_eq!(h.state(), Some(BufferState::InUse));
    assert_eq!(h.events_lost, 100);
    assert_eq!(check_buffer(&mut r, 0, 24, 0), vec![300]);
    // The pending chain lost buffer 0: it is now 1 -> 2.
    ok(r.flush(0));
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.first_buffer, n.buffers), (1, 3));
    assert_eq!(r.header(1).next_in_chain(), Some(2));
    assert_eq!(r.header(2).next_in_chain(), Some(0));
    assert_eq!(r.header(0).next_in_chain(), None);
    // All three complete; the next write recycles the oldest, buffer 1.
    let w = r.write(0, 24);
    assert!(matches!(
        w.outcome,
        Outcome::Overwrote {
            buffer: 1,
            discarded: 100,
            ..
        }
    ));
    r.finish();
}

/// Circular mode with a reader that falls behind, through the module's own
/// completion tracking (`completion.rs`, as the device drives it): every
/// completion the simulator counts is either read, with the fill's own
/// `bytes_used`, or counted as dropped; none is reported with stale data.
#[test]
fn circular_reader_behind_gets_every_completion_or_a_drop() {
    use hv_evlog_host_tests::completion::{Queue, Tracked, Tracker};
    let geo = Geo {
        mode: EventLogMode::Circular,
        max: 3,
        ..GEO
    };
    let n = 3u32;
    let mut r = Rig::logging(geo, n);
    let mut tracker = Tracker::new(vec![Tracked::default(); n as usize]);
    // (sequence, buffer, time_stamp, bytes_used), room for one per buffer.
    let mut queue = Queue::new(vec![(0u64, 0u32, 0u64, 0u32); n as usize]);
    let (mut read, mut gaps, mut last_seq) = (0u64, 0u64, None::<u64>);
    let scan = |r: &mut Rig, t: &mut Tracker<Vec<Tracked>>, q: &mut Queue<_, _>| {
        let h: Vec<BufferHeader> = (0..n).map(|i| r.header(i)).collect();
        t.recycled(&h, |i| {
            q.withdraw(|rec: &(u64, u32, u64, u32)| rec.1 == i)
                .is_some()
        });
        t.scan(&h, |i| {
            let hd = h[i as usize];
            q.push_with(|s| (s, i, hd.time_stamp, hd.next_buffer_offset))
                .1
        });
    };
    let mut read_one = |r: &mut Rig, t: &mut Tracker<Vec<Tracked>>, q: &mut Queue<_, _>| {
        let Some((seq, i, stamp, used)): Option<(u64, u32, u64, u32)> = q.pop_front() else {
            return false;
        };
        t.delivered(i);
        let h = r.header(i);
        if h.state() == Some(BufferState::Complete) && h.time_stamp == stamp {
            assert_eq!(h.next_buffer_offset, used, "record of buffer {i} is stale");
        }
        gaps += seq - last_seq.map_or(0, |l| l + 1);
        last_seq = Some(seq);
        read += 1;
        true
    };
    // 40 writes of 24-byte payloads per round: a 1-page buffer (about 100
    // entries) completes every 2-3 rounds; the reader takes one record every
    // 8 rounds, so buffers are restarted under its queued records.
    for round in 0..400 {
        for _ in 0..40 {
            r.write(0, 24);
        }
        scan(&mut r, &mut tracker, &mut queue);
        if round % 8 == 0 {
            read_one(&mut r, &mut tracker, &mut queue);
        }
    }
    ok(r.sources(0));
    r.flush_in_use();
    scan(&mut r, &mut tracker, &mut queue);
    while read_one(&mut r, &mut tracker, &mut queue) {}
    let completions = r.hv.completions();
    assert!(completions > 100, "only {completions} completions");
    assert!(queue.dropped() > 0, "the reader never fell behind");
    assert_eq!(read + queue.dropped(), completions);
    // Every dropped record is a gap in the sequence numbers read.
    assert_eq!(
        gaps + (queue.next_sequence() - 1 - last_seq.unwrap()),
        queue.dropped()
    );
    r.finish();
}
