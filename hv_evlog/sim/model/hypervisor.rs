// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: the state it keeps and the calls its kernel shell
//! makes (pure, host-tested).
//!
//! CI has no Microsoft hypervisor, so hv_evlog can hand each hypercall's
//! `(control, input, output)` to [`Hypervisor::hypercall`] instead of the
//! kernel's trampoline. The module encodes every call exactly as for the real
//! hypervisor; the simulator decodes it with the same [`crate::tlfs`]
//! definitions and answers as the TLFS describes, so the module's hypercall
//! path, its error handling and its buffer consumer all run unchanged.
//!
//! Only `core` is used and there is no `unsafe`. Pages, time and the CPU
//! count come from a [`Platform`]: the kernel shell implements it over real
//! pages, the host tests over a `Vec`. Every entry point takes `&mut self`;
//! the shell serialises them with its lock and drives the synthetic event
//! writers (`writer.rs`) from its timers.
//!
//! [`Hypervisor`] is one value (see "Allocation"), so its parts are `impl`
//! blocks in the files of `model/` named for them (`model/mod.rs` lists
//! them); what is written here holds for all of them.
//!
//! # Model
//!
//! - **Addresses.** The simulated partition is the root partition, so guest
//!   physical is host physical: every page number in a call (input and output
//!   addresses, deposited pages, mapped pages) is a PFN the platform resolves.
//! - **Pool.** One pool per node, a free list threaded through the free pages
//!   themselves (the first 8 bytes of a free page hold the next PFN) with a
//!   count, so the pool needs no storage of its own. [`Hypervisor::seed_pool`]
//!   fills it from [`Platform::alloc_page`]; HvCallDepositMemory hands pages
//!   over for good, filed under the node [`Platform::node_of_pfn`] names.
//!   HvCallGetMemoryBalance reports a node's free and used pages, or the
//!   totals when no proximity domain is given. [`Hypervisor::teardown`] gives
//!   every page the simulator holds back to the platform exactly once.
//! - **One group.** The simulator keeps a single buffer group at a time; a
//!   second initialize, of any type, is refused. `system_time` is ignored:
//!   timestamps come from [`Platform::now`] in the group's time basis.
//! - **Buffers.** A created buffer is standby, mapping makes it free, the
//!   writer fills it (in use) and completes it, release makes it ready (free
//!   again). Page 0 of every buffer holds its [`BufferHeader`], rewritten on
//!   every change, so the module learns everything (state, used bytes,
//!   completion chains) from headers alone and never has to ask.
//! - **Affinity.** The real hypervisor assigns buffers to logical processors
//!   itself. The simulator is told instead: [`Hypervisor::set_affinity`]
//!   stands in for that assignment, and the shell calls it from the
//!   placement plan, so the processor a buffer's header names is the plan's.
//!   VP index = logical processor = Linux CPU id.
//! - **Notification.** Completed buffers are chained through the headers'
//!   `next_buffer_index`. When the chain reaches the group threshold, or on a
//!   flush, it moves to an outbox; the shell fetches it with
//!   [`Hypervisor::take_notification`], standing in for the SynIC message.
//!
//! # Charges
//!
//! Exactly what [`crate::hv_evlog_numa::pool_pages`] predicts, taken from the
//! pool of the node the create call's proximity domain maps to:
//!
//! - per buffer: `buffer_pages` plus [`BOOKKEEPING_PAGES_PER_BUFFER`] (one
//!   page holding the buffer's PFN list, 512 × 8 bytes);
//! - per domain: [`BOOKKEEPING_PAGES_PER_DOMAIN`] with the domain's first
//!   buffer, given back with its last one, so a domain without buffers costs
//!   nothing (`pool_pages(0, _) == 0`).
//!
//! The charge is all or nothing. A preferred domain is treated as required:
//! falling back to another node would hide a module that deposited on the
//! wrong one. Without a valid proximity domain the hypervisor picks: the node
//! of proximity domain 0 if its pool covers the charge, else the lowest node
//! id whose pool does. Initialize charges nothing. Delete gives the pages
//! back to the pool they came from.
//!
//! # Statuses
//!
//! Checked in this order; the first that applies is returned:
//!
//! | call | condition | status |
//! |---|---|---|
//! | any | it is call number [`Hypervisor::fail_at`] | [`Hypervisor::fail_status`], nothing done |
//! | any | [`Hypervisor::refuse_status`] is not SUCCESS | that status (ACCESS_DENIED plays an ordinary guest) |
//! | any | unknown call code | INVALID_HYPERCALL_CODE |
//! | any | reserved control bits, a variable header, fast bit on a call that cannot go fast, reps on a non-rep call | INVALID_HYPERCALL_INPUT |
//! | memory call | input or output address not 8-byte aligned | INVALID_ALIGNMENT |
//! | memory call | input or output block crosses its page, or the platform has no such page | INVALID_HYPERCALL_INPUT |
//! | initialize | a group exists | INVALID_PARTITION_STATE |
//! | initialize | type, mode or time basis undefined; max buffers not 1-512; size not 1-512 whole pages; threshold not 1-max; padding not zero | INVALID_PARAMETER |
//! | other event log calls | no group | INVALID_PARTITION_STATE |
//! | other event log calls | type not the group's | INVALID_PARAMETER |
//! | map, unmap | partition not [`HV_PARTITION_ID_SELF`] (an 8-byte input of the older generation reads as partition 0) | INVALID_PARTITION_ID |
//! | buffer calls | index not below the group maximum | INVALID_PARAMETER |
//! | delete, map, unmap, release, flush | buffer not created | INVALID_PARAMETER |
//! | create | buffer exists | OBJECT_IN_USE |
//! | create | reserved proximity flags; valid domain without a node | INVALID_PROXIMITY_DOMAIN_INFO |
//! | create | the pool cannot cover the charge | INSUFFICIENT_MEMORY |
//! | delete | buffer mapped | OBJECT_IN_USE |
//! | map | buffer already mapped | INVALID_PARAMETER |
//! | map | [`Hypervisor::bad_map_next`] set (fault injection) | SUCCESS, page 0 reported at [`NOT_RAM_PFN`] |
//! | unmap | buffer not mapped | INVALID_PARAMETER |
//! | unmap | buffer in use or complete | OBJECT_IN_USE |
//! | release | buffer not complete (also: recycled by circular mode) | INVALID_PARAMETER |
//! | finalize | reserved field not zero | INVALID_PARAMETER |
//! | set sources | more than 2 groups; legacy form (no groups) with bit 0 ("extended") set; any extended input (the simulator models only the legacy form) | INVALID_PARAMETER |
//! | flush | buffer not in use | OPERATION_DENIED |
//! | finalize | buffers exist or sources enabled | OPERATION_DENIED |
//! | deposit | rep count not 1-511 or rep start not below it | INVALID_HYPERCALL_INPUT |
//! | deposit, balance, property | partition not [`HV_PARTITION_ID_SELF`] | INVALID_PARTITION_ID |
//! | deposit | page unknown to the platform or on a node ≥ [`MAX_NODES`] | INVALID_PARAMETER, reps = pages taken |
//! | balance | reserved proximity flags; valid domain without a node | INVALID_PROXIMITY_DOMAIN_INFO |
//! | property | any property | UNKNOWN_PROPERTY (the simulator has none) |
//! | system property, type 2 calls | see `system.rs` (checked right after the control word) | |
//!
//! Calls that may go fast ([`HvCall::fast_capable`]) are accepted in either
//! form; the others (initialize, map with its output page, set sources with
//! its 544-byte input) only as memory calls, so their fast form is an input
//! of the wrong size for the call form: INVALID_HYPERCALL_INPUT. A fast call
//! carries 16 bytes; for an 8-byte input the second register is not read
//! (Linux's `hv_do_fast_hypercall8()` leaves it unset). A memory call's
//! input is read at its full size, and a block that would cross its page is
//! refused (INVALID_HYPERCALL_INPUT, above). A deposit reports in its result
//! how many reps are done in total, counting those before the rep start, so
//! a caller resumes from there.
//!
//! The flush statuses are a choice: neither the reference file nor
//! Microsoft's driver names them. A bad index is INVALID_PARAMETER, as for
//! every other buffer call. A buffer that is not in use is a state conflict:
//! Microsoft's driver only flushes buffers whose header says in use
//! (drivers/hv/diag/mshv_trace.c, `mshv_trace_flush_buffers`) and the
//! reference describes flush as completing "that in-use buffer", so the
//! simulator answers OPERATION_DENIED, the status the reference gives for
//! the other state conflict of this interface (finalize while buffers or
//! sources remain). A caller that read "in use" and lost the race against
//! the writer gets it too, and must treat it as "already complete".
//!
//! # Teardown order the simulator requires
//!
//! Sources off; flush each buffer whose header says in use (an in-use
//! buffer cannot be unmapped); release the complete buffers; unmap; delete;
//! finalize. Finally the shell calls [`Hypervisor::teardown`], which frees
//! whatever is left in any case.
//!
//! # Allocation
//!
//! [`Hypervisor`] is about 35 KiB of fixed arrays, too large for a kernel
//! stack. All-zero bytes are a valid value and equal [`Hypervisor::new`] (a
//! host test pins this), so the shell can allocate it zeroed in place.
//!
//! [`BufferHeader`]: crate::tlfs::BufferHeader
//! [`HV_PARTITION_ID_SELF`]: crate::tlfs::HV_PARTITION_ID_SELF
//! [`HvCall::fast_capable`]: crate::tlfs::HvCall::fast_capable

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use super::buffers::{BufferSlot, GroupState};
use super::chains::{Chain, Link};
use super::dispatch::Regs;
use super::machine::Platform;
use super::pool::{pool_index, Pool};
use super::synic::Synic;
use super::system::SystemLog;
use super::writer::Cpu;
use crate::hv_evlog_numa::{BOOKKEEPING_PAGES_PER_BUFFER, BOOKKEEPING_PAGES_PER_DOMAIN};
use crate::tlfs::{result_value, BufferState, Control, EventLogType, HvStatus, MAX_BUFFERS};

/// Nodes the simulator keeps a pool for (node ids `0..MAX_NODES`).
pub const MAX_NODES: usize = 64;

/// CPUs the simulator can serve (ids `0..MAX_CPUS`), one writer state each;
/// the header's 16-bit logical processor could name more.
pub const MAX_CPUS: u32 = 256;

/// Pages per node [`Hypervisor::seed_pool`] is meant to be given by default:
/// 1 MiB, enough for the default geometry (2 buffers of 16 pages per CPU,
/// `2 * 17 + 1` pages per CPU and domain) on nodes of up to 7 CPUs, and
/// small next to the test VMs' 128 MiB nodes. Larger set-ups deposit more,
/// which is the path the module must handle anyway.
#[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
pub const DEFAULT_POOL_PAGES_PER_NODE: u64 = 256;

// The CPU field of the header is 16 bits wide.
const _: () = assert!(MAX_CPUS <= 1 << u16::BITS);

/// A completed chain handed to the partition: the simulator's stand-in for
/// the "event log buffer complete" SynIC message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The group's type.
    pub log_type: EventLogType,
    /// First buffer of the chain; follow `next_buffer_index` from there.
    pub first_buffer: u32,
    /// Buffers in the chain.
    pub buffers: u32,
}

/// Where the pages of the pools came from and went: the partition's pages
/// the simulator holds are exactly `seeded + deposited - withdrawn`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Pages [`Hypervisor::seed_pool`] took from the platform: the part of
    /// the pool the module did not deposit (other drivers' deposits, as in a
    /// real root partition's pool).
    pub seeded: u64,
    /// Pages HvCallDepositMemory handed over.
    pub deposited: u64,
    /// Pages HvCallWithdrawMemory handed back.
    pub withdrawn: u64,
}

impl Ledger {
    const EMPTY: Self = Self {
        seeded: 0,
        deposited: 0,
        withdrawn: 0,
    };
}

/// A pool's page counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Pages free in the pool.
    pub free: u64,
    /// Pages taken from the pool for buffers and bookkeeping.
    pub in_use: u64,
}

/// Why [`Hypervisor::set_affinity`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityError {
    /// The buffer index is not below [`MAX_BUFFERS`].
    BadBuffer,
    /// The CPU is not below [`MAX_CPUS`] and the platform's CPU count.
    BadCpu,
    /// The buffer is in use or complete, so it belongs to its current CPU
    /// until it is released.
    Busy,
}

/// The frame [`Hypervisor::bad_map_next`] reports: 2^40, past the 52 bits
/// of physical address any x86-64 processor has, so never RAM.
pub const NOT_RAM_PFN: u64 = 1 << 40;

/// The simulated hypervisor.
///
/// All-zero bytes are a valid value, equal to [`Hypervisor::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hypervisor {
    /// Fault injection: call number (1-based, counting every call) that
    /// fails with [`Self::fail_status`] and has no other effect; 0 = off.
    pub fail_at: u64,
    /// Status of the injected failure.
    pub fail_status: HvStatus,
    /// Fault injection: the next map call succeeds but reports its first
    /// page at [`NOT_RAM_PFN`], as a hypervisor that went wrong might; the
    /// module must refuse such a buffer and give it back. Cleared by that
    /// call.
    pub bad_map_next: bool,
    /// When not SUCCESS, every call fails with it, e.g. ACCESS_DENIED for an
    /// ordinary guest or INVALID_HYPERCALL_CODE for KVM's emulation.
    pub refuse_status: HvStatus,
    /// Hypercalls seen ([`Self::calls`]).
    calls: u64,
    /// Completions since the group was initialized ([`Self::completions`]).
    pub(super) completions: u64,
    /// Where the pool pages came from (`pool.rs`).
    pub(super) ledger: Ledger,
    /// The buffer group (`buffers.rs`).
    pub(super) group: GroupState,
    /// Completed buffers below the threshold (`chains.rs`).
    pub(super) pending: Chain,
    /// Completed chains waiting for [`Self::take_notification`].
    pub(super) outbox: Chain,
    /// One pool per node (`pool.rs`).
    pub(super) pools: [Pool; MAX_NODES],
    /// The buffer slots, by index (`buffers.rs`).
    pub(super) buffers: [BufferSlot; MAX_BUFFERS as usize],
    /// The writers' per-CPU state (`writer.rs`).
    pub(super) cpus: [Cpu; MAX_CPUS as usize],
    /// The SINT0 message slots (`synic.rs`).
    pub(super) synic: Synic,
    /// The hypervisor's own system-diagnostics log (`system.rs`).
    pub(super) system: SystemLog,
}

impl Default for Hypervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Hypervisor {
    /// A simulator with empty pools and no group.
    pub const fn new() -> Self {
        Self {
            fail_at: 0,
            fail_status: HvStatus::SUCCESS,
            bad_map_next: false,
            refuse_status: HvStatus::SUCCESS,
            calls: 0,
            completions: 0,
            ledger: Ledger::EMPTY,
            group: GroupState::EMPTY,
            pending: Chain::EMPTY,
            outbox: Chain::EMPTY,
            pools: [Pool::EMPTY; MAX_NODES],
            buffers: [BufferSlot::EMPTY; MAX_BUFFERS as usize],
            cpus: [Cpu::EMPTY; MAX_CPUS as usize],
            synic: Synic::EMPTY,
            system: SystemLog::EMPTY,
        }
    }

    // -----------------------------------------------------------------------
    // Shell interface
    // -----------------------------------------------------------------------

    /// Moves up to `pages` pages of `node` from the platform into the pool
    /// and returns how many it got. Each page is filed under the node it
    /// really is on, so the pool of node `n` only ever holds node `n` pages.
    pub fn seed_pool<P: Platform>(&mut self, p: &mut P, node: u32, pages: u64) -> u64 {
        let mut added = 0;
        while added < pages {
            let Some(pfn) = p.alloc_page(node) else {
                break;
            };
            let Some(pool) = pool_index(p.node_of_pfn(pfn)) else {
                p.free_page(pfn);
                break;
            };
            self.push(p, pool, pfn);
            added += 1;
        }
        self.ledger.seeded += added;
        added
    }

    /// Pages seeded, deposited and withdrawn so far.
    pub fn ledger(&self) -> Ledger {
        self.ledger
    }

    /// Runs one hypercall and returns its result value (status in bits
    /// 0-15, reps completed in bits 32-43).
    ///
    /// For a memory call `input` and `output` are guest physical addresses;
    /// for a fast call they are the two input registers.
    pub fn hypercall<P: Platform>(
        &mut self,
        p: &mut P,
        control: u64,
        input: u64,
        output: u64,
    ) -> u64 {
        self.calls = self.calls.wrapping_add(1);
        if self.fail_at != 0 && self.calls == self.fail_at {
            return result_value(self.fail_status, 0);
        }
        if !self.refuse_status.is_success() {
            return result_value(self.refuse_status, 0);
        }
        let (status, reps) = self.dispatch(p, Control::from_raw(control), Regs { input, output });
        result_value(status, reps)
    }

    /// Hypercalls seen so far, failed and injected ones included.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Fault injection while the group runs: the `n`-th call from now
    /// (1: the next) fails as [`Self::fail_at`] does; 0 disarms it.
    pub fn fail_in(&mut self, n: u64) {
        self.fail_at = if n == 0 {
            0
        } else {
            self.calls.wrapping_add(n)
        };
    }

    /// Calls until the armed failure, counting it (0: none armed).
    pub fn fails_in(&self) -> u64 {
        match self.fail_at {
            0 => 0,
            at => at.saturating_sub(self.calls),
        }
    }

    /// Buffers the group's writers and flushes completed since the group was
    /// initialized (a restarted buffer's every completion counts): what a
    /// consumer's records, read and dropped, must add up to.
    pub fn completions(&self) -> u64 {
        self.completions
    }

    /// Makes `buffer` serve `cpu`: the writer for `cpu` fills only buffers
    /// assigned to it, lowest free index first. Stands in for the
    /// hypervisor's own processor assignment; the shell calls it from the
    /// placement plan. Allowed before the buffer exists and kept across
    /// delete and finalize, but not while the buffer is in use or complete.
    pub fn set_affinity<P: Platform>(
        &mut self,
        p: &P,
        buffer: u32,
        cpu: u32,
    ) -> Result<(), AffinityError> {
        if cpu >= MAX_CPUS.min(p.cpu_count()) {
            return Err(AffinityError::BadCpu);
        }
        let b = self
            .buffers
            .get_mut(buffer as usize)
            .ok_or(AffinityError::BadBuffer)?;
        if b.exists && matches!(b.state, BufferState::InUse | BufferState::Complete) {
            return Err(AffinityError::Busy);
        }
        b.has_cpu = true;
        b.cpu = cpu;
        Ok(())
    }

    /// The CPU `buffer` serves, if it was assigned one.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn affinity(&self, buffer: u32) -> Option<u32> {
        let b = self.buffers.get(buffer as usize)?;
        b.has_cpu.then_some(b.cpu)
    }

    /// The next completed chain, if one reached the threshold or was
    /// flushed. The chain is the partition's from then on.
    pub fn take_notification(&mut self) -> Option<Notification> {
        let chain = self.outbox;
        if chain.count == 0 {
            return None;
        }
        self.retag(chain, Link::Unlinked);
        self.outbox = Chain::EMPTY;
        Some(Notification {
            log_type: self.group.log_type,
            first_buffer: chain.head,
            buffers: chain.count,
        })
    }

    /// Whether [`Self::take_notification`] has something.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn notification_pending(&self) -> bool {
        self.outbox.count != 0
    }

    /// Page counts of `node`'s pool (zero for a node without one).
    pub fn pool(&self, node: u32) -> PoolStats {
        pool_index(Some(node))
            .map(|n| PoolStats {
                free: self.pools[n].free,
                in_use: self.pools[n].in_use,
            })
            .unwrap_or_default()
    }

    /// Every page the simulator holds: free, in buffers and in bookkeeping.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn pages_held(&self) -> u64 {
        self.pools.iter().map(|pool| pool.free + pool.in_use).sum()
    }

    /// The state of buffer `index`, if it exists.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn buffer_state(&self, index: u32) -> Option<BufferState> {
        let b = self.buffers.get(index as usize)?;
        b.exists.then_some(b.state)
    }

    /// Whether a buffer group is initialized.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn group_active(&self) -> bool {
        self.group.active
    }

    /// Gives every page the simulator holds back to the platform, once each,
    /// and forgets everything (affinity, fault settings and the ledger
    /// included). Returns how many pool pages it gave back. Safe to call in
    /// any state, and again.
    pub fn teardown<P: Platform>(&mut self, p: &mut P) -> u64 {
        for index in 0..self.buffers.len() {
            if self.buffers[index].exists {
                self.return_pages(p, index);
            }
        }
        self.free_system_log(p);
        let mut freed = 0;
        for node in 0..MAX_NODES {
            while let Some(pfn) = self.pop(p, node) {
                p.free_page(pfn);
                freed += 1;
            }
        }
        self.reset();
        freed
    }

    /// Back to [`Self::new`], in place: the value is too large to build on
    /// a kernel stack.
    fn reset(&mut self) {
        self.fail_at = 0;
        self.fail_status = HvStatus::SUCCESS;
        self.refuse_status = HvStatus::SUCCESS;
        self.calls = 0;
        self.ledger = Ledger::EMPTY;
        self.end_group();
        self.pools.fill(Pool::EMPTY);
        self.buffers.fill(BufferSlot::EMPTY);
        self.synic.clear();
    }

    /// Checks the internal invariants, walking every free list: lengths match
    /// the counts, every pool page is on its pool's node, used pages match
    /// the buffers' charges, chains match their counts. For the host tests.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn audit<P: Platform>(&self, p: &mut P) -> Result<(), &'static str> {
        for (node, pool) in self.pools.iter().enumerate() {
            let mut pfn = pool.head;
            for _ in 0..pool.free {
                if pool_index(p.node_of_pfn(pfn)) != Some(node) {
                    return Err("free page on the wrong node");
                }
                pfn = p.load_u64(pfn, 0).ok_or("free page unknown")?;
            }
            let buffers = self
                .buffers
                .iter()
                .filter(|b| b.exists && b.node as usize == node)
                .count() as u64;
            if buffers != u64::from(pool.buffers) {
                return Err("domain buffer count");
            }
            let per_buffer = u64::from(self.group.buffer_pages + BOOKKEEPING_PAGES_PER_BUFFER);
            let domain = if buffers > 0 {
                u64::from(BOOKKEEPING_PAGES_PER_DOMAIN)
            } else {
                0
            };
            if pool.in_use != buffers * per_buffer + domain {
                return Err("pages in use do not match the charges");
            }
        }
        for (chain, tag) in [(self.pending, Link::Pending), (self.outbox, Link::Outbox)] {
            let members = self.buffers.iter().filter(|b| b.chain == tag).count();
            if members != chain.count as usize {
                return Err("chain count");
            }
        }
        Ok(())
    }
}
