// SPDX-License-Identifier: GPL-2.0

//! Module parameter validation (pure, host-tested).
//!
//! The kernel side hands over what `insmod` was given, words as raw bytes
//! and numbers as integers ([`Raw`]); [`validate`] turns it into a typed
//! [`Config`] or names the first bad parameter in a [`ParamError`], whose
//! `Display` is the one dmesg line the user sees. Checks that need the
//! topology (a listed node that is not online, too many buffers for the
//! group) are made by the placement plan; the one that needs the plan's
//! buffer count is [`check_threshold`].

// Items are `pub` for the host tests; in the kernel the module is private.
#![allow(unreachable_pub)]

use core::fmt;

use crate::tlfs::{self, EventLogMode, EventLogType, TimeBasis};

/// Largest node id + 1 the kernel can have on x86_64 (`NODES_SHIFT` ≤ 10).
pub const MAX_NODES: usize = 1024;
/// Words longer than this are refused rather than silently truncated.
pub const MAX_TEXT: usize = 64;

/// Which hypercall transport to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The kernel's hypercall trampoline: Microsoft's hypervisor.
    Hv,
    /// The in-module simulated hypervisor.
    Sim,
}

/// Nodes whose CPUs are served; empty means every online node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeList {
    ids: [u16; 64],
    len: usize,
}

impl NodeList {
    /// Every online node.
    pub const ALL: Self = Self {
        ids: [0; 64],
        len: 0,
    };

    /// The listed node ids, ascending and without duplicates.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.ids[..self.len].iter().map(|&id| u32::from(id))
    }

    /// Whether the parameter named no nodes (serve them all).
    pub fn is_all(&self) -> bool {
        self.len == 0
    }

    fn insert(&mut self, id: u16) -> bool {
        let pos = match self.ids[..self.len].binary_search(&id) {
            Ok(_) => return true,
            Err(pos) => pos,
        };
        if self.len == self.ids.len() {
            return false;
        }
        self.ids.copy_within(pos..self.len, pos + 1);
        self.ids[pos] = id;
        self.len += 1;
        true
    }
}

/// What the simulated hypervisor is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// Pages each node's pool starts with.
    pub pool_pages: u32,
    /// Synthetic events per second per CPU.
    pub rate: u32,
    /// Fail the N-th hypercall (1-based); 0 = never.
    pub fail_at: u32,
    /// The status that call fails with.
    pub fail_status: u16,
}

/// The validated configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Hypercall transport.
    pub backend: BackendKind,
    /// Event log type of the group.
    pub log_type: EventLogType,
    /// Regular (stop when full) or circular.
    pub mode: EventLogMode,
    /// Time stamps' basis.
    pub time_basis: TimeBasis,
    /// Pages per buffer.
    pub buffer_pages: u32,
    /// Buffers per served CPU.
    pub buffers_per_cpu: u32,
    /// Completed buffers before the hypervisor notifies.
    pub threshold: u32,
    /// Event source enable mask.
    pub sources: u64,
    /// Nodes whose CPUs are served.
    pub nodes: NodeList,
    /// Completion scan interval.
    pub scan_interval_ms: u32,
    /// Simulator settings (used with [`BackendKind::Sim`]).
    pub sim: SimConfig,
    /// Hypercalls kept in debugfs `hypercalls` (0: none recorded).
    pub log_hypercalls: u32,
}

/// Everything `insmod` was given, unchecked.
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    /// `backend=`
    pub backend: &'a [u8],
    /// `type=`
    pub log_type: &'a [u8],
    /// `mode=`
    pub mode: &'a [u8],
    /// `time_basis=`
    pub time_basis: &'a [u8],
    /// `nodes=`
    pub nodes: &'a [u8],
    /// A word longer than [`MAX_TEXT`]: its parameter and first bytes.
    pub text_too_long: Option<(&'static str, &'a [u8])>,
    /// `buffer_pages=`
    pub buffer_pages: u32,
    /// `buffers_per_cpu=`
    pub buffers_per_cpu: u32,
    /// `threshold=`
    pub threshold: u32,
    /// `sources=`
    pub sources: u64,
    /// `scan_interval_ms=`
    pub scan_interval_ms: u32,
    /// `sim_pool_pages=`
    pub sim_pool_pages: u32,
    /// `sim_rate=`
    pub sim_rate: u32,
    /// `sim_fail_at=`
    pub sim_fail_at: u32,
    /// `sim_fail_status=`
    pub sim_fail_status: u32,
    /// `log_hypercalls=`
    pub log_hypercalls: u32,
}

/// Defaults, shared by the kernel's parameter declarations and the tests.
pub mod default {
    /// `backend`
    pub const BACKEND: &str = "hv";
    /// `type`
    pub const TYPE: &str = "local";
    /// `mode`
    pub const MODE: &str = "regular";
    /// `time_basis`
    pub const TIME_BASIS: &str = "reference";
    /// `buffer_pages`
    pub const BUFFER_PAGES: u32 = 16;
    /// `buffers_per_cpu`
    pub const BUFFERS_PER_CPU: u32 = 2;
    /// `threshold`
    pub const THRESHOLD: u32 = 1;
    /// `sources`: every group Microsoft defines (HV_TR_ALL_GROUPS,
    /// 0x3fffff00). It is the one mask Microsoft's header names as a whole,
    /// so it is known to be a valid legacy mask (bit 0 clear, no unknown
    /// bits), and a load with defaults records whatever the hypervisor can
    /// log; `sources=` or `hv-evlog sources` narrows it. (The former default,
    /// 0x3, set bit 0, which the hypervisor reads as "extended format".)
    pub const SOURCES: u64 = crate::tlfs::SOURCES_ALL;
    /// `scan_interval_ms`
    pub const SCAN_INTERVAL_MS: u32 = 10;
    /// `sim_pool_pages`: fits the default geometry on a node serving 3 CPUs.
    pub const SIM_POOL_PAGES: u32 = 256;
    /// `sim_rate`
    pub const SIM_RATE: u32 = 1000;
    /// `sim_fail_status`: HV_STATUS_INVALID_PARAMETER.
    pub const SIM_FAIL_STATUS: u32 = 5;
}

/// Allowed ranges, as printed and as checked.
pub mod range {
    /// `buffer_pages`
    pub const BUFFER_PAGES: (u32, u32) = (1, crate::tlfs::MAX_BUFFER_PAGES);
    /// `buffers_per_cpu`
    pub const BUFFERS_PER_CPU: (u32, u32) = (1, crate::tlfs::MAX_BUFFERS);
    /// `threshold` (further bounded by the number of buffers)
    pub const THRESHOLD: (u32, u32) = (1, crate::tlfs::MAX_BUFFERS);
    /// `scan_interval_ms`
    pub const SCAN_INTERVAL_MS: (u32, u32) = (1, 10_000);
    /// `sim_pool_pages`
    pub const SIM_POOL_PAGES: (u32, u32) = (0, 1 << 20);
    /// `sim_rate`
    pub const SIM_RATE: (u32, u32) = (0, 1_000_000);
    /// `sim_fail_status`
    pub const SIM_FAIL_STATUS: (u32, u32) = (1, 0xFFFF);
    /// `log_hypercalls`
    pub const LOG_HYPERCALLS: (u32, u32) = (0, 4096);
}

/// The value that was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A word or list, as given.
    Text(&'a [u8]),
    /// A number.
    Number(u64),
}

/// Why a parameter was refused: one line for dmesg, and EINVAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamError<'a> {
    /// The parameter's name.
    pub param: &'static str,
    /// What it was given.
    pub value: Value<'a>,
    /// What it allows, or why the value does not fit.
    pub allowed: Allowed,
}

/// The allowed values, or the reason, of a [`ParamError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// One of these words.
    Words(&'static str),
    /// An inclusive range.
    Range(u64, u64),
    /// A node list in the kernel's list syntax.
    NodeList,
    /// Only named event source bits.
    SourceBits(u64),
    /// Bit 0 is set: it is not a group but means "extended format".
    SourceExtended,
    /// No group at all: logging could not start.
    NoSource,
    /// Longer than [`MAX_TEXT`].
    TooLong,
}

impl fmt::Display for ParamError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid parameter {}=", self.param)?;
        match self.value {
            Value::Text(t) => write_text(f, t)?,
            Value::Number(n) => write!(f, "{n}")?,
        }
        match self.allowed {
            Allowed::Words(w) => write!(f, ": allowed {w}"),
            Allowed::Range(lo, hi) => write!(f, ": allowed {lo}-{hi}"),
            Allowed::NodeList => write!(
                f,
                ": allowed a node list such as 0,2-3 (ids below {MAX_NODES}, at most 64)"
            ),
            Allowed::SourceBits(bad) => write!(f, ": unknown event source bits {bad:#x}"),
            Allowed::SourceExtended => write!(
                f,
                ": bit 0 means extended format, not a group; allowed group bits {:#x}",
                tlfs::SOURCES_ALL
            ),
            Allowed::NoSource => write!(
                f,
                ": at least one group bit needed to start logging ({:#x})",
                tlfs::SOURCES_ALL
            ),
            Allowed::TooLong => write!(f, ": longer than {MAX_TEXT} characters"),
        }
    }
}

fn write_text(f: &mut fmt::Formatter<'_>, t: &[u8]) -> fmt::Result {
    f.write_str("'")?;
    for &b in t {
        if b.is_ascii_graphic() || b == b' ' {
            write!(f, "{}", char::from(b))?;
        } else {
            write!(f, "\\x{b:02x}")?;
        }
    }
    f.write_str("'")
}

/// A word parameter: its accepted spellings and what they mean.
struct Words<T: Copy + 'static> {
    param: &'static str,
    allowed: &'static str,
    table: &'static [(&'static str, T)],
}

impl<T: Copy> Words<T> {
    fn parse<'a>(&self, given: &'a [u8]) -> Result<T, ParamError<'a>> {
        self.table
            .iter()
            .find(|(word, _)| word.as_bytes() == given)
            .map(|&(_, v)| v)
            .ok_or(ParamError {
                param: self.param,
                value: Value::Text(given),
                allowed: Allowed::Words(self.allowed),
            })
    }
}

const BACKEND: Words<BackendKind> = Words {
    param: "backend",
    allowed: "hv|sim",
    table: &[("hv", BackendKind::Hv), ("sim", BackendKind::Sim)],
};
const TYPE: Words<EventLogType> = Words {
    param: "type",
    allowed: "local|global|system",
    table: &[
        ("local", EventLogType::LocalDiagnostics),
        ("global", EventLogType::GlobalSystemEvents),
        ("system", EventLogType::SystemDiagnostics),
    ],
};
const MODE: Words<EventLogMode> = Words {
    param: "mode",
    allowed: "regular|circular",
    table: &[
        ("regular", EventLogMode::Regular),
        ("circular", EventLogMode::Circular),
    ],
};
const TIME_BASIS: Words<TimeBasis> = Words {
    param: "time_basis",
    allowed: "reference|tsc",
    table: &[("reference", TimeBasis::Reference), ("tsc", TimeBasis::Tsc)],
};

fn in_range<'a>(param: &'static str, v: u32, (lo, hi): (u32, u32)) -> Result<u32, ParamError<'a>> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ParamError {
            param,
            value: Value::Number(v.into()),
            allowed: Allowed::Range(lo.into(), hi.into()),
        })
    }
}

/// Parses a node list in the kernel's list syntax (`0,2-3`); empty = all.
pub fn parse_nodes(given: &[u8]) -> Result<NodeList, ParamError<'_>> {
    let bad = ParamError {
        param: "nodes",
        value: Value::Text(given),
        allowed: Allowed::NodeList,
    };
    let mut list = NodeList::ALL;
    if given.is_empty() {
        return Ok(list);
    }
    for item in given.split(|&b| b == b',') {
        let (lo, hi) = match item.iter().position(|&b| b == b'-') {
            Some(dash) => (parse_id(&item[..dash]), parse_id(&item[dash + 1..])),
            None => (parse_id(item), parse_id(item)),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Err(bad);
        };
        if lo > hi {
            return Err(bad);
        }
        for id in lo..=hi {
            if !list.insert(id) {
                return Err(bad);
            }
        }
    }
    Ok(list)
}

fn parse_id(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    let mut v: u16 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u16::from(d - b'0');
    }
    (usize::from(v) < MAX_NODES).then_some(v)
}

/// Whether `mask` is a legacy group mask (the SET_SOURCES ioctl's check):
/// bit 0 clear (it means "extended format", and Microsoft's driver refuses
/// it: drivers/hv/diag/mshv_trace.c, `mshv_trace_state_set_sources`) and
/// only group bits of [`tlfs::SOURCES`]. Zero is allowed: it stops logging.
pub fn check_sources_mask(mask: u64) -> Result<u64, ParamError<'static>> {
    let refuse = |allowed| ParamError {
        param: "sources",
        value: Value::Number(mask),
        allowed,
    };
    if mask & tlfs::SOURCES_EXTENDED != 0 {
        return Err(refuse(Allowed::SourceExtended));
    }
    match mask & !tlfs::SOURCES_ALL {
        0 => Ok(mask),
        bad => Err(refuse(Allowed::SourceBits(bad))),
    }
}

/// The `sources` parameter: a legacy group mask ([`check_sources_mask`])
/// with at least one group, because it starts logging at load and
/// Microsoft's driver refuses to start with none (`mshv_trace_start_ioctl`
/// requires a bit of HV_TR_ALL_GROUPS).
fn check_sources<'a>(mask: u64) -> Result<u64, ParamError<'a>> {
    let mask = check_sources_mask(mask)?;
    if mask == 0 {
        return Err(ParamError {
            param: "sources",
            value: Value::Number(mask),
            allowed: Allowed::NoSource,
        });
    }
    Ok(mask)
}

/// Checks every parameter, in declaration order; the first bad one is named.
pub fn validate<'a>(raw: &Raw<'a>) -> Result<Config, ParamError<'a>> {
    if let Some((param, start)) = raw.text_too_long {
        return Err(ParamError {
            param,
            value: Value::Text(start),
            allowed: Allowed::TooLong,
        });
    }
    Ok(Config {
        backend: BACKEND.parse(raw.backend)?,
        log_type: TYPE.parse(raw.log_type)?,
        mode: MODE.parse(raw.mode)?,
        time_basis: TIME_BASIS.parse(raw.time_basis)?,
        buffer_pages: in_range("buffer_pages", raw.buffer_pages, range::BUFFER_PAGES)?,
        buffers_per_cpu: in_range(
            "buffers_per_cpu",
            raw.buffers_per_cpu,
            range::BUFFERS_PER_CPU,
        )?,
        threshold: in_range("threshold", raw.threshold, range::THRESHOLD)?,
        sources: check_sources(raw.sources)?,
        nodes: parse_nodes(raw.nodes)?,
        scan_interval_ms: in_range(
            "scan_interval_ms",
            raw.scan_interval_ms,
            range::SCAN_INTERVAL_MS,
        )?,
        sim: validate_sim(raw)?,
        log_hypercalls: in_range("log_hypercalls", raw.log_hypercalls, range::LOG_HYPERCALLS)?,
    })
}

fn validate_sim<'a>(raw: &Raw<'a>) -> Result<SimConfig, ParamError<'a>> {
    let pool_pages = in_range("sim_pool_pages", raw.sim_pool_pages, range::SIM_POOL_PAGES)?;
    let rate = in_range("sim_rate", raw.sim_rate, range::SIM_RATE)?;
    let status = in_range(
        "sim_fail_status",
        raw.sim_fail_status,
        range::SIM_FAIL_STATUS,
    )?;
    Ok(SimConfig {
        pool_pages,
        rate,
        fail_at: raw.sim_fail_at,
        // In range 1..=0xFFFF, so it fits.
        fail_status: status as u16,
    })
}

/// The threshold cannot exceed the number of buffers the plan created.
pub fn check_threshold(threshold: u32, buffers: u32) -> Result<(), ParamError<'static>> {
    if threshold <= buffers {
        return Ok(());
    }
    Err(ParamError {
        param: "threshold",
        value: Value::Number(threshold.into()),
        allowed: Allowed::Range(1, buffers.into()),
    })
}
