// SPDX-License-Identifier: GPL-2.0

//! hv-evlog: the userspace consumer of /dev/hv_evlog.
//!
//! `cli` parses the command line, `device` owns the descriptor, the ioctls and
//! the mapping, `capture` runs the consume loop over any `Source`, `decode`
//! walks a buffer's entries with the module's own `tlfs` walker, `output`
//! writes every format, `error` maps failures to messages and exit codes,
//! and `refusal` says why the module refuses a control request.

#![deny(clippy::undocumented_unsafe_blocks)]

// The module's buffer format, compiled unchanged: one format for the module
// and the tool.
mod tlfs;
// The module's UAPI mirror, compiled unchanged: one set of structs and
// request numbers for the module and the tool.
#[allow(dead_code, reason = "the tool uses most of it, not all")]
#[path = "../../../hv_evlog/uapi.rs"]
mod uapi;
// The module's plan of a resize, compiled unchanged: a resize the group
// cannot hold is explained with the module's own arithmetic and words.
#[allow(dead_code, reason = "the tool only asks why a resize is refused")]
#[path = "../../../hv_evlog/policy/live.rs"]
mod live;

mod capfile;
mod capture;
mod chrome;
mod cli;
mod decode;
mod device;
mod error;
mod etl;
mod output;
mod refusal;
mod report;

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use capfile::Meta;
use capture::{Consumer, DeviceSource, End, FileSource, Limits, Source, Totals};
use cli::{Command, Parsed};
use device::Device;
use error::{Error, Result};
use output::{Format, Sink};
use refusal::Request;

fn main() -> ExitCode {
    let result = cli::parse(std::env::args_os().skip(1)).and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hv-evlog: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn run(parsed: Parsed) -> Result<()> {
    let cli = match parsed {
        Parsed::Print(text) => return print(&text),
        Parsed::Run(cli) => cli,
    };
    let device = cli.device();
    match cli.command {
        Command::Info { json, .. } => {
            let dev = Device::open(&device)?;
            let info = dev.info()?;
            let (table, _) = dev.buffers()?;
            let text = if json {
                output::info_json(dev.path(), &info, &table)
            } else {
                output::info_text(dev.path(), &info, &table)
            };
            print(&text)
        }
        Command::Stats { json, .. } => {
            let dev = Device::open(&device)?;
            let (open, module) = (dev.stats()?, dev.lifetime_stats()?);
            print(&if json {
                output::stats_json(&open, &module)
            } else {
                output::stats_text(&open, &module)
            })
        }
        // A control file: these work beside a running capture.
        Command::Flush { cpu, .. } => {
            let dev = Device::open_control(&device)?;
            control(&dev, Request::Flush(cpu), |dev| {
                dev.flush(cpu.unwrap_or(uapi::ALL_CPUS))
            })
        }
        Command::Resize { per_cpu, .. } => {
            let dev = Device::open_control(&device)?;
            control(&dev, Request::Resize(per_cpu), |dev| dev.resize(per_cpu))?;
            let info = dev.info()?;
            print(&format!(
                "buffers {} of at most {}, generation {}\n",
                info.buffer_count, info.max_buffers, info.generation
            ))
        }
        Command::Sources { mask, .. } => {
            let dev = Device::open_control(&device)?;
            if let Some(mask) = mask {
                control(&dev, Request::Sources(mask), |dev| dev.set_sources(mask))?;
            }
            let info = dev.info()?;
            print(&format!("sources {}\n", output::sources_text(info.sources)))
        }
        Command::Capture(c) => capture(&device, c),
        Command::Decode(d) => decode(d),
        Command::Convert(c) => convert(c),
        Command::Report { input, json } => report(&input, json),
        // cli::parse answers these itself: they describe the tool.
        Command::Help { .. } | Command::Completions { .. } | Command::Man { .. } => {
            print(&cli::usage(None))
        }
    }
}

/// The group as the control file shows it now.
fn group(dev: &Device) -> Result<refusal::Group> {
    Ok(refusal::Group {
        info: dev.info()?,
        table: dev.buffers()?.0,
    })
}

/// Makes the control request `ask` on `dev`, unless the group shows that
/// the module would refuse it; a refusal by the module (the group may have
/// changed since the look before) is explained from the group as it is
/// then. Either way the message says why, with the numbers.
fn control(dev: &Device, request: Request, ask: impl FnOnce(&Device) -> Result<()>) -> Result<()> {
    if let Some(why) = refusal::before(request, &group(dev)?) {
        return Err(Error::Refused(why));
    }
    match ask(dev) {
        Err(Error::Sys { errno, .. }) if refusal::is_refusal(errno) => {
            let why = group(dev)
                .ok()
                .and_then(|g| refusal::after(request, errno, &g));
            Err(Error::Refused(
                why.unwrap_or_else(|| refusal::unexplained(request, errno)),
            ))
        }
        other => other,
    }
}

/// Writes `text` to stdout; a closed stdout is not an error.
fn print(text: &str) -> Result<()> {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Refuses binary data for a terminal, before anything else is done.
fn check_output(path: Option<&Path>, format: Format, command: &str) -> Result<()> {
    if path.is_none() && format == Format::Etl {
        return Err(Error::usage(
            "--format etl writes its first buffer last: it needs an output file, not standard output",
            cli::usage(Some(command)),
        ));
    }
    if path.is_none() && format == Format::Binary && io::stdout().is_terminal() {
        return Err(Error::usage(
            "binary output to a terminal: use --output FILE or a pipe",
            cli::usage(Some(command)),
        ));
    }
    Ok(())
}

/// The output: FILE or stdout, and for a file a second handle on it, to
/// write an ETL file's first buffer at its start in the end.
struct Output {
    writer: Box<dyn Write>,
    file: Option<File>,
    name: String,
}

/// Opens the output: FILE, or stdout.
fn open_output(path: Option<&Path>) -> Result<Output> {
    let err = |path: &Path, e: io::Error| {
        Error::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    };
    match path {
        Some(path) => {
            let file = File::create(path).map_err(|e| err(path, e))?;
            let again = file.try_clone().map_err(|e| err(path, e))?;
            Ok(Output {
                writer: Box::new(BufWriter::with_capacity(1 << 16, file)),
                file: Some(again),
                name: path
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into()),
            })
        }
        None => Ok(Output {
            writer: Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
            file: None,
            name: String::new(),
        }),
    }
}

/// The sink of every command that writes events.
type OutSink = Sink<Box<dyn Write>>;

/// A sink for `format` on `out`; a capture the format cannot hold is a
/// usage error of `usage`.
fn start_sink(out: Output, format: Format, meta: &Meta) -> Result<(OutSink, Option<File>)> {
    let mut sink = Sink::new(out.writer, format).named(&out.name);
    sink.begin(meta).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput => Error::Input(e.to_string()),
        _ => Error::Output(e),
    })?;
    Ok((sink, out.file))
}

/// Opens a capture file of either kind, binary or ETL, from FILE or stdin.
fn open_capture(path: Option<&Path>) -> Result<(Box<dyn Source>, Meta)> {
    let mut input: Box<dyn Read> = match path {
        Some(path) => Box::new(io::BufReader::with_capacity(
            1 << 16,
            File::open(path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?,
        )),
        None => Box::new(io::stdin().lock()),
    };
    // Enough to tell the kinds apart: the magic, or the first ETL record's
    // marker after the 72-byte buffer header.
    let mut head = vec![0u8; etl::BUFFER_HEADER_SIZE + 4];
    let got = capture::read_full_of("capture file", &mut input, &mut head)?;
    head.truncate(got);
    let is_etl = etl::looks_like_etl(&head);
    let input = io::Cursor::new(head).chain(input);
    if is_etl {
        let (source, meta) = etl::EtlSource::open(input)?;
        Ok((Box::new(source), meta))
    } else {
        let (source, meta) = FileSource::open(input)?;
        Ok((Box::new(source), meta))
    }
}

/// Set by SIGINT and SIGTERM: end the capture and print the summary.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Makes SIGINT and SIGTERM set [`STOP`] instead of killing the process, and
/// interrupt a poll() in progress (no SA_RESTART).
fn catch_stop_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask"
        // value; the handler only stores to an atomic, which is
        // async-signal-safe; both pointers are valid for the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Live progress on stderr while it is a terminal (and the events are not
/// written to that terminal too), and malformed-buffer warnings (the first
/// few) in any case.
struct Progress {
    live: bool,
    shown: bool,
    last: Instant,
    last_events: u64,
    warnings: usize,
}

impl Progress {
    const MAX_WARNINGS: usize = 10;

    /// `live` when stderr is a terminal that the events do not go to.
    fn new(events_to_stdout: bool) -> Self {
        let events_on_terminal = events_to_stdout && io::stdout().is_terminal();
        Self {
            live: io::stderr().is_terminal() && !events_on_terminal,
            shown: false,
            last: Instant::now(),
            last_events: 0,
            warnings: 0,
        }
    }

    fn tick(&mut self, consumer: &mut Consumer) {
        let mut err = io::stderr().lock();
        for warning in consumer.take_warnings() {
            self.warnings += 1;
            if self.warnings <= Self::MAX_WARNINGS {
                let clear = if self.shown { "\r\x1b[K" } else { "" };
                let _ = writeln!(err, "{clear}hv-evlog: warning: {warning}");
                self.shown = false;
            }
        }
        let elapsed = self.last.elapsed();
        if !self.live || elapsed < Duration::from_secs(1) {
            return;
        }
        let t = consumer.totals();
        let rate = (t.events - self.last_events) as f64 / elapsed.as_secs_f64();
        let _ = write!(
            err,
            "\r\x1b[Kevents={} ({rate:.0}/s) buffers={} lost={}",
            t.events, t.buffers, t.lost
        );
        self.shown = true;
        self.last = Instant::now();
        self.last_events = t.events;
    }

    fn clear(&self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}

/// The summary line on stderr.
fn summary(totals: &Totals, dropped: Option<u64>, start: Instant) {
    let dropped = dropped.map_or(String::new(), |d| format!(" dropped={d}"));
    // Only circular mode restarts complete buffers: shown when it happened.
    let overwritten = match totals.overwritten {
        0 => String::new(),
        n => format!(" overwritten={n}"),
    };
    eprintln!(
        "hv-evlog: events={} buffers={} lost={}{dropped} malformed={}{overwritten} seconds={:.3}",
        totals.events,
        totals.buffers,
        totals.lost,
        totals.malformed,
        start.elapsed().as_secs_f64()
    );
}

fn capture(path: &Path, c: cli::Capture) -> Result<()> {
    let start = Instant::now();
    let (format, output) = (c.events.format(), c.events.output());
    check_output(output, format, "capture")?;
    // Before the open: a SIGTERM sent once the device is busy must already
    // end the capture cleanly.
    catch_stop_signals();
    let dev = Device::open(path)?;
    let (info, table, generation) = loop {
        let info = dev.info()?;
        let (table, generation) = dev.buffers()?;
        if generation == info.generation {
            break (info, table, generation);
        }
    };
    check_table(&info, &table)?;
    let limits = c.limits();
    if let Some(cpu) = limits.cpu {
        check_cpu(cpu, &table)?;
    }
    let out = open_output(output)?;
    let mut source = DeviceSource::new(&dev, &info, &table, generation)?;
    let before = dev.stats()?;
    if c.check {
        source.check_from(before);
    }
    let (mut sink, file) = start_sink(out, format, &Meta::now(&info))?;
    let mut progress = Progress::new(output.is_none());
    let result = capture::run(
        &mut source,
        limits,
        &mut sink,
        &|| STOP.load(Ordering::Relaxed),
        &mut |consumer| progress.tick(consumer),
    );
    progress.clear();
    let (totals, end) = result?;
    finish(sink, end, file)?;
    let check = source.finish_check();
    let after = dev.stats()?;
    if source.table_changes() != 0 {
        eprintln!(
            "hv-evlog: the buffer table changed {} times (resize)",
            source.table_changes()
        );
    }
    summary(
        &totals,
        Some(after.records_dropped.saturating_sub(before.records_dropped)),
        start,
    );
    if let Some(line) = check? {
        eprintln!("hv-evlog: {line}");
    }
    Ok(())
}

fn decode(d: cli::Decode) -> Result<()> {
    let start = Instant::now();
    let (format, output) = (d.events.format(), d.events.output());
    check_output(output, format, "decode")?;
    let (mut source, meta) = open_capture(d.input())?;
    let out = open_output(output)?;
    let (mut sink, file) = start_sink(out, format, &meta)?;
    let (totals, end) = capture::run(&mut source, d.limits(), &mut sink, &|| false, &mut |c| {
        for w in c.take_warnings() {
            eprintln!("hv-evlog: warning: {w}");
        }
    })?;
    finish(sink, end, file)?;
    summary(&totals, None, start);
    Ok(())
}

fn convert(c: cli::Convert) -> Result<()> {
    let start = Instant::now();
    let (format, output) = (c.format()?, c.output());
    check_output(output, format, "convert")?;
    let (mut source, meta) = open_capture(Some(&c.input))?;
    let out = open_output(output)?;
    let (mut sink, file) = start_sink(out, format, &meta)?;
    let (totals, end) = capture::run(
        &mut source,
        Limits::default(),
        &mut sink,
        &|| false,
        &mut |c| {
            for w in c.take_warnings() {
                eprintln!("hv-evlog: warning: {w}");
            }
        },
    )?;
    finish(sink, end, file)?;
    summary(&totals, None, start);
    Ok(())
}

fn report(input: &Path, json: bool) -> Result<()> {
    let (mut source, meta) = open_capture(Some(input))?;
    let report = report::Report::read(&mut source, meta.info.buffer_size)?;
    let name = input.display().to_string();
    print(&if json {
        report.json(&name, &meta)
    } else {
        report.text(&name, &meta)
    })
}

/// Flushes the output, then writes an ETL file's first buffer at its start
/// through `file`; a reader that went away is not an error.
fn finish<W: Write>(sink: Sink<W>, end: End, file: Option<File>) -> Result<()> {
    let first = sink.first_buffer();
    match sink.finish() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) if end != End::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    if let (Some(first), Some(file)) = (first, file) {
        file.write_all_at(&first, 0)?;
    }
    Ok(())
}

/// The buffer table (of `info`'s generation) must describe the mappings
/// the loop relies on: indices rising and below the maximum, each at its
/// `index * buffer_size`, as many in the rotation as `info` says.
fn check_table(info: &uapi::Info, table: &[uapi::BufferInfo]) -> Result<()> {
    let live = table
        .iter()
        .filter(|b| b.flags & uapi::BUFFER_RETIRED == 0)
        .count();
    if live != info.buffer_count as usize {
        return Err(Error::Device(format!(
            "HV_EVLOG_IOC_BUFFERS returned {live} entries for {} buffers",
            info.buffer_count
        )));
    }
    let mut next = 0;
    for (i, b) in table.iter().enumerate() {
        let want = u64::from(b.index) * u64::from(info.buffer_size);
        if b.index < next || b.index >= info.max_buffers || b.mmap_offset != want {
            return Err(Error::Device(format!(
                "buffer table entry {i} says index {} at mmap offset {:#x}, \
                 expected an index from {next} below {} at index * {}",
                b.index, b.mmap_offset, info.max_buffers, info.buffer_size
            )));
        }
        next = b.index + 1;
    }
    Ok(())
}

/// `--cpu N` must name a CPU some buffer serves.
fn check_cpu(cpu: u32, table: &[uapi::BufferInfo]) -> Result<()> {
    if table.iter().any(|b| uapi::cpu_in(&b.cpus, cpu)) {
        return Ok(());
    }
    let mut all = [0u64; uapi::CPU_WORDS];
    for b in table {
        for (a, w) in all.iter_mut().zip(b.cpus) {
            *a |= w;
        }
    }
    Err(Error::usage(
        format!(
            "no buffer serves CPU {cpu} (the buffers serve CPUs {})",
            output::cpu_list(&all)
        ),
        cli::usage(Some("capture")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_cpu_checks() {
        let info = uapi::Info {
            buffer_count: 2,
            buffer_size: 4096,
            max_buffers: 4,
            ..uapi::Info::default()
        };
        let mut table = vec![uapi::BufferInfo::default(); 2];
        table[1].index = 1;
        table[1].mmap_offset = 4096;
        table[0].cpus[0] = 0b11;
        table[1].cpus[0] = 0b1100;
        assert!(check_table(&info, &table).is_ok());
        assert!(check_cpu(3, &table).is_ok());
        let err = check_cpu(4, &table).unwrap_err();
        assert_eq!(err.exit_code(), 64);
        assert!(err.to_string().starts_with(
            "no buffer serves CPU 4 (the buffers serve CPUs 0-3)\n\nusage: hv-evlog capture"
        ));
        // Holes are fine (a resize made them): index 3 at 3 * 4096.
        table[1].index = 3;
        table[1].mmap_offset = 3 * 4096;
        assert!(check_table(&info, &table).is_ok());
        table[1].mmap_offset = 8192;
        assert_eq!(
            check_table(&info, &table).unwrap_err().to_string(),
            "buffer table entry 1 says index 3 at mmap offset 0x2000, \
             expected an index from 1 below 4 at index * 4096"
        );
        table[1].mmap_offset = 4 * 4096;
        table[1].index = 4;
        assert!(check_table(&info, &table).is_err());
        assert_eq!(
            check_table(&info, &table[..1]).unwrap_err().to_string(),
            "HV_EVLOG_IOC_BUFFERS returned 1 entries for 2 buffers"
        );
        // A retired buffer is in the table but not in the count.
        table[1].index = 3;
        table[1].mmap_offset = 3 * 4096;
        table.push(uapi::BufferInfo {
            index: 2,
            mmap_offset: 2 * 4096,
            flags: uapi::BUFFER_RETIRED,
            ..uapi::BufferInfo::default()
        });
        table.swap(1, 2);
        assert!(check_table(&info, &table).is_ok());
    }
}
