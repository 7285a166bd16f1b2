// SPDX-License-Identifier: GPL-2.0

//! Hyper-V TLFS event-log definitions (pure, host-tested).
//!
//! Everything hv_evlog exchanges with the hypervisor, as plain data: hypercall
//! codes, the control word, result values and statuses, the event log enums,
//! the input and output layouts, and the buffer and entry headers the
//! hypervisor writes into the buffers it logs into.
//!
//! Only `core` is used and nothing here touches memory it was not handed, so
//! the same file builds in the kernel module, in the simulated hypervisor and
//! in the host tests. There is no `unsafe`: every layout is encoded and decoded
//! byte by byte, little endian, at offsets that are pinned by compile-time
//! assertions next to each type.
//!
//! # Sources and the choices made here
//!
//! The codes, statuses and layouts follow Microsoft's public Hypervisor
//! Top-Level Functional Specification (TLFS), the Windows HDK header and the
//! definitions in Microsoft's Linux trees. Where those disagree, or are
//! silent, the choice is documented on the item:
//!
//! - [`InitializeGroupInput`]: the newer (type + mode) generation, naturally
//!   aligned like the HDK declares it; the packed Linux variant is one alias
//!   away.
//! - [`BufferHeader`]: 72 bytes, as in both HDK generations and Linux; the
//!   entries start right after it, at [`ENTRIES_OFFSET`], and its
//!   `buffer_size` and `next_buffer_offset` count bytes from the end of the
//!   header.
//! - Map, unmap, set sources and flush follow Microsoft's own Linux driver
//!   for these calls (drivers/hv/diag/mshv_trace.c and include/hyperv/
//!   hvtrapi.h in microsoft/CBL-Mariner-Linux-Kernel), which the reference
//!   file names as the authority where it and the HDK disagree:
//!   [`MapBufferInput`] names the partition, [`SetSourcesInput`] is the
//!   544-byte legacy-form input with Microsoft's group bits ([`SOURCES`]),
//!   [`FlushInput`] names a buffer index.
//! - The pool query uses HvCallGetMemoryBalance, the TLFS call made for it,
//!   rather than a partition property (see [`GetMemoryBalanceInput`]).
//! - [`HvStatus::to_errno`] is hv_evlog's own, more specific than the
//!   kernel's `hv_result_to_errno()`.
//!
//! # Calling conventions
//!
//! A *memory* call passes its input in one page and names it by its guest
//! physical address; [`Wire::encode`] writes that page. A *fast* call (bit 16
//! of the control word) passes up to 16 bytes of input in two registers
//! instead: the first eight input bytes, read as a little-endian `u64`, go in
//! the first register (RDX on x86_64) and the next eight in the second (R8).
//! [`Wire::fast_input`] produces exactly those two values from the same byte
//! encoding, so a call's fast and memory forms can never disagree.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use core::mem::{offset_of, size_of};

mod ids;
pub use ids::{Pfn, Pxm};

/// Pins a layout at compile time: the size of the type and the offset of every
/// listed field. A wrong number fails the build, on the host and in the kernel.
macro_rules! pin_layout {
    ($ty:ty, size = $size:expr; $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = assert!(size_of::<$ty>() == $size);
        $(const _: () = assert!(offset_of!($ty, $field) == $off);)*
    };
}

// ---------------------------------------------------------------------------
// Sizes and limits
// ---------------------------------------------------------------------------

/// Size of a hypervisor page; every hypercall input and output fits in one.
pub const PAGE_SIZE: usize = 4096;

/// Most buffers one event log group can hold.
pub const MAX_BUFFERS: u32 = 512;

/// Largest buffer, in pages.
pub const MAX_BUFFER_PAGES: u32 = 512;

/// Most guest page numbers one HvCallMapEventLogBuffer returns; one per page
/// of the largest buffer, which fills exactly one output page.
pub const MAP_MAX_PAGES: usize = 512;

/// `next_buffer_index` value that ends a chain of completed buffers.
pub const END_OF_CHAIN: u32 = 0xFFFF_FFFF;

/// Partition id meaning "the calling partition".
pub const HV_PARTITION_ID_SELF: u64 = u64::MAX;

/// What the kernel's hypercall path returns when no hypercall page is set up,
/// i.e. when there is no Hyper-V underneath. Its low 16 bits decode to
/// [`HvStatus::NO_HYPERCALL_PAGE`].
pub const HV_NO_HYPERCALL_PAGE: u64 = u64::MAX;

const _: () = assert!(MAP_MAX_PAGES * 8 == PAGE_SIZE);

/// Positive Linux errno values (x86_64 numbering, shared by the generic
/// architectures), so that this file needs no kernel bindings. The kernel side
/// negates them or wraps them in its `Error` type.
pub mod errno {
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// I/O error.
    pub const EIO: i32 = 5;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Device or resource busy.
    pub const EBUSY: i32 = 16;
    /// No such device.
    pub const ENODEV: i32 = 19;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// No data available.
    pub const ENODATA: i32 = 61;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
    /// Connection timed out.
    pub const ETIMEDOUT: i32 = 110;
}

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

/// A raw value that names no variant of the enum it was decoded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidValue(pub u64);

/// Declares a fieldless wire enum with its raw conversions and short names.
///
/// The decoders return `None` rather than guessing, so the simulated
/// hypervisor can refuse an undefined value the way the real one does.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ident {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal => $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every variant, in wire order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Decodes a raw wire value.
            pub const fn from_raw(raw: $repr) -> Option<Self> {
                match raw {
                    $($value => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The raw wire value.
            pub const fn raw(self) -> $repr {
                self as $repr
            }

            /// A short name for logs and user interfaces.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }
        }

        impl TryFrom<$repr> for $name {
            type Error = InvalidValue;

            fn try_from(raw: $repr) -> Result<Self, InvalidValue> {
                Self::from_raw(raw).ok_or(InvalidValue(u64::from(raw)))
            }
        }
    };
}

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
        /// system-diagnostics log buffers, [`SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS`]).
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
// Result value and status
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

/// A hypercall status code.
///
/// Any 16-bit value can arrive from a hypervisor, so this is an open newtype
/// rather than an enum; the codes hv_evlog knows have named constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HvStatus(pub u16);

/// Declares the named statuses with their TLFS names and errno mapping, so
/// the three can never drift apart.
macro_rules! hv_statuses {
    ($($(#[$meta:meta])* $name:ident = $code:literal => $errno:expr,)+) => {
        impl HvStatus {
            $($(#[$meta])* pub const $name: Self = Self($code);)+

            /// Every status defined by the TLFS that hv_evlog names, in code
            /// order. [`Self::NO_HYPERCALL_PAGE`] is not among them.
            pub const NAMED: &'static [Self] = &[$(Self::$name),+];

            /// The TLFS name, e.g. `HV_STATUS_ACCESS_DENIED`.
            pub const fn name(self) -> &'static str {
                match self.0 {
                    $($code => concat!("HV_STATUS_", stringify!($name)),)+
                    Self::NO_HYPERCALL_PAGE_CODE => "HV_EVLOG_NO_HYPERCALL_PAGE",
                    _ => "HV_STATUS_UNKNOWN",
                }
            }

            /// The positive errno that best describes the status; 0 for
            /// success. See the table on [`HvStatus`].
            pub const fn to_errno(self) -> i32 {
                match self.0 {
                    $($code => $errno,)+
                    Self::NO_HYPERCALL_PAGE_CODE => errno::ENODEV,
                    _ => errno::EIO,
                }
            }
        }
    };
}

// The errno table. The kernel's own `hv_result_to_errno()` folds most
// statuses into EIO; hv_evlog is more specific so that userspace can tell
// "not allowed here" (EACCES), "not a hypervisor that does this" (EOPNOTSUPP),
// "wrong state, try later" (EBUSY) and "out of pool" (ENOMEM) apart:
//
// - EACCES: ACCESS_DENIED (an ordinary guest, not the root partition).
// - EOPNOTSUPP: INVALID_HYPERCALL_CODE (e.g. KVM's Hyper-V emulation),
//   UNKNOWN_PROPERTY, FEATURE_UNAVAILABLE.
// - EBUSY: INVALID_PARTITION_STATE (group already initialized),
//   OPERATION_DENIED (finalize with buffers or sources left), OBJECT_IN_USE,
//   INVALID_VP_STATE, INVALID_SYNIC_STATE. OPERATION_DENIED is a state
//   conflict in the event log calls, not a privilege problem, hence not EPERM.
// - ENOMEM: INSUFFICIENT_MEMORY, INSUFFICIENT_BUFFERS, NO_RESOURCES.
// - EINVAL: malformed input of any kind, including a bad proximity domain.
// - ENOENT: NOT_FOUND. ETIMEDOUT: TIMEOUT. ENODATA: NO_DATA.
// - ENODEV: no hypercall page, i.e. no Hyper-V at all.
// - EIO: everything else, named or not.
hv_statuses! {
    /// The call succeeded.
    SUCCESS = 0x0000 => 0,
    /// The call code is not supported.
    INVALID_HYPERCALL_CODE = 0x0002 => errno::EOPNOTSUPP,
    /// Rep count, reserved bits or input layout are wrong.
    INVALID_HYPERCALL_INPUT = 0x0003 => errno::EINVAL,
    /// An input or output address is not properly aligned.
    INVALID_ALIGNMENT = 0x0004 => errno::EINVAL,
    /// A parameter is out of range or otherwise invalid.
    INVALID_PARAMETER = 0x0005 => errno::EINVAL,
    /// The caller lacks the privilege for the call.
    ACCESS_DENIED = 0x0006 => errno::EACCES,
    /// The partition (or group) is in the wrong state for the call.
    INVALID_PARTITION_STATE = 0x0007 => errno::EBUSY,
    /// The operation is not allowed in the current state.
    OPERATION_DENIED = 0x0008 => errno::EBUSY,
    /// The property code is not known.
    UNKNOWN_PROPERTY = 0x0009 => errno::EOPNOTSUPP,
    /// The property value is out of range.
    PROPERTY_VALUE_OUT_OF_RANGE = 0x000A => errno::EINVAL,
    /// The pool lacks pages; deposit more and retry.
    INSUFFICIENT_MEMORY = 0x000B => errno::ENOMEM,
    /// The partition id is not valid.
    INVALID_PARTITION_ID = 0x000D => errno::EINVAL,
    /// The virtual processor index is not valid.
    INVALID_VP_INDEX = 0x000E => errno::EINVAL,
    /// The object was not found.
    NOT_FOUND = 0x0010 => errno::ENOENT,
    /// The port id is not valid.
    INVALID_PORT_ID = 0x0011 => errno::EINVAL,
    /// The connection id is not valid.
    INVALID_CONNECTION_ID = 0x0012 => errno::EINVAL,
    /// Not enough buffers.
    INSUFFICIENT_BUFFERS = 0x0013 => errno::ENOMEM,
    /// A message was not acknowledged.
    NOT_ACKNOWLEDGED = 0x0014 => errno::EIO,
    /// The virtual processor is in the wrong state.
    INVALID_VP_STATE = 0x0015 => errno::EBUSY,
    /// A message was acknowledged.
    ACKNOWLEDGED = 0x0016 => errno::EIO,
    /// The save/restore state is not valid.
    INVALID_SAVE_RESTORE_STATE = 0x0017 => errno::EINVAL,
    /// A required SynIC feature is disabled.
    INVALID_SYNIC_STATE = 0x0018 => errno::EBUSY,
    /// The object or value is already in use.
    OBJECT_IN_USE = 0x0019 => errno::EBUSY,
    /// The proximity domain information is not valid.
    INVALID_PROXIMITY_DOMAIN_INFO = 0x001A => errno::EINVAL,
    /// No data was available.
    NO_DATA = 0x001B => errno::ENODATA,
    /// A debug connection has seen no activity.
    INACTIVE = 0x001C => errno::EIO,
    /// Not enough resources for the call.
    NO_RESOURCES = 0x001D => errno::ENOMEM,
    /// The feature is not available.
    FEATURE_UNAVAILABLE = 0x001E => errno::EOPNOTSUPP,
    /// The call timed out.
    TIMEOUT = 0x0078 => errno::ETIMEDOUT,
}

impl HvStatus {
    const NO_HYPERCALL_PAGE_CODE: u16 = 0xFFFF;

    /// hv_evlog's name for the status of [`HV_NO_HYPERCALL_PAGE`]: no
    /// hypercall page, so no Hyper-V. Not a TLFS status; it maps to ENODEV.
    pub const NO_HYPERCALL_PAGE: Self = Self(Self::NO_HYPERCALL_PAGE_CODE);

    /// Whether the status is [`Self::SUCCESS`].
    pub const fn is_success(self) -> bool {
        self.0 == Self::SUCCESS.0
    }

    /// Whether the status is one hv_evlog has a name for.
    pub const fn is_named(self) -> bool {
        let mut i = 0;
        while i < Self::NAMED.len() {
            if Self::NAMED[i].0 == self.0 {
                return true;
            }
            i += 1;
        }
        false
    }
}

// ---------------------------------------------------------------------------
// Byte-level encoding
// ---------------------------------------------------------------------------

/// Copies `bytes` into `buf` at `off`. A write that would not fit is dropped;
/// callers only pass offsets pinned inside the encoded size.
fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = off
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(off..end))
    {
        dst.copy_from_slice(bytes);
    }
}

/// Reads `N` bytes of `buf` at `off`, or zeros if they are not all there;
/// callers check the length first.
fn take<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = off.checked_add(N).and_then(|end| buf.get(off..end)) {
        out.copy_from_slice(src);
    }
    out
}

fn put_u16(buf: &mut [u8], off: usize, value: u16) {
    put(buf, off, &value.to_le_bytes());
}

fn put_u32(buf: &mut [u8], off: usize, value: u32) {
    put(buf, off, &value.to_le_bytes());
}

fn put_u64(buf: &mut [u8], off: usize, value: u64) {
    put(buf, off, &value.to_le_bytes());
}

fn get_u16(buf: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(take(buf, off))
}

fn get_u32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(take(buf, off))
}

fn get_u64(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(take(buf, off))
}

/// A fixed-size layout with a little-endian byte encoding.
///
/// Implementors provide the field writer and reader; the provided methods add
/// the length checks, zero the padding and reserved bytes (the hypervisor
/// refuses reserved bits that are set, and an input page is reused between
/// calls) and convert to and from the fast-call registers.
pub trait Wire: Sized {
    /// Encoded size in bytes.
    const SIZE: usize;

    /// Writes every field at its offset. `out` holds at least [`Self::SIZE`]
    /// zeroed bytes; use [`Wire::encode`] rather than calling this directly.
    fn write_fields(&self, out: &mut [u8]);

    /// Reads every field from its offset. `buf` holds at least
    /// [`Self::SIZE`] bytes; use [`Wire::decode`] rather than calling this
    /// directly.
    fn read_fields(buf: &[u8]) -> Self;

    /// Writes the encoding to the start of `page`, zeroing the bytes the
    /// fields do not cover, and returns its length. `None` if `page` is
    /// shorter than [`Self::SIZE`]; nothing is written then.
    fn encode(&self, page: &mut [u8]) -> Option<usize> {
        let out = page.get_mut(..Self::SIZE)?;
        out.fill(0);
        self.write_fields(out);
        Some(Self::SIZE)
    }

    /// Decodes from the start of `buf`; `None` if it is shorter than
    /// [`Self::SIZE`]. Field values are not validated: the enum fields stay
    /// raw so that a receiver can refuse an undefined value itself.
    fn decode(buf: &[u8]) -> Option<Self> {
        buf.get(..Self::SIZE).map(Self::read_fields)
    }

    /// The two fast-call input registers (RDX, R8 on x86_64): encoding bytes
    /// 0-7 and 8-15 as little-endian `u64`s, zero-padded. `None` if the
    /// encoding is longer than 16 bytes and so cannot go fast.
    fn fast_input(&self) -> Option<[u64; 2]> {
        let mut bytes = [0; 16];
        self.encode(&mut bytes)?;
        Some([get_u64(&bytes, 0), get_u64(&bytes, 8)])
    }

    /// Decodes the input of a fast call from its two registers; `None` if the
    /// layout is longer than 16 bytes.
    fn from_fast_input(regs: [u64; 2]) -> Option<Self> {
        let mut bytes = [0; 16];
        put_u64(&mut bytes, 0, regs[0]);
        put_u64(&mut bytes, 8, regs[1]);
        Self::decode(&bytes)
    }
}

/// Implements [`Wire`] for a layout given as `field: kind` pairs, reading and
/// writing each field at its `offset_of!` position, so the encoding follows
/// the struct's (pinned) layout and cannot disagree with it.
macro_rules! impl_wire {
    ($ty:ident { $($field:ident: $kind:ident),+ $(,)? }) => {
        impl Wire for $ty {
            const SIZE: usize = size_of::<Self>();

            fn write_fields(&self, out: &mut [u8]) {
                $(impl_wire!(@put $kind, out, offset_of!(Self, $field), self.$field);)+
            }

            fn read_fields(buf: &[u8]) -> Self {
                Self {
                    $($field: impl_wire!(@get $kind, buf, offset_of!(Self, $field)),)+
                }
            }
        }
    };
    (@put u8, $out:ident, $off:expr, $value:expr) => { $out[$off] = $value };
    (@put u16, $out:ident, $off:expr, $value:expr) => { put_u16($out, $off, $value) };
    (@put u32, $out:ident, $off:expr, $value:expr) => { put_u32($out, $off, $value) };
    (@put u64, $out:ident, $off:expr, $value:expr) => { put_u64($out, $off, $value) };
    (@put u32x2, $out:ident, $off:expr, $value:expr) => {{
        put_u32($out, $off, $value[0]);
        put_u32($out, $off + 4, $value[1]);
    }};
    (@put pxm, $out:ident, $off:expr, $value:expr) => {{
        put_u32($out, $off + offset_of!(ProximityDomainInfo, domain_id), $value.domain_id);
        put_u32($out, $off + offset_of!(ProximityDomainInfo, flags), $value.flags);
    }};
    (@get u8, $buf:ident, $off:expr) => { $buf[$off] };
    (@get u16, $buf:ident, $off:expr) => { get_u16($buf, $off) };
    (@get u32, $buf:ident, $off:expr) => { get_u32($buf, $off) };
    (@get u64, $buf:ident, $off:expr) => { get_u64($buf, $off) };
    (@get u32x2, $buf:ident, $off:expr) => { [get_u32($buf, $off), get_u32($buf, $off + 4)] };
    (@get pxm, $buf:ident, $off:expr) => {
        ProximityDomainInfo {
            domain_id: get_u32($buf, $off + offset_of!(ProximityDomainInfo, domain_id)),
            flags: get_u32($buf, $off + offset_of!(ProximityDomainInfo, flags)),
        }
    };
}

// ---------------------------------------------------------------------------
// Hypercall inputs and outputs
// ---------------------------------------------------------------------------

/// Where the hypervisor should take memory from (HV_PROXIMITY_DOMAIN_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProximityDomainInfo {
    /// ACPI proximity domain id; meaningful only with [`Self::VALID`].
    pub domain_id: u32,
    /// [`Self::PREFERRED`], [`Self::VALID`]; other bits reserved.
    pub flags: u32,
}

pin_layout!(ProximityDomainInfo, size = 8; domain_id @ 0, flags @ 4);

impl ProximityDomainInfo {
    /// The domain is a preference: the hypervisor may fall back to another
    /// one when it has no memory there.
    pub const PREFERRED: u32 = 1 << 0;
    /// `domain_id` is meaningful; without it the hypervisor picks.
    pub const VALID: u32 = 1 << 31;
    /// Bits that must be zero.
    pub const RESERVED_FLAGS: u32 = !(Self::PREFERRED | Self::VALID);

    /// No placement request.
    pub const fn none() -> Self {
        Self {
            domain_id: 0,
            flags: 0,
        }
    }

    /// Prefer proximity domain `domain`, as Linux's own helper for a NUMA
    /// node does (valid and preferred).
    pub const fn node(domain: u32) -> Self {
        Self {
            domain_id: domain,
            flags: Self::VALID | Self::PREFERRED,
        }
    }

    /// The requested domain, if any.
    pub const fn domain(self) -> Option<u32> {
        if self.flags & Self::VALID != 0 {
            Some(self.domain_id)
        } else {
            None
        }
    }

    /// Whether the request is only a preference.
    pub const fn is_preferred(self) -> bool {
        self.flags & Self::PREFERRED != 0
    }
}

impl_wire!(ProximityDomainInfo {
    domain_id: u32,
    flags: u32
});

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

/// The newer initialize input, naturally aligned (see
/// [`InitializeGroupInput`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InitializeGroupInputNatural {
    /// [`EventLogType`], 16 bits wide in this generation.
    pub log_type: u16,
    /// [`EventLogMode`].
    pub mode: u16,
    /// Most buffers the group may ever have, 1 to [`MAX_BUFFERS`].
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

pin_layout!(
    InitializeGroupInputNatural, size = 32;
    log_type @ 0, mode @ 2, max_buffer_count @ 4, buffer_size_in_bytes @ 8,
    threshold @ 12, time_basis @ 16, system_time @ 24,
);

/// The newer initialize input, packed (see [`InitializeGroupInput`]).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InitializeGroupInputPacked {
    /// [`EventLogType`], 16 bits wide in this generation.
    pub log_type: u16,
    /// [`EventLogMode`].
    pub mode: u16,
    /// Most buffers the group may ever have, 1 to [`MAX_BUFFERS`].
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

pin_layout!(
    InitializeGroupInputPacked, size = 28;
    log_type @ 0, mode @ 2, max_buffer_count @ 4, buffer_size_in_bytes @ 8,
    threshold @ 12, time_basis @ 16, system_time @ 20,
);

/// The constructor both initialize packings share.
macro_rules! impl_init_group {
    ($ty:ident) => {
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

impl_init_group!(InitializeGroupInputNatural);
impl_init_group!(InitializeGroupInputPacked);

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

/// Bit 0 of [`SetSourcesInput::configuration_flags`]: the flags are in the
/// extended format (a mode and per-group event lists). In the legacy format
/// hv_evlog uses, the flags are the group mask and this bit must be clear:
/// Microsoft's driver refuses such a mask with EINVAL before the call
/// (mshv_trace.c, `mshv_trace_state_set_sources`; reference file, "Input
/// layouts").
pub const SOURCES_EXTENDED: u64 = 0x1;

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
/// flags are the group mask of [`SOURCES`], with [`SOURCES_EXTENDED`] clear.
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

    /// Whether the input is in the legacy form a mask of [`SOURCES`] uses:
    /// no groups, bit 0 clear.
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

/// HvCallDepositMemory input header. A rep call: the header is followed by
/// one guest page number per rep, the rep count is the number of pages, and
/// the reps completed say how many the hypervisor took.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DepositMemoryInput {
    /// Partition whose pool receives the pages, usually
    /// [`HV_PARTITION_ID_SELF`].
    pub partition_id: u64,
}

pin_layout!(DepositMemoryInput, size = 8; partition_id @ 0);

impl DepositMemoryInput {
    /// Most pages one call can deposit: as many as fit in the input page
    /// after the header.
    pub const MAX_PAGES: usize = (PAGE_SIZE - size_of::<Self>()) / 8;

    /// A deposit into `partition_id`'s pool.
    pub const fn new(partition_id: u64) -> Self {
        Self { partition_id }
    }

    /// Writes the header and `gpa_pages` as the rep list and returns the
    /// bytes used. `None` (and nothing written) if there are more than
    /// [`Self::MAX_PAGES`] pages or `page` is too short.
    pub fn encode_with_pages(&self, page: &mut [u8], gpa_pages: &[u64]) -> Option<usize> {
        if gpa_pages.len() > Self::MAX_PAGES {
            return None;
        }
        let len = Self::SIZE + gpa_pages.len() * 8;
        let out = page.get_mut(..len)?;
        self.encode(out)?;
        for (index, gpa_page) in gpa_pages.iter().enumerate() {
            put_u64(out, Self::SIZE + index * 8, *gpa_page);
        }
        Some(len)
    }

    /// Rep element `index` of an encoded input page; `None` past
    /// [`Self::MAX_PAGES`] or the slice.
    pub fn gpa_page(page: &[u8], index: usize) -> Option<u64> {
        if index >= Self::MAX_PAGES {
            return None;
        }
        let off = Self::SIZE + index * 8;
        page.get(off..off + 8).map(|b| get_u64(b, 0))
    }
}

impl_wire!(DepositMemoryInput { partition_id: u64 });

/// HvCallWithdrawMemory input. A rep call: the rep count is how many pages
/// are asked for; the hypervisor writes one guest page number per rep it
/// completes into the output page, and those pages are the caller's again.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WithdrawMemoryInput {
    /// Whose pool; usually [`HV_PARTITION_ID_SELF`].
    pub partition_id: u64,
    /// Which proximity domain's pages.
    pub proximity: ProximityDomainInfo,
}

pin_layout!(
    WithdrawMemoryInput, size = 16;
    partition_id @ 0, proximity @ 8,
);

impl WithdrawMemoryInput {
    /// Most pages one call can withdraw: the output page's page numbers.
    pub const MAX_PAGES: usize = PAGE_SIZE / 8;

    /// Withdraws from the caller's own pool in `proximity`.
    pub const fn own(proximity: ProximityDomainInfo) -> Self {
        Self {
            partition_id: HV_PARTITION_ID_SELF,
            proximity,
        }
    }

    /// Page number `index` of a withdraw output page.
    pub fn gpa_page(out: &[u8], index: usize) -> Option<u64> {
        let off = index.checked_mul(8)?;
        out.get(off..off + 8).map(|b| get_u64(b, 0))
    }

    /// Writes page number `index` into a withdraw output page.
    pub fn set_gpa_page(out: &mut [u8], index: usize, gpa_page: u64) -> Option<()> {
        let off = index.checked_mul(8)?;
        out.get_mut(off..off + 8)?;
        put_u64(out, off, gpa_page);
        Some(())
    }
}

impl_wire!(WithdrawMemoryInput {
    partition_id: u64,
    proximity: pxm
});

/// HvCallGetMemoryBalance input: the pool query.
///
/// The TLFS defines this call for exactly what hv_evlog needs before creating
/// buffers: how many pages a partition's pool holds in one proximity domain.
/// hv_evlog asks about its own partition ([`HV_PARTITION_ID_SELF`]) with
/// [`ProximityDomainInfo::node`] for a local group's domains, or
/// [`ProximityDomainInfo::none`] for the pool as a whole. Being a root-only
/// call it shares the event log calls' privilege, so a guest that may not log
/// finds out here, before anything was allocated.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GetMemoryBalanceInput {
    /// Whose pool; usually [`HV_PARTITION_ID_SELF`].
    pub partition_id: u64,
    /// Which proximity domain of the pool.
    pub proximity: ProximityDomainInfo,
}

pin_layout!(
    GetMemoryBalanceInput, size = 16;
    partition_id @ 0, proximity @ 8,
);

impl GetMemoryBalanceInput {
    /// The query for the caller's own pool in `proximity`.
    pub const fn own(proximity: ProximityDomainInfo) -> Self {
        Self {
            partition_id: HV_PARTITION_ID_SELF,
            proximity,
        }
    }
}

impl_wire!(GetMemoryBalanceInput {
    partition_id: u64,
    proximity: pxm
});

/// HvCallGetMemoryBalance output.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GetMemoryBalanceOutput {
    /// Pages in the pool not yet used by the hypervisor.
    pub pages_available: u64,
    /// Pages the hypervisor has taken from the pool.
    pub pages_in_use: u64,
}

pin_layout!(
    GetMemoryBalanceOutput, size = 16;
    pages_available @ 0, pages_in_use @ 8,
);

impl_wire!(GetMemoryBalanceOutput {
    pages_available: u64,
    pages_in_use: u64
});

/// HvCallGetPartitionProperty input, as the TLFS and Linux define it.
///
/// Kept for completeness and for the simulator; hv_evlog queries the pool
/// with [`GetMemoryBalanceInput`], because no property reports pool pages per
/// proximity domain and this input has no room to name a domain.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GetPartitionPropertyInput {
    /// Whose property; usually [`HV_PARTITION_ID_SELF`].
    pub partition_id: u64,
    /// Which property.
    pub property_code: u32,
    /// Must be zero.
    pub padding: u32,
}

pin_layout!(
    GetPartitionPropertyInput, size = 16;
    partition_id @ 0, property_code @ 8, padding @ 12,
);

impl_wire!(GetPartitionPropertyInput {
    partition_id: u64,
    property_code: u32,
    padding: u32
});

/// HvCallGetPartitionProperty output.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GetPartitionPropertyOutput {
    /// The property's value.
    pub property_value: u64,
}

pin_layout!(GetPartitionPropertyOutput, size = 8; property_value @ 0);

impl_wire!(GetPartitionPropertyOutput {
    property_value: u64
});

/// HvCallGetSystemProperty's property 28, "diagnostic log buffers"
/// (`HV_SYSTEM_PROPERTY_DIAGOSTICS_LOG_BUFFERS`): how many system-diagnostics
/// (type 2) buffers the hypervisor keeps and how large each is.
pub const SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS: u32 = 28;

/// HvCallGetSystemProperty input (slow call: input page, output page).
///
/// The layout of Microsoft's `struct hv_input_get_system_property`, as its
/// system-diagnostics reader uses it (`get_diaglog_info()` in
/// drivers/hv/diag/mshv_diaglog.c, microsoft/CBL-Mariner-Linux-Kernel; the
/// struct is in its include/hyperv/hvhdk.h): the property id, a reserved
/// word, then 8 bytes of property-specific input (a union; zero for property
/// 28), 16 bytes in all, packed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GetSystemPropertyInput {
    /// Which property, e.g. [`SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS`].
    pub property_id: u32,
    /// Must be zero.
    pub reserved: u32,
    /// Property-specific input; zero for the diagnostic log buffers.
    pub argument: u64,
}

pin_layout!(
    GetSystemPropertyInput, size = 16;
    property_id @ 0, reserved @ 4, argument @ 8,
);

impl_wire!(GetSystemPropertyInput {
    property_id: u32,
    reserved: u32,
    argument: u64
});

impl GetSystemPropertyInput {
    /// The query for property `property_id`, with no argument.
    pub const fn new(property_id: u32) -> Self {
        Self {
            property_id,
            reserved: 0,
            argument: 0,
        }
    }
}

/// HvCallGetSystemProperty output for
/// [`SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS`]: Microsoft's
/// `struct hv_system_diag_log_buffer_config` at the start of the output
/// page (the first member of the output union), packed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DiagLogBufferConfig {
    /// Number of system-diagnostics buffers (indices `0..buffer_count`).
    pub buffer_count: u32,
    /// Pages in each.
    pub buffer_size_in_pages: u32,
}

pin_layout!(
    DiagLogBufferConfig, size = 8;
    buffer_count @ 0, buffer_size_in_pages @ 4,
);

impl_wire!(DiagLogBufferConfig {
    buffer_count: u32,
    buffer_size_in_pages: u32
});

// ---------------------------------------------------------------------------
// Event sources
// ---------------------------------------------------------------------------

// The legacy group mask of HvCallSetEventLogGroupSources: one bit per
// hypervisor component, with Microsoft's names and bits (HV_TR_GROUP_* in
// include/hyperv/hvtrapi.h of microsoft/CBL-Mariner-Linux-Kernel; the list in
// the reference file, "Input layouts"). Bits 0-7 are not groups: bit 0 means
// "extended format" ([`SOURCES_EXTENDED`]).

/// Hypercalls (HV_TR_GROUP_HC).
pub const SOURCE_HC: u64 = 0x400;
/// Virtual processors (HV_TR_GROUP_VP).
pub const SOURCE_VP: u64 = 0x8000;
/// Scheduler (HV_TR_GROUP_SCH).
pub const SOURCE_SCH: u64 = 0x40_0000;
/// Context switches (HV_TR_GROUP_TH).
pub const SOURCE_TH: u64 = 0x80_0000;

/// Every source group, as (name, mask bit), in bit order: Microsoft's
/// group names in lower case. The one table the module's `sources`
/// parameter, its SET_SOURCES ioctl and the `hv-evlog sources` command read.
pub const SOURCES: &[(&str, u64)] = &[
    ("bm", 0x100),
    ("dm", 0x200),
    ("hc", SOURCE_HC),
    ("im", 0x800),
    ("ic", 0x1000),
    ("ob", 0x2000),
    ("pt", 0x4000),
    ("vp", SOURCE_VP),
    ("synic", 0x1_0000),
    ("synic_ti", 0x2_0000),
    ("am_gva", 0x4_0000),
    ("am", 0x8_0000),
    ("val", 0x10_0000),
    ("vm", 0x20_0000),
    ("sch", SOURCE_SCH),
    ("th", SOURCE_TH),
    ("ti", 0x100_0000),
    ("ke", 0x200_0000),
    ("mm", 0x400_0000),
    ("profiler", 0x800_0000),
    ("usch", 0x1000_0000),
    ("generic", 0x2000_0000),
];

/// Every group bit of [`SOURCES`] (Microsoft's HV_TR_ALL_GROUPS).
pub const SOURCES_ALL: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < SOURCES.len() {
        mask |= SOURCES[i].1;
        i += 1;
    }
    mask
};

const _: () = assert!(SOURCES_ALL == 0x3FFF_FF00);
const _: () = assert!(SOURCES_ALL & SOURCES_EXTENDED == 0);

/// The mask bit of the source group called `name` (ASCII case ignored).
pub fn source_by_name(name: &str) -> Option<u64> {
    SOURCES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|&(_, bit)| bit)
}

/// The name of a single source bit, if it is one hv_evlog names.
pub fn source_name(bit: u64) -> Option<&'static str> {
    SOURCES
        .iter()
        .find(|&&(_, known)| known == bit)
        .map(|&(name, _)| name)
}

/// Parses a comma-separated list of source names (spaces around names
/// ignored, empty items skipped) into a mask. On an unknown name, returns
/// that name.
pub fn parse_sources(list: &str) -> Result<u64, &str> {
    let mut mask = 0;
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        mask |= source_by_name(name).ok_or(name)?;
    }
    Ok(mask)
}

// ---------------------------------------------------------------------------
// Buffer contents
// ---------------------------------------------------------------------------

/// The header the hypervisor keeps at offset 0 of every buffer
/// (HV_EVENTLOG_BUFFER_HEADER).
///
/// 72 bytes: the fields up to offset 60 are as the reference table lists
/// them, and both HDK generations as well as Linux's header end the struct
/// with two more reserved words, so the first entry sits at offset 72
/// ([`ENTRIES_OFFSET`]).
///
/// Two fields count from the **end** of the header, not from the buffer
/// start (reference file, "What the hypervisor writes into each buffer";
/// Microsoft's reader in drivers/hv/diag/mshv_diaglog.c starts entries at
/// header + offset and reads while the offset is below `next_buffer_offset`,
/// and mshv_trace.c counts a buffer as header plus `buffer_size` bytes):
///
/// - `buffer_size`: bytes after the header, so header + `buffer_size` =
///   pages × 4096;
/// - `next_buffer_offset`: bytes of entries written, from the end of the
///   header; the entries occupy [`ENTRIES_OFFSET`] to
///   [`BufferHeader::entries_end`].
///
/// `logical_processor` is 16 bits wide, as in the newest header (Microsoft's
/// include/hyperv/hvtrapi.h; reference file, "What the hypervisor writes into
/// each buffer"). Older headers split it into an 8-bit processor and an 8-bit
/// `alignment`; a reader of the newest layout would take a nonzero
/// `alignment` byte for processor bits, so nothing is written there.
/// Reserved fields are opaque; the hypervisor may keep sequence numbers there.
///
/// The buffer is shared with a hypervisor that writes it concurrently: decode
/// a snapshot (copied bytes), not the live page, and re-check it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BufferHeader {
    /// Bytes of the buffer after this header.
    pub buffer_size: u32,
    /// This buffer's index.
    pub buffer_index: u32,
    /// Events dropped because no buffer was free.
    pub events_lost: u32,
    /// The hypervisor's reference count of writers.
    pub reference_counter: u32,
    /// When the buffer was started, per the group's [`TimeBasis`].
    pub time_stamp: u64,
    /// Reserved.
    pub reserved1: u64,
    /// Reserved.
    pub reserved2: u64,
    /// Logical processor that filled the buffer (16 bits in the newest
    /// header; older ones have 8 bits and an alignment byte at offset 41).
    pub logical_processor: u16,
    /// Logger id.
    pub logger_id: u16,
    /// [`BufferState`].
    pub buffer_state: u32,
    /// Bytes of entries written, counted from the end of this header (not
    /// from the buffer start); see [`BufferHeader::entries_end`].
    pub next_buffer_offset: u32,
    /// [`EventLogType`].
    pub log_type: u32,
    /// Next buffer completed along with this one, or [`END_OF_CHAIN`].
    pub next_buffer_index: u32,
    /// Reserved (a per-processor sequence number in some versions).
    pub reserved3: u32,
    /// Reserved.
    pub reserved4: [u32; 2],
}

pin_layout!(
    BufferHeader, size = 72;
    buffer_size @ 0, buffer_index @ 4, events_lost @ 8, reference_counter @ 12,
    time_stamp @ 16, reserved1 @ 24, reserved2 @ 32, logical_processor @ 40,
    logger_id @ 42, buffer_state @ 44, next_buffer_offset @ 48,
    log_type @ 52, next_buffer_index @ 56, reserved3 @ 60, reserved4 @ 64,
);

impl_wire!(BufferHeader {
    buffer_size: u32,
    buffer_index: u32,
    events_lost: u32,
    reference_counter: u32,
    time_stamp: u64,
    reserved1: u64,
    reserved2: u64,
    logical_processor: u16,
    logger_id: u16,
    buffer_state: u32,
    next_buffer_offset: u32,
    log_type: u32,
    next_buffer_index: u32,
    reserved3: u32,
    reserved4: u32x2,
});

impl BufferHeader {
    /// The buffer state, if it is a defined one.
    pub const fn state(&self) -> Option<BufferState> {
        BufferState::from_raw(self.buffer_state)
    }

    /// The event log type, if it is a defined one.
    pub const fn event_log_type(&self) -> Option<EventLogType> {
        EventLogType::from_raw(self.log_type)
    }

    /// Offset from the buffer start just past the entries written:
    /// [`ENTRIES_OFFSET`] + `next_buffer_offset`. Saturates rather than
    /// overflows on a 32-bit target, which no buffer reaches.
    pub const fn entries_end(&self) -> usize {
        ENTRIES_OFFSET.saturating_add(self.next_buffer_offset as usize)
    }

    /// Bytes of the whole buffer, header included, per `buffer_size`.
    pub const fn total_size(&self) -> usize {
        ENTRIES_OFFSET.saturating_add(self.buffer_size as usize)
    }

    /// The next buffer of the completion chain, `None` at its end.
    pub const fn next_in_chain(&self) -> Option<u32> {
        if self.next_buffer_index == END_OF_CHAIN {
            None
        } else {
            Some(self.next_buffer_index)
        }
    }
}

/// Offset of the first entry in a buffer: right after the header.
pub const ENTRIES_OFFSET: usize = size_of::<BufferHeader>();

/// Every entry starts at a multiple of this offset from the buffer start
/// (and so from the end of the header, which is a multiple of it).
pub const ENTRY_ALIGN: usize = 8;

const _: () = assert!(ENTRIES_OFFSET & (ENTRY_ALIGN - 1) == 0);

/// The header of each entry (HV_EVENTLOG_ENTRY_HEADER); the payload follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EntryHeader {
    /// Opaque context of the event.
    pub context: u32,
    /// Size of the whole entry, this header included.
    pub size: u16,
    /// Event type.
    pub entry_type: u16,
    /// When the event happened, per the group's [`TimeBasis`].
    pub timestamp: u64,
}

pin_layout!(
    EntryHeader, size = 16;
    context @ 0, size @ 4, entry_type @ 6, timestamp @ 8,
);

impl_wire!(EntryHeader {
    context: u32,
    size: u16,
    entry_type: u16,
    timestamp: u64
});

impl EntryHeader {
    /// Offset of the entry after one of `size` bytes at `offset`: entries
    /// follow each other back to back, each starting aligned. Saturates
    /// instead of overflowing, which only offsets far beyond any buffer reach.
    pub const fn next_offset(offset: usize, size: u16) -> usize {
        let end = offset.saturating_add(size as usize);
        end.saturating_add(ENTRY_ALIGN - 1) & !(ENTRY_ALIGN - 1)
    }
}

/// One entry found by [`entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Offset of the entry from the buffer start.
    pub offset: usize,
    /// Its header.
    pub header: EntryHeader,
    /// The bytes after the header, up to `header.size`.
    pub payload: &'a [u8],
}

/// Why walking a buffer's entries stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// The slice is too short to hold a buffer header.
    NoHeader {
        /// Length of the slice.
        len: usize,
    },
    /// The end of the used area lies past the slice.
    BadEnd {
        /// The end offset, from the buffer start.
        end: usize,
    },
    /// An entry would start at an offset that is not [`ENTRY_ALIGN`]ed.
    Misaligned {
        /// The offset.
        offset: usize,
    },
    /// Less than an entry header is left before the end.
    Truncated {
        /// Where the partial entry starts.
        offset: usize,
    },
    /// An entry's size is smaller than its own header.
    TooSmall {
        /// Where the entry starts.
        offset: usize,
        /// Its size field.
        size: u16,
    },
    /// An entry runs past the end of the used area.
    Overrun {
        /// Where the entry starts.
        offset: usize,
        /// Its size field.
        size: u16,
    },
}

/// Iterator over the entries of one buffer; see [`entries`].
///
/// Yields `Ok` for each well-formed entry, then stops; on malformed data it
/// yields one `Err` and stops, so a consumer keeps what came before it.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    failed: Option<EntryError>,
}

/// Walks the entries of a buffer: `buffer` is the whole buffer (header
/// first), the used area runs from [`ENTRIES_OFFSET`] for the header's
/// `next_buffer_offset` bytes, i.e. to [`BufferHeader::entries_end`].
///
/// A `next_buffer_offset` of zero is an empty buffer (one the hypervisor
/// never started has an all-zero header); one reaching past the slice is
/// [`EntryError::BadEnd`].
pub fn entries(buffer: &[u8]) -> Entries<'_> {
    let Some(header) = BufferHeader::decode(buffer) else {
        return Entries::failed(buffer, EntryError::NoHeader { len: buffer.len() });
    };
    entries_in(buffer, ENTRIES_OFFSET, header.entries_end())
}

/// Walks the entries of `buffer` from offset `start` up to `end`, e.g. to
/// resume after entries already consumed.
pub fn entries_in(buffer: &[u8], start: usize, end: usize) -> Entries<'_> {
    if end > buffer.len() {
        return Entries::failed(buffer, EntryError::BadEnd { end });
    }
    Entries {
        buf: buffer,
        pos: start,
        end,
        failed: None,
    }
}

impl<'a> Entries<'a> {
    fn failed(buf: &'a [u8], error: EntryError) -> Self {
        Self {
            buf,
            pos: 0,
            end: 0,
            failed: Some(error),
        }
    }

    /// Offset the walk has reached: where the next entry would start.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn stop(&mut self, error: EntryError) -> Option<Result<Entry<'a>, EntryError>> {
        self.pos = self.end;
        Some(Err(error))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.failed.take() {
            return Some(Err(error));
        }
        let offset = self.pos;
        if offset >= self.end {
            return None;
        }
        if offset & (ENTRY_ALIGN - 1) != 0 {
            return self.stop(EntryError::Misaligned { offset });
        }
        let room = self.end - offset;
        let Some(header) = self.buf.get(offset..self.end).and_then(EntryHeader::decode) else {
            return self.stop(EntryError::Truncated { offset });
        };
        let size = header.size;
        if usize::from(size) < EntryHeader::SIZE {
            return self.stop(EntryError::TooSmall { offset, size });
        }
        if usize::from(size) > room {
            return self.stop(EntryError::Overrun { offset, size });
        }
        let payload = self
            .buf
            .get(offset + EntryHeader::SIZE..offset + usize::from(size))
            .unwrap_or_default();
        self.pos = EntryHeader::next_offset(offset, size);
        Some(Ok(Entry {
            offset,
            header,
            payload,
        }))
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

// ---------------------------------------------------------------------------
// SynIC messages: how the hypervisor reports completed buffers
// ---------------------------------------------------------------------------

/// The synthetic interrupt source that carries event log messages: SINT0,
/// the one the root partition's intercept messages also use
/// (drivers/hv/mshv_synic.c, `HV_SYNIC_INTERCEPTION_SINT_INDEX`).
pub const EVENTLOG_SINT: usize = 0;

/// Bytes of one message slot of the SynIC message page (TLFS
/// `HV_MESSAGE_SIZE`); slot `n` of the page serves SINT `n`.
pub const MESSAGE_SIZE: usize = 256;

/// `HVMSG_NONE`: the slot is empty.
pub const HVMSG_NONE: u32 = 0;

/// `HVMSG_EVENTLOG_BUFFERCOMPLETE` (include/hyperv/hvgdk_mini.h): buffers
/// of a group completed; the payload is an [`EventLogMessage`].
pub const HVMSG_EVENTLOG_BUFFERCOMPLETE: u32 = 0x8000_0040;

/// `message_flags` bit: the hypervisor holds more messages for this slot;
/// the partition signals end-of-message once it emptied the slot.
pub const MESSAGE_PENDING: u8 = 1 << 0;

/// The header of a SynIC message (TLFS `HV_MESSAGE_HEADER`), at the start of
/// its slot; the payload follows it. The hypervisor stores `message_type`
/// last: a reader that sees it not [`HVMSG_NONE`] sees the rest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageHeader {
    /// `HVMSG_*`.
    pub message_type: u32,
    /// Bytes of payload.
    pub payload_size: u8,
    /// [`MESSAGE_PENDING`].
    pub message_flags: u8,
    /// Reserved.
    pub reserved: u16,
    /// Sender (port id or partition id); 0 from the hypervisor itself.
    pub sender: u64,
}

pin_layout!(
    MessageHeader, size = 16;
    message_type @ 0, payload_size @ 4, message_flags @ 5, reserved @ 6, sender @ 8,
);

impl_wire!(MessageHeader {
    message_type: u32,
    payload_size: u8,
    message_flags: u8,
    reserved: u16,
    sender: u64,
});

/// The payload of [`HVMSG_EVENTLOG_BUFFERCOMPLETE`]: the group's type and
/// the first completed buffer; further buffers completed with it follow
/// through the headers' `next_buffer_index` (include/hyperv/hvtrapi.h,
/// `hv_eventlog_message_payload`; mshv_trace.c walks the chain from it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventLogMessage {
    /// [`EventLogType`].
    pub log_type: u32,
    /// First buffer of the chain.
    pub buffer_index: u32,
}

pin_layout!(EventLogMessage, size = 8; log_type @ 0, buffer_index @ 4);

impl_wire!(EventLogMessage {
    log_type: u32,
    buffer_index: u32,
});

/// Offset of the payload in a slot.
pub const MESSAGE_PAYLOAD_OFFSET: usize = MessageHeader::SIZE;

const _: () = assert!(MESSAGE_PAYLOAD_OFFSET + EventLogMessage::SIZE <= MESSAGE_SIZE);
const _: () = assert!((EVENTLOG_SINT + 1) * MESSAGE_SIZE <= PAGE_SIZE);
