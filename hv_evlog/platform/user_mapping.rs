// SPDX-License-Identifier: GPL-2.0

//! Where userspace maps the buffers, so that their pages can be taken out
//! of its reach before they go back to the hypervisor.
//!
//! Only the consumer's file can map the buffers (a control file has no
//! `FMODE_READ`), and there is one consumer at a time. Every vma of every
//! mapping of that file is linked into its `f_mapping`, the device inode's
//! address space (`i_mmap`), so `unmap_mapping_range()` on it zaps every
//! user PTE of a range of the mmap space, in every process, as DRM and VFIO
//! revoke device memory. The group does that for a buffer after marking it
//! gone under its table's lock, the lock the fault handler inserts PTEs
//! under: from then on no user access reaches the buffer's pages, whatever
//! the mappings' counts say (`crate::device::vma`).
//!
//! Lock order: the consumer's file release and the zap take this object's
//! lock; under it the zap takes the address space's `i_mmap_rwsem` and page
//! table locks. Callers hold no table lock while zapping.

use core::ptr::NonNull;

use kernel::{bindings, new_mutex, prelude::*, sync::Mutex};

/// The consumer file's address space.
struct Space(NonNull<bindings::address_space>);

// SAFETY: an address space is a kernel object any thread may pass to
// `unmap_mapping_range()`; `UserMapping` keeps it only while the file that
// owns it is open (see `UserMapping::set`).
unsafe impl Send for Space {}

/// The address space the buffers are mapped through, while a consumer
/// file is open.
pub(crate) struct UserMapping {
    space: Pin<KBox<Mutex<Option<Space>>>>,
}

impl UserMapping {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            space: KBox::pin_init(new_mutex!(None), GFP_KERNEL)?,
        })
    }

    /// Records the address space of `file`, the consumer's file.
    ///
    /// # Safety
    ///
    /// `file` is an open file, and [`UserMapping::clear`] is called before
    /// its release ends (the address space belongs to its inode, which the
    /// file holds until then).
    pub(crate) unsafe fn set(&self, file: *mut bindings::file) {
        // SAFETY: `file` is open (the caller's guarantee), so its
        // `f_mapping` is set and stays so while it is open.
        let space = NonNull::new(unsafe { (*file).f_mapping }).map(Space);
        *self.space.lock() = space;
    }

    /// The consumer's file is being released: no mapping of it is left
    /// (every vma holds its file), and its address space is forgotten.
    pub(crate) fn clear(&self) {
        *self.space.lock() = None;
    }

    /// Zaps every user PTE of bytes `offset..offset + len` of the mmap
    /// space. A later access faults, and the fault handler decides.
    pub(crate) fn zap(&self, offset: u64, len: u64) {
        let (Ok(start), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        let space = self.space.lock();
        if let Some(space) = space.as_ref() {
            // SAFETY: `space` is the address space of the consumer's open
            // file (`set`), which `clear` forgets under this lock before
            // the file's release ends, so it is live while the lock is
            // held. `unmap_mapping_range()` may sleep: no spinlock is held.
            unsafe { bindings::unmap_mapping_range(space.0.as_ptr(), start, len, 1) };
        }
    }
}
