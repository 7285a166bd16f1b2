// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: synthetic event writers (pure, host-tested).
//!
//! The kernel shell calls [`Hypervisor::write_event`] from its timers, one
//! CPU at a time, to stand in for the hypervisor logging an event on that
//! logical processor. The writer fills buffers exactly as the module's
//! consumer expects the real hypervisor to, so the consumer cannot tell the
//! difference.
//!
//! # Rules
//!
//! - **When.** Only while a group exists and its source mask is not zero;
//!   the synthetic events belong to every source. Otherwise
//!   [`Outcome::Disabled`].
//! - **Where.** A CPU writes only into buffers assigned to it with
//!   [`Hypervisor::set_affinity`]; if none of those exists,
//!   [`Outcome::NotServed`]. It has at most one in-use buffer; when it needs
//!   a new one it takes its *lowest-index* free or ready buffer. With the
//!   plan's consecutive indices per CPU this fills a CPU's buffers in index
//!   order and keeps every record on the CPU the plan gave it.
//! - **Entry.** `{context, size, type, timestamp, payload}`: `context` is the
//!   CPU's event sequence number, which also counts lost events, so a gap
//!   shows a loss; `size` is 16 + payload; `type` is [`SYNTHETIC_ENTRY_TYPE`];
//!   payload byte `i` is [`payload_byte`]`(context, i)`. Entries are padded
//!   with zeros to 8 bytes. The header's `next_buffer_offset` counts the
//!   entry bytes from the end of the 72-byte header (the padded end of the
//!   last entry minus 72), so with a fixed payload size the entry count is
//!   `next_buffer_offset / padded size`; `buffer_size` is the bytes after the
//!   header. An entry may end exactly at the buffer end.
//! - **Time.** [`Platform::now`] in the group's time basis, raised to one
//!   past the CPU's previous entry if needed: strictly increasing per CPU.
//!   A buffer's header `time_stamp` is its first entry's.
//! - **Full.** When an entry does not fit, the in-use buffer completes: its
//!   header turns complete and it joins the pending chain (linked through
//!   `next_buffer_index`, oldest first). When the chain holds `threshold`
//!   buffers it moves to the outbox and [`WriteResult::notify`] is set: the
//!   shell should fire its completion hook and fetch the chain with
//!   [`Hypervisor::take_notification`].
//! - **No free buffer, regular mode.** The event is dropped
//!   ([`Outcome::Lost`]) and counted for the CPU; the count becomes the
//!   `events_lost` of the next buffer the CPU starts. (It cannot go into the
//!   full buffer's header: that buffer is complete and may already be read.)
//! - **No free buffer, circular mode.** The CPU's oldest complete buffer
//!   (earliest completed, told to the partition or not) is taken off any
//!   chain and restarted ([`Outcome::Overwrote`]); its `events_lost` counts
//!   the entries it discarded plus the CPU's pending losses. A consumer that
//!   follows a chain must stop at a buffer that is no longer complete.
//! - **Starting a buffer.** Its header shows InUse before anything of the
//!   new fill is written, header fields or entries, and its final state is
//!   stored last (`publish_header` in `machine.rs`): a reader that found it
//!   complete before and after reading it read nothing of a later fill
//!   (`policy/snapshot.rs`).
//! - **Too large.** An entry that could not fit even an empty buffer is
//!   refused ([`Outcome::TooLarge`]) and counts as nothing.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use super::hypervisor::{Hypervisor, MAX_CPUS};
use super::machine::{fill_pages, Platform};
use crate::tlfs::{
    BufferState, EntryHeader, EventLogMode, Wire, ENTRIES_OFFSET, ENTRY_ALIGN, PAGE_SIZE,
};

// Buffers are whole pages and the header keeps entries aligned, so padding an
// entry that fits never runs past the buffer end (see `fits`).
const _: () =
    assert!(PAGE_SIZE.is_multiple_of(ENTRY_ALIGN) && ENTRIES_OFFSET.is_multiple_of(ENTRY_ALIGN));

/// Entry type of every synthetic event.
pub const SYNTHETIC_ENTRY_TYPE: u16 = 0x5E0E;

/// Byte `i` of the payload of the event with context `seq`: a pattern the
/// consumer's tests can check without knowing anything else.
pub const fn payload_byte(seq: u32, i: usize) -> u8 {
    (seq as u8).wrapping_add(i as u8)
}

/// How many of the `due` events owed to one CPU a tick of the writers logs,
/// and how many it drops (counted with [`Hypervisor::drop_events`]): at most
/// `cap` are logged, so one tick's work is bounded whatever the rate and
/// however late the tick runs.
pub const fn events_this_tick(due: u64, cap: u32) -> (u32, u32) {
    let write = if due < cap as u64 { due as u32 } else { cap };
    let excess = due - write as u64;
    let dropped = if excess > u32::MAX as u64 {
        u32::MAX
    } else {
        excess as u32
    };
    (write, dropped)
}

/// Byte `i` of a synthetic entry of `size` bytes: its header (`context` is
/// `seq`), the [`payload_byte`] pattern, then zero padding up to the next
/// 8-byte boundary. The writers here and the system log (`system.rs`) both
/// fill entries with it.
pub(super) fn entry_bytes(entry_type: u16, seq: u32, size: u16, ts: u64) -> impl Fn(usize) -> u8 {
    let mut head = [0; EntryHeader::SIZE];
    let header = EntryHeader {
        context: seq,
        size,
        entry_type,
        timestamp: ts,
    };
    let _ = header.encode(&mut head);
    move |i| match i {
        _ if i < EntryHeader::SIZE => head[i],
        _ if i < usize::from(size) => payload_byte(seq, i - EntryHeader::SIZE),
        _ => 0,
    }
}

/// Per-CPU writer state. Zero bytes are a fresh CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cpu {
    /// Entry context of the next event: counts every event offered on this
    /// CPU, lost ones included, so gaps show losses.
    pub(super) seq: u32,
    /// Events lost since the CPU's last buffer was started.
    pub(super) pending_lost: u32,
    /// Timestamp of the CPU's last entry.
    pub(super) last_ts: u64,
}

impl Cpu {
    pub(super) const EMPTY: Self = Self {
        seq: 0,
        pending_lost: 0,
        last_ts: 0,
    };
}

/// What happened to one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written into `buffer` at `offset`.
    Written {
        /// Buffer index.
        buffer: u32,
        /// Offset of the entry from the buffer start.
        offset: u32,
    },
    /// Circular mode: `buffer`, the CPU's oldest complete buffer, was
    /// restarted, its `discarded` entries dropped, and the event written at
    /// `offset`.
    Overwrote {
        /// Buffer index.
        buffer: u32,
        /// Offset of the entry from the buffer start.
        offset: u32,
        /// Entries the buffer held before.
        discarded: u32,
    },
    /// Regular mode (or no buffer mapped): no free buffer, event dropped.
    Lost,
    /// No existing buffer is assigned to the CPU.
    NotServed,
    /// No group, or no source enabled.
    Disabled,
    /// The entry would not fit an empty buffer.
    TooLarge,
}

/// The result of [`Hypervisor::write_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteResult {
    /// What happened to the event.
    pub outcome: Outcome,
    /// The buffer this write completed, if the previous one was full.
    pub completed: Option<u32>,
    /// Whether the completed chain reached the threshold and a notification
    /// is waiting in [`Hypervisor::take_notification`].
    pub notify: bool,
}

impl Hypervisor {
    /// Logs one synthetic event of `payload_len` payload bytes on `cpu`; see
    /// the module documentation for the rules.
    pub fn write_event<P: Platform>(
        &mut self,
        p: &mut P,
        cpu: u32,
        payload_len: u16,
    ) -> WriteResult {
        let mut completed = None;
        let outcome = self.write(p, cpu, payload_len, &mut completed);
        let notify = self.threshold_reached() && self.deliver(p);
        WriteResult {
            outcome,
            completed,
            notify,
        }
    }

    /// Counts `count` events of `cpu` as lost without writing them, as the
    /// hypervisor counts an event it could not log: each takes the CPU's
    /// next sequence number (so the `context` of the next entry shows the
    /// gap) and adds to the CPU's pending losses, which become the
    /// `events_lost` of the next buffer the CPU starts (in either mode).
    /// For the kernel shell's writers, which log at most a fixed number of
    /// events per CPU per tick ([`events_this_tick`]) and drop the rest.
    /// Counts nothing where [`Hypervisor::write_event`] would log nothing
    /// ([`Outcome::Disabled`], [`Outcome::NotServed`]). Returns the number
    /// counted.
    pub fn drop_events(&mut self, cpu: u32, count: u32) -> u32 {
        if count == 0 || !self.logging() || !self.serves(cpu) {
            return 0;
        }
        let c = &mut self.cpus[cpu as usize];
        c.seq = c.seq.wrapping_add(count);
        c.pending_lost = c.pending_lost.saturating_add(count);
        count
    }

    fn write<P: Platform>(
        &mut self,
        p: &mut P,
        cpu: u32,
        payload_len: u16,
        completed: &mut Option<u32>,
    ) -> Outcome {
        if !self.logging() {
            return Outcome::Disabled;
        }
        if !self.serves(cpu) {
            return Outcome::NotServed;
        }
        let size = EntryHeader::SIZE + usize::from(payload_len);
        let Ok(size16) = u16::try_from(size) else {
            return Outcome::TooLarge;
        };
        if ENTRIES_OFFSET + size > self.group.buffer_bytes() {
            return Outcome::TooLarge;
        }
        let c = cpu as usize;
        let seq = self.cpus[c].seq;
        self.cpus[c].seq = seq.wrapping_add(1);
        let ts = p
            .now(self.group.time_basis)
            .max(self.cpus[c].last_ts.saturating_add(1));

        let current = self.current(cpu);
        let (index, discarded) = match current {
            Some(index) if self.fits(index, size) => (index, None),
            _ => {
                if let Some(full) = current {
                    self.complete(p, full);
                    *completed = Some(full as u32);
                }
                let Some(next) = self.next_buffer(p, cpu, ts) else {
                    let lost = &mut self.cpus[c].pending_lost;
                    *lost = lost.saturating_add(1);
                    return Outcome::Lost;
                };
                next
            }
        };
        let offset = self.append(p, index, seq, size16, ts);
        self.cpus[c].last_ts = ts;
        let buffer = index as u32;
        match discarded {
            Some(discarded) => Outcome::Overwrote {
                buffer,
                offset,
                discarded,
            },
            None => Outcome::Written { buffer, offset },
        }
    }

    /// Whether the writers log at all: a group exists and a source is on.
    fn logging(&self) -> bool {
        self.group.active && self.group.sources != 0
    }

    /// Whether an existing buffer is assigned to `cpu`.
    fn serves(&self, cpu: u32) -> bool {
        cpu < MAX_CPUS
            && self
                .buffers
                .iter()
                .any(|b| b.exists && b.has_cpu && b.cpu == cpu)
    }

    /// The CPU's in-use buffer.
    fn current(&self, cpu: u32) -> Option<usize> {
        self.buffers
            .iter()
            .position(|b| b.is(cpu, BufferState::InUse))
    }

    /// Whether an entry of `size` bytes fits after the entries of buffer
    /// `index`. The buffer size and the header are multiples of
    /// [`ENTRY_ALIGN`], so an entry that fits also fits with its padding.
    fn fits(&self, index: usize, size: usize) -> bool {
        ENTRIES_OFFSET + self.buffers[index].used as usize + size <= self.group.buffer_bytes()
    }

    /// Starts the CPU's next buffer; with the entries discarded to get it
    /// when circular mode had to recycle one.
    fn next_buffer<P: Platform>(
        &mut self,
        p: &mut P,
        cpu: u32,
        ts: u64,
    ) -> Option<(usize, Option<u32>)> {
        let free = self
            .buffers
            .iter()
            .position(|b| b.is(cpu, BufferState::Free) || b.is(cpu, BufferState::Ready));
        if let Some(index) = free {
            self.start(p, index, ts, 0);
            return Some((index, None));
        }
        if self.group.mode != EventLogMode::Circular {
            return None;
        }
        let oldest = (0..self.buffers.len())
            .filter(|&i| self.buffers[i].is(cpu, BufferState::Complete))
            .min_by_key(|&i| self.buffers[i].completed)?;
        let discarded = self.buffers[oldest].entries;
        self.unlink(p, oldest);
        self.start(p, oldest, ts, discarded);
        Some((oldest, Some(discarded)))
    }

    /// Makes buffer `index` the in-use buffer of its CPU, charging it the
    /// CPU's pending losses plus `discarded`. The header it was complete,
    /// free or ready with shows InUse before any of the new values
    /// (`set_state` publishes through `publish_header`), and `append`
    /// writes entries only after that.
    fn start<P: Platform>(&mut self, p: &mut P, index: usize, ts: u64, discarded: u32) {
        let cpu = self.buffers[index].cpu as usize;
        let lost = self
            .cpus
            .get_mut(cpu)
            .map_or(0, |c| core::mem::take(&mut c.pending_lost));
        let b = &mut self.buffers[index];
        b.clear_contents();
        b.events_lost = lost.saturating_add(discarded);
        b.time_stamp = ts;
        self.set_state(p, index, BufferState::InUse);
    }

    /// Completes buffer `index` and queues it for notification.
    pub(super) fn complete<P: Platform>(&mut self, p: &mut P, index: usize) {
        self.buffers[index].state = BufferState::Complete;
        self.enqueue(p, index);
        self.sync_header(p, index);
    }

    /// Writes one entry at the end of buffer `index` (which it fits) and
    /// returns its offset.
    fn append<P: Platform>(
        &mut self,
        p: &mut P,
        index: usize,
        seq: u32,
        size: u16,
        ts: u64,
    ) -> u32 {
        // `used` counts from the end of the header; `start` and `end` are
        // offsets from the buffer start.
        let start = ENTRIES_OFFSET + self.buffers[index].used as usize;
        let end = EntryHeader::next_offset(start, size);
        self.fill(
            p,
            index,
            start..end,
            entry_bytes(SYNTHETIC_ENTRY_TYPE, seq, size, ts),
        );
        let b = &mut self.buffers[index];
        b.used = (end - ENTRIES_OFFSET) as u32;
        b.entries = b.entries.saturating_add(1);
        self.sync_header(p, index);
        start as u32
    }

    /// Writes `byte(i)` to offset `range.start + i` of buffer `index`, page
    /// by page (a buffer's pages need not be contiguous).
    fn fill<P: Platform>(
        &self,
        p: &mut P,
        index: usize,
        range: core::ops::Range<usize>,
        byte: impl Fn(usize) -> u8,
    ) {
        fill_pages(p, |p, k| self.pfn_of(p, index, k), range, byte);
    }
}
