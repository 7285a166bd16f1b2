// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: the per-node memory pools (pure, host-tested).
//!
//! A root partition pays for what the hypervisor keeps for it with its own
//! pages: it deposits them (HvCallDepositMemory), asks what is left
//! (HvCallGetMemoryBalance), may take free ones back (HvCallWithdrawMemory),
//! and each buffer the hypervisor creates is charged to one node's pool.
//! "Model" and "Charges" in `hypervisor.rs` give the rules; this file keeps
//! the pools and their free lists.

use super::buffers::BufferSlot;
use super::dispatch::{block, read_input, Regs};
use super::hypervisor::{Hypervisor, PoolStats, MAX_NODES};
use super::machine::{zero_page, Platform};
use crate::hv_evlog_numa::{BOOKKEEPING_PAGES_PER_BUFFER, BOOKKEEPING_PAGES_PER_DOMAIN};
use crate::tlfs::{
    Control, DepositMemoryInput, GetMemoryBalanceInput, GetMemoryBalanceOutput, HvStatus,
    ProximityDomainInfo, Wire, WithdrawMemoryInput, HV_PARTITION_ID_SELF, MAX_BUFFER_PAGES,
    PAGE_SIZE,
};

// The simulator keeps exactly one page per buffer (the PFN list) and one per
// domain. If the plan's charges change, this file must change with them.
const _: () = assert!(BOOKKEEPING_PAGES_PER_BUFFER == 1);
const _: () = assert!(BOOKKEEPING_PAGES_PER_DOMAIN == 1);
// One PFN list page holds the largest buffer's page numbers.
const _: () = assert!(MAX_BUFFER_PAGES as usize * 8 == PAGE_SIZE);

/// One node's pool. Zero bytes are an empty pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pool {
    /// First free page; meaningful only when `free > 0`.
    pub(super) head: u64,
    /// Pages on the free list.
    pub(super) free: u64,
    /// Pages taken for buffers and bookkeeping.
    pub(super) in_use: u64,
    /// The domain's bookkeeping page; meaningful only when `buffers > 0`.
    domain_page: u64,
    /// Buffers charged to this node.
    pub(super) buffers: u32,
}

impl Pool {
    pub(super) const EMPTY: Self = Self {
        head: 0,
        free: 0,
        in_use: 0,
        domain_page: 0,
        buffers: 0,
    };
}

/// The pool index of a node id, if the simulator keeps a pool for it.
pub(super) fn pool_index(node: Option<u32>) -> Option<usize> {
    node.map(|n| n as usize).filter(|&n| n < MAX_NODES)
}

impl Hypervisor {
    /// HvCallDepositMemory; returns the status and the reps done in total.
    pub(super) fn deposit<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        gpa: u64,
    ) -> (HvStatus, u16) {
        let count = control.rep_count();
        let start = control.rep_start();
        if count == 0 || usize::from(count) > DepositMemoryInput::MAX_PAGES || start >= count {
            return (HvStatus::INVALID_HYPERCALL_INPUT, start);
        }
        let len = DepositMemoryInput::SIZE + usize::from(count) * 8;
        let header = block(p, gpa, len).and_then(|raw| {
            DepositMemoryInput::decode(raw).ok_or(HvStatus::INVALID_HYPERCALL_INPUT)
        });
        match header {
            Ok(h) if h.partition_id == HV_PARTITION_ID_SELF => {}
            Ok(_) => return (HvStatus::INVALID_PARTITION_ID, start),
            Err(status) => return (status, start),
        }
        for rep in start..count {
            let pfn = block(p, gpa, len)
                .ok()
                .and_then(|raw| DepositMemoryInput::gpa_page(raw, usize::from(rep)));
            let node = pfn.and_then(|pfn| pool_index(p.node_of_pfn(pfn)));
            let (Some(pfn), Some(node)) = (pfn, node) else {
                return (HvStatus::INVALID_PARAMETER, rep);
            };
            if p.node_of_pfn(pfn).is_none() {
                return (HvStatus::INVALID_PARAMETER, rep);
            }
            self.push(p, node, pfn);
            self.ledger.deposited += 1;
        }
        (HvStatus::SUCCESS, count)
    }

    /// HvCallWithdrawMemory: hands up to the rep count of one node's free
    /// pool pages back, their numbers in the output page. A pool that runs
    /// out answers NO_RESOURCES with the reps it did, as the hypervisor does.
    pub(super) fn withdraw<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> (HvStatus, u16) {
        let count = control.rep_count();
        let start = control.rep_start();
        if count == 0 || usize::from(count) > WithdrawMemoryInput::MAX_PAGES || start >= count {
            return (HvStatus::INVALID_HYPERCALL_INPUT, start);
        }
        let node = match self.withdraw_node(p, regs, count) {
            Ok(node) => node,
            Err(status) => return (status, start),
        };
        for rep in start..count {
            let Some(pfn) = self.pop(p, node) else {
                return (HvStatus::NO_RESOURCES, rep);
            };
            self.ledger.withdrawn += 1;
            let out = block(p, regs.output, usize::from(count) * 8);
            if let Ok(out) = out {
                WithdrawMemoryInput::set_gpa_page(out, usize::from(rep), pfn);
            }
        }
        (HvStatus::SUCCESS, count)
    }

    /// The pool a withdrawal names, after checking its input and that the
    /// output page can take `count` page numbers.
    fn withdraw_node<P: Platform>(
        &self,
        p: &mut P,
        regs: Regs,
        count: u16,
    ) -> Result<usize, HvStatus> {
        let raw = block(p, regs.input, WithdrawMemoryInput::SIZE)?;
        let input = WithdrawMemoryInput::decode(raw).ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
        if input.partition_id != HV_PARTITION_ID_SELF {
            return Err(HvStatus::INVALID_PARTITION_ID);
        }
        let pxm =
            checked_domain(input.proximity)?.ok_or(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO)?;
        let node = node_of(p, pxm)?;
        block(p, regs.output, usize::from(count) * 8)?;
        Ok(node)
    }

    /// HvCallGetMemoryBalance: one node's pool, or all of them.
    pub(super) fn balance<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> Result<(), HvStatus> {
        let input: GetMemoryBalanceInput = read_input(p, control, regs)?;
        if input.partition_id != HV_PARTITION_ID_SELF {
            return Err(HvStatus::INVALID_PARTITION_ID);
        }
        let stats = match checked_domain(input.proximity)? {
            Some(pxm) => self.pool(node_of(p, pxm)? as u32),
            None => PoolStats {
                free: self.pools.iter().map(|pool| pool.free).sum(),
                in_use: self.pools.iter().map(|pool| pool.in_use).sum(),
            },
        };
        let out = block(p, regs.output, GetMemoryBalanceOutput::SIZE)?;
        let output = GetMemoryBalanceOutput {
            pages_available: stats.free,
            pages_in_use: stats.in_use,
        };
        output
            .encode(out)
            .ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
        Ok(())
    }

    /// The pool a new buffer is charged to; see "Charges" in `hypervisor.rs`.
    pub(super) fn placement<P: Platform>(
        &self,
        p: &P,
        proximity: ProximityDomainInfo,
    ) -> Result<usize, HvStatus> {
        if let Some(pxm) = checked_domain(proximity)? {
            let node = node_of(p, pxm)?;
            return self
                .covers(node)
                .then_some(node)
                .ok_or(HvStatus::INSUFFICIENT_MEMORY);
        }
        pool_index(p.node_of_pxm(0))
            .into_iter()
            .chain(0..MAX_NODES)
            .find(|&node| self.covers(node))
            .ok_or(HvStatus::INSUFFICIENT_MEMORY)
    }

    /// Pages a new buffer on `node` costs, the domain's page included if it
    /// is the domain's first buffer.
    fn charge_for(&self, node: usize) -> u64 {
        let domain = if self.pools[node].buffers == 0 {
            BOOKKEEPING_PAGES_PER_DOMAIN
        } else {
            0
        };
        u64::from(self.group.buffer_pages + BOOKKEEPING_PAGES_PER_BUFFER + domain)
    }

    fn covers(&self, node: usize) -> bool {
        self.pools[node].free >= self.charge_for(node)
    }

    /// Takes a new buffer's pages from `node`'s pool (which [`Self::covers`]
    /// it) and sets the buffer up in standby.
    pub(super) fn charge<P: Platform>(&mut self, p: &mut P, node: usize, index: usize) {
        if self.pools[node].buffers == 0 {
            if let Some(pfn) = self.take(p, node) {
                self.pools[node].domain_page = pfn;
            }
        }
        self.pools[node].buffers += 1;
        let bookkeeping = self.take(p, node).unwrap_or(0);
        for k in 0..self.group.buffer_pages as usize {
            let Some(pfn) = self.take(p, node) else {
                break;
            };
            p.store_u64(bookkeeping, k * 8, pfn);
        }
        let b = &mut self.buffers[index];
        *b = BufferSlot {
            exists: true,
            node: node as u8,
            bookkeeping,
            has_cpu: b.has_cpu,
            cpu: b.cpu,
            ..BufferSlot::EMPTY
        };
        self.sync_header(p, index);
    }

    /// Gives a buffer's pages back to its pool and empties its slot.
    pub(super) fn return_pages<P: Platform>(&mut self, p: &mut P, index: usize) {
        let b = self.buffers[index];
        let node = b.node as usize;
        for k in 0..self.group.buffer_pages as usize {
            if let Some(pfn) = self.pfn_of(p, index, k) {
                self.give(p, node, pfn);
            }
        }
        self.give(p, node, b.bookkeeping);
        let pool = &mut self.pools[node];
        pool.buffers = pool.buffers.saturating_sub(1);
        if pool.buffers == 0 {
            let pfn = pool.domain_page;
            self.give(p, node, pfn);
        }
        self.buffers[index] = BufferSlot {
            has_cpu: b.has_cpu,
            cpu: b.cpu,
            ..BufferSlot::EMPTY
        };
    }

    /// Pops a page for use, zeroed: a hypervisor never shows a partition
    /// another's data, and the pool's links must not leak into buffers.
    fn take<P: Platform>(&mut self, p: &mut P, node: usize) -> Option<u64> {
        let pfn = self.pop(p, node)?;
        self.pools[node].in_use += 1;
        zero_page(p, pfn);
        Some(pfn)
    }

    /// Returns a used page to the pool.
    fn give<P: Platform>(&mut self, p: &mut P, node: usize, pfn: u64) {
        let pool = &mut self.pools[node];
        pool.in_use = pool.in_use.saturating_sub(1);
        self.push(p, node, pfn);
    }

    pub(super) fn push<P: Platform>(&mut self, p: &mut P, node: usize, pfn: u64) {
        let pool = &mut self.pools[node];
        p.store_u64(pfn, 0, pool.head);
        pool.head = pfn;
        pool.free += 1;
    }

    pub(super) fn pop<P: Platform>(&mut self, p: &mut P, node: usize) -> Option<u64> {
        let pool = &mut self.pools[node];
        if pool.free == 0 {
            return None;
        }
        let pfn = pool.head;
        pool.head = p.load_u64(pfn, 0).unwrap_or(0);
        pool.free -= 1;
        Some(pfn)
    }
}

/// The domain a proximity info asks for, if any; refuses reserved flags.
fn checked_domain(proximity: ProximityDomainInfo) -> Result<Option<u32>, HvStatus> {
    if proximity.flags & ProximityDomainInfo::RESERVED_FLAGS != 0 {
        return Err(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO);
    }
    Ok(proximity.domain())
}

/// The pool index of proximity domain `pxm`.
fn node_of<P: Platform>(p: &P, pxm: u32) -> Result<usize, HvStatus> {
    pool_index(p.node_of_pxm(pxm)).ok_or(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO)
}
