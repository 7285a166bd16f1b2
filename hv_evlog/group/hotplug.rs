// SPDX-License-Identifier: GPL-2.0

//! CPU hotplug: a dynamic state in the kernel's CPU hotplug state machine
//! whose callbacks keep the served CPUs in step, instead of polling.
//!
//! - A served CPU going offline stops being served: its buffer in use is
//!   flushed (its events reach the consumer as an ordinary completion) and
//!   its buffers stay, with whatever completed still readable until
//!   released. It is marked offline in the table (`HV_EVLOG_BUFFER_CPU_OFFLINE`
//!   on its buffers, debugfs `cpus`).
//! - A served CPU coming back online is served again by the same buffers.
//! - A CPU that was not served and comes online gets the current number of
//!   buffers per CPU, created as a resize creates them, if the policy calls
//!   for it: its node is one whose CPUs the group serves (`nodes=`), which
//!   had an online CPU at load (the plan then knows the node's target node
//!   and proximity domain), and the group maximum has room. Otherwise it is
//!   not served, with one line in the kernel log.
//!
//! A CPU that came or went between the topology snapshot the plan was made
//! from and the state's registration is reconciled right after it, under
//! the CPU hotplug lock that also covers the registration, as if its
//! callback had run: no hotplug event of a load is missed.
//!
//! A CPU whose new buffers could not all be created (the pool, the group
//! maximum, a refused call) keeps those that were, and is served by them
//! (flushed when it goes offline, counted as its own by every resize); a
//! later resize gives it the full count. The callbacks never wait for
//! userspace: a buffer an earlier resize retired holds up only its own
//! deletion (`resize.rs`).
//!
//! The state is `CPUHP_AP_ONLINE_DYN`: the callbacks run in the CPU's
//! hotplug thread, may sleep, and run on the way down after the CPU left the
//! active mask (so the scheduler no longer puts work there) and on the way
//! up before it enters it. They never fail the hotplug operation: a CPU the
//! group cannot serve is logged and left unserved.
//!
//! Written by hand: 7.2's `kernel` crate has no CPU hotplug abstraction, so
//! the exported `__cpuhp_setup_state()` and `__cpuhp_remove_state()` (what
//! the `cpuhp_setup_state_nocalls()` and `cpuhp_remove_state_nocalls()`
//! inlines of include/linux/cpuhotplug.h call) are used directly. A state's
//! callbacks take no context, so the group they act on is kept in a static,
//! set while the state is registered: the module has one group.

use core::{
    ffi::{c_int, c_uint},
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

use kernel::{bindings, prelude::*, sync::Arc};

use super::{Group, Live};
use crate::{
    platform::topology::{self, node_of_cpu, CpusReadGuard, Snapshot},
    policy::live::Served,
};

/// The group the callbacks act on while the state is registered.
static GROUP: AtomicPtr<Group> = AtomicPtr::new(ptr::null_mut());

/// The registered state; removing it (on drop) waits for running callbacks.
pub(crate) struct Hotplug {
    state: c_int,
    _group: Arc<Group>,
}

impl Hotplug {
    /// Follows CPU hotplug for `group` from now on (`None` for the
    /// hypervisor's own `type=system` buffers, which serve no CPU), after
    /// reconciling what changed since `snapshot`, which the plan was made
    /// from.
    pub(crate) fn register(group: Arc<Group>, snapshot: &Snapshot) -> Result<Option<Self>> {
        if group.is_system() {
            return Ok(None);
        }
        // No CPU comes or goes from here to the end of the reconciliation:
        // every event after it reaches a callback.
        let cpus_stable = CpusReadGuard::lock();
        GROUP.store(Arc::as_ptr(&group).cast_mut(), Ordering::Release);
        // SAFETY: The name is a static C string; the callbacks are functions
        // of the right type that stay valid while the module is loaded,
        // which outlasts the state (removed in `drop`). `invoke` is false
        // (`cpuhp_setup_state_nocalls_cpuslocked()`): what changed since the
        // plan is reconciled below instead. The CPU hotplug read lock is
        // held, as the `_cpuslocked` variant requires.
        let state = unsafe {
            bindings::__cpuhp_setup_state_cpuslocked(
                bindings::cpuhp_state_CPUHP_AP_ONLINE_DYN,
                kernel::c_str!("hv_evlog:online").as_char_ptr(),
                false,
                Some(cpu_online),
                Some(cpu_offline),
                false,
            )
        };
        if state < 0 {
            GROUP.store(ptr::null_mut(), Ordering::Release);
            pr_err!("CPU hotplug state not registered ({state})\n");
            return Err(Error::from_errno(state));
        }
        group.reconcile(&cpus_stable, snapshot);
        drop(cpus_stable);
        Ok(Some(Hotplug {
            state,
            _group: group,
        }))
    }
}

impl Drop for Hotplug {
    fn drop(&mut self) {
        // SAFETY: `self.state` is the dynamic state `register` got. Removal
        // takes the CPU hotplug lock, so it waits for a hotplug operation in
        // progress; no callback runs once it returns (`invoke` false: the
        // callbacks are not called for the online CPUs).
        unsafe { bindings::__cpuhp_remove_state(self.state, false) };
        GROUP.store(ptr::null_mut(), Ordering::Release);
    }
}

/// The group, while the state is registered.
fn group() -> Option<&'static Group> {
    let g = GROUP.load(Ordering::Acquire);
    // SAFETY: `GROUP` is non-null only between `register` and the end of
    // `drop`, while the `Hotplug` holds an `Arc` of the group; callbacks run
    // only in that time (see `drop`).
    unsafe { g.as_ref() }
}

/// `CPUHP_AP_ONLINE_DYN` startup: `cpu` is coming online.
///
/// # Safety
///
/// Called by the CPU hotplug state machine only.
unsafe extern "C" fn cpu_online(cpu: c_uint) -> c_int {
    if let Some(group) = group() {
        group.cpu_online(cpu);
    }
    0
}

/// `CPUHP_AP_ONLINE_DYN` teardown: `cpu` is going offline.
///
/// # Safety
///
/// Called by the CPU hotplug state machine only.
unsafe extern "C" fn cpu_offline(cpu: c_uint) -> c_int {
    if let Some(group) = group() {
        group.cpu_offline(cpu);
    }
    0
}

impl Group {
    /// Runs the callback each CPU would have had for a change since
    /// `snapshot`: online now but not then, or offline now (which
    /// [`Group::cpu_offline`] ignores unless the CPU is served, so was
    /// online then). Called with the CPU hotplug lock held, as the
    /// callbacks are.
    fn reconcile(&self, cpus_stable: &CpusReadGuard, snapshot: &Snapshot) {
        for cpu in 0..kernel::cpu::nr_cpu_ids() {
            let Some(id) = kernel::cpu::CpuId::from_u32(cpu) else {
                continue;
            };
            let online = topology::cpu_online(cpus_stable, id);
            if online && !snapshot.had_online(cpu) {
                self.cpu_online(cpu);
            } else if !online {
                self.cpu_offline(cpu);
            }
        }
    }

    /// `cpu` came online: served again, or served anew if the policy calls
    /// for it (see the file comment).
    fn cpu_online(&self, cpu: u32) {
        let mut live = self.live.lock();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        if live.served.iter().any(|s| s.cpu == cpu) {
            self.table.lock().set_offline(cpu, false);
            pr_info!("CPU {cpu} online: served again\n");
            return;
        }
        match self.serve_new(&mut live, cpu) {
            Ok(Some(s)) => pr_info!(
                "CPU {cpu} online: served by {} new buffers on node {} (proximity domain {})\n",
                self.buffers_of(cpu),
                s.target_node,
                s.pxm
            ),
            Ok(None) => {}
            Err(e) => pr_warn!("CPU {cpu} online: not served ({e:?})\n"),
        }
    }

    /// Serves `cpu`, which was not served, if the policy calls for it.
    fn serve_new(&self, live: &mut Live, cpu: u32) -> Result<Option<Served>> {
        // The hotplug core passes a possible CPU's id.
        let id = kernel::cpu::CpuId::from_u32(cpu).ok_or(EINVAL)?;
        let node = node_of_cpu(id).as_u32();
        if !self.cfg.nodes.is_all() && !self.cfg.nodes.ids().any(|n| n == node) {
            return Ok(None);
        }
        // Where the plan put the buffers of this node's CPUs.
        let Some(b) = self.placement.buffers.iter().find(|b| b.cpu_node == node) else {
            pr_info!(
                "CPU {cpu} online: not served (node {node} had no online CPU at load; \
                 reload the module to serve it)\n"
            );
            return Ok(None);
        };
        let s = Served {
            cpu,
            target_node: b.target_node,
            pxm: b.pxm,
        };
        live.served.push(s, GFP_KERNEL)?;
        if let Err(e) = self.apply(&[s], live.per_cpu, || ()) {
            // Served by what was created, if anything: a buffer that serves
            // a CPU must be flushed when it goes and counted as its own.
            let got = self.buffers_of(cpu);
            if got == 0 {
                live.served.pop();
                return Err(e);
            }
            pr_warn!(
                "CPU {cpu} online: served by {got} of {} buffers ({e:?}); a resize adds the rest\n",
                live.per_cpu
            );
        }
        Ok(Some(s))
    }

    /// `cpu` is going offline: no longer served; its buffer in use is
    /// flushed, its buffers stay.
    fn cpu_offline(&self, cpu: u32) {
        let live = self.live.lock();
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        if !live.served.iter().any(|s| s.cpu == cpu) {
            return;
        }
        self.table.lock().set_offline(cpu, true);
        drop(live);
        // Its events so far reach the consumer; nothing is logged on it
        // while it is offline.
        match super::log::EventLog::flush(self, cpu) {
            Ok(()) => pr_info!("CPU {cpu} offline: not served; its buffer in use flushed\n"),
            Err(e) => pr_warn!("CPU {cpu} offline: flush failed ({e:?})\n"),
        }
    }

    /// `f(served, online, buffers)` for each served CPU, in serving order.
    pub(crate) fn for_each_served(&self, mut f: impl FnMut(Served, bool, u32)) {
        let live = self.live.lock();
        for s in live.served.iter() {
            let online = !self.table.lock().is_offline(s.cpu);
            f(*s, online, self.buffers_of(s.cpu));
        }
    }
}
