// SPDX-License-Identifier: GPL-2.0

//! hv-evlog-bench: the guest side of scripts/bench.sh (issue 15).
//!
//! Each subcommand loads hv_evlog itself (`finit_module`), measures one thing
//! together with its baseline in the same boot, unloads, and prints one
//! `BENCH {json}` line per figure for the host to collect from the console.
//! Decoding is hv-evlog's own (`decode`, `device`, compiled from the tool's
//! files), so the consume figures are the tool's.
//!
//! ```text
//! hv-evlog-bench consume   KO PAGES RECORDS
//! hv-evlog-bench zeroloss  KO map|copy one|half SECONDS STEPS
//! hv-evlog-bench latency   KO messages|scan|pipe COUNT
//! hv-evlog-bench setup     KO BUFFERS[,BUFFERS...]
//! hv-evlog-bench idle      KO BUFFERS SECONDS
//! hv-evlog-bench placement KO MIB
//! hv-evlog-bench memory    KO
//! ```

#![deny(clippy::undocumented_unsafe_blocks)]

#[path = "../tlfs.rs"]
mod tlfs;

#[allow(dead_code)]
#[path = "../decode.rs"]
mod decode;
#[allow(dead_code)]
#[path = "../device.rs"]
mod device;
#[allow(dead_code)]
#[path = "../error.rs"]
mod error;
#[allow(dead_code, reason = "the bench uses part of the mirror")]
#[path = "../../../../hv_evlog/uapi.rs"]
mod uapi;

use std::collections::VecDeque;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use decode::{decode_buffer, used_end, Event};
use device::{Device, Mapping, Wait};
use uapi::{BufferInfo, Info, Record};

type Res<T> = std::result::Result<T, String>;

const MODULE: &str = "hv_evlog";
const DEBUGFS: &str = "/sys/kernel/debug/hv_evlog";
/// Bytes of one synthetic entry: 16-byte header and the simulator's 16-byte
/// payload (hv_evlog/sim/mod.rs, `PAYLOAD_BYTES`), already 8-aligned.
const ENTRY_BYTES: usize = 32;
/// The simulator's largest `sim_rate` (events per second per CPU).
const SIM_RATE_MAX: u64 = 1_000_000;

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// Loads the module with `params`; returns the time `finit_module` took.
fn load(ko: &str, params: &str) -> Res<u64> {
    let file = std::fs::File::open(ko).map_err(|e| format!("{ko}: {e}"))?;
    let p = CString::new(params).map_err(|e| e.to_string())?;
    let t0 = now_ns();
    // SAFETY: finit_module(fd, params, flags): a valid descriptor and a
    // NUL-terminated string that outlive the call.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), p.as_ptr(), 0) };
    let t = now_ns() - t0;
    if rc != 0 {
        return Err(format!("insmod {ko} {params}: {}", errno()));
    }
    Ok(t)
}

/// Unloads the module; returns the time `delete_module` took.
fn unload() -> Res<u64> {
    let name = CString::new(MODULE).unwrap();
    for _ in 0..200 {
        let t0 = now_ns();
        // SAFETY: delete_module(name, flags) with a NUL-terminated name.
        let rc = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
        let t = now_ns() - t0;
        if rc == 0 {
            return Ok(t);
        }
        let e = errno();
        // The last file reference may still be going away.
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) && e.raw_os_error() != Some(libc::EBUSY) {
            return Err(format!("rmmod {MODULE}: {e}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("rmmod {MODULE}: still busy after 2 s"))
}

struct Open {
    dev: Device,
    info: Info,
    table: Vec<BufferInfo>,
    map: Mapping,
}

fn open() -> Res<Open> {
    let dev = Device::open(Path::new(uapi::DEVICE)).map_err(|e| e.to_string())?;
    let info = dev.info().map_err(|e| e.to_string())?;
    let (table, _) = dev.buffers().map_err(|e| e.to_string())?;
    // One mapping of buffers 0 to the highest index: no resize runs during
    // a benchmark, so the table has no holes.
    let count = table.last().map_or(0, |b| b.index + 1);
    let map = dev
        .map(0, count, info.buffer_size)
        .map_err(|e| e.to_string())?;
    Ok(Open {
        dev,
        info,
        table,
        map,
    })
}

/// Reads one byte of every buffer of the mapping: the page fault that maps
/// a buffer (all of its pages at once) is paid here, once per mapping, as a
/// capture pays it on each buffer's first completion. Returns the time per
/// buffer, in ns.
fn touch_all(o: &Open) -> Res<u64> {
    let mut byte = Vec::with_capacity(1);
    let t0 = now_ns();
    for b in &o.table {
        o.map
            .snapshot(b.index, 1, &mut byte)
            .map_err(|e| e.to_string())?;
    }
    Ok((now_ns() - t0) / (o.table.len() as u64).max(1))
}

/// CPUs the buffers serve.
fn served_cpus(table: &[BufferInfo]) -> u64 {
    let mut cpus = [0u64; uapi::CPU_WORDS];
    for b in table {
        for (w, c) in cpus.iter_mut().zip(b.cpus.iter()) {
            *w |= c;
        }
    }
    cpus.iter().map(|w| u64::from(w.count_ones())).sum()
}

fn online_cpus() -> u64 {
    // SAFETY: sysconf only reads.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) as u64 }
}

fn bench(line: &str) {
    println!("BENCH {{{line}}}");
}

fn per_sec(amount: f64, ns: u64) -> f64 {
    if ns == 0 {
        0.0
    } else {
        amount * 1e9 / ns as f64
    }
}

// ---------------------------------------------------------------------------
// 1. Consume throughput
// ---------------------------------------------------------------------------

/// What `hv-evlog capture` does with a completed buffer for its event
/// formats (text, json, chrome-trace): decode the mapping in place, then
/// check that the buffer still holds that completion.
fn map_decode_in_place(o: &Open, rec: &Record, events: &mut Vec<Event>) -> Res<()> {
    o.map
        .decode(rec, events)
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if !o.map.still_complete(rec.buffer_index, rec.timestamp) {
        return Err(format!(
            "buffer {} restarted while decoded",
            rec.buffer_index
        ));
    }
    Ok(())
}

/// Time spent and bytes/events decoded by one path.
#[derive(Default)]
struct Path3 {
    ns: u64,
    bytes: u64,
    events: u64,
}

impl Path3 {
    fn add(&mut self, ns: u64, rec: &Record, events: usize) {
        self.ns += ns;
        self.bytes += u64::from(rec.bytes_used);
        self.events += events as u64;
    }

    fn json(&self, name: &str) -> String {
        format!(
            "\"{name}_Bps\":{:.0},\"{name}_eps\":{:.0}",
            per_sec(self.bytes as f64, self.ns),
            per_sec(self.events as f64, self.ns)
        )
    }
}

/// Alternates completed buffers between the mapping path (decode in place,
/// RELEASE: what `hv-evlog capture` does for its event formats) and the copying
/// path (HV_EVLOG_IOC_COPY, decode); each mapped buffer's bytes are also
/// decoded once more from an anonymous copy (the limit).
///
/// In rounds: the simulator fills every buffer, its sources are turned off,
/// and only then are the buffers consumed, so that the consumer's time is
/// its own and not spent waiting for the simulator's writers (which hold
/// the simulated hypervisor's lock that RELEASE also takes).
fn consume(ko: &str, pages: u32, records: u32) -> Res<()> {
    load(
        ko,
        &format!("backend=sim buffer_pages={pages} sim_rate={SIM_RATE_MAX}"),
    )?;
    let result = (|| {
        let o = open()?;
        let size = o.info.buffer_size as usize;
        // The mapping's one-time cost, reported on its own; the paths are
        // then measured as a capture runs, long after it.
        let first_touch_ns = touch_all(&o)?;
        // Touched once here, so that no path pays for first-touch faults.
        let touched = || {
            let mut v = vec![1u8; size];
            v.clear();
            v
        };
        let (mut snap, mut anon, mut copied) = (touched(), touched(), touched());
        let mut events: Vec<Event> = Vec::with_capacity(size / ENTRY_BYTES + 1);
        let (mut map, mut copy, mut limit) = (Path3::default(), Path3::default(), Path3::default());
        // The mapping path without its RELEASE: decoding alone, against the
        // limit.
        let mut map_decode = Path3::default();
        let mut pending = VecDeque::new();
        let mut n = 0u32;
        let deadline = now_ns() + 300_000_000_000;
        while n < 2 * records {
            o.dev
                .set_sources(o.info.sources)
                .map_err(|e| e.to_string())?;
            let round_end = (now_ns() + 60_000_000_000).min(deadline);
            while pending.len() < o.info.buffer_count as usize && now_ns() < round_end {
                if o.dev
                    .wait(Duration::from_millis(200), &mut pending)
                    .map_err(|e| e.to_string())?
                    == Wait::Closed
                {
                    return Err("device closed".into());
                }
            }
            o.dev.set_sources(0).map_err(|e| e.to_string())?;
            if pending.is_empty() {
                return Err(format!("consume: only {n} buffers within the time"));
            }
            while let Some(rec) = pending.pop_front() {
                if rec.bytes_used == 0 || n >= 2 * records {
                    o.dev.release(rec.buffer_index).map_err(|e| e.to_string())?;
                    continue;
                }
                if n % 2 == 0 {
                    let t0 = now_ns();
                    events.clear();
                    map_decode_in_place(&o, &rec, &mut events)?;
                    let t1 = now_ns();
                    o.dev.release(rec.buffer_index).map_err(|e| e.to_string())?;
                    map.add(now_ns() - t0, &rec, events.len());
                    map_decode.add(t1 - t0, &rec, events.len());
                    // The same bytes in anonymous memory (copied untimed,
                    // after the RELEASE: in regular mode nothing writes a
                    // released buffer while the sources are off), decoded
                    // again.
                    o.map
                        .snapshot(rec.buffer_index, used_end(&rec) as u32, &mut snap)
                        .map_err(|e| e.to_string())?;
                    anon.clear();
                    anon.extend_from_slice(&snap);
                    let t0 = now_ns();
                    events.clear();
                    decode_buffer(&anon, &rec, &mut events).map_err(|e| e.to_string())?;
                    limit.add(now_ns() - t0, &rec, events.len());
                } else {
                    let t0 = now_ns();
                    o.dev
                        .copy(rec.buffer_index, &mut copied)
                        .map_err(|e| e.to_string())?;
                    events.clear();
                    decode_buffer(&copied, &rec, &mut events).map_err(|e| e.to_string())?;
                    copy.add(now_ns() - t0, &rec, events.len());
                }
                n += 1;
            }
        }
        bench(&format!(
            "\"m\":\"consume\",\"pages\":{pages},\"buffers_each\":{records},\
             \"first_touch_us\":{:.1},{},{},{},{}",
            first_touch_ns as f64 / 1000.0,
            map.json("map"),
            map_decode.json("map_decode"),
            copy.json("copy"),
            limit.json("limit")
        ));
        Ok(())
    })();
    unload()?;
    result
}

// ---------------------------------------------------------------------------
// 2. Zero-loss rate
// ---------------------------------------------------------------------------

/// Runs the consumer for `seconds` after a one-second warm-up; returns the
/// events lost in buffers started after the warm-up and the buffers
/// consumed.
fn lossless_run(o: &Open, copy_path: bool, seconds: u64) -> Res<(u64, u64)> {
    let size = o.info.buffer_size as usize;
    let mut buf = Vec::with_capacity(size);
    let mut events: Vec<Event> = Vec::with_capacity(size / ENTRY_BYTES + 1);
    let mut pending = VecDeque::new();
    let start = now_ns();
    // Reference time (100 ns units) of the window's start: a buffer's
    // events_lost is charged when it starts, at its header time stamp.
    let window = (start + 1_000_000_000) / 100;
    let end = start + (1 + seconds) * 1_000_000_000;
    let (mut lost, mut buffers) = (0u64, 0u64);
    while now_ns() < end {
        match o
            .dev
            .wait(Duration::from_millis(50), &mut pending)
            .map_err(|e| e.to_string())?
        {
            Wait::Closed => return Err("device closed".into()),
            // No resize runs during a benchmark.
            Wait::Ready | Wait::Timeout | Wait::TableChanged => {}
        }
        while let Some(rec) = pending.pop_front() {
            events.clear();
            if copy_path {
                o.dev
                    .copy(rec.buffer_index, &mut buf)
                    .map_err(|e| e.to_string())?;
                decode_buffer(&buf, &rec, &mut events).map_err(|e| e.to_string())?;
            } else {
                map_decode_in_place(o, &rec, &mut events)?;
                o.dev.release(rec.buffer_index).map_err(|e| e.to_string())?;
            }
            if rec.timestamp >= window {
                lost += u64::from(rec.events_lost);
                buffers += 1;
            }
        }
    }
    let st = o.dev.stats().map_err(|e| e.to_string())?;
    Ok((lost + st.records_dropped, buffers))
}

/// Bisects (geometrically) the per-CPU simulator rate between 1000 and the
/// simulator's maximum for the highest rate at which a consumer loses no
/// event for `seconds`.
fn zeroloss(ko: &str, path: &str, threshold: &str, seconds: u64, steps: u32) -> Res<()> {
    let copy_path = path == "copy";
    let (mut lo, mut hi) = (1000u64, SIM_RATE_MAX);
    let mut cpus = 0;
    let mut runs = String::new();
    // Try the top first: a consumer that keeps up with everything the
    // simulator can write needs no bisection.
    let mut rate = hi;
    for step in 0..=steps {
        // The threshold "half" needs the buffer count: a first load tells.
        let th = if threshold == "half" {
            load(ko, "backend=sim sim_rate=0")?;
            let count = open().map(|o| o.info.buffer_count);
            unload()?;
            (count? / 2).max(1)
        } else {
            1
        };
        load(ko, &format!("backend=sim threshold={th} sim_rate={rate}"))?;
        let r = open().and_then(|o| {
            cpus = served_cpus(&o.table);
            touch_all(&o)?;
            lossless_run(&o, copy_path, seconds)
        });
        unload()?;
        let (lost, buffers) = r?;
        let ok = lost == 0 && buffers > 0;
        let _ = write!(
            runs,
            "{}[{rate},{lost},{buffers}]",
            if step == 0 { "" } else { "," }
        );
        if ok {
            lo = rate;
        } else {
            hi = rate;
        }
        if ok && rate == SIM_RATE_MAX {
            break;
        }
        if step == steps {
            break;
        }
        rate = ((lo as f64 * hi as f64).sqrt()) as u64;
    }
    bench(&format!(
        "\"m\":\"zeroloss\",\"path\":\"{path}\",\"threshold\":\"{threshold}\",\"seconds\":{seconds},\
         \"cpus\":{cpus},\"rate_per_cpu\":{lo},\"rate\":{},\"at_max\":{},\"runs\":[{runs}]",
        lo * cpus,
        lo == SIM_RATE_MAX
    ));
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. Wake-up latency
// ---------------------------------------------------------------------------

fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and
    // sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of_val(&set), &set);
    }
}

use std::mem::size_of_val;

fn percentiles(mut v: Vec<u64>) -> String {
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    format!(
        "\"samples\":{},\"p50_us\":{:.1},\"p99_us\":{:.1},\"max_us\":{:.1}",
        v.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Pipe write to poll() return, between two pinned threads.
fn pipe_latency(count: usize) -> Res<Vec<u64>> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", errno()));
    }
    let (r, w) = (fds[0], fds[1]);
    let writer = std::thread::spawn(move || {
        pin_to(1);
        for i in 0..count {
            // Spread the writes: every 0.2-1.2 ms.
            std::thread::sleep(Duration::from_micros(200 + (i as u64 * 7919) % 1000));
            let t = now_ns();
            // SAFETY: writes 8 bytes from `t` to the pipe.
            unsafe { libc::write(w, (&raw const t).cast(), 8) };
        }
    });
    pin_to(0);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let mut p = libc::pollfd {
            fd: r,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, 5000) } <= 0 {
            break;
        }
        let back = now_ns();
        let mut t = 0u64;
        // SAFETY: reads 8 bytes into `t`.
        if unsafe { libc::read(r, (&raw mut t).cast(), 8) } == 8 {
            out.push(back.saturating_sub(t));
        }
    }
    writer
        .join()
        .map_err(|_| "pipe writer panicked".to_string())?;
    // SAFETY: closes the two descriptors made above.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
    Ok(out)
}

/// The simulator's time of completing `rec`'s buffer: the entry that did
/// not fit starts the CPU's next buffer, with the same time stamp, as that
/// buffer's first entry. Found among the CPU's other buffers as the one
/// whose first entry continues the completed buffer's sequence; `None` if
/// none does (that buffer already moved on).
fn completion_ns(o: &Open, rec: &Record, last_context: u32, head: &mut Vec<u8>) -> Option<u64> {
    let want = last_context.wrapping_add(1);
    for b in &o.table {
        if b.index == rec.buffer_index || !uapi::cpu_in(&b.cpus, rec.cpu) {
            continue;
        }
        // The header and the first entry header.
        o.map
            .snapshot(b.index, (tlfs::ENTRIES_OFFSET + 16) as u32, head)
            .ok()?;
        let e = &head[tlfs::ENTRIES_OFFSET..];
        let context = u32::from_le_bytes(e[0..4].try_into().ok()?);
        let ts = u64::from_le_bytes(e[8..16].try_into().ok()?);
        if context == want && ts != 0 {
            return Some(ts * 100);
        }
    }
    None
}

fn latency(ko: &str, mode: &str, count: usize) -> Res<()> {
    if mode == "pipe" {
        let v = pipe_latency(count)?;
        if v.is_empty() {
            return Err("pipe: no sample".into());
        }
        bench(&format!(
            "\"m\":\"latency\",\"mode\":\"pipe\",{}",
            percentiles(v)
        ));
        return Ok(());
    }
    // One-page buffers (125 entries) at 8,000 events/s per CPU: 40 events
    // per CPU per 5 ms simulator tick, a completion every third tick or so;
    // 8 per CPU, so that a slow wake-up does not run the CPU out of free
    // buffers (an event lost there would complete a buffer unseen).
    // (The simulator raises SINT0 when a tick's writing is done, so the
    // more each tick writes, the later the wake-up.)
    load(
        ko,
        "backend=sim buffer_pages=1 buffers_per_cpu=8 threshold=1 sim_rate=8000",
    )?;
    let result = (|| {
        let o = open()?;
        touch_all(&o)?;
        let cpus: Vec<u32> = (0..online_cpus() as u32).collect();
        if mode == "scan" {
            // Another driver's message parked in every CPU's SINT0 slot:
            // ours wait behind it, so only the periodic header scan
            // reports completions.
            // A slot can hold one of our completion messages for a moment
            // (EBUSY): the module empties it within a scan, so try again.
            for c in &cpus {
                let mut tries = 0;
                loop {
                    let r = std::fs::write(
                        format!("{DEBUGFS}/sim_sint0"),
                        format!("inject {c} 0x80010000"),
                    );
                    match r {
                        Ok(()) => break,
                        Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 1000 => {
                            tries += 1;
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                        Err(e) => return Err(format!("sim_sint0 inject {c}: {e}")),
                    }
                }
            }
        }
        let mut head = Vec::with_capacity(128);
        let mut events: Vec<Event> = Vec::with_capacity(256);
        let mut samples = Vec::with_capacity(count);
        let mut skipped = 0u64;
        let mut pending = VecDeque::new();
        let deadline = now_ns() + 150_000_000_000;
        while samples.len() < count && now_ns() < deadline {
            let mut p = libc::pollfd {
                fd: o.dev_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 1000) } <= 0 {
                continue;
            }
            let back = now_ns();
            o.dev
                .wait(Duration::ZERO, &mut pending)
                .map_err(|e| e.to_string())?;
            while let Some(rec) = pending.pop_front() {
                events.clear();
                let _ = map_decode_in_place(&o, &rec, &mut events);
                let done = events
                    .last()
                    .and_then(|e| completion_ns(&o, &rec, e.context, &mut head));
                match done {
                    Some(t) if t <= back => samples.push(back - t),
                    _ => skipped += 1,
                }
                o.dev.release(rec.buffer_index).map_err(|e| e.to_string())?;
            }
        }
        if mode == "scan" {
            for c in &cpus {
                let _ = std::fs::write(format!("{DEBUGFS}/sim_sint0"), format!("consume {c}"));
            }
        }
        if samples.is_empty() {
            return Err(format!("latency {mode}: no sample"));
        }
        bench(&format!(
            "\"m\":\"latency\",\"mode\":\"{mode}\",\"skipped\":{skipped},{}",
            percentiles(samples)
        ));
        Ok(())
    })();
    unload()?;
    result
}

impl Open {
    fn dev_fd(&self) -> i32 {
        self.dev.raw_fd()
    }
}

// ---------------------------------------------------------------------------
// 4. Set-up scaling
// ---------------------------------------------------------------------------

/// Pages per node of the loaded group's buffers (debugfs `buffers`:
/// `index pxm pages_node cpu state events_lost`).
fn pages_per_node(buffer_pages: u64) -> Res<Vec<(i64, u64)>> {
    let text = std::fs::read_to_string(format!("{DEBUGFS}/buffers")).map_err(|e| e.to_string())?;
    let mut out: Vec<(i64, u64)> = Vec::new();
    for line in text.lines().skip(1) {
        let Some(node) = line.split_whitespace().nth(2).and_then(|n| n.parse().ok()) else {
            continue;
        };
        match out.iter_mut().find(|(n, _)| *n == node) {
            Some((_, p)) => *p += buffer_pages,
            None => out.push((node, buffer_pages)),
        }
    }
    Ok(out)
}

const MPOL_DEFAULT: i32 = 0;
const MPOL_BIND: i32 = 2;

fn set_policy(node: Option<i64>) {
    let mask: u64 = node.map_or(0, |n| 1u64 << n);
    // SAFETY: set_mempolicy(mode, nodemask, maxnode) with a one-word mask.
    unsafe {
        match node {
            Some(_) => libc::syscall(libc::SYS_set_mempolicy, MPOL_BIND, &raw const mask, 64),
            None => libc::syscall(
                libc::SYS_set_mempolicy,
                MPOL_DEFAULT,
                std::ptr::null::<u64>(),
                0,
            ),
        }
    };
}

/// Anonymous memory of `pages` pages on `node`, populated at mmap().
fn alloc_on(node: i64, pages: u64) -> Res<(*mut libc::c_void, usize)> {
    let len = pages as usize * 4096;
    set_policy(Some(node));
    // SAFETY: a new private anonymous mapping; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    set_policy(None);
    if p == libc::MAP_FAILED {
        return Err(format!("mmap {len}: {}", errno()));
    }
    Ok((p, len))
}

fn setup(ko: &str, counts: &str) -> Res<()> {
    let cpus = online_cpus();
    for total in counts.split(',').filter_map(|c| c.parse::<u64>().ok()) {
        let per_cpu = (total / cpus).max(1);
        let load_ns = load(ko, &format!("backend=sim buffers_per_cpu={per_cpu}"))?;
        // Ready when the device opens.
        let t0 = now_ns();
        let mut ready = None;
        while now_ns() - t0 < 5_000_000_000 {
            if let Ok(o) = open() {
                ready = Some((now_ns() - t0, o.info.buffer_count, o.info.buffer_size));
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let Some((open_ns, buffers, size)) = ready else {
            unload()?;
            return Err("setup: the device never opened".into());
        };
        let nodes = pages_per_node(u64::from(size) / 4096)?;
        let unload_ns = unload()?;
        // The same pages on the same nodes, alone.
        let t0 = now_ns();
        let mut maps = Vec::new();
        for &(node, pages) in &nodes {
            maps.push(alloc_on(node.max(0), pages)?);
        }
        let alloc_ns = now_ns() - t0;
        let t0 = now_ns();
        for (p, len) in maps {
            // SAFETY: exactly a mapping made by `alloc_on`.
            unsafe { libc::munmap(p, len) };
        }
        let free_ns = now_ns() - t0;
        bench(&format!(
            "\"m\":\"setup\",\"buffers\":{buffers},\"load_ms\":{:.3},\"alloc_ms\":{:.3},\
             \"unload_ms\":{:.3},\"free_ms\":{:.3}",
            (load_ns + open_ns) as f64 / 1e6,
            alloc_ns as f64 / 1e6,
            unload_ns as f64 / 1e6,
            free_ns as f64 / 1e6
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 5. Idle cost
// ---------------------------------------------------------------------------

/// Busy CPU time of the whole guest so far, in clock ticks (/proc/stat).
fn busy_ticks() -> Res<u64> {
    let text = std::fs::read_to_string("/proc/stat").map_err(|e| e.to_string())?;
    let line = text.lines().next().ok_or("empty /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    Ok(v.iter().sum::<u64>() - v.get(3).copied().unwrap_or(0) - v.get(4).copied().unwrap_or(0))
}

fn busy_ms_per_s(seconds: u64) -> Res<f64> {
    // SAFETY: sysconf only reads.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let b0 = busy_ticks()?;
    std::thread::sleep(Duration::from_secs(seconds));
    let b1 = busy_ticks()?;
    Ok((b1 - b0) as f64 * 1000.0 / hz / seconds as f64)
}

fn idle(ko: &str, buffers: u64, seconds: u64) -> Res<()> {
    let per_cpu = (buffers / online_cpus()).max(1);
    let base = busy_ms_per_s(seconds)?;
    load(
        ko,
        &format!("backend=sim sim_rate=0 buffers_per_cpu={per_cpu}"),
    )?;
    let r = open().and_then(|o| {
        std::thread::sleep(Duration::from_millis(500));
        let ms = busy_ms_per_s(seconds)?;
        Ok((ms, o.info.buffer_count))
    });
    unload()?;
    let (loaded, count) = r?;
    bench(&format!(
        "\"m\":\"idle\",\"buffers\":{count},\"seconds\":{seconds},\"loaded_ms_per_s\":{loaded:.2},\
         \"base_ms_per_s\":{base:.2},\"module_ms_per_s\":{:.2}",
        loaded - base
    ));
    Ok(())
}

// ---------------------------------------------------------------------------
// 6. Placement
// ---------------------------------------------------------------------------

fn cpu_node(cpu: u32) -> Option<i64> {
    let dir = std::fs::read_dir(format!("/sys/devices/system/cpu/cpu{cpu}")).ok()?;
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("node")?.parse().ok())
        .next()
}

/// Writes synthetic entries (the simulator's layout) into `len` bytes at
/// `p`, `rounds` times over; returns bytes per second.
fn write_rate(p: *mut u8, len: usize, rounds: usize) -> f64 {
    let t0 = now_ns();
    for r in 0..rounds {
        let mut off = 0;
        while off + ENTRY_BYTES <= len {
            let words = [
                (r as u64) << 32 | off as u64,
                t0 + off as u64,
                0x5A5A_5A5A_5A5A_5A5A,
                off as u64,
            ];
            // SAFETY: `off + 32 <= len`: inside the caller's mapping, which
            // nothing else uses; unaligned writes are allowed.
            unsafe { std::ptr::copy_nonoverlapping(words.as_ptr().cast::<u8>(), p.add(off), 32) };
            off += ENTRY_BYTES;
        }
    }
    per_sec((rounds * len) as f64, now_ns() - t0)
}

fn placement(ko: &str, mib: u64) -> Res<()> {
    load(ko, "backend=sim")?;
    let r = (|| -> Res<(u64, u64, u32)> {
        let o = open()?;
        let pages = u64::from(o.info.buffer_size) / 4096;
        let text =
            std::fs::read_to_string(format!("{DEBUGFS}/buffers")).map_err(|e| e.to_string())?;
        let (mut local, mut total) = (0u64, 0u64);
        for line in text.lines().skip(1) {
            let f: Vec<i64> = line
                .split_whitespace()
                .take(4)
                .filter_map(|x| x.parse().ok())
                .collect();
            if f.len() < 4 {
                continue;
            }
            total += pages;
            // A buffer whose pages are spread (-1) counts as not local.
            if u32::try_from(f[3]).ok().and_then(cpu_node) == Some(f[2]) {
                local += pages;
            }
        }
        Ok((local, total, o.info.buffer_count))
    })();
    unload()?;
    let (local, total, buffers) = r?;
    // Writer throughput from CPU 0 (node 0) into node 0 and the last node.
    pin_to(0);
    let far = (0..64)
        .rev()
        .find(|&n| Path::new(&format!("/sys/devices/system/node/node{n}")).exists())
        .unwrap_or(0);
    let pages = mib * 256;
    let mut rates = Vec::new();
    for node in [0, far] {
        let (p, len) = alloc_on(node, pages)?;
        write_rate(p.cast(), len, 1);
        rates.push(write_rate(p.cast(), len, 4));
        // SAFETY: exactly the mapping made above.
        unsafe { libc::munmap(p, len) };
    }
    bench(&format!(
        "\"m\":\"placement\",\"buffers\":{buffers},\"pages\":{total},\"local_pages\":{local},\
         \"local_pct\":{:.1},\"remote_node\":{far},\"write_local_Bps\":{:.0},\"write_remote_Bps\":{:.0}",
        local as f64 * 100.0 / total.max(1) as f64,
        rates[0],
        rates[1]
    ));
    Ok(())
}

// ---------------------------------------------------------------------------
// 7. Memory overhead
// ---------------------------------------------------------------------------

/// Kernel bytes a module's allocations show in: slab pages (/proc/meminfo
/// `Slab`, which also counts kmalloc() allocations too large for a slab
/// cache) without kmemleak's own bookkeeping (its `kmemleak_object` slabs,
/// from /proc/slabinfo), plus vmalloc'ed bytes (`VmallocUsed`).
fn kernel_bytes() -> Res<u64> {
    let mut kmemleak = 0u64;
    if let Ok(slab) = std::fs::read_to_string("/proc/slabinfo") {
        for line in slab.lines().skip(2) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // name active num objsize perslab pagesperslab : tunables l b s
            // : slabdata active_slabs num_slabs sharedavail
            if f.len() > 14 && f[0] == "kmemleak_object" {
                let pages: u64 = f[5].parse().unwrap_or(0);
                let slabs: u64 = f[14].parse().unwrap_or(0);
                kmemleak += pages * slabs * 4096;
            }
        }
    }
    Ok((meminfo("Slab:")? + meminfo("VmallocUsed:")?) * 1024 - kmemleak)
}

fn meminfo(key: &str) -> Res<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").map_err(|e| e.to_string())?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("/proc/meminfo has no {key}"))
}

/// Module bytes with `buffers` one-page buffers loaded and the device open.
fn loaded_bytes(ko: &str, buffers: u64) -> Res<(u64, u32)> {
    let per_cpu = (buffers / online_cpus()).max(1);
    std::thread::sleep(Duration::from_millis(300));
    let before = kernel_bytes()?;
    load(
        ko,
        &format!("backend=sim sim_rate=0 buffer_pages=1 buffers_per_cpu={per_cpu}"),
    )?;
    let r = open().and_then(|o| {
        std::thread::sleep(Duration::from_millis(300));
        Ok((kernel_bytes()?, o.info.buffer_count))
    });
    unload()?;
    let (after, count) = r?;
    Ok((after.saturating_sub(before), count))
}

fn memory(ko: &str) -> Res<()> {
    let cpus = online_cpus();
    let (small, n_small) = loaded_bytes(ko, 2 * cpus)?;
    let (large, n_large) = loaded_bytes(ko, 512)?;
    let per_buffer = (large as f64 - small as f64) / (f64::from(n_large) - f64::from(n_small));
    bench(&format!(
        "\"m\":\"memory\",\"small_buffers\":{n_small},\"small_bytes\":{small},\
         \"large_buffers\":{n_large},\"large_bytes\":{large},\"bytes_per_buffer\":{per_buffer:.0}"
    ));
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| a(i).parse::<u64>().unwrap_or(0);
    let r = match a(0) {
        "consume" => consume(a(1), num(2) as u32, num(3) as u32),
        "zeroloss" => zeroloss(a(1), a(2), a(3), num(4), num(5) as u32),
        "latency" => latency(a(1), a(2), num(3) as usize),
        "setup" => setup(a(1), a(2)),
        "idle" => idle(a(1), num(2), num(3)),
        "placement" => placement(a(1), num(2)),
        "memory" => memory(a(1)),
        _ => Err("usage: see the top of tools/hv-evlog/src/bin/hv-evlog-bench.rs".into()),
    };
    if let Err(e) = r {
        println!("BENCH_ERROR {}: {e}", a(0));
        std::process::exit(1);
    }
}
