// SPDX-License-Identifier: GPL-2.0

//! Read-only debugfs view: `/sys/kernel/debug/hv_evlog/`.
//!
//! `plan` has one line per buffer (index, CPU served, slot among that CPU's
//! buffers, the CPU's node, the node its pages come from, the proximity
//! domain passed to the hypervisor); `domains` one line per proximity domain
//! (node, pxm, buffers, CPUs served, pool pages needed). `buffers` is the
//! live state, read from the hypervisor's headers: per buffer its proximity
//! domain, the node its pages are on (-1 if they are spread), the CPU it
//! serves, its state and events lost. Tests compare them with the expected
//! plan of each VM topology; people read them. `completion` counts the
//! hypervisor's completion messages taken, the chains they announced that
//! the open device walked and the buffers those held,
//! and how often another driver's message was found in a slot. With
//! `backend=sim`, `sim_sint0` shows each CPU's SINT0 slot (type, flags,
//! messages waiting, buffer) and takes `inject CPU TYPE` / `consume CPU` to
//! play another driver's message there (the tests' hook). `sim_faults`
//! arms the simulator's injected faults and shows them: `bad_map` makes the
//! next map call report a page that is not RAM, `slow_sources MS` makes
//! every set-sources call return MS milliseconds late (0: on time),
//! `fail_in N` fails the N-th hypercall from now with `sim_fail_status`.
//!
//! `pool` accounts for the pages set-up deposited: one line `node N
//! deposited P` per node it deposited from, and with `backend=sim` the
//! simulator's ledger (`sim_seeded`, `sim_deposited`, `sim_withdrawn`).
//! Deposited pages stay with the hypervisor; the module never withdraws or
//! frees them, which `sim_withdrawn 0` shows.
//!
//! `headers` shows every buffer's live header (state, time stamp,
//! `next_buffer_offset`, `next_buffer_index` or -1 at the end of a chain,
//! events lost). With `type=system` the buffers are the hypervisor's own:
//! `plan` and `domains` describe a plan that is not used, and `buffers`
//! names no proximity domain or CPU (-1).
//!
//! `run_time` sums the time the device's completion scans took and, with
//! `backend=sim`, the simulator's ticks (`scan_ns`, `scan_runs`,
//! `sim_tick_ns`, `sim_ticks`): the module's idle cost.
//!
//! `hypercalls` lists the last `log_hypercalls` hypercalls, oldest first, in
//! the format of [`crate::policy::calllog`]; with `log_hypercalls=0` (the default)
//! it holds only a line saying how to turn it on.

use kernel::{
    debugfs::{Dir, File},
    fmt,
    prelude::*,
    sync::Arc,
    uaccess::UserSliceReader,
};

use crate::{
    group::Group,
    hv::sint0::Inbox,
    platform::ticker::RunTime,
    policy::calllog,
    sim::{Fault, SimBackend},
};

/// The directory and its files; dropping it removes them.
pub(crate) struct Debugfs {
    _plan: Pin<KBox<File<Arc<Group>>>>,
    _domains: Pin<KBox<File<Arc<Group>>>>,
    _buffers: Pin<KBox<File<Arc<Group>>>>,
    _completion: Pin<KBox<File<Arc<Inbox>>>>,
    _sint0: Option<Pin<KBox<File<Arc<SimBackend>>>>>,
    _sim_completions: Option<Pin<KBox<File<Arc<SimBackend>>>>>,
    _sim_faults: Option<Pin<KBox<File<Arc<SimBackend>>>>>,
    _pool: Pin<KBox<File<Arc<Group>>>>,
    _hypercalls: Pin<KBox<File<Arc<Group>>>>,
    _headers: Pin<KBox<File<Arc<Group>>>>,
    _cpus: Pin<KBox<File<Arc<Group>>>>,
    _pfns: Pin<KBox<File<Arc<Group>>>>,
    _run_time: Pin<KBox<File<RunTimes>>>,
    _dir: Dir,
}

fn write_buffers(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "index pxm pages_node cpu state events_lost")?;
    // The live table: a resize changes it. The hypervisor's own buffers
    // (`type=system`) have no proximity domain and no CPU (-1).
    for index in group.indices() {
        let Some((serves, retired)) = group.slot(index) else {
            continue;
        };
        let node = group.pages_node(index).map_or(-1, i64::from);
        let (state, lost) = match group.header(index) {
            _ if retired => ("retired", 0),
            Some(h) => (h.state().map_or("?", |s| s.name()), h.events_lost),
            None => ("unmapped", 0),
        };
        let (pxm, cpu) = serves.map_or((-1, -1), |s| (i64::from(s.pxm), i64::from(s.cpu)));
        writeln!(f, "{index} {pxm} {node} {cpu} {state} {lost}")?;
    }
    Ok(())
}

fn write_cpus(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "cpu node pxm online buffers")?;
    let mut result = Ok(());
    group.for_each_served(|s, online, buffers| {
        if result.is_ok() {
            let on = if online { "online" } else { "offline" };
            result = writeln!(f, "{} {} {} {on} {buffers}", s.cpu, s.target_node, s.pxm);
        }
    });
    result
}

fn write_pool(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut result = Ok(());
    group.for_each_deposit(|node, pages| {
        if result.is_ok() {
            result = writeln!(f, "node {node} deposited {pages}");
        }
    });
    result?;
    if let Some(l) = group.backend().sim_ledger() {
        writeln!(f, "sim_seeded {}", l.seeded)?;
        writeln!(f, "sim_deposited {}", l.deposited)?;
        writeln!(f, "sim_withdrawn {}", l.withdrawn)?;
    }
    Ok(())
}

fn write_pfns(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "index pfns")?;
    for index in group.indices().filter(|&i| group.slot(i).is_some()) {
        write!(f, "{index}")?;
        let mut result = Ok(());
        group.for_each_pfn(index, |pfn| {
            if result.is_ok() {
                result = write!(f, " {pfn:#x}");
            }
        });
        result?;
        writeln!(f)?;
    }
    Ok(())
}

fn write_headers(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "index state time_stamp next_buffer_offset next_buffer_index events_lost"
    )?;
    for index in group.indices().filter(|&i| group.slot(i).is_some()) {
        let Some(h) = group.header(index) else {
            writeln!(f, "{index} unmapped - - - -")?;
            continue;
        };
        let state = h.state().map_or("?", |s| s.name());
        writeln!(
            f,
            "{index} {state} {} {} {} {}",
            h.time_stamp,
            h.next_buffer_offset,
            h.next_in_chain().map_or(-1, i64::from),
            h.events_lost
        )?;
    }
    Ok(())
}

fn write_hypercalls(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let log = group.call_log().lock();
    if !log.enabled() {
        return writeln!(
            f,
            "# off: load hv_evlog with log_hypercalls=N to keep the last N hypercalls"
        );
    }
    writeln!(
        f,
        "# {} hypercalls since load; the last ones kept:",
        log.calls()
    )?;
    writeln!(f, "{}", calllog::HEADER)?;
    for entry in log.iter() {
        writeln!(f, "{entry}")?;
    }
    Ok(())
}

fn write_plan(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "index cpu slot cpu_node node pxm")?;
    for b in group.placement().buffers.iter() {
        writeln!(
            f,
            "{} {} {} {} {} {}",
            b.index, b.cpu, b.slot, b.cpu_node, b.target_node, b.pxm
        )?;
    }
    Ok(())
}

fn write_domains(group: &Arc<Group>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "node pxm first_buffer buffers cpus pool_pages")?;
    for d in group.placement().domains.iter() {
        writeln!(
            f,
            "{} {} {} {} {} {}",
            d.node, d.pxm, d.first_buffer, d.buffers, d.cpus, d.pool_pages
        )?;
    }
    Ok(())
}

fn write_completion(inbox: &Arc<Inbox>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = inbox.stats();
    writeln!(f, "messages {}", s.messages)?;
    writeln!(f, "chains {}", s.chains)?;
    writeln!(f, "chain_buffers {}", s.chain_buffers)?;
    writeln!(f, "foreign {}", s.foreign)
}

fn write_sim_completions(sim: &Arc<SimBackend>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", sim.state().completions())
}

fn write_sint0(sim: &Arc<SimBackend>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let sim = sim.state();
    writeln!(f, "cpu type flags queued buffer")?;
    for cpu in sim.message_cpus() {
        if let Some(v) = sim.slot_view(cpu) {
            writeln!(
                f,
                "{cpu} {:#x} {:#x} {} {}",
                v.message_type, v.flags, v.queued, v.payload.buffer_index
            )?;
        }
    }
    Ok(())
}

/// What was written to a debugfs file, as text in `buf` (`EINVAL` if it
/// does not fit or is not UTF-8).
fn written_text<'a>(reader: &mut UserSliceReader, buf: &'a mut [u8]) -> Result<&'a str> {
    let n = reader.len();
    let buf = buf.get_mut(..n).ok_or(EINVAL)?;
    reader.read_slice(buf)?;
    core::str::from_utf8(buf).map_err(|_| EINVAL)
}

/// `inject CPU TYPE`: another driver's message arrives in CPU's SINT0 slot;
/// `consume CPU`: that driver takes it and signals end-of-message.
fn parse_sint0(sim: &Arc<SimBackend>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let mut words = written_text(reader, &mut buf)?.split_whitespace();
    let number = |w: Option<&str>| -> Result<u32> {
        let w = w.ok_or(EINVAL)?;
        match w.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => w.parse(),
        }
        .map_err(|_| EINVAL)
    };
    let sim = sim.state();
    match words.next() {
        Some("inject") => {
            let cpu = number(words.next())?;
            let ty = number(words.next())?;
            sim.foreign_message(cpu, Some(ty))
        }
        Some("consume") => sim.foreign_message(number(words.next())?, None),
        _ => Err(EINVAL),
    }
}

fn write_sim_faults(sim: &Arc<SimBackend>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (bad_map, slow, fails_in) = sim.state().faults();
    writeln!(f, "bad_map {}", u8::from(bad_map))?;
    writeln!(f, "slow_sources {slow}")?;
    writeln!(f, "fail_in {fails_in}")
}

/// `bad_map`, `slow_sources MS` or `fail_in N` (see the file comment).
fn parse_sim_faults(sim: &Arc<SimBackend>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 32];
    let mut words = written_text(reader, &mut buf)?.split_whitespace();
    let fault = match (words.next(), words.next(), words.next()) {
        (Some("bad_map"), None, None) => Fault::BadMap,
        (Some("slow_sources"), Some(ms), None) => {
            Fault::SlowSources(ms.parse().map_err(|_| EINVAL)?)
        }
        (Some("fail_in"), Some(n), None) => Fault::FailIn(n.parse().map_err(|_| EINVAL)?),
        _ => return Err(EINVAL),
    };
    sim.state().inject(fault);
    Ok(())
}

/// What `run_time` reads: the group (for the simulator's ticks) and the
/// time of the device's scans.
type RunTimes = (Arc<Group>, Arc<RunTime>);

/// `run_time`: time spent in the device's completion scans and, with
/// `backend=sim`, in the simulator's ticks, in nanoseconds, with the number
/// of runs (what `hv-evlog-bench idle` reads).
fn write_run_time((group, scan): &RunTimes, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (ns, runs) = scan.get();
    writeln!(f, "scan_ns {ns}")?;
    writeln!(f, "scan_runs {runs}")?;
    if let Some(sim) = group.backend().sim() {
        let (ns, runs) = sim.run_time().get();
        writeln!(f, "sim_tick_ns {ns}")?;
        writeln!(f, "sim_ticks {runs}")?;
    }
    Ok(())
}

impl Debugfs {
    /// Creates the directory for `group` and the plan it was set up from,
    /// with `inbox`'s counters and the time `scan_time` counts.
    pub(crate) fn new(
        group: &Arc<Group>,
        inbox: &Arc<Inbox>,
        scan_time: &Arc<RunTime>,
    ) -> Result<Self> {
        let dir = Dir::new(c"hv_evlog");
        let plan = KBox::pin_init(
            dir.read_callback_file(c"plan", group.clone(), &write_plan),
            GFP_KERNEL,
        )?;
        let domains = KBox::pin_init(
            dir.read_callback_file(c"domains", group.clone(), &write_domains),
            GFP_KERNEL,
        )?;
        let buffers = KBox::pin_init(
            dir.read_callback_file(c"buffers", group.clone(), &write_buffers),
            GFP_KERNEL,
        )?;
        let completion = KBox::pin_init(
            dir.read_callback_file(c"completion", inbox.clone(), &write_completion),
            GFP_KERNEL,
        )?;
        let sint0 = match group.backend().sim() {
            Some(sim) => Some(KBox::pin_init(
                dir.read_write_callback_file(c"sim_sint0", sim.clone(), &write_sint0, &parse_sint0),
                GFP_KERNEL,
            )?),
            None => None,
        };
        let sim_completions = match group.backend().sim() {
            Some(sim) => Some(KBox::pin_init(
                dir.read_callback_file(c"sim_completions", sim.clone(), &write_sim_completions),
                GFP_KERNEL,
            )?),
            None => None,
        };
        let sim_faults = match group.backend().sim() {
            Some(sim) => Some(KBox::pin_init(
                dir.read_write_callback_file(
                    c"sim_faults",
                    sim.clone(),
                    &write_sim_faults,
                    &parse_sim_faults,
                ),
                GFP_KERNEL,
            )?),
            None => None,
        };
        let pool = KBox::pin_init(
            dir.read_callback_file(c"pool", group.clone(), &write_pool),
            GFP_KERNEL,
        )?;
        let hypercalls = KBox::pin_init(
            dir.read_callback_file(c"hypercalls", group.clone(), &write_hypercalls),
            GFP_KERNEL,
        )?;
        let headers = KBox::pin_init(
            dir.read_callback_file(c"headers", group.clone(), &write_headers),
            GFP_KERNEL,
        )?;
        let cpus = KBox::pin_init(
            dir.read_callback_file(c"cpus", group.clone(), &write_cpus),
            GFP_KERNEL,
        )?;
        let pfns = KBox::pin_init(
            dir.read_callback_file(c"pfns", group.clone(), &write_pfns),
            GFP_KERNEL,
        )?;
        let run_time = KBox::pin_init(
            dir.read_callback_file(
                c"run_time",
                (group.clone(), scan_time.clone()),
                &write_run_time,
            ),
            GFP_KERNEL,
        )?;
        Ok(Debugfs {
            _run_time: run_time,
            _pfns: pfns,
            _cpus: cpus,
            _plan: plan,
            _hypercalls: hypercalls,
            _headers: headers,
            _domains: domains,
            _buffers: buffers,
            _completion: completion,
            _sint0: sint0,
            _sim_completions: sim_completions,
            _sim_faults: sim_faults,
            _pool: pool,
            _dir: dir,
        })
    }
}
