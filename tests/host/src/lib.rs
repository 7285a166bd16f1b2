//! The module's pure files (core only), compiled unchanged on the host so that
//! `cargo test` covers the same source the kernel builds.

#[path = "../../../hv_evlog_numa.rs"]
pub mod numa;

#[path = "../../../hv_evlog/tlfs.rs"]
pub mod tlfs;

#[path = "../../../hv_evlog/params.rs"]
pub mod params;
