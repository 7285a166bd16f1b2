// SPDX-License-Identifier: GPL-2.0

//! `HV_EVLOG_IOC_COPY`: the copying (compatibility) path.
//!
//! Microsoft's driver (drivers/hv/diag/ in microsoft/CBL-Mariner-Linux-Kernel)
//! hands a completed buffer to userspace by copying it out with
//! `copy_to_user()` and releasing it afterwards. This is that path, for
//! consumers written against that design and as the baseline the zero-copy
//! mapping is measured against (scripts/bench.sh): the buffer's header and
//! its `bytes_used` entry bytes are copied to the caller's memory, then the
//! buffer is released exactly as `HV_EVLOG_IOC_RELEASE` releases it.
//!
//! The copy runs without the session lock, as `read()` does, so that a
//! destination that faults slowly stalls neither the scanner nor `poll()`.
//! Before releasing, the lock is taken again and the buffer must still be
//! releasable with the same header (time stamp and length): a buffer that
//! another thread of the same file released meanwhile gets `EINVAL` and is
//! not released twice.

use kernel::{bindings, page::PAGE_SIZE, prelude::*, uaccess::UserPtr};

use super::Session;
use crate::{
    platform::mm,
    tlfs::{BufferIndex, BufferState, ENTRIES_OFFSET},
    uapi::CopyRequest,
};

impl Session {
    /// HV_EVLOG_IOC_COPY: copies buffer `req.buffer_index` (header and
    /// entries) to `req.addr`, then releases it. Returns the request with
    /// `bytes` set.
    pub(super) fn copy_out(&self, mut req: CopyRequest) -> Result<CopyRequest> {
        let index = req.buffer_index;
        let log = self.log();
        // Indices run below the group maximum, not the count in rotation:
        // after a resize they need not be consecutive (as RELEASE checks).
        if index >= log.index_limit() {
            return Err(EINVAL);
        }
        let before = {
            let state = self.state.lock();
            let header = log.header(BufferIndex(index)).ok_or(EINVAL)?;
            if !state.tracker.may_release(index, &header) {
                return Err(EINVAL);
            }
            header
        };
        if before.state() != Some(BufferState::Complete) {
            return Err(EINVAL);
        }
        let bytes = ENTRIES_OFFSET + before.next_buffer_offset as usize;
        let size = log.buffer_pages() as usize * PAGE_SIZE;
        if bytes > size || (bytes as u64) > req.size {
            return Err(EINVAL);
        }
        let addr = usize::try_from(req.addr).map_err(|_| EFAULT)?;

        let mut done = 0;
        while done < bytes {
            let page = (done / PAGE_SIZE) as u32;
            let len = (bytes - done).min(PAGE_SIZE);
            let pfn = log.pfn(BufferIndex(index), page).ok_or(EINVAL)?;
            let from = mm::phys_to_virt(pfn << bindings::PAGE_SHIFT);
            let to = UserPtr::from_addr(addr.wrapping_add(done));
            // SAFETY: `from` is the direct-map address of page `page` of a
            // buffer, RAM that stays allocated while the event log exists
            // (`EventLog::pfn`), which this session holds; `len` bytes stay
            // within that page. `copy_to_user()` reads it with the kernel's
            // own copy routine, never through a Rust reference (the
            // hypervisor owns the page), and checks the user range itself.
            let left = unsafe { bindings::copy_to_user(to.as_mut_ptr(), from.cast(), len) };
            if left != 0 {
                return Err(EFAULT);
            }
            done += len;
        }

        let mut state = self.state.lock();
        let now = log.header(BufferIndex(index)).ok_or(EINVAL)?;
        if !state.tracker.may_release(index, &now)
            || now.state() != Some(BufferState::Complete)
            || now.time_stamp != before.time_stamp
            || now.next_buffer_offset != before.next_buffer_offset
        {
            return Err(EINVAL);
        }
        self.hand_back(&mut state, index)?;
        // At most 512 pages of 4 KiB: fits.
        req.bytes = bytes as u32;
        Ok(req)
    }
}
