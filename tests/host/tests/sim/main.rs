// SPDX-License-Identifier: GPL-2.0

//! Host tests of the simulated hypervisor (hv_evlog/sim/model/), one module
//! per part of it.
//!
//! Every call goes through the real ABI: inputs encoded with the tlfs
//! definitions into an input page, control words built with `Control`,
//! results decoded with `result_status`/`result_reps`, buffers read through
//! the PFNs the map call returned. The fake platform owns every page; it
//! panics on a double free, on a free of a page it never handed out and on
//! any access to a page nobody owns, and the tests check it holds nothing
//! after teardown.

mod rig;

mod buffers;
mod calls;
mod chains;
mod group;
mod pool;
mod random;
mod snapshot;
mod synic;
mod system;
mod writer;
