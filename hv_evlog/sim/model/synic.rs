// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: the SynIC's SINT0 message slots (pure,
//! host-tested).
//!
//! The hypervisor tells the partition about completed buffers with an
//! `HVMSG_EVENTLOG_BUFFERCOMPLETE` message (payload: type and the first
//! buffer of the chain) in the SINT0 slot of a processor's message page.
//! The simulator does what the SynIC does with it:
//!
//! - **One slot per processor.** A message goes to the processor that filled
//!   the chain's first buffer. The shell registers each processor's message
//!   page ([`Hypervisor::set_message_page`]), standing in for the SIMP MSR.
//! - **Publication.** Payload, size and flags are written first, the message
//!   type last with release semantics, so a reader that sees the type sees
//!   the rest.
//! - **A full slot is never overwritten.** While a slot holds a message (of
//!   any type, the module's or another driver's), further messages for that
//!   processor wait in a queue, and the slot's `MESSAGE_PENDING` flag is
//!   set. Once the partition empties the slot and signals end-of-message
//!   ([`Hypervisor::end_of_message`]), the oldest waiting message is
//!   delivered; [`Hypervisor::post_messages`] also retries every processor
//!   whose slot was emptied without one.
//! - **Bounded.** The queue holds [`QUEUE_LEN`] messages; one more is
//!   dropped and counted, and its buffers stay complete for the partition's
//!   header scan to find.
//!
//! Delivering a message is what raises the interrupt: the functions return
//! the processors whose slot received one, and the shell calls the module's
//! handler for each.

// Items are `pub` for the host test crate, which mounts this file as a public
// module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use super::hypervisor::{Hypervisor, MAX_CPUS};
use super::machine::Platform;
use crate::tlfs::{
    EventLogMessage, MessageHeader, Wire, EVENTLOG_SINT, HVMSG_EVENTLOG_BUFFERCOMPLETE, HVMSG_NONE,
    MAX_BUFFERS, MESSAGE_PAYLOAD_OFFSET, MESSAGE_PENDING, MESSAGE_SIZE,
};

/// Messages the simulated SynIC holds beyond the slots: two per buffer, so
/// that a message per completion fits even while every slot is full.
pub const QUEUE_LEN: usize = 2 * MAX_BUFFERS as usize;

/// Offset of the SINT0 slot in a message page.
const SLOT: usize = EVENTLOG_SINT * MESSAGE_SIZE;
/// Offset of the 32-bit word holding `payload_size`, `message_flags` and
/// `reserved`.
const FLAGS_WORD: usize = SLOT + 4;
/// How often [`Hypervisor::deliver_message`] looks at a slot the partition
/// is changing meanwhile; it changes it once per message it takes.
const SLOT_TRIES: usize = 4;

// The slot's type and flags form one aligned 8-byte word.
const _: () = assert!(SLOT.is_multiple_of(8));

/// A set of processors, as a bitmap over `0..MAX_CPUS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSet([u64; MAX_CPUS as usize / 64]);

impl CpuSet {
    fn insert(&mut self, cpu: u32) {
        self.0[cpu as usize / 64] |= 1 << (cpu % 64);
    }

    /// Adds every processor of `other`.
    pub fn add(&mut self, other: &CpuSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        cpu < MAX_CPUS && self.0[cpu as usize / 64] & (1 << (cpu % 64)) != 0
    }

    /// The processors in the set, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_CPUS).filter(|&cpu| self.contains(cpu))
    }
}

/// What the SynIC holds. All-zero bytes are the empty SynIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synic {
    /// Message page of each processor, as a PFN; 0: none registered.
    pages: [u64; MAX_CPUS as usize],
    /// Waiting messages, oldest first from `head`: `cpu << 16 | buffer`.
    queue: [u32; QUEUE_LEN],
    head: u16,
    len: u16,
    /// Messages put into a slot.
    pub delivered: u64,
    /// Messages dropped because the queue was full.
    pub dropped: u64,
}

impl Synic {
    /// The empty SynIC.
    pub const EMPTY: Self = Self {
        pages: [0; MAX_CPUS as usize],
        queue: [0; QUEUE_LEN],
        head: 0,
        len: 0,
        delivered: 0,
        dropped: 0,
    };

    /// Back to [`Self::EMPTY`], in place (the value is large for a kernel
    /// stack).
    pub(super) fn clear(&mut self) {
        self.pages.fill(0);
        self.forget_messages();
        self.delivered = 0;
        self.dropped = 0;
    }

    /// Drops every waiting message: they belong to a group that ended.
    pub(super) fn forget_messages(&mut self) {
        self.queue.fill(0);
        self.head = 0;
        self.len = 0;
    }

    fn entry(&self, k: usize) -> (u32, u32) {
        let e = self.queue[(usize::from(self.head) + k) % QUEUE_LEN];
        (e >> 16, e & 0xFFFF)
    }

    /// Removes queue entry `k`, keeping the order of the rest.
    fn remove(&mut self, k: usize) {
        let len = usize::from(self.len);
        for j in k..len - 1 {
            let (a, b) = (
                (usize::from(self.head) + j) % QUEUE_LEN,
                (usize::from(self.head) + j + 1) % QUEUE_LEN,
            );
            self.queue[a] = self.queue[b];
        }
        self.len -= 1;
    }

    /// Messages waiting for `cpu`'s slot.
    pub fn queued(&self, cpu: u32) -> usize {
        (0..usize::from(self.len))
            .filter(|&k| self.entry(k).0 == cpu)
            .count()
    }
}

/// Why the SynIC refused a registration or a test hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynicError {
    /// No such processor, or it has no message page.
    NoMessagePage,
    /// The slot is not empty.
    SlotBusy,
    /// The slot holds no message of another driver.
    NotForeign,
}

/// What one processor's SINT0 slot holds, for the shell's debugfs view and
/// the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotView {
    /// `HVMSG_*` in the slot.
    pub message_type: u32,
    /// Its flags.
    pub flags: u8,
    /// Its payload, read as an event log message.
    pub payload: EventLogMessage,
    /// Messages waiting behind it.
    pub queued: usize,
}

impl Hypervisor {
    /// Registers `cpu`'s message page (the SIMP MSR); 0 unregisters it.
    pub fn set_message_page(&mut self, cpu: u32, pfn: u64) -> Result<(), SynicError> {
        let slot = self
            .synic
            .pages
            .get_mut(cpu as usize)
            .ok_or(SynicError::NoMessagePage)?;
        *slot = pfn;
        Ok(())
    }

    /// Turns every notification waiting in the outbox into a message, then
    /// delivers what any free slot can take. Returns the processors whose
    /// slot received a message.
    pub fn post_messages<P: Platform>(&mut self, p: &mut P) -> CpuSet {
        while let Some(n) = self.take_notification() {
            let cpu = self
                .buffers
                .get(n.first_buffer as usize)
                .map_or(0, |b| b.cpu);
            if usize::from(self.synic.len) == QUEUE_LEN {
                self.synic.dropped = self.synic.dropped.saturating_add(1);
                continue;
            }
            let tail = (usize::from(self.synic.head) + usize::from(self.synic.len)) % QUEUE_LEN;
            self.synic.queue[tail] = cpu << 16 | n.first_buffer;
            self.synic.len += 1;
        }
        let mut waiting = CpuSet::default();
        for k in 0..usize::from(self.synic.len) {
            waiting.insert(self.synic.entry(k).0);
        }
        let mut raised = CpuSet::default();
        for cpu in waiting.iter() {
            if self.deliver_message(p, cpu) {
                raised.insert(cpu);
            }
        }
        raised
    }

    /// End-of-message from `cpu` (HV_MSR_EOM): the partition emptied its
    /// slot; the oldest waiting message goes in. Returns whether one did.
    pub fn end_of_message<P: Platform>(&mut self, p: &mut P, cpu: u32) -> bool {
        cpu < MAX_CPUS && self.deliver_message(p, cpu)
    }

    /// Puts `cpu`'s oldest waiting message into its slot if the slot is
    /// empty; otherwise marks the slot's message as having more behind it.
    fn deliver_message<P: Platform>(&mut self, p: &mut P, cpu: u32) -> bool {
        let pfn = self.synic.pages[cpu as usize];
        let Some(k) = (0..usize::from(self.synic.len)).find(|&k| self.synic.entry(k).0 == cpu)
        else {
            return false;
        };
        if pfn == 0 {
            return false;
        }
        // The slot's type and its flags are one 8-byte word. The flag goes
        // in only while the slot still holds the message its type says, in
        // one compare-and-exchange: the partition empties the slot (type
        // none) and then reads the flag to decide on end-of-message, so a
        // flag stored after its read would leave the slot empty and this
        // message waiting for the next completion. If the exchange finds
        // the word changed, the slot is looked at again.
        let pending = u64::from(MESSAGE_PENDING) << 40;
        let mut empty = false;
        for _ in 0..SLOT_TRIES {
            let ty = p.load_acquire_u32(pfn, SLOT);
            if ty == HVMSG_NONE {
                empty = true;
                break;
            }
            let word = u64::from(ty) | u64::from(p.load_acquire_u32(pfn, FLAGS_WORD)) << 32;
            if word & pending != 0 || p.compare_exchange_u64(pfn, SLOT, word, word | pending) {
                return false;
            }
        }
        if !empty {
            // The partition kept changing the slot: the next completion or
            // end-of-message looks again.
            return false;
        }
        let (_, buffer) = self.synic.entry(k);
        self.synic.remove(k);
        let more = self.synic.queued(cpu) != 0;
        let header = MessageHeader {
            message_type: HVMSG_EVENTLOG_BUFFERCOMPLETE,
            payload_size: EventLogMessage::SIZE as u8,
            message_flags: if more { MESSAGE_PENDING } else { 0 },
            reserved: 0,
            sender: 0,
        };
        let payload = EventLogMessage {
            log_type: self.group.log_type.raw(),
            buffer_index: buffer,
        };
        let mut bytes = [0u8; MESSAGE_PAYLOAD_OFFSET + EventLogMessage::SIZE];
        let _ = header.encode(&mut bytes);
        let _ = payload.encode(&mut bytes[MESSAGE_PAYLOAD_OFFSET..]);
        p.write(pfn, SLOT + 8, &bytes[8..]);
        let word = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        p.store_release_u32(pfn, FLAGS_WORD, word);
        p.store_release_u32(pfn, SLOT, HVMSG_EVENTLOG_BUFFERCOMPLETE);
        self.synic.delivered = self.synic.delivered.saturating_add(1);
        true
    }

    /// The SynIC's state: messages delivered, dropped, waiting.
    #[cfg_attr(MODULE, expect(dead_code, reason = "used by the host tests only"))]
    pub fn synic(&self) -> &Synic {
        &self.synic
    }

    /// What `cpu`'s SINT0 slot holds now.
    pub fn slot<P: Platform>(&self, p: &mut P, cpu: u32) -> Option<SlotView> {
        let pfn = *self.synic.pages.get(cpu as usize)?;
        if pfn == 0 {
            return None;
        }
        let message_type = p.load_acquire_u32(pfn, SLOT);
        let flags = (p.load_acquire_u32(pfn, FLAGS_WORD) >> 8) as u8;
        let mut raw = [0u8; EventLogMessage::SIZE];
        let payload = if p.read(pfn, SLOT + MESSAGE_PAYLOAD_OFFSET, &mut raw) {
            EventLogMessage::decode(&raw).unwrap_or_default()
        } else {
            EventLogMessage::default()
        };
        Some(SlotView {
            message_type,
            flags,
            payload,
            queued: self.synic.queued(cpu),
        })
    }

    /// Stands in for another driver's message arriving in `cpu`'s SINT0
    /// slot (a root partition's intercepts share SINT0): `message_type` with
    /// an empty payload. Refused while the slot is not empty.
    pub fn inject_foreign_message<P: Platform>(
        &mut self,
        p: &mut P,
        cpu: u32,
        message_type: u32,
    ) -> Result<(), SynicError> {
        let pfn = self.message_page(cpu)?;
        if message_type == HVMSG_NONE || p.load_acquire_u32(pfn, SLOT) != HVMSG_NONE {
            return Err(SynicError::SlotBusy);
        }
        p.write(pfn, SLOT + 8, &[0; MESSAGE_SIZE - 8]);
        p.store_release_u32(pfn, FLAGS_WORD, 0);
        p.store_release_u32(pfn, SLOT, message_type);
        Ok(())
    }

    /// Stands in for the other driver consuming a message it owns in
    /// `cpu`'s slot: empties the slot and signals end-of-message. Refused
    /// for an empty slot or an event log message. Returns whether a waiting
    /// message was delivered.
    pub fn consume_foreign_message<P: Platform>(
        &mut self,
        p: &mut P,
        cpu: u32,
    ) -> Result<bool, SynicError> {
        let pfn = self.message_page(cpu)?;
        let ty = p.load_acquire_u32(pfn, SLOT);
        if ty == HVMSG_NONE || ty == HVMSG_EVENTLOG_BUFFERCOMPLETE {
            return Err(SynicError::NotForeign);
        }
        p.store_release_u32(pfn, SLOT, HVMSG_NONE);
        Ok(self.end_of_message(p, cpu))
    }

    fn message_page(&self, cpu: u32) -> Result<u64, SynicError> {
        match self.synic.pages.get(cpu as usize) {
            Some(&pfn) if pfn != 0 => Ok(pfn),
            _ => Err(SynicError::NoMessagePage),
        }
    }
}
