// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor.

pub(crate) mod hypervisor;
pub(crate) mod writer;
