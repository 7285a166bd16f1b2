// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: the buffer group and each buffer's state machine
//! (pure, host-tested).
//!
//! The group calls (initialize, finalize, set sources) and the buffer calls
//! (create, delete, map, unmap, release, flush) act here; "Model" and
//! "Statuses" in `hypervisor.rs` give their rules. A buffer's slot is the
//! simulator's truth and page 0 of the buffer shows it: every change of a
//! slot rewrites the header, so the partition never has to ask. Headers are
//! rewritten as `publish_header` (`machine.rs`) says: a complete, free or
//! ready header changes only its chain link and its state, so a release
//! leaves the fill's fields in place, and a (re)started buffer shows InUse
//! before anything of its new fill.

use core::mem::offset_of;
use core::ops::Range;

use super::chains::{Chain, Link};
use super::dispatch::{block, read_input, Regs};
use super::hypervisor::{Hypervisor, NOT_RAM_PFN};
use super::machine::{publish_header, Platform, PAGE_OFFSET_MASK, PAGE_SHIFT};
use super::writer::Cpu;
use crate::tlfs::{
    BufferHeader, BufferIdInput, BufferState, Control, CreateBufferInput, EventLogMode,
    EventLogType, FinalizeInput, FlushInput, HvStatus, InitializeGroupInput, MapBufferInput,
    MapOutput, SetSourcesInput, TimeBasis, UnmapBufferInput, Wire, END_OF_CHAIN, ENTRIES_OFFSET,
    HV_PARTITION_ID_SELF, MAP_MAX_PAGES, MAX_BUFFERS, MAX_BUFFER_PAGES, SOURCES_MAX_GROUPS,
};

/// Bytes of the initialize input between `time_basis` and `system_time`:
/// padding in the naturally aligned layout (must be zero), empty in the
/// packed one.
const INIT_PADDING: Range<usize> =
    offset_of!(InitializeGroupInput, time_basis) + 4..offset_of!(InitializeGroupInput, system_time);

/// One buffer slot. Zero bytes are the empty slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BufferSlot {
    /// Whether the buffer is created.
    pub(super) exists: bool,
    /// Its state; meaningful only when it exists.
    pub(super) state: BufferState,
    /// Pool (node) its pages came from.
    pub(super) node: u8,
    /// Whether `cpu` is set. Affinity outlives the buffer: it is the shell's
    /// configuration, not buffer state.
    pub(super) has_cpu: bool,
    /// The CPU the buffer serves.
    pub(super) cpu: u32,
    /// Completion list membership.
    pub(super) chain: Link,
    /// Whether `next` is set (header `next_buffer_index`).
    pub(super) has_next: bool,
    /// Next buffer in its completion chain.
    pub(super) next: u32,
    /// PFN of the page listing the buffer's page PFNs.
    pub(super) bookkeeping: u64,
    /// Header `next_buffer_offset`: entry bytes written after the header
    /// (the aligned end of the last entry, counted from the end of the
    /// header); 0 until started.
    pub(super) used: u32,
    /// Entries written since the buffer was started.
    pub(super) entries: u32,
    /// Header `events_lost`.
    pub(super) events_lost: u32,
    /// Header `time_stamp`: the first entry's.
    pub(super) time_stamp: u64,
    /// Completion order, to find the oldest complete buffer.
    pub(super) completed: u64,
}

impl BufferSlot {
    pub(super) const EMPTY: Self = Self {
        exists: false,
        state: BufferState::Standby,
        node: 0,
        has_cpu: false,
        cpu: 0,
        chain: Link::Unlinked,
        has_next: false,
        next: 0,
        bookkeeping: 0,
        used: 0,
        entries: 0,
        events_lost: 0,
        time_stamp: 0,
        completed: 0,
    };

    /// Whether the buffer exists, serves `cpu` and is in `state`.
    pub(super) fn is(&self, cpu: u32, state: BufferState) -> bool {
        self.exists && self.has_cpu && self.cpu == cpu && self.state == state
    }

    /// Forgets the contents, as when a buffer is started or unmapped.
    pub(super) fn clear_contents(&mut self) {
        self.used = 0;
        self.entries = 0;
        self.events_lost = 0;
        self.time_stamp = 0;
        self.has_next = false;
        self.next = 0;
    }
}

/// The buffer group. Zero bytes are "no group".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GroupState {
    pub(super) active: bool,
    pub(super) log_type: EventLogType,
    pub(super) mode: EventLogMode,
    pub(super) time_basis: TimeBasis,
    pub(super) max_buffers: u32,
    pub(super) buffer_pages: u32,
    pub(super) threshold: u32,
    pub(super) sources: u64,
}

impl GroupState {
    pub(super) const EMPTY: Self = Self {
        active: false,
        log_type: EventLogType::GlobalSystemEvents,
        mode: EventLogMode::Regular,
        time_basis: TimeBasis::Reference,
        max_buffers: 0,
        buffer_pages: 0,
        threshold: 0,
        sources: 0,
    };

    /// Validates an initialize input; `padding_clear` says whether its
    /// padding bytes are zero.
    fn from_input(input: &InitializeGroupInput, padding_clear: bool) -> Result<Self, HvStatus> {
        let bad = HvStatus::INVALID_PARAMETER;
        let log_type = EventLogType::from_raw(u32::from(input.log_type)).ok_or(bad)?;
        let mode = EventLogMode::from_raw(u32::from(input.mode)).ok_or(bad)?;
        let time_basis = TimeBasis::from_raw(input.time_basis).ok_or(bad)?;
        let max_buffers = input.max_buffer_count;
        let bytes = input.buffer_size_in_bytes;
        let buffer_pages = bytes >> PAGE_SHIFT;
        let threshold = input.threshold;
        let valid = (1..=MAX_BUFFERS).contains(&max_buffers)
            && u64::from(bytes) & PAGE_OFFSET_MASK == 0
            && (1..=MAX_BUFFER_PAGES).contains(&buffer_pages)
            && (1..=max_buffers).contains(&threshold)
            && padding_clear;
        if !valid {
            return Err(bad);
        }
        Ok(Self {
            active: true,
            log_type,
            mode,
            time_basis,
            max_buffers,
            buffer_pages,
            threshold,
            sources: 0,
        })
    }

    /// Bytes of each buffer, header included.
    pub(super) fn buffer_bytes(&self) -> usize {
        (self.buffer_pages as usize) << PAGE_SHIFT
    }
}

impl Hypervisor {
    pub(super) fn initialize<P: Platform>(&mut self, p: &mut P, gpa: u64) -> Result<(), HvStatus> {
        let raw = block(p, gpa, InitializeGroupInput::SIZE)?;
        let padding_clear = raw
            .get(INIT_PADDING)
            .is_some_and(|pad| pad.iter().all(|&b| b == 0));
        let input = InitializeGroupInput::decode(raw).ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
        if self.group.active {
            return Err(HvStatus::INVALID_PARTITION_STATE);
        }
        self.group = GroupState::from_input(&input, padding_clear)?;
        Ok(())
    }

    pub(super) fn finalize(&mut self, input: FinalizeInput) -> Result<(), HvStatus> {
        self.check_type(input.log_type)?;
        if input.reserved != 0 {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        if self.group.sources != 0 || self.buffers.iter().any(|b| b.exists) {
            return Err(HvStatus::OPERATION_DENIED);
        }
        self.end_group();
        Ok(())
    }

    /// Forgets the group and the writers' state; affinity stays.
    pub(super) fn end_group(&mut self) {
        self.synic.forget_messages();
        self.group = GroupState::EMPTY;
        self.pending = Chain::EMPTY;
        self.outbox = Chain::EMPTY;
        self.completions = 0;
        self.cpus.fill(Cpu::EMPTY);
    }

    pub(super) fn create<P: Platform>(
        &mut self,
        p: &mut P,
        input: CreateBufferInput,
    ) -> Result<(), HvStatus> {
        self.check_type(input.log_type)?;
        let index = self.check_index(input.buffer_index)?;
        if self.buffers[index].exists {
            return Err(HvStatus::OBJECT_IN_USE);
        }
        let node = self.placement(p, input.proximity)?;
        self.charge(p, node, index);
        Ok(())
    }

    pub(super) fn delete<P: Platform>(
        &mut self,
        p: &mut P,
        input: BufferIdInput,
    ) -> Result<(), HvStatus> {
        let index = self.existing(input)?;
        if self.buffers[index].state != BufferState::Standby {
            return Err(HvStatus::OBJECT_IN_USE);
        }
        self.return_pages(p, index);
        Ok(())
    }

    pub(super) fn map<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> Result<(), HvStatus> {
        let index = self.mapped_by(read_input(p, control, regs)?)?;
        if self.buffers[index].state != BufferState::Standby {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        // Refuse a bad output page before anything changes.
        block(p, regs.output, MapOutput::SIZE)?;
        let pages = self.group.buffer_pages as usize;
        let bad = core::mem::take(&mut self.bad_map_next);
        for k in 0..MAP_MAX_PAGES {
            let pfn = if k == 0 && bad {
                NOT_RAM_PFN
            } else if k < pages {
                self.pfn_of(p, index, k).unwrap_or(0)
            } else {
                0
            };
            if let Ok(out) = block(p, regs.output, MapOutput::SIZE) {
                let _ = MapOutput::set_page_number(out, k, pfn);
            }
        }
        self.set_state(p, index, BufferState::Free);
        Ok(())
    }

    pub(super) fn unmap<P: Platform>(
        &mut self,
        p: &mut P,
        input: UnmapBufferInput,
    ) -> Result<(), HvStatus> {
        let index = self.mapped_by(input)?;
        match self.buffers[index].state {
            BufferState::Free | BufferState::Ready => {
                self.buffers[index].clear_contents();
                self.set_state(p, index, BufferState::Standby);
                Ok(())
            }
            BufferState::InUse | BufferState::Complete => Err(HvStatus::OBJECT_IN_USE),
            BufferState::Standby => Err(HvStatus::INVALID_PARAMETER),
        }
    }

    pub(super) fn release<P: Platform>(
        &mut self,
        p: &mut P,
        input: BufferIdInput,
    ) -> Result<(), HvStatus> {
        let index = self.existing(input)?;
        if self.buffers[index].state != BufferState::Complete {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        self.unlink(p, index);
        // The header keeps the fill's fields: a ready header is closed to
        // everything but its state (`publish_header`), and `start` clears
        // them once the buffer shows InUse again.
        self.set_state(p, index, BufferState::Ready);
        Ok(())
    }

    /// Legacy form only: no event groups, and the flags are a group mask
    /// whose bit 0 ("extended") is clear (reference file, "Input layouts").
    /// Group bits the simulator has no name for are accepted, as a
    /// hypervisor that knows more groups than hv_evlog would.
    pub(super) fn set_sources(&mut self, input: SetSourcesInput) -> Result<(), HvStatus> {
        self.check_type(input.log_type)?;
        if input.group_count as usize > SOURCES_MAX_GROUPS || !input.is_legacy() {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        self.group.sources = input.configuration_flags;
        Ok(())
    }

    /// Completes in-use buffer `buffer_index` and delivers the pending chain
    /// whatever the threshold: a flush asks for the data now. For the
    /// statuses see "Statuses" in `hypervisor.rs`.
    pub(super) fn flush<P: Platform>(
        &mut self,
        p: &mut P,
        input: FlushInput,
    ) -> Result<(), HvStatus> {
        let index = self.existing(BufferIdInput {
            log_type: input.log_type,
            buffer_index: input.buffer_index,
        })?;
        if self.buffers[index].state != BufferState::InUse {
            return Err(HvStatus::OPERATION_DENIED);
        }
        self.complete(p, index);
        self.deliver(p);
        Ok(())
    }

    /// The group must exist and have type `raw`.
    fn check_type(&self, raw: u32) -> Result<(), HvStatus> {
        if !self.group.active {
            return Err(HvStatus::INVALID_PARTITION_STATE);
        }
        if raw != self.group.log_type.raw() {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(())
    }

    /// The slot of a buffer index below the group maximum.
    fn check_index(&self, index: u32) -> Result<usize, HvStatus> {
        if index >= self.group.max_buffers {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(index as usize)
    }

    /// The slot of an existing buffer that a map or unmap input names, in
    /// the calling partition.
    fn mapped_by(&self, input: MapBufferInput) -> Result<usize, HvStatus> {
        self.check_type(input.log_type)?;
        if input.partition_id != HV_PARTITION_ID_SELF {
            return Err(HvStatus::INVALID_PARTITION_ID);
        }
        self.existing(BufferIdInput {
            log_type: input.log_type,
            buffer_index: input.buffer_index,
        })
    }

    /// The slot of an existing buffer of the group.
    fn existing(&self, input: BufferIdInput) -> Result<usize, HvStatus> {
        self.check_type(input.log_type)?;
        let index = self.check_index(input.buffer_index)?;
        if !self.buffers[index].exists {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(index)
    }

    // -----------------------------------------------------------------------
    // Buffer contents, shared with the writer
    // -----------------------------------------------------------------------

    /// PFN of page `k` of buffer `index`, from its bookkeeping page.
    pub(super) fn pfn_of<P: Platform>(&self, p: &mut P, index: usize, k: usize) -> Option<u64> {
        if k >= self.group.buffer_pages as usize {
            return None;
        }
        p.load_u64(self.buffers[index].bookkeeping, k * 8)
    }

    pub(super) fn set_state<P: Platform>(&mut self, p: &mut P, index: usize, state: BufferState) {
        self.buffers[index].state = state;
        self.sync_header(p, index);
    }

    /// Rewrites buffer `index`'s header from its slot, published as
    /// [`publish_header`] says.
    pub(super) fn sync_header<P: Platform>(&self, p: &mut P, index: usize) {
        let b = &self.buffers[index];
        let header = BufferHeader {
            buffer_size: (self.group.buffer_bytes() - ENTRIES_OFFSET) as u32,
            buffer_index: index as u32,
            events_lost: b.events_lost,
            time_stamp: b.time_stamp,
            // MAX_CPUS keeps the CPU within 16 bits.
            logical_processor: if b.has_cpu { b.cpu as u16 } else { 0 },
            buffer_state: b.state.raw(),
            next_buffer_offset: b.used,
            log_type: self.group.log_type.raw(),
            next_buffer_index: if b.has_next { b.next } else { END_OF_CHAIN },
            ..BufferHeader::default()
        };
        if let Some(pfn) = self.pfn_of(p, index, 0) {
            publish_header(p, pfn, &header);
        }
    }
}
