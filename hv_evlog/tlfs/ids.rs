// SPDX-License-Identifier: GPL-2.0

//! Typed numbers of the hypervisor's interface, so that two of them cannot
//! be swapped without the compiler noticing: a proximity domain is not a
//! NUMA node id (the kernel's `platform::topology::NodeId`), and a page frame
//! number is not a physical address. The wire structs keep the raw integers
//! the TLFS defines; these types are what the module passes around.

use core::fmt;

use super::PAGE_SIZE;

const PAGE_SHIFT: u32 = PAGE_SIZE.trailing_zeros();

/// An ACPI proximity domain (`node_to_pxm()`): how the hypervisor names a
/// NUMA node in `HV_PROXIMITY_DOMAIN_INFO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pxm(pub u32);

impl fmt::Display for Pxm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A page frame number of the root partition's memory, in 4 KiB pages:
/// what deposits, map outputs and SynIC page registers carry. The root
/// partition's guest physical addresses are its host physical addresses,
/// so this is also the kernel's PFN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pfn(pub u64);

impl Pfn {
    /// The page's physical address.
    pub const fn phys(self) -> u64 {
        self.0 << PAGE_SHIFT
    }
}

impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// A buffer's index within its group (`BufferIndex` of the TLFS event log
/// inputs), below the group maximum given to initialize. Not a CPU: a CPU
/// may be served by several buffers, and the hypervisor's own buffers
/// serve none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BufferIndex(pub u32);

impl fmt::Display for BufferIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A virtual processor index: how the hypervisor names a processor (a
/// buffer header's `LogicalProcessor`). It need not equal the Linux CPU id;
/// the kernel keeps the mapping in `hv_vp_index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct VpIndex(pub u32);

impl fmt::Display for VpIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A buffer's size in pages (1 to [`super::MAX_BUFFER_PAGES`]): what pool
/// charges are computed from, beside counts of buffers it must not be
/// swapped with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BufferPages(pub u32);
