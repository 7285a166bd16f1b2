// SPDX-License-Identifier: GPL-2.0

//! A live group's buffer table and what a resize does to it (pure, shared
//! with the host tests in tests/host).
//!
//! The group is initialized with a maximum number of buffers (`max_buffers`,
//! by default [`DEFAULT_HEADROOM`] times the count planned at load, at most
//! [`GROUP_MAX`]); every buffer index is below it and
//! an index, once given, stays the buffer's (its mmap offset is `index *
//! buffer_size`). A resize sets the number of buffers of every served CPU:
//!
//! - a CPU with more keeps its lowest-index buffers and gives up the others;
//! - a CPU with fewer gets new buffers at the lowest free indices, the CPUs
//!   taken in serving order (target node, then CPU), so a resize of an empty
//!   table gives the same indices as the load-time plan;
//! - buffers of CPUs that are not served (none today) keep their indices and
//!   count against the maximum;
//! - the result must fit the maximum, or nothing changes.
//!
//! ```
//! # use hv_evlog_host_tests::live::*;
//! let served = [Served { cpu: 0, target_node: 0, pxm: 0 }];
//! let mut table = [None; 4];
//! table[0] = Some(0);
//! let mut steps = Vec::new();
//! let counts = resize_plan(&table, &served, 3, |s| steps.push(s)).unwrap();
//! assert_eq!(counts, Counts { added: 2, removed: 0, total: 3 });
//! assert_eq!(steps[0], Step::Add { index: 1, cpu: 0, target_node: 0, pxm: 0 });
//! ```

// Items are `pub` for the host test crate, which mounts this file as a public
// module; in the kernel crate they are reached through `crate::policy::live`.
#![allow(unreachable_pub)]

use core::fmt;

/// A served CPU and where its buffers go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// Linux CPU id.
    pub cpu: u32,
    /// Node whose memory holds its buffers.
    pub target_node: u32,
    /// That node's proximity domain.
    pub pxm: u32,
}

/// One change to the table, in the order [`resize_plan`] gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create buffer `index` for `cpu` in `target_node`'s memory.
    Add {
        /// The new buffer's index (free before this resize).
        index: u32,
        /// The CPU it serves.
        cpu: u32,
        /// Node whose pool pays for it.
        target_node: u32,
        /// Proximity domain passed at creation.
        pxm: u32,
    },
    /// Take buffer `index` out (it served a CPU with too many).
    Remove {
        /// The buffer's index.
        index: u32,
    },
}

/// What a resize changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Buffers created.
    pub added: u32,
    /// Buffers taken out.
    pub removed: u32,
    /// Buffers in the table afterwards.
    pub total: u32,
}

/// Why a resize is refused (nothing changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeError {
    /// Zero buffers per CPU: a served CPU must keep one.
    Zero,
    /// The table would hold more than the group maximum.
    TooMany {
        /// Buffers per CPU asked for.
        per_cpu: u32,
        /// Served CPUs.
        cpus: u32,
        /// Buffers of CPUs that are not served, kept.
        others: u32,
        /// The group maximum.
        max: u32,
    },
    /// No CPU is served.
    NoCpus,
}

impl fmt::Display for ResizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ResizeError::Zero => write!(f, "0 buffers per CPU: every served CPU needs one"),
            ResizeError::NoCpus => write!(f, "no CPU is served"),
            ResizeError::TooMany {
                per_cpu,
                cpus,
                others,
                max,
            } => {
                write!(
                    f,
                    "{per_cpu} per CPU x {cpus} CPUs = {} buffers",
                    u64::from(per_cpu) * u64::from(cpus)
                )?;
                if others != 0 {
                    write!(f, " (+{others} of CPUs not served)")?;
                }
                write!(
                    f,
                    " exceed the group maximum of {max} (max_buffers at load); at most {} per CPU",
                    max.saturating_sub(others) / cpus.max(1)
                )
            }
        }
    }
}

/// Buffers of `cpu` in `table` (`table[i]` is the CPU buffer `i` serves, or
/// `None` for a free index).
pub fn buffers_of(table: &[Option<u32>], cpu: u32) -> u32 {
    table.iter().filter(|&&c| c == Some(cpu)).count() as u32
}

/// Plans a resize of `table` to `per_cpu` buffers for each CPU of `served`
/// (in serving order), calling `step` for each change: first every removal
/// (per CPU, highest index first), then every addition (lowest free index
/// first). The table's length is the group maximum. Nothing is called when
/// the resize is refused.
pub fn resize_plan(
    table: &[Option<u32>],
    served: &[Served],
    per_cpu: u32,
    mut step: impl FnMut(Step),
) -> Result<Counts, ResizeError> {
    if per_cpu == 0 {
        return Err(ResizeError::Zero);
    }
    if served.is_empty() {
        return Err(ResizeError::NoCpus);
    }
    let cpus = served.len() as u32;
    let is_served = |cpu: u32| served.iter().any(|s| s.cpu == cpu);
    let others = table
        .iter()
        .filter(|c| c.is_some_and(|c| !is_served(c)))
        .count() as u32;
    let max = table.len() as u32;
    let total = u64::from(per_cpu) * u64::from(cpus) + u64::from(others);
    if total > u64::from(max) {
        return Err(ResizeError::TooMany {
            per_cpu,
            cpus,
            others,
            max,
        });
    }
    let mut counts = Counts {
        total: total as u32,
        ..Counts::default()
    };
    for s in served {
        let have = buffers_of(table, s.cpu);
        // The highest indices go: the lowest ones keep their offsets.
        let mut excess = have.saturating_sub(per_cpu);
        for (index, _) in table
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, c)| **c == Some(s.cpu))
        {
            if excess == 0 {
                break;
            }
            // Below the maximum, which is at most 512.
            step(Step::Remove {
                index: index as u32,
            });
            counts.removed += 1;
            excess -= 1;
        }
    }
    // Indices freed by this resize are not reused by it: their buffers are
    // still being taken out.
    let mut free = table
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| i as u32);
    for s in served {
        let have = buffers_of(table, s.cpu);
        for _ in have..per_cpu {
            // Cannot run out: the total fits the table.
            let Some(index) = free.next() else {
                break;
            };
            step(Step::Add {
                index,
                cpu: s.cpu,
                target_node: s.target_node,
                pxm: s.pxm,
            });
            counts.added += 1;
        }
    }
    Ok(counts)
}

/// The hypervisor's maximum buffers in a group.
pub const GROUP_MAX: u32 = crate::tlfs::MAX_BUFFERS;

/// `max_buffers=0` (the default): the group maximum is this many times the
/// count planned at load, at most [`GROUP_MAX`]. With the planned count
/// itself as the maximum, a resize could only shrink unless the user
/// foresaw growing at load; 4 lets each CPU grow to 4 times its buffers
/// without a reload (the default 2 per CPU to 8), and up to 64 CPUs at the
/// default still get all of it (128 planned, 512 at most).
///
/// The headroom is indices, not buffers: no buffer is created and no page
/// deposited for an unused one. What an unused slot of the maximum does
/// cost, from the types sized by it (64-bit):
///
/// - 56 bytes in the group's table, always: an `Option<Buffer>`
///   (`group/table.rs`: its page list's `KVec` 24, `Option<Served>` 16,
///   index and `user_maps` 4 each, two `bool`s; 50, aligned to 8);
/// - 128 bytes while a consumer has the device open (`device/mod.rs`,
///   allocated at open): its `Tracked` 16, `Record` 40 and `BufferHeader`
///   snapshot 72 (`tests/host/tests/live.rs` checks these sizes);
///
/// so 184 bytes a slot: 24 × 184 = 4,416 bytes for a 4-CPU guest at the
/// default (8 planned, 32 at most), and at worst 384 × 184 = 70,656 bytes
/// (128 planned, 512 at most), beside 8 MiB for those 128 buffers of the
/// default 16 pages. Besides, a resize holds 30 bytes a slot while it runs (`group/resize.rs`:
/// `Option<u32>` 8, `Step` 20, two `bool`s), and a full completion scan
/// looks at every slot (an empty one is one table lookup). The simulator
/// keeps 512 slots whatever the maximum.
pub const DEFAULT_HEADROOM: u32 = 4;

/// The group maximum `max_buffers=0` gives for `planned` buffers (at most
/// [`GROUP_MAX`], as the plan is).
pub fn default_max_buffers(planned: u32) -> u32 {
    planned.saturating_mul(DEFAULT_HEADROOM).min(GROUP_MAX)
}

/// A `max_buffers` parameter that cannot be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxBuffersError {
    /// The value given.
    pub max: u32,
    /// Buffers planned at load.
    pub planned: u32,
}

impl fmt::Display for MaxBuffersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid parameter max_buffers={}: must be 0 ({DEFAULT_HEADROOM} times the \
             planned count, at most {GROUP_MAX}) or from the {} buffers planned at load to \
             {GROUP_MAX}",
            self.max, self.planned
        )
    }
}

/// The group maximum for `max_buffers` = `max` (0: room to grow,
/// [`default_max_buffers`]); an explicit value must hold the plan and fit
/// the hypervisor's [`GROUP_MAX`].
pub fn check_max_buffers(max: u32, planned: u32) -> Result<u32, MaxBuffersError> {
    match max {
        0 => Ok(default_max_buffers(planned)),
        m if (planned..=GROUP_MAX).contains(&m) => Ok(m),
        _ => Err(MaxBuffersError { max, planned }),
    }
}
