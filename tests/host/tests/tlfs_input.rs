// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/tlfs/ input.rs, memory.rs and property.rs: the
//! byte-exact layouts of every hypercall input and output.

mod tlfs_common;

use tlfs_common::encode;

use hv_evlog_host_tests::tlfs::*;
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Input and output layouts
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
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
