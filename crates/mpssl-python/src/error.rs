//! The single mapping from [`mpssl::Error`] to Python exceptions.
//!
//! The engine decides what is raised ([`Error::report`]: class, code, text, note); this file
//! only turns each class into its Python type, attaches the note (PEP 678 `add_note`) and
//! re-raises Python exceptions that travelled through the engine.

use std::io;

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use mpssl::{Error, ExceptionClass};

/// A Python exception raised inside a transport method or a verify callback, carried through
/// the engine (as an `io::Error` or `CallbackAbort::Failed` payload) and re-raised unchanged.
#[derive(Debug)]
pub(crate) struct PythonRaised(pub(crate) PyErr);

impl std::fmt::Display for PythonRaised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Python exception was raised by the wrapped socket")
    }
}

impl std::error::Error for PythonRaised {}

/// Wrap a Python exception as an I/O error of `kind`.
pub(crate) fn carry(kind: io::ErrorKind, err: PyErr) -> io::Error {
    io::Error::new(kind, PythonRaised(err))
}

/// The one mapping from engine errors to Python exceptions, by the engine's table.
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let report = e.report();
    let err = match report.class {
        // CPython turns OSError(errno, text) into the matching subclass (ConnectionResetError,
        // BrokenPipeError, TimeoutError, …).
        ExceptionClass::Os | ExceptionClass::Errno => {
            PyOSError::new_err((report.code, report.text))
        }
        ExceptionClass::Value => PyValueError::new_err(report.text),
        ExceptionClass::Type => PyTypeError::new_err(report.text),
        ExceptionClass::Carried => {
            match e.carried().and_then(|p| p.downcast_ref::<PythonRaised>()) {
                Some(raised) => return raised.0.clone_ref(py),
                None => PyOSError::new_err((report.code, report.text)),
            }
        }
    };
    // A failed ecdsa_sign_callback: its exception is the cause of the error raised.
    if let Some(cause) = crate::signer::raised_cause(&e) {
        err.set_cause(py, Some(cause.clone_ref(py)));
    }
    if let Some(note) = report.note {
        // Best effort: a failing add_note must not replace the real error.
        let _ = err.value(py).call_method1("add_note", (note,));
    }
    err
}
