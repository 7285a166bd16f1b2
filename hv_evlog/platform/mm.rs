// SPDX-License-Identifier: GPL-2.0

//! Pages for the hypercall path: owned, node-placed, addressed physically.
//!
//! The hypervisor only ever sees guest physical addresses: the input and
//! output page of every hypercall, the pages deposited into the memory pool
//! and the page numbers of a mapped buffer. [`NodePage`] is one page the
//! module owns, allocated on a chosen NUMA node, with its page frame number
//! and physical address at hand. [`phys_to_virt`] and [`pfn_to_page`] go the
//! other way, as a hypervisor does with the addresses it is handed; the
//! simulated hypervisor relies on them.
//!
//! x86_64 only, like the rest of the module: both translations use the
//! direct map and the virtual memory map (`CONFIG_SPARSEMEM_VMEMMAP`). Their
//! bases, `page_offset_base` and `vmemmap_base`, are variables because the
//! kernel picks them at boot (4- or 5-level paging, KASLR), so they are read,
//! never assumed.
//!
//! `kernel::page::Page` cannot be used for [`NodePage`]: it allocates on no
//! particular node and cannot be built from a raw page. [`NodePage::as_page`]
//! lends it out as a [`BorrowedPage`] so that the `Page` methods still apply.

use core::{
    mem::{size_of, ManuallyDrop},
    ptr::NonNull,
};

use kernel::{
    bindings, fmt,
    page::{BorrowedPage, PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic},
        barrier::smp_rmb,
    },
};

use crate::{
    platform::topology::{self, NodeId},
    policy::snapshot::{LiveHeader, STATE_OFFSET, TIME_STAMP_OFFSET},
    tlfs::{Pfn, ENTRIES_OFFSET},
};

/// `__GFP_THISNODE`: bindgen sees only the bit number of this flag.
const GFP_THISNODE: bindings::gfp_t = 1 << bindings::___GFP_THISNODE_BIT;

/// Where a [`NodePage`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeChoice {
    /// Wherever the allocation policy of the calling task puts it: for pages
    /// only the module reads, such as the hypercall input and output pages.
    Any,
    /// Strictly on this NUMA node, which must have memory; nothing falls back
    /// to another node. Pool deposits need this: the hypervisor credits a
    /// page to the proximity domain its physical address lies in.
    Only(NodeId),
}

impl fmt::Display for NodeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Any => f.write_str("any node"),
            Self::Only(node) => f.write_fmt(fmt!("node {node}")),
        }
    }
}

/// The direct-map address of physical address `pa`: `__va()`.
///
/// Computing the address is always allowed; dereferencing it is not. Only
/// memory the caller may access that way (e.g. a page it owns, or a page it
/// was handed by the [`Transport`](crate::hv::hypercall::Transport) contract)
/// may be read or written through it.
pub(crate) fn phys_to_virt(pa: u64) -> *mut u8 {
    // SAFETY: `page_offset_base` is set once while the kernel sets up its
    // memory layout, long before any module is loaded, and never written
    // again; reading a `c_ulong` copy of it cannot race.
    let base = unsafe { bindings::page_offset_base };
    // x86_64: `usize` and `u64` have the same width.
    core::ptr::with_exposed_provenance_mut(base.wrapping_add(pa as usize))
}

/// The header at the start of a mapped buffer page, as the hypervisor
/// writes it: read through [`crate::policy::snapshot::snapshot`].
pub(crate) struct HeaderPage(pub(crate) u64);

impl LiveHeader for HeaderPage {
    fn load_state(&self) -> u32 {
        let word = phys_to_virt(self.0 << PAGE_SHIFT)
            .wrapping_add(STATE_OFFSET)
            .cast::<u32>();
        // SAFETY: the caller's PFN is a mapped buffer page it holds (pages
        // stay allocated while mapped); `STATE_OFFSET` is 4-byte aligned and
        // inside the header. The hypervisor publishes the state with a
        // release store, and this load is atomic, so they do not race.
        u32::from_le(unsafe { Atomic::from_ptr(word) }.load(Acquire))
    }

    fn load_time_stamp(&self) -> u64 {
        let word = phys_to_virt(self.0 << PAGE_SHIFT)
            .wrapping_add(TIME_STAMP_OFFSET)
            .cast::<u64>();
        // SAFETY: as in `load_state`: a mapped buffer page the caller holds;
        // `TIME_STAMP_OFFSET` is 8-byte aligned and inside the header. The
        // hypervisor writes the page while this runs and the partition never
        // does, and an atomic load races with no plain access.
        u64::from_le(unsafe { Atomic::from_ptr(word) }.load(Acquire))
    }

    fn copy(&self, out: &mut [u8; ENTRIES_OFFSET]) {
        let base = phys_to_virt(self.0 << PAGE_SHIFT).cast::<u64>();
        // In 8-byte words (the header is 72 bytes from the start of a page,
        // so every word is aligned): a ninth of the loads of a byte copy.
        for (i, word) in out.chunks_exact_mut(8).enumerate() {
            // SAFETY: as in `load_state`, the header lies in a page the
            // caller holds, and word `i` of it is aligned and inside it;
            // volatile because the hypervisor may be writing it, so each
            // byte is read exactly once and the snapshot's re-check of the
            // state detects a concurrent change.
            let v = unsafe { base.add(i).read_volatile() };
            word.copy_from_slice(&v.to_ne_bytes());
        }
        // The trait's contract: these loads come before the next state load.
        smp_rmb();
    }
}

/// Whether page frame `pfn`, as a hypervisor returned it, is RAM with a
/// memory map entry: the check Linux's `pfn_valid()` makes before a page
/// number from outside is turned into a `struct page` (Microsoft's
/// mshv_diaglog.c checks every page HvCallMapEventLogBuffer returns with it).
///
/// `pfn_valid()` is a static inline that kernel 7.2's Rust bindings do not
/// reach (there is no helper for it in rust/helpers), so this asks the
/// exported `page_is_ram()`, through its binding, which is stricter: the
/// frame must lie in a "System RAM" resource, and on x86_64 (SPARSEMEM) all
/// of those have their memory map. As `pfn_valid()` does first, a number
/// whose upper bits would be lost converting it to a physical address is
/// refused.
pub(crate) fn pfn_valid(pfn: Pfn) -> bool {
    let Pfn(pfn) = pfn;
    if pfn > u64::MAX >> PAGE_SHIFT {
        return false;
    }
    // The binding's `unsigned long` is `usize`: 64 bits on x86_64, so the
    // conversion cannot fail.
    let Ok(pfn) = usize::try_from(pfn) else {
        return false;
    };
    // SAFETY: `page_is_ram()` only walks the iomem resource tree under its
    // own lock; any value may be asked about. It may not sleep, and callers
    // are in process context anyway.
    unsafe { bindings::page_is_ram(pfn) != 0 }
}

/// The node of page frame `pfn`, if it is memory with a `struct page`.
///
/// Being below `max_pfn` proves no such thing: with sparse memory a range
/// below it can be a hole or a removed memory block, whose memory map is
/// gone. So the frame is looked up as `pfn_valid()` and memory hotplug do.
pub(crate) fn node_of_pfn(pfn: Pfn) -> Option<NodeId> {
    let page = online_page(pfn)?;
    // SAFETY: `online_page` found the frame's `struct page` in the memory
    // map; reading its node bits does not need a reference on it.
    let page = unsafe { BorrowedPage::from_raw(page) };
    u32::try_from(page.nid()).ok().and_then(NodeId::new)
}

/// The `struct page` of page frame `pfn` if the frame is online memory
/// whose memory map entry exists and is initialized:
/// `pfn_to_online_page()`, exported with `CONFIG_MEMORY_HOTPLUG` (where
/// memory blocks come and go); without it the memory map never shrinks and
/// [`pfn_valid`] is the check, as the kernel's fallback macro does.
fn online_page(pfn: Pfn) -> Option<NonNull<bindings::page>> {
    let raw = usize::try_from(pfn.0).ok()?;
    #[cfg(CONFIG_MEMORY_HOTPLUG)]
    {
        // SAFETY: `pfn_to_online_page()` accepts any frame number: it
        // looks the section up and returns NULL unless the frame is online
        // memory with an initialized memory map entry. It takes no lock
        // that could sleep.
        NonNull::new(unsafe { bindings::pfn_to_online_page(raw) })
    }
    #[cfg(not(CONFIG_MEMORY_HOTPLUG))]
    {
        let _ = raw;
        pfn_valid(pfn).then(|| NonNull::new(pfn_to_page(pfn)))?
    }
}

/// The `struct page` of page frame `pfn` in the virtual memory map:
/// `pfn_to_page()`.
///
/// No check that `pfn` is backed by memory is made; the pointer may only be
/// used for a page frame the caller knows to exist.
pub(crate) fn pfn_to_page(pfn: Pfn) -> *mut bindings::page {
    // SAFETY: `vmemmap_base` is set once during early boot, like
    // `page_offset_base` in `phys_to_virt()`, and only read afterwards.
    let base = unsafe { bindings::vmemmap_base };
    let offset = (pfn.0 as usize).wrapping_mul(size_of::<bindings::page>());
    core::ptr::with_exposed_provenance_mut(base.wrapping_add(offset))
}

/// The page frame number of `page`: `page_to_pfn()`.
fn page_to_pfn(page: NonNull<bindings::page>) -> Pfn {
    // SAFETY: As in `pfn_to_page()`.
    let base = unsafe { bindings::vmemmap_base };
    let addr = page.as_ptr().expose_provenance();
    // The divisor is a non-zero constant, so there is no division-by-zero
    // path for objtool to trip over.
    Pfn((addr.wrapping_sub(base) / size_of::<bindings::page>()) as u64)
}

/// One page of memory owned by the module, allocated on a chosen node and
/// zeroed.
///
/// Freed when dropped, unless ownership was given away with
/// [`NodePage::into_pfn`] (a pool deposit hands its pages to the hypervisor
/// for good).
///
/// # Invariants
///
/// `page` is an order-0 page from the page allocator that this value owns:
/// nothing else frees it, and nothing else accesses its memory except
/// through the physical address this value hands out, under the terms of the
/// one who receives it. It is in the direct map, which holds all memory on
/// x86_64.
pub(crate) struct NodePage {
    page: NonNull<bindings::page>,
}

// SAFETY: A page has no affinity to the thread that allocated it; it may be
// used and freed from any thread.
unsafe impl Send for NodePage {}

// SAFETY: Shared references only allow reading the page (`as_slice`) and its
// metadata, which is safe from several threads at once.
unsafe impl Sync for NodePage {}

impl NodePage {
    /// Allocates one zeroed page per `choice`. Sleeps.
    ///
    /// Fails with `EINVAL` for a node without memory, `ENOMEM` when the node
    /// (or, for [`NodeChoice::Any`], the system) has no free page. Strict node
    /// allocations do not warn on failure: the pool code reports them with
    /// the node's name.
    pub(crate) fn alloc(choice: NodeChoice) -> Result<Self> {
        let gfp = bindings::GFP_KERNEL | bindings::__GFP_ZERO;
        let page = match choice {
            // SAFETY: `GFP_KERNEL` allocations may sleep, which callers of
            // this sleeping function allow; order 0 is always valid.
            NodeChoice::Any => unsafe { bindings::alloc_pages(gfp, 0) },
            NodeChoice::Only(node) => {
                if !topology::node_has_memory(node) {
                    return Err(EINVAL);
                }
                let gfp = gfp | GFP_THISNODE | bindings::__GFP_NOWARN;
                // SAFETY: As above; `node` was just checked to be a valid
                // node id with memory, which is what the allocator requires
                // of `preferred_nid` (with `__GFP_THISNODE`, the only node).
                // A null nodemask means "no further restriction".
                unsafe {
                    bindings::__alloc_pages_noprof(gfp, 0, node.as_nid(), core::ptr::null_mut())
                }
            }
        };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: The allocator just gave us this order-0 page.
        Ok(Self { page })
    }

    /// Takes ownership of page frame `pfn` again, e.g. when the simulated
    /// hypervisor receives a deposited page, or to free it.
    ///
    /// # Safety
    ///
    /// `pfn` must be an order-0 page from the page allocator whose ownership
    /// was given away (as by [`NodePage::into_pfn`]) and passed to the caller,
    /// and no one else may still use it.
    pub(crate) unsafe fn from_pfn(pfn: Pfn) -> Self {
        let page = pfn_to_page(pfn);
        // SAFETY: The caller guarantees that `pfn` is an allocated page frame,
        // whose `struct page` in the memory map is never at address zero.
        let page = unsafe { NonNull::new_unchecked(page) };
        // INVARIANT: The caller passes ownership of the page to us.
        Self { page }
    }

    /// Gives up ownership: the page is not freed and its frame number is
    /// returned. Whoever receives the number owns the page from then on.
    #[must_use = "the page leaks unless its new owner is told its number"]
    pub(crate) fn into_pfn(self) -> Pfn {
        let this = ManuallyDrop::new(self);
        this.pfn()
    }

    /// The page frame number.
    pub(crate) fn pfn(&self) -> Pfn {
        page_to_pfn(self.page)
    }

    /// The physical address of the first byte (page aligned).
    pub(crate) fn phys(&self) -> u64 {
        self.pfn().phys()
    }

    /// The page's address in the direct map.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        phys_to_virt(self.phys())
    }

    /// The page's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: By the type invariant the page is owned by `self` and in the
        // direct map, so `as_ptr()` is valid for reading `PAGE_SIZE` bytes for
        // as long as `self` is borrowed; the allocation zeroed them. No one
        // writes to it meanwhile: `as_mut_slice` needs `&mut self`, and a
        // receiver of the physical address may only write under a contract
        // that excludes concurrent use by the owner (a hypercall's output page
        // is only read after the call returns).
        unsafe { core::slice::from_raw_parts(self.as_ptr(), PAGE_SIZE) }
    }

    /// The page's bytes, for writing.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: As in `as_slice`; `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.as_ptr(), PAGE_SIZE) }
    }
}

impl Drop for NodePage {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own this order-0 page; it is freed
        // exactly once, here.
        unsafe { bindings::__free_pages(self.page.as_ptr(), 0) };
    }
}
