// SPDX-License-Identifier: GPL-2.0

//! The pool calls' inputs and outputs: where memory should come from
//! ([`ProximityDomainInfo`]), deposit, withdraw and the balance query.

use core::mem::size_of;

use super::{
    wire::{get_u64, impl_wire, pin_layout, put_u64, Wire},
    PAGE_SIZE,
};

/// Partition id meaning "the calling partition".
pub const HV_PARTITION_ID_SELF: u64 = u64::MAX;

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
    #[cfg_attr(MODULE, expect(dead_code, reason = "tested on the host only"))]
    pub const fn is_preferred(self) -> bool {
        self.flags & Self::PREFERRED != 0
    }
}

impl_wire!(ProximityDomainInfo {
    domain_id: u32,
    flags: u32
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
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "hv_evlog never withdraws; the sim tests do")
    )]
    pub const fn own(proximity: ProximityDomainInfo) -> Self {
        Self {
            partition_id: HV_PARTITION_ID_SELF,
            proximity,
        }
    }

    /// Page number `index` of a withdraw output page.
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the simulator tests read the withdrawn pages")
    )]
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
