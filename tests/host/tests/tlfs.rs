// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/tlfs/: exact codes, control words, statuses,
//! byte-exact layouts and the entry walker.

use hv_evlog_host_tests::tlfs::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Hypercall codes and limits
// ---------------------------------------------------------------------------

/// Every hypercall: variant, code, name.
#[rustfmt::skip]
const CALL_TABLE: &[(HvCall, u16, &str)] = &[
    (HvCall::GetPartitionProperty,          0x0044, "HvCallGetPartitionProperty"),
    (HvCall::DepositMemory,                 0x0048, "HvCallDepositMemory"),
    (HvCall::WithdrawMemory,                0x0049, "HvCallWithdrawMemory"),
    (HvCall::GetMemoryBalance,              0x004A, "HvCallGetMemoryBalance"),
    (HvCall::InitializeEventLogBufferGroup, 0x0060, "HvCallInitializeEventLogBufferGroup"),
    (HvCall::FinalizeEventLogBufferGroup,   0x0061, "HvCallFinalizeEventLogBufferGroup"),
    (HvCall::CreateEventLogBuffer,          0x0062, "HvCallCreateEventLogBuffer"),
    (HvCall::DeleteEventLogBuffer,          0x0063, "HvCallDeleteEventLogBuffer"),
    (HvCall::MapEventLogBuffer,             0x0064, "HvCallMapEventLogBuffer"),
    (HvCall::UnmapEventLogBuffer,           0x0065, "HvCallUnmapEventLogBuffer"),
    (HvCall::SetEventLogGroupSources,       0x0066, "HvCallSetEventLogGroupSources"),
    (HvCall::ReleaseEventLogBuffer,         0x0067, "HvCallReleaseEventLogBuffer"),
    (HvCall::FlushEventLogBuffer,           0x0068, "HvCallFlushEventLogBuffer"),
    (HvCall::GetSystemProperty,             0x007B, "HvCallGetSystemProperty"),
];

#[test]
fn hypercall_codes() {
    let expected = CALL_TABLE;
    assert_eq!(HvCall::ALL.len(), expected.len());
    for &(call, code, name) in expected {
        assert_eq!(call.raw(), code);
        assert_eq!(call.name(), name);
        assert_eq!(HvCall::from_raw(code), Some(call));
        assert_eq!(HvCall::try_from(code), Ok(call));
    }
    for code in [
        0x0000, 0x0043, 0x0045, 0x004B, 0x005F, 0x0069, 0x007A, 0x007C, 0xFFFF,
    ] {
        assert_eq!(HvCall::from_raw(code), None, "{code:#x}");
        assert_eq!(HvCall::try_from(code), Err(InvalidValue(u64::from(code))));
    }
}

#[test]
fn hypercall_kinds() {
    let rep: Vec<_> = HvCall::ALL.iter().filter(|c| c.is_rep()).collect();
    assert_eq!(rep, [&HvCall::DepositMemory, &HvCall::WithdrawMemory]);
    let fast: Vec<_> = HvCall::ALL.iter().filter(|c| c.fast_capable()).collect();
    assert_eq!(
        fast,
        [
            &HvCall::FinalizeEventLogBufferGroup,
            &HvCall::CreateEventLogBuffer,
            &HvCall::DeleteEventLogBuffer,
            &HvCall::UnmapEventLogBuffer,
            &HvCall::ReleaseEventLogBuffer,
            &HvCall::FlushEventLogBuffer,
        ]
    );
    // Every call that may go fast has an input that fits the registers.
    for call in fast {
        assert!(call.input_size().unwrap() <= 16, "{call:?}");
    }
}

/// Every event log call's input size and form, as the reference file's
/// table ("Input layouts") lists them.
#[test]
fn event_log_call_forms() {
    #[rustfmt::skip]
    let table = [
        // call, input bytes, may go fast
        (HvCall::InitializeEventLogBufferGroup, 32, false),
        (HvCall::FinalizeEventLogBufferGroup,    8, true),
        (HvCall::CreateEventLogBuffer,          16, true),
        (HvCall::DeleteEventLogBuffer,           8, true),
        (HvCall::MapEventLogBuffer,             16, false),
        (HvCall::UnmapEventLogBuffer,           16, true),
        (HvCall::SetEventLogGroupSources,      544, false),
        (HvCall::ReleaseEventLogBuffer,          8, true),
        (HvCall::FlushEventLogBuffer,            8, true),
    ];
    for (call, size, fast) in table {
        assert_eq!(call.input_size(), Some(size), "{call:?}");
        assert_eq!(call.fast_capable(), fast, "{call:?}");
    }
    assert_eq!(HvCall::DepositMemory.input_size(), None);
}

#[test]
fn limits() {
    assert_eq!(PAGE_SIZE, 4096);
    assert_eq!(MAX_BUFFERS, 512);
    assert_eq!(MAX_BUFFER_PAGES, 512);
    assert_eq!(MAP_MAX_PAGES, 512);
    assert_eq!(END_OF_CHAIN, 0xFFFF_FFFF);
    assert_eq!(HV_PARTITION_ID_SELF, 0xFFFF_FFFF_FFFF_FFFF);
    assert_eq!(HV_NO_HYPERCALL_PAGE, 0xFFFF_FFFF_FFFF_FFFF);
    assert_eq!(DepositMemoryInput::MAX_PAGES, 511);
    assert_eq!(ENTRIES_OFFSET, 72);
    assert_eq!(ENTRY_ALIGN, 8);
}

// ---------------------------------------------------------------------------
// Control word
// ---------------------------------------------------------------------------

#[test]
fn control_words() {
    assert_eq!(Control::new(HvCall::MapEventLogBuffer).raw(), 0x0064);
    assert_eq!(
        Control::new(HvCall::InitializeEventLogBufferGroup).raw(),
        0x0060
    );
    assert_eq!(
        Control::fast_call(HvCall::FlushEventLogBuffer).raw(),
        0x1_0068
    );
    assert_eq!(
        Control::new(HvCall::FinalizeEventLogBufferGroup)
            .fast()
            .raw(),
        0x1_0061
    );
    assert_eq!(
        Control::rep_call(HvCall::DepositMemory, 3).unwrap().raw(),
        0x0000_0003_0000_0048
    );
    assert_eq!(
        Control::rep_call(HvCall::DepositMemory, 511)
            .and_then(|c| c.with_rep_start(100))
            .unwrap()
            .raw(),
        0x0064_01FF_0000_0048
    );
    assert_eq!(
        Control::new(HvCall::GetMemoryBalance)
            .with_var_header(0x3FF)
            .unwrap()
            .raw(),
        0x07FE_004A
    );
}

#[test]
fn control_rejects_oversized_fields() {
    let deposit = Control::new(HvCall::DepositMemory);
    assert_eq!(deposit.with_rep_count(0xFFF).unwrap().rep_count(), 0xFFF);
    assert_eq!(deposit.with_rep_count(0x1000), None);
    assert_eq!(deposit.with_rep_start(0x1000), None);
    assert_eq!(deposit.with_var_header(0x400), None);
    assert_eq!(Control::rep_call(HvCall::DepositMemory, u16::MAX), None);
}

#[test]
fn control_setters_replace() {
    let c = Control::rep_call(HvCall::DepositMemory, 0xFFF)
        .and_then(|c| c.with_rep_count(2))
        .unwrap();
    assert_eq!(c.raw(), 0x0000_0002_0000_0048);
}

#[test]
fn control_decoders() {
    let c = Control::from_raw(0x0123_0456_07FE_0048 | 1 << 16);
    assert_eq!(c.code(), 0x0048);
    assert_eq!(c.call(), Some(HvCall::DepositMemory));
    assert!(c.is_fast());
    assert_eq!(c.var_header_size(), 0x3FF);
    assert_eq!(c.rep_count(), 0x456);
    assert_eq!(c.rep_start(), 0x123);
    assert!(c.reserved_bits_clear());
    assert_eq!(Control::from_raw(0x1234).call(), None);
    assert!(!Control::from_raw(0x0064).is_fast());
}

#[test]
fn control_reserved_bits() {
    assert_eq!(Control::RESERVED_MASK, 0xF000_F000_F800_0000);
    for bit in (27..=31).chain(44..=47).chain(60..=63) {
        let c = Control::from_raw(0x0064 | 1u64 << bit);
        assert!(!c.reserved_bits_clear(), "bit {bit}");
        assert_eq!(c.reserved_bits(), 1u64 << bit);
    }
    for bit in (0..=26).chain(32..=43).chain(48..=59) {
        assert!(
            Control::from_raw(1u64 << bit).reserved_bits_clear(),
            "bit {bit}"
        );
    }
}

proptest! {
    #[test]
    fn control_fields_round_trip(
        call in proptest::sample::select(HvCall::ALL),
        fast: bool,
        var in 0u16..=0x3FF,
        count in 0u16..=0xFFF,
        start in 0u16..=0xFFF,
    ) {
        let mut c = Control::new(call)
            .with_var_header(var)
            .and_then(|c| c.with_rep_count(count))
            .and_then(|c| c.with_rep_start(start))
            .unwrap();
        if fast {
            c = c.fast();
        }
        prop_assert_eq!(c.call(), Some(call));
        prop_assert_eq!(c.is_fast(), fast);
        prop_assert_eq!(c.var_header_size(), var);
        prop_assert_eq!(c.rep_count(), count);
        prop_assert_eq!(c.rep_start(), start);
        prop_assert!(c.reserved_bits_clear());
        prop_assert_eq!(Control::from_raw(c.raw()), c);
    }
}

// ---------------------------------------------------------------------------
// Result values and statuses
// ---------------------------------------------------------------------------

#[test]
fn result_decoding() {
    assert_eq!(check(0), Ok(0));
    assert_eq!(check(0x0000_0003_0000_0000), Ok(3));
    assert_eq!(check(0x0FFF_0000_0000_0000), Ok(0));
    assert_eq!(check(0x0006), Err(HvStatus::ACCESS_DENIED));
    assert_eq!(check(0x0002), Err(HvStatus::INVALID_HYPERCALL_CODE));
    // A deposit that took two pages, then ran out.
    let partial = 0x0000_0002_0000_000B;
    assert_eq!(check(partial), Err(HvStatus::INSUFFICIENT_MEMORY));
    assert_eq!(result_reps(partial), 2);
    assert_eq!(result_status(partial), HvStatus::INSUFFICIENT_MEMORY);
}

#[test]
fn no_hypercall_page_is_recognised() {
    assert_eq!(
        check(HV_NO_HYPERCALL_PAGE),
        Err(HvStatus::NO_HYPERCALL_PAGE)
    );
    assert_eq!(HvStatus::NO_HYPERCALL_PAGE.0, 0xFFFF);
    assert_eq!(
        HvStatus::NO_HYPERCALL_PAGE.name(),
        "HV_EVLOG_NO_HYPERCALL_PAGE"
    );
    assert_eq!(HvStatus::NO_HYPERCALL_PAGE.to_errno(), 19);
    assert!(!HvStatus::NO_HYPERCALL_PAGE.is_named());
}

#[test]
fn result_value_builds() {
    assert_eq!(result_value(HvStatus::SUCCESS, 0), 0);
    assert_eq!(
        result_value(HvStatus::INSUFFICIENT_MEMORY, 2),
        0x0000_0002_0000_000B
    );
    assert_eq!(result_value(HvStatus::SUCCESS, 0xFFFF), 0x0FFF_0000_0000);
}

proptest! {
    #[test]
    fn result_value_round_trip(code: u16, reps in 0u16..=0xFFF) {
        let raw = result_value(HvStatus(code), reps);
        prop_assert_eq!(result_status(raw), HvStatus(code));
        prop_assert_eq!(result_reps(raw), reps);
        if code == 0 {
            prop_assert_eq!(check(raw), Ok(reps));
        } else {
            prop_assert_eq!(check(raw), Err(HvStatus(code)));
        }
    }
}

/// Every named status: constant, code, name, errno.
#[rustfmt::skip]
const STATUS_TABLE: &[(HvStatus, u16, &str, i32)] = &[
    (HvStatus::SUCCESS, 0x00, "HV_STATUS_SUCCESS", 0),
    (HvStatus::INVALID_HYPERCALL_CODE, 0x02, "HV_STATUS_INVALID_HYPERCALL_CODE", 95),
    (HvStatus::INVALID_HYPERCALL_INPUT, 0x03, "HV_STATUS_INVALID_HYPERCALL_INPUT", 22),
    (HvStatus::INVALID_ALIGNMENT, 0x04, "HV_STATUS_INVALID_ALIGNMENT", 22),
    (HvStatus::INVALID_PARAMETER, 0x05, "HV_STATUS_INVALID_PARAMETER", 22),
    (HvStatus::ACCESS_DENIED, 0x06, "HV_STATUS_ACCESS_DENIED", 13),
    (HvStatus::INVALID_PARTITION_STATE, 0x07, "HV_STATUS_INVALID_PARTITION_STATE", 16),
    (HvStatus::OPERATION_DENIED, 0x08, "HV_STATUS_OPERATION_DENIED", 16),
    (HvStatus::UNKNOWN_PROPERTY, 0x09, "HV_STATUS_UNKNOWN_PROPERTY", 95),
    (HvStatus::PROPERTY_VALUE_OUT_OF_RANGE, 0x0A, "HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE", 22),
    (HvStatus::INSUFFICIENT_MEMORY, 0x0B, "HV_STATUS_INSUFFICIENT_MEMORY", 12),
    (HvStatus::INVALID_PARTITION_ID, 0x0D, "HV_STATUS_INVALID_PARTITION_ID", 22),
    (HvStatus::INVALID_VP_INDEX, 0x0E, "HV_STATUS_INVALID_VP_INDEX", 22),
    (HvStatus::NOT_FOUND, 0x10, "HV_STATUS_NOT_FOUND", 2),
    (HvStatus::INVALID_PORT_ID, 0x11, "HV_STATUS_INVALID_PORT_ID", 22),
    (HvStatus::INVALID_CONNECTION_ID, 0x12, "HV_STATUS_INVALID_CONNECTION_ID", 22),
    (HvStatus::INSUFFICIENT_BUFFERS, 0x13, "HV_STATUS_INSUFFICIENT_BUFFERS", 12),
    (HvStatus::NOT_ACKNOWLEDGED, 0x14, "HV_STATUS_NOT_ACKNOWLEDGED", 5),
    (HvStatus::INVALID_VP_STATE, 0x15, "HV_STATUS_INVALID_VP_STATE", 16),
    (HvStatus::ACKNOWLEDGED, 0x16, "HV_STATUS_ACKNOWLEDGED", 5),
    (HvStatus::INVALID_SAVE_RESTORE_STATE, 0x17, "HV_STATUS_INVALID_SAVE_RESTORE_STATE", 22),
    (HvStatus::INVALID_SYNIC_STATE, 0x18, "HV_STATUS_INVALID_SYNIC_STATE", 16),
    (HvStatus::OBJECT_IN_USE, 0x19, "HV_STATUS_OBJECT_IN_USE", 16),
    (HvStatus::INVALID_PROXIMITY_DOMAIN_INFO, 0x1A, "HV_STATUS_INVALID_PROXIMITY_DOMAIN_INFO", 22),
    (HvStatus::NO_DATA, 0x1B, "HV_STATUS_NO_DATA", 61),
    (HvStatus::INACTIVE, 0x1C, "HV_STATUS_INACTIVE", 5),
    (HvStatus::NO_RESOURCES, 0x1D, "HV_STATUS_NO_RESOURCES", 12),
    (HvStatus::FEATURE_UNAVAILABLE, 0x1E, "HV_STATUS_FEATURE_UNAVAILABLE", 95),
    (HvStatus::TIMEOUT, 0x78, "HV_STATUS_TIMEOUT", 110),
];

#[test]
fn status_table() {
    let named: Vec<_> = STATUS_TABLE.iter().map(|&(s, ..)| s).collect();
    assert_eq!(HvStatus::NAMED, named.as_slice());
    for &(status, code, name, errno) in STATUS_TABLE {
        assert_eq!(status.0, code, "{name}");
        assert_eq!(status.name(), name);
        assert_eq!(status.to_errno(), errno, "{name}");
        assert!(status.is_named());
        assert_eq!(status.is_success(), code == 0);
    }
}

#[test]
fn unknown_statuses() {
    for code in [0x0001, 0x000C, 0x000F, 0x001F, 0x0020, 0x0077, 0x1234] {
        let status = HvStatus(code);
        assert!(!status.is_named());
        assert_eq!(status.name(), "HV_STATUS_UNKNOWN", "{code:#x}");
        assert_eq!(status.to_errno(), 5, "{code:#x}");
    }
}

#[test]
fn errno_values() {
    assert_eq!(errno::ENOENT, 2);
    assert_eq!(errno::EIO, 5);
    assert_eq!(errno::ENOMEM, 12);
    assert_eq!(errno::EACCES, 13);
    assert_eq!(errno::EBUSY, 16);
    assert_eq!(errno::ENODEV, 19);
    assert_eq!(errno::EINVAL, 22);
    assert_eq!(errno::ENODATA, 61);
    assert_eq!(errno::EOPNOTSUPP, 95);
    assert_eq!(errno::ETIMEDOUT, 110);
}

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

#[test]
fn event_log_types() {
    let all = [
        (EventLogType::GlobalSystemEvents, 0, "global"),
        (EventLogType::LocalDiagnostics, 1, "local"),
        (EventLogType::SystemDiagnostics, 2, "system"),
    ];
    assert_eq!(EventLogType::ALL.len(), all.len());
    for (t, raw, name) in all {
        assert_eq!(t.raw(), raw);
        assert_eq!(t.name(), name);
        assert_eq!(EventLogType::try_from(raw), Ok(t));
        assert_eq!(t.is_local(), raw == 1);
    }
    for raw in [3, 4, 0x100, u32::MAX] {
        assert_eq!(EventLogType::from_raw(raw), None);
        assert_eq!(
            EventLogType::try_from(raw),
            Err(InvalidValue(u64::from(raw)))
        );
    }
}

#[test]
fn buffer_states() {
    let all = [
        (BufferState::Standby, 0, "standby", false),
        (BufferState::Free, 1, "free", true),
        (BufferState::InUse, 2, "in-use", false),
        (BufferState::Complete, 3, "complete", false),
        (BufferState::Ready, 4, "ready", true),
    ];
    assert_eq!(BufferState::ALL.len(), all.len());
    for (s, raw, name, may_unmap) in all {
        assert_eq!(s.raw(), raw);
        assert_eq!(s.name(), name);
        assert_eq!(BufferState::try_from(raw), Ok(s));
        assert_eq!(s.may_unmap(), may_unmap);
    }
    for raw in [5, 6, 7, u32::MAX] {
        assert_eq!(
            BufferState::try_from(raw),
            Err(InvalidValue(u64::from(raw)))
        );
    }
}

#[test]
fn modes_and_time_bases() {
    assert_eq!(EventLogMode::Regular.raw(), 0);
    assert_eq!(EventLogMode::Circular.raw(), 1);
    assert_eq!(EventLogMode::try_from(1), Ok(EventLogMode::Circular));
    assert_eq!(EventLogMode::try_from(2), Err(InvalidValue(2)));
    assert_eq!(EventLogMode::Circular.name(), "circular");

    assert_eq!(TimeBasis::Reference.raw(), 0);
    assert_eq!(TimeBasis::Tsc.raw(), 1);
    assert_eq!(TimeBasis::Qpc.raw(), 2);
    assert_eq!(TimeBasis::try_from(2), Ok(TimeBasis::Qpc));
    assert_eq!(TimeBasis::try_from(3), Err(InvalidValue(3)));
    assert_eq!(TimeBasis::Tsc.name(), "tsc");
}

proptest! {
    #[test]
    fn enums_round_trip_or_reject(raw: u32) {
        match EventLogType::from_raw(raw) {
            Some(t) => prop_assert_eq!(t.raw(), raw),
            None => prop_assert!(raw > 2),
        }
        match BufferState::from_raw(raw) {
            Some(s) => prop_assert_eq!(s.raw(), raw),
            None => prop_assert!(raw > 4),
        }
        match EventLogMode::from_raw(raw) {
            Some(m) => prop_assert_eq!(m.raw(), raw),
            None => prop_assert!(raw > 1),
        }
        match TimeBasis::from_raw(raw) {
            Some(b) => prop_assert_eq!(b.raw(), raw),
            None => prop_assert!(raw > 2),
        }
    }
}

// ---------------------------------------------------------------------------
// Input and output layouts
// ---------------------------------------------------------------------------

/// Encodes into a page pre-filled with 0xAA, checks the length and that
/// nothing past it was touched, and returns the encoded bytes.
fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut page = vec![0xAA; PAGE_SIZE];
    let len = value.encode(&mut page).unwrap();
    assert_eq!(len, T::SIZE);
    assert!(page[len..].iter().all(|&b| b == 0xAA));
    page.truncate(len);
    page
}

fn sample_init() -> InitializeGroupInput {
    InitializeGroupInput::new(
        EventLogType::LocalDiagnostics,
        EventLogMode::Circular,
        8,
        16,
        2,
        TimeBasis::Tsc,
        0x0102_0304_0506_0708,
    )
}

#[test]
fn initialize_natural_bytes() {
    let input = sample_init();
    assert_eq!(input.buffer_size_in_bytes, 0x1_0000);
    #[rustfmt::skip]
    let expected = [
        0x01, 0x00, 0x01, 0x00, // type, mode
        0x08, 0x00, 0x00, 0x00, // max buffers
        0x00, 0x00, 0x01, 0x00, // 64 KiB
        0x02, 0x00, 0x00, 0x00, // threshold
        0x01, 0x00, 0x00, 0x00, // TSC
        0x00, 0x00, 0x00, 0x00, // padding
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // system time
    ];
    assert_eq!(InitializeGroupInput::SIZE, 32);
    assert_eq!(encode(&input), expected);
    assert_eq!(InitializeGroupInput::decode(&expected), Some(input));
    // Too big for the registers of a fast call.
    assert_eq!(input.fast_input(), None);
}

#[test]
fn initialize_packed_bytes() {
    let input = InitializeGroupInputPacked::new(
        EventLogType::LocalDiagnostics,
        EventLogMode::Circular,
        8,
        16,
        2,
        TimeBasis::Tsc,
        0x0102_0304_0506_0708,
    );
    #[rustfmt::skip]
    let expected = [
        0x01, 0x00, 0x01, 0x00,
        0x08, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00,
        0x02, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
    ];
    assert_eq!(InitializeGroupInputPacked::SIZE, 28);
    assert_eq!(encode(&input), expected);
    assert_eq!(InitializeGroupInputPacked::decode(&expected), Some(input));
}

#[test]
fn initialize_padding_is_zeroed() {
    let mut page = [0xFF; 64];
    sample_init().encode(&mut page).unwrap();
    assert_eq!(page[20..24], [0, 0, 0, 0]);
    assert!(page[32..].iter().all(|&b| b == 0xFF));
}

#[test]
fn initialize_size_saturates() {
    let input = InitializeGroupInput::new(
        EventLogType::GlobalSystemEvents,
        EventLogMode::Regular,
        1,
        u32::MAX,
        1,
        TimeBasis::Reference,
        0,
    );
    assert_eq!(input.buffer_size_in_bytes, u32::MAX);
}

#[test]
fn finalize_bytes_and_registers() {
    let input = FinalizeInput::new(EventLogType::LocalDiagnostics);
    assert_eq!(encode(&input), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(input.fast_input(), Some([1, 0]));
    assert_eq!(FinalizeInput::from_fast_input([1, 0]), Some(input));
}

#[test]
fn proximity_info() {
    assert_eq!(ProximityDomainInfo::PREFERRED, 1);
    assert_eq!(ProximityDomainInfo::VALID, 0x8000_0000);
    assert_eq!(ProximityDomainInfo::RESERVED_FLAGS, 0x7FFF_FFFE);
    let none = ProximityDomainInfo::none();
    assert_eq!((none.domain_id, none.flags), (0, 0));
    assert_eq!(none.domain(), None);
    let node = ProximityDomainInfo::node(3);
    assert_eq!((node.domain_id, node.flags), (3, 0x8000_0001));
    assert_eq!(node.domain(), Some(3));
    assert!(node.is_preferred());
    assert_eq!(encode(&node), [3, 0, 0, 0, 0x01, 0, 0, 0x80]);
}

#[test]
fn create_bytes_and_registers() {
    let input = CreateBufferInput::new(
        EventLogType::LocalDiagnostics,
        0x1234,
        ProximityDomainInfo::node(3),
    );
    #[rustfmt::skip]
    let expected = [
        0x01, 0x00, 0x00, 0x00, // type
        0x34, 0x12, 0x00, 0x00, // index
        0x03, 0x00, 0x00, 0x00, // domain
        0x01, 0x00, 0x00, 0x80, // valid | preferred
    ];
    assert_eq!(encode(&input), expected);
    assert_eq!(CreateBufferInput::decode(&expected), Some(input));
    let regs = [0x0000_1234_0000_0001, 0x8000_0001_0000_0003];
    assert_eq!(input.fast_input(), Some(regs));
    assert_eq!(CreateBufferInput::from_fast_input(regs), Some(input));

    let plain = CreateBufferInput::new(
        EventLogType::SystemDiagnostics,
        0,
        ProximityDomainInfo::none(),
    );
    assert_eq!(plain.fast_input(), Some([2, 0]));
}

#[test]
fn buffer_id_bytes_and_registers() {
    let input = BufferIdInput::new(EventLogType::SystemDiagnostics, 7);
    assert_eq!(encode(&input), [2, 0, 0, 0, 7, 0, 0, 0]);
    assert_eq!(input.fast_input(), Some([0x0000_0007_0000_0002, 0]));
    assert_eq!(
        BufferIdInput::from_fast_input([0x0000_01FF_0000_0001, 0]),
        Some(BufferIdInput::new(EventLogType::LocalDiagnostics, 511))
    );
}

#[test]
fn set_sources_legacy_bytes() {
    let input = SetSourcesInput::legacy(
        EventLogType::LocalDiagnostics,
        SOURCE_HC | SOURCE_VP | SOURCE_SCH,
    );
    let mut expected = vec![0u8; 544];
    #[rustfmt::skip]
    expected[..16].copy_from_slice(&[
        0x01, 0x00, 0x00, 0x00, // type: local diagnostics
        0x00, 0x00, 0x00, 0x00, // group_count: 0, the legacy form
        0x00, 0x84, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, // flags: mask 0x408400
    ]);
    let mut page = vec![0xAA; PAGE_SIZE];
    assert_eq!(input.encode(&mut page), Some(544));
    assert_eq!(page[..544], expected[..]);
    assert!(page[544..].iter().all(|&b| b == 0xAA));
    assert_eq!(SetSourcesInput::decode(&page), Some(input));
    assert!(input.is_legacy());
    // Too long for the registers.
    assert_eq!(input.fast_input(), None);
    assert!(!SetSourcesInput::legacy(EventLogType::LocalDiagnostics, 0x3).is_legacy());
}

#[test]
fn set_sources_group_bytes() {
    let mut input = SetSourcesInput::legacy(EventLogType::GlobalSystemEvents, 0x1);
    input.group_count = 2;
    input.groups[0].group_id = 0x0102_0304;
    input.groups[0].event_count = 3;
    input.groups[0].event_id[..3].copy_from_slice(&[7, 8, 9]);
    input.groups[1].group_id = 5;
    input.groups[1].pad = [0xA1, 0xA2];
    input.groups[1].event_count = 256;
    input.groups[1].event_id[255] = 0xEE;
    let bytes = encode(&input);
    assert_eq!(bytes.len(), 544);
    assert_eq!(bytes[4..8], [2, 0, 0, 0]);
    assert_eq!(bytes[8..16], [1, 0, 0, 0, 0, 0, 0, 0]);
    // Group 0 at 16: id, pad, count, ids.
    assert_eq!(bytes[16..28], [4, 3, 2, 1, 0, 0, 3, 0, 7, 8, 9, 0]);
    // Group 1 at 16 + 264 = 280.
    assert_eq!(bytes[280..288], [5, 0, 0, 0, 0xA1, 0xA2, 0x00, 0x01]);
    assert_eq!(bytes[543], 0xEE);
    assert_eq!(SetSourcesInput::decode(&bytes), Some(input));
    assert_eq!(EventGroupConfig::EMPTY, EventGroupConfig::default());
}

#[test]
fn map_and_unmap_bytes_and_registers() {
    let input = MapBufferInput::own(EventLogType::LocalDiagnostics, 0x1FF);
    #[rustfmt::skip]
    let expected = [
        0x01, 0x00, 0x00, 0x00, // type
        0xFF, 0x01, 0x00, 0x00, // buffer index 511
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // partition: self
    ];
    assert_eq!(encode(&input), expected);
    assert_eq!(MapBufferInput::decode(&expected), Some(input));
    // Unmap, as a 16-byte fast call: type and index, then the partition.
    let unmap: UnmapBufferInput = input;
    let regs = [0x0000_01FF_0000_0001, u64::MAX];
    assert_eq!(unmap.fast_input(), Some(regs));
    assert_eq!(UnmapBufferInput::from_fast_input(regs), Some(input));
}

#[test]
fn flush_bytes_and_registers() {
    // A buffer index, not a processor.
    let input = FlushInput::new(EventLogType::LocalDiagnostics, 5);
    assert_eq!(input.buffer_index, 5);
    assert_eq!(encode(&input), [1, 0, 0, 0, 5, 0, 0, 0]);
    assert_eq!(input.fast_input(), Some([0x0000_0005_0000_0001, 0]));
    assert_eq!(
        FlushInput::from_fast_input([0x0000_0005_0000_0001, 0]),
        Some(input)
    );
}

#[test]
fn deposit_bytes() {
    let header = DepositMemoryInput::new(HV_PARTITION_ID_SELF);
    let mut page = vec![0xAA; PAGE_SIZE];
    let len = header
        .encode_with_pages(&mut page, &[0x1000, 0x1001, 0xAB_CDEF])
        .unwrap();
    assert_eq!(len, 32);
    #[rustfmt::skip]
    let expected = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // self
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0xEF, 0xCD, 0xAB, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(page[..len], expected);
    assert!(page[len..].iter().all(|&b| b == 0xAA));
    assert_eq!(DepositMemoryInput::decode(&page), Some(header));
    assert_eq!(DepositMemoryInput::gpa_page(&page, 2), Some(0xAB_CDEF));
    assert_eq!(
        DepositMemoryInput::gpa_page(&page, 510),
        Some(0xAAAA_AAAA_AAAA_AAAA)
    );
    assert_eq!(DepositMemoryInput::gpa_page(&page, 511), None);
    assert_eq!(DepositMemoryInput::gpa_page(&page[..16], 1), None);
}

#[test]
fn deposit_limits() {
    let header = DepositMemoryInput::new(HV_PARTITION_ID_SELF);
    let mut page = vec![0; PAGE_SIZE];
    let full = vec![7; DepositMemoryInput::MAX_PAGES];
    assert_eq!(header.encode_with_pages(&mut page, &full), Some(PAGE_SIZE));
    let too_many = vec![7; DepositMemoryInput::MAX_PAGES + 1];
    let mut untouched = vec![0x55; PAGE_SIZE];
    assert_eq!(header.encode_with_pages(&mut untouched, &too_many), None);
    assert!(untouched.iter().all(|&b| b == 0x55));
    assert_eq!(header.encode_with_pages(&mut page[..15], &[1]), None);
}

#[test]
fn memory_balance_bytes() {
    let input = GetMemoryBalanceInput::own(ProximityDomainInfo::node(1));
    #[rustfmt::skip]
    let expected = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // self
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80, // node 1
    ];
    assert_eq!(encode(&input), expected);
    assert_eq!(GetMemoryBalanceInput::decode(&expected), Some(input));

    #[rustfmt::skip]
    let output = [
        0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let balance = GetMemoryBalanceOutput::decode(&output).unwrap();
    assert_eq!(balance.pages_available, 0x200);
    assert_eq!(balance.pages_in_use, 0x11);
    assert_eq!(encode(&balance), output);
}

#[test]
fn partition_property_bytes() {
    let input = GetPartitionPropertyInput {
        partition_id: HV_PARTITION_ID_SELF,
        property_code: 0x0001_0000,
        padding: 0,
    };
    #[rustfmt::skip]
    let expected = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(encode(&input), expected);
    let output = GetPartitionPropertyOutput::decode(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(output.property_value, 0x0807_0605_0403_0201);
}

#[test]
fn map_output() {
    let mut page = vec![0; PAGE_SIZE];
    assert_eq!(MapOutput::set_page_number(&mut page, 0, 0x1234), Some(()));
    assert_eq!(
        MapOutput::set_page_number(&mut page, 511, u64::MAX),
        Some(())
    );
    assert_eq!(MapOutput::set_page_number(&mut page, 512, 1), None);
    assert_eq!(page[..8], [0x34, 0x12, 0, 0, 0, 0, 0, 0]);
    assert_eq!(page[4088..], [0xFF; 8]);
    assert_eq!(MapOutput::page_number(&page, 0), Some(0x1234));
    assert_eq!(MapOutput::page_number(&page, 511), Some(u64::MAX));
    assert_eq!(MapOutput::page_number(&page, 512), None);
    assert_eq!(MapOutput::page_number(&page[..100], 20), None);

    let map = MapOutput::decode(&page).unwrap();
    assert_eq!(map.gpa_page_numbers[0], 0x1234);
    assert_eq!(map.gpa_page_numbers[511], u64::MAX);
    assert_eq!(encode(&map), page);
    assert_eq!(MapOutput::SIZE, PAGE_SIZE);
}

#[test]
fn short_slices_are_refused() {
    let input = CreateBufferInput::new(
        EventLogType::LocalDiagnostics,
        1,
        ProximityDomainInfo::none(),
    );
    let mut short = [0x33; 15];
    assert_eq!(input.encode(&mut short), None);
    assert_eq!(short, [0x33; 15]);
    assert_eq!(CreateBufferInput::decode(&short), None);
    assert_eq!(BufferHeader::decode(&[0; 71]), None);
    assert_eq!(EntryHeader::decode(&[0; 15]), None);
    assert_eq!(MapOutput::decode(&[0; 4095]), None);
}

// ---------------------------------------------------------------------------
// Buffer and entry headers
// ---------------------------------------------------------------------------

fn sample_header() -> BufferHeader {
    BufferHeader {
        buffer_size: 0x0001_0000,
        buffer_index: 0x0000_0102,
        events_lost: 3,
        reference_counter: 1,
        time_stamp: 0x1122_3344_5566_7788,
        reserved1: 0,
        reserved2: 0,
        logical_processor: 0x0109,
        logger_id: 0xBEEF,
        buffer_state: BufferState::Complete.raw(),
        next_buffer_offset: 0x0000_0120,
        log_type: EventLogType::LocalDiagnostics.raw(),
        next_buffer_index: END_OF_CHAIN,
        reserved3: 0xCAFE_F00D,
        reserved4: [0x0102_0304, 0x0506_0708],
    }
}

#[test]
fn buffer_header_bytes() {
    #[rustfmt::skip]
    let expected: [u8; 72] = [
        0x00, 0x00, 0x01, 0x00, // 0: buffer_size
        0x02, 0x01, 0x00, 0x00, // 4: buffer_index
        0x03, 0x00, 0x00, 0x00, // 8: events_lost
        0x01, 0x00, 0x00, 0x00, // 12: reference_counter
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // 16: time_stamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 24: reserved
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 32: reserved
        0x09, 0x01, // 40: logical_processor (16 bits)
        0xEF, 0xBE, // 42: logger_id
        0x03, 0x00, 0x00, 0x00, // 44: buffer_state
        0x20, 0x01, 0x00, 0x00, // 48: next_buffer_offset
        0x01, 0x00, 0x00, 0x00, // 52: type
        0xFF, 0xFF, 0xFF, 0xFF, // 56: next_buffer_index
        0x0D, 0xF0, 0xFE, 0xCA, // 60: reserved
        0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05, // 64: reserved
    ];
    let header = sample_header();
    assert_eq!(BufferHeader::SIZE, 72);
    assert_eq!(encode(&header), expected);
    assert_eq!(BufferHeader::decode(&expected), Some(header));
    assert_eq!(header.state(), Some(BufferState::Complete));
    assert_eq!(
        header.event_log_type(),
        Some(EventLogType::LocalDiagnostics)
    );
    assert_eq!(header.next_in_chain(), None);
}

#[test]
fn buffer_header_accessors() {
    let mut header = sample_header();
    header.next_buffer_index = 4;
    header.buffer_state = 9;
    header.log_type = 7;
    assert_eq!(header.next_in_chain(), Some(4));
    assert_eq!(header.state(), None);
    assert_eq!(header.event_log_type(), None);
}

#[test]
fn entry_header_bytes() {
    let header = EntryHeader {
        context: 0xDEAD_BEEF,
        size: 0x0028,
        entry_type: 0x1D05,
        timestamp: 0x0000_0001_0000_0002,
    };
    #[rustfmt::skip]
    let expected = [
        0xEF, 0xBE, 0xAD, 0xDE, // context
        0x28, 0x00, // size
        0x05, 0x1D, // type
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // timestamp
    ];
    assert_eq!(EntryHeader::SIZE, 16);
    assert_eq!(encode(&header), expected);
    assert_eq!(EntryHeader::decode(&expected), Some(header));
}

#[test]
fn entry_next_offset() {
    assert_eq!(EntryHeader::next_offset(72, 16), 88);
    assert_eq!(EntryHeader::next_offset(72, 17), 96);
    assert_eq!(EntryHeader::next_offset(72, 24), 96);
    assert_eq!(EntryHeader::next_offset(96, 23), 120);
}

fn arb_buffer_header() -> impl Strategy<Value = BufferHeader> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        (any::<u16>(), any::<u16>()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        (any::<u32>(), any::<[u32; 2]>()),
    )
        .prop_map(|(a, b, c, d, e)| BufferHeader {
            buffer_size: a.0,
            buffer_index: a.1,
            events_lost: a.2,
            reference_counter: a.3,
            time_stamp: b.0,
            reserved1: b.1,
            reserved2: b.2,
            logical_processor: c.0,
            logger_id: c.1,
            buffer_state: d.0,
            next_buffer_offset: d.1,
            log_type: d.2,
            next_buffer_index: d.3,
            reserved3: e.0,
            reserved4: e.1,
        })
}

proptest! {
    #[test]
    fn buffer_header_round_trip(header in arb_buffer_header()) {
        let bytes = encode(&header);
        prop_assert_eq!(BufferHeader::decode(&bytes), Some(header));
        // The fields sit at the reference offsets.
        prop_assert_eq!(&bytes[48..52], &header.next_buffer_offset.to_le_bytes());
        prop_assert_eq!(&bytes[56..60], &header.next_buffer_index.to_le_bytes());
        prop_assert_eq!(&bytes[40..42], &header.logical_processor.to_le_bytes());
    }

    #[test]
    fn entry_header_round_trip(
        context: u32,
        size: u16,
        entry_type: u16,
        timestamp: u64,
    ) {
        let header = EntryHeader { context, size, entry_type, timestamp };
        let bytes = encode(&header);
        prop_assert_eq!(EntryHeader::decode(&bytes), Some(header));
    }

    #[test]
    fn create_input_round_trip(
        log_type: u32,
        buffer_index: u32,
        domain_id: u32,
        flags: u32,
    ) {
        let input = CreateBufferInput {
            log_type,
            buffer_index,
            proximity: ProximityDomainInfo { domain_id, flags },
        };
        let regs = input.fast_input().unwrap();
        prop_assert_eq!(CreateBufferInput::from_fast_input(regs), Some(input));
        prop_assert_eq!(CreateBufferInput::decode(&encode(&input)), Some(input));
    }

    #[test]
    fn initialize_round_trip(
        log_type: u16,
        mode: u16,
        counts in any::<[u32; 4]>(),
        system_time: u64,
    ) {
        let natural = InitializeGroupInputNatural {
            log_type,
            mode,
            max_buffer_count: counts[0],
            buffer_size_in_bytes: counts[1],
            threshold: counts[2],
            time_basis: counts[3],
            system_time,
        };
        let packed = InitializeGroupInputPacked {
            log_type,
            mode,
            max_buffer_count: counts[0],
            buffer_size_in_bytes: counts[1],
            threshold: counts[2],
            time_basis: counts[3],
            system_time,
        };
        let n = encode(&natural);
        let p = encode(&packed);
        prop_assert_eq!(InitializeGroupInputNatural::decode(&n), Some(natural));
        prop_assert_eq!(InitializeGroupInputPacked::decode(&p), Some(packed));
        // Identical up to system_time, which moves from 20 to 24.
        prop_assert_eq!(&n[..20], &p[..20]);
        prop_assert_eq!(&n[24..], &p[20..]);
        prop_assert_eq!(&n[20..24], &[0u8; 4]);
    }
}

// ---------------------------------------------------------------------------
// Entry walker
// ---------------------------------------------------------------------------

/// An entry to lay out: header fields and payload.
#[derive(Clone, Debug)]
struct Sample {
    context: u32,
    entry_type: u16,
    timestamp: u64,
    payload: Vec<u8>,
}

/// Lays `samples` out after a header, back to back and aligned. The used area
/// ends right after the last entry, padded to alignment or not.
fn build_buffer(samples: &[Sample], pad_end: bool, slack: usize) -> (Vec<u8>, Vec<usize>) {
    let mut buf = vec![0; ENTRIES_OFFSET];
    let mut offsets = Vec::new();
    for sample in samples {
        buf.resize(buf.len().next_multiple_of(ENTRY_ALIGN), 0);
        offsets.push(buf.len());
        let header = EntryHeader {
            context: sample.context,
            size: u16::try_from(EntryHeader::SIZE + sample.payload.len()).unwrap(),
            entry_type: sample.entry_type,
            timestamp: sample.timestamp,
        };
        let at = buf.len();
        buf.resize(at + EntryHeader::SIZE, 0);
        header.encode(&mut buf[at..]).unwrap();
        buf.extend_from_slice(&sample.payload);
    }
    if pad_end {
        buf.resize(buf.len().next_multiple_of(ENTRY_ALIGN), 0);
    }
    let end = buf.len();
    buf.resize(end + slack, 0xEE);
    let header = BufferHeader {
        buffer_size: u32::try_from(buf.len() - ENTRIES_OFFSET).unwrap(),
        // Entry bytes, counted from the end of the header.
        next_buffer_offset: u32::try_from(end - ENTRIES_OFFSET).unwrap(),
        next_buffer_index: END_OF_CHAIN,
        ..BufferHeader::default()
    };
    header.encode(&mut buf).unwrap();
    (buf, offsets)
}

/// A buffer `len` bytes long whose used area ends at offset `end` from the
/// buffer start: its header's `next_buffer_offset` is `end - 72`, the entry
/// bytes after the header.
fn buffer_ending_at(end: u32, len: usize) -> Vec<u8> {
    buffer_with_entry_bytes(end - ENTRIES_OFFSET as u32, len)
}

/// A buffer `len` bytes long whose header says `next_buffer_offset` bytes
/// of entries follow it.
fn buffer_with_entry_bytes(next_buffer_offset: u32, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    let header = BufferHeader {
        buffer_size: u32::try_from(len.saturating_sub(ENTRIES_OFFSET)).unwrap(),
        next_buffer_offset,
        ..BufferHeader::default()
    };
    header.encode(&mut buf).unwrap();
    buf
}

fn put_entry(buf: &mut [u8], offset: usize, size: u16) {
    let header = EntryHeader {
        context: 0,
        size,
        entry_type: 1,
        timestamp: 0,
    };
    header.encode(&mut buf[offset..]).unwrap();
}

fn walk(buf: &[u8]) -> Vec<Result<(usize, u16), EntryError>> {
    entries(buf)
        .map(|item| item.map(|e| (e.offset, e.header.size)))
        .collect()
}

#[test]
fn walk_empty_buffers() {
    assert_eq!(walk(&buffer_ending_at(72, 4096)), []);
    assert_eq!(walk(&buffer_with_entry_bytes(0, 4096)), []);
    // Never started: all-zero header.
    assert_eq!(walk(&[0; 4096]), []);
}

#[test]
fn walk_valid_entries() {
    let mut buf = buffer_ending_at(136, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 20);
    put_entry(&mut buf, 112, 24);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, 20)), Ok((112, 24))]);
}

#[test]
fn walk_unaligned_end_after_last_entry() {
    let mut buf = buffer_ending_at(108, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 20);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, 20))]);
}

#[test]
fn walk_payload() {
    let mut buf = buffer_ending_at(96, 4096);
    put_entry(&mut buf, 72, 20);
    buf[88..92].copy_from_slice(b"abcd");
    let all: Vec<_> = entries(&buf).collect();
    assert_eq!(all.len(), 1);
    let entry = all[0].unwrap();
    assert_eq!(entry.payload, b"abcd");
}

#[test]
fn walk_rejects_small_entries() {
    let mut buf = buffer_ending_at(200, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 15);
    assert_eq!(
        walk(&buf),
        [
            Ok((72, 16)),
            Err(EntryError::TooSmall {
                offset: 88,
                size: 15
            })
        ]
    );
    put_entry(&mut buf, 88, 0);
    assert_eq!(
        walk(&buf)[1],
        Err(EntryError::TooSmall {
            offset: 88,
            size: 0
        })
    );
}

#[test]
fn walk_rejects_overrun() {
    let mut buf = buffer_ending_at(120, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 40);
    assert_eq!(
        walk(&buf),
        [
            Ok((72, 16)),
            Err(EntryError::Overrun {
                offset: 88,
                size: 40
            })
        ]
    );
}

#[test]
fn walk_rejects_truncated_header() {
    let mut buf = buffer_ending_at(96, 4096);
    put_entry(&mut buf, 72, 16);
    assert_eq!(
        walk(&buf),
        [Ok((72, 16)), Err(EntryError::Truncated { offset: 88 })]
    );
}

/// `next_buffer_offset` counts from the end of the header: entries start at
/// header + 0 and the first one is found with an offset of its own size.
#[test]
fn walk_counts_entry_bytes_from_the_end_of_the_header() {
    let mut buf = buffer_with_entry_bytes(16, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 16);
    assert_eq!(walk(&buf), [Ok((72, 16))]);
    // Read as an offset from the buffer start, 88 would have held one entry
    // too; as entry bytes it holds both.
    let mut buf = buffer_with_entry_bytes(32, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 16);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, 16))]);
    assert_eq!(BufferHeader::decode(&buf).unwrap().entries_end(), 104);
    assert_eq!(BufferHeader::decode(&buf).unwrap().total_size(), 4096);
}

/// The last entry ends exactly at the buffer end: `next_buffer_offset` =
/// `buffer_size`, nothing is cut off and nothing is read past the end.
#[test]
fn walk_last_entry_ends_exactly_at_the_buffer_end() {
    let len = 2 * PAGE_SIZE;
    let mut buf = buffer_with_entry_bytes((len - ENTRIES_OFFSET) as u32, len);
    let header = BufferHeader::decode(&buf).unwrap();
    assert_eq!(header.next_buffer_offset, header.buffer_size);
    assert_eq!(header.entries_end(), len);
    // One small entry, then one that fills the rest (8120 - 16 bytes).
    put_entry(&mut buf, 72, 16);
    let last = (len - 88) as u16;
    put_entry(&mut buf, 88, last);
    assert_eq!(walk(&buf), [Ok((72, 16)), Ok((88, last))]);
    let entry = entries(&buf).nth(1).unwrap().unwrap();
    assert_eq!(entry.payload.len(), usize::from(last) - EntryHeader::SIZE);
    // One byte more would run past the buffer.
    put_entry(&mut buf, 88, last + 1);
    assert_eq!(
        walk(&buf),
        [
            Ok((72, 16)),
            Err(EntryError::Overrun {
                offset: 88,
                size: last + 1
            })
        ]
    );
}

#[test]
fn walk_rejects_bad_ends() {
    // Entry bytes past the buffer end; the end is reported from the start.
    assert_eq!(
        walk(&buffer_with_entry_bytes(4096 - 72 + 1, 4096)),
        [Err(EntryError::BadEnd { end: 4097 })]
    );
    // The old reading (an offset from the buffer start) of a full buffer.
    assert_eq!(
        walk(&buffer_with_entry_bytes(4096, 4096)),
        [Err(EntryError::BadEnd { end: 4096 + 72 })]
    );
    assert_eq!(
        walk(&buffer_with_entry_bytes(u32::MAX, 4096)),
        [Err(EntryError::BadEnd {
            end: u32::MAX as usize + 72
        })]
    );
    assert_eq!(walk(&[0; 71]), [Err(EntryError::NoHeader { len: 71 })]);
}

#[test]
fn walk_rejects_misaligned_start() {
    let buf = buffer_ending_at(200, 4096);
    let items: Vec<_> = entries_in(&buf, 76, 200).collect();
    assert_eq!(items, [Err(EntryError::Misaligned { offset: 76 })]);
}

#[test]
fn walk_resumes() {
    let mut buf = buffer_ending_at(136, 4096);
    put_entry(&mut buf, 72, 16);
    put_entry(&mut buf, 88, 20);
    put_entry(&mut buf, 112, 24);
    let mut walker = entries(&buf);
    assert!(walker.next().unwrap().is_ok());
    assert_eq!(walker.position(), 88);
    let rest: Vec<_> = entries_in(&buf, walker.position(), 136)
        .map(|e| e.unwrap().offset)
        .collect();
    assert_eq!(rest, [88, 112]);
}

#[test]
fn walk_stops_after_error() {
    let mut buf = buffer_ending_at(200, 4096);
    put_entry(&mut buf, 72, 8);
    let mut walker = entries(&buf);
    assert!(walker.next().unwrap().is_err());
    assert_eq!(walker.next(), None);
    assert_eq!(walker.next(), None);
}

fn arb_sample() -> impl Strategy<Value = Sample> {
    (
        any::<u32>(),
        any::<u16>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(context, entry_type, timestamp, payload)| Sample {
            context,
            entry_type,
            timestamp,
            payload,
        })
}

proptest! {
    #[test]
    fn walk_decodes_what_was_laid_out(
        samples in proptest::collection::vec(arb_sample(), 0..40),
        pad_end: bool,
        slack in 0usize..64,
    ) {
        let (buf, offsets) = build_buffer(&samples, pad_end, slack);
        let walked: Vec<_> = entries(&buf).collect();
        prop_assert_eq!(walked.len(), samples.len());
        for ((item, sample), offset) in walked.iter().zip(&samples).zip(&offsets) {
            let entry = item.as_ref().unwrap();
            prop_assert_eq!(entry.offset, *offset);
            prop_assert_eq!(entry.offset % ENTRY_ALIGN, 0);
            prop_assert_eq!(entry.header.context, sample.context);
            prop_assert_eq!(entry.header.entry_type, sample.entry_type);
            prop_assert_eq!(entry.header.timestamp, sample.timestamp);
            prop_assert_eq!(
                usize::from(entry.header.size),
                EntryHeader::SIZE + sample.payload.len()
            );
            prop_assert_eq!(entry.payload, sample.payload.as_slice());
        }
    }

    #[test]
    fn walk_never_panics_and_ends(
        bytes in proptest::collection::vec(any::<u8>(), 0..1024),
        end in 0u32..1100,
    ) {
        let mut buf = bytes;
        if buf.len() >= BufferHeader::SIZE {
            buf[48..52].copy_from_slice(&end.to_le_bytes());
        }
        let items: Vec<_> = entries(&buf).collect();
        // Each entry takes at least 16 bytes; at most one error ends the walk.
        prop_assert!(items.len() <= buf.len() / EntryHeader::SIZE + 1);
        prop_assert!(items.iter().rev().skip(1).all(|i| i.is_ok()));
        for entry in items.iter().flatten() {
            // `end` is entry bytes after the header.
            prop_assert!(entry.offset + usize::from(entry.header.size) <= ENTRIES_OFFSET + end as usize);
            prop_assert!(entry.offset + usize::from(entry.header.size) <= buf.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Event sources
// ---------------------------------------------------------------------------

#[test]
fn source_constants() {
    assert_eq!(SOURCE_HC, 0x400);
    assert_eq!(SOURCE_VP, 0x8000);
    assert_eq!(SOURCE_SCH, 0x40_0000);
    assert_eq!(SOURCE_TH, 0x80_0000);
    assert_eq!(SOURCES_EXTENDED, 1);
    assert_eq!(SOURCES_ALL, 0x3FFF_FF00);
}

/// Microsoft's group names and bits (HV_TR_GROUP_*), as the reference file
/// lists them.
#[test]
fn source_table_is_microsofts() {
    #[rustfmt::skip]
    let microsoft: [(&str, u64); 22] = [
        ("BM", 0x100), ("DM", 0x200), ("HC", 0x400), ("IM", 0x800),
        ("IC", 0x1000), ("OB", 0x2000), ("PT", 0x4000), ("VP", 0x8000),
        ("SYNIC", 0x10000), ("SYNIC_TI", 0x20000), ("AM_GVA", 0x40000),
        ("AM", 0x80000), ("VAL", 0x100000), ("VM", 0x200000),
        ("SCH", 0x400000), ("TH", 0x800000), ("TI", 0x1000000),
        ("KE", 0x2000000), ("MM", 0x4000000), ("PROFILER", 0x8000000),
        ("USCH", 0x10000000), ("GENERIC", 0x20000000),
    ];
    assert_eq!(SOURCES.len(), microsoft.len());
    for (&(name, bit), (ms_name, ms_bit)) in SOURCES.iter().zip(microsoft) {
        assert_eq!(name.to_ascii_uppercase(), ms_name);
        assert_eq!(bit, ms_bit, "{name}");
    }
}

#[test]
fn source_names() {
    assert_eq!(source_by_name("hc"), Some(0x400));
    assert_eq!(source_by_name("HC"), Some(0x400));
    assert_eq!(source_by_name("vp"), Some(0x8000));
    assert_eq!(source_by_name("sch"), Some(0x40_0000));
    assert_eq!(source_by_name("Synic_TI"), Some(0x2_0000));
    assert_eq!(source_by_name("usch"), Some(0x1000_0000));
    assert_eq!(source_by_name("generic"), Some(0x2000_0000));
    assert_eq!(source_by_name("profiler"), Some(0x800_0000));
    // The former names of hv_evlog's own table are gone.
    for old in [
        "admin",
        "diag",
        "hypercall",
        "scheduler",
        "synic-ti",
        "bogus",
        "",
    ] {
        assert_eq!(source_by_name(old), None, "{old}");
    }
    assert_eq!(source_name(0x400), Some("hc"));
    assert_eq!(source_name(0x1), None);
    assert_eq!(source_name(0x3), None);
}

#[test]
fn source_table_is_single_bits_in_order() {
    let mut prev = 0;
    for &(name, bit) in SOURCES {
        assert_eq!(bit.count_ones(), 1, "{name}");
        assert!(bit > prev, "{name}");
        assert_eq!(bit & SOURCES_EXTENDED, 0, "{name}");
        assert_eq!(source_by_name(name), Some(bit));
        assert_eq!(source_name(bit), Some(name));
        prev = bit;
    }
    assert_eq!(SOURCES.len(), 22);
}

#[test]
fn source_lists() {
    assert_eq!(parse_sources("hc, vp,,sch"), Ok(0x408400));
    assert_eq!(parse_sources(""), Ok(0));
    assert_eq!(parse_sources("hc,HC"), Ok(0x400));
    assert_eq!(parse_sources("hc, bogus ,vp"), Err("bogus"));
}

#[test]
fn withdraw_memory_input_bytes() {
    let input = WithdrawMemoryInput::own(ProximityDomainInfo::node(2));
    let mut page = [0xAAu8; 24];
    assert_eq!(input.encode(&mut page), Some(16));
    assert_eq!(
        &page[..16],
        &[
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // partition: self
            0x02, 0x00, 0x00, 0x00, // domain 2
            0x01, 0x00, 0x00, 0x80, // preferred | valid
        ]
    );
    assert_eq!(WithdrawMemoryInput::decode(&page), Some(input));
    assert_eq!(WithdrawMemoryInput::MAX_PAGES, 512);
    let mut out = [0u8; 4096];
    assert_eq!(
        WithdrawMemoryInput::set_gpa_page(&mut out, 511, 0x1234),
        Some(())
    );
    assert_eq!(WithdrawMemoryInput::gpa_page(&out, 511), Some(0x1234));
    assert_eq!(WithdrawMemoryInput::set_gpa_page(&mut out, 512, 1), None);
    assert_eq!(WithdrawMemoryInput::gpa_page(&out, 512), None);
}

#[test]
fn synic_message_layouts_are_byte_exact() {
    let header = MessageHeader {
        message_type: HVMSG_EVENTLOG_BUFFERCOMPLETE,
        payload_size: 8,
        message_flags: MESSAGE_PENDING,
        reserved: 0,
        sender: 0x1122_3344_5566_7788,
    };
    let mut buf = [0xAAu8; 16];
    assert_eq!(header.encode(&mut buf), Some(16));
    assert_eq!(
        buf,
        [0x40, 0, 0, 0x80, 8, 1, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
    );
    assert_eq!(MessageHeader::decode(&buf), Some(header));
    let payload = EventLogMessage {
        log_type: EventLogType::LocalDiagnostics.raw(),
        buffer_index: 0x1ff,
    };
    let mut buf = [0xAAu8; 8];
    assert_eq!(payload.encode(&mut buf), Some(8));
    assert_eq!(buf, [1, 0, 0, 0, 0xff, 1, 0, 0]);
    assert_eq!(MESSAGE_PAYLOAD_OFFSET, 16);
    assert_eq!(EVENTLOG_SINT * MESSAGE_SIZE, 0);
}

// ---------------------------------------------------------------------------
// System diagnostics (type 2): HvCallGetSystemProperty, property 28
// ---------------------------------------------------------------------------

#[test]
fn get_system_property_input_bytes() {
    // The layout mshv_diaglog.c hands the hypervisor: u32 property_id,
    // u32 reserved, u64 property argument; 16 bytes, a slow call.
    assert_eq!(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 28);
    assert_eq!(GetSystemPropertyInput::SIZE, 16);
    let input = GetSystemPropertyInput::new(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS);
    let mut page = [0xEEu8; 32];
    assert_eq!(input.encode(&mut page), Some(16));
    assert_eq!(
        page[..16],
        [28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(
        page[16..].iter().all(|&b| b == 0xEE),
        "wrote past the input"
    );
    assert_eq!(GetSystemPropertyInput::decode(&page), Some(input));
    let odd = GetSystemPropertyInput {
        property_id: 0x0102_0304,
        reserved: 0x0506_0708,
        argument: 0x1112_1314_1516_1718,
    };
    let mut bytes = [0u8; 16];
    odd.encode(&mut bytes).unwrap();
    assert_eq!(
        bytes,
        [
            0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13,
            0x12, 0x11
        ]
    );
    assert!(!HvCall::GetSystemProperty.fast_capable());
    assert!(!HvCall::GetSystemProperty.is_rep());
    assert_eq!(Control::new(HvCall::GetSystemProperty).raw(), 0x007B);
}

#[test]
fn diag_log_buffer_config_output_bytes() {
    // struct hv_system_diag_log_buffer_config at the start of the output
    // page: u32 buffer_count, u32 buffer_size_in_pages.
    assert_eq!(DiagLogBufferConfig::SIZE, 8);
    let out = [4u8, 0, 0, 0, 16, 0, 0, 0, 0xAA];
    assert_eq!(
        DiagLogBufferConfig::decode(&out),
        Some(DiagLogBufferConfig {
            buffer_count: 4,
            buffer_size_in_pages: 16
        })
    );
    let mut bytes = [0xFFu8; 8];
    DiagLogBufferConfig {
        buffer_count: 0x0102_0304,
        buffer_size_in_pages: 0x0506_0708,
    }
    .encode(&mut bytes)
    .unwrap();
    assert_eq!(bytes, [0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06, 0x05]);
    assert_eq!(DiagLogBufferConfig::decode(&out[..7]), None);
}
