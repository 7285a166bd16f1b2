// SPDX-License-Identifier: GPL-2.0

//! Memory overhead: `hv-evlog-bench memory`.

use super::*;

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

pub(super) fn memory(ko: &str) -> Res<()> {
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
