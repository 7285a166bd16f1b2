// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/uapi/linux/hv_evlog.h`.
//!
//! Field for field, `#[repr(C)]`, with the ioctl request numbers computed by
//! the same `_IOC` encoding the C macros use. The test at the bottom compiles
//! a C program against the header itself and compares every size, offset,
//! constant and request number with this file.
//!
//! Only `struct hv_evlog_info`'s `type` is renamed (`log_type`), `type` being
//! a Rust keyword.

use core::mem::size_of;

/// `HV_EVLOG_ABI_VERSION`: the ABI this tool speaks.
pub const ABI_VERSION: u32 = 2;
/// `HV_EVLOG_DEVICE`.
pub const DEVICE: &str = "/dev/hv_evlog";
/// `HV_EVLOG_IOC_MAGIC`.
pub const IOC_MAGIC: u32 = 0xB9;
/// `HV_EVLOG_MAX_BUFFERS`.
pub const MAX_BUFFERS: u32 = 512;
/// `HV_EVLOG_MAX_CPUS`: CPU bitmaps cover this many CPUs.
pub const MAX_CPUS: u32 = 1024;
/// `HV_EVLOG_CPU_WORDS`.
pub const CPU_WORDS: usize = (MAX_CPUS / 64) as usize;
/// `HV_EVLOG_ALL_CPUS`: [`IOC_FLUSH`] of every CPU.
pub const ALL_CPUS: u32 = 0xFFFF_FFFF;
/// `HV_EVLOG_NO_CPU`: [`Record::cpu`] when no Linux CPU has the VP index.
#[allow(dead_code)] // Checked against the header; the tool prints the number as is.
pub const NO_CPU: u32 = 0xFFFF_FFFF;

/// `struct hv_evlog_info`: group geometry ([`IOC_INFO`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// `sizeof(struct hv_evlog_info)`.
    pub info_size: u32,
    /// C name `type`: 0 global, 1 local diagnostics, 2 system diagnostics.
    pub log_type: u32,
    /// 0 regular, 1 circular.
    pub mode: u32,
    /// 0 reference (100 ns), 1 TSC.
    pub time_basis: u32,
    /// Buffers in the group (and in the mapping).
    pub buffer_count: u32,
    /// Bytes per buffer; a multiple of the page size.
    pub buffer_size: u32,
    /// Completed buffers per notification.
    pub threshold: u32,
    /// Enabled event source mask.
    pub sources: u64,
    /// Bytes of buffer header before the entries.
    pub header_size: u32,
    /// `sizeof(struct hv_evlog_record)`.
    pub record_size: u32,
    /// 0 Microsoft hypervisor, 1 simulated.
    pub backend: u32,
    /// 0: records from the header scan alone; 1: from completion messages.
    pub completion: u32,
    /// The group maximum: every buffer index is below it.
    pub max_buffers: u32,
    /// Changes whenever the buffer table changes.
    pub generation: u32,
}

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
    /// Bitmap of the CPUs it serves.
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
    /// Out: the `Info::generation` the table is from.
    pub generation: u32,
    /// Out: 0.
    pub reserved: u32,
}

/// `HV_EVLOG_BUFFER_RETIRED`: out of the rotation after a resize; munmap
/// it so that the module can delete it.
pub const BUFFER_RETIRED: u32 = 0x1;

/// `HV_EVLOG_BUFFER_CPU_OFFLINE`: the CPU it serves is offline.
pub const BUFFER_CPU_OFFLINE: u32 = 0x2;

/// `struct hv_evlog_record`: what read() returns, one per completed buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The completed buffer.
    pub buffer_index: u32,
    /// Linux CPU id that filled the buffer (what [`IOC_FLUSH`] takes), or
    /// [`NO_CPU`].
    pub cpu: u32,
    /// 0, 1, 2, ... without gaps unless records were dropped.
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

/// `struct hv_evlog_stats`: argument of [`IOC_STATS`].
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
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copy {
    /// In: a completed buffer whose record was read.
    pub buffer_index: u32,
    /// Out: bytes copied (header and entries).
    pub bytes: u32,
    /// In: where to copy them.
    pub addr: u64,
    /// In: room at `addr`.
    pub size: u64,
}

// <asm-generic/ioctl.h>, which x86_64 uses: nr in bits 0-7, type in 8-15,
// size in 16-29, direction in 30-31.
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_SIZEMASK: usize = (1 << 14) - 1;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, HV_EVLOG_IOC_MAGIC, nr, size)`.
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    assert!(size <= IOC_SIZEMASK);
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | (IOC_MAGIC << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
}

/// `HV_EVLOG_IOC_INFO`: `_IOR(0xB9, 0x00, struct hv_evlog_info)`.
pub const IOC_INFO: u32 = ioc(IOC_READ, 0x00, size_of::<Info>());
/// `HV_EVLOG_IOC_BUFFERS`: `_IOWR(0xB9, 0x01, struct hv_evlog_buffers)`.
pub const IOC_BUFFERS: u32 = ioc(IOC_READ | IOC_WRITE, 0x01, size_of::<Buffers>());
/// `HV_EVLOG_IOC_RELEASE`: `_IOW(0xB9, 0x02, __u32)`; a completed buffer back.
pub const IOC_RELEASE: u32 = ioc(IOC_WRITE, 0x02, size_of::<u32>());
/// `HV_EVLOG_IOC_FLUSH`: `_IOW(0xB9, 0x03, __u32)`; a CPU or [`ALL_CPUS`].
pub const IOC_FLUSH: u32 = ioc(IOC_WRITE, 0x03, size_of::<u32>());
/// `HV_EVLOG_IOC_SET_SOURCES`: `_IOW(0xB9, 0x04, __u64)`.
pub const IOC_SET_SOURCES: u32 = ioc(IOC_WRITE, 0x04, size_of::<u64>());
/// `HV_EVLOG_IOC_STATS`: `_IOR(0xB9, 0x05, struct hv_evlog_stats)`.
pub const IOC_STATS: u32 = ioc(IOC_READ, 0x05, size_of::<Stats>());
/// `HV_EVLOG_IOC_LIFETIME_STATS`: `_IOR(0xB9, 0x06, struct hv_evlog_stats)`;
/// the counters summed over every open since the module's load.
pub const IOC_LIFETIME_STATS: u32 = ioc(IOC_READ, 0x06, size_of::<Stats>());
/// `HV_EVLOG_IOC_COPY`: `_IOWR(0xB9, 0x07, struct hv_evlog_copy)`.
pub const IOC_COPY: u32 = ioc(IOC_READ | IOC_WRITE, 0x07, size_of::<Copy>());
/// `HV_EVLOG_IOC_RESIZE`: `_IOW(0xB9, 0x08, __u32)`; the buffers per served
/// CPU.
pub const IOC_RESIZE: u32 = ioc(IOC_WRITE, 0x08, size_of::<u32>());

/// Name of an ioctl request, for error messages.
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

/// Whether CPU `cpu` is set in a [`BufferInfo::cpus`] bitmap.
pub fn cpu_in(cpus: &[u64; CPU_WORDS], cpu: u32) -> bool {
    let (word, bit) = ((cpu / 64) as usize, cpu % 64);
    word < CPU_WORDS && cpus[word] & (1 << bit) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::process::Command;

    /// Every number the C side is asked for, with the Rust side's value.
    fn rust_side() -> Vec<(&'static str, u64)> {
        macro_rules! layout {
            ($out:ident, $c:literal, $ty:ty { $($cf:literal: $rf:ident),+ $(,)? }) => {
                $out.push((concat!("sizeof ", $c), size_of::<$ty>() as u64));
                $out.push((concat!("alignof ", $c), align_of::<$ty>() as u64));
                $($out.push((concat!("offsetof ", $c, ".", $cf), offset_of!($ty, $rf) as u64));)+
            };
        }
        let mut v = Vec::new();
        layout!(v, "hv_evlog_info", Info {
            "abi_version": abi_version, "info_size": info_size, "type": log_type,
            "mode": mode, "time_basis": time_basis, "buffer_count": buffer_count,
            "buffer_size": buffer_size, "threshold": threshold, "sources": sources,
            "header_size": header_size, "record_size": record_size,
            "backend": backend, "completion": completion,
            "max_buffers": max_buffers, "generation": generation,
        });
        layout!(v, "hv_evlog_buffer_info", BufferInfo {
            "index": index, "pxm": pxm, "node": node, "flags": flags,
            "mmap_offset": mmap_offset, "cpus": cpus,
        });
        layout!(v, "hv_evlog_buffers", Buffers {
            "first": first, "count": count, "table": table,
            "generation": generation, "reserved": reserved,
        });
        layout!(v, "hv_evlog_record", Record {
            "buffer_index": buffer_index, "cpu": cpu, "sequence": sequence,
            "bytes_used": bytes_used, "events_lost": events_lost,
            "timestamp": timestamp, "vp": vp, "reserved": reserved,
        });
        layout!(v, "hv_evlog_stats", Stats {
            "completions": completions, "releases": releases,
            "events_lost": events_lost, "records_dropped": records_dropped,
            "flushes": flushes,
        });
        layout!(v, "hv_evlog_copy", Copy {
            "buffer_index": buffer_index, "bytes": bytes, "addr": addr, "size": size,
        });
        v.extend([
            ("sizeof cpus", size_of::<[u64; CPU_WORDS]>() as u64),
            ("HV_EVLOG_ABI_VERSION", u64::from(ABI_VERSION)),
            ("HV_EVLOG_IOC_MAGIC", u64::from(IOC_MAGIC)),
            ("HV_EVLOG_MAX_BUFFERS", u64::from(MAX_BUFFERS)),
            ("HV_EVLOG_MAX_CPUS", u64::from(MAX_CPUS)),
            ("HV_EVLOG_CPU_WORDS", CPU_WORDS as u64),
            ("HV_EVLOG_ALL_CPUS", u64::from(ALL_CPUS)),
            ("HV_EVLOG_NO_CPU", u64::from(NO_CPU)),
            ("HV_EVLOG_IOC_INFO", u64::from(IOC_INFO)),
            ("HV_EVLOG_IOC_BUFFERS", u64::from(IOC_BUFFERS)),
            ("HV_EVLOG_IOC_RELEASE", u64::from(IOC_RELEASE)),
            ("HV_EVLOG_IOC_FLUSH", u64::from(IOC_FLUSH)),
            ("HV_EVLOG_IOC_SET_SOURCES", u64::from(IOC_SET_SOURCES)),
            ("HV_EVLOG_IOC_STATS", u64::from(IOC_STATS)),
            ("HV_EVLOG_IOC_LIFETIME_STATS", u64::from(IOC_LIFETIME_STATS)),
            ("HV_EVLOG_IOC_COPY", u64::from(IOC_COPY)),
            ("HV_EVLOG_IOC_RESIZE", u64::from(IOC_RESIZE)),
            ("HV_EVLOG_BUFFER_RETIRED", u64::from(BUFFER_RETIRED)),
            ("HV_EVLOG_BUFFER_CPU_OFFLINE", u64::from(BUFFER_CPU_OFFLINE)),
        ]);
        v
    }

    /// The C program: one `name value` line per entry of [`rust_side`].
    fn c_program(names: &[(&str, u64)]) -> String {
        let mut c = String::from(
            "#include <stdio.h>\n#include <stddef.h>\n#include <stdalign.h>\n\
             #include <linux/hv_evlog.h>\n\
             #define P(name, v) printf(\"%s %llu\\n\", name, (unsigned long long)(v))\n\
             int main(void)\n{\n",
        );
        for (name, _) in names {
            let expr = if let Some(ty) = name.strip_prefix("sizeof ") {
                if ty == "cpus" {
                    "sizeof(((struct hv_evlog_buffer_info *)0)->cpus)".to_string()
                } else {
                    format!("sizeof(struct {ty})")
                }
            } else if let Some(ty) = name.strip_prefix("alignof ") {
                format!("alignof(struct {ty})")
            } else if let Some(f) = name.strip_prefix("offsetof ") {
                let (ty, field) = f.split_once('.').unwrap();
                format!("offsetof(struct {ty}, {field})")
            } else {
                name.to_string()
            };
            c.push_str(&format!("\tP(\"{name}\", {expr});\n"));
        }
        c.push_str("\treturn 0;\n}\n");
        c
    }

    #[test]
    fn layout_and_ioctls_match_the_c_header() {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let include = manifest.join("../../include/uapi");
        assert!(
            include.join("linux/hv_evlog.h").is_file(),
            "header not found under {}",
            include.display()
        );
        let rust = rust_side();
        let dir = std::env::temp_dir().join(format!("hv-evlog-uapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("uapi.c");
        let exe = dir.join("uapi");
        std::fs::write(&src, c_program(&rust)).unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Werror", "-I"])
            .arg(&include)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
        assert!(
            out.status.success(),
            "C compile failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = Command::new(&exe).output().unwrap();
        assert!(run.status.success());
        std::fs::remove_dir_all(&dir).unwrap();
        let c: BTreeMap<String, u64> = String::from_utf8(run.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_string(), v.parse().unwrap())
            })
            .collect();
        assert_eq!(c.len(), rust.len(), "duplicate names in the table");
        let mismatches: Vec<String> = rust
            .iter()
            .filter(|(name, value)| c[*name] != *value)
            .map(|(name, value)| format!("{name}: C says {}, Rust {value}", c[*name]))
            .collect();
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    #[test]
    fn known_values() {
        // Independent of the compiler: the numbers as worked out by hand.
        assert_eq!(size_of::<Info>(), 64);
        assert_eq!(size_of::<BufferInfo>(), 152);
        assert_eq!(size_of::<Buffers>(), 24);
        assert_eq!(size_of::<Record>(), 40);
        assert_eq!(size_of::<Stats>(), 40);
        assert_eq!(IOC_INFO, 0x8040_B900);
        assert_eq!(IOC_BUFFERS, 0xC018_B901);
        assert_eq!(IOC_RELEASE, 0x4004_B902);
        assert_eq!(IOC_FLUSH, 0x4004_B903);
        assert_eq!(IOC_SET_SOURCES, 0x4008_B904);
        assert_eq!(IOC_STATS, 0x8028_B905);
        assert_eq!(IOC_LIFETIME_STATS, 0x8028_B906);
        assert_eq!(IOC_COPY, 0xC018_B907);
        assert_eq!(IOC_RESIZE, 0x4004_B908);
        assert_eq!(ioctl_name(IOC_STATS), "HV_EVLOG_IOC_STATS");
        assert_eq!(ioctl_name(0), "unknown ioctl");
    }

    #[test]
    fn cpu_bitmap_lookup() {
        let mut cpus = [0u64; CPU_WORDS];
        cpus[0] = 0b1_0011;
        cpus[15] = 1 << 63;
        assert!(cpu_in(&cpus, 0) && cpu_in(&cpus, 1) && cpu_in(&cpus, 4));
        assert!(!cpu_in(&cpus, 2) && !cpu_in(&cpus, 64));
        assert!(cpu_in(&cpus, 1023));
        assert!(!cpu_in(&cpus, 1024));
        assert!(!cpu_in(&cpus, u32::MAX));
    }
}
