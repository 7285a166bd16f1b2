// SPDX-License-Identifier: GPL-2.0

//! The capture loop, apart from the device: wait for a completed buffer, take
//! a snapshot, decode, filter, write, release. A [`Source`] supplies the
//! buffers: the device, a binary capture file, or a test's synthetic data.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::capfile::{self, HeaderError, Meta};
use crate::decode::{decode_buffer, used_end, DecodeError, Event};
use crate::device::{Device, Mapping, Wait, READ_BATCH};
use crate::error::{Error, Result};
use crate::output::{Sink, RECORD_HEADER_SIZE};
use crate::tlfs::ENTRIES_OFFSET;
use crate::uapi::{BufferInfo, Info, Record, Stats, ABI_VERSION, BUFFER_RETIRED};

/// What waiting for the next completed buffer brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A buffer completed.
    Record(Record),
    /// Nothing within the timeout (or a signal arrived).
    Timeout,
    /// There will be no more (end of file).
    Closed,
}

/// Where completed buffers come from.
pub trait Source {
    /// Waits up to `timeout` for the next completed buffer.
    fn wait(&mut self, timeout: Duration) -> Result<Next>;
    /// Copies the used part of `record`'s buffer into `out`: from offset 0
    /// (the buffer header) through the `bytes_used` entry bytes after it.
    fn snapshot(&mut self, record: &Record, out: &mut Vec<u8>) -> Result<()>;
    /// Whether the copy [`Source::snapshot`] just took is still `record`'s
    /// completion: false once the buffer was restarted (circular mode), so
    /// that the copy may hold part of the next fill and is not used.
    fn still_complete(&mut self, _record: &Record) -> bool {
        true
    }
    /// Hands the buffer back once consumed.
    fn release(&mut self, index: u32) -> Result<()>;
    /// Appends the events of `record`'s buffer to `out`, for outputs that
    /// need no bytes of it: from a snapshot into `scratch` by default; the
    /// device decodes its mapping in place, without the copy (issue 15).
    /// The outer error is the snapshot's, the inner one malformed entries.
    /// [`Source::still_complete`] applies as after a snapshot.
    fn decode(
        &mut self,
        record: &Record,
        scratch: &mut Vec<u8>,
        out: &mut Vec<Event>,
    ) -> Result<std::result::Result<(), DecodeError>> {
        self.snapshot(record, scratch)?;
        Ok(decode_buffer(scratch, record, out))
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn wait(&mut self, timeout: Duration) -> Result<Next> {
        (**self).wait(timeout)
    }
    fn snapshot(&mut self, record: &Record, out: &mut Vec<u8>) -> Result<()> {
        (**self).snapshot(record, out)
    }
    fn still_complete(&mut self, record: &Record) -> bool {
        (**self).still_complete(record)
    }
    fn release(&mut self, index: u32) -> Result<()> {
        (**self).release(index)
    }
    fn decode(
        &mut self,
        record: &Record,
        scratch: &mut Vec<u8>,
        out: &mut Vec<Event>,
    ) -> Result<std::result::Result<(), DecodeError>> {
        (**self).decode(record, scratch, out)
    }
}

/// The device with each of its buffers mapped on its own, following the
/// table as resizes change it.
pub struct DeviceSource<'a> {
    device: &'a Device,
    buffer_size: u32,
    /// One mapping per buffer in the rotation, by index.
    maps: BTreeMap<u32, Mapping>,
    /// The table generation `maps` follows.
    generation: u32,
    /// Table changes followed (after the first).
    changes: u64,
    pending: VecDeque<Record>,
    /// `--check`: what is checked as records come.
    check: Option<Check>,
    /// The group is in circular mode: complete buffers may be restarted.
    circular: bool,
}

/// `hv_evlog_info.mode` of a circular group.
const CIRCULAR: u32 = 1;

/// What `capture --check` keeps: the next record sequence expected, the
/// gaps seen, and the last counters (none may go backwards).
#[derive(Clone, Copy, Debug, Default)]
struct Check {
    next_sequence: u64,
    gaps: u64,
    last: Stats,
    records: u64,
}

impl<'a> DeviceSource<'a> {
    /// Maps every buffer of `table` (of `generation`) that is in the
    /// rotation, each on its own so that a resize can take any of them out.
    pub fn new(
        device: &'a Device,
        info: &Info,
        table: &[BufferInfo],
        generation: u32,
    ) -> Result<Self> {
        let mut source = Self {
            device,
            buffer_size: info.buffer_size,
            maps: BTreeMap::new(),
            generation,
            changes: 0,
            pending: VecDeque::with_capacity(READ_BATCH),
            check: None,
            circular: info.mode == CIRCULAR,
        };
        source.follow(table)?;
        Ok(source)
    }

    /// How often the table changed while capturing.
    pub fn table_changes(&self) -> u64 {
        self.changes
    }

    /// Checks the module's bookkeeping from now on (`capture --check`),
    /// its counters starting from `stats`.
    pub fn check_from(&mut self, stats: Stats) {
        self.check = Some(Check {
            last: stats,
            ..Check::default()
        });
    }

    /// One record's sequence, and every so often the counters.
    fn observe(&mut self, record: &Record) -> Result<()> {
        let Some(c) = self.check.as_mut() else {
            return Ok(());
        };
        if record.sequence < c.next_sequence {
            return Err(Error::Device(format!(
                "check: record sequence went back from {} to {}",
                c.next_sequence - 1,
                record.sequence
            )));
        }
        c.gaps += record.sequence - c.next_sequence;
        c.next_sequence = record.sequence + 1;
        c.records += 1;
        if c.records % 64 == 0 {
            self.sample()?;
        }
        Ok(())
    }

    /// Reads the counters; none may have gone backwards.
    fn sample(&mut self) -> Result<()> {
        let Some(c) = self.check.as_mut() else {
            return Ok(());
        };
        let now = self.device.stats()?;
        let pairs = [
            ("completions", c.last.completions, now.completions),
            ("releases", c.last.releases, now.releases),
            ("events_lost", c.last.events_lost, now.events_lost),
            (
                "records_dropped",
                c.last.records_dropped,
                now.records_dropped,
            ),
            ("flushes", c.last.flushes, now.flushes),
        ];
        if let Some((name, was, is)) = pairs.iter().find(|(_, was, is)| is < was) {
            return Err(Error::Device(format!(
                "check: {name} went back from {was} to {is}"
            )));
        }
        c.last = now;
        Ok(())
    }

    /// The end of `capture --check`: takes the records still queued (not
    /// released) and checks completions = releases + pending + dropped and
    /// that the sequence gaps are the records dropped. Returns the line to
    /// print.
    pub fn finish_check(&mut self) -> Result<Option<String>> {
        if self.check.is_none() {
            return Ok(None);
        }
        self.sample()?;
        let mut pending = self.pending.len() as u64;
        self.pending.clear();
        loop {
            match self.device.wait(Duration::ZERO, &mut self.pending)? {
                Wait::Ready => {
                    pending += self.pending.len() as u64;
                    self.pending.clear();
                }
                Wait::TableChanged => self.resync()?,
                Wait::Timeout | Wait::Closed => break,
            }
        }
        let s = self.device.stats()?;
        let gaps = self.check.map_or(0, |c| c.gaps);
        let line = format!(
            "check: completions={} releases={} pending={pending} dropped={} sequence_gaps={gaps}",
            s.completions, s.releases, s.records_dropped
        );
        if s.completions != s.releases + pending + s.records_dropped || gaps != s.records_dropped {
            return Err(Error::Device(format!("{line}: do not add up")));
        }
        Ok(Some(format!("{line}: ok")))
    }

    /// Maps what is new in `table` and unmaps what left the rotation
    /// (which lets the module delete a retired buffer).
    fn follow(&mut self, table: &[BufferInfo]) -> Result<()> {
        let live = |b: &&BufferInfo| b.flags & BUFFER_RETIRED == 0;
        self.maps
            .retain(|index, _| table.iter().filter(live).any(|b| b.index == *index));
        for b in table.iter().filter(live) {
            if !self.maps.contains_key(&b.index) {
                let map = self.device.map(b.index, 1, self.buffer_size)?;
                self.maps.insert(b.index, map);
            }
        }
        Ok(())
    }

    /// Reads the table again and follows it, until it holds still.
    fn resync(&mut self) -> Result<()> {
        loop {
            let (table, generation) = self.device.buffers()?;
            match self.follow(&table) {
                Ok(()) => {}
                // A buffer retired between the table and its mmap(): the
                // table changed meanwhile.
                Err(_) if self.device.buffers()?.1 != generation => continue,
                Err(e) => return Err(e),
            }
            if generation != self.generation {
                self.changes += 1;
                self.generation = generation;
            }
            return Ok(());
        }
    }
}

impl DeviceSource<'_> {
    /// The mapping that holds `record`'s buffer.
    fn mapping_of(&mut self, record: &Record) -> Result<&Mapping> {
        if !self.maps.contains_key(&record.buffer_index) {
            // New since the table was last read.
            self.resync()?;
        }
        self.maps.get(&record.buffer_index).ok_or_else(|| {
            crate::error::Error::Device(format!(
                "completion record names buffer {}, which the table does not have",
                record.buffer_index
            ))
        })
    }
}

impl Source for DeviceSource<'_> {
    fn wait(&mut self, timeout: Duration) -> Result<Next> {
        if self.pending.is_empty() {
            match self.device.wait(timeout, &mut self.pending)? {
                Wait::Ready => {}
                Wait::TableChanged => {
                    self.resync()?;
                    return Ok(Next::Timeout);
                }
                Wait::Timeout => {
                    self.sample()?;
                    return Ok(Next::Timeout);
                }
                Wait::Closed => return Ok(Next::Closed),
            }
        }
        let Some(record) = self.pending.pop_front() else {
            return Ok(Next::Timeout);
        };
        self.observe(&record)?;
        Ok(Next::Record(record))
    }

    fn snapshot(&mut self, record: &Record, out: &mut Vec<u8>) -> Result<()> {
        // `bytes_used` counts entry bytes after the header; a value that
        // cannot be real saturates and is refused by the mapping's check.
        let bytes = u32::try_from(used_end(record)).unwrap_or(u32::MAX);
        self.mapping_of(record)?
            .snapshot(record.buffer_index, bytes, out)
    }

    fn decode(
        &mut self,
        record: &Record,
        _scratch: &mut Vec<u8>,
        out: &mut Vec<Event>,
    ) -> Result<std::result::Result<(), DecodeError>> {
        self.mapping_of(record)?.decode(record, out)
    }

    fn still_complete(&mut self, record: &Record) -> bool {
        self.maps
            .get(&record.buffer_index)
            .is_some_and(|map| map.still_complete(record.buffer_index, record.timestamp))
    }

    fn release(&mut self, index: u32) -> Result<()> {
        match self.device.release(index) {
            // Circular mode: the hypervisor restarted the buffer after the
            // record was read (the module refuses to hand back a fill it
            // has not reported); there is nothing to hand back.
            Err(Error::Sys { errno, .. }) if self.circular && errno == libc::EINVAL => Ok(()),
            other => other,
        }
    }
}

/// A binary capture file (see `output`), read back.
pub struct FileSource<R: Read> {
    input: R,
    data: Vec<u8>,
    offset: u64,
}

impl<R: Read> FileSource<R> {
    /// Reads and checks the file header (either version); returns the
    /// source and what the header records.
    pub fn open(mut input: R) -> Result<(Self, Meta)> {
        let not_capture = || {
            Error::Input(
                "not an hv-evlog capture file (no HVEVLOG1 or HVEVLOG2 header) nor an ETL \
                 file: write one with 'hv-evlog capture --format binary' or '--format etl'"
                    .into(),
            )
        };
        let mut header = [0u8; capfile::HEADER_SIZE];
        let got = read_full(&mut input, &mut header[..8])?;
        let size = capfile::header_size(&header[..got]).ok_or_else(not_capture)?;
        if 8 + read_full(&mut input, &mut header[8..size])? < size {
            return Err(not_capture());
        }
        let meta = capfile::decode(&header[..size]).map_err(|e| match e {
            HeaderError::NotCapture => not_capture(),
            HeaderError::HeaderSize(n) => Error::Input(format!(
                "capture file header says it is {n} bytes; version 2 headers are {}",
                capfile::HEADER_SIZE
            )),
        })?;
        let info = &meta.info;
        // The buffer format is the same for every ABI version so far (ABI 2
        // added `vp` to the device's record, not to the file's).
        if info.abi_version == 0
            || info.abi_version > ABI_VERSION
            || info.header_size as usize != ENTRIES_OFFSET
        {
            return Err(Error::Input(format!(
                "capture file has ABI version {} and entries at offset {}; \
                 this tool reads versions 1 to {ABI_VERSION} with entries at {ENTRIES_OFFSET}",
                info.abi_version, info.header_size
            )));
        }
        let source = Self {
            input,
            data: Vec::new(),
            offset: size as u64,
        };
        Ok((source, meta))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read. An
/// error names the input as `what` ("capture file", "ETL file").
pub(crate) fn read_full_of(what: &str, input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Input(format!("reading {what}: {e}"))),
        }
    }
    Ok(got)
}

/// [`read_full_of`] a capture file.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    read_full_of("capture file", input, buf)
}

impl<R: Read> Source for FileSource<R> {
    fn wait(&mut self, _timeout: Duration) -> Result<Next> {
        let mut h = [0u8; RECORD_HEADER_SIZE];
        let got = read_full(&mut self.input, &mut h)?;
        if got == 0 {
            return Ok(Next::Closed);
        }
        let truncated = |offset: u64| {
            Error::Input(format!(
                "capture file is truncated: the record at byte {offset} is incomplete"
            ))
        };
        if got < RECORD_HEADER_SIZE {
            return Err(truncated(self.offset));
        }
        let u32_at = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
        // The file stores `bytes` raw bytes, header included; the record's
        // `bytes_used` counts entry bytes after the header, as the device's.
        let bytes = u32_at(16);
        let record = Record {
            buffer_index: u32_at(0),
            cpu: u32_at(4),
            sequence: u64_at(8),
            bytes_used: bytes.saturating_sub(ENTRIES_OFFSET as u32),
            events_lost: u32_at(20),
            timestamp: u64_at(24),
            ..Record::default()
        };
        self.data.resize(bytes as usize, 0);
        if read_full(&mut self.input, &mut self.data)? < self.data.len() {
            return Err(truncated(self.offset));
        }
        // The file keeps the CPU; the VP index is in the buffer header it
        // stores (`logical_processor`, 16 bits at offset 40).
        let record = Record {
            vp: self
                .data
                .get(40..42)
                .map_or(0, |b| u32::from(u16::from_le_bytes([b[0], b[1]]))),
            ..record
        };
        self.offset += (RECORD_HEADER_SIZE + self.data.len()) as u64;
        Ok(Next::Record(record))
    }

    fn snapshot(&mut self, _record: &Record, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn release(&mut self, _index: u32) -> Result<()> {
        Ok(())
    }
}

/// What to keep and when to stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Keep only buffers filled by this CPU.
    pub cpu: Option<u32>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// What was consumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Events written.
    pub events: u64,
    /// Completed buffers consumed (and released), filtered or not.
    pub buffers: u64,
    /// Sum of `events_lost` over the buffers consumed.
    pub lost: u64,
    /// Buffers whose entries did not decode to their end.
    pub malformed: u64,
    /// Completed buffers restarted by the hypervisor (circular mode) while
    /// they were copied: their events are not written.
    pub overwritten: u64,
}

/// Whether to go on after a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Wait for more.
    Continue,
    /// `--count` reached.
    Done,
}

/// Decodes, filters and writes buffers; keeps the totals.
pub struct Consumer {
    limits: Limits,
    totals: Totals,
    events: Vec<Event>,
    warnings: Vec<String>,
}

impl Consumer {
    /// A consumer applying `limits` (its `duration` is the loop's business).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            totals: Totals::default(),
            events: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The totals so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Warnings about malformed buffers since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Consumes one completed buffer: `buffer` holds its bytes from offset 0
    /// through at least the header and `record.bytes_used` entry bytes.
    pub fn consume<W: Write>(
        &mut self,
        record: &Record,
        buffer: &[u8],
        sink: &mut Sink<W>,
    ) -> Result<Flow> {
        self.totals.buffers += 1;
        self.totals.lost += u64::from(record.events_lost);
        if !self.wants(record) {
            return Ok(Flow::Continue);
        }
        self.events.clear();
        let decoded = decode_buffer(buffer, record, &mut self.events);
        self.write(record, buffer, decoded, sink)
    }

    /// [`Consumer::consume`] for a buffer whose events [`Source::decode`]
    /// already put in [`Consumer::events_mut`] (cleared first), with
    /// `decoded` its result; for outputs that write no bytes of the buffer
    /// ([`Sink::needs_bytes`] false).
    pub fn consume_decoded<W: Write>(
        &mut self,
        record: &Record,
        decoded: std::result::Result<(), DecodeError>,
        sink: &mut Sink<W>,
    ) -> Result<Flow> {
        self.totals.buffers += 1;
        self.totals.lost += u64::from(record.events_lost);
        if !self.wants(record) {
            return Ok(Flow::Continue);
        }
        self.write(record, &[], decoded, sink)
    }

    /// Where [`Source::decode`] puts a buffer's events, emptied.
    pub fn events_mut(&mut self) -> &mut Vec<Event> {
        self.events.clear();
        &mut self.events
    }

    /// Whether `record`'s buffer passes the CPU filter.
    fn wants(&self, record: &Record) -> bool {
        self.limits.cpu.is_none_or(|cpu| cpu == record.cpu)
    }

    fn write<W: Write>(
        &mut self,
        record: &Record,
        buffer: &[u8],
        decoded: std::result::Result<(), DecodeError>,
        sink: &mut Sink<W>,
    ) -> Result<Flow> {
        if let Err(err) = decoded {
            self.totals.malformed += 1;
            self.warnings.push(format!(
                "buffer {} (cpu {}, sequence {}): {err}; kept the {} events before it",
                record.buffer_index,
                record.cpu,
                record.sequence,
                self.events.len()
            ));
        }
        let mut raw_end = used_end(record).min(buffer.len());
        let mut flow = Flow::Continue;
        if let Some(count) = self.limits.count {
            let left = count.saturating_sub(self.totals.events);
            if self.events.len() as u64 >= left {
                self.events.truncate(left as usize);
                if let Some(last) = self.events.last() {
                    raw_end = raw_end.min(last.end());
                }
                flow = Flow::Done;
            }
        }
        sink.buffer(record, &buffer[..raw_end], &self.events)?;
        self.totals.events += self.events.len() as u64;
        Ok(flow)
    }
}

/// How a capture ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `--count` events written.
    Count,
    /// `--duration` elapsed.
    Duration,
    /// Interrupted (SIGINT, SIGTERM).
    Stopped,
    /// The source has nothing more (end of file).
    Closed,
    /// The reader of the output went away (EPIPE).
    BrokenPipe,
}

/// Longest wait between checks of the stop flag and progress updates.
const TICK: Duration = Duration::from_millis(200);

/// Runs the capture loop until a limit, the end of the source, a stop
/// request or a closed output. Every buffer taken from `source` is released,
/// also when writing it failed.
pub fn run<S: Source, W: Write>(
    source: &mut S,
    limits: Limits,
    sink: &mut Sink<W>,
    stop: &dyn Fn() -> bool,
    tick: &mut dyn FnMut(&mut Consumer),
) -> Result<(Totals, End)> {
    let start = Instant::now();
    let deadline = limits.duration.map(|d| start + d);
    let mut consumer = Consumer::new(limits);
    let mut scratch = Vec::new();
    let end = loop {
        if stop() {
            break End::Stopped;
        }
        let timeout = match deadline {
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    break End::Duration;
                }
                TICK.min(deadline - now)
            }
            None => TICK,
        };
        let record = match source.wait(timeout)? {
            Next::Timeout => {
                // Idle: let a reader see what was written so far.
                match sink.flush() {
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break End::BrokenPipe,
                    result => result?,
                }
                tick(&mut consumer);
                continue;
            }
            Next::Closed => break End::Closed,
            Next::Record(record) => record,
        };
        let result = if sink.needs_bytes() {
            source.snapshot(&record, &mut scratch).map(|()| None)
        } else if consumer.wants(&record) {
            // Only the events are needed: decoded without a copy where the
            // source can.
            source
                .decode(&record, &mut scratch, consumer.events_mut())
                .map(Some)
        } else {
            Ok(Some(Ok(())))
        }
        .and_then(|decoded| {
            if !source.still_complete(&record) {
                consumer.totals.overwritten += 1;
                return Ok(Flow::Continue);
            }
            match decoded {
                None => consumer.consume(&record, &scratch, sink),
                Some(decoded) => consumer.consume_decoded(&record, decoded, sink),
            }
        });
        let released = source.release(record.buffer_index);
        tick(&mut consumer);
        match result {
            Ok(Flow::Done) => {
                released?;
                break End::Count;
            }
            Ok(Flow::Continue) => released?,
            Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                break End::BrokenPipe
            }
            Err(e) => return Err(e),
        }
    };
    Ok((consumer.totals(), end))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
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
        let (totals, end) =
            run(&mut fake, limits, &mut sink, &|| false, &mut |_| ticks += 1).unwrap();
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
        assert_eq!(lines[0], "cpu=0 ts=0 type=1 size=16 context=0x00000000");
        assert_eq!(lines[5], "cpu=1 ts=102 type=3 size=32 context=0x0000000c");
        assert_eq!(lines[11], "cpu=1 ts=302 type=3 size=32 context=0x00000020");
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
            "cpu=1 ts=300 type=1 size=16 context=0x0000001e"
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
}
