// SPDX-License-Identifier: GPL-2.0

//! The replay source: a binary capture file read back record by record.

use std::io::{self, Read};
use std::time::Duration;

use super::{Next, Source};
use crate::capfile::{self, HeaderError, Meta};
use crate::error::{Error, Result};
use crate::output::RECORD_HEADER_SIZE;
use crate::tlfs::ENTRIES_OFFSET;
use crate::uapi::{Record, ABI_VERSION};

/// A file of recorded buffers read back (a binary capture file, an ETL
/// file): record after record, each with its buffer held in memory.
pub(crate) trait Recording {
    /// Reads the next record and the buffer it describes.
    fn next(&mut self) -> Result<Next>;
    /// The buffer of the record [`Recording::next`] last returned.
    fn held(&self) -> &[u8];
}

/// A [`Recording`] as a [`Source`]: the file is all there, so waiting is
/// reading on, a snapshot is the held buffer, and nothing is handed back.
pub struct Replay<F>(pub(crate) F);

impl<F: Recording> Source for Replay<F> {
    fn wait(&mut self, _timeout: Duration) -> Result<Next> {
        self.0.next()
    }

    fn snapshot(&mut self, _record: &Record, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        out.extend_from_slice(self.0.held());
        Ok(())
    }

    fn release(&mut self, _index: u32) -> Result<()> {
        Ok(())
    }
}

/// A binary capture file (see `output`), read back.
pub struct FileSource<R: Read> {
    input: R,
    data: Vec<u8>,
    offset: u64,
}

impl<R: Read> FileSource<R> {
    /// Reads and checks the file header (either version); returns the
    /// source and what the header records.
    pub fn open(mut input: R) -> Result<(Replay<Self>, Meta)> {
        let not_capture = || {
            Error::Input(
                "not an hv-evlog capture file (no HVEVLOG1 or HVEVLOG2 header) nor an ETL \
                 file: write one with 'hv-evlog capture --format binary' or '--format etl'"
                    .into(),
            )
        };
        let mut header = [0u8; capfile::HEADER_SIZE];
        let got = read_full(&mut input, &mut header[..8])?;
        let size = capfile::header_size(&header[..got]).ok_or_else(not_capture)?;
        if 8 + read_full(&mut input, &mut header[8..size])? < size {
            return Err(not_capture());
        }
        let meta = capfile::decode(&header[..size]).map_err(|e| match e {
            HeaderError::NotCapture => not_capture(),
            HeaderError::HeaderSize(n) => Error::Input(format!(
                "capture file header says it is {n} bytes; version 2 headers are {}",
                capfile::HEADER_SIZE
            )),
        })?;
        let info = &meta.info;
        // The buffer format is the same for every ABI version so far (ABI 2
        // added `vp` to the device's record, not to the file's).
        if info.abi_version == 0
            || info.abi_version > ABI_VERSION
            || info.header_size as usize != ENTRIES_OFFSET
        {
            return Err(Error::Input(format!(
                "capture file has ABI version {} and entries at offset {}; \
                 this tool reads versions 1 to {ABI_VERSION} with entries at {ENTRIES_OFFSET}",
                info.abi_version, info.header_size
            )));
        }
        let source = Self {
            input,
            data: Vec::new(),
            offset: size as u64,
        };
        Ok((Replay(source), meta))
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read. An
/// error names the input as `what` ("capture file", "ETL file").
pub(crate) fn read_full_of(what: &str, input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Input(format!("reading {what}: {e}"))),
        }
    }
    Ok(got)
}

/// [`read_full_of`] a capture file.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    read_full_of("capture file", input, buf)
}

impl<R: Read> Recording for FileSource<R> {
    fn next(&mut self) -> Result<Next> {
        let mut h = [0u8; RECORD_HEADER_SIZE];
        let got = read_full(&mut self.input, &mut h)?;
        if got == 0 {
            return Ok(Next::Closed);
        }
        let truncated = |offset: u64| {
            Error::Input(format!(
                "capture file is truncated: the record at byte {offset} is incomplete"
            ))
        };
        if got < RECORD_HEADER_SIZE {
            return Err(truncated(self.offset));
        }
        let u32_at = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
        // The file stores `bytes` raw bytes, header included; the record's
        // `bytes_used` counts entry bytes after the header, as the device's.
        let bytes = u32_at(16);
        let record = Record {
            buffer_index: u32_at(0),
            cpu: u32_at(4),
            sequence: u64_at(8),
            bytes_used: bytes.saturating_sub(ENTRIES_OFFSET as u32),
            events_lost: u32_at(20),
            timestamp: u64_at(24),
            ..Record::default()
        };
        self.data.resize(bytes as usize, 0);
        if read_full(&mut self.input, &mut self.data)? < self.data.len() {
            return Err(truncated(self.offset));
        }
        // The file keeps the CPU; the VP index is in the buffer header it
        // stores (`logical_processor`, 16 bits at offset 40).
        let record = Record {
            vp: self
                .data
                .get(40..42)
                .map_or(0, |b| u32::from(u16::from_le_bytes([b[0], b[1]]))),
            ..record
        };
        self.offset += (RECORD_HEADER_SIZE + self.data.len()) as u64;
        Ok(Next::Record(record))
    }

    fn held(&self) -> &[u8] {
        &self.data
    }
}
