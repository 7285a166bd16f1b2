// SPDX-License-Identifier: GPL-2.0

//! The partition's header snapshot (`policy/snapshot.rs`) against the
//! simulator's own stores: the order a circular-mode restart stores a
//! header in, and every interleaving of a snapshot with those stores.

use super::rig::*;
use hv_evlog_host_tests::snapshot::{snapshot, LiveHeader, STATE_OFFSET, TIME_STAMP_OFFSET};
use std::cell::RefCell;
use std::collections::BTreeSet;

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

/// The stores to the first `ENTRIES_OFFSET` bytes of page `hdr`, one step
/// each, replayed from `start`: the header after each step (steps that
/// change nothing are left out: no reader can tell them), and the headers
/// a reader may take for complete, the ones right after a release store
/// (the state's or the link's) that leaves the state Complete.
fn images(
    start: [u8; ENTRIES_OFFSET],
    stores: &[Store],
    hdr: u64,
) -> (Vec<[u8; ENTRIES_OFFSET]>, BTreeSet<[u8; ENTRIES_OFFSET]>) {
    let complete = |image: &[u8; ENTRIES_OFFSET]| {
        BufferHeader::decode(&image[..]).unwrap().state() == Some(BufferState::Complete)
    };
    let mut now = start;
    let mut out = vec![now];
    let mut published = BTreeSet::from_iter(complete(&now).then_some(now));
    for s in stores {
        let (offset, bytes) = match s {
            Store::Byte { pfn, offset, value } if *pfn == hdr => (*offset, vec![*value]),
            Store::Word { pfn, offset, bytes } if *pfn == hdr => (*offset, bytes.clone()),
            Store::Release { pfn, offset, value } if *pfn == hdr => {
                (*offset, value.to_le_bytes().to_vec())
            }
            _ => continue,
        };
        if offset >= ENTRIES_OFFSET {
            continue;
        }
        now[offset..offset + bytes.len()].copy_from_slice(&bytes);
        if matches!(s, Store::Release { .. }) && complete(&now) {
            published.insert(now);
        }
        if out.last() != Some(&now) {
            out.push(now);
        }
    }
    (out, published)
}

/// Picks, for each load of a reader, which step of the writer it happens
/// after; enumerates every sequence of picks by replay (depth first).
#[derive(Default)]
struct Picks {
    /// The picks of the run to replay; later loads take option 0.
    prefix: Vec<usize>,
    /// The picks of this run and how many options each had.
    taken: Vec<(usize, usize)>,
}

impl Picks {
    fn pick(&mut self, options: usize) -> usize {
        let depth = self.taken.len();
        let pick = self.prefix.get(depth).copied().unwrap_or(0);
        assert!(pick < options);
        self.taken.push((pick, options));
        pick
    }

    /// The next run's prefix; `false` when every run was made.
    fn advance(&mut self) -> bool {
        let mut taken = std::mem::take(&mut self.taken);
        while let Some(&(pick, options)) = taken.last() {
            if pick + 1 < options {
                break;
            }
            taken.pop();
        }
        let Some(last) = taken.last_mut() else {
            return false;
        };
        last.0 += 1;
        self.prefix = taken.iter().map(|&(pick, _)| pick).collect();
        true
    }
}

/// A live header whose writer is a recorded sequence of the simulator's
/// stores, one per step, run under a reader whose loads each happen at a
/// step the [`Picks`] choose (at or after the previous load's: program
/// order, sequentially consistent). The copy is made as the kernel makes it
/// (`platform/mm.rs`): nine 8-byte loads.
///
/// A load may happen after any of the remaining steps; only the value it
/// returns matters, and taking the earliest step that gives a value leaves
/// every later load all the choices a later step would, so the options of
/// a load are the distinct values of its word from now on, each at its
/// earliest step: every interleaving is covered up to what the reader can
/// tell.
struct Replay<'a> {
    images: &'a [[u8; ENTRIES_OFFSET]],
    step: RefCell<usize>,
    picks: RefCell<Picks>,
}

impl Replay<'_> {
    fn load(&self, offset: usize, len: usize) -> Vec<u8> {
        let from = *self.step.borrow();
        let mut options: Vec<(Vec<u8>, usize)> = Vec::new();
        for (step, image) in self.images.iter().enumerate().skip(from) {
            let value = &image[offset..offset + len];
            if options.iter().all(|(v, _)| v != value) {
                options.push((value.to_vec(), step));
            }
        }
        let pick = self.picks.borrow_mut().pick(options.len());
        let (value, step) = options.swap_remove(pick);
        *self.step.borrow_mut() = step;
        value
    }
}

impl LiveHeader for Replay<'_> {
    fn load_state(&self) -> u32 {
        u32::from_le_bytes(self.load(STATE_OFFSET, 4).try_into().unwrap())
    }

    fn load_time_stamp(&self) -> u64 {
        u64::from_le_bytes(self.load(TIME_STAMP_OFFSET, 8).try_into().unwrap())
    }

    fn copy(&self, out: &mut [u8; ENTRIES_OFFSET]) {
        for (i, word) in out.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&self.load(i * 8, 8));
        }
    }
}

/// Every snapshot a reader can take while the simulator restarts a
/// complete buffer in circular mode, fills it and completes it again (and
/// chains it, complete, before and after), in every interleaving of the
/// reader's loads with the simulator's stores: an accepted Complete
/// snapshot is the header exactly as a release store left it complete (the
/// old fill's or the new fill's, with the chain link of that moment), never
/// a mix; an accepted InUse snapshot names the right buffer and processor.
#[test]
fn every_interleaving_of_a_snapshot_with_a_circular_restart() {
    let mut r = circular();
    zero_complete(&mut r);
    let pages = r.mapped[&0].clone();
    let hdr = pages[0];
    let start: [u8; ENTRIES_OFFSET] = r.p.mem(hdr)[..ENTRIES_OFFSET].try_into().unwrap();
    let old = BufferHeader::decode(&start).unwrap();
    r.p.record(&pages);
    // Buffers 1 and 2 complete (1 chained after 0), buffer 0 restarts,
    // fills and completes, buffer 1 restarts and completes, chained after
    // 0 again.
    let mut completed = Vec::new();
    for _ in 0..8 {
        completed.extend(write(&mut r).completed);
    }
    assert_eq!(completed, [1, 2, 0, 1]);
    let stores = r.p.take_stores();
    let new = r.header(0);
    assert_eq!(new.state(), Some(BufferState::Complete));
    assert_ne!(new.time_stamp, old.time_stamp);
    assert_eq!(new.next_in_chain(), Some(1));
    r.finish();

    let (images, complete) = images(start, &stores, hdr);
    let in_use = images
        .iter()
        .filter(|i| BufferHeader::decode(&i[..]).unwrap().state() == Some(BufferState::InUse))
        .count();
    // Old and new fill, each unlinked and linked.
    assert!(complete.len() == 4 && in_use > 0, "{complete:x?}");

    let mut picks = Picks::default();
    let (mut runs, mut refused) = (0u64, 0u64);
    let mut seen = BTreeSet::new();
    loop {
        let live = Replay {
            images: &images,
            step: RefCell::new(0),
            picks: RefCell::new(picks),
        };
        let got = snapshot(&live);
        picks = live.picks.into_inner();
        runs += 1;
        match got {
            None => refused += 1,
            Some(h) => {
                let mut bytes = [0u8; ENTRIES_OFFSET];
                h.encode(&mut bytes).unwrap();
                match h.state() {
                    Some(BufferState::Complete) => {
                        assert!(
                            complete.contains(&bytes),
                            "accepted a mix: {h:?}\npicks {:?}",
                            picks.taken
                        );
                        seen.insert(bytes);
                    }
                    Some(BufferState::InUse) => {
                        assert_eq!(
                            (h.buffer_index, h.logical_processor, h.log_type),
                            (0, 0, LT.raw()),
                            "{h:?}"
                        );
                        assert_eq!(h.buffer_size, old.buffer_size, "{h:?}");
                    }
                    other => panic!("state {other:?}: {h:?}"),
                }
            }
        }
        if !picks.advance() {
            break;
        }
    }
    println!("{runs} interleavings, {refused} refused after every try");
    // Every consistent header was reachable, old fill's and new fill's.
    assert_eq!(seen, complete, "{runs} interleavings, {refused} refused");
    let stamps: BTreeSet<u64> = seen
        .iter()
        .map(|b| BufferHeader::decode(&b[..]).unwrap().time_stamp)
        .collect();
    assert_eq!(
        stamps,
        BTreeSet::from([old.time_stamp, new.time_stamp]),
        "{runs} interleavings"
    );
}
