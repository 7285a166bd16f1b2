// SPDX-License-Identifier: GPL-2.0

//! The simulated hypervisor's pure core: only `core`, no `unsafe`, compiled
//! unchanged by the host tests (tests/host). The kernel shell in
//! [`super`] gives it pages, time and a lock.
//!
//! One value, [`hypervisor::Hypervisor`], is the whole hypervisor; each file
//! below adds one of its parts as `impl` blocks, so a part's state and rules
//! sit together.

// Pure: nothing here may need `unsafe`.
#![forbid(unsafe_code)]

/// The value, its public calls and the rules of the whole ("Model",
/// "Charges", "Statuses").
pub mod hypervisor;
/// What it runs on: the [`machine::Platform`] and page access.
pub mod machine;

/// The buffer group and the buffer state machine.
mod buffers;
/// Completion chains and the outbox.
mod chains;
/// Control word and input decoding, the call table.
mod dispatch;
/// Per-node pools: deposit, withdraw, balance, charges.
mod pool;

/// The SynIC's SINT0 message slots.
pub mod synic;
/// The hypervisor's own system-diagnostics log (type 2).
pub mod system;
/// The synthetic event writers.
pub mod writer;
