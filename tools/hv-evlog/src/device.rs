// SPDX-License-Identifier: GPL-2.0

//! The open device: its file descriptor, the ioctls, poll and read, and the
//! read-only mapping of all buffers. Every system call of the tool is here.

use std::collections::VecDeque;
use std::ffi::CString;
use std::mem::{size_of, size_of_val};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::uapi::{
    self, BufferInfo, Buffers, Copy, Info, Record, Stats, ABI_VERSION, IOC_BUFFERS, IOC_COPY,
    IOC_FLUSH, IOC_INFO, IOC_RELEASE, IOC_SET_SOURCES, IOC_STATS, MAX_BUFFERS,
};

/// The last errno of the calling thread.
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// What a wait for completion records brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Records were queued.
    Ready,
    /// Nothing within the timeout (or a signal arrived).
    Timeout,
    /// The device has no more records and never will (end of file).
    Closed,
}

/// `/dev/hv_evlog`, open for reading.
pub struct Device {
    fd: OwnedFd,
    path: String,
}

impl Device {
    /// Opens the device. The module allows one consumer at a time.
    pub fn open(path: &Path) -> Result<Self> {
        let display = path.display().to_string();
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Sys {
            path: display.clone(),
            op: "open",
            errno: libc::ENOENT,
        })?;
        // SAFETY: `c_path` is a NUL-terminated string that outlives the call;
        // open() has no other memory effects.
        let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(Error::Sys {
                path: display,
                op: "open",
                errno: errno(),
            });
        }
        // SAFETY: open() just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd, path: display })
    }

    /// The descriptor, for waiting on it alongside others.
    #[allow(dead_code)] // Used by hv-evlog-bench only.
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
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

    /// Issues ioctl `request` with `arg`, whose type must be the one the
    /// request number encodes.
    ///
    /// # Safety
    ///
    /// `T` must be the argument type of `request` as the UAPI header declares
    /// it, so the kernel reads and writes exactly `size_of::<T>()` bytes; any
    /// pointers inside `*arg` must be valid for what the request does with
    /// them.
    unsafe fn ioctl<T>(&self, request: u32, arg: &mut T) -> Result<()> {
        // SAFETY: the descriptor is open; the caller guarantees `arg` matches
        // the request, so the kernel stays within `*arg`.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                request as libc::Ioctl,
                arg as *mut T as *mut libc::c_void,
            )
        };
        if rc < 0 {
            return Err(self.fail(uapi::ioctl_name(request), errno()));
        }
        Ok(())
    }

    /// `HV_EVLOG_IOC_INFO`, checked against the ABI this tool was built for.
    pub fn info(&self) -> Result<Info> {
        let mut info = Info::default();
        // SAFETY: IOC_INFO takes a `struct hv_evlog_info`, which `Info` mirrors.
        unsafe { self.ioctl(IOC_INFO, &mut info)? };
        check_info(&info)?;
        Ok(info)
    }

    /// `HV_EVLOG_IOC_BUFFERS` for all `count` buffers, in as many calls as the
    /// module needs.
    pub fn buffers(&self, count: u32) -> Result<Vec<BufferInfo>> {
        let mut table = vec![BufferInfo::default(); count as usize];
        let mut filled = 0usize;
        while filled < table.len() {
            let room = &mut table[filled..];
            let mut arg = Buffers {
                first: filled as u32,
                count: room.len() as u32,
                table: room.as_mut_ptr() as u64,
            };
            // SAFETY: IOC_BUFFERS takes a `struct hv_evlog_buffers`, mirrored
            // by `Buffers`; its `table` points to `count` writable
            // `BufferInfo`s (mirroring `struct hv_evlog_buffer_info`), which
            // live in `table` until after the call.
            unsafe { self.ioctl(IOC_BUFFERS, &mut arg)? };
            if arg.count as usize > room.len() {
                return Err(Error::Device(format!(
                    "{}: HV_EVLOG_IOC_BUFFERS filled {} entries into room for {}",
                    self.path,
                    arg.count,
                    room.len()
                )));
            }
            if arg.count == 0 {
                break;
            }
            filled += arg.count as usize;
        }
        table.truncate(filled);
        Ok(table)
    }

    /// `HV_EVLOG_IOC_RELEASE`: hands completed buffer `index` back.
    pub fn release(&self, index: u32) -> Result<()> {
        let mut arg = index;
        // SAFETY: IOC_RELEASE takes a `__u32`.
        unsafe { self.ioctl(IOC_RELEASE, &mut arg) }
    }

    /// The copying (compatibility) path: copies completed buffer `index`
    /// (header and entries) into `out`, which it resizes to the bytes
    /// copied, and releases the buffer (HV_EVLOG_IOC_COPY). `out`'s
    /// capacity must hold the whole buffer.
    #[allow(dead_code)] // Used by hv-evlog-bench only.
    pub fn copy(&self, index: u32, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        let mut arg = Copy {
            buffer_index: index,
            bytes: 0,
            addr: out.as_mut_ptr() as u64,
            size: out.capacity() as u64,
        };
        // SAFETY: `arg` is a `struct hv_evlog_copy`, as IOC_COPY takes; the
        // module writes at most `size` bytes at `addr`, which `out` owns.
        unsafe { self.ioctl(IOC_COPY, &mut arg)? };
        let bytes = (arg.bytes as usize).min(out.capacity());
        // SAFETY: the module copied `arg.bytes` bytes to the start of `out`'s
        // allocation (at most its capacity); any byte is a valid `u8`.
        unsafe { out.set_len(bytes) };
        Ok(())
    }

    /// `HV_EVLOG_IOC_FLUSH` of one CPU or of [`uapi::ALL_CPUS`].
    pub fn flush(&self, cpu: u32) -> Result<()> {
        let mut arg = cpu;
        // SAFETY: IOC_FLUSH takes a `__u32`.
        unsafe { self.ioctl(IOC_FLUSH, &mut arg) }
    }

    /// `HV_EVLOG_IOC_SET_SOURCES`.
    pub fn set_sources(&self, mask: u64) -> Result<()> {
        let mut arg = mask;
        // SAFETY: IOC_SET_SOURCES takes a `__u64`.
        unsafe { self.ioctl(IOC_SET_SOURCES, &mut arg) }
    }

    /// `HV_EVLOG_IOC_STATS`.
    pub fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        // SAFETY: IOC_STATS takes a `struct hv_evlog_stats`, mirrored by `Stats`.
        unsafe { self.ioctl(IOC_STATS, &mut stats)? };
        Ok(stats)
    }

    /// Maps every buffer, read-only and shared, in one mapping.
    pub fn map(&self, info: &Info) -> Result<Mapping> {
        let len = (info.buffer_count as usize)
            .checked_mul(info.buffer_size as usize)
            .filter(|&len| len > 0)
            .ok_or_else(|| {
                Error::Device(format!(
                    "{}: the group has {} buffers of {} bytes: nothing to map",
                    self.path, info.buffer_count, info.buffer_size
                ))
            })?;
        // SAFETY: a fresh mapping chosen by the kernel (no fixed address), so
        // no existing memory is affected; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(self.fail("mmap", errno()));
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| self.fail("mmap", libc::EFAULT))?;
        Ok(Mapping {
            ptr,
            len,
            buffer_size: info.buffer_size as usize,
        })
    }

    /// Waits up to `timeout` for completion records and appends those
    /// queued (up to [`READ_BATCH`]) to `out`.
    pub fn wait(&self, timeout: Duration, out: &mut VecDeque<Record>) -> Result<Wait> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid `pollfd`, as the count says.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            return match errno() {
                libc::EINTR => Ok(Wait::Timeout),
                e => Err(self.fail("poll", e)),
            };
        }
        if rc == 0 {
            return Ok(Wait::Timeout);
        }
        if pfd.revents & libc::POLLIN != 0 {
            return self.read_records(out);
        }
        if pfd.revents & libc::POLLHUP != 0 {
            return Ok(Wait::Closed);
        }
        Err(self.fail("poll", libc::EIO))
    }

    /// Reads the queued completion records, whole records only, after poll()
    /// said there are some.
    fn read_records(&self, out: &mut VecDeque<Record>) -> Result<Wait> {
        let mut batch = [Record::default(); READ_BATCH];
        loop {
            // SAFETY: `batch` is an array of plain-old-data structs, writable
            // for exactly the length passed; any bytes the kernel writes form
            // valid values.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    batch.as_mut_ptr().cast::<libc::c_void>(),
                    size_of_val(&batch),
                )
            };
            if n < 0 {
                match errno() {
                    libc::EINTR => continue,
                    libc::EAGAIN => return Ok(Wait::Timeout),
                    e => return Err(self.fail("read", e)),
                }
            }
            let n = n as usize;
            if n == 0 {
                return Ok(Wait::Closed);
            }
            if n % size_of::<Record>() != 0 {
                return Err(Error::Device(format!(
                    "{}: read returned {n} bytes, not whole {}-byte records",
                    self.path,
                    size_of::<Record>()
                )));
            }
            out.extend(&batch[..n / size_of::<Record>()]);
            return Ok(Wait::Ready);
        }
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
    } else if info.buffer_count > MAX_BUFFERS {
        format!("buffer_count {}", info.buffer_count)
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

/// All buffers, mapped read-only; unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    buffer_size: usize,
}

impl Mapping {
    /// Copies the first `bytes` bytes of buffer `index` into `out`.
    ///
    /// A copy, not a borrow: the pages are shared with the hypervisor, and
    /// decoding a private snapshot keeps a misbehaving writer from changing
    /// data between checks and use.
    pub fn snapshot(&self, index: u32, bytes: u32, out: &mut Vec<u8>) -> Result<()> {
        let start = (index as usize).checked_mul(self.buffer_size);
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

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap() returned and took,
        // and no reference into the mapping outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Info {
        Info {
            abi_version: ABI_VERSION,
            info_size: 56,
            record_size: 32,
            header_size: 72,
            buffer_count: 4,
            buffer_size: 4096,
            ..Info::default()
        }
    }

    #[test]
    fn info_checks() {
        assert!(check_info(&good()).is_ok());
        let tail = ", but this tool was built for ABI version 2 (info_size 56, \
                    record_size 32, header_size 72, at most 512 buffers): \
                    use the hv-evlog built from the same tree as the module";
        type Change = fn(&mut Info);
        let cases: [(Change, &str); 5] = [
            (|i| i.abi_version = 1, "ABI version 1"),
            (|i| i.info_size = 64, "info_size 64"),
            (|i| i.record_size = 40, "record_size 40"),
            (|i| i.header_size = 64, "header_size 64"),
            (|i| i.buffer_count = 513, "buffer_count 513"),
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
            })
            .collect();
        for r in &records {
            // SAFETY: `Record` is `repr(C)` plain old data without padding
            // (8 + 8 + 8 + 8 bytes), so all its bytes are initialised.
            let bytes = unsafe {
                std::slice::from_raw_parts((r as *const Record).cast::<u8>(), size_of::<Record>())
            };
            w.write_all(bytes).unwrap();
        }
        assert_eq!(dev.wait(short, &mut queue).unwrap(), Wait::Ready);
        assert_eq!(queue.len(), READ_BATCH);
        assert_eq!(dev.wait(short, &mut queue).unwrap(), Wait::Ready);
        assert_eq!(queue.iter().copied().collect::<Vec<_>>(), records);

        w.write_all(&[1, 2, 3]).unwrap();
        assert_eq!(
            dev.wait(short, &mut queue).unwrap_err().to_string(),
            format!(
                "{}: read returned 3 bytes, not whole 32-byte records",
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
        let info = Info {
            buffer_count: 2,
            buffer_size: 4096,
            ..good()
        };
        let map = dev.map(&info).unwrap();
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
        let empty = Info {
            buffer_count: 0,
            ..info
        };
        assert_eq!(
            dev.map(&empty).err().unwrap().to_string(),
            format!(
                "{}: the group has 0 buffers of 4096 bytes: nothing to map",
                path.display()
            )
        );
    }
}
