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

/// The module's own count of the time its work took (debugfs `run_time`):
/// the completion scans and the simulator's ticks, in nanoseconds.
fn run_time() -> Res<(u64, u64)> {
    let text = std::fs::read_to_string(format!("{DEBUGFS}/run_time")).map_err(|e| e.to_string())?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("debugfs run_time has no {key}"))
    };
    Ok((field("scan_ns ")?, field("sim_tick_ns ")?))
}

pub(super) fn idle(ko: &str, buffers: u64, seconds: u64) -> Res<()> {
    let per_cpu = (buffers / online_cpus()).max(1);
    let base = busy_ms_per_s(seconds)?;
    load(
        ko,
        &format!("backend=sim sim_rate=0 buffers_per_cpu={per_cpu}"),
    )?;
    let r = open().and_then(|o| {
        // Past the scan right at open and into the backed-off rhythm.
        std::thread::sleep(Duration::from_millis(2500));
        let before = run_time()?;
        let ms = busy_ms_per_s(seconds)?;
        let after = run_time()?;
        Ok((ms, before, after, o.info.buffer_count))
    });
    unload()?;
    let (loaded, before, after, count) = r?;
    let per_s = |a: u64, b: u64| (b - a) as f64 / 1e6 / seconds as f64;
    bench(&format!(
        "\"m\":\"idle\",\"buffers\":{count},\"seconds\":{seconds},\"loaded_ms_per_s\":{loaded:.2},\
         \"base_ms_per_s\":{base:.2},\"guest_ms_per_s\":{:.2},\"scan_ms_per_s\":{:.4},\
         \"sim_tick_ms_per_s\":{:.4}",
        loaded - base,
        per_s(before.0, after.0),
        per_s(before.1, after.1)
    ));
    Ok(())
}
