// SPDX-License-Identifier: GPL-2.0

//! The command line: usage texts and a hand-written parser.
//!
//! Options take their value as the next argument or after `=`
//! (`--count 5`, `--count=5`); numbers are decimal or `0x` hex.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::capture::Limits;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::tlfs;
use crate::uapi::{DEVICE, MAX_CPUS};

macro_rules! exit_codes {
    () => {
        "\nexit codes:\n\
         \x20 0   success\n\
         \x20 1   any other failure (I/O error, module of another version, bad data)\n\
         \x20 2   /dev/hv_evlog not found: load the module\n\
         \x20 3   permission denied: run as root\n\
         \x20 4   device busy: another consumer has it open\n\
         \x20 64  bad usage\n"
    };
}

/// `hv-evlog --help`.
pub const MAIN_USAGE: &str = concat!(
    "usage: hv-evlog [--device PATH] COMMAND [OPTIONS]\n\
     \n\
     Consumes Hyper-V hypervisor event logs through /dev/hv_evlog.\n\
     \n\
     commands:\n\
     \x20 info      show the buffer group and the buffer table\n\
     \x20 capture   write the events of completed buffers until a limit\n\
     \x20 decode    write the events of a binary capture file\n\
     \x20 stats     show the module's counters\n\
     \x20 flush     complete the current buffer of one CPU or of all\n\
     \x20 sources   show or set the enabled event sources\n\
     \x20 help      this text, or 'help COMMAND'\n\
     \n\
     options:\n\
     \x20 --device PATH   the device (default /dev/hv_evlog); also after COMMAND\n\
     \x20 -h, --help      help; 'hv-evlog COMMAND --help' for a command\n\
     \x20 -V, --version   the version\n\
     \n\
     The device has one consumer at a time: every command opens it, so none\n\
     runs while a capture does.\n",
    exit_codes!()
);

/// `hv-evlog info --help`.
pub const INFO_USAGE: &str = concat!(
    "usage: hv-evlog info [--json]\n\
     \n\
     Shows the group geometry (type, mode, time basis, buffer count and size,\n\
     threshold, sources) and, per buffer: index, proximity domain, NUMA node,\n\
     the CPUs it serves (like 0-1,4) and its offset in the mapping.\n\
     \n\
     options:\n\
     \x20 --json          one line of JSON instead of the table\n\
     \x20 --device PATH   the device (default /dev/hv_evlog)\n",
    exit_codes!()
);

/// `hv-evlog capture --help`.
pub const CAPTURE_USAGE: &str = concat!(
    "usage: hv-evlog capture [--format text|json|binary|etl|chrome-trace]\n\
     \x20                       [--output FILE]\n\
     \x20                       [--duration SECS] [--count N] [--cpu N]\n\
     \n\
     Maps all buffers read-only, then for each completed buffer writes its\n\
     events and hands the buffer back. Stops at --count, --duration, the end\n\
     of the output's reader, SIGINT (Ctrl-C) or SIGTERM, then prints on stderr\n\
     \x20 hv-evlog: events=N buffers=N lost=N dropped=N malformed=N seconds=S\n\
     (lost: events the hypervisor could not log; dropped: completion records\n\
     the module's queue lost, from its stats; malformed: buffers whose entries\n\
     did not decode to their end). While stderr is a terminal that the events\n\
     do not go to, a progress line shows events/s, buffers and lost events.\n\
     \n\
     options:\n\
     \x20 --format FMT      text (default): 'cpu=N ts=N type=N size=N context=0xN'\n\
     \x20                   json: '{\"cpu\":N,\"ts\":N,\"type\":N,\"size\":N,\"context\":N}'\n\
     \x20                   binary: the capture file format (tools/hv-evlog/README.md),\n\
     \x20                   for 'hv-evlog decode'; not to a terminal\n\
     \x20                   etl: an Event Trace Log for Windows Performance Analyzer\n\
     \x20                   or tracerpt; needs --output FILE\n\
     \x20                   chrome-trace: JSON for Perfetto's UI or chrome://tracing\n\
     \x20 --json            same as --format json\n\
     \x20 -o, --output FILE write to FILE instead of stdout\n\
     \x20 --duration SECS   stop after SECS seconds (decimals allowed)\n\
     \x20 --count N         stop after N events\n\
     \x20 --cpu N           only events of buffers filled by CPU N\n\
     \x20 --device PATH     the device (default /dev/hv_evlog)\n",
    exit_codes!()
);

/// `hv-evlog decode --help`.
pub const DECODE_USAGE: &str = concat!(
    "usage: hv-evlog decode [--format text|json|binary|etl|chrome-trace]\n\
     \x20                      [--output FILE] [--count N] [--cpu N] [FILE]\n\
     \n\
     Reads a capture written by 'hv-evlog capture --format binary' or\n\
     '--format etl' from FILE (standard input if absent or -) and writes its\n\
     events as capture does, without the device. Ends with the summary line\n\
     on stderr.\n\
     \n\
     options:\n\
     \x20 --format FMT      text (default), json, binary (to filter a capture),\n\
     \x20                   etl (needs --output FILE) or chrome-trace\n\
     \x20 --json            same as --format json\n\
     \x20 -o, --output FILE write to FILE instead of stdout\n\
     \x20 --count N         stop after N events\n\
     \x20 --cpu N           only events of buffers filled by CPU N\n",
    exit_codes!()
);

/// `hv-evlog convert --help`.
pub const CONVERT_USAGE: &str = concat!(
    "usage: hv-evlog convert [--format etl|chrome-trace|json|text|binary] IN OUT\n\
     \n\
     Writes the capture IN (binary or ETL) to OUT in another format: all its\n\
     events, without the device. Without --format, OUT's extension names it:\n\
     .etl (ETL), .json (chrome-trace), .jsonl (json), .txt (text), .bin\n\
     (binary). Ends with the summary line on stderr.\n\
     \n\
     options:\n\
     \x20 --format FMT   etl: an Event Trace Log for Windows Performance Analyzer\n\
     \x20                or tracerpt; chrome-trace: JSON for Perfetto's UI or\n\
     \x20                chrome://tracing; json, text, binary: as capture writes\n",
    exit_codes!()
);

/// `hv-evlog report --help`.
pub const REPORT_USAGE: &str = concat!(
    "usage: hv-evlog report [--json] FILE\n\
     \n\
     Summarizes the capture FILE (binary or ETL): its summary line as capture\n\
     prints it (dropped counted from gaps in the completion sequence), the\n\
     time span, buffer fill levels, and per CPU its events, buffers, lost\n\
     events and rate over time; then the events per type.\n\
     \n\
     options:\n\
     \x20 --json   one line of JSON\n",
    exit_codes!()
);

/// `hv-evlog stats --help`.
pub const STATS_USAGE: &str = concat!(
    "usage: hv-evlog stats [--json]\n\
     \n\
     Shows the module's counters: completions, releases, events_lost,\n\
     records_dropped, flushes; each counted since this open of the device\n\
     (the stats command's own: buffers already complete, nothing released)\n\
     and over the module's lifetime (every consumer's since the module was\n\
     loaded): after a capture, the second column shows what it consumed.\n\
     \n\
     options:\n\
     \x20 --json          one line of JSON\n\
     \x20 --device PATH   the device (default /dev/hv_evlog)\n",
    exit_codes!()
);

/// `hv-evlog flush --help`.
pub const FLUSH_USAGE: &str = concat!(
    "usage: hv-evlog flush [--cpu N]\n\
     \n\
     Completes the buffer CPU N is filling now, or those of all CPUs, so that\n\
     a consumer gets the events logged so far.\n\
     \n\
     options:\n\
     \x20 --cpu N         only CPU N\n\
     \x20 --device PATH   the device (default /dev/hv_evlog)\n",
    exit_codes!()
);

/// `hv-evlog sources --help`.
pub const SOURCES_USAGE: &str = concat!(
    "usage: hv-evlog sources [MASK | NAME[,NAME...] | all | none]\n\
     \n\
     Without an argument, shows the enabled event source groups. With one,\n\
     enables exactly those: a group mask (decimal or 0x hex; bit 0 means\n\
     extended format and is refused) or Microsoft's group names, then shows\n\
     the mask the module reports; none stops logging. Names (bits 0x100 to\n\
     0x20000000): bm dm hc im ic ob pt vp synic synic_ti am_gva am val vm\n\
     sch th ti ke mm profiler usch generic.\n\
     \n\
     options:\n\
     \x20 --device PATH   the device (default /dev/hv_evlog)\n",
    exit_codes!()
);

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Print this help text on stdout.
    Help(&'static str),
    /// Print the version.
    Version,
    /// `info`.
    Info {
        /// JSON instead of a table.
        json: bool,
    },
    /// `capture`.
    Capture(Capture),
    /// `decode`.
    Decode(Decode),
    /// `convert`.
    Convert(Convert),
    /// `report`.
    Report {
        /// The capture file.
        input: PathBuf,
        /// JSON instead of text.
        json: bool,
    },
    /// `stats`.
    Stats {
        /// JSON instead of lines.
        json: bool,
    },
    /// `flush`: one CPU, or all.
    Flush {
        /// The CPU; `None` for all.
        cpu: Option<u32>,
    },
    /// `sources`: show (`None`) or set.
    Sources {
        /// The mask to set.
        mask: Option<u64>,
    },
}

/// `capture` options.
#[derive(Clone, Debug, PartialEq)]
pub struct Capture {
    /// Output format.
    pub format: Format,
    /// Output file; `None` for stdout.
    pub output: Option<PathBuf>,
    /// Count, CPU and duration limits.
    pub limits: Limits,
}

/// `decode` options.
#[derive(Clone, Debug, PartialEq)]
pub struct Decode {
    /// Capture file; `None` for stdin.
    pub input: Option<PathBuf>,
    /// Output format.
    pub format: Format,
    /// Output file; `None` for stdout.
    pub output: Option<PathBuf>,
    /// Count and CPU limits.
    pub limits: Limits,
}

/// `convert` options.
#[derive(Clone, Debug, PartialEq)]
pub struct Convert {
    /// Capture file.
    pub input: PathBuf,
    /// Output file.
    pub output: PathBuf,
    /// Output format: from `--format` or the output's extension.
    pub format: Format,
}

/// The parsed command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Cli {
    /// The device path.
    pub device: PathBuf,
    /// The command.
    pub command: Command,
}

/// One argument, split.
enum Arg {
    /// `--name`, `--name=value` or `-x`.
    Opt(String, Option<OsString>),
    /// Anything else, or anything after `--`.
    Pos(OsString),
}

/// The arguments not yet consumed, and the usage of the command at hand.
struct Args {
    rest: VecDeque<OsString>,
    usage: &'static str,
    positional_only: bool,
}

impl Args {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::usage(message, self.usage)
    }

    fn next(&mut self) -> Option<Arg> {
        let arg = self.rest.pop_front()?;
        if self.positional_only {
            return Some(Arg::Pos(arg));
        }
        let lossy = arg.to_string_lossy();
        if lossy == "--" {
            self.positional_only = true;
            return self.next();
        }
        if let Some(long) = lossy.strip_prefix("--") {
            return Some(match long.split_once('=') {
                Some((name, _)) => {
                    // The value keeps its raw bytes: cut at the first '='.
                    let raw = arg.as_bytes();
                    let at = raw.iter().position(|&b| b == b'=').unwrap_or(raw.len());
                    let value = OsStr::from_bytes(&raw[at + 1..]).to_os_string();
                    Arg::Opt(format!("--{name}"), Some(value))
                }
                None => Arg::Opt(format!("--{long}"), None),
            });
        }
        if lossy.len() > 1 && lossy.starts_with('-') {
            return Some(Arg::Opt(lossy.into_owned(), None));
        }
        Some(Arg::Pos(arg))
    }

    /// The value of option `name`: attached with `=`, or the next argument.
    fn value(&mut self, name: &str, attached: Option<OsString>) -> Result<OsString> {
        attached
            .or_else(|| self.rest.pop_front())
            .ok_or_else(|| self.err(format!("option '{name}' needs a value")))
    }

    /// The value of option `name` as UTF-8 text.
    fn text(&mut self, name: &str, attached: Option<OsString>) -> Result<String> {
        let value = self.value(name, attached)?;
        value.into_string().map_err(|v| {
            self.err(format!(
                "invalid value '{}' for '{name}': not valid UTF-8",
                v.to_string_lossy()
            ))
        })
    }

    fn flag(&self, name: &str, attached: Option<OsString>) -> Result<()> {
        match attached {
            Some(_) => Err(self.err(format!("option '{name}' takes no value"))),
            None => Ok(()),
        }
    }

    fn invalid(&self, name: &str, value: &str, why: &str) -> Error {
        self.err(format!("invalid value '{value}' for '{name}': {why}"))
    }

    fn number(&mut self, name: &str, attached: Option<OsString>) -> Result<u64> {
        let text = self.text(name, attached)?;
        parse_number(&text).ok_or_else(|| self.invalid(name, &text, "expected a number"))
    }

    fn cpu(&mut self, name: &str, attached: Option<OsString>) -> Result<u32> {
        let text = self.text(name, attached)?;
        match parse_number(&text) {
            Some(cpu) if cpu < u64::from(MAX_CPUS) => Ok(cpu as u32),
            Some(_) => Err(self.invalid(name, &text, "CPUs are 0-1023")),
            None => Err(self.invalid(name, &text, "expected a number")),
        }
    }

    fn count(&mut self, name: &str, attached: Option<OsString>) -> Result<u64> {
        match self.number(name, attached)? {
            0 => Err(self.invalid(name, "0", "must be at least 1")),
            n => Ok(n),
        }
    }

    fn duration(&mut self, name: &str, attached: Option<OsString>) -> Result<Duration> {
        let text = self.text(name, attached)?;
        text.parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| {
                self.invalid(
                    name,
                    &text,
                    "expected a positive number of seconds, like 10 or 0.5",
                )
            })
    }

    fn format(&mut self, name: &str, attached: Option<OsString>) -> Result<Format> {
        let text = self.text(name, attached)?;
        Format::NAMES
            .iter()
            .find(|(n, _)| *n == text)
            .map(|&(_, f)| f)
            .ok_or_else(|| {
                self.invalid(
                    name,
                    &text,
                    "expected text, json, binary, etl or chrome-trace",
                )
            })
    }

    fn unknown(&self, name: &str, command: &str) -> Error {
        self.err(format!("unknown option '{name}' for '{command}'"))
    }

    fn unexpected(&self, arg: &OsString) -> Error {
        self.err(format!("unexpected argument '{}'", arg.to_string_lossy()))
    }
}

/// Decimal, or hex with `0x`.
pub fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

/// A `sources` argument: a number, `all`, `none` or a list of names.
pub fn parse_source_mask(text: &str) -> std::result::Result<u64, String> {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let mask = parse_number(text).ok_or_else(|| format!("invalid source mask '{text}'"))?;
        // The module refuses it too (EINVAL); say why before asking.
        if mask & tlfs::SOURCES_EXTENDED != 0 {
            return Err(format!(
                "source mask {mask:#x} sets bit 0, which means extended format, not a group: \
                 group bits are {:#x}",
                tlfs::SOURCES_ALL
            ));
        }
        return Ok(mask);
    }
    match text {
        "all" => return Ok(tlfs::SOURCES_ALL),
        "none" => return Ok(0),
        _ => {}
    }
    match tlfs::parse_sources(text) {
        Ok(0) => Err(format!("no source names in '{text}'")),
        Ok(mask) => Ok(mask),
        Err(name) => Err(format!(
            "unknown source '{name}': known sources are {}, all and none, \
             or give a mask like 0x408400",
            tlfs::SOURCES
                .iter()
                .map(|&(n, _)| n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli> {
    let mut a = Args {
        rest: args.into_iter().collect(),
        usage: MAIN_USAGE,
        positional_only: false,
    };
    let mut device = PathBuf::from(DEVICE);
    let command = loop {
        match a.next() {
            None => return Err(a.err("no command given")),
            Some(Arg::Pos(cmd)) => break cmd.to_string_lossy().into_owned(),
            Some(Arg::Opt(name, value)) => match name.as_str() {
                "--device" => device = a.value(&name, value)?.into(),
                "-h" | "--help" => {
                    return Ok(Cli {
                        device,
                        command: Command::Help(MAIN_USAGE),
                    })
                }
                "-V" | "--version" => {
                    return Ok(Cli {
                        device,
                        command: Command::Version,
                    })
                }
                _ => return Err(a.err(format!("unknown option '{name}'"))),
            },
        }
    };
    a.usage = match command.as_str() {
        "info" => INFO_USAGE,
        "capture" => CAPTURE_USAGE,
        "decode" => DECODE_USAGE,
        "convert" => CONVERT_USAGE,
        "report" => REPORT_USAGE,
        "stats" => STATS_USAGE,
        "flush" => FLUSH_USAGE,
        "sources" => SOURCES_USAGE,
        "help" => MAIN_USAGE,
        _ => return Err(a.err(format!("unknown command '{command}'"))),
    };
    let command = match command.as_str() {
        "help" => help(&mut a)?,
        "info" | "stats" => {
            let mut json = false;
            while let Some(arg) = a.next() {
                match arg {
                    Arg::Opt(name, v) if name == "--json" => {
                        a.flag(&name, v)?;
                        json = true;
                    }
                    Arg::Opt(name, v) if name == "--device" => device = a.value(&name, v)?.into(),
                    Arg::Opt(name, _) if name == "-h" || name == "--help" => {
                        return Ok(Cli {
                            device,
                            command: Command::Help(a.usage),
                        })
                    }
                    Arg::Opt(name, _) => return Err(a.unknown(&name, &command)),
                    Arg::Pos(arg) => return Err(a.unexpected(&arg)),
                }
            }
            if command == "info" {
                Command::Info { json }
            } else {
                Command::Stats { json }
            }
        }
        "capture" | "decode" => {
            let mut format = Format::Text;
            let mut output = None;
            let mut input = None;
            let mut limits = Limits::default();
            while let Some(arg) = a.next() {
                match arg {
                    Arg::Opt(name, v) => match name.as_str() {
                        "--format" => format = a.format(&name, v)?,
                        "--json" => {
                            a.flag(&name, v)?;
                            format = Format::Json;
                        }
                        "-o" | "--output" => {
                            let path = a.value(&name, v)?;
                            output = (path != "-").then(|| path.into());
                        }
                        "--count" => limits.count = Some(a.count(&name, v)?),
                        "--cpu" => limits.cpu = Some(a.cpu(&name, v)?),
                        "--duration" if command == "capture" => {
                            limits.duration = Some(a.duration(&name, v)?)
                        }
                        "--device" if command == "capture" => device = a.value(&name, v)?.into(),
                        "-h" | "--help" => {
                            return Ok(Cli {
                                device,
                                command: Command::Help(a.usage),
                            })
                        }
                        _ => return Err(a.unknown(&name, &command)),
                    },
                    Arg::Pos(arg) if command == "decode" && input.is_none() => {
                        input = Some((arg != "-").then(|| PathBuf::from(&arg)));
                    }
                    Arg::Pos(arg) => return Err(a.unexpected(&arg)),
                }
            }
            if command == "capture" {
                Command::Capture(Capture {
                    format,
                    output,
                    limits,
                })
            } else {
                Command::Decode(Decode {
                    input: input.flatten(),
                    format,
                    output,
                    limits,
                })
            }
        }
        "convert" | "report" => {
            let mut format = None;
            let mut json = false;
            let mut files = Vec::new();
            while let Some(arg) = a.next() {
                match arg {
                    Arg::Opt(name, v) => match name.as_str() {
                        "--format" if command == "convert" => format = Some(a.format(&name, v)?),
                        "--json" if command == "report" => {
                            a.flag(&name, v)?;
                            json = true;
                        }
                        "-h" | "--help" => {
                            return Ok(Cli {
                                device,
                                command: Command::Help(a.usage),
                            })
                        }
                        _ => return Err(a.unknown(&name, &command)),
                    },
                    Arg::Pos(arg) if files.len() < 1 + usize::from(command == "convert") => {
                        files.push(PathBuf::from(arg))
                    }
                    Arg::Pos(arg) => return Err(a.unexpected(&arg)),
                }
            }
            let mut files = files.into_iter();
            let input = files.next().ok_or_else(|| a.err("no capture file given"))?;
            if command == "report" {
                Command::Report { input, json }
            } else {
                let output = files.next().ok_or_else(|| a.err("no output file given"))?;
                let format = format
                    .or_else(|| Format::from_extension(&output))
                    .ok_or_else(|| {
                        a.err(format!(
                            "cannot tell the format from '{}': give --format, or name it \
                             .etl, .json (chrome-trace), .jsonl, .txt or .bin",
                            output.display()
                        ))
                    })?;
                Command::Convert(Convert {
                    input,
                    output,
                    format,
                })
            }
        }
        "flush" => {
            let mut cpu = None;
            while let Some(arg) = a.next() {
                match arg {
                    Arg::Opt(name, v) => match name.as_str() {
                        "--cpu" => cpu = Some(a.cpu(&name, v)?),
                        "--device" => device = a.value(&name, v)?.into(),
                        "-h" | "--help" => {
                            return Ok(Cli {
                                device,
                                command: Command::Help(a.usage),
                            })
                        }
                        _ => return Err(a.unknown(&name, &command)),
                    },
                    Arg::Pos(arg) => return Err(a.unexpected(&arg)),
                }
            }
            Command::Flush { cpu }
        }
        _ => {
            // "sources"
            let mut mask = None;
            while let Some(arg) = a.next() {
                match arg {
                    Arg::Opt(name, v) => match name.as_str() {
                        "--device" => device = a.value(&name, v)?.into(),
                        "-h" | "--help" => {
                            return Ok(Cli {
                                device,
                                command: Command::Help(a.usage),
                            })
                        }
                        _ => return Err(a.unknown(&name, &command)),
                    },
                    Arg::Pos(arg) if mask.is_none() => {
                        let text = arg.to_string_lossy();
                        mask = Some(parse_source_mask(&text).map_err(|m| a.err(m))?);
                    }
                    Arg::Pos(arg) => return Err(a.unexpected(&arg)),
                }
            }
            Command::Sources { mask }
        }
    };
    Ok(Cli { device, command })
}

/// `help [COMMAND]`.
fn help(a: &mut Args) -> Result<Command> {
    let usage = match a.next() {
        None => MAIN_USAGE,
        Some(Arg::Pos(topic)) => match topic.to_string_lossy().as_ref() {
            "info" => INFO_USAGE,
            "capture" => CAPTURE_USAGE,
            "decode" => DECODE_USAGE,
            "convert" => CONVERT_USAGE,
            "report" => REPORT_USAGE,
            "stats" => STATS_USAGE,
            "flush" => FLUSH_USAGE,
            "sources" => SOURCES_USAGE,
            "help" => MAIN_USAGE,
            other => return Err(a.err(format!("unknown command '{other}'"))),
        },
        Some(Arg::Opt(name, _)) => return Err(a.unknown(&name, "help")),
    };
    if let Some(arg) = a.rest.front().cloned() {
        return Err(a.unexpected(&arg));
    }
    Ok(Command::Help(usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Cli> {
        parse(args.iter().map(OsString::from))
    }

    fn ok(args: &[&str]) -> Command {
        match parse_str(args) {
            Ok(cli) => {
                assert_eq!(cli.device, PathBuf::from("/dev/hv_evlog"), "{args:?}");
                cli.command
            }
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    /// The error's first line and its exit code; checks the usage follows.
    fn bad(args: &[&str], usage: &str) -> String {
        let err = parse_str(args).expect_err("should fail");
        assert_eq!(err.exit_code(), 64, "{args:?}");
        let text = err.to_string();
        let (first, rest) = text.split_once("\n\n").unwrap();
        assert_eq!(rest, usage.trim_end(), "{args:?}");
        first.to_string()
    }

    fn capture(format: Format, output: Option<&str>, limits: Limits) -> Command {
        Command::Capture(Capture {
            format,
            output: output.map(PathBuf::from),
            limits,
        })
    }

    #[test]
    fn info_and_stats() {
        assert_eq!(ok(&["info"]), Command::Info { json: false });
        assert_eq!(ok(&["info", "--json"]), Command::Info { json: true });
        assert_eq!(ok(&["stats"]), Command::Stats { json: false });
        assert_eq!(ok(&["stats", "--json"]), Command::Stats { json: true });
        assert_eq!(
            bad(&["info", "--json=yes"], INFO_USAGE),
            "option '--json' takes no value"
        );
        assert_eq!(
            bad(&["info", "--table"], INFO_USAGE),
            "unknown option '--table' for 'info'"
        );
        assert_eq!(bad(&["stats", "x"], STATS_USAGE), "unexpected argument 'x'");
    }

    #[test]
    fn capture_options() {
        assert_eq!(
            ok(&["capture"]),
            capture(Format::Text, None, Limits::default())
        );
        assert_eq!(
            ok(&[
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
            capture(
                Format::Binary,
                Some("out.bin"),
                Limits {
                    count: Some(10000),
                    cpu: Some(3),
                    duration: Some(Duration::from_millis(1500)),
                }
            )
        );
        assert_eq!(
            ok(&["capture", "--json", "--output=-", "--cpu=1023"]),
            capture(
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
            ok(&["capture", "--json", "--format", "text"]),
            capture(Format::Text, None, Limits::default())
        );
    }

    #[test]
    fn capture_errors() {
        let u = CAPTURE_USAGE;
        assert_eq!(
            bad(&["capture", "--format", "xml"], u),
            "invalid value 'xml' for '--format': expected text, json, binary, etl or \
             chrome-trace"
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
    fn decode_options() {
        assert_eq!(
            ok(&["decode"]),
            Command::Decode(Decode {
                input: None,
                format: Format::Text,
                output: None,
                limits: Limits::default(),
            })
        );
        assert_eq!(
            ok(&["decode", "--json", "cap.bin", "--cpu", "2", "--count", "7"]),
            Command::Decode(Decode {
                input: Some("cap.bin".into()),
                format: Format::Json,
                output: None,
                limits: Limits {
                    count: Some(7),
                    cpu: Some(2),
                    duration: None,
                },
            })
        );
        assert_eq!(
            ok(&["decode", "-"]),
            Command::Decode(Decode {
                input: None,
                format: Format::Text,
                output: None,
                limits: Limits::default(),
            })
        );
        // A file name that looks like an option, after "--".
        match ok(&["decode", "--", "--weird"]) {
            Command::Decode(d) => assert_eq!(d.input, Some("--weird".into())),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            bad(&["decode", "a", "b"], DECODE_USAGE),
            "unexpected argument 'b'"
        );
        assert_eq!(
            bad(&["decode", "--duration", "1"], DECODE_USAGE),
            "unknown option '--duration' for 'decode'"
        );
    }

    #[test]
    fn flush_and_sources() {
        assert_eq!(ok(&["flush"]), Command::Flush { cpu: None });
        assert_eq!(
            ok(&["flush", "--cpu", "5"]),
            Command::Flush { cpu: Some(5) }
        );
        assert_eq!(
            bad(&["flush", "--cpu"], FLUSH_USAGE),
            "option '--cpu' needs a value"
        );
        assert_eq!(bad(&["flush", "3"], FLUSH_USAGE), "unexpected argument '3'");

        assert_eq!(ok(&["sources"]), Command::Sources { mask: None });
        assert_eq!(
            ok(&["sources", "0x8400"]),
            Command::Sources { mask: Some(0x8400) }
        );
        assert_eq!(ok(&["sources", "0"]), Command::Sources { mask: Some(0) });
        assert_eq!(
            ok(&["sources", "1024"]),
            Command::Sources { mask: Some(1024) }
        );
        assert_eq!(
            ok(&["sources", "vp,HC, sch"]),
            Command::Sources {
                mask: Some(0x40_8400)
            }
        );
        assert_eq!(
            ok(&["sources", "usch,generic"]),
            Command::Sources {
                mask: Some(0x3000_0000)
            }
        );
        assert_eq!(ok(&["sources", "none"]), Command::Sources { mask: Some(0) });
        assert_eq!(
            ok(&["sources", "all"]),
            Command::Sources {
                mask: Some(0x3FFF_FF00)
            }
        );
        // Bit 0 is "extended format", not a group.
        for mask in ["0x403", "17", "1"] {
            assert!(
                bad(&["sources", mask], SOURCES_USAGE).contains("sets bit 0"),
                "{mask}"
            );
        }
        assert_eq!(
            bad(&["sources", "0x3"], SOURCES_USAGE),
            "source mask 0x3 sets bit 0, which means extended format, not a group: \
             group bits are 0x3fffff00"
        );
        assert_eq!(
            bad(&["sources", "hc,bogus"], SOURCES_USAGE),
            "unknown source 'bogus': known sources are bm, dm, hc, im, ic, ob, pt, vp, \
             synic, synic_ti, am_gva, am, val, vm, sch, th, ti, ke, mm, profiler, usch, \
             generic, all and none, or give a mask like 0x408400"
        );
        // The former names are gone.
        for old in ["admin", "diag", "hypercall", "scheduler"] {
            assert!(bad(&["sources", old], SOURCES_USAGE).starts_with("unknown source"));
        }
        // The help lists exactly the names of the one table.
        let listed: Vec<&str> = SOURCES_USAGE
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
        assert_eq!(
            bad(&["sources", "0xZZ"], SOURCES_USAGE),
            "invalid source mask '0xZZ'"
        );
        assert_eq!(
            bad(&["sources", ","], SOURCES_USAGE),
            "no source names in ','"
        );
        assert_eq!(
            bad(&["sources", "hc", "vp"], SOURCES_USAGE),
            "unexpected argument 'vp'"
        );
    }

    #[test]
    fn help_and_globals() {
        for (args, usage) in [
            (&["--help"][..], MAIN_USAGE),
            (&["-h"], MAIN_USAGE),
            (&["help"], MAIN_USAGE),
            (&["help", "capture"], CAPTURE_USAGE),
            (&["info", "--help"], INFO_USAGE),
            (&["capture", "--count", "5", "-h"], CAPTURE_USAGE),
            (&["decode", "--help"], DECODE_USAGE),
            (&["stats", "--help"], STATS_USAGE),
            (&["flush", "--help"], FLUSH_USAGE),
            (&["sources", "--help"], SOURCES_USAGE),
        ] {
            assert_eq!(ok(args), Command::Help(usage), "{args:?}");
        }
        assert_eq!(ok(&["--version"]), Command::Version);
        for usage in [
            MAIN_USAGE,
            INFO_USAGE,
            CAPTURE_USAGE,
            DECODE_USAGE,
            STATS_USAGE,
            FLUSH_USAGE,
            SOURCES_USAGE,
        ] {
            assert!(usage.starts_with("usage: hv-evlog"));
            assert!(usage.ends_with(
                "exit codes:\n  0   success\n  1   any other failure (I/O error, module of \
                 another version, bad data)\n  2   /dev/hv_evlog not found: load the module\n  \
                 3   permission denied: run as root\n  4   device busy: another consumer has \
                 it open\n  64  bad usage\n"
            ));
        }
        let cli = parse_str(&["--device", "/tmp/x", "info"]).unwrap();
        assert_eq!(cli.device, PathBuf::from("/tmp/x"));
        let cli = parse_str(&["capture", "--device=/tmp/y", "--count", "1"]).unwrap();
        assert_eq!(cli.device, PathBuf::from("/tmp/y"));

        assert_eq!(bad(&[], MAIN_USAGE), "no command given");
        assert_eq!(
            bad(&["frobnicate"], MAIN_USAGE),
            "unknown command 'frobnicate'"
        );
        assert_eq!(
            bad(&["--verbose", "info"], MAIN_USAGE),
            "unknown option '--verbose'"
        );
        assert_eq!(
            bad(&["--device"], MAIN_USAGE),
            "option '--device' needs a value"
        );
        assert_eq!(bad(&["help", "nope"], MAIN_USAGE), "unknown command 'nope'");
        assert_eq!(
            bad(&["help", "info", "x"], MAIN_USAGE),
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
        let cli = parse(vec!["capture".into(), OsString::from_vec(arg)]).unwrap();
        match cli.command {
            Command::Capture(c) => assert_eq!(
                c.output,
                Some(PathBuf::from(OsString::from_vec(vec![b'o', 0xFF])))
            ),
            other => panic!("{other:?}"),
        }
        let cli = parse(vec!["decode".into(), bad_bytes.clone()]).unwrap();
        match cli.command {
            Command::Decode(d) => assert_eq!(d.input, Some(PathBuf::from(bad_bytes))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("0x2A"), Some(42));
        assert_eq!(parse_number("0XfF"), Some(255));
        assert_eq!(parse_number("+1"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("1_000"), None);
        assert_eq!(parse_number("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_number("0x10000000000000000"), None);
    }
}
