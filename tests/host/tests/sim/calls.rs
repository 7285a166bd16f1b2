// SPDX-License-Identifier: GPL-2.0

//! The call path (`dispatch.rs`): the value, control words, input
//! addressing, fault injection, refusal, partition properties.

use super::rig::*;

#[test]
fn all_zero_bytes_are_the_empty_simulator() {
    // The kernel shell allocates the simulator zeroed in place (it is too
    // large for a kernel stack); that is only sound if zero is `new()`.
    // SAFETY: every field is an integer, a bool or a fieldless enum with a
    // zero variant; the assertion below is what this test is about.
    let zeroed: Box<Hypervisor> = unsafe { Box::new(std::mem::zeroed()) };
    assert_eq!(*zeroed, Hypervisor::new());
    assert_eq!(Hypervisor::default(), Hypervisor::new());
}

#[test]
fn control_word_errors() {
    let mut r = Rig::two();
    let init = Control::new(HvCall::InitializeEventLogBufferGroup).raw();
    let (i, o) = (Rig::gpa(r.input), Rig::gpa(r.output));
    let cases: &[(u64, HvStatus)] = &[
        (0x0001, HvStatus::INVALID_HYPERCALL_CODE),
        (0x0069, HvStatus::INVALID_HYPERCALL_CODE),
        (init | 1 << 27, HvStatus::INVALID_HYPERCALL_INPUT),
        (init | 1 << 31, HvStatus::INVALID_HYPERCALL_INPUT),
        (init | 1 << 44, HvStatus::INVALID_HYPERCALL_INPUT),
        (init | 1 << 63, HvStatus::INVALID_HYPERCALL_INPUT),
        (
            Control::new(HvCall::InitializeEventLogBufferGroup)
                .with_var_header(1)
                .unwrap()
                .raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::InitializeEventLogBufferGroup).raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::MapEventLogBuffer).raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::DepositMemory).raw() | 1 << 32,
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::fast_call(HvCall::GetMemoryBalance).raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::rep_call(HvCall::CreateEventLogBuffer, 1)
                .unwrap()
                .raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
        (
            Control::new(HvCall::FlushEventLogBuffer)
                .with_rep_start(1)
                .unwrap()
                .raw(),
            HvStatus::INVALID_HYPERCALL_INPUT,
        ),
    ];
    for &(control, status) in cases {
        assert_eq!(
            result_status(r.raw(control, i, o)),
            status,
            "control {control:#x}"
        );
    }
    // Nothing above may have initialized the group.
    assert!(!r.hv.group_active());
    r.finish();
}

#[test]
fn input_and_output_addresses() {
    let mut r = Rig::two();
    let init = Control::new(HvCall::InitializeEventLogBufferGroup).raw();
    let (i, o) = (Rig::gpa(r.input), Rig::gpa(r.output));
    // Not 8-byte aligned.
    assert_eq!(
        result_status(r.raw(init, i + 4, o)),
        HvStatus::INVALID_ALIGNMENT
    );
    // 32 bytes from offset 4072 cross into the next page.
    assert_eq!(
        result_status(r.raw(init, i + 4072, o)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // Not memory at all.
    assert_eq!(
        result_status(r.raw(init, 0x10, o)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // A map output must be one whole page.
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    let map = Control::new(HvCall::MapEventLogBuffer).raw();
    MapBufferInput::own(LT, 0).encode(r.p.mem(r.input)).unwrap();
    assert_eq!(
        result_status(r.raw(map, i, o + 8)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    assert_eq!(
        result_status(r.raw(map, i, o + 1)),
        HvStatus::INVALID_ALIGNMENT
    );
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    assert_eq!(result_status(r.raw(map, i, o)), HvStatus::SUCCESS);
    r.finish();
}

#[test]
fn fast_and_memory_forms_are_equivalent() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let a = CreateBufferInput::new(LT, 0, ProximityDomainInfo::node(PXM0));
    let b = CreateBufferInput::new(LT, 1, ProximityDomainInfo::node(PXM1));
    ok(r.fast(HvCall::CreateEventLogBuffer, &a));
    ok(r.mem(HvCall::CreateEventLogBuffer, &b));
    assert_eq!(
        r.fast(HvCall::CreateEventLogBuffer, &b),
        HvStatus::OBJECT_IN_USE
    );
    assert_eq!(
        r.mem(HvCall::CreateEventLogBuffer, &a),
        HvStatus::OBJECT_IN_USE
    );
    ok(r.mem(HvCall::DeleteEventLogBuffer, &Rig::id(0)));
    ok(r.fast(HvCall::DeleteEventLogBuffer, &Rig::id(1)));
    ok(r.mem(HvCall::FinalizeEventLogBufferGroup, &FinalizeInput::new(LT)));
    r.finish();
}

#[test]
fn fault_injection_hits_exactly_the_nth_call() {
    let mut r = Rig::two();
    assert_eq!(r.hv.calls(), 0);
    r.init_ok(GEO);
    assert_eq!(r.hv.calls(), 1);
    // Calls 2, 3, 4 are creates; the third of them (call 4) fails.
    r.hv.fail_at = 4;
    r.hv.fail_status = HvStatus::TIMEOUT;
    let pool = r.hv.pool(0);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    let charged = r.hv.pool(0);
    assert_eq!(
        r.create(2, ProximityDomainInfo::node(PXM0)),
        HvStatus::TIMEOUT
    );
    assert_eq!(r.hv.calls(), 4);
    // No side effect: no buffer 2, nothing charged.
    assert_eq!(r.hv.buffer_state(2), None);
    assert_eq!(r.hv.pool(0), charged);
    assert_ne!(charged, pool);
    // Only that call: the retry succeeds.
    ok(r.create(2, ProximityDomainInfo::node(PXM0)));
    assert_eq!(r.hv.calls(), 5);
    // An injected failure even beats a malformed control word.
    r.hv.fail_at = 6;
    r.hv.fail_status = HvStatus::INSUFFICIENT_MEMORY;
    assert_eq!(
        result_status(r.raw(0xFFFF, 0, 0)),
        HvStatus::INSUFFICIENT_MEMORY
    );
    assert_eq!(
        result_status(r.raw(0xFFFF, 0, 0)),
        HvStatus::INVALID_HYPERCALL_CODE
    );
    r.finish();
}

/// `fail_in(n)` counts from the calls already made: the n-th call after it
/// fails, once, and `fails_in` counts down to it.
#[test]
fn fail_in_counts_from_now() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    assert_eq!(r.hv.fails_in(), 0);
    r.hv.fail_status = HvStatus::INVALID_PARAMETER;
    r.hv.fail_in(2);
    assert_eq!(r.hv.fails_in(), 2);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    assert_eq!(r.hv.fails_in(), 1);
    assert_eq!(
        r.create(1, ProximityDomainInfo::node(PXM0)),
        HvStatus::INVALID_PARAMETER
    );
    assert_eq!(r.hv.buffer_state(1), None);
    assert_eq!(r.hv.fails_in(), 0);
    ok(r.create(1, ProximityDomainInfo::node(PXM0)));
    // 0 disarms an armed failure.
    r.hv.fail_in(1);
    r.hv.fail_in(0);
    ok(r.create(2, ProximityDomainInfo::node(PXM0)));
    r.finish();
}

#[test]
fn refusing_everything_plays_an_ordinary_guest() {
    let mut r = Rig::two();
    r.hv.refuse_status = HvStatus::ACCESS_DENIED;
    assert_eq!(r.init(GEO), HvStatus::ACCESS_DENIED);
    assert_eq!(
        r.balance(ProximityDomainInfo::none()),
        Err(HvStatus::ACCESS_DENIED)
    );
    r.hv.refuse_status = HvStatus::INVALID_HYPERCALL_CODE;
    assert_eq!(r.finalize(), HvStatus::INVALID_HYPERCALL_CODE);
    r.hv.refuse_status = HvStatus::SUCCESS;
    r.init_ok(GEO);
    r.finish();
}

#[test]
fn partition_properties_are_unknown() {
    let mut r = Rig::two();
    let own = GetPartitionPropertyInput {
        partition_id: HV_PARTITION_ID_SELF,
        property_code: 0x1_0000,
        padding: 0,
    };
    assert_eq!(
        r.mem(HvCall::GetPartitionProperty, &own),
        HvStatus::UNKNOWN_PROPERTY
    );
    let other = GetPartitionPropertyInput {
        partition_id: 3,
        ..own
    };
    assert_eq!(
        r.mem(HvCall::GetPartitionProperty, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    r.finish();
}
