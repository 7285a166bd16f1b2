// SPDX-License-Identifier: GPL-2.0

//! The hypercall path: one typed function per hypercall, over a [`Transport`].
//!
//! Every call is made the same way whoever answers it: the input is encoded
//! with [`tlfs`] into a page named by its physical address (or, for a fast
//! call, into the two input registers), the control word is built with
//! [`tlfs::Control`], the [`Transport`] carries the three values to a
//! hypervisor and the result value is decoded with [`tlfs`] into a
//! [`Result`] whose error, [`HvError`], names the call and the status.
//!
//! The real hypervisor is reached through [`crate::hv::trampoline::HvTransport`]; the
//! simulated one implements [`Transport`] too and reads the pages it is
//! handed through [`crate::platform::mm::phys_to_virt`], exactly as a hypervisor does.
//!
//! Memory for the hypervisor's pool (deposit and retry, topping a pool up)
//! is handled once, in [`super::pool`], over [`Hypercalls::deposit_memory`].
//!
//! # Use
//!
//! ```ignore
//! let hv = Hypercalls::new(&*transport);
//! let mut hp = HypercallPages::new()?;
//! hv.ensure_pool(&mut hp, PoolDomain::of_plan(node, pxm)?, pages)?; // pool.rs
//! hv.with_deposit(&mut hp, NodeChoice::Any, |hp| hv.initialize_group(hp, &input))?;
//! hv.with_deposit(&mut hp, NodeChoice::Only(node), |_| {
//!     hv.create_buffer(log_type, index, ProximityDomainInfo::node(pxm))
//! })?;
//! let pages = hv.map_buffer(&mut hp, log_type, index, &mut pfns)?;
//! ```
//!
//! # Context
//!
//! All functions here may sleep (they allocate with `GFP_KERNEL`), so they
//! are for process context. The hypercalls themselves neither sleep nor
//! need preemption or interrupts off: unlike the kernel's per-CPU hypercall
//! pages, [`HypercallPages`] belong to their owner, who serializes calls by
//! holding it mutably (inside a `Mutex`, or by owning it outright).

use kernel::{fmt, prelude::*, sync::Mutex};

use crate::{
    hv::pool::DepositBatch,
    platform::mm::{self, NodeChoice, NodePage},
    policy::calllog::{self, Entry},
    tlfs::{
        self, BufferIdInput, BufferIndex, Control, CreateBufferInput, DepositMemoryInput,
        DiagLogBufferConfig, EventLogType, FinalizeInput, FlushInput, GetMemoryBalanceInput,
        GetMemoryBalanceOutput, GetSystemPropertyInput, HvCall, HvStatus, InitializeGroupInput,
        MapBufferInput, MapOutput, Pfn, ProximityDomainInfo, SetSourcesInput, UnmapBufferInput,
        Wire,
    },
};

// `tlfs` is pure `core` and implements `core::fmt::Display`; the kernel's
// `pr_*!` take `kernel::fmt::Display`, so the buffer index the callers of
// these hypercalls log is forwarded here, beside the calls that take it.
impl fmt::Display for BufferIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// What carries a hypercall to a hypervisor: the kernel's hypercall
/// trampoline ([`crate::hv::trampoline::HvTransport`]) or the simulated hypervisor.
///
/// The signature is the trampoline's: the control word, then the input and
/// output guest physical addresses (or, with the fast bit set in the control
/// word, the two input registers), and the raw result value back, which is
/// [`tlfs::HV_NO_HYPERCALL_PAGE`] when there is no hypervisor to call.
pub(crate) trait Transport: Send + Sync {
    /// Makes one hypercall and returns its result value.
    ///
    /// # Safety
    ///
    /// For a call without the fast bit, `input_pa` and a non-zero `output_pa`
    /// must each be the page-aligned physical address of a whole page that
    /// the caller owns and that nothing else accesses until this returns:
    /// the hypervisor reads the input page and may write the output page.
    /// For HvCallDepositMemory, every page frame listed in the input must be
    /// owned by the caller, who gives the hypervisor ownership of the ones
    /// the result reports as completed. For a fast call the two values are
    /// plain data.
    unsafe fn hypercall(&self, control: u64, input_pa: u64, output_pa: u64) -> u64;
}

/// A hypercall that failed: which call, and the status it returned.
///
/// [`HvStatus::NO_HYPERCALL_PAGE`] stands for the result value
/// [`tlfs::HV_NO_HYPERCALL_PAGE`]: no hypervisor answered at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HvError {
    call: HvCall,
    status: HvStatus,
}

impl HvError {
    /// Decodes the result value `raw` of `call`: the reps completed on
    /// success, the failure otherwise.
    fn check(call: HvCall, raw: u64) -> Result<u16, Self> {
        // Told apart before the status is looked at: all ones is what the
        // kernel returns without a hypercall page, not a hypervisor's answer.
        if raw == tlfs::HV_NO_HYPERCALL_PAGE {
            return Err(Self {
                call,
                status: HvStatus::NO_HYPERCALL_PAGE,
            });
        }
        tlfs::check(raw).map_err(|status| Self { call, status })
    }

    /// The call that failed.
    pub(crate) fn call(&self) -> HvCall {
        self.call
    }

    /// The status it returned.
    pub(crate) fn status(&self) -> HvStatus {
        self.status
    }

    /// Whether there was no hypervisor to call (no hypercall page).
    pub(crate) fn no_hypercall_page(&self) -> bool {
        self.status == HvStatus::NO_HYPERCALL_PAGE
    }
}

impl From<HvError> for Error {
    /// The errno of [`HvStatus::to_errno`]; `ENODEV` without a hypervisor.
    fn from(err: HvError) -> Self {
        if err.no_hypercall_page() {
            return ENODEV;
        }
        match err.status.to_errno() {
            // Not reachable (an `HvError` never holds success), but an error
            // must not turn into "no error".
            0 => EIO,
            errno => Error::from_errno(-errno),
        }
    }
}

impl fmt::Display for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let call = self.call.name();
        if self.no_hypercall_page() {
            return f.write_fmt(fmt!("{call}: no hypercall page (not running on Hyper-V)"));
        }
        let (name, code) = (self.status.name(), self.status.0);
        f.write_fmt(fmt!("{call} failed: {name} ({code:#06x})"))
    }
}

/// The input and the output page of the hypercalls one owner makes.
///
/// Both are reused from call to call, so whoever makes calls must own this
/// mutably for the duration (the lifecycle code owns it, or holds it under a
/// `Mutex`); that is what keeps two calls from sharing a page.
pub(crate) struct HypercallPages {
    input: NodePage,
    output: NodePage,
    /// Pages deposited through these pages, per node. Only counted (for
    /// debugfs `pool`): deposited pages stay with the hypervisor for good.
    deposited: KVec<u64>,
}

impl HypercallPages {
    /// Allocates the two pages. Sleeps.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            input: NodePage::alloc(NodeChoice::Any)?,
            output: NodePage::alloc(NodeChoice::Any)?,
            deposited: KVec::new(),
        })
    }

    /// Pages deposited so far from each node: `(node, pages)`, nodes with
    /// none left out.
    pub(crate) fn deposited(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        (0u32..)
            .zip(self.deposited.iter().copied())
            .filter(|&(_, pages)| pages != 0)
    }

    /// Counts `pfns` as deposited, by the node each page is on. A page whose
    /// node cannot be told (or past the table's growth on ENOMEM) is not
    /// counted.
    fn count_deposited(&mut self, pfns: &[u64]) {
        for node in pfns.iter().filter_map(|&pfn| mm::node_of_pfn(Pfn(pfn))) {
            let node = node.as_u32() as usize;
            if self.deposited.len() <= node
                && self.deposited.resize(node + 1, 0, GFP_KERNEL).is_err()
            {
                continue;
            }
            self.deposited[node] += 1;
        }
    }

    /// The input page, zeroed: nothing of an earlier (longer) input may be
    /// read as part of the next one.
    fn input(&mut self) -> &mut [u8] {
        let page = self.input.as_mut_slice();
        page.fill(0);
        page
    }

    /// Encodes `input` into the (zeroed) input page.
    fn encode<I: Wire>(&mut self, input: &I) {
        const { assert!(I::SIZE <= tlfs::PAGE_SIZE) };
        // Cannot fail: the page holds `I::SIZE` bytes, as asserted above.
        let _ = input.encode(self.input());
    }
}

/// Whether a failed flush only lost the race against the hypervisor: the
/// caller saw the buffer in use in its header, and by the time of the call
/// it had completed. No status for this is documented; the simulator
/// answers `HV_STATUS_OPERATION_DENIED` (see its "Statuses"), and
/// Microsoft's driver ignores every flush failure (mshv_trace.c,
/// `mshv_trace_flush_buffers`) and waits for the header instead.
pub(crate) fn flush_raced(err: &HvError) -> bool {
    err.status() == HvStatus::OPERATION_DENIED
}

/// Whether a memory call returns output (in the output page).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    None,
    Page,
}

/// The hypercall log behind debugfs `hypercalls` (`log_hypercalls=N`): the
/// last N calls made through a [`Hypercalls`] that was given it.
pub(crate) type CallLog = Mutex<calllog::Ring<KVec<Entry>>>;

/// The typed hypercalls, made through one [`Transport`].
///
/// Cheap to copy; it only borrows the transport (and the log). Each call
/// takes the [`HypercallPages`] to use, except the fast ones, which need
/// none.
#[derive(Clone, Copy)]
pub(crate) struct Hypercalls<'t> {
    transport: &'t dyn Transport,
    log: Option<&'t CallLog>,
}

impl<'t> Hypercalls<'t> {
    /// The hypercalls made through `transport`, not recorded.
    pub(crate) fn new(transport: &'t dyn Transport) -> Self {
        Self {
            transport,
            log: None,
        }
    }

    /// The hypercalls made through `transport`, each recorded in `log`.
    pub(crate) fn logged(transport: &'t dyn Transport, log: &'t CallLog) -> Self {
        Self {
            transport,
            log: Some(log),
        }
    }

    /// Makes one hypercall through the transport and records it in the log:
    /// the one place every call passes through. `input` is what the
    /// hypervisor is handed (the input bytes of a memory call, in the input
    /// page at `input_pa`; the two registers of a fast call); it is copied
    /// before the call, so no reference into the input page is held while
    /// the hypervisor reads it.
    ///
    /// # Safety
    ///
    /// As [`Transport::hypercall`].
    unsafe fn transport_call(
        &self,
        control: u64,
        input_pa: u64,
        output_pa: u64,
        input: impl FnOnce() -> Option<Entry>,
    ) -> u64 {
        let entry = self.log.and_then(|_| input());
        // SAFETY: our caller upholds the `Transport` contract.
        let raw = unsafe { self.transport.hypercall(control, input_pa, output_pa) };
        if let (Some(log), Some(entry)) = (self.log, entry) {
            log.lock().record(Entry {
                result: raw,
                ..entry
            });
        }
        raw
    }

    /// The log entry of a memory call whose input is the first `len` bytes
    /// of `hp`'s input page.
    fn page_entry(control: u64, hp: &HypercallPages, len: usize) -> Option<Entry> {
        let bytes = hp.input.as_slice().get(..len)?;
        Some(Entry::new(0, control, 0, bytes))
    }

    /// Makes memory call `call` with `input` in the input page and, if it has
    /// output, the zeroed output page to receive it.
    fn call_memory<I: Wire>(
        &self,
        hp: &mut HypercallPages,
        call: HvCall,
        input: &I,
        output: Output,
    ) -> Result<(), HvError> {
        hp.encode(input);
        let output_pa = match output {
            Output::None => 0,
            Output::Page => {
                // A hypervisor that writes less than promised leaves zeros,
                // never the previous call's output.
                hp.output.as_mut_slice().fill(0);
                hp.output.phys()
            }
        };
        let control = Control::new(call).raw();
        let entry = || Self::page_entry(control, hp, I::SIZE);
        // SAFETY: Not a fast call. Both pages belong to `hp`, which is
        // borrowed mutably for the whole call, so nothing else touches them;
        // the input page holds the encoded input. Not a deposit.
        let raw = unsafe { self.transport_call(control, hp.input.phys(), output_pa, entry) };
        HvError::check(call, raw).map(|_| ())
    }

    /// Makes fast call `call` with `input` in the two input registers.
    fn call_fast<I: Wire>(&self, call: HvCall, input: &I) -> Result<(), HvError> {
        const { assert!(I::SIZE <= 16) };
        // Cannot fail: the input fits in 16 bytes, as asserted above.
        let [first, second] = input.fast_input().unwrap_or_default();
        let control = Control::fast_call(call).raw();
        let entry = || {
            let mut regs = [0u8; 16];
            regs[..8].copy_from_slice(&first.to_le_bytes());
            regs[8..].copy_from_slice(&second.to_le_bytes());
            Some(Entry::new(0, control, 0, &regs))
        };
        // SAFETY: A fast call: the two values are data, no memory is named.
        let raw = unsafe { self.transport_call(control, first, second, entry) };
        HvError::check(call, raw).map(|_| ())
    }

    /// HvCallInitializeEventLogBufferGroup: sets up the group `input` names.
    /// May need pool memory: run it under [`Self::with_deposit`].
    pub(crate) fn initialize_group(
        &self,
        hp: &mut HypercallPages,
        input: &InitializeGroupInput,
    ) -> Result<(), HvError> {
        self.call_memory(
            hp,
            HvCall::InitializeEventLogBufferGroup,
            input,
            Output::None,
        )
    }

    /// HvCallFinalizeEventLogBufferGroup, as a fast call: tears the group of
    /// `log_type` down. Refused (`HV_STATUS_OPERATION_DENIED`) while buffers
    /// exist or sources are enabled.
    pub(crate) fn finalize_group(&self, log_type: EventLogType) -> Result<(), HvError> {
        self.call_fast(
            HvCall::FinalizeEventLogBufferGroup,
            &FinalizeInput::new(log_type),
        )
    }

    /// HvCallCreateEventLogBuffer, as a 16-byte fast call like Microsoft's
    /// mshv_trace.c: creates buffer `index` of `log_type`, its pages taken
    /// from `proximity`. May need pool memory: run it under
    /// [`Self::with_deposit`] with the same node.
    pub(crate) fn create_buffer(
        &self,
        log_type: EventLogType,
        index: BufferIndex,
        proximity: ProximityDomainInfo,
    ) -> Result<(), HvError> {
        let input = CreateBufferInput::new(log_type, index.0, proximity);
        self.call_fast(HvCall::CreateEventLogBuffer, &input)
    }

    /// HvCallDeleteEventLogBuffer, as an 8-byte fast call like Microsoft's
    /// mshv_trace.c: deletes buffer `index` of `log_type`.
    pub(crate) fn delete_buffer(
        &self,
        log_type: EventLogType,
        index: BufferIndex,
    ) -> Result<(), HvError> {
        self.call_fast(
            HvCall::DeleteEventLogBuffer,
            &BufferIdInput::new(log_type, index.0),
        )
    }

    /// HvCallMapEventLogBuffer (a memory call with an output page): maps
    /// buffer `index` of `log_type` read-only into this partition
    /// ([`MapBufferInput::own`]) and stores the guest page frame numbers of
    /// its first pages into `pfns`, in buffer order, one per element (at
    /// most [`tlfs::MAP_MAX_PAGES`]). Returns how many were stored.
    ///
    /// Pass a slice as long as the buffer: entries past the buffer's size
    /// are unspecified by the hypervisor. The numbers are the hypervisor's
    /// word: check them ([`crate::platform::mm::pfn_valid`]) before touching a page.
    /// May need pool memory: run it under [`Self::with_deposit`].
    pub(crate) fn map_buffer(
        &self,
        hp: &mut HypercallPages,
        log_type: EventLogType,
        index: BufferIndex,
        pfns: &mut [u64],
    ) -> Result<usize, HvError> {
        let input = MapBufferInput::own(log_type, index.0);
        self.call_memory(hp, HvCall::MapEventLogBuffer, &input, Output::Page)?;
        let out = hp.output.as_slice();
        let mut stored = 0;
        for (index, pfn) in pfns.iter_mut().enumerate().take(tlfs::MAP_MAX_PAGES) {
            // Always `Some`: `index` is below `MAP_MAX_PAGES`, and the output
            // page holds exactly that many.
            *pfn = MapOutput::page_number(out, index).unwrap_or(0);
            stored += 1;
        }
        Ok(stored)
    }

    /// HvCallUnmapEventLogBuffer, as a 16-byte fast call like Microsoft's
    /// mshv_trace.c: unmaps buffer `index` of `log_type` from this
    /// partition; allowed only while it is free or ready.
    pub(crate) fn unmap_buffer(
        &self,
        log_type: EventLogType,
        index: BufferIndex,
    ) -> Result<(), HvError> {
        let input: UnmapBufferInput = MapBufferInput::own(log_type, index.0);
        self.call_fast(HvCall::UnmapEventLogBuffer, &input)
    }

    /// HvCallReleaseEventLogBuffer, as an 8-byte fast call like Microsoft's
    /// mshv_trace.c: hands consumed buffer `index` of `log_type` back to the
    /// hypervisor.
    pub(crate) fn release_buffer(
        &self,
        log_type: EventLogType,
        index: BufferIndex,
    ) -> Result<(), HvError> {
        self.call_fast(
            HvCall::ReleaseEventLogBuffer,
            &BufferIdInput::new(log_type, index.0),
        )
    }

    /// HvCallSetEventLogGroupSources, a memory call in the legacy form
    /// ([`SetSourcesInput::legacy`]): enables exactly the groups in `mask`
    /// for the group of `log_type`; zero disables logging. The caller checks
    /// the mask (bit 0 must be clear; see [`crate::policy::params::check_sources_mask`]).
    pub(crate) fn set_sources(
        &self,
        hp: &mut HypercallPages,
        log_type: EventLogType,
        mask: u64,
    ) -> Result<(), HvError> {
        let input = SetSourcesInput::legacy(log_type, mask);
        self.call_memory(hp, HvCall::SetEventLogGroupSources, &input, Output::None)
    }

    /// HvCallFlushEventLogBuffer, as an 8-byte fast call like Microsoft's
    /// mshv_trace.c: completes in-use buffer `buffer_index` of `log_type`
    /// early. A buffer that is not in use (any more) is refused; see
    /// [`flush_raced`].
    pub(crate) fn flush(
        &self,
        log_type: EventLogType,
        buffer_index: BufferIndex,
    ) -> Result<(), HvError> {
        self.call_fast(
            HvCall::FlushEventLogBuffer,
            &FlushInput::new(log_type, buffer_index.0),
        )
    }

    /// HvCallGetSystemProperty, property 28 ("diagnostic log buffers"): how
    /// many system-diagnostics (type 2) buffers the hypervisor keeps and how
    /// many pages each has. A slow call with an output page, as Microsoft's
    /// reader makes it (`get_diaglog_info()` in drivers/hv/diag/mshv_diaglog.c,
    /// microsoft/CBL-Mariner-Linux-Kernel).
    pub(crate) fn diag_log_buffers(
        &self,
        hp: &mut HypercallPages,
    ) -> Result<DiagLogBufferConfig, HvError> {
        let input = GetSystemPropertyInput::new(tlfs::SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS);
        self.call_memory(hp, HvCall::GetSystemProperty, &input, Output::Page)?;
        // Always `Some`: the output page is longer than the output.
        Ok(DiagLogBufferConfig::decode(hp.output.as_slice()).unwrap_or_default())
    }

    /// HvCallGetMemoryBalance: the pages available and in use in this
    /// partition's pool, for one proximity domain or (with
    /// [`ProximityDomainInfo::none`]) as a whole.
    pub(crate) fn memory_balance(
        &self,
        hp: &mut HypercallPages,
        proximity: ProximityDomainInfo,
    ) -> Result<GetMemoryBalanceOutput, HvError> {
        let input = GetMemoryBalanceInput::own(proximity);
        self.call_memory(hp, HvCall::GetMemoryBalance, &input, Output::Page)?;
        // Always `Some`: the output page is longer than the output.
        Ok(GetMemoryBalanceOutput::decode(hp.output.as_slice()).unwrap_or_default())
    }

    /// HvCallDepositMemory (a rep call): offers the pages of `batch` to this
    /// partition's pool and returns how many the hypervisor took.
    ///
    /// The pages it took are its own from then on: they are never freed
    /// here. The rest, after a failure or when the hypervisor stops making
    /// progress, are freed when this returns. The rep start index is advanced
    /// and the call repeated while the hypervisor returns success with part
    /// of the list done, as TLFS rep calls may.
    pub(crate) fn deposit_memory(
        &self,
        hp: &mut HypercallPages,
        batch: DepositBatch,
    ) -> Result<usize, HvError> {
        const CALL: HvCall = HvCall::DepositMemory;
        let count = batch.len();
        // The invariant of `DepositBatch` bounds `count` by
        // `DEPOSIT_MAX_PAGES`, so neither conversion can fail.
        let input = DepositMemoryInput::new(tlfs::HV_PARTITION_ID_SELF);
        let encoded = input.encode_with_pages(hp.input(), batch.pfns());
        let rep_count = u16::try_from(count).unwrap_or(0);
        if encoded.is_none() || batch.is_empty() {
            batch.hand_over(0);
            return Ok(0);
        }

        let mut done: u16 = 0;
        let result = loop {
            let Some(control) =
                Control::rep_call(CALL, rep_count).and_then(|c| c.with_rep_start(done))
            else {
                break Ok(());
            };
            let len = DepositMemoryInput::SIZE + count * 8;
            let entry = || Self::page_entry(control.raw(), hp, len);
            // SAFETY: Not a fast call. The input page belongs to `hp`,
            // borrowed mutably for the call, and holds the encoded input; no
            // output. Every listed frame is a page `batch` owns; the ones the
            // hypervisor reports as done are handed over below.
            let raw = unsafe { self.transport_call(control.raw(), hp.input.phys(), 0, entry) };
            match HvError::check(CALL, raw) {
                Ok(reps) if reps > done && reps < rep_count => done = reps,
                Ok(reps) => {
                    // All done, or no progress: take what was done and stop.
                    done = done.max(reps.min(rep_count));
                    break Ok(());
                }
                Err(err) => {
                    // A failed rep call still reports the reps it completed;
                    // an all-ones result is no answer at all.
                    if !err.no_hypercall_page() {
                        done = done.max(tlfs::result_reps(raw).min(rep_count));
                    }
                    break Err(err);
                }
            }
        };
        hp.count_deposited(&batch.pfns()[..usize::from(done)]);
        batch.hand_over(usize::from(done));
        result.map(|()| usize::from(done))
    }
}
