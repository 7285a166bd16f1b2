// SPDX-License-Identifier: GPL-2.0

//! The event log calls' inputs and outputs: initialize, finalize, create,
//! delete and release, map and unmap, set sources and flush.

use core::mem::{offset_of, size_of};

use super::{
    enums::{EventLogMode, EventLogType, TimeBasis},
    memory::{ProximityDomainInfo, HV_PARTITION_ID_SELF},
    sources::SOURCES_EXTENDED,
    wire::{
        get_u16, get_u32, get_u64, impl_wire, pin_layout, put, put_u16, put_u32, put_u64, take,
        Wire,
    },
    MAP_MAX_PAGES, PAGE_SIZE,
};

/// HvCallInitializeEventLogBufferGroup input, in the layout hv_evlog uses.
///
/// Two generations of this input exist. The older HDK one carries a 32-bit
/// type and the buffer size in pages; the newer one, used here, splits the
/// first word into a 16-bit type and a 16-bit mode and gives the size in
/// bytes. The newer generation in turn exists in two packings:
///
/// - naturally aligned ([`InitializeGroupInputNatural`]): `system_time` at
///   offset 24, 32 bytes. This is how the newer HDK declares it, and the HDK
///   mirrors the definitions the hypervisor itself is compiled with.
/// - packed ([`InitializeGroupInputPacked`]): `system_time` at offset 20, 28
///   bytes, as Microsoft's Linux header declares it (`__packed`).
///
/// hv_evlog sends the natural layout. The two differ only in where
/// `system_time` goes (with a zero `system_time` their first 28 bytes are
/// identical); to send the packed one instead, point this alias at
/// [`InitializeGroupInputPacked`]: both are pinned and tested.
pub type InitializeGroupInput = InitializeGroupInputNatural;

/// Declares one packing of the newer initialize input: the fields, the
/// constructor and the codec are the same for both; only `repr` and so
/// the offset of `system_time` differ.
macro_rules! init_group_input {
    ($(#[$meta:meta])* $ty:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $ty {
            /// [`EventLogType`], 16 bits wide in this generation.
            pub log_type: u16,
            /// [`EventLogMode`].
            pub mode: u16,
            /// Most buffers the group may ever have, 1 to
            /// [`MAX_BUFFERS`](super::MAX_BUFFERS).
            pub max_buffer_count: u32,
            /// Size of each buffer in bytes, a whole number of pages.
            pub buffer_size_in_bytes: u32,
            /// Completed buffers that accumulate before the partition is notified.
            pub threshold: u32,
            /// [`TimeBasis`].
            pub time_basis: u32,
            /// The partition's current time, in 100 ns units.
            pub system_time: u64,
        }

        #[allow(
            dead_code,
            reason = "the tests build both packings; the kernel at most the one it sends"
        )]
        impl $ty {
            /// An input for a group of `max_buffer_count` buffers of
            /// `buffer_pages` pages each.
            pub const fn new(
                log_type: EventLogType,
                mode: EventLogMode,
                max_buffer_count: u32,
                buffer_pages: u32,
                threshold: u32,
                time_basis: TimeBasis,
                system_time: u64,
            ) -> Self {
                Self {
                    // Every type and mode value fits in 16 bits.
                    log_type: log_type.raw() as u16,
                    mode: mode.raw() as u16,
                    max_buffer_count,
                    // Saturates rather than wraps: an oversized request must
                    // stay oversized so that it is refused.
                    buffer_size_in_bytes: buffer_pages.saturating_mul(PAGE_SIZE as u32),
                    threshold,
                    time_basis: time_basis.raw(),
                    system_time,
                }
            }
        }

        impl_wire!($ty {
            log_type: u16,
            mode: u16,
            max_buffer_count: u32,
            buffer_size_in_bytes: u32,
            threshold: u32,
            time_basis: u32,
            system_time: u64,
        });
    };
}

init_group_input!(
    /// The newer initialize input, naturally aligned (see
    /// [`InitializeGroupInput`]).
    #[repr(C)]
    InitializeGroupInputNatural
);

pin_layout!(
    InitializeGroupInputNatural, size = 32;
    log_type @ 0, mode @ 2, max_buffer_count @ 4, buffer_size_in_bytes @ 8,
    threshold @ 12, time_basis @ 16, system_time @ 24,
);

init_group_input!(
    /// The newer initialize input, packed (see [`InitializeGroupInput`]).
    #[repr(C, packed)]
    InitializeGroupInputPacked
);

pin_layout!(
    InitializeGroupInputPacked, size = 28;
    log_type @ 0, mode @ 2, max_buffer_count @ 4, buffer_size_in_bytes @ 8,
    threshold @ 12, time_basis @ 16, system_time @ 20,
);

/// HvCallFinalizeEventLogBufferGroup input. Usually sent fast: the type is
/// the low 32 bits of the first input register, the rest is zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FinalizeInput {
    /// [`EventLogType`].
    pub log_type: u32,
    /// Must be zero.
    pub reserved: u32,
}

pin_layout!(FinalizeInput, size = 8; log_type @ 0, reserved @ 4);

impl FinalizeInput {
    /// The input for finalizing the group of `log_type`.
    pub const fn new(log_type: EventLogType) -> Self {
        Self {
            log_type: log_type.raw(),
            reserved: 0,
        }
    }
}

impl_wire!(FinalizeInput {
    log_type: u32,
    reserved: u32
});

/// HvCallCreateEventLogBuffer input. Fits a fast call: type and index in the
/// first register (type in the low half), the proximity domain info in the
/// second (domain id low, flags high).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CreateBufferInput {
    /// [`EventLogType`].
    pub log_type: u32,
    /// Index of the new buffer, below the group's maximum.
    pub buffer_index: u32,
    /// Where the buffer's pages should come from.
    pub proximity: ProximityDomainInfo,
}

pin_layout!(
    CreateBufferInput, size = 16;
    log_type @ 0, buffer_index @ 4, proximity @ 8,
);

impl CreateBufferInput {
    /// The input for creating buffer `buffer_index` of `log_type`.
    pub const fn new(
        log_type: EventLogType,
        buffer_index: u32,
        proximity: ProximityDomainInfo,
    ) -> Self {
        Self {
            log_type: log_type.raw(),
            buffer_index,
            proximity,
        }
    }
}

impl_wire!(CreateBufferInput {
    log_type: u32,
    buffer_index: u32,
    proximity: pxm
});

/// Input naming one buffer: HvCallDeleteEventLogBuffer and
/// HvCallReleaseEventLogBuffer, both 8-byte fast calls in Microsoft's driver
/// (drivers/hv/diag/mshv_trace.c). As a fast call it is one register: type
/// in the low half, index in the high half. Map and unmap name the partition
/// too: see [`MapBufferInput`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BufferIdInput {
    /// [`EventLogType`].
    pub log_type: u32,
    /// Buffer index.
    pub buffer_index: u32,
}

pin_layout!(BufferIdInput, size = 8; log_type @ 0, buffer_index @ 4);

impl BufferIdInput {
    /// The input naming buffer `buffer_index` of `log_type`.
    pub const fn new(log_type: EventLogType, buffer_index: u32) -> Self {
        Self {
            log_type: log_type.raw(),
            buffer_index,
        }
    }
}

impl_wire!(BufferIdInput {
    log_type: u32,
    buffer_index: u32
});

/// HvCallMapEventLogBuffer and HvCallUnmapEventLogBuffer input, in the
/// newest generation: the buffer and the partition it is mapped into, which
/// is always the caller ([`HV_PARTITION_ID_SELF`]).
///
/// An older revision of Microsoft's header (include/hyperv/hvtrapi.h) had
/// only the first two fields; the reference file ("Input layouts") records
/// that the newest header adds `partition_id`, and a hypervisor of that
/// generation reads the missing field of an 8-byte input as partition 0.
/// Map is a memory call (it has an output page); Microsoft's mshv_trace.c
/// unmaps with a 16-byte fast call (type and index in the first register,
/// the partition id in the second), its mshv_diaglog.c with a memory call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapBufferInput {
    /// [`EventLogType`].
    pub log_type: u32,
    /// Buffer index.
    pub buffer_index: u32,
    /// Partition the buffer is mapped into: [`HV_PARTITION_ID_SELF`].
    pub partition_id: u64,
}

pin_layout!(
    MapBufferInput, size = 16;
    log_type @ 0, buffer_index @ 4, partition_id @ 8,
);

/// HvCallUnmapEventLogBuffer input: the same layout as map's.
pub type UnmapBufferInput = MapBufferInput;

impl MapBufferInput {
    /// The input naming buffer `buffer_index` of `log_type` in the calling
    /// partition.
    pub const fn own(log_type: EventLogType, buffer_index: u32) -> Self {
        Self {
            log_type: log_type.raw(),
            buffer_index,
            partition_id: HV_PARTITION_ID_SELF,
        }
    }
}

impl_wire!(MapBufferInput {
    log_type: u32,
    buffer_index: u32,
    partition_id: u64
});

/// HvCallMapEventLogBuffer output: the guest page number of each buffer page,
/// in buffer order; entries past the buffer's size are unspecified.
///
/// At 4 KiB this is too large for a kernel stack: the module reads the output
/// page in place with [`MapOutput::page_number`], and the simulated hypervisor
/// writes it with [`MapOutput::set_page_number`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapOutput {
    /// Guest physical page numbers.
    pub gpa_page_numbers: [u64; MAP_MAX_PAGES],
}

pin_layout!(MapOutput, size = PAGE_SIZE; gpa_page_numbers @ 0);

impl MapOutput {
    /// Page number `index` from an output page; `None` past the layout or the
    /// slice.
    pub fn page_number(out: &[u8], index: usize) -> Option<u64> {
        let off = Self::offset(index)?;
        out.get(off..off + 8).map(|b| get_u64(b, 0))
    }

    /// Stores page number `index` into an output page; `None` (and nothing
    /// written) past the layout or the slice.
    pub fn set_page_number(out: &mut [u8], index: usize, gpa_page: u64) -> Option<()> {
        let off = Self::offset(index)?;
        let dst = out.get_mut(off..off + 8)?;
        dst.copy_from_slice(&gpa_page.to_le_bytes());
        Some(())
    }

    fn offset(index: usize) -> Option<usize> {
        (index < MAP_MAX_PAGES).then(|| offset_of!(Self, gpa_page_numbers) + index * 8)
    }
}

impl Default for MapOutput {
    fn default() -> Self {
        Self {
            gpa_page_numbers: [0; MAP_MAX_PAGES],
        }
    }
}

impl Wire for MapOutput {
    const SIZE: usize = size_of::<Self>();

    fn write_fields(&self, out: &mut [u8]) {
        for (index, gpa_page) in self.gpa_page_numbers.iter().enumerate() {
            let _ = Self::set_page_number(out, index, *gpa_page);
        }
    }

    fn read_fields(buf: &[u8]) -> Self {
        let mut map = Self::default();
        for (index, gpa_page) in map.gpa_page_numbers.iter_mut().enumerate() {
            *gpa_page = Self::page_number(buf, index).unwrap_or(0);
        }
        map
    }
}

/// Event groups one HvCallSetEventLogGroupSources input can carry.
pub const SOURCES_MAX_GROUPS: usize = 2;

/// Event ids one [`EventGroupConfig`] can list.
pub const EVENT_GROUP_MAX_EVENTS: usize = 256;

/// One event group of an extended HvCallSetEventLogGroupSources input
/// (`hv_eventlog_eventgroup_configuration`): a group and the events enabled
/// in it. Unused, and all zero, in the legacy form.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventGroupConfig {
    /// The group.
    pub group_id: u32,
    /// Must be zero.
    pub pad: [u8; 2],
    /// Entries of `event_id` in use.
    pub event_count: u16,
    /// The enabled event ids.
    pub event_id: [u8; EVENT_GROUP_MAX_EVENTS],
}

pin_layout!(
    EventGroupConfig, size = 264;
    group_id @ 0, pad @ 4, event_count @ 6, event_id @ 8,
);

impl EventGroupConfig {
    /// The unused group: all zero.
    pub const EMPTY: Self = Self {
        group_id: 0,
        pad: [0; 2],
        event_count: 0,
        event_id: [0; EVENT_GROUP_MAX_EVENTS],
    };
}

impl Default for EventGroupConfig {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// HvCallSetEventLogGroupSources input (`hv_input_eventlog_set_events`),
/// 544 bytes, so always a memory call.
///
/// Microsoft's header declares it packed; every field is naturally aligned
/// at its packed offset, so the `repr(C)` layout pinned below is the same.
/// hv_evlog only uses the legacy form ([`Self::legacy`]): no groups, and the
/// flags are the group mask of [`SOURCES`](super::SOURCES), with
/// [`SOURCES_EXTENDED`] clear.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetSourcesInput {
    /// [`EventLogType`].
    pub log_type: u32,
    /// Entries of `groups` in use; 0 in the legacy form.
    pub group_count: u32,
    /// Legacy form: the group mask (zero disables logging). Extended form:
    /// bit 0 set, a mode in bits 1-7.
    pub configuration_flags: u64,
    /// Per-group event lists of the extended form.
    pub groups: [EventGroupConfig; SOURCES_MAX_GROUPS],
}

pin_layout!(
    SetSourcesInput, size = 544;
    log_type @ 0, group_count @ 4, configuration_flags @ 8, groups @ 16,
);

impl SetSourcesInput {
    /// The legacy-form input enabling exactly the groups in `mask` (no
    /// validation here: the caller checks the mask, the hypervisor refuses
    /// [`SOURCES_EXTENDED`]).
    pub const fn legacy(log_type: EventLogType, mask: u64) -> Self {
        Self {
            log_type: log_type.raw(),
            group_count: 0,
            configuration_flags: mask,
            groups: [EventGroupConfig::EMPTY; SOURCES_MAX_GROUPS],
        }
    }

    /// Whether the input is in the legacy form a mask of
    /// [`SOURCES`](super::SOURCES) uses: no groups, bit 0 clear.
    pub const fn is_legacy(&self) -> bool {
        self.group_count == 0 && self.configuration_flags & SOURCES_EXTENDED == 0
    }
}

impl Default for SetSourcesInput {
    fn default() -> Self {
        Self::legacy(EventLogType::GlobalSystemEvents, 0)
    }
}

impl Wire for SetSourcesInput {
    const SIZE: usize = size_of::<Self>();

    fn write_fields(&self, out: &mut [u8]) {
        put_u32(out, offset_of!(Self, log_type), self.log_type);
        put_u32(out, offset_of!(Self, group_count), self.group_count);
        put_u64(
            out,
            offset_of!(Self, configuration_flags),
            self.configuration_flags,
        );
        for (i, g) in self.groups.iter().enumerate() {
            let base = offset_of!(Self, groups) + i * size_of::<EventGroupConfig>();
            put_u32(
                out,
                base + offset_of!(EventGroupConfig, group_id),
                g.group_id,
            );
            put(out, base + offset_of!(EventGroupConfig, pad), &g.pad);
            put_u16(
                out,
                base + offset_of!(EventGroupConfig, event_count),
                g.event_count,
            );
            put(
                out,
                base + offset_of!(EventGroupConfig, event_id),
                &g.event_id,
            );
        }
    }

    fn read_fields(buf: &[u8]) -> Self {
        let mut input = Self::legacy(EventLogType::GlobalSystemEvents, 0);
        input.log_type = get_u32(buf, offset_of!(Self, log_type));
        input.group_count = get_u32(buf, offset_of!(Self, group_count));
        input.configuration_flags = get_u64(buf, offset_of!(Self, configuration_flags));
        for (i, g) in input.groups.iter_mut().enumerate() {
            let base = offset_of!(Self, groups) + i * size_of::<EventGroupConfig>();
            g.group_id = get_u32(buf, base + offset_of!(EventGroupConfig, group_id));
            g.pad = take(buf, base + offset_of!(EventGroupConfig, pad));
            g.event_count = get_u16(buf, base + offset_of!(EventGroupConfig, event_count));
            g.event_id = take(buf, base + offset_of!(EventGroupConfig, event_id));
        }
        input
    }
}

/// HvCallFlushEventLogBuffer input: the buffer to complete, by its **buffer
/// index** (not a virtual processor index), as Microsoft's driver passes it
/// (mshv_trace.c, `hv_call_flush_event_log_buffer`; reference file, "Input
/// layouts"). An 8-byte fast call: type in the low half of the register,
/// index in the high half.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlushInput {
    /// [`EventLogType`].
    pub log_type: u32,
    /// The in-use buffer to complete.
    pub buffer_index: u32,
}

pin_layout!(FlushInput, size = 8; log_type @ 0, buffer_index @ 4);

impl FlushInput {
    /// The input completing buffer `buffer_index` of `log_type`.
    pub const fn new(log_type: EventLogType, buffer_index: u32) -> Self {
        Self {
            log_type: log_type.raw(),
            buffer_index,
        }
    }
}

impl_wire!(FlushInput {
    log_type: u32,
    buffer_index: u32
});
