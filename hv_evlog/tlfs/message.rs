// SPDX-License-Identifier: GPL-2.0

//! SynIC messages: how the hypervisor reports completed buffers.

use super::{
    wire::{impl_wire, pin_layout, Wire},
    PAGE_SIZE,
};

/// The synthetic interrupt source that carries event log messages: SINT0,
/// the one the root partition's intercept messages also use
/// (drivers/hv/mshv_synic.c, `HV_SYNIC_INTERCEPTION_SINT_INDEX`).
pub const EVENTLOG_SINT: usize = 0;

/// Bytes of one message slot of the SynIC message page (TLFS
/// `HV_MESSAGE_SIZE`); slot `n` of the page serves SINT `n`.
pub const MESSAGE_SIZE: usize = 256;

/// `HVMSG_NONE`: the slot is empty.
pub const HVMSG_NONE: u32 = 0;

/// `HVMSG_EVENTLOG_BUFFERCOMPLETE` (include/hyperv/hvgdk_mini.h): buffers
/// of a group completed; the payload is an [`EventLogMessage`].
pub const HVMSG_EVENTLOG_BUFFERCOMPLETE: u32 = 0x8000_0040;

/// `message_flags` bit: the hypervisor holds more messages for this slot;
/// the partition signals end-of-message once it emptied the slot.
pub const MESSAGE_PENDING: u8 = 1 << 0;

/// The header of a SynIC message (TLFS `HV_MESSAGE_HEADER`), at the start of
/// its slot; the payload follows it. The hypervisor stores `message_type`
/// last: a reader that sees it not [`HVMSG_NONE`] sees the rest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageHeader {
    /// `HVMSG_*`.
    pub message_type: u32,
    /// Bytes of payload.
    pub payload_size: u8,
    /// [`MESSAGE_PENDING`].
    pub message_flags: u8,
    /// Reserved.
    pub reserved: u16,
    /// Sender (port id or partition id); 0 from the hypervisor itself.
    pub sender: u64,
}

pin_layout!(
    MessageHeader, size = 16;
    message_type @ 0, payload_size @ 4, message_flags @ 5, reserved @ 6, sender @ 8,
);

impl_wire!(MessageHeader {
    message_type: u32,
    payload_size: u8,
    message_flags: u8,
    reserved: u16,
    sender: u64,
});

/// The payload of [`HVMSG_EVENTLOG_BUFFERCOMPLETE`]: the group's type and
/// the first completed buffer; further buffers completed with it follow
/// through the headers' `next_buffer_index` (include/hyperv/hvtrapi.h,
/// `hv_eventlog_message_payload`; mshv_trace.c walks the chain from it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventLogMessage {
    /// [`EventLogType`](super::EventLogType).
    pub log_type: u32,
    /// First buffer of the chain.
    pub buffer_index: u32,
}

pin_layout!(EventLogMessage, size = 8; log_type @ 0, buffer_index @ 4);

impl_wire!(EventLogMessage {
    log_type: u32,
    buffer_index: u32,
});

/// Offset of the payload in a slot.
pub const MESSAGE_PAYLOAD_OFFSET: usize = MessageHeader::SIZE;

const _: () = assert!(MESSAGE_PAYLOAD_OFFSET + EventLogMessage::SIZE <= MESSAGE_SIZE);
const _: () = assert!((EVENTLOG_SINT + 1) * MESSAGE_SIZE <= PAGE_SIZE);
