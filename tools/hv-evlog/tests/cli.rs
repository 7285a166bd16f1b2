// SPDX-License-Identifier: GPL-2.0

//! The built binary, end to end where no device is needed: exit codes and
//! messages on stderr, help on stdout, and `decode` of a capture file written
//! here by hand from the format's documentation.

#[path = "../src/tlfs.rs"]
mod tlfs;
// tlfs.rs names the UAPI's buffer maximum.
#[allow(dead_code, reason = "tlfs.rs needs one constant of it")]
#[path = "../../../hv_evlog/uapi.rs"]
mod uapi;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tlfs::{BufferHeader, EntryHeader, Wire, ENTRIES_OFFSET};

fn hv_evlog(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hv-evlog"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn missing_device_exits_2() {
    for args in [
        &["info"][..],
        &["capture", "--count", "1"],
        &["stats"],
        &["flush"],
        &["sources", "hc"],
    ] {
        let out = hv_evlog(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            "hv-evlog: /dev/hv_evlog not found: load the module \
             (insmod hv_evlog.ko backend=sim to test)\n"
        );
        assert!(out.stdout.is_empty());
    }
    let out = hv_evlog(&["--device", "/nonexistent", "info"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("hv-evlog: /nonexistent not found: "));
}

#[test]
fn not_the_device_exits_1() {
    let out = hv_evlog(&["info", "--device", "/proc/self/status"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "hv-evlog: /proc/self/status: HV_EVLOG_IOC_INFO is not supported by the module: \
         tool and module are from different versions\n"
    );
}

#[test]
fn usage_errors_exit_64_with_usage() {
    let out = hv_evlog(&["frob"], None);
    assert_eq!(out.status.code(), Some(64));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("hv-evlog: unknown command 'frob'\n\nusage: hv-evlog [--device PATH]"),
        "{err}"
    );
    assert!(err.ends_with("\n  64  bad usage\n"), "{err:?}");
    let out = hv_evlog(&[], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).starts_with("hv-evlog: no command given\n\n"));
    let out = hv_evlog(&["flush", "--cpu", "x"], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).starts_with(
        "hv-evlog: invalid value 'x' for '--cpu': expected a number\n\nusage: hv-evlog flush"
    ));
}

#[test]
fn help_goes_to_stdout_with_exit_codes() {
    for (args, first) in [
        (&["--help"][..], "usage: hv-evlog [--device PATH] COMMAND"),
        (&["help", "sources"], "usage: hv-evlog sources"),
        (&["capture", "--help"], "usage: hv-evlog capture"),
        (&["info", "-h"], "usage: hv-evlog info [--json]"),
    ] {
        let out = hv_evlog(args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty());
        let help = text(&out.stdout);
        assert!(help.starts_with(first), "{help}");
        assert!(help.contains("\n  3   permission denied: run as root\n"));
    }
    let out = hv_evlog(&["--version"], None);
    assert_eq!(text(&out.stdout), "hv-evlog 0.1.0\n");
}

#[test]
fn completions_and_man_page_go_to_stdout() {
    for args in [&["completions", "bash"][..], &["man"], &["man", "decode"]] {
        let out = hv_evlog(args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
        assert!(text(&out.stdout).contains("hv-evlog"), "{args:?}");
    }
    let out = hv_evlog(&["man", "frob"], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).starts_with("hv-evlog: unknown command 'frob'\n\nusage: "));
}

/// A completed buffer as the hypervisor leaves it, cut at its end.
fn buffer(index: u32, cpu: u8, stamps: &[u64]) -> Vec<u8> {
    let mut buf = vec![0u8; ENTRIES_OFFSET];
    for (i, &ts) in stamps.iter().enumerate() {
        let offset = buf.len();
        let size = (EntryHeader::SIZE + 4) as u16; // 20 bytes, padded to 24
        buf.resize(EntryHeader::next_offset(offset, size), 0);
        EntryHeader {
            context: 0x100 + i as u32,
            size,
            entry_type: 9,
            timestamp: ts,
        }
        .encode(&mut buf[offset..])
        .unwrap();
    }
    BufferHeader {
        buffer_index: index,
        logical_processor: u16::from(cpu),
        buffer_state: 3,
        // Entry bytes after the header.
        next_buffer_offset: (buf.len() - ENTRIES_OFFSET) as u32,
        ..BufferHeader::default()
    }
    .encode(&mut buf)
    .unwrap();
    buf
}

/// The capture file, byte by byte as tools/hv-evlog/README.md describes it.
fn capture_file() -> Vec<u8> {
    let mut f = b"HVEVLOG1".to_vec();
    for word in [1u32, 0, 1, 0, 65536, 72] {
        f.extend_from_slice(&word.to_le_bytes());
    }
    for (seq, (index, cpu, stamps, lost)) in [
        (0u32, 0u8, &[10u64, 20][..], 0u32),
        (1, 1, &[15], 2),
        (2, 0, &[], 0),
    ]
    .into_iter()
    .enumerate()
    {
        let raw = buffer(index, cpu, stamps);
        f.extend_from_slice(&index.to_le_bytes());
        f.extend_from_slice(&u32::from(cpu).to_le_bytes());
        f.extend_from_slice(&(seq as u64).to_le_bytes());
        f.extend_from_slice(&(raw.len() as u32).to_le_bytes());
        f.extend_from_slice(&lost.to_le_bytes());
        f.extend_from_slice(&stamps.first().copied().unwrap_or(0).to_le_bytes());
        f.extend_from_slice(&raw);
    }
    f
}

fn summary_without_seconds(stderr: &[u8]) -> String {
    let line = text(stderr);
    let (kept, seconds) = line.rsplit_once(" seconds=").unwrap();
    assert!(seconds.trim_end().parse::<f64>().is_ok(), "{line}");
    kept.to_string()
}

#[test]
fn decode_a_capture_file() {
    let path = std::env::temp_dir().join(format!("hv-evlog-cli-{}.bin", std::process::id()));
    std::fs::write(&path, capture_file()).unwrap();
    let out = hv_evlog(&["decode", "--json", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"cpu\":0,\"ts\":10,\"type\":9,\"size\":20,\"context\":256}\n\
         {\"cpu\":0,\"ts\":20,\"type\":9,\"size\":20,\"context\":257}\n\
         {\"cpu\":1,\"ts\":15,\"type\":9,\"size\":20,\"context\":256}\n"
    );
    assert_eq!(
        summary_without_seconds(&out.stderr),
        "hv-evlog: events=3 buffers=3 lost=2 malformed=0"
    );

    // From stdin, filtered, as text.
    let out = hv_evlog(
        &["decode", "--cpu", "0", "--count", "1"],
        Some(&capture_file()),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "cpu=0 ts=10 type=0x0009 size=20 context=0x00000100\n"
    );
    assert_eq!(
        summary_without_seconds(&out.stderr),
        "hv-evlog: events=1 buffers=1 lost=0 malformed=0"
    );

    // Re-encoded as binary: the same records after a version 2 header
    // (64 bytes) that keeps the version 1 fields and says 64.
    let out = hv_evlog(
        &["decode", "--format", "binary", "-"],
        Some(&capture_file()),
    );
    assert_eq!(out.status.code(), Some(0));
    let v1 = capture_file();
    assert_eq!(&out.stdout[..8], b"HVEVLOG2");
    assert_eq!(out.stdout[8..32], v1[8..32]);
    assert_eq!(out.stdout[32..36], 64u32.to_le_bytes());
    assert_eq!(out.stdout[64..], v1[32..]);
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hv-evlog-cli-{}-{name}", std::process::id()))
}

#[test]
fn convert_and_report() {
    let bin = temp("c.bin");
    let etl = temp("c.etl");
    let trace = temp("c.json");
    std::fs::write(&bin, capture_file()).unwrap();
    let arg = |p: &std::path::Path| p.to_str().unwrap().to_string();
    // The format from the extension.
    let out = hv_evlog(&["convert", &arg(&bin), &arg(&etl)], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        summary_without_seconds(&out.stderr),
        "hv-evlog: events=3 buffers=3 lost=2 malformed=0"
    );
    // 64 KiB hypervisor buffers: the first ETL buffer and three more of 128 KiB.
    assert_eq!(std::fs::metadata(&etl).unwrap().len(), 4 * 131072);
    // The ETL file decodes to the same events.
    let out = hv_evlog(&["decode", "--json", &arg(&etl)], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"cpu\":0,\"ts\":10,\"type\":9,\"size\":20,\"context\":256}\n\
         {\"cpu\":0,\"ts\":20,\"type\":9,\"size\":20,\"context\":257}\n\
         {\"cpu\":1,\"ts\":15,\"type\":9,\"size\":20,\"context\":256}\n"
    );
    // The report of either file has the same summary line.
    for file in [&bin, &etl] {
        let out = hv_evlog(&["report", &arg(file)], None);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let report = text(&out.stdout);
        assert!(
            report.contains("\nsummary     events=3 buffers=3 lost=2 dropped=0 malformed=0\n"),
            "{report}"
        );
    }
    let out = hv_evlog(&["report", "--json", &arg(&etl)], None);
    let json = text(&out.stdout);
    assert!(
        json.contains("\"events\":3,\"buffers\":3,\"lost\":2,\"dropped\":0,\"malformed\":0"),
        "{json}"
    );
    // chrome-trace from the ETL file: two tracks, 2 and 1 events.
    let out = hv_evlog(&["convert", &arg(&etl), &arg(&trace)], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json = std::fs::read_to_string(&trace).unwrap();
    assert!(json.starts_with("{\"displayTimeUnit\":\"ns\""), "{json}");
    assert!(json.ends_with("\n]}\n"), "{json}");
    assert_eq!(json.matches("\"ph\":\"i\",\"s\":\"t\",\"ts\":").count(), 3);
    assert_eq!(
        json.matches("\"pid\":0,\"tid\":0,\"args\":{\"type\"")
            .count(),
        2
    );
    assert_eq!(
        json.matches("\"pid\":0,\"tid\":1,\"args\":{\"type\"")
            .count(),
        1
    );

    // A hand-corrupted ETL file: buffer 2's Offset past its end.
    let mut bad = std::fs::read(&etl).unwrap();
    bad[2 * 131072 + 0x30..2 * 131072 + 0x34].copy_from_slice(&200000u32.to_le_bytes());
    std::fs::write(&etl, &bad).unwrap();
    let want = "hv-evlog: ETL buffer 2 (at byte offset 262144): Offset 200000 (at byte 262192) is \
                outside the buffer: records end between 72 and 131072\n";
    for args in [
        vec!["report", &arg(&etl)],
        vec!["convert", "--format", "text", &arg(&etl), &arg(&trace)],
    ] {
        let out = hv_evlog(&args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stderr), want, "{args:?}");
    }
    // Truncated inside buffer 3.
    std::fs::write(&etl, &bad[..3 * 131072 + 500]).unwrap();
    let out = hv_evlog(&["report", &arg(&etl)], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "hv-evlog: ETL buffer 2 (at byte offset 262144): Offset 200000 (at byte 262192) is \
         outside the buffer: records end between 72 and 131072\n"
    );
    bad[2 * 131072 + 0x30..2 * 131072 + 0x34].copy_from_slice(&72u32.to_le_bytes());
    std::fs::write(&etl, &bad[..3 * 131072 + 500]).unwrap();
    let out = hv_evlog(&["report", &arg(&etl)], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "hv-evlog: ETL buffer 3 (at byte offset 393216): truncated: 500 of its 131072 bytes \
         present (the logfile header counts 4 buffers)\n"
    );
    // ETL needs a file to write its first buffer into at the end.
    let out = hv_evlog(&["convert", "--format", "etl", &arg(&bin), "-"], None);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stderr)
        .starts_with("hv-evlog: --format etl writes its first buffer last: it needs an output file, not standard output\n"));
    for f in [bin, etl, trace] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn decode_refuses_other_files() {
    let out = hv_evlog(&["decode"], Some(b"not a capture, just text"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "hv-evlog: not an hv-evlog capture file (no HVEVLOG1 or HVEVLOG2 header) nor an \
         ETL file: write one with 'hv-evlog capture --format binary' or '--format etl'\n"
    );
    let out = hv_evlog(&["decode", "/nonexistent.bin"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "hv-evlog: /nonexistent.bin: No such file or directory (os error 2)\n"
    );
}

/// Version 2 of the ABI only added HV_EVLOG_IOC_COPY: a capture of version 1
/// (above) or 2 decodes the same; a version this tool does not know is
/// refused.
#[test]
fn capture_file_versions() {
    let mut v2 = capture_file();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let out = hv_evlog(&["decode", "--json"], Some(&v2));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 3);

    let mut v3 = capture_file();
    v3[8..12].copy_from_slice(&3u32.to_le_bytes());
    let out = hv_evlog(&["decode"], Some(&v3));
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains(
            "capture file has ABI version 3 and entries at offset 72; \
             this tool reads versions 1 to 2"
        ),
        "{}",
        text(&out.stderr)
    );
}
