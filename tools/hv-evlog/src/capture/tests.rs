// SPDX-License-Identifier: GPL-2.0

//! The capture loop's tests, with the synthetic [`Fake`] source other
//! modules' tests use too.

use std::collections::VecDeque;

use super::*;
use crate::capfile::Meta;
use crate::decode::tests::{record_for, synthetic_buffer};
use crate::output::Format;

/// Synthetic buffers handed out one by one; records every release.
pub(crate) struct Fake {
    queue: VecDeque<(Record, Vec<u8>)>,
    current: Vec<u8>,
    released: Vec<u32>,
    timeouts: usize,
    /// Sequences whose copy the source reports restarted.
    restarted: Vec<u64>,
    /// Calls of `decode` (the events-only path).
    decodes: usize,
}

impl Fake {
    pub(crate) fn new(buffers: Vec<Vec<u8>>) -> Self {
        let queue = buffers
            .into_iter()
            .enumerate()
            .map(|(seq, buf)| (record_for(&buf, seq as u64), buf))
            .collect();
        Self {
            queue,
            current: Vec::new(),
            released: Vec::new(),
            timeouts: 0,
            restarted: Vec::new(),
            decodes: 0,
        }
    }
}

impl Source for Fake {
    fn wait(&mut self, _timeout: Duration) -> Result<Next> {
        if self.timeouts > 0 {
            self.timeouts -= 1;
            return Ok(Next::Timeout);
        }
        Ok(match self.queue.pop_front() {
            Some((record, buf)) => {
                self.current = buf;
                Next::Record(record)
            }
            None => Next::Closed,
        })
    }

    fn snapshot(&mut self, _record: &Record, out: &mut Vec<u8>) -> Result<()> {
        out.clone_from(&self.current);
        Ok(())
    }

    fn still_complete(&mut self, record: &Record) -> bool {
        !self.restarted.contains(&record.sequence)
    }

    fn decode(
        &mut self,
        record: &Record,
        _scratch: &mut Vec<u8>,
        out: &mut Vec<Event>,
    ) -> Result<std::result::Result<(), DecodeError>> {
        self.decodes += 1;
        Ok(decode_buffer(&self.current, record, out))
    }

    fn release(&mut self, index: u32) -> Result<()> {
        self.released.push(index);
        Ok(())
    }
}

/// A buffer restarted while it was copied (circular mode) is counted
/// as overwritten, its events are not written, and it is still handed
/// back.
#[test]
fn a_buffer_restarted_during_its_copy_is_not_decoded() {
    // Text decodes in place (`Source::decode`), binary from a snapshot:
    // both check the buffer afterwards.
    for (format, decodes) in [(Format::Text, 4), (Format::Binary, 0)] {
        let mut fake = Fake::new(four_buffers());
        fake.restarted = vec![1];
        let mut sink = Sink::new(Vec::new(), format);
        let (totals, end) = run(
            &mut fake,
            Limits::default(),
            &mut sink,
            &|| false,
            &mut |_| {},
        )
        .unwrap();
        let out = String::from_utf8_lossy(&sink.finish().unwrap()).into_owned();
        assert_eq!(end, End::Closed);
        assert_eq!(fake.decodes, decodes, "{format:?}");
        assert_eq!(fake.released, [0, 1, 2, 3]);
        assert_eq!(totals.overwritten, 1);
        assert_eq!(totals.buffers, 3);
        assert_eq!(totals.events, 9);
        if format == Format::Text {
            assert!(out.contains("cpu=0 ts=0 "), "{out}");
            assert!(!out.contains("ts=100 "), "{out}");
        }
    }
}

/// With `--cpu`, the events-only path decodes only the CPU's buffers.
#[test]
fn events_only_path_skips_filtered_buffers() {
    let mut fake = Fake::new(four_buffers());
    let mut sink = Sink::new(Vec::new(), Format::Json);
    let limits = Limits {
        cpu: Some(1),
        ..Limits::default()
    };
    let (totals, _) = run(&mut fake, limits, &mut sink, &|| false, &mut |_| {}).unwrap();
    assert_eq!(fake.decodes, 2);
    assert_eq!((totals.buffers, totals.events), (4, 6));
}

/// Four buffers: CPU 0, 1, 0, 1, three events each, time stamps
/// 100 * buffer + event; buffer 2 lost 5 events before it.
pub(crate) fn four_buffers() -> Vec<Vec<u8>> {
    (0..4u32)
        .map(|b| {
            let entries: Vec<_> = (0..3u64)
                .map(|e| {
                    (
                        b * 10 + e as u32,
                        1 + e as u16,
                        u64::from(b) * 100 + e,
                        8 * e as usize,
                    )
                })
                .collect();
            let mut buf = synthetic_buffer(b, (b % 2) as u8, &entries);
            if b == 2 {
                buf[8..12].copy_from_slice(&5u32.to_le_bytes());
            }
            buf
        })
        .collect()
}

fn capture(
    limits: Limits,
    format: Format,
    buffers: Vec<Vec<u8>>,
) -> (String, Totals, End, Vec<u32>) {
    let mut fake = Fake::new(buffers);
    fake.timeouts = 2;
    let mut sink = Sink::new(Vec::new(), format);
    let mut ticks = 0;
    let (totals, end) = run(&mut fake, limits, &mut sink, &|| false, &mut |_| ticks += 1).unwrap();
    assert!(ticks >= 2);
    let out = String::from_utf8_lossy(&sink.finish().unwrap()).into_owned();
    (out, totals, end, fake.released)
}

#[test]
fn everything() {
    let (out, totals, end, released) = capture(Limits::default(), Format::Text, four_buffers());
    assert_eq!(end, End::Closed);
    assert_eq!(released, [0, 1, 2, 3]);
    assert_eq!(
        totals,
        Totals {
            events: 12,
            buffers: 4,
            lost: 5,
            malformed: 0,
            overwritten: 0,
        }
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(
        lines[0],
        "cpu=0 ts=0 type=0x0001 size=16 context=0x00000000"
    );
    assert_eq!(
        lines[5],
        "cpu=1 ts=102 type=0x0003 size=32 context=0x0000000c"
    );
    assert_eq!(
        lines[11],
        "cpu=1 ts=302 type=0x0003 size=32 context=0x00000020"
    );
}

#[test]
fn count_stops_mid_buffer_and_releases_it() {
    let limits = Limits {
        count: Some(5),
        ..Limits::default()
    };
    let (out, totals, end, released) = capture(limits, Format::Json, four_buffers());
    assert_eq!(end, End::Count);
    assert_eq!(released, [0, 1]);
    assert_eq!(totals.events, 5);
    assert_eq!(totals.buffers, 2);
    assert_eq!(
        out,
        "{\"cpu\":0,\"ts\":0,\"type\":1,\"size\":16,\"context\":0}\n\
         {\"cpu\":0,\"ts\":1,\"type\":2,\"size\":24,\"context\":1}\n\
         {\"cpu\":0,\"ts\":2,\"type\":3,\"size\":32,\"context\":2}\n\
         {\"cpu\":1,\"ts\":100,\"type\":1,\"size\":16,\"context\":10}\n\
         {\"cpu\":1,\"ts\":101,\"type\":2,\"size\":24,\"context\":11}\n"
    );
}

#[test]
fn count_on_a_buffer_boundary() {
    let limits = Limits {
        count: Some(6),
        ..Limits::default()
    };
    let (out, totals, end, released) = capture(limits, Format::Text, four_buffers());
    assert_eq!(
        (end, totals.events, out.lines().count()),
        (End::Count, 6, 6)
    );
    assert_eq!(released, [0, 1]);
}

#[test]
fn cpu_filter() {
    let limits = Limits {
        cpu: Some(1),
        ..Limits::default()
    };
    let (out, totals, end, released) = capture(limits, Format::Text, four_buffers());
    assert_eq!(end, End::Closed);
    // Filtered buffers are still consumed, counted and released.
    assert_eq!(released, [0, 1, 2, 3]);
    assert_eq!(
        totals,
        Totals {
            events: 6,
            buffers: 4,
            lost: 5,
            malformed: 0,
            overwritten: 0,
        }
    );
    let ts: Vec<&str> = out
        .lines()
        .map(|l| {
            assert!(l.starts_with("cpu=1 "), "{l}");
            l.split(' ').nth(1).unwrap()
        })
        .collect();
    assert_eq!(
        ts,
        ["ts=100", "ts=101", "ts=102", "ts=300", "ts=301", "ts=302"]
    );
}

#[test]
fn cpu_and_count_together() {
    let limits = Limits {
        cpu: Some(1),
        count: Some(4),
        ..Limits::default()
    };
    let (out, totals, end, released) = capture(limits, Format::Text, four_buffers());
    assert_eq!(end, End::Count);
    assert_eq!(released, [0, 1, 2, 3]);
    assert_eq!(totals.events, 4);
    assert_eq!(
        out.lines().last().unwrap(),
        "cpu=1 ts=300 type=0x0001 size=16 context=0x0000001e"
    );
}

#[test]
fn malformed_buffer_keeps_good_events_and_warns() {
    let mut buffers = four_buffers();
    // Buffer 1's second entry (offset 88) gets size 4.
    buffers[1][88 + 4..88 + 6].copy_from_slice(&4u16.to_le_bytes());
    let mut fake = Fake::new(buffers);
    let mut sink = Sink::new(Vec::new(), Format::Text);
    let mut warnings = Vec::new();
    let (totals, _) = run(
        &mut fake,
        Limits::default(),
        &mut sink,
        &|| false,
        &mut |c| warnings.extend(c.take_warnings()),
    )
    .unwrap();
    assert_eq!(totals.events, 10);
    assert_eq!(totals.malformed, 1);
    assert_eq!(
        warnings,
        [
            "buffer 1 (cpu 1, sequence 1): entry at offset 88 has size 4, smaller than its \
          header; kept the 1 events before it"
        ]
    );
}

#[test]
fn stop_request_and_duration() {
    let mut fake = Fake::new(four_buffers());
    let mut sink = Sink::new(Vec::new(), Format::Text);
    let (totals, end) = run(
        &mut fake,
        Limits::default(),
        &mut sink,
        &|| true,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((end, totals.buffers), (End::Stopped, 0));

    let limits = Limits {
        duration: Some(Duration::ZERO),
        ..Limits::default()
    };
    let (totals, end) = run(&mut fake, limits, &mut sink, &|| false, &mut |_| {}).unwrap();
    assert_eq!((end, totals.buffers), (End::Duration, 0));
    assert!(fake.released.is_empty());
}

/// Counts flushes.
#[derive(Default)]
struct Flushes(usize);
impl Write for Flushes {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

#[test]
fn idle_waits_flush_the_output() {
    let mut fake = Fake::new(four_buffers());
    fake.timeouts = 3;
    let mut sink = Sink::new(Flushes::default(), Format::Text);
    run(
        &mut fake,
        Limits::default(),
        &mut sink,
        &|| false,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(sink.finish().unwrap().0, 3 + 1);
}

struct ClosedPipe;
impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn broken_pipe_ends_quietly_after_releasing() {
    let mut fake = Fake::new(four_buffers());
    let mut sink = Sink::new(ClosedPipe, Format::Text);
    let (_, end) = run(
        &mut fake,
        Limits::default(),
        &mut sink,
        &|| false,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(end, End::BrokenPipe);
    assert_eq!(fake.released, [0]);
}

#[test]
fn binary_round_trip_through_file_source() {
    let limits = Limits {
        count: Some(7),
        ..Limits::default()
    };
    let info = crate::uapi::Info {
        abi_version: 1,
        time_basis: 1,
        log_type: 1,
        buffer_size: 65536,
        header_size: 72,
        ..crate::uapi::Info::default()
    };
    let mut fake = Fake::new(four_buffers());
    let mut sink = Sink::new(Vec::new(), Format::Binary);
    sink.begin(&Meta {
        info,
        ..Meta::default()
    })
    .unwrap();
    let (totals, _) = run(&mut fake, limits, &mut sink, &|| false, &mut |_| {}).unwrap();
    assert_eq!(totals.events, 7);
    let file = sink.finish().unwrap();
    // Three records: two whole buffers (72 + 16 + 24 + 32 bytes) and the
    // third cut after its first event (72 + 16).
    assert_eq!(file.len(), 64 + 3 * 32 + 2 * 144 + 88);

    let (mut source, read) = FileSource::open(&file[..]).unwrap();
    assert_eq!(read.info.time_basis, 1);
    assert_eq!(read.info.buffer_size, 65536);
    let mut text = Sink::new(Vec::new(), Format::Text);
    let (totals, end) = run(
        &mut source,
        Limits::default(),
        &mut text,
        &|| false,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        (totals.events, totals.buffers, totals.lost, end),
        (7, 3, 5, End::Closed)
    );
    let direct = capture(limits, Format::Text, four_buffers()).0;
    assert_eq!(String::from_utf8(text.finish().unwrap()).unwrap(), direct);

    // A file cut inside its last record is refused with the offset.
    let (mut source, _) = FileSource::open(&file[..file.len() - 1]).unwrap();
    let mut sink = Sink::new(Vec::new(), Format::Text);
    let err = run(
        &mut source,
        Limits::default(),
        &mut sink,
        &|| false,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "capture file is truncated: the record at byte 416 is incomplete"
    );
    for bad in [&b"HVEVLOG2"[..], b"HVEVLOG3........", b""] {
        let err = FileSource::open(bad).err().unwrap();
        assert_eq!(
            err.to_string(),
            "not an hv-evlog capture file (no HVEVLOG1 or HVEVLOG2 header) nor an ETL \
             file: write one with 'hv-evlog capture --format binary' or '--format etl'"
        );
    }
    // A version 1 file (32-byte header) still reads.
    let mut v1 = b"HVEVLOG1".to_vec();
    for w in [1u32, 1, 1, 0, 65536, 72] {
        v1.extend_from_slice(&w.to_le_bytes());
    }
    v1.extend_from_slice(&file[64..]);
    let (mut source, read) = FileSource::open(&v1[..]).unwrap();
    assert_eq!((read.info.buffer_size, read.timer_hz), (65536, 0));
    let mut text = Sink::new(Vec::new(), Format::Text);
    run(
        &mut source,
        Limits::default(),
        &mut text,
        &|| false,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(String::from_utf8(text.finish().unwrap()).unwrap(), direct);
}
