// SPDX-License-Identifier: GPL-2.0

//! The fake platform and the rig every test drives the simulator with.
//!
//! The rig also brings the simulator's and the tlfs definitions into scope
//! for the test modules, which all `use super::rig::*`.

pub(crate) use hv_evlog_host_tests::sim::hypervisor::*;
pub(crate) use hv_evlog_host_tests::sim::machine::*;
pub(crate) use hv_evlog_host_tests::sim::synic::*;
pub(crate) use hv_evlog_host_tests::sim::writer::*;
pub(crate) use hv_evlog_host_tests::tlfs::*;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------
// Fake platform
// ---------------------------------------------------------------------------

/// First PFN of node 0; not 0, so that a PFN of 0 is never a real page.
pub(crate) const BASE_PFN: u64 = 0x100;
/// PFNs reserved per node: node `n` owns `BASE_PFN + n * NODE_SPAN ..`.
pub(crate) const NODE_SPAN: u64 = 0x10_0000;

/// Pages on nodes given as `(capacity, pxm)`; a capacity of 0 is a
/// memoryless node. Freed pages are never handed out again, so a stale PFN
/// can never alias a live page.
pub(crate) struct Fake {
    pub(crate) nodes: Vec<(u64, u32)>,
    pub(crate) fresh: Vec<u64>,
    pub(crate) live: BTreeMap<u64, Box<[u8; PAGE_SIZE]>>,
    pub(crate) clock: Cell<u64>,
    pub(crate) step: u64,
    pub(crate) cpus: u32,
    /// Every `store_release_u32` of a header's state: the page's header
    /// bytes just before it, and the value stored.
    pub(crate) published: Vec<([u8; ENTRIES_OFFSET], u32)>,
    /// Mapped buffers, page by page: the PFN of the page holding each
    /// page's header ([`Fake::watch`]). Every store to one of them is
    /// checked against the header rules (`publish_header`).
    pub(crate) buffers: BTreeMap<u64, u64>,
    /// Every store to the pages in `.0`, in order, as the kernel shell
    /// makes it, while `Some`; a barrier is recorded when it follows a
    /// store to one of them.
    pub(crate) stores: Option<(BTreeSet<u64>, Vec<Store>)>,
    /// The page of the last store.
    pub(crate) last_stored: u64,
    /// A message page whose slot the partition empties right after the
    /// simulator next finds it full, before the simulator's next access
    /// to the page: the race of the partition's SINT0 handler with a
    /// message posted behind the one it is taking.
    pub(crate) empty_slot_after_look: Option<u64>,
    /// Armed by that look: the page to empty at the next access.
    pub(crate) slot_to_empty: Option<u64>,
    /// What the partition read of the flag right after emptying the slot,
    /// which decides whether it signals end-of-message.
    pub(crate) partition_saw_pending: Option<bool>,
}

/// One store the simulator made, as the kernel shell makes it: a `write`
/// is one store per byte, `store_u64` one 8-byte store, `store_release_u32`
/// one 4-byte store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// One byte (a `write`).
    Byte { pfn: u64, offset: usize, value: u8 },
    /// One untorn little-endian word: `store_u64`.
    Word {
        pfn: u64,
        offset: usize,
        bytes: Vec<u8>,
    },
    /// `store_release_u32`.
    Release { pfn: u64, offset: usize, value: u32 },
    /// `write_barrier`.
    Barrier,
}

/// Header bytes of `next_buffer_index`, the one field a closed header may
/// change.
const LINK: std::ops::Range<usize> = 56..60;
/// Header bytes of `buffer_state`.
const STATE: std::ops::Range<usize> = 44..48;

impl Fake {
    pub(crate) fn new(nodes: &[(u64, u32)], cpus: u32) -> Self {
        Self {
            nodes: nodes.to_vec(),
            fresh: vec![0; nodes.len()],
            live: BTreeMap::new(),
            clock: Cell::new(1000),
            step: 10,
            cpus,
            published: Vec::new(),
            buffers: BTreeMap::new(),
            stores: None,
            last_stored: 0,
            empty_slot_after_look: None,
            slot_to_empty: None,
            partition_saw_pending: None,
        }
    }

    /// Checks every later store to the buffer whose pages are `pfns` (its
    /// header on the first) against the header rules.
    pub(crate) fn watch(&mut self, pfns: &[u64]) {
        for &pfn in pfns {
            self.buffers.insert(pfn, pfns[0]);
        }
    }

    /// Stops checking the buffer whose header is on `header`.
    pub(crate) fn unwatch(&mut self, header: u64) {
        self.buffers.retain(|_, &mut h| h != header);
    }

    /// Starts recording the stores to `pfns`.
    pub(crate) fn record(&mut self, pfns: &[u64]) {
        self.stores = Some((pfns.iter().copied().collect(), Vec::new()));
    }

    /// The stores recorded since [`Fake::record`]; recording goes on.
    pub(crate) fn take_stores(&mut self) -> Vec<Store> {
        self.stores
            .as_mut()
            .map(|(_, log)| std::mem::take(log))
            .unwrap_or_default()
    }

    fn log(&mut self, store: Store) {
        let pfn = match store {
            Store::Byte { pfn, .. } | Store::Word { pfn, .. } | Store::Release { pfn, .. } => pfn,
            Store::Barrier => self.last_stored,
        };
        self.last_stored = pfn;
        if let Some((pages, log)) = &mut self.stores {
            if pages.contains(&pfn) {
                log.push(store);
            }
        }
    }

    /// The rule a reader's snapshot relies on (`policy/snapshot.rs`): while
    /// a watched buffer's header reads Complete, Free or Ready, a store
    /// changes nothing in the buffer but, as one 4-byte release store, the
    /// header's state or its `next_buffer_index`. (So a buffer that starts
    /// a new fill shows InUse before anything of it.)
    fn check_closed(&mut self, pfn: u64, offset: usize, bytes: &[u8], release: bool) {
        let Some(&header) = self.buffers.get(&pfn) else {
            return;
        };
        let state = u32::from_le_bytes(self.mem(header)[STATE].try_into().unwrap());
        let closed = [BufferState::Free, BufferState::Complete, BufferState::Ready]
            .iter()
            .any(|s| s.raw() == state);
        if !closed {
            return;
        }
        let range = offset..offset + bytes.len();
        if pfn == header && release && (range == STATE || range == LINK) {
            return;
        }
        let now = &self.mem(pfn)[range.clone()];
        assert_eq!(
            now, bytes,
            "page {pfn:#x} bytes {range:?} changed while its header (page {header:#x}) reads state {state}"
        );
    }

    pub(crate) fn node_range(&self, node: usize) -> std::ops::Range<u64> {
        let start = BASE_PFN + node as u64 * NODE_SPAN;
        start..start + self.nodes[node].0
    }

    /// The partition's side of the race armed by `empty_slot_after_look`,
    /// at the simulator's next access to `pfn`: the slot's type goes to
    /// none, then the partition reads the flag.
    fn partition_empties_slot(&mut self, pfn: u64) {
        if self.slot_to_empty != Some(pfn) {
            return;
        }
        self.slot_to_empty = None;
        let page = self.mem(pfn);
        page[0..4].fill(0);
        self.partition_saw_pending = Some(page[5] & MESSAGE_PENDING != 0);
    }

    pub(crate) fn mem(&mut self, pfn: u64) -> &mut [u8; PAGE_SIZE] {
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
        self.unwatch(pfn);
        self.buffers.remove(&pfn);
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
        self.check_closed(pfn, offset, bytes, false);
        for (i, &value) in bytes.iter().enumerate() {
            self.log(Store::Byte {
                pfn,
                offset: offset + i,
                value,
            });
        }
        self.mem(pfn)[offset..offset + bytes.len()].copy_from_slice(bytes);
        true
    }

    fn store_u64(&mut self, pfn: u64, offset: usize, value: u64) {
        let bytes = value.to_le_bytes();
        if !offset.is_multiple_of(8) {
            self.write(pfn, offset, &bytes);
            return;
        }
        if self.node_of_pfn(pfn).is_none() || offset + 8 > PAGE_SIZE {
            return;
        }
        self.check_closed(pfn, offset, &bytes, false);
        self.log(Store::Word {
            pfn,
            offset,
            bytes: bytes.to_vec(),
        });
        self.mem(pfn)[offset..offset + 8].copy_from_slice(&bytes);
    }

    fn store_release_u32(&mut self, pfn: u64, offset: usize, value: u32) {
        self.partition_empties_slot(pfn);
        assert!(
            offset.is_multiple_of(4),
            "unaligned release store at {offset}"
        );
        self.node_of_pfn(pfn)
            .expect("release store to a page that is not memory");
        self.check_closed(pfn, offset, &value.to_le_bytes(), true);
        self.log(Store::Release { pfn, offset, value });
        let page = self.mem(pfn);
        let before: [u8; ENTRIES_OFFSET] = page[..ENTRIES_OFFSET].try_into().unwrap();
        page[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        if offset == STATE.start {
            self.published.push((before, value));
        }
    }

    fn write_barrier(&mut self) {
        self.log(Store::Barrier);
    }

    fn load_acquire_u32(&mut self, pfn: u64, offset: usize) -> u32 {
        assert!(
            offset.is_multiple_of(4),
            "unaligned acquire load at {offset}"
        );
        self.partition_empties_slot(pfn);
        let page = self.mem(pfn);
        let value = u32::from_le_bytes(page[offset..offset + 4].try_into().unwrap());
        // The slot's type, found full: the partition may empty it now.
        if offset == 0 && value != HVMSG_NONE && self.empty_slot_after_look == Some(pfn) {
            self.empty_slot_after_look = None;
            self.slot_to_empty = Some(pfn);
        }
        value
    }

    fn compare_exchange_u64(&mut self, pfn: u64, offset: usize, current: u64, new: u64) -> bool {
        assert!(
            offset.is_multiple_of(8),
            "unaligned compare-and-exchange at {offset}"
        );
        if self.node_of_pfn(pfn).is_none() {
            return false;
        }
        self.partition_empties_slot(pfn);
        let page = self.mem(pfn);
        let word = u64::from_le_bytes(page[offset..offset + 8].try_into().unwrap());
        if word != current {
            return false;
        }
        page[offset..offset + 8].copy_from_slice(&new.to_le_bytes());
        true
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

pub(crate) const LT: EventLogType = EventLogType::LocalDiagnostics;
pub(crate) const PXM0: u32 = 100;
pub(crate) const PXM1: u32 = 101;

pub(crate) struct Rig {
    pub(crate) hv: Box<Hypervisor>,
    pub(crate) p: Fake,
    pub(crate) input: u64,
    pub(crate) output: u64,
    pub(crate) mapped: BTreeMap<u32, Vec<u64>>,
}

/// A group geometry.
#[derive(Clone, Copy)]
pub(crate) struct Geo {
    pub(crate) log_type: EventLogType,
    pub(crate) mode: EventLogMode,
    pub(crate) max: u32,
    pub(crate) pages: u32,
    pub(crate) threshold: u32,
}

pub(crate) const GEO: Geo = Geo {
    log_type: LT,
    mode: EventLogMode::Regular,
    max: 16,
    pages: 1,
    threshold: 1,
};

impl Rig {
    /// Nodes as `(capacity, pxm)`, each memory node's pool seeded with `seed`
    /// pages.
    pub(crate) fn new(nodes: &[(u64, u32)], seed: u64) -> Self {
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
    pub(crate) fn two() -> Self {
        Self::new(&[(4096, PXM0), (4096, PXM1)], 64)
    }

    /// Two nodes, a group of `geo`, sources on, buffers `0..n` created on
    /// node 0, mapped and assigned to CPU 0.
    pub(crate) fn logging(geo: Geo, n: u32) -> Self {
        let mut r = Self::two();
        r.init_ok(geo);
        for i in 0..n {
            r.assign(i, 0);
            r.create_mapped(i, ProximityDomainInfo::node(PXM0));
        }
        assert_eq!(r.sources(SOURCE_HC), HvStatus::SUCCESS);
        r
    }

    pub(crate) fn raw(&mut self, control: u64, input: u64, output: u64) -> u64 {
        self.hv.hypercall(&mut self.p, control, input, output)
    }

    pub(crate) fn gpa(pfn: u64) -> u64 {
        pfn << 12
    }

    /// A memory call with `input` encoded in the input page.
    pub(crate) fn mem<T: Wire>(&mut self, call: HvCall, input: &T) -> HvStatus {
        let (i, o) = (self.input, self.output);
        input.encode(self.p.mem(i)).unwrap();
        result_status(self.raw(Control::new(call).raw(), Self::gpa(i), Self::gpa(o)))
    }

    /// A fast call with `input` in the registers.
    pub(crate) fn fast<T: Wire>(&mut self, call: HvCall, input: &T) -> HvStatus {
        let [a, b] = input.fast_input().unwrap();
        result_status(self.raw(Control::fast_call(call).raw(), a, b))
    }

    pub(crate) fn init(&mut self, g: Geo) -> HvStatus {
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

    pub(crate) fn init_ok(&mut self, g: Geo) {
        assert_eq!(self.init(g), HvStatus::SUCCESS);
    }

    pub(crate) fn create(&mut self, index: u32, prox: ProximityDomainInfo) -> HvStatus {
        self.fast(
            HvCall::CreateEventLogBuffer,
            &CreateBufferInput::new(LT, index, prox),
        )
    }

    pub(crate) fn id(index: u32) -> BufferIdInput {
        BufferIdInput::new(LT, index)
    }

    pub(crate) fn delete(&mut self, index: u32) -> HvStatus {
        let status = self.fast(HvCall::DeleteEventLogBuffer, &Self::id(index));
        if status == HvStatus::SUCCESS {
            self.forget(index);
        }
        status
    }

    /// Maps buffer `index`; returns the PFNs of the output page.
    pub(crate) fn map(&mut self, index: u32) -> Result<Vec<u64>, HvStatus> {
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
        self.p.watch(&used);
        self.mapped.insert(index, used.clone());
        Ok(used)
    }

    pub(crate) fn create_mapped(&mut self, index: u32, prox: ProximityDomainInfo) -> Vec<u64> {
        assert_eq!(self.create(index, prox), HvStatus::SUCCESS);
        self.map(index).unwrap()
    }

    /// Forgets the pages of buffer `index`, which is no longer mapped.
    pub(crate) fn forget(&mut self, index: u32) {
        if let Some(pfns) = self.mapped.remove(&index) {
            self.p.unwatch(pfns[0]);
        }
    }

    /// Unmaps buffer `index` as Microsoft's driver does: a 16-byte fast call.
    pub(crate) fn unmap(&mut self, index: u32) -> HvStatus {
        self.fast(HvCall::UnmapEventLogBuffer, &MapBufferInput::own(LT, index))
    }

    pub(crate) fn release(&mut self, index: u32) -> HvStatus {
        self.fast(HvCall::ReleaseEventLogBuffer, &Self::id(index))
    }

    /// Sets the legacy group mask: a memory call, as the input is 544 bytes.
    pub(crate) fn sources(&mut self, mask: u64) -> HvStatus {
        self.mem(
            HvCall::SetEventLogGroupSources,
            &SetSourcesInput::legacy(LT, mask),
        )
    }

    /// Flushes buffer `index` (a buffer index, not a VP).
    pub(crate) fn flush(&mut self, index: u32) -> HvStatus {
        self.fast(HvCall::FlushEventLogBuffer, &FlushInput::new(LT, index))
    }

    /// Flushes every buffer that is in use, as a stopping partition does
    /// after reading the headers.
    pub(crate) fn flush_in_use(&mut self) {
        for index in 0..MAX_BUFFERS {
            if self.hv.buffer_state(index) == Some(BufferState::InUse) {
                assert_eq!(self.flush(index), HvStatus::SUCCESS);
            }
        }
    }

    pub(crate) fn finalize(&mut self) -> HvStatus {
        self.fast(HvCall::FinalizeEventLogBufferGroup, &FinalizeInput::new(LT))
    }

    /// Deposits `pfns` (rep call); returns the raw result.
    pub(crate) fn deposit_raw(&mut self, partition: u64, pfns: &[u64], start: u16) -> u64 {
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
    pub(crate) fn deposit(&mut self, node: u32, n: usize) {
        let pfns: Vec<u64> = (0..n).map(|_| self.p.alloc_page(node).unwrap()).collect();
        let raw = self.deposit_raw(HV_PARTITION_ID_SELF, &pfns, 0);
        assert_eq!(check(raw), Ok(n as u16));
    }

    pub(crate) fn balance(&mut self, prox: ProximityDomainInfo) -> Result<(u64, u64), HvStatus> {
        let status = self.mem(HvCall::GetMemoryBalance, &GetMemoryBalanceInput::own(prox));
        if status != HvStatus::SUCCESS {
            return Err(status);
        }
        let out = GetMemoryBalanceOutput::decode(&self.p.mem(self.output)[..]).unwrap();
        Ok((out.pages_available, out.pages_in_use))
    }

    pub(crate) fn assign(&mut self, index: u32, cpu: u32) {
        self.hv.set_affinity(&self.p, index, cpu).unwrap();
    }

    pub(crate) fn write(&mut self, cpu: u32, payload: u16) -> WriteResult {
        self.hv.write_event(&mut self.p, cpu, payload)
    }

    /// The whole contents of mapped buffer `index`, read through its PFNs.
    pub(crate) fn bytes(&mut self, index: u32) -> Vec<u8> {
        let pfns = self.mapped[&index].clone();
        pfns.iter()
            .flat_map(|&pfn| self.p.mem(pfn).to_vec())
            .collect()
    }

    pub(crate) fn header(&mut self, index: u32) -> BufferHeader {
        BufferHeader::decode(&self.bytes(index)).unwrap()
    }

    /// [`Hypervisor::teardown`]: the simulator takes every page back,
    /// mapped or not, as the module's unload does after the partition let
    /// go of them; so no buffer is watched any more. Returns what it does.
    pub(crate) fn teardown(&mut self) -> u64 {
        self.p.buffers.clear();
        self.hv.teardown(&mut self.p)
    }

    /// Tears the simulator down, gives back the rig's own pages and checks
    /// that nothing is left.
    pub(crate) fn finish(mut self) {
        self.hv.audit(&mut self.p).unwrap();
        self.teardown();
        assert_eq!(self.hv.pages_held(), 0);
        assert_eq!(*self.hv, Hypervisor::new());
        self.p.free_page(self.input);
        self.p.free_page(self.output);
        assert!(self.p.live.is_empty(), "leaked: {:x?}", self.p.live.keys());
    }
}

pub(crate) fn ok(status: HvStatus) {
    assert_eq!(status, HvStatus::SUCCESS);
}

pub(crate) fn padded(payload: u16) -> usize {
    (EntryHeader::SIZE + usize::from(payload)).next_multiple_of(ENTRY_ALIGN)
}
