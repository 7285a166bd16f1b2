// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: completion chains and the outbox (pure,
//! host-tested).
//!
//! The hypervisor tells the partition about completed buffers a chain at a
//! time, not one by one: completed buffers collect on a pending chain,
//! linked through their headers' `next_buffer_index`, and the chain moves to
//! the outbox when it reaches the group threshold or on a flush. The shell
//! fetches it from there ([`Hypervisor::take_notification`]) and `synic.rs`
//! turns it into a message. A buffer recycled or released before the
//! partition was told leaves its chain again.

use super::hypervisor::Hypervisor;
use super::machine::Platform;

/// Which list of completed buffers a buffer is on.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// None: never completed, or already handed to the partition.
    Unlinked = 0,
    /// Completed, below the threshold.
    Pending,
    /// Completed, waiting for [`Hypervisor::take_notification`].
    Outbox,
}

/// A list of completed buffers, linked through
/// [`BufferSlot::next`](super::buffers::BufferSlot::next).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Chain {
    pub(super) head: u32,
    tail: u32,
    pub(super) count: u32,
}

impl Chain {
    pub(super) const EMPTY: Self = Self {
        head: 0,
        tail: 0,
        count: 0,
    };
}

impl Hypervisor {
    /// Appends a just completed buffer to the pending chain.
    pub(super) fn enqueue<P: Platform>(&mut self, p: &mut P, index: usize) {
        self.completions = self.completions.wrapping_add(1);
        let b = &mut self.buffers[index];
        b.completed = self.completions;
        b.chain = Link::Pending;
        b.has_next = false;
        let chain = self.pending;
        if chain.count == 0 {
            self.pending.head = index as u32;
        } else {
            self.link_after(p, chain.tail as usize, index as u32);
        }
        self.pending.tail = index as u32;
        self.pending.count += 1;
    }

    /// Whether the pending chain has reached the group threshold.
    pub(super) fn threshold_reached(&self) -> bool {
        self.pending.count >= self.group.threshold
    }

    /// Moves the pending chain to the end of the outbox; returns whether
    /// there was one.
    pub(super) fn deliver<P: Platform>(&mut self, p: &mut P) -> bool {
        let chain = self.pending;
        if chain.count == 0 {
            return false;
        }
        self.retag(chain, Link::Outbox);
        if self.outbox.count == 0 {
            self.outbox = chain;
        } else {
            self.link_after(p, self.outbox.tail as usize, chain.head);
            self.outbox.tail = chain.tail;
            self.outbox.count += chain.count;
        }
        self.pending = Chain::EMPTY;
        true
    }

    /// Takes buffer `index` off whichever chain holds it, as when it is
    /// released or recycled before the partition was told about it.
    pub(super) fn unlink<P: Platform>(&mut self, p: &mut P, index: usize) {
        let tag = self.buffers[index].chain;
        let mut chain = match tag {
            Link::Unlinked => return,
            Link::Pending => self.pending,
            Link::Outbox => self.outbox,
        };
        let Some(prev) = self.predecessor(chain, index) else {
            return;
        };
        let b = self.buffers[index];
        match prev {
            None if b.has_next => chain.head = b.next,
            None => {}
            Some(prev) => {
                self.buffers[prev].has_next = b.has_next;
                self.buffers[prev].next = b.next;
                self.sync_header(p, prev);
            }
        }
        if chain.tail as usize == index {
            chain.tail = prev.unwrap_or(0) as u32;
        }
        chain.count -= 1;
        match tag {
            Link::Pending => self.pending = chain,
            _ => self.outbox = chain,
        }
        let b = &mut self.buffers[index];
        b.chain = Link::Unlinked;
        b.has_next = false;
    }

    /// Where `index` sits in `chain`: `Some(None)` at the head,
    /// `Some(Some(prev))` after `prev`, `None` if it is not there.
    fn predecessor(&self, chain: Chain, index: usize) -> Option<Option<usize>> {
        let mut prev = None;
        let mut cur = chain.head as usize;
        for _ in 0..chain.count {
            if cur == index {
                return Some(prev);
            }
            let b = self.buffers.get(cur)?;
            if !b.has_next {
                return None;
            }
            prev = Some(cur);
            cur = b.next as usize;
        }
        None
    }

    /// Links `next` after the buffer `tail` and publishes it in the header.
    fn link_after<P: Platform>(&mut self, p: &mut P, tail: usize, next: u32) {
        if let Some(b) = self.buffers.get_mut(tail) {
            b.has_next = true;
            b.next = next;
            self.sync_header(p, tail);
        }
    }

    /// Marks every buffer of `chain` as being on list `tag`.
    pub(super) fn retag(&mut self, chain: Chain, tag: Link) {
        let mut cur = chain.head as usize;
        for _ in 0..chain.count {
            let Some(b) = self.buffers.get_mut(cur) else {
                return;
            };
            b.chain = tag;
            if !b.has_next {
                return;
            }
            cur = b.next as usize;
        }
    }
}
