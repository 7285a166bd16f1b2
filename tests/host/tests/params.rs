//! Parameter validation: every parameter at its bounds, one past, zero and a
//! bad word, with the exact error and the exact dmesg line.

use hv_evlog_host_tests::params::{self, *};
use hv_evlog_host_tests::tlfs::{EventLogMode, EventLogType, TimeBasis};
use proptest::prelude::*;

fn defaults() -> Raw<'static> {
    Raw {
        backend: default::BACKEND.as_bytes(),
        log_type: default::TYPE.as_bytes(),
        mode: default::MODE.as_bytes(),
        time_basis: default::TIME_BASIS.as_bytes(),
        nodes: b"",
        text_too_long: None,
        buffer_pages: default::BUFFER_PAGES,
        buffers_per_cpu: default::BUFFERS_PER_CPU,
        threshold: default::THRESHOLD,
        sources: default::SOURCES,
        scan_interval_ms: default::SCAN_INTERVAL_MS,
        sim_pool_pages: default::SIM_POOL_PAGES,
        sim_rate: default::SIM_RATE,
        sim_fail_at: 0,
        sim_fail_status: default::SIM_FAIL_STATUS,
        log_hypercalls: 0,
    }
}

fn message(raw: &Raw<'_>) -> String {
    validate(raw).unwrap_err().to_string()
}

#[test]
fn defaults_validate() {
    let c = validate(&defaults()).unwrap();
    assert_eq!(c.backend, BackendKind::Hv);
    assert_eq!(c.log_type, EventLogType::LocalDiagnostics);
    assert_eq!(c.mode, EventLogMode::Regular);
    assert_eq!(c.time_basis, TimeBasis::Reference);
    assert_eq!((c.buffer_pages, c.buffers_per_cpu, c.threshold), (16, 2, 1));
    // Every group Microsoft defines; bit 0 ("extended") clear.
    assert_eq!(c.sources, 0x3FFF_FF00);
    assert!(c.nodes.is_all());
    assert_eq!(c.log_hypercalls, 0);
    assert_eq!(
        c.sim,
        SimConfig {
            pool_pages: 256,
            rate: 1000,
            fail_at: 0,
            fail_status: 5
        }
    );
}

/// (setter, name, low, high) for every integer parameter with a range.
type Setter = fn(&mut Raw<'static>, u32);
const RANGES: &[(Setter, &str, u32, u32)] = &[
    (|r, v| r.buffer_pages = v, "buffer_pages", 1, 512),
    (|r, v| r.buffers_per_cpu = v, "buffers_per_cpu", 1, 512),
    (|r, v| r.threshold = v, "threshold", 1, 512),
    (|r, v| r.scan_interval_ms = v, "scan_interval_ms", 1, 10_000),
    (|r, v| r.sim_pool_pages = v, "sim_pool_pages", 0, 1 << 20),
    (|r, v| r.sim_rate = v, "sim_rate", 0, 1_000_000),
    (|r, v| r.sim_fail_status = v, "sim_fail_status", 1, 0xFFFF),
    (|r, v| r.log_hypercalls = v, "log_hypercalls", 0, 4096),
];

#[test]
fn integer_bounds() {
    for &(set, name, lo, hi) in RANGES {
        for ok in [lo, hi] {
            let mut r = defaults();
            set(&mut r, ok);
            assert!(validate(&r).is_ok(), "{name}={ok} must pass");
        }
        let mut bad = vec![hi + 1];
        if lo > 0 {
            bad.push(lo - 1);
            bad.push(0);
        }
        for v in bad {
            let mut r = defaults();
            set(&mut r, v);
            let e = validate(&r).unwrap_err();
            assert_eq!(e.param, name);
            assert_eq!(e.value, Value::Number(v.into()));
            assert_eq!(e.allowed, Allowed::Range(lo.into(), hi.into()));
            assert_eq!(
                e.to_string(),
                format!("invalid parameter {name}={v}: allowed {lo}-{hi}")
            );
        }
    }
}

/// (setter, name, allowed, accepted words) for every word parameter.
type WordCase = (
    fn(&mut Raw<'static>, &'static [u8]),
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[test]
fn words() {
    let cases: &[WordCase] = &[
        (|r, v| r.backend = v, "backend", "hv|sim", &["hv", "sim"]),
        (
            |r, v| r.log_type = v,
            "type",
            "local|global|system",
            &["local", "global", "system"],
        ),
        (
            |r, v| r.mode = v,
            "mode",
            "regular|circular",
            &["regular", "circular"],
        ),
        (
            |r, v| r.time_basis = v,
            "time_basis",
            "reference|tsc",
            &["reference", "tsc"],
        ),
    ];
    for &(set, name, allowed, good) in cases {
        for w in good {
            let mut r = defaults();
            set(&mut r, w.as_bytes());
            assert!(validate(&r).is_ok(), "{name}={w}");
        }
        for bad in ["", "bogus", "SIM", "local ", "qpc"] {
            let mut r = defaults();
            set(&mut r, bad.as_bytes());
            assert_eq!(
                message(&r),
                format!("invalid parameter {name}='{bad}': allowed {allowed}")
            );
        }
    }
    let mut r = defaults();
    r.backend = b"sim";
    r.log_type = b"system";
    r.mode = b"circular";
    r.time_basis = b"tsc";
    let c = validate(&r).unwrap();
    assert_eq!(c.backend, BackendKind::Sim);
    assert_eq!(c.log_type, EventLogType::SystemDiagnostics);
    assert_eq!(c.mode, EventLogMode::Circular);
    assert_eq!(c.time_basis, TimeBasis::Tsc);
}

#[test]
fn unprintable_bytes_are_escaped() {
    let mut r = defaults();
    r.mode = b"a\nb";
    assert_eq!(
        message(&r),
        "invalid parameter mode='a\\x0ab': allowed regular|circular"
    );
}

#[test]
fn too_long_names_the_parameter() {
    let mut r = defaults();
    r.text_too_long = Some(("nodes", b"0,1,2"));
    assert_eq!(
        message(&r),
        "invalid parameter nodes='0,1,2': longer than 64 characters"
    );
}

#[test]
fn sources_only_named_bits() {
    let mut r = defaults();
    r.sources = 0x400 | 0x8000 | 0x40_0000;
    assert_eq!(validate(&r).unwrap().sources, 0x408400);
    r.sources = 0x2000_0000;
    assert_eq!(validate(&r).unwrap().sources, 0x2000_0000);
    r.sources = 1 << 63 | 0x400;
    assert_eq!(
        message(&r),
        format!(
            "invalid parameter sources={}: unknown event source bits 0x8000000000000000",
            1u64 << 63 | 0x400
        )
    );
    r.sources = 0x80;
    assert_eq!(
        message(&r),
        "invalid parameter sources=128: unknown event source bits 0x80"
    );
}

#[test]
fn sources_bit_0_means_extended() {
    let mut r = defaults();
    // The former default, 0x3, and bit 0 next to valid groups.
    for mask in [0x3, 0x1, 0x401] {
        r.sources = mask;
        assert_eq!(
            message(&r),
            format!(
                "invalid parameter sources={mask}: bit 0 means extended format, not a group; \
                 allowed group bits 0x3fffff00"
            )
        );
        assert!(check_sources_mask(mask).is_err());
    }
}

#[test]
fn sources_need_a_group_to_start() {
    let mut r = defaults();
    r.sources = 0;
    assert_eq!(
        message(&r),
        "invalid parameter sources=0: at least one group bit needed to start logging (0x3fffff00)"
    );
    // The ioctl may turn everything off.
    assert_eq!(check_sources_mask(0), Ok(0));
    assert_eq!(check_sources_mask(0x3FFF_FF00), Ok(0x3FFF_FF00));
    assert!(check_sources_mask(0x4000_0000).is_err());
}

#[test]
fn node_lists() {
    fn ids(s: &str) -> Result<Vec<u32>, ParamError<'_>> {
        parse_nodes(s.as_bytes()).map(|l| l.ids().collect())
    }
    assert_eq!(ids("").unwrap(), Vec::<u32>::new());
    assert_eq!(ids("0").unwrap(), vec![0]);
    assert_eq!(ids("3,0-1,1").unwrap(), vec![0, 1, 3]);
    assert_eq!(ids("2-2").unwrap(), vec![2]);
    assert_eq!(ids("1023").unwrap(), vec![1023]);
    assert_eq!(ids("0-63").unwrap().len(), 64);
    for bad in [
        "x", "1-0", "1024", "0,", ",0", "-1", "1-", "0-64", "00000", "1 ", "0--1",
    ] {
        let e = parse_nodes(bad.as_bytes()).unwrap_err();
        assert_eq!(e.param, "nodes", "{bad}");
        assert_eq!(
            e.to_string(),
            format!(
                "invalid parameter nodes='{bad}': allowed a node list such as 0,2-3 \
                 (ids below 1024, at most 64)"
            )
        );
    }
}

#[test]
fn first_bad_parameter_is_named() {
    let mut r = defaults();
    r.backend = b"x";
    r.buffer_pages = 0;
    r.sim_rate = u32::MAX;
    assert_eq!(validate(&r).unwrap_err().param, "backend");
    r.backend = b"sim";
    assert_eq!(validate(&r).unwrap_err().param, "buffer_pages");
    r.buffer_pages = 1;
    assert_eq!(validate(&r).unwrap_err().param, "sim_rate");
}

#[test]
fn threshold_against_buffers() {
    assert!(check_threshold(4, 4).is_ok());
    let e = check_threshold(5, 4).unwrap_err();
    assert_eq!(e.to_string(), "invalid parameter threshold=5: allowed 1-4");
}

proptest! {
    /// Any node list made of in-range ids and ranges parses to exactly the
    /// set they name.
    #[test]
    fn node_list_round_trip(items in prop::collection::vec((0u32..1024, 0u32..4), 1..8)) {
        let mut text = String::new();
        let mut want = std::collections::BTreeSet::new();
        for (i, &(lo, span)) in items.iter().enumerate() {
            let hi = (lo + span).min(1023);
            if i > 0 { text.push(','); }
            if lo == hi { text += &lo.to_string(); } else { text += &format!("{lo}-{hi}"); }
            want.extend(lo..=hi);
        }
        match params::parse_nodes(text.as_bytes()) {
            Ok(l) => prop_assert_eq!(l.ids().collect::<Vec<_>>(), want.into_iter().collect::<Vec<_>>()),
            Err(_) => prop_assert!(want.len() > 64),
        }
    }

    /// Validation never panics and accepts exactly the in-range numbers.
    #[test]
    fn numbers_accepted_iff_in_range(pages in any::<u32>(), per_cpu in any::<u32>(), thr in any::<u32>()) {
        let mut r = defaults();
        r.buffer_pages = pages;
        r.buffers_per_cpu = per_cpu;
        r.threshold = thr;
        let ok = (1..=512).contains(&pages) && (1..=512).contains(&per_cpu) && (1..=512).contains(&thr);
        prop_assert_eq!(validate(&r).is_ok(), ok);
    }
}
