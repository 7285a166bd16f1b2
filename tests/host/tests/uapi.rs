// SPDX-License-Identifier: GPL-2.0

//! The UAPI mirror (`hv_evlog/uapi.rs`) against the C header it mirrors:
//! a C program compiled against `include/uapi/linux/hv_evlog.h` prints every
//! size, alignment, offset, constant and request number, and each must equal
//! the mirror's.

use std::collections::BTreeMap;
use std::mem::size_of;
use std::path::PathBuf;
use std::process::Command;

use hv_evlog_host_tests::uapi::*;

/// Every number the C side is asked for, with the Rust side's value. A
/// name is what the C program evaluates: `sizeof S`, `alignof S`,
/// `offsetof S.f`, or a macro.
fn rust_side() -> Vec<(String, u64)> {
    let mut v = Vec::new();
    for l in LAYOUTS {
        v.push((format!("sizeof {}", l.c_name), l.size as u64));
        v.push((format!("alignof {}", l.c_name), l.align as u64));
        for (field, off) in l.fields {
            v.push((format!("offsetof {}.{field}", l.c_name), *off as u64));
        }
    }
    let constants = [
        ("sizeof cpus", size_of::<[u64; CPU_WORDS]>() as u64),
        ("HV_EVLOG_ABI_VERSION", u64::from(ABI_VERSION)),
        ("HV_EVLOG_IOC_MAGIC", u64::from(IOC_MAGIC)),
        ("HV_EVLOG_MAX_BUFFERS", u64::from(MAX_BUFFERS)),
        ("HV_EVLOG_MAX_CPUS", u64::from(MAX_CPUS)),
        ("HV_EVLOG_CPU_WORDS", CPU_WORDS as u64),
        ("HV_EVLOG_ALL_CPUS", u64::from(ALL_CPUS)),
        ("HV_EVLOG_NO_CPU", u64::from(NO_CPU)),
        ("HV_EVLOG_COMPLETION_SCAN", u64::from(COMPLETION_SCAN)),
        (
            "HV_EVLOG_COMPLETION_MESSAGES",
            u64::from(COMPLETION_MESSAGES),
        ),
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
    ];
    v.extend(constants.map(|(n, x)| (n.to_string(), x)));
    v
}

/// The C program: one `name value` line per entry of [`rust_side`].
fn c_program(names: &[(String, u64)]) -> String {
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
        .filter(|(name, value)| c[name] != *value)
        .map(|(name, value)| format!("{name}: C says {}, Rust {value}", c[name]))
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn layouts_are_the_structs_in_field_order() {
    // The C comparison sees the fields the table lists: each struct's, from
    // offset 0 up, and all of them (the counts as the header has them).
    let sizes = [
        size_of::<Info>(),
        size_of::<BufferInfo>(),
        size_of::<Buffers>(),
        size_of::<Record>(),
        size_of::<Stats>(),
        size_of::<CopyRequest>(),
    ];
    for (l, size) in LAYOUTS.iter().zip(sizes) {
        assert_eq!(l.size, size, "{}", l.c_name);
        assert_eq!(l.fields[0].1, 0, "{}", l.c_name);
        assert!(l.fields.windows(2).all(|w| w[0].1 < w[1].1), "{}", l.c_name);
    }
    let fields: Vec<usize> = LAYOUTS.iter().map(|l| l.fields.len()).collect();
    assert_eq!(fields, [15, 6, 5, 8, 5, 4]);
    assert_eq!(LAYOUTS[0].fields[2], ("type", 8));
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
