// SPDX-License-Identifier: GPL-2.0

//! Host tests of the simulated hypervisor (hv_evlog/sim/hypervisor.rs and
//! writer.rs).
//!
//! Every call goes through the real ABI: inputs encoded with the tlfs
//! definitions into an input page, control words built with `Control`,
//! results decoded with `result_status`/`result_reps`, buffers read through
//! the PFNs the map call returned. The fake platform owns every page; it
//! panics on a double free, on a free of a page it never handed out and on
//! any access to a page nobody owns, and the tests check it holds nothing
//! after teardown.

use hv_evlog_host_tests::numa::{self, plan, BufferPlacement, Node, NodeFilter, Request, Topology};
use hv_evlog_host_tests::sim::hypervisor::*;
use hv_evlog_host_tests::sim::machine::*;
use hv_evlog_host_tests::sim::synic::*;
use hv_evlog_host_tests::sim::system::{SystemLogError, SYSTEM_ENTRY_TYPE};
use hv_evlog_host_tests::sim::writer::*;
use hv_evlog_host_tests::tlfs::*;
use proptest::prelude::*;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------
// Fake platform
// ---------------------------------------------------------------------------

/// First PFN of node 0; not 0, so that a PFN of 0 is never a real page.
const BASE_PFN: u64 = 0x100;
/// PFNs reserved per node: node `n` owns `BASE_PFN + n * NODE_SPAN ..`.
const NODE_SPAN: u64 = 0x10_0000;

/// Pages on nodes given as `(capacity, pxm)`; a capacity of 0 is a
/// memoryless node. Freed pages are never handed out again, so a stale PFN
/// can never alias a live page.
struct Fake {
    nodes: Vec<(u64, u32)>,
    fresh: Vec<u64>,
    live: BTreeMap<u64, Box<[u8; PAGE_SIZE]>>,
    clock: Cell<u64>,
    step: u64,
    cpus: u32,
    /// Every `store_release_u32`: the page's header bytes just before it,
    /// and the value stored.
    published: Vec<([u8; ENTRIES_OFFSET], u32)>,
}

impl Fake {
    fn new(nodes: &[(u64, u32)], cpus: u32) -> Self {
        Self {
            nodes: nodes.to_vec(),
            fresh: vec![0; nodes.len()],
            live: BTreeMap::new(),
            clock: Cell::new(1000),
            step: 10,
            cpus,
            published: Vec::new(),
        }
    }

    fn node_range(&self, node: usize) -> std::ops::Range<u64> {
        let start = BASE_PFN + node as u64 * NODE_SPAN;
        start..start + self.nodes[node].0
    }

    fn mem(&mut self, pfn: u64) -> &mut [u8; PAGE_SIZE] {
        self.live
            .get_mut(&pfn)
            .unwrap_or_else(|| panic!("page {pfn:#x} is not allocated"))
    }
}

impl Platform for Fake {
    fn alloc_page(&mut self, node: u32) -> Option<u64> {
        let n = node as usize;
        if n >= self.nodes.len() || self.fresh[n] >= self.nodes[n].0 {
            return None;
        }
        let pfn = self.node_range(n).start + self.fresh[n];
        self.fresh[n] += 1;
        self.live.insert(pfn, Box::new([0; PAGE_SIZE]));
        Some(pfn)
    }

    fn free_page(&mut self, pfn: u64) {
        assert!(
            self.live.remove(&pfn).is_some(),
            "free of page {pfn:#x}, which is not allocated (double free?)"
        );
    }

    fn node_of_pfn(&self, pfn: u64) -> Option<u32> {
        (0..self.nodes.len())
            .find(|&n| self.node_range(n).contains(&pfn))
            .map(|n| n as u32)
    }

    fn node_of_pxm(&self, pxm: u32) -> Option<u32> {
        self.nodes
            .iter()
            .position(|&(_, p)| p == pxm)
            .map(|n| n as u32)
    }

    fn call_page(&mut self, pfn: u64) -> Option<&mut [u8; PAGE_SIZE]> {
        // Memory nobody owns must never be touched; a PFN outside every node
        // is "not memory", which the simulator must handle.
        self.node_of_pfn(pfn)?;
        Some(self.mem(pfn))
    }

    fn read(&mut self, pfn: u64, offset: usize, out: &mut [u8]) -> bool {
        if self.node_of_pfn(pfn).is_none() || offset + out.len() > PAGE_SIZE {
            return false;
        }
        out.copy_from_slice(&self.mem(pfn)[offset..offset + out.len()]);
        true
    }

    fn write(&mut self, pfn: u64, offset: usize, bytes: &[u8]) -> bool {
        if self.node_of_pfn(pfn).is_none() || offset + bytes.len() > PAGE_SIZE {
            return false;
        }
        self.mem(pfn)[offset..offset + bytes.len()].copy_from_slice(bytes);
        true
    }

    fn store_release_u32(&mut self, pfn: u64, offset: usize, value: u32) {
        assert!(
            offset.is_multiple_of(4),
            "unaligned release store at {offset}"
        );
        self.node_of_pfn(pfn)
            .expect("release store to a page that is not memory");
        let page = self.mem(pfn);
        let before: [u8; ENTRIES_OFFSET] = page[..ENTRIES_OFFSET].try_into().unwrap();
        page[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        self.published.push((before, value));
    }

    fn load_acquire_u32(&mut self, pfn: u64, offset: usize) -> u32 {
        assert!(
            offset.is_multiple_of(4),
            "unaligned acquire load at {offset}"
        );
        let page = self.mem(pfn);
        u32::from_le_bytes(page[offset..offset + 4].try_into().unwrap())
    }

    fn now(&self, _basis: TimeBasis) -> u64 {
        let t = self.clock.get();
        self.clock.set(t + self.step);
        t
    }

    fn cpu_count(&self) -> u32 {
        self.cpus
    }
}

// ---------------------------------------------------------------------------
// Test rig: a simulator, its platform and an input and an output page
// ---------------------------------------------------------------------------

const LT: EventLogType = EventLogType::LocalDiagnostics;
const PXM0: u32 = 100;
const PXM1: u32 = 101;

struct Rig {
    hv: Box<Hypervisor>,
    p: Fake,
    input: u64,
    output: u64,
    mapped: BTreeMap<u32, Vec<u64>>,
}

/// A group geometry.
#[derive(Clone, Copy)]
struct Geo {
    log_type: EventLogType,
    mode: EventLogMode,
    max: u32,
    pages: u32,
    threshold: u32,
}

const GEO: Geo = Geo {
    log_type: LT,
    mode: EventLogMode::Regular,
    max: 16,
    pages: 1,
    threshold: 1,
};

impl Rig {
    /// Nodes as `(capacity, pxm)`, each memory node's pool seeded with `seed`
    /// pages.
    fn new(nodes: &[(u64, u32)], seed: u64) -> Self {
        let mut p = Fake::new(nodes, 4);
        let input = p.alloc_page(0).unwrap();
        let output = p.alloc_page(0).unwrap();
        let mut hv = Box::new(Hypervisor::new());
        for node in 0..nodes.len() as u32 {
            let want = if nodes[node as usize].0 == 0 { 0 } else { seed };
            assert_eq!(hv.seed_pool(&mut p, node, seed), want);
        }
        Self {
            hv,
            p,
            input,
            output,
            mapped: BTreeMap::new(),
        }
    }

    /// Two memory nodes of plenty, pools of 64 pages.
    fn two() -> Self {
        Self::new(&[(4096, PXM0), (4096, PXM1)], 64)
    }

    /// Two nodes, a group of `geo`, sources on, buffers `0..n` created on
    /// node 0, mapped and assigned to CPU 0.
    fn logging(geo: Geo, n: u32) -> Self {
        let mut r = Self::two();
        r.init_ok(geo);
        for i in 0..n {
            r.assign(i, 0);
            r.create_mapped(i, ProximityDomainInfo::node(PXM0));
        }
        assert_eq!(r.sources(SOURCE_HC), HvStatus::SUCCESS);
        r
    }

    fn raw(&mut self, control: u64, input: u64, output: u64) -> u64 {
        self.hv.hypercall(&mut self.p, control, input, output)
    }

    fn gpa(pfn: u64) -> u64 {
        pfn << 12
    }

    /// A memory call with `input` encoded in the input page.
    fn mem<T: Wire>(&mut self, call: HvCall, input: &T) -> HvStatus {
        let (i, o) = (self.input, self.output);
        input.encode(self.p.mem(i)).unwrap();
        result_status(self.raw(Control::new(call).raw(), Self::gpa(i), Self::gpa(o)))
    }

    /// A fast call with `input` in the registers.
    fn fast<T: Wire>(&mut self, call: HvCall, input: &T) -> HvStatus {
        let [a, b] = input.fast_input().unwrap();
        result_status(self.raw(Control::fast_call(call).raw(), a, b))
    }

    fn init(&mut self, g: Geo) -> HvStatus {
        let input = InitializeGroupInput::new(
            g.log_type,
            g.mode,
            g.max,
            g.pages,
            g.threshold,
            TimeBasis::Reference,
            0,
        );
        self.mem(HvCall::InitializeEventLogBufferGroup, &input)
    }

    fn init_ok(&mut self, g: Geo) {
        assert_eq!(self.init(g), HvStatus::SUCCESS);
    }

    fn create(&mut self, index: u32, prox: ProximityDomainInfo) -> HvStatus {
        self.fast(
            HvCall::CreateEventLogBuffer,
            &CreateBufferInput::new(LT, index, prox),
        )
    }

    fn id(index: u32) -> BufferIdInput {
        BufferIdInput::new(LT, index)
    }

    fn delete(&mut self, index: u32) -> HvStatus {
        let status = self.fast(HvCall::DeleteEventLogBuffer, &Self::id(index));
        if status == HvStatus::SUCCESS {
            self.mapped.remove(&index);
        }
        status
    }

    /// Maps buffer `index`; returns the PFNs of the output page.
    fn map(&mut self, index: u32) -> Result<Vec<u64>, HvStatus> {
        let out = self.output;
        self.p.mem(out).fill(0xAA);
        let status = self.mem(HvCall::MapEventLogBuffer, &MapBufferInput::own(LT, index));
        if status != HvStatus::SUCCESS {
            return Err(status);
        }
        let page = self.p.mem(out);
        let pfns: Vec<u64> = (0..MAP_MAX_PAGES)
            .map(|k| MapOutput::page_number(&page[..], k).unwrap())
            .collect();
        let used: Vec<u64> = pfns.iter().copied().take_while(|&p| p != 0).collect();
        assert!(pfns[used.len()..].iter().all(|&p| p == 0), "tail not zero");
        self.mapped.insert(index, used.clone());
        Ok(used)
    }

    fn create_mapped(&mut self, index: u32, prox: ProximityDomainInfo) -> Vec<u64> {
        assert_eq!(self.create(index, prox), HvStatus::SUCCESS);
        self.map(index).unwrap()
    }

    /// Unmaps buffer `index` as Microsoft's driver does: a 16-byte fast call.
    fn unmap(&mut self, index: u32) -> HvStatus {
        self.fast(HvCall::UnmapEventLogBuffer, &MapBufferInput::own(LT, index))
    }

    fn release(&mut self, index: u32) -> HvStatus {
        self.fast(HvCall::ReleaseEventLogBuffer, &Self::id(index))
    }

    /// Sets the legacy group mask: a memory call, as the input is 544 bytes.
    fn sources(&mut self, mask: u64) -> HvStatus {
        self.mem(
            HvCall::SetEventLogGroupSources,
            &SetSourcesInput::legacy(LT, mask),
        )
    }

    /// Flushes buffer `index` (a buffer index, not a VP).
    fn flush(&mut self, index: u32) -> HvStatus {
        self.fast(HvCall::FlushEventLogBuffer, &FlushInput::new(LT, index))
    }

    /// Flushes every buffer that is in use, as a stopping partition does
    /// after reading the headers.
    fn flush_in_use(&mut self) {
        for index in 0..MAX_BUFFERS {
            if self.hv.buffer_state(index) == Some(BufferState::InUse) {
                assert_eq!(self.flush(index), HvStatus::SUCCESS);
            }
        }
    }

    fn finalize(&mut self) -> HvStatus {
        self.fast(HvCall::FinalizeEventLogBufferGroup, &FinalizeInput::new(LT))
    }

    /// Deposits `pfns` (rep call); returns the raw result.
    fn deposit_raw(&mut self, partition: u64, pfns: &[u64], start: u16) -> u64 {
        let i = self.input;
        DepositMemoryInput::new(partition)
            .encode_with_pages(self.p.mem(i), pfns)
            .unwrap();
        let control = Control::rep_call(HvCall::DepositMemory, pfns.len() as u16)
            .unwrap()
            .with_rep_start(start)
            .unwrap();
        self.raw(control.raw(), Self::gpa(i), Self::gpa(self.output))
    }

    /// Allocates `n` pages on `node` and deposits them.
    fn deposit(&mut self, node: u32, n: usize) {
        let pfns: Vec<u64> = (0..n).map(|_| self.p.alloc_page(node).unwrap()).collect();
        let raw = self.deposit_raw(HV_PARTITION_ID_SELF, &pfns, 0);
        assert_eq!(check(raw), Ok(n as u16));
    }

    fn balance(&mut self, prox: ProximityDomainInfo) -> Result<(u64, u64), HvStatus> {
        let status = self.mem(HvCall::GetMemoryBalance, &GetMemoryBalanceInput::own(prox));
        if status != HvStatus::SUCCESS {
            return Err(status);
        }
        let out = GetMemoryBalanceOutput::decode(&self.p.mem(self.output)[..]).unwrap();
        Ok((out.pages_available, out.pages_in_use))
    }

    fn assign(&mut self, index: u32, cpu: u32) {
        self.hv.set_affinity(&self.p, index, cpu).unwrap();
    }

    fn write(&mut self, cpu: u32, payload: u16) -> WriteResult {
        self.hv.write_event(&mut self.p, cpu, payload)
    }

    /// The whole contents of mapped buffer `index`, read through its PFNs.
    fn bytes(&mut self, index: u32) -> Vec<u8> {
        let pfns = self.mapped[&index].clone();
        pfns.iter()
            .flat_map(|&pfn| self.p.mem(pfn).to_vec())
            .collect()
    }

    fn header(&mut self, index: u32) -> BufferHeader {
        BufferHeader::decode(&self.bytes(index)).unwrap()
    }

    /// Tears the simulator down, gives back the rig's own pages and checks
    /// that nothing is left.
    fn finish(mut self) {
        self.hv.audit(&mut self.p).unwrap();
        self.hv.teardown(&mut self.p);
        assert_eq!(self.hv.pages_held(), 0);
        assert_eq!(*self.hv, Hypervisor::new());
        self.p.free_page(self.input);
        self.p.free_page(self.output);
        assert!(self.p.live.is_empty(), "leaked: {:x?}", self.p.live.keys());
    }
}

fn ok(status: HvStatus) {
    assert_eq!(status, HvStatus::SUCCESS);
}

fn padded(payload: u16) -> usize {
    (EntryHeader::SIZE + usize::from(payload)).next_multiple_of(ENTRY_ALIGN)
}

// ---------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------

#[test]
fn all_zero_bytes_are_the_empty_simulator() {
    // The kernel shell allocates the simulator zeroed in place (it is too
    // large for a kernel stack); that is only sound if zero is `new()`.
    // SAFETY: every field is an integer, a bool or a fieldless enum with a
    // zero variant; the assertion below is what this test is about.
    let zeroed: Box<Hypervisor> = unsafe { Box::new(std::mem::zeroed()) };
    assert_eq!(*zeroed, Hypervisor::new());
    assert_eq!(Hypervisor::default(), Hypervisor::new());
}

#[test]
fn seed_stops_at_the_node_capacity_and_skips_memoryless_nodes() {
    let mut p = Fake::new(&[(10, PXM0), (0, PXM1)], 1);
    let mut hv = Box::new(Hypervisor::new());
    assert_eq!(hv.seed_pool(&mut p, 0, 25), 10);
    assert_eq!(hv.seed_pool(&mut p, 1, 25), 0);
    assert_eq!(hv.seed_pool(&mut p, 7, 25), 0);
    assert_eq!(
        hv.pool(0),
        PoolStats {
            free: 10,
            in_use: 0
        }
    );
    assert_eq!(hv.pages_held(), 10);
    hv.teardown(&mut p);
    assert!(p.live.is_empty());
    assert_eq!(DEFAULT_POOL_PAGES_PER_NODE, 256);
}

// ---------------------------------------------------------------------------
// Control word and input addressing
// ---------------------------------------------------------------------------

#[test]
fn control_word_errors() {
    let mut r = Rig::two();
    let init = Control::new(HvCall::InitializeEventLogBufferGroup).raw();
    let (i, o) = (Rig::gpa(r.input), Rig::gpa(r.output));
    let cases: &[(u64, HvStatus)] = &[
        (0x0001, HvStatus::INVALID_HYPERCALL_CODE),
        (0x0069, HvStatus::INVALID_HYPERCALL_CODE),
        (init | 1 << 27, HvStatus::INVALID_HYPERCALL_INPUT),
        (init | 1 << 31, HvStatus::INVALID_HYPERCALL_INPUT),
        (init | 1 << 44, HvStatus::INVALID_HYPERCALL_INPUT),
        (init | 1 << 63, HvStatus::INVALID_HYPERCALL_INPUT),
        (
            Control::new(HvCall::InitializeEventLogBufferGroup)
                .with_var_header(1)
                .unwrap()
                .raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::InitializeEventLogBufferGroup).raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::MapEventLogBuffer).raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::DepositMemory).raw() | 1 << 32,
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::GetMemoryBalance).raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::rep_call(HvCall::CreateEventLogBuffer, 1)
                .unwrap()
                .raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::new(HvCall::FlushEventLogBuffer)
                .with_rep_start(1)
                .unwrap()
                .raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
    ];
    for &(control, status) in cases {
        assert_eq!(
            result_status(r.raw(control, i, o)),
            status,
            "control {control:#x}"
        );
    }
    // Nothing above may have initialized the group.
    assert!(!r.hv.group_active());
    r.finish();
}

#[test]
fn input_and_output_addresses() {
    let mut r = Rig::two();
    let init = Control::new(HvCall::InitializeEventLogBufferGroup).raw();
    let (i, o) = (Rig::gpa(r.input), Rig::gpa(r.output));
    // Not 8-byte aligned.
    assert_eq!(
        result_status(r.raw(init, i + 4, o)),
        HvStatus::INVALID_ALIGNMENT
    );
    // 32 bytes from offset 4072 cross into the next page.
    assert_eq!(
        result_status(r.raw(init, i + 4072, o)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // Not memory at all.
    assert_eq!(
        result_status(r.raw(init, 0x10, o)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // A map output must be one whole page.
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    let map = Control::new(HvCall::MapEventLogBuffer).raw();
    MapBufferInput::own(LT, 0).encode(r.p.mem(r.input)).unwrap();
    assert_eq!(
        result_status(r.raw(map, i, o + 8)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    assert_eq!(
        result_status(r.raw(map, i, o + 1)),
        HvStatus::INVALID_ALIGNMENT
    );
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    assert_eq!(result_status(r.raw(map, i, o)), HvStatus::SUCCESS);
    r.finish();
}

#[test]
fn fast_and_memory_forms_are_equivalent() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let a = CreateBufferInput::new(LT, 0, ProximityDomainInfo::node(PXM0));
    let b = CreateBufferInput::new(LT, 1, ProximityDomainInfo::node(PXM1));
    ok(r.fast(HvCall::CreateEventLogBuffer, &a));
    ok(r.mem(HvCall::CreateEventLogBuffer, &b));
    assert_eq!(
        r.fast(HvCall::CreateEventLogBuffer, &b),
        HvStatus::OBJECT_IN_USE
    );
    assert_eq!(
        r.mem(HvCall::CreateEventLogBuffer, &a),
        HvStatus::OBJECT_IN_USE
    );
    ok(r.mem(HvCall::DeleteEventLogBuffer, &Rig::id(0)));
    ok(r.fast(HvCall::DeleteEventLogBuffer, &Rig::id(1)));
    ok(r.mem(HvCall::FinalizeEventLogBufferGroup, &FinalizeInput::new(LT)));
    r.finish();
}

#[test]
fn fault_injection_hits_exactly_the_nth_call() {
    let mut r = Rig::two();
    assert_eq!(r.hv.calls(), 0);
    r.init_ok(GEO);
    assert_eq!(r.hv.calls(), 1);
    // Calls 2, 3, 4 are creates; the third of them (call 4) fails.
    r.hv.fail_at = 4;
    r.hv.fail_status = HvStatus::TIMEOUT;
    let pool = r.hv.pool(0);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    let charged = r.hv.pool(0);
    assert_eq!(
        r.create(2, ProximityDomainInfo::node(PXM0)),
        HvStatus::TIMEOUT
    );
    assert_eq!(r.hv.calls(), 4);
    // No side effect: no buffer 2, nothing charged.
    assert_eq!(r.hv.buffer_state(2), None);
    assert_eq!(r.hv.pool(0), charged);
    assert_ne!(charged, pool);
    // Only that call: the retry succeeds.
    ok(r.create(2, ProximityDomainInfo::node(PXM0)));
    assert_eq!(r.hv.calls(), 5);
    // An injected failure even beats a malformed control word.
    r.hv.fail_at = 6;
    r.hv.fail_status = HvStatus::INSUFFICIENT_MEMORY;
    assert_eq!(
        result_status(r.raw(0xFFFF, 0, 0)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    assert_eq!(
        result_status(r.raw(0xFFFF, 0, 0)),
        HvStatus::INVALID_HYPERCALL_CODE
    );
    r.finish();
}

#[test]
fn refusing_everything_plays_an_ordinary_guest() {
    let mut r = Rig::two();
    r.hv.refuse_status = HvStatus::ACCESS_DENIED;
    assert_eq!(r.init(GEO), HvStatus::ACCESS_DENIED);
    assert_eq!(
        r.balance(ProximityDomainInfo::none()),
        Err(HvStatus::ACCESS_DENIED)
    );
    r.hv.refuse_status = HvStatus::INVALID_HYPERCALL_CODE;
    assert_eq!(r.finalize(), HvStatus::INVALID_HYPERCALL_CODE);
    r.hv.refuse_status = HvStatus::SUCCESS;
    r.init_ok(GEO);
    r.finish();
}

// ---------------------------------------------------------------------------
// Initialize and finalize
// ---------------------------------------------------------------------------

#[test]
fn initialize_validates_every_field() {
    let mut r = Rig::two();
    let good =
        InitializeGroupInput::new(LT, EventLogMode::Circular, 512, 512, 512, TimeBasis::Qpc, 7);
    type Edit = fn(&mut InitializeGroupInput);
    let bad: &[(&str, Edit)] = &[
        ("type", |i| i.log_type = 3),
        ("mode", |i| i.mode = 2),
        ("max 0", |i| i.max_buffer_count = 0),
        ("max 513", |i| i.max_buffer_count = 513),
        ("size 0", |i| i.buffer_size_in_bytes = 0),
        ("size not pages", |i| i.buffer_size_in_bytes = 4096 + 8),
        ("size 513 pages", |i| i.buffer_size_in_bytes = 513 * 4096),
        ("threshold 0", |i| i.threshold = 0),
        ("threshold > max", |i| {
            i.max_buffer_count = 4;
            i.threshold = 5;
        }),
        ("time basis", |i| i.time_basis = 3),
    ];
    for (what, edit) in bad {
        let mut input = good;
        edit(&mut input);
        assert_eq!(
            r.mem(HvCall::InitializeEventLogBufferGroup, &input),
            HvStatus::INVALID_PARAMETER,
            "{what}"
        );
    }
    // Padding between time_basis and system_time must be zero.
    let (i, o) = (r.input, r.output);
    good.encode(r.p.mem(i)).unwrap();
    r.p.mem(i)[21] = 1;
    let control = Control::new(HvCall::InitializeEventLogBufferGroup).raw();
    assert_eq!(
        result_status(r.raw(control, Rig::gpa(i), Rig::gpa(o))),
        HvStatus::INVALID_PARAMETER
    );
    assert!(!r.hv.group_active());
    // The limits themselves are fine; a second group is not.
    ok(r.mem(HvCall::InitializeEventLogBufferGroup, &good));
    assert!(r.hv.group_active());
    assert_eq!(
        r.mem(HvCall::InitializeEventLogBufferGroup, &good),
        HvStatus::INVALID_PARTITION_STATE
    );
    let other = Geo {
        log_type: EventLogType::GlobalSystemEvents,
        ..GEO
    };
    assert_eq!(r.init(other), HvStatus::INVALID_PARTITION_STATE);
    r.finish();
}

#[test]
fn every_call_before_initialize_is_a_state_error() {
    let mut r = Rig::two();
    let s = HvStatus::INVALID_PARTITION_STATE;
    assert_eq!(r.create(0, ProximityDomainInfo::node(PXM0)), s);
    assert_eq!(r.delete(0), s);
    assert_eq!(r.map(0), Err(s));
    assert_eq!(r.unmap(0), s);
    assert_eq!(r.release(0), s);
    assert_eq!(r.sources(SOURCE_HC), s);
    assert_eq!(r.flush(0), s);
    assert_eq!(r.finalize(), s);
    assert_eq!(r.write(0, 8).outcome, Outcome::Disabled);
    r.finish();
}

#[test]
fn every_call_with_another_type_is_a_parameter_error() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    let bad = HvStatus::INVALID_PARAMETER;
    for t in [EventLogType::GlobalSystemEvents.raw(), 2, 3, u32::MAX] {
        let id = BufferIdInput {
            log_type: t,
            buffer_index: 0,
        };
        let create = CreateBufferInput {
            log_type: t,
            buffer_index: 1,
            proximity: ProximityDomainInfo::node(PXM0),
        };
        assert_eq!(r.fast(HvCall::CreateEventLogBuffer, &create), bad);
        assert_eq!(r.fast(HvCall::DeleteEventLogBuffer, &id), bad);
        let map = MapBufferInput {
            log_type: t,
            buffer_index: 0,
            partition_id: HV_PARTITION_ID_SELF,
        };
        assert_eq!(r.mem(HvCall::MapEventLogBuffer, &map), bad);
        assert_eq!(r.fast(HvCall::UnmapEventLogBuffer, &map), bad);
        assert_eq!(r.fast(HvCall::ReleaseEventLogBuffer, &id), bad);
        let sources = SetSourcesInput {
            log_type: t,
            ..SetSourcesInput::legacy(LT, SOURCE_HC)
        };
        assert_eq!(r.mem(HvCall::SetEventLogGroupSources, &sources), bad);
        let flush = FlushInput {
            log_type: t,
            buffer_index: 0,
        };
        assert_eq!(r.fast(HvCall::FlushEventLogBuffer, &flush), bad);
        let finalize = FinalizeInput {
            log_type: t,
            reserved: 0,
        };
        assert_eq!(r.fast(HvCall::FinalizeEventLogBufferGroup, &finalize), bad);
    }
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    assert_eq!(r.hv.buffer_state(1), None);
    r.finish();
}

#[test]
fn finalize_is_denied_while_buffers_or_sources_remain() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    ok(r.sources(SOURCE_HC | SOURCE_VP));
    assert_eq!(r.finalize(), HvStatus::OPERATION_DENIED);
    ok(r.delete(0));
    assert_eq!(r.finalize(), HvStatus::OPERATION_DENIED);
    ok(r.sources(0));
    let reserved = FinalizeInput {
        log_type: LT.raw(),
        reserved: 1,
    };
    assert_eq!(
        r.fast(HvCall::FinalizeEventLogBufferGroup, &reserved),
        HvStatus::INVALID_PARAMETER
    );
    ok(r.finalize());
    assert!(!r.hv.group_active());
    assert_eq!(r.finalize(), HvStatus::INVALID_PARTITION_STATE);
    // A new group may follow, of another geometry.
    r.init_ok(Geo { pages: 3, ..GEO });
    ok(r.create(0, ProximityDomainInfo::node(PXM1)));
    assert_eq!(r.map(0).unwrap().len(), 3);
    r.finish();
}

#[test]
fn set_sources_takes_the_legacy_form_as_a_memory_call() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let bad = HvStatus::INVALID_PARAMETER;
    // Bit 0 means "extended": refused in the legacy form, alone or not.
    assert_eq!(r.sources(SOURCES_EXTENDED), bad);
    assert_eq!(r.sources(SOURCES_ALL | SOURCES_EXTENDED), bad);
    // The module's former default, 0x3 ("admin, diag"), sets it.
    assert_eq!(r.sources(0x3), bad);
    // Group counts past the two groups the input has room for, and the
    // extended form, which the simulator does not model.
    for count in [1, 2, 3, u32::MAX] {
        let input = SetSourcesInput {
            group_count: count,
            ..SetSourcesInput::legacy(LT, SOURCE_HC)
        };
        assert_eq!(r.mem(HvCall::SetEventLogGroupSources, &input), bad);
    }
    // 544 bytes cannot go fast: the fast form is an input of the wrong
    // size, whatever the registers hold.
    let [a, b] = [LT.raw().into(), SOURCE_HC];
    let raw = r.raw(
        Control::fast_call(HvCall::SetEventLogGroupSources).raw(),
        a,
        b,
    );
    assert_eq!(result_status(raw), HvStatus::INVALID_HYPERCALL_INPUT);
    ok(r.sources(SOURCES_ALL));
    // Group bits hv_evlog has no name for are the hypervisor's business.
    ok(r.sources(1 << 40));
    ok(r.sources(0));
    r.finish();
}

#[test]
fn map_and_unmap_name_the_calling_partition() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    let wrong = HvStatus::INVALID_PARTITION_ID;
    for partition in [0, 1, HV_PARTITION_ID_SELF - 1] {
        let input = MapBufferInput {
            partition_id: partition,
            ..MapBufferInput::own(LT, 0)
        };
        assert_eq!(r.mem(HvCall::MapEventLogBuffer, &input), wrong);
    }
    // The older 8-byte input, in a zeroed page, reads as partition 0.
    let i = r.input;
    r.p.mem(i).fill(0);
    assert_eq!(r.mem(HvCall::MapEventLogBuffer, &Rig::id(0)), wrong);
    // Map has an output page: it cannot go fast.
    let [a, b] = MapBufferInput::own(LT, 0).fast_input().unwrap();
    let raw = r.raw(Control::fast_call(HvCall::MapEventLogBuffer).raw(), a, b);
    assert_eq!(result_status(raw), HvStatus::INVALID_HYPERCALL_INPUT);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    r.map(0).unwrap();
    // Unmap as an 8-byte fast call (second register 0) names partition 0.
    assert_eq!(r.fast(HvCall::UnmapEventLogBuffer, &Rig::id(0)), wrong);
    let input = MapBufferInput {
        partition_id: 7,
        ..MapBufferInput::own(LT, 0)
    };
    assert_eq!(r.mem(HvCall::UnmapEventLogBuffer, &input), wrong);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Free));
    // The memory form with the right partition works too (mshv_diaglog.c).
    ok(r.mem(HvCall::UnmapEventLogBuffer, &MapBufferInput::own(LT, 0)));
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    r.map(0).unwrap();
    ok(r.unmap(0));
    r.finish();
}

#[test]
fn flush_takes_a_buffer_index_of_an_in_use_buffer() {
    let mut r = Rig::logging(GEO, 2);
    let bad = HvStatus::INVALID_PARAMETER;
    // Indices past the group maximum, or of buffers not created.
    assert_eq!(r.flush(GEO.max), bad);
    assert_eq!(r.flush(u32::MAX), bad);
    assert_eq!(r.flush(2), bad);
    // Buffers 0 and 1 are free: nothing to flush.
    assert_eq!(r.flush(0), HvStatus::OPERATION_DENIED);
    r.write(0, 8);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::InUse));
    // Buffer 1 is still free; the CPU number 0 means nothing here.
    assert_eq!(r.flush(1), HvStatus::OPERATION_DENIED);
    ok(r.flush(0));
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Complete));
    // Complete now, so a second flush is refused.
    assert_eq!(r.flush(0), HvStatus::OPERATION_DENIED);
    assert!(r.hv.take_notification().is_some());
    r.finish();
}

// ---------------------------------------------------------------------------
// Buffer state machine
// ---------------------------------------------------------------------------

#[test]
fn create_errors() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let node0 = ProximityDomainInfo::node(PXM0);
    assert_eq!(r.create(GEO.max, node0), HvStatus::INVALID_PARAMETER);
    assert_eq!(r.create(u32::MAX, node0), HvStatus::INVALID_PARAMETER);
    ok(r.create(GEO.max - 1, node0));
    assert_eq!(r.create(GEO.max - 1, node0), HvStatus::OBJECT_IN_USE);
    let pdi = HvStatus::INVALID_PROXIMITY_DOMAIN_INFO;
    for flags in [1 << 1, 1 << 30, ProximityDomainInfo::VALID | 1 << 8] {
        let prox = ProximityDomainInfo {
            domain_id: PXM0,
            flags,
        };
        assert_eq!(r.create(0, prox), pdi, "flags {flags:#x}");
    }
    assert_eq!(r.create(0, ProximityDomainInfo::node(7)), pdi);
    let valid_only = ProximityDomainInfo {
        domain_id: 99,
        flags: ProximityDomainInfo::VALID,
    };
    assert_eq!(r.create(0, valid_only), pdi);
    assert_eq!(r.hv.buffer_state(0), None);
    r.finish();
}

#[test]
fn map_unmap_delete_release_rules() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let node0 = ProximityDomainInfo::node(PXM0);
    let bad = HvStatus::INVALID_PARAMETER;
    let busy = HvStatus::OBJECT_IN_USE;
    // Not created.
    assert_eq!(r.map(3), Err(bad));
    assert_eq!(r.unmap(3), bad);
    assert_eq!(r.delete(3), bad);
    assert_eq!(r.release(3), bad);
    assert_eq!(r.map(GEO.max), Err(bad));
    // Standby: delete is fine, unmap and release are not.
    ok(r.create(3, node0));
    assert_eq!(r.unmap(3), bad);
    assert_eq!(r.release(3), bad);
    ok(r.delete(3));
    ok(r.create(3, node0));
    // Free: mapped, so no delete and no second map.
    r.map(3).unwrap();
    assert_eq!(r.header(3).state(), Some(BufferState::Free));
    assert_eq!(r.map(3), Err(bad));
    assert_eq!(r.delete(3), busy);
    assert_eq!(r.release(3), bad);
    // In use and complete: no unmap.
    r.assign(3, 1);
    ok(r.sources(SOURCE_HC));
    assert!(matches!(
        r.write(1, 8).outcome,
        Outcome::Written { buffer: 3, .. }
    ));
    assert_eq!(r.hv.buffer_state(3), Some(BufferState::InUse));
    assert_eq!(r.unmap(3), busy);
    assert_eq!(r.delete(3), busy);
    assert_eq!(r.release(3), bad);
    ok(r.flush(3));
    assert_eq!(r.header(3).state(), Some(BufferState::Complete));
    assert_eq!(r.unmap(3), busy);
    assert_eq!(r.delete(3), busy);
    // Release: ready, unmappable, deletable after unmap.
    ok(r.release(3));
    assert_eq!(r.header(3).state(), Some(BufferState::Ready));
    assert_eq!(r.release(3), bad);
    ok(r.unmap(3));
    assert_eq!(r.hv.buffer_state(3), Some(BufferState::Standby));
    ok(r.delete(3));
    assert_eq!(r.hv.buffer_state(3), None);
    r.finish();
}

#[test]
fn map_returns_the_buffer_pages_on_the_requested_node() {
    let mut r = Rig::two();
    r.init_ok(Geo { pages: 5, ..GEO });
    let a = r.create_mapped(0, ProximityDomainInfo::node(PXM0));
    let b = r.create_mapped(1, ProximityDomainInfo::node(PXM1));
    assert_eq!((a.len(), b.len()), (5, 5));
    assert!(a.iter().all(|&pfn| r.p.node_of_pfn(pfn) == Some(0)));
    assert!(b.iter().all(|&pfn| r.p.node_of_pfn(pfn) == Some(1)));
    let all: BTreeSet<u64> = a.iter().chain(&b).copied().collect();
    assert_eq!(all.len(), 10, "pages shared between buffers");
    assert!(!all.contains(&r.input) && !all.contains(&r.output));
    // The header of a fresh buffer, and zeroed data after it.
    let bytes = r.bytes(1);
    let h = BufferHeader::decode(&bytes).unwrap();
    assert_eq!(h.buffer_size, (5 * PAGE_SIZE - ENTRIES_OFFSET) as u32);
    assert_eq!(h.buffer_index, 1);
    assert_eq!(h.state(), Some(BufferState::Free));
    assert_eq!(h.event_log_type(), Some(LT));
    assert_eq!(h.next_in_chain(), None);
    assert_eq!(h.next_buffer_offset, 0);
    // 16-bit logical processor: nothing in its high byte.
    assert_eq!(bytes[41], 0);
    assert!(bytes[ENTRIES_OFFSET..].iter().all(|&b| b == 0));
    assert_eq!(entries(&bytes).count(), 0);
    r.finish();
}

// ---------------------------------------------------------------------------
// Pool, deposit, charges
// ---------------------------------------------------------------------------

#[test]
fn short_pool_takes_nothing_then_deposit_then_success() {
    // 1 + 1 + 8 = 10 pages for the first buffer of a domain.
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 9);
    r.init_ok(Geo { pages: 8, ..GEO });
    let before = r.hv.pool(1);
    assert_eq!(
        r.create(0, ProximityDomainInfo::node(PXM1)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    assert_eq!(r.hv.pool(1), before);
    assert_eq!(r.hv.buffer_state(0), None);
    // Pages on the other node do not help a domain that is asked for.
    r.deposit(0, 5);
    assert_eq!(
        r.create(0, ProximityDomainInfo::node(PXM1)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    r.deposit(1, 1);
    ok(r.create(0, ProximityDomainInfo::node(PXM1)));
    assert_eq!(
        r.hv.pool(1),
        PoolStats {
            free: 0,
            in_use: 10
        }
    );
    assert_eq!(r.balance(ProximityDomainInfo::node(PXM1)), Ok((0, 10)));
    // Node 0 now holds 14: its first buffer costs 10, the second 9.
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    assert_eq!(
        r.hv.pool(0),
        PoolStats {
            free: 4,
            in_use: 10
        }
    );
    assert_eq!(
        r.create(2, ProximityDomainInfo::node(PXM0)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    r.finish();
}

#[test]
fn deposit_validation_and_resume() {
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 0);
    let pfns: Vec<u64> = (0..4).map(|_| r.p.alloc_page(1).unwrap()).collect();
    // Wrong partition: nothing taken.
    let raw = r.deposit_raw(7, &pfns, 0);
    assert_eq!(result_status(raw), HvStatus::INVALID_PARTITION_ID);
    assert_eq!(r.hv.pages_held(), 0);
    // Rep count limits.
    let i = Rig::gpa(r.input);
    let zero = Control::new(HvCall::DepositMemory).raw();
    assert_eq!(
        result_status(r.raw(zero, i, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    let too_many = Control::rep_call(HvCall::DepositMemory, 512).unwrap().raw();
    assert_eq!(
        result_status(r.raw(too_many, i, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // A page that is not memory stops the call where it is.
    let mut list = pfns.clone();
    list.insert(2, 0x5);
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &list, 0);
    assert_eq!(result_status(raw), HvStatus::INVALID_PARAMETER);
    assert_eq!(result_reps(raw), 2);
    assert_eq!(r.hv.pool(1).free, 2);
    // Resuming after the bad page takes the rest.
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &list, 3);
    assert_eq!(check(raw), Ok(5));
    assert_eq!(r.hv.pool(1).free, 4);
    // Start not below the count.
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &list, 5);
    assert_eq!(result_status(raw), HvStatus::INVALID_HYPERCALL_INPUT);
    // The largest deposit.
    let big: Vec<u64> = (0..DepositMemoryInput::MAX_PAGES)
        .map(|_| r.p.alloc_page(0).unwrap())
        .collect();
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &big, 0);
    assert_eq!(check(raw), Ok(511));
    assert_eq!(r.hv.pool(0).free, 511);
    r.finish();
}

#[test]
fn memory_balance_per_domain_and_total() {
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 30);
    r.init_ok(Geo { pages: 4, ..GEO });
    ok(r.create(0, ProximityDomainInfo::node(PXM1)));
    assert_eq!(r.balance(ProximityDomainInfo::node(PXM0)), Ok((30, 0)));
    assert_eq!(r.balance(ProximityDomainInfo::node(PXM1)), Ok((24, 6)));
    assert_eq!(r.balance(ProximityDomainInfo::none()), Ok((54, 6)));
    let pdi = Err(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO);
    assert_eq!(r.balance(ProximityDomainInfo::node(5)), pdi);
    let reserved = ProximityDomainInfo {
        domain_id: PXM0,
        flags: ProximityDomainInfo::VALID | 4,
    };
    assert_eq!(r.balance(reserved), pdi);
    let other = GetMemoryBalanceInput {
        partition_id: 1,
        proximity: ProximityDomainInfo::none(),
    };
    assert_eq!(
        r.mem(HvCall::GetMemoryBalance, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    r.finish();
}

#[test]
fn partition_properties_are_unknown() {
    let mut r = Rig::two();
    let own = GetPartitionPropertyInput {
        partition_id: HV_PARTITION_ID_SELF,
        property_code: 0x1_0000,
        padding: 0,
    };
    assert_eq!(
        r.mem(HvCall::GetPartitionProperty, &own),
        HvStatus::UNKNOWN_PROPERTY
    );
    let other = GetPartitionPropertyInput {
        partition_id: 3,
        ..own
    };
    assert_eq!(
        r.mem(HvCall::GetPartitionProperty, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    r.finish();
}

#[test]
fn delete_gives_everything_back_including_the_domain_page() {
    let mut r = Rig::two();
    r.init_ok(Geo { pages: 2, ..GEO });
    let start = r.hv.pool(0);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    assert_eq!(r.hv.pool(0).in_use, numa::pool_pages(2, 2));
    ok(r.delete(0));
    assert_eq!(r.hv.pool(0).in_use, numa::pool_pages(1, 2));
    ok(r.delete(1));
    assert_eq!(r.hv.pool(0), start);
    r.hv.audit(&mut r.p).unwrap();
    r.finish();
}

#[test]
fn no_proximity_domain_uses_pxm_0_then_the_lowest_node_that_fits() {
    // Node 0 is proximity domain 0 here.
    let mut r = Rig::new(&[(4096, 5), (4096, 0), (4096, 7)], 0);
    r.deposit(0, 20);
    r.deposit(1, 4);
    r.deposit(2, 20);
    r.init_ok(Geo { pages: 2, ..GEO });
    let none = ProximityDomainInfo::none();
    // Node 1 (pxm 0) holds 4 = 2 + 1 + 1: it fits the first buffer.
    ok(r.create(0, none));
    assert_eq!(r.hv.pool(1).in_use, 4);
    // The next would cost 3 there, but only 0 are left: the lowest node id.
    ok(r.create(1, none));
    assert_eq!(r.hv.pool(0).in_use, 4);
    // A valid proximity domain is required, not preferred.
    let pref = ProximityDomainInfo::node(0);
    assert_eq!(r.create(2, pref), HvStatus::INSUFFICIENT_MEMORY);
    r.finish();
}

/// The `memless` VM topology: node 0 (CPU 0, memory), node 1 (CPUs 1-2, no
/// memory), node 2 (no CPUs, memory); node 1 is nearer to node 2.
fn memless_plan(storage: &mut [BufferPlacement]) -> numa::Plan<'_> {
    const NODES: [Node<'static>; 3] = [
        Node {
            id: 0,
            pxm: 100,
            cpus: &[0],
            has_memory: true,
        },
        Node {
            id: 1,
            pxm: 101,
            cpus: &[1, 2],
            has_memory: false,
        },
        Node {
            id: 2,
            pxm: 102,
            cpus: &[],
            has_memory: true,
        },
    ];
    const DISTANCE: [u8; 9] = [10, 20, 20, 20, 10, 15, 20, 15, 10];
    let topo = Topology::new(&NODES, &DISTANCE).unwrap();
    let req = Request {
        buffers_per_cpu: 2,
        buffer_pages: 3,
        max_buffers: 32,
        filter: NodeFilter::All,
    };
    plan(&topo, &req, storage).unwrap()
}

#[test]
fn charges_match_the_plan_exactly() {
    let mut storage = [BufferPlacement::default(); 32];
    let plan = memless_plan(&mut storage);
    let mut r = Rig::new(&[(4096, 100), (0, 101), (4096, 102)], 0);
    // Deposit exactly what the plan says each domain needs.
    for d in plan.domains() {
        r.deposit(d.node, d.pool_pages as usize);
    }
    r.init_ok(Geo {
        pages: 3,
        max: 32,
        ..GEO
    });
    for b in plan.buffers() {
        r.assign(b.index, b.cpu);
        ok(r.create(b.index, ProximityDomainInfo::node(b.pxm)));
    }
    for d in plan.domains() {
        let stats = r.hv.pool(d.node);
        assert_eq!(
            stats,
            PoolStats {
                free: 0,
                in_use: d.pool_pages
            }
        );
        assert_eq!(
            r.balance(ProximityDomainInfo::node(d.pxm)),
            Ok((0, d.pool_pages))
        );
    }
    assert_eq!(r.hv.pool(1), PoolStats::default());
    // One page more would have been one page too many: nothing is left, and
    // the next buffer does not fit.
    assert_eq!(
        r.create(31, ProximityDomainInfo::node(102)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    // Each buffer's pages are on the plan's target node.
    for b in plan.buffers() {
        for pfn in r.map(b.index).unwrap() {
            assert_eq!(r.p.node_of_pfn(pfn), Some(b.target_node));
        }
    }
    r.finish();
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// Checks a buffer the way the module's consumer reads it: the header, then
/// the entries through the tlfs walker. Returns the entries' contexts.
fn check_buffer(r: &mut Rig, index: u32, payload: u16, cpu: u32) -> Vec<u32> {
    let bytes = r.bytes(index);
    let h = BufferHeader::decode(&bytes).unwrap();
    assert_eq!(h.buffer_index, index);
    assert_eq!(u32::from(h.logical_processor), cpu);
    let used = h.next_buffer_offset as usize;
    let mut contexts = Vec::new();
    let mut last_ts = 0;
    for e in entries(&bytes) {
        let e = e.unwrap();
        assert_eq!(e.offset % ENTRY_ALIGN, 0);
        assert_eq!(
            usize::from(e.header.size),
            EntryHeader::SIZE + usize::from(payload)
        );
        assert_eq!(e.header.entry_type, SYNTHETIC_ENTRY_TYPE);
        assert!(e.header.timestamp > last_ts, "timestamps not increasing");
        if contexts.is_empty() {
            assert_eq!(h.time_stamp, e.header.timestamp);
        }
        last_ts = e.header.timestamp;
        for (i, &b) in e.payload.iter().enumerate() {
            assert_eq!(b, payload_byte(e.header.context, i));
        }
        contexts.push(e.header.context);
    }
    // `next_buffer_offset` counts entry bytes from the end of the header.
    assert_eq!(contexts.len(), used / padded(payload));
    assert_eq!(used % ENTRY_ALIGN, 0);
    assert!(ENTRIES_OFFSET + used <= bytes.len());
    assert_eq!(h.total_size(), bytes.len());
    contexts
}

#[test]
fn entries_decode_with_the_tlfs_walker() {
    let mut r = Rig::logging(GEO, 2);
    // 1 page: 4024 data bytes, 40-byte entries: 100 fit.
    for n in 0..100u32 {
        let w = r.write(0, 24);
        let offset = (ENTRIES_OFFSET + n as usize * 40) as u32;
        assert_eq!(w.outcome, Outcome::Written { buffer: 0, offset });
        assert_eq!((w.completed, w.notify), (None, false));
    }
    let h = r.header(0);
    assert_eq!(h.state(), Some(BufferState::InUse));
    // Entry bytes after the header, not an offset from the buffer start.
    assert_eq!(h.next_buffer_offset as usize, 100 * 40);
    let contexts = check_buffer(&mut r, 0, 24, 0);
    assert_eq!(contexts, (0..100).collect::<Vec<_>>());
    // The 101st completes buffer 0 and starts buffer 1.
    let w = r.write(0, 24);
    assert_eq!(
        w.outcome,
        Outcome::Written {
            buffer: 1,
            offset: ENTRIES_OFFSET as u32
        }
    );
    assert_eq!((w.completed, w.notify), (Some(0), true));
    assert_eq!(r.header(0).state(), Some(BufferState::Complete));
    assert_eq!(r.header(1).state(), Some(BufferState::InUse));
    assert_eq!(check_buffer(&mut r, 1, 24, 0), vec![100]);
    r.finish();
}

#[test]
fn entries_cross_page_boundaries_and_odd_sizes_are_padded() {
    let mut r = Rig::logging(Geo { pages: 3, ..GEO }, 1);
    // 16 + 1001 = 1017, padded to 1024: 11 fit in 12216 data bytes.
    for _ in 0..11 {
        assert!(matches!(
            r.write(0, 1001).outcome,
            Outcome::Written { buffer: 0, .. }
        ));
    }
    let contexts = check_buffer(&mut r, 0, 1001, 0);
    assert_eq!(contexts.len(), 11);
    let bytes = r.bytes(0);
    // Padding after the first entry is zero.
    assert_eq!(
        &bytes[ENTRIES_OFFSET + 1017..ENTRIES_OFFSET + 1024],
        &[0; 7]
    );
    r.finish();
}

#[test]
fn timestamps_are_strictly_increasing_per_cpu_even_with_a_stopped_clock() {
    let mut r = Rig::logging(GEO, 1);
    r.assign(1, 1);
    r.create_mapped(1, ProximityDomainInfo::node(PXM1));
    r.p.step = 0;
    for _ in 0..10 {
        r.write(0, 0);
        r.write(1, 0);
    }
    for (index, cpu) in [(0, 0), (1, 1)] {
        let contexts = check_buffer(&mut r, index, 0, cpu);
        assert_eq!(contexts, (0..10).collect::<Vec<_>>());
    }
    r.finish();
}

#[test]
fn writes_follow_affinity_and_the_lowest_free_index() {
    let mut r = Rig::two();
    r.init_ok(Geo {
        threshold: 8,
        ..GEO
    });
    // CPU 1 owns 4 and 2 (assigned out of order), CPU 2 owns 3.
    for (index, cpu) in [(4, 1), (2, 1), (3, 2)] {
        r.assign(index, cpu);
        r.create_mapped(index, ProximityDomainInfo::node(PXM0));
    }
    ok(r.sources(SOURCE_HC));
    assert_eq!(r.write(0, 8).outcome, Outcome::NotServed);
    assert_eq!(r.write(MAX_CPUS, 8).outcome, Outcome::NotServed);
    let buf = |w: WriteResult| match w.outcome {
        Outcome::Written { buffer, .. } => buffer,
        other => panic!("{other:?}"),
    };
    assert_eq!(buf(r.write(1, 8)), 2);
    assert_eq!(buf(r.write(2, 8)), 3);
    ok(r.flush(2));
    assert_eq!(buf(r.write(1, 8)), 4);
    ok(r.release(2));
    ok(r.flush(4));
    // Ready again, and the lowest index.
    assert_eq!(buf(r.write(1, 8)), 2);
    assert_eq!(r.header(2).logical_processor, 1);
    assert_eq!(r.header(3).logical_processor, 2);
    // Sources off: nothing is written.
    ok(r.sources(0));
    assert_eq!(r.write(1, 8).outcome, Outcome::Disabled);
    // Too large for a one-page buffer.
    ok(r.sources(SOURCE_HC));
    let max_payload = (PAGE_SIZE - ENTRIES_OFFSET - EntryHeader::SIZE) as u16;
    assert_eq!(r.write(2, max_payload + 1).outcome, Outcome::TooLarge);
    assert_eq!(r.write(2, u16::MAX).outcome, Outcome::TooLarge);
    // The largest entry fills a fresh buffer exactly.
    ok(r.flush(3));
    ok(r.release(3));
    let w = r.write(2, max_payload);
    assert_eq!(
        w.outcome,
        Outcome::Written {
            buffer: 3,
            offset: ENTRIES_OFFSET as u32
        }
    );
    // The entry ends exactly at the buffer end: `next_buffer_offset` is then
    // `buffer_size`, the bytes after the header.
    let h = r.header(3);
    assert_eq!(h.next_buffer_offset as usize, PAGE_SIZE - ENTRIES_OFFSET);
    assert_eq!(h.next_buffer_offset, h.buffer_size);
    assert_eq!(h.entries_end(), PAGE_SIZE);
    assert_eq!(check_buffer(&mut r, 3, max_payload, 2).len(), 1);
    r.finish();
}

#[test]
fn affinity_errors() {
    let mut r = Rig::logging(GEO, 1);
    assert_eq!(
        r.hv.set_affinity(&r.p, MAX_BUFFERS, 0),
        Err(AffinityError::BadBuffer)
    );
    assert_eq!(r.hv.set_affinity(&r.p, 0, 4), Err(AffinityError::BadCpu));
    r.write(0, 8);
    assert_eq!(r.hv.set_affinity(&r.p, 0, 1), Err(AffinityError::Busy));
    r.flush_in_use();
    assert_eq!(r.hv.set_affinity(&r.p, 0, 1), Err(AffinityError::Busy));
    ok(r.release(0));
    assert_eq!(r.hv.set_affinity(&r.p, 0, 1), Ok(()));
    assert_eq!(r.hv.affinity(0), Some(1));
    assert_eq!(r.hv.affinity(5), None);
    r.finish();
}

#[test]
fn regular_mode_drops_and_reports_losses_in_the_next_buffer() {
    let mut r = Rig::logging(
        Geo {
            threshold: 2,
            ..GEO
        },
        2,
    );
    // Fill both buffers: 2 * 100 entries of 40 bytes.
    for _ in 0..200 {
        assert!(matches!(r.write(0, 24).outcome, Outcome::Written { .. }));
    }
    // The next completes buffer 1; nothing is free, so 5 events are lost.
    let w = r.write(0, 24);
    assert_eq!(
        (w.outcome, w.completed, w.notify),
        (Outcome::Lost, Some(1), true)
    );
    for _ in 0..4 {
        assert_eq!(r.write(0, 24).outcome, Outcome::Lost);
    }
    assert_eq!(r.header(1).events_lost, 0);
    // Both are complete and chained 0 -> 1.
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.log_type, n.first_buffer, n.buffers), (LT, 0, 2));
    assert_eq!(r.header(0).next_in_chain(), Some(1));
    assert_eq!(r.header(1).next_in_chain(), None);
    // Releasing buffer 1 lets logging resume there, with the losses counted.
    ok(r.release(1));
    let w = r.write(0, 24);
    assert_eq!(
        w.outcome,
        Outcome::Written {
            buffer: 1,
            offset: ENTRIES_OFFSET as u32
        }
    );
    let h = r.header(1);
    assert_eq!(h.events_lost, 5);
    // The contexts show the gap: 200..205 were lost.
    assert_eq!(check_buffer(&mut r, 1, 24, 0), vec![205]);
    r.finish();
}

#[test]
fn events_this_tick_caps_and_counts_the_rest() {
    assert_eq!(events_this_tick(0, 256), (0, 0));
    assert_eq!(events_this_tick(100, 256), (100, 0));
    assert_eq!(events_this_tick(256, 256), (256, 0));
    assert_eq!(events_this_tick(5000, 256), (256, 4744));
    assert_eq!(events_this_tick(u64::MAX, 256), (256, u32::MAX));
    assert_eq!(events_this_tick(7, 0), (0, 7));
}

#[test]
fn dropped_events_are_lost_in_the_next_buffer_with_a_context_gap() {
    let mut r = Rig::logging(GEO, 2);
    // Not served, or another CPU: nothing counted.
    assert_eq!(r.hv.drop_events(MAX_CPUS, 3), 0);
    assert_eq!(r.hv.drop_events(0, 0), 0);
    // Two entries, then 7 events dropped by the writers' cap.
    for _ in 0..2 {
        assert!(matches!(r.write(0, 24).outcome, Outcome::Written { .. }));
    }
    assert_eq!(r.hv.drop_events(0, 7), 7);
    // The in-use buffer goes on: its entries show the gap (contexts 0, 1,
    // then 9), and its header keeps the losses it started with (none).
    for _ in 0..98 {
        assert!(matches!(r.write(0, 24).outcome, Outcome::Written { .. }));
    }
    assert_eq!(r.header(0).events_lost, 0);
    let contexts = check_buffer(&mut r, 0, 24, 0);
    assert_eq!(&contexts[..3], &[0, 1, 9]);
    // The next buffer the CPU starts counts them.
    let w = r.write(0, 24);
    assert_eq!(w.completed, Some(0));
    assert_eq!(r.header(1).events_lost, 7);
    r.finish();
}

#[test]
fn dropped_events_count_nothing_without_sources() {
    let mut r = Rig::logging(GEO, 1);
    assert_eq!(r.sources(0), HvStatus::SUCCESS);
    assert_eq!(r.hv.drop_events(0, 5), 0);
    r.finish();
}

#[test]
fn circular_mode_overwrites_the_oldest_complete_buffer() {
    let geo = Geo {
        mode: EventLogMode::Circular,
        threshold: 8,
        ..GEO
    };
    let mut r = Rig::logging(geo, 3);
    for _ in 0..300 {
        r.write(0, 24);
    }
    // Buffers 0 and 1 are complete, 2 is full and in use.
    let w = r.write(0, 24);
    assert_eq!(w.completed, Some(2));
    assert_eq!(
        w.outcome,
        Outcome::Overwrote {
            buffer: 0,
            offset: ENTRIES_OFFSET as u32,
            discarded: 100
        }
    );
    let h = r.header(0);
    assert_eq!(h.state(), Some(BufferState::InUse));
    assert_eq!(h.events_lost, 100);
    assert_eq!(check_buffer(&mut r, 0, 24, 0), vec![300]);
    // The pending chain lost buffer 0: it is now 1 -> 2.
    ok(r.flush(0));
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.first_buffer, n.buffers), (1, 3));
    assert_eq!(r.header(1).next_in_chain(), Some(2));
    assert_eq!(r.header(2).next_in_chain(), Some(0));
    assert_eq!(r.header(0).next_in_chain(), None);
    // All three complete; the next write recycles the oldest, buffer 1.
    let w = r.write(0, 24);
    assert!(matches!(
        w.outcome,
        Outcome::Overwrote {
            buffer: 1,
            discarded: 100,
            ..
        }
    ));
    r.finish();
}

/// Circular mode with a reader that falls behind, through the module's own
/// completion tracking (`completion.rs`, as the device drives it): every
/// completion the simulator counts is either read, with the fill's own
/// `bytes_used`, or counted as dropped; none is reported with stale data.
#[test]
fn circular_reader_behind_gets_every_completion_or_a_drop() {
    use hv_evlog_host_tests::completion::{Queue, Tracked, Tracker};
    let geo = Geo {
        mode: EventLogMode::Circular,
        max: 3,
        ..GEO
    };
    let n = 3u32;
    let mut r = Rig::logging(geo, n);
    let mut tracker = Tracker::new(vec![Tracked::default(); n as usize]);
    // (sequence, buffer, time_stamp, bytes_used), room for one per buffer.
    let mut queue = Queue::new(vec![(0u64, 0u32, 0u64, 0u32); n as usize]);
    let (mut read, mut gaps, mut last_seq) = (0u64, 0u64, None::<u64>);
    let scan = |r: &mut Rig, t: &mut Tracker<Vec<Tracked>>, q: &mut Queue<_, _>| {
        let h: Vec<BufferHeader> = (0..n).map(|i| r.header(i)).collect();
        t.recycled(&h, |i| {
            q.withdraw(|rec: &(u64, u32, u64, u32)| rec.1 == i)
                .is_some()
        });
        t.scan(&h, |i| {
            let hd = h[i as usize];
            q.push_with(|s| (s, i, hd.time_stamp, hd.next_buffer_offset))
                .1
        });
    };
    let mut read_one = |r: &mut Rig, t: &mut Tracker<Vec<Tracked>>, q: &mut Queue<_, _>| {
        let Some((seq, i, stamp, used)): Option<(u64, u32, u64, u32)> = q.pop_front() else {
            return false;
        };
        t.delivered(i);
        let h = r.header(i);
        if h.state() == Some(BufferState::Complete) && h.time_stamp == stamp {
            assert_eq!(h.next_buffer_offset, used, "record of buffer {i} is stale");
        }
        gaps += seq - last_seq.map_or(0, |l| l + 1);
        last_seq = Some(seq);
        read += 1;
        true
    };
    // 40 writes of 24-byte payloads per round: a 1-page buffer (about 100
    // entries) completes every 2-3 rounds; the reader takes one record every
    // 8 rounds, so buffers are restarted under its queued records.
    for round in 0..400 {
        for _ in 0..40 {
            r.write(0, 24);
        }
        scan(&mut r, &mut tracker, &mut queue);
        if round % 8 == 0 {
            read_one(&mut r, &mut tracker, &mut queue);
        }
    }
    ok(r.sources(0));
    r.flush_in_use();
    scan(&mut r, &mut tracker, &mut queue);
    while read_one(&mut r, &mut tracker, &mut queue) {}
    let completions = r.hv.completions();
    assert!(completions > 100, "only {completions} completions");
    assert!(queue.dropped() > 0, "the reader never fell behind");
    assert_eq!(read + queue.dropped(), completions);
    // Every dropped record is a gap in the sequence numbers read.
    assert_eq!(
        gaps + (queue.next_sequence() - 1 - last_seq.unwrap()),
        queue.dropped()
    );
    r.finish();
}

#[test]
fn threshold_chains_and_notifications() {
    let mut r = Rig::logging(
        Geo {
            threshold: 3,
            ..GEO
        },
        6,
    );
    let mut notified = Vec::new();
    for _ in 0..(5 * 100 + 1) {
        let w = r.write(0, 24);
        if w.notify {
            notified.push(r.hv.take_notification().unwrap());
        }
    }
    // Five buffers completed: one notification at the third, two pending.
    assert_eq!(notified.len(), 1);
    assert_eq!((notified[0].first_buffer, notified[0].buffers), (0, 3));
    assert!(!r.hv.notification_pending());
    // Follow the chain through the headers, as the module does.
    let mut chain = vec![notified[0].first_buffer];
    while let Some(next) = r.header(*chain.last().unwrap()).next_in_chain() {
        chain.push(next);
    }
    assert_eq!(chain, vec![0, 1, 2]);
    for &i in &chain {
        assert_eq!(r.header(i).state(), Some(BufferState::Complete));
    }
    // Releasing a pending buffer takes it off its chain.
    ok(r.release(3));
    r.flush_in_use();
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.first_buffer, n.buffers), (4, 2));
    assert_eq!(r.header(4).next_in_chain(), Some(5));
    assert_eq!(r.header(5).next_in_chain(), None);
    assert_eq!(r.hv.take_notification(), None);
    r.finish();
}

#[test]
fn flush_completes_one_buffer_by_index() {
    let mut r = Rig::logging(
        Geo {
            threshold: 16,
            ..GEO
        },
        1,
    );
    r.assign(1, 2);
    r.create_mapped(1, ProximityDomainInfo::node(PXM1));
    r.write(0, 8);
    r.write(2, 8);
    // Buffer 1 serves CPU 2. A processor number is no buffer index: 2 and 4
    // are not created, and nothing else is touched.
    assert_eq!(r.flush(4), HvStatus::INVALID_PARAMETER);
    assert_eq!(r.flush(2), HvStatus::INVALID_PARAMETER);
    assert_eq!(r.hv.take_notification(), None);
    ok(r.flush(1));
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::InUse));
    assert_eq!(r.hv.buffer_state(1), Some(BufferState::Complete));
    // Delivered although the threshold is 16.
    let n = r.hv.take_notification().unwrap();
    assert_eq!((n.first_buffer, n.buffers), (1, 1));
    r.flush_in_use();
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Complete));
    let h = r.header(0);
    // One padded entry's bytes, counted from the end of the header.
    assert_eq!(h.next_buffer_offset as usize, padded(8));
    r.finish();
}

#[test]
fn full_teardown_sequence_then_teardown_frees_everything_once() {
    let mut r = Rig::logging(
        Geo {
            threshold: 2,
            ..GEO
        },
        4,
    );
    for _ in 0..250 {
        r.write(0, 24);
    }
    ok(r.sources(0));
    r.flush_in_use();
    for i in 0..4 {
        if r.hv.buffer_state(i) == Some(BufferState::Complete) {
            ok(r.release(i));
        }
        ok(r.unmap(i));
        ok(r.delete(i));
    }
    ok(r.finalize());
    assert_eq!(
        r.hv.pool(0),
        PoolStats {
            free: 64,
            in_use: 0
        }
    );
    r.finish();
}

#[test]
fn teardown_in_any_state_frees_every_page_exactly_once() {
    let mut r = Rig::logging(
        Geo {
            threshold: 2,
            pages: 2,
            ..GEO
        },
        4,
    );
    r.deposit(1, 7);
    r.create(9, ProximityDomainInfo::node(PXM1));
    for _ in 0..150 {
        r.write(0, 100);
    }
    let held = r.hv.pages_held();
    assert_eq!(held, 64 + 64 + 7);
    assert_eq!(r.p.live.len() as u64, held + 2);
    r.hv.teardown(&mut r.p);
    assert_eq!(r.p.live.len(), 2);
    // Again: nothing left to free.
    r.hv.teardown(&mut r.p);
    r.finish();
}

// ---------------------------------------------------------------------------
// Random sequences
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Init(bool, u32, u32, u32),
    Create(u32, u8),
    Delete(u32),
    Map(u32),
    Unmap(u32),
    Release(u32),
    Sources(u64),
    Flush(u32),
    Finalize,
    Deposit(u32, usize),
    Affinity(u32, u32),
    Write(u32, u16),
    Writes(u32, u16, u16),
    Take,
    Fault(u64, u16),
    Raw(u64, u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0u32..10;
    prop_oneof![
        (any::<bool>(), 1u32..12, 1u32..4, 1u32..6).prop_map(|(c, m, p, t)| Op::Init(c, m, p, t)),
        (index.clone(), 0u8..5).prop_map(|(i, n)| Op::Create(i, n)),
        index.clone().prop_map(Op::Delete),
        index.clone().prop_map(Op::Map),
        index.clone().prop_map(Op::Unmap),
        index.clone().prop_map(Op::Release),
        prop_oneof![Just(0u64), Just(1), Just(SOURCE_HC), any::<u64>()].prop_map(Op::Sources),
        prop_oneof![index.clone(), Just(u32::MAX)].prop_map(Op::Flush),
        Just(Op::Finalize),
        (0u32..3, 0usize..30).prop_map(|(n, c)| Op::Deposit(n, c)),
        (index.clone(), 0u32..5).prop_map(|(i, c)| Op::Affinity(i, c)),
        (0u32..5, 0u16..3000).prop_map(|(c, l)| Op::Write(c, l)),
        (0u32..4, 0u16..200, 1u16..400).prop_map(|(c, l, n)| Op::Writes(c, l, n)),
        Just(Op::Take),
        (1u64..4, any::<u16>()).prop_map(|(k, s)| Op::Fault(k, s)),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(c, i, o)| Op::Raw(c, i, o)),
    ]
}

fn prox(n: u8) -> ProximityDomainInfo {
    match n {
        0 => ProximityDomainInfo::node(PXM0),
        1 => ProximityDomainInfo::node(PXM1),
        2 => ProximityDomainInfo::none(),
        3 => ProximityDomainInfo::node(55),
        _ => ProximityDomainInfo {
            domain_id: PXM0,
            flags: 0x7,
        },
    }
}

impl Rig {
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Init(circular, max, pages, threshold) => {
                let mode = if circular {
                    EventLogMode::Circular
                } else {
                    EventLogMode::Regular
                };
                let g = Geo {
                    mode,
                    max,
                    pages,
                    threshold,
                    ..GEO
                };
                self.init(g);
            }
            Op::Create(i, n) => {
                self.create(i, prox(n));
            }
            Op::Delete(i) => {
                self.delete(i);
            }
            Op::Map(i) => {
                let _ = self.map(i);
            }
            Op::Unmap(i) => {
                self.unmap(i);
            }
            Op::Release(i) => {
                self.release(i);
            }
            Op::Sources(mask) => {
                self.sources(mask);
            }
            Op::Flush(index) => {
                self.flush(index);
            }
            Op::Finalize => {
                self.finalize();
            }
            Op::Deposit(node, count) => {
                let pfns: Vec<u64> = (0..count)
                    .map(|_| self.p.alloc_page(node.min(1)).unwrap())
                    .collect();
                // An injected failure may refuse the pages: they stay ours.
                let raw = self.deposit_raw(HV_PARTITION_ID_SELF, &pfns, 0);
                let taken = if check(raw).is_ok() { count } else { 0 };
                assert_eq!(usize::from(result_reps(raw)), taken);
                for &pfn in &pfns[taken..] {
                    self.p.free_page(pfn);
                }
            }
            Op::Affinity(i, cpu) => {
                let _ = self.hv.set_affinity(&self.p, i, cpu);
            }
            Op::Write(cpu, len) => {
                self.write(cpu, len);
            }
            Op::Writes(cpu, len, n) => {
                for _ in 0..n {
                    self.write(cpu, len);
                }
            }
            Op::Take => {
                self.hv.take_notification();
            }
            Op::Fault(k, status) => {
                self.hv.fail_at = self.hv.calls() + k;
                self.hv.fail_status = HvStatus(status);
            }
            Op::Raw(control, input, output) => {
                // Random registers, but never a deposit of random pages: the
                // platform would rightly refuse to hand over pages it does
                // not own.
                if Control::from_raw(control).code() != HvCall::DepositMemory.raw() {
                    self.raw(control, input, output);
                }
            }
        }
    }

    /// What must hold after every step.
    fn check_invariants(&mut self) {
        self.hv.audit(&mut self.p).unwrap();
        // Every page the platform handed out is the rig's two or the
        // simulator's: nothing leaked, nothing counted twice.
        assert_eq!(self.p.live.len() as u64, self.hv.pages_held() + 2);
        // Headers of mapped buffers agree with the simulator's view.
        let mapped: Vec<u32> = self.mapped.keys().copied().collect();
        for index in mapped {
            match self.hv.buffer_state(index) {
                Some(state) if state != BufferState::Standby => {
                    let h = self.header(index);
                    assert_eq!(h.state(), Some(state));
                    assert_eq!(h.buffer_index, index);
                    let bytes = self.bytes(index);
                    assert!(entries(&bytes).all(|e| e.is_ok()));
                }
                _ => {
                    self.mapped.remove(&index);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_sequences_keep_pages_and_headers_consistent(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut r = Rig::new(&[(8192, PXM0), (8192, PXM1)], 16);
        for op in &ops {
            r.apply(op);
            r.check_invariants();
        }
        r.finish();
    }

    #[test]
    fn random_sequences_from_a_logging_group(
        circular in any::<bool>(),
        threshold in 1u32..4,
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mode = if circular {
            EventLogMode::Circular
        } else {
            EventLogMode::Regular
        };
        // One-page buffers: 0-1 serve CPU 0, 2-3 CPU 1.
        let mut r = Rig::logging(Geo { mode, threshold, ..GEO }, 4);
        r.assign(2, 1);
        r.assign(3, 1);
        for op in &ops {
            r.apply(op);
            r.check_invariants();
        }
        r.finish();
    }
}

impl Rig {
    /// Withdraws `count` pages of `prox` from `partition`'s pool; returns the
    /// raw result and the page numbers the output page names.
    fn withdraw_raw(
        &mut self,
        partition: u64,
        prox: ProximityDomainInfo,
        count: u16,
    ) -> (u64, Vec<u64>) {
        let i = self.input;
        let input = WithdrawMemoryInput {
            partition_id: partition,
            proximity: prox,
        };
        input.encode(self.p.mem(i)).unwrap();
        let control = Control::rep_call(HvCall::WithdrawMemory, count).unwrap();
        let raw = self.raw(control.raw(), Self::gpa(i), Self::gpa(self.output));
        let reps = usize::from(result_reps(raw));
        let out = self.p.mem(self.output);
        let pfns = (0..reps)
            .map(|k| WithdrawMemoryInput::gpa_page(&out[..], k).unwrap())
            .collect();
        (raw, pfns)
    }
}

#[test]
fn withdraw_returns_free_pool_pages_then_no_resources() {
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 3);
    let (raw, pfns) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM1), 2);
    assert_eq!(check(raw), Ok(2));
    assert_eq!(pfns.len(), 2);
    for &pfn in &pfns {
        assert_eq!(
            r.p.node_of_pfn(pfn),
            Some(1),
            "withdrawn from the asked node"
        );
        r.p.free_page(pfn);
    }
    assert_eq!(r.hv.pool(1), PoolStats { free: 1, in_use: 0 });
    assert_eq!(r.hv.pool(0), PoolStats { free: 3, in_use: 0 });
    // More than the pool holds: what it has, then NO_RESOURCES.
    let (raw, pfns) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM1), 5);
    assert_eq!(result_status(raw), HvStatus::NO_RESOURCES);
    assert_eq!(result_reps(raw), 1);
    assert_eq!(pfns.len(), 1);
    r.p.free_page(pfns[0]);
    assert_eq!(r.hv.pool(1), PoolStats { free: 0, in_use: 0 });
    // Refusals take nothing.
    let (raw, _) = r.withdraw_raw(7, ProximityDomainInfo::node(PXM0), 1);
    assert_eq!(check(raw), Err(HvStatus::INVALID_PARTITION_ID));
    let (raw, _) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::none(), 1);
    assert_eq!(check(raw), Err(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO));
    let (raw, _) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM0), 513);
    assert_eq!(check(raw), Err(HvStatus::INVALID_HYPERCALL_INPUT));
    assert_eq!(r.hv.pool(0), PoolStats { free: 3, in_use: 0 });
    r.finish();
}

// ---------------------------------------------------------------------------
// Header publication order
// ---------------------------------------------------------------------------

/// A reader that loads `buffer_state` with acquire semantics must find every
/// other field already written for that state: the simulator publishes the
/// state last, with a release store, and never zeroes a header in place.
#[test]
fn header_state_is_published_after_every_other_field() {
    let mut r = Rig::logging(GEO, 3);
    for _ in 0..400 {
        r.write(0, 40);
    }
    let published = std::mem::take(&mut r.p.published);
    let states: BTreeSet<u32> = published.iter().map(|&(_, v)| v).collect();
    for state in [BufferState::Free, BufferState::InUse, BufferState::Complete] {
        assert!(
            states.contains(&state.raw()),
            "{state:?} was never published"
        );
    }
    for (before, value) in published {
        let mut bytes = before;
        bytes[44..48].copy_from_slice(&value.to_le_bytes());
        let h = BufferHeader::decode(&bytes).unwrap();
        assert!(
            h.buffer_index < 3,
            "published with buffer_index {}",
            h.buffer_index
        );
        assert_eq!(h.log_type, LT.raw(), "published before its type: {h:?}");
        assert_eq!(h.buffer_size as usize, PAGE_SIZE - ENTRIES_OFFSET, "{h:?}");
        if value == BufferState::Complete.raw() {
            // The entries a reader of a complete buffer decodes are final.
            assert!(h.next_buffer_offset as usize >= ENTRIES_OFFSET, "{h:?}");
        }
    }
    r.finish();
}

// ---------------------------------------------------------------------------
// SynIC: SINT0 messages
// ---------------------------------------------------------------------------

impl Rig {
    /// Registers a message page for `cpu` and returns it.
    fn message_page(&mut self, cpu: u32) -> u64 {
        let pfn = self.p.alloc_page(0).unwrap();
        self.hv.set_message_page(cpu, pfn).unwrap();
        pfn
    }

    /// The partition's side of SINT0: empties the slot and, when the flags
    /// say more is waiting, signals end-of-message.
    fn consume(&mut self, cpu: u32, pfn: u64) -> (EventLogMessage, bool) {
        let slot = self.hv.slot(&mut self.p, cpu).unwrap();
        assert_eq!(slot.message_type, HVMSG_EVENTLOG_BUFFERCOMPLETE);
        self.p.mem(pfn)[0..4].fill(0);
        let more = slot.flags & MESSAGE_PENDING != 0 && self.hv.end_of_message(&mut self.p, cpu);
        (slot.payload, more)
    }

    /// A logging rig with `threshold`, six buffers of CPU 0, a message page
    /// for CPU 0, and `n` buffers completed with their messages posted.
    fn messaging(threshold: u32, n: usize) -> (Self, u64) {
        let mut r = Self::logging(Geo { threshold, ..GEO }, 6);
        let page = r.message_page(0);
        for _ in 0..(n * 100 + 1) {
            r.write(0, 24);
            r.hv.post_messages(&mut r.p);
        }
        (r, page)
    }

    fn finish_with(mut self, pages: &[u64]) {
        for &pfn in pages {
            self.p.free_page(pfn);
        }
        self.finish();
    }
}

#[test]
fn a_chain_of_three_is_one_message_in_the_slot_of_its_processor() {
    let mut r = Rig::logging(
        Geo {
            threshold: 3,
            ..GEO
        },
        6,
    );
    let page = r.message_page(0);
    let mut raised = 0;
    for _ in 0..(5 * 100 + 1) {
        r.write(0, 24);
        raised +=
            r.hv.post_messages(&mut r.p)
                .iter()
                .filter(|&c| c == 0)
                .count();
    }
    assert_eq!(raised, 1, "one interrupt for one message");
    let bytes = r.p.mem(page)[..24].to_vec();
    // Header: type, payload size 8, no flags, sender 0; payload: type, buffer 0.
    assert_eq!(
        bytes,
        [0x40, 0, 0, 0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    );
    let chain: Vec<u32> =
        std::iter::successors(Some(0), |&i| r.header(i).next_in_chain()).collect();
    assert_eq!(chain, vec![0, 1, 2]);
    assert_eq!(r.hv.synic().delivered, 1);
    r.finish_with(&[page]);
}

#[test]
fn a_full_slot_is_never_overwritten_and_eom_delivers_the_next() {
    let (mut r, page) = Rig::messaging(1, 3);
    // Three completions: the first in the slot, two waiting behind it.
    let slot = r.hv.slot(&mut r.p, 0).unwrap();
    assert_eq!(slot.payload.buffer_index, 0);
    assert_eq!(slot.flags & MESSAGE_PENDING, MESSAGE_PENDING);
    assert_eq!(slot.queued, 2);
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 0
            },
            true
        )
    );
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 1
            },
            true
        )
    );
    // The last one has nothing behind it: no flag, and end-of-message is
    // not needed.
    assert_eq!(r.hv.slot(&mut r.p, 0).unwrap().flags & MESSAGE_PENDING, 0);
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 2
            },
            false
        )
    );
    assert_eq!(r.hv.slot(&mut r.p, 0).unwrap().message_type, HVMSG_NONE);
    assert_eq!(r.hv.synic().delivered, 3);
    r.finish_with(&[page]);
}

#[test]
fn another_drivers_message_stays_and_ours_wait_behind_it() {
    let mut r = Rig::logging(
        Geo {
            threshold: 1,
            ..GEO
        },
        6,
    );
    let page = r.message_page(0);
    const INTERCEPT: u32 = 0x8001_0000;
    r.hv.inject_foreign_message(&mut r.p, 0, INTERCEPT).unwrap();
    assert_eq!(
        r.hv.inject_foreign_message(&mut r.p, 0, INTERCEPT),
        Err(SynicError::SlotBusy)
    );
    let mut raised = 0;
    for _ in 0..(2 * 100 + 1) {
        r.write(0, 24);
        raised += r.hv.post_messages(&mut r.p).iter().count();
    }
    assert_eq!(raised, 0);
    let slot = r.hv.slot(&mut r.p, 0).unwrap();
    assert_eq!(slot.message_type, INTERCEPT);
    assert_eq!(slot.flags & MESSAGE_PENDING, MESSAGE_PENDING);
    assert_eq!(slot.queued, 2);
    // The other driver takes its message: ours follow in order.
    assert_eq!(r.hv.consume_foreign_message(&mut r.p, 0), Ok(true));
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 0
            },
            true
        )
    );
    assert_eq!(
        r.consume(0, page),
        (
            EventLogMessage {
                log_type: 1,
                buffer_index: 1
            },
            false
        )
    );
    // An event log message is not the other driver's to take.
    assert_eq!(
        r.hv.consume_foreign_message(&mut r.p, 0),
        Err(SynicError::NotForeign)
    );
    r.finish_with(&[page]);
}

#[test]
fn a_slot_emptied_without_eom_is_filled_on_the_next_post() {
    let (mut r, page) = Rig::messaging(1, 2);
    // The partition clears the slot but misses the pending flag.
    r.p.mem(page)[0..4].fill(0);
    assert!(r.hv.post_messages(&mut r.p).contains(0));
    assert_eq!(r.hv.slot(&mut r.p, 0).unwrap().payload.buffer_index, 1);
    r.finish_with(&[page]);
}

#[test]
fn no_message_page_means_messages_wait() {
    let mut r = Rig::logging(
        Geo {
            threshold: 1,
            ..GEO
        },
        6,
    );
    for _ in 0..(2 * 100 + 1) {
        r.write(0, 24);
        assert_eq!(r.hv.post_messages(&mut r.p).iter().count(), 0);
    }
    assert_eq!(r.hv.synic().queued(0), 2);
    r.finish();
}

#[test]
fn ledger_counts_pool_pages_by_origin_and_teardown_frees_exactly_those() {
    // Seeded pages stand for what other drivers deposited into the root's
    // pool: the module's own deposits come on top of them.
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 3);
    let ledger = |seeded, deposited, withdrawn| Ledger {
        seeded,
        deposited,
        withdrawn,
    };
    assert_eq!(r.hv.ledger(), ledger(6, 0, 0));
    r.deposit(1, 4);
    r.deposit(0, 1);
    // A refused deposit hands nothing over and is not counted.
    let pfn = r.p.alloc_page(0).unwrap();
    let raw = r.deposit_raw(7, &[pfn], 0);
    assert_eq!(result_status(raw), HvStatus::INVALID_PARTITION_ID);
    r.p.free_page(pfn);
    assert_eq!(r.hv.ledger(), ledger(6, 5, 0));
    let (raw, pfns) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM1), 2);
    assert_eq!(check(raw), Ok(2));
    for pfn in pfns {
        r.p.free_page(pfn);
    }
    assert_eq!(r.hv.ledger(), ledger(6, 5, 2));
    assert_eq!(r.hv.pages_held(), 6 + 5 - 2);
    // Buffers in use are given back too.
    r.init_ok(GEO);
    r.create_mapped(0, ProximityDomainInfo::node(PXM1));
    r.hv.audit(&mut r.p).unwrap();
    assert_eq!(r.hv.teardown(&mut r.p), 9);
    assert_eq!(r.hv.ledger(), ledger(0, 0, 0));
    r.p.free_page(r.input);
    r.p.free_page(r.output);
    assert!(r.p.live.is_empty(), "leaked: {:x?}", r.p.live.keys());
}

// ---------------------------------------------------------------------------
// The hypervisor's own system-diagnostics log (type 2, sim/system.rs)
// ---------------------------------------------------------------------------

const ST: EventLogType = EventLogType::SystemDiagnostics;

impl Rig {
    /// HvCallGetSystemProperty for `property` (reserved word `reserved`):
    /// the status and the output page's first 8 bytes.
    fn system_property(&mut self, property: u32, reserved: u32) -> (HvStatus, [u8; 8]) {
        let input = GetSystemPropertyInput {
            property_id: property,
            reserved,
            argument: 0,
        };
        self.p.mem(self.output).fill(0xAA);
        let status = self.mem(HvCall::GetSystemProperty, &input);
        let mut out = [0; 8];
        out.copy_from_slice(&self.p.mem(self.output)[..8]);
        (status, out)
    }

    /// Maps system buffer `index`; its page numbers.
    fn map_system(&mut self, index: u32) -> Result<Vec<u64>, HvStatus> {
        let status = self.mem(HvCall::MapEventLogBuffer, &MapBufferInput::own(ST, index));
        if status != HvStatus::SUCCESS {
            return Err(status);
        }
        let page = self.p.mem(self.output);
        Ok((0..MAP_MAX_PAGES)
            .map(|k| MapOutput::page_number(&page[..], k).unwrap())
            .take_while(|&pfn| pfn != 0)
            .collect())
    }

    /// The header of the system buffer whose first page is `pfn`.
    fn header_at(&mut self, pfn: u64) -> BufferHeader {
        BufferHeader::decode(&self.p.mem(pfn)[..]).unwrap()
    }
}

#[test]
fn system_property_reports_the_log_geometry() {
    let mut r = Rig::two();
    // No log yet: zero buffers.
    let (status, out) = r.system_property(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 0);
    ok(status);
    assert_eq!(out, [0; 8]);
    assert_eq!(r.hv.create_system_log(&mut r.p, 1, 4, 2), Ok(()));
    assert_eq!(
        r.hv.create_system_log(&mut r.p, 1, 4, 2),
        Err(SystemLogError::Exists)
    );
    assert_eq!(r.hv.system_log(), Some((4, 2)));
    let (status, out) = r.system_property(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 0);
    ok(status);
    assert_eq!(out, [4, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(
        r.system_property(27, 0).0,
        HvStatus::UNKNOWN_PROPERTY,
        "only property 28"
    );
    assert_eq!(
        r.system_property(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 1)
            .0,
        HvStatus::INVALID_PARAMETER
    );
    // Not a fast call.
    let input = GetSystemPropertyInput::new(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS);
    let [a, b] = input.fast_input().unwrap();
    let control = Control::new(HvCall::GetSystemProperty).fast().raw();
    assert_eq!(
        result_status(r.raw(control, a, b)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // The hypervisor's memory, not the partition's pool.
    assert_eq!(
        r.hv.pool(1),
        PoolStats {
            free: 64,
            in_use: 0
        }
    );
    r.finish();
}

#[test]
fn system_log_geometry_limits_and_allocation_failure() {
    let mut r = Rig::new(&[(200, PXM0)], 0);
    let e = Err(SystemLogError::Geometry);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 0, 1), e);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 17, 1), e);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 1, 0), e);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 1, 513), e);
    // 198 pages left on the node: 4 x (1 + 64) does not fit; nothing kept.
    let live = r.p.live.len();
    assert_eq!(
        r.hv.create_system_log(&mut r.p, 0, 4, 64),
        Err(SystemLogError::NoMemory)
    );
    assert_eq!(r.p.live.len(), live, "pages kept after a failed create");
    assert_eq!(r.hv.system_log(), None);
    r.finish();
}

#[test]
fn type_2_has_no_group_only_map_and_unmap() {
    let mut r = Rig::two();
    r.hv.create_system_log(&mut r.p, 0, 4, 2).unwrap();
    let bad = HvStatus::INVALID_PARAMETER;
    let init =
        InitializeGroupInput::new(ST, EventLogMode::Regular, 4, 2, 1, TimeBasis::Reference, 0);
    assert_eq!(r.mem(HvCall::InitializeEventLogBufferGroup, &init), bad);
    assert!(!r.hv.group_active());
    // With and without a group of another type.
    for round in 0..2 {
        let id = BufferIdInput::new(ST, 0);
        assert_eq!(
            r.fast(
                HvCall::CreateEventLogBuffer,
                &CreateBufferInput::new(ST, 0, ProximityDomainInfo::none())
            ),
            bad,
            "create, round {round}"
        );
        assert_eq!(r.fast(HvCall::DeleteEventLogBuffer, &id), bad);
        assert_eq!(r.fast(HvCall::ReleaseEventLogBuffer, &id), bad);
        assert_eq!(
            r.fast(HvCall::FinalizeEventLogBufferGroup, &FinalizeInput::new(ST)),
            bad
        );
        assert_eq!(
            r.mem(
                HvCall::SetEventLogGroupSources,
                &SetSourcesInput::legacy(ST, 0x100)
            ),
            bad
        );
        assert_eq!(
            r.fast(HvCall::FlushEventLogBuffer, &FlushInput::new(ST, 0)),
            bad
        );
        if round == 0 {
            r.init_ok(GEO);
        }
    }
    r.finish();
}

#[test]
fn type_2_map_returns_the_hypervisors_pages_then_unmap() {
    let mut r = Rig::two();
    r.hv.create_system_log(&mut r.p, 1, 4, 2).unwrap();
    let pool = (r.hv.pool(0), r.hv.pool(1));
    let mut all = BTreeSet::new();
    for i in 0..4 {
        let pfns = r.map_system(i).unwrap();
        assert_eq!(pfns.len(), 2, "buffer {i}");
        for &pfn in &pfns {
            assert_eq!(r.p.node_of_pfn(pfn), Some(1));
            assert!(all.insert(pfn), "page {pfn:#x} twice");
        }
        assert!(r.hv.system_mapped(i));
        let h = r.header_at(pfns[0]);
        assert_eq!(h.buffer_index, i);
        assert_eq!(h.log_type, 2);
        assert_eq!(h.buffer_size, 2 * 4096 - 72);
        assert_eq!(h.state(), Some(BufferState::Free));
        assert_eq!(h.time_stamp, 0);
    }
    assert_eq!((r.hv.pool(0), r.hv.pool(1)), pool, "no pool page used");
    assert_eq!(
        r.map_system(0),
        Err(HvStatus::INVALID_PARAMETER),
        "mapped twice"
    );
    assert_eq!(
        r.map_system(4),
        Err(HvStatus::INVALID_PARAMETER),
        "past the count"
    );
    let unmap = |r: &mut Rig, i| r.fast(HvCall::UnmapEventLogBuffer, &UnmapBufferInput::own(ST, i));
    // Only into the calling partition.
    let other = MapBufferInput {
        partition_id: 7,
        ..MapBufferInput::own(ST, 2)
    };
    assert_eq!(
        r.fast(HvCall::UnmapEventLogBuffer, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    assert_eq!(
        r.mem(HvCall::MapEventLogBuffer, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    ok(unmap(&mut r, 2));
    assert!(!r.hv.system_mapped(2));
    assert_eq!(unmap(&mut r, 2), HvStatus::INVALID_PARAMETER);
    assert_eq!(unmap(&mut r, 9), HvStatus::INVALID_PARAMETER);
    // The memory form works as well; a mapped buffer of type 1 is unaffected.
    ok(r.mem(HvCall::UnmapEventLogBuffer, &UnmapBufferInput::own(ST, 3)));
    r.finish();
}

#[test]
fn system_log_rotates_with_no_notification() {
    let mut r = Rig::two();
    // One-page buffers: (4096 - 72) / 32 = 125 entries of 16 payload bytes.
    r.hv.create_system_log(&mut r.p, 0, 3, 1).unwrap();
    let firsts: Vec<u64> = (0..3).map(|i| r.map_system(i).unwrap()[0]).collect();
    let per = (4096 - 72) / padded(16);
    assert_eq!(per, 125);
    let mut last = (0, 0);
    for n in 0..per {
        last = r.hv.write_system_event(&mut r.p, 16).unwrap();
        assert_eq!(last, (0, (72 + n * 32) as u32));
    }
    let h0 = r.header_at(firsts[0]);
    assert_eq!(h0.state(), Some(BufferState::InUse));
    assert_eq!(
        h0.next_buffer_offset,
        125 * 32,
        "counted from the header's end"
    );
    assert_eq!(h0.next_buffer_index, END_OF_CHAIN);
    // The next entry does not fit (4072 + 32 > 4096): the log rotates.
    assert_eq!(last.1 as usize + 32, 4072);
    assert_eq!(r.hv.write_system_event(&mut r.p, 16), Some((1, 72)));
    let h0 = r.header_at(firsts[0]);
    let h1 = r.header_at(firsts[1]);
    assert_eq!(h0.state(), Some(BufferState::Complete));
    assert_eq!(h0.next_buffer_index, 1);
    assert_eq!(h1.state(), Some(BufferState::InUse));
    assert_eq!(h1.next_buffer_offset, 32);
    assert!(h1.time_stamp > h0.time_stamp);
    // Entries decode: context counts every event, type and payload.
    let e = EntryHeader::decode(&r.p.mem(firsts[1])[72..]).unwrap();
    assert_eq!(
        (e.context, e.size, e.entry_type),
        (125, 32, SYSTEM_ENTRY_TYPE)
    );
    assert_eq!(r.p.mem(firsts[1])[72 + 16], payload_byte(125, 0));
    // Around the ring: buffer 0 restarts, newer than all the others.
    for _ in 0..(per * 2 - 1) {
        r.hv.write_system_event(&mut r.p, 16).unwrap();
    }
    assert_eq!(r.hv.write_system_event(&mut r.p, 16), Some((0, 72)));
    let h0 = r.header_at(firsts[0]);
    let h2 = r.header_at(firsts[2]);
    assert_eq!(h0.state(), Some(BufferState::InUse));
    assert_eq!(h0.next_buffer_offset, 32);
    assert_eq!(h2.state(), Some(BufferState::Complete));
    assert_eq!(h2.next_buffer_index, 0);
    assert!(h0.time_stamp > h2.time_stamp);
    // Never a completion message, no group needed, the pool untouched.
    assert_eq!(r.hv.take_notification(), None);
    assert!(!r.hv.group_active());
    assert_eq!(r.hv.write_system_event(&mut r.p, 5000), None, "too large");
    r.finish();
}
