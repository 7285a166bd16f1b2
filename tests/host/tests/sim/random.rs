// SPDX-License-Identifier: GPL-2.0

//! Random call sequences: pages and headers stay consistent.

use super::rig::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Init(bool, u32, u32, u32),
    Create(u32, u8),
    Delete(u32),
    Map(u32),
    Unmap(u32),
    Release(u32),
    Sources(u64),
    Flush(u32),
    Finalize,
    Deposit(u32, usize),
    Affinity(u32, u32),
    Write(u32, u16),
    Writes(u32, u16, u16),
    Take,
    Fault(u64, u16),
    Raw(u64, u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0u32..10;
    prop_oneof![
        (any::<bool>(), 1u32..12, 1u32..4, 1u32..6).prop_map(|(c, m, p, t)| Op::Init(c, m, p, t)),
        (index.clone(), 0u8..5).prop_map(|(i, n)| Op::Create(i, n)),
        index.clone().prop_map(Op::Delete),
        index.clone().prop_map(Op::Map),
        index.clone().prop_map(Op::Unmap),
        index.clone().prop_map(Op::Release),
        prop_oneof![Just(0u64), Just(1), Just(SOURCE_HC), any::<u64>()].prop_map(Op::Sources),
        prop_oneof![index.clone(), Just(u32::MAX)].prop_map(Op::Flush),
        Just(Op::Finalize),
        (0u32..3, 0usize..30).prop_map(|(n, c)| Op::Deposit(n, c)),
        (index.clone(), 0u32..5).prop_map(|(i, c)| Op::Affinity(i, c)),
        (0u32..5, 0u16..3000).prop_map(|(c, l)| Op::Write(c, l)),
        (0u32..4, 0u16..200, 1u16..400).prop_map(|(c, l, n)| Op::Writes(c, l, n)),
        Just(Op::Take),
        (1u64..4, any::<u16>()).prop_map(|(k, s)| Op::Fault(k, s)),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(c, i, o)| Op::Raw(c, i, o)),
    ]
}

fn prox(n: u8) -> ProximityDomainInfo {
    match n {
        0 => ProximityDomainInfo::node(PXM0),
        1 => ProximityDomainInfo::node(PXM1),
        2 => ProximityDomainInfo::none(),
        3 => ProximityDomainInfo::node(55),
        _ => ProximityDomainInfo {
            domain_id: PXM0,
            flags: 0x7,
        },
    }
}

impl Rig {
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Init(circular, max, pages, threshold) => {
                let mode = if circular {
                    EventLogMode::Circular
                } else {
                    EventLogMode::Regular
                };
                let g = Geo {
                    mode,
                    max,
                    pages,
                    threshold,
                    ..GEO
                };
                self.init(g);
            }
            Op::Create(i, n) => {
                self.create(i, prox(n));
            }
            Op::Delete(i) => {
                self.delete(i);
            }
            Op::Map(i) => {
                let _ = self.map(i);
            }
            Op::Unmap(i) => {
                self.unmap(i);
            }
            Op::Release(i) => {
                self.release(i);
            }
            Op::Sources(mask) => {
                self.sources(mask);
            }
            Op::Flush(index) => {
                self.flush(index);
            }
            Op::Finalize => {
                self.finalize();
            }
            Op::Deposit(node, count) => {
                let pfns: Vec<u64> = (0..count)
                    .map(|_| self.p.alloc_page(node.min(1)).unwrap())
                    .collect();
                // An injected failure may refuse the pages: they stay ours.
                let raw = self.deposit_raw(HV_PARTITION_ID_SELF, &pfns, 0);
                let taken = if check(raw).is_ok() { count } else { 0 };
                assert_eq!(usize::from(result_reps(raw)), taken);
                for &pfn in &pfns[taken..] {
                    self.p.free_page(pfn);
                }
            }
            Op::Affinity(i, cpu) => {
                let _ = self.hv.set_affinity(&self.p, i, cpu);
            }
            Op::Write(cpu, len) => {
                self.write(cpu, len);
            }
            Op::Writes(cpu, len, n) => {
                for _ in 0..n {
                    self.write(cpu, len);
                }
            }
            Op::Take => {
                self.hv.take_notification();
            }
            Op::Fault(k, status) => {
                self.hv.fail_at = self.hv.calls() + k;
                self.hv.fail_status = HvStatus(status);
            }
            Op::Raw(control, input, output) => {
                // Random registers, but never a deposit of random pages: the
                // platform would rightly refuse to hand over pages it does
                // not own.
                if Control::from_raw(control).code() != HvCall::DepositMemory.raw() {
                    self.raw(control, input, output);
                }
            }
        }
    }

    /// What must hold after every step.
    fn check_invariants(&mut self) {
        self.hv.audit(&mut self.p).unwrap();
        // Every page the platform handed out is the rig's two or the
        // simulator's: nothing leaked, nothing counted twice.
        assert_eq!(self.p.live.len() as u64, self.hv.pages_held() + 2);
        // Headers of mapped buffers agree with the simulator's view.
        let mapped: Vec<u32> = self.mapped.keys().copied().collect();
        for index in mapped {
            match self.hv.buffer_state(index) {
                Some(state) if state != BufferState::Standby => {
                    let h = self.header(index);
                    assert_eq!(h.state(), Some(state));
                    assert_eq!(h.buffer_index, index);
                    let bytes = self.bytes(index);
                    assert!(entries(&bytes).all(|e| e.is_ok()));
                }
                _ => {
                    self.forget(index);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_sequences_keep_pages_and_headers_consistent(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut r = Rig::new(&[(8192, PXM0), (8192, PXM1)], 16);
        for op in &ops {
            r.apply(op);
            r.check_invariants();
        }
        r.finish();
    }

    #[test]
    fn random_sequences_from_a_logging_group(
        circular in any::<bool>(),
        threshold in 1u32..4,
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mode = if circular {
            EventLogMode::Circular
        } else {
            EventLogMode::Regular
        };
        // One-page buffers: 0-1 serve CPU 0, 2-3 CPU 1.
        let mut r = Rig::logging(Geo { mode, threshold, ..GEO }, 4);
        r.assign(2, 1);
        r.assign(3, 1);
        for op in &ops {
            r.apply(op);
            r.check_invariants();
        }
        r.finish();
    }
}
