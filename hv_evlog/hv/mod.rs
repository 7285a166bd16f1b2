// SPDX-License-Identifier: GPL-2.0

//! Talking to the hypervisor: one typed function per hypercall over a
//! [`hypercall::Transport`] (the kernel's trampoline, or the simulator in
//! `crate::sim`), and the SINT0 message slot its completion messages arrive
//! in.

pub(crate) mod backend;
pub(crate) mod hypercall;
pub(crate) mod pool;
pub(crate) mod sint0;
pub(crate) mod trampoline;
