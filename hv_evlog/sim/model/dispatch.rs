// SPDX-License-Identifier: GPL-2.0

//! Simulated hypervisor: how a hypercall reaches its handler (pure,
//! host-tested).
//!
//! A call is its control word and two operands. The control word is checked
//! before anything else, as the hypervisor checks it before it looks at the
//! input; then the call goes to its handler in the file of the part it acts
//! on. Inputs are read here, from the registers of a fast call or from the
//! caller's input page, so every handler sees a decoded value and the
//! addressing rules (alignment, a block that crosses its page) are applied
//! once. The order of the checks is the "Statuses" table in
//! `hypervisor.rs`.

use super::hypervisor::Hypervisor;
use super::machine::{Platform, PAGE_OFFSET_MASK, PAGE_SHIFT};
use crate::tlfs::{
    Control, GetPartitionPropertyInput, HvCall, HvStatus, Wire, ENTRY_ALIGN, HV_PARTITION_ID_SELF,
    PAGE_SIZE,
};

/// The two hypercall operands after the control word: input and output
/// addresses, or for a fast call the two input registers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Regs {
    pub(super) input: u64,
    pub(super) output: u64,
}

/// The `len` bytes at guest physical address `gpa`, which must be 8-byte
/// aligned and not cross its page.
pub(super) fn block<P: Platform>(p: &mut P, gpa: u64, len: usize) -> Result<&mut [u8], HvStatus> {
    if gpa & (ENTRY_ALIGN as u64 - 1) != 0 {
        return Err(HvStatus::INVALID_ALIGNMENT);
    }
    let start = (gpa & PAGE_OFFSET_MASK) as usize;
    let end = start
        .checked_add(len)
        .filter(|&end| end <= PAGE_SIZE)
        .ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
    let page = p
        .call_page(gpa >> PAGE_SHIFT)
        .ok_or(HvStatus::INVALID_HYPERCALL_INPUT)?;
    Ok(&mut page[start..end])
}

/// The little-endian `u64` at `offset` of a call's input block; 0 past its
/// end.
pub(super) fn read_u64(page: &[u8], offset: usize) -> u64 {
    let mut bytes = [0; 8];
    if let Some(src) = page.get(offset..offset + 8) {
        bytes.copy_from_slice(src);
    }
    u64::from_le_bytes(bytes)
}

/// Decodes a call's input from its registers or its input page.
pub(super) fn read_input<T: Wire, P: Platform>(
    p: &mut P,
    control: Control,
    regs: Regs,
) -> Result<T, HvStatus> {
    let decoded = if control.is_fast() {
        T::from_fast_input([regs.input, regs.output])
    } else {
        T::decode(block(p, regs.input, T::SIZE)?)
    };
    decoded.ok_or(HvStatus::INVALID_HYPERCALL_INPUT)
}

/// The call a control word names, if the word is well formed for it.
fn decode_control(control: Control) -> Result<HvCall, HvStatus> {
    let call = control.call().ok_or(HvStatus::INVALID_HYPERCALL_CODE)?;
    let reps = control.rep_count() != 0 || control.rep_start() != 0;
    let malformed = !control.reserved_bits_clear()
        || control.var_header_size() != 0
        || (control.is_fast() && !call.fast_capable())
        || (reps && !call.is_rep());
    if malformed {
        return Err(HvStatus::INVALID_HYPERCALL_INPUT);
    }
    Ok(call)
}

/// Maps a handler result to the result's status and reps.
fn status_of(result: Result<(), HvStatus>) -> (HvStatus, u16) {
    match result {
        Ok(()) => (HvStatus::SUCCESS, 0),
        Err(status) => (status, 0),
    }
}

impl Hypervisor {
    /// Runs a call that passed the fault injection and refusal checks of
    /// [`Hypervisor::hypercall`]; returns its status and reps done.
    pub(super) fn dispatch<P: Platform>(
        &mut self,
        p: &mut P,
        control: Control,
        regs: Regs,
    ) -> (HvStatus, u16) {
        let call = match decode_control(control) {
            Ok(call) => call,
            Err(status) => return (status, 0),
        };
        if let Some(result) = self.system_log_call(p, call, control, regs) {
            return status_of(result);
        }
        let result = match call {
            HvCall::DepositMemory => return self.deposit(p, control, regs.input),
            HvCall::WithdrawMemory => return self.withdraw(p, control, regs),
            HvCall::GetMemoryBalance => self.balance(p, control, regs),
            HvCall::GetPartitionProperty => property(p, control, regs),
            HvCall::GetSystemProperty => self.system_property(p, control, regs),
            HvCall::InitializeEventLogBufferGroup => self.initialize(p, regs.input),
            HvCall::FinalizeEventLogBufferGroup => {
                read_input(p, control, regs).and_then(|input| self.finalize(input))
            }
            HvCall::CreateEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.create(p, input))
            }
            HvCall::DeleteEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.delete(p, input))
            }
            HvCall::MapEventLogBuffer => self.map(p, control, regs),
            HvCall::UnmapEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.unmap(p, input))
            }
            HvCall::SetEventLogGroupSources => {
                read_input(p, control, regs).and_then(|input| self.set_sources(input))
            }
            HvCall::ReleaseEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.release(p, input))
            }
            HvCall::FlushEventLogBuffer => {
                read_input(p, control, regs).and_then(|input| self.flush(p, input))
            }
        };
        status_of(result)
    }
}

/// HvCallGetPartitionProperty: validated, but the simulator has no
/// properties.
fn property<P: Platform>(p: &mut P, control: Control, regs: Regs) -> Result<(), HvStatus> {
    let input: GetPartitionPropertyInput = read_input(p, control, regs)?;
    if input.partition_id != HV_PARTITION_ID_SELF {
        return Err(HvStatus::INVALID_PARTITION_ID);
    }
    Err(HvStatus::UNKNOWN_PROPERTY)
}
