// SPDX-License-Identifier: GPL-2.0

//! The stop sequence: everything handed back to the hypervisor, once, at
//! reboot or on the way to `Drop`.

use core::sync::atomic::Ordering;

use kernel::{
    prelude::*,
    time::{delay::fsleep, Delta},
};

use super::Group;
use crate::{
    hv::hypercall::{self, HvError},
    tlfs::{BufferIndex, BufferState, EventLogType},
};

/// How long [`Group::stop`] waits for flushed buffers to complete: what
/// Microsoft's driver waits (mshv_trace.c).
const STOP_WAIT_MS: u32 = 1000;
/// How often it looks at the headers meanwhile.
const STOP_POLL_MS: u32 = 10;

/// Logs a failed teardown step; teardown goes on with the next one.
fn warn_failed(step: &str, index: Option<BufferIndex>, e: HvError) {
    match index {
        Some(i) => pr_warn!("teardown: {step} buffer {i}: {e}\n"),
        None => pr_warn!("teardown: {step}: {e}\n"),
    }
}

/// What [`Group::stop`] did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StopReport {
    /// In-use buffers flushed.
    pub(crate) flushed: u32,
    /// Complete buffers released.
    pub(crate) released: u32,
    /// Buffers deleted (each unmapped first if it was mapped).
    pub(crate) deleted: u32,
    /// Whether the group was finalized.
    pub(crate) finalized: bool,
    /// Steps that failed (each logged).
    pub(crate) failures: u32,
}

impl StopReport {
    /// Logs a failed step and counts it.
    fn failed(&mut self, step: &str, index: Option<BufferIndex>, e: HvError) {
        warn_failed(step, index, e);
        self.failures += 1;
    }
}

impl Group {
    /// Stops logging and hands everything back to the hypervisor, once: the
    /// sequence Microsoft's driver uses before unload, kexec and reboot
    /// (mshv_trace.c, `mshv_trace_disable` and its callers), because a group
    /// left behind makes the next kernel's initialize of the type fail.
    /// Sources off; flush each buffer whose header says in use; wait up to
    /// [`STOP_WAIT_MS`] until none is; release every complete one; unmap
    /// (each buffer out of userspace's reach first: `Group::unmap_revoked`),
    /// delete, finalize. The reboot notifier may call it while the device
    /// is in use: a mapping then gets `SIGBUS` where the buffers were. Each
    /// failed step is logged and the next one runs. Returns what it did.
    pub(crate) fn stop(&self) -> StopReport {
        let mut report = StopReport::default();
        // No resize runs beside it, and none starts after it.
        let _no_resize = self.live.lock();
        if self.stopped.swap(true, Ordering::AcqRel) {
            return report;
        }
        // Whether buffer `i` exists and is mapped by the hypervisor; each
        // unmapped one is marked so, under the table's lock.
        let exists = |i| self.with_buffer(i, |b| b.mapped);
        let unmapped = |i| {
            if let Some(b) = self.table.lock().get_mut(i) {
                b.mapped = false;
            }
        };
        if self.is_system() {
            // The hypervisor's own buffers: only unmap them.
            let ty = EventLogType::SystemDiagnostics;
            for i in self.indices().rev().filter(|&i| exists(i) == Some(true)) {
                match self.unmap_revoked(ty, i) {
                    Ok(()) => unmapped(i),
                    Err(e) => report.failed("unmap", Some(i), e),
                }
            }
            return report;
        }
        let ty = self.cfg.log_type;
        if self.sources.load(Ordering::Relaxed) != 0 {
            match self.ctx.with(|hv, hp| hv.set_sources(hp, ty, 0)) {
                Ok(()) => self.sources.store(0, Ordering::Relaxed),
                Err(e) => report.failed("disable sources", None, e),
            }
        }
        let state = |i| self.header(i).and_then(|h| h.state());
        for i in self.indices() {
            if state(i) == Some(BufferState::InUse) {
                match self.ctx.with(|hv, _| hv.flush(ty, i)) {
                    Ok(()) => report.flushed += 1,
                    Err(e) if hypercall::flush_raced(&e) => {}
                    Err(e) => report.failed("flush", Some(i), e),
                }
            }
        }
        // The hypervisor completes a flushed buffer asynchronously; unmap
        // is refused while one is still in use.
        let mut waited = 0;
        while self.indices().any(|i| state(i) == Some(BufferState::InUse)) {
            if waited >= STOP_WAIT_MS {
                pr_warn!("teardown: buffers still in use after {STOP_WAIT_MS} ms\n");
                report.failures += 1;
                break;
            }
            fsleep(Delta::from_millis(STOP_POLL_MS.into()));
            waited += STOP_POLL_MS;
        }
        for i in self.indices() {
            if state(i) == Some(BufferState::Complete) {
                match self.ctx.with(|hv, _| hv.release_buffer(ty, i)) {
                    Ok(()) => report.released += 1,
                    Err(e) => report.failed("release", Some(i), e),
                }
            }
        }
        for i in self.indices().rev() {
            let Some(mapped) = exists(i) else { continue };
            let ctx = &self.ctx;
            if mapped {
                match self.unmap_revoked(ty, i) {
                    Ok(()) => unmapped(i),
                    Err(e) => report.failed("unmap", Some(i), e),
                }
            }
            // The slot stays: a userspace mapping may still cover it (and
            // faults with SIGBUS there).
            match ctx.with(|hv, _| hv.delete_buffer(ty, i)) {
                Ok(()) => report.deleted += 1,
                Err(e) => report.failed("delete", Some(i), e),
            }
        }
        if self.initialized {
            match self.ctx.with(|hv, _| hv.finalize_group(ty)) {
                Ok(()) => report.finalized = true,
                Err(e) => report.failed("finalize", None, e),
            }
        }
        report
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}
