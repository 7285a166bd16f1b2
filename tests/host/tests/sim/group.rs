// SPDX-License-Identifier: GPL-2.0

//! The group calls: initialize, finalize, set sources, the checks every
//! event log call shares, and the teardown sequence.

use super::rig::*;

#[test]
fn initialize_validates_every_field() {
    let mut r = Rig::two();
    let good =
        InitializeGroupInput::new(LT, EventLogMode::Circular, 512, 512, 512, TimeBasis::Qpc, 7);
    type Edit = fn(&mut InitializeGroupInput);
    let bad: &[(&str, Edit)] = &[
        ("type", |i| i.log_type = 3),
        ("mode", |i| i.mode = 2),
        ("max 0", |i| i.max_buffer_count = 0),
        ("max 513", |i| i.max_buffer_count = 513),
        ("size 0", |i| i.buffer_size_in_bytes = 0),
        ("size not pages", |i| i.buffer_size_in_bytes = 4096 + 8),
        ("size 513 pages", |i| i.buffer_size_in_bytes = 513 * 4096),
        ("threshold 0", |i| i.threshold = 0),
        ("threshold > max", |i| {
            i.max_buffer_count = 4;
            i.threshold = 5;
        }),
        ("time basis", |i| i.time_basis = 3),
    ];
    for (what, edit) in bad {
        let mut input = good;
        edit(&mut input);
        assert_eq!(
            r.mem(HvCall::InitializeEventLogBufferGroup, &input),
            HvStatus::INVALID_PARAMETER,
            "{what}"
        );
    }
    // Padding between time_basis and system_time must be zero.
    let (i, o) = (r.input, r.output);
    good.encode(r.p.mem(i)).unwrap();
    r.p.mem(i)[21] = 1;
    let control = Control::new(HvCall::InitializeEventLogBufferGroup).raw();
    assert_eq!(
        result_status(r.raw(control, Rig::gpa(i), Rig::gpa(o))),
        HvStatus::INVALID_PARAMETER
    );
    assert!(!r.hv.group_active());
    // The limits themselves are fine; a second group is not.
    ok(r.mem(HvCall::InitializeEventLogBufferGroup, &good));
    assert!(r.hv.group_active());
    assert_eq!(
        r.mem(HvCall::InitializeEventLogBufferGroup, &good),
        HvStatus::INVALID_PARTITION_STATE
    );
    let other = Geo {
        log_type: EventLogType::GlobalSystemEvents,
        ..GEO
    };
    assert_eq!(r.init(other), HvStatus::INVALID_PARTITION_STATE);
    r.finish();
}

#[test]
fn every_call_before_initialize_is_a_state_error() {
    let mut r = Rig::two();
    let s = HvStatus::INVALID_PARTITION_STATE;
    assert_eq!(r.create(0, ProximityDomainInfo::node(PXM0)), s);
    assert_eq!(r.delete(0), s);
    assert_eq!(r.map(0), Err(s));
    assert_eq!(r.unmap(0), s);
    assert_eq!(r.release(0), s);
    assert_eq!(r.sources(SOURCE_HC), s);
    assert_eq!(r.flush(0), s);
    assert_eq!(r.finalize(), s);
    assert_eq!(r.write(0, 8).outcome, Outcome::Disabled);
    r.finish();
}

#[test]
fn every_call_with_another_type_is_a_parameter_error() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    let bad = HvStatus::INVALID_PARAMETER;
    for t in [EventLogType::GlobalSystemEvents.raw(), 2, 3, u32::MAX] {
        let id = BufferIdInput {
            log_type: t,
            buffer_index: 0,
        };
        let create = CreateBufferInput {
            log_type: t,
            buffer_index: 1,
            proximity: ProximityDomainInfo::node(PXM0),
        };
        assert_eq!(r.fast(HvCall::CreateEventLogBuffer, &create), bad);
        assert_eq!(r.fast(HvCall::DeleteEventLogBuffer, &id), bad);
        let map = MapBufferInput {
            log_type: t,
            buffer_index: 0,
            partition_id: HV_PARTITION_ID_SELF,
        };
        assert_eq!(r.mem(HvCall::MapEventLogBuffer, &map), bad);
        assert_eq!(r.fast(HvCall::UnmapEventLogBuffer, &map), bad);
        assert_eq!(r.fast(HvCall::ReleaseEventLogBuffer, &id), bad);
        let sources = SetSourcesInput {
            log_type: t,
            ..SetSourcesInput::legacy(LT, SOURCE_HC)
        };
        assert_eq!(r.mem(HvCall::SetEventLogGroupSources, &sources), bad);
        let flush = FlushInput {
            log_type: t,
            buffer_index: 0,
        };
        assert_eq!(r.fast(HvCall::FlushEventLogBuffer, &flush), bad);
        let finalize = FinalizeInput {
            log_type: t,
            reserved: 0,
        };
        assert_eq!(r.fast(HvCall::FinalizeEventLogBufferGroup, &finalize), bad);
    }
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    assert_eq!(r.hv.buffer_state(1), None);
    r.finish();
}

#[test]
fn finalize_is_denied_while_buffers_or_sources_remain() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    ok(r.sources(SOURCE_HC | SOURCE_VP));
    assert_eq!(r.finalize(), HvStatus::OPERATION_DENIED);
    ok(r.delete(0));
    assert_eq!(r.finalize(), HvStatus::OPERATION_DENIED);
    ok(r.sources(0));
    let reserved = FinalizeInput {
        log_type: LT.raw(),
        reserved: 1,
    };
    assert_eq!(
        r.fast(HvCall::FinalizeEventLogBufferGroup, &reserved),
        HvStatus::INVALID_PARAMETER
    );
    ok(r.finalize());
    assert!(!r.hv.group_active());
    assert_eq!(r.finalize(), HvStatus::INVALID_PARTITION_STATE);
    // A new group may follow, of another geometry.
    r.init_ok(Geo { pages: 3, ..GEO });
    ok(r.create(0, ProximityDomainInfo::node(PXM1)));
    assert_eq!(r.map(0).unwrap().len(), 3);
    r.finish();
}

#[test]
fn set_sources_takes_the_legacy_form_as_a_memory_call() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let bad = HvStatus::INVALID_PARAMETER;
    // Bit 0 means "extended": refused in the legacy form, alone or not.
    assert_eq!(r.sources(SOURCES_EXTENDED), bad);
    assert_eq!(r.sources(SOURCES_ALL | SOURCES_EXTENDED), bad);
    // The module's former default, 0x3 ("admin, diag"), sets it.
    assert_eq!(r.sources(0x3), bad);
    // Group counts past the two groups the input has room for, and the
    // extended form, which the simulator does not model.
    for count in [1, 2, 3, u32::MAX] {
        let input = SetSourcesInput {
            group_count: count,
            ..SetSourcesInput::legacy(LT, SOURCE_HC)
        };
        assert_eq!(r.mem(HvCall::SetEventLogGroupSources, &input), bad);
    }
    // 544 bytes cannot go fast: the fast form is an input of the wrong
    // size, whatever the registers hold.
    let [a, b] = [LT.raw().into(), SOURCE_HC];
    let raw = r.raw(
        Control::fast_call(HvCall::SetEventLogGroupSources).raw(),
        a,
        b,
    );
    assert_eq!(result_status(raw), HvStatus::INVALID_HYPERCALL_INPUT);
    ok(r.sources(SOURCES_ALL));
    // Group bits hv_evlog has no name for are the hypervisor's business.
    ok(r.sources(1 << 40));
    ok(r.sources(0));
    r.finish();
}

#[test]
fn map_and_unmap_name_the_calling_partition() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    ok(r.create(0, ProximityDomainInfo::node(PXM0)));
    let wrong = HvStatus::INVALID_PARTITION_ID;
    for partition in [0, 1, HV_PARTITION_ID_SELF - 1] {
        let input = MapBufferInput {
            partition_id: partition,
            ..MapBufferInput::own(LT, 0)
        };
        assert_eq!(r.mem(HvCall::MapEventLogBuffer, &input), wrong);
    }
    // The older 8-byte input, in a zeroed page, reads as partition 0.
    let i = r.input;
    r.p.mem(i).fill(0);
    assert_eq!(r.mem(HvCall::MapEventLogBuffer, &Rig::id(0)), wrong);
    // Map has an output page: it cannot go fast.
    let [a, b] = MapBufferInput::own(LT, 0).fast_input().unwrap();
    let raw = r.raw(Control::fast_call(HvCall::MapEventLogBuffer).raw(), a, b);
    assert_eq!(result_status(raw), HvStatus::INVALID_HYPERCALL_INPUT);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    r.map(0).unwrap();
    // Unmap as an 8-byte fast call (second register 0) names partition 0.
    assert_eq!(r.fast(HvCall::UnmapEventLogBuffer, &Rig::id(0)), wrong);
    let input = MapBufferInput {
        partition_id: 7,
        ..MapBufferInput::own(LT, 0)
    };
    assert_eq!(r.mem(HvCall::UnmapEventLogBuffer, &input), wrong);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Free));
    // The memory form with the right partition works too (mshv_diaglog.c).
    ok(r.mem(HvCall::UnmapEventLogBuffer, &MapBufferInput::own(LT, 0)));
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Standby));
    r.map(0).unwrap();
    ok(r.unmap(0));
    r.finish();
}

#[test]
fn flush_takes_a_buffer_index_of_an_in_use_buffer() {
    let mut r = Rig::logging(GEO, 2);
    let bad = HvStatus::INVALID_PARAMETER;
    // Indices past the group maximum, or of buffers not created.
    assert_eq!(r.flush(GEO.max), bad);
    assert_eq!(r.flush(u32::MAX), bad);
    assert_eq!(r.flush(2), bad);
    // Buffers 0 and 1 are free: nothing to flush.
    assert_eq!(r.flush(0), HvStatus::OPERATION_DENIED);
    r.write(0, 8);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::InUse));
    // Buffer 1 is still free; the CPU number 0 means nothing here.
    assert_eq!(r.flush(1), HvStatus::OPERATION_DENIED);
    ok(r.flush(0));
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Complete));
    // Complete now, so a second flush is refused.
    assert_eq!(r.flush(0), HvStatus::OPERATION_DENIED);
    assert!(r.hv.take_notification().is_some());
    r.finish();
}

#[test]
fn full_teardown_sequence_then_teardown_frees_everything_once() {
    let mut r = Rig::logging(
        Geo {
            threshold: 2,
            ..GEO
        },
        4,
    );
    for _ in 0..250 {
        r.write(0, 24);
    }
    ok(r.sources(0));
    r.flush_in_use();
    for i in 0..4 {
        if r.hv.buffer_state(i) == Some(BufferState::Complete) {
            ok(r.release(i));
        }
        ok(r.unmap(i));
        ok(r.delete(i));
    }
    ok(r.finalize());
    assert_eq!(
        r.hv.pool(0),
        PoolStats {
            free: 64,
            in_use: 0
        }
    );
    r.finish();
}

#[test]
fn teardown_in_any_state_frees_every_page_exactly_once() {
    let mut r = Rig::logging(
        Geo {
            threshold: 2,
            pages: 2,
            ..GEO
        },
        4,
    );
    r.deposit(1, 7);
    r.create(9, ProximityDomainInfo::node(PXM1));
    for _ in 0..150 {
        r.write(0, 100);
    }
    let held = r.hv.pages_held();
    assert_eq!(held, 64 + 64 + 7);
    assert_eq!(r.p.live.len() as u64, held + 2);
    r.teardown();
    assert_eq!(r.p.live.len(), 2);
    // Again: nothing left to free.
    r.teardown();
    r.finish();
}
