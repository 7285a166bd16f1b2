// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: its own system-diagnostics log, type 2 (pure,
//! host-tested).
//!
//! System-diagnostics buffers belong to the hypervisor, not to a group the
//! partition sets up. The partition learns their number and size from
//! HvCallGetSystemProperty (property 28, "diagnostic log buffers"), maps
//! each (type 2, by index) read-only and unmaps it again; that is all. This
//! is how Microsoft's reader uses them (drivers/hv/diag/mshv_diaglog.c in
//! microsoft/CBL-Mariner-Linux-Kernel), and what the simulator models:
//!
//! - **Ownership.** The shell creates the buffers once, from the platform's
//!   pages (the hypervisor's own memory, not the partition's pool), with
//!   [`Hypervisor::create_system_log`]; [`Hypervisor::teardown`] frees them.
//! - **Calls.** HvCallGetSystemProperty answers property 28 with the count
//!   and pages per buffer (no log: zero buffers); any other property is
//!   UNKNOWN_PROPERTY, a reserved word that is not zero INVALID_PARAMETER.
//!   Map of type 2 returns the buffer's page numbers like a group buffer's
//!   (INVALID_PARTITION_ID unless it names the caller, INVALID_PARAMETER
//!   for an index past the count or a buffer already mapped); unmap of
//!   type 2 undoes it (the same checks; INVALID_PARAMETER if not mapped).
//!   Every other event log call naming type 2 (initialize, finalize,
//!   create, delete, set sources, release, flush) is INVALID_PARAMETER: the
//!   type has no group for the partition to manage.
//! - **Writing.** [`Hypervisor::write_system_event`] appends one entry
//!   (the format of the group writer, entry type [`SYSTEM_ENTRY_TYPE`]) to
//!   the current buffer whether or not anyone mapped it. When an entry does
//!   not fit, the buffer turns complete with `next_buffer_index` naming the
//!   next one, and the next one (index order, wrapping) restarts in use with
//!   the new entry's time stamp as its header `time_stamp`: the log rotates
//!   and overwrites, and no completion message is ever sent. Readers order
//!   the buffers by `time_stamp`. Header `next_buffer_offset` counts entry
//!   bytes from the end of the 72-byte header; `buffer_size` the bytes after
//!   the header. Time is reference time, strictly increasing.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use super::dispatch::{block, read_input, read_u64, Regs};
use super::hypervisor::Hypervisor;
use super::machine::{fill_pages, publish_header, Platform};
use super::writer::entry_bytes;
use crate::tlfs::{
    BufferHeader, BufferState, Control, DiagLogBufferConfig, EntryHeader, EventLogType,
    GetSystemPropertyInput, HvCall, HvStatus, MapBufferInput, MapOutput, TimeBasis,
    UnmapBufferInput, Wire, END_OF_CHAIN, ENTRIES_OFFSET, HV_PARTITION_ID_SELF, MAP_MAX_PAGES,
    MAX_BUFFER_PAGES, PAGE_SIZE, SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS,
};

/// Most system-diagnostics buffers the simulator can keep.
pub const MAX_SYSTEM_BUFFERS: u32 = 16;

/// How many buffers the shell gives the simulated hypervisor's log.
pub const SYSTEM_BUFFERS: u32 = 4;

/// Pages per buffer the shell gives it.
pub const SYSTEM_BUFFER_PAGES: u32 = 4;

/// Entry type of the system log's synthetic events.
pub const SYSTEM_ENTRY_TYPE: u16 = 0x5E5D;

const MAX: usize = MAX_SYSTEM_BUFFERS as usize;
const TYPE: u32 = EventLogType::SystemDiagnostics.raw();

/// The hypervisor's system-diagnostics log. Zero bytes are "no log".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SystemLog {
    /// Buffers; 0 = no log.
    count: u32,
    /// Pages per buffer.
    pages: u32,
    /// Per buffer, the page listing its pages' PFNs.
    lists: [u64; MAX],
    /// Per buffer, whether the partition mapped it.
    mapped: [bool; MAX],
    /// Per buffer, its header state.
    state: [BufferState; MAX],
    /// Per buffer, entry bytes after the header (`next_buffer_offset`).
    used: [u32; MAX],
    /// Per buffer, its first entry's time stamp.
    stamp: [u64; MAX],
    /// The buffer being filled; meaningful once `started`.
    current: u32,
    /// Whether anything was written yet.
    started: bool,
    /// Context of the next entry.
    seq: u32,
    /// Time stamp of the last entry.
    last_ts: u64,
}

impl SystemLog {
    pub(super) const EMPTY: Self = Self {
        count: 0,
        pages: 0,
        lists: [0; MAX],
        mapped: [false; MAX],
        state: [BufferState::Standby; MAX],
        used: [0; MAX],
        stamp: [0; MAX],
        current: 0,
        started: false,
        seq: 0,
        last_ts: 0,
    };
}

/// Why [`Hypervisor::create_system_log`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemLogError {
    /// There is one already.
    Exists,
    /// Count not 1-[`MAX_SYSTEM_BUFFERS`] or pages not 1-512.
    Geometry,
    /// The platform ran out of pages; nothing is kept.
    NoMemory,
}

impl Hypervisor {
    /// Creates the hypervisor's system-diagnostics log: `count` buffers of
    /// `pages` pages each, from the platform's pages on `node`.
    pub fn create_system_log<P: Platform>(
        &mut self,
        p: &mut P,
        node: u32,
        count: u32,
        pages: u32,
    ) -> Result<(), SystemLogError> {
        if self.system.count != 0 {
            return Err(SystemLogError::Exists);
        }
        if !(1..=MAX_SYSTEM_BUFFERS).contains(&count) || !(1..=MAX_BUFFER_PAGES).contains(&pages) {
            return Err(SystemLogError::Geometry);
        }
        for i in 0..count as usize {
            let Some(list) = p.alloc_page(node) else {
                self.free_system_log(p);
                return Err(SystemLogError::NoMemory);
            };
            // From here on `free_system_log` finds and frees what the list
            // names (a zero entry ends it).
            self.system.lists[i] = list;
            self.system.count = i as u32 + 1;
            self.system.pages = pages;
            for k in 0..pages as usize {
                let Some(pfn) = p.alloc_page(node) else {
                    self.free_system_log(p);
                    return Err(SystemLogError::NoMemory);
                };
                p.store_u64(list, k * 8, pfn);
            }
        }
        for i in 0..count as usize {
            self.system.state[i] = BufferState::Free;
            self.sync_system_header(p, i);
        }
        Ok(())
    }

    /// The log's buffer count and pages per buffer, if there is one.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn system_log(&self) -> Option<(u32, u32)> {
        (self.system.count != 0).then_some((self.system.count, self.system.pages))
    }

    /// Whether system buffer `index` is mapped by the partition.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn system_mapped(&self, index: u32) -> bool {
        self.system.mapped.get(index as usize) == Some(&true)
    }

    /// Logs one synthetic event of `payload_len` payload bytes into the
    /// system log; returns the buffer and the entry's offset from the buffer
    /// start, or `None` without a log or for an entry that could not fit an
    /// empty buffer. (The log is the hypervisor's, not a processor's:
    /// headers leave `logical_processor` 0.)
    pub fn write_system_event<P: Platform>(
        &mut self,
        p: &mut P,
        payload_len: u16,
    ) -> Option<(u32, u32)> {
        let SystemLog {
            count,
            pages,
            current,
            started,
            last_ts,
            ..
        } = self.system;
        if count == 0 {
            return None;
        }
        let size = u16::try_from(EntryHeader::SIZE + usize::from(payload_len)).ok()?;
        let bytes = pages as usize * PAGE_SIZE;
        if ENTRIES_OFFSET + usize::from(size) > bytes {
            return None;
        }
        let ts = p.now(TimeBasis::Reference).max(last_ts.saturating_add(1));
        let mut index = current as usize;
        let end = EntryHeader::next_offset(ENTRIES_OFFSET + self.system.used[index] as usize, size);
        if !started || end > bytes {
            if started {
                self.system.state[index] = BufferState::Complete;
                self.sync_system_header(p, index);
                index = (index + 1) % count as usize;
            }
            let log = &mut self.system;
            log.started = true;
            log.current = index as u32;
            log.used[index] = 0;
            log.stamp[index] = ts;
            log.state[index] = BufferState::InUse;
            // The restarted buffer shows InUse before its first new entry
            // overwrites the old fill's: a reader that finds it complete
            // around its read read only the old fill.
            self.sync_system_header(p, index);
        }
        let seq = self.system.seq;
        self.system.seq = seq.wrapping_add(1);
        self.system.last_ts = ts;
        let start = ENTRIES_OFFSET + self.system.used[index] as usize;
        let end = EntryHeader::next_offset(start, size);
        let byte = entry_bytes(SYSTEM_ENTRY_TYPE, seq, size, ts);
        fill_pages(p, |p, k| self.system_pfn(p, index, k), start..end, byte);
        self.system.used[index] = (end - ENTRIES_OFFSET) as u32;
        self.sync_system_header(p, index);
        Some((index as u32, start as u32))
    }

    /// Frees every page of the log and forgets it.
    pub(super) fn free_system_log<P: Platform>(&mut self, p: &mut P) {
        for i in 0..self.system.count as usize {
            let list = self.system.lists[i];
            for k in 0..self.system.pages as usize {
                let pfn = p.load_u64(list, k * 8).unwrap_or(0);
                if pfn == 0 {
                    break;
                }
                p.free_page(pfn);
            }
            p.free_page(list);
        }
        self.system = SystemLog::EMPTY;
    }

    /// HvCallGetSystemProperty.
    pub(super) fn system_property<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> Result<(), HvStatus> {
        let input: GetSystemPropertyInput = read_input(p, control, regs)?;
        if input.reserved != 0 {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        if input.property_id != SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS {
            return Err(HvStatus::UNKNOWN_PROPERTY);
        }
        let out = block(p, regs.output, DiagLogBufferConfig::SIZE)?;
        let config = DiagLogBufferConfig {
            buffer_count: self.system.count,
            buffer_size_in_pages: self.system.pages,
        };
        config
            .encode(out)
            .ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
        Ok(())
    }

    /// An event log call naming type 2: answered here (`Some`), or `None`
    /// for every other call, which the group code answers.
    pub(super) fn system_log_call<P: Platform>(
        &mut self,
        p: &mut P,
        call: HvCall,
        control: Control,
        regs: Regs,
    ) -> Option<Result<(), HvStatus>> {
        // The type is the first field of every event log input: a u16 in
        // initialize's (mode follows), a u32 in the others'.
        let first = if control.is_fast() {
            regs.input
        } else {
            read_u64(block(p, regs.input, 8).ok()?, 0)
        };
        let ty = match call {
            HvCall::InitializeEventLogBufferGroup => u32::from(first as u16),
            HvCall::FinalizeEventLogBufferGroup
            | HvCall::CreateEventLogBuffer
            | HvCall::DeleteEventLogBuffer
            | HvCall::MapEventLogBuffer
            | HvCall::UnmapEventLogBuffer
            | HvCall::SetEventLogGroupSources
            | HvCall::ReleaseEventLogBuffer
            | HvCall::FlushEventLogBuffer => first as u32,
            _ => return None,
        };
        if ty != TYPE {
            return None;
        }
        Some(match call {
            HvCall::MapEventLogBuffer => self.map_system(p, control, regs),
            HvCall::UnmapEventLogBuffer => self.unmap_system(p, control, regs),
            // The hypervisor's own buffers: no group to manage.
            _ => Err(HvStatus::INVALID_PARAMETER),
        })
    }

    /// The slot of the system buffer a map or unmap names, in the calling
    /// partition.
    fn system_index(&self, input: MapBufferInput) -> Result<usize, HvStatus> {
        if input.partition_id != HV_PARTITION_ID_SELF {
            return Err(HvStatus::INVALID_PARTITION_ID);
        }
        if input.buffer_index >= self.system.count {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(input.buffer_index as usize)
    }

    fn map_system<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> Result<(), HvStatus> {
        let input: MapBufferInput = read_input(p, control, regs)?;
        let index = self.system_index(input)?;
        if self.system.mapped[index] {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        block(p, regs.output, MapOutput::SIZE)?;
        for k in 0..MAP_MAX_PAGES {
            let pfn = self.system_pfn(p, index, k).unwrap_or(0);
            if let Ok(out) = block(p, regs.output, MapOutput::SIZE) {
                let _ = MapOutput::set_page_number(out, k, pfn);
            }
        }
        self.system.mapped[index] = true;
        Ok(())
    }

    fn unmap_system<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> Result<(), HvStatus> {
        let input: UnmapBufferInput = read_input(p, control, regs)?;
        let index = self.system_index(input)?;
        if !self.system.mapped[index] {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        self.system.mapped[index] = false;
        Ok(())
    }

    /// PFN of page `k` of system buffer `index`.
    fn system_pfn<P: Platform>(&self, p: &mut P, index: usize, k: usize) -> Option<u64> {
        if index >= self.system.count as usize || k >= self.system.pages as usize {
            return None;
        }
        p.load_u64(self.system.lists[index], k * 8)
    }

    /// Rewrites system buffer `index`'s header in the order the partition's
    /// readers rely on (`policy/snapshot.rs`), as for a group buffer
    /// (`publish_header`): a restarted buffer shows InUse first, every
    /// other field follows, and the state it ends in is stored last.
    fn sync_system_header<P: Platform>(&self, p: &mut P, index: usize) {
        let log = &self.system;
        let next = (index + 1) % log.count.max(1) as usize;
        let header = BufferHeader {
            buffer_size: (log.pages as usize * PAGE_SIZE - ENTRIES_OFFSET) as u32,
            buffer_index: index as u32,
            time_stamp: log.stamp[index],
            buffer_state: log.state[index].raw(),
            next_buffer_offset: log.used[index],
            log_type: TYPE,
            next_buffer_index: if log.state[index] == BufferState::Complete {
                next as u32
            } else {
                END_OF_CHAIN
            },
            ..BufferHeader::default()
        };
        if let Some(pfn) = self.system_pfn(p, index, 0) {
            publish_header(p, pfn, &header);
        }
    }
}
