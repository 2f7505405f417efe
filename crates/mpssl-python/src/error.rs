//! The single mapping from [`mpssl::Error`] to Python exceptions.
//!
//! The codes and texts are a compatibility contract with MicroPython programs (Mbed TLS error
//! codes and names, verify texts): they live in the tables below and nowhere else. Each row
//! names the condition it maps from.

use std::io;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use mpssl::{CallbackAbort, Error, VerifyFlags};

/// Mbed TLS codes the reference reports (decimal, negative), with their printed names.
mod code {
    pub(super) const SSL_BAD_CONFIG: (i32, &str) = (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG");
    pub(super) const SSL_CONN_EOF: (i32, &str) = (-29312, "MBEDTLS_ERR_SSL_CONN_EOF");
    pub(super) const SSL_FATAL_ALERT: (i32, &str) = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE");
    pub(super) const SSL_NO_CLIENT_CERTIFICATE: (i32, &str) =
        (-29824, "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE");
    pub(super) const SSL_CA_CHAIN_REQUIRED: (i32, &str) =
        (-30336, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED");
    pub(super) const SSL_HANDSHAKE_FAILURE: (i32, &str) =
        (-28160, "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE");
    pub(super) const SSL_BAD_INPUT_DATA: (i32, &str) = (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA");
    pub(super) const SSL_INVALID_RECORD: (i32, &str) = (-29184, "MBEDTLS_ERR_SSL_INVALID_RECORD");
    pub(super) const SSL_INVALID_MAC: (i32, &str) = (-29056, "MBEDTLS_ERR_SSL_INVALID_MAC");
    pub(super) const SSL_UNEXPECTED_MESSAGE: (i32, &str) =
        (-30464, "MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE");
    pub(super) const X509_CERT_VERIFY_FAILED: (i32, &str) =
        (-9984, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED");
}

/// Mbed TLS's certificate-verify texts, in flag order (`mbedtls_x509_crt_verify_info`).
const VERIFY_TEXTS: &[(VerifyFlags, &str)] = &[
    (VerifyFlags::EXPIRED, "The certificate validity has expired"),
    (
        VerifyFlags::CN_MISMATCH,
        "The certificate Common Name (CN) does not match with the expected CN",
    ),
    (
        VerifyFlags::NOT_TRUSTED,
        "The certificate is not correctly signed by the trusted CA",
    ),
    (
        VerifyFlags::OTHER,
        "Other reason (can be used by verify callback)",
    ),
    (
        VerifyFlags::FUTURE,
        "The certificate validity starts in the future",
    ),
    (
        VerifyFlags::EXT_KEY_USAGE,
        "Usage does not match the extendedKeyUsage extension",
    ),
    (
        VerifyFlags::BAD_MD,
        "The certificate is signed with an unacceptable hash.",
    ),
    (
        VerifyFlags::BAD_KEY,
        "The certificate is signed with an unacceptable key (eg bad curve, RSA too short).",
    ),
];

/// The reference's `ValueError` text for a failed verification: `"\n" + text + "\n"` per flag.
pub(crate) fn verify_text(flags: VerifyFlags) -> String {
    let mut out = String::new();
    for (flag, text) in VERIFY_TEXTS {
        if flags.contains(*flag) {
            out.push('\n');
            out.push_str(text);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out = format!("\nUnknown reason (flags {:#x})\n", flags.bits());
    }
    out
}

/// A Python exception raised inside a transport method, carried through the core as an
/// `io::Error` payload and re-raised unchanged.
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

fn os_error(code: (i32, &'static str)) -> PyErr {
    PyOSError::new_err((code.0, code.1))
}

/// `OSError(code, text)` for conditions the reference has no exact string for.
fn os_error_text(code: i32, text: String) -> PyErr {
    PyOSError::new_err((code, text))
}

fn with_note(py: Python<'_>, err: PyErr, note: &str) -> PyErr {
    // Best effort: a failing add_note must not replace the real error.
    let _ = err.value(py).call_method1("add_note", (note,));
    err
}

/// `OSError(errno, strerror)`, which CPython turns into the matching subclass
/// (ConnectionResetError, BrokenPipeError, TimeoutError, …).
fn errno_error(errno: i32) -> PyErr {
    let text = io::Error::from_raw_os_error(errno).to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    PyOSError::new_err((errno, text))
}

fn io_to_py(e: io::Error) -> PyErr {
    if e.get_ref().is_some_and(|inner| inner.is::<PythonRaised>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(raised) = inner.downcast::<PythonRaised>() {
                return raised.0;
            }
        }
        return PyOSError::new_err("the wrapped socket raised an exception");
    }
    if let Some(errno) = e.raw_os_error() {
        return errno_error(errno);
    }
    match e.kind() {
        io::ErrorKind::TimedOut => PyOSError::new_err((libc::ETIMEDOUT, "timed out")),
        io::ErrorKind::WouldBlock => errno_error(libc::EAGAIN),
        io::ErrorKind::UnexpectedEof => os_error(code::SSL_CONN_EOF),
        _ => PyOSError::new_err((libc::EIO, e.to_string())),
    }
}

fn tls_to_py(py: Python<'_>, e: rustls::Error) -> PyErr {
    use rustls::Error as R;
    match e {
        // The peer rejected us (or hung up politely during the handshake).
        R::AlertReceived(_) => os_error(code::SSL_FATAL_ALERT),
        // Server demanded a client certificate and got none.
        R::NoCertificatesPresented => os_error(code::SSL_NO_CLIENT_CERTIFICATE),
        // Not TLS at all (plain HTTP, random bytes), bad framing, oversized record.
        R::InvalidMessage(_) => os_error(code::SSL_INVALID_RECORD),
        // A record that fails authentication (corrupted MAC/tag).
        R::DecryptError => os_error(code::SSL_INVALID_MAC),
        R::InappropriateMessage { .. } | R::InappropriateHandshakeMessage { .. } => {
            os_error(code::SSL_UNEXPECTED_MESSAGE)
        }
        // A certificate problem rustls found itself (e.g. a handshake signature that does not
        // verify): there are no verify flags, so the reference's "verify failed" code.
        R::InvalidCertificate(c) => os_error_text(
            code::X509_CERT_VERIFY_FAILED.0,
            format!("{}: {c:?}", code::X509_CERT_VERIFY_FAILED.1),
        ),
        other => with_note(
            py,
            os_error_text(
                code::SSL_HANDSHAKE_FAILURE.0,
                format!("TLS failure: {other}"),
            ),
            "mapped to MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, the nearest reference code",
        ),
    }
}

/// The one mapping from core errors to Python exceptions.
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    match e {
        Error::Io(io) => io_to_py(io),
        Error::WouldBlock => errno_error(libc::EAGAIN),
        Error::InvalidKey(why) => invalid(py, "invalid key", &why),
        Error::InvalidCert(why) => invalid(py, "invalid cert", &why),
        Error::Verify(flags) if flags.contains(VerifyFlags::OTHER) => with_note(
            py,
            PyValueError::new_err(verify_text(flags)),
            "the certificate is malformed, or it is a CA certificate (CA:TRUE) presented as the \
             peer's own certificate, which rustls-webpki refuses unless it is self-signed and \
             trusted",
        ),
        Error::Verify(flags) => PyValueError::new_err(verify_text(flags)),
        Error::CaChainRequired => os_error(code::SSL_CA_CHAIN_REQUIRED),
        Error::HostnameRequired => PyValueError::new_err("CERT_REQUIRED requires server_hostname"),
        Error::InvalidHostname(why) => with_note(py, os_error(code::SSL_BAD_INPUT_DATA), &why),
        Error::BadConfig(why) if why.contains("not supported") => os_error_text(
            code::SSL_BAD_CONFIG.0,
            format!("{}: {why}", code::SSL_BAD_CONFIG.1),
        ),
        Error::BadConfig(why) => with_note(py, os_error(code::SSL_BAD_CONFIG), &why),
        Error::UnusableKey(why) => os_error_text(
            code::SSL_HANDSHAKE_FAILURE.0,
            format!("{}: {why}", code::SSL_HANDSHAKE_FAILURE.1),
        ),
        Error::NoCertificate => os_error_text(
            code::SSL_HANDSHAKE_FAILURE.0,
            format!(
                "{}: the server context has no certificate (call load_cert_chain)",
                code::SSL_HANDSHAKE_FAILURE.1
            ),
        ),
        Error::HandshakeEof => os_error(code::SSL_CONN_EOF),
        Error::Tls(t) => tls_to_py(py, t),
        Error::Closed => errno_error(libc::EBADF),
        Error::InvalidArgument(why) => PyValueError::new_err(why),
        Error::Callback(CallbackAbort::Failed(payload)) => {
            match payload.downcast_ref::<PythonRaised>() {
                Some(raised) => raised.0.clone_ref(py),
                None => PyOSError::new_err((libc::EIO, payload.to_string())),
            }
        }
        Error::Callback(CallbackAbort::Code(code)) => callback_code(code),
        _ => PyOSError::new_err((libc::EIO, e.to_string())),
    }
}

/// A verify callback's non-zero result, raised as Mbed TLS raises a callback's code:
/// -1..-255 as `OSError(errno)`, other codes as `OSError(code, name)`.
fn callback_code(code: i64) -> PyErr {
    if (-255..=-1).contains(&code) {
        return errno_error(i32::try_from(-code).unwrap_or(libc::EIO));
    }
    let name = match code.unsigned_abs() {
        1 => "MBEDTLS_ERR_ERROR_GENERIC_ERROR".to_owned(),
        2 => "MBEDTLS_ERR_MPI_FILE_IO_ERROR".to_owned(),
        other => format!("MBEDTLS_ERR_UNKNOWN ({other:#06X})"),
    };
    PyOSError::new_err((code, name))
}

/// `ValueError("invalid key")` exactly as the reference, except encrypted keys and key/cert
/// mismatches, whose reason joins the message; the parser's reason is always added as a note.
fn invalid(py: Python<'_>, what: &str, why: &str) -> PyErr {
    if why.contains("encrypted") || why.contains("does not match") {
        return PyValueError::new_err(format!("{what}: {why}"));
    }
    with_note(py, PyValueError::new_err(what.to_owned()), why)
}
