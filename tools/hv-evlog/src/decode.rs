// SPDX-License-Identifier: GPL-2.0

//! Turning one completed buffer into events, with the module's own entry
//! walker (`tlfs::entries_in`), so the tool and the module can never disagree
//! on the buffer format.

use crate::tlfs::{self, EntryError, EntryHeader, Wire, ENTRIES_OFFSET};
use crate::uapi::Record;

/// An entry's event type, spelled one way wherever a person reads it (the
/// text event lines, `report`, a trace's event names, messages): four hex
/// digits, the width of the entry header's 16-bit field, as `0x5e0e`. The
/// number itself is what JSON fields carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EventType(pub u16);

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// One event of a buffer, as the output formats print it; serialized, it is
/// one JSON event line (`{"cpu":…,"ts":…,"type":…,"size":…,"context":…}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// Logical processor the buffer served (from the completion record).
    pub cpu: u32,
    /// Offset of the entry from the start of its buffer.
    #[serde(skip)]
    pub offset: u32,
    /// The entry's time stamp, in the group's time basis.
    #[serde(rename = "ts")]
    pub timestamp: u64,
    /// Event type.
    #[serde(rename = "type")]
    pub entry_type: EventType,
    /// Size of the whole entry, header included.
    pub size: u16,
    /// Opaque context.
    pub context: u32,
}

impl Event {
    /// Offset just past this entry and its alignment padding: where a copy
    /// of the buffer cut after this event ends.
    pub fn end(&self) -> usize {
        EntryHeader::next_offset(self.offset as usize, self.size)
    }
}

/// Why a buffer could not be decoded completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The header plus `bytes_used` entry bytes run past the bytes
    /// available.
    BadLength {
        /// The record's `bytes_used` (entry bytes after the header).
        bytes_used: u32,
        /// Bytes available.
        available: usize,
    },
    /// The entry walker stopped at malformed data.
    Entry(EntryError),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::BadLength {
                bytes_used,
                available,
            } => write!(
                f,
                "bytes_used {bytes_used} (entry bytes after the {ENTRIES_OFFSET}-byte header) \
                 is outside the buffer ({available} bytes available)"
            ),
            Self::Entry(EntryError::Misaligned { offset }) => {
                write!(f, "entry at offset {offset} is not 8-byte aligned")
            }
            Self::Entry(EntryError::Truncated { offset }) => {
                write!(f, "entry at offset {offset} is cut short by the end")
            }
            Self::Entry(EntryError::TooSmall { offset, size }) => write!(
                f,
                "entry at offset {offset} has size {size}, smaller than its header"
            ),
            Self::Entry(EntryError::Overrun { offset, size }) => write!(
                f,
                "entry at offset {offset} of size {size} runs past the end"
            ),
            Self::Entry(EntryError::NoHeader { len }) => {
                write!(f, "{len} bytes cannot hold a buffer header")
            }
            Self::Entry(EntryError::BadEnd { end }) => {
                write!(f, "end offset {end} is outside the buffer")
            }
        }
    }
}

/// Offset from the buffer start just past the entries of `record`'s buffer:
/// the header plus `bytes_used`.
pub fn used_end(record: &Record) -> usize {
    ENTRIES_OFFSET.saturating_add(record.bytes_used as usize)
}

/// Appends the events of one completed buffer to `out`.
///
/// `buffer` starts at the buffer header; the entries are the
/// `record.bytes_used` bytes after it, from [`ENTRIES_OFFSET`] to
/// [`used_end`] (`bytes_used` counts from the end of the header, like the
/// header's `next_buffer_offset`; zero is an empty buffer). On malformed
/// data the events before it are kept and the error returned.
pub fn decode_buffer(
    buffer: &[u8],
    record: &Record,
    out: &mut Vec<Event>,
) -> Result<(), DecodeError> {
    if record.bytes_used == 0 {
        return Ok(());
    }
    let end = used_end(record);
    if end > buffer.len() {
        return Err(DecodeError::BadLength {
            bytes_used: record.bytes_used,
            available: buffer.len(),
        });
    }
    for entry in tlfs::entries_in(buffer, ENTRIES_OFFSET, end) {
        let entry = entry.map_err(DecodeError::Entry)?;
        out.push(Event {
            cpu: record.cpu,
            // The walker stays below `end`, a u32.
            offset: entry.offset as u32,
            timestamp: entry.header.timestamp,
            entry_type: EventType(entry.header.entry_type),
            size: entry.header.size,
            context: entry.header.context,
        });
    }
    Ok(())
}

/// [`decode_buffer`] for a buffer that cannot be borrowed as a slice: the
/// mapping, which the hypervisor may write at any time, decoded in place
/// instead of from a copy ([`crate::device::Mapping::decode`]).
/// `available` bytes of the buffer exist; `header_at(offset)` returns the
/// [`EntryHeader::SIZE`] bytes at `offset`, which is [`tlfs::ENTRY_ALIGN`]ed
/// and at most `available - EntryHeader::SIZE`. Only the entry headers are
/// read: events carry no payload.
///
/// The same walk as `tlfs::entries_in`, entry for entry and error for
/// error (the test `in_place_walk_matches_the_shared_walker` holds the two
/// together), over the same format facts from `tlfs`.
pub fn decode_with(
    record: &Record,
    available: usize,
    mut header_at: impl FnMut(usize) -> [u8; EntryHeader::SIZE],
    out: &mut Vec<Event>,
) -> Result<(), DecodeError> {
    if record.bytes_used == 0 {
        return Ok(());
    }
    let end = used_end(record);
    if end > available {
        return Err(DecodeError::BadLength {
            bytes_used: record.bytes_used,
            available,
        });
    }
    let mut offset = ENTRIES_OFFSET;
    while offset < end {
        if offset % tlfs::ENTRY_ALIGN != 0 {
            return Err(DecodeError::Entry(EntryError::Misaligned { offset }));
        }
        if end - offset < EntryHeader::SIZE {
            return Err(DecodeError::Entry(EntryError::Truncated { offset }));
        }
        let Some(header) = EntryHeader::decode(&header_at(offset)) else {
            return Err(DecodeError::Entry(EntryError::Truncated { offset }));
        };
        let size = header.size;
        if usize::from(size) < EntryHeader::SIZE {
            return Err(DecodeError::Entry(EntryError::TooSmall { offset, size }));
        }
        if usize::from(size) > end - offset {
            return Err(DecodeError::Entry(EntryError::Overrun { offset, size }));
        }
        out.push(Event {
            cpu: record.cpu,
            // Below `end`, a u32.
            offset: offset as u32,
            timestamp: header.timestamp,
            entry_type: EventType(header.entry_type),
            size,
            context: header.context,
        });
        offset = EntryHeader::next_offset(offset, size);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tlfs::BufferHeader;

    /// Builds a buffer the way the hypervisor fills one: a header with
    /// `next_buffer_offset` set (entry bytes after the header), then each
    /// entry (context, type, timestamp, payload length) at the next 8-byte
    /// boundary. Returns the bytes, cut after the last entry.
    pub(crate) fn synthetic_buffer(
        index: u32,
        cpu: u8,
        entries: &[(u32, u16, u64, usize)],
    ) -> Vec<u8> {
        let mut buf = vec![0u8; ENTRIES_OFFSET];
        for &(context, entry_type, timestamp, payload) in entries {
            let offset = buf.len();
            let size = (EntryHeader::SIZE + payload) as u16;
            buf.resize(EntryHeader::next_offset(offset, size), 0);
            let header = EntryHeader {
                context,
                size,
                entry_type,
                timestamp,
            };
            header.encode(&mut buf[offset..]).unwrap();
            for (i, b) in buf[offset + EntryHeader::SIZE..offset + size as usize]
                .iter_mut()
                .enumerate()
            {
                *b = i as u8 ^ 0xA5;
            }
        }
        let header = BufferHeader {
            buffer_size: 65536,
            buffer_index: index,
            time_stamp: entries.first().map_or(0, |e| e.2),
            logical_processor: u16::from(cpu),
            buffer_state: 3,
            next_buffer_offset: (buf.len() - ENTRIES_OFFSET) as u32,
            log_type: 1,
            next_buffer_index: tlfs::END_OF_CHAIN,
            ..BufferHeader::default()
        };
        header.encode(&mut buf).unwrap();
        buf
    }

    pub(crate) fn record_for(buf: &[u8], sequence: u64) -> Record {
        let header = BufferHeader::decode(buf).unwrap();
        Record {
            buffer_index: header.buffer_index,
            cpu: u32::from(header.logical_processor),
            sequence,
            bytes_used: header.next_buffer_offset,
            events_lost: header.events_lost,
            timestamp: header.time_stamp,
            vp: u32::from(header.logical_processor),
            reserved: 0,
        }
    }

    #[test]
    fn decodes_exact_events() {
        let buf = synthetic_buffer(
            3,
            2,
            &[
                (0x11, 7, 1000, 0),
                (0x22, 8, 1005, 5),
                (0xDEAD_BEEF, 0xFFFF, u64::MAX, 16),
            ],
        );
        // 72 + 16, then 21 rounded up to 24, then 32.
        assert_eq!(buf.len(), 72 + 16 + 24 + 32);
        let rec = record_for(&buf, 0);
        let mut events = Vec::new();
        decode_buffer(&buf, &rec, &mut events).unwrap();
        let ev = |offset, timestamp, entry_type, size, context| Event {
            cpu: 2,
            offset,
            timestamp,
            entry_type: EventType(entry_type),
            size,
            context,
        };
        assert_eq!(
            events,
            [
                ev(72, 1000, 7, 16, 0x11),
                ev(88, 1005, 8, 21, 0x22),
                ev(112, u64::MAX, 0xFFFF, 32, 0xDEAD_BEEF),
            ]
        );
        assert_eq!(events[1].end(), 112);
        assert_eq!(events[2].end(), 144);
    }

    /// One spelling for people, the number for JSON.
    #[test]
    fn event_type_spelling() {
        assert_eq!(EventType(0x5e0e).to_string(), "0x5e0e");
        assert_eq!(EventType(7).to_string(), "0x0007");
        assert_eq!(EventType(0).to_string(), "0x0000");
        assert_eq!(EventType(u16::MAX).to_string(), "0xffff");
        assert_eq!(serde_json::to_string(&EventType(0x5e0e)).unwrap(), "24078");
    }

    #[test]
    fn empty_buffers() {
        let buf = synthetic_buffer(0, 0, &[]);
        let mut events = Vec::new();
        decode_buffer(&buf, &record_for(&buf, 0), &mut events).unwrap();
        let zero = Record::default();
        decode_buffer(&[], &zero, &mut events).unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn bad_lengths() {
        let buf = synthetic_buffer(0, 0, &[(1, 1, 1, 0)]);
        let mut rec = record_for(&buf, 0);
        let mut events = Vec::new();
        // 16 entry bytes follow the 72-byte header; 17 do not.
        assert_eq!(rec.bytes_used, 16);
        rec.bytes_used = 17;
        assert_eq!(
            decode_buffer(&buf, &rec, &mut events),
            Err(DecodeError::BadLength {
                bytes_used: 17,
                available: 88
            })
        );
        // The old reading, an offset from the buffer start (72 + 16).
        rec.bytes_used = 88;
        let err = decode_buffer(&buf, &rec, &mut events).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bytes_used 88 (entry bytes after the 72-byte header) is outside the buffer \
             (88 bytes available)"
        );
        assert!(events.is_empty());
    }

    /// The last entry ends exactly at the buffer end: a whole page, its
    /// `next_buffer_offset` equal to `buffer_size` (4096 - 72).
    #[test]
    fn last_entry_ends_exactly_at_the_buffer_end() {
        // 72 + 16 + 24 + 3984 = 4096.
        let mut buf = synthetic_buffer(5, 1, &[(1, 1, 10, 0), (2, 2, 20, 8), (3, 3, 30, 3968)]);
        assert_eq!(buf.len(), 4096);
        let header = BufferHeader::decode(&buf).unwrap();
        assert_eq!(header.next_buffer_offset, 4096 - 72);
        let rec = record_for(&buf, 0);
        assert_eq!(rec.bytes_used, 4024);
        assert_eq!(used_end(&rec), 4096);
        let mut events = Vec::new();
        decode_buffer(&buf, &rec, &mut events).unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| (e.offset, e.size))
                .collect::<Vec<_>>(),
            [(72, 16), (88, 24), (112, 3984)]
        );
        assert_eq!(events[2].end(), 4096);
        // The same buffer with its last entry one byte longer runs over.
        buf[112 + 4..112 + 6].copy_from_slice(&3985u16.to_le_bytes());
        events.clear();
        let err = decode_buffer(&buf, &rec, &mut events).unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry at offset 112 of size 3985 runs past the end"
        );
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn keeps_events_before_malformed_entry() {
        let mut buf = synthetic_buffer(0, 1, &[(1, 1, 10, 0), (2, 2, 20, 0)]);
        // Second entry claims 8 bytes, less than its own header.
        buf[88 + 4..88 + 6].copy_from_slice(&8u16.to_le_bytes());
        let mut events = Vec::new();
        let err = decode_buffer(&buf, &record_for(&buf, 0), &mut events).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Entry(EntryError::TooSmall {
                offset: 88,
                size: 8
            })
        );
        assert_eq!(
            err.to_string(),
            "entry at offset 88 has size 8, smaller than its header"
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].timestamp, 10);

        // Size running past next_buffer_offset.
        buf[88 + 4..88 + 6].copy_from_slice(&64u16.to_le_bytes());
        events.clear();
        let err = decode_buffer(&buf, &record_for(&buf, 0), &mut events).unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry at offset 88 of size 64 runs past the end"
        );
        assert_eq!(events.len(), 1);
    }

    /// The in-place walk over a slice's bytes gives exactly what the shared
    /// walker gives: the same events, the same error, for any bytes.
    mod in_place {
        use super::*;
        use proptest::prelude::*;

        fn in_place(buf: &[u8], rec: &Record) -> (Vec<Event>, Result<(), DecodeError>) {
            let mut events = Vec::new();
            let r = decode_with(
                rec,
                buf.len(),
                |at| buf[at..at + EntryHeader::SIZE].try_into().unwrap(),
                &mut events,
            );
            (events, r)
        }

        fn shared(buf: &[u8], rec: &Record) -> (Vec<Event>, Result<(), DecodeError>) {
            let mut events = Vec::new();
            let r = decode_buffer(buf, rec, &mut events);
            (events, r)
        }

        #[test]
        fn exact_events_and_errors() {
            let buf = synthetic_buffer(3, 2, &[(0x11, 7, 1000, 0), (0x22, 8, 1005, 5)]);
            let rec = record_for(&buf, 0);
            let (events, r) = in_place(&buf, &rec);
            assert_eq!(r, Ok(()));
            assert_eq!(
                events
                    .iter()
                    .map(|e| (e.offset, e.size, e.context))
                    .collect::<Vec<_>>(),
                [(72, 16, 0x11), (88, 21, 0x22)]
            );
            let mut bad = buf.clone();
            bad[88 + 4..88 + 6].copy_from_slice(&8u16.to_le_bytes());
            assert_eq!(
                in_place(&bad, &rec),
                (
                    events[..1].to_vec(),
                    Err(DecodeError::Entry(EntryError::TooSmall {
                        offset: 88,
                        size: 8
                    }))
                )
            );
            let mut long = rec;
            long.bytes_used += 1;
            assert_eq!(
                in_place(&buf, &long).1,
                Err(DecodeError::BadLength {
                    bytes_used: long.bytes_used,
                    available: buf.len()
                })
            );
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn in_place_walk_matches_the_shared_walker(
                sizes in proptest::collection::vec(0u16..80, 0..12),
                garbage in proptest::collection::vec(any::<u8>(), 0..24),
                cut in 0usize..40,
                used_delta in -20i64..20,
            ) {
                // Entries whose size fields come from `sizes` (so some are
                // too small, some run over), then garbage bytes.
                let mut buf = vec![0u8; ENTRIES_OFFSET];
                for (i, &size) in sizes.iter().enumerate() {
                    let at = buf.len();
                    let header = EntryHeader { context: i as u32, size, entry_type: 1, timestamp: i as u64 };
                    buf.resize(at + EntryHeader::SIZE, 0);
                    header.encode(&mut buf[at..]).unwrap();
                    buf.resize(EntryHeader::next_offset(at, size.max(EntryHeader::SIZE as u16)), 0xEE);
                }
                buf.extend_from_slice(&garbage);
                let used = (buf.len() - ENTRIES_OFFSET) as i64 + used_delta;
                let rec = Record { bytes_used: used.max(0) as u32, cpu: 1, ..Record::default() };
                let avail = buf.len().saturating_sub(cut).max(ENTRIES_OFFSET);
                buf.truncate(avail);
                prop_assert_eq!(in_place(&buf, &rec), shared(&buf, &rec));
            }
        }
    }
}
