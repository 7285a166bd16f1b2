// SPDX-License-Identifier: GPL-2.0

//! The buffer state machine (`buffers.rs`): create, map, unmap, delete,
//! release, and the order a header is published in.

use super::rig::*;
use std::collections::BTreeSet;

#[test]
fn create_errors() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let node0 = ProximityDomainInfo::node(PXM0);
    assert_eq!(r.create(GEO.max, node0), HvStatus::INVALID_PARAMETER);
    assert_eq!(r.create(u32::MAX, node0), HvStatus::INVALID_PARAMETER);
    ok(r.create(GEO.max - 1, node0));
    assert_eq!(r.create(GEO.max - 1, node0), HvStatus::OBJECT_IN_USE);
    let pdi = HvStatus::INVALID_PROXIMITY_DOMAIN_INFO;
    for flags in [1 << 1, 1 << 30, ProximityDomainInfo::VALID | 1 << 8] {
        let prox = ProximityDomainInfo {
            domain_id: PXM0,
            flags,
        };
        assert_eq!(r.create(0, prox), pdi, "flags {flags:#x}");
    }
    assert_eq!(r.create(0, ProximityDomainInfo::node(7)), pdi);
    let valid_only = ProximityDomainInfo {
        domain_id: 99,
        flags: ProximityDomainInfo::VALID,
    };
    assert_eq!(r.create(0, valid_only), pdi);
    assert_eq!(r.hv.buffer_state(0), None);
    r.finish();
}

#[test]
fn map_unmap_delete_release_rules() {
    let mut r = Rig::two();
    r.init_ok(GEO);
    let node0 = ProximityDomainInfo::node(PXM0);
    let bad = HvStatus::INVALID_PARAMETER;
    let busy = HvStatus::OBJECT_IN_USE;
    // Not created.
    assert_eq!(r.map(3), Err(bad));
    assert_eq!(r.unmap(3), bad);
    assert_eq!(r.delete(3), bad);
    assert_eq!(r.release(3), bad);
    assert_eq!(r.map(GEO.max), Err(bad));
    // Standby: delete is fine, unmap and release are not.
    ok(r.create(3, node0));
    assert_eq!(r.unmap(3), bad);
    assert_eq!(r.release(3), bad);
    ok(r.delete(3));
    ok(r.create(3, node0));
    // Free: mapped, so no delete and no second map.
    r.map(3).unwrap();
    assert_eq!(r.header(3).state(), Some(BufferState::Free));
    assert_eq!(r.map(3), Err(bad));
    assert_eq!(r.delete(3), busy);
    assert_eq!(r.release(3), bad);
    // In use and complete: no unmap.
    r.assign(3, 1);
    ok(r.sources(SOURCE_HC));
    assert!(matches!(
        r.write(1, 8).outcome,
        Outcome::Written { buffer: 3, .. }
    ));
    assert_eq!(r.hv.buffer_state(3), Some(BufferState::InUse));
    assert_eq!(r.unmap(3), busy);
    assert_eq!(r.delete(3), busy);
    assert_eq!(r.release(3), bad);
    ok(r.flush(3));
    assert_eq!(r.header(3).state(), Some(BufferState::Complete));
    assert_eq!(r.unmap(3), busy);
    assert_eq!(r.delete(3), busy);
    // Release: ready, unmappable, deletable after unmap.
    ok(r.release(3));
    assert_eq!(r.header(3).state(), Some(BufferState::Ready));
    assert_eq!(r.release(3), bad);
    ok(r.unmap(3));
    assert_eq!(r.hv.buffer_state(3), Some(BufferState::Standby));
    ok(r.delete(3));
    assert_eq!(r.hv.buffer_state(3), None);
    r.finish();
}

#[test]
fn map_returns_the_buffer_pages_on_the_requested_node() {
    let mut r = Rig::two();
    r.init_ok(Geo { pages: 5, ..GEO });
    let a = r.create_mapped(0, ProximityDomainInfo::node(PXM0));
    let b = r.create_mapped(1, ProximityDomainInfo::node(PXM1));
    assert_eq!((a.len(), b.len()), (5, 5));
    assert!(a.iter().all(|&pfn| r.p.node_of_pfn(pfn) == Some(0)));
    assert!(b.iter().all(|&pfn| r.p.node_of_pfn(pfn) == Some(1)));
    let all: BTreeSet<u64> = a.iter().chain(&b).copied().collect();
    assert_eq!(all.len(), 10, "pages shared between buffers");
    assert!(!all.contains(&r.input) && !all.contains(&r.output));
    // The header of a fresh buffer, and zeroed data after it.
    let bytes = r.bytes(1);
    let h = BufferHeader::decode(&bytes).unwrap();
    assert_eq!(h.buffer_size, (5 * PAGE_SIZE - ENTRIES_OFFSET) as u32);
    assert_eq!(h.buffer_index, 1);
    assert_eq!(h.state(), Some(BufferState::Free));
    assert_eq!(h.event_log_type(), Some(LT));
    assert_eq!(h.next_in_chain(), None);
    assert_eq!(h.next_buffer_offset, 0);
    // 16-bit logical processor: nothing in its high byte.
    assert_eq!(bytes[41], 0);
    assert!(bytes[ENTRIES_OFFSET..].iter().all(|&b| b == 0));
    assert_eq!(entries(&bytes).count(), 0);
    r.finish();
}

/// The injected bad map reports page 0 at a frame that is not RAM, once;
/// the buffer is mapped all the same (free, so it can be unmapped and
/// deleted), and the next map is right again.
#[test]
fn bad_map_next_reports_one_frame_that_is_not_ram_once() {
    let mut r = Rig::two();
    r.init_ok(Geo { pages: 3, ..GEO });
    let node0 = ProximityDomainInfo::node(PXM0);
    ok(r.create(0, node0));
    ok(r.create(1, node0));
    r.hv.bad_map_next = true;
    // Read raw: the rig's own map would watch the reported pages.
    let out = r.output;
    ok(r.mem(HvCall::MapEventLogBuffer, &MapBufferInput::own(LT, 0)));
    assert!(!r.hv.bad_map_next);
    let bad: Vec<u64> = (0..4)
        .map(|k| MapOutput::page_number(&r.p.mem(out)[..], k).unwrap())
        .collect();
    assert_eq!(bad[0], NOT_RAM_PFN);
    assert_eq!(r.p.node_of_pfn(NOT_RAM_PFN), None);
    assert!(bad[1..3].iter().all(|&pfn| r.p.node_of_pfn(pfn) == Some(0)));
    assert_eq!(bad[3], 0);
    assert_eq!(r.hv.buffer_state(0), Some(BufferState::Free));
    ok(r.unmap(0));
    ok(r.delete(0));
    let good = r.map(1).unwrap();
    assert!(good.iter().all(|&pfn| r.p.node_of_pfn(pfn) == Some(0)));
    r.finish();
}

/// A reader that loads `buffer_state` with acquire semantics must find every
/// other field already written for that state: the simulator publishes the
/// state last, with a release store, and never zeroes a header in place.
#[test]
fn header_state_is_published_after_every_other_field() {
    let mut r = Rig::logging(GEO, 3);
    for _ in 0..400 {
        r.write(0, 40);
    }
    let published = std::mem::take(&mut r.p.published);
    let states: BTreeSet<u32> = published.iter().map(|&(_, v)| v).collect();
    for state in [BufferState::Free, BufferState::InUse, BufferState::Complete] {
        assert!(
            states.contains(&state.raw()),
            "{state:?} was never published"
        );
    }
    for (before, value) in published {
        let mut bytes = before;
        bytes[44..48].copy_from_slice(&value.to_le_bytes());
        let h = BufferHeader::decode(&bytes).unwrap();
        assert!(
            h.buffer_index < 3,
            "published with buffer_index {}",
            h.buffer_index
        );
        assert_eq!(h.log_type, LT.raw(), "published before its type: {h:?}");
        assert_eq!(h.buffer_size as usize, PAGE_SIZE - ENTRIES_OFFSET, "{h:?}");
        if value == BufferState::Complete.raw() {
            // The entries a reader of a complete buffer decodes are final.
            assert!(h.next_buffer_offset as usize >= ENTRIES_OFFSET, "{h:?}");
        }
    }
    r.finish();
}
