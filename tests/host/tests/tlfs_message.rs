// SPDX-License-Identifier: GPL-2.0

//! Host tests of hv_evlog/tlfs/message.rs: the SynIC message layouts.

use hv_evlog_host_tests::tlfs::*;

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
