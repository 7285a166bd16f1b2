// SPDX-License-Identifier: GPL-2.0

//! The SynIC's SINT0 message slots (`synic.rs`).

use super::rig::*;

impl Rig {
    /// Registers a message page for `cpu` and returns it.
    fn message_page(&mut self, cpu: u32) -> u64 {
        let pfn = self.p.alloc_page(0).unwrap();
        self.hv.set_message_page(cpu, pfn).unwrap();
        pfn
    }

    /// The partition's side of SINT0: empties the slot and, when the flags
    /// say more is waiting, signals end-of-message.
    fn consume(&mut self, cpu: u32, pfn: u64) -> (EventLogMessage, bool) {
        let slot = self.hv.slot(&mut self.p, cpu).unwrap();
        assert_eq!(slot.message_type, HVMSG_EVENTLOG_BUFFERCOMPLETE);
        self.p.mem(pfn)[0..4].fill(0);
        let more = slot.flags & MESSAGE_PENDING != 0 && self.hv.end_of_message(&mut self.p, cpu);
        (slot.payload, more)
    }

    /// A logging rig with `threshold`, six buffers of CPU 0, a message page
    /// for CPU 0, and `n` buffers completed with their messages posted.
    fn messaging(threshold: u32, n: usize) -> (Self, u64) {
        let mut r = Self::logging(Geo { threshold, ..GEO }, 6);
        let page = r.message_page(0);
        for _ in 0..(n * 100 + 1) {
            r.write(0, 24);
            r.hv.post_messages(&mut r.p);
        }
        (r, page)
    }

    fn finish_with(mut self, pages: &[u64]) {
        for &pfn in pages {
            self.p.free_page(pfn);
        }
        self.finish();
    }
}

#[test]
fn a_chain_of_three_is_one_message_in_the_slot_of_its_processor() {
    let mut r = Rig::logging(
        Geo {
            threshold: 3,
            ..GEO
        },
        6,
    );
    let page = r.message_page(0);
    let mut raised = 0;
    for _ in 0..(5 * 100 + 1) {
        r.write(0, 24);
        raised +=
            r.hv.post_messages(&mut r.p)
                .iter()
                .filter(|&c| c == 0)
                .count();
    }
    assert_eq!(raised, 1, "one interrupt for one message");
    let bytes = r.p.mem(page)[..24].to_vec();
    // Header: type, payload size 8, no flags, sender 0; payload: type, buffer 0.
    assert_eq!(
        bytes,
        [0x40, 0, 0, 0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    );
    let chain: Vec<u32> =
        std::iter::successors(Some(0), |&i| r.header(i).next_in_chain()).collect();
    assert_eq!(chain, vec![0, 1, 2]);
    assert_eq!(r.hv.synic().delivered, 1);
    r.finish_with(&[page]);
}

#[test]
fn a_full_slot_is_never_overwritten_and_eom_delivers_the_next() {
    let (mut r, page) = Rig::messaging(1, 3);
    // Three completions: the first in the slot, two waiting behind it.
    let slot = r.hv.slot(&mut r.p, 0).unwrap();
    assert_eq!(slot.payload.buffer_index, 0);
    assert_eq!(slot.flags & MESSAGE_PENDING, MESSAGE_PENDING);
    assert_eq!(slot.queued, 2);
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 0
            },
            true
        )
    );
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 1
            },
            true
        )
    );
    // The last one has nothing behind it: no flag, and end-of-message is
    // not needed.
    assert_eq!(r.hv.slot(&mut r.p, 0).unwrap().flags & MESSAGE_PENDING, 0);
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 2
            },
            false
        )
    );
    assert_eq!(r.hv.slot(&mut r.p, 0).unwrap().message_type, HVMSG_NONE);
    assert_eq!(r.hv.synic().delivered, 3);
    r.finish_with(&[page]);
}

#[test]
fn another_drivers_message_stays_and_ours_wait_behind_it() {
    let mut r = Rig::logging(
        Geo {
            threshold: 1,
            ..GEO
        },
        6,
    );
    let page = r.message_page(0);
    const INTERCEPT: u32 = 0x8001_0000;
    r.hv.inject_foreign_message(&mut r.p, 0, INTERCEPT).unwrap();
    assert_eq!(
        r.hv.inject_foreign_message(&mut r.p, 0, INTERCEPT),
        Err(SynicError::SlotBusy)
    );
    let mut raised = 0;
    for _ in 0..(2 * 100 + 1) {
        r.write(0, 24);
        raised += r.hv.post_messages(&mut r.p).iter().count();
    }
    assert_eq!(raised, 0);
    let slot = r.hv.slot(&mut r.p, 0).unwrap();
    assert_eq!(slot.message_type, INTERCEPT);
    assert_eq!(slot.flags & MESSAGE_PENDING, MESSAGE_PENDING);
    assert_eq!(slot.queued, 2);
    // The other driver takes its message: ours follow in order.
    assert_eq!(r.hv.consume_foreign_message(&mut r.p, 0), Ok(true));
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 0
            },
            true
        )
    );
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 1
            },
            false
        )
    );
    // An event log message is not the other driver's to take.
    assert_eq!(
        r.hv.consume_foreign_message(&mut r.p, 0),
        Err(SynicError::NotForeign)
    );
    r.finish_with(&[page]);
}

#[test]
fn a_slot_emptied_without_eom_is_filled_on_the_next_post() {
    let (mut r, page) = Rig::messaging(1, 2);
    // The partition clears the slot but misses the pending flag.
    r.p.mem(page)[0..4].fill(0);
    assert!(r.hv.post_messages(&mut r.p).contains(0));
    assert_eq!(r.hv.slot(&mut r.p, 0).unwrap().payload.buffer_index, 1);
    r.finish_with(&[page]);
}

#[test]
fn no_message_page_means_messages_wait() {
    let mut r = Rig::logging(
        Geo {
            threshold: 1,
            ..GEO
        },
        6,
    );
    for _ in 0..(2 * 100 + 1) {
        r.write(0, 24);
        assert_eq!(r.hv.post_messages(&mut r.p).iter().count(), 0);
    }
    assert_eq!(r.hv.synic().queued(0), 2);
    r.finish();
}

#[test]
fn a_slot_emptied_while_a_message_waits_gets_that_message() {
    // One completion in the slot, nothing behind it.
    let (mut r, page) = Rig::messaging(1, 1);
    let slot = r.hv.slot(&mut r.p, 0).unwrap();
    assert_eq!((slot.payload.buffer_index, slot.queued), (0, 0));
    assert_eq!(slot.flags & MESSAGE_PENDING, 0);
    // The next completion finds the slot full; right then the partition
    // empties it and reads the flag (not set yet), so it will not signal
    // end-of-message. The waiting message must not wait for a signal that
    // never comes: it goes into the emptied slot.
    r.p.empty_slot_after_look = Some(page);
    for _ in 0..101 {
        r.write(0, 24);
        r.hv.post_messages(&mut r.p);
        // Looked at right after the post that met the race: a later post
        // would find the slot empty and fill it anyway.
        if r.p.partition_saw_pending.is_some() {
            break;
        }
    }
    assert_eq!(r.p.partition_saw_pending, Some(false), "the race ran");
    let slot = r.hv.slot(&mut r.p, 0).unwrap();
    assert_eq!(slot.message_type, HVMSG_EVENTLOG_BUFFERCOMPLETE);
    assert_eq!((slot.payload.buffer_index, slot.queued), (1, 0));
    r.finish_with(&[page]);
}
