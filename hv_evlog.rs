// SPDX-License-Identifier: GPL-2.0

//! hv_evlog: Hyper-V hypervisor event log buffers, mapped to userspace.
//!
//! This is the module entry: parameters, init and exit.

use kernel::prelude::*;

// Pure files: only `core`, shared unchanged with the host tests in tests/host.
#[allow(dead_code)] // Wired into the lifecycle by the group code.
mod hv_evlog_numa;
#[allow(dead_code)] // Wired into the hypercall path.
#[path = "hv_evlog/tlfs.rs"]
mod tlfs;

module! {
    type: HvEvlog,
    name: "hv_evlog",
    authors: ["hv_evlog developers"],
    description: "Hyper-V hypervisor event log buffers for userspace",
    license: "GPL",
    params: {
        buffer_pages: u32 {
            default: 16,
            description: "Pages per event log buffer (1-512)",
        },
    },
}

const VERSION: &str = "0.1.0";

struct HvEvlog;

impl kernel::Module for HvEvlog {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let pages = *module_parameters::buffer_pages.value();
        pr_info!("hv_evlog {VERSION} loaded (buffer_pages={pages})\n");
        Ok(HvEvlog)
    }
}

impl Drop for HvEvlog {
    fn drop(&mut self) {
        pr_info!("hv_evlog unloaded\n");
    }
}
