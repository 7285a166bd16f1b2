// SPDX-License-Identifier: GPL-2.0

//! Memory overhead: `hv-evlog-bench memory`.

use super::*;

/// Kernel bytes a module's allocations show in: unreclaimable slab pages
/// (/proc/meminfo `SUnreclaim`, where kmalloc() allocations too large for
/// a slab cache are counted too) without kmemleak's own bookkeeping (its
/// `kmemleak_object` slabs, from /proc/slabinfo), plus vmalloc'ed bytes
/// (`VmallocUsed`). Not `Slab`: its reclaimable part (dentries, inodes)
/// moves with whatever else the guest does, and the module's fixed debugfs
/// files are all it has there.
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
    Ok((meminfo("SUnreclaim:")? + meminfo("VmallocUsed:")?) * 1024 - kmemleak)
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

pub(super) fn memory(ko: &str) -> Res<()> {
    let cpus = online_cpus();
    // The median pair by bytes per buffer: a slab cache growing by one slab
    // for something else during one load moves a single figure by
    // kilobytes.
    let mut pairs = Vec::new();
    for _ in 0..REPEATS {
        let (small, n_small) = loaded_bytes(ko, 2 * cpus)?;
        let (large, n_large) = loaded_bytes(ko, 512)?;
        let per_buffer = (large as f64 - small as f64) / (f64::from(n_large) - f64::from(n_small));
        pairs.push((per_buffer, small, n_small, large, n_large));
    }
    let (per_buffer, small, n_small, large, n_large) = sort_median(&mut pairs, |p| p.0);
    let all: Vec<String> = pairs.iter().map(|p| format!("{:.0}", p.0)).collect();
    bench(&format!(
        "\"m\":\"memory\",\"small_buffers\":{n_small},\"small_bytes\":{small},\
         \"large_buffers\":{n_large},\"large_bytes\":{large},\"bytes_per_buffer\":{per_buffer:.0},\
         \"rounds_bytes_per_buffer\":[{}]",
        all.join(",")
    ));
    Ok(())
}
