// SPDX-License-Identifier: GPL-2.0

//! Memory for the hypervisor's pool, handled once: [`Hypercalls::with_deposit`]
//! deposits and retries when a call reports `HV_STATUS_INSUFFICIENT_MEMORY`,
//! and [`Hypercalls::ensure_pool`] tops a proximity domain's pool up front.
//!
//! Deposited pages are the hypervisor's for good: nothing here withdraws
//! them (HvCallWithdrawMemory), because the root partition's pool also holds
//! what other drivers deposited, and upstream Linux (`hv_proc.c`) never
//! withdraws from it either.

use kernel::{fmt, prelude::*};

use super::hypercall::{HvError, HypercallPages, Hypercalls};
use crate::{
    platform::{
        mm::{NodeChoice, NodePage},
        topology::NodeId,
    },
    tlfs::{Control, DepositMemoryInput, HvStatus, ProximityDomainInfo, Pxm},
};

/// `HV_STATUS_INSUFFICIENT_ROOT_MEMORY` (Linux's hvgdk_mini.h): the root
/// partition's own pool is short. hv_evlog runs in the root and deposits into
/// its own pool anyway, so it is answered like `INSUFFICIENT_MEMORY`. Not in
/// [`tlfs`] yet, hence defined here.
const INSUFFICIENT_ROOT_MEMORY: HvStatus = HvStatus(0x0073);

/// Whether `status` asks for pages to be deposited before a retry.
///
/// The "contiguous" variants (0x0075, 0x0083) are not among them: they want
/// physically contiguous runs, which order-0 deposits do not provide.
fn needs_memory(status: HvStatus) -> bool {
    status == HvStatus::INSUFFICIENT_MEMORY || status == INSUFFICIENT_ROOT_MEMORY
}

/// Largest number of pages one HvCallDepositMemory takes: as many page
/// numbers as fit in the input page after its header.
pub(crate) const DEPOSIT_MAX_PAGES: usize = DepositMemoryInput::MAX_PAGES;

// The rep count field must be able to name every page of a full batch.
const _: () = assert!(DEPOSIT_MAX_PAGES <= Control::REP_MAX as usize);

/// Pages [`Hypercalls::with_deposit`] deposits the first time a call runs
/// out of pool memory; each further deposit doubles, up to
/// [`DEPOSIT_MAX_PAGES`]. The hypervisor does not say how much it lacks:
/// starting small keeps what a small call leaves in the pool small, doubling
/// lets a large buffer (up to 512 pages) be satisfied in a few rounds.
const DEPOSIT_FIRST_BATCH: usize = 16;

/// Deposits [`Hypercalls::with_deposit`] makes for one call before it gives
/// up: up to 16 + 32 + ... + 511 = 2029 pages (about 8 MiB).
const DEPOSIT_ROUNDS: usize = 8;

/// Pages allocated on one node for one HvCallDepositMemory.
///
/// # Invariants
///
/// `pages` and `pfns` have the same length, at most [`DEPOSIT_MAX_PAGES`],
/// and `pfns[i]` is the frame number of `pages[i]`.
pub(crate) struct DepositBatch {
    pages: KVec<NodePage>,
    pfns: KVec<u64>,
}

impl DepositBatch {
    /// Allocates `count` zeroed pages per `choice`. Sleeps.
    ///
    /// `EINVAL` if `count` exceeds [`DEPOSIT_MAX_PAGES`] or the node has no
    /// memory, `ENOMEM` if the pages cannot be had; pages already allocated
    /// are freed then.
    pub(crate) fn alloc(choice: NodeChoice, count: usize) -> Result<Self> {
        if count > DEPOSIT_MAX_PAGES {
            return Err(EINVAL);
        }
        let mut pages = KVec::with_capacity(count, GFP_KERNEL)?;
        let mut pfns = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            let page = NodePage::alloc(choice)?;
            pfns.push(page.pfn().0, GFP_KERNEL)?;
            pages.push(page, GFP_KERNEL)?;
        }
        // INVARIANT: One frame number pushed per page, `count` of each.
        Ok(Self { pages, pfns })
    }

    /// Number of pages.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// The frame numbers, in the order the pages were allocated.
    pub(super) fn pfns(&self) -> &[u64] {
        &self.pfns
    }

    /// Whether the batch holds no pages.
    pub(crate) fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Gives the first `accepted` pages to the hypervisor, which now owns
    /// them, and frees the rest.
    pub(super) fn hand_over(self, accepted: usize) {
        for (index, page) in self.pages.into_iter().enumerate() {
            if index < accepted {
                // The hypervisor has the frame number; it owns the page now.
                let _ = page.into_pfn();
            }
        }
    }
}

/// A pool to top up: one proximity domain's share, or the pool as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolDomain {
    /// The pool as a whole (for groups that are not local); pages may come
    /// from any node.
    Whole,
    /// The share of proximity domain `pxm`, which is NUMA node `node`.
    Node {
        /// The NUMA node whose pages are deposited.
        node: NodeId,
        /// Its ACPI proximity domain, as the hypervisor names it.
        pxm: Pxm,
    },
}

impl PoolDomain {
    /// The share of the plan's target node `node`, whose proximity domain is
    /// `pxm` (both as the plan records them).
    pub(crate) fn of_plan(node: u32, pxm: u32) -> Result<Self> {
        Ok(Self::Node {
            node: NodeId::of_plan(node)?,
            pxm: Pxm(pxm),
        })
    }

    fn proximity(self) -> ProximityDomainInfo {
        match self {
            Self::Whole => ProximityDomainInfo::none(),
            Self::Node { pxm, .. } => ProximityDomainInfo::node(pxm.0),
        }
    }

    /// Where the pages deposited into this pool come from.
    pub(crate) fn node_choice(self) -> NodeChoice {
        match self {
            Self::Whole => NodeChoice::Any,
            Self::Node { node, .. } => NodeChoice::Only(node),
        }
    }
}

impl fmt::Display for PoolDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Whole => f.write_str("the whole pool"),
            Self::Node { node, pxm } => {
                f.write_fmt(fmt!("node {node} (proximity domain {})", pxm.0))
            }
        }
    }
}

/// Why [`Hypercalls::ensure_pool`] failed.
#[derive(Debug)]
pub(crate) enum PoolFailure {
    /// The query or a deposit failed.
    Hv(HvError),
    /// The pages to deposit could not be allocated on the node.
    Alloc {
        /// Pages still missing from the pool.
        missing: u64,
        /// What the allocation returned (`ENOMEM`, or `EINVAL` for a node
        /// without memory).
        error: Error,
    },
    /// Everything was deposited, but the pool still reports too few pages.
    Short {
        /// Pages the pool reports after the deposits.
        available: u64,
    },
}

/// [`Hypercalls::ensure_pool`] failed for `domain`. Not logged: print it
/// (`{}` names the domain, the need and the reason) and convert it into an
/// `Error` with `?`.
#[derive(Debug)]
pub(crate) struct PoolError {
    /// The pool that could not be topped up.
    pub(crate) domain: PoolDomain,
    /// Pages it needed.
    pub(crate) needed: u64,
    /// What went wrong.
    pub(crate) reason: PoolFailure,
}

impl From<PoolError> for Error {
    fn from(err: PoolError) -> Self {
        match err.reason {
            PoolFailure::Hv(hv) => hv.into(),
            PoolFailure::Alloc { error, .. } => error,
            PoolFailure::Short { .. } => ENOMEM,
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (domain, needed) = (self.domain, self.needed);
        f.write_fmt(fmt!("pool of {domain}, {needed} pages needed: "))?;
        match &self.reason {
            PoolFailure::Hv(err) => f.write_fmt(fmt!("{err}")),
            PoolFailure::Alloc { missing, error } => f.write_fmt(fmt!(
                "cannot allocate the {missing} pages missing ({error:?})"
            )),
            PoolFailure::Short { available } => f.write_fmt(fmt!(
                "the hypervisor reports only {available} after depositing"
            )),
        }
    }
}

impl Hypercalls<'_> {
    /// Runs `f`, which makes one hypercall, and when the hypervisor reports
    /// `HV_STATUS_INSUFFICIENT_MEMORY` (or `_ROOT_MEMORY`) deposits pages
    /// from `choice` and runs it again: [`DEPOSIT_ROUNDS`] deposits at most,
    /// growing from [`DEPOSIT_FIRST_BATCH`] pages, then the call's error
    /// stands.
    ///
    /// Deposited pages stay with the hypervisor. Failures are logged (the
    /// call, its status and the node), since the returned `Error` keeps only
    /// the errno.
    pub(crate) fn with_deposit<T>(
        &self,
        hp: &mut HypercallPages,
        choice: NodeChoice,
        mut f: impl FnMut(&mut HypercallPages) -> Result<T, HvError>,
    ) -> Result<T> {
        let mut batch = DEPOSIT_FIRST_BATCH;
        let mut deposited = 0;
        for _ in 0..DEPOSIT_ROUNDS {
            let err = match f(hp) {
                Ok(value) => return Ok(value),
                Err(err) if needs_memory(err.status()) => err,
                Err(err) => {
                    pr_err!("{err}\n");
                    return Err(err.into());
                }
            };
            let call = err.call().name();
            let pages = DepositBatch::alloc(choice, batch).inspect_err(|e| {
                pr_err!("{call}: cannot allocate {batch} pages to deposit on {choice} ({e:?})\n");
            })?;
            deposited += self.deposit_memory(hp, pages).map_err(|e| {
                pr_err!("{call}: depositing {batch} pages from {choice}: {e}\n");
                Error::from(e)
            })?;
            batch = batch.saturating_mul(2).min(DEPOSIT_MAX_PAGES);
        }
        f(hp).map_err(|err| {
            pr_err!("{err} (after depositing {deposited} pages from {choice})\n");
            err.into()
        })
    }

    /// Makes sure the pool of `domain` holds at least `pages_needed` pages:
    /// queries it, deposits the shortfall from the domain's node in batches
    /// of up to [`DEPOSIT_MAX_PAGES`], queries again and checks. Returns the
    /// pages available afterwards.
    ///
    /// Pages deposited before a failure stay with the hypervisor.
    pub(crate) fn ensure_pool(
        &self,
        hp: &mut HypercallPages,
        domain: PoolDomain,
        pages_needed: u64,
    ) -> Result<u64, PoolError> {
        let fail = |reason| PoolError {
            domain,
            needed: pages_needed,
            reason,
        };
        let proximity = domain.proximity();
        let balance = self
            .memory_balance(hp, proximity)
            .map_err(|e| fail(PoolFailure::Hv(e)))?;
        if balance.pages_available >= pages_needed {
            return Ok(balance.pages_available);
        }

        let mut missing = pages_needed - balance.pages_available;
        while missing > 0 {
            // At most `DEPOSIT_MAX_PAGES`, so the conversion cannot fail.
            let count = usize::try_from(missing.min(DEPOSIT_MAX_PAGES as u64)).unwrap_or(0);
            let batch = DepositBatch::alloc(domain.node_choice(), count)
                .map_err(|error| fail(PoolFailure::Alloc { missing, error }))?;
            let taken = self
                .deposit_memory(hp, batch)
                .map_err(|e| fail(PoolFailure::Hv(e)))?;
            if taken == 0 {
                // No progress; the re-query below tells what is missing.
                break;
            }
            missing = missing.saturating_sub(taken as u64);
        }

        let balance = self
            .memory_balance(hp, proximity)
            .map_err(|e| fail(PoolFailure::Hv(e)))?;
        if balance.pages_available < pages_needed {
            return Err(fail(PoolFailure::Short {
                available: balance.pages_available,
            }));
        }
        Ok(balance.pages_available)
    }
}
