// SPDX-License-Identifier: GPL-2.0

//! The open device: its file descriptor, the ioctls, poll and read, and the
//! read-only mapping of all buffers. Every system call of the tool is here.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::ioctl::{Getter, Ioctl, Setter, Updater};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};

use crate::decode::{decode_with, used_end, DecodeError, Event};
use crate::error::{Error, Result};
use crate::uapi::{
    self, BufferInfo, Buffers, CopyRequest, Info, Record, Stats, ABI_VERSION, IOC_BUFFERS,
    IOC_COPY, IOC_FLUSH, IOC_INFO, IOC_LIFETIME_STATS, IOC_RELEASE, IOC_RESIZE, IOC_SET_SOURCES,
    IOC_STATS, MAX_BUFFERS,
};

/// What a wait for completion records brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Records were queued.
    Ready,
    /// Nothing within the timeout (or a signal arrived).
    Timeout,
    /// The device has no more records and never will (end of file).
    Closed,
    /// The buffer table changed (`POLLPRI`): a resize.
    TableChanged,
}

/// `/dev/hv_evlog`, open for reading (the consumer) or as a control file.
pub struct Device {
    file: File,
    path: String,
}

impl Device {
    /// Opens the device as its consumer, read-only and close-on-exec. The
    /// module allows one consumer at a time.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_as(path, OpenOptions::new().read(true))
    }

    /// Opens the device as a control file (`O_WRONLY`, close-on-exec), which
    /// the module allows beside the consumer: INFO, BUFFERS, FLUSH,
    /// SET_SOURCES and RESIZE only.
    pub fn open_control(path: &Path) -> Result<Self> {
        Self::open_as(path, OpenOptions::new().write(true))
    }

    /// Opens `path` with `options` (std adds `O_CLOEXEC`).
    fn open_as(path: &Path, options: &OpenOptions) -> Result<Self> {
        let display = path.display().to_string();
        match options.open(path) {
            Ok(file) => Ok(Self {
                file,
                path: display,
            }),
            Err(e) => Err(Error::Sys {
                path: display,
                op: "open",
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            }),
        }
    }

    /// The descriptor, for waiting on it alongside others.
    #[allow(dead_code)] // Used by hv-evlog-bench only.
    pub fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.file.as_raw_fd()
    }

    /// The path it was opened as.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn fail(&self, op: &'static str, errno: i32) -> Error {
        Error::Sys {
            path: self.path.clone(),
            op,
            errno,
        }
    }

    /// Issues `ioctl` on the device.
    ///
    /// # Safety
    ///
    /// The argument type of `ioctl` (a rustix `Getter`, `Setter` or
    /// `Updater`) must be the one its request number encodes, as the UAPI
    /// header declares it, so the kernel reads and writes only that
    /// argument; pointers inside the argument must be valid for what the
    /// request does with them.
    unsafe fn ioctl<I: Ioctl>(&self, ioctl: I) -> Result<I::Output> {
        let request = ioctl.opcode();
        // SAFETY: the descriptor is open; the caller guarantees the argument
        // matches the request.
        unsafe { rustix::ioctl::ioctl(&self.file, ioctl) }
            .map_err(|e| self.fail(uapi::ioctl_name(request), e.raw_os_error()))
    }

    /// `HV_EVLOG_IOC_INFO`, checked against the ABI this tool was built for.
    pub fn info(&self) -> Result<Info> {
        // SAFETY: IOC_INFO is _IOR of a `struct hv_evlog_info`, which `Info`
        // mirrors (uapi.rs's test checks the layout against the header).
        let info = unsafe { self.ioctl(Getter::<{ IOC_INFO }, Info>::new())? };
        check_info(&info)?;
        Ok(info)
    }

    /// `HV_EVLOG_IOC_BUFFERS`: every existing buffer (retired ones
    /// included), all from one generation of the table, and that
    /// generation. Asks in as many calls as the module needs, and again
    /// from the start if a resize changed the table in between.
    pub fn buffers(&self) -> Result<(Vec<BufferInfo>, u32)> {
        'again: loop {
            let mut table = vec![BufferInfo::default(); MAX_BUFFERS as usize];
            let mut filled = 0usize;
            let mut first = 0;
            let mut generation = None;
            while filled < table.len() {
                let room = &mut table[filled..];
                let mut arg = Buffers {
                    first,
                    count: room.len() as u32,
                    table: room.as_mut_ptr() as u64,
                    ..Buffers::default()
                };
                // SAFETY: IOC_BUFFERS is _IOWR of a `struct
                // hv_evlog_buffers`, mirrored by `Buffers`; its `table`
                // points to `count` writable `BufferInfo`s (mirroring
                // `struct hv_evlog_buffer_info`), which live in `table`
                // until after the call.
                unsafe { self.ioctl(Updater::<{ IOC_BUFFERS }, Buffers>::new(&mut arg))? };
                if arg.count as usize > room.len() {
                    return Err(Error::Device(format!(
                        "{}: HV_EVLOG_IOC_BUFFERS filled {} entries into room for {}",
                        self.path,
                        arg.count,
                        room.len()
                    )));
                }
                if *generation.get_or_insert(arg.generation) != arg.generation {
                    continue 'again;
                }
                if arg.count == 0 {
                    break;
                }
                filled += arg.count as usize;
                first = table[filled - 1].index.saturating_add(1);
            }
            table.truncate(filled);
            return Ok((table, generation.unwrap_or(0)));
        }
    }

    /// `HV_EVLOG_IOC_RESIZE`: `per_cpu` buffers for every served CPU.
    pub fn resize(&self, per_cpu: u32) -> Result<()> {
        // SAFETY: IOC_RESIZE is _IOW of a `__u32`, passed by pointer.
        unsafe { self.ioctl(Setter::<{ IOC_RESIZE }, u32>::new(per_cpu)) }
    }

    /// `HV_EVLOG_IOC_RELEASE`: hands completed buffer `index` back.
    pub fn release(&self, index: u32) -> Result<()> {
        // SAFETY: IOC_RELEASE is _IOW of a `__u32`, passed by pointer.
        unsafe { self.ioctl(Setter::<{ IOC_RELEASE }, u32>::new(index)) }
    }

    /// The copying (compatibility) path: copies completed buffer `index`
    /// (header and entries) into `out`, which it resizes to the bytes
    /// copied, and releases the buffer (HV_EVLOG_IOC_COPY). `out`'s
    /// capacity must hold the whole buffer.
    #[allow(dead_code)] // Used by hv-evlog-bench only.
    pub fn copy(&self, index: u32, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        let mut arg = CopyRequest {
            buffer_index: index,
            bytes: 0,
            addr: out.as_mut_ptr() as u64,
            size: out.capacity() as u64,
        };
        // SAFETY: `arg` is a `struct hv_evlog_copy`, as IOC_COPY takes; the
        // module writes at most `size` bytes at `addr`, which `out` owns.
        unsafe { self.ioctl(Updater::<{ IOC_COPY }, CopyRequest>::new(&mut arg))? };
        let bytes = (arg.bytes as usize).min(out.capacity());
        // SAFETY: the module copied `arg.bytes` bytes to the start of `out`'s
        // allocation (at most its capacity); any byte is a valid `u8`.
        unsafe { out.set_len(bytes) };
        Ok(())
    }

    /// `HV_EVLOG_IOC_FLUSH` of one CPU or of [`uapi::ALL_CPUS`].
    pub fn flush(&self, cpu: u32) -> Result<()> {
        // SAFETY: IOC_FLUSH is _IOW of a `__u32`, passed by pointer.
        unsafe { self.ioctl(Setter::<{ IOC_FLUSH }, u32>::new(cpu)) }
    }

    /// `HV_EVLOG_IOC_SET_SOURCES`.
    pub fn set_sources(&self, mask: u64) -> Result<()> {
        // SAFETY: IOC_SET_SOURCES is _IOW of a `__u64`, passed by pointer.
        unsafe { self.ioctl(Setter::<{ IOC_SET_SOURCES }, u64>::new(mask)) }
    }

    /// `HV_EVLOG_IOC_STATS`.
    pub fn stats(&self) -> Result<Stats> {
        // SAFETY: IOC_STATS is _IOR of a `struct hv_evlog_stats`, mirrored
        // by `Stats`.
        unsafe { self.ioctl(Getter::<{ IOC_STATS }, Stats>::new()) }
    }

    /// `HV_EVLOG_IOC_LIFETIME_STATS`.
    pub fn lifetime_stats(&self) -> Result<Stats> {
        // SAFETY: IOC_LIFETIME_STATS is _IOR of a `struct hv_evlog_stats`,
        // mirrored by `Stats`.
        unsafe { self.ioctl(Getter::<{ IOC_LIFETIME_STATS }, Stats>::new()) }
    }

    /// Maps `count` buffers from buffer `first` on, read-only and shared, in
    /// one mapping (buffers of `buffer_size` bytes).
    pub fn map(&self, first: u32, count: u32, buffer_size: u32) -> Result<Mapping> {
        let len = (count as usize)
            .checked_mul(buffer_size as usize)
            .filter(|&len| len > 0)
            .ok_or_else(|| {
                Error::Device(format!(
                    "{}: {count} buffers of {buffer_size} bytes: nothing to map",
                    self.path
                ))
            })?;
        let offset = u64::from(first) * u64::from(buffer_size);
        // SAFETY: a fresh mapping at an address the kernel chooses (no fixed
        // address), so no existing memory is affected.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &self.file,
                offset,
            )
        }
        .map_err(|e| self.fail("mmap", e.raw_os_error()))?;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| self.fail("mmap", libc::EFAULT))?;
        Ok(Mapping {
            ptr,
            len,
            first,
            buffer_size: buffer_size as usize,
        })
    }

    /// Waits up to `timeout` for completion records and appends those
    /// queued (up to [`READ_BATCH`]) to `out`.
    pub fn wait(&self, timeout: Duration, out: &mut VecDeque<Record>) -> Result<Wait> {
        let mut fds = [PollFd::new(&self.file, PollFlags::IN | PollFlags::PRI)];
        let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => return Ok(Wait::Timeout),
            Ok(_) => {}
            Err(e) => return Err(self.fail("poll", e.raw_os_error())),
        }
        let revents = fds[0].revents();
        // The table first: a record may name a buffer that is new in it.
        if revents.contains(PollFlags::PRI) {
            return Ok(Wait::TableChanged);
        }
        if revents.contains(PollFlags::IN) {
            return self.read_records(out);
        }
        if revents.contains(PollFlags::HUP) {
            return Ok(Wait::Closed);
        }
        Err(self.fail("poll", libc::EIO))
    }

    /// Reads the queued completion records, whole records only, after poll()
    /// said there are some.
    fn read_records(&self, out: &mut VecDeque<Record>) -> Result<Wait> {
        let mut batch = [0u8; READ_BATCH * RECORD_SIZE];
        let n = loop {
            match (&self.file).read(&mut batch) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Wait::Timeout),
                Err(e) => return Err(self.fail("read", e.raw_os_error().unwrap_or(libc::EIO))),
            }
        };
        if n == 0 {
            return Ok(Wait::Closed);
        }
        if n % RECORD_SIZE != 0 {
            return Err(Error::Device(format!(
                "{}: read returned {n} bytes, not whole {RECORD_SIZE}-byte records",
                self.path,
            )));
        }
        out.extend(batch[..n].chunks_exact(RECORD_SIZE).map(record_from));
        Ok(Wait::Ready)
    }
}

/// Bytes of one `struct hv_evlog_record`.
const RECORD_SIZE: usize = size_of::<Record>();

/// A record from the bytes read() returned: each field at its offset in
/// [`Record`], in the machine's byte order, as the kernel wrote it.
fn record_from(bytes: &[u8]) -> Record {
    let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
    let u64_at = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    Record {
        buffer_index: u32_at(offset_of!(Record, buffer_index)),
        cpu: u32_at(offset_of!(Record, cpu)),
        sequence: u64_at(offset_of!(Record, sequence)),
        bytes_used: u32_at(offset_of!(Record, bytes_used)),
        events_lost: u32_at(offset_of!(Record, events_lost)),
        timestamp: u64_at(offset_of!(Record, timestamp)),
        vp: u32_at(offset_of!(Record, vp)),
        reserved: u32_at(offset_of!(Record, reserved)),
    }
}

/// Most records one read() asks for.
pub const READ_BATCH: usize = 64;

/// Refuses a device that speaks another ABI than this tool.
pub fn check_info(info: &Info) -> Result<()> {
    let problem = if info.abi_version != ABI_VERSION {
        format!("ABI version {}", info.abi_version)
    } else if info.info_size as usize != size_of::<Info>() {
        format!("info_size {}", info.info_size)
    } else if info.record_size as usize != size_of::<Record>() {
        format!("record_size {}", info.record_size)
    } else if info.header_size as usize != crate::tlfs::ENTRIES_OFFSET {
        format!("header_size {}", info.header_size)
    } else if info.max_buffers > MAX_BUFFERS || info.buffer_count > info.max_buffers {
        format!(
            "buffer_count {} of max_buffers {}",
            info.buffer_count, info.max_buffers
        )
    } else {
        return Ok(());
    };
    Err(Error::Device(format!(
        "the module reports {problem}, but this tool was built for ABI version {ABI_VERSION} \
         (info_size {}, record_size {}, header_size {}, at most {MAX_BUFFERS} buffers): \
         use the hv-evlog built from the same tree as the module",
        size_of::<Info>(),
        size_of::<Record>(),
        crate::tlfs::ENTRIES_OFFSET,
    )))
}

/// Buffers `first` on, mapped read-only; unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    first: u32,
    buffer_size: usize,
}

impl Mapping {
    /// Copies the first `bytes` bytes of buffer `index` into `out`.
    ///
    /// A copy, not a borrow: the pages are shared with the hypervisor, and
    /// decoding a private snapshot keeps a misbehaving writer from changing
    /// data between checks and use.
    pub fn snapshot(&self, index: u32, bytes: u32, out: &mut Vec<u8>) -> Result<()> {
        let start = (index.wrapping_sub(self.first) as usize).checked_mul(self.buffer_size);
        let bytes = bytes as usize;
        let Some(start) = start.filter(|&s| s < self.len && bytes <= self.buffer_size) else {
            return Err(Error::Device(format!(
                "completion record names buffer {index} with {bytes} bytes used, \
                 outside the mapping ({} bytes, {}-byte buffers)",
                self.len, self.buffer_size
            )));
        };
        out.clear();
        out.reserve(bytes);
        // SAFETY: `start + bytes <= start + buffer_size <= len`, so the source
        // lies within the mapping, which lives as long as `self`; `out` has
        // room for `bytes` bytes and is a different allocation. Any byte
        // pattern is a valid `u8`, so `set_len` exposes initialised values.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(start), out.as_mut_ptr(), bytes);
            out.set_len(bytes);
        }
        Ok(())
    }
}

impl Mapping {
    /// Decodes the events of `record`'s buffer in place, without a copy:
    /// only the entry headers are read, each with two volatile 8-byte
    /// loads into values (never through a reference: the hypervisor may
    /// write the pages at any moment). The outer error is a record naming
    /// bytes outside the mapping (as [`Mapping::snapshot`] refuses); the
    /// inner one malformed entries, with the events before them kept in
    /// `out`. In circular mode the result counts only if
    /// [`Mapping::still_complete`] holds afterwards, as for a snapshot.
    pub fn decode(
        &self,
        record: &Record,
        out: &mut Vec<Event>,
    ) -> Result<std::result::Result<(), DecodeError>> {
        use crate::tlfs::{EntryHeader, Wire};
        use std::sync::atomic::{fence, Ordering};
        let index = record.buffer_index;
        let start = (index.wrapping_sub(self.first) as usize).checked_mul(self.buffer_size);
        let Some(start) = start.filter(|&s| s < self.len && used_end(record) <= self.buffer_size)
        else {
            return Err(Error::Device(format!(
                "completion record names buffer {index} with {} bytes used, \
                 outside the mapping ({} bytes, {}-byte buffers)",
                used_end(record),
                self.len,
                self.buffer_size
            )));
        };
        // The record was read after the module saw the buffer complete;
        // the entries' loads below come after that.
        fence(Ordering::Acquire);
        let base = self.ptr.as_ptr();
        Ok(decode_with(
            record,
            self.buffer_size,
            |offset| {
                // SAFETY: `decode_with` asks only for an 8-aligned `offset`
                // with `offset + 16 <= buffer_size`, and buffer `index`
                // (from `start`, a multiple of the page-aligned buffer
                // size) lies inside the mapping, which lives as long as
                // `self`: both 8-byte loads are aligned and in bounds.
                // Volatile, into values: the pages are shared with a
                // writer outside this program.
                let (a, b) = unsafe {
                    let at = base.add(start + offset).cast::<u64>();
                    (at.read_volatile(), at.add(1).read_volatile())
                };
                let mut bytes = [0u8; EntryHeader::SIZE];
                bytes[..8].copy_from_slice(&a.to_ne_bytes());
                bytes[8..].copy_from_slice(&b.to_ne_bytes());
                bytes
            },
            out,
        ))
    }

    /// Whether buffer `index`'s live header still shows the completion
    /// whose header time stamp is `timestamp`: Complete, with that start
    /// time stamp. In circular mode the hypervisor may restart a complete
    /// buffer at any moment, so a copy taken by [`Mapping::snapshot`] is
    /// trusted only if this still holds after it.
    pub fn still_complete(&self, index: u32, timestamp: u64) -> bool {
        use crate::tlfs::{BufferHeader, BufferState, ENTRIES_OFFSET};
        use std::sync::atomic::{fence, Ordering};
        let start = (index.wrapping_sub(self.first) as usize).checked_mul(self.buffer_size);
        let Some(start) = start.filter(|&s| s + ENTRIES_OFFSET <= self.len) else {
            return false;
        };
        // The copy's loads happen before the loads below.
        fence(Ordering::Acquire);
        // SAFETY: `start + ENTRIES_OFFSET <= len`: both fields lie inside
        // the header of buffer `index`, inside the mapping, which lives as
        // long as `self`. A buffer starts on a page boundary, so the u32 at
        // 0x2C and the u64 at 0x10 are aligned. The hypervisor may write
        // them at any time: they are read with volatile loads into values,
        // never through references.
        let (state, stamp) = unsafe {
            let header = self.ptr.as_ptr().add(start);
            let state = header
                .add(offset_of!(BufferHeader, buffer_state))
                .cast::<u32>();
            let stamp = header
                .add(offset_of!(BufferHeader, time_stamp))
                .cast::<u64>();
            let state = state.read_volatile();
            // The state first, as the hypervisor publishes it last.
            fence(Ordering::Acquire);
            (state, stamp.read_volatile())
        };
        state == BufferState::Complete.raw() && stamp == timestamp
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap() returned and took,
        // and no reference into the mapping outlives `self`. A failure would
        // leave only address space behind; there is nothing to do about it.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Info {
        Info {
            abi_version: ABI_VERSION,
            info_size: 64,
            record_size: 40,
            header_size: 72,
            buffer_count: 4,
            buffer_size: 4096,
            max_buffers: 8,
            ..Info::default()
        }
    }

    #[test]
    fn info_checks() {
        assert!(check_info(&good()).is_ok());
        let tail = format!(
            ", but this tool was built for ABI version {ABI_VERSION} (info_size 64, \
             record_size 40, header_size 72, at most 512 buffers): \
             use the hv-evlog built from the same tree as the module"
        );
        type Change = fn(&mut Info);
        let cases: [(Change, &str); 6] = [
            (|i| i.abi_version = 1, "ABI version 1"),
            (|i| i.info_size = 56, "info_size 56"),
            (|i| i.record_size = 32, "record_size 32"),
            (|i| i.header_size = 64, "header_size 64"),
            (|i| i.max_buffers = 513, "buffer_count 4 of max_buffers 513"),
            (|i| i.buffer_count = 9, "buffer_count 9 of max_buffers 8"),
        ];
        for (change, what) in cases {
            let mut info = good();
            change(&mut info);
            let err = check_info(&info).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert_eq!(err.to_string(), format!("the module reports {what}{tail}"));
        }
    }

    #[test]
    fn missing_device_maps_to_exit_2() {
        let err = Device::open(Path::new("/nonexistent/hv_evlog"))
            .err()
            .unwrap();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.to_string(),
            "/nonexistent/hv_evlog not found: load the module \
             (insmod hv_evlog.ko backend=sim to test)"
        );
    }

    #[test]
    fn ioctl_on_a_non_device_is_enotty() {
        // A regular file answers every ioctl with ENOTTY: the message must
        // point at a version mismatch.
        let dev = Device::open(Path::new("/proc/self/status")).unwrap();
        let err = dev.stats().unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(
            err.to_string(),
            "/proc/self/status: HV_EVLOG_IOC_STATS is not supported by the module: \
             tool and module are from different versions"
        );
    }

    /// `r` as the kernel writes it: each field at its offset in `Record`.
    fn record_bytes(r: &Record) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
        put(
            offset_of!(Record, buffer_index),
            &r.buffer_index.to_ne_bytes(),
        );
        put(offset_of!(Record, cpu), &r.cpu.to_ne_bytes());
        put(offset_of!(Record, sequence), &r.sequence.to_ne_bytes());
        put(offset_of!(Record, bytes_used), &r.bytes_used.to_ne_bytes());
        put(
            offset_of!(Record, events_lost),
            &r.events_lost.to_ne_bytes(),
        );
        put(offset_of!(Record, timestamp), &r.timestamp.to_ne_bytes());
        put(offset_of!(Record, vp), &r.vp.to_ne_bytes());
        put(offset_of!(Record, reserved), &r.reserved.to_ne_bytes());
        b
    }

    #[test]
    fn records_decode_field_by_field() {
        let r = Record {
            buffer_index: 0x0102_0304,
            cpu: 5,
            sequence: 0x1122_3344_5566_7788,
            bytes_used: 4000,
            events_lost: 7,
            timestamp: u64::MAX - 1,
            vp: 0x0a0b_0c0d,
            reserved: 0,
        };
        assert_eq!(record_from(&record_bytes(&r)), r);
        // On this little-endian machine, the header's layout byte by byte.
        let b = record_bytes(&r);
        assert_eq!(b[0..4], [4, 3, 2, 1]);
        assert_eq!(b[8..16], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        assert_eq!(b[16..20], 4000u32.to_le_bytes());
        assert_eq!(b[32..36], [0x0d, 0x0c, 0x0b, 0x0a]);
    }

    /// poll() and read() of records, with a FIFO standing in for the device:
    /// batches of whole records, timeouts, a partial record, end of file.
    #[test]
    fn wait_reads_whole_record_batches() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("hv-evlog-fifo-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO for reading waits for a writer.
        let writer_path = path.clone();
        let writer = std::thread::spawn(move || std::fs::File::create(writer_path).unwrap());
        let dev = Device::open(&path).unwrap();
        let mut w = writer.join().unwrap();
        std::fs::remove_file(&path).unwrap();

        let mut queue = VecDeque::new();
        let short = Duration::from_millis(10);
        assert_eq!(dev.wait(short, &mut queue).unwrap(), Wait::Timeout);
        let records: Vec<Record> = (0..70u32)
            .map(|i| Record {
                buffer_index: i,
                cpu: i % 3,
                sequence: u64::from(i),
                bytes_used: 16 * i,
                events_lost: i / 10,
                timestamp: u64::from(i) << 40,
                vp: i % 3 + 8,
                reserved: 0,
            })
            .collect();
        for r in &records {
            w.write_all(&record_bytes(r)).unwrap();
        }
        assert_eq!(dev.wait(short, &mut queue).unwrap(), Wait::Ready);
        assert_eq!(queue.len(), READ_BATCH);
        assert_eq!(dev.wait(short, &mut queue).unwrap(), Wait::Ready);
        assert_eq!(queue.iter().copied().collect::<Vec<_>>(), records);

        w.write_all(&[1, 2, 3]).unwrap();
        assert_eq!(
            dev.wait(short, &mut queue).unwrap_err().to_string(),
            format!(
                "{}: read returned 3 bytes, not whole 40-byte records",
                path.display()
            )
        );
        drop(w);
        assert_eq!(dev.wait(short, &mut queue).unwrap(), Wait::Closed);
    }

    #[test]
    fn mapping_snapshot_bounds() {
        // A private anonymous-like mapping of a regular file stands in for the
        // device: /proc files cannot be mapped, so map a temp file.
        let path = std::env::temp_dir().join(format!("hv-evlog-map-{}", std::process::id()));
        let mut data = vec![0u8; 2 * 4096];
        data[4096..4096 + 4].copy_from_slice(b"buf1");
        std::fs::write(&path, &data).unwrap();
        let dev = Device::open(&path).unwrap();
        let map = dev.map(0, 2, 4096).unwrap();
        let second = dev.map(1, 1, 4096).unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut out = Vec::new();
        map.snapshot(1, 4, &mut out).unwrap();
        assert_eq!(out, b"buf1");
        map.snapshot(0, 4096, &mut out).unwrap();
        assert_eq!(out.len(), 4096);
        assert_eq!(
            map.snapshot(2, 4, &mut out).unwrap_err().to_string(),
            "completion record names buffer 2 with 4 bytes used, outside the mapping \
             (8192 bytes, 4096-byte buffers)"
        );
        assert!(map.snapshot(0, 4097, &mut out).is_err());
        // A mapping of buffer 1 alone: indices count from its first.
        second.snapshot(1, 4, &mut out).unwrap();
        assert_eq!(out, b"buf1");
        assert!(second.snapshot(0, 4, &mut out).is_err());
        assert!(second.snapshot(2, 4, &mut out).is_err());
        // In place: the same events as decoding a copy, and the same bounds.
        let buf = crate::decode::tests::synthetic_buffer(1, 3, &[(5, 7, 100, 0), (6, 8, 200, 9)]);
        let mut data = vec![0u8; 2 * 4096];
        data[4096..4096 + buf.len()].copy_from_slice(&buf);
        std::fs::write(&path, &data).unwrap();
        let placed = Device::open(&path).unwrap().map(0, 2, 4096).unwrap();
        std::fs::remove_file(&path).unwrap();
        let rec = crate::decode::tests::record_for(&buf, 0);
        let (mut events, mut copied) = (Vec::new(), Vec::new());
        placed.decode(&rec, &mut events).unwrap().unwrap();
        crate::decode::decode_buffer(&buf, &rec, &mut copied).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events, copied);
        let mut outside = rec;
        outside.buffer_index = 2;
        assert_eq!(
            placed
                .decode(&outside, &mut events)
                .unwrap_err()
                .to_string(),
            format!(
                "completion record names buffer 2 with {} bytes used, outside the mapping \
                 (8192 bytes, 4096-byte buffers)",
                buf.len()
            )
        );
        outside.buffer_index = 0;
        outside.bytes_used = 4096 - 72 + 8;
        assert!(placed.decode(&outside, &mut events).is_err());
        assert_eq!(
            dev.map(0, 0, 4096).err().unwrap().to_string(),
            format!(
                "{}: 0 buffers of 4096 bytes: nothing to map",
                path.display()
            )
        );
    }
}
