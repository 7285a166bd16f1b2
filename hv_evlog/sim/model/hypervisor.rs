// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: hypercall decoding, event log state machine and
//! memory pool (pure, host-tested).
//!
//! CI has no Microsoft hypervisor, so hv_evlog can hand each hypercall's
//! `(control, input, output)` to [`Hypervisor::hypercall`] instead of the
//! kernel's trampoline. The module encodes every call exactly as for the real
//! hypervisor; this file decodes it with the same [`crate::tlfs`] definitions
//! and answers as the TLFS describes, so the module's hypercall path, its
//! error handling and its buffer consumer all run unchanged.
//!
//! Only `core` is used and there is no `unsafe`. Pages, time and the CPU
//! count come from a [`Platform`]: the kernel shell implements it over real
//! pages, the host tests over a `Vec`. Every entry point takes `&mut self`;
//! the shell serialises them with its lock and drives the synthetic event
//! writers (`writer.rs`) from its timers.
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

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use core::mem::offset_of;
use core::ops::Range;

use super::synic::Synic;
use super::system::SystemLog;
use crate::hv_evlog_numa::{BOOKKEEPING_PAGES_PER_BUFFER, BOOKKEEPING_PAGES_PER_DOMAIN};
use crate::policy::snapshot::STATE_OFFSET;
use crate::tlfs::{
    result_value, BufferHeader, BufferIdInput, BufferState, Control, CreateBufferInput,
    DepositMemoryInput, EventLogMode, EventLogType, FinalizeInput, FlushInput,
    GetMemoryBalanceInput, GetMemoryBalanceOutput, GetPartitionPropertyInput, HvCall, HvStatus,
    InitializeGroupInput, MapBufferInput, MapOutput, ProximityDomainInfo, SetSourcesInput,
    TimeBasis, UnmapBufferInput, Wire, WithdrawMemoryInput, END_OF_CHAIN, ENTRIES_OFFSET,
    ENTRY_ALIGN, HV_PARTITION_ID_SELF, MAP_MAX_PAGES, MAX_BUFFERS, MAX_BUFFER_PAGES, PAGE_SIZE,
    SOURCES_MAX_GROUPS,
};

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
pub const DEFAULT_POOL_PAGES_PER_NODE: u64 = 256;

// The simulator keeps exactly one page per buffer (the PFN list) and one per
// domain. If the plan's charges change, this file must change with them.
const _: () = assert!(BOOKKEEPING_PAGES_PER_BUFFER == 1);
const _: () = assert!(BOOKKEEPING_PAGES_PER_DOMAIN == 1);
// One PFN list page holds the largest buffer's page numbers.
const _: () = assert!(MAX_BUFFER_PAGES as usize * 8 == PAGE_SIZE);
// The CPU field of the header is 16 bits wide.
const _: () = assert!(MAX_CPUS <= 1 << u16::BITS);

const PAGE_SHIFT: u32 = 12;
const PAGE_OFFSET_MASK: u64 = PAGE_SIZE as u64 - 1;
const _: () = assert!(1 << PAGE_SHIFT == PAGE_SIZE);

/// Writes `header` to the start of page `pfn` in the order the partition's
/// readers rely on (`snapshot.rs`): every other field first, then
/// `buffer_state` with release semantics. Built aside and copied, never
/// zeroed in place, so a field that keeps its value is never seen changing.
pub(super) fn publish_header<P: Platform>(p: &mut P, pfn: u64, header: &BufferHeader) {
    let mut bytes = [0u8; ENTRIES_OFFSET];
    let _ = header.encode(&mut bytes);
    let state = STATE_OFFSET..STATE_OFFSET + 4;
    p.write(pfn, 0, &bytes[..state.start]);
    p.write(pfn, state.end, &bytes[state.end..]);
    p.store_release_u32(pfn, STATE_OFFSET, header.buffer_state);
}

/// Bytes of the initialize input between `time_basis` and `system_time`:
/// padding in the naturally aligned layout (must be zero), empty in the
/// packed one.
const INIT_PADDING: Range<usize> =
    offset_of!(InitializeGroupInput, time_basis) + 4..offset_of!(InitializeGroupInput, system_time);

/// What the simulator needs from its surroundings.
///
/// The kernel shell implements it over real pages on real nodes, the host
/// tests over a `Vec` of pages.
pub trait Platform {
    /// A zeroed page on `node`, as a PFN; `None` if the node has no memory
    /// left. Used only to seed the pool.
    fn alloc_page(&mut self, node: u32) -> Option<u64>;

    /// Takes back a page the simulator owned (seeded or deposited).
    fn free_page(&mut self, pfn: u64);

    /// The node a page belongs to; `None` for a PFN that is not memory.
    fn node_of_pfn(&self, pfn: u64) -> Option<u32>;

    /// The node of an ACPI proximity domain; `None` if there is none.
    fn node_of_pxm(&self, pxm: u32) -> Option<u32>;

    /// The contents of a page the caller of a hypercall handed over for
    /// that call, its input or output page (in the kernel: through the
    /// direct map); `None` for a PFN that is not memory. Only for those:
    /// the `Transport` contract keeps the caller off them during the call,
    /// so a reference is sound. Every page the simulator keeps (pool,
    /// bookkeeping, buffers, message pages) goes through [`Platform::read`]
    /// and [`Platform::write`] instead.
    fn call_page(&mut self, pfn: u64) -> Option<&mut [u8; PAGE_SIZE]>;

    /// Copies the bytes at `offset` of page `pfn` into `out`. For the pages
    /// the simulator keeps, which the partition may read (the device's
    /// scanner, a SINT0 handler, userspace through a mapping, also after a
    /// stop handed a buffer's pages back to the pool) while the simulator
    /// writes them: the kernel shell copies through raw pointers, byte by
    /// byte as `READ_ONCE` does, never through a reference. Returns
    /// `false`, copying nothing, for a PFN that is not memory or a range
    /// that leaves the page.
    fn read(&mut self, pfn: u64, offset: usize, out: &mut [u8]) -> bool;

    /// Stores `bytes` at `offset` of page `pfn` (as `WRITE_ONCE` does, byte
    /// by byte, in the kernel shell); as [`Platform::read`].
    fn write(&mut self, pfn: u64, offset: usize, bytes: &[u8]) -> bool;

    /// The little-endian `u64` at `offset` of page `pfn`, through
    /// [`Platform::read`]; `None` for a PFN that is not memory.
    fn load_u64(&mut self, pfn: u64, offset: usize) -> Option<u64> {
        let mut bytes = [0; 8];
        self.read(pfn, offset, &mut bytes)
            .then(|| u64::from_le_bytes(bytes))
    }

    /// Stores `value` little-endian at `offset` of page `pfn`, through
    /// [`Platform::write`].
    fn store_u64(&mut self, pfn: u64, offset: usize, value: u64) {
        self.write(pfn, offset, &value.to_le_bytes());
    }

    /// Stores `value` little-endian at the 4-byte aligned `offset` of page
    /// `pfn` with release semantics (`smp_store_release`): a reader that
    /// loads it with acquire semantics also sees every earlier store to the
    /// page. How a header's `buffer_state` is published; nothing is stored
    /// for a PFN that is not memory.
    fn store_release_u32(&mut self, pfn: u64, offset: usize, value: u32);

    /// Loads the little-endian `u32` at the 4-byte aligned `offset` of page
    /// `pfn` with acquire semantics: how the simulator reads a word the
    /// partition stores concurrently (a message slot's type). 0 for a PFN
    /// that is not memory.
    fn load_acquire_u32(&mut self, pfn: u64, offset: usize) -> u32;

    /// The current time in `basis`. Need not be strictly increasing; the
    /// writer makes entry timestamps so per CPU.
    fn now(&self, basis: TimeBasis) -> u64;

    /// Number of possible CPU ids (`nr_cpu_ids`); VP indices are below it.
    fn cpu_count(&self) -> u32;
}

/// Which list of completed buffers a buffer is on.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// None: never completed, or already handed to the partition.
    Unlinked = 0,
    /// Completed, below the threshold.
    Pending,
    /// Completed, waiting for [`Hypervisor::take_notification`].
    Outbox,
}

/// One buffer slot. Zero bytes are the empty slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Buffer {
    /// Whether the buffer is created.
    pub(super) exists: bool,
    /// Its state; meaningful only when it exists.
    pub(super) state: BufferState,
    /// Pool (node) its pages came from.
    pub(super) node: u8,
    /// Whether `cpu` is set. Affinity outlives the buffer: it is the shell's
    /// configuration, not buffer state.
    pub(super) has_cpu: bool,
    /// The CPU the buffer serves.
    pub(super) cpu: u32,
    /// Completion list membership.
    pub(super) chain: Link,
    /// Whether `next` is set (header `next_buffer_index`).
    pub(super) has_next: bool,
    /// Next buffer in its completion chain.
    pub(super) next: u32,
    /// PFN of the page listing the buffer's page PFNs.
    pub(super) bookkeeping: u64,
    /// Header `next_buffer_offset`: entry bytes written after the header
    /// (the aligned end of the last entry, counted from the end of the
    /// header); 0 until started.
    pub(super) used: u32,
    /// Entries written since the buffer was started.
    pub(super) entries: u32,
    /// Header `events_lost`.
    pub(super) events_lost: u32,
    /// Header `time_stamp`: the first entry's.
    pub(super) time_stamp: u64,
    /// Completion order, to find the oldest complete buffer.
    pub(super) completed: u64,
}

impl Buffer {
    const EMPTY: Self = Self {
        exists: false,
        state: BufferState::Standby,
        node: 0,
        has_cpu: false,
        cpu: 0,
        chain: Link::Unlinked,
        has_next: false,
        next: 0,
        bookkeeping: 0,
        used: 0,
        entries: 0,
        events_lost: 0,
        time_stamp: 0,
        completed: 0,
    };

    /// Whether the buffer exists, serves `cpu` and is in `state`.
    pub(super) fn is(&self, cpu: u32, state: BufferState) -> bool {
        self.exists && self.has_cpu && self.cpu == cpu && self.state == state
    }

    /// Forgets the contents, as when a buffer is released or unmapped.
    pub(super) fn clear_contents(&mut self) {
        self.used = 0;
        self.entries = 0;
        self.events_lost = 0;
        self.time_stamp = 0;
        self.has_next = false;
        self.next = 0;
    }
}

/// Per-CPU writer state. Zero bytes are a fresh CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cpu {
    /// Entry context of the next event: counts every event offered on this
    /// CPU, lost ones included, so gaps show losses.
    pub(super) seq: u32,
    /// Events lost since the CPU's last buffer was started.
    pub(super) pending_lost: u32,
    /// Timestamp of the CPU's last entry.
    pub(super) last_ts: u64,
}

impl Cpu {
    const EMPTY: Self = Self {
        seq: 0,
        pending_lost: 0,
        last_ts: 0,
    };
}

/// One node's pool. Zero bytes are an empty pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pool {
    /// First free page; meaningful only when `free > 0`.
    head: u64,
    /// Pages on the free list.
    free: u64,
    /// Pages taken for buffers and bookkeeping.
    in_use: u64,
    /// The domain's bookkeeping page; meaningful only when `buffers > 0`.
    domain_page: u64,
    /// Buffers charged to this node.
    buffers: u32,
}

impl Pool {
    const EMPTY: Self = Self {
        head: 0,
        free: 0,
        in_use: 0,
        domain_page: 0,
        buffers: 0,
    };
}

/// A list of completed buffers, linked through [`Buffer::next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Chain {
    head: u32,
    tail: u32,
    count: u32,
}

impl Chain {
    const EMPTY: Self = Self {
        head: 0,
        tail: 0,
        count: 0,
    };
}

/// The buffer group. Zero bytes are "no group".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Group {
    pub(super) active: bool,
    pub(super) log_type: EventLogType,
    pub(super) mode: EventLogMode,
    pub(super) time_basis: TimeBasis,
    pub(super) max_buffers: u32,
    pub(super) buffer_pages: u32,
    pub(super) threshold: u32,
    pub(super) sources: u64,
}

impl Group {
    const EMPTY: Self = Self {
        active: false,
        log_type: EventLogType::GlobalSystemEvents,
        mode: EventLogMode::Regular,
        time_basis: TimeBasis::Reference,
        max_buffers: 0,
        buffer_pages: 0,
        threshold: 0,
        sources: 0,
    };

    /// Validates an initialize input; `padding_clear` says whether its
    /// padding bytes are zero.
    fn from_input(input: &InitializeGroupInput, padding_clear: bool) -> Result<Self, HvStatus> {
        let bad = HvStatus::INVALID_PARAMETER;
        let log_type = EventLogType::from_raw(u32::from(input.log_type)).ok_or(bad)?;
        let mode = EventLogMode::from_raw(u32::from(input.mode)).ok_or(bad)?;
        let time_basis = TimeBasis::from_raw(input.time_basis).ok_or(bad)?;
        let max_buffers = input.max_buffer_count;
        let bytes = input.buffer_size_in_bytes;
        let buffer_pages = bytes >> PAGE_SHIFT;
        let threshold = input.threshold;
        let valid = (1..=MAX_BUFFERS).contains(&max_buffers)
            && u64::from(bytes) & PAGE_OFFSET_MASK == 0
            && (1..=MAX_BUFFER_PAGES).contains(&buffer_pages)
            && (1..=max_buffers).contains(&threshold)
            && padding_clear;
        if !valid {
            return Err(bad);
        }
        Ok(Self {
            active: true,
            log_type,
            mode,
            time_basis,
            max_buffers,
            buffer_pages,
            threshold,
            sources: 0,
        })
    }

    /// Bytes of each buffer, header included.
    pub(super) fn buffer_bytes(&self) -> usize {
        (self.buffer_pages as usize) << PAGE_SHIFT
    }
}

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

/// The two hypercall operands after the control word: input and output
/// addresses, or for a fast call the two input registers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Regs {
    pub(super) input: u64,
    pub(super) output: u64,
}

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
    /// When not SUCCESS, every call fails with it, e.g. ACCESS_DENIED for an
    /// ordinary guest or INVALID_HYPERCALL_CODE for KVM's emulation.
    pub refuse_status: HvStatus,
    calls: u64,
    completions: u64,
    ledger: Ledger,
    pub(super) group: Group,
    pending: Chain,
    outbox: Chain,
    pools: [Pool; MAX_NODES],
    pub(super) buffers: [Buffer; MAX_BUFFERS as usize],
    pub(super) cpus: [Cpu; MAX_CPUS as usize],
    pub(super) synic: Synic,
    /// The hypervisor's own system-diagnostics log (`system.rs`).
    pub(super) system: SystemLog,
}

impl Default for Hypervisor {
    fn default() -> Self {
        Self::new()
    }
}

/// The pool index of a node id, if the simulator keeps a pool for it.
fn pool_index(node: Option<u32>) -> Option<usize> {
    node.map(|n| n as usize).filter(|&n| n < MAX_NODES)
}

/// The `len` bytes at guest physical address `gpa`, which must be 8-byte
/// aligned and not cross its page.
pub(super) fn block<P: Platform>(p: &mut P, gpa: u64, len: usize) -> Result<&mut [u8], HvStatus> {
    if gpa & (ENTRY_ALIGN as u64 - 1) != 0 {
        return Err(HvStatus::INVALID_ALIGNMENT);
    }
    let start = (gpa & PAGE_OFFSET_MASK) as usize;
    let end = start
        .checked_add(len)
        .filter(|&end| end <= PAGE_SIZE)
        .ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
    let page = p
        .call_page(gpa >> PAGE_SHIFT)
        .ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
    Ok(&mut page[start..end])
}

/// Decodes a call's input from its registers or its input page.
pub(super) fn read_input<T: Wire, P: Platform>(
    p: &mut P,
    control: Control,
    regs: Regs,
) -> Result<T, HvStatus> {
    let decoded = if control.is_fast() {
        T::from_fast_input([regs.input, regs.output])
    } else {
        T::decode(block(p, regs.input, T::SIZE)?)
    };
    decoded.ok_or(HvStatus::INVALID_HYPERCALL_INPUT)
}

/// The call a control word names, if the word is well formed for it.
fn decode_control(control: Control) -> Result<HvCall, HvStatus> {
    let call = control.call().ok_or(HvStatus::INVALID_HYPERCALL_CODE)?;
    let reps = control.rep_count() != 0 || control.rep_start() != 0;
    let malformed = !control.reserved_bits_clear()
        || control.var_header_size() != 0
        || (control.is_fast() && !call.fast_capable())
        || (reps && !call.is_rep());
    if malformed {
        return Err(HvStatus::INVALID_HYPERCALL_INPUT);
    }
    Ok(call)
}

pub(super) fn read_u64(page: &[u8], offset: usize) -> u64 {
    let mut bytes = [0; 8];
    if let Some(src) = page.get(offset..offset + 8) {
        bytes.copy_from_slice(src);
    }
    u64::from_le_bytes(bytes)
}

fn zero_page<P: Platform>(p: &mut P, pfn: u64) {
    const ZEROS: [u8; 256] = [0; 256];
    for k in 0..PAGE_SIZE / ZEROS.len() {
        p.write(pfn, k * ZEROS.len(), &ZEROS);
    }
}

/// Writes `byte(i)` to byte `range.start + i` of a run of pages, page `k`
/// of which is `pfn(p, k)` (a buffer's pages need not be contiguous),
/// through [`Platform::write`] in small pieces.
pub(super) fn fill_pages<P: Platform>(
    p: &mut P,
    pfn: impl Fn(&mut P, usize) -> Option<u64>,
    range: Range<usize>,
    byte: impl Fn(usize) -> u8,
) {
    let mut chunk = [0u8; 64];
    let mut pos = range.start;
    while pos < range.end {
        let in_page = pos % PAGE_SIZE;
        let len = (PAGE_SIZE - in_page).min(range.end - pos).min(chunk.len());
        for (i, b) in chunk[..len].iter_mut().enumerate() {
            *b = byte(pos - range.start + i);
        }
        if let Some(pfn) = pfn(p, pos / PAGE_SIZE) {
            p.write(pfn, in_page, &chunk[..len]);
        }
        pos += len;
    }
}

/// Maps a handler result to the result's status and reps.
fn status_of(result: Result<(), HvStatus>) -> (HvStatus, u16) {
    match result {
        Ok(()) => (HvStatus::SUCCESS, 0),
        Err(status) => (status, 0),
    }
}

impl Hypervisor {
    /// A simulator with empty pools and no group.
    pub const fn new() -> Self {
        Self {
            fail_at: 0,
            fail_status: HvStatus::SUCCESS,
            refuse_status: HvStatus::SUCCESS,
            calls: 0,
            completions: 0,
            ledger: Ledger::EMPTY,
            group: Group::EMPTY,
            pending: Chain::EMPTY,
            outbox: Chain::EMPTY,
            pools: [Pool::EMPTY; MAX_NODES],
            buffers: [Buffer::EMPTY; MAX_BUFFERS as usize],
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
    pub fn calls(&self) -> u64 {
        self.calls
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
    pub fn pages_held(&self) -> u64 {
        self.pools.iter().map(|pool| pool.free + pool.in_use).sum()
    }

    /// The state of buffer `index`, if it exists.
    pub fn buffer_state(&self, index: u32) -> Option<BufferState> {
        let b = self.buffers.get(index as usize)?;
        b.exists.then_some(b.state)
    }

    /// Whether a buffer group is initialized.
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
        self.buffers.fill(Buffer::EMPTY);
        self.synic.clear();
    }

    /// Checks the internal invariants, walking every free list: lengths match
    /// the counts, every pool page is on its pool's node, used pages match
    /// the buffers' charges, chains match their counts. For the host tests.
    #[allow(dead_code)] // Used by the host tests only.
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

    // -----------------------------------------------------------------------
    // Dispatch
    // -----------------------------------------------------------------------

    fn dispatch<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> (HvStatus, u16) {
        let call = match decode_control(control) {
            Ok(call) => call,
            Err(status) => return (status, 0),
        };
        if let Some(result) = self.system_log_call(p, call, control, regs) {
            return status_of(result);
        }
        let result = match call {
            HvCall::DepositMemory => return self.deposit(p, control, regs.input),
            HvCall::WithdrawMemory => return self.withdraw(p, control, regs),
            HvCall::GetMemoryBalance => self.balance(p, control, regs),
            HvCall::GetPartitionProperty => property(p, control, regs),
            HvCall::GetSystemProperty => self.system_property(p, control, regs),
            HvCall::InitializeEventLogBufferGroup => self.initialize(p, regs.input),
            HvCall::FinalizeEventLogBufferGroup => {
                read_input(p, control, regs).and_then(|input| self.finalize(input))
            }
            HvCall::CreateEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.create(p, input))
            }
            HvCall::DeleteEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.delete(p, input))
            }
            HvCall::MapEventLogBuffer => self.map(p, control, regs),
            HvCall::UnmapEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.unmap(p, input))
            }
            HvCall::SetEventLogGroupSources => {
                read_input(p, control, regs).and_then(|input| self.set_sources(input))
            }
            HvCall::ReleaseEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.release(p, input))
            }
            HvCall::FlushEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.flush(p, input))
            }
        };
        status_of(result)
    }

    // -----------------------------------------------------------------------
    // Group and buffer calls
    // -----------------------------------------------------------------------

    fn initialize<P: Platform>(&mut self, p: &mut P, gpa: u64) -> Result<(), HvStatus> {
        let raw = block(p, gpa, InitializeGroupInput::SIZE)?;
        let padding_clear = raw
            .get(INIT_PADDING)
            .is_some_and(|pad| pad.iter().all(|&b| b == 0));
        let input = InitializeGroupInput::decode(raw).ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
        if self.group.active {
            return Err(HvStatus::INVALID_PARTITION_STATE);
        }
        self.group = Group::from_input(&input, padding_clear)?;
        Ok(())
    }

    fn finalize(&mut self, input: FinalizeInput) -> Result<(), HvStatus> {
        self.check_type(input.log_type)?;
        if input.reserved != 0 {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        if self.group.sources != 0 || self.buffers.iter().any(|b| b.exists) {
            return Err(HvStatus::OPERATION_DENIED);
        }
        self.end_group();
        Ok(())
    }

    /// Forgets the group and the writers' state; affinity stays.
    fn end_group(&mut self) {
        self.synic.forget_messages();
        self.group = Group::EMPTY;
        self.pending = Chain::EMPTY;
        self.outbox = Chain::EMPTY;
        self.completions = 0;
        self.cpus.fill(Cpu::EMPTY);
    }

    fn create<P: Platform>(&mut self, p: &mut P, input: CreateBufferInput) -> Result<(), HvStatus> {
        self.check_type(input.log_type)?;
        let index = self.check_index(input.buffer_index)?;
        if self.buffers[index].exists {
            return Err(HvStatus::OBJECT_IN_USE);
        }
        let node = self.placement(p, input.proximity)?;
        self.charge(p, node, index);
        Ok(())
    }

    fn delete<P: Platform>(&mut self, p: &mut P, input: BufferIdInput) -> Result<(), HvStatus> {
        let index = self.existing(input)?;
        if self.buffers[index].state != BufferState::Standby {
            return Err(HvStatus::OBJECT_IN_USE);
        }
        self.return_pages(p, index);
        Ok(())
    }

    fn map<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> Result<(), HvStatus> {
        let index = self.mapped_by(read_input(p, control, regs)?)?;
        if self.buffers[index].state != BufferState::Standby {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        // Refuse a bad output page before anything changes.
        block(p, regs.output, MapOutput::SIZE)?;
        let pages = self.group.buffer_pages as usize;
        for k in 0..MAP_MAX_PAGES {
            let pfn = if k < pages {
                self.pfn_of(p, index, k).unwrap_or(0)
            } else {
                0
            };
            if let Ok(out) = block(p, regs.output, MapOutput::SIZE) {
                let _ = MapOutput::set_page_number(out, k, pfn);
            }
        }
        self.set_state(p, index, BufferState::Free);
        Ok(())
    }

    fn unmap<P: Platform>(&mut self, p: &mut P, input: UnmapBufferInput) -> Result<(), HvStatus> {
        let index = self.mapped_by(input)?;
        match self.buffers[index].state {
            BufferState::Free | BufferState::Ready => {
                self.buffers[index].clear_contents();
                self.set_state(p, index, BufferState::Standby);
                Ok(())
            }
            BufferState::InUse | BufferState::Complete => Err(HvStatus::OBJECT_IN_USE),
            BufferState::Standby => Err(HvStatus::INVALID_PARAMETER),
        }
    }

    fn release<P: Platform>(&mut self, p: &mut P, input: BufferIdInput) -> Result<(), HvStatus> {
        let index = self.existing(input)?;
        if self.buffers[index].state != BufferState::Complete {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        self.unlink(p, index);
        self.buffers[index].clear_contents();
        self.set_state(p, index, BufferState::Ready);
        Ok(())
    }

    /// Legacy form only: no event groups, and the flags are a group mask
    /// whose bit 0 ("extended") is clear (reference file, "Input layouts").
    /// Group bits the simulator has no name for are accepted, as a
    /// hypervisor that knows more groups than hv_evlog would.
    fn set_sources(&mut self, input: SetSourcesInput) -> Result<(), HvStatus> {
        self.check_type(input.log_type)?;
        if input.group_count as usize > SOURCES_MAX_GROUPS || !input.is_legacy() {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        self.group.sources = input.configuration_flags;
        Ok(())
    }

    /// Completes in-use buffer `buffer_index` and delivers the pending chain
    /// whatever the threshold: a flush asks for the data now. For the
    /// statuses see "Statuses" above.
    fn flush<P: Platform>(&mut self, p: &mut P, input: FlushInput) -> Result<(), HvStatus> {
        let index = self.existing(BufferIdInput {
            log_type: input.log_type,
            buffer_index: input.buffer_index,
        })?;
        if self.buffers[index].state != BufferState::InUse {
            return Err(HvStatus::OPERATION_DENIED);
        }
        self.complete(p, index);
        self.deliver(p);
        Ok(())
    }

    /// The group must exist and have type `raw`.
    fn check_type(&self, raw: u32) -> Result<(), HvStatus> {
        if !self.group.active {
            return Err(HvStatus::INVALID_PARTITION_STATE);
        }
        if raw != self.group.log_type.raw() {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(())
    }

    /// The slot of a buffer index below the group maximum.
    fn check_index(&self, index: u32) -> Result<usize, HvStatus> {
        if index >= self.group.max_buffers {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(index as usize)
    }

    /// The slot of an existing buffer that a map or unmap input names, in
    /// the calling partition.
    fn mapped_by(&self, input: MapBufferInput) -> Result<usize, HvStatus> {
        self.check_type(input.log_type)?;
        if input.partition_id != HV_PARTITION_ID_SELF {
            return Err(HvStatus::INVALID_PARTITION_ID);
        }
        self.existing(BufferIdInput {
            log_type: input.log_type,
            buffer_index: input.buffer_index,
        })
    }

    /// The slot of an existing buffer of the group.
    fn existing(&self, input: BufferIdInput) -> Result<usize, HvStatus> {
        self.check_type(input.log_type)?;
        let index = self.check_index(input.buffer_index)?;
        if !self.buffers[index].exists {
            return Err(HvStatus::INVALID_PARAMETER);
        }
        Ok(index)
    }

    // -----------------------------------------------------------------------
    // Pool calls
    // -----------------------------------------------------------------------

    /// HvCallDepositMemory; returns the status and the reps done in total.
    fn deposit<P: Platform>(&mut self, p: &mut P, control: Control, gpa: u64) -> (HvStatus, u16) {
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
    fn withdraw<P: Platform>(
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
    fn balance<P: Platform>(
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

    /// The pool a new buffer is charged to; see "Charges" above.
    fn placement<P: Platform>(
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
    fn charge<P: Platform>(&mut self, p: &mut P, node: usize, index: usize) {
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
        *b = Buffer {
            exists: true,
            node: node as u8,
            bookkeeping,
            has_cpu: b.has_cpu,
            cpu: b.cpu,
            ..Buffer::EMPTY
        };
        self.sync_header(p, index);
    }

    /// Gives a buffer's pages back to its pool and empties its slot.
    fn return_pages<P: Platform>(&mut self, p: &mut P, index: usize) {
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
        self.buffers[index] = Buffer {
            has_cpu: b.has_cpu,
            cpu: b.cpu,
            ..Buffer::EMPTY
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

    fn push<P: Platform>(&mut self, p: &mut P, node: usize, pfn: u64) {
        let pool = &mut self.pools[node];
        p.store_u64(pfn, 0, pool.head);
        pool.head = pfn;
        pool.free += 1;
    }

    fn pop<P: Platform>(&mut self, p: &mut P, node: usize) -> Option<u64> {
        let pool = &mut self.pools[node];
        if pool.free == 0 {
            return None;
        }
        let pfn = pool.head;
        pool.head = p.load_u64(pfn, 0).unwrap_or(0);
        pool.free -= 1;
        Some(pfn)
    }

    // -----------------------------------------------------------------------
    // Buffer contents, shared with the writer
    // -----------------------------------------------------------------------

    /// PFN of page `k` of buffer `index`, from its bookkeeping page.
    pub(super) fn pfn_of<P: Platform>(&self, p: &mut P, index: usize, k: usize) -> Option<u64> {
        if k >= self.group.buffer_pages as usize {
            return None;
        }
        p.load_u64(self.buffers[index].bookkeeping, k * 8)
    }

    pub(super) fn set_state<P: Platform>(&mut self, p: &mut P, index: usize, state: BufferState) {
        self.buffers[index].state = state;
        self.sync_header(p, index);
    }

    /// Rewrites buffer `index`'s header from its slot, in the order the
    /// partition's readers rely on (`snapshot.rs`): every other field first,
    /// then `buffer_state` with release semantics. The header is built
    /// aside and copied, never zeroed in place, so a field that keeps its
    /// value is never seen changing.
    pub(super) fn sync_header<P: Platform>(&self, p: &mut P, index: usize) {
        let b = &self.buffers[index];
        let header = BufferHeader {
            buffer_size: (self.group.buffer_bytes() - ENTRIES_OFFSET) as u32,
            buffer_index: index as u32,
            events_lost: b.events_lost,
            time_stamp: b.time_stamp,
            // MAX_CPUS keeps the CPU within 16 bits.
            logical_processor: if b.has_cpu { b.cpu as u16 } else { 0 },
            buffer_state: b.state.raw(),
            next_buffer_offset: b.used,
            log_type: self.group.log_type.raw(),
            next_buffer_index: if b.has_next { b.next } else { END_OF_CHAIN },
            ..BufferHeader::default()
        };
        if let Some(pfn) = self.pfn_of(p, index, 0) {
            publish_header(p, pfn, &header);
        }
    }

    // -----------------------------------------------------------------------
    // Completion chains
    // -----------------------------------------------------------------------

    /// Appends a just completed buffer to the pending chain.
    pub(super) fn enqueue<P: Platform>(&mut self, p: &mut P, index: usize) {
        self.completions = self.completions.wrapping_add(1);
        let b = &mut self.buffers[index];
        b.completed = self.completions;
        b.chain = Link::Pending;
        b.has_next = false;
        let chain = self.pending;
        if chain.count == 0 {
            self.pending.head = index as u32;
        } else {
            self.link_after(p, chain.tail as usize, index as u32);
        }
        self.pending.tail = index as u32;
        self.pending.count += 1;
    }

    /// Whether the pending chain has reached the group threshold.
    pub(super) fn threshold_reached(&self) -> bool {
        self.pending.count >= self.group.threshold
    }

    /// Moves the pending chain to the end of the outbox; returns whether
    /// there was one.
    pub(super) fn deliver<P: Platform>(&mut self, p: &mut P) -> bool {
        let chain = self.pending;
        if chain.count == 0 {
            return false;
        }
        self.retag(chain, Link::Outbox);
        if self.outbox.count == 0 {
            self.outbox = chain;
        } else {
            self.link_after(p, self.outbox.tail as usize, chain.head);
            self.outbox.tail = chain.tail;
            self.outbox.count += chain.count;
        }
        self.pending = Chain::EMPTY;
        true
    }

    /// Takes buffer `index` off whichever chain holds it, as when it is
    /// released or recycled before the partition was told about it.
    pub(super) fn unlink<P: Platform>(&mut self, p: &mut P, index: usize) {
        let tag = self.buffers[index].chain;
        let mut chain = match tag {
            Link::Unlinked => return,
            Link::Pending => self.pending,
            Link::Outbox => self.outbox,
        };
        let Some(prev) = self.predecessor(chain, index) else {
            return;
        };
        let b = self.buffers[index];
        match prev {
            None if b.has_next => chain.head = b.next,
            None => {}
            Some(prev) => {
                self.buffers[prev].has_next = b.has_next;
                self.buffers[prev].next = b.next;
                self.sync_header(p, prev);
            }
        }
        if chain.tail as usize == index {
            chain.tail = prev.unwrap_or(0) as u32;
        }
        chain.count -= 1;
        match tag {
            Link::Pending => self.pending = chain,
            _ => self.outbox = chain,
        }
        let b = &mut self.buffers[index];
        b.chain = Link::Unlinked;
        b.has_next = false;
    }

    /// Where `index` sits in `chain`: `Some(None)` at the head,
    /// `Some(Some(prev))` after `prev`, `None` if it is not there.
    fn predecessor(&self, chain: Chain, index: usize) -> Option<Option<usize>> {
        let mut prev = None;
        let mut cur = chain.head as usize;
        for _ in 0..chain.count {
            if cur == index {
                return Some(prev);
            }
            let b = self.buffers.get(cur)?;
            if !b.has_next {
                return None;
            }
            prev = Some(cur);
            cur = b.next as usize;
        }
        None
    }

    /// Links `next` after the buffer `tail` and publishes it in the header.
    fn link_after<P: Platform>(&mut self, p: &mut P, tail: usize, next: u32) {
        if let Some(b) = self.buffers.get_mut(tail) {
            b.has_next = true;
            b.next = next;
            self.sync_header(p, tail);
        }
    }

    /// Marks every buffer of `chain` as being on list `tag`.
    fn retag(&mut self, chain: Chain, tag: Link) {
        let mut cur = chain.head as usize;
        for _ in 0..chain.count {
            let Some(b) = self.buffers.get_mut(cur) else {
                return;
            };
            b.chain = tag;
            if !b.has_next {
                return;
            }
            cur = b.next as usize;
        }
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

/// HvCallGetPartitionProperty: validated, but the simulator has no
/// properties.
fn property<P: Platform>(p: &mut P, control: Control, regs: Regs) -> Result<(), HvStatus> {
    let input: GetPartitionPropertyInput = read_input(p, control, regs)?;
    if input.partition_id != HV_PARTITION_ID_SELF {
        return Err(HvStatus::INVALID_PARTITION_ID);
    }
    Err(HvStatus::UNKNOWN_PROPERTY)
}
