// SPDX-License-Identifier: GPL-2.0

//! What the hypervisor writes into each buffer: the buffer header, the entry
//! header, and the walker over a buffer's entries. The CLI compiles this file
//! (with the codec, the enums and the sources) to read the same format.

use core::mem::size_of;

use super::{
    enums::{BufferState, EventLogType},
    wire::{impl_wire, pin_layout, Wire},
};

/// `next_buffer_index` value that ends a chain of completed buffers.
pub const END_OF_CHAIN: u32 = 0xFFFF_FFFF;

/// The header the hypervisor keeps at offset 0 of every buffer
/// (HV_EVENTLOG_BUFFER_HEADER).
///
/// 72 bytes: the fields up to offset 60 are as the reference table lists
/// them, and both HDK generations as well as Linux's header end the struct
/// with two more reserved words, so the first entry sits at offset 72
/// ([`ENTRIES_OFFSET`]).
///
/// Two fields count from the **end** of the header, not from the buffer
/// start (reference file, "What the hypervisor writes into each buffer";
/// Microsoft's reader in drivers/hv/diag/mshv_diaglog.c starts entries at
/// header + offset and reads while the offset is below `next_buffer_offset`,
/// and mshv_trace.c counts a buffer as header plus `buffer_size` bytes):
///
/// - `buffer_size`: bytes after the header, so header + `buffer_size` =
///   pages × 4096;
/// - `next_buffer_offset`: bytes of entries written, from the end of the
///   header; the entries occupy [`ENTRIES_OFFSET`] to
///   [`BufferHeader::entries_end`].
///
/// `logical_processor` is 16 bits wide, as in the newest header (Microsoft's
/// include/hyperv/hvtrapi.h; reference file, "What the hypervisor writes into
/// each buffer"). Older headers split it into an 8-bit processor and an 8-bit
/// `alignment`; a reader of the newest layout would take a nonzero
/// `alignment` byte for processor bits, so nothing is written there.
/// Reserved fields are opaque; the hypervisor may keep sequence numbers there.
///
/// The buffer is shared with a hypervisor that writes it concurrently: decode
/// a snapshot (copied bytes), not the live page, and re-check it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BufferHeader {
    /// Bytes of the buffer after this header.
    pub buffer_size: u32,
    /// This buffer's index.
    pub buffer_index: u32,
    /// Events dropped because no buffer was free.
    pub events_lost: u32,
    /// The hypervisor's reference count of writers.
    pub reference_counter: u32,
    /// When the buffer was started, per the group's
    /// [`TimeBasis`](super::TimeBasis).
    pub time_stamp: u64,
    /// Reserved.
    pub reserved1: u64,
    /// Reserved.
    pub reserved2: u64,
    /// Logical processor that filled the buffer (16 bits in the newest
    /// header; older ones have 8 bits and an alignment byte at offset 41).
    pub logical_processor: u16,
    /// Logger id.
    pub logger_id: u16,
    /// [`BufferState`].
    pub buffer_state: u32,
    /// Bytes of entries written, counted from the end of this header (not
    /// from the buffer start); see [`BufferHeader::entries_end`].
    pub next_buffer_offset: u32,
    /// [`EventLogType`].
    pub log_type: u32,
    /// Next buffer completed along with this one, or [`END_OF_CHAIN`].
    pub next_buffer_index: u32,
    /// Reserved (a per-processor sequence number in some versions).
    pub reserved3: u32,
    /// Reserved.
    pub reserved4: [u32; 2],
}

pin_layout!(
    BufferHeader, size = 72;
    buffer_size @ 0, buffer_index @ 4, events_lost @ 8, reference_counter @ 12,
    time_stamp @ 16, reserved1 @ 24, reserved2 @ 32, logical_processor @ 40,
    logger_id @ 42, buffer_state @ 44, next_buffer_offset @ 48,
    log_type @ 52, next_buffer_index @ 56, reserved3 @ 60, reserved4 @ 64,
);

impl_wire!(BufferHeader {
    buffer_size: u32,
    buffer_index: u32,
    events_lost: u32,
    reference_counter: u32,
    time_stamp: u64,
    reserved1: u64,
    reserved2: u64,
    logical_processor: u16,
    logger_id: u16,
    buffer_state: u32,
    next_buffer_offset: u32,
    log_type: u32,
    next_buffer_index: u32,
    reserved3: u32,
    reserved4: u32x2,
});

impl BufferHeader {
    /// The buffer state, if it is a defined one.
    pub const fn state(&self) -> Option<BufferState> {
        BufferState::from_raw(self.buffer_state)
    }

    /// The event log type, if it is a defined one.
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the simulator tests check the stamped type")
    )]
    pub const fn event_log_type(&self) -> Option<EventLogType> {
        EventLogType::from_raw(self.log_type)
    }

    /// Offset from the buffer start just past the entries written:
    /// [`ENTRIES_OFFSET`] + `next_buffer_offset`. Saturates rather than
    /// overflows on a 32-bit target, which no buffer reaches.
    pub const fn entries_end(&self) -> usize {
        ENTRIES_OFFSET.saturating_add(self.next_buffer_offset as usize)
    }

    /// Bytes of the whole buffer, header included, per `buffer_size`.
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the simulator tests check the stamped size")
    )]
    pub const fn total_size(&self) -> usize {
        ENTRIES_OFFSET.saturating_add(self.buffer_size as usize)
    }

    /// The next buffer of the completion chain, `None` at its end.
    pub const fn next_in_chain(&self) -> Option<u32> {
        if self.next_buffer_index == END_OF_CHAIN {
            None
        } else {
            Some(self.next_buffer_index)
        }
    }
}

/// Offset of the first entry in a buffer: right after the header.
pub const ENTRIES_OFFSET: usize = size_of::<BufferHeader>();

/// Every entry starts at a multiple of this offset from the buffer start
/// (and so from the end of the header, which is a multiple of it).
pub const ENTRY_ALIGN: usize = 8;

const _: () = assert!(ENTRIES_OFFSET & (ENTRY_ALIGN - 1) == 0);

/// The header of each entry (HV_EVENTLOG_ENTRY_HEADER); the payload follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EntryHeader {
    /// Opaque context of the event.
    pub context: u32,
    /// Size of the whole entry, this header included.
    pub size: u16,
    /// Event type.
    pub entry_type: u16,
    /// When the event happened, per the group's
    /// [`TimeBasis`](super::TimeBasis).
    pub timestamp: u64,
}

pin_layout!(
    EntryHeader, size = 16;
    context @ 0, size @ 4, entry_type @ 6, timestamp @ 8,
);

impl_wire!(EntryHeader {
    context: u32,
    size: u16,
    entry_type: u16,
    timestamp: u64
});

impl EntryHeader {
    /// Offset of the entry after one of `size` bytes at `offset`: entries
    /// follow each other back to back, each starting aligned. Saturates
    /// instead of overflowing, which only offsets far beyond any buffer reach.
    pub const fn next_offset(offset: usize, size: u16) -> usize {
        let end = offset.saturating_add(size as usize);
        end.saturating_add(ENTRY_ALIGN - 1) & !(ENTRY_ALIGN - 1)
    }
}

/// One entry found by [`entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Offset of the entry from the buffer start.
    pub offset: usize,
    /// Its header.
    pub header: EntryHeader,
    /// The bytes after the header, up to `header.size`.
    pub payload: &'a [u8],
}

/// Why walking a buffer's entries stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// The slice is too short to hold a buffer header.
    NoHeader {
        /// Length of the slice.
        len: usize,
    },
    /// The end of the used area lies past the slice.
    BadEnd {
        /// The end offset, from the buffer start.
        end: usize,
    },
    /// An entry would start at an offset that is not [`ENTRY_ALIGN`]ed.
    Misaligned {
        /// The offset.
        offset: usize,
    },
    /// Less than an entry header is left before the end.
    Truncated {
        /// Where the partial entry starts.
        offset: usize,
    },
    /// An entry's size is smaller than its own header.
    TooSmall {
        /// Where the entry starts.
        offset: usize,
        /// Its size field.
        size: u16,
    },
    /// An entry runs past the end of the used area.
    Overrun {
        /// Where the entry starts.
        offset: usize,
        /// Its size field.
        size: u16,
    },
}

/// Iterator over the entries of one buffer; see [`entries`].
///
/// Yields `Ok` for each well-formed entry, then stops; on malformed data it
/// yields one `Err` and stops, so a consumer keeps what came before it.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    failed: Option<EntryError>,
}

/// Walks the entries of a buffer: `buffer` is the whole buffer (header
/// first), the used area runs from [`ENTRIES_OFFSET`] for the header's
/// `next_buffer_offset` bytes, i.e. to [`BufferHeader::entries_end`].
///
/// A `next_buffer_offset` of zero is an empty buffer (one the hypervisor
/// never started has an all-zero header); one reaching past the slice is
/// [`EntryError::BadEnd`].
#[cfg_attr(
    MODULE,
    expect(dead_code, reason = "the CLI and the host tests walk entries")
)]
pub fn entries(buffer: &[u8]) -> Entries<'_> {
    let Some(header) = BufferHeader::decode(buffer) else {
        return Entries::failed(buffer, EntryError::NoHeader { len: buffer.len() });
    };
    entries_in(buffer, ENTRIES_OFFSET, header.entries_end())
}

/// Walks the entries of `buffer` from offset `start` up to `end`, e.g. to
/// resume after entries already consumed.
pub fn entries_in(buffer: &[u8], start: usize, end: usize) -> Entries<'_> {
    if end > buffer.len() {
        return Entries::failed(buffer, EntryError::BadEnd { end });
    }
    Entries {
        buf: buffer,
        pos: start,
        end,
        failed: None,
    }
}

impl<'a> Entries<'a> {
    fn failed(buf: &'a [u8], error: EntryError) -> Self {
        Self {
            buf,
            pos: 0,
            end: 0,
            failed: Some(error),
        }
    }

    /// Offset the walk has reached: where the next entry would start.
    #[cfg_attr(
        MODULE,
        expect(dead_code, reason = "the host tests check where a walk stopped")
    )]
    pub fn position(&self) -> usize {
        self.pos
    }

    fn stop(&mut self, error: EntryError) -> Option<Result<Entry<'a>, EntryError>> {
        self.pos = self.end;
        Some(Err(error))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.failed.take() {
            return Some(Err(error));
        }
        let offset = self.pos;
        if offset >= self.end {
            return None;
        }
        if offset & (ENTRY_ALIGN - 1) != 0 {
            return self.stop(EntryError::Misaligned { offset });
        }
        let room = self.end - offset;
        let Some(header) = self.buf.get(offset..self.end).and_then(EntryHeader::decode) else {
            return self.stop(EntryError::Truncated { offset });
        };
        let size = header.size;
        if usize::from(size) < EntryHeader::SIZE {
            return self.stop(EntryError::TooSmall { offset, size });
        }
        if usize::from(size) > room {
            return self.stop(EntryError::Overrun { offset, size });
        }
        let payload = self
            .buf
            .get(offset + EntryHeader::SIZE..offset + usize::from(size))
            .unwrap_or_default();
        self.pos = EntryHeader::next_offset(offset, size);
        Some(Ok(Entry {
            offset,
            header,
            payload,
        }))
    }
}

impl core::iter::FusedIterator for Entries<'_> {}
