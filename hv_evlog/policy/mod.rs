// SPDX-License-Identifier: GPL-2.0

//! Decisions with no kernel in them: parameter validation, completion
//! tracking, live-group planning, header snapshots and the call log. Only
//! `core`; tests/host compiles these same files, and the kernel shell
//! (`hv`, `group`, `device`) acts on what they decide.

// Pure: nothing here may need `unsafe`.
#![forbid(unsafe_code)]

pub mod calllog;
pub mod completion;
pub mod live;
pub mod params;
pub mod snapshot;
