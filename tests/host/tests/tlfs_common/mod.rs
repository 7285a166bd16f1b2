// SPDX-License-Identifier: GPL-2.0

//! What the tlfs_* test files share.

use hv_evlog_host_tests::tlfs::{Wire, PAGE_SIZE};

/// Encodes into a page pre-filled with 0xAA, checks the length and that
/// nothing past it was touched, and returns the encoded bytes.
pub fn encode<T: Wire>(value: &T) -> Vec<u8> {
    let mut page = vec![0xAA; PAGE_SIZE];
    let len = value.encode(&mut page).unwrap();
    assert_eq!(len, T::SIZE);
    assert!(page[len..].iter().all(|&b| b == 0xAA));
    page.truncate(len);
    page
}
