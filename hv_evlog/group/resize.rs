// SPDX-License-Identifier: GPL-2.0

//! Growing and shrinking an active group (`HV_EVLOG_IOC_RESIZE`).
//!
//! The specification makes the count given to initialize a maximum and lets
//! buffers be added while the group is active (reference file, "The setup
//! sequence"); [`crate::policy::live`] plans which indices come and go. Growing
//! checks each proximity domain's pool for the new buffers first (depositing
//! node-local pages where it is short), then creates each buffer with its
//! domain and maps it, as set-up does, and only then shows it in the table.
//!
//! Shrinking takes a buffer out in the order the hypervisor allows: it
//! unmaps only a free or ready buffer (reference file, "Buffer states";
//! Microsoft's driver unmaps only after it flushed and released everything,
//! drivers/hv/diag/mshv_trace.c in microsoft/CBL-Mariner-Linux-Kernel), and
//! deletes only an unmapped one. So a buffer in use is flushed (its events
//! reach the consumer as an ordinary completion), a complete one waits for
//! the consumer's release, and a free one is unmapped from the hypervisor at
//! once: it is *retired*, out of the rotation. Before the unmap call its
//! pages leave userspace's reach (`Group::unmap_revoked`: the fault handler
//! refuses it, every user PTE of its range is zapped), so a consumer that
//! touches a retired buffer gets `SIGBUS`, never data. It is deleted only
//! when no userspace mapping covers it any more, so that its index stays in
//! the table while a mapping shows it; the consumer learns of the change
//! through `poll()` (`POLLPRI`) and the table's generation, and unmaps it. A resize
//! waits [`RETIRE_WAIT_MS`] for all that and fails with `EBUSY` otherwise;
//! what it did stays done, and a retired buffer is deleted by the next
//! resize or at unload. A resize (or a CPU coming online) never waits for
//! a buffer an earlier one retired: it is out of userspace's reach, and
//! only its deletion waits for its mapping to go.

use core::sync::atomic::Ordering;

use kernel::{
    prelude::*,
    time::{delay::fsleep, Delta},
};

use super::Group;
use crate::{
    hv::{hypercall, pool::PoolDomain},
    hv_evlog_numa::pool_pages,
    policy::live::{self, Served, Step},
    tlfs::{BufferIndex, BufferPages, BufferState, HvStatus},
};

/// How long a resize waits for the buffers it takes out: to complete after
/// a flush, to be released by the consumer, to be unmapped by userspace.
const RETIRE_WAIT_MS: u32 = 5000;
/// How often it looks meanwhile.
const RETIRE_POLL_MS: u32 = 10;

impl Group {
    /// Sets every served CPU's buffer count to `per_cpu`; see the file
    /// comment. A count the maximum cannot hold is `EINVAL` with one dmesg
    /// line; nothing changes then.
    pub(super) fn resize(&self, per_cpu: u32) -> Result {
        let mut live = self.live.lock();
        if self.stopped.load(Ordering::Acquire) {
            return Err(EBUSY);
        }
        self.apply(&live.served, per_cpu)?;
        live.per_cpu = per_cpu;
        Ok(())
    }

    /// Gives each CPU of `served` `per_cpu` buffers (the caller holds
    /// `live`).
    pub(super) fn apply(&self, served: &[Served], per_cpu: u32) -> Result {
        // Retired buffers keep their index until deleted: they count as
        // serving no CPU.
        let mut cpus = KVec::with_capacity(self.max_buffers as usize, GFP_KERNEL)?;
        for slot in self.table.lock().slots.iter() {
            let cpu = slot.as_ref().map(|b| match b.serves {
                Some(s) if !b.retired => s.cpu,
                _ => u32::MAX,
            });
            cpus.push(cpu, GFP_KERNEL)?;
        }
        let mut steps = KVec::with_capacity(self.max_buffers as usize, GFP_KERNEL)?;
        let counts = live::resize_plan(&cpus, served, per_cpu, |s| {
            // At most one step per index: the capacity covers them all.
            let _ = steps.push(s, GFP_KERNEL);
        })
        .map_err(|e| {
            pr_err!("{}\n", format_args!("HV_EVLOG_IOC_RESIZE {per_cpu}: {e}"));
            EINVAL
        })?;
        // Room first, so that no CPU is left short while others shrink.
        self.grow(&steps, per_cpu)?;
        self.retire(&steps, per_cpu)?;
        pr_info!(
            "resize: {per_cpu} buffers per CPU: {} created, {} taken out, {} in the group\n",
            counts.added,
            counts.removed,
            counts.total
        );
        Ok(())
    }

    /// Creates and maps the buffers `steps` adds, each domain's pool
    /// checked for them first.
    fn grow(&self, steps: &[Step], per_cpu: u32) -> Result {
        let adds = || {
            steps.iter().filter_map(|s| match *s {
                Step::Add {
                    index,
                    cpu,
                    target_node,
                    pxm,
                } => Some((
                    index,
                    Served {
                        cpu,
                        target_node,
                        pxm,
                    },
                )),
                Step::Remove { .. } => None,
            })
        };
        let pages = BufferPages(self.cfg.buffer_pages);
        if !self.is_local() {
            let need = pool_pages(adds().count() as u32, pages);
            self.ensure_pool(PoolDomain::Whole, need, per_cpu)?;
        } else {
            // Each domain once, where its first new buffer is.
            for (n, (_, s)) in adds().enumerate() {
                if adds().take(n).any(|(_, t)| t.target_node == s.target_node) {
                    continue;
                }
                let count = adds()
                    .filter(|(_, t)| t.target_node == s.target_node)
                    .count() as u32;
                let domain = PoolDomain::of_plan(s.target_node, s.pxm)?;
                self.ensure_pool(domain, pool_pages(count, pages), per_cpu)?;
            }
        }
        for (index, serves) in adds() {
            let index = BufferIndex(index);
            self.backend().assign(index, serves.cpu)?;
            self.create_buffer(index, serves).inspect_err(|_| {
                pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: buffer {index}: not created\n")
            })?;
            if let Err(e) = self.map_buffer(index, serves.target_node) {
                self.discard(index);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Makes sure `domain`'s pool holds `need` more pages.
    fn ensure_pool(&self, domain: PoolDomain, need: u64, per_cpu: u32) -> Result {
        self.ctx
            .with(|hv, hp| hv.ensure_pool(hp, domain, need))
            .map(drop)
            .map_err(|e| {
                pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: {e}\n");
                Error::from(e)
            })
    }

    /// Deletes buffer `index`, created but not mapped; if even that fails,
    /// it stays in the table as retired, so that unload deletes it.
    fn discard(&self, index: BufferIndex) {
        let ty = self.cfg.log_type;
        let deleted = self.ctx.with(|hv, _| hv.delete_buffer(ty, index)).is_ok();
        let mut table = self.table.lock();
        if deleted {
            table.remove(index);
        } else if let Some(b) = table.get_mut(index) {
            b.retired = true;
        }
        table.changed();
    }

    /// Takes out the buffers `steps` removes, and deletes every retired
    /// buffer no mapping covers (those of an earlier resize too). Waits for
    /// the ones it takes out, never for one an earlier call retired.
    fn retire(&self, steps: &[Step], per_cpu: u32) -> Result {
        let ty = self.cfg.log_type;
        let mut flushed = KVec::from_elem(false, self.max_buffers as usize, GFP_KERNEL)?;
        let mut going = KVec::from_elem(false, self.max_buffers as usize, GFP_KERNEL)?;
        for s in steps {
            if let Step::Remove { index } = *s {
                if let Some(g) = going.get_mut(index as usize) {
                    *g = true;
                }
            }
        }
        let mut waited = 0;
        loop {
            let mut left = 0;
            for i in self.indices() {
                let Some((retired, maps)) = self.with_buffer(i, |b| (b.retired, b.user_maps))
                else {
                    continue;
                };
                if !retired {
                    if !going.get(i.0 as usize).copied().unwrap_or(false) {
                        continue;
                    }
                    left += 1;
                    self.take_out(i, &going, &mut flushed, per_cpu)?;
                    continue;
                }
                if maps != 0 {
                    // Waited for only if this call took it out: one an
                    // earlier resize left mapped (out of userspace's reach
                    // already, `Group::unmap_revoked`) must not hold up a grow or a
                    // CPU coming online; it goes when its mapping does.
                    if going.get(i.0 as usize).copied().unwrap_or(false) {
                        left += 1;
                    }
                    continue;
                }
                // Retired and mapped by no one: its pages go back.
                self.ctx
                    .with(|hv, _| hv.delete_buffer(ty, i))
                    .inspect_err(|e| pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: buffer {i}: {e}\n"))?;
                let mut table = self.table.lock();
                table.remove(i);
                table.changed();
            }
            if left == 0 {
                return Ok(());
            }
            if waited >= RETIRE_WAIT_MS {
                pr_err!(
                    "HV_EVLOG_IOC_RESIZE {per_cpu}: {left} buffers not taken out after \
                     {RETIRE_WAIT_MS} ms (complete and not released, or still mapped)\n"
                );
                return Err(EBUSY);
            }
            if kernel::current!().signal_pending() {
                return Err(EINTR);
            }
            fsleep(Delta::from_millis(RETIRE_POLL_MS.into()));
            waited += RETIRE_POLL_MS;
        }
    }

    /// Whether a buffer that stays, of the CPU buffer `i` serves, is free
    /// for the hypervisor to go on with.
    fn kept_one_free(&self, i: BufferIndex, going: &[bool]) -> bool {
        let Some(cpu) = self.cpu_of(i) else {
            return true;
        };
        self.indices().any(|j| {
            !going.get(j.0 as usize).copied().unwrap_or(true)
                && self.with_buffer(j, |b| !b.retired).unwrap_or(false)
                && self.cpu_of(j) == Some(cpu)
                && matches!(
                    self.header(j).and_then(|h| h.state()),
                    Some(BufferState::Free | BufferState::Ready)
                )
        })
    }

    /// One look at buffer `i`, which is to go (`going` says which do):
    /// unmap it from the hypervisor if it is free or ready (it is retired
    /// then); flush it if it is in use and a buffer that stays is free for
    /// its CPU, so that the flush loses no event; a complete one waits for
    /// the consumer's release.
    fn take_out(
        &self,
        i: BufferIndex,
        going: &[bool],
        flushed: &mut [bool],
        per_cpu: u32,
    ) -> Result {
        let ty = self.cfg.log_type;
        let state = self.header(i).and_then(|h| h.state());
        let in_use = state == Some(BufferState::InUse);
        let Some(&was_flushed) = flushed.get(i.0 as usize) else {
            return Ok(());
        };
        // Flushed once per time it is seen in use: the writer may start it
        // again after the consumer released it.
        let flush = in_use && !was_flushed && self.kept_one_free(i, going);
        if let Some(f) = flushed.get_mut(i.0 as usize) {
            *f = in_use && (was_flushed || flush);
        }
        match state {
            Some(BufferState::Free | BufferState::Ready) => {
                match self.unmap_revoked(ty, i) {
                    Ok(()) => {
                        let mut table = self.table.lock();
                        if let Some(b) = table.get_mut(i) {
                            b.mapped = false;
                            b.retired = true;
                        }
                        table.changed();
                        Ok(())
                    }
                    // The hypervisor took it meanwhile: look again later.
                    Err(e) if e.status() == HvStatus::OBJECT_IN_USE => Ok(()),
                    Err(e) => {
                        pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: buffer {i}: {e}\n");
                        Err(e.into())
                    }
                }
            }
            Some(BufferState::InUse) if flush => match self.ctx.with(|hv, _| hv.flush(ty, i)) {
                Err(e) if !hypercall::flush_raced(&e) => {
                    pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: flush buffer {i}: {e}\n");
                    Err(e.into())
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}
