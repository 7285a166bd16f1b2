// SPDX-License-Identifier: GPL-2.0

//! Why a control request (`resize`, `flush`, `sources`) cannot be done, said
//! by the tool itself, with the numbers: the module gives an errno and puts
//! its reason in the kernel log, where a user of the tool does not look.
//!
//! The group's geometry (`HV_EVLOG_IOC_INFO`) and buffer table
//! (`HV_EVLOG_IOC_BUFFERS`) show most reasons. [`before`] is asked before
//! the request, so that nothing the group cannot take is asked for;
//! [`after`] explains an errno the module returned anyway, from the group as
//! it is after the refusal (a resize or a CPU coming online may have changed
//! it in between), and [`unexplained`] says where the reason is when the
//! group does not show it (a failed hypercall, say).
//!
//! A resize is judged by the module's own plan (`hv_evlog/policy/live.rs`,
//! compiled here unchanged), on the table as the module sees it: every
//! served CPU's buffers, and retired buffers, which keep their index until
//! they are deleted and count against the maximum as buffers of no served
//! CPU. So the tool gives the reason of the module's kernel log line, word
//! for word.

use std::fmt;

use crate::error::describe;
use crate::live::{self, ResizeError, Served};
use crate::output::cpu_list;
use crate::tlfs::EventLogType;
use crate::uapi::{cpu_in, BufferInfo, Info, BUFFER_RETIRED, CPU_WORDS, MAX_CPUS};

/// A control request, as the user gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `resize N`: buffers per served CPU.
    Resize(u32),
    /// `flush` (`None`: every CPU) or `flush --cpu N`.
    Flush(Option<u32>),
    /// `sources MASK`.
    Sources(u64),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Request::Resize(n) => write!(f, "resize {n}"),
            Request::Flush(None) => write!(f, "flush"),
            Request::Flush(Some(cpu)) => write!(f, "flush --cpu {cpu}"),
            Request::Sources(mask) => write!(f, "sources {mask:#x}"),
        }
    }
}

/// The group as INFO and the buffer table show it.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// `HV_EVLOG_IOC_INFO`.
    pub info: Info,
    /// Every buffer `HV_EVLOG_IOC_BUFFERS` lists, retired ones included.
    pub table: Vec<BufferInfo>,
}

impl Group {
    fn is_system(&self) -> bool {
        EventLogType::from_raw(self.info.log_type) == Some(EventLogType::SystemDiagnostics)
    }

    /// Buffers in the rotation (not retired).
    fn live(&self) -> impl Iterator<Item = &BufferInfo> {
        self.table.iter().filter(|b| b.flags & BUFFER_RETIRED == 0)
    }

    /// The served CPUs: those of the buffers in the rotation (a CPU that
    /// went offline keeps its buffers and stays served), in table order.
    fn served(&self) -> Vec<u32> {
        let mut cpus: Vec<u32> = Vec::new();
        for cpu in self.live().flat_map(|b| cpus_of(&b.cpus)) {
            if !cpus.contains(&cpu) {
                cpus.push(cpu);
            }
        }
        cpus
    }

    /// The table as `live::resize_plan` takes it, `max_buffers` slots long.
    /// A buffer serving a CPU of 1024 or more has no bit in the map: it is
    /// left out, so the tool never counts more buffers than the module does
    /// (the module's own line in the kernel log has it right).
    fn slots(&self) -> Vec<Option<u32>> {
        let mut slots = vec![None; self.info.max_buffers as usize];
        for b in &self.table {
            let Some(slot) = slots.get_mut(b.index as usize) else {
                continue;
            };
            *slot = if b.flags & BUFFER_RETIRED != 0 {
                Some(NO_SERVED_CPU)
            } else {
                cpus_of(&b.cpus).next()
            };
        }
        slots
    }

    /// Why the module's plan refuses `per_cpu` buffers per CPU here.
    fn resize_error(&self, per_cpu: u32) -> Option<ResizeError> {
        let served: Vec<Served> = self
            .served()
            .into_iter()
            .map(|cpu| Served {
                cpu,
                ..Served::default()
            })
            .collect();
        live::resize_plan(&self.slots(), &served, per_cpu, |_| {}).err()
    }
}

/// The CPU a retired buffer counts for: none that is served, as the module
/// counts it (`group/resize.rs`).
const NO_SERVED_CPU: u32 = u32::MAX;

/// The CPUs set in a buffer's map.
fn cpus_of(cpus: &[u64; CPU_WORDS]) -> impl Iterator<Item = u32> + '_ {
    (0..MAX_CPUS).filter(move |&c| cpu_in(cpus, c))
}

/// "1 buffer", "2 buffers".
fn buffers(n: usize) -> String {
    match n {
        1 => "1 buffer".to_string(),
        n => format!("{n} buffers"),
    }
}

/// `type=system`: the module refuses every control request with
/// `EOPNOTSUPP` before anything else.
fn system(request: Request) -> String {
    format!(
        "{request}: the group is type=system, the hypervisor's own diagnostic buffers, \
         which it rotates itself: resize, flush and sources do not apply"
    )
}

/// Why `request` cannot be done on `group`, if the group shows it: then the
/// module would refuse it, and is not asked.
pub fn before(request: Request, group: &Group) -> Option<String> {
    if group.is_system() {
        return Some(system(request));
    }
    match request {
        Request::Resize(n) => group.resize_error(n).map(|e| format!("{request}: {e}")),
        Request::Flush(_) | Request::Sources(_) => None,
    }
}

/// Why the module refused `request` with `errno`, from `group` as INFO and
/// the table show it after the refusal; `None` when they do not show it.
pub fn after(request: Request, errno: i32, group: &Group) -> Option<String> {
    match (request, errno) {
        (_, libc::EOPNOTSUPP) if group.is_system() => Some(system(request)),
        (Request::Resize(n), libc::EINVAL) => {
            group.resize_error(n).map(|e| format!("{request}: {e}"))
        }
        (Request::Resize(n), libc::EBUSY) => not_finished(n, group),
        (Request::Flush(Some(cpu)), libc::EINVAL) if !group.served().contains(&cpu) => {
            Some(format!(
                "{request}: the module cannot flush CPU {cpu}: no such CPU, or the \
                 hypervisor has no VP index for it (the buffers serve CPUs {})",
                served_list(group)
            ))
        }
        _ => None,
    }
}

/// The errnos the module refuses a control request with for a reason of its
/// own (in its kernel log line), rather than for who asked or how.
pub fn is_refusal(errno: i32) -> bool {
    matches!(errno, libc::EINVAL | libc::EBUSY | libc::EOPNOTSUPP)
}

/// A refusal the group does not explain: where the reason is.
pub fn unexplained(request: Request, errno: i32) -> String {
    format!(
        "{request}: refused by the module: {} (errno {errno}); the group's geometry does \
         not show why: the module's kernel log line does (dmesg | grep hv_evlog)",
        describe(errno)
    )
}

/// A resize that ran out of time (`EBUSY`): buffers it was to take out are
/// still in the rotation (complete, waiting for the consumer's release), or
/// retired but still mapped. What it did stays done.
fn not_finished(per_cpu: u32, group: &Group) -> Option<String> {
    let retired = group.table.len() - group.live().count();
    let to_go: usize = group
        .served()
        .iter()
        .map(|&cpu| {
            let have = group.live().filter(|b| cpu_in(&b.cpus, cpu)).count();
            have.saturating_sub(per_cpu as usize)
        })
        .sum();
    if retired == 0 && to_go == 0 {
        return None;
    }
    let mut waiting = Vec::new();
    if to_go != 0 {
        waiting.push(format!(
            "{} to take out still in the rotation (complete, not yet released by the \
             consumer)",
            buffers(to_go)
        ));
    }
    if retired != 0 {
        waiting.push(format!(
            "{} taken out but still mapped (by a consumer that has not unmapped it)",
            buffers(retired)
        ));
    }
    Some(format!(
        "resize {per_cpu}: not finished in the time the module waits: {}; what it did \
         stays ({} in the rotation, at most {}): resize again once they are released \
         and unmapped",
        waiting.join(", "),
        buffers(group.info.buffer_count as usize),
        group.info.max_buffers
    ))
}

/// The CPUs the buffers in the rotation serve, as ranges (`0-3`).
fn served_list(group: &Group) -> String {
    let mut all = [0u64; CPU_WORDS];
    for b in group.live() {
        for (a, w) in all.iter_mut().zip(b.cpus) {
            *a |= w;
        }
    }
    match cpu_list(&all) {
        list if list.is_empty() => "none".to_string(),
        list => list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_cpu` buffers for each of `cpus` CPUs, CPU after CPU from index
    /// 0, in a group of at most `max`.
    fn group(cpus: u32, per_cpu: u32, max: u32) -> Group {
        let table: Vec<BufferInfo> = (0..cpus * per_cpu)
            .map(|i| {
                let mut b = BufferInfo {
                    index: i,
                    mmap_offset: u64::from(i) * 65536,
                    ..BufferInfo::default()
                };
                let cpu = i / per_cpu;
                b.cpus[(cpu / 64) as usize] |= 1 << (cpu % 64);
                b
            })
            .collect();
        Group {
            info: Info {
                log_type: EventLogType::LocalDiagnostics.raw(),
                buffer_count: cpus * per_cpu,
                buffer_size: 65536,
                max_buffers: max,
                ..Info::default()
            },
            table,
        }
    }

    #[test]
    fn resize_beyond_the_maximum_says_the_numbers() {
        // 4 CPUs with 2 buffers each, at most 32: 8 per CPU fit, 9 do not.
        let g = group(4, 2, 32);
        assert_eq!(before(Request::Resize(8), &g), None);
        assert_eq!(before(Request::Resize(1), &g), None);
        let want = "resize 9: 9 per CPU x 4 CPUs = 36 buffers exceed the group maximum of 32 \
                    (max_buffers at load); at most 8 per CPU";
        assert_eq!(before(Request::Resize(9), &g).as_deref(), Some(want));
        // The same from the errno, when the check before did not catch it.
        assert_eq!(
            after(Request::Resize(9), libc::EINVAL, &g).as_deref(),
            Some(want)
        );
        // A maximum of the planned count (max_buffers=8): no room to grow.
        let g = group(4, 2, 8);
        assert_eq!(
            before(Request::Resize(3), &g).as_deref(),
            Some(
                "resize 3: 3 per CPU x 4 CPUs = 12 buffers exceed the group maximum of 8 \
                 (max_buffers at load); at most 2 per CPU"
            )
        );
        // 0 per CPU, as the module words it.
        assert_eq!(
            after(Request::Resize(0), libc::EINVAL, &g).as_deref(),
            Some("resize 0: 0 buffers per CPU: every served CPU needs one")
        );
    }

    #[test]
    fn retired_buffers_count_against_the_maximum() {
        // 2 CPUs with 3 each, at most 8, and index 6 and 7, which a shrink
        // from 4 per CPU retired, still mapped by a consumer.
        let mut g = group(2, 3, 8);
        for index in [6, 7] {
            g.table.push(BufferInfo {
                index,
                flags: BUFFER_RETIRED,
                ..BufferInfo::default()
            });
        }
        assert_eq!(before(Request::Resize(3), &g), None);
        assert_eq!(
            before(Request::Resize(4), &g).as_deref(),
            Some(
                "resize 4: 4 per CPU x 2 CPUs = 8 buffers (+2 of CPUs not served) exceed \
                 the group maximum of 8 (max_buffers at load); at most 3 per CPU"
            )
        );
    }

    #[test]
    fn an_offline_cpu_stays_served() {
        let mut g = group(4, 2, 32);
        for b in &mut g.table[6..] {
            b.flags = crate::uapi::BUFFER_CPU_OFFLINE;
        }
        assert!(before(Request::Resize(9), &g)
            .unwrap()
            .starts_with("resize 9: 9 per CPU x 4 CPUs = 36 buffers"));
    }

    #[test]
    fn an_unfinished_resize_says_what_it_waits_for() {
        // Asked for 1 per CPU: CPU 0 still has 3 in the rotation; CPU 1 is
        // down to 1, its index 4 retired but mapped, index 5 deleted.
        let mut g = group(2, 3, 8);
        g.table.retain(|b| b.index != 5);
        g.table[4].flags = BUFFER_RETIRED;
        g.info.buffer_count = 4;
        assert_eq!(
            after(Request::Resize(1), libc::EBUSY, &g).as_deref(),
            Some(
                "resize 1: not finished in the time the module waits: 2 buffers to take \
                 out still in the rotation (complete, not yet released by the consumer), \
                 1 buffer taken out but still mapped (by a consumer that has not unmapped \
                 it); what it did stays (4 buffers in the rotation, at most 8): resize \
                 again once they are released and unmapped"
            )
        );
        // Nothing left over: the group does not say why.
        assert_eq!(
            after(Request::Resize(3), libc::EBUSY, &group(2, 3, 8)),
            None
        );
    }

    #[test]
    fn flush_of_a_cpu_the_module_does_not_know() {
        let g = group(4, 2, 32);
        assert_eq!(before(Request::Flush(Some(9)), &g), None);
        assert_eq!(
            after(Request::Flush(Some(9)), libc::EINVAL, &g).as_deref(),
            Some(
                "flush --cpu 9: the module cannot flush CPU 9: no such CPU, or the \
                 hypervisor has no VP index for it (the buffers serve CPUs 0-3)"
            )
        );
        // A served CPU's EINVAL came from elsewhere (a hypercall).
        assert_eq!(after(Request::Flush(Some(3)), libc::EINVAL, &g), None);
    }

    #[test]
    fn type_system_takes_no_control_request() {
        let mut g = group(0, 1, 4);
        g.info.log_type = EventLogType::SystemDiagnostics.raw();
        let want = "the group is type=system, the hypervisor's own diagnostic buffers, \
                    which it rotates itself: resize, flush and sources do not apply";
        for (request, name) in [
            (Request::Resize(2), "resize 2"),
            (Request::Flush(None), "flush"),
            (Request::Flush(Some(1)), "flush --cpu 1"),
            (Request::Sources(0x8400), "sources 0x8400"),
        ] {
            let line = format!("{name}: {want}");
            assert_eq!(before(request, &g), Some(line.clone()));
            assert_eq!(after(request, libc::EOPNOTSUPP, &g), Some(line));
        }
        // EOPNOTSUPP from another group is a hypercall's.
        assert_eq!(
            after(Request::Flush(None), libc::EOPNOTSUPP, &group(1, 1, 1)),
            None
        );
    }

    #[test]
    fn what_the_group_does_not_show() {
        assert!(is_refusal(libc::EINVAL) && is_refusal(libc::EBUSY));
        assert!(!is_refusal(libc::EPERM) && !is_refusal(libc::ENOTTY));
        assert_eq!(
            unexplained(Request::Sources(0x8400), libc::EBUSY),
            "sources 0x8400: refused by the module: Device or resource busy (errno 16); \
             the group's geometry does not show why: the module's kernel log line does \
             (dmesg | grep hv_evlog)"
        );
    }
}
