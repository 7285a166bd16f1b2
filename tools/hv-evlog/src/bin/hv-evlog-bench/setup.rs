// SPDX-License-Identifier: GPL-2.0

//! Set-up scaling: `hv-evlog-bench setup`.

use super::*;

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
pub(super) fn alloc_on(node: i64, pages: u64) -> Res<(*mut libc::c_void, usize)> {
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

/// The kernel's own cost of loading the module: `finit_module()` with a
/// parameter the module refuses first thing (`buffer_pages=0`, EINVAL), so
/// that the code is read, relocated, started and freed with no set-up done;
/// the median of [`REPEATS`].
fn refused_load_ns(ko: &str) -> Res<u64> {
    let mut v = Vec::new();
    for _ in 0..REPEATS {
        match finit(ko, "backend=sim buffer_pages=0")? {
            (t, Some(libc::EINVAL)) => v.push(t),
            (_, Some(e)) => {
                return Err(format!(
                    "setup: buffer_pages=0 refused with errno {e}, not EINVAL"
                ))
            }
            (_, None) => {
                unload()?;
                return Err("setup: buffer_pages=0 was not refused".into());
            }
        }
    }
    Ok(sort_median(&mut v, |&t| t as f64))
}

pub(super) fn setup(ko: &str, counts: &str) -> Res<()> {
    let cpus = online_cpus();
    let refused_ns = refused_load_ns(ko)?;
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
             \"unload_ms\":{:.3},\"free_ms\":{:.3},\"refused_load_ms\":{:.3}",
            (load_ns + open_ns) as f64 / 1e6,
            alloc_ns as f64 / 1e6,
            unload_ns as f64 / 1e6,
            free_ns as f64 / 1e6,
            refused_ns as f64 / 1e6
        ));
    }
    Ok(())
}
