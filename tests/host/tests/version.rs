// SPDX-License-Identifier: GPL-2.0

//! The version is one fact written in four places that cannot share a
//! definition (the module's source, DKMS's shell-sourced dkms.conf, the
//! CLI's Cargo.toml, the reference documentation's header): they must agree.

use std::path::PathBuf;

/// The text between `prefix` and the next `"` on the line starting with
/// `prefix`, in file `rel` of the repository.
fn quoted_after(rel: &str, prefix: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut found = text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| rest.split('"').next().unwrap().to_string());
    let v = found
        .next()
        .unwrap_or_else(|| panic!("{rel}: no line starting {prefix:?}"));
    assert_eq!(
        found.next(),
        None,
        "{rel}: more than one line starting {prefix:?}"
    );
    v
}

#[test]
fn module_dkms_cli_and_docs_agree_on_the_version() {
    let module = quoted_after("hv_evlog.rs", "const VERSION: &str = \"");
    assert!(
        module.split('.').count() == 3 && module.split('.').all(|n| n.parse::<u32>().is_ok()),
        "hv_evlog.rs: VERSION {module:?} is not MAJOR.MINOR.PATCH"
    );
    assert_eq!(
        quoted_after("dkms.conf", "PACKAGE_VERSION=\""),
        module,
        "dkms.conf"
    );
    assert_eq!(
        quoted_after("tools/hv-evlog/Cargo.toml", "version = \""),
        module,
        "tools/hv-evlog/Cargo.toml"
    );
    let rst = quoted_after("Documentation/hv_evlog.rst", ":Module: ``hv_evlog`` ");
    assert_eq!(
        rst.split(' ').next(),
        Some(module.as_str()),
        "Documentation/hv_evlog.rst"
    );
}
