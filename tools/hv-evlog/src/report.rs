// SPDX-License-Identifier: GPL-2.0

//! `hv-evlog report FILE`: the summary of a capture (binary or ETL) that a
//! person reads first, or its JSON for scripts.
//!
//! It reads the whole file once and keeps every event's time stamp (8
//! bytes an event, a quarter of what the file holds for the smallest
//! entries) so that the rate over time can be binned after the span is
//! known.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::capfile::Meta;
use crate::capture::{Next, Source};
use crate::decode::{decode_buffer, Event, EventType};
use crate::error::Result;
use crate::tlfs::{TimeBasis, ENTRIES_OFFSET};
use crate::uapi::Record;

/// Columns of the rate-over-time sparkline.
pub const RATE_BINS: usize = 40;

/// One CPU's share of a capture.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cpu {
    /// Events.
    pub events: u64,
    /// Buffers.
    pub buffers: u64,
    /// Events lost before its buffers.
    pub lost: u64,
    /// Sum of its buffers' entry bytes.
    pub bytes: u64,
    times: Vec<u64>,
}

/// What a capture holds.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Events.
    pub events: u64,
    /// Buffers (records).
    pub buffers: u64,
    /// Sum of the buffers' `events_lost`.
    pub lost: u64,
    /// Completion records the capture missed: gaps in the sequence numbers.
    pub dropped: u64,
    /// Buffers whose entries did not decode to their end.
    pub malformed: u64,
    /// Earliest and latest event time stamp.
    pub span: Option<(u64, u64)>,
    /// Per CPU.
    pub cpus: BTreeMap<u32, Cpu>,
    /// Events per entry type.
    pub types: BTreeMap<EventType, u64>,
    /// Fill of each buffer, in per mille of the room after the header.
    fills: Vec<u32>,
    last_sequence: Option<u64>,
    room: u64,
}

impl Report {
    /// An empty report for buffers of `buffer_size` bytes.
    pub fn new(buffer_size: u32) -> Self {
        Self {
            room: u64::from(buffer_size).saturating_sub(ENTRIES_OFFSET as u64),
            ..Self::default()
        }
    }

    /// Adds one buffer and its events.
    pub fn add(&mut self, record: &Record, events: &[Event], malformed: bool) {
        self.buffers += 1;
        self.lost += u64::from(record.events_lost);
        self.malformed += u64::from(malformed);
        if let Some(last) = self.last_sequence {
            self.dropped += record.sequence.saturating_sub(last).saturating_sub(1);
        }
        self.last_sequence = Some(record.sequence);
        if let Some(fill) =
            (u64::from(record.bytes_used).min(self.room) * 1000).checked_div(self.room)
        {
            self.fills.push(fill as u32);
        }
        let cpu = self.cpus.entry(record.cpu).or_default();
        cpu.buffers += 1;
        cpu.lost += u64::from(record.events_lost);
        cpu.bytes += u64::from(record.bytes_used);
        for e in events {
            cpu.events += 1;
            cpu.times.push(e.timestamp);
            *self.types.entry(e.entry_type).or_default() += 1;
            self.span = Some(match self.span {
                None => (e.timestamp, e.timestamp),
                Some((a, b)) => (a.min(e.timestamp), b.max(e.timestamp)),
            });
        }
        self.events += events.len() as u64;
    }

    /// Reads every buffer of `source` into a report.
    pub fn read<S: Source>(source: &mut S, buffer_size: u32) -> Result<Self> {
        let mut report = Self::new(buffer_size);
        let mut raw = Vec::new();
        let mut events = Vec::new();
        loop {
            let record = match source.wait(Duration::ZERO)? {
                Next::Record(r) => r,
                Next::Closed => return Ok(report),
                Next::Timeout => continue,
            };
            source.snapshot(&record, &mut raw)?;
            events.clear();
            let malformed = decode_buffer(&raw, &record, &mut events).is_err();
            report.add(&record, &events, malformed);
        }
    }

    /// The summary line, in the form `capture` ends with.
    pub fn summary_line(&self) -> String {
        format!(
            "events={} buffers={} lost={} dropped={} malformed={}",
            self.events, self.buffers, self.lost, self.dropped, self.malformed
        )
    }

    /// Min, mean and max buffer fill in per cent.
    pub fn fill_percent(&self) -> Option<(u32, u32, u32)> {
        let n = self.fills.len() as u64;
        let sum: u64 = self.fills.iter().map(|&f| u64::from(f)).sum();
        Some((
            self.fills.iter().min()? / 10,
            (sum / n.max(1) / 10) as u32,
            self.fills.iter().max()? / 10,
        ))
    }

    /// Events per bin of `RATE_BINS` equal bins over the span, per CPU.
    pub fn rates(&self) -> BTreeMap<u32, [u64; RATE_BINS]> {
        let mut out = BTreeMap::new();
        let Some((first, last)) = self.span else {
            return out;
        };
        let width = u128::from(last - first) + 1;
        for (&cpu, c) in &self.cpus {
            let mut bins = [0u64; RATE_BINS];
            for &t in &c.times {
                let bin = u128::from(t - first) * RATE_BINS as u128 / width;
                bins[bin as usize] += 1;
            }
            out.insert(cpu, bins);
        }
        out
    }

    /// The report as text.
    pub fn text(&self, file: &str, meta: &Meta) -> String {
        let mut s = String::new();
        let hz = meta.ticks_per_second();
        let basis = TimeBasis::from_raw(meta.info.time_basis).map_or("unknown", TimeBasis::name);
        let _ = writeln!(s, "file        {file}");
        let _ = match hz {
            Some(hz) => writeln!(s, "time basis  {basis} ({hz} ticks/s)"),
            None => writeln!(s, "time basis  {basis} (rate unknown)"),
        };
        let seconds = |ticks: u64| hz.map(|hz| ticks as f64 / hz as f64);
        let _ = match (self.span, self.span.and_then(|(a, b)| seconds(b - a))) {
            (Some((a, b)), Some(secs)) => writeln!(s, "span        {a} to {b} ({secs:.6} s)"),
            (Some((a, b)), None) => writeln!(s, "span        {a} to {b} ticks"),
            (None, _) => writeln!(s, "span        no events"),
        };
        let _ = writeln!(s, "summary     {}", self.summary_line());
        if let Some((min, mean, max)) = self.fill_percent() {
            let _ = writeln!(
                s,
                "buffer fill min {min}% mean {mean}% max {max}% of {} entry bytes",
                self.room
            );
        }
        let rates = self.rates();
        let peak = rates
            .values()
            .flat_map(|b| b.iter())
            .copied()
            .max()
            .unwrap_or(0);
        let bin_secs = self
            .span
            .and_then(|(a, b)| seconds(b - a + 1))
            .map(|secs| secs / RATE_BINS as f64);
        let _ = writeln!(s);
        let _ = match bin_secs {
            Some(w) => writeln!(
                s,
                "cpu     events  buffers     lost  fill%  rate over the span ({RATE_BINS} columns of {w:.6} s)"
            ),
            None => writeln!(s, "cpu     events  buffers     lost  fill%  rate over the span"),
        };
        for (cpu, c) in &self.cpus {
            let fill = if self.room > 0 && c.buffers > 0 {
                c.bytes * 100 / (self.room * c.buffers)
            } else {
                0
            };
            let line = rates.get(cpu).map_or(String::new(), |b| sparkline(b, peak));
            let _ = writeln!(
                s,
                "{cpu:>3} {:>10} {:>8} {:>8} {fill:>6}  {line}",
                c.events, c.buffers, c.lost
            );
        }
        if let (Some(w), true) = (bin_secs, peak > 0) {
            let _ = writeln!(
                s,
                "(the tallest column: {peak} events, {:.0} events/s)",
                peak as f64 / w
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "type       events");
        for (t, n) in &self.types {
            let _ = writeln!(s, "{t} {n:>10}");
        }
        s
    }

    /// The report as one line of JSON.
    pub fn json(&self, file: &str, meta: &Meta) -> String {
        let mut s = String::from("{\"file\":");
        s.push_str(&serde_json::to_string(file).unwrap_or_default());
        let _ = write!(
            s,
            ",\"time_basis\":{},\"ticks_per_second\":{},\"events\":{},\"buffers\":{},\
             \"lost\":{},\"dropped\":{},\"malformed\":{}",
            meta.info.time_basis,
            meta.ticks_per_second().unwrap_or(0),
            self.events,
            self.buffers,
            self.lost,
            self.dropped,
            self.malformed
        );
        match self.span {
            Some((a, b)) => {
                let _ = write!(s, ",\"first_ts\":{a},\"last_ts\":{b}");
            }
            None => s.push_str(",\"first_ts\":null,\"last_ts\":null"),
        }
        match self.fill_percent() {
            Some((min, mean, max)) => {
                let _ = write!(
                    s,
                    ",\"fill_percent\":{{\"min\":{min},\"mean\":{mean},\"max\":{max}}}"
                );
            }
            None => s.push_str(",\"fill_percent\":null"),
        }
        s.push_str(",\"cpus\":[");
        let rates = self.rates();
        for (i, (cpu, c)) in self.cpus.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"cpu\":{cpu},\"events\":{},\"buffers\":{},\"lost\":{},\"rate\":[",
                c.events, c.buffers, c.lost
            );
            let bins = rates.get(cpu).copied().unwrap_or([0; RATE_BINS]);
            for (j, n) in bins.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{n}");
            }
            s.push_str("]}");
        }
        s.push_str("],\"types\":[");
        for (i, (t, n)) in self.types.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{{\"type\":{},\"events\":{n}}}", t.0);
        }
        s.push_str("]}\n");
        s
    }
}

/// One character per bin, its height relative to `peak`: a blank for none,
/// then eight steps.
pub fn sparkline(bins: &[u64], peak: u64) -> String {
    const STEPS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    bins.iter()
        .map(|&n| {
            if n == 0 || peak == 0 {
                STEPS[0]
            } else {
                // 1..=8: any event shows.
                STEPS[(1 + (n * 7) / peak).min(8) as usize]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::tests::{four_buffers, Fake};
    use crate::etl::tests::meta;

    fn report_of(buffers: Vec<Vec<u8>>) -> Report {
        Report::read(&mut Fake::new(buffers), 4096).unwrap()
    }

    #[test]
    fn counts_and_text() {
        let r = report_of(four_buffers());
        assert_eq!(
            r.summary_line(),
            "events=12 buffers=4 lost=5 dropped=0 malformed=0"
        );
        assert_eq!(r.span, Some((0, 302)));
        assert_eq!(
            r.types,
            BTreeMap::from([(EventType(1), 4), (EventType(2), 4), (EventType(3), 4)])
        );
        assert_eq!((r.cpus[&0].events, r.cpus[&0].lost), (6, 5));
        assert_eq!((r.cpus[&1].events, r.cpus[&1].buffers), (6, 2));
        // 72 entry bytes of 4024 in each buffer: 1.7%, so 1 per cent.
        assert_eq!(r.fill_percent(), Some((1, 1, 1)));
        // Bins of 303 / 40 ticks: buffer b's events fall in bin b * 100 * 40 / 303.
        let rates = r.rates();
        assert_eq!(rates[&0][0], 3);
        assert_eq!(rates[&1][13], 3);
        assert_eq!(rates[&0][26], 3);
        assert_eq!(rates[&1][39], 3);
        assert_eq!(rates.values().flatten().sum::<u64>(), 12);
        let text = r.text("f.bin", &meta());
        assert!(text.starts_with(
            "file        f.bin\n\
             time basis  reference (10000000 ticks/s)\n\
             span        0 to 302 (0.000030 s)\n\
             summary     events=12 buffers=4 lost=5 dropped=0 malformed=0\n\
             buffer fill min 1% mean 1% max 1% of 4024 entry bytes\n"
        ));
        assert!(text.contains(
            "\n  0          6        2        5      1  █                         █             \n"
        ));
        assert!(text.ends_with(
            "type       events\n0x0001          4\n0x0002          4\n0x0003          4\n"
        ));
        let json = r.json("f.bin", &meta());
        assert!(json.starts_with(
            "{\"file\":\"f.bin\",\"time_basis\":0,\"ticks_per_second\":10000000,\"events\":12,\
             \"buffers\":4,\"lost\":5,\"dropped\":0,\"malformed\":0,\"first_ts\":0,\"last_ts\":302,\
             \"fill_percent\":{\"min\":1,\"mean\":1,\"max\":1},\"cpus\":[{\"cpu\":0,\"events\":6,"
        ));
    }

    #[test]
    fn dropped_from_sequence_gaps_and_malformed() {
        let mut r = Report::new(4096);
        let rec = |sequence| Record {
            sequence,
            ..Record::default()
        };
        r.add(&rec(0), &[], false);
        r.add(&rec(3), &[], true);
        r.add(&rec(4), &[], false);
        assert_eq!(
            r.summary_line(),
            "events=0 buffers=3 lost=0 dropped=2 malformed=1"
        );
        assert_eq!(r.span, None);
        assert!(r.text("x", &meta()).contains("span        no events\n"));
    }

    /// The text event lines of `capture` and `decode`, the report and a
    /// trace's event names spell each event type the same way; JSON keeps
    /// the number.
    #[test]
    fn text_lines_report_and_trace_spell_types_alike() {
        use crate::decode::tests::synthetic_buffer;
        use crate::etl::tests::write;
        use crate::output::Format;
        use std::collections::BTreeSet;

        let buffers = || {
            vec![synthetic_buffer(
                0,
                0,
                &[(1, 0x5e0e, 10, 16), (2, 7, 20, 0), (3, 0xffff, 30, 0)],
            )]
        };
        let want: BTreeSet<String> = ["0x0007", "0x5e0e", "0xffff"].map(String::from).into();
        let text = String::from_utf8(write(Format::Text, buffers(), None)).unwrap();
        let in_lines: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.split(' ').find_map(|w| w.strip_prefix("type=")))
            .map(String::from)
            .collect();
        assert_eq!(in_lines, want, "{text}");
        let r = report_of(buffers());
        let report = r.text("f.bin", &meta());
        let (_, types) = report.split_once("type       events\n").unwrap();
        let in_report: BTreeSet<String> = types
            .lines()
            .filter_map(|l| l.split(' ').next())
            .map(String::from)
            .collect();
        assert_eq!(in_report, want, "{report}");
        let trace = String::from_utf8(write(Format::ChromeTrace, buffers(), None)).unwrap();
        let in_trace: BTreeSet<String> = trace
            .split("{\"name\":\"type ")
            .skip(1)
            .filter_map(|t| t.split('"').next())
            .map(String::from)
            .collect();
        assert_eq!(in_trace, want, "{trace}");
        assert!(r.json("f.bin", &meta()).ends_with(
            ",\"types\":[{\"type\":7,\"events\":1},{\"type\":24078,\"events\":1},\
             {\"type\":65535,\"events\":1}]}\n"
        ));
    }

    #[test]
    fn sparkline_steps() {
        assert_eq!(sparkline(&[0, 1, 4, 8], 8), " ▁▄█");
        assert_eq!(sparkline(&[0, 0], 0), "  ");
    }
}
