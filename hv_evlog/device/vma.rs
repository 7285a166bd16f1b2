// SPDX-License-Identifier: GPL-2.0

//! Which buffers userspace has mapped: `vm_operations_struct` callbacks on
//! the device's mappings.
//!
//! A resize deletes a buffer only when no mapping covers it, because
//! deleting gives its pages back to the hypervisor while a PFN mapping would
//! still show them. So every vma counts the buffers it covers, from `mmap()`
//! to its `close`, through a record of the range (in pages of the mmap
//! space) it counted, kept in `vm_private_data`.
//!
//! The kernel makes new vmas of a mapping in two ways, and calls `open` on
//! the new one each time, while the old one still covers its whole range
//! (mm/vma.c): splitting one (`munmap()` or `mprotect()` of a part, the
//! first steps of `mremap()` taking a part out), after which the old vma
//! keeps the rest of its range without being told; and copying a part or
//! the whole of one to another address (`mremap()` moving it, in
//! `copy_vma()`), after which the old one keeps its range until `munmap()`
//! splits and closes it. The two are told apart by address: a split's new
//! vma lies inside the old one's addresses, a moved copy never does (the
//! kernel refuses overlapping source and destination). Either way the new
//! vma counts its own range under a record of its own. After a split the
//! old vma's record is narrowed to the part it keeps (a buffer on both
//! sides of the split point then counts twice, once per vma that covers
//! it); after a copy it stays as it is. If `copy_vma()` fails after `open`
//! it calls `close` on the new vma, which undoes its count. `fork()`
//! copies nothing (`VM_DONTCOPY`), and the device's vmas never merge
//! (`VM_PFNMAP | VM_IO | VM_DONTEXPAND`: the kernel's `VM_SPECIAL`).
//!
//! The counts decide only when a retired buffer is deleted. Memory safety
//! does not rest on them: before a buffer goes back to the hypervisor the
//! group zaps every user PTE of its range and the fault handler refuses it
//! (`crate::platform::mm::UserMapping`).
//!
//! Written by hand: 7.2's `kernel::mm::virt` offers no `vm_operations_struct`
//! of a driver's own.

use kernel::{bindings, mm::virt::VmaNew, page::PAGE_SHIFT, prelude::*};

use crate::device::{Session, Shared};

/// The callbacks: the counting here, and the fault handler that maps each
/// page on first touch ([`crate::device::chardev::fault`]); every other operation is
/// absent.
static VM_OPS: VmOps = VmOps(bindings::vm_operations_struct {
    open: Some(vma_open),
    close: Some(vma_close),
    fault: Some(crate::device::chardev::fault::<Session>),
    // SAFETY: every other field is an `Option` of a function pointer or a
    // pointer, for which all zeroes is `None` or null: the operation is
    // absent.
    ..unsafe { core::mem::zeroed() }
});

/// The table, shareable: the kernel only reads it.
struct VmOps(bindings::vm_operations_struct);

// SAFETY: `VM_OPS` is never written; its one pointer field (userfaultfd's
// ops) is null, and function pointers may be called from any thread.
unsafe impl Sync for VmOps {}

/// What one vma counted: pages `first..first + pages` of the mmap space.
struct Counted {
    shared: *const Shared,
    /// The vma this record belongs to: a later `open` of a vma copied from
    /// it reads its addresses to tell a split from a move.
    vma: *mut bindings::vm_area_struct,
    first: usize,
    pages: usize,
}

/// Makes `vma`, just set up by `mmap()` with the buffers of pages `first ..
/// first + pages` counted, count them down when it goes, and installs the
/// callbacks (the fault handler among them). If the record cannot be
/// allocated, the count stays up for good (the buffers are then never
/// deleted before unload: the safe side), and `vma` is untracked: its
/// record is null, which `open` and `close` take as "nothing counted".
pub(crate) fn track(vma: &VmaNew, shared: &Shared, first: usize, pages: usize) {
    let raw = vma.as_ptr();
    let record = KBox::new(
        Counted {
            shared,
            vma: raw,
            first,
            pages,
        },
        GFP_KERNEL,
    )
    .map_or(core::ptr::null_mut(), |r| KBox::into_raw(r).cast());
    // SAFETY: `vma` is being set up by this `mmap()` call (`VmaNew`): nothing
    // else reads or writes it now. The record's `shared` outlives the vma:
    // the vma holds its file (`vm_file`), the file its session, the session
    // an `Arc` of `shared`; the kernel calls `close` (which frees the record)
    // before it drops the file. `VM_OPS` is `'static`.
    unsafe {
        (*raw).vm_private_data = record;
        (*raw).vm_ops = &VM_OPS.0;
    }
}

/// The vma's range: its page offset in the mmap space and its page count.
///
/// # Safety
///
/// `vma` is a live vma.
unsafe fn range(vma: *mut bindings::vm_area_struct) -> (usize, usize) {
    // SAFETY: The caller passes a live vma; the kernel holds the mmap lock
    // around `open` and `close`, so its fields hold still.
    let (pgoff, (start, end)) = unsafe { ((*vma).vm_pgoff, addresses(vma)) };
    (pgoff, (end - start) >> PAGE_SHIFT)
}

/// The vma's user addresses, `start..end`.
///
/// # Safety
///
/// `vma` is a live vma.
unsafe fn addresses(vma: *mut bindings::vm_area_struct) -> (usize, usize) {
    // SAFETY: The caller passes a live vma; the kernel holds the mmap lock
    // around `open` and `close`, so its bounds hold still.
    let bounds = unsafe { &(*vma).__bindgen_anon_1.__bindgen_anon_1 };
    (bounds.vm_start, bounds.vm_end)
}

/// A new vma of a tracked one: a split part or a moved copy (file comment).
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set.
unsafe extern "C" fn vma_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is live; its `vm_private_data` is the old vma's record
    // (or null: untracked), which `track` or an earlier `open` made and
    // only `close` frees; the old vma is still open.
    let old = unsafe { (*vma).vm_private_data.cast::<Counted>() };
    if old.is_null() {
        // Copied from an untracked vma: untracked too (its record stays
        // null); that vma's count stays up for good and covers this one.
        return;
    }
    // SAFETY: As above: the old vma's live record, which nothing else
    // touches while the kernel holds the mmap lock around `open`.
    let old = unsafe { &mut *old };
    // SAFETY: as in `track`: the file of both vmas keeps `shared`.
    let shared = unsafe { &*old.shared };
    // SAFETY: `vma` is live, and so is the old vma (`old.vma`): the kernel
    // calls `open` while the vma it copied from still exists, before it
    // adjusts or closes it, under the mmap lock.
    let ((first, pages), (start, end), (old_start, old_end), (old_first, old_pages)) = unsafe {
        (
            range(vma),
            addresses(vma),
            addresses(old.vma),
            range(old.vma),
        )
    };
    // Counted up before anything is counted down: a resize never sees a
    // covered buffer at zero.
    shared.vma_copied(first, pages);
    let record = KBox::new(
        Counted {
            shared: old.shared,
            vma,
            first,
            pages,
        },
        GFP_KERNEL,
    )
    // Without a record the count just made stays up for good (the safe
    // side: the buffers are then only deleted at unload).
    .map_or(core::ptr::null_mut(), |r| KBox::into_raw(r).cast());
    // SAFETY: `vma` is live and being set up by the kernel under the mmap
    // lock; the record is handed to it, `close` frees it (null: nothing).
    unsafe { (*vma).vm_private_data = record };
    if start < old_start || end > old_end || pages >= old_pages {
        // A moved copy: the old vma keeps its whole range, and its record.
        return;
    }
    // A split: the old vma keeps the other end of its range, from either
    // side of the new one. Its record may be wider than its range (after
    // a record could not be made); the stale rest is uncounted with it.
    let rest = if first == old_first {
        (first + pages, old_pages - pages)
    } else {
        (old_first, old_pages - pages)
    };
    shared.vma_copied(rest.0, rest.1);
    shared.vma_closed(old.first, old.pages);
    (old.first, old.pages) = rest;
}

/// A tracked vma goes (munmap, exit, the old vma of an `mremap()` move).
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set.
unsafe extern "C" fn vma_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is live.
    let data = unsafe { (*vma).vm_private_data }.cast::<Counted>();
    if data.is_null() {
        return;
    }
    // SAFETY: The record is this vma's own (from `track` or `vma_open`),
    // made by `KBox::into_raw`, and is freed only here, once.
    let record = unsafe { KBox::from_raw(data) };
    // SAFETY: as in `track`: the vma's file keeps `shared` until after this.
    let shared = unsafe { &*record.shared };
    shared.vma_closed(record.first, record.pages);
}
