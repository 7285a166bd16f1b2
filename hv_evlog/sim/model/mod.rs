// SPDX-License-Identifier: GPL-2.0

//! The simulated hypervisor's pure core: only `core`, no `unsafe`, compiled
//! unchanged by the host tests (tests/host). The kernel shell in
//! [`super`] gives it pages, time and a lock.

pub mod hypervisor;
pub mod synic;
pub mod system;
pub mod writer;
