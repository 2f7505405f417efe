//! The translation of engine errors for the C front end: `(kind, code, message)`.
//!
//! The table itself (Mbed TLS codes and names, verify texts, callback codes, errno rules) is the
//! engine's ([`mpssl::Error::report`]), shared with the Python binding; this module only says
//! how the C side raises each class. The C side turns the triple into an exception without
//! looking at the condition: `OSError(code, message)`, `OSError(code)`, `ValueError(message)`,
//! `TypeError(message)`, or the MicroPython exception it stored itself.

use std::io;

use mpssl::{Error, ExceptionClass};

/// How the C side raises a report (`mpssl_error.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Kind {
    /// `OSError(code, message)`.
    OsErrorArgs = 1,
    /// `OSError(code)`: an errno.
    OsErrorErrno = 2,
    /// `ValueError(message)`.
    ValueError = 3,
    /// Re-raise the exception the C side caught and stored (an I/O or verify callback raised).
    Raised = 4,
    /// `OSError(ENOMEM)`.
    NoMemory = 5,
    /// `TypeError(message)`.
    TypeError = 6,
}

/// An I/O or verify callback caught a MicroPython exception; the C side holds it.
#[derive(Debug)]
pub(crate) struct Raised;

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a MicroPython exception was raised in a callback")
    }
}

impl std::error::Error for Raised {}

/// A report: how to raise, the code, the message.
pub type Report = (Kind, i32, String);

/// The one translation of an engine error for the C front end: the engine's table, with the
/// exception classes MicroPython raises. Notes (PEP 678) are CPython's; MicroPython has none.
pub fn report(e: &Error) -> Report {
    if let Error::Io(failure) = e {
        if failure.kind() == io::ErrorKind::OutOfMemory {
            return (Kind::NoMemory, 12, String::new());
        }
    }
    let report = e.report();
    let code = i32::try_from(report.code).unwrap_or(i32::MIN);
    match report.class {
        ExceptionClass::Os => (Kind::OsErrorArgs, code, report.text),
        ExceptionClass::Errno => (Kind::OsErrorErrno, code, String::new()),
        ExceptionClass::Value => (Kind::ValueError, 0, report.text),
        ExceptionClass::Type => (Kind::TypeError, 0, report.text),
        ExceptionClass::Carried if e.carried().is_some_and(|c| c.is::<Raised>()) => {
            (Kind::Raised, 0, String::new())
        }
        ExceptionClass::Carried => (Kind::OsErrorArgs, code, report.text),
    }
}
