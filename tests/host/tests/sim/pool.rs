// SPDX-License-Identifier: GPL-2.0

//! The per-node pools (`pool.rs`): seeding, deposit, balance, withdraw,
//! charges and the ledger.

use super::rig::*;
use hv_evlog_host_tests::numa::{self, plan, BufferPlacement, Node, NodeFilter, Request, Topology};
use hv_evlog_host_tests::tlfs::BufferPages;

#[test]
fn seed_stops_at_the_node_capacity_and_skips_memoryless_nodes() {
    let mut p = Fake::new(&[(10, PXM0), (0, PXM1)], 1);
    let mut hv = Box::new(Hypervisor::new());
    assert_eq!(hv.seed_pool(&mut p, 0, 25), 10);
    assert_eq!(hv.seed_pool(&mut p, 1, 25), 0);
    assert_eq!(hv.seed_pool(&mut p, 7, 25), 0);
    assert_eq!(
        hv.pool(0),
        PoolStats {
            free: 10,
            in_use: 0
        }
    );
    assert_eq!(hv.pages_held(), 10);
    hv.teardown(&mut p);
    assert!(p.live.is_empty());
    assert_eq!(DEFAULT_POOL_PAGES_PER_NODE, 256);
}

#[test]
fn short_pool_takes_nothing_then_deposit_then_success() {
    // 1 + 1 + 8 = 10 pages for the first buffer of a domain.
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 9);
    r.init_ok(Geo { pages: 8, ..GEO });
    let before = r.hv.pool(1);
    assert_eq!(
        r.create(0, ProximityDomainInfo::node(PXM1)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    assert_eq!(r.hv.pool(1), before);
    assert_eq!(r.hv.buffer_state(0), None);
    // Pages on the other node do not help a domain that is asked for.
    r.deposit(0, 5);
    assert_eq!(
        r.create(0, ProximityDomainInfo::node(PXM1)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    r.deposit(1, 1);
    ok(r.create(0, ProximityDomainInfo::node(PXM1)));
    assert_eq!(
        r.hv.pool(1),
        PoolStats {
            free: 0,
            in_use: 10
        }
    );
    assert_eq!(r.balance(ProximityDomainInfo::node(PXM1)), Ok((0, 10)));
    // Node 0 now holds 14: its first buffer costs 10, the second 9.
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    assert_eq!(
        r.hv.pool(0),
        PoolStats {
            free: 4,
            in_use: 10
        }
    );
    assert_eq!(
        r.create(2, ProximityDomainInfo::node(PXM0)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    r.finish();
}

#[test]
fn deposit_validation_and_resume() {
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 0);
    let pfns: Vec<u64> = (0..4).map(|_| r.p.alloc_page(1).unwrap()).collect();
    // Wrong partition: nothing taken.
    let raw = r.deposit_raw(7, &pfns, 0);
    assert_eq!(result_status(raw), HvStatus::INVALID_PARTITION_ID);
    assert_eq!(r.hv.pages_held(), 0);
    // Rep count limits.
    let i = Rig::gpa(r.input);
    let zero = Control::new(HvCall::DepositMemory).raw();
    assert_eq!(
        result_status(r.raw(zero, i, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    let too_many = Control::rep_call(HvCall::DepositMemory, 512).unwrap().raw();
    assert_eq!(
        result_status(r.raw(too_many, i, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // A page that is not memory stops the call where it is.
    let mut list = pfns.clone();
    list.insert(2, 0x5);
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &list, 0);
    assert_eq!(result_status(raw), HvStatus::INVALID_PARAMETER);
    assert_eq!(result_reps(raw), 2);
    assert_eq!(r.hv.pool(1).free, 2);
    // Resuming after the bad page takes the rest.
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &list, 3);
    assert_eq!(check(raw), Ok(5));
    assert_eq!(r.hv.pool(1).free, 4);
    // Start not below the count.
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &list, 5);
    assert_eq!(result_status(raw), HvStatus::INVALID_HYPERCALL_INPUT);
    // The largest deposit.
    let big: Vec<u64> = (0..DepositMemoryInput::MAX_PAGES)
        .map(|_| r.p.alloc_page(0).unwrap())
        .collect();
    let raw = r.deposit_raw(HV_PARTITION_ID_SELF, &big, 0);
    assert_eq!(check(raw), Ok(511));
    assert_eq!(r.hv.pool(0).free, 511);
    r.finish();
}

#[test]
fn memory_balance_per_domain_and_total() {
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 30);
    r.init_ok(Geo { pages: 4, ..GEO });
    ok(r.create(0, ProximityDomainInfo::node(PXM1)));
    assert_eq!(r.balance(ProximityDomainInfo::node(PXM0)), Ok((30, 0)));
    assert_eq!(r.balance(ProximityDomainInfo::node(PXM1)), Ok((24, 6)));
    assert_eq!(r.balance(ProximityDomainInfo::none()), Ok((54, 6)));
    let pdi = Err(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO);
    assert_eq!(r.balance(ProximityDomainInfo::node(5)), pdi);
    let reserved = ProximityDomainInfo {
        domain_id: PXM0,
        flags: ProximityDomainInfo::VALID | 4,
    };
    assert_eq!(r.balance(reserved), pdi);
    let other = GetMemoryBalanceInput {
        partition_id: 1,
        proximity: ProximityDomainInfo::none(),
    };
    assert_eq!(
        r.mem(HvCall::GetMemoryBalance, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    r.finish();
}

#[test]
fn delete_gives_everything_back_including_the_domain_page() {
    let mut r = Rig::two();
    r.init_ok(Geo { pages: 2, ..GEO });
    let start = r.hv.pool(0);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    assert_eq!(r.hv.pool(0).in_use, numa::pool_pages(2, BufferPages(2)));
    ok(r.delete(0));
    assert_eq!(r.hv.pool(0).in_use, numa::pool_pages(1, BufferPages(2)));
    ok(r.delete(1));
    assert_eq!(r.hv.pool(0), start);
    r.hv.audit(&mut r.p).unwrap();
    r.finish();
}

#[test]
fn no_proximity_domain_uses_pxm_0_then_the_lowest_node_that_fits() {
    // Node 0 is proximity domain 0 here.
    let mut r = Rig::new(&[(4096, 5), (4096, 0), (4096, 7)], 0);
    r.deposit(0, 20);
    r.deposit(1, 4);
    r.deposit(2, 20);
    r.init_ok(Geo { pages: 2, ..GEO });
    let none = ProximityDomainInfo::none();
    // Node 1 (pxm 0) holds 4 = 2 + 1 + 1: it fits the first buffer.
    ok(r.create(0, none));
    assert_eq!(r.hv.pool(1).in_use, 4);
    // The next would cost 3 there, but only 0 are left: the lowest node id.
    ok(r.create(1, none));
    assert_eq!(r.hv.pool(0).in_use, 4);
    // A valid proximity domain is required, not preferred.
    let pref = ProximityDomainInfo::node(0);
    assert_eq!(r.create(2, pref), HvStatus::INSUFFICIENT_MEMORY);
    r.finish();
}

/// The `memless` VM topology: node 0 (CPU 0, memory), node 1 (CPUs 1-2, no
/// memory), node 2 (no CPUs, memory); node 1 is nearer to node 2.
fn memless_plan(storage: &mut [BufferPlacement]) -> numa::Plan<'_> {
    const NODES: [Node<'static>; 3] = [
        Node {
            id: 0,
            pxm: 100,
            cpus: &[0],
            has_memory: true,
        },
        Node {
            id: 1,
            pxm: 101,
            cpus: &[1, 2],
            has_memory: false,
        },
        Node {
            id: 2,
            pxm: 102,
            cpus: &[],
            has_memory: true,
        },
    ];
    const DISTANCE: [u8; 9] = [10, 20, 20, 20, 10, 15, 20, 15, 10];
    let topo = Topology::new(&NODES, &DISTANCE).unwrap();
    let req = Request {
        buffers_per_cpu: 2,
        buffer_pages: 3,
        max_buffers: 32,
        filter: NodeFilter::All,
    };
    plan(&topo, &req, storage).unwrap()
}

#[test]
fn charges_match_the_plan_exactly() {
    let mut storage = [BufferPlacement::default(); 32];
    let plan = memless_plan(&mut storage);
    let mut r = Rig::new(&[(4096, 100), (0, 101), (4096, 102)], 0);
    // Deposit exactly what the plan says each domain needs.
    for d in plan.domains() {
        r.deposit(d.node, d.pool_pages as usize);
    }
    r.init_ok(Geo {
        pages: 3,
        max: 32,
        ..GEO
    });
    for b in plan.buffers() {
        r.assign(b.index, b.cpu);
        ok(r.create(b.index, ProximityDomainInfo::node(b.pxm)));
    }
    for d in plan.domains() {
        let stats = r.hv.pool(d.node);
        assert_eq!(
            stats,
            PoolStats {
                free: 0,
                in_use: d.pool_pages
            }
        );
        assert_eq!(
            r.balance(ProximityDomainInfo::node(d.pxm)),
            Ok((0, d.pool_pages))
        );
    }
    assert_eq!(r.hv.pool(1), PoolStats::default());
    // One page more would have been one page too many: nothing is left, and
    // the next buffer does not fit.
    assert_eq!(
        r.create(31, ProximityDomainInfo::node(102)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    // Each buffer's pages are on the plan's target node.
    for b in plan.buffers() {
        for pfn in r.map(b.index).unwrap() {
            assert_eq!(r.p.node_of_pfn(pfn), Some(b.target_node));
        }
    }
    r.finish();
}

impl Rig {
    /// Withdraws `count` pages of `prox` from `partition`'s pool; returns the
    /// raw result and the page numbers the output page names.
    fn withdraw_raw(
        &mut self,
        partition: u64,
        prox: ProximityDomainInfo,
        count: u16,
    ) -> (u64, Vec<u64>) {
        let i = self.input;
        let input = WithdrawMemoryInput {
            partition_id: partition,
            proximity: prox,
        };
        input.encode(self.p.mem(i)).unwrap();
        let control = Control::rep_call(HvCall::WithdrawMemory, count).unwrap();
        let raw = self.raw(control.raw(), Self::gpa(i), Self::gpa(self.output));
        let reps = usize::from(result_reps(raw));
        let out = self.p.mem(self.output);
        let pfns = (0..reps)
            .map(|k| WithdrawMemoryInput::gpa_page(&out[..], k).unwrap())
            .collect();
        (raw, pfns)
    }
}

#[test]
fn withdraw_returns_free_pool_pages_then_no_resources() {
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 3);
    let (raw, pfns) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM1), 2);
    assert_eq!(check(raw), Ok(2));
    assert_eq!(pfns.len(), 2);
    for &pfn in &pfns {
        assert_eq!(
            r.p.node_of_pfn(pfn),
            Some(1),
            "withdrawn from the asked node"
        );
        r.p.free_page(pfn);
    }
    assert_eq!(r.hv.pool(1), PoolStats { free: 1, in_use: 0 });
    assert_eq!(r.hv.pool(0), PoolStats { free: 3, in_use: 0 });
    // More than the pool holds: what it has, then NO_RESOURCES.
    let (raw, pfns) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM1), 5);
    assert_eq!(result_status(raw), HvStatus::NO_RESOURCES);
    assert_eq!(result_reps(raw), 1);
    assert_eq!(pfns.len(), 1);
    r.p.free_page(pfns[0]);
    assert_eq!(r.hv.pool(1), PoolStats { free: 0, in_use: 0 });
    // Refusals take nothing.
    let (raw, _) = r.withdraw_raw(7, ProximityDomainInfo::node(PXM0), 1);
    assert_eq!(check(raw), Err(HvStatus::INVALID_PARTITION_ID));
    let (raw, _) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::none(), 1);
    assert_eq!(check(raw), Err(HvStatus::INVALID_PROXIMITY_DOMAIN_INFO));
    let (raw, _) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM0), 513);
    assert_eq!(check(raw), Err(HvStatus::INVALID_HYPERCALL_INPUT));
    assert_eq!(r.hv.pool(0), PoolStats { free: 3, in_use: 0 });
    r.finish();
}

#[test]
fn ledger_counts_pool_pages_by_origin_and_teardown_frees_exactly_those() {
    // Seeded pages stand for what other drivers deposited into the root's
    // pool: the module's own deposits come on top of them.
    let mut r = Rig::new(&[(4096, PXM0), (4096, PXM1)], 3);
    let ledger = |seeded, deposited, withdrawn| Ledger {
        seeded,
        deposited,
        withdrawn,
    };
    assert_eq!(r.hv.ledger(), ledger(6, 0, 0));
    r.deposit(1, 4);
    r.deposit(0, 1);
    // A refused deposit hands nothing over and is not counted.
    let pfn = r.p.alloc_page(0).unwrap();
    let raw = r.deposit_raw(7, &[pfn], 0);
    assert_eq!(result_status(raw), HvStatus::INVALID_PARTITION_ID);
    r.p.free_page(pfn);
    assert_eq!(r.hv.ledger(), ledger(6, 5, 0));
    let (raw, pfns) = r.withdraw_raw(HV_PARTITION_ID_SELF, ProximityDomainInfo::node(PXM1), 2);
    assert_eq!(check(raw), Ok(2));
    for pfn in pfns {
        r.p.free_page(pfn);
    }
    assert_eq!(r.hv.ledger(), ledger(6, 5, 2));
    assert_eq!(r.hv.pages_held(), 6 + 5 - 2);
    // Buffers in use are given back too.
    r.init_ok(GEO);
    r.create_mapped(0, ProximityDomainInfo::node(PXM1));
    r.hv.audit(&mut r.p).unwrap();
    assert_eq!(r.teardown(), 9);
    assert_eq!(r.hv.ledger(), ledger(0, 0, 0));
    r.p.free_page(r.input);
    r.p.free_page(r.output);
    assert!(r.p.live.is_empty(), "leaked: {:x?}", r.p.live.keys());
}
