// SPDX-License-Identifier: GPL-2.0

//! The userspace ABI: the one Rust mirror of `include/uapi/linux/hv_evlog.h`
//! (pure, host-tested).
//!
//! The C header is the contract; this file follows it field for field, with
//! Rust names and the C name in each item's documentation. The module, the
//! `hv-evlog` tool (through `#[path]`) and the host tests compile this same
//! file, so the three cannot disagree with each other;
//! `tests/host/tests/uapi.rs` compiles a C program against the header and
//! compares every size, offset, constant and request number with this file,
//! so they cannot disagree with the header either.
//!
//! Only `core` is used. The layouts have no padding and only fixed-width
//! fields (the one user pointer is a `__u64`), so 32-bit and 64-bit
//! userspace see the same structs and the ioctls need no compat
//! translation. The kernel's byte-copy traits for these structs, and the
//! check that `ioc` computes the request numbers exactly as
//! `kernel::ioctl` does, are in `device/uapi_kernel.rs`: this file cannot
//! name the kernel crate.

// Pure: nothing here may need `unsafe`.
#![forbid(unsafe_code)]
// Items are `pub` for the tool and the host test crate, which mount this file
// as a public module; the kernel crate keeps the module private.
#![allow(unreachable_pub)]

use core::mem::{align_of, size_of};

/// `HV_EVLOG_ABI_VERSION`: the ABI the module serves and the tool speaks.
pub const ABI_VERSION: u32 = 2;
/// `HV_EVLOG_DEVICE`.
pub const DEVICE: &str = "/dev/hv_evlog";
/// `HV_EVLOG_IOC_MAGIC`: free in the kernel's ioctl-number.rst (0xB8 is mshv).
pub const IOC_MAGIC: u32 = 0xB9;
/// `HV_EVLOG_MAX_BUFFERS`: the most buffers a group has, so the largest
/// buffer index plus one. It is the hypervisor's limit too; the device ties
/// the two together at compile time.
pub const MAX_BUFFERS: u32 = 512;
/// `HV_EVLOG_MAX_CPUS`: CPU bitmaps cover this many CPUs.
pub const MAX_CPUS: u32 = 1024;
/// `HV_EVLOG_CPU_WORDS`: the 64-bit words of a CPU bitmap.
pub const CPU_WORDS: usize = (MAX_CPUS / 64) as usize;
/// `HV_EVLOG_ALL_CPUS`: [`IOC_FLUSH`] of every CPU.
pub const ALL_CPUS: u32 = 0xFFFF_FFFF;
/// `HV_EVLOG_NO_CPU`: [`Record::cpu`] when no Linux CPU has the VP index.
pub const NO_CPU: u32 = 0xFFFF_FFFF;

/// `info.backend` of the Microsoft hypervisor (the header's comment on the
/// field; it has no macro for it).
pub const BACKEND_HV: u32 = 0;
/// `info.backend` of the simulated hypervisor.
pub const BACKEND_SIM: u32 = 1;

/// `HV_EVLOG_COMPLETION_SCAN`: records come from a periodic scan of the
/// buffer headers alone.
pub const COMPLETION_SCAN: u32 = 0;
/// `HV_EVLOG_COMPLETION_MESSAGES`: records come from the hypervisor's
/// completion messages at once, the scan as a safety net.
pub const COMPLETION_MESSAGES: u32 = 1;

/// `struct hv_evlog_info`: group geometry ([`IOC_INFO`]).
///
/// `type`, `mode` and `time_basis` carry the hypervisor's own values of
/// the event log type, mode and time basis (as the header's comments list
/// them).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `sizeof(struct hv_evlog_info)`.
    pub info_size: u32,
    /// C name `type` (a Rust keyword): 0 global, 1 local diagnostics, 2
    /// system diagnostics.
    pub log_type: u32,
    /// 0 regular, 1 circular.
    pub mode: u32,
    /// 0 reference (100 ns), 1 TSC.
    pub time_basis: u32,
    /// Buffers in the group's rotation now.
    pub buffer_count: u32,
    /// Bytes per buffer; a multiple of the page size.
    pub buffer_size: u32,
    /// Completed buffers per notification.
    pub threshold: u32,
    /// Enabled event source group mask (bit 0 never set).
    pub sources: u64,
    /// Bytes of buffer header before the entries.
    pub header_size: u32,
    /// `sizeof(struct hv_evlog_record)`.
    pub record_size: u32,
    /// [`BACKEND_HV`] or [`BACKEND_SIM`].
    pub backend: u32,
    /// [`COMPLETION_SCAN`] or [`COMPLETION_MESSAGES`]: what makes records
    /// appear.
    pub completion: u32,
    /// The group maximum: every buffer index is below it.
    pub max_buffers: u32,
    /// Changes whenever the buffer table changes.
    pub generation: u32,
}

/// `HV_EVLOG_BUFFER_RETIRED`: taken out of the rotation by a resize; it is
/// deleted once no mapping covers it (munmap it).
pub const BUFFER_RETIRED: u32 = 0x1;
/// `HV_EVLOG_BUFFER_CPU_OFFLINE`: the CPU it serves is offline.
pub const BUFFER_CPU_OFFLINE: u32 = 0x2;

/// `struct hv_evlog_buffer_info`: one buffer of the group.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferInfo {
    /// Buffer index.
    pub index: u32,
    /// Proximity domain passed at creation.
    pub pxm: u32,
    /// NUMA node of its pages.
    pub node: u32,
    /// [`BUFFER_RETIRED`], [`BUFFER_CPU_OFFLINE`] or 0.
    pub flags: u32,
    /// `index * buffer_size`.
    pub mmap_offset: u64,
    /// Bitmap of the CPUs it serves (see [`cpu_in`]).
    pub cpus: [u64; CPU_WORDS],
}

/// `struct hv_evlog_buffers`: argument of [`IOC_BUFFERS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buffers {
    /// In: first buffer index wanted.
    pub first: u32,
    /// In: room in `table`; out: entries filled.
    pub count: u32,
    /// In: user pointer to `count` [`BufferInfo`]s.
    pub table: u64,
    /// Out: the [`Info::generation`] the table is from.
    pub generation: u32,
    /// Out: 0.
    pub reserved: u32,
}

/// `struct hv_evlog_record`: what read() returns, one per completed buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The completed buffer.
    pub buffer_index: u32,
    /// Linux CPU id that filled the buffer (what [`IOC_FLUSH`] takes), or
    /// [`NO_CPU`].
    pub cpu: u32,
    /// 0, 1, 2, ... from each open; a gap means records were dropped.
    pub sequence: u64,
    /// Entry bytes after the buffer header (the header's
    /// `next_buffer_offset`, which counts from the end of the header).
    pub bytes_used: u32,
    /// Events lost before this buffer.
    pub events_lost: u32,
    /// Buffer header time stamp, in the group's time basis.
    pub timestamp: u64,
    /// The header's `logical_processor`: the hypervisor's VP index.
    pub vp: u32,
    /// 0.
    pub reserved: u32,
}

/// `struct hv_evlog_stats`: result of [`IOC_STATS`] (counted from the open
/// of this file) and [`IOC_LIFETIME_STATS`] (summed over every open since
/// the module's load).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Buffers seen complete.
    pub completions: u64,
    /// Buffers handed back.
    pub releases: u64,
    /// Sum of events_lost over completions.
    pub events_lost: u64,
    /// Records lost to a full queue or withdrawn (circular mode: the
    /// buffer completed again before its record was read).
    pub records_dropped: u64,
    /// Flushes.
    pub flushes: u64,
}

/// `struct hv_evlog_copy`: argument of [`IOC_COPY`], the copying
/// (compatibility) path: a completed buffer copied out, then released.
/// (Not named `Copy`, which would hide the prelude's trait.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyRequest {
    /// In: a completed buffer whose record was read.
    pub buffer_index: u32,
    /// Out: bytes copied (header and entries).
    pub bytes: u32,
    /// In: user pointer to `size` bytes.
    pub addr: u64,
    /// In: room at `addr`.
    pub size: u64,
}

/// One struct's layout as the C header has it: the C struct name, its size
/// and alignment, and each field's C name and offset. The numbers are
/// written once, in [`LAYOUTS`], pinned there against the Rust struct at
/// compile time and compared with the C compiler's by the host tests.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(MODULE, expect(dead_code, reason = "the host tests' C check"))]
pub struct Layout {
    /// `struct` name in C.
    pub c_name: &'static str,
    /// `sizeof`.
    pub size: usize,
    /// `alignof`.
    pub align: usize,
    /// `(C field name, offsetof)`, in declaration order.
    pub fields: &'static [(&'static str, usize)],
}

/// A field's C name: the Rust one unless given.
macro_rules! c_field {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $c:literal) => {
        $c
    };
}

/// A [`Layout`] for `$ty`, with its size and every field's offset pinned at
/// compile time: a wrong number fails the build, on the host and in the
/// kernel. `field("c") @ off` names a field whose C name differs.
macro_rules! pin_layout {
    ($ty:ty, $c:literal, size = $size:expr;
     $($field:ident $(($cf:literal))? @ $off:expr),+ $(,)?) => {{
        crate::tlfs::pin_layout!($ty, size = $size; $($field @ $off),+);
        Layout {
            c_name: $c,
            size: $size,
            align: align_of::<$ty>(),
            fields: &[$((c_field!($field $(, $cf)?), $off)),+],
        }
    }};
}

/// Every struct of the header, as [`Layout`]s.
#[cfg_attr(MODULE, expect(dead_code, reason = "the host tests' C check"))]
pub const LAYOUTS: [Layout; 6] = [
    pin_layout!(
        Info, "hv_evlog_info", size = 64;
        abi_version @ 0, info_size @ 4, log_type("type") @ 8, mode @ 12,
        time_basis @ 16, buffer_count @ 20, buffer_size @ 24, threshold @ 28,
        sources @ 32, header_size @ 40, record_size @ 44, backend @ 48,
        completion @ 52, max_buffers @ 56, generation @ 60,
    ),
    pin_layout!(
        BufferInfo, "hv_evlog_buffer_info", size = 152;
        index @ 0, pxm @ 4, node @ 8, flags @ 12, mmap_offset @ 16, cpus @ 24,
    ),
    pin_layout!(
        Buffers, "hv_evlog_buffers", size = 24;
        first @ 0, count @ 4, table @ 8, generation @ 16, reserved @ 20,
    ),
    pin_layout!(
        Record, "hv_evlog_record", size = 40;
        buffer_index @ 0, cpu @ 4, sequence @ 8, bytes_used @ 16,
        events_lost @ 20, timestamp @ 24, vp @ 32, reserved @ 36,
    ),
    pin_layout!(
        Stats, "hv_evlog_stats", size = 40;
        completions @ 0, releases @ 8, events_lost @ 16, records_dropped @ 24,
        flushes @ 32,
    ),
    pin_layout!(
        CopyRequest, "hv_evlog_copy", size = 24;
        buffer_index @ 0, bytes @ 4, addr @ 8, size @ 16,
    ),
];

// <asm-generic/ioctl.h>, which x86_64 uses: nr in bits 0-7, type in 8-15,
// size in 16-29, direction in 30-31.
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_SIZEMASK: usize = (1 << 14) - 1;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, HV_EVLOG_IOC_MAGIC, nr, size)`; a size that does not fit its
/// 14 bits fails the build.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    assert!(size <= IOC_SIZEMASK);
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | (IOC_MAGIC << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
}

/// `HV_EVLOG_IOC_INFO`: `_IOR(0xB9, 0x00, struct hv_evlog_info)`; read
/// the group geometry.
pub const IOC_INFO: u32 = ioc(IOC_READ, 0x00, size_of::<Info>());
/// `HV_EVLOG_IOC_BUFFERS`: `_IOWR(0xB9, 0x01, struct hv_evlog_buffers)`;
/// fill a table of buffer descriptions.
pub const IOC_BUFFERS: u32 = ioc(IOC_READ | IOC_WRITE, 0x01, size_of::<Buffers>());
/// `HV_EVLOG_IOC_RELEASE`: `_IOW(0xB9, 0x02, __u32)`; hand a completed,
/// reported buffer back.
pub const IOC_RELEASE: u32 = ioc(IOC_WRITE, 0x02, size_of::<u32>());
/// `HV_EVLOG_IOC_FLUSH`: `_IOW(0xB9, 0x03, __u32)`; complete early the
/// in-use buffer(s) of one CPU or of [`ALL_CPUS`].
pub const IOC_FLUSH: u32 = ioc(IOC_WRITE, 0x03, size_of::<u32>());
/// `HV_EVLOG_IOC_SET_SOURCES`: `_IOW(0xB9, 0x04, __u64)`; set the event
/// source mask.
pub const IOC_SET_SOURCES: u32 = ioc(IOC_WRITE, 0x04, size_of::<u64>());
/// `HV_EVLOG_IOC_STATS`: `_IOR(0xB9, 0x05, struct hv_evlog_stats)`; the
/// counters of this open.
pub const IOC_STATS: u32 = ioc(IOC_READ, 0x05, size_of::<Stats>());
/// `HV_EVLOG_IOC_LIFETIME_STATS`: `_IOR(0xB9, 0x06, struct hv_evlog_stats)`;
/// the counters summed over every open since the module's load.
pub const IOC_LIFETIME_STATS: u32 = ioc(IOC_READ, 0x06, size_of::<Stats>());
/// `HV_EVLOG_IOC_COPY`: `_IOWR(0xB9, 0x07, struct hv_evlog_copy)`; copy a
/// completed, reported buffer out, then release it.
pub const IOC_COPY: u32 = ioc(IOC_READ | IOC_WRITE, 0x07, size_of::<CopyRequest>());
/// `HV_EVLOG_IOC_RESIZE`: `_IOW(0xB9, 0x08, __u32)`; set the buffers per
/// served CPU.
pub const IOC_RESIZE: u32 = ioc(IOC_WRITE, 0x08, size_of::<u32>());

/// The C name of an ioctl request, for messages.
#[cfg_attr(MODULE, expect(dead_code, reason = "the tool's error messages"))]
pub fn ioctl_name(request: u32) -> &'static str {
    match request {
        IOC_INFO => "HV_EVLOG_IOC_INFO",
        IOC_BUFFERS => "HV_EVLOG_IOC_BUFFERS",
        IOC_RELEASE => "HV_EVLOG_IOC_RELEASE",
        IOC_FLUSH => "HV_EVLOG_IOC_FLUSH",
        IOC_SET_SOURCES => "HV_EVLOG_IOC_SET_SOURCES",
        IOC_STATS => "HV_EVLOG_IOC_STATS",
        IOC_LIFETIME_STATS => "HV_EVLOG_IOC_LIFETIME_STATS",
        IOC_COPY => "HV_EVLOG_IOC_COPY",
        IOC_RESIZE => "HV_EVLOG_IOC_RESIZE",
        _ => "unknown ioctl",
    }
}

/// Whether CPU `cpu` is set in a [`BufferInfo::cpus`] bitmap, or any CPU
/// bitmap of that form (CPU `c` is bit `c % 64` of word `c / 64`, as the
/// module's `cpu_map` sets it).
pub fn cpu_in(cpus: &[u64; CPU_WORDS], cpu: u32) -> bool {
    let (word, bit) = ((cpu / 64) as usize, cpu % 64);
    word < CPU_WORDS && cpus[word] & (1 << bit) != 0
}
