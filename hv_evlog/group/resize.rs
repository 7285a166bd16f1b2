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

use super::{Group, Live};
use crate::{
    hv::{hypercall, pool::PoolDomain},
    hv_evlog_numa::{cpu_map, pool_pages},
    policy::live::{self, Served, Step},
    tlfs::{BufferIndex, BufferPages, BufferState, HvStatus},
    uapi::{cpu_in, CPU_WORDS},
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
        let Live {
            served,
            per_cpu: now,
        } = &mut *live;
        // The count is the group's once its buffers exist: a CPU that comes
        // online gets it even if taking out the surplus failed (retired
        // buffers go later, and a buffer not yet taken out still serves).
        self.apply(served, per_cpu, || *now = per_cpu)
    }

    /// Gives each CPU of `served` `per_cpu` buffers (the caller holds
    /// `live`); `grown()` runs once every new buffer exists, before any
    /// is taken out.
    pub(super) fn apply(&self, served: &[Served], per_cpu: u32, grown: impl FnOnce()) -> Result {
        // Retired buffers no mapping covers any more go first: they would
        // count against the maximum in the plan.
        let swept = self.sweep(per_cpu)?;
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
        grown();
        self.retire(&steps, per_cpu)?;
        pr_info!(
            "resize: {per_cpu} buffers per CPU: {} created, {} taken out, {} in the group \
             ({swept} retired earlier deleted)\n",
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

    /// Deletes buffer `index`, created but not mapped (see
    /// `Group::map_buffer`); if even that fails, it stays in the table as
    /// retired, so that the next resize or unload deletes it.
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
            // One look at the whole table per round, under one lock: what
            // is there, and which CPUs keep a free buffer.
            let (looks, kept_free) = self.look(&going)?;
            let mut left = 0;
            for (i, look) in self.indices().zip(looks.iter()) {
                let Some(look) = look else { continue };
                let ours = going.get(i.0 as usize).copied().unwrap_or(false);
                if !look.retired {
                    if !ours {
                        continue;
                    }
                    left += 1;
                    let free = look.cpu.is_none_or(|c| cpu_in(&kept_free, c));
                    self.take_out(i, look.state, free, &mut flushed, per_cpu)?;
                    continue;
                }
                if look.user_maps != 0 {
                    // Waited for only if this call took it out: one an
                    // earlier resize left mapped (out of userspace's reach
                    // already, `Group::unmap_revoked`) must not hold up a
                    // grow or a CPU coming online; it goes when its mapping
                    // does.
                    if ours {
                        left += 1;
                    }
                    continue;
                }
                self.delete_retired(i, look.mapped, per_cpu)?;
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

    /// Deletes every retired buffer no mapping covers; returns how many.
    fn sweep(&self, per_cpu: u32) -> Result<u32> {
        let mut swept = 0;
        for i in self.indices() {
            let Some((true, mapped, 0)) =
                self.with_buffer(i, |b| (b.retired, b.mapped, b.user_maps))
            else {
                continue;
            };
            self.delete_retired(i, mapped, per_cpu)?;
            swept += 1;
        }
        Ok(swept)
    }

    /// Deletes retired buffer `i`, which no mapping covers: its pages go
    /// back (unmapped first if a map the module refused could not be
    /// undone, `mapped`).
    fn delete_retired(&self, i: BufferIndex, mapped: bool, per_cpu: u32) -> Result {
        let ty = self.cfg.log_type;
        if mapped {
            self.ctx
                .with(|hv, _| hv.unmap_buffer(ty, i))
                .inspect_err(|e| {
                    pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: unmap buffer {i}: {e}\n")
                })?;
            if let Some(b) = self.table.lock().get_mut(i) {
                b.mapped = false;
            }
        }
        self.ctx
            .with(|hv, _| hv.delete_buffer(ty, i))
            .inspect_err(|e| pr_err!("HV_EVLOG_IOC_RESIZE {per_cpu}: buffer {i}: {e}\n"))?;
        let mut table = self.table.lock();
        table.remove(i);
        table.changed();
        Ok(())
    }

    /// Every buffer as a [`Look`], by index, and a bitmap of the CPUs that
    /// keep a buffer (not in `going`, not retired) which is free or ready:
    /// one pass over the table under its lock, so that a round of
    /// [`Group::retire`] costs one walk whatever the number of buffers.
    fn look(&self, going: &[bool]) -> Result<(KVec<Option<Look>>, [u64; CPU_WORDS])> {
        let mut looks = KVec::with_capacity(self.max_buffers as usize, GFP_KERNEL)?;
        let mut kept_free = [0u64; CPU_WORDS];
        let table = self.table.lock();
        for (i, slot) in table.slots.iter().enumerate() {
            let look = slot.as_ref().map(|b| Look {
                cpu: b.serves.map(|s| s.cpu),
                retired: b.retired,
                mapped: b.mapped,
                user_maps: b.user_maps,
                state: b.header().and_then(|h| h.state()),
            });
            if let Some(l) = &look {
                let stays = !going.get(i).copied().unwrap_or(true) && !l.retired;
                let free = matches!(l.state, Some(BufferState::Free | BufferState::Ready));
                if let (true, true, Some(cpu)) = (stays, free, l.cpu) {
                    for (word, bit) in kept_free.iter_mut().zip(cpu_map::<CPU_WORDS>(cpu)) {
                        *word |= bit;
                    }
                }
            }
            // Within the capacity: one entry per slot.
            looks.push(look, GFP_KERNEL)?;
        }
        Ok((looks, kept_free))
    }

    /// One step for buffer `i`, which is to go, last seen in `state`:
    /// unmap it from the hypervisor if it is free or ready (it is retired
    /// then); flush it if it is in use and a buffer that stays is free for
    /// its CPU (`kept_free`), so that the flush loses no event; a complete
    /// one waits for the consumer's release. A state that changed since it
    /// was seen is no error: the hypervisor refuses the unmap or the flush
    /// for it, and the next round looks again.
    fn take_out(
        &self,
        i: BufferIndex,
        state: Option<BufferState>,
        kept_free: bool,
        flushed: &mut [bool],
        per_cpu: u32,
    ) -> Result {
        let ty = self.cfg.log_type;
        let in_use = state == Some(BufferState::InUse);
        let Some(&was_flushed) = flushed.get(i.0 as usize) else {
            return Ok(());
        };
        // Flushed once per time it is seen in use: the writer may start it
        // again after the consumer released it.
        let flush = in_use && !was_flushed && kept_free;
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

/// What one round of [`Group::retire`] knows of a buffer.
struct Look {
    /// The CPU it serves.
    cpu: Option<u32>,
    retired: bool,
    /// Mapped by the hypervisor (a retired one only after a bad map the
    /// hypervisor would not undo).
    mapped: bool,
    user_maps: u32,
    /// From its header (`None` if it has no pages or would not hold still).
    state: Option<BufferState>,
}
