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

use crate::capfile::Meta;
use crate::capture::{Next, Recording, Replay};
use crate::decode::Event;
use crate::error::{Error, Result};
use crate::tlfs::{EntryHeader, TimeBasis, Wire, ENTRIES_OFFSET};
use crate::uapi::{Info, Record};

mod read;
#[cfg(test)]
pub(crate) mod tests;
mod write;

pub use read::{looks_like_etl, EtlSource};
pub use write::Writer;

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
