// SPDX-License-Identifier: GPL-2.0

//! The byte-level codec every TLFS layout goes through: little-endian
//! field access, the [`Wire`] trait, and the macros that declare wire enums,
//! implement [`Wire`] from a field list and pin a layout at compile time.
//!
//! The macros are expanded in the files beside this one and name what they
//! use themselves (`super::wire::…`, `::core::mem::…`) rather than relying on
//! what the expanding file imports. `pin_layout!` names nothing of tlfs and
//! may be used anywhere in the crate (`crate::tlfs::pin_layout!`).

/// Pins a layout at compile time: the size of the type and the offset of every
/// listed field. A wrong number fails the build, on the host and in the kernel.
macro_rules! pin_layout {
    ($ty:ty, size = $size:expr; $($field:ident @ $off:expr),* $(,)?) => {
        const _: () = assert!(::core::mem::size_of::<$ty>() == $size);
        $(const _: () = assert!(::core::mem::offset_of!($ty, $field) == $off);)*
    };
}

pub(crate) use pin_layout;

/// A raw value that names no variant of the enum it was decoded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidValue(pub u64);

/// Declares a fieldless wire enum with its raw conversions and short names.
///
/// The decoders return `None` rather than guessing, so the simulated
/// hypervisor can refuse an undefined value the way the real one does.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ident {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal => $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        #[allow(
            dead_code,
            reason = "generated for every wire enum; each one's users need a different part"
        )]
        impl $name {
            /// Every variant, in wire order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Decodes a raw wire value.
            pub const fn from_raw(raw: $repr) -> Option<Self> {
                match raw {
                    $($value => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The raw wire value.
            pub const fn raw(self) -> $repr {
                self as $repr
            }

            /// A short name for logs and user interfaces.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }
        }

        impl TryFrom<$repr> for $name {
            type Error = super::wire::InvalidValue;

            fn try_from(raw: $repr) -> Result<Self, super::wire::InvalidValue> {
                Self::from_raw(raw).ok_or(super::wire::InvalidValue(u64::from(raw)))
            }
        }
    };
}

pub(super) use wire_enum;

/// Copies `bytes` into `buf` at `off`. A write that would not fit is dropped;
/// callers only pass offsets pinned inside the encoded size.
pub(super) fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = off
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(off..end))
    {
        dst.copy_from_slice(bytes);
    }
}

/// Reads `N` bytes of `buf` at `off`, or zeros if they are not all there;
/// callers check the length first.
pub(super) fn take<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = off.checked_add(N).and_then(|end| buf.get(off..end)) {
        out.copy_from_slice(src);
    }
    out
}

pub(super) fn put_u16(buf: &mut [u8], off: usize, value: u16) {
    put(buf, off, &value.to_le_bytes());
}

pub(super) fn put_u32(buf: &mut [u8], off: usize, value: u32) {
    put(buf, off, &value.to_le_bytes());
}

pub(super) fn put_u64(buf: &mut [u8], off: usize, value: u64) {
    put(buf, off, &value.to_le_bytes());
}

pub(super) fn get_u16(buf: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(take(buf, off))
}

pub(super) fn get_u32(buf: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(take(buf, off))
}

pub(super) fn get_u64(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(take(buf, off))
}

/// A fixed-size layout with a little-endian byte encoding.
///
/// Implementors provide the field writer and reader; the provided methods add
/// the length checks, zero the padding and reserved bytes (the hypervisor
/// refuses reserved bits that are set, and an input page is reused between
/// calls) and convert to and from the fast-call registers.
pub trait Wire: Sized {
    /// Encoded size in bytes.
    const SIZE: usize;

    /// Writes every field at its offset. `out` holds at least [`Self::SIZE`]
    /// zeroed bytes; use [`Wire::encode`] rather than calling this directly.
    fn write_fields(&self, out: &mut [u8]);

    /// Reads every field from its offset. `buf` holds at least
    /// [`Self::SIZE`] bytes; use [`Wire::decode`] rather than calling this
    /// directly.
    fn read_fields(buf: &[u8]) -> Self;

    /// Writes the encoding to the start of `page`, zeroing the bytes the
    /// fields do not cover, and returns its length. `None` if `page` is
    /// shorter than [`Self::SIZE`]; nothing is written then.
    fn encode(&self, page: &mut [u8]) -> Option<usize> {
        let out = page.get_mut(..Self::SIZE)?;
        out.fill(0);
        self.write_fields(out);
        Some(Self::SIZE)
    }

    /// Decodes from the start of `buf`; `None` if it is shorter than
    /// [`Self::SIZE`]. Field values are not validated: the enum fields stay
    /// raw so that a receiver can refuse an undefined value itself.
    fn decode(buf: &[u8]) -> Option<Self> {
        buf.get(..Self::SIZE).map(Self::read_fields)
    }

    /// The two fast-call input registers (RDX, R8 on x86_64): encoding bytes
    /// 0-7 and 8-15 as little-endian `u64`s, zero-padded. `None` if the
    /// encoding is longer than 16 bytes and so cannot go fast.
    fn fast_input(&self) -> Option<[u64; 2]> {
        let mut bytes = [0; 16];
        self.encode(&mut bytes)?;
        Some([get_u64(&bytes, 0), get_u64(&bytes, 8)])
    }

    /// Decodes the input of a fast call from its two registers; `None` if the
    /// layout is longer than 16 bytes.
    fn from_fast_input(regs: [u64; 2]) -> Option<Self> {
        let mut bytes = [0; 16];
        put_u64(&mut bytes, 0, regs[0]);
        put_u64(&mut bytes, 8, regs[1]);
        Self::decode(&bytes)
    }
}

/// Implements [`Wire`] for a layout given as `field: kind` pairs, reading and
/// writing each field at its `offset_of!` position, so the encoding follows
/// the struct's (pinned) layout and cannot disagree with it.
///
/// Expanded in the files beside this one: the generated functions import the
/// helpers they call themselves, so the expanding file need not.
macro_rules! impl_wire {
    ($ty:ident { $($field:ident: $kind:ident),+ $(,)? }) => {
        impl super::wire::Wire for $ty {
            const SIZE: usize = ::core::mem::size_of::<Self>();

            fn write_fields(&self, out: &mut [u8]) {
                use ::core::mem::offset_of;
                use super::wire::*;
                $(impl_wire!(@put $kind, out, offset_of!(Self, $field), self.$field);)+
            }

            fn read_fields(buf: &[u8]) -> Self {
                use ::core::mem::offset_of;
                use super::wire::*;
                Self {
                    $($field: impl_wire!(@get $kind, buf, offset_of!(Self, $field)),)+
                }
            }
        }
    };
    (@put u8, $out:ident, $off:expr, $value:expr) => { $out[$off] = $value };
    (@put u16, $out:ident, $off:expr, $value:expr) => { put_u16($out, $off, $value) };
    (@put u32, $out:ident, $off:expr, $value:expr) => { put_u32($out, $off, $value) };
    (@put u64, $out:ident, $off:expr, $value:expr) => { put_u64($out, $off, $value) };
    (@put u32x2, $out:ident, $off:expr, $value:expr) => {{
        put_u32($out, $off, $value[0]);
        put_u32($out, $off + 4, $value[1]);
    }};
    (@put pxm, $out:ident, $off:expr, $value:expr) => {{
        use super::memory::ProximityDomainInfo;
        put_u32($out, $off + offset_of!(ProximityDomainInfo, domain_id), $value.domain_id);
        put_u32($out, $off + offset_of!(ProximityDomainInfo, flags), $value.flags);
    }};
    (@get u8, $buf:ident, $off:expr) => { $buf[$off] };
    (@get u16, $buf:ident, $off:expr) => { get_u16($buf, $off) };
    (@get u32, $buf:ident, $off:expr) => { get_u32($buf, $off) };
    (@get u64, $buf:ident, $off:expr) => { get_u64($buf, $off) };
    (@get u32x2, $buf:ident, $off:expr) => { [get_u32($buf, $off), get_u32($buf, $off + 4)] };
    (@get pxm, $buf:ident, $off:expr) => {{
        use super::memory::ProximityDomainInfo;
        ProximityDomainInfo {
            domain_id: get_u32($buf, $off + offset_of!(ProximityDomainInfo, domain_id)),
            flags: get_u32($buf, $off + offset_of!(ProximityDomainInfo, flags)),
        }
    }};
}

pub(super) use impl_wire;
