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
    /// 'cpu=N ts=N type=0xNNNN size=N context=0xNNNNNNNN' lines
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

/// Appends one text event line, the type spelled as
/// [`crate::decode::EventType`] spells it for `report` and traces too.
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
mod tests;
