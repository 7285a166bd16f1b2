// SPDX-License-Identifier: GPL-2.0

//! The real hypervisor: hypercalls through the kernel's trampoline.
//!
//! On x86_64, 7.2 does not export the hypercall page (`hv_hypercall_pg` is
//! exported only for 32-bit). It exports the static call `hv_hypercall`
//! instead (arch/x86/kernel/cpu/mshyperv.c:
//! `DEFINE_STATIC_CALL(hv_hypercall, hv_std_hypercall)` and
//! `EXPORT_STATIC_CALL_TRAMP_GPL(hv_hypercall)`), which is what
//! `hv_do_hypercall()` and friends call. Its targets, `hv_std_hypercall()`,
//! `hv_snp_hypercall()` and `hv_tdx_hypercall()`, are ordinary C functions
//! `u64 (u64 control, u64 param1, u64 param2)`: the trampoline is entered with
//! the C calling convention (RDI, RSI, RDX in, RAX out, the C-clobbered
//! registers clobbered), and the target moves the values into the registers
//! the hypervisor expects (RCX, RDX, R8 for the hypercall page) itself. So the
//! trampoline is declared and called here as the C function it stands for;
//! loading RCX/RDX/R8 by hand would hand `hv_std_hypercall()` garbage.
//!
//! Without Hyper-V, `hv_std_hypercall()` calls a stub that returns `U64_MAX`
//! ([`crate::tlfs::HV_NO_HYPERCALL_PAGE`]).
//!
//! Calling the trampoline (rather than its current target) keeps the static
//! call switchable: objtool records the call site and the module loader
//! patches it to call the target directly.

use kernel::{bindings, prelude::*};

use crate::{
    hv::hypercall::{HvError, HypercallPages, Hypercalls, Transport},
    tlfs::{HvStatus, ProximityDomainInfo, VpIndex},
};

unsafe extern "C" {
    /// The `hv_hypercall` static call trampoline (`static_call_mod(hv_hypercall)`),
    /// exported GPL-only; see the module documentation for its ABI.
    #[link_name = "__SCT__hv_hypercall"]
    fn hv_hypercall(control: u64, param1: u64, param2: u64) -> u64;

    /// Linux CPU id → Hyper-V virtual processor index, `nr_cpu_ids` entries,
    /// allocated by the Hyper-V init code (drivers/hv/hv_common.c, exported
    /// GPL-only; not in 7.2's bindings). Null without Hyper-V.
    static hv_vp_index: *mut u32;
}

/// Whether mshv_root, the root partition's VM driver, is loaded (or built
/// in): it owns SINT0 in 7.2 (`hv_setup_mshv_handler(mshv_isr)`), and its
/// handler does not know `HVMSG_EVENTLOG_BUFFERCOMPLETE`: it warns once and
/// leaves such a message in the slot (drivers/hv/mshv_synic.c, `mshv_isr`),
/// which blocks every later intercept message of every guest. Told by one
/// of its exported symbols, `hv_call_delete_vp` (drivers/hv/mshv_root_hv_call.c).
pub(crate) fn sint0_taken_by_mshv_root() -> bool {
    const SYMBOL: &CStr = c"hv_call_delete_vp";
    // SAFETY: `SYMBOL` is a NUL-terminated string. A non-null result holds
    // a reference on the symbol's module, dropped right below.
    let found = !unsafe { bindings::__symbol_get(SYMBOL.as_char_ptr()) }.is_null();
    if found {
        // SAFETY: balances the successful `__symbol_get` above.
        unsafe { bindings::__symbol_put(SYMBOL.as_char_ptr()) };
    }
    found
}

/// `VP_INVAL` in hv_common: no index known for that CPU.
const VP_INVALID: u32 = u32::MAX;

/// The hypervisor's virtual processor index of Linux CPU `cpu`.
///
/// Buffer headers name the processor that filled them by this index, which
/// need not be the Linux CPU id.
pub(crate) fn vp_index(cpu: u32) -> Option<VpIndex> {
    if cpu >= kernel::cpu::nr_cpu_ids() {
        return None;
    }
    // SAFETY: `hv_vp_index` is written once during Hyper-V init, before any
    // module loads; a copy of the pointer is read.
    let table = unsafe { (&raw const hv_vp_index).read() };
    if table.is_null() {
        return None;
    }
    // SAFETY: the table has `nr_cpu_ids` entries and `cpu` is below that;
    // entries are written by CPU bring-up, a racing read sees either value.
    let vp = unsafe { table.add(cpu as usize).read_volatile() };
    (vp != VP_INVALID).then_some(VpIndex(vp))
}

/// Hypercalls to the hypervisor Linux runs on, through [`hv_hypercall`].
///
/// Only [`HvTransport::probe`] makes one, after checking that the hypervisor
/// answers and lets this partition use the pool and event log calls.
pub(crate) struct HvTransport {
    _probed: (),
}

impl HvTransport {
    /// Checks that hypervisor event logging can work here and returns the
    /// transport.
    ///
    /// Asks for the balance of this partition's memory pool: harmless, and a
    /// call of the same privilege as the event log calls. Fails, with one
    /// line in the kernel log, with `ENODEV` when there is no Hyper-V (no
    /// hypercall page), `EACCES` in a partition that is not the root
    /// (`HV_STATUS_ACCESS_DENIED`), `EOPNOTSUPP` under a hypervisor that does
    /// not implement the call (`HV_STATUS_INVALID_HYPERCALL_CODE`, e.g. KVM's
    /// Hyper-V emulation), or the errno of whatever status came back.
    pub(crate) fn probe() -> Result<Self> {
        let transport = Self { _probed: () };
        let mut hp = HypercallPages::new()?;
        let balance =
            Hypercalls::new(&transport).memory_balance(&mut hp, ProximityDomainInfo::none());
        match balance {
            Ok(_) => Ok(transport),
            Err(err) => {
                report_probe_failure(&err);
                Err(err.into())
            }
        }
    }
}

/// Logs why the probe failed, in one line, with the remedy where there is one.
fn report_probe_failure(err: &HvError) {
    if err.no_hypercall_page() {
        pr_err!("not running on Hyper-V (no hypercall page); use backend=sim to test\n");
    } else if err.status() == HvStatus::ACCESS_DENIED {
        pr_err!("{err}; hypervisor event logging needs the root partition\n");
    } else if err.status() == HvStatus::INVALID_HYPERCALL_CODE {
        pr_err!("{err}; the hypervisor does not implement it (not Microsoft's, e.g. KVM's Hyper-V emulation)\n");
    } else {
        pr_err!("{err}\n");
    }
}

impl Transport for HvTransport {
    unsafe fn hypercall(&self, control: u64, input_pa: u64, output_pa: u64) -> u64 {
        // SAFETY: `hv_hypercall` is a C function of this signature (see the
        // module documentation) that the kernel keeps pointing at a valid
        // target, a stub without Hyper-V. What the hypervisor does with the
        // addresses is safe because the caller upholds the `Transport`
        // contract: they name whole pages the caller owns for the call.
        unsafe { hv_hypercall(control, input_pa, output_pa) }
    }
}
