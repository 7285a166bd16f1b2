// SPDX-License-Identifier: GPL-2.0

//! The kernel's half of the UAPI mirror ([`crate::uapi`], which is pure and
//! so cannot name the kernel crate): the byte-copy traits `UserSlice`
//! needs, and compile-time checks that tie the mirror to the kernel's ioctl
//! encoding and to the limits of the hypervisor and of the parameters.

use kernel::{
    ioctl::{_IOR, _IOW, _IOWR},
    transmute::{AsBytes, FromBytes},
};

use crate::{
    policy::params,
    tlfs,
    uapi::{
        BufferInfo, Buffers, CopyRequest, Info, Record, Stats, DEVICE, IOC_BUFFERS, IOC_COPY,
        IOC_FLUSH, IOC_INFO, IOC_LIFETIME_STATS, IOC_MAGIC, IOC_RELEASE, IOC_RESIZE,
        IOC_SET_SOURCES, IOC_STATS, MAX_BUFFERS,
    },
};

// SAFETY: Each struct is `repr(C)` with only integer fields (and an array of
// them) and, as the layout pins in `crate::uapi` show, no padding: every
// byte of a value is initialized, any bit pattern is a valid value, and
// there is no interior mutability.
unsafe impl AsBytes for Info {}
// SAFETY: As for `Info`.
unsafe impl AsBytes for BufferInfo {}
// SAFETY: As for `Info`.
unsafe impl AsBytes for Buffers {}
// SAFETY: As for `Info`.
unsafe impl FromBytes for Buffers {}
// SAFETY: As for `Info`.
unsafe impl AsBytes for Record {}
// SAFETY: As for `Info`.
unsafe impl AsBytes for Stats {}
// SAFETY: As for `Info`.
unsafe impl AsBytes for CopyRequest {}
// SAFETY: As for `Info`.
unsafe impl FromBytes for CopyRequest {}

// The mirror computes the request numbers with its own `_IOC` (the tool
// and the host tests have no kernel crate); they must be the kernel's.
const _: () = assert!(IOC_INFO == _IOR::<Info>(IOC_MAGIC, 0x00));
const _: () = assert!(IOC_BUFFERS == _IOWR::<Buffers>(IOC_MAGIC, 0x01));
const _: () = assert!(IOC_RELEASE == _IOW::<u32>(IOC_MAGIC, 0x02));
const _: () = assert!(IOC_FLUSH == _IOW::<u32>(IOC_MAGIC, 0x03));
const _: () = assert!(IOC_SET_SOURCES == _IOW::<u64>(IOC_MAGIC, 0x04));
const _: () = assert!(IOC_STATS == _IOR::<Stats>(IOC_MAGIC, 0x05));
const _: () = assert!(IOC_LIFETIME_STATS == _IOR::<Stats>(IOC_MAGIC, 0x06));
const _: () = assert!(IOC_COPY == _IOWR::<CopyRequest>(IOC_MAGIC, 0x07));
const _: () = assert!(IOC_RESIZE == _IOW::<u32>(IOC_MAGIC, 0x08));

// The UAPI promises userspace at most `HV_EVLOG_MAX_BUFFERS` buffers (every
// index below it) because the hypervisor allows no more in a group; the
// parameters that size the group are bounded by the hypervisor's limits
// (the placement plan and the group maximum take them from `tlfs` too).
// The header and the hypervisor's ABI each state the number: checked equal
// here, where both are in sight.
const _: () = assert!(MAX_BUFFERS == tlfs::MAX_BUFFERS);
const _: () = assert!(params::range::BUFFERS_PER_CPU.1 == MAX_BUFFERS);
const _: () = assert!(params::range::THRESHOLD.1 == MAX_BUFFERS);

// The node the module registers is the one the header names: `/dev/` and
// the misc device's name.
const _: () = {
    let (path, name) = (DEVICE.as_bytes(), super::NAME.to_bytes());
    assert!(path.len() == 5 + name.len());
    let mut i = 0;
    while i < path.len() {
        assert!(path[i] == if i < 5 { b"/dev/"[i] } else { name[i - 5] });
        i += 1;
    }
};
