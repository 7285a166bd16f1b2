// SPDX-License-Identifier: GPL-2.0

//! The kernel services hv_evlog builds on, wrapped narrowly: node-local
//! pages and their addresses, the NUMA tables and the buffer plan made from
//! them at load, periodic work.

pub(crate) mod mm;
pub(crate) mod placement;
pub(crate) mod ticker;
pub(crate) mod topology;
pub(crate) mod user_mapping;
