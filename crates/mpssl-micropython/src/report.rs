//! The translation of engine errors for the C front end: `(kind, code, message)`.
//!
//! THIS IS THE ONE PLACE. It mirrors the table of the Python binding
//! (`crates/mpssl-python/src/error.rs`) row by row; once the engine carries the table itself
//! (issue 9), this function becomes a call into it. The C side turns the triple into an
//! exception without looking at the condition: `OSError(code, message)`, `OSError(code)`,
//! `ValueError(message)`, or the MicroPython exception it stored itself.

use std::io;

use mpssl::{CallbackAbort, Error, VerifyFlags};

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

/// `EBADF`, `EIO`, `ETIMEDOUT`, `EAGAIN` as the unix port numbers them (Linux values).
const EBADF: i32 = 9;
const EIO: i32 = 5;
const EAGAIN: i32 = 11;
const ETIMEDOUT: i32 = 110;

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

fn verify_text(flags: VerifyFlags) -> String {
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

/// A report: how to raise, the code, the message.
pub type Report = (Kind, i32, String);

fn os(c: (i32, &str)) -> Report {
    (Kind::OsErrorArgs, c.0, c.1.to_owned())
}

fn errno(e: i32) -> Report {
    (Kind::OsErrorErrno, e, String::new())
}

fn io_report(e: &io::Error) -> Report {
    if e.get_ref().is_some_and(|inner| inner.is::<Raised>()) {
        return (Kind::Raised, 0, String::new());
    }
    if let Some(n) = e.raw_os_error() {
        return errno(n);
    }
    match e.kind() {
        io::ErrorKind::TimedOut => errno(ETIMEDOUT),
        io::ErrorKind::WouldBlock => errno(EAGAIN),
        io::ErrorKind::UnexpectedEof => os(code::SSL_CONN_EOF),
        io::ErrorKind::OutOfMemory => (Kind::NoMemory, 12, String::new()),
        _ => (Kind::OsErrorArgs, EIO, e.to_string()),
    }
}

fn tls_report(e: &rustls::Error) -> Report {
    use rustls::Error as R;
    match e {
        R::AlertReceived(_) => os(code::SSL_FATAL_ALERT),
        R::NoCertificatesPresented => os(code::SSL_NO_CLIENT_CERTIFICATE),
        R::InvalidMessage(_) => os(code::SSL_INVALID_RECORD),
        R::DecryptError => os(code::SSL_INVALID_MAC),
        R::InappropriateMessage { .. } | R::InappropriateHandshakeMessage { .. } => {
            os(code::SSL_UNEXPECTED_MESSAGE)
        }
        R::InvalidCertificate(c) => (
            Kind::OsErrorArgs,
            code::X509_CERT_VERIFY_FAILED.0,
            format!("{}: {c:?}", code::X509_CERT_VERIFY_FAILED.1),
        ),
        other => (
            Kind::OsErrorArgs,
            code::SSL_HANDSHAKE_FAILURE.0,
            format!("TLS failure: {other}"),
        ),
    }
}

/// A verify callback's non-zero result, as Mbed TLS raises it: -1..-255 as `OSError(errno)`,
/// other codes as `OSError(code, name)`.
fn callback_code(c: i64) -> Report {
    if (-255..=-1).contains(&c) {
        return errno(i32::try_from(-c).unwrap_or(EIO));
    }
    let name = match c.unsigned_abs() {
        1 => "MBEDTLS_ERR_ERROR_GENERIC_ERROR".to_owned(),
        2 => "MBEDTLS_ERR_MPI_FILE_IO_ERROR".to_owned(),
        other => format!("MBEDTLS_ERR_UNKNOWN ({other:#06X})"),
    };
    (
        Kind::OsErrorArgs,
        i32::try_from(c).unwrap_or(i32::MIN),
        name,
    )
}

fn invalid(what: &str, why: &str) -> Report {
    if why.contains("encrypted") || why.contains("does not match") {
        return (Kind::ValueError, 0, format!("{what}: {why}"));
    }
    (Kind::ValueError, 0, what.to_owned())
}

/// The one translation of an engine error for the C front end.
pub fn report(e: &Error) -> Report {
    match e {
        Error::Io(io) => io_report(io),
        Error::WouldBlock => errno(EAGAIN),
        Error::InvalidKey(why) => invalid("invalid key", why),
        Error::InvalidCert(why) => invalid("invalid cert", why),
        Error::Verify(flags) => (Kind::ValueError, 0, verify_text(*flags)),
        Error::CaChainRequired => os(code::SSL_CA_CHAIN_REQUIRED),
        Error::HostnameRequired => (
            Kind::ValueError,
            0,
            "CERT_REQUIRED requires server_hostname".to_owned(),
        ),
        Error::InvalidHostname(_) => os(code::SSL_BAD_INPUT_DATA),
        Error::BadConfig(why) if why.contains("not supported") => (
            Kind::OsErrorArgs,
            code::SSL_BAD_CONFIG.0,
            format!("{}: {why}", code::SSL_BAD_CONFIG.1),
        ),
        Error::BadConfig(_) => os(code::SSL_BAD_CONFIG),
        Error::UnusableKey(why) => (
            Kind::OsErrorArgs,
            code::SSL_HANDSHAKE_FAILURE.0,
            format!("{}: {why}", code::SSL_HANDSHAKE_FAILURE.1),
        ),
        Error::NoCertificate => (
            Kind::OsErrorArgs,
            code::SSL_HANDSHAKE_FAILURE.0,
            format!(
                "{}: the server context has no certificate (call load_cert_chain)",
                code::SSL_HANDSHAKE_FAILURE.1
            ),
        ),
        Error::HandshakeEof => os(code::SSL_CONN_EOF),
        Error::Tls(t) => tls_report(t),
        Error::Closed => errno(EBADF),
        Error::InvalidArgument(why) => (Kind::ValueError, 0, why.clone()),
        Error::Callback(CallbackAbort::Failed(payload)) => {
            if payload.is::<Raised>() {
                (Kind::Raised, 0, String::new())
            } else {
                (Kind::OsErrorArgs, EIO, payload.to_string())
            }
        }
        Error::Callback(CallbackAbort::Code(c)) => callback_code(*c),
        other => (Kind::OsErrorArgs, EIO, other.to_string()),
    }
}
