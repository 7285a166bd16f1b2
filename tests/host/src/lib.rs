//! The module's pure files (core only), compiled unchanged on the host so that
//! `cargo test` covers the same source the kernel builds.
//!
//! The tree mirrors the kernel crate's, so that `crate::` paths inside the
//! files resolve the same way in both builds.

#[path = "../../../hv_evlog_numa.rs"]
pub mod hv_evlog_numa;
pub use hv_evlog_numa as numa;

#[path = "../../../hv_evlog/tlfs/mod.rs"]
pub mod tlfs;

#[path = "../../../hv_evlog/uapi.rs"]
pub mod uapi;

#[path = "../../../hv_evlog/policy/mod.rs"]
pub mod policy;
pub use policy::{calllog, completion, live, params, snapshot};

/// The simulated hypervisor's pure core (`hv_evlog/sim/model/`); the kernel
/// shell in `hv_evlog/sim/mod.rs` is not built here. The `path` on the
/// inline module makes it the directory its file modules are read from.
#[path = "../../../hv_evlog/sim"]
pub mod sim {
    pub mod model;
    pub use model::{hypervisor, machine, synic, system, writer};
}
