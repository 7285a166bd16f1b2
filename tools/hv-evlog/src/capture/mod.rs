// SPDX-License-Identifier: GPL-2.0

//! The capture loop, apart from the device: wait for a completed buffer, take
//! a snapshot, decode, filter, write, release. A [`Source`] supplies the
//! buffers: the device, a binary capture file, or a test's synthetic data.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::decode::{decode_buffer, used_end, DecodeError, Event};
use crate::error::{Error, Result};
use crate::output::Sink;
use crate::uapi::Record;

mod file;
mod mapping;
#[cfg(test)]
pub(crate) mod tests;

pub(crate) use file::read_full_of;
pub use file::FileSource;
pub(crate) use file::{Recording, Replay};
pub use mapping::DeviceSource;

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
    /// device decodes its mapping in place, without the copy.
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
