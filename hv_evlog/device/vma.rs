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
//! the new one each time (mm/vma.c): splitting one (`munmap()` or
//! `mprotect()` of a part, the first step of moving a part) and copying one
//! whole (`mremap()` moving it; the old one is closed after). The new vma
//! arrives with the record of the old one. A copy covers the same range: it
//! counts it again under a record of its own. A split covers part of the
//! record's range, and the old vma keeps the rest without being told: the
//! record's range is uncounted, both parts are counted (a buffer on both
//! sides of the split point counts twice, once per vma that covers it), and
//! the old vma's record is narrowed to its part. `fork()` copies nothing
//! (`VM_DONTCOPY`).
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
    let record = KBox::new(
        Counted {
            shared,
            first,
            pages,
        },
        GFP_KERNEL,
    )
    .map_or(core::ptr::null_mut(), |r| KBox::into_raw(r).cast());
    let raw = vma.as_ptr();
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
    let (pgoff, start, end) = unsafe {
        (
            (*vma).vm_pgoff,
            (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_start,
            (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end,
        )
    };
    (pgoff, (end - start) >> PAGE_SHIFT)
}

/// A new vma of a tracked one: a split part or a whole copy (file comment).
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set.
unsafe extern "C" fn vma_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is live; its `vm_private_data` is the old vma's record
    // (or null: untracked), which `track` made and only `close` frees; the
    // old vma is still open.
    let (old, (first, pages)) = unsafe { ((*vma).vm_private_data.cast::<Counted>(), range(vma)) };
    if old.is_null() {
        // Copied from an untracked vma: untracked too (its record stays
        // null), the count stays up for good.
        return;
    }
    // SAFETY: As above: the old vma's live record, which nothing else
    // touches while the kernel holds the mmap lock around `open`.
    let old = unsafe { &mut *old };
    // SAFETY: as in `track`: the file of both vmas keeps `shared`.
    let shared = unsafe { &*old.shared };
    let Ok(record) = KBox::new(
        Counted {
            shared: old.shared,
            first,
            pages,
        },
        GFP_KERNEL,
    ) else {
        // Neither vma can count down exactly now: the old one's count stays
        // up for good (the safe side) and the new one counts nothing.
        old.pages = 0;
        // SAFETY: `vma` is live and being set up by the kernel under the
        // mmap lock; `close` takes a null record as "nothing counted".
        unsafe { (*vma).vm_private_data = core::ptr::null_mut() };
        return;
    };
    // Counted up before anything is counted down: a resize never sees a
    // covered buffer at zero.
    shared.vma_copied(first, pages);
    if first != old.first || pages != old.pages {
        // A split: the old vma keeps the other end of its range.
        let rest = if first == old.first {
            (first + pages, old.pages - pages)
        } else {
            (old.first, old.pages - pages)
        };
        shared.vma_copied(rest.0, rest.1);
        shared.vma_closed(old.first, old.pages);
        (old.first, old.pages) = rest;
    }
    // SAFETY: `vma` is live and being set up by the kernel under the mmap
    // lock; the record is handed to it, `close` frees it.
    unsafe { (*vma).vm_private_data = KBox::into_raw(record).cast() };
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
    if record.pages != 0 {
        shared.vma_closed(record.first, record.pages);
    }
}
