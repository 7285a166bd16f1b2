// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/tlfs/ call.rs and status.rs: exact codes, limits,
//! control words, result values and statuses.

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
