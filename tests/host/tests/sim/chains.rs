// SPDX-License-Identifier: GPL-2.0

//! Completion chains and notifications (`chains.rs`): the threshold and
//! flush.

use super::rig::*;

#[test]
fn threshold_chains_and_notifications() {
    let mut r = Rig::logging(
        Geo {
            threshold: 3,
            ..GEO
        },
        6,
    );
    let mut notified = Vec::new();
    for _ in 0..(5 * 100 + 1) {
        let w = r.write(0, 24);
        if w.notify {
            notified.push(r.hv.take_notification().unwrap());
        }
    }
    // Five buffers completed: one notification at the third, two pending.
    assert_eq!(notified.len(), 1);
    assert_eq!((notified[0].first_buffer, notified[0].buffers), (0, 3));
    assert!(!r.hv.notification_pending());
    // Follow the chain through the headers, as the module does.
    let mut chain = vec![notified[0].first_buffer];
    while let Some(next) = r.header(*chain.last().unwrap()).next_in_chain() {
        chain.push(next);
    }
    assert_eq!(chain, vec![0, 1, 2]);
    for &i in &chain {
        assert_eq!(r.header(i).state(), Some(BufferState::Complete));
    }
    // Releasing a pending buffer takes it off its chain.
    ok(r.release(3));
    r.flush_in_use();
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.first_buffer, n.buffers), (4, 2));
    assert_eq!(r.header(4).next_in_chain(), Some(5));
    assert_eq!(r.header(5).next_in_chain(), None);
    assert_eq!(r.hv.take_notification(), None);
    r.finish();
}

#[test]
fn flush_completes_one_buffer_by_index() {
    let mut r = Rig::logging(
        Geo {
            threshold: 16,
            ..GEO
        },
        1,
    );
    r.assign(1, 2);
    r.create_mapped(1, ProximityDomainInfo::node(PXM1));
    r.write(0, 8);
    r.write(2, 8);
    // Buffer 1 serves CPU 2. A processor number is no buffer index: 2 and 4
    // are not created, and nothing else is touched.
    assert_eq!(r.flush(4), HvStatus::INVALID_PARAMETER);
    assert_eq!(r.flush(2), HvStatus::INVALID_PARAMETER);
    assert_eq!(r.hv.take_notification(), None);
    ok(r.flush(1));
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::InUse));
    assert_eq!(r.hv.buffer_state(1), Some(BufferState::Complete));
    // Delivered although the threshold is 16.
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.first_buffer, n.buffers), (1, 1));
    r.flush_in_use();
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Complete));
    let h = r.header(0);
    // One padded entry's bytes, counted from the end of the header.
    assert_eq!(h.next_buffer_offset as usize, padded(8));
    r.finish();
}
