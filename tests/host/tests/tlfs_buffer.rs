// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/tlfs/ enums.rs, buffer.rs and sources.rs: the
//! enumerations, the buffer and entry headers, the entry walker and the
//! source names.

mod tlfs_common;

use tlfs_common::encode;

use hv_evlog_host_tests::tlfs::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

#[test]
fn event_log_types() {
    let all = [
        (EventLogType::GlobalSystemEvents, 0, "global"),
        (EventLogType::LocalDiagnostics, 1, "local"),
        (EventLogType::SystemDiagnostics, 2, "system"),
    ];
    assert_eq!(EventLogType::ALL.len(), all.len());
    for (t, raw, name) in all {
        assert_eq!(t.raw(), raw);
        assert_eq!(t.name(), name);
        assert_eq!(EventLogType::try_from(raw), Ok(t));
        assert_eq!(t.is_local(), raw == 1);
    }
    for raw in [3, 4, 0x100, u32::MAX] {
        assert_eq!(EventLogType::from_raw(raw), None);
        assert_eq!(
            EventLogType::try_from(raw),
            Err(InvalidValue(u64::from(raw)))
        );
    }
}

#[test]
fn buffer_states() {
    let all = [
        (BufferState::Standby, 0, "standby", false),
        (BufferState::Free, 1, "free", true),
        (BufferState::InUse, 2, "in-use", false),
        (BufferState::Complete, 3, "complete", false),
        (BufferState::Ready, 4, "ready", true),
    ];
    assert_eq!(BufferState::ALL.len(), all.len());
    for (s, raw, name, may_unmap) in all {
        assert_eq!(s.raw(), raw);
        assert_eq!(s.name(), name);
        assert_eq!(BufferState::try_from(raw), Ok(s));
        assert_eq!(s.may_unmap(), may_unmap);
    }
    for raw in [5, 6, 7, u32::MAX] {
        assert_eq!(
            BufferState::try_from(raw),
            Err(InvalidValue(u64::from(raw)))
        );
    }
}

#[test]
fn modes_and_time_bases() {
    assert_eq!(EventLogMode::Regular.raw(), 0);
    assert_eq!(EventLogMode::Circular.raw(), 1);
    assert_eq!(EventLogMode::try_from(1), Ok(EventLogMode::Circular));
    assert_eq!(EventLogMode::try_from(2), Err(InvalidValue(2)));
    assert_eq!(EventLogMode::Circular.name(), "circular");

    assert_eq!(TimeBasis::Reference.raw(), 0);
    assert_eq!(TimeBasis::Tsc.raw(), 1);
    assert_eq!(TimeBasis::Qpc.raw(), 2);
    assert_eq!(TimeBasis::try_from(2), Ok(TimeBasis::Qpc));
    assert_eq!(TimeBasis::try_from(3), Err(InvalidValue(3)));
    assert_eq!(TimeBasis::Tsc.name(), "tsc");
}

proptest! {
    #[test]
    fn enums_round_trip_or_reject(raw: u32) {
        match EventLogType::from_raw(raw) {
            Some(t) => prop_assert_eq!(t.raw(), raw),
            None => prop_assert!(raw > 2),
        }
        match BufferState::from_raw(raw) {
            Some(s) => prop_assert_eq!(s.raw(), raw),
            None => prop_assert!(raw > 4),
        }
        match EventLogMode::from_raw(raw) {
            Some(m) => prop_assert_eq!(m.raw(), raw),
            None => prop_assert!(raw > 1),
        }
        match TimeBasis::from_raw(raw) {
            Some(b) => prop_assert_eq!(b.raw(), raw),
            None => prop_assert!(raw > 2),
        }
    }
}

// ---------------------------------------------------------------------------
// Buffer and entry headers
// ---------------------------------------------------------------------------

fn sample_header() -> BufferHeader {
    BufferHeader {
        buffer_size: 0x0001_0000,
        buffer_index: 0x0000_0102,
        events_lost: 3,
        reference_counter: 1,
        time_stamp: 0x1122_3344_5566_7788,
        reserved1: 0,
        reserved2: 0,
        logical_processor: 0x0109,
        logger_id: 0xBEEF,
        buffer_state: BufferState::Complete.raw(),
        next_buffer_offset: 0x0000_0120,
        log_type: EventLogType::LocalDiagnostics.raw(),
        next_buffer_index: END_OF_CHAIN,
        reserved3: 0xCAFE_F00D,
        reserved4: [0x0102_0304, 0x0506_0708],
    }
}

#[test]
fn buffer_header_bytes() {
    #[rustfmt::skip]
    let expected: [u8; 72] = [
        0x00, 0x00, 0x01, 0x00, // 0: buffer_size
        0x02, 0x01, 0x00, 0x00, // 4: buffer_index
        0x03, 0x00, 0x00, 0x00, // 8: events_lost
        0x01, 0x00, 0x00, 0x00, // 12: reference_counter
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // 16: time_stamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 24: reserved
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 32: reserved
        0x09, 0x01, // 40: logical_processor (16 bits)
        0xEF, 0xBE, // 42: logger_id
        0x03, 0x00, 0x00, 0x00, // 44: buffer_state
        0x20, 0x01, 0x00, 0x00, // 48: next_buffer_offset
        0x01, 0x00, 0x00, 0x00, // 52: type
        0xFF, 0xFF, 0xFF, 0xFF, // 56: next_buffer_index
        0x0D, 0xF0, 0xFE, 0xCA, // 60: reserved
        0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05, // 64: reserved
    ];
    let header = sample_header();
    assert_eq!(BufferHeader::SIZE, 72);
    assert_eq!(encode(&header), expected);
    assert_eq!(BufferHeader::decode(&expected), Some(header));
    assert_eq!(header.state(), Some(BufferState::Complete));
    assert_eq!(
        header.event_log_type(),
        Some(EventLogType::LocalDiagnostics)
    );
    assert_eq!(header.next_in_chain(), None);
}

#[test]
fn buffer_header_accessors() {
    let mut header = sample_header();
    header.next_buffer_index = 4;
    header.buffer_state = 9;
    header.log_type = 7;
    assert_eq!(header.next_in_chain(), Some(4));
    assert_eq!(header.state(), None);
    assert_eq!(header.event_log_type(), None);
}

#[test]
fn entry_header_bytes() {
    let header = EntryHeader {
        context: 0xDEAD_BEEF,
        size: 0x0028,
        entry_type: 0x1D05,
        timestamp: 0x0000_0001_0000_0002,
    };
    #[rustfmt::skip]
    let expected = [
        0xEF, 0xBE, 0xAD, 0xDE, // context
        0x28, 0x00, // size
        0x05, 0x1D, // type
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // timestamp
    ];
    assert_eq!(EntryHeader::SIZE, 16);
    assert_eq!(encode(&header), expected);
    assert_eq!(EntryHeader::decode(&expected), Some(header));
}

#[test]
fn entry_next_offset() {
    assert_eq!(EntryHeader::next_offset(72, 16), 88);
    assert_eq!(EntryHeader::next_offset(72, 17), 96);
    assert_eq!(EntryHeader::next_offset(72, 24), 96);
    assert_eq!(EntryHeader::next_offset(96, 23), 120);
}

fn arb_buffer_header() -> impl Strategy<Value = BufferHeader> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        (any::<u16>(), any::<u16>()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (any::<u32>(), any::<[u32; 2]>()),
    )
        .prop_map(|(a, b, c, d, e)| BufferHeader {
            buffer_size: a.0,
            buffer_index: a.1,
            events_lost: a.2,
            reference_counter: a.3,
            time_stamp: b.0,
            reserved1: b.1,
            reserved2: b.2,
            logical_processor: c.0,
            logger_id: c.1,
            buffer_state: d.0,
            next_buffer_offset: d.1,
            log_type: d.2,
            next_buffer_index: d.3,
            reserved3: e.0,
            reserved4: e.1,
        })
}

proptest! {
    #[test]
    fn buffer_header_round_trip(header in arb_buffer_header()) {
        let bytes = encode(&header);
        prop_assert_eq!(BufferHeader::decode(&bytes), Some(header));
        // The fields sit at the reference offsets.
        prop_assert_eq!(&bytes[48..52], &header.next_buffer_offset.to_le_bytes());
        prop_assert_eq!(&bytes[56..60], &header.next_buffer_index.to_le_bytes());
        prop_assert_eq!(&bytes[40..42], &header.logical_processor.to_le_bytes());
    }

    #[test]
    fn entry_header_round_trip(
        context: u32,
        size: u16,
        entry_type: u16,
        timestamp: u64,
    ) {
        let header = EntryHeader { context, size, entry_type, timestamp };
        let bytes = encode(&header);
        prop_assert_eq!(EntryHeader::decode(&bytes), Some(header));
    }
}

// ---------------------------------------------------------------------------
// Entry walker
// ---------------------------------------------------------------------------

/// An entry to lay out: header fields and payload.
#[derive(Clone, Debug)]
struct Sample {
    context: u32,
    entry_type: u16,
    timestamp: u64,
    payload: Vec<u8>,
}

/// Lays `samples` out after a header, back to back and aligned. The used area
/// ends right after the last entry, padded to alignment or not.
fn build_buffer(samples: &[Sample], pad_end: bool, slack: usize) -> (Vec<u8>, Vec<usize>) {
    let mut buf = vec![0; ENTRIES_OFFSET];
    let mut offsets = Vec::new();
    for sample in samples {
        buf.resize(buf.len().next_multiple_of(ENTRY_ALIGN), 0);
        offsets.push(buf.len());
        let header = EntryHeader {
            context: sample.context,
            size: u16::try_from(EntryHeader::SIZE + sample.payload.len()).unwrap(),
            entry_type: sample.entry_type,
            timestamp: sample.timestamp,
        };
        let at = buf.len();
        buf.resize(at + EntryHeader::SIZE, 0);
        header.encode(&mut buf[at..]).unwrap();
        buf.extend_from_slice(&sample.payload);
    }
    if pad_end {
        buf.resize(buf.len().next_multiple_of(ENTRY_ALIGN), 0);
    }
    let end = buf.len();
    buf.resize(end + slack, 0xEE);
    let header = BufferHeader {
        buffer_size: u32::try_from(buf.len() - ENTRIES_OFFSET).unwrap(),
        // Entry bytes, counted from the end of the header.
        next_buffer_offset: u32::try_from(end - ENTRIES_OFFSET).unwrap(),
        next_buffer_index: END_OF_CHAIN,
        ..BufferHeader::default()
    };
    header.encode(&mut buf).unwrap();
    (buf, offsets)
}

/// A buffer `len` bytes long whose used area ends at offset `end` from the
/// buffer start: its header's `next_buffer_offset` is `end - 72`, the entry
/// bytes after the header.
fn buffer_ending_at(end: u32, len: usize) -> Vec<u8> {
    buffer_with_entry_bytes(end - ENTRIES_OFFSET as u32, len)
}

/// A buffer `len` bytes long whose header says `next_buffer_offset` bytes
/// of entries follow it.
fn buffer_with_entry_bytes(next_buffer_offset: u32, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    let header = BufferHeader {
        buffer_size: u32::try_from(len.saturating_sub(ENTRIES_OFFSET)).unwrap(),
        next_buffer_offset,
        ..BufferHeader::default()
    };
    header.encode(&mut buf).unwrap();
    buf
}

fn put_entry(buf: &mut [u8], offset: usize, size: u16) {
    let header = EntryHeader {
        context: 0,
        size,
        entry_type: 1,
        timestamp: 0,
    };
    header.encode(&mut buf[offset..]).unwrap();
}

fn walk(buf: &[u8]) -> Vec<Result<(usize, u16), EntryError>> {
    entries(buf)
        .map(|item| item.map(|e| (e.offset, e.header.size)))
        .collect()
}

#[test]
fn walk_empty_buffers() {
    assert_eq!(walk(&buffer_ending_at(72, 4096)), []);
    assert_eq!(walk(&buffer_with_entry_bytes(0, 4096)), []);
    // Never started: all-zero header.
    assert_eq!(walk(&[0; 4096]), []);
}

#[test]
fn walk_valid_entries() {
    let mut buf = buffer_ending_at(136, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 20);
    put_entry(&mut buf, 112, 24);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, 20)), Ok((112, 24))]);
}

#[test]
fn walk_unaligned_end_after_last_entry() {
    let mut buf = buffer_ending_at(108, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 20);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, 20))]);
}

#[test]
fn walk_payload() {
    let mut buf = buffer_ending_at(96, 4096);
    put_entry(&mut buf, 72, 20);
    buf[88..92].copy_from_slice(b"abcd");
    let all: Vec<_> = entries(&buf).collect();
    assert_eq!(all.len(), 1);
    let entry = all[0].unwrap();
    assert_eq!(entry.payload, b"abcd");
}

#[test]
fn walk_rejects_small_entries() {
    let mut buf = buffer_ending_at(200, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 15);
    assert_eq!(
        walk(&buf),
        [
            Ok((72, 16)),
            Err(EntryError::TooSmall {
                offset: 88,
                size: 15
            })
        ]
    );
    put_entry(&mut buf, 88, 0);
    assert_eq!(
        walk(&buf)[1],
        Err(EntryError::TooSmall {
            offset: 88,
            size: 0
        })
    );
}

#[test]
fn walk_rejects_overrun() {
    let mut buf = buffer_ending_at(120, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 40);
    assert_eq!(
        walk(&buf),
        [
            Ok((72, 16)),
            Err(EntryError::Overrun {
                offset: 88,
                size: 40
            })
        ]
    );
}

#[test]
fn walk_rejects_truncated_header() {
    let mut buf = buffer_ending_at(96, 4096);
    put_entry(&mut buf, 72, 16);
    assert_eq!(
        walk(&buf),
        [Ok((72, 16)), Err(EntryError::Truncated { offset: 88 })]
    );
}

/// `next_buffer_offset` counts from the end of the header: entries start at
/// header + 0 and the first one is found with an offset of its own size.
#[test]
fn walk_counts_entry_bytes_from_the_end_of_the_header() {
    let mut buf = buffer_with_entry_bytes(16, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 16);
    assert_eq!(walk(&buf), [Ok((72, 16))]);
    // Read as an offset from the buffer start, 88 would have held one entry
    // too; as entry bytes it holds both.
    let mut buf = buffer_with_entry_bytes(32, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 16);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, 16))]);
    assert_eq!(BufferHeader::decode(&buf).unwrap().entries_end(), 104);
    assert_eq!(BufferHeader::decode(&buf).unwrap().total_size(), 4096);
}

/// The last entry ends exactly at the buffer end: `next_buffer_offset` =
/// `buffer_size`, nothing is cut off and nothing is read past the end.
#[test]
fn walk_last_entry_ends_exactly_at_the_buffer_end() {
    let len = 2 * PAGE_SIZE;
    let mut buf = buffer_with_entry_bytes((len - ENTRIES_OFFSET) as u32, len);
    let header = BufferHeader::decode(&buf).unwrap();
    assert_eq!(header.next_buffer_offset, header.buffer_size);
    assert_eq!(header.entries_end(), len);
    // One small entry, then one that fills the rest (8120 - 16 bytes).
    put_entry(&mut buf, 72, 16);
    let last = (len - 88) as u16;
    put_entry(&mut buf, 88, last);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, last))]);
    let entry = entries(&buf).nth(1).unwrap().unwrap();
    assert_eq!(entry.payload.len(), usize::from(last) - EntryHeader::SIZE);
    // One byte more would run past the buffer.
    put_entry(&mut buf, 88, last + 1);
    assert_eq!(
        walk(&buf),
        [
            Ok((72, 16)),
            Err(EntryError::Overrun {
                offset: 88,
                size: last + 1
            })
        ]
    );
}

#[test]
fn walk_rejects_bad_ends() {
    // Entry bytes past the buffer end; the end is reported from the start.
    assert_eq!(
        walk(&buffer_with_entry_bytes(4096 - 72 + 1, 4096)),
        [Err(EntryError::BadEnd { end: 4097 })]
    );
    // The old reading (an offset from the buffer start) of a full buffer.
    assert_eq!(
        walk(&buffer_with_entry_bytes(4096, 4096)),
        [Err(EntryError::BadEnd { end: 4096 + 72 })]
    );
    assert_eq!(
        walk(&buffer_with_entry_bytes(u32::MAX, 4096)),
        [Err(EntryError::BadEnd {
            end: u32::MAX as usize + 72
        })]
    );
    assert_eq!(walk(&[0; 71]), [Err(EntryError::NoHeader { len: 71 })]);
}

#[test]
fn walk_rejects_misaligned_start() {
    let buf = buffer_ending_at(200, 4096);
    let items: Vec<_> = entries_in(&buf, 76, 200).collect();
    assert_eq!(items, [Err(EntryError::Misaligned { offset: 76 })]);
}

#[test]
fn walk_resumes() {
    let mut buf = buffer_ending_at(136, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 20);
    put_entry(&mut buf, 112, 24);
    let mut walker = entries(&buf);
    assert!(walker.next().unwrap().is_ok());
    assert_eq!(walker.position(), 88);
    let rest: Vec<_> = entries_in(&buf, walker.position(), 136)
        .map(|e| e.unwrap().offset)
        .collect();
    assert_eq!(rest, [88, 112]);
}

#[test]
fn walk_stops_after_error() {
    let mut buf = buffer_ending_at(200, 4096);
    put_entry(&mut buf, 72, 8);
    let mut walker = entries(&buf);
    assert!(walker.next().unwrap().is_err());
    assert_eq!(walker.next(), None);
    assert_eq!(walker.next(), None);
}

fn arb_sample() -> impl Strategy<Value = Sample> {
    (
        any::<u32>(),
        any::<u16>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(context, entry_type, timestamp, payload)| Sample {
            context,
            entry_type,
            timestamp,
            payload,
        })
}

proptest! {
    #[test]
    fn walk_decodes_what_was_laid_out(
        samples in proptest::collection::vec(arb_sample(), 0..40),
        pad_end: bool,
        slack in 0usize..64,
    ) {
        let (buf, offsets) = build_buffer(&samples, pad_end, slack);
        let walked: Vec<_> = entries(&buf).collect();
        prop_assert_eq!(walked.len(), samples.len());
        for ((item, sample), offset) in walked.iter().zip(&samples).zip(&offsets) {
            let entry = item.as_ref().unwrap();
            prop_assert_eq!(entry.offset, *offset);
            prop_assert_eq!(entry.offset % ENTRY_ALIGN, 0);
            prop_assert_eq!(entry.header.context, sample.context);
            prop_assert_eq!(entry.header.entry_type, sample.entry_type);
            prop_assert_eq!(entry.header.timestamp, sample.timestamp);
            prop_assert_eq!(
                usize::from(entry.header.size),
                EntryHeader::SIZE + sample.payload.len()
            );
            prop_assert_eq!(entry.payload, sample.payload.as_slice());
        }
    }

    #[test]
    fn walk_never_panics_and_ends(
        bytes in proptest::collection::vec(any::<u8>(), 0..1024),
        end in 0u32..1100,
    ) {
        let mut buf = bytes;
        if buf.len() >= BufferHeader::SIZE {
            buf[48..52].copy_from_slice(&end.to_le_bytes());
        }
        let items: Vec<_> = entries(&buf).collect();
        // Each entry takes at least 16 bytes; at most one error ends the walk.
        prop_assert!(items.len() <= buf.len() / EntryHeader::SIZE + 1);
        prop_assert!(items.iter().rev().skip(1).all(|i| i.is_ok()));
        for entry in items.iter().flatten() {
            // `end` is entry bytes after the header.
            prop_assert!(entry.offset + usize::from(entry.header.size) <= ENTRIES_OFFSET + end as usize);
            prop_assert!(entry.offset + usize::from(entry.header.size) <= buf.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Event sources
// ---------------------------------------------------------------------------

#[test]
fn source_constants() {
    assert_eq!(SOURCE_HC, 0x400);
    assert_eq!(SOURCE_VP, 0x8000);
    assert_eq!(SOURCE_SCH, 0x40_0000);
    assert_eq!(SOURCE_TH, 0x80_0000);
    assert_eq!(SOURCES_EXTENDED, 1);
    assert_eq!(SOURCES_ALL, 0x3FFF_FF00);
}

/// Microsoft's group names and bits (HV_TR_GROUP_*), as the reference file
/// lists them.
#[test]
fn source_table_is_microsofts() {
    #[rustfmt::skip]
    let microsoft: [(&str, u64); 22] = [
        ("BM", 0x100), ("DM", 0x200), ("HC", 0x400), ("IM", 0x800),
        ("IC", 0x1000), ("OB", 0x2000), ("PT", 0x4000), ("VP", 0x8000),
        ("SYNIC", 0x10000), ("SYNIC_TI", 0x20000), ("AM_GVA", 0x40000),
        ("AM", 0x80000), ("VAL", 0x100000), ("VM", 0x200000),
        ("SCH", 0x400000), ("TH", 0x800000), ("TI", 0x1000000),
        ("KE", 0x2000000), ("MM", 0x4000000), ("PROFILER", 0x8000000),
        ("USCH", 0x10000000), ("GENERIC", 0x20000000),
    ];
    assert_eq!(SOURCES.len(), microsoft.len());
    for (&(name, bit), (ms_name, ms_bit)) in SOURCES.iter().zip(microsoft) {
        assert_eq!(name.to_ascii_uppercase(), ms_name);
        assert_eq!(bit, ms_bit, "{name}");
    }
}

#[test]
fn source_names() {
    assert_eq!(source_by_name("hc"), Some(0x400));
    assert_eq!(source_by_name("HC"), Some(0x400));
    assert_eq!(source_by_name("vp"), Some(0x8000));
    assert_eq!(source_by_name("sch"), Some(0x40_0000));
    assert_eq!(source_by_name("Synic_TI"), Some(0x2_0000));
    assert_eq!(source_by_name("usch"), Some(0x1000_0000));
    assert_eq!(source_by_name("generic"), Some(0x2000_0000));
    assert_eq!(source_by_name("profiler"), Some(0x800_0000));
    // The former names of hv_evlog's own table are gone.
    for old in [
        "admin",
        "diag",
        "hypercall",
        "scheduler",
        "synic-ti",
        "bogus",
        "",
    ] {
        assert_eq!(source_by_name(old), None, "{old}");
    }
    assert_eq!(source_name(0x400), Some("hc"));
    assert_eq!(source_name(0x1), None);
    assert_eq!(source_name(0x3), None);
}

#[test]
fn source_table_is_single_bits_in_order() {
    let mut prev = 0;
    for &(name, bit) in SOURCES {
        assert_eq!(bit.count_ones(), 1, "{name}");
        assert!(bit > prev, "{name}");
        assert_eq!(bit & SOURCES_EXTENDED, 0, "{name}");
        assert_eq!(source_by_name(name), Some(bit));
        assert_eq!(source_name(bit), Some(name));
        prev = bit;
    }
    assert_eq!(SOURCES.len(), 22);
}

#[test]
fn source_lists() {
    assert_eq!(parse_sources("hc, vp,,sch"), Ok(0x408400));
    assert_eq!(parse_sources(""), Ok(0));
    assert_eq!(parse_sources("hc,HC"), Ok(0x400));
    assert_eq!(parse_sources("hc, bogus ,vp"), Err("bogus"));
}
