// SPDX-License-Identifier: GPL-2.0

//! The binary capture file's header, written by `capture --format binary`
//! and read back by `decode`, `convert` and `report` (the records that
//! follow it are described in `output`, which writes them, and read by
//! `capture::FileSource`).
//!
//! Two versions, told apart by the magic. All integers little endian.
//!
//! | offset | size | field                                              | since |
//! |--------|------|----------------------------------------------------|-------|
//! | 0      | 8    | magic `HVEVLOG1` or `HVEVLOG2`                     | 1     |
//! | 8      | 4    | ABI version of the device (`HV_EVLOG_ABI_VERSION`) | 1     |
//! | 12     | 4    | time basis (0 reference 100 ns, 1 TSC, 2 QPC)      | 1     |
//! | 16     | 4    | event log type (0 global, 1 local, 2 system)       | 1     |
//! | 20     | 4    | mode (0 regular, 1 circular)                       | 1     |
//! | 24     | 4    | buffer size in bytes                               | 1     |
//! | 28     | 4    | offset of the first entry in a buffer (72)         | 1     |
//! | 32     | 4    | size of this header (64)                           | 2     |
//! | 36     | 4    | logical processors of the machine (0 unknown)      | 2     |
//! | 40     | 8    | wall clock at the start, Windows FILETIME          | 2     |
//! | 48     | 8    | time stamp ticks per second (0 unknown)            | 2     |
//! | 56     | 4    | hypervisor build number (0 unknown)                | 2     |
//! | 60     | 4    | reserved, 0                                        | 2     |
//!
//! Version 2 adds what an ETL file's logfile header needs and a capture
//! cannot recover later: when it was taken, the clock rate, the machine's
//! processor count. A version 1 file reads with those unknown (0).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::tlfs::{TimeBasis, ENTRIES_OFFSET};
use crate::uapi::Info;

/// Magic of a version 1 file (32-byte header).
pub const MAGIC_V1: [u8; 8] = *b"HVEVLOG1";
/// Magic of a version 2 file (64-byte header), the one written.
pub const MAGIC_V2: [u8; 8] = *b"HVEVLOG2";
/// Size of a version 1 header.
pub const HEADER_V1_SIZE: usize = 32;
/// Size of a version 2 header.
pub const HEADER_SIZE: usize = 64;

/// 100 ns intervals from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// Ticks per second of the reference time basis (100 ns units; TLFS
/// "reference time").
pub const REFERENCE_HZ: u64 = 10_000_000;

/// What a capture file says about the capture besides its buffers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// The group geometry (only the fields the header keeps are set when
    /// read back: ABI version, time basis, type, mode, buffer and header
    /// size).
    pub info: Info,
    /// Logical processors of the machine, 0 when unknown.
    pub processors: u32,
    /// Wall clock when the capture started, as a Windows FILETIME (100 ns
    /// since 1601), 0 when unknown.
    pub start_filetime: u64,
    /// Time stamp ticks per second, 0 when unknown.
    pub timer_hz: u64,
    /// The hypervisor's build number, 0 when unknown.
    pub hv_build: u32,
}

impl Meta {
    /// The capture about to start now on this machine, for a group
    /// described by `info`.
    pub fn now(info: &Info) -> Self {
        Self {
            info: *info,
            processors: std::thread::available_parallelism()
                .map_or(0, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
            start_filetime: filetime_now(),
            timer_hz: timer_hz(info.time_basis),
            // Neither the device nor the hypervisor interface this module
            // uses reports the build.
            hv_build: 0,
        }
    }

    /// Ticks per second, the reference time's when the file does not say
    /// and the basis is reference time; `None` when unknown.
    pub fn ticks_per_second(&self) -> Option<u64> {
        match (self.timer_hz, TimeBasis::from_raw(self.info.time_basis)) {
            (0, Some(TimeBasis::Reference)) => Some(REFERENCE_HZ),
            (0, _) => None,
            (hz, _) => Some(hz),
        }
    }
}

/// The wall clock now as a FILETIME.
pub fn filetime_now() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    FILETIME_UNIX_EPOCH
        .saturating_add(since.as_secs().saturating_mul(REFERENCE_HZ))
        .saturating_add(u64::from(since.subsec_nanos() / 100))
}

/// Ticks per second of `time_basis` on this machine: reference time is
/// 10 MHz by definition; the TSC's rate is taken from the kernel's
/// `cpu MHz` in /proc/cpuinfo (on x86 without frequency scaling, which a
/// Hyper-V root partition's virtual processors have, it is the TSC rate
/// the kernel calibrated); 0 when unknown.
fn timer_hz(time_basis: u32) -> u64 {
    match TimeBasis::from_raw(time_basis) {
        Some(TimeBasis::Reference) => REFERENCE_HZ,
        Some(TimeBasis::Tsc) => std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_mhz_hz(&text))
            .unwrap_or(0),
        _ => 0,
    }
}

/// The first `cpu MHz : 2793.437` line of /proc/cpuinfo, in Hz.
fn cpu_mhz_hz(cpuinfo: &str) -> Option<u64> {
    let line = cpuinfo.lines().find(|l| l.starts_with("cpu MHz"))?;
    let mhz: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
    (mhz.is_finite() && mhz > 0.0).then(|| (mhz * 1e6).round() as u64)
}

/// The version 2 header for `meta`.
pub fn encode(meta: &Meta) -> [u8; HEADER_SIZE] {
    let mut h = [0u8; HEADER_SIZE];
    h[0..8].copy_from_slice(&MAGIC_V2);
    let i = &meta.info;
    let words = [
        i.abi_version,
        i.time_basis,
        i.log_type,
        i.mode,
        i.buffer_size,
        ENTRIES_OFFSET as u32,
        HEADER_SIZE as u32,
        meta.processors,
    ];
    for (n, w) in words.iter().enumerate() {
        h[8 + 4 * n..12 + 4 * n].copy_from_slice(&w.to_le_bytes());
    }
    h[40..48].copy_from_slice(&meta.start_filetime.to_le_bytes());
    h[48..56].copy_from_slice(&meta.timer_hz.to_le_bytes());
    h[56..60].copy_from_slice(&meta.hv_build.to_le_bytes());
    h
}

/// Why a file header was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Neither magic.
    NotCapture,
    /// A version 2 magic with a header size that is not 64.
    HeaderSize(u32),
}

/// The version of the header starting `head` (which holds at least 8
/// bytes): its size, or `None` for another kind of file.
pub fn header_size(head: &[u8]) -> Option<usize> {
    match head.get(0..8)? {
        m if m == MAGIC_V1 => Some(HEADER_V1_SIZE),
        m if m == MAGIC_V2 => Some(HEADER_SIZE),
        _ => None,
    }
}

/// Reads a header of either version from `h` (its whole size, from
/// [`header_size`]).
pub fn decode(h: &[u8]) -> Result<Meta, HeaderError> {
    let size = header_size(h).ok_or(HeaderError::NotCapture)?;
    if h.len() < size {
        return Err(HeaderError::NotCapture);
    }
    let word = |n: usize| u32::from_le_bytes(h[8 + 4 * n..12 + 4 * n].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
    let mut meta = Meta {
        info: Info {
            abi_version: word(0),
            time_basis: word(1),
            log_type: word(2),
            mode: word(3),
            buffer_size: word(4),
            header_size: word(5),
            ..Info::default()
        },
        ..Meta::default()
    };
    if size == HEADER_SIZE {
        if word(6) != HEADER_SIZE as u32 {
            return Err(HeaderError::HeaderSize(word(6)));
        }
        meta.processors = word(7);
        meta.start_filetime = u64_at(40);
        meta.timer_hz = u64_at(48);
        meta.hv_build = u32::from_le_bytes(h[56..60].try_into().unwrap());
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            info: Info {
                abi_version: 2,
                time_basis: 1,
                log_type: 1,
                mode: 0,
                buffer_size: 65536,
                header_size: 72,
                ..Info::default()
            },
            processors: 4,
            start_filetime: 0x01DB_0000_1234_5678,
            timer_hz: 2_793_437_000,
            hv_build: 26100,
        }
    }

    #[test]
    fn version_2_byte_exact_and_back() {
        let h = encode(&sample());
        let mut want = b"HVEVLOG2".to_vec();
        for w in [2u32, 1, 1, 0, 65536, 72, 64, 4] {
            want.extend_from_slice(&w.to_le_bytes());
        }
        want.extend_from_slice(&0x01DB_0000_1234_5678u64.to_le_bytes());
        want.extend_from_slice(&2_793_437_000u64.to_le_bytes());
        want.extend_from_slice(&26100u32.to_le_bytes());
        want.extend_from_slice(&[0; 4]);
        assert_eq!(h.to_vec(), want);
        assert_eq!(header_size(&h), Some(64));
        assert_eq!(decode(&h), Ok(sample()));
    }

    #[test]
    fn version_1_reads_with_unknowns() {
        let mut h = b"HVEVLOG1".to_vec();
        for w in [1u32, 0, 1, 0, 65536, 72] {
            h.extend_from_slice(&w.to_le_bytes());
        }
        assert_eq!(header_size(&h), Some(32));
        let meta = decode(&h).unwrap();
        assert_eq!(meta.info.buffer_size, 65536);
        assert_eq!(
            (meta.processors, meta.start_filetime, meta.timer_hz),
            (0, 0, 0)
        );
        // Reference time is 10 MHz whatever the file says.
        assert_eq!(meta.ticks_per_second(), Some(10_000_000));
        let mut tsc = meta;
        tsc.info.time_basis = 1;
        assert_eq!(tsc.ticks_per_second(), None);
    }

    #[test]
    fn refusals() {
        assert_eq!(header_size(b"HVEVLOG3"), None);
        assert_eq!(decode(b"HVEVLOG2"), Err(HeaderError::NotCapture));
        let mut h = encode(&sample());
        h[32] = 65;
        assert_eq!(decode(&h), Err(HeaderError::HeaderSize(65)));
    }

    #[test]
    fn filetime_and_cpu_mhz() {
        // 2020-01-01 and later, before 2200.
        let now = filetime_now();
        assert!(now > 132_223_104_000_000_000 && now < 195_000_000_000_000_000);
        assert_eq!(
            cpu_mhz_hz("processor\t: 0\ncpu MHz\t\t: 2793.437\n"),
            Some(2_793_437_000)
        );
        assert_eq!(cpu_mhz_hz("processor : 0\n"), None);
        assert_eq!(cpu_mhz_hz("cpu MHz : nan\n"), None);
    }
}
