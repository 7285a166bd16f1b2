// SPDX-License-Identifier: GPL-2.0

//! The command line, defined once with clap's derive: the parser, `--help`,
//! `help COMMAND` and the usage printed after a bad command line all come
//! from the types below and their doc comments.
//!
//! A new command is one more variant of [`Command`] (its doc comment is its
//! help) and one more arm in `main.rs`'s `run`. Commands that write events
//! flatten [`Events`] and so take the same output options.
//!
//! Options take their value as the next argument or after `=` (`--count 5`,
//! `--count=5`), even when it starts with `-`; numbers are decimal or `0x`
//! hex; the last of repeated options wins. Clap's own error texts are not
//! used: [`usage_error`] words each kind of mistake as one short line and
//! appends the help of the command concerned.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Arg, ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

mod mistakes;
#[cfg(test)]
mod tests;
mod values;

use mistakes::{clap_outcome, usage_error};
use values::{
    parse_buffer_count, parse_count, parse_cpu, parse_duration, parse_source_mask, Checked,
};

use crate::capture::Limits;
use crate::error::{Error, Result, EXIT_CODES};
use crate::output::Format;
use crate::uapi::DEVICE;

/// Consumes Hyper-V hypervisor event logs through /dev/hv_evlog.
///
/// The device has one consumer at a time: info, stats and capture open it as
/// one, so none of them runs while a capture does; flush, sources and resize
/// open it as a control file and run beside a capture.
#[derive(Clone, Debug, PartialEq, Parser)]
#[command(
    name = "hv-evlog",
    version,
    override_usage = "hv-evlog [--device PATH] COMMAND [OPTIONS]",
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "commands",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The device for every command; `None` before the command.
    #[command(flatten)]
    device: DeviceArg,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--device PATH`, accepted before the command and after each command that
/// opens the device; the one after the command wins.
#[derive(Args, Clone, Debug, Default, PartialEq)]
pub struct DeviceArg {
    /// the device (default /dev/hv_evlog)
    #[arg(
        id = "device",
        long = "device",
        value_name = "PATH",
        allow_hyphen_values = true
    )]
    path: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum Command {
    /// show the buffer group and the buffer table
    ///
    /// Shows the group geometry (type, mode, time basis, buffer count and
    /// size, threshold, sources) and, per buffer: index, proximity domain,
    /// NUMA node, the CPUs it serves (like 0-1,4) and its offset in the
    /// mapping.
    #[command(override_usage = "hv-evlog info [--json]")]
    Info {
        /// one line of JSON instead of the table
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// write the events of completed buffers until a limit
    ///
    /// Maps each buffer read-only, following the buffer table as a resize
    /// changes it, then for each completed buffer writes its events and
    /// hands the buffer back. Stops at --count, --duration, the end of the
    /// output's reader, SIGINT (Ctrl-C) or SIGTERM, then prints on stderr
    /// 'hv-evlog: events=N buffers=N lost=N dropped=N malformed=N
    /// seconds=S' (lost: events the hypervisor could not log; dropped:
    /// completion records the module's queue lost, from its stats;
    /// malformed: buffers whose entries did not decode to their end; in
    /// circular mode ' overwritten=N' follows when the hypervisor restarted
    /// N complete buffers while they were copied), after
    /// 'hv-evlog: the buffer table changed N times (resize)' if it did.
    /// While stderr is a terminal that the events do not go to, a progress
    /// line shows events/s, buffers and lost events.
    #[command(
        override_usage = "hv-evlog capture [--format text|json|binary|etl|chrome-trace]\n\
                      \x20                       [--output FILE] [--duration SECS] [--count N]\n\
                      \x20                       [--cpu N] [--check]"
    )]
    Capture(Capture),
    /// write the events of a capture file (binary or ETL)
    ///
    /// Reads a capture written by 'hv-evlog capture --format binary' or
    /// '--format etl' from FILE (standard input if absent or -) and writes
    /// its events as capture does, without the device. Ends with the
    /// summary line on stderr.
    #[command(
        override_usage = "hv-evlog decode [--format text|json|binary|etl|chrome-trace]\n\
                      \x20                      [--output FILE] [--count N] [--cpu N] [FILE]"
    )]
    Decode(Decode),
    /// write a capture file in another format (ETL, trace, ...)
    ///
    /// Writes the capture IN (binary or ETL) to OUT in another format: all
    /// its events, without the device. Without --format, OUT's extension
    /// names it: .etl (etl), .json (chrome-trace), .jsonl (json), .txt
    /// (text), .bin (binary). Ends with the summary line on stderr.
    #[command(
        override_usage = "hv-evlog convert [--format etl|chrome-trace|json|text|binary] IN OUT"
    )]
    Convert(Convert),
    /// summarize a capture file: events per CPU and type, rate, fill
    ///
    /// Summarizes the capture FILE (binary or ETL): its summary line as
    /// capture prints it (dropped counted from gaps in the completion
    /// sequence), the time span, buffer fill levels, and per CPU its
    /// events, buffers, lost events and rate over time; then the events per
    /// type.
    #[command(override_usage = "hv-evlog report [--json] FILE")]
    Report {
        /// one line of JSON
        #[arg(long)]
        json: bool,
        /// the capture file
        #[arg(value_name = "FILE")]
        input: PathBuf,
    },
    /// show the module's counters
    ///
    /// Shows the module's counters: completions, releases, events_lost,
    /// records_dropped, flushes; each counted since this open of the device
    /// (the stats command's own: buffers already complete, nothing
    /// released) and over the module's lifetime (every consumer's since the
    /// module was loaded): after a capture, the second column shows what it
    /// consumed.
    #[command(override_usage = "hv-evlog stats [--json]")]
    Stats {
        /// one line of JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// complete the current buffer of one CPU or of all
    ///
    /// Completes the buffer CPU N is filling now, or those of all CPUs, so
    /// that a consumer gets the events logged so far.
    #[command(override_usage = "hv-evlog flush [--cpu N]")]
    Flush {
        /// only CPU N
        #[arg(long, value_name = "N", value_parser = Checked::value(parse_cpu), allow_hyphen_values = true)]
        cpu: Option<u32>,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// set the number of buffers per CPU while logging
    ///
    /// Gives every served CPU N buffers, within the group maximum set at
    /// load (max_buffers), while logging goes on. New buffers are created,
    /// mapped and announced to a running capture, which maps them; buffers
    /// taken out leave the rotation once free and are deleted when the
    /// capture has unmapped them (it does so on its own). Prints the new
    /// buffer count: 'buffers N of at most M, generation G'. A count the
    /// maximum cannot hold is refused with the numbers: N per CPU x the
    /// served CPUs, the maximum, and the most per CPU that fits.
    #[command(override_usage = "hv-evlog resize N")]
    Resize {
        /// buffers per CPU, 1-512
        #[arg(value_name = "N", value_parser = Checked::whole(parse_buffer_count))]
        per_cpu: u32,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// show or set the enabled event sources
    ///
    /// Without an argument, shows the enabled event source groups. With one,
    /// enables exactly those: a group mask (decimal or 0x hex; bit 0 means
    /// extended format and is refused, as are bits of no group) or
    /// Microsoft's group names, then shows the mask the module reports;
    /// none stops logging. Names (bits 0x100 to 0x20000000): bm dm hc im ic
    /// ob pt vp synic synic_ti am_gva am val vm sch th ti ke mm profiler usch
    /// generic.
    #[command(override_usage = "hv-evlog sources [MASK | NAME[,NAME...] | all | none]")]
    Sources {
        /// the groups to enable: MASK, NAME[,NAME...], all or none
        #[arg(value_name = "SOURCES", value_parser = Checked::whole(parse_source_mask))]
        mask: Option<u64>,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// this text, or 'help COMMAND'
    #[command(override_usage = "hv-evlog help [COMMAND]")]
    Help {
        /// the command to describe
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
    /// print a shell completion script
    ///
    /// Writes the completion script for SHELL on stdout, generated from the
    /// same definitions as the parser, e.g. 'hv-evlog completions bash >
    /// /usr/share/bash-completion/completions/hv-evlog'.
    #[command(override_usage = "hv-evlog completions SHELL")]
    Completions {
        /// the shell
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// print the manual page
    ///
    /// Writes the manual page (roff) of the tool, or of COMMAND, on stdout,
    /// generated from the same definitions as this help, e.g. 'hv-evlog man
    /// | man -l -'.
    #[command(override_usage = "hv-evlog man [COMMAND]")]
    Man {
        /// the command whose page to write
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// The output options of every command that writes events.
#[derive(Args, Clone, Debug, Default, PartialEq)]
pub struct Events {
    /// how to write the events (default text)
    #[arg(
        long,
        value_enum,
        value_name = "FMT",
        overrides_with = "json",
        allow_hyphen_values = true
    )]
    format: Option<Format>,
    /// same as --format json
    #[arg(long, overrides_with = "format")]
    json: bool,
    /// write to FILE instead of stdout (- for stdout)
    #[arg(short, long, value_name = "FILE", allow_hyphen_values = true)]
    output: Option<PathBuf>,
    /// stop after N events
    #[arg(long, value_name = "N", value_parser = Checked::value(parse_count), allow_hyphen_values = true)]
    count: Option<u64>,
    /// only events of buffers filled by CPU N
    #[arg(long, value_name = "N", value_parser = Checked::value(parse_cpu), allow_hyphen_values = true)]
    cpu: Option<u32>,
}

impl Events {
    /// The format: the last of `--format` and `--json` (they override each
    /// other), text if neither.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format.unwrap_or(Format::Text)
        }
    }

    /// The output file; `None` for stdout (no option, or `-`).
    pub fn output(&self) -> Option<&Path> {
        self.output.as_deref().filter(|p| p.as_os_str() != "-")
    }
}

/// `capture` options.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct Capture {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub events: Events,
    /// stop after SECS seconds (decimals allowed)
    #[arg(long, value_name = "SECS", value_parser = Checked::value(parse_duration), allow_hyphen_values = true)]
    duration: Option<Duration>,
    /// check the module's bookkeeping: record sequences without a gap
    /// beyond the records dropped, counters never going backwards, and at
    /// the end completions = releases + pending + dropped (one more stderr
    /// line; exit 1 if one fails)
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    device: DeviceArg,
}

impl Capture {
    /// Count, CPU and duration limits.
    pub fn limits(&self) -> Limits {
        Limits {
            count: self.events.count,
            cpu: self.events.cpu,
            duration: self.duration,
        }
    }
}

/// `decode` options.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct Decode {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub events: Events,
    /// the capture file (standard input if absent or -)
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

impl Decode {
    /// The capture file; `None` for stdin (no argument, or `-`).
    pub fn input(&self) -> Option<&Path> {
        self.input.as_deref().filter(|p| p.as_os_str() != "-")
    }

    /// Count and CPU limits (a file has no duration).
    pub fn limits(&self) -> Limits {
        Limits {
            count: self.events.count,
            cpu: self.events.cpu,
            duration: None,
        }
    }
}

/// `convert` options.
#[derive(Args, Clone, Debug, PartialEq)]
pub struct Convert {
    /// the output format (default: from OUT's extension)
    #[arg(long, value_enum, value_name = "FMT", allow_hyphen_values = true)]
    format: Option<Format>,
    /// the capture file (binary or ETL)
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// the file to write (- for stdout)
    #[arg(value_name = "OUT", allow_hyphen_values = true)]
    output: PathBuf,
}

impl Convert {
    /// The output file; `None` for stdout (`-`).
    pub fn output(&self) -> Option<&Path> {
        Some(self.output.as_path()).filter(|p| p.as_os_str() != "-")
    }

    /// The format: `--format`, else OUT's extension.
    pub fn format(&self) -> Result<Format> {
        self.format
            .or_else(|| Format::from_extension(&self.output))
            .ok_or_else(|| {
                Error::usage(
                    format!(
                        "cannot tell the format from '{}': give --format, or name it \
                         .etl, .json (chrome-trace), .jsonl, .txt or .bin",
                        self.output.display()
                    ),
                    usage(Some("convert")),
                )
            })
    }
}

impl Cli {
    /// The device path: after the command, before it, or the default.
    pub fn device(&self) -> PathBuf {
        let after = match &self.command {
            Command::Info { device, .. }
            | Command::Stats { device, .. }
            | Command::Flush { device, .. }
            | Command::Resize { device, .. }
            | Command::Sources { device, .. }
            | Command::Capture(Capture { device, .. }) => device.path.as_ref(),
            Command::Decode(_)
            | Command::Convert(_)
            | Command::Report { .. }
            | Command::Help { .. }
            | Command::Completions { .. }
            | Command::Man { .. } => None,
        };
        after
            .or(self.device.path.as_ref())
            .cloned()
            .unwrap_or_else(|| DEVICE.into())
    }
}

/// What [`parse`] found: text to print (help, version), or work to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Print this on stdout and succeed.
    Print(String),
    /// Run this command.
    Run(Cli),
}

/// The whole command tree: the derive's, plus what every command shares (the
/// help layout, the exit codes after it, "last one wins").
pub fn command() -> clap::Command {
    let shared = |cmd: clap::Command| {
        let cmd = cmd
            .help_template("usage: {usage}\n\n{about-with-newline}\n{all-args}{after-help}")
            .after_help(exit_codes_help())
            .args_override_self(true)
            .max_term_width(80)
            .disable_help_flag(true)
            .arg(
                Arg::new("help")
                    .short('h')
                    .long("help")
                    .help("this help")
                    .action(ArgAction::Help),
            );
        // Clap's default headings are capitalised; the rest of the tool's
        // output is not.
        cmd.mut_args(|arg| {
            let heading = if arg.is_positional() {
                "arguments"
            } else {
                "options"
            };
            arg.help_heading(heading)
        })
    };
    let top = shared(Cli::command())
        .disable_version_flag(true)
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .help("the version")
                .help_heading("options")
                .action(ArgAction::Version),
        )
        .mut_arg("device", |arg| {
            arg.help("the device (default /dev/hv_evlog); also after COMMAND")
        });
    top.mut_subcommands(shared)
}

/// The `exit codes:` section of every help text, from [`EXIT_CODES`].
fn exit_codes_help() -> String {
    let mut text = String::from("exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code:<4}{meaning}\n"));
    }
    text
}

/// The help of `name` (a command, or `None` for the tool).
fn help_of(name: Option<&str>, long: bool) -> Option<String> {
    let mut cmd = command();
    cmd.build();
    let cmd = match name {
        Some(name) => cmd.find_subcommand_mut(name)?,
        None => &mut cmd,
    };
    Some(if long {
        cmd.render_long_help().to_string()
    } else {
        cmd.render_help().to_string()
    })
}

/// The usage to append to an error about command `name`.
pub fn usage(name: Option<&str>) -> String {
    help_of(name, false).unwrap_or_else(|| usage(None))
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed> {
    let args: Vec<OsString> = std::iter::once(OsString::from("hv-evlog"))
        .chain(args)
        .collect();
    let matches = match command().try_get_matches_from(&args) {
        Ok(matches) => matches,
        Err(err) => return clap_outcome(err, &args),
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|err| usage_error(&err, &args))?;
    // The commands that only describe the tool are answered here.
    let text = match &cli.command {
        // 'help help' is the tool's help, as 'help' alone.
        Command::Help { command } => {
            let topic = command.as_deref().filter(|&c| c != "help");
            help_of(topic, true).ok_or_else(|| unknown_command(topic))?
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command(), "hv-evlog", &mut script);
            String::from_utf8_lossy(&script).into_owned()
        }
        Command::Man { command } => man_page(command.as_deref())?,
        _ => return Ok(Parsed::Run(cli)),
    };
    Ok(Parsed::Print(text))
}

fn unknown_command(name: Option<&str>) -> Error {
    Error::usage(
        format!("unknown command '{}'", name.unwrap_or_default()),
        usage(None),
    )
}

/// The roff manual page of the tool, or of command `name`.
fn man_page(name: Option<&str>) -> Result<String> {
    let mut cmd = command();
    cmd.build();
    let page = match name {
        Some(name) => cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| unknown_command(Some(name)))?,
        None => cmd,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    Ok(String::from_utf8_lossy(&roff).into_owned())
}
