// SPDX-License-Identifier: GPL-2.0

//! hv-evlog-bench: the guest side of scripts/bench.sh.
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

#[path = "../../tlfs.rs"]
mod tlfs;

#[allow(dead_code)]
#[path = "../../decode.rs"]
mod decode;
#[allow(dead_code)]
#[path = "../../device.rs"]
mod device;
#[allow(dead_code)]
#[path = "../../error.rs"]
mod error;
#[allow(dead_code, reason = "the bench uses part of the mirror")]
#[path = "../../../../../hv_evlog/uapi.rs"]
mod uapi;

mod consume;
mod idle;
mod latency;
mod memory;
mod placement;
mod setup;
mod zeroloss;

use std::collections::VecDeque;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use decode::{decode_buffer, used_end, Event};
use device::{Device, Mapping, Wait};
use uapi::{BufferInfo, Info, Record};

use consume::consume;
use idle::idle;
use latency::latency;
use memory::memory;
use placement::placement;
use setup::setup;
use zeroloss::zeroloss;

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
/// `finit_module()` of `ko` with `params`: how long it took, and the errno
/// if the module refused.
fn finit(ko: &str, params: &str) -> Res<(u64, Option<i32>)> {
    let file = std::fs::File::open(ko).map_err(|e| format!("{ko}: {e}"))?;
    let p = CString::new(params).map_err(|e| e.to_string())?;
    let t0 = now_ns();
    // SAFETY: finit_module(fd, params, flags): a valid descriptor and a
    // NUL-terminated string that outlive the call.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), p.as_ptr(), 0) };
    let t = now_ns() - t0;
    Ok((t, (rc != 0).then(|| errno().raw_os_error().unwrap_or(0))))
}

fn load(ko: &str, params: &str) -> Res<u64> {
    match finit(ko, params)? {
        (t, None) => Ok(t),
        (_, Some(e)) => Err(format!(
            "insmod {ko} {params}: {}",
            std::io::Error::from_raw_os_error(e)
        )),
    }
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

/// How many times a measurement that is a single event (a load, a pair of
/// loads) is repeated; its median is reported.
const REPEATS: usize = 5;

/// Sorts `v` (not empty) by `key` and returns its median.
fn sort_median<T: Copy>(v: &mut [T], key: impl Fn(&T) -> f64) -> T {
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v[v.len() / 2]
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
        _ => Err("usage: see the top of tools/hv-evlog/src/bin/hv-evlog-bench/main.rs".into()),
    };
    if let Err(e) = r {
        println!("BENCH_ERROR {}: {e}", a(0));
        std::process::exit(1);
    }
}
