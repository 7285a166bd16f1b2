// SPDX-License-Identifier: GPL-2.0

//! The part of the module's TLFS definitions the tool reads, compiled
//! unchanged from `hv_evlog/tlfs/`, so that the tool and the module can never
//! disagree about the format: the buffer and entry headers and the entry
//! walker, the enums and source names the tool prints and parses, and the
//! codec they are built on. The hypercall ABI, inputs and messages are left
//! out. Mounted by the tool, its benchmark program and its tests alike, each
//! beside the module's `uapi.rs`.

#![allow(
    dead_code,
    unused_imports,
    reason = "the module uses the rest of these files; each of the tool's crates a different part"
)]

#[path = "../../../hv_evlog/tlfs/buffer.rs"]
mod buffer;
#[path = "../../../hv_evlog/tlfs/enums.rs"]
mod enums;
#[path = "../../../hv_evlog/tlfs/sources.rs"]
mod sources;
#[path = "../../../hv_evlog/tlfs/wire.rs"]
mod wire;

pub use self::{buffer::*, enums::*, sources::*, wire::*};

/// The most buffers a group holds. `hv_evlog/tlfs/mod.rs`, which defines
/// it, is not compiled here; the module ties `HV_EVLOG_MAX_BUFFERS` to it
/// at compile time (`device/uapi_kernel.rs`), so the UAPI's constant is the
/// same number. The module's `live.rs`, which the tool compiles to explain
/// a refused resize, names it here.
pub use crate::uapi::MAX_BUFFERS;
