//! The error table: what a front end raises for each kind of [`Error`].
//!
//! The codes and texts are a compatibility contract with MicroPython programs (Mbed TLS error
//! codes and their `MBEDTLS_ERR_…` names as MicroPython prints them, Mbed TLS's verify texts):
//! they live here and nowhere else, so the CPython binding and the MicroPython module report the
//! same thing. Notes are plain English for a person, added where the reference's text misleads.

use std::io;

use super::{ArgumentError, CallbackAbort, ConfigError, Error, KeyError, ProtocolError, SignError};
use crate::context::Protocol;
use crate::verify::VerifyFlags;

/// Mbed TLS codes the reference reports (negative), with the names MicroPython prints.
pub mod code {
    /// An Mbed TLS error code and the name MicroPython's error table prints for it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Code {
        /// The (negative) Mbed TLS error code.
        pub value: i32,
        /// `MBEDTLS_ERR_…`.
        pub name: &'static str,
    }

    const fn code(value: i32, name: &'static str) -> Code {
        Code { value, name }
    }

    /// `-0x5E80`: an unusable configuration (cipher suites, groups).
    pub const SSL_BAD_CONFIG: Code = code(-0x5E80, "MBEDTLS_ERR_SSL_BAD_CONFIG");
    /// `-0x7280`: the peer closed the connection during the handshake.
    pub const SSL_CONN_EOF: Code = code(-0x7280, "MBEDTLS_ERR_SSL_CONN_EOF");
    /// `-0x7780`: the peer sent a fatal alert.
    pub const SSL_FATAL_ALERT: Code = code(-0x7780, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE");
    /// `-0x7480`: a server required a client certificate and got none.
    pub const SSL_NO_CLIENT_CERTIFICATE: Code =
        code(-0x7480, "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE");
    /// `-0x7680`: `CERT_REQUIRED` without a trusted CA.
    pub const SSL_CA_CHAIN_REQUIRED: Code = code(-0x7680, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED");
    /// `-0x6E00`: the handshake failed (no common parameters, no certificate to present, …).
    pub const SSL_HANDSHAKE_FAILURE: Code = code(-0x6E00, "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE");
    /// `-0x7100`: a bad argument (e.g. a host name longer than 255 bytes).
    pub const SSL_BAD_INPUT_DATA: Code = code(-0x7100, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA");
    /// `-0x7200`: not a TLS record.
    pub const SSL_INVALID_RECORD: Code = code(-0x7200, "MBEDTLS_ERR_SSL_INVALID_RECORD");
    /// `-0x7180`: a record failed authentication.
    pub const SSL_INVALID_MAC: Code = code(-0x7180, "MBEDTLS_ERR_SSL_INVALID_MAC");
    /// `-0x7700`: a message not allowed at this point.
    pub const SSL_UNEXPECTED_MESSAGE: Code = code(-0x7700, "MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE");
    /// `-0x7A00`: the peer's certificate is not allowed for this use (its extendedKeyUsage),
    /// while its chain is otherwise fine.
    pub const SSL_BAD_CERTIFICATE: Code = code(-0x7A00, "MBEDTLS_ERR_SSL_BAD_CERTIFICATE");
    /// `-0x4F80`: the `ecdsa_sign_callback` failed (raised).
    pub const ECP_BAD_INPUT_DATA: Code = code(-0x4F80, "MBEDTLS_ERR_ECP_BAD_INPUT_DATA");
    /// `-0x4F00`: the `ecdsa_sign_callback` returned a signature too long for the curve.
    pub const ECP_BUFFER_TOO_SMALL: Code = code(-0x4F00, "MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL");
    /// `-0x4E00`: the `ecdsa_sign_callback` returned a signature that does not verify.
    pub const ECP_VERIFY_FAILED: Code = code(-0x4E00, "MBEDTLS_ERR_ECP_VERIFY_FAILED");
    /// `-0x6C80`: a PSK server has no key for the client's identity.
    pub const SSL_UNKNOWN_IDENTITY: Code = code(-0x6C80, "MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY");
    /// `-0x6A80`: a DTLS server sent a HelloVerifyRequest; wrap again to complete.
    pub const SSL_HELLO_VERIFY_REQUIRED: Code =
        code(-0x6A80, "MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED");
    /// `-0x6800`: a DTLS handshake gave up after its retransmissions.
    pub const SSL_TIMEOUT: Code = code(-0x6800, "MBEDTLS_ERR_SSL_TIMEOUT");
    /// `-0x2700`: certificate verification failed without verify flags.
    pub const X509_CERT_VERIFY_FAILED: Code = code(-0x2700, "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED");
}

use code::Code;

/// The kind of exception a front end raises for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionClass {
    /// `OSError(code, text)`: an Mbed TLS code with its `MBEDTLS_ERR_…` text, as the reference
    /// raises it.
    Os,
    /// `OSError(errno)`: a transport error number; `text` is the C library's description
    /// (CPython: `OSError(errno, text)`, which picks the subclass; MicroPython: `OSError(errno)`).
    Errno,
    /// `ValueError(text)`.
    Value,
    /// `TypeError(text)`.
    Type,
    /// Re-raise the front end's own error that [`Error::carried`] returns. When it is not the
    /// front end's own, raise `OSError(code, text)` instead.
    Carried,
}

/// What a front end raises for an [`Error`]: see [`Error::report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The kind of exception.
    pub class: ExceptionClass,
    /// The code (`OSError`'s first argument); 0 for `ValueError` and `TypeError`.
    pub code: i64,
    /// The message (`OSError`'s second argument, or the only argument of the others).
    pub text: String,
    /// A plain-English explanation to attach (PEP 678 `add_note`), where the text misleads or
    /// hides the reason.
    pub note: Option<String>,
}

impl Report {
    fn os(code: Code) -> Self {
        Self::os_text(code, code.name.to_owned())
    }

    fn os_text(code: Code, text: String) -> Self {
        Self {
            class: ExceptionClass::Os,
            code: i64::from(code.value),
            text,
            note: None,
        }
    }

    fn errno(errno: i32) -> Self {
        Self {
            class: ExceptionClass::Errno,
            code: i64::from(errno),
            text: errno_text(errno),
            note: None,
        }
    }

    fn value(text: impl Into<String>) -> Self {
        Self {
            class: ExceptionClass::Value,
            code: 0,
            text: text.into(),
            note: None,
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        self.note = Some(match self.note.take() {
            Some(first) => format!("{first}\n{note}"),
            None => note,
        });
        self
    }
}

impl Error {
    /// What a front end raises for this error: the exception class, the reference's code and
    /// text, and a note for a person. One table for every front end.
    pub fn report(&self) -> Report {
        match self {
            Self::Io(failure) => {
                let report = match (failure.raw_os_error(), failure.kind()) {
                    (Some(errno), _) => Report::errno(errno),
                    (None, io::ErrorKind::TimedOut) => Report {
                        text: "timed out".to_owned(),
                        ..Report::errno(ETIMEDOUT)
                    },
                    (None, io::ErrorKind::WouldBlock) => Report::errno(EAGAIN),
                    (None, io::ErrorKind::UnexpectedEof) => Report::os(code::SSL_CONN_EOF),
                    (None, _) => Report {
                        text: failure.to_string(),
                        ..Report::errno(EIO)
                    },
                };
                match failure.payload() {
                    Some(_) => Report {
                        class: ExceptionClass::Carried,
                        ..report
                    },
                    None => report,
                }
            }
            Self::WouldBlock => Report::errno(EAGAIN),
            Self::Key(key) => key_report(key),
            Self::Cert(cert) => Report::value("invalid cert").with_note(cert.to_string()),
            Self::Config(config) => config_report(config),
            Self::Verify(flags) => verify_report(*flags),
            Self::Protocol(protocol) => protocol_report(protocol),
            Self::Closed => Report::errno(EBADF),
            Self::Callback(CallbackAbort::Failed(payload)) => Report {
                class: ExceptionClass::Carried,
                text: payload.to_string(),
                ..Report::errno(EIO)
            },
            Self::Callback(CallbackAbort::Code { code, depth }) => {
                callback_code(*code).with_note(format!(
                    "the verify_callback returned {code} for the certificate at depth {depth} \
                     (0 is the peer's own certificate); any non-zero result rejects the \
                     certificate and ends the handshake, 0 accepts it"
                ))
            }
            Self::Argument(argument) => argument_report(argument),
            Self::ServerName(crate::sni::SniAbort::Failed(payload)) => Report {
                class: ExceptionClass::Carried,
                text: payload.to_string(),
                ..Report::errno(EIO)
            },
            Self::ServerName(abort @ crate::sni::SniAbort::Alert(_)) => {
                Report::os(code::SSL_HANDSHAKE_FAILURE).with_note(abort.to_string())
            }
            Self::Sign(sign) => sign_report(sign),
        }
    }
}

/// A failed `ecdsa_sign_callback`: the reference's ECP codes, the cause as a note. A front end
/// chains its own error (the callback's exception) to the one it raises.
fn sign_report(sign: &SignError) -> Report {
    let code = match sign {
        SignError::Failed(_) => code::ECP_BAD_INPUT_DATA,
        SignError::TooLong { .. } => code::ECP_BUFFER_TOO_SMALL,
        SignError::Invalid => code::ECP_VERIFY_FAILED,
    };
    Report::os(code).with_note(sign.to_string())
}

fn key_report(key: &KeyError) -> Report {
    match key {
        KeyError::Empty | KeyError::Malformed(_) | KeyError::Refused(_) => {
            Report::value("invalid key").with_note(key.to_string())
        }
        // The reason joins the reference's text, which stays its start.
        KeyError::Encrypted | KeyError::Mismatch => Report::value(format!("invalid key: {key}")),
        KeyError::Unusable { .. } => Report::os_text(
            code::SSL_HANDSHAKE_FAILURE,
            format!("{}: {key}", code::SSL_HANDSHAKE_FAILURE.name),
        ),
    }
}

fn config_report(config: &ConfigError) -> Report {
    match config {
        ConfigError::UnknownCipher(_)
        | ConfigError::EmptyCipherList
        | ConfigError::UnknownGroup(_)
        | ConfigError::EmptyGroupList
        | ConfigError::Rustls(_) => Report::os(code::SSL_BAD_CONFIG).with_note(config.to_string()),
        ConfigError::UnsupportedCipher(_) => Report::os_text(
            code::SSL_BAD_CONFIG,
            format!("{}: {config}", code::SSL_BAD_CONFIG.name),
        ),
        ConfigError::CaChainRequired(Protocol::Client | Protocol::DtlsClient) => {
            Report::os(code::SSL_CA_CHAIN_REQUIRED).with_note(
                "no CA certificate is loaded, and a PROTOCOL_TLS_CLIENT context verifies the \
                 server by default (verify_mode = CERT_REQUIRED): load the CA that issued the \
                 server's certificate with load_verify_locations(cafile=... or cadata=...), or \
                 set verify_mode = CERT_NONE to connect without verifying the server (insecure)",
            )
        }
        ConfigError::CaChainRequired(Protocol::Server | Protocol::DtlsServer) => {
            Report::os(code::SSL_CA_CHAIN_REQUIRED).with_note(
                "this server context requires client certificates (verify_mode = \
                 CERT_REQUIRED) but has no CA certificate to check them against: load one with \
                 load_verify_locations(cafile=... or cadata=...)",
            )
        }
        ConfigError::NoCertificate => Report::os_text(
            code::SSL_HANDSHAKE_FAILURE,
            format!("{}: {config}", code::SSL_HANDSHAKE_FAILURE.name),
        ),
    }
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

/// Notes for verify flags whose Mbed TLS text misleads, in flag order.
const VERIFY_NOTES: &[(VerifyFlags, &str)] = &[
    (
        VerifyFlags::CN_MISMATCH,
        "the host name (server_hostname) is checked against the certificate's subjectAltName \
         DNS and IP entries, and against the subject CN only when the certificate has no \
         subjectAltName extension at all",
    ),
    (
        VerifyFlags::OTHER,
        "the certificate is malformed, or it is a CA certificate (CA:TRUE) presented as the \
         peer's own certificate, which rustls-webpki refuses unless it is self-signed and \
         trusted",
    ),
];

/// The reference's `ValueError` text for a failed verification: `"\n" + text + "\n"` per flag.
pub(super) fn verify_text(flags: VerifyFlags) -> String {
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

/// The note for a certificate whose extendedKeyUsage forbids its use here.
const EXT_KEY_USAGE_NOTE: &str =
    "the certificate's extendedKeyUsage extension does not allow this use: a server's \
     certificate needs serverAuth, a client's certificate clientAuth (a certificate without the \
     extension may be used for both)";

fn verify_report(flags: VerifyFlags) -> Report {
    // Mbed TLS checks the usage extensions after the chain (ssl_tls.c,
    // ssl_parse_certificate_verify): when that is the only failure, the handshake fails with
    // MBEDTLS_ERR_SSL_BAD_CERTIFICATE, not with the verify text. Confirmed with the reference
    // binary in both directions (a leaf with only codeSigning or clientAuth as a server's, a
    // leaf with only serverAuth as a client's); with another failure too, the verify text
    // names both.
    if flags == VerifyFlags::EXT_KEY_USAGE {
        return Report::os(code::SSL_BAD_CERTIFICATE).with_note(EXT_KEY_USAGE_NOTE);
    }
    let mut report = Report::value(verify_text(flags));
    for (flag, note) in VERIFY_NOTES {
        if flags.contains(*flag) {
            report = report.with_note(*note);
        }
    }
    report
}

fn protocol_report(protocol: &ProtocolError) -> Report {
    match protocol {
        ProtocolError::AlertReceived(_) => Report::os(code::SSL_FATAL_ALERT),
        ProtocolError::NoClientCertificate => Report::os(code::SSL_NO_CLIENT_CERTIFICATE),
        ProtocolError::InvalidRecord => Report::os(code::SSL_INVALID_RECORD),
        ProtocolError::BadMac => Report::os(code::SSL_INVALID_MAC),
        ProtocolError::UnexpectedMessage => Report::os(code::SSL_UNEXPECTED_MESSAGE),
        ProtocolError::HandshakeEof => Report::os(code::SSL_CONN_EOF),
        // A certificate problem rustls found itself (e.g. a handshake signature that does not
        // verify): there are no verify flags, so the reference's "verify failed" code.
        ProtocolError::PeerCertificate(c) => Report::os_text(
            code::X509_CERT_VERIFY_FAILED,
            format!("{}: {c:?}", code::X509_CERT_VERIFY_FAILED.name),
        ),
        ProtocolError::UnknownPskIdentity => Report::os(code::SSL_UNKNOWN_IDENTITY),
        ProtocolError::HelloVerifyRequired => Report::os(code::SSL_HELLO_VERIFY_REQUIRED),
        ProtocolError::DtlsTimeout => Report::os(code::SSL_TIMEOUT),
        ProtocolError::Dtls(text) => {
            Report::os_text(code::SSL_HANDSHAKE_FAILURE, format!("DTLS failure: {text}")).with_note(
                "mapped to MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, the nearest reference code",
            )
        }
        ProtocolError::Other(e) => {
            Report::os_text(code::SSL_HANDSHAKE_FAILURE, format!("TLS failure: {e}")).with_note(
                "mapped to MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, the nearest reference code",
            )
        }
    }
}

fn argument_report(argument: &ArgumentError) -> Report {
    match argument {
        ArgumentError::DtlsUnsupported
        | ArgumentError::VerifyMode(_)
        | ArgumentError::HostnameRequired
        | ArgumentError::ServerSideOnClientContext
        | ArgumentError::AlpnProtocol
        | ArgumentError::ChannelBinding(_)
        | ArgumentError::CertNoneWithCheckHostname => Report::value(argument.to_string()),
        ArgumentError::KeyWithoutCert => Report {
            class: ExceptionClass::Type,
            ..Report::value(argument.to_string())
        },
        ArgumentError::HostnameTooLong
        | ArgumentError::InvalidHostname(_)
        | ArgumentError::PskKey
        | ArgumentError::PskIdentity
        | ArgumentError::ClientIdRequired => {
            Report::os(code::SSL_BAD_INPUT_DATA).with_note(argument.to_string())
        }
    }
}

/// A verify callback's non-zero result, raised as Mbed TLS raises a callback's code:
/// -1..-255 as `OSError(errno)`, other codes as `OSError(code, name)` with the name MicroPython
/// prints for the code's absolute value.
fn callback_code(code: i64) -> Report {
    if (-255..=-1).contains(&code) {
        // In range by the check above.
        return Report::errno(i32::try_from(-code).unwrap_or(EIO));
    }
    let name = match code.unsigned_abs() {
        1 => "MBEDTLS_ERR_ERROR_GENERIC_ERROR".to_owned(),
        2 => "MBEDTLS_ERR_MPI_FILE_IO_ERROR".to_owned(),
        other => format!("MBEDTLS_ERR_UNKNOWN ({other:#06X})"),
    };
    Report {
        class: ExceptionClass::Os,
        code,
        text: name,
        note: None,
    }
}

use libc::{EAGAIN, EBADF, EIO, ETIMEDOUT};

/// The C library's text for an errno, as CPython's `OSError(errno, text)` carries it.
fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
