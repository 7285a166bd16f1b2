// SPDX-License-Identifier: GPL-2.0

//! Consistent snapshots of a live buffer header (pure, host-tested).
//!
//! The hypervisor rewrites a buffer's header while the partition reads it,
//! so the header is read the way a seqlock reader works, with
//! `buffer_state` and `time_stamp` together as the sequence. What makes that
//! sound is the order the writer keeps (the hypervisor's, and the
//! simulator's `publish_header` in `sim/model/machine.rs`):
//!
//! 1. A buffer that starts a new fill is **opened** first: `buffer_state =
//!    InUse`, stored with release semantics and followed by a write barrier,
//!    before any other field of the new fill (or any entry) is written.
//! 2. The fields of a fill (`time_stamp`, the fill's start, among them) are
//!    written only while the state reads InUse. `time_stamp` is stored as
//!    one 8-byte access and differs between two fills of a buffer (each
//!    fill starts later than the one before).
//! 3. The state the fill ends in (Complete) is stored **last**, with
//!    release semantics.
//! 4. While a header reads Complete, Free or Ready, nothing in it changes
//!    but the chain link `next_buffer_index` (one 4-byte store, when a
//!    buffer completed after it joins or leaves its chain) and the state
//!    itself (a store of another state: a buffer leaves Complete only that
//!    way, e.g. by rule 1).
//!
//! The simulator keeps all four (its host tests check every store it
//! makes). Of the hypervisor, rules 1 and 3 are its documented order; that
//! it writes `time_stamp` and a complete header's link each as one aligned
//! store, and nothing else of a closed header, is what this reader assumes.
//!
//! # The read
//!
//! `t1 = time_stamp` (acquire), `s1 = state` (acquire), the other bytes,
//! a read barrier, `s2 = state` (acquire), `t2 = time_stamp`. The snapshot
//! is accepted only if `s1 == s2`, `t1 == t2`, and the copy holds that
//! state and that time stamp too; otherwise the read is tried again.
//!
//! # Why an accepted Complete, Free or Ready snapshot is one fill's
//!
//! Say `s1` read the store that ended fill `j` (Complete; a release, Ready,
//! or the map, Free, go the same way). The acquire makes the copy see every
//! field fill `j` wrote. Suppose the copy also saw a store of a later fill `m > j`. That
//! store came after fill `m`'s opening store (rule 1, write barrier), and
//! the copy is ordered before `s2` (read barrier), so `s2` reads fill `m`'s
//! opening store or a later state store. If `s2` equals `s1` it is not
//! InUse, so it is the end of some fill `n ≥ m` (a state that changed and
//! changed back, A→B→A, which the state alone cannot tell); then `t2`,
//! read after it with acquire, is fill `n`'s time stamp or a later one.
//! And `t1` is fill `j`'s time stamp or an earlier one: `t1` was read
//! before `s1`, so had it been a later fill's, `s1` would have read that
//! fill's opening store or later (rules 1 and 2), not the end of fill `j`.
//! Time stamps of different fills differ (rule 2), so `t1 != t2`, and the
//! snapshot is refused. Hence an accepted one holds fill `j`'s fields and
//! nothing of any later fill; its `next_buffer_index` is the link at some
//! instant while the header showed that state (rule 4: it changes as one
//! store). The same argument with the state alone would leave A→B→A open.
//!
//! # What an InUse snapshot guarantees
//!
//! Only that the state read InUse before and after the copy, with the same
//! time stamp. Its other fields are in flux by nature: after the opening
//! store they may still be the previous fill's until the writer rewrites
//! them, and `next_buffer_offset` (and with it the entries) grows while
//! it is read, possibly mid-update. The callers take no more from it: the
//! completion tracker (`completion.rs`) reports and releases only Complete
//! headers, teardown and resize look at the state alone, and a flush
//! (`group/mod.rs`) needs `logical_processor`, which the writer rewrites
//! with the same value on every fill unless the buffer was given to
//! another processor while it was free or ready; a flush that meets that
//! window misses a buffer that has just started, or flushes it for the
//! processor it served before, and nothing worse.
//!
//! A Standby header guarantees nothing either: the writer fills in a
//! standby header's fields before it maps the buffer and clears them after
//! it unmapped it, while no partition reads it.
//!
//! Only `core` is used, so the same file builds in the module and in the
//! host tests (tests/host/tests/snapshot.rs, and tests/host/tests/sim/, which
//! replay the simulator's own stores against every interleaving of a read).

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

// The state is read as an aligned 32-bit word and the time stamp as an
// aligned 64-bit word inside the header.
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

    /// Loads `time_stamp` as one 8-byte access with acquire semantics.
    fn load_time_stamp(&self) -> u64;

    /// Copies the header's bytes. Every load it makes is ordered before any
    /// later [`LiveHeader::load_state`] (in the kernel: it ends with
    /// `smp_rmb()`).
    fn copy(&self, out: &mut [u8; ENTRIES_OFFSET]);
}

/// A header whose fields all belong to the state it shows (see the module
/// documentation for what that means for each state), or `None` if the
/// writer kept changing it for [`SNAPSHOT_TRIES`] attempts.
pub fn snapshot(live: &impl LiveHeader) -> Option<BufferHeader> {
    let mut bytes = [0u8; ENTRIES_OFFSET];
    for _ in 0..SNAPSHOT_TRIES {
        // The time stamp before the state: a fill started after it was read
        // cannot end before the state is read unnoticed.
        let stamp = live.load_time_stamp();
        let before = live.load_state();
        live.copy(&mut bytes);
        let after = live.load_state();
        let stamp_after = live.load_time_stamp();
        let Some(header) = BufferHeader::decode(&bytes) else {
            continue;
        };
        // The state alone cannot tell a fill that ended while the bytes
        // were copied (Complete, InUse, Complete): the time stamp can.
        if after == before
            && stamp_after == stamp
            && header.buffer_state == before
            && header.time_stamp == stamp
        {
            return Some(header);
        }
    }
    None
}
