// SPDX-License-Identifier: GPL-2.0

//! The SINT0 consumer: buffer completion messages from the hypervisor.
//!
//! The hypervisor reports completed buffers with an
//! `HVMSG_EVENTLOG_BUFFERCOMPLETE` message in the SINT0 slot of a processor's
//! SynIC message page, once `threshold` buffers have completed; the payload
//! names the first buffer, the rest follow through the headers'
//! `next_buffer_index` (drivers/hv/diag/mshv_trace.c,
//! `mshv_trace_buffer_complete`). [`Inbox::handle`] is the interrupt side:
//! it takes every such message of the group's type from the slot, empties
//! the slot, signals end-of-message when the hypervisor holds more, records
//! the chain's first buffer and wakes the device at once; the device walks
//! the chain (`completion.rs`). A message of another type, or of another
//! event log type, belongs to another driver (a root partition's intercepts
//! also arrive on SINT0): it is neither taken nor overwritten, and the slot
//! stays blocked until its owner empties it.
//!
//! # Where the messages come from
//!
//! - `backend=sim`: the simulated SynIC ([`crate::sim`]) posts into message
//!   pages of its own and calls [`Inbox::handle`] as the interrupt would.
//! - `backend=hv`: not taken. In 7.2 a root partition's SINT0 belongs to
//!   mshv_root: `hv_setup_mshv_handler()` keeps one handler and offers no
//!   way to chain a second or to read the current one, and mshv_root maps
//!   the hypervisor's message page itself. Completion there relies on the
//!   header scan alone (see `hv.rs` for what is done about the messages
//!   mshv_root would be sent).
//!
//! The handler runs in process context only (the simulator's); a hardirq
//! caller would need the waker lock to disable interrupts.

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};

use kernel::{
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Release},
        barrier::smp_mb,
        Arc, SpinLock,
    },
};

use crate::{
    policy::completion::IndexSet,
    tlfs::{
        EventLogMessage, Wire, HVMSG_EVENTLOG_BUFFERCOMPLETE, HVMSG_NONE, MAX_BUFFERS,
        MESSAGE_PAYLOAD_OFFSET, MESSAGE_PENDING,
    },
};

/// A processor's SINT0 message slot, as the SynIC offers it.
pub(crate) trait MessagePort: Send + Sync {
    /// The start of `cpu`'s SINT0 slot (`MESSAGE_SIZE` bytes, 8-byte
    /// aligned), valid while `self` exists; `None` if `cpu` has no message
    /// page.
    fn slot(&self, cpu: u32) -> Option<NonNull<u8>>;

    /// Signals end-of-message on `cpu` (`HV_MSR_EOM`): the slot is empty and
    /// the hypervisor may deliver the next message waiting for it.
    fn end_of_message(&self, cpu: u32);
}

/// Whoever wants to hear of announced chains at once (the open device).
pub(crate) trait Wake: Send + Sync {
    /// Called after new chain heads were recorded; must not sleep.
    fn wake(&self);
}

/// What the handler saw, for debugfs and the tests.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InboxStats {
    /// Event log messages taken.
    pub(crate) messages: u64,
    /// Announced chains the device walked.
    pub(crate) chains: u64,
    /// Buffers found walking them.
    pub(crate) chain_buffers: u64,
    /// Times the handler found another driver's message in a slot.
    pub(crate) foreign: u64,
}

/// Chains the hypervisor announced, waiting for the device.
#[pin_data]
pub(crate) struct Inbox {
    log_type: u32,
    /// Announced chain heads, as bits over buffer indices.
    heads: [AtomicU64; HEAD_WORDS],
    messages: AtomicU64,
    chains: AtomicU64,
    chain_buffers: AtomicU64,
    foreign: AtomicU64,
    #[pin]
    waker: SpinLock<Option<Arc<dyn Wake>>>,
}

const HEAD_WORDS: usize = (MAX_BUFFERS as usize).div_ceil(64);

impl Inbox {
    /// An inbox for messages about groups of `log_type`.
    pub(crate) fn new(log_type: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            log_type,
            heads: [const { AtomicU64::new(0) }; HEAD_WORDS],
            messages: AtomicU64::new(0),
            chains: AtomicU64::new(0),
            chain_buffers: AtomicU64::new(0),
            foreign: AtomicU64::new(0),
            waker <- new_spinlock!(None),
        })
    }

    /// The SINT0 interrupt on `cpu`: takes every event log message of this
    /// group's type from the slot, in order, then wakes the device.
    pub(crate) fn handle(&self, port: &dyn MessagePort, cpu: u32) {
        let Some(slot) = port.slot(cpu) else {
            return;
        };
        let slot = slot.as_ptr();
        let mut took = false;
        loop {
            let word = slot.cast::<u32>();
            // SAFETY: `slot` is a live, aligned message slot (the port's
            // contract); its type and flags words are only ever accessed
            // atomically, by the SynIC and by this handler.
            let ty = unsafe { Atomic::from_ptr(word) }.load(Acquire);
            if ty == HVMSG_NONE {
                break;
            }
            let mut payload = [0u8; EventLogMessage::SIZE];
            for (i, b) in payload.iter_mut().enumerate() {
                // SAFETY: inside the slot; the type's acquire load orders
                // these reads after the SynIC's writes of the payload.
                *b = unsafe { slot.add(MESSAGE_PAYLOAD_OFFSET + i).read_volatile() };
            }
            let msg = EventLogMessage::decode(&payload).unwrap_or_default();
            if ty != HVMSG_EVENTLOG_BUFFERCOMPLETE || msg.log_type != self.log_type {
                // Another driver's: leave it exactly as it is.
                self.foreign.fetch_add(1, Ordering::Relaxed);
                break;
            }
            self.announce(msg.buffer_index);
            self.messages.fetch_add(1, Ordering::Relaxed);
            took = true;
            // SAFETY: as above. The release store keeps the payload reads
            // before the slot is handed back.
            unsafe { Atomic::from_ptr(word) }.store(HVMSG_NONE, Release);
            // The SynIC must see the slot empty before we look at its
            // pending flag, or a message queued in between would wait.
            smp_mb();
            // SAFETY: the flags word follows the type word in the slot.
            let flags = unsafe { Atomic::from_ptr(word.add(1)) }.load(Acquire);
            if (flags >> 8) as u8 & MESSAGE_PENDING == 0 {
                break;
            }
            port.end_of_message(cpu);
        }
        if took {
            if let Some(w) = self.waker.lock().as_ref() {
                w.wake();
            }
        }
    }

    fn announce(&self, buffer: u32) {
        if buffer < MAX_BUFFERS {
            self.heads[buffer as usize / 64].fetch_or(1 << (buffer % 64), Ordering::AcqRel);
        }
    }

    /// Whether a chain head is announced and not taken yet.
    pub(crate) fn has_heads(&self) -> bool {
        self.heads.iter().any(|w| w.load(Ordering::Acquire) != 0)
    }

    /// Takes the announced chain heads.
    pub(crate) fn take_heads(&self) -> IndexSet {
        let mut set = IndexSet::new();
        for (w, word) in self.heads.iter().enumerate() {
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                set.insert(w as u32 * 64 + bit);
                bits &= bits - 1;
            }
        }
        set
    }

    /// Counts `chains` announced chains walked, holding `buffers` buffers.
    pub(crate) fn count_walked(&self, chains: u64, buffers: u64) {
        self.chains.fetch_add(chains, Ordering::Relaxed);
        self.chain_buffers.fetch_add(buffers, Ordering::Relaxed);
    }

    /// Sets (or with `None` clears) who is woken.
    pub(crate) fn set_waker(&self, waker: Option<Arc<dyn Wake>>) {
        // The old waker is dropped outside the lock.
        let old = core::mem::replace(&mut *self.waker.lock(), waker);
        drop(old);
    }

    /// What the handler saw so far.
    pub(crate) fn stats(&self) -> InboxStats {
        InboxStats {
            messages: self.messages.load(Ordering::Relaxed),
            chains: self.chains.load(Ordering::Relaxed),
            chain_buffers: self.chain_buffers.load(Ordering::Relaxed),
            foreign: self.foreign.load(Ordering::Relaxed),
        }
    }
}
