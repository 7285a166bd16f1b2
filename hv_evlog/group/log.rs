// SPDX-License-Identifier: GPL-2.0

//! The set-up event log group as its users see it: what the device (and
//! debugfs, hotplug, the module entry) may ask of it, in the group's own
//! terms. The device turns these into the UAPI's structs; the group never
//! names the device.

use kernel::prelude::*;

use crate::{
    platform::user_mapping::UserMapping,
    policy::{live::Served, params},
    tlfs::{BufferHeader, BufferIndex, EventLogMode, EventLogType, TimeBasis, VpIndex},
};

/// What an event log says of itself; the device turns it into the UAPI's
/// `struct hv_evlog_info` together with what only the
/// device knows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) log_type: EventLogType,
    pub(crate) mode: EventLogMode,
    pub(crate) time_basis: TimeBasis,
    /// Completed buffers per notification; 0 where nothing notifies.
    pub(crate) threshold: u32,
    /// Enabled event source mask; 0 where none can be set.
    pub(crate) sources: u64,
    pub(crate) backend: params::BackendKind,
}

/// What an event log says of one of its buffers; the device turns it into
/// the UAPI's `struct hv_evlog_buffer_info`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BufferDesc {
    /// The CPU it serves and its proximity domain; `None` for the
    /// hypervisor's own buffers (`type=system`), which serve no one.
    pub(crate) serves: Option<Served>,
    /// The node all its pages are on, if they share one.
    pub(crate) node: Option<u32>,
    /// Out of the rotation after a resize, deleted once unmapped.
    pub(crate) retired: bool,
    /// The CPU it serves is offline.
    pub(crate) cpu_offline: bool,
}

/// What the device needs from the set-up event log group.
///
/// Indices run from 0 to `index_limit() - 1` (the group maximum), pages of a
/// buffer from 0 to `buffer_pages() - 1`; both stay fixed while the group
/// exists. Which indices hold a buffer may change (a resize): the table's
/// `generation()` changes with it.
pub(crate) trait EventLog: Send + Sync {
    /// How the group was set up, and its sources now.
    fn settings(&self) -> Settings;

    /// Number of buffers in the rotation, at most `index_limit()`.
    fn buffer_count(&self) -> u32;

    /// The group maximum, at most [`uapi::MAX_BUFFERS`]: every index is
    /// below it.
    fn index_limit(&self) -> u32;

    /// Changes whenever the buffer table does.
    fn generation(&self) -> u32 {
        0
    }

    /// A userspace mapping now covers buffers `first..=last`. A `new` one is
    /// refused (`EINVAL`) unless each exists and is in the rotation; a copy
    /// of an existing one (mremap moving it) is always counted. While
    /// counted, none of them is deleted.
    fn map_user(&self, first: BufferIndex, last: BufferIndex, new: bool) -> Result;

    /// A mapping covering buffers `first..=last` is gone.
    fn unmap_user(&self, first: BufferIndex, last: BufferIndex);

    /// Sets the buffers per served CPU (HV_EVLOG_IOC_RESIZE).
    fn resize(&self, per_cpu: u32) -> Result;

    /// Whether buffers complete for the partition to consume (and release),
    /// so that the scanner queues records. `false` for the hypervisor's own
    /// system-diagnostics log (`type=system`), which rotates with no
    /// completion: no scanner runs, `read()` finds no record (`EAGAIN` with
    /// `O_NONBLOCK`, else it waits), `poll()` never reports `POLLIN`, and
    /// the buffers are read through `mmap()` alone, ordered by header
    /// `time_stamp`.
    fn completes(&self) -> bool {
        true
    }

    /// Description of buffer `index`; `None` if there is none.
    fn buffer_desc(&self, index: BufferIndex) -> Option<BufferDesc>;

    /// Pages per buffer, 1 to 512.
    fn buffer_pages(&self) -> u32;

    /// Page frame number of page `page` of buffer `buffer`, for the fault
    /// handler's `vmf_insert_pfn()`.
    ///
    /// It must be RAM that the hypervisor writes and the guest may map, and
    /// it must stay allocated while `self` exists. Mappings take no page
    /// reference (they are PFN mappings, see [`Session`]'s `mmap`): what
    /// keeps the page until the last mapping of it is gone is that every
    /// mapping holds, through its file, an `Arc` of `self`.
    fn pfn(&self, buffer: BufferIndex, page: u32) -> Option<u64>;

    /// Calls `f` with the page frame numbers of buffer `buffer` if
    /// userspace may map it now (it exists, the hypervisor has it mapped
    /// and it is in the rotation), and holds the buffer so until `f`
    /// returns: the fault handler inserts its PTEs inside `f`. A buffer
    /// leaves that state only under the same hold, and its PTEs are zapped
    /// after ([`EventLog::user_mapping`]), so none outlives it. A buffer
    /// on its way out whose fate the hypervisor has not yet decided is
    /// waited for (a hypercall's time). Returns whether `f` was called;
    /// `false` makes the fault `SIGBUS`.
    fn with_user_pages(&self, buffer: BufferIndex, f: &mut dyn FnMut(&[u64])) -> bool;

    /// Where the consumer maps the buffers: the device records its file's
    /// address space there for as long as the file is open.
    fn user_mapping(&self) -> &UserMapping;

    /// A snapshot of buffer `buffer`'s header, read from its first page.
    ///
    /// The hypervisor writes the header while it is read: take it with
    /// [`crate::policy::snapshot::snapshot`] (state, fields, state again), never
    /// through a reference to the live page. `None` also when the writer
    /// never held still long enough. Called every scan interval for
    /// every buffer while the device is open, with the device's lock held:
    /// it must not call back into the device.
    fn header(&self, buffer: BufferIndex) -> Option<BufferHeader>;

    /// [`EventLog::header`] of every buffer `i < out.len()` into `out[i]`,
    /// in one pass (the scan's, once per interval): an entry whose buffer
    /// could not be read keeps its value; one whose buffer does not exist
    /// or was revoked becomes the all-zero header (standby: not complete).
    fn headers(&self, out: &mut [BufferHeader]);

    /// The Linux CPU whose virtual processor index is `vp`, the processor
    /// the header of buffer `buffer` names; `None` if no Linux CPU has it.
    /// Called for every record, with the device's lock held.
    fn cpu_of_vp(&self, buffer: BufferIndex, vp: VpIndex) -> Option<u32>;

    /// Hands buffer `buffer` back to the hypervisor
    /// (HvCallReleaseEventLogBuffer). Only called for a buffer whose header
    /// said Complete.
    fn release(&self, buffer: BufferIndex) -> Result;

    /// Completes the current buffer of `cpu`, or of every CPU for
    /// `u32::MAX` (HvCallFlushEventLogBuffer). `cpu` is below
    /// `nr_cpu_ids` or `u32::MAX`.
    fn flush(&self, cpu: u32) -> Result;

    /// Sets the enabled event sources (HvCallSetEventLogGroupSources).
    fn set_sources(&self, mask: u64) -> Result;
}
