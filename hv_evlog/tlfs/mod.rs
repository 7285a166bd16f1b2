// SPDX-License-Identifier: GPL-2.0

//! Hyper-V TLFS event-log definitions (pure, host-tested).
//!
//! Everything hv_evlog exchanges with the hypervisor, as plain data: hypercall
//! codes, the control word, result values and statuses, the event log enums,
//! the input and output layouts, and the buffer and entry headers the
//! hypervisor writes into the buffers it logs into.
//!
//! Only `core` is used and nothing here touches memory it was not handed, so
//! the same files build in the kernel module, in the simulated hypervisor and
//! in the host tests, and the buffer format's files in the CLI. There is no
//! `unsafe`: every layout is encoded and decoded byte by byte, little endian,
//! at offsets that are pinned by compile-time assertions next to each type.
//!
//! # Sources and the choices made here
//!
//! The codes, statuses and layouts follow Microsoft's public Hypervisor
//! Top-Level Functional Specification (TLFS), the Windows HDK header and the
//! definitions in Microsoft's Linux trees. Where those disagree, or are
//! silent, the choice is documented on the item:
//!
//! - [`InitializeGroupInput`]: the newer (type + mode) generation, naturally
//!   aligned like the HDK declares it; the packed Linux variant is one alias
//!   away.
//! - [`BufferHeader`]: 72 bytes, as in both HDK generations and Linux; the
//!   entries start right after it, at [`ENTRIES_OFFSET`], and its
//!   `buffer_size` and `next_buffer_offset` count bytes from the end of the
//!   header.
//! - Map, unmap, set sources and flush follow Microsoft's own Linux driver
//!   for these calls (drivers/hv/diag/mshv_trace.c and include/hyperv/
//!   hvtrapi.h in microsoft/CBL-Mariner-Linux-Kernel), which the reference
//!   file names as the authority where it and the HDK disagree:
//!   [`MapBufferInput`] names the partition, [`SetSourcesInput`] is the
//!   544-byte legacy-form input with Microsoft's group bits ([`SOURCES`]),
//!   [`FlushInput`] names a buffer index.
//! - The pool query uses HvCallGetMemoryBalance, the TLFS call made for it,
//!   rather than a partition property (see [`GetMemoryBalanceInput`]).
//! - [`HvStatus::to_errno`] is hv_evlog's own, more specific than the
//!   kernel's `hv_result_to_errno()`.
//!
//! # Calling conventions
//!
//! A *memory* call passes its input in one page and names it by its guest
//! physical address; [`Wire::encode`] writes that page. A *fast* call (bit 16
//! of the control word) passes up to 16 bytes of input in two registers
//! instead: the first eight input bytes, read as a little-endian `u64`, go in
//! the first register (RDX on x86_64) and the next eight in the second (R8).
//! [`Wire::fast_input`] produces exactly those two values from the same byte
//! encoding, so a call's fast and memory forms can never disagree.

// Pure: nothing here may need `unsafe`.
#![forbid(unsafe_code)]
// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

// One file per concern: the codec and its macros (wire), the call ABI (call,
// status), the calls' inputs and outputs (input, memory, property), what the
// hypervisor writes into buffers (enums, sources, buffer; all the CLI
// compiles) and the SynIC message (message). Everything is re-exported here,
// so `crate::tlfs::X` names an item wherever it lives, `pin_layout!`
// included.
mod buffer;
mod call;
mod enums;
mod ids;
mod input;
mod memory;
mod message;
mod property;
mod sources;
mod status;
mod wire;

pub use self::{
    buffer::*, call::*, enums::*, ids::*, input::*, memory::*, message::*, property::*, sources::*,
    status::*, wire::*,
};

// ---------------------------------------------------------------------------
// Sizes and limits
// ---------------------------------------------------------------------------

/// Size of a hypervisor page; every hypercall input and output fits in one.
pub const PAGE_SIZE: usize = 4096;

/// Most buffers one event log group can hold.
pub const MAX_BUFFERS: u32 = 512;

/// Largest buffer, in pages.
pub const MAX_BUFFER_PAGES: u32 = 512;

/// Most guest page numbers one HvCallMapEventLogBuffer returns; one per page
/// of the largest buffer, which fills exactly one output page.
pub const MAP_MAX_PAGES: usize = 512;

const _: () = assert!(MAP_MAX_PAGES * 8 == PAGE_SIZE);
