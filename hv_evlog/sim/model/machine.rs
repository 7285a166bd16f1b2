// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: the machine under it, pages, nodes and time
//! (pure, host-tested).
//!
//! The simulator owns no memory: every page it keeps lives in the
//! partition's memory, reached through a [`Platform`]. The pages it keeps are
//! the ones the partition can read while the simulator writes them, so they
//! are only ever copied in and out (never borrowed), and headers are
//! rewritten in the order the partition's snapshot reader relies on
//! (`policy/snapshot.rs`); the helpers here do that once for every part of
//! the model.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use core::mem::offset_of;
use core::ops::Range;

use crate::policy::snapshot::{STATE_OFFSET, TIME_STAMP_OFFSET};
use crate::tlfs::{BufferHeader, BufferState, TimeBasis, Wire, ENTRIES_OFFSET, PAGE_SIZE};

/// `PAGE_SIZE` as a shift, for page numbers and byte counts of whole pages.
pub(super) const PAGE_SHIFT: u32 = 12;
/// The offset-in-page bits of an address.
pub(super) const PAGE_OFFSET_MASK: u64 = PAGE_SIZE as u64 - 1;
const _: () = assert!(1 << PAGE_SHIFT == PAGE_SIZE);

/// What the simulator needs from its surroundings.
///
/// The kernel shell implements it over real pages on real nodes, the host
/// tests over a `Vec` of pages.
pub trait Platform {
    /// A zeroed page on `node`, as a PFN; `None` if the node has no memory
    /// left. Used only to seed the pool.
    fn alloc_page(&mut self, node: u32) -> Option<u64>;

    /// Takes back a page the simulator owned (seeded or deposited).
    fn free_page(&mut self, pfn: u64);

    /// The node a page belongs to; `None` for a PFN that is not memory.
    fn node_of_pfn(&self, pfn: u64) -> Option<u32>;

    /// The node of an ACPI proximity domain; `None` if there is none.
    fn node_of_pxm(&self, pxm: u32) -> Option<u32>;

    /// The contents of a page the caller of a hypercall handed over for
    /// that call, its input or output page (in the kernel: through the
    /// direct map); `None` for a PFN that is not memory. Only for those:
    /// the `Transport` contract keeps the caller off them during the call,
    /// so a reference is sound. Every page the simulator keeps (pool,
    /// bookkeeping, buffers, message pages) goes through [`Platform::read`]
    /// and [`Platform::write`] instead.
    fn call_page(&mut self, pfn: u64) -> Option<&mut [u8; PAGE_SIZE]>;

    /// Copies the bytes at `offset` of page `pfn` into `out`. For the pages
    /// the simulator keeps, which the partition may read (the device's
    /// scanner, a SINT0 handler, userspace through a mapping, also after a
    /// stop handed a buffer's pages back to the pool) while the simulator
    /// writes them: the kernel shell copies through raw pointers, byte by
    /// byte as `READ_ONCE` does, never through a reference. Returns
    /// `false`, copying nothing, for a PFN that is not memory or a range
    /// that leaves the page.
    fn read(&mut self, pfn: u64, offset: usize, out: &mut [u8]) -> bool;

    /// Stores `bytes` at `offset` of page `pfn` (as `WRITE_ONCE` does, byte
    /// by byte, in the kernel shell); as [`Platform::read`].
    fn write(&mut self, pfn: u64, offset: usize, bytes: &[u8]) -> bool;

    /// The little-endian `u64` at `offset` of page `pfn`, through
    /// [`Platform::read`]; `None` for a PFN that is not memory.
    fn load_u64(&mut self, pfn: u64, offset: usize) -> Option<u64> {
        let mut bytes = [0; 8];
        self.read(pfn, offset, &mut bytes)
            .then(|| u64::from_le_bytes(bytes))
    }

    /// Stores `value` little-endian at `offset` of page `pfn`. At an 8-byte
    /// aligned offset it must be one access (`WRITE_ONCE` of a `u64`; the
    /// kernel shell overrides this default, which goes through
    /// [`Platform::write`]), so that a reader's 8-byte load sees the old or
    /// the new value, never a mix: how a header's `time_stamp`, which
    /// readers compare to tell fills apart, is written.
    fn store_u64(&mut self, pfn: u64, offset: usize, value: u64) {
        self.write(pfn, offset, &value.to_le_bytes());
    }

    /// Stores `value` little-endian at the 4-byte aligned `offset` of page
    /// `pfn` with release semantics (`smp_store_release`): a reader that
    /// loads it with acquire semantics also sees every earlier store to the
    /// page. How a header's `buffer_state` (and a complete header's chain
    /// link) is published; nothing is stored for a PFN that is not memory.
    fn store_release_u32(&mut self, pfn: u64, offset: usize, value: u32);

    /// Orders every earlier store before every later one (`smp_wmb`): a
    /// reader that sees a later store, and orders its loads with a read
    /// barrier, sees the earlier ones too. How a header is opened for
    /// rewriting: `buffer_state = InUse`, this barrier, then the fields.
    fn write_barrier(&mut self);

    /// Replaces the little-endian `u64` at the 8-byte aligned `offset` of
    /// page `pfn` with `new` if it still is `current`, in one fully ordered
    /// compare-and-exchange (`cmpxchg`); returns whether it did (`false`
    /// for a PFN that is not memory). How a word the partition stores
    /// concurrently is changed only while it holds what was read (a
    /// message slot's flags beside its type).
    fn compare_exchange_u64(&mut self, pfn: u64, offset: usize, current: u64, new: u64) -> bool;

    /// Loads the little-endian `u32` at the 4-byte aligned `offset` of page
    /// `pfn` with acquire semantics: how the simulator reads a word the
    /// partition stores concurrently (a message slot's type). 0 for a PFN
    /// that is not memory.
    fn load_acquire_u32(&mut self, pfn: u64, offset: usize) -> u32;

    /// The current time in `basis`. Need not be strictly increasing; the
    /// writer makes entry timestamps so per CPU.
    fn now(&self, basis: TimeBasis) -> u64;

    /// Number of possible CPU ids (`nr_cpu_ids`); VP indices are below it.
    fn cpu_count(&self) -> u32;
}

/// Byte offset of `next_buffer_index`: the one field of a complete header
/// that changes (a buffer completed after it joins or leaves its chain).
const NEXT_INDEX_OFFSET: usize = offset_of!(BufferHeader, next_buffer_index);

const _: () =
    assert!(NEXT_INDEX_OFFSET.is_multiple_of(4) && NEXT_INDEX_OFFSET + 4 <= ENTRIES_OFFSET);
const _: () = assert!(TIME_STAMP_OFFSET + 8 <= STATE_OFFSET);

/// Whether a header showing `state` may have its fields rewritten: in use
/// (readers know its fields are in flux), or standby (not mapped: no reader
/// looks). Complete, free and ready headers are closed: a reader that finds
/// one of those states before and after its copy takes the fields for
/// final (`policy/snapshot.rs`).
fn open(state: u32) -> bool {
    state == BufferState::InUse.raw() || state == BufferState::Standby.raw()
}

/// Writes `header` to the start of page `pfn` in the order the partition's
/// readers rely on (`policy/snapshot.rs`), from whatever the page shows now:
///
/// - **Closed to closed** (complete, free or ready before and after): only
///   `next_buffer_index` (one store) and then the state may change; the
///   model never changes anything else of a closed header (a release keeps
///   the fill's fields, see `buffers.rs`).
/// - **Closed to open** (a buffer (re)started: InUse; unmapped: Standby):
///   the new state first, with release semantics and a write barrier, so
///   that no reader can find the old state around a copy that saw any new
///   field; then the fields as below.
/// - **Open**: every other field, `time_stamp` as one 8-byte store, then
///   the new state, with release semantics, last.
///
/// Built aside and copied, never zeroed in place, so a field that keeps its
/// value is never seen changing.
pub(super) fn publish_header<P: Platform>(p: &mut P, pfn: u64, header: &BufferHeader) {
    let mut bytes = [0u8; ENTRIES_OFFSET];
    let _ = header.encode(&mut bytes);
    // The simulator is the page's only writer: this is its own last store.
    let mut shown = p.load_acquire_u32(pfn, STATE_OFFSET);
    let state = header.buffer_state;
    if !open(shown) {
        if !open(state) {
            let mut link = [0u8; 4];
            let next = header.next_buffer_index;
            if p.read(pfn, NEXT_INDEX_OFFSET, &mut link) && u32::from_le_bytes(link) != next {
                p.store_release_u32(pfn, NEXT_INDEX_OFFSET, next);
            }
            if shown != state {
                p.store_release_u32(pfn, STATE_OFFSET, state);
            }
            return;
        }
        p.store_release_u32(pfn, STATE_OFFSET, state);
        p.write_barrier();
        shown = state;
    }
    let stamp = TIME_STAMP_OFFSET..TIME_STAMP_OFFSET + 8;
    let state_word = STATE_OFFSET..STATE_OFFSET + 4;
    p.write(pfn, 0, &bytes[..stamp.start]);
    p.store_u64(pfn, stamp.start, header.time_stamp);
    p.write(pfn, stamp.end, &bytes[stamp.end..state_word.start]);
    p.write(pfn, state_word.end, &bytes[state_word.end..]);
    if shown != state {
        p.store_release_u32(pfn, STATE_OFFSET, state);
    }
}

/// Zeroes page `pfn` through [`Platform::write`].
pub(super) fn zero_page<P: Platform>(p: &mut P, pfn: u64) {
    const ZEROS: [u8; 256] = [0; 256];
    for k in 0..PAGE_SIZE / ZEROS.len() {
        p.write(pfn, k * ZEROS.len(), &ZEROS);
    }
}

/// Writes `byte(i)` to byte `range.start + i` of a run of pages, page `k`
/// of which is `pfn(p, k)` (a buffer's pages need not be contiguous),
/// through [`Platform::write`] in small pieces.
pub(super) fn fill_pages<P: Platform>(
    p: &mut P,
    pfn: impl Fn(&mut P, usize) -> Option<u64>,
    range: Range<usize>,
    byte: impl Fn(usize) -> u8,
) {
    let mut chunk = [0u8; 64];
    let mut pos = range.start;
    while pos < range.end {
        let in_page = pos % PAGE_SIZE;
        let len = (PAGE_SIZE - in_page).min(range.end - pos).min(chunk.len());
        for (i, b) in chunk[..len].iter_mut().enumerate() {
            *b = byte(pos - range.start + i);
        }
        if let Some(pfn) = pfn(p, pos / PAGE_SIZE) {
            p.write(pfn, in_page, &chunk[..len]);
        }
        pos += len;
    }
}
