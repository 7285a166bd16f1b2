// SPDX-License-Identifier: GPL-2.0

//! Which buffers userspace has mapped: `vm_operations_struct` callbacks on
//! the device's mappings.
//!
//! A resize deletes a buffer only when no mapping covers it, because
//! deleting gives its pages back to the hypervisor while a PFN mapping would
//! still show them. So every mapping counts the buffers it covers, from
//! `mmap()` to the vma's `close`. A vma keeps the range it was made with:
//! `may_split` refuses splitting it (so `munmap()` or `mprotect()` of a part
//! fails with `EINVAL`; map buffers separately to drop them separately), and
//! the one copy the kernel makes of a shared device mapping, the new vma of
//! an `mremap()` move, is counted by `open` (`fork()` makes none:
//! `VM_DONTCOPY`).
//!
//! Written by hand: 7.2's `kernel::mm::virt` offers no `vm_operations_struct`
//! of a driver's own.

use kernel::{bindings, mm::virt::VmaNew, page::PAGE_SHIFT};

use crate::device::Shared;

/// The callbacks; every other operation is absent (the mapping is fully
/// populated at `mmap()`, so no fault handler is needed: a fault in it is
/// `SIGBUS`).
static VM_OPS: VmOps = VmOps(bindings::vm_operations_struct {
    open: Some(vma_open),
    close: Some(vma_close),
    may_split: Some(vma_may_split),
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

/// Makes `vma`, just set up by `mmap()` with its buffers counted, count them
/// down when it goes.
pub(crate) fn track(vma: &VmaNew, shared: &Shared) {
    let raw = vma.as_ptr();
    // SAFETY: `vma` is being set up by this `mmap()` call (`VmaNew`): nothing
    // else reads or writes it now. `shared` outlives the vma: the vma holds
    // its file (`vm_file`), the file its session, the session an `Arc` of
    // `shared`; the kernel calls `close` before it drops the file. `VM_OPS`
    // is `'static`.
    unsafe {
        (*raw).vm_private_data = core::ptr::from_ref(shared).cast_mut().cast();
        (*raw).vm_ops = &VM_OPS.0;
    }
}

/// The vma's page offset in the mmap space, its page count and its device
/// state.
///
/// # Safety
///
/// `vma` is a live vma whose `vm_ops` [`track`] set.
unsafe fn parts<'a>(vma: *mut bindings::vm_area_struct) -> (usize, usize, &'a Shared) {
    // SAFETY: The caller passes a live vma; the kernel holds the mmap lock
    // around `open`, `close` and `may_split`, so its fields hold still.
    let (pgoff, start, end, data) = unsafe {
        (
            (*vma).vm_pgoff,
            (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_start,
            (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end,
            (*vma).vm_private_data,
        )
    };
    // SAFETY: `track` stored a pointer to the `Shared` that the vma's file
    // keeps alive (see `track`).
    let shared = unsafe { &*data.cast::<Shared>() };
    (pgoff, (end - start) >> PAGE_SHIFT, shared)
}

/// A copy of a tracked vma (an `mremap()` move) was made.
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set.
unsafe extern "C" fn vma_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The kernel calls `open` with a live copy of a tracked vma,
    // whose `vm_ops` and `vm_private_data` came with it.
    let (pgoff, pages, shared) = unsafe { parts(vma) };
    shared.vma_copied(pgoff, pages);
}

/// A tracked vma goes (munmap, exit, the old vma of an `mremap()` move).
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set.
unsafe extern "C" fn vma_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: The kernel calls `close` with a live tracked vma, before it
    // drops the vma's file.
    let (pgoff, pages, shared) = unsafe { parts(vma) };
    shared.vma_closed(pgoff, pages);
}

/// Refuses to split a tracked vma: its count is per range.
///
/// # Safety
///
/// Called by the kernel only, with a live vma whose `vm_ops` [`track`] set.
unsafe extern "C" fn vma_may_split(
    _vma: *mut bindings::vm_area_struct,
    _addr: kernel::ffi::c_ulong,
) -> kernel::ffi::c_int {
    -(bindings::EINVAL as kernel::ffi::c_int)
}
