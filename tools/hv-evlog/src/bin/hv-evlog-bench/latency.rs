// SPDX-License-Identifier: GPL-2.0

//! Wake-up latency: `hv-evlog-bench latency`.

use super::consume::map_decode_in_place;
use super::*;

pub(super) fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and
    // sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of_val(&set), &set);
    }
}

use std::mem::size_of_val;

/// `"{prefix}samples":…,"{prefix}p50_us":…` and so on; zeros when `v` is
/// empty.
fn percentiles(prefix: &str, mut v: Vec<u64>) -> String {
    v.sort_unstable();
    let at = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(0.0, |&x| x as f64 / 1000.0)
    };
    format!(
        "\"{prefix}samples\":{},\"{prefix}p50_us\":{:.1},\"{prefix}p99_us\":{:.1},\"{prefix}max_us\":{:.1}",
        v.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Waits up to `timeout_ms` for `fd` to be readable: when the wait began
/// and when `poll()` returned, or `None` if it did not become readable.
fn poll_in(fd: i32, timeout_ms: i32) -> Option<(u64, u64)> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let waited = now_ns();
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut p, 1, timeout_ms) } > 0;
    ready.then(|| (waited, now_ns()))
}

/// Pipe write to poll() return, between two pinned threads: every write's
/// latency, and those of the writes made while the reader was already
/// waiting (see `latency`).
fn pipe_latency(count: usize) -> Res<(Vec<u64>, Vec<u64>)> {
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
    let mut waiting = Vec::with_capacity(count);
    while out.len() < count {
        let Some((waited, back)) = poll_in(r, 5000) else {
            break;
        };
        let mut t = 0u64;
        // SAFETY: reads 8 bytes into `t`.
        if unsafe { libc::read(r, (&raw mut t).cast(), 8) } == 8 {
            out.push(back.saturating_sub(t));
            // As for the module's: a write made before this poll began
            // waited for the reader (`latency`).
            if t >= waited {
                waiting.push(back.saturating_sub(t));
            }
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
    Ok((out, waiting))
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

pub(super) fn latency(ko: &str, mode: &str, count: usize) -> Res<()> {
    if mode == "pipe" {
        let (v, waiting) = pipe_latency(count)?;
        if v.is_empty() {
            return Err("pipe: no sample".into());
        }
        bench(&format!(
            "\"m\":\"latency\",\"mode\":\"pipe\",{},{}",
            percentiles("", v),
            percentiles("waiting_", waiting)
        ));
        return Ok(());
    }
    // One-page buffers (125 entries) at 8,000 events/s per CPU: 40 events
    // per CPU per 5 ms simulator tick, a completion every third tick or so;
    // 8 per CPU, so that a slow wake-up does not run the CPU out of free
    // buffers (an event lost there would complete a buffer unseen).
    // (The simulator raises SINT0 as it completes a buffer, in the middle
    // of its tick, and writes the CPUs one after the other in each tick.)
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
        let mut waiting = Vec::with_capacity(count);
        let mut pending = VecDeque::new();
        let deadline = now_ns() + 150_000_000_000;
        while samples.len() < count && now_ns() < deadline {
            let Some((waited, back)) = poll_in(o.dev_fd(), 1000) else {
                continue;
            };
            o.dev
                .wait(Duration::ZERO, &mut pending)
                .map_err(|e| e.to_string())?;
            while let Some(rec) = pending.pop_front() {
                events.clear();
                let _ = map_decode_in_place(&o, &rec, &mut events);
                let done = events
                    .last()
                    .and_then(|e| completion_ns(&o, &rec, e.context, &mut head));
                // Every completion counts; those that came while this
                // reader was already waiting in poll() are also counted
                // apart (`waiting_`): the others waited for the reader,
                // still busy with earlier ones, not for the wake-up. The
                // pipe's are split the same way.
                match done {
                    Some(t) if t <= back => {
                        samples.push(back - t);
                        if t >= waited {
                            waiting.push(back - t);
                        }
                    }
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
            "\"m\":\"latency\",\"mode\":\"{mode}\",\"skipped\":{skipped},{},{}",
            percentiles("", samples),
            percentiles("waiting_", waiting)
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
