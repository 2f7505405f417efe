//! The single mapping from [`mpssl::Error`] to Python exceptions.
//!
//! The engine decides what is raised ([`Error::report`]: class, code, text, note); this file
//! only turns each class into its Python type, attaches the note (PEP 678 `add_note`) and
//! re-raises Python exceptions that travelled through the engine.

use std::io;

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use mpssl::{CallbackAbort, Error, ExceptionClass, ProtocolError};

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

/// The standard library's `_ssl`, where `ssl` takes its exception classes and `MemoryBIO` from:
/// the same classes, and immune to a module that shadows `ssl` on `sys.path` (micropython-lib's
/// `ssl.py` in MicroPython's multitest runner).
static STDLIB_SSL: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A class of the standard library's `ssl` module (`"SSLWantReadError"`, `"MemoryBIO"`, …).
pub(crate) fn ssl_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let module = STDLIB_SSL.get_or_try_init(py, || py.import("_ssl").map(Bound::unbind))?;
    module.bind(py).getattr(name)
}

/// An exception of the standard library's `ssl` module (`ssl.SSLWantReadError`, …) with
/// `args`.
pub(crate) fn ssl_exception<'py, A>(py: Python<'py>, name: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    match ssl_class(py, name).and_then(|class| class.call1(args)) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The mapping for `SSLObject` (the asyncio path, `bio.rs`): CPython's consumers catch the
/// standard library's `ssl` exceptions there, so the engine's report is raised as one of them.
///
/// * verification failures (the peer's chain, a `verify_callback` rejecting a certificate, a
///   certificate rustls refused): `ssl.SSLCertVerificationError`, which is also a
///   `ValueError`; its arguments are the report's (`(text,)` for mpssl's `ValueError` verify
///   texts, `(code, text)` otherwise), `verify_message` is the text and `verify_code` the
///   `MBEDTLS_X509_BADCERT_*` bits (or the code);
/// * the peer ending the stream without close_notify: `ssl.SSLEOFError(code, text)`;
/// * every other report of class `Os`: `ssl.SSLError(code, text)` (an `OSError` with mpssl's
///   code and text);
/// * anything else (transport errno, argument errors, Python exceptions carried through): as
///   [`to_py`].
pub(crate) fn to_py_ssl(py: Python<'_>, e: Error) -> PyErr {
    let report = e.report();
    let (class, verify_code) = match &e {
        Error::Verify(flags) => ("SSLCertVerificationError", Some(i64::from(flags.bits()))),
        Error::Callback(CallbackAbort::Code { .. })
        | Error::Protocol(ProtocolError::PeerCertificate(_)) => {
            ("SSLCertVerificationError", Some(report.code))
        }
        Error::Protocol(ProtocolError::HandshakeEof) => ("SSLEOFError", None),
        _ if report.class == ExceptionClass::Os => ("SSLError", None),
        _ => return to_py(py, e),
    };
    let err = if report.class == ExceptionClass::Value {
        ssl_exception(py, class, (report.text.clone(),))
    } else {
        ssl_exception(py, class, (report.code, report.text.clone()))
    };
    let value = err.value(py);
    // Best effort throughout: a failing setattr or add_note must not replace the real error.
    if let Some(code) = verify_code {
        let _ = value.setattr("verify_code", code);
        let _ = value.setattr("verify_message", &report.text);
    }
    // `ssl.SSLError.__str__` is its `strerror`: the text alone, as MicroPython's
    // `ValueError(text)` prints, also when `args` is `(text,)`.
    let _ = value.setattr("strerror", &report.text);
    let _ = value.setattr("library", "SSL");
    if let Some(note) = report.note {
        let _ = value.call_method1("add_note", (note,));
    }
    err
}
