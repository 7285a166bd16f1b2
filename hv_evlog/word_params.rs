// SPDX-License-Identifier: GPL-2.0

//! Module parameters that take words (`backend=sim`, `nodes=0,2-3`).
//!
//! The 7.2 `module!` macro only declares integer parameters. Rather than add
//! a C file with `module_param_cb()` (which would force the crate root to be
//! renamed, since a composite module's name cannot be one of its objects),
//! this declares the same two things `module!` emits for an integer, by hand:
//! a `struct kernel_param` in the `__param` section whose `set` op stores the
//! text, and the `parm`/`parmtype` strings in `.modinfo` for `modinfo`.
//!
//! The text is only stored here. All checking happens in
//! [`crate::policy::params::validate`] during init, so that every bad value, word or
//! number, gets the same single dmesg line and `-EINVAL`.
//!
//! A word given twice takes the last value, as the kernel's own `charp` and
//! string parameters do (`param_set_charp()` replaces the value). The
//! integers declared by `module!` keep 7.2's Rust behaviour instead: a
//! second value fails the load with `EEXIST`.

use core::cell::UnsafeCell;

use kernel::{
    bindings,
    ffi::{c_char, c_int},
    prelude::*,
};

use crate::policy::params::MAX_TEXT;

/// The text given for one parameter, copied out of the command line.
#[derive(Clone, Copy)]
pub(crate) struct Text {
    bytes: [u8; MAX_TEXT],
    len: usize,
    too_long: bool,
}

impl Text {
    fn new(given: &[u8]) -> Self {
        let mut text = Text {
            bytes: [0; MAX_TEXT],
            len: given.len().min(MAX_TEXT),
            too_long: given.len() > MAX_TEXT,
        };
        text.bytes[..text.len].copy_from_slice(&given[..text.len]);
        text
    }
}

/// One word parameter: its default and, once `insmod` sets it, its value.
pub(crate) struct WordParam {
    name: &'static str,
    default: &'static str,
    /// Written only by [`set_word`], read only after the parameters are
    /// parsed (see the `Sync` impl).
    value: UnsafeCell<Option<Text>>,
}

// SAFETY: `value` is written only by `set_word`, which the kernel calls
// while it parses the module's command line, from `load_module()` with the
// module's `kernel_param_lock` held (`parse_one()`), before the module's
// init runs; the parameters have `perm` 0, so sysfs never writes them
// afterwards. Every read (`bytes`, `too_long`) happens during or after init,
// in the task that ran `load_module()` or after it published the module:
// writes never overlap reads or each other.
unsafe impl Sync for WordParam {}

impl WordParam {
    const fn new(name: &'static str, default: &'static str) -> Self {
        Self {
            name,
            default,
            value: UnsafeCell::new(None),
        }
    }

    /// The parameter's name, for messages.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The text given last, or the default.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self.given() {
            Some(t) => &t.bytes[..t.len],
            None => self.default.as_bytes(),
        }
    }

    /// Whether the text given last was longer than the parameter can hold.
    pub(crate) fn too_long(&self) -> bool {
        self.given().is_some_and(|t| t.too_long)
    }

    fn given(&self) -> Option<&Text> {
        // SAFETY: no write overlaps a read (see the `Sync` impl), and the
        // parser is done before anything reads.
        unsafe { (*self.value.get()).as_ref() }
    }
}

/// `kernel_param_ops::set` for [`WordParam`]s.
///
/// # Safety
///
/// Called by the kernel's parameter parser with `kp` pointing at one of the
/// `kernel_param`s declared by [`word_param!`], whose `arg` is a
/// `&'static WordParam`, and `val` either null or a NUL-terminated string
/// that lives for the duration of the call.
unsafe extern "C" fn set_word(val: *const c_char, kp: *const bindings::kernel_param) -> c_int {
    let given: &[u8] = if val.is_null() {
        &[]
    } else {
        // SAFETY: `val` is non-null and NUL-terminated per the contract above.
        unsafe { CStr::from_char_ptr(val) }.to_bytes()
    };
    // SAFETY: `kp` is one of our `kernel_param`s (contract above); its `arg`
    // was set from a `&'static WordParam` and is never written afterwards.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<WordParam>() };
    // SAFETY: the parser calls this with the module's parameter lock held,
    // before init, and nothing reads the value meanwhile (see the `Sync`
    // impl of `WordParam`). Given twice, the last value wins.
    unsafe { *param.value.get() = Some(Text::new(given)) };
    0
}

static WORD_OPS: bindings::kernel_param_ops = bindings::kernel_param_ops {
    flags: 0,
    set: Some(set_word),
    get: None,
    free: None,
};

/// A `kernel_param` is only read by the kernel, after the module's
/// relocations are applied; the raw pointers in it are to statics.
#[repr(transparent)]
struct ParamEntry(bindings::kernel_param);

// SAFETY: the entry is immutable and only holds pointers to statics, so
// sharing it between threads is sound.
unsafe impl Sync for ParamEntry {}

/// Copies a string into a fixed array at compile time (`.modinfo` wants
/// plain byte arrays).
const fn bytes_of<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let b = s.as_bytes();
    let mut i = 0;
    while i < N && i < b.len() {
        out[i] = b[i];
        i += 1;
    }
    out
}

/// Declares a word parameter: the static, its `__param` entry and its
/// `.modinfo` description.
macro_rules! word_param {
    ($static:ident, $name:literal, $default:expr, $desc:literal) => {
        pub(crate) static $static: WordParam = WordParam::new($name, $default);

        const _: () = {
            const PARM: &str = concat!("parm=", $name, ":", $desc, "\0");
            const PARMTYPE: &str = concat!("parmtype=", $name, ":charp\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM_INFO: [u8; PARM.len()] = bytes_of(PARM);
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE_INFO: [u8; PARMTYPE.len()] = bytes_of(PARMTYPE);

            #[link_section = "__param"]
            #[used(compiler)]
            static ENTRY: ParamEntry = ParamEntry(bindings::kernel_param {
                name: kernel::str::as_char_ptr_in_const_context(
                    match CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                        Ok(s) => s,
                        Err(_) => panic!("parameter name"),
                    },
                ),
                // Only the address is taken; the module loader owns the
                // object and it outlives the parameter table.
                mod_: &raw mut bindings::__this_module,
                ops: &WORD_OPS,
                // Read-only after load; not exposed in sysfs, like the
                // integers from `module!`.
                perm: 0,
                level: -1,
                flags: 0,
                __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                    arg: core::ptr::from_ref(&$static).cast_mut().cast(),
                },
            });
        };
    };
}

word_param!(
    BACKEND,
    "backend",
    crate::policy::params::default::BACKEND,
    "Hypercall transport: hv (Microsoft hypervisor) or sim (simulated) [hv]"
);
word_param!(
    TYPE,
    "type",
    crate::policy::params::default::TYPE,
    "Event log type: local (per proximity domain), global or system [local]"
);
word_param!(
    MODE,
    "mode",
    crate::policy::params::default::MODE,
    "Buffer mode: regular (stop when full) or circular (overwrite) [regular]"
);
word_param!(
    TIME_BASIS,
    "time_basis",
    crate::policy::params::default::TIME_BASIS,
    "Time stamps: reference (100 ns units) or tsc [reference]"
);
word_param!(
    NODES,
    "nodes",
    "",
    "Serve only these nodes' CPUs, as a list such as 0,2-3 [all online nodes]"
);

/// The first word parameter whose text did not fit, with what it kept.
pub(crate) fn too_long() -> Option<(&'static str, &'static [u8])> {
    [&BACKEND, &TYPE, &MODE, &TIME_BASIS, &NODES]
        .into_iter()
        .find(|p| p.too_long())
        .map(|p| (p.name(), p.bytes()))
}
