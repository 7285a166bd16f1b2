// SPDX-License-Identifier: GPL-2.0

//! Which buffers userspace has mapped: `vm_operations_struct` callbacks on
//! the device's mappings.
//!
//! A resize deletes a buffer only when no mapping covers it, so that its
//! index stays in the buffer table while a mapping shows it. So every vma
//! counts the buffers its range covers (in pages of the mmap space: its
//! page offset and its length), from `mmap()` to its `close`. A vma's range
//! only changes when the kernel splits it, and `close` counts down the
//! range the vma has then; so the count needs no record of its own (its
//! `vm_private_data` is the device state, [`Shared`]) and nothing here can
//! fail for want of memory.
//!
//! The kernel makes new vmas of a mapping in two ways, and calls `open` on
//! the new one each time, while the old one still covers its whole range
//! (mm/vma.c): splitting one (`munmap()` or `mprotect()` of a part, the
//! first steps of `mremap()` taking a part out), after which the old vma
//! keeps the rest of its range without being told; and copying a part or
//! the whole of one to another address (`mremap()` moving it, in
//! `copy_vma()`), after which the old one keeps its range until `munmap()`
//! splits and closes it. Either way the new vma counts its own range. The
//! two are told apart by the vma that covers the new one's start address
//! then (`find_vma()`, under the mmap lock the kernel holds): for a split,
//! the old vma, not yet shrunk (the new one is not linked yet); for a copy,
//! none, since the destination of a move is free. After a split the old
//! vma's count moves to the part it keeps (a buffer on both sides of the
//! split point then counts twice, once per vma that covers it). If
//! `copy_vma()` fails after `open` it calls `close` on the new vma, which
//! undoes its count. `fork()` copies nothing (`VM_DONTCOPY`), and the
//! device's vmas never merge (`VM_PFNMAP | VM_IO | VM_DONTEXPAND`: the
//! kernel's `VM_SPECIAL`).
//!
//! The counts decide only when a retired buffer is deleted. Memory safety
//! does not rest on them: before a buffer goes back to the hypervisor the
//! group zaps every user PTE of its range and the fault handler refuses it
//! (`crate::platform::user_mapping`).
//!
//! Written by hand: 7.2's `kernel::mm::virt` offers no `vm_operations_struct`
//! of a driver's own.

use kernel::{bindings, mm::virt::VmaNew, page::PAGE_SHIFT};

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

/// Makes `vma`, just set up by `mmap()` with the buffers of its range
/// counted, count them down when it goes, and installs the callbacks (the
/// fault handler among them).
pub(crate) fn track(vma: &VmaNew, shared: &Shared) {
    let raw = vma.as_ptr();
    // SAFETY: `vma` is being set up by this `mmap()` call (`VmaNew`): nothing
    // else reads or writes it now. `shared` outlives the vma and every vma
    // made from it: a vma holds its file (`vm_file`), the file its session,
    // the session an `Arc` of `shared`; the kernel calls `close` before it
    // drops the file. `VM_OPS` is `'static`.
    unsafe {
        (*raw).vm_private_data = core::ptr::from_ref(shared).cast_mut().cast();
        (*raw).vm_ops = &VM_OPS.0;
    }
}

/// The vma's range: its page offset in the mmap space and its page count.
///
/// # Safety
///
/// `vma` is a live vma and the mmap lock is held.
unsafe fn range(vma: *mut bindings::vm_area_struct) -> (usize, usize) {
    // SAFETY: The caller passes a live vma under the mmap lock, so its
    // fields hold still.
    let (pgoff, (start, end)) = unsafe { ((*vma).vm_pgoff, addresses(vma)) };
    (pgoff, (end - start) >> PAGE_SHIFT)
}

/// The vma's user addresses, `start..end`.
///
/// # Safety
///
/// `vma` is a live vma and the mmap lock is held.
unsafe fn addresses(vma: *mut bindings::vm_area_struct) -> (usize, usize) {
    // SAFETY: The caller passes a live vma under the mmap lock, so its
    // bounds hold still.
    let bounds = unsafe { &(*vma).__bindgen_anon_1.__bindgen_anon_1 };
    (bounds.vm_start, bounds.vm_end)
}

/// The device state of a vma [`track`] set up, or of one made from it.
///
/// # Safety
///
/// `vma` is such a live vma; the returned reference is used only while it
/// is.
unsafe fn shared<'a>(vma: *mut bindings::vm_area_struct) -> &'a Shared {
    // SAFETY: `track` stored a `&Shared` in `vm_private_data`, which every
    // vma made from that one inherits unchanged; it outlives the vma (see
    // `track`).
    unsafe { &*(*vma).vm_private_data.cast::<Shared>() }
}

/// A new vma of a tracked one: a split part or a moved copy (file comment).
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set,
/// under the mmap write lock.
unsafe extern "C" fn vma_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is live, a copy of a tracked vma, under the mmap lock.
    let (shared, (first, pages), (start, end)) =
        unsafe { (shared(vma), range(vma), addresses(vma)) };
    // Counted up before anything is counted down: a resize never sees a
    // covered buffer at zero.
    shared.vma_copied(first, pages);
    // SAFETY: `vm_mm` is the vma's mm, live while it is; the kernel holds
    // its mmap lock for writing around `open`, as `find_vma()` requires.
    let old = unsafe { bindings::find_vma((*vma).vm_mm, start) };
    if old.is_null() || old == vma {
        return;
    }
    // SAFETY: `old` is a live vma of the same mm, under the same lock.
    let ((old_start, old_end), ours) = unsafe {
        (
            addresses(old),
            core::ptr::eq((*old).vm_ops, &VM_OPS.0)
                && (*old).vm_private_data == (*vma).vm_private_data,
        )
    };
    if !ours || old_start > start || old_end < end {
        // A moved copy: nothing covers the destination but the new vma.
        return;
    }
    // SAFETY: as above.
    let (old_first, old_pages) = unsafe { range(old) };
    if pages >= old_pages {
        return;
    }
    // A split: the old vma keeps the other end of its range, from either
    // side of the new one, and counts only that from now on.
    let rest = if first == old_first {
        (first + pages, old_pages - pages)
    } else {
        (old_first, old_pages - pages)
    };
    shared.vma_copied(rest.0, rest.1);
    shared.vma_closed(old_first, old_pages);
}

/// A tracked vma goes (munmap, exit, the old vma of an `mremap()` move, a
/// copy whose `copy_vma()` failed): its range is counted down.
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set,
/// under the mmap lock.
unsafe extern "C" fn vma_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is live, tracked, under the mmap lock; its file keeps
    // `shared` until after this.
    let (shared, (first, pages)) = unsafe { (shared(vma), range(vma)) };
    shared.vma_closed(first, pages);
}
