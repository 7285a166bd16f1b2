// SPDX-License-Identifier: GPL-2.0

//! The hypercall log (pure, host-tested): the most recent hypercalls, each
//! as the hypervisor saw it, for debugfs `hypercalls`.
//!
//! [`crate::hv::hypercall`] records every call it makes (with
//! `log_hypercalls=N`, the last N): the control word, the input bytes
//! exactly as handed over (the input page's first bytes for a memory call,
//! the two input registers for a fast call) and the raw result. One line per
//! call, oldest first, under a comment line and a header line:
//!
//! ```text
//! # 57 hypercalls since load; the last ones kept:
//! seq code name form rep_count rep_start input_bytes input_hex status status_name reps_done
//! 3 0x0060 HvCallInitializeEventLogBufferGroup slow 0 0 32 0100000008000000... 0x0000 HV_STATUS_SUCCESS 0
//! ```
//!
//! `form` is `fast` or `slow` (memory call); `input_hex` is the input's
//! first [`INPUT_BYTES`] bytes, lowercase, with `+N` appended when N more
//! bytes were handed over and not kept; `seq` counts every call since load
//! from 1, so a gap before the first line shows how many were dropped.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use core::fmt;
use core::ops::{Deref, DerefMut};

use crate::tlfs::{self, Control, HvStatus};

/// Input bytes kept per call: every event log input but set sources' event
/// groups, and a deposit's header and first seven page numbers.
pub const INPUT_BYTES: usize = 64;

/// The first line of the debugfs file: the column names.
pub const HEADER: &str =
    "seq code name form rep_count rep_start input_bytes input_hex status status_name reps_done";

/// One recorded hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Calls made since load, this one included.
    pub seq: u64,
    /// The control word.
    pub control: u64,
    /// The raw result value.
    pub result: u64,
    /// Input bytes handed over (for a fast call, the 16 register bytes).
    pub input_len: u32,
    /// The first of them.
    pub input: [u8; INPUT_BYTES],
}

impl Entry {
    /// An unused slot.
    pub const EMPTY: Self = Self {
        seq: 0,
        control: 0,
        result: 0,
        input_len: 0,
        input: [0; INPUT_BYTES],
    };

    /// The entry for call number `seq`, given `input`.
    pub fn new(seq: u64, control: u64, result: u64, input: &[u8]) -> Self {
        let mut e = Self {
            seq,
            control,
            result,
            input_len: u32::try_from(input.len()).unwrap_or(u32::MAX),
            ..Self::EMPTY
        };
        let kept = input.len().min(INPUT_BYTES);
        e.input[..kept].copy_from_slice(&input[..kept]);
        e
    }

    /// The bytes kept.
    pub fn kept(&self) -> &[u8] {
        &self.input[..(self.input_len as usize).min(INPUT_BYTES)]
    }
}

impl Default for Entry {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let control = Control::from_raw(self.control);
        let name = control.call().map_or("unknown", |c| c.name());
        let form = if control.is_fast() { "fast" } else { "slow" };
        write!(
            f,
            "{} {:#06x} {name} {form} {} {} {} ",
            self.seq,
            control.code(),
            control.rep_count(),
            control.rep_start(),
            self.input_len
        )?;
        let kept = self.kept();
        if kept.is_empty() {
            f.write_str("-")?;
        }
        for b in kept {
            write!(f, "{b:02x}")?;
        }
        let more = self.input_len as usize - kept.len();
        if more != 0 {
            write!(f, "+{more}")?;
        }
        // All ones is no hypervisor's answer: no status, no reps.
        let (status, reps) = if self.result == tlfs::HV_NO_HYPERCALL_PAGE {
            (HvStatus::NO_HYPERCALL_PAGE, 0)
        } else {
            (
                tlfs::result_status(self.result),
                tlfs::result_reps(self.result),
            )
        };
        write!(f, " {:#06x} {} {reps}", status.0, status.name())
    }
}

/// The last `capacity` calls, in storage the caller provides (a `KVec` in
/// the kernel, a `Vec` on the host); a capacity of 0 records nothing.
pub struct Ring<S> {
    entries: S,
    calls: u64,
}

impl<S: Deref<Target = [Entry]> + DerefMut> Ring<S> {
    /// A ring over `entries`, whose length is its capacity.
    pub fn new(entries: S) -> Self {
        Self { entries, calls: 0 }
    }

    /// Whether calls are recorded at all.
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    /// Records one call, numbering it (its `seq` is overwritten); the
    /// oldest entry goes when the ring is full.
    pub fn record(&mut self, entry: Entry) {
        self.calls += 1;
        let cap = self.entries.len() as u64;
        if cap == 0 {
            return;
        }
        let slot = ((self.calls - 1) % cap) as usize;
        self.entries[slot] = Entry {
            seq: self.calls,
            ..entry
        };
    }

    /// Calls recorded since creation (also those no longer kept).
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The kept entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        let cap = self.entries.len() as u64;
        let kept = self.calls.min(cap);
        let first = self.calls - kept;
        (first..self.calls).map(move |n| &self.entries[(n % cap) as usize])
    }
}
