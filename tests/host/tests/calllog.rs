//! The hypercall log (hv_evlog/policy/calllog.rs): ring order and the exact line
//! debugfs `hypercalls` shows for each form of call.

use hv_evlog_host_tests::calllog::{Entry, Ring, HEADER};
use hv_evlog_host_tests::tlfs::*;

fn line(control: Control, result: u64, input: &[u8]) -> String {
    Entry::new(7, control.raw(), result, input).to_string()
}

#[test]
fn header_names_every_column() {
    assert_eq!(
        HEADER,
        "seq code name form rep_count rep_start input_bytes input_hex status status_name reps_done"
    );
    let e = line(Control::new(HvCall::FlushEventLogBuffer), 0, &[1]);
    assert_eq!(
        e.split(' ').count(),
        HEADER.split(' ').count(),
        "one field per column: {e}"
    );
}

#[test]
fn memory_call_line_is_exact() {
    let input = InitializeGroupInput::new(
        EventLogType::LocalDiagnostics,
        EventLogMode::Regular,
        8,
        16,
        1,
        TimeBasis::Reference,
        0,
    );
    let mut bytes = vec![0u8; InitializeGroupInput::SIZE];
    input.encode(&mut bytes).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        line(
            Control::new(HvCall::InitializeEventLogBufferGroup),
            0,
            &bytes
        ),
        format!(
            "7 0x0060 HvCallInitializeEventLogBufferGroup slow 0 0 {} {hex} 0x0000 HV_STATUS_SUCCESS 0",
            InitializeGroupInput::SIZE
        )
    );
    assert!(hex.starts_with("0100000008000000000001000100000000000000"));
}

#[test]
fn fast_call_line_shows_both_registers() {
    let input = CreateBufferInput::new(
        EventLogType::LocalDiagnostics,
        3,
        ProximityDomainInfo::node(2),
    );
    let [a, b] = input.fast_input().unwrap();
    let mut regs = a.to_le_bytes().to_vec();
    regs.extend_from_slice(&b.to_le_bytes());
    assert_eq!(
        line(
            Control::fast_call(HvCall::CreateEventLogBuffer),
            result_value(HvStatus::INSUFFICIENT_MEMORY, 0),
            &regs
        ),
        "7 0x0062 HvCallCreateEventLogBuffer fast 0 0 16 \
         01000000030000000200000001000080 0x000b HV_STATUS_INSUFFICIENT_MEMORY 0"
    );
}

#[test]
fn long_inputs_are_cut_and_say_how_much_is_missing() {
    let pfns: Vec<u64> = (0x1000..0x1000 + 20).collect();
    let mut page = vec![0u8; PAGE_SIZE];
    let len = DepositMemoryInput::new(HV_PARTITION_ID_SELF)
        .encode_with_pages(&mut page, &pfns)
        .unwrap();
    assert_eq!(len, 8 + 20 * 8);
    let control = Control::rep_call(HvCall::DepositMemory, 20)
        .unwrap()
        .with_rep_start(4)
        .unwrap();
    let l = line(control, result_value(HvStatus::SUCCESS, 20), &page[..len]);
    let mut hex = "ffffffffffffffff".to_string();
    for pfn in 0x1000u64..0x1007 {
        hex += &pfn
            .to_le_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
    }
    assert_eq!(
        l,
        format!("7 0x0048 HvCallDepositMemory slow 20 4 168 {hex}+104 0x0000 HV_STATUS_SUCCESS 20")
    );
}

#[test]
fn no_input_and_no_hypervisor() {
    assert_eq!(
        line(
            Control::new(HvCall::FinalizeEventLogBufferGroup),
            HV_NO_HYPERCALL_PAGE,
            &[]
        ),
        "7 0x0061 HvCallFinalizeEventLogBufferGroup slow 0 0 0 - 0xffff HV_EVLOG_NO_HYPERCALL_PAGE 0"
    );
    let unknown = Control::from_raw(0x1234);
    assert_eq!(
        Entry::new(1, unknown.raw(), 2, &[0xAB]).to_string(),
        "1 0x1234 unknown slow 0 0 1 ab 0x0002 HV_STATUS_INVALID_HYPERCALL_CODE 0"
    );
}

#[test]
fn ring_keeps_the_last_entries_oldest_first() {
    let e = |code: u64| Entry::new(0, code, 0, &[code as u8]);
    let mut off = Ring::new(Vec::<Entry>::new());
    assert!(!off.enabled());
    off.record(e(1));
    assert_eq!(off.calls(), 1);
    assert_eq!(off.iter().count(), 0);

    let mut r = Ring::new(vec![Entry::EMPTY; 3]);
    assert!(r.enabled());
    assert_eq!(r.iter().count(), 0);
    r.record(e(0x60));
    r.record(e(0x62));
    let seqs: Vec<(u64, u64)> = r.iter().map(|x| (x.seq, x.control)).collect();
    assert_eq!(seqs, [(1, 0x60), (2, 0x62)]);
    for code in [0x63, 0x64, 0x65] {
        r.record(e(code));
    }
    let seqs: Vec<(u64, u64)> = r.iter().map(|x| (x.seq, x.control)).collect();
    assert_eq!(seqs, [(3, 0x63), (4, 0x64), (5, 0x65)]);
    assert_eq!(r.calls(), 5);
    assert_eq!(r.iter().next().unwrap().kept(), &[0x63]);
}
