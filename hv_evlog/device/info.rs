// SPDX-License-Identifier: GPL-2.0

//! `struct hv_evlog_info` and `struct hv_evlog_buffer_info`, built here and
//! only here: the event log returns what it knows in its own terms
//! ([`Settings`](crate::group::log::Settings),
//! [`BufferDesc`](crate::group::log::BufferDesc)), and the device adds what only it knows
//! (the ABI's sizes and version, the mapping's offsets, how records
//! arrive) and encodes the whole as the UAPI has it.

use core::mem::size_of;

use kernel::prelude::*;

use super::{Shared, RECORD_SIZE};
use crate::{
    hv_evlog_numa::cpu_map,
    policy::params,
    tlfs::{self, BufferIndex},
    uapi::{self, BufferInfo, Info, CPU_WORDS},
};

impl Shared {
    /// `struct hv_evlog_info`: the log's settings and geometry.
    pub(super) fn info(&self) -> Info {
        let settings = self.log.settings();
        Info {
            abi_version: uapi::ABI_VERSION,
            info_size: size_of::<Info>() as u32,
            // The hypervisor's own values, as the header documents them.
            log_type: settings.log_type as u32,
            mode: settings.mode as u32,
            time_basis: settings.time_basis as u32,
            buffer_count: self.log.buffer_count(),
            buffer_size: self.buffer_size(),
            threshold: settings.threshold,
            sources: settings.sources,
            header_size: tlfs::ENTRIES_OFFSET as u32,
            record_size: RECORD_SIZE as u32,
            backend: match settings.backend {
                params::BackendKind::Hv => uapi::BACKEND_HV,
                params::BackendKind::Sim => uapi::BACKEND_SIM,
            },
            completion: if self.inbox.is_some() {
                uapi::COMPLETION_MESSAGES
            } else {
                uapi::COMPLETION_SCAN
            },
            max_buffers: self.log.index_limit(),
            generation: self.log.generation(),
        }
    }

    /// `struct hv_evlog_buffer_info` of buffer `index`.
    pub(super) fn buffer_info(&self, index: u32) -> Result<BufferInfo> {
        let desc = self.log.buffer_desc(BufferIndex(index)).ok_or(EINVAL)?;
        let mut flags = 0;
        if desc.retired {
            flags |= uapi::BUFFER_RETIRED;
        }
        if desc.cpu_offline {
            flags |= uapi::BUFFER_CPU_OFFLINE;
        }
        Ok(BufferInfo {
            index,
            // All ones: no proximity domain, no single node.
            pxm: desc.serves.map_or(u32::MAX, |s| s.pxm),
            node: desc.node.unwrap_or(u32::MAX),
            flags,
            mmap_offset: u64::from(index) * u64::from(self.buffer_size()),
            // Empty for a CPU of HV_EVLOG_MAX_CPUS or more, which the map
            // cannot hold: records name such a CPU in full.
            cpus: desc
                .serves
                .map_or([0; CPU_WORDS], |s| cpu_map::<CPU_WORDS>(s.cpu)),
        })
    }
}
