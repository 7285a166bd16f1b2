// SPDX-License-Identifier: GPL-2.0

//! The command line, parsed as the tool parses it: values, errors and help.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::tlfs;

fn parse_str(args: &[&str]) -> Result<Parsed> {
    parse(args.iter().map(OsString::from))
}

/// The parsed command, run with the default device.
fn ok(args: &[&str]) -> Command {
    match parse_str(args) {
        Ok(Parsed::Run(cli)) => {
            assert_eq!(cli.device(), PathBuf::from("/dev/hv_evlog"), "{args:?}");
            cli.command
        }
        Ok(Parsed::Print(text)) => panic!("{args:?}: printed {text}"),
        Err(e) => panic!("{args:?}: {e}"),
    }
}

/// What is printed instead of running anything (help, version).
fn printed(args: &[&str]) -> String {
    match parse_str(args) {
        Ok(Parsed::Print(text)) => text,
        other => panic!("{args:?}: {other:?}"),
    }
}

/// The error's first line and its exit code; checks that the usage of
/// `command` follows.
fn bad(args: &[&str], command: Option<&str>) -> String {
    let err = parse_str(args).expect_err("should fail");
    assert_eq!(err.exit_code(), 64, "{args:?}");
    let text = err.to_string();
    let (first, rest) = text.split_once("\n\n").unwrap();
    assert_eq!(rest, usage(command).trim_end(), "{args:?}");
    first.to_string()
}

fn capture(args: &[&str]) -> (Format, Option<PathBuf>, Limits) {
    match ok(args) {
        Command::Capture(c) => (
            c.events.format(),
            c.events.output().map(Path::to_path_buf),
            c.limits(),
        ),
        other => panic!("{other:?}"),
    }
}

fn decode(args: &[&str]) -> (Option<PathBuf>, Format, Option<PathBuf>, Limits) {
    match ok(args) {
        Command::Decode(d) => (
            d.input().map(Path::to_path_buf),
            d.events.format(),
            d.events.output().map(Path::to_path_buf),
            d.limits(),
        ),
        other => panic!("{other:?}"),
    }
}

fn json_of(command: Command) -> bool {
    match command {
        Command::Info { json, .. } | Command::Stats { json, .. } => json,
        other => panic!("{other:?}"),
    }
}

#[test]
fn info_and_stats() {
    assert!(matches!(ok(&["info"]), Command::Info { json: false, .. }));
    assert!(json_of(ok(&["info", "--json"])));
    assert!(matches!(ok(&["stats"]), Command::Stats { json: false, .. }));
    assert!(json_of(ok(&["stats", "--json"])));
    assert_eq!(
        bad(&["info", "--json=yes"], Some("info")),
        "option '--json' takes no value"
    );
    assert_eq!(
        bad(&["info", "--table"], Some("info")),
        "unknown option '--table' for 'info'"
    );
    assert_eq!(
        bad(&["stats", "x"], Some("stats")),
        "unexpected argument 'x'"
    );
}

#[test]
fn capture_options() {
    assert_eq!(
        capture(&["capture"]),
        (Format::Text, None, Limits::default())
    );
    assert_eq!(
        capture(&[
            "capture",
            "--format",
            "binary",
            "-o",
            "out.bin",
            "--duration",
            "1.5",
            "--count=10000",
            "--cpu",
            "0x3",
        ]),
        (
            Format::Binary,
            Some("out.bin".into()),
            Limits {
                count: Some(10000),
                cpu: Some(3),
                duration: Some(Duration::from_millis(1500)),
            }
        )
    );
    assert_eq!(
        capture(&["capture", "--json", "--output=-", "--cpu=1023"]),
        (
            Format::Json,
            None,
            Limits {
                cpu: Some(1023),
                ..Limits::default()
            }
        )
    );
    // Last one wins.
    assert_eq!(
        capture(&["capture", "--json", "--format", "text"]).0,
        Format::Text
    );
    assert_eq!(
        capture(&["capture", "--format", "binary", "--json"]).0,
        Format::Json
    );
    assert_eq!(
        capture(&["capture", "--count", "5", "--count", "6"])
            .2
            .count,
        Some(6)
    );
}

#[test]
fn capture_errors() {
    let u = Some("capture");
    assert_eq!(
        bad(&["capture", "--format", "xml"], u),
        "invalid value 'xml' for '--format': expected text, json, binary, etl or chrome-trace"
    );
    assert_eq!(
        bad(&["capture", "--count"], u),
        "option '--count' needs a value"
    );
    assert_eq!(
        bad(&["capture", "--count", "ten"], u),
        "invalid value 'ten' for '--count': expected a number"
    );
    assert_eq!(
        bad(&["capture", "--count", "-5"], u),
        "invalid value '-5' for '--count': expected a number"
    );
    assert_eq!(
        bad(&["capture", "--count=0"], u),
        "invalid value '0' for '--count': must be at least 1"
    );
    assert_eq!(
        bad(&["capture", "--count", "18446744073709551616"], u),
        "invalid value '18446744073709551616' for '--count': expected a number"
    );
    assert_eq!(
        bad(&["capture", "--cpu", "1024"], u),
        "invalid value '1024' for '--cpu': CPUs are 0-1023"
    );
    assert_eq!(
        bad(&["capture", "--cpu", "0x"], u),
        "invalid value '0x' for '--cpu': expected a number"
    );
    for d in ["0", "-1", "soon", "nan", "inf", "1e30"] {
        assert_eq!(
            bad(&["capture", "--duration", d], u),
            format!(
                "invalid value '{d}' for '--duration': expected a positive number of \
                 seconds, like 10 or 0.5"
            )
        );
    }
    assert_eq!(
        bad(&["capture", "-x"], u),
        "unknown option '-x' for 'capture'"
    );
    assert_eq!(bad(&["capture", "file"], u), "unexpected argument 'file'");
}

#[test]
fn capture_check() {
    let Command::Capture(c) = ok(&["capture", "--check", "-o", "/dev/null"]) else {
        panic!("not a capture");
    };
    assert!(c.check);
    let Command::Capture(c) = ok(&["capture"]) else {
        panic!("not a capture");
    };
    assert!(!c.check);
    assert_eq!(
        bad(&["capture", "--check=yes"], Some("capture")),
        "option '--check' takes no value"
    );
    assert_eq!(
        bad(&["decode", "--check"], Some("decode")),
        "unknown option '--check' for 'decode'"
    );
}

#[test]
fn resize_options() {
    let per_cpu = |args: &[&str]| match ok(args) {
        Command::Resize { per_cpu, .. } => per_cpu,
        other => panic!("{other:?}"),
    };
    assert_eq!(per_cpu(&["resize", "6"]), 6);
    assert_eq!(per_cpu(&["resize", "0x2"]), 2);
    assert_eq!(per_cpu(&["resize", "512"]), 512);
    let r = Some("resize");
    assert_eq!(bad(&["resize"], r), "missing N");
    for n in ["513", "x", "4294967297"] {
        assert_eq!(
            bad(&["resize", n], r),
            format!("invalid buffer count '{n}': expected 1-512")
        );
    }
    // 0, in the module's words.
    assert_eq!(
        bad(&["resize", "0"], r),
        "invalid buffer count '0': 0 buffers per CPU: every served CPU needs one; \
         expected 1-512"
    );
    assert_eq!(bad(&["resize", "1", "2"], r), "unexpected argument '2'");
    assert_eq!(
        bad(&["resize", "--cpu", "1"], r),
        "unknown option '--cpu' for 'resize'"
    );
    let device = match parse_str(&["resize", "3", "--device", "/tmp/c"]) {
        Ok(Parsed::Run(cli)) => cli.device(),
        other => panic!("{other:?}"),
    };
    assert_eq!(device, Path::new("/tmp/c"));
}

#[test]
fn decode_options() {
    assert_eq!(
        decode(&["decode"]),
        (None, Format::Text, None, Limits::default())
    );
    assert_eq!(
        decode(&["decode", "--json", "cap.bin", "--cpu", "2", "--count", "7"]),
        (
            Some("cap.bin".into()),
            Format::Json,
            None,
            Limits {
                count: Some(7),
                cpu: Some(2),
                duration: None,
            },
        )
    );
    assert_eq!(
        decode(&["decode", "-"]),
        (None, Format::Text, None, Limits::default())
    );
    // A file name that looks like an option, after "--".
    assert_eq!(
        decode(&["decode", "--", "--weird"]).0,
        Some("--weird".into())
    );
    assert_eq!(
        bad(&["decode", "a", "b"], Some("decode")),
        "unexpected argument 'b'"
    );
    assert_eq!(
        bad(&["decode", "--duration", "1"], Some("decode")),
        "unknown option '--duration' for 'decode'"
    );
    // decode opens no device.
    assert_eq!(
        bad(&["decode", "--device", "/x"], Some("decode")),
        "unknown option '--device' for 'decode'"
    );
}

fn mask(args: &[&str]) -> Option<u64> {
    match ok(args) {
        Command::Sources { mask, .. } => mask,
        other => panic!("{other:?}"),
    }
}

#[test]
fn convert_and_report() {
    match ok(&["convert", "a.bin", "b.etl"]) {
        Command::Convert(c) => {
            assert_eq!(c.input, PathBuf::from("a.bin"));
            assert_eq!(c.output(), Some(std::path::Path::new("b.etl")));
            assert_eq!(c.format().unwrap(), Format::Etl);
        }
        other => panic!("{other:?}"),
    }
    for (out, format) in [
        ("t.json", Format::ChromeTrace),
        ("t.jsonl", Format::Json),
        ("t.txt", Format::Text),
        ("t.bin", Format::Binary),
        ("T.ETL", Format::Etl),
    ] {
        match ok(&["convert", "a", out]) {
            Command::Convert(c) => assert_eq!(c.format().unwrap(), format, "{out}"),
            other => panic!("{other:?}"),
        }
    }
    // --format wins over the extension; "-" is stdout.
    match ok(&["convert", "--format", "chrome-trace", "a.etl", "-"]) {
        Command::Convert(c) => {
            assert_eq!(c.format().unwrap(), Format::ChromeTrace);
            assert_eq!(c.output(), None);
        }
        other => panic!("{other:?}"),
    }
    match ok(&["convert", "a", "b.xyz"]) {
        Command::Convert(c) => {
            let err = c.format().unwrap_err();
            assert_eq!(err.exit_code(), 64);
            assert!(err.to_string().starts_with(
                "cannot tell the format from 'b.xyz': give --format, or name it .etl, .json \
                 (chrome-trace), .jsonl, .txt or .bin\n\nusage: hv-evlog convert"
            ));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ok(&["report", "--json", "c.etl"]),
        Command::Report {
            json: true,
            input: "c.etl".into()
        }
    );
    assert_eq!(
        ok(&["report", "c.bin"]),
        Command::Report {
            json: false,
            input: "c.bin".into()
        }
    );
    assert!(parse_str(&["report"]).is_err());
    assert!(parse_str(&["convert", "a"]).is_err());
    assert!(parse_str(&["report", "--device", "/x", "c"]).is_err());
}

#[test]
fn flush_and_sources() {
    assert!(matches!(ok(&["flush"]), Command::Flush { cpu: None, .. }));
    assert!(matches!(
        ok(&["flush", "--cpu", "5"]),
        Command::Flush { cpu: Some(5), .. }
    ));
    assert_eq!(
        bad(&["flush", "--cpu"], Some("flush")),
        "option '--cpu' needs a value"
    );
    assert_eq!(
        bad(&["flush", "3"], Some("flush")),
        "unexpected argument '3'"
    );

    let s = Some("sources");
    assert_eq!(mask(&["sources"]), None);
    assert_eq!(mask(&["sources", "0x8400"]), Some(0x8400));
    assert_eq!(mask(&["sources", "0"]), Some(0));
    assert_eq!(mask(&["sources", "1024"]), Some(1024));
    assert_eq!(mask(&["sources", "vp,HC, sch"]), Some(0x40_8400));
    assert_eq!(mask(&["sources", "usch,generic"]), Some(0x3000_0000));
    assert_eq!(mask(&["sources", "none"]), Some(0));
    assert_eq!(mask(&["sources", "all"]), Some(0x3FFF_FF00));
    // Bit 0 is "extended format", not a group.
    for m in ["0x403", "17", "1"] {
        assert!(bad(&["sources", m], s).contains("sets bit 0"), "{m}");
    }
    assert_eq!(
        bad(&["sources", "0x3"], s),
        "source mask 0x3 sets bit 0, which means extended format, not a group: \
         group bits are 0x3fffff00"
    );
    // Bits above the groups name none: the module would refuse them too.
    assert_eq!(
        bad(&["sources", "0x40000400"], s),
        "source mask 0x40000400 has unknown event source bits 0x40000000: \
         group bits are 0x3fffff00"
    );
    assert!(bad(&["sources", "0x8000000000000000"], s).contains("unknown event source bits"));
    assert_eq!(
        bad(&["sources", "hc,bogus"], s),
        "unknown source 'bogus': known sources are bm, dm, hc, im, ic, ob, pt, vp, \
         synic, synic_ti, am_gva, am, val, vm, sch, th, ti, ke, mm, profiler, usch, \
         generic, all and none, or give a mask like 0x408400"
    );
    // The former names are gone.
    for old in ["admin", "diag", "hypercall", "scheduler"] {
        assert!(bad(&["sources", old], s).starts_with("unknown source"));
    }
    // The help lists exactly the names of the one table.
    let help = printed(&["sources", "--help"]);
    let listed: Vec<&str> = help
        .split("generic.")
        .next()
        .unwrap()
        .rsplit("0x20000000):")
        .next()
        .unwrap()
        .split_whitespace()
        .chain(["generic"])
        .collect();
    let table: Vec<&str> = tlfs::SOURCES.iter().map(|&(n, _)| n).collect();
    assert_eq!(listed, table);
    assert_eq!(bad(&["sources", "0xZZ"], s), "invalid source mask '0xZZ'");
    assert_eq!(bad(&["sources", ","], s), "no source names in ','");
    assert_eq!(bad(&["sources", "hc", "vp"], s), "unexpected argument 'vp'");
}

#[test]
fn help_and_globals() {
    for (args, first) in [
        (&["--help"][..], "usage: hv-evlog [--device PATH] COMMAND"),
        (&["-h"], "usage: hv-evlog [--device PATH] COMMAND"),
        (&["help"], "usage: hv-evlog [--device PATH] COMMAND"),
        (&["help", "help"], "usage: hv-evlog [--device PATH] COMMAND"),
        (&["help", "capture"], "usage: hv-evlog capture [--format"),
        (&["info", "--help"], "usage: hv-evlog info [--json]"),
        (
            &["capture", "--count", "5", "-h"],
            "usage: hv-evlog capture",
        ),
        (&["decode", "--help"], "usage: hv-evlog decode"),
        (&["stats", "--help"], "usage: hv-evlog stats [--json]"),
        (&["flush", "--help"], "usage: hv-evlog flush [--cpu N]"),
        (&["sources", "--help"], "usage: hv-evlog sources [MASK"),
        (&["resize", "--help"], "usage: hv-evlog resize N"),
    ] {
        let help = printed(args);
        assert!(help.starts_with(first), "{args:?}: {help}");
        assert!(
            help.ends_with(
                "exit codes:\n  0   success\n  1   any other failure (I/O error, module of \
                 another version, bad data)\n  2   /dev/hv_evlog not found: load the \
                 module\n  3   permission denied: run as root\n  4   device busy: another \
                 consumer has it open\n  64  bad usage\n"
            ),
            "{args:?}: {help:?}"
        );
    }
    // 'help capture' is 'capture --help', the long form.
    assert_eq!(
        printed(&["help", "capture"]),
        printed(&["capture", "--help"])
    );
    assert_eq!(printed(&["--version"]), "hv-evlog 0.1.0\n");
    assert_eq!(printed(&["-V"]), "hv-evlog 0.1.0\n");
    let device = |args: &[&str]| match parse_str(args) {
        Ok(Parsed::Run(cli)) => cli.device(),
        other => panic!("{other:?}"),
    };
    assert_eq!(device(&["--device", "/tmp/x", "info"]), Path::new("/tmp/x"));
    assert_eq!(
        device(&["capture", "--device=/tmp/y", "--count", "1"]),
        Path::new("/tmp/y")
    );
    // After the command wins.
    assert_eq!(
        device(&["--device", "/a", "flush", "--device", "/b"]),
        Path::new("/b")
    );

    assert_eq!(bad(&[], None), "no command given");
    assert_eq!(bad(&["frobnicate"], None), "unknown command 'frobnicate'");
    assert_eq!(
        bad(&["--verbose", "info"], None),
        "unknown option '--verbose'"
    );
    assert_eq!(bad(&["--device"], None), "option '--device' needs a value");
    assert_eq!(bad(&["help", "nope"], None), "unknown command 'nope'");
    assert_eq!(
        bad(&["help", "info", "x"], Some("help")),
        "unexpected argument 'x'"
    );
}

#[test]
fn non_utf8_values() {
    use std::os::unix::ffi::OsStringExt;
    let bad_bytes = OsString::from_vec(vec![b'a', 0xFF]);
    let err = parse(vec!["capture".into(), "--count".into(), bad_bytes.clone()]).unwrap_err();
    assert_eq!(err.exit_code(), 64);
    assert!(err
        .to_string()
        .starts_with("invalid value 'a\u{FFFD}' for '--count': not valid UTF-8\n\n"));
    // Paths keep their bytes.
    let mut arg = b"--output=".to_vec();
    arg.extend_from_slice(&[b'o', 0xFF]);
    match parse(vec!["capture".into(), OsString::from_vec(arg)]).unwrap() {
        Parsed::Run(Cli {
            command: Command::Capture(c),
            ..
        }) => assert_eq!(
            c.events.output(),
            Some(Path::new(&OsString::from_vec(vec![b'o', 0xFF])))
        ),
        other => panic!("{other:?}"),
    }
    match parse(vec!["decode".into(), bad_bytes.clone()]).unwrap() {
        Parsed::Run(Cli {
            command: Command::Decode(d),
            ..
        }) => assert_eq!(d.input(), Some(Path::new(&bad_bytes))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish"] {
        let script = printed(&["completions", shell]);
        for word in [
            "hv-evlog", "capture", "sources", "duration", "device", "json",
        ] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    assert_eq!(
        bad(&["completions", "tcsh"], Some("completions")),
        "invalid value 'tcsh' for 'SHELL': expected bash, elvish, fish, powershell or zsh"
    );
    let page = printed(&["man"]);
    assert!(page.contains(".TH hv-evlog 1"), "{page}");
    for name in [
        "info", "capture", "decode", "stats", "flush", "sources", "resize",
    ] {
        assert!(page.contains(&format!("hv\\-evlog\\-{name}(1)")), "{name}");
    }
    assert!(page.contains("64  bad usage"), "{page}");
    let page = printed(&["man", "capture"]);
    assert!(page.contains(".TH hv-evlog-capture 1"), "{page}");
    assert!(page.contains("\\-\\-duration"), "{page}");
    assert_eq!(bad(&["man", "nope"], None), "unknown command 'nope'");
}

/// clap's own consistency checks of the whole tree (names, ids, flags).
#[test]
fn command_tree_is_valid() {
    command().debug_assert();
}
