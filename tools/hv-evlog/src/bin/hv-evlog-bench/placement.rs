// SPDX-License-Identifier: GPL-2.0

//! Placement: `hv-evlog-bench placement`.

use super::latency::pin_to;
use super::setup::alloc_on;
use super::*;

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

pub(super) fn placement(ko: &str, mib: u64) -> Res<()> {
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
