// SPDX-License-Identifier: GPL-2.0

//! The hypervisor's own system-diagnostics log (type 2, `system.rs`).

use super::rig::*;
use hv_evlog_host_tests::sim::system::{SystemLogError, SYSTEM_ENTRY_TYPE};
use std::collections::BTreeSet;

const ST: EventLogType = EventLogType::SystemDiagnostics;

impl Rig {
    /// HvCallGetSystemProperty for `property` (reserved word `reserved`):
    /// the status and the output page's first 8 bytes.
    fn system_property(&mut self, property: u32, reserved: u32) -> (HvStatus, [u8; 8]) {
        let input = GetSystemPropertyInput {
            property_id: property,
            reserved,
            argument: 0,
        };
        self.p.mem(self.output).fill(0xAA);
        let status = self.mem(HvCall::GetSystemProperty, &input);
        let mut out = [0; 8];
        out.copy_from_slice(&self.p.mem(self.output)[..8]);
        (status, out)
    }

    /// Maps system buffer `index`; its page numbers.
    fn map_system(&mut self, index: u32) -> Result<Vec<u64>, HvStatus> {
        let status = self.mem(HvCall::MapEventLogBuffer, &MapBufferInput::own(ST, index));
        if status != HvStatus::SUCCESS {
            return Err(status);
        }
        let page = self.p.mem(self.output);
        let pfns: Vec<u64> = (0..MAP_MAX_PAGES)
            .map(|k| MapOutput::page_number(&page[..], k).unwrap())
            .take_while(|&pfn| pfn != 0)
            .collect();
        self.p.watch(&pfns);
        Ok(pfns)
    }

    /// The header of the system buffer whose first page is `pfn`.
    fn header_at(&mut self, pfn: u64) -> BufferHeader {
        BufferHeader::decode(&self.p.mem(pfn)[..]).unwrap()
    }
}

#[test]
fn system_property_reports_the_log_geometry() {
    let mut r = Rig::two();
    // No log yet: zero buffers.
    let (status, out) = r.system_property(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 0);
    ok(status);
    assert_eq!(out, [0; 8]);
    assert_eq!(r.hv.create_system_log(&mut r.p, 1, 4, 2), Ok(()));
    assert_eq!(
        r.hv.create_system_log(&mut r.p, 1, 4, 2),
        Err(SystemLogError::Exists)
    );
    assert_eq!(r.hv.system_log(), Some((4, 2)));
    let (status, out) = r.system_property(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 0);
    ok(status);
    assert_eq!(out, [4, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(
        r.system_property(27, 0).0,
        HvStatus::UNKNOWN_PROPERTY,
        "only property 28"
    );
    assert_eq!(
        r.system_property(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS, 1)
            .0,
        HvStatus::INVALID_PARAMETER
    );
    // Not a fast call.
    let input = GetSystemPropertyInput::new(SYSTEM_PROPERTY_DIAGNOSTIC_LOG_BUFFERS);
    let [a, b] = input.fast_input().unwrap();
    let control = Control::new(HvCall::GetSystemProperty).fast().raw();
    assert_eq!(
        result_status(r.raw(control, a, b)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // The hypervisor's memory, not the partition's pool.
    assert_eq!(
        r.hv.pool(1),
        PoolStats {
            free: 64,
            in_use: 0
        }
    );
    r.finish();
}

#[test]
fn system_log_geometry_limits_and_allocation_failure() {
    let mut r = Rig::new(&[(200, PXM0)], 0);
    let e = Err(SystemLogError::Geometry);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 0, 1), e);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 17, 1), e);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 1, 0), e);
    assert_eq!(r.hv.create_system_log(&mut r.p, 0, 1, 513), e);
    // 198 pages left on the node: 4 x (1 + 64) does not fit; nothing kept.
    let live = r.p.live.len();
    assert_eq!(
        r.hv.create_system_log(&mut r.p, 0, 4, 64),
        Err(SystemLogError::NoMemory)
    );
    assert_eq!(r.p.live.len(), live, "pages kept after a failed create");
    assert_eq!(r.hv.system_log(), None);
    r.finish();
}

#[test]
fn type_2_has_no_group_only_map_and_unmap() {
    let mut r = Rig::two();
    r.hv.create_system_log(&mut r.p, 0, 4, 2).unwrap();
    let bad = HvStatus::INVALID_PARAMETER;
    let init =
        InitializeGroupInput::new(ST, EventLogMode::Regular, 4, 2, 1, TimeBasis::Reference, 0);
    assert_eq!(r.mem(HvCall::InitializeEventLogBufferGroup, &init), bad);
    assert!(!r.hv.group_active());
    // With and without a group of another type.
    for round in 0..2 {
        let id = BufferIdInput::new(ST, 0);
        assert_eq!(
            r.fast(
                HvCall::CreateEventLogBuffer,
                &CreateBufferInput::new(ST, 0, ProximityDomainInfo::none())
            ),
            bad,
            "create, round {round}"
        );
        assert_eq!(r.fast(HvCall::DeleteEventLogBuffer, &id), bad);
        assert_eq!(r.fast(HvCall::ReleaseEventLogBuffer, &id), bad);
        assert_eq!(
            r.fast(HvCall::FinalizeEventLogBufferGroup, &FinalizeInput::new(ST)),
            bad
        );
        assert_eq!(
            r.mem(
                HvCall::SetEventLogGroupSources,
                &SetSourcesInput::legacy(ST, 0x100)
            ),
            bad
        );
        assert_eq!(
            r.fast(HvCall::FlushEventLogBuffer, &FlushInput::new(ST, 0)),
            bad
        );
        if round == 0 {
            r.init_ok(GEO);
        }
    }
    r.finish();
}

#[test]
fn type_2_map_returns_the_hypervisors_pages_then_unmap() {
    let mut r = Rig::two();
    r.hv.create_system_log(&mut r.p, 1, 4, 2).unwrap();
    let pool = (r.hv.pool(0), r.hv.pool(1));
    let mut all = BTreeSet::new();
    for i in 0..4 {
        let pfns = r.map_system(i).unwrap();
        assert_eq!(pfns.len(), 2, "buffer {i}");
        for &pfn in &pfns {
            assert_eq!(r.p.node_of_pfn(pfn), Some(1));
            assert!(all.insert(pfn), "page {pfn:#x} twice");
        }
        assert!(r.hv.system_mapped(i));
        let h = r.header_at(pfns[0]);
        assert_eq!(h.buffer_index, i);
        assert_eq!(h.log_type, 2);
        assert_eq!(h.buffer_size, 2 * 4096 - 72);
        assert_eq!(h.state(), Some(BufferState::Free));
        assert_eq!(h.time_stamp, 0);
    }
    assert_eq!((r.hv.pool(0), r.hv.pool(1)), pool, "no pool page used");
    assert_eq!(
        r.map_system(0),
        Err(HvStatus::INVALID_PARAMETER),
        "mapped twice"
    );
    assert_eq!(
        r.map_system(4),
        Err(HvStatus::INVALID_PARAMETER),
        "past the count"
    );
    let unmap = |r: &mut Rig, i| r.fast(HvCall::UnmapEventLogBuffer, &UnmapBufferInput::own(ST, i));
    // Only into the calling partition.
    let other = MapBufferInput {
        partition_id: 7,
        ..MapBufferInput::own(ST, 2)
    };
    assert_eq!(
        r.fast(HvCall::UnmapEventLogBuffer, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    assert_eq!(
        r.mem(HvCall::MapEventLogBuffer, &other),
        HvStatus::INVALID_PARTITION_ID
    );
    ok(unmap(&mut r, 2));
    assert!(!r.hv.system_mapped(2));
    assert_eq!(unmap(&mut r, 2), HvStatus::INVALID_PARAMETER);
    assert_eq!(unmap(&mut r, 9), HvStatus::INVALID_PARAMETER);
    // The memory form works as well; a mapped buffer of type 1 is unaffected.
    ok(r.mem(HvCall::UnmapEventLogBuffer, &UnmapBufferInput::own(ST, 3)));
    r.finish();
}

#[test]
fn system_log_rotates_with_no_notification() {
    let mut r = Rig::two();
    // One-page buffers: (4096 - 72) / 32 = 125 entries of 16 payload bytes.
    r.hv.create_system_log(&mut r.p, 0, 3, 1).unwrap();
    let firsts: Vec<u64> = (0..3).map(|i| r.map_system(i).unwrap()[0]).collect();
    let per = (4096 - 72) / padded(16);
    assert_eq!(per, 125);
    let mut last = (0, 0);
    for n in 0..per {
        last = r.hv.write_system_event(&mut r.p, 16).unwrap();
        assert_eq!(last, (0, (72 + n * 32) as u32));
    }
    let h0 = r.header_at(firsts[0]);
    assert_eq!(h0.state(), Some(BufferState::InUse));
    assert_eq!(
        h0.next_buffer_offset,
        125 * 32,
        "counted from the header's end"
    );
    assert_eq!(h0.next_buffer_index, END_OF_CHAIN);
    // The next entry does not fit (4072 + 32 > 4096): the log rotates.
    assert_eq!(last.1 as usize + 32, 4072);
    assert_eq!(r.hv.write_system_event(&mut r.p, 16), Some((1, 72)));
    let h0 = r.header_at(firsts[0]);
    let h1 = r.header_at(firsts[1]);
    assert_eq!(h0.state(), Some(BufferState::Complete));
    assert_eq!(h0.next_buffer_index, 1);
    assert_eq!(h1.state(), Some(BufferState::InUse));
    assert_eq!(h1.next_buffer_offset, 32);
    assert!(h1.time_stamp > h0.time_stamp);
    // Entries decode: context counts every event, type and payload.
    let e = EntryHeader::decode(&r.p.mem(firsts[1])[72..]).unwrap();
    assert_eq!(
        (e.context, e.size, e.entry_type),
        (125, 32, SYSTEM_ENTRY_TYPE)
    );
    assert_eq!(r.p.mem(firsts[1])[72 + 16], payload_byte(125, 0));
    // Around the ring: buffer 0 restarts, newer than all the others.
    for _ in 0..(per * 2 - 1) {
        r.hv.write_system_event(&mut r.p, 16).unwrap();
    }
    assert_eq!(r.hv.write_system_event(&mut r.p, 16), Some((0, 72)));
    let h0 = r.header_at(firsts[0]);
    let h2 = r.header_at(firsts[2]);
    assert_eq!(h0.state(), Some(BufferState::InUse));
    assert_eq!(h0.next_buffer_offset, 32);
    assert_eq!(h2.state(), Some(BufferState::Complete));
    assert_eq!(h2.next_buffer_index, 0);
    assert!(h0.time_stamp > h2.time_stamp);
    // Never a completion message, no group needed, the pool untouched.
    assert_eq!(r.hv.take_notification(), None);
    assert!(!r.hv.group_active());
    assert_eq!(r.hv.write_system_event(&mut r.p, 5000), None, "too large");
    r.finish();
}
