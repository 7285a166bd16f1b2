// SPDX-License-Identifier: GPL-2.0

//! Host tests of the live buffer table (hv_evlog/policy/live.rs): which buffers a
//! resize to N per served CPU creates and takes out, and where.

use hv_evlog_host_tests::live::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// The `2node` VM's served CPUs: 0-1 on node 0, 2-3 on node 1.
fn two_node() -> Vec<Served> {
    (0..4)
        .map(|cpu| Served {
            cpu,
            target_node: cpu / 2,
            pxm: cpu / 2,
        })
        .collect()
}

/// Applies `resize_plan` to `table`, returning the steps.
fn apply(table: &mut [Option<u32>], served: &[Served], n: u32) -> Result<Vec<Step>, ResizeError> {
    let mut steps = Vec::new();
    let counts = resize_plan(table, served, n, |s| steps.push(s))?;
    for s in &steps {
        match *s {
            Step::Add { index, cpu, .. } => {
                assert_eq!(table[index as usize], None, "added over a buffer: {s:?}");
                table[index as usize] = Some(cpu);
            }
            Step::Remove { index } => {
                assert!(
                    table[index as usize].is_some(),
                    "removed a free index: {s:?}"
                );
                table[index as usize] = None;
            }
        }
    }
    assert_eq!(counts.total as usize, table.iter().flatten().count());
    Ok(steps)
}

/// The load-time layout: CPU after CPU, 2 slots each (index = 2 * cpu + slot).
fn loaded(max: usize) -> Vec<Option<u32>> {
    let mut t = vec![None; max];
    for (i, slot) in t.iter_mut().enumerate().take(8) {
        *slot = Some(i as u32 / 2);
    }
    t
}

#[test]
fn grow_2_to_6_then_shrink_to_1_on_2node() {
    let served = two_node();
    let mut table = loaded(24);
    let steps = apply(&mut table, &served, 6).unwrap();
    // 4 new buffers per CPU, at indices 8.. in serving order.
    assert_eq!(steps.len(), 16);
    assert_eq!(
        steps[0],
        Step::Add {
            index: 8,
            cpu: 0,
            target_node: 0,
            pxm: 0
        }
    );
    assert_eq!(
        steps[15],
        Step::Add {
            index: 23,
            cpu: 3,
            target_node: 1,
            pxm: 1
        }
    );
    let expect: Vec<Option<u32>> = (0..8)
        .map(|i| Some(i / 2))
        .chain((8..24).map(|i| Some((i - 8) / 4)))
        .collect();
    assert_eq!(table, expect);

    let steps = apply(&mut table, &served, 1).unwrap();
    assert!(steps.iter().all(|s| matches!(s, Step::Remove { .. })));
    assert_eq!(steps.len(), 20);
    // Each CPU keeps its lowest index: the load-time slot 0.
    let kept: Vec<(usize, u32)> = table
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
        .collect();
    assert_eq!(kept, vec![(0, 0), (2, 1), (4, 2), (6, 3)]);
    // CPU 0's removals, highest index first.
    assert_eq!(steps[0], Step::Remove { index: 11 });
    assert_eq!(steps[4], Step::Remove { index: 1 });
}

#[test]
fn growing_fills_the_holes_first() {
    let served = two_node();
    let mut table = loaded(8);
    apply(&mut table, &served, 1).unwrap();
    let steps = apply(&mut table, &served, 2).unwrap();
    let added: Vec<(u32, u32)> = steps
        .iter()
        .map(|s| match *s {
            Step::Add { index, cpu, .. } => (index, cpu),
            Step::Remove { .. } => panic!("{s:?}"),
        })
        .collect();
    assert_eq!(added, vec![(1, 0), (3, 1), (5, 2), (7, 3)]);
}

#[test]
fn refusals_change_nothing() {
    let served = two_node();
    let table = loaded(24);
    let mut called = false;
    assert_eq!(
        resize_plan(&table, &served, 7, |_| called = true),
        Err(ResizeError::TooMany {
            per_cpu: 7,
            cpus: 4,
            others: 0,
            max: 24
        })
    );
    assert_eq!(
        resize_plan(&table, &served, 0, |_| called = true),
        Err(ResizeError::Zero)
    );
    assert_eq!(
        resize_plan(&table, &[], 1, |_| called = true),
        Err(ResizeError::NoCpus)
    );
    assert!(!called);
    assert_eq!(
        ResizeError::TooMany {
            per_cpu: 7,
            cpus: 4,
            others: 0,
            max: 24
        }
        .to_string(),
        "7 per CPU x 4 CPUs = 28 buffers exceed the group maximum of 24 \
         (max_buffers at load); at most 6 per CPU"
    );
    assert_eq!(
        ResizeError::TooMany {
            per_cpu: 3,
            cpus: 2,
            others: 3,
            max: 8
        }
        .to_string(),
        "3 per CPU x 2 CPUs = 6 buffers (+3 of CPUs not served) exceed the group \
         maximum of 8 (max_buffers at load); at most 2 per CPU"
    );
    // Exactly at the maximum is fine.
    let mut t = table.clone();
    assert_eq!(apply(&mut t, &served, 6).unwrap().len(), 16);
}

#[test]
fn buffers_of_cpus_not_served_stay() {
    // CPU 9 (not served) holds index 1.
    let served = two_node();
    let mut table = vec![None; 10];
    table[1] = Some(9);
    apply(&mut table, &served, 2).unwrap();
    assert_eq!(table[1], Some(9));
    assert_eq!(buffers_of(&table, 9), 1);
    assert!(matches!(
        resize_plan(&table, &served, 3, |_| {}),
        Err(ResizeError::TooMany { others: 1, .. })
    ));
}

proptest! {
    /// Any sequence of resizes: every served CPU ends with exactly N, indices
    /// stay below the maximum, a kept buffer never moves, and a CPU keeps its
    /// lowest indices.
    #[test]
    fn resizes_keep_the_invariants(
        cpus in 1u32..6,
        max in 1usize..64,
        sizes in proptest::collection::vec(0u32..12, 1..8),
    ) {
        let served: Vec<Served> = (0..cpus)
            .map(|c| Served { cpu: c * 3, target_node: c % 2, pxm: c % 2 })
            .collect();
        let mut table = vec![None; max];
        for n in sizes {
            let before = table.clone();
            match apply(&mut table, &served, n) {
                Ok(_) => {
                    for s in &served {
                        prop_assert_eq!(buffers_of(&table, s.cpu), n);
                    }
                    for (i, (b, a)) in before.iter().zip(&table).enumerate() {
                        // A buffer that stays keeps its index and CPU.
                        if b.is_some() && a.is_some() {
                            prop_assert_eq!(b, a, "index {} changed", i);
                        }
                    }
                    for s in &served {
                        let had: BTreeSet<usize> = before.iter().enumerate()
                            .filter(|(_, c)| **c == Some(s.cpu)).map(|(i, _)| i).collect();
                        let has: BTreeSet<usize> = table.iter().enumerate()
                            .filter(|(_, c)| **c == Some(s.cpu)).map(|(i, _)| i).collect();
                        if has.len() <= had.len() {
                            let lowest: BTreeSet<usize> =
                                had.iter().copied().take(has.len()).collect();
                            prop_assert_eq!(&has, &lowest);
                        }
                    }
                }
                Err(ResizeError::Zero) => prop_assert_eq!(n, 0),
                Err(ResizeError::TooMany { .. }) => {
                    prop_assert!(u64::from(n) * u64::from(cpus) > max as u64);
                    prop_assert_eq!(&table, &before);
                }
                Err(e) => prop_assert!(false, "{:?}", e),
            }
        }
    }
}

#[test]
fn max_buffers_parameter() {
    // 0: room to grow, 4 times the plan, at most 512.
    assert_eq!(DEFAULT_HEADROOM, 4);
    assert_eq!(check_max_buffers(0, 8), Ok(32));
    assert_eq!(check_max_buffers(0, 1), Ok(4));
    assert_eq!(check_max_buffers(0, 127), Ok(508));
    assert_eq!(check_max_buffers(0, 128), Ok(512));
    assert_eq!(check_max_buffers(0, 129), Ok(512));
    assert_eq!(check_max_buffers(0, 512), Ok(512));
    // An explicit value: from the plan to 512.
    assert_eq!(check_max_buffers(8, 8), Ok(8));
    assert_eq!(check_max_buffers(9, 8), Ok(9));
    assert_eq!(check_max_buffers(512, 8), Ok(512));
    assert_eq!(check_max_buffers(512, 512), Ok(512));
    assert_eq!(
        check_max_buffers(7, 8),
        Err(MaxBuffersError { max: 7, planned: 8 })
    );
    assert_eq!(
        check_max_buffers(513, 8).unwrap_err().to_string(),
        "invalid parameter max_buffers=513: must be 0 (4 times the planned count, at most \
         512) or from the 8 buffers planned at load to 512"
    );
}

proptest! {
    /// The default maximum always holds the plan, never passes 512, and
    /// leaves room for 4 times the plan where 512 allows it.
    #[test]
    fn the_default_maximum_holds_the_plan_and_room(planned in 1u32..=GROUP_MAX) {
        let max = check_max_buffers(0, planned).unwrap();
        prop_assert!(planned <= max && max <= GROUP_MAX);
        prop_assert_eq!(max, (4 * planned).min(GROUP_MAX));
        // One buffer per CPU at load: a resize can then give each CPU 4, or
        // what 512 holds, and not one more.
        let cpus = planned;
        let mut table = vec![None; max as usize];
        for (i, slot) in table.iter_mut().enumerate().take(planned as usize) {
            *slot = Some(i as u32);
        }
        let served: Vec<Served> = (0..cpus).map(|cpu| Served { cpu, ..Served::default() }).collect();
        let most = (max / cpus).min(DEFAULT_HEADROOM);
        let grows = resize_plan(&table, &served, most, |_| {}).is_ok();
        prop_assert!(grows, "{} per CPU refused", most);
        let past = resize_plan(&table, &served, max / cpus + 1, |_| {});
        let refused = matches!(past, Err(ResizeError::TooMany { .. }));
        prop_assert!(refused, "{:?}", past);
    }
}

/// What an unused slot of the group maximum costs (`DEFAULT_HEADROOM`'s
/// comment): the pure types sized by it, at their sizes there. (The
/// group's table slot, `Option<Buffer>` of group/table.rs, is a kernel
/// type: 56 bytes by the same reasoning, not checked here.)
#[test]
fn an_unused_slot_costs_what_the_headroom_comment_says() {
    use hv_evlog_host_tests::{completion::Tracked, tlfs::BufferHeader, uapi::Record};
    use std::mem::size_of;
    // A consumer's open (device/mod.rs): tracker, queue, header snapshots.
    assert_eq!(size_of::<Tracked>(), 16);
    assert_eq!(size_of::<Record>(), 40);
    assert_eq!(size_of::<BufferHeader>(), 72);
    assert_eq!(
        size_of::<Tracked>() + size_of::<Record>() + size_of::<BufferHeader>(),
        128
    );
    // The table slot's pure part: whom a buffer serves.
    assert_eq!(size_of::<Option<Served>>(), 16);
    // A resize's scratch (group/resize.rs): per slot, the CPU it serves,
    // a step, and two flags.
    assert_eq!(size_of::<Option<u32>>() + size_of::<Step>() + 2, 30);
    // The totals the comment gives: 56 + 128 a slot.
    assert_eq!((32 - 8) * (56 + 128), 4_416);
    assert_eq!((512 - 128) * (56 + 128), 70_656);
}

/// The parameter's description (modinfo) and the documentation say the
/// default maximum the code gives, and the refusal the code prints.
#[test]
fn the_default_maximum_is_described_as_it_is() {
    let read = |file: &str| {
        let path = format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let default = format!("{DEFAULT_HEADROOM} times the planned count, at most {GROUP_MAX}");
    assert!(
        read("hv_evlog.rs").contains(&format!("0 = {default}) [0]")),
        "hv_evlog.rs: max_buffers' description"
    );
    let rst = read("Documentation/hv_evlog.rst");
    let refusal = MaxBuffersError { max: 7, planned: 8 }.to_string();
    assert!(
        rst.contains(&format!("    hv_evlog: {refusal}\n")),
        "{refusal}"
    );
    let line = format!(
        "(``max_buffers=0``) it is {DEFAULT_HEADROOM} times the count planned at load, \
         at most {GROUP_MAX}"
    );
    assert!(rst.contains(&line), "{line}");
}
