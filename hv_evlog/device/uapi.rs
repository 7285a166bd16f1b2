// SPDX-License-Identifier: GPL-2.0

//! The userspace ABI: a Rust mirror of `include/uapi/linux/hv_evlog.h`.
//!
//! The C header is the contract; this file follows it field for field. Every
//! size and offset is pinned by a compile-time assertion, so a change on
//! either side that the other does not share stops the build. The layouts
//! have no padding and use only fixed-width fields (the one user pointer is a
//! `__u64`), so 32-bit and 64-bit userspace see the same structs and the
//! ioctls need no compat translation.

#![allow(non_camel_case_types)] // The C names, so that grep finds both sides.

use core::mem::{offset_of, size_of};

use kernel::{
    ioctl::{_IOR, _IOW, _IOWR},
    transmute::{AsBytes, FromBytes},
};

/// `HV_EVLOG_ABI_VERSION`.
pub(crate) const HV_EVLOG_ABI_VERSION: u32 = 2;
/// `HV_EVLOG_IOC_MAGIC`.
pub(crate) const HV_EVLOG_IOC_MAGIC: u32 = 0xB9;
/// `HV_EVLOG_MAX_BUFFERS`.
pub(crate) const HV_EVLOG_MAX_BUFFERS: u32 = 512;
/// `HV_EVLOG_MAX_CPUS`: CPU bitmaps cover this many CPUs.
pub(crate) const HV_EVLOG_MAX_CPUS: u32 = 1024;
/// `HV_EVLOG_CPU_WORDS`.
pub(crate) const HV_EVLOG_CPU_WORDS: usize = (HV_EVLOG_MAX_CPUS / 64) as usize;
/// `HV_EVLOG_ALL_CPUS`: flush every CPU.
pub(crate) const HV_EVLOG_ALL_CPUS: u32 = 0xFFFF_FFFF;
/// `HV_EVLOG_NO_CPU`: `record.cpu` when no Linux CPU has the VP index.
pub(crate) const HV_EVLOG_NO_CPU: u32 = 0xFFFF_FFFF;

/// `info.backend` of the Microsoft hypervisor.
#[allow(dead_code)] // Set by the hypervisor backend.
pub(crate) const HV_EVLOG_BACKEND_HV: u32 = 0;
/// `info.backend` of the simulated hypervisor.
#[allow(dead_code)] // Set by the simulated backend.
pub(crate) const HV_EVLOG_BACKEND_SIM: u32 = 1;

/// `info.completion`: completion found by the header scan alone.
pub(crate) const HV_EVLOG_COMPLETION_SCAN: u32 = 0;
/// `info.completion`: the hypervisor's completion messages, and the scan.
pub(crate) const HV_EVLOG_COMPLETION_MESSAGES: u32 = 1;

/// `struct hv_evlog_info`: group geometry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct hv_evlog_info {
    pub(crate) abi_version: u32,
    pub(crate) info_size: u32,
    pub(crate) type_: u32,
    pub(crate) mode: u32,
    pub(crate) time_basis: u32,
    pub(crate) buffer_count: u32,
    pub(crate) buffer_size: u32,
    pub(crate) threshold: u32,
    pub(crate) sources: u64,
    pub(crate) header_size: u32,
    pub(crate) record_size: u32,
    pub(crate) backend: u32,
    pub(crate) completion: u32,
    pub(crate) max_buffers: u32,
    pub(crate) generation: u32,
}

/// `HV_EVLOG_BUFFER_RETIRED`: out of the hypervisor's rotation after a
/// resize, deleted once no mapping covers it.
pub(crate) const HV_EVLOG_BUFFER_RETIRED: u32 = 0x1;
/// `HV_EVLOG_BUFFER_CPU_OFFLINE`: the CPU it serves is offline.
pub(crate) const HV_EVLOG_BUFFER_CPU_OFFLINE: u32 = 0x2;

/// `struct hv_evlog_buffer_info`: one buffer of the group.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct hv_evlog_buffer_info {
    pub(crate) index: u32,
    pub(crate) pxm: u32,
    pub(crate) node: u32,
    pub(crate) flags: u32,
    pub(crate) mmap_offset: u64,
    pub(crate) cpus: [u64; HV_EVLOG_CPU_WORDS],
}

/// `struct hv_evlog_buffers`: the `HV_EVLOG_IOC_BUFFERS` argument.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct hv_evlog_buffers {
    pub(crate) first: u32,
    pub(crate) count: u32,
    pub(crate) table: u64,
    pub(crate) generation: u32,
    pub(crate) reserved: u32,
}

/// `struct hv_evlog_record`: what `read()` returns, one per completed buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct hv_evlog_record {
    pub(crate) buffer_index: u32,
    pub(crate) cpu: u32,
    pub(crate) sequence: u64,
    pub(crate) bytes_used: u32,
    pub(crate) events_lost: u32,
    pub(crate) timestamp: u64,
    pub(crate) vp: u32,
    pub(crate) reserved: u32,
}

/// `struct hv_evlog_stats`: the `HV_EVLOG_IOC_STATS` and
/// `HV_EVLOG_IOC_LIFETIME_STATS` result.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct hv_evlog_stats {
    pub(crate) completions: u64,
    pub(crate) releases: u64,
    pub(crate) events_lost: u64,
    pub(crate) records_dropped: u64,
    pub(crate) flushes: u64,
}

/// `struct hv_evlog_copy`: the `HV_EVLOG_IOC_COPY` argument.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct hv_evlog_copy {
    pub(crate) buffer_index: u32,
    pub(crate) bytes: u32,
    pub(crate) addr: u64,
    pub(crate) size: u64,
}

/// Pins the size of a struct and the offset of each of its fields.
macro_rules! pin_layout {
    ($ty:ident, size = $size:expr; $($field:ident @ $off:expr),+ $(,)?) => {
        const _: () = assert!(size_of::<$ty>() == $size);
        $(const _: () = assert!(offset_of!($ty, $field) == $off);)+
    };
}

pin_layout!(
    hv_evlog_info, size = 64;
    abi_version @ 0, info_size @ 4, type_ @ 8, mode @ 12, time_basis @ 16,
    buffer_count @ 20, buffer_size @ 24, threshold @ 28, sources @ 32,
    header_size @ 40, record_size @ 44, backend @ 48, completion @ 52,
    max_buffers @ 56, generation @ 60,
);
pin_layout!(
    hv_evlog_buffer_info, size = 152;
    index @ 0, pxm @ 4, node @ 8, flags @ 12, mmap_offset @ 16, cpus @ 24,
);
pin_layout!(
    hv_evlog_buffers, size = 24;
    first @ 0, count @ 4, table @ 8, generation @ 16, reserved @ 20,
);
pin_layout!(
    hv_evlog_record, size = 40;
    buffer_index @ 0, cpu @ 4, sequence @ 8, bytes_used @ 16, events_lost @ 20,
    timestamp @ 24, vp @ 32, reserved @ 36,
);
pin_layout!(
    hv_evlog_stats, size = 40;
    completions @ 0, releases @ 8, events_lost @ 16, records_dropped @ 24,
    flushes @ 32,
);
pin_layout!(hv_evlog_copy, size = 24; buffer_index @ 0, bytes @ 4, addr @ 8, size @ 16);

// SAFETY: Each struct is `repr(C)` with only integer fields (and an array of
// them) and, as the layout assertions above show, no padding: every byte of a
// value is initialized, any bit pattern is a valid value, and there is no
// interior mutability.
unsafe impl AsBytes for hv_evlog_info {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl AsBytes for hv_evlog_buffer_info {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl AsBytes for hv_evlog_buffers {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl FromBytes for hv_evlog_buffers {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl AsBytes for hv_evlog_record {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl AsBytes for hv_evlog_stats {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl AsBytes for hv_evlog_copy {}
// SAFETY: As for `hv_evlog_info`.
unsafe impl FromBytes for hv_evlog_copy {}

/// `HV_EVLOG_IOC_INFO`: read the group geometry.
pub(crate) const HV_EVLOG_IOC_INFO: u32 = _IOR::<hv_evlog_info>(HV_EVLOG_IOC_MAGIC, 0x00);
/// `HV_EVLOG_IOC_BUFFERS`: fill a table of buffer descriptions.
pub(crate) const HV_EVLOG_IOC_BUFFERS: u32 = _IOWR::<hv_evlog_buffers>(HV_EVLOG_IOC_MAGIC, 0x01);
/// `HV_EVLOG_IOC_RELEASE`: hand a completed, reported buffer back.
pub(crate) const HV_EVLOG_IOC_RELEASE: u32 = _IOW::<u32>(HV_EVLOG_IOC_MAGIC, 0x02);
/// `HV_EVLOG_IOC_FLUSH`: complete early the in-use buffer(s) of one CPU or
/// of all (the module flushes each by its buffer index).
pub(crate) const HV_EVLOG_IOC_FLUSH: u32 = _IOW::<u32>(HV_EVLOG_IOC_MAGIC, 0x03);
/// `HV_EVLOG_IOC_SET_SOURCES`: set the event source mask.
pub(crate) const HV_EVLOG_IOC_SET_SOURCES: u32 = _IOW::<u64>(HV_EVLOG_IOC_MAGIC, 0x04);
/// `HV_EVLOG_IOC_STATS`: read the counters of this open.
pub(crate) const HV_EVLOG_IOC_STATS: u32 = _IOR::<hv_evlog_stats>(HV_EVLOG_IOC_MAGIC, 0x05);
/// `HV_EVLOG_IOC_LIFETIME_STATS`: read the counters summed over every open
/// since the group was set up.
pub(crate) const HV_EVLOG_IOC_LIFETIME_STATS: u32 =
    _IOR::<hv_evlog_stats>(HV_EVLOG_IOC_MAGIC, 0x06);
/// `HV_EVLOG_IOC_COPY`: copy a completed, reported buffer out, then release
/// it (the compatibility path, see [`crate::device`]'s `copyout`).
pub(crate) const HV_EVLOG_IOC_COPY: u32 = _IOWR::<hv_evlog_copy>(HV_EVLOG_IOC_MAGIC, 0x07);
/// `HV_EVLOG_IOC_RESIZE`: set the buffers per served CPU.
pub(crate) const HV_EVLOG_IOC_RESIZE: u32 = _IOW::<u32>(HV_EVLOG_IOC_MAGIC, 0x08);

// The numbers as a C compiler computes them from the header on x86_64
// (direction << 30 | size << 16 | magic << 8 | nr), so that a change of a
// struct size, which silently changes the number, is caught here too.
const _: () = assert!(HV_EVLOG_IOC_INFO == 0x8040_B900);
const _: () = assert!(HV_EVLOG_IOC_BUFFERS == 0xC018_B901);
const _: () = assert!(HV_EVLOG_IOC_RELEASE == 0x4004_B902);
const _: () = assert!(HV_EVLOG_IOC_FLUSH == 0x4004_B903);
const _: () = assert!(HV_EVLOG_IOC_SET_SOURCES == 0x4008_B904);
const _: () = assert!(HV_EVLOG_IOC_STATS == 0x8028_B905);
const _: () = assert!(HV_EVLOG_IOC_LIFETIME_STATS == 0x8028_B906);
const _: () = assert!(HV_EVLOG_IOC_COPY == 0xC018_B907);
const _: () = assert!(HV_EVLOG_IOC_RESIZE == 0x4004_B908);
