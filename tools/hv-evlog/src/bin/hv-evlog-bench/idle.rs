// SPDX-License-Identifier: GPL-2.0

//! Idle cost: `hv-evlog-bench idle`.

use super::*;

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

pub(super) fn idle(ko: &str, buffers: u64, seconds: u64) -> Res<()> {
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
