// SPDX-License-Identifier: GPL-2.0

//! Hypercall statuses: the named TLFS codes with their errno mapping, and
//! the errno values themselves so that the pure layers need no kernel
//! bindings.

/// What the kernel's hypercall path returns when no hypercall page is set up,
/// i.e. when there is no Hyper-V underneath. Its low 16 bits decode to
/// [`HvStatus::NO_HYPERCALL_PAGE`].
pub const HV_NO_HYPERCALL_PAGE: u64 = u64::MAX;

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
            $(
                $(#[$meta])*
                #[allow(dead_code, reason = "the whole TLFS table; the kernel names few of them")]
                pub const $name: Self = Self($code);
            )+

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
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the tests check the status table with it")
    )]
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
