//! The module's pure files (core only), compiled unchanged on the host so that
//! `cargo test` covers the same source the kernel builds.
//!
//! The tree mirrors the kernel crate's, so that `crate::` paths inside the
//! files resolve the same way in both builds.

#[path = "../../../hv_evlog_numa.rs"]
pub mod hv_evlog_numa;
pub use hv_evlog_numa as numa;

#[path = "../../../hv_evlog/tlfs.rs"]
pub mod tlfs;

#[path = "../../../hv_evlog/snapshot.rs"]
pub mod snapshot;

#[path = "../../../hv_evlog/params.rs"]
pub mod params;

#[path = "../../../hv_evlog/completion.rs"]
pub mod completion;

#[path = "../../../hv_evlog/calllog.rs"]
pub mod calllog;

/// The simulated hypervisor's pure core (`hv_evlog/sim/`); the kernel-only
/// shell in its `mod.rs` is not built here. The `path` on the inline module
/// makes it the directory its file modules are read from.
#[path = "../../../hv_evlog/sim"]
pub mod sim {
    pub mod hypervisor;
    pub mod synic;
    pub mod system;
    pub mod writer;
}

#[path = "../../../hv_evlog/live.rs"]
pub mod live;
