// SPDX-License-Identifier: GPL-2.0

//! Failures, the message each one prints and the exit code it ends with
//! ([`EXIT_CODES`]).

use std::fmt;
use std::io;

/// Exit code: any failure without a code of its own.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the device node does not exist (module not loaded).
pub const EXIT_NO_DEVICE: u8 = 2;
/// Exit code: permission denied.
pub const EXIT_PERMISSION: u8 = 3;
/// Exit code: the device is held by another consumer.
pub const EXIT_BUSY: u8 = 4;
/// Exit code: bad command line (sysexits.h EX_USAGE).
pub const EXIT_USAGE: u8 = 64;

/// Every exit code and what it means: the one table that `--help` prints
/// and that Documentation/hv_evlog.rst is checked against.
pub const EXIT_CODES: [(u8, &str); 6] = [
    (0, "success"),
    (
        EXIT_FAILURE,
        "any other failure (I/O error, module of another version, bad data)",
    ),
    (EXIT_NO_DEVICE, "/dev/hv_evlog not found: load the module"),
    (EXIT_PERMISSION, "permission denied: run as root"),
    (EXIT_BUSY, "device busy: another consumer has it open"),
    (EXIT_USAGE, "bad usage"),
];

/// Everything that ends a command early.
#[derive(Debug)]
pub enum Error {
    /// Bad command line; the usage text to print follows the message.
    Usage {
        /// What was wrong.
        message: String,
        /// Usage of the command concerned.
        usage: String,
    },
    /// A system call on the device failed.
    Sys {
        /// The device path.
        path: String,
        /// What was being done: "open", "mmap", "read", "poll", an ioctl name.
        op: &'static str,
        /// The errno.
        errno: i32,
    },
    /// The device answered something this tool cannot work with.
    Device(String),
    /// The module refuses a control request (or would): why, with the
    /// numbers (`refusal`).
    Refused(String),
    /// A capture file is malformed.
    Input(String),
    /// Writing the output failed.
    Output(io::Error),
}

impl Error {
    /// A usage error.
    pub fn usage(message: impl Into<String>, usage: impl Into<String>) -> Self {
        Self::Usage {
            message: message.into(),
            usage: usage.into(),
        }
    }

    /// The exit code the process ends with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage { .. } => EXIT_USAGE,
            Self::Sys { op, errno, .. } => match *errno {
                libc::ENOENT | libc::ENXIO | libc::ENODEV if *op == "open" => EXIT_NO_DEVICE,
                libc::EACCES | libc::EPERM => EXIT_PERMISSION,
                libc::EBUSY if *op == "open" => EXIT_BUSY,
                _ => EXIT_FAILURE,
            },
            Self::Device(_) | Self::Refused(_) | Self::Input(_) | Self::Output(_) => EXIT_FAILURE,
        }
    }
}

/// `strerror` text for an errno, from the standard library's table.
pub fn describe(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // "No such file or directory (os error 2)" -> keep the words only.
    match text.rfind(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

impl fmt::Display for Error {
    /// The whole message, without the leading "hv-evlog: ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage { message, usage } => {
                write!(f, "{message}\n\n{}", usage.trim_end())
            }
            Self::Sys { path, op, errno } => match (self.exit_code(), *errno) {
                (EXIT_NO_DEVICE, _) => write!(
                    f,
                    "{path} not found: load the module (insmod hv_evlog.ko backend=sim to test)"
                ),
                (EXIT_PERMISSION, _) => write!(f, "permission denied: run as root"),
                (EXIT_BUSY, _) => write!(f, "device busy: another consumer has it open"),
                (_, libc::ENOTTY) => write!(
                    f,
                    "{path}: {op} is not supported by the module: \
                     tool and module are from different versions"
                ),
                (_, errno) => write!(
                    f,
                    "{path}: {op} failed: {} (errno {errno})",
                    describe(errno)
                ),
            },
            Self::Device(message) | Self::Refused(message) => write!(f, "{message}"),
            Self::Input(message) => write!(f, "{message}"),
            Self::Output(err) => write!(f, "writing output: {err}"),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Self::Output(err)
    }
}

/// Result of the tool's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn sys(op: &'static str, errno: i32) -> Error {
        Error::Sys {
            path: "/dev/hv_evlog".into(),
            op,
            errno,
        }
    }

    #[test]
    fn errno_to_message_and_exit_code() {
        let cases: &[(&str, i32, u8, &str)] = &[
            (
                "open",
                libc::ENOENT,
                2,
                "/dev/hv_evlog not found: load the module (insmod hv_evlog.ko backend=sim to test)",
            ),
            (
                "open",
                libc::ENXIO,
                2,
                "/dev/hv_evlog not found: load the module (insmod hv_evlog.ko backend=sim to test)",
            ),
            ("open", libc::EACCES, 3, "permission denied: run as root"),
            ("open", libc::EPERM, 3, "permission denied: run as root"),
            (
                "open",
                libc::EBUSY,
                4,
                "device busy: another consumer has it open",
            ),
            (
                "HV_EVLOG_IOC_FLUSH",
                libc::EPERM,
                3,
                "permission denied: run as root",
            ),
            (
                "HV_EVLOG_IOC_STATS",
                libc::ENOTTY,
                1,
                "/dev/hv_evlog: HV_EVLOG_IOC_STATS is not supported by the module: \
                 tool and module are from different versions",
            ),
            (
                "HV_EVLOG_IOC_RELEASE",
                libc::EINVAL,
                1,
                "/dev/hv_evlog: HV_EVLOG_IOC_RELEASE failed: Invalid argument (errno 22)",
            ),
            // ENOENT from anything but open is not "module missing".
            (
                "read",
                libc::ENOENT,
                1,
                "/dev/hv_evlog: read failed: No such file or directory (errno 2)",
            ),
            (
                "mmap",
                libc::ENOMEM,
                1,
                "/dev/hv_evlog: mmap failed: Cannot allocate memory (errno 12)",
            ),
        ];
        for &(op, errno, code, message) in cases {
            let err = sys(op, errno);
            assert_eq!(err.exit_code(), code, "{op} errno {errno}");
            assert_eq!(err.to_string(), message, "{op} errno {errno}");
        }
    }

    #[test]
    fn other_errors() {
        let usage = Error::usage("unknown command 'x'", "usage: hv-evlog COMMAND");
        assert_eq!(usage.exit_code(), 64);
        assert_eq!(
            usage.to_string(),
            "unknown command 'x'\n\nusage: hv-evlog COMMAND"
        );
        let out = Error::from(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(out.exit_code(), 1);
        assert_eq!(
            out.to_string(),
            "writing output: No space left on device (os error 28)"
        );
        assert_eq!(Error::Device("x".into()).exit_code(), 1);
        let refused = Error::Refused("resize 9: why".into());
        assert_eq!(
            (refused.exit_code(), refused.to_string()),
            (1, "resize 9: why".into())
        );
        assert_eq!(Error::Input("y".into()).to_string(), "y");
    }

    /// The rows of the first reST simple table in `rst` whose header row is
    /// "code  meaning": (code, meaning) pairs.
    fn rst_exit_codes(rst: &str) -> Vec<(String, String)> {
        let mut lines = rst.lines();
        lines
            .by_ref()
            .find(|l| l.split_whitespace().eq(["code", "meaning"]))
            .expect("an exit code table with a 'code meaning' header");
        lines
            .skip(1) // the border under the header
            .take_while(|l| !l.starts_with('='))
            .map(|l| {
                let (code, meaning) = l.split_once(' ').unwrap_or((l, ""));
                (code.to_string(), meaning.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn documentation_lists_the_exit_codes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../Documentation/hv_evlog.rst"
        );
        let rst = std::fs::read_to_string(path).unwrap();
        let want: Vec<(String, String)> = EXIT_CODES
            .iter()
            .map(|&(code, meaning)| (code.to_string(), meaning.to_string()))
            .collect();
        assert_eq!(rst_exit_codes(&rst), want, "{path}");
        // The parser above reads a changed table as changed.
        let edited = rst.replace("64      bad usage", "65      bad usage");
        assert_ne!(rst_exit_codes(&edited), want);
    }

    #[test]
    fn exit_codes_are_distinct_and_cover_every_error() {
        let mut codes: Vec<u8> = EXIT_CODES.iter().map(|&(c, _)| c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), EXIT_CODES.len());
        let errors = [
            Error::usage("x", "y"),
            sys("open", libc::ENOENT),
            sys("open", libc::EACCES),
            sys("open", libc::EBUSY),
            sys("read", libc::EIO),
            Error::Device("d".into()),
            Error::Refused("r".into()),
        ];
        for err in errors {
            assert!(codes.contains(&err.exit_code()), "{err}");
        }
    }
}
