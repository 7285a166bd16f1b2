// SPDX-License-Identifier: GPL-2.0

//! The live source: the device's buffers, each mapped on its own, followed
//! through resizes, with `capture --check`'s bookkeeping.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::{Next, Source};
use crate::decode::{used_end, DecodeError, Event};
use crate::device::{Device, Mapping, Wait, READ_BATCH};
use crate::error::{Error, Result};
use crate::uapi::{BufferInfo, Info, Record, Stats, BUFFER_RETIRED};

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
