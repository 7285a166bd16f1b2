// SPDX-License-Identifier: GPL-2.0

//! Event source groups: the legacy group mask of
//! HvCallSetEventLogGroupSources, with Microsoft's names for its bits.

/// Bit 0 of `SetSourcesInput::configuration_flags`: the flags are in the
/// extended format (a mode and per-group event lists). In the legacy format
/// hv_evlog uses, the flags are the group mask and this bit must be clear:
/// Microsoft's driver refuses such a mask with EINVAL before the call
/// (mshv_trace.c, `mshv_trace_state_set_sources`; reference file, "Input
/// layouts").
pub const SOURCES_EXTENDED: u64 = 0x1;

// The legacy group mask of HvCallSetEventLogGroupSources: one bit per
// hypervisor component, with Microsoft's names and bits (HV_TR_GROUP_* in
// include/hyperv/hvtrapi.h of microsoft/CBL-Mariner-Linux-Kernel; the list in
// the reference file, "Input layouts"). Bits 0-7 are not groups: bit 0 means
// "extended format" ([`SOURCES_EXTENDED`]).

/// Hypercalls (HV_TR_GROUP_HC).
pub const SOURCE_HC: u64 = 0x400;
/// Virtual processors (HV_TR_GROUP_VP).
pub const SOURCE_VP: u64 = 0x8000;
/// Scheduler (HV_TR_GROUP_SCH).
pub const SOURCE_SCH: u64 = 0x40_0000;
/// Context switches (HV_TR_GROUP_TH).
pub const SOURCE_TH: u64 = 0x80_0000;

/// Every source group, as (name, mask bit), in bit order: Microsoft's
/// group names in lower case. The one table the module's `sources`
/// parameter, its SET_SOURCES ioctl and the `hv-evlog sources` command read.
pub const SOURCES: &[(&str, u64)] = &[
    ("bm", 0x100),
    ("dm", 0x200),
    ("hc", SOURCE_HC),
    ("im", 0x800),
    ("ic", 0x1000),
    ("ob", 0x2000),
    ("pt", 0x4000),
    ("vp", SOURCE_VP),
    ("synic", 0x1_0000),
    ("synic_ti", 0x2_0000),
    ("am_gva", 0x4_0000),
    ("am", 0x8_0000),
    ("val", 0x10_0000),
    ("vm", 0x20_0000),
    ("sch", SOURCE_SCH),
    ("th", SOURCE_TH),
    ("ti", 0x100_0000),
    ("ke", 0x200_0000),
    ("mm", 0x400_0000),
    ("profiler", 0x800_0000),
    ("usch", 0x1000_0000),
    ("generic", 0x2000_0000),
];

/// Every group bit of [`SOURCES`] (Microsoft's HV_TR_ALL_GROUPS).
pub const SOURCES_ALL: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < SOURCES.len() {
        mask |= SOURCES[i].1;
        i += 1;
    }
    mask
};

const _: () = assert!(SOURCES_ALL == 0x3FFF_FF00);
const _: () = assert!(SOURCES_ALL & SOURCES_EXTENDED == 0);

/// The mask bit of the source group called `name` (ASCII case ignored).
pub fn source_by_name(name: &str) -> Option<u64> {
    SOURCES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|&(_, bit)| bit)
}

/// The name of a single source bit, if it is one hv_evlog names.
#[cfg_attr(MODULE, expect(dead_code, reason = "the CLI prints source names"))]
pub fn source_name(bit: u64) -> Option<&'static str> {
    SOURCES
        .iter()
        .find(|&&(_, known)| known == bit)
        .map(|&(name, _)| name)
}

/// Parses a comma-separated list of source names (spaces around names
/// ignored, empty items skipped) into a mask. On an unknown name, returns
/// that name.
#[cfg_attr(MODULE, expect(dead_code, reason = "the CLI parses source lists"))]
pub fn parse_sources(list: &str) -> Result<u64, &str> {
    let mut mask = 0;
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        mask |= source_by_name(name).ok_or(name)?;
    }
    Ok(mask)
}
