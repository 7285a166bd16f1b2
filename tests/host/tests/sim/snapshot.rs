// SPDX-License-Identifier: GPL-2.0

//! The order the simulator stores a header in, which the partition's header
//! snapshot (`policy/snapshot.rs`) relies on.

use super::rig::*;
use hv_evlog_host_tests::snapshot::{STATE_OFFSET, TIME_STAMP_OFFSET};

/// Payload bytes that make two entries fill a one-page buffer: a third
/// completes it, so a fill is a few stores long.
const PAYLOAD: u16 = 1900;
/// Header bytes of `next_buffer_index`.
const LINK_OFFSET: usize = 56;

/// Circular mode, CPU 0 with buffers 0, 1 and 2 of one page; every
/// completion is delivered at once (threshold 1) and no notification is
/// taken, so completed buffers stay chained in the outbox, each linked to
/// the next one completed.
fn circular() -> Rig {
    Rig::logging(
        Geo {
            mode: EventLogMode::Circular,
            threshold: 1,
            ..GEO
        },
        3,
    )
}

fn write(r: &mut Rig) -> WriteResult {
    r.write(0, PAYLOAD)
}

/// Buffer 0 complete, buffer 1 in use with one entry, buffer 2 free: the
/// write that completes buffer 2 restarts buffer 0, the oldest complete
/// one.
fn zero_complete(r: &mut Rig) {
    for _ in 0..2 {
        assert!(matches!(
            write(r).outcome,
            Outcome::Written { buffer: 0, .. }
        ));
    }
    let w = write(r);
    assert_eq!(w.completed, Some(0));
    assert!(matches!(w.outcome, Outcome::Written { buffer: 1, .. }));
    assert_eq!(r.header(0).state(), Some(BufferState::Complete));
}

fn is_state(store: &Store, pfn: u64, state: BufferState) -> bool {
    *store
        == Store::Release {
            pfn,
            offset: STATE_OFFSET,
            value: state.raw(),
        }
}

/// A circular-mode restart of a complete buffer stores `buffer_state =
/// InUse` first, with release semantics and a write barrier, before
/// anything else of the new fill (header fields or entries); its
/// completion stores `Complete` last; and while complete, only its chain
/// link changes, with one store.
#[test]
fn a_circular_restart_stores_in_use_first_and_the_final_state_last() {
    let mut r = circular();
    zero_complete(&mut r);
    let pages = r.mapped[&0].clone();
    let hdr = pages[0];
    r.p.record(&pages);
    // Buffer 1 fills up and completes: chained after buffer 0, which is
    // complete, so buffer 0's link changes, with one release store, and
    // nothing else of it.
    assert!(matches!(
        write(&mut r).outcome,
        Outcome::Written { buffer: 1, .. }
    ));
    assert_eq!(r.p.take_stores(), []);
    assert_eq!(write(&mut r).completed, Some(1));
    assert_eq!(
        r.p.take_stores(),
        [Store::Release {
            pfn: hdr,
            offset: LINK_OFFSET,
            value: 1
        }]
    );
    // Buffer 2 fills and completes; buffer 0, the CPU's oldest complete
    // buffer, is restarted.
    assert!(matches!(
        write(&mut r).outcome,
        Outcome::Written { buffer: 2, .. }
    ));
    let w = write(&mut r);
    assert_eq!(w.completed, Some(2));
    assert!(matches!(
        w.outcome,
        Outcome::Overwrote {
            buffer: 0,
            discarded: 2,
            ..
        }
    ));
    let stores = r.p.take_stores();
    assert!(
        is_state(&stores[0], hdr, BufferState::InUse),
        "first store of the restart: {:?}",
        stores[0]
    );
    assert_eq!(stores[1], Store::Barrier, "no barrier after InUse");
    assert!(
        stores[2..].iter().all(|s| !matches!(
            s,
            Store::Release {
                offset: STATE_OFFSET,
                ..
            }
        )),
        "the state changed again during the restart"
    );
    // The fill's fields, its time stamp as one store, and its first entry.
    assert!(stores.iter().any(|s| matches!(
        s,
        Store::Word {
            offset: TIME_STAMP_OFFSET,
            ..
        }
    )));
    assert!(stores
        .iter()
        .any(|s| matches!(s, Store::Byte { offset, .. } if *offset >= ENTRIES_OFFSET)));
    // The second entry, then the completion: fields first, state last.
    assert!(matches!(
        write(&mut r).outcome,
        Outcome::Written { buffer: 0, .. }
    ));
    let w = write(&mut r);
    assert_eq!(w.completed, Some(0));
    let stores = r.p.take_stores();
    let last = stores.iter().rposition(|s| match s {
        Store::Byte { pfn, .. } | Store::Word { pfn, .. } | Store::Release { pfn, .. } => {
            *pfn == hdr
        }
        Store::Barrier => false,
    });
    let last = &stores[last.unwrap()];
    assert!(
        is_state(last, hdr, BufferState::Complete),
        "last store of the completion: {last:?}"
    );
    r.finish();
}
