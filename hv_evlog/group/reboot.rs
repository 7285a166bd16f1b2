// SPDX-License-Identifier: GPL-2.0

//! Stops the event log before reboot and kexec.
//!
//! The hypervisor keeps a partition's event log group across a reboot or a
//! kexec of the partition's kernel, and refuses to initialize that type again
//! while it exists (see `../shared/reference/hyperv-event-log.md`, "Completion
//! and teardown"). So the module runs the group's stop sequence
//! ([`Group::stop`]) from the reboot notifier chain when it is called with
//! `SYS_RESTART`, which both `kernel_restart()` and `kernel_kexec()` pass,
//! as Microsoft's driver does (drivers/hv/diag/mshv_diag_main.c,
//! `mshv_diag_reboot`); a halt or power-off of the root partition ends the
//! hypervisor too. Only hypervisor state is handed back: the
//! pages stay allocated, since userspace may still map them until the
//! machine goes down, and a later unload frees them as usual.
//!
//! Written by hand because 7.2's `kernel` crate has no reboot notifier
//! abstraction and its bindings do not include `linux/reboot.h`, which an
//! out-of-tree module cannot add; the two functions are declared below
//! exactly as that header declares them.

use kernel::ffi::{c_int, c_ulong, c_void};

use kernel::{bindings, error::to_result, prelude::*, sync::Arc, types::Opaque};

use crate::group::Group;

extern "C" {
    // include/linux/reboot.h: `int register_reboot_notifier(struct notifier_block *);`
    fn register_reboot_notifier(nb: *mut bindings::notifier_block) -> c_int;
    // include/linux/reboot.h: `int unregister_reboot_notifier(struct notifier_block *);`
    fn unregister_reboot_notifier(nb: *mut bindings::notifier_block) -> c_int;
}

/// `NOTIFY_DONE` (include/linux/notifier.h): this callback does not veto.
const NOTIFY_DONE: c_int = 0;
/// `SYS_RESTART` (include/linux/reboot.h, `SYS_DOWN`): a restart or kexec.
const SYS_RESTART: c_ulong = 0x0001;

/// A registered reboot notifier that stops `group`.
///
/// # Invariants
///
/// `nb` is registered on the reboot notifier chain from `register()` until
/// drop, with [`RebootHook::notify`] as its callback; `group` lives as long
/// as `self`.
#[pin_data(PinnedDrop)]
pub(crate) struct RebootHook {
    group: Arc<Group>,
    #[pin]
    nb: Opaque<bindings::notifier_block>,
}

// SAFETY: the notifier block is only touched by the notifier chain, under its
// own lock; `group` is `Send + Sync` (an `Arc` of a `Sync` type).
unsafe impl Send for RebootHook {}
// SAFETY: as above; shared references give out nothing but the `Arc`.
unsafe impl Sync for RebootHook {}

impl RebootHook {
    /// Registers the notifier for `group`.
    pub(crate) fn register(group: Arc<Group>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // Initialized first: the callback may run as soon as the block
            // is registered.
            group,
            nb <- Opaque::try_ffi_init(|slot: *mut bindings::notifier_block| {
                // SAFETY: `slot` is valid for writing a `notifier_block`.
                unsafe {
                    slot.write(bindings::notifier_block {
                        notifier_call: Some(Self::notify),
                        next: core::ptr::null_mut(),
                        priority: 0,
                    })
                };
                // SAFETY: `slot` is an initialized, pinned notifier block
                // inside `Self`, whose drop unregisters it before the memory
                // goes away (type invariant); on error nothing is registered.
                to_result(unsafe { register_reboot_notifier(slot) })
            }),
        })
    }

    /// # Safety
    ///
    /// Called by the reboot notifier chain only, with the block
    /// [`RebootHook::register`] registered.
    unsafe extern "C" fn notify(
        nb: *mut bindings::notifier_block,
        action: c_ulong,
        _data: *mut c_void,
    ) -> c_int {
        if action != SYS_RESTART {
            return NOTIFY_DONE;
        }
        let nb = nb.cast::<Opaque<bindings::notifier_block>>();
        // SAFETY: `nb` is the `nb` field of a registered `RebootHook`, which
        // stays alive while registered (type invariant).
        let this = unsafe { &*kernel::container_of!(nb, Self, nb) };
        let r = this.group.stop();
        pr_info!(
            "reboot: event log stopped: {} flushed, {} released, {} deleted, {}, {} failed steps\n",
            r.flushed,
            r.released,
            r.deleted,
            if r.finalized {
                "group finalized"
            } else {
                "group not finalized"
            },
            r.failures
        );
        NOTIFY_DONE
    }
}

#[pinned_drop]
impl PinnedDrop for RebootHook {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the block is registered (type invariant) and this is the
        // one place that unregisters it; the chain's lock makes sure no
        // callback is running when this returns.
        unsafe { unregister_reboot_notifier(self.nb.get()) };
    }
}
