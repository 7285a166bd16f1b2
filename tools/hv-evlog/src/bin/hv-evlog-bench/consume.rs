// SPDX-License-Identifier: GPL-2.0

//! Consume throughput: `hv-evlog-bench consume`.

use super::*;

/// What `hv-evlog capture` does with a completed buffer for its event
/// formats (text, json, chrome-trace): decode the mapping in place, then
/// check that the buffer still holds that completion.
pub(super) fn map_decode_in_place(o: &Open, rec: &Record, events: &mut Vec<Event>) -> Res<()> {
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
pub(super) fn consume(ko: &str, pages: u32, records: u32) -> Res<()> {
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
        // Written once here too: the first buffer decoded (always one of
        // the mapping path's) would otherwise pay for faulting in the
        // events' pages (3 MiB at 512 pages per buffer: 80 ms under TCG,
        // more than decoding the buffer), which a running capture pays
        // once, not per buffer.
        let mut events = vec![Event::default(); size / ENTRY_BYTES + 1];
        events.clear();
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
