// SPDX-License-Identifier: GPL-2.0

//! Event Trace Log (ETL) files: written from captured buffers, read back.
//!
//! An ETL file is what Event Tracing for Windows flushes its buffers into,
//! and what Windows Performance Analyzer, `tracerpt` and Microsoft's own
//! hypervisor trace tooling open. It is a sequence of equal-size buffers,
//! each a 72-byte `WMI_BUFFER_HEADER` followed by 8-byte aligned records,
//! each record starting with a trace header whose first 32 bits are a
//! marker naming the header's kind. The first buffer holds one record: a
//! `SYSTEM_TRACE_HEADER` event of the header group whose payload is the
//! `TRACE_LOGFILE_HEADER`.
//!
//! Sources for the layouts (facts only, nothing copied):
//! - `WMI_BUFFER_HEADER`: Geoff Chappell, "WMI_BUFFER_HEADER"
//!   (geoffchappell.com/studies/windows/km/ntoskrnl/api/etw/tracelog/
//!   wmi_buffer_header.htm) and the phnt headers' ntwmi.h: BufferSize 0x00,
//!   SavedOffset 0x04, CurrentOffset 0x08, ReferenceCount 0x0C, TimeStamp
//!   0x10, SequenceNumber 0x18, ClockType:3/Frequency:61 0x20,
//!   ClientContext (ProcessorIndex u16, LoggerId u16) 0x28, State 0x2C,
//!   Offset 0x30, BufferFlag u16 0x34, BufferType u16 0x36, a 16-byte union
//!   0x38 (runtime pointers, not meaningful in a file).
//! - `TRACE_LOGFILE_HEADER`: Microsoft's documentation of the structure
//!   (evntrace.h) and Geoff Chappell's "TRACE_LOGFILE_HEADER"; 0x118 bytes
//!   with 8-byte pointers, then the logger name and the log file name as
//!   NUL-terminated UTF-16 strings.
//! - `SYSTEM_TRACE_HEADER` (0x20 bytes) and `PERFINFO_TRACE_HEADER` (0x10
//!   bytes): Geoff Chappell's pages of the same names. Marker: bits 0-15
//!   version, 16-23 header type (`TRACE_HEADER_TYPE_SYSTEM64` 0x02,
//!   `TRACE_HEADER_TYPE_PERFINFO64` 0x11), 24-31 flags 0xC0
//!   (`TRACE_HEADER_FLAG | TRACE_HEADER_EVENT_TRACE`); then Size u16 at 4,
//!   HookId u16 (group << 8 | type) at 6, TimeStamp u64 at 8.
//! - Clock types (`TRACE_LOGFILE_HEADER.ReservedFlags`, the
//!   `WNODE_HEADER.ClientContext` values): 1 query performance counter
//!   (rate in PerfFreq), 2 system time, 3 CPU cycle counter (rate in
//!   CpuSpeedInMHz).
//! - fox-it/dissect.etl (headers/logfile.py, etl.py): how a reader that
//!   nobody here wrote finds buffers (each at the previous one plus its
//!   BufferSize, BuffersWritten of them), where it stops reading records
//!   (the buffer's Offset, 0x30, counted from the buffer start) and how it
//!   turns time stamps into times (StartTime minus the header event's time
//!   stamp, scaled by the clock type's rate).
//!
//! # What this writer sets
//!
//! The hypervisor's buffers are already ETW-shaped: its buffer header has
//! the time stamp at 0x10, the processor at 0x28, the state at 0x2C, the
//! fill offset at 0x30 and the flag/type word at 0x34, and each entry's
//! `{u32 context; u16 size; u16 type; u64 timestamp}` is a PERFINFO trace
//! header's framing (Size at 4, HookId at 6, TimeStamp at 8). Where the
//! conventions differ the buffers are fixed up:
//!
//! - **Entries.** ETW needs a marker where the hypervisor keeps its opaque
//!   `context`, so each entry becomes a PERFINFO64 record: marker
//!   `0xC0110000 | MARKER_VERSION`, Size = the entry's size + 8, HookId =
//!   the entry's type, TimeStamp = its time stamp, then an 8-byte prefix
//!   (the `context`, 4 zero bytes) and the entry's payload unchanged.
//!   Records are 8-byte aligned like the entries.
//! - **Buffer size.** An entry grows by 8 bytes, at most by half (the
//!   smallest is 16 bytes), so an ETL buffer is twice the hypervisor's
//!   buffer size ([`etl_buffer_size`]), one ETL buffer per captured buffer.
//! - **Buffer header** (ETW's counting, from the buffer start): BufferSize
//!   = the ETL buffer size (the hypervisor counts the bytes after the
//!   header); SavedOffset, CurrentOffset and Offset = the end of the last
//!   record (the hypervisor's `next_buffer_offset` counts after the
//!   header); ReferenceCount 0; TimeStamp = the hypervisor's buffer time
//!   stamp; SequenceNumber = the completion sequence number; ClockType and
//!   Frequency = the logfile header's; ProcessorIndex = the CPU the buffer
//!   served; LoggerId as the hypervisor wrote it; State 3 (ETW's "flush",
//!   the hypervisor's "complete"); BufferFlag = the hypervisor's, with
//!   `ETW_BUFFER_FLAG_EVENTS_LOST` (0x0002) when events were lost before
//!   it; BufferType 0 (generic). The runtime union at 0x38 keeps what the
//!   hypervisor's header said and ETW has no field for: 0x38 the buffer
//!   index, 0x3C the events lost before it, 0x40 the hypervisor's
//!   per-processor sequence number (0x3C in its header), 0x44 zero.
//! - **First buffer:** BufferType 4 (header), ProcessorIndex 0; its union
//!   keeps the group's log type (0x38), mode (0x3C) and time basis (0x40),
//!   which no logfile header field holds. Its one record is a SYSTEM64
//!   event, version 2, HookId 0 (group 0 "header", type 0 "info"),
//!   TimeStamp = the earliest captured time stamp, whose payload is the
//!   logfile header below, then the logger name `hv_evlog` and the file
//!   name.
//!
//! # The logfile header
//!
//! | field              | value                                                       |
//! |--------------------|-------------------------------------------------------------|
//! | BufferSize         | the ETL buffer size                                         |
//! | Version            | 0: no Windows version logged this                           |
//! | ProviderVersion    | the hypervisor's build, 0 when unknown                      |
//! | NumberOfProcessors | the machine's logical processors (else highest CPU + 1)     |
//! | EndTime            | StartTime plus the captured span                            |
//! | TimerResolution    | 1 (100 ns units): time stamps are at least that fine        |
//! | MaximumFileSize    | 0: no limit                                                 |
//! | LogFileMode        | 0x1, `EVENT_TRACE_FILE_MODE_SEQUENTIAL`                     |
//! | BuffersWritten     | every buffer of the file, the first one included            |
//! | StartBuffers       | 1: the first buffer                                         |
//! | PointerSize        | 8                                                           |
//! | EventsLost         | the sum of the buffers' lost events (saturating)            |
//! | CpuSpeedInMHz      | the time basis' rate in MHz, at least 1 (10 for reference   |
//! |                    | time): the rate of clock type 3; readers divide by it       |
//! | LoggerName, LogFileName | 0 (the strings follow the structure)                   |
//! | TimeZone           | zero: UTC                                                   |
//! | BootTime           | the wall time at which the time basis read 0                |
//! | PerfFreq           | ticks per second of the time basis                          |
//! | StartTime          | the wall clock when the capture started (a FILETIME)        |
//! | ReservedFlags      | the clock type: 1 for reference time (a 10 MHz counter) and |
//! |                    | QPC, 3 for the TSC                                          |
//! | BuffersLost        | 0                                                           |
//!
//! StartTime pairs the capture's start on the wall clock with the earliest
//! captured time stamp, so absolute times are as good as that pairing
//! (buffers may have been filling before the capture started); intervals
//! between events are exact.

use std::io::Read;
use std::time::Duration;

use crate::capfile::Meta;
use crate::capture::{Next, Source};
use crate::decode::Event;
use crate::error::{Error, Result};
use crate::tlfs::{EntryHeader, TimeBasis, Wire, ENTRIES_OFFSET};
use crate::uapi::{Info, Record};

/// Size of `WMI_BUFFER_HEADER`, the same as the hypervisor's buffer header.
pub const BUFFER_HEADER_SIZE: usize = 0x48;
const _: () = assert!(BUFFER_HEADER_SIZE == ENTRIES_OFFSET);

/// `SYSTEM_TRACE_HEADER` size.
const SYSTEM_HEADER_SIZE: usize = 0x20;
/// `TRACE_LOGFILE_HEADER` size with 8-byte pointers.
const LOGFILE_HEADER_SIZE: usize = 0x118;
/// `PERFINFO_TRACE_HEADER` size (64-bit).
const PERFINFO_HEADER_SIZE: usize = 0x10;
/// What each record adds before the entry's payload: the context and 4
/// zero bytes, keeping the payload 8-byte aligned.
const PREFIX_SIZE: usize = 8;

/// Marker flags byte: `TRACE_HEADER_FLAG | TRACE_HEADER_EVENT_TRACE`.
const MARKER_FLAGS: u32 = 0xC0;
/// `TRACE_HEADER_TYPE_SYSTEM64`.
const TYPE_SYSTEM64: u32 = 0x02;
/// `TRACE_HEADER_TYPE_PERFINFO64`.
const TYPE_PERFINFO64: u32 = 0x11;
/// Version in the marker of the entry records (bits 0-15). 0 keeps clear
/// the bits that announce extended data in a system header (0x8000 and
/// 0x0700), which readers honour for any header kind.
const MARKER_VERSION: u32 = 0;
/// Version of the logfile header event (`EventTrace_Header`, version 2).
const LOGFILE_EVENT_VERSION: u32 = 2;

/// `ETW_BUFFER_FLAG_EVENTS_LOST`.
const FLAG_EVENTS_LOST: u16 = 0x0002;
/// `ETW_BUFFER_TYPE_HEADER`.
const BUFFER_TYPE_HEADER: u16 = 4;
/// `EtwBufferStateFlush`: a buffer written out (the hypervisor's
/// "complete" has the same value).
const STATE_FLUSH: u32 = 3;
/// `EVENT_TRACE_FILE_MODE_SEQUENTIAL`.
const LOG_FILE_MODE_SEQUENTIAL: u32 = 1;
/// Clock types.
const CLOCK_QPC: u32 = 1;
const CLOCK_CYCLES: u32 = 3;

/// Largest ETL buffer written or read: twice the largest hypervisor buffer
/// (512 pages). Bounds what a corrupted file can make the reader allocate.
pub const MAX_ETL_BUFFER: u32 = 2 * 512 * 4096;

/// The ETL buffer size for hypervisor buffers of `buffer_size` bytes.
pub fn etl_buffer_size(buffer_size: u32) -> Option<u32> {
    buffer_size
        .checked_mul(2)
        .filter(|&s| s <= MAX_ETL_BUFFER && s as usize >= first_buffer_min())
}

/// The smallest first buffer: header, logfile event, two empty strings.
const fn first_buffer_min() -> usize {
    BUFFER_HEADER_SIZE + SYSTEM_HEADER_SIZE + LOGFILE_HEADER_SIZE + 4
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}
fn get16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn get32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn get64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// The clock type and the rate the logfile header gives for `meta`.
fn clock(meta: &Meta) -> std::result::Result<(u32, u64), String> {
    let hz = meta.ticks_per_second().ok_or_else(|| {
        "the capture's time stamps are TSC ticks and it does not record their rate \
         (a version 1 capture file): an ETL file needs it"
            .to_string()
    })?;
    let clock = match TimeBasis::from_raw(meta.info.time_basis) {
        Some(TimeBasis::Tsc) => CLOCK_CYCLES,
        _ => CLOCK_QPC,
    };
    Ok((clock, hz))
}

/// Builds an ETL file buffer by buffer.
pub struct Writer {
    meta: Meta,
    size: usize,
    clock: u32,
    hz: u64,
    file_name: String,
    buffers: u32,
    events_lost: u64,
    first_ts: Option<u64>,
    last_ts: u64,
    max_cpu: Option<u32>,
    buf: Vec<u8>,
}

impl Writer {
    /// A writer for a capture described by `meta`, going to a file named
    /// `file_name` (recorded in the logfile header).
    pub fn new(meta: &Meta, file_name: &str) -> std::result::Result<Self, String> {
        let size = etl_buffer_size(meta.info.buffer_size).ok_or_else(|| {
            format!(
                "buffer size {} cannot be written as ETL (twice it must be {} to {} bytes)",
                meta.info.buffer_size,
                first_buffer_min(),
                MAX_ETL_BUFFER
            )
        })? as usize;
        let (clock, hz) = clock(meta)?;
        Ok(Self {
            meta: *meta,
            size,
            clock,
            hz,
            file_name: file_name.to_string(),
            buffers: 0,
            events_lost: 0,
            first_ts: None,
            last_ts: 0,
            max_cpu: None,
            buf: Vec::new(),
        })
    }

    /// Bytes of every buffer in the file.
    pub fn buffer_size(&self) -> usize {
        self.size
    }

    /// ClockType (bits 0-2) and Frequency (bits 3-63) of a buffer header.
    fn clock_word(&self) -> u64 {
        u64::from(self.clock) | (self.hz << 3)
    }

    /// The ETL buffer of one captured buffer: `raw` is its bytes from the
    /// hypervisor's header on, `events` the events of it to keep (their
    /// `offset`s index `raw`).
    pub fn buffer(&mut self, record: &Record, raw: &[u8], events: &[Event]) -> &[u8] {
        let size = self.size;
        let clock_word = self.clock_word();
        self.buf.clear();
        self.buf.resize(size, 0);
        let b = &mut self.buf;
        let mut o = BUFFER_HEADER_SIZE;
        for e in events {
            let start = e.offset as usize + EntryHeader::SIZE;
            let end = e.offset as usize + usize::from(e.size);
            let payload = raw.get(start..end).unwrap_or(&[]);
            let len = PERFINFO_HEADER_SIZE + PREFIX_SIZE + payload.len();
            // Cannot run over: entries grow by at most half (see the module
            // comment). Stop rather than write past the buffer regardless.
            if o + len > size || len > usize::from(u16::MAX) {
                break;
            }
            put32(
                b,
                o,
                MARKER_FLAGS << 24 | TYPE_PERFINFO64 << 16 | MARKER_VERSION,
            );
            put16(b, o + 4, len as u16);
            put16(b, o + 6, e.entry_type);
            put64(b, o + 8, e.timestamp);
            put32(b, o + 16, e.context);
            b[o + 24..o + len].copy_from_slice(payload);
            o = EntryHeader::next_offset(o, len as u16);
        }
        for e in events {
            self.first_ts = Some(self.first_ts.map_or(e.timestamp, |t| t.min(e.timestamp)));
            self.last_ts = self.last_ts.max(e.timestamp);
        }
        let filled = o.min(size) as u32;
        // The hypervisor's header, where it has fields ETW lacks.
        let hv = |off: usize| raw.get(off..off + 4).map_or(0, |w| get32(w, 0));
        let hv16 = |off: usize| raw.get(off..off + 2).map_or(0, |w| get16(w, 0));
        put32(b, 0x00, size as u32);
        put32(b, 0x04, filled);
        put32(b, 0x08, filled);
        put64(b, 0x10, record.timestamp);
        put64(b, 0x18, record.sequence);
        put64(b, 0x20, clock_word);
        put16(b, 0x28, record.cpu as u16);
        put16(b, 0x2A, hv16(0x2A));
        put32(b, 0x2C, STATE_FLUSH);
        put32(b, 0x30, filled);
        let flag = hv16(0x34)
            | if record.events_lost > 0 {
                FLAG_EVENTS_LOST
            } else {
                0
            };
        put16(b, 0x34, flag);
        put32(b, 0x38, record.buffer_index);
        put32(b, 0x3C, record.events_lost);
        put32(b, 0x40, hv(0x3C));
        self.buffers += 1;
        self.events_lost += u64::from(record.events_lost);
        self.max_cpu = Some(self.max_cpu.map_or(record.cpu, |c| c.max(record.cpu)));
        if events.is_empty() {
            self.first_ts = Some(
                self.first_ts
                    .map_or(record.timestamp, |t| t.min(record.timestamp)),
            );
        }
        &self.buf
    }

    /// The first buffer, for what has been written so far: write it at
    /// offset 0 once the rest is out.
    pub fn first_buffer(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.size];
        let first_ts = self.first_ts.unwrap_or(0);
        // The logger and file names, NUL-terminated UTF-16; the file name
        // cut to what fits the buffer.
        let mut names: Vec<u16> = "hv_evlog".encode_utf16().chain([0]).collect();
        let room = (self.size - first_buffer_min()) / 2;
        names.extend(
            self.file_name
                .encode_utf16()
                .take(room.saturating_sub(names.len())),
        );
        names.push(0);
        let len = SYSTEM_HEADER_SIZE + LOGFILE_HEADER_SIZE + 2 * names.len();
        let filled = EntryHeader::next_offset(BUFFER_HEADER_SIZE, len as u16);

        put32(&mut b, 0x00, self.size as u32);
        put32(&mut b, 0x04, filled as u32);
        put32(&mut b, 0x08, filled as u32);
        put64(&mut b, 0x10, first_ts);
        put64(&mut b, 0x20, self.clock_word());
        put32(&mut b, 0x2C, STATE_FLUSH);
        put32(&mut b, 0x30, filled as u32);
        put16(&mut b, 0x36, BUFFER_TYPE_HEADER);
        put32(&mut b, 0x38, self.meta.info.log_type);
        put32(&mut b, 0x3C, self.meta.info.mode);
        put32(&mut b, 0x40, self.meta.info.time_basis);

        let r = BUFFER_HEADER_SIZE;
        put32(
            &mut b,
            r,
            MARKER_FLAGS << 24 | TYPE_SYSTEM64 << 16 | LOGFILE_EVENT_VERSION,
        );
        put16(&mut b, r + 4, len as u16);
        put16(&mut b, r + 6, 0);
        put64(&mut b, r + 0x10, first_ts);

        let h = r + SYSTEM_HEADER_SIZE;
        let span = self.last_ts.saturating_sub(first_ts);
        let to_100ns =
            |ticks: u64| (u128::from(ticks) * 10_000_000 / u128::from(self.hz.max(1))) as u64;
        let processors = match self.meta.processors {
            0 => self.max_cpu.map_or(1, |c| c.saturating_add(1)),
            n => n,
        };
        put32(&mut b, h, self.size as u32);
        put32(&mut b, h + 0x08, self.meta.hv_build);
        put32(&mut b, h + 0x0C, processors);
        put64(
            &mut b,
            h + 0x10,
            self.meta.start_filetime.saturating_add(to_100ns(span)),
        );
        put32(&mut b, h + 0x18, 1);
        put32(&mut b, h + 0x20, LOG_FILE_MODE_SEQUENTIAL);
        put32(&mut b, h + 0x24, self.buffers.saturating_add(1));
        put32(&mut b, h + 0x28, 1);
        put32(&mut b, h + 0x2C, 8);
        put32(
            &mut b,
            h + 0x30,
            u32::try_from(self.events_lost).unwrap_or(u32::MAX),
        );
        let mhz = (self.hz / 1_000_000).clamp(1, u64::from(u32::MAX));
        put32(&mut b, h + 0x34, mhz as u32);
        put64(
            &mut b,
            h + 0xF8,
            self.meta.start_filetime.saturating_sub(to_100ns(first_ts)),
        );
        put64(&mut b, h + 0x100, self.hz);
        put64(&mut b, h + 0x108, self.meta.start_filetime);
        put32(&mut b, h + 0x110, self.clock);
        for (i, c) in names.iter().enumerate() {
            put16(&mut b, h + LOGFILE_HEADER_SIZE + 2 * i, *c);
        }
        b
    }
}

/// An ETL file written by [`Writer`], read back buffer by buffer as the
/// hypervisor's buffers it was made of.
pub struct EtlSource<R: Read> {
    input: R,
    size: usize,
    buffers: u32,
    next: u32,
    raw: Vec<u8>,
    data: Vec<u8>,
}

/// Whether `head` (the first bytes of a file) looks like an ETL file: a
/// first buffer whose first record is a SYSTEM64 header event.
pub fn looks_like_etl(head: &[u8]) -> bool {
    head.len() >= BUFFER_HEADER_SIZE + 4
        && get32(head, BUFFER_HEADER_SIZE) >> 16 == (MARKER_FLAGS << 8 | TYPE_SYSTEM64)
}

fn at(index: u32, file_offset: u64, what: impl std::fmt::Display) -> Error {
    Error::Input(format!(
        "ETL buffer {index} (at byte offset {file_offset}): {what}"
    ))
}

impl<R: Read> EtlSource<R> {
    /// Reads and checks the first buffer; returns the source and what the
    /// logfile header says about the capture.
    pub fn open(mut input: R) -> Result<(Self, Meta)> {
        let mut head = vec![0u8; BUFFER_HEADER_SIZE];
        let got = read_full(&mut input, &mut head)?;
        if got < BUFFER_HEADER_SIZE {
            return Err(at(
                0,
                0,
                format!("the file ends at byte {got}, inside the buffer header"),
            ));
        }
        let size = get32(&head, 0);
        if (size as usize) < first_buffer_min() || size > MAX_ETL_BUFFER || size % 8 != 0 {
            return Err(at(
                0,
                0,
                format!(
                    "BufferSize {size} (at byte 0) is not a buffer size this tool writes \
                     (a multiple of 8 from {} to {MAX_ETL_BUFFER})",
                    first_buffer_min()
                ),
            ));
        }
        let size = size as usize;
        let mut b = head;
        b.resize(size, 0);
        let got = BUFFER_HEADER_SIZE + read_full(&mut input, &mut b[BUFFER_HEADER_SIZE..])?;
        if got < size {
            return Err(at(
                0,
                0,
                format!("truncated: the file ends at byte {got} of its {size}"),
            ));
        }
        let offset = get32(&b, 0x30) as usize;
        let r = BUFFER_HEADER_SIZE;
        let marker = get32(&b, r);
        let len = usize::from(get16(&b, r + 4));
        if marker >> 16 != (MARKER_FLAGS << 8 | TYPE_SYSTEM64) || get16(&b, r + 6) != 0 {
            return Err(at(
                0,
                0,
                format!(
                    "the record at byte {r} (marker {marker:#010x}, hook {:#06x}) is not \
                     the logfile header event (a SYSTEM64 header, hook 0)",
                    get16(&b, r + 6)
                ),
            ));
        }
        if len < SYSTEM_HEADER_SIZE + LOGFILE_HEADER_SIZE || r + len > offset || offset > size {
            return Err(at(
                0,
                0,
                format!(
                    "the logfile header event at byte {r} has size {len} and the buffer's \
                     Offset (at byte 48) is {offset}: the event needs {} bytes and must \
                     end by the Offset, which must be within the {size}-byte buffer",
                    SYSTEM_HEADER_SIZE + LOGFILE_HEADER_SIZE
                ),
            ));
        }
        let h = r + SYSTEM_HEADER_SIZE;
        if get32(&b, h) as usize != size || get32(&b, h + 0x2C) != 8 {
            return Err(at(
                0,
                0,
                format!(
                    "the logfile header at byte {h} says BufferSize {} and PointerSize {}; \
                     expected {size} and 8",
                    get32(&b, h),
                    get32(&b, h + 0x2C)
                ),
            ));
        }
        let buffers = get32(&b, h + 0x24);
        if buffers == 0 {
            return Err(at(
                0,
                0,
                format!("BuffersWritten (at byte {}) is 0", h + 0x24),
            ));
        }
        let clock = get32(&b, h + 0x110);
        let hz = get64(&b, h + 0x100);
        let time_basis = get32(&b, 0x40);
        let meta = Meta {
            info: Info {
                log_type: get32(&b, 0x38),
                mode: get32(&b, 0x3C),
                time_basis,
                buffer_size: (size / 2) as u32,
                header_size: ENTRIES_OFFSET as u32,
                ..Info::default()
            },
            processors: get32(&b, h + 0x0C),
            start_filetime: get64(&b, h + 0x108),
            timer_hz: if clock == CLOCK_QPC || clock == CLOCK_CYCLES {
                hz
            } else {
                0
            },
            hv_build: get32(&b, h + 0x08),
        };
        let source = Self {
            input,
            size,
            buffers,
            next: 1,
            raw: Vec::with_capacity(size),
            data: Vec::with_capacity(size / 2),
        };
        Ok((source, meta))
    }

    /// The buffer just read (in `raw`) as the hypervisor's buffer (in
    /// `data`) and its completion record.
    fn rebuild(&mut self, index: u32, file_offset: u64) -> Result<Record> {
        let b = &self.raw;
        let size = self.size;
        if get32(b, 0) as usize != size {
            return Err(at(
                index,
                file_offset,
                format!(
                    "BufferSize {} (at byte {file_offset}) differs from the file's {size}",
                    get32(b, 0)
                ),
            ));
        }
        let offset = get32(b, 0x30) as usize;
        if offset < BUFFER_HEADER_SIZE || offset > size {
            return Err(at(
                index,
                file_offset,
                format!(
                    "Offset {offset} (at byte {}) is outside the buffer: records end \
                     between {BUFFER_HEADER_SIZE} and {size}",
                    file_offset + 0x30
                ),
            ));
        }
        let hv_size = size / 2;
        let d = &mut self.data;
        d.clear();
        d.resize(ENTRIES_OFFSET, 0);
        let mut o = BUFFER_HEADER_SIZE;
        while o < offset {
            let byte = file_offset + o as u64;
            if offset - o < PERFINFO_HEADER_SIZE + PREFIX_SIZE {
                return Err(at(
                    index,
                    file_offset,
                    format!(
                        "the record at byte {byte} is cut short: {} bytes before the \
                         buffer's Offset {offset}",
                        offset - o
                    ),
                ));
            }
            let marker = get32(b, o);
            if marker != MARKER_FLAGS << 24 | TYPE_PERFINFO64 << 16 | MARKER_VERSION {
                return Err(at(
                    index,
                    file_offset,
                    format!(
                        "the record at byte {byte} has marker {marker:#010x}, not the \
                         PERFINFO64 marker {:#010x} this tool writes",
                        MARKER_FLAGS << 24 | TYPE_PERFINFO64 << 16 | MARKER_VERSION
                    ),
                ));
            }
            let len = usize::from(get16(b, o + 4));
            if len < PERFINFO_HEADER_SIZE + PREFIX_SIZE || len > offset - o {
                return Err(at(
                    index,
                    file_offset,
                    format!(
                        "the record at byte {byte} has size {len}: it must be at least {} \
                         and end by the buffer's Offset {offset}",
                        PERFINFO_HEADER_SIZE + PREFIX_SIZE
                    ),
                ));
            }
            let entry_size = len - PREFIX_SIZE;
            let start = d.len();
            let end = EntryHeader::next_offset(start, entry_size as u16);
            if end > hv_size {
                return Err(at(
                    index,
                    file_offset,
                    format!(
                        "the records up to byte {byte} hold more than a {hv_size}-byte \
                         hypervisor buffer"
                    ),
                ));
            }
            d.resize(end, 0);
            d[start..start + 4].copy_from_slice(&b[o + 16..o + 20]);
            d[start + 4..start + 6].copy_from_slice(&(entry_size as u16).to_le_bytes());
            d[start + 6..start + 16].copy_from_slice(&b[o + 6..o + 16]);
            d[start + 16..start + entry_size].copy_from_slice(&b[o + 24..o + len]);
            o = EntryHeader::next_offset(o, len as u16);
        }
        let used = (d.len() - ENTRIES_OFFSET) as u32;
        let record = Record {
            buffer_index: get32(b, 0x38),
            // An ETL file keeps the processor number only: the VP index,
            // which stands for the Linux CPU too.
            cpu: u32::from(get16(b, 0x28)),
            sequence: get64(b, 0x18),
            bytes_used: used,
            events_lost: get32(b, 0x3C),
            timestamp: get64(b, 0x10),
            vp: u32::from(get16(b, 0x28)),
            reserved: 0,
        };
        // The hypervisor's header as it was, where the ETL buffer kept it.
        put32(d, 0, (hv_size - ENTRIES_OFFSET) as u32);
        put32(d, 4, record.buffer_index);
        put32(d, 8, record.events_lost);
        put64(d, 16, record.timestamp);
        d[40..44].copy_from_slice(&b[0x28..0x2C]);
        put32(d, 44, get32(b, 0x2C));
        put32(d, 48, used);
        put16(d, 52, get16(b, 0x34) & !FLAG_EVENTS_LOST);
        put32(d, 56, crate::tlfs::END_OF_CHAIN);
        put32(d, 60, get32(b, 0x40));
        Ok(record)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    crate::capture::read_full_of("ETL file", input, buf)
}

impl<R: Read> Source for EtlSource<R> {
    fn wait(&mut self, _timeout: Duration) -> Result<Next> {
        let index = self.next;
        let file_offset = u64::from(index) * self.size as u64;
        self.raw.resize(self.size, 0);
        let got = read_full(&mut self.input, &mut self.raw)?;
        if index >= self.buffers {
            return if got == 0 {
                Ok(Next::Closed)
            } else {
                Err(at(
                    index,
                    file_offset,
                    format!(
                        "the file goes on after the {} buffers its logfile header counts",
                        self.buffers
                    ),
                ))
            };
        }
        if got < self.size {
            return Err(at(
                index,
                file_offset,
                format!(
                    "truncated: {got} of its {} bytes present (the logfile header counts {} \
                     buffers)",
                    self.size, self.buffers
                ),
            ));
        }
        self.next += 1;
        self.rebuild(index, file_offset).map(Next::Record)
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capture::tests::{four_buffers, Fake};
    use crate::capture::{run, End, Limits};
    use crate::output::{Format, Sink};

    pub(crate) fn meta() -> Meta {
        Meta {
            info: Info {
                abi_version: 2,
                time_basis: 0,
                log_type: 1,
                mode: 0,
                buffer_size: 4096,
                header_size: 72,
                ..Info::default()
            },
            processors: 4,
            start_filetime: 133_000_000_000_000_000,
            timer_hz: 10_000_000,
            hv_build: 0,
        }
    }

    /// The capture of `buffers` (at most `count` events) in `format`, with
    /// an ETL file's first buffer put in place.
    pub(crate) fn write(format: Format, buffers: Vec<Vec<u8>>, count: Option<u64>) -> Vec<u8> {
        let mut fake = Fake::new(buffers);
        let mut sink = Sink::new(Vec::new(), format).named("t.etl");
        sink.begin(&meta()).unwrap();
        let limits = Limits {
            count,
            ..Limits::default()
        };
        run(&mut fake, limits, &mut sink, &|| false, &mut |_| {}).unwrap();
        let first = sink.first_buffer();
        let mut out = sink.finish().unwrap();
        if let Some(first) = first {
            out[..first.len()].copy_from_slice(&first);
        }
        out
    }

    /// The events of a file as text, through a source.
    pub(crate) fn text_of<S: Source>(source: &mut S) -> Result<String> {
        let mut sink = Sink::new(Vec::new(), Format::Text);
        let (_, end) = run(source, Limits::default(), &mut sink, &|| false, &mut |_| {})?;
        assert_eq!(end, End::Closed);
        Ok(String::from_utf8(sink.finish().unwrap()).unwrap())
    }

    #[test]
    fn round_trip_keeps_every_event() {
        let file = write(Format::Etl, four_buffers(), None);
        // The first buffer and four more, 8 KiB each.
        assert_eq!(file.len(), 5 * 8192);
        let (mut source, back) = EtlSource::open(&file[..]).unwrap();
        assert_eq!(back.info.buffer_size, 4096);
        assert_eq!(back.info.time_basis, 0);
        assert_eq!(back.info.log_type, 1);
        assert_eq!(back.processors, 4);
        assert_eq!(back.start_filetime, meta().start_filetime);
        assert_eq!(back.timer_hz, 10_000_000);
        let want = write(Format::Text, four_buffers(), None);
        assert_eq!(text_of(&mut source).unwrap().as_bytes(), &want[..]);
        // Cut by --count: only the events kept.
        let file = write(Format::Etl, four_buffers(), Some(7));
        let want = write(Format::Text, four_buffers(), Some(7));
        let (mut source, _) = EtlSource::open(&file[..]).unwrap();
        assert_eq!(text_of(&mut source).unwrap().as_bytes(), &want[..]);
    }

    #[test]
    fn layout_byte_exact() {
        let file = write(Format::Etl, four_buffers(), None);
        let h = BUFFER_HEADER_SIZE + SYSTEM_HEADER_SIZE;
        // First buffer: header type, logfile event marker, hook 0.
        assert_eq!(get32(&file, 0), 8192);
        assert_eq!(get16(&file, 0x36), 4);
        assert_eq!(get32(&file, 72), 0xC002_0002);
        assert_eq!(get16(&file, 72 + 6), 0);
        // Its time stamp is the earliest event's (buffer 0, event 0: 0).
        assert_eq!(get64(&file, 72 + 0x10), 0);
        // Logfile header: buffer size, processors, buffers, pointer size,
        // events lost (buffer 2 lost 5), rate, clock type.
        assert_eq!(get32(&file, h), 8192);
        assert_eq!(get32(&file, h + 0x0C), 4);
        assert_eq!(get32(&file, h + 0x24), 5);
        assert_eq!(get32(&file, h + 0x2C), 8);
        assert_eq!(get32(&file, h + 0x30), 5);
        assert_eq!(get64(&file, h + 0x100), 10_000_000);
        assert_eq!(get64(&file, h + 0x108), meta().start_filetime);
        assert_eq!(get32(&file, h + 0x110), 1);
        // EndTime: the span (302 ticks of 100 ns) after the start.
        assert_eq!(get64(&file, h + 0x10), meta().start_filetime + 302);
        let name: Vec<u16> = "hv_evlog\0t.etl\0".encode_utf16().collect();
        for (i, c) in name.iter().enumerate() {
            assert_eq!(get16(&file, h + 0x118 + 2 * i), *c);
        }
        // Buffer 3 of the file (captured buffer 2, CPU 0, lost 5): header
        // fixed up, three records of 24, 32 and 40 bytes.
        let b = &file[3 * 8192..4 * 8192];
        assert_eq!(get32(b, 0x00), 8192);
        assert_eq!(get32(b, 0x30), 72 + 24 + 32 + 40);
        assert_eq!(get32(b, 0x04), 72 + 24 + 32 + 40);
        assert_eq!(get64(b, 0x10), 200);
        assert_eq!(get64(b, 0x18), 2);
        assert_eq!(get64(b, 0x20), 1 | 10_000_000 << 3);
        assert_eq!(get16(b, 0x28), 0);
        assert_eq!(get16(b, 0x34) & FLAG_EVENTS_LOST, FLAG_EVENTS_LOST);
        assert_eq!(get32(b, 0x38), 2);
        assert_eq!(get32(b, 0x3C), 5);
        // Second record: marker, size 16 + 8 + 8, hook = type 2, time
        // stamp 201, context 21, payload as the hypervisor wrote it.
        let r = 72 + 24;
        assert_eq!(get32(b, r), 0xC011_0000);
        assert_eq!(get16(b, r + 4), 32);
        assert_eq!(get16(b, r + 6), 2);
        assert_eq!(get64(b, r + 8), 201);
        assert_eq!(get32(b, r + 16), 21);
        assert_eq!(get32(b, r + 20), 0);
        let payload: Vec<u8> = (0..8u8).map(|i| i ^ 0xA5).collect();
        assert_eq!(&b[r + 24..r + 32], &payload[..]);
    }

    fn err_of(file: &[u8]) -> String {
        match EtlSource::open(file) {
            Err(e) => e.to_string(),
            Ok((mut s, _)) => text_of(&mut s).unwrap_err().to_string(),
        }
    }

    #[test]
    fn corrupted_files_name_buffer_and_offset() {
        let file = write(Format::Etl, four_buffers(), None);
        // Truncated inside buffer 4.
        assert_eq!(
            err_of(&file[..4 * 8192 + 100]),
            "ETL buffer 4 (at byte offset 32768): truncated: 100 of its 8192 bytes present \
             (the logfile header counts 5 buffers)"
        );
        // Buffer 2's Offset past its end.
        let mut bad = file.clone();
        put32(&mut bad, 2 * 8192 + 0x30, 9000);
        assert_eq!(
            err_of(&bad),
            "ETL buffer 2 (at byte offset 16384): Offset 9000 (at byte 16432) is outside \
             the buffer: records end between 72 and 8192"
        );
        // Buffer 1's Offset cutting a record short.
        let mut bad = file.clone();
        put32(&mut bad, 8192 + 0x30, 72 + 24 + 10);
        assert_eq!(
            err_of(&bad),
            "ETL buffer 1 (at byte offset 8192): the record at byte 8288 is cut short: \
             10 bytes before the buffer's Offset 106"
        );
        // A record whose size runs past the Offset.
        let mut bad = file.clone();
        put16(&mut bad, 8192 + 72 + 4, 500);
        assert_eq!(
            err_of(&bad),
            "ETL buffer 1 (at byte offset 8192): the record at byte 8264 has size 500: it \
             must be at least 24 and end by the buffer's Offset 168"
        );
        // A marker that is not ours.
        let mut bad = file.clone();
        put32(&mut bad, 8192 + 72, 0x1234);
        assert_eq!(
            err_of(&bad),
            "ETL buffer 1 (at byte offset 8192): the record at byte 8264 has marker \
             0x00001234, not the PERFINFO64 marker 0xc0110000 this tool writes"
        );
        // The first buffer.
        assert_eq!(
            err_of(&file[..50]),
            "ETL buffer 0 (at byte offset 0): the file ends at byte 50, inside the buffer \
             header"
        );
        let mut bad = file.clone();
        put32(&mut bad, 0, 12345);
        assert!(err_of(&bad).starts_with("ETL buffer 0 (at byte offset 0): BufferSize 12345"));
        // One buffer more than counted.
        let mut more = file.clone();
        more.extend_from_slice(&file[8192..2 * 8192]);
        assert_eq!(
            err_of(&more),
            "ETL buffer 5 (at byte offset 40960): the file goes on after the 5 buffers its \
             logfile header counts"
        );
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        /// Every outcome of reading `file`: the events, or an error naming
        /// an ETL buffer.
        fn read(file: &[u8]) {
            match EtlSource::open(file) {
                Err(e) => assert!(e.to_string().starts_with("ETL buffer 0 "), "{e}"),
                Ok((mut s, _)) => {
                    if let Err(e) = text_of(&mut s) {
                        assert!(e.to_string().starts_with("ETL buffer "), "{e}");
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// A valid file with bytes overwritten and cut anywhere.
            #[test]
            fn corrupted(
                writes in proptest::collection::vec((0usize..5 * 8192, any::<u8>()), 1..12),
                cut in 0usize..=5 * 8192,
            ) {
                let mut file = write(Format::Etl, four_buffers(), None);
                for (at, byte) in writes {
                    file[at] = byte;
                }
                file.truncate(cut);
                read(&file);
            }

            /// Header fields that size things set to anything.
            #[test]
            fn sizes(buffer in 0usize..5, field in prop::sample::select(vec![0usize, 0x30, 72 + 4, 104, 104 + 0x24]), value in any::<u32>()) {
                let mut file = write(Format::Etl, four_buffers(), None);
                put32(&mut file, buffer * 8192 + field, value);
                read(&file);
            }

            /// Anything at all.
            #[test]
            fn arbitrary(bytes in proptest::collection::vec(any::<u8>(), 0..20000)) {
                read(&bytes);
            }
        }
    }
}
