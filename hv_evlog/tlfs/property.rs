// SPDX-License-Identifier: GPL-2.0

//! The property queries' inputs and outputs: partition properties, and the
//! system property that describes the hypervisor's own system-diagnostics
//! buffers.

use super::wire::{impl_wire, pin_layout};

/// HvCallGetPartitionProperty input, as the TLFS and Linux define it.
///
/// Kept for completeness and for the simulator; hv_evlog queries the pool
/// with [`GetMemoryBalanceInput`](super::GetMemoryBalanceInput), because no
/// property reports pool pages per proximity domain and this input has no
/// room to name a domain.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GetPartitionPropertyInput {
    /// Whose property; usually
    /// [`HV_PARTITION_ID_SELF`](super::HV_PARTITION_ID_SELF).
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
