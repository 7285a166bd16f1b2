// SPDX-License-Identifier: GPL-2.0

//! Reading back: an ETL file this tool wrote, as the buffers it was made of.

use super::*;
use crate::decode::EventType;

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
    pub fn open(mut input: R) -> Result<(Replay<Self>, Meta)> {
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
                    "the record at byte {r} (marker {marker:#010x}, hook {}) is not \
                     the logfile header event (a SYSTEM64 header, hook 0)",
                    EventType(get16(&b, r + 6))
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
        Ok((Replay(source), meta))
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

impl<R: Read> Recording for EtlSource<R> {
    fn next(&mut self) -> Result<Next> {
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

    fn held(&self) -> &[u8] {
        &self.data
    }
}
