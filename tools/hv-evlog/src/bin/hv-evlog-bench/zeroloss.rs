// SPDX-License-Identifier: GPL-2.0

//! Zero-loss rate: `hv-evlog-bench zeroloss`.

use super::consume::map_decode_in_place;
use super::*;

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
pub(super) fn zeroloss(ko: &str, path: &str, threshold: &str, seconds: u64, steps: u32) -> Res<()> {
    let copy_path = path == "copy";
    let (mut lo, mut hi) = (1000u64, SIM_RATE_MAX);
    let mut cpus = 0;
    let mut runs = String::new();
    // Whether `lo` was run lossless (and not just the bottom of the range).
    let mut verified = false;
    // From the middle: the top is never lossless (the simulator writes at
    // most 256 events per CPU per 5 ms tick and counts the excess as
    // lost), so trying it first would only spend one run of each.
    let mut rate = ((lo as f64 * hi as f64).sqrt()) as u64;
    for step in 0..steps {
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
            verified = true;
        } else {
            hi = rate;
        }
        rate = ((lo as f64 * hi as f64).sqrt()) as u64;
    }
    bench(&format!(
        "\"m\":\"zeroloss\",\"path\":\"{path}\",\"threshold\":\"{threshold}\",\"seconds\":{seconds},\
         \"cpus\":{cpus},\"rate_per_cpu\":{lo},\"rate\":{},\"verified\":{verified},\"runs\":[{runs}]",
        lo * cpus
    ));
    Ok(())
}
