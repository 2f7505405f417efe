//! The one error type of the core.
//!
//! Every failure of the engine is an [`Error`]. The Python binding maps it to exceptions in one
//! place (`crates/mpssl-python/src/error.rs`); Rust users match on the variants.

use std::fmt;
use std::io;

use crate::verify::{CallbackAbort, VerifyFlags};

/// Everything that can go wrong in mpssl.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The transport failed (connection reset, broken pipe, time-out, …).
    ///
    /// A transport that would block is reported as [`Error::WouldBlock`] instead.
    Io(io::Error),
    /// The transport cannot move bytes now; retry when it is ready in [`Interest`] direction.
    ///
    /// [`Interest`]: crate::Interest
    WouldBlock,
    /// A private key could not be parsed; the text says why.
    InvalidKey(String),
    /// A certificate could not be parsed; the text says why.
    InvalidCert(String),
    /// The peer's certificate did not pass verification; the flags say which checks failed.
    Verify(VerifyFlags),
    /// `CERT_REQUIRED` but no trusted CA certificate has been loaded.
    CaChainRequired,
    /// `CERT_REQUIRED` on a client without a server host name to check.
    HostnameRequired,
    /// The server host name is not a valid DNS name or IP address.
    InvalidHostname(String),
    /// The configuration cannot work (unknown or unsupported cipher suite, empty suite list, …).
    BadConfig(String),
    /// The private key parses but the crypto provider cannot sign with it (e.g. RSA < 2048 bits).
    UnusableKey(String),
    /// A server context has no certificate and key to present.
    NoCertificate,
    /// The peer closed the connection before the handshake finished.
    HandshakeEof,
    /// The TLS protocol failed (alert received, bad record, no shared cipher suite, …).
    Tls(rustls::Error),
    /// The socket was closed by [`close`](crate::TlsStream::close); no more I/O is possible.
    Closed,
    /// The caller passed a value the API does not accept.
    InvalidArgument(String),
    /// The verify callback rejected a certificate or failed.
    Callback(CallbackAbort),
}

impl Error {
    /// True when the error ends the session: later calls return the same error.
    ///
    /// Would-block, time-outs and interruptions are not fatal: rustls's state is intact and the
    /// call can be repeated.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::WouldBlock => false,
            Self::Io(e) => !matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
            ),
            _ => true,
        }
    }

    /// A copy of this error, used to make fatal errors sticky.
    ///
    /// I/O errors keep their kind, OS error number and text, but not any wrapped payload.
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Io(e) => Self::Io(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            }),
            Self::WouldBlock => Self::WouldBlock,
            Self::InvalidKey(s) => Self::InvalidKey(s.clone()),
            Self::InvalidCert(s) => Self::InvalidCert(s.clone()),
            Self::Verify(f) => Self::Verify(*f),
            Self::CaChainRequired => Self::CaChainRequired,
            Self::HostnameRequired => Self::HostnameRequired,
            Self::InvalidHostname(s) => Self::InvalidHostname(s.clone()),
            Self::BadConfig(s) => Self::BadConfig(s.clone()),
            Self::UnusableKey(s) => Self::UnusableKey(s.clone()),
            Self::NoCertificate => Self::NoCertificate,
            Self::HandshakeEof => Self::HandshakeEof,
            Self::Tls(e) => Self::Tls(e.clone()),
            Self::Closed => Self::Closed,
            Self::InvalidArgument(s) => Self::InvalidArgument(s.clone()),
            Self::Callback(c) => Self::Callback(c.clone()),
        }
    }

    /// Turn an I/O error from a transport into an mpssl error, recognising would-block.
    pub(crate) fn from_transport(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock => Self::WouldBlock,
            _ => Self::Io(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::WouldBlock => f.write_str("the transport would block"),
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::InvalidCert(why) => write!(f, "invalid cert: {why}"),
            Self::Verify(flags) => write!(f, "certificate verification failed: {flags}"),
            Self::CaChainRequired => {
                f.write_str("CERT_REQUIRED needs trusted CA certificates (load_verify_locations)")
            }
            Self::HostnameRequired => f.write_str("CERT_REQUIRED requires server_hostname"),
            Self::InvalidHostname(why) => write!(f, "invalid server_hostname: {why}"),
            Self::BadConfig(why) => write!(f, "bad configuration: {why}"),
            Self::UnusableKey(why) => write!(f, "the private key cannot be used: {why}"),
            Self::NoCertificate => f.write_str("the server has no certificate (load_cert_chain)"),
            Self::HandshakeEof => {
                f.write_str("the peer closed the connection during the handshake")
            }
            Self::Tls(e) => write!(f, "TLS error: {e}"),
            Self::Closed => f.write_str("the TLS socket is closed"),
            Self::InvalidArgument(why) => f.write_str(why),
            Self::Callback(abort) => fmt::Display::fmt(abort, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::from_transport(e)
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        use rustls::{CertificateError, Error as E};
        // Our verifiers report their verdict through rustls as an `OtherError`; unwrap it so
        // callers see the verification flags, not rustls's generic wrapper.
        if let E::InvalidCertificate(CertificateError::Other(other)) = &e {
            if let Some(verdict) = other.0.downcast_ref::<VerifyFlags>() {
                return Self::Verify(*verdict);
            }
            if let Some(marker) = other.0.downcast_ref::<Marker>() {
                return marker.to_error();
            }
            if let Some(abort) = other.0.downcast_ref::<CallbackAbort>() {
                return Self::Callback(abort.clone());
            }
        }
        Self::Tls(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::WouldBlock => io::ErrorKind::WouldBlock.into(),
            Error::HandshakeEof => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            other => io::Error::other(other),
        }
    }
}

/// Conditions our verifiers raise through rustls that are not verification flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// `CERT_REQUIRED` with an empty trust store.
    CaChainRequired,
    /// `CERT_REQUIRED` on a client connection that has no host name to check.
    HostnameRequired,
}

impl Marker {
    fn to_error(self) -> Error {
        match self {
            Self::CaChainRequired => Error::CaChainRequired,
            Self::HostnameRequired => Error::HostnameRequired,
        }
    }

    /// Wrap the marker so that it travels through rustls's certificate error.
    pub(crate) fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            std::sync::Arc::new(self),
        )))
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_error(), f)
    }
}

impl std::error::Error for Marker {}

#[cfg(test)]
mod tests;
