// SPDX-License-Identifier: GPL-2.0

//! Writing: captured buffers into ETL buffers, after the logfile header.

use super::*;

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
            put16(b, o + 6, e.entry_type.0);
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
