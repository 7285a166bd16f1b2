// SPDX-License-Identifier: GPL-2.0

//! The values options take: numbers, CPUs, durations, source masks, each
//! refused with the reason.

use std::ffi::OsStr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Arg;

use crate::tlfs;
use crate::uapi::{MAX_BUFFERS, MAX_CPUS};

/// A value parser from a function of the value's text, whose error says why
/// the value is wrong; non-UTF-8 text is refused the same way.
#[derive(Clone)]
pub(super) struct Checked<T> {
    parse: fn(&str) -> std::result::Result<T, String>,
    /// The reason is the whole message, not the end of "invalid value …".
    whole: bool,
}

impl<T> Checked<T> {
    /// "invalid value 'V' for '--OPTION': REASON".
    pub(super) fn value(parse: fn(&str) -> std::result::Result<T, String>) -> Self {
        Self {
            parse,
            whole: false,
        }
    }

    /// The reason alone: it names the value itself.
    pub(super) fn whole(parse: fn(&str) -> std::result::Result<T, String>) -> Self {
        Self { parse, whole: true }
    }
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Checked<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> std::result::Result<T, clap::Error> {
        let parsed = match value.to_str() {
            Some(text) => (self.parse)(text),
            None => Err("not valid UTF-8".to_string()),
        };
        parsed.map_err(|why| {
            let shown = value.to_string_lossy();
            let option = arg
                .and_then(Arg::get_long)
                .map_or_else(|| "value".to_string(), |long| format!("--{long}"));
            let message = if self.whole {
                why
            } else {
                format!("invalid value '{shown}' for '{option}': {why}")
            };
            let mut err = clap::Error::new(ErrorKind::ValueValidation).with_cmd(cmd);
            err.insert(ContextKind::InvalidArg, ContextValue::String(option));
            err.insert(
                ContextKind::InvalidValue,
                ContextValue::String(shown.into()),
            );
            err.insert(ContextKind::Custom, ContextValue::String(message));
            err
        })
    }
}

/// Decimal, or hex with `0x`.
pub fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

pub(super) fn parse_count(text: &str) -> std::result::Result<u64, String> {
    match parse_number(text) {
        Some(0) => Err("must be at least 1".into()),
        Some(n) => Ok(n),
        None => Err("expected a number".into()),
    }
}

pub(super) fn parse_cpu(text: &str) -> std::result::Result<u32, String> {
    match parse_number(text) {
        Some(cpu) if cpu < u64::from(MAX_CPUS) => Ok(cpu as u32),
        Some(_) => Err(format!("CPUs are 0-{}", MAX_CPUS - 1)),
        None => Err("expected a number".into()),
    }
}

/// `resize N`: buffers per CPU, 1 to [`MAX_BUFFERS`]; 0 is refused with
/// the module's reason.
pub(super) fn parse_buffer_count(text: &str) -> std::result::Result<u32, String> {
    match parse_number(text).and_then(|n| u32::try_from(n).ok()) {
        Some(0) => Err(format!(
            "invalid buffer count '{text}': {}; expected 1-{MAX_BUFFERS}",
            crate::live::ResizeError::Zero
        )),
        Some(n) if n <= MAX_BUFFERS => Ok(n),
        _ => Err(format!(
            "invalid buffer count '{text}': expected 1-{MAX_BUFFERS}"
        )),
    }
}

pub(super) fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| "expected a positive number of seconds, like 10 or 0.5".into())
}

/// A `sources` argument: a number, `all`, `none` or a list of names.
pub fn parse_source_mask(text: &str) -> std::result::Result<u64, String> {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let mask = parse_number(text).ok_or_else(|| format!("invalid source mask '{text}'"))?;
        // The module refuses it too (EINVAL); say why before asking.
        if mask & tlfs::SOURCES_EXTENDED != 0 {
            return Err(format!(
                "source mask {mask:#x} sets bit 0, which means extended format, not a group: \
                 group bits are {:#x}",
                tlfs::SOURCES_ALL
            ));
        }
        // Likewise bits that name no group.
        let unknown = mask & !tlfs::SOURCES_ALL;
        if unknown != 0 {
            return Err(format!(
                "source mask {mask:#x} has unknown event source bits {unknown:#x}: \
                 group bits are {:#x}",
                tlfs::SOURCES_ALL
            ));
        }
        return Ok(mask);
    }
    match text {
        "all" => return Ok(tlfs::SOURCES_ALL),
        "none" => return Ok(0),
        _ => {}
    }
    match tlfs::parse_sources(text) {
        Ok(0) => Err(format!("no source names in '{text}'")),
        Ok(mask) => Ok(mask),
        Err(name) => Err(format!(
            "unknown source '{name}': known sources are {}, all and none, \
             or give a mask like 0x408400",
            tlfs::SOURCES
                .iter()
                .map(|&(n, _)| n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("42"), Some(42));
        assert_eq!(parse_number("0x2A"), Some(42));
        assert_eq!(parse_number("0XfF"), Some(255));
        assert_eq!(parse_number("+1"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("1_000"), None);
        assert_eq!(parse_number("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_number("0x10000000000000000"), None);
    }
}
