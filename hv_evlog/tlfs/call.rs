// SPDX-License-Identifier: GPL-2.0

//! The call ABI: hypercall codes, the control word that selects a call and
//! its form, and the result value the hypervisor returns.

use super::{
    input::{
        BufferIdInput, CreateBufferInput, FinalizeInput, FlushInput, InitializeGroupInput,
        MapBufferInput, SetSourcesInput,
    },
    status::HvStatus,
    wire::{wire_enum, Wire},
};

wire_enum! {
    /// Hypercalls hv_evlog issues (bits 0-15 of the control word).
    pub enum HvCall: u16 {
        /// Reads one property of a partition.
        GetPartitionProperty = 0x0044 => "HvCallGetPartitionProperty",
        /// Adds pages to a partition's memory pool (rep call).
        DepositMemory = 0x0048 => "HvCallDepositMemory",
        /// Takes pages back out of a partition's memory pool (rep call).
        WithdrawMemory = 0x0049 => "HvCallWithdrawMemory",
        /// Reads a pool's available and used page counts for one proximity
        /// domain.
        GetMemoryBalance = 0x004A => "HvCallGetMemoryBalance",
        /// Sets up the buffer group of one event log type.
        InitializeEventLogBufferGroup = 0x0060 => "HvCallInitializeEventLogBufferGroup",
        /// Tears the group down again; refused while buffers exist or sources
        /// are enabled.
        FinalizeEventLogBufferGroup = 0x0061 => "HvCallFinalizeEventLogBufferGroup",
        /// Creates one buffer of a group.
        CreateEventLogBuffer = 0x0062 => "HvCallCreateEventLogBuffer",
        /// Deletes one buffer.
        DeleteEventLogBuffer = 0x0063 => "HvCallDeleteEventLogBuffer",
        /// Maps a buffer read-only into a partition and returns its pages.
        MapEventLogBuffer = 0x0064 => "HvCallMapEventLogBuffer",
        /// Unmaps a buffer; only allowed while it is free or ready.
        UnmapEventLogBuffer = 0x0065 => "HvCallUnmapEventLogBuffer",
        /// Sets the group's event sources (a memory call: the input is 544
        /// bytes).
        SetEventLogGroupSources = 0x0066 => "HvCallSetEventLogGroupSources",
        /// Hands a consumed buffer back to the hypervisor.
        ReleaseEventLogBuffer = 0x0067 => "HvCallReleaseEventLogBuffer",
        /// Completes one in-use buffer early, named by its buffer index.
        FlushEventLogBuffer = 0x0068 => "HvCallFlushEventLogBuffer",
        /// Reads one property of the hypervisor (here: its own
        /// system-diagnostics log buffers,
        /// [`SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS`](super::SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS)).
        GetSystemProperty = 0x007B => "HvCallGetSystemProperty",
    }
}

impl HvCall {
    /// Whether the call processes a list of elements (reps).
    pub const fn is_rep(self) -> bool {
        matches!(self, Self::DepositMemory | Self::WithdrawMemory)
    }

    /// Whether the call may be issued fast: its input fits in 16 bytes and it
    /// returns no output. Whether to do so is the caller's choice; Microsoft's
    /// Linux driver (drivers/hv/diag/mshv_trace.c in
    /// microsoft/CBL-Mariner-Linux-Kernel) issues finalize, delete, release
    /// and flush as 8-byte fast calls and create and unmap as 16-byte ones.
    /// Set sources is not among them: its input is [`SetSourcesInput::SIZE`]
    /// bytes, so it only exists as a memory call (reference file, "Input
    /// layouts"); map has an output page.
    pub const fn fast_capable(self) -> bool {
        matches!(
            self,
            Self::FinalizeEventLogBufferGroup
                | Self::CreateEventLogBuffer
                | Self::DeleteEventLogBuffer
                | Self::UnmapEventLogBuffer
                | Self::ReleaseEventLogBuffer
                | Self::FlushEventLogBuffer
        )
    }

    /// Bytes of input the call takes, for the event log calls whose input
    /// has one fixed size; `None` for the others (rep calls, and calls
    /// hv_evlog makes only as memory calls with a longer input).
    ///
    /// A fast call carries 16 bytes in two registers; an input shorter than
    /// that uses only the first register and the hypervisor does not read
    /// the second (Linux's `hv_do_fast_hypercall8()` leaves it unset).
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the tests check each call's input size")
    )]
    pub const fn input_size(self) -> Option<usize> {
        match self {
            Self::FinalizeEventLogBufferGroup => Some(FinalizeInput::SIZE),
            Self::CreateEventLogBuffer => Some(CreateBufferInput::SIZE),
            Self::DeleteEventLogBuffer | Self::ReleaseEventLogBuffer => Some(BufferIdInput::SIZE),
            Self::MapEventLogBuffer | Self::UnmapEventLogBuffer => Some(MapBufferInput::SIZE),
            Self::FlushEventLogBuffer => Some(FlushInput::SIZE),
            Self::SetEventLogGroupSources => Some(SetSourcesInput::SIZE),
            Self::InitializeEventLogBufferGroup => Some(InitializeGroupInput::SIZE),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Control word
// ---------------------------------------------------------------------------

/// A hypercall control word (the first hypercall register, RCX on x86_64).
///
/// | bits  | field                                    |
/// |-------|------------------------------------------|
/// | 0-15  | call code                                |
/// | 16    | fast: input in registers, not in a page  |
/// | 17-26 | variable header size, in 8-byte units    |
/// | 32-43 | rep count                                |
/// | 48-59 | rep start index                          |
///
/// Bits 27-31, 44-47 and 60-63 are reserved and must be zero (bit 31 marks a
/// nested call, which hv_evlog never makes). The builders refuse field values
/// that do not fit, so a control word they produce never has reserved bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Control(u64);

impl Control {
    const CODE_MASK: u64 = 0xFFFF;
    const FAST_BIT: u64 = 1 << 16;
    const VAR_HEADER_SHIFT: u32 = 17;
    const REP_COUNT_SHIFT: u32 = 32;
    const REP_START_SHIFT: u32 = 48;

    /// Largest variable header size, in 8-byte units.
    pub const VAR_HEADER_MAX: u16 = 0x3FF;
    /// Largest rep count or rep start index.
    pub const REP_MAX: u16 = 0xFFF;
    /// Bits that must be zero.
    pub const RESERVED_MASK: u64 = 0xF000_F000_F800_0000;

    /// A plain (memory, non-rep) call of `call`.
    pub const fn new(call: HvCall) -> Self {
        Self(call.raw() as u64)
    }

    /// A fast call of `call`.
    pub const fn fast_call(call: HvCall) -> Self {
        Self::new(call).fast()
    }

    /// A rep call of `call` over `count` elements starting at element 0;
    /// `None` if `count` exceeds [`Self::REP_MAX`].
    pub const fn rep_call(call: HvCall, count: u16) -> Option<Self> {
        Self::new(call).with_rep_count(count)
    }

    /// Wraps a raw value, e.g. one a simulated hypervisor received.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw value to load into the control register.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The same word with the fast bit set.
    pub const fn fast(self) -> Self {
        Self(self.0 | Self::FAST_BIT)
    }

    /// The same word with the variable header size set to `qwords` 8-byte
    /// units; `None` if it does not fit in 10 bits.
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "no hv_evlog call has a variable header")
    )]
    pub const fn with_var_header(self, qwords: u16) -> Option<Self> {
        self.with_field(Self::VAR_HEADER_SHIFT, Self::VAR_HEADER_MAX, qwords)
    }

    /// The same word with the rep count set; `None` if it exceeds
    /// [`Self::REP_MAX`].
    pub const fn with_rep_count(self, count: u16) -> Option<Self> {
        self.with_field(Self::REP_COUNT_SHIFT, Self::REP_MAX, count)
    }

    /// The same word with the rep start index set, as when a rep call is
    /// resumed after a partial completion; `None` if it exceeds
    /// [`Self::REP_MAX`].
    pub const fn with_rep_start(self, start: u16) -> Option<Self> {
        self.with_field(Self::REP_START_SHIFT, Self::REP_MAX, start)
    }

    /// The call code (bits 0-15).
    pub const fn code(self) -> u16 {
        (self.0 & Self::CODE_MASK) as u16
    }

    /// The call, if the code is one hv_evlog knows.
    pub const fn call(self) -> Option<HvCall> {
        HvCall::from_raw(self.code())
    }

    /// Whether the fast bit is set.
    pub const fn is_fast(self) -> bool {
        self.0 & Self::FAST_BIT != 0
    }

    /// Variable header size, in 8-byte units.
    pub const fn var_header_size(self) -> u16 {
        self.field(Self::VAR_HEADER_SHIFT, Self::VAR_HEADER_MAX)
    }

    /// Rep count.
    pub const fn rep_count(self) -> u16 {
        self.field(Self::REP_COUNT_SHIFT, Self::REP_MAX)
    }

    /// Rep start index.
    pub const fn rep_start(self) -> u16 {
        self.field(Self::REP_START_SHIFT, Self::REP_MAX)
    }

    /// The reserved bits that are set; zero for a valid word.
    pub const fn reserved_bits(self) -> u64 {
        self.0 & Self::RESERVED_MASK
    }

    /// Whether all reserved bits are zero, as the hypervisor requires.
    pub const fn reserved_bits_clear(self) -> bool {
        self.reserved_bits() == 0
    }

    const fn field(self, shift: u32, max: u16) -> u16 {
        ((self.0 >> shift) & max as u64) as u16
    }

    const fn with_field(self, shift: u32, max: u16, value: u16) -> Option<Self> {
        if value > max {
            return None;
        }
        let cleared = self.0 & !((max as u64) << shift);
        Some(Self(cleared | ((value as u64) << shift)))
    }
}

// ---------------------------------------------------------------------------
// Result value
// ---------------------------------------------------------------------------

/// The status in a hypercall result value (its low 16 bits).
pub const fn result_status(raw: u64) -> HvStatus {
    HvStatus(raw as u16)
}

/// The reps completed in a hypercall result value (bits 32-43).
pub const fn result_reps(raw: u64) -> u16 {
    ((raw >> 32) & Control::REP_MAX as u64) as u16
}

/// Builds a result value, as a simulated hypervisor returns it.
///
/// `reps` is truncated to the 12 bits the result value has room for.
pub const fn result_value(status: HvStatus, reps: u16) -> u64 {
    (status.0 as u64) | (((reps & Control::REP_MAX) as u64) << 32)
}

/// Decodes a hypercall result value: the reps completed on success, the
/// status otherwise.
///
/// A rep call that fails part way also reports how many reps it completed;
/// use [`result_reps`] on the raw value to resume it.
pub const fn check(raw: u64) -> Result<u16, HvStatus> {
    let status = result_status(raw);
    if status.is_success() {
        Ok(result_reps(raw))
    } else {
        Err(status)
    }
}
