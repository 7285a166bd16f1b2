// SPDX-License-Identifier: GPL-2.0

//! Every output format: events as text, JSON lines or the binary capture
//! file, and `info`/`stats` as a table or JSON (serde_json, compact, fields
//! in the order of the structs below).
//!
//! # Binary capture file
//!
//! A file header (see `capfile`: 64 bytes, `HVEVLOG2`; version 1 files,
//! `HVEVLOG1` with 32 bytes, are still read),
//!
//! then, for each completed buffer, a 32-byte record header laid out as
//! `struct hv_evlog_record`:
//!
//! | offset | size | field                                              |
//! |--------|------|----------------------------------------------------|
//! | 0      | 4    | buffer index                                       |
//! | 4      | 4    | CPU the buffer served                              |
//! | 8      | 8    | completion sequence number                         |
//! | 16     | 4    | `bytes`: length of the raw data that follows       |
//! | 20     | 4    | events lost before this buffer                     |
//! | 24     | 8    | buffer time stamp                                  |
//!
//! followed by `bytes` raw bytes: the buffer from its first byte (the
//! hypervisor's 72-byte buffer header) through its entries, no padding
//! after. `bytes` is 72 plus the device's `bytes_used` (which, like the
//! header's `next_buffer_offset`, counts entry bytes from the end of the
//! header), except for the last buffer of a `--count` capture, which is cut
//! after the last event kept (so the file holds exactly that many events; the
//! copied buffer header still shows the original `next_buffer_offset`). The
//! file ends after the last record.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::{Serialize, Serializer};

use crate::capfile::{self, Meta};
use crate::chrome;
use crate::decode::Event;
use crate::etl;
use crate::tlfs::{self, EventLogMode, EventLogType, TimeBasis};
use crate::uapi::{cpu_in, BufferInfo, Info, Record, Stats, CPU_WORDS, MAX_CPUS};

/// Size of a binary record header.
pub const RECORD_HEADER_SIZE: usize = 32;

/// How events are written; the doc comments are `--format`'s help.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// 'cpu=N ts=N type=N size=N context=0xN' lines
    Text,
    /// '{"cpu":N,"ts":N,"type":N,"size":N,"context":N}' lines
    Json,
    /// the capture file (tools/hv-evlog/README.md), for 'hv-evlog decode';
    /// not to a terminal
    Binary,
    /// an Event Trace Log for Windows Performance Analyzer or tracerpt;
    /// needs an output file
    Etl,
    /// JSON for Perfetto's UI or chrome://tracing
    ChromeTrace,
}

impl Format {
    /// The format a file name's extension stands for: `.etl`, `.json`
    /// (Trace Event Format, what Perfetto opens), `.jsonl` (JSON lines),
    /// `.txt`, `.bin`.
    pub fn from_extension(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "etl" | "ETL" => Some(Self::Etl),
            "json" => Some(Self::ChromeTrace),
            "jsonl" => Some(Self::Json),
            "txt" => Some(Self::Text),
            "bin" => Some(Self::Binary),
            _ => None,
        }
    }
}

/// The 32-byte binary record header of `record`, with `bytes` raw bytes
/// following.
pub fn record_header(record: &Record, bytes: u32) -> [u8; RECORD_HEADER_SIZE] {
    let mut h = [0u8; RECORD_HEADER_SIZE];
    h[0..4].copy_from_slice(&record.buffer_index.to_le_bytes());
    h[4..8].copy_from_slice(&record.cpu.to_le_bytes());
    h[8..16].copy_from_slice(&record.sequence.to_le_bytes());
    h[16..20].copy_from_slice(&bytes.to_le_bytes());
    h[20..24].copy_from_slice(&record.events_lost.to_le_bytes());
    h[24..32].copy_from_slice(&record.timestamp.to_le_bytes());
    h
}

/// Where events go, in one format.
pub struct Sink<W: Write> {
    out: W,
    format: Format,
    line: Vec<u8>,
    trace: String,
    etl: Option<etl::Writer>,
    chrome: Option<chrome::Writer>,
    /// The output's file name, recorded in an ETL file.
    name: String,
}

impl<W: Write> Sink<W> {
    /// A sink writing `format` to `out`.
    pub fn new(out: W, format: Format) -> Self {
        Self {
            out,
            format,
            line: Vec::with_capacity(1 << 16),
            trace: String::new(),
            etl: None,
            chrome: None,
            name: String::new(),
        }
    }

    /// Names the output file (recorded in an ETL file's logfile header).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Starts the output: the file header for the binary format, room for
    /// the first buffer of an ETL file, the opening of a trace. Fails for a
    /// capture that cannot be written in the format (`InvalidInput`).
    pub fn begin(&mut self, meta: &Meta) -> io::Result<()> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        match self.format {
            Format::Binary => self.out.write_all(&capfile::encode(meta))?,
            Format::Etl => {
                let w = etl::Writer::new(meta, &self.name).map_err(invalid)?;
                self.out.write_all(&vec![0u8; w.buffer_size()])?;
                self.etl = Some(w);
            }
            Format::ChromeTrace => {
                let w = chrome::Writer::new(meta).map_err(invalid)?;
                self.trace.clear();
                w.begin(&mut self.trace, meta);
                self.out.write_all(self.trace.as_bytes())?;
                self.chrome = Some(w);
            }
            Format::Text | Format::Json => {}
        }
        Ok(())
    }

    /// An ETL file's first buffer, for what was written so far: to be
    /// written at offset 0 after [`Sink::finish`]. `None` for the other
    /// formats.
    pub fn first_buffer(&self) -> Option<Vec<u8>> {
        self.etl.as_ref().map(etl::Writer::first_buffer)
    }

    /// Whether [`Sink::buffer`] writes the buffer's bytes (`raw`); the
    /// other formats need only its events.
    pub fn needs_bytes(&self) -> bool {
        matches!(self.format, Format::Binary | Format::Etl)
    }

    /// Writes one completed buffer: its `events` as lines, or, in the binary
    /// format, the record header and `raw` (the buffer from offset 0).
    pub fn buffer(&mut self, record: &Record, raw: &[u8], events: &[Event]) -> io::Result<()> {
        match self.format {
            Format::Binary => {
                let bytes = u32::try_from(raw.len())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer too large"))?;
                self.out.write_all(&record_header(record, bytes))?;
                self.out.write_all(raw)
            }
            Format::Etl => match &mut self.etl {
                Some(w) => self.out.write_all(w.buffer(record, raw, events)),
                None => Ok(()),
            },
            Format::ChromeTrace => {
                self.trace.clear();
                if let Some(w) = &mut self.chrome {
                    w.buffer(&mut self.trace, record, events);
                }
                self.out.write_all(self.trace.as_bytes())
            }
            Format::Text | Format::Json => {
                self.line.clear();
                for event in events {
                    if self.format == Format::Text {
                        event_text(&mut self.line, event)?;
                    } else {
                        event_json(&mut self.line, event)?;
                    }
                }
                self.out.write_all(&self.line)
            }
        }
    }

    /// Pushes buffered output out, e.g. while no buffer completes.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the output (a trace's closing), flushes and hands back the
    /// writer.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(w) = &self.chrome {
            self.trace.clear();
            w.finish(&mut self.trace);
            self.out.write_all(self.trace.as_bytes())?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends one text event line.
pub fn event_text(out: &mut Vec<u8>, e: &Event) -> io::Result<()> {
    writeln!(
        out,
        "cpu={} ts={} type={} size={} context={:#010x}",
        e.cpu, e.timestamp, e.entry_type, e.size, e.context
    )
}

/// Appends one JSON event line.
pub fn event_json(out: &mut Vec<u8>, e: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *out, e)?;
    out.push(b'\n');
    Ok(())
}

/// One line of JSON: `value`, compact, then a newline.
fn json_line(value: &impl Serialize) -> String {
    // Serializing plain structs, strings and integers cannot fail.
    let mut s = serde_json::to_string(value).unwrap_or_default();
    s.push('\n');
    s
}

/// The CPUs set in a bitmap as a list of ranges: `0-1,4`; empty if none.
pub fn cpu_list(cpus: &[u64; CPU_WORDS]) -> String {
    let mut out = String::new();
    let mut cpu = 0;
    while cpu < MAX_CPUS {
        if !cpu_in(cpus, cpu) {
            cpu += 1;
            continue;
        }
        let first = cpu;
        while cpu + 1 < MAX_CPUS && cpu_in(cpus, cpu + 1) {
            cpu += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if first == cpu {
            let _ = write!(out, "{first}");
        } else {
            let _ = write!(out, "{first}-{cpu}");
        }
        cpu += 1;
    }
    out
}

/// Names of the source groups in `mask`, in bit order; bits without a name
/// are listed as one hex number at the end.
pub fn source_names(mask: u64) -> Vec<String> {
    let mut names = Vec::new();
    let mut unnamed = 0u64;
    for bit in (0..64).map(|b| 1u64 << b).filter(|b| mask & b != 0) {
        match tlfs::source_name(bit) {
            Some(name) => names.push(name.to_string()),
            None => unnamed |= bit,
        }
    }
    if unnamed != 0 {
        names.push(format!("{unnamed:#x}"));
    }
    names
}

/// The source mask as `0x408400 (hc,vp,sch)`, or `0x0 (none)`.
pub fn sources_text(mask: u64) -> String {
    let names = source_names(mask);
    if names.is_empty() {
        format!("{mask:#x} (none)")
    } else {
        format!("{mask:#x} ({})", names.join(","))
    }
}

fn completion_name(completion: u32) -> &'static str {
    match completion {
        0 => "scan",
        1 => "messages",
        _ => "unknown",
    }
}

fn backend_name(backend: u32) -> &'static str {
    match backend {
        0 => "hyperv",
        1 => "sim",
        _ => "unknown",
    }
}

fn type_name(raw: u32) -> &'static str {
    EventLogType::from_raw(raw).map_or("unknown", EventLogType::name)
}

fn mode_name(raw: u32) -> &'static str {
    EventLogMode::from_raw(raw).map_or("unknown", EventLogMode::name)
}

fn time_basis_name(raw: u32) -> &'static str {
    TimeBasis::from_raw(raw).map_or("unknown", TimeBasis::name)
}

/// `info` as a human table.
pub fn info_text(device: &str, info: &Info, table: &[BufferInfo]) -> String {
    let mut s = String::new();
    let time_unit = if info.time_basis == 0 {
        ", 100 ns units"
    } else {
        ""
    };
    let rows: [(&str, String); 13] = [
        ("device", device.to_string()),
        ("abi version", info.abi_version.to_string()),
        (
            "backend",
            format!("{} ({})", backend_name(info.backend), info.backend),
        ),
        (
            "type",
            format!("{} ({})", type_name(info.log_type), info.log_type),
        ),
        ("mode", format!("{} ({})", mode_name(info.mode), info.mode)),
        (
            "time basis",
            format!(
                "{} ({}){time_unit}",
                time_basis_name(info.time_basis),
                info.time_basis
            ),
        ),
        (
            "buffers",
            format!("{} x {} bytes", info.buffer_count, info.buffer_size),
        ),
        (
            "max buffers",
            format!(
                "{} (table generation {})",
                info.max_buffers, info.generation
            ),
        ),
        ("threshold", info.threshold.to_string()),
        (
            "completion",
            format!("{} ({})", completion_name(info.completion), info.completion),
        ),
        ("sources", sources_text(info.sources)),
        ("header size", info.header_size.to_string()),
        ("record size", info.record_size.to_string()),
    ];
    for (name, value) in rows {
        let _ = writeln!(s, "{name:<12} {value}");
    }
    s.push('\n');
    let cells: Vec<[String; 5]> = table
        .iter()
        .map(|b| {
            let cpus = cpu_list(&b.cpus);
            let cpus = if cpus.is_empty() { "-".into() } else { cpus };
            [
                b.index.to_string(),
                b.pxm.to_string(),
                b.node.to_string(),
                if b.flags & crate::uapi::BUFFER_RETIRED != 0 {
                    format!("{cpus} (retired)")
                } else if b.flags & crate::uapi::BUFFER_CPU_OFFLINE != 0 {
                    format!("{cpus} (offline)")
                } else {
                    cpus
                },
                format!("{:#x}", b.mmap_offset),
            ]
        })
        .collect();
    let head = ["index", "pxm", "node", "cpus", "mmap offset"];
    let mut width = head.map(str::len);
    for row in &cells {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut line = |cols: [&str; 5]| {
        let _ = writeln!(
            s,
            "{:>w0$}  {:>w1$}  {:>w2$}  {:<w3$}  {}",
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
        );
    };
    line(head);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    s
}

/// `info` as JSON: the geometry with each code named, then the buffers.
#[derive(Serialize)]
struct InfoJson<'a> {
    device: &'a str,
    abi_version: u32,
    info_size: u32,
    backend: &'static str,
    backend_id: u32,
    #[serde(rename = "type")]
    log_type: &'static str,
    type_id: u32,
    mode: &'static str,
    mode_id: u32,
    time_basis: &'static str,
    time_basis_id: u32,
    buffer_count: u32,
    max_buffers: u32,
    generation: u32,
    buffer_size: u32,
    threshold: u32,
    sources: u64,
    source_names: Vec<String>,
    header_size: u32,
    record_size: u32,
    completion: &'static str,
    completion_id: u32,
    buffers: Vec<BufferJson>,
}

/// One buffer of `info`'s JSON: its CPUs as a list and as ranges.
#[derive(Serialize)]
struct BufferJson {
    index: u32,
    pxm: u32,
    node: u32,
    cpus: Vec<u32>,
    cpu_list: String,
    mmap_offset: u64,
    /// Out of the rotation after a resize ([`crate::uapi::BUFFER_RETIRED`]).
    retired: bool,
}

/// `info` as one line of JSON.
pub fn info_json(device: &str, info: &Info, table: &[BufferInfo]) -> String {
    json_line(&InfoJson {
        device,
        abi_version: info.abi_version,
        info_size: info.info_size,
        backend: backend_name(info.backend),
        backend_id: info.backend,
        log_type: type_name(info.log_type),
        type_id: info.log_type,
        mode: mode_name(info.mode),
        mode_id: info.mode,
        time_basis: time_basis_name(info.time_basis),
        time_basis_id: info.time_basis,
        buffer_count: info.buffer_count,
        max_buffers: info.max_buffers,
        generation: info.generation,
        buffer_size: info.buffer_size,
        threshold: info.threshold,
        sources: info.sources,
        source_names: source_names(info.sources),
        header_size: info.header_size,
        record_size: info.record_size,
        completion: completion_name(info.completion),
        completion_id: info.completion,
        buffers: table
            .iter()
            .map(|b| BufferJson {
                index: b.index,
                pxm: b.pxm,
                node: b.node,
                cpus: (0..MAX_CPUS).filter(|&c| cpu_in(&b.cpus, c)).collect(),
                cpu_list: cpu_list(&b.cpus),
                mmap_offset: b.mmap_offset,
                retired: b.flags & crate::uapi::BUFFER_RETIRED != 0,
            })
            .collect(),
    })
}

const STATS_FIELDS: [&str; 5] = [
    "completions",
    "releases",
    "events_lost",
    "records_dropped",
    "flushes",
];

fn stats_values(st: &Stats) -> [u64; 5] {
    [
        st.completions,
        st.releases,
        st.events_lost,
        st.records_dropped,
        st.flushes,
    ]
}

/// The counters in [`STATS_FIELDS`] order, as a JSON object.
struct StatsJson<'a>(&'a Stats);

impl Serialize for StatsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(STATS_FIELDS.iter().zip(stats_values(self.0)))
    }
}

/// `stats` as a table: each counter since this open of the device (the
/// `stats` command's own, which releases nothing) and since the module's
/// load (every open's, summed).
pub fn stats_text(open: &Stats, module: &Stats) -> String {
    let mut s = format!("{:<15} {:>15} {:>15}\n", "", "this open", "module lifetime");
    for ((name, a), b) in STATS_FIELDS
        .iter()
        .zip(stats_values(open))
        .zip(stats_values(module))
    {
        let _ = writeln!(s, "{name:<15} {a:>15} {b:>15}");
    }
    s
}

/// Both sets of counters, labelled.
#[derive(Serialize)]
struct StatsBoth<'a> {
    open: StatsJson<'a>,
    module: StatsJson<'a>,
}

/// `stats` as one line of JSON: `{"open":{...},"module":{...}}`.
pub fn stats_json(open: &Stats, module: &Stats) -> String {
    json_line(&StatsBoth {
        open: StatsJson(open),
        module: StatsJson(module),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(cpu: u32, timestamp: u64, entry_type: u16, size: u16, context: u32) -> Event {
        Event {
            cpu,
            offset: 72,
            timestamp,
            entry_type,
            size,
            context,
        }
    }

    fn meta_of(info: Info) -> Meta {
        Meta {
            info,
            ..Meta::default()
        }
    }

    fn sample_info() -> Info {
        Info {
            abi_version: 1,
            info_size: 56,
            log_type: 1,
            mode: 0,
            time_basis: 0,
            buffer_count: 3,
            buffer_size: 65536,
            threshold: 1,
            sources: 0x8400 | (1 << 40),
            header_size: 72,
            record_size: 32,
            backend: 1,
            completion: 1,
            max_buffers: 8,
            generation: 5,
        }
    }

    fn sample_table() -> Vec<BufferInfo> {
        let mut t = vec![BufferInfo::default(); 3];
        for (i, b) in t.iter_mut().enumerate() {
            b.index = i as u32;
            b.mmap_offset = i as u64 * 65536;
        }
        t[0].cpus[0] = 0b10011; // 0-1,4
        t[1].pxm = 1;
        t[1].node = 1;
        t[1].cpus[0] = 1 << 63;
        t[1].cpus[1] = 0b111; // 63-66
        t[2].flags = crate::uapi::BUFFER_RETIRED;
        t
    }

    #[test]
    fn text_and_json_events_byte_exact() {
        let events = [
            ev(0, 1000, 7, 16, 0x2a),
            ev(3, u64::MAX, 65535, 24, u32::MAX),
        ];
        let rec = Record::default();
        let mut text = Sink::new(Vec::new(), Format::Text);
        text.begin(&meta_of(sample_info())).unwrap();
        text.buffer(&rec, b"ignored", &events).unwrap();
        assert_eq!(
            String::from_utf8(text.finish().unwrap()).unwrap(),
            "cpu=0 ts=1000 type=7 size=16 context=0x0000002a\n\
             cpu=3 ts=18446744073709551615 type=65535 size=24 context=0xffffffff\n"
        );
        let mut json = Sink::new(Vec::new(), Format::Json);
        json.begin(&meta_of(sample_info())).unwrap();
        json.buffer(&rec, b"ignored", &events).unwrap();
        assert_eq!(
            String::from_utf8(json.finish().unwrap()).unwrap(),
            "{\"cpu\":0,\"ts\":1000,\"type\":7,\"size\":16,\"context\":42}\n\
             {\"cpu\":3,\"ts\":18446744073709551615,\"type\":65535,\"size\":24,\"context\":4294967295}\n"
        );
    }

    #[test]
    fn binary_byte_exact() {
        let mut sink = Sink::new(Vec::new(), Format::Binary);
        let mut info = sample_info();
        info.time_basis = 1;
        sink.begin(&Meta {
            processors: 4,
            start_filetime: 7,
            timer_hz: 2_000_000_000,
            hv_build: 9,
            ..meta_of(info)
        })
        .unwrap();
        let rec = Record {
            buffer_index: 2,
            cpu: 5,
            sequence: 0x0102_0304_0506_0708,
            bytes_used: 99, // the file records the bytes written instead
            events_lost: 9,
            timestamp: 0xAABB,
            ..Record::default()
        };
        sink.buffer(&rec, &[0xEE; 3], &[ev(0, 0, 0, 0, 0)]).unwrap();
        let out = sink.finish().unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(b"HVEVLOG2");
        for w in [1u32, 1, 1, 0, 65536, 72, 64, 4] {
            want.extend_from_slice(&w.to_le_bytes());
        }
        want.extend_from_slice(&7u64.to_le_bytes());
        want.extend_from_slice(&2_000_000_000u64.to_le_bytes());
        want.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[2, 0, 0, 0, 5, 0, 0, 0]);
        want.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
        want.extend_from_slice(&[3, 0, 0, 0, 9, 0, 0, 0]);
        want.extend_from_slice(&[0xBB, 0xAA, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0xEE; 3]);
        assert_eq!(out, want);
        assert_eq!(out.len(), capfile::HEADER_SIZE + RECORD_HEADER_SIZE + 3);
    }

    #[test]
    fn json_escaping() {
        // serde_json escapes what JSON requires (DEL and U+2028 need none);
        // the line parses back to the same name.
        let name = "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f} é€😀\u{2028}";
        let json = info_json(name, &sample_info(), &[]);
        assert!(
            json.starts_with(
                "{\"device\":\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f} é€😀\u{2028}\","
            ),
            "{json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["device"], name);
        assert_eq!(back["buffers"], serde_json::json!([]));
    }

    #[test]
    fn cpu_lists() {
        let mut cpus = [0u64; CPU_WORDS];
        assert_eq!(cpu_list(&cpus), "");
        cpus[0] = 0b10011;
        assert_eq!(cpu_list(&cpus), "0-1,4");
        cpus[0] = 1;
        assert_eq!(cpu_list(&cpus), "0");
        cpus[0] = 0b1010;
        assert_eq!(cpu_list(&cpus), "1,3");
        cpus[0] = 1 << 63;
        cpus[1] = 0b111;
        assert_eq!(cpu_list(&cpus), "63-66");
        let all = [u64::MAX; CPU_WORDS];
        assert_eq!(cpu_list(&all), "0-1023");
        let mut last = [0u64; CPU_WORDS];
        last[15] = 3 << 62;
        last[0] = 0b110;
        assert_eq!(cpu_list(&last), "1-2,1022-1023");
    }

    #[test]
    fn source_naming() {
        assert_eq!(sources_text(0), "0x0 (none)");
        assert_eq!(sources_text(0x3FFF_FF00).matches(',').count(), 21);
        assert_eq!(sources_text(0x3000_0000), "0x30000000 (usch,generic)");
        assert_eq!(
            sources_text(0x40_0400 | (1 << 63) | (1 << 40)),
            "0x8000010000400400 (hc,sch,0x8000010000000000)"
        );
    }

    #[test]
    fn info_table() {
        let text = info_text("/dev/hv_evlog", &sample_info(), &sample_table());
        assert_eq!(
            text,
            "device       /dev/hv_evlog\n\
             abi version  1\n\
             backend      sim (1)\n\
             type         local (1)\n\
             mode         regular (0)\n\
             time basis   reference (0), 100 ns units\n\
             buffers      3 x 65536 bytes\n\
             max buffers  8 (table generation 5)\n\
             threshold    1\n\
             completion   messages (1)\n\
             sources      0x10000008400 (hc,vp,0x10000000000)\n\
             header size  72\n\
             record size  32\n\
             \n\
             index  pxm  node  cpus         mmap offset\n\
             \x20   0    0     0  0-1,4        0x0\n\
             \x20   1    1     1  63-66        0x10000\n\
             \x20   2    0     0  - (retired)  0x20000\n"
        );
    }

    #[test]
    fn info_as_json() {
        let json = info_json("/dev/\"x\"", &sample_info(), &sample_table()[..2]);
        assert_eq!(
            json,
            "{\"device\":\"/dev/\\\"x\\\"\",\"abi_version\":1,\"info_size\":56,\
             \"backend\":\"sim\",\"backend_id\":1,\"type\":\"local\",\"type_id\":1,\
             \"mode\":\"regular\",\"mode_id\":0,\"time_basis\":\"reference\",\
             \"time_basis_id\":0,\"buffer_count\":3,\"max_buffers\":8,\"generation\":5,\
             \"buffer_size\":65536,\
             \"threshold\":1,\"sources\":1099511661568,\
             \"source_names\":[\"hc\",\"vp\",\"0x10000000000\"],\
             \"header_size\":72,\"record_size\":32,\"completion\":\"messages\",\"completion_id\":1,\"buffers\":[\
             {\"index\":0,\"pxm\":0,\"node\":0,\"cpus\":[0,1,4],\"cpu_list\":\"0-1,4\",\"mmap_offset\":0,\"retired\":false},\
             {\"index\":1,\"pxm\":1,\"node\":1,\"cpus\":[63,64,65,66],\"cpu_list\":\"63-66\",\"mmap_offset\":65536,\"retired\":false}]}\n"
        );
    }

    #[test]
    fn stats_formats() {
        let st = Stats {
            completions: 10,
            releases: 9,
            events_lost: 0,
            records_dropped: 1,
            flushes: 2,
        };
        let open = Stats::default();
        assert_eq!(
            stats_text(&open, &st),
            "                      this open module lifetime\n\
             completions                   0              10\n\
             releases                      0               9\n\
             events_lost                   0               0\n\
             records_dropped               0               1\n\
             flushes                       0               2\n"
        );
        assert_eq!(
            stats_json(&open, &st),
            "{\"open\":{\"completions\":0,\"releases\":0,\"events_lost\":0,\
             \"records_dropped\":0,\"flushes\":0},\"module\":{\"completions\":10,\
             \"releases\":9,\"events_lost\":0,\"records_dropped\":1,\"flushes\":2}}\n"
        );
    }
}
