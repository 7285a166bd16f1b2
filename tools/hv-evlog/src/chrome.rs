// SPDX-License-Identifier: GPL-2.0

//! The Trace Event Format that chrome://tracing and Perfetto's UI open
//! (Google's "Trace Event Format" document): one JSON object,
//!
//! ```text
//! {"displayTimeUnit":"ns","otherData":{...},"traceEvents":[ ... ]}
//! ```
//!
//! - process 0 is named `hv_evlog`, and each logical processor is a thread
//!   (`tid` = CPU number) named `CPU n` (`ph` "M" metadata events), so each
//!   CPU gets a track of its own;
//! - each event is an instant event (`ph` "i", scope "t": on its CPU's
//!   track) named `type 0xNNNN` after its entry type (spelled as
//!   [`EventType`](crate::decode::EventType) spells it), category
//!   `hv_evlog`, with the type, size and context as `args`; no public
//!   table maps entry types to source groups, so the name is the type;
//! - each completed buffer adds to the counter `buffers completed` (`ph`
//!   "C", one series per CPU, `cpu N`), at the time of its last event (its
//!   own time stamp if it has none), and each buffer that lost events
//!   before it adds them to the counter `events lost`, at its time stamp.
//!
//! `ts` is in microseconds (the format's unit) of the capture's time
//! basis, from the time basis' zero: exact to 100 ns for reference time.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::capfile::{Meta, REFERENCE_HZ};
use crate::decode::Event;
use crate::uapi::Record;

/// Writes the trace piece by piece.
pub struct Writer {
    hz: u64,
    completed: BTreeMap<u32, u64>,
    lost: BTreeMap<u32, u64>,
}

impl Writer {
    /// A writer for a capture described by `meta`; `Err` when the rate of
    /// its time stamps is unknown.
    pub fn new(meta: &Meta) -> Result<Self, String> {
        let hz = meta.ticks_per_second().ok_or_else(|| {
            "the capture's time stamps are TSC ticks and it does not record their rate \
             (a version 1 capture file): a trace needs it"
                .to_string()
        })?;
        Ok(Self {
            hz,
            completed: BTreeMap::new(),
            lost: BTreeMap::new(),
        })
    }

    /// Appends `ticks` as microseconds.
    fn ts(&self, out: &mut String, ticks: u64) {
        if self.hz == REFERENCE_HZ {
            let _ = write!(out, "{}.{}", ticks / 10, ticks % 10);
        } else {
            let us = u128::from(ticks) * 1_000_000_000 / u128::from(self.hz);
            let _ = write!(out, "{}.{:03}", us / 1000, us % 1000);
        }
    }

    /// The opening of the trace.
    pub fn begin(&self, out: &mut String, meta: &Meta) {
        let _ = write!(
            out,
            "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"tool\":\"hv-evlog\",\
             \"time_basis\":{},\"ticks_per_second\":{},\"buffer_size\":{}}},\"traceEvents\":[\n\
             {{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,\
             \"args\":{{\"name\":\"hv_evlog\"}}}}",
            meta.info.time_basis, self.hz, meta.info.buffer_size
        );
    }

    /// One completed buffer with the `events` of it to keep.
    pub fn buffer(&mut self, out: &mut String, record: &Record, events: &[Event]) {
        let cpu = record.cpu;
        for e in events {
            let _ = write!(out, ",\n{{\"name\":\"type {}\"", e.entry_type);
            out.push_str(",\"cat\":\"hv_evlog\",\"ph\":\"i\",\"s\":\"t\",\"ts\":");
            self.ts(out, e.timestamp);
            let _ = write!(
                out,
                ",\"pid\":0,\"tid\":{},\"args\":{{\"type\":{},\"size\":{},\"context\":{}}}}}",
                e.cpu, e.entry_type.0, e.size, e.context
            );
        }
        if record.events_lost > 0 {
            let lost = self.lost.entry(cpu).or_default();
            *lost += u64::from(record.events_lost);
            let lost = *lost;
            out.push_str(",\n{\"name\":\"events lost\",\"ph\":\"C\",\"ts\":");
            self.ts(out, record.timestamp);
            let _ = write!(out, ",\"pid\":0,\"args\":{{\"cpu {cpu}\":{lost}}}}}");
        }
        let done = self.completed.entry(cpu).or_default();
        *done += 1;
        let done = *done;
        let at = events.last().map_or(record.timestamp, |e| e.timestamp);
        out.push_str(",\n{\"name\":\"buffers completed\",\"ph\":\"C\",\"ts\":");
        self.ts(out, at);
        let _ = write!(out, ",\"pid\":0,\"args\":{{\"cpu {cpu}\":{done}}}}}");
    }

    /// The end of the trace: a name for each CPU's track.
    pub fn finish(&self, out: &mut String) {
        for cpu in self.completed.keys() {
            let _ = write!(
                out,
                ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":{cpu},\
                 \"args\":{{\"name\":\"CPU {cpu}\"}}}}"
            );
        }
        out.push_str("\n]}\n");
    }
}

#[cfg(test)]
mod tests {
    use crate::capture::tests::four_buffers;
    use crate::etl::tests::write;
    use crate::output::Format;

    #[test]
    fn trace_byte_exact_start_and_counts() {
        let json = String::from_utf8(write(Format::ChromeTrace, four_buffers(), None)).unwrap();
        assert!(json.starts_with(
            "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"tool\":\"hv-evlog\",\"time_basis\":0,\
             \"ticks_per_second\":10000000,\"buffer_size\":4096},\"traceEvents\":[\n\
             {\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,\"args\":{\"name\":\"hv_evlog\"}},\n\
             {\"name\":\"type 0x0001\",\"cat\":\"hv_evlog\",\"ph\":\"i\",\"s\":\"t\",\"ts\":0.0,\
             \"pid\":0,\"tid\":0,\"args\":{\"type\":1,\"size\":16,\"context\":0}},\n"
        ));
        // Buffer 2 (CPU 0) lost 5 events before it, at its time stamp 200
        // ticks: 20.0 us; its completion is the second of CPU 0, at 202.
        assert!(json.contains(
            "{\"name\":\"events lost\",\"ph\":\"C\",\"ts\":20.0,\"pid\":0,\"args\":{\"cpu 0\":5}},\n\
             {\"name\":\"buffers completed\",\"ph\":\"C\",\"ts\":20.2,\"pid\":0,\"args\":{\"cpu 0\":2}}"
        ));
        assert_eq!(json.matches("\"ph\":\"i\"").count(), 12);
        assert_eq!(json.matches("\"tid\":1,\"args\":{\"type\"").count(), 6);
        assert!(json.ends_with(
            ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,\"args\":{\"name\":\"CPU 0\"}},\n\
             {\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":1,\"args\":{\"name\":\"CPU 1\"}}\n]}\n"
        ));
    }
}
