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

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::capture::Limits;
use crate::error::{Error, Result, EXIT_CODES};
use crate::output::Format;
use crate::tlfs;
use crate::uapi::{DEVICE, MAX_CPUS};

/// Consumes Hyper-V hypervisor event logs through /dev/hv_evlog.
///
/// The device has one consumer at a time: every command opens it, so none
/// runs while a capture does.
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
    /// Maps all buffers read-only, then for each completed buffer writes its
    /// events and hands the buffer back. Stops at --count, --duration, the
    /// end of the output's reader, SIGINT (Ctrl-C) or SIGTERM, then prints on
    /// stderr 'hv-evlog: events=N buffers=N lost=N dropped=N malformed=N
    /// seconds=S' (lost: events the hypervisor could not log; dropped:
    /// completion records the module's queue lost, from its stats;
    /// malformed: buffers whose entries did not decode to their end). While
    /// stderr is a terminal that the events do not go to, a progress line
    /// shows events/s, buffers and lost events.
    #[command(
        override_usage = "hv-evlog capture [--format text|json|binary] [--output FILE]\n\
                      \x20                       [--duration SECS] [--count N] [--cpu N]"
    )]
    Capture(Capture),
    /// write the events of a binary capture file
    ///
    /// Reads a capture written by 'hv-evlog capture --format binary' from
    /// FILE (standard input if absent or -) and writes its events as capture
    /// does, without the device. Ends with the summary line on stderr.
    #[command(
        override_usage = "hv-evlog decode [--format text|json|binary] [--output FILE]\n\
                      \x20                      [--count N] [--cpu N] [FILE]"
    )]
    Decode(Decode),
    /// show the module's counters
    ///
    /// Shows the module's counters: completions, releases, events_lost,
    /// records_dropped, flushes.
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
    /// show or set the enabled event sources
    ///
    /// Without an argument, shows the enabled event source groups. With one,
    /// enables exactly those: a group mask (decimal or 0x hex; bit 0 means
    /// extended format and is refused) or Microsoft's group names, then
    /// shows the mask the module reports; none stops logging. Names (bits
    /// 0x100 to 0x20000000): bm dm hc im ic ob pt vp synic synic_ti am_gva am
    /// val vm sch th ti ke mm profiler usch generic.
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

impl Cli {
    /// The device path: after the command, before it, or the default.
    pub fn device(&self) -> PathBuf {
        let after = match &self.command {
            Command::Info { device, .. }
            | Command::Stats { device, .. }
            | Command::Flush { device, .. }
            | Command::Sources { device, .. }
            | Command::Capture(Capture { device, .. }) => device.path.as_ref(),
            Command::Decode(_)
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

/// Help and version requests succeed with their text; anything else is bad
/// usage.
fn clap_outcome(err: clap::Error, args: &[OsString]) -> Result<Parsed> {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            Ok(Parsed::Print(err.render().to_string()))
        }
        _ => Err(usage_error(&err, args)),
    }
}

/// The command the arguments name, as far as clap can tell despite errors.
fn command_named(args: &[OsString]) -> Option<String> {
    command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()?
        .subcommand_name()
        .map(str::to_string)
}

/// One line saying what is wrong, then the usage of the command concerned.
fn usage_error(err: &clap::Error, args: &[OsString]) -> Error {
    let name = command_named(args);
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    // Clap names an option with its value ("--count <N>"), an argument by
    // its value name in brackets ("<SHELL>").
    let option = text(ContextKind::InvalidArg)
        .map(|a| {
            let name = a.split([' ', '=']).next().unwrap_or_default();
            name.trim_matches(['<', '>']).to_string()
        })
        .unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let message = match err.kind() {
        ErrorKind::ValueValidation => match text(ContextKind::Custom) {
            Some(whole) => whole,
            None => format!("invalid value '{value}' for '{option}'"),
        },
        ErrorKind::InvalidValue if value.is_empty() => format!("option '{option}' needs a value"),
        ErrorKind::InvalidValue => {
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => v.clone(),
                _ => Vec::new(),
            };
            format!(
                "invalid value '{value}' for '{option}': expected {}",
                one_of(&valid)
            )
        }
        ErrorKind::UnknownArgument | ErrorKind::TooManyValues => {
            let arg = if err.kind() == ErrorKind::TooManyValues {
                value
            } else {
                option
            };
            if let Some(flag) = flag_with_value(&arg, err) {
                format!("option '{flag}' takes no value")
            } else if arg.starts_with('-') && arg.len() > 1 {
                match &name {
                    Some(name) => format!("unknown option '{arg}' for '{name}'"),
                    None => format!("unknown option '{arg}'"),
                }
            } else {
                format!("unexpected argument '{arg}'")
            }
        }
        ErrorKind::InvalidSubcommand => format!(
            "unknown command '{}'",
            text(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "no command given".to_string()
        }
        _ => {
            // A kind not worded above: clap's own first line.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_string()
        }
    };
    Error::usage(message, usage(name.as_deref()))
}

/// `--json=yes`: the flag given a value it does not take.
fn flag_with_value(arg: &str, err: &clap::Error) -> Option<String> {
    if err.kind() == ErrorKind::TooManyValues {
        return Some(
            err.get(ContextKind::InvalidArg)
                .map(|a| a.to_string())
                .unwrap_or_default(),
        );
    }
    let (flag, _) = arg.split_once('=')?;
    flag.starts_with("--").then(|| flag.to_string())
}

/// "a, b or c".
fn one_of(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A value parser from a function of the value's text, whose error says why
/// the value is wrong; non-UTF-8 text is refused the same way.
#[derive(Clone)]
struct Checked<T> {
    parse: fn(&str) -> std::result::Result<T, String>,
    /// The reason is the whole message, not the end of "invalid value …".
    whole: bool,
}

impl<T> Checked<T> {
    /// "invalid value 'V' for '--OPTION': REASON".
    fn value(parse: fn(&str) -> std::result::Result<T, String>) -> Self {
        Self {
            parse,
            whole: false,
        }
    }

    /// The reason alone: it names the value itself.
    fn whole(parse: fn(&str) -> std::result::Result<T, String>) -> Self {
        Self { parse, whole: true }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Checked<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> std::result::Result<T, clap::Error> {
        let parsed = match value.to_str() {
            Some(text) => (self.parse)(text),
            None => Err("not valid UTF-8".to_string()),
        };
        parsed.map_err(|why| {
            let shown = value.to_string_lossy();
            let option = arg
                .and_then(Arg::get_long)
                .map_or_else(|| "value".to_string(), |long| format!("--{long}"));
            let message = if self.whole {
                why
            } else {
                format!("invalid value '{shown}' for '{option}': {why}")
            };
            let mut err = clap::Error::new(ErrorKind::ValueValidation).with_cmd(cmd);
            err.insert(ContextKind::InvalidArg, ContextValue::String(option));
            err.insert(
                ContextKind::InvalidValue,
                ContextValue::String(shown.into()),
            );
            err.insert(ContextKind::Custom, ContextValue::String(message));
            err
        })
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

fn parse_count(text: &str) -> std::result::Result<u64, String> {
    match parse_number(text) {
        Some(0) => Err("must be at least 1".into()),
        Some(n) => Ok(n),
        None => Err("expected a number".into()),
    }
}

fn parse_cpu(text: &str) -> std::result::Result<u32, String> {
    match parse_number(text) {
        Some(cpu) if cpu < u64::from(MAX_CPUS) => Ok(cpu as u32),
        Some(_) => Err(format!("CPUs are 0-{}", MAX_CPUS - 1)),
        None => Err("expected a number".into()),
    }
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| "expected a positive number of seconds, like 10 or 0.5".into())
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "invalid value 'xml' for '--format': expected text, json or binary"
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
        for name in ["info", "capture", "decode", "stats", "flush", "sources"] {
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
}
