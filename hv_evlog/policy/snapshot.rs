// SPDX-License-Identifier: GPL-2.0

//! Consistent snapshots of a live buffer header (pure, host-tested).
//!
//! The hypervisor rewrites a buffer's header while the partition reads it.
//! Its writer (and the simulator's, `publish_header` in `sim/model/machine.rs`) stores every
//! other field first and `buffer_state` last, with release semantics: a
//! reader that loads the state with acquire semantics sees every field
//! written before that state was published. Fields still change under a
//! reader whose state load came before a newer publication, so a snapshot is
//! taken the way a seqlock reader works, with the state as the sequence:
//! state (acquire), the other bytes, a read barrier, the state again; equal
//! states mean the bytes belong to that state, otherwise try again.
//!
//! Only `core` is used, so the same file builds in the module and in the
//! host tests (tests/host/tests/snapshot.rs), where a fake header changes
//! between the reads.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; in the kernel module they are crate-private.
#![allow(unreachable_pub)]

use core::mem::offset_of;

use crate::tlfs::{BufferHeader, Wire, ENTRIES_OFFSET};

/// Byte offset of `buffer_state` in the header: the field published last.
pub const STATE_OFFSET: usize = offset_of!(BufferHeader, buffer_state);

/// Byte offset of `time_stamp` in the header: the field that tells one fill
/// from the next.
pub const TIME_STAMP_OFFSET: usize = offset_of!(BufferHeader, time_stamp);

// The state is read as an aligned 32-bit word inside the header, and the
// time stamp is written as an aligned 64-bit word.
const _: () = assert!(STATE_OFFSET.is_multiple_of(4) && STATE_OFFSET + 4 <= ENTRIES_OFFSET);
const _: () =
    assert!(TIME_STAMP_OFFSET.is_multiple_of(8) && TIME_STAMP_OFFSET + 8 <= ENTRIES_OFFSET);
const _: () = assert!(BufferHeader::SIZE == ENTRIES_OFFSET);

/// How many times [`snapshot`] tries before it gives up. A writer that
/// changes the state this often during one 72-byte copy is not making
/// progress a reader could follow; the caller treats the header as unknown.
pub const SNAPSHOT_TRIES: usize = 16;

/// A header the hypervisor may be writing while it is read.
pub trait LiveHeader {
    /// Loads `buffer_state` with acquire semantics.
    fn load_state(&self) -> u32;

    /// Copies the header's bytes. Every load it makes is ordered before any
    /// later [`LiveHeader::load_state`] (in the kernel: it ends with
    /// `smp_rmb()`).
    fn copy(&self, out: &mut [u8; ENTRIES_OFFSET]);
}

/// A header whose fields all belong to the state it shows, or `None` if the
/// writer kept changing it for [`SNAPSHOT_TRIES`] attempts.
pub fn snapshot(live: &impl LiveHeader) -> Option<BufferHeader> {
    let mut bytes = [0u8; ENTRIES_OFFSET];
    for _ in 0..SNAPSHOT_TRIES {
        let before = live.load_state();
        live.copy(&mut bytes);
        let header = BufferHeader::decode(&bytes)?;
        // The state copied with the fields must be the one read around
        // them too: a state that changed and changed back (A, B, A) shows
        // up here.
        if live.load_state() == before && header.buffer_state == before {
            return Some(header);
        }
    }
    None
}
