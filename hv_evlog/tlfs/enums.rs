// SPDX-License-Identifier: GPL-2.0

//! The event log's enumerations: log types, buffer states, modes and time
//! bases, as the inputs carry them and the buffer header records them.

use super::wire::wire_enum;

wire_enum! {
    /// Event log types; each has at most one buffer group.
    pub enum EventLogType: u32 {
        /// Global system events.
        GlobalSystemEvents = 0 => "global",
        /// Local diagnostics: buffers per proximity domain.
        LocalDiagnostics = 1 => "local",
        /// System diagnostics.
        SystemDiagnostics = 2 => "system",
    }
}

impl EventLogType {
    /// Whether buffers of this type belong to proximity domains, so the pool
    /// must be checked and buffers created per domain.
    #[cfg_attr(MODULE, expect(dead_code, reason = "tested on the host only"))]
    pub const fn is_local(self) -> bool {
        matches!(self, Self::LocalDiagnostics)
    }
}

wire_enum! {
    /// States of one buffer, as the hypervisor records them in its header.
    pub enum BufferState: u32 {
        /// Created, not yet mapped; the hypervisor does not use it.
        Standby = 0 => "standby",
        /// Mapped and waiting to be filled.
        Free = 1 => "free",
        /// Being filled.
        InUse = 2 => "in-use",
        /// Full (or flushed), waiting for the partition to consume it.
        Complete = 3 => "complete",
        /// Released by the partition, ready to be filled again.
        Ready = 4 => "ready",
    }
}

impl BufferState {
    /// Whether HvCallUnmapEventLogBuffer is allowed in this state.
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the unmap rule, tested on the host")
    )]
    pub const fn may_unmap(self) -> bool {
        matches!(self, Self::Free | Self::Ready)
    }
}

wire_enum! {
    /// What a group does when it runs out of free buffers.
    pub enum EventLogMode: u32 {
        /// Stop logging (and count lost events) until buffers are released.
        Regular = 0 => "regular",
        /// Overwrite the oldest data.
        Circular = 1 => "circular",
    }
}

wire_enum! {
    /// Clock the hypervisor stamps buffers and entries with.
    pub enum TimeBasis: u32 {
        /// Partition reference time, in 100 ns units.
        Reference = 0 => "reference",
        /// Processor time stamp counter.
        Tsc = 1 => "tsc",
        /// Query performance counter.
        Qpc = 2 => "qpc",
    }
}
