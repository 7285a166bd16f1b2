// SPDX-License-Identifier: GPL-2.0

//! Clap's errors, worded as the tool's: one short line per kind of mistake,
//! then the help of the command concerned.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::{command, usage, Parsed};
use crate::error::{Error, Result};

/// Help and version requests succeed with their text; anything else is bad
/// usage.
pub(super) fn clap_outcome(err: clap::Error, args: &[OsString]) -> Result<Parsed> {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            Ok(Parsed::Print(err.render().to_string()))
        }
        _ => Err(usage_error(&err, args)),
    }
}

/// The command the arguments name, as far as clap can tell despite errors.
fn command_named(args: &[OsString]) -> Option<String> {
    command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()?
        .subcommand_name()
        .map(str::to_string)
}

/// One line saying what is wrong, then the usage of the command concerned.
pub(super) fn usage_error(err: &clap::Error, args: &[OsString]) -> Error {
    let name = command_named(args);
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    // Clap names an option with its value ("--count <N>"), an argument by
    // its value name in brackets ("<SHELL>").
    let option = text(ContextKind::InvalidArg)
        .map(|a| {
            let name = a.split([' ', '=']).next().unwrap_or_default();
            name.trim_matches(['<', '>']).to_string()
        })
        .unwrap_or_default();
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let message = match err.kind() {
        ErrorKind::ValueValidation => match text(ContextKind::Custom) {
            Some(whole) => whole,
            None => format!("invalid value '{value}' for '{option}'"),
        },
        ErrorKind::InvalidValue if value.is_empty() => format!("option '{option}' needs a value"),
        ErrorKind::InvalidValue => {
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => v.clone(),
                _ => Vec::new(),
            };
            format!(
                "invalid value '{value}' for '{option}': expected {}",
                one_of(&valid)
            )
        }
        ErrorKind::UnknownArgument | ErrorKind::TooManyValues => {
            let arg = if err.kind() == ErrorKind::TooManyValues {
                value
            } else {
                option
            };
            if let Some(flag) = flag_with_value(&arg, err) {
                format!("option '{flag}' takes no value")
            } else if arg.starts_with('-') && arg.len() > 1 {
                match &name {
                    Some(name) => format!("unknown option '{arg}' for '{name}'"),
                    None => format!("unknown option '{arg}'"),
                }
            } else {
                format!("unexpected argument '{arg}'")
            }
        }
        ErrorKind::InvalidSubcommand => format!(
            "unknown command '{}'",
            text(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        // Clap names the missing arguments by their value names ("<N>").
        ErrorKind::MissingRequiredArgument if !option.is_empty() => format!("missing {option}"),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "no command given".to_string()
        }
        _ => {
            // A kind not worded above: clap's own first line.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_string()
        }
    };
    Error::usage(message, usage(name.as_deref()))
}

/// `--json=yes`: the flag given a value it does not take.
fn flag_with_value(arg: &str, err: &clap::Error) -> Option<String> {
    if err.kind() == ErrorKind::TooManyValues {
        return Some(
            err.get(ContextKind::InvalidArg)
                .map(|a| a.to_string())
                .unwrap_or_default(),
        );
    }
    let (flag, _) = arg.split_once('=')?;
    flag.starts_with("--").then(|| flag.to_string())
}

/// "a, b or c".
fn one_of(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
