//! The one error type of the engine, and (in `table`) how every front end reports it.
//!
//! Every failure of the engine is an [`Error`] with a typed kind; nothing a front end needs is
//! hidden in a message text. [`Error::report`] looks the kind up in the engine's table and gives
//! the exception class, the reference's code and text (Mbed TLS names and verify texts) and an
//! optional plain-English note, so that the CPython binding and the MicroPython module report
//! the same thing for the same cause.
//!
//! A front end needs nothing else: raise the [`Report`]'s class with its code and text, attach
//! its note, and for [`ExceptionClass::Carried`] re-raise its own error from
//! [`Error::carried`].
//!
//! ```
//! use mpssl::{ConfigError, Error, ExceptionClass, Protocol, SslContext};
//!
//! let mut ctx = SslContext::new(Protocol::Client);
//! let e = ctx.set_key_exchange_groups(&["brainpoolP256r1"]).unwrap_err();
//! assert!(matches!(e, Error::Config(ConfigError::UnknownGroup(_))));
//! let report = e.report();
//! assert_eq!(report.class, ExceptionClass::Os);
//! assert_eq!((report.code, report.text.as_str()), (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG"));
//! assert_eq!(
//!     report.note.as_deref(),
//!     Some("unknown key-exchange group \"brainpoolP256r1\"")
//! );
//! ```

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::context::Protocol;
use crate::signer::SignError;
use crate::verify::VerifyFlags;

mod table;

pub use table::{code, ExceptionClass, Report};

/// Everything that can go wrong in mpssl.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Error {
    /// The transport failed (connection reset, broken pipe, time-out, …), or a front end's own
    /// error travelled through it (see [`IoFailure::payload`]).
    ///
    /// A transport that would block is reported as [`Error::WouldBlock`] instead.
    Io(IoFailure),
    /// The transport cannot move bytes now; retry when it is ready in [`Interest`] direction.
    ///
    /// [`Interest`]: crate::Interest
    WouldBlock,
    /// A private key could not be loaded or cannot be used.
    Key(KeyError),
    /// Certificate data could not be loaded.
    Cert(CertError),
    /// The context's configuration cannot work.
    Config(ConfigError),
    /// The peer's certificate did not pass verification; the flags say which checks failed.
    Verify(VerifyFlags),
    /// The TLS protocol failed, as classified from rustls's error.
    Protocol(ProtocolError),
    /// The socket was closed by [`close`](crate::TlsStream::close); no more I/O is possible.
    Closed,
    /// The verify callback rejected a certificate or failed.
    Callback(CallbackAbort),
    /// The caller passed a value the API does not accept.
    Argument(ArgumentError),
    /// A server's [`ServerNameCallback`](crate::ServerNameCallback) aborted the handshake.
    ServerName(crate::sni::SniAbort),
    /// A handshake signature through the `ecdsa_sign_callback` failed.
    Sign(SignError),
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

    /// The front end's own error this error carries, if any: the payload of an I/O failure
    /// (e.g. a Python exception raised by a wrapped socket) or of a failed verify callback.
    pub fn carried(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Self::Io(e) => e.payload(),
            Self::Callback(CallbackAbort::Failed(payload)) => Some(payload.as_ref()),
            Self::ServerName(crate::sni::SniAbort::Failed(payload)) => Some(payload.as_ref()),
            Self::Sign(SignError::Failed(payload)) => Some(payload.as_ref()),
            _ => None,
        }
    }

    /// Turn an I/O error from a transport into an mpssl error, recognising would-block.
    pub(crate) fn from_transport(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock => Self::WouldBlock,
            _ => Self::Io(IoFailure::from(e)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::WouldBlock => f.write_str("the transport would block"),
            Self::Key(e) => write!(f, "invalid key: {e}"),
            Self::Cert(e) => write!(f, "invalid cert: {e}"),
            Self::Verify(flags) => write!(f, "certificate verification failed: {flags}"),
            Self::Config(e) => fmt::Display::fmt(e, f),
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::Closed => f.write_str("the TLS socket is closed"),
            Self::Callback(abort) => fmt::Display::fmt(abort, f),
            Self::Argument(e) => fmt::Display::fmt(e, f),
            Self::ServerName(abort) => fmt::Display::fmt(abort, f),
            Self::Sign(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e.as_io()),
            Self::Protocol(ProtocolError::Other(e)) => Some(e),
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
        if let Some(sign) = crate::signer::from_rustls(&e) {
            return Self::Sign(sign);
        }
        Self::Protocol(ProtocolError::classify(e))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => match Arc::try_unwrap(e.0) {
                Ok(io) => io,
                Err(shared) => match shared.raw_os_error() {
                    Some(errno) => io::Error::from_raw_os_error(errno),
                    None => io::Error::new(shared.kind(), IoFailure(shared)),
                },
            },
            Error::WouldBlock => io::ErrorKind::WouldBlock.into(),
            Error::Protocol(ProtocolError::HandshakeEof) => {
                io::Error::new(io::ErrorKind::UnexpectedEof, e)
            }
            other => io::Error::other(other),
        }
    }
}

/// A transport failure: cheap to clone, and it keeps whatever payload the transport put in (a
/// front end carries its own exception through `io::Error`; [`Error::carried`] gives it back).
#[derive(Debug, Clone)]
pub struct IoFailure(Arc<io::Error>);

impl IoFailure {
    /// The I/O error kind.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }

    /// The OS error number, when the failure came from the operating system.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.raw_os_error()
    }

    /// The payload the transport wrapped in its `io::Error` (`io::Error::new(kind, payload)`).
    pub fn payload(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.0.get_ref()
    }

    /// The underlying I/O error.
    pub fn as_io(&self) -> &io::Error {
        &self.0
    }
}

impl From<io::Error> for IoFailure {
    fn from(e: io::Error) -> Self {
        Self(Arc::new(e))
    }
}

impl From<io::ErrorKind> for IoFailure {
    fn from(kind: io::ErrorKind) -> Self {
        Self(Arc::new(kind.into()))
    }
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for IoFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Why a private key was refused. Every kind is the reference's `ValueError('invalid key')`
/// (with the reason in the text or a note), except [`KeyError::Unusable`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// No key data at all.
    Empty,
    /// The data is not a private key in a known format; the text is the parser's reason.
    Malformed(String),
    /// The key is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY` or a traditional `Proc-Type`
    /// header); there is no password argument.
    Encrypted,
    /// The key parses but the crypto provider refuses it (an unsupported curve or algorithm);
    /// the text is the provider's reason.
    Refused(String),
    /// The key does not belong to the leaf certificate.
    Mismatch,
    /// The key loads but the provider cannot sign with it: an RSA key of fewer than 2048 bits.
    /// Reported when a handshake needs it, not when it is loaded.
    Unusable {
        /// The RSA modulus size.
        bits: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no data"),
            Self::Malformed(why) | Self::Refused(why) => f.write_str(why),
            Self::Encrypted => f.write_str("encrypted keys are not supported"),
            Self::Mismatch => f.write_str("the private key does not match the certificate"),
            Self::Unusable { bits } => write!(
                f,
                "RSA key of {bits} bits is too small (rustls/aws-lc-rs sign only with RSA keys of \
                 2048 bits or more)"
            ),
        }
    }
}

/// Why certificate data was refused: always the reference's `ValueError('invalid cert')`,
/// with this reason as a note.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertError {
    /// No certificate data at all.
    Empty,
    /// PEM data without a `CERTIFICATE` section.
    NoPemCertificate,
    /// The data is neither PEM nor a complete DER element.
    NotDer,
    /// The certificate (or the PEM around it) does not parse; the text is the parser's reason.
    Malformed(String),
    /// The certificate parses but cannot serve as a trust anchor; the text says why.
    NotTrustAnchor(String),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no data"),
            Self::NoPemCertificate => f.write_str("no CERTIFICATE section in the PEM data"),
            Self::NotDer => f.write_str("not a DER certificate"),
            Self::Malformed(why) => f.write_str(why),
            Self::NotTrustAnchor(why) => write!(f, "not usable as a trust anchor: {why}"),
        }
    }
}

/// A configuration that cannot work. `set_ciphers`, `set_groups` and `set_ecdh_curve` fail with
/// the same kinds for the same causes (all the reference's `MBEDTLS_ERR_SSL_BAD_CONFIG`).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum ConfigError {
    /// A cipher suite name that neither mpssl nor the reference knows.
    UnknownCipher(String),
    /// A suite the reference offers that mpssl refuses (CBC, static RSA, CBC PSK).
    UnsupportedCipher(String),
    /// An empty cipher suite list.
    EmptyCipherList,
    /// An unknown key-exchange group (curve) name.
    UnknownGroup(String),
    /// An empty key-exchange group list.
    EmptyGroupList,
    /// `CERT_REQUIRED` but no trusted CA certificate has been loaded, on a context of this role.
    CaChainRequired(Protocol),
    /// A server context has no certificate and key to present.
    NoCertificate,
    /// rustls refused to build the configuration.
    Rustls(rustls::Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCipher(name) => write!(f, "unknown cipher suite {name:?}"),
            Self::UnsupportedCipher(name) => write!(
                f,
                "cipher suite {name} is known but not supported (mpssl offers no CBC or \
                 static-RSA suites)"
            ),
            Self::EmptyCipherList => f.write_str("the cipher suite list is empty"),
            Self::UnknownGroup(name) => write!(f, "unknown key-exchange group {name:?}"),
            Self::EmptyGroupList => f.write_str("the key-exchange group list is empty"),
            Self::CaChainRequired(_) => {
                f.write_str("CERT_REQUIRED needs trusted CA certificates (load_verify_locations)")
            }
            Self::NoCertificate => {
                f.write_str("the server context has no certificate (call load_cert_chain)")
            }
            Self::Rustls(e) => write!(f, "bad configuration: {e}"),
        }
    }
}

/// A TLS protocol failure, classified from rustls's error into the reference's codes.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum ProtocolError {
    /// The peer sent a fatal alert (or closed politely during the handshake).
    AlertReceived(rustls::AlertDescription),
    /// A server demanded a client certificate and got none.
    NoClientCertificate,
    /// Not TLS at all (plain HTTP, random bytes), bad framing or an oversized record.
    InvalidRecord,
    /// A record failed authentication (corrupted MAC or AEAD tag).
    BadMac,
    /// A message that is not allowed at this point of the protocol.
    UnexpectedMessage,
    /// The peer closed the connection before the handshake finished.
    HandshakeEof,
    /// A certificate problem rustls found itself (e.g. a handshake signature that does not
    /// verify), without verification flags.
    PeerCertificate(rustls::CertificateError),
    /// Any other rustls failure (no shared cipher suite or version, …).
    Other(rustls::Error),
    /// A PSK server has no key for the identity the client sent (or its lookup failed).
    UnknownPskIdentity,
    /// A DTLS server sent a HelloVerifyRequest (cookie): wrap the socket again with the same
    /// context and `client_id` to complete the handshake.
    HelloVerifyRequired,
    /// A DTLS handshake gave up after its retransmissions.
    DtlsTimeout,
    /// Any other DTLS failure, as the DTLS crate describes it.
    Dtls(String),
}

impl ProtocolError {
    /// Classify a rustls error (other than our verifiers' verdicts).
    fn classify(e: rustls::Error) -> Self {
        use rustls::Error as R;
        match e {
            R::AlertReceived(alert) => Self::AlertReceived(alert),
            R::NoCertificatesPresented => Self::NoClientCertificate,
            R::InvalidMessage(_) => Self::InvalidRecord,
            R::DecryptError => Self::BadMac,
            R::InappropriateMessage { .. } | R::InappropriateHandshakeMessage { .. } => {
                Self::UnexpectedMessage
            }
            R::InvalidCertificate(c) => Self::PeerCertificate(c),
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlertReceived(alert) => write!(f, "the peer sent a fatal alert: {alert:?}"),
            Self::NoClientCertificate => f.write_str("the client sent no certificate"),
            Self::InvalidRecord => f.write_str("the peer sent an invalid TLS record"),
            Self::BadMac => f.write_str("a TLS record failed authentication"),
            Self::UnexpectedMessage => f.write_str("the peer sent an unexpected TLS message"),
            Self::HandshakeEof => {
                f.write_str("the peer closed the connection during the handshake")
            }
            Self::PeerCertificate(c) => write!(f, "the peer's certificate was refused: {c:?}"),
            Self::Other(e) => write!(f, "TLS failure: {e}"),
            Self::UnknownPskIdentity => f.write_str("no pre-shared key for the client's identity"),
            Self::HelloVerifyRequired => f.write_str(
                "the DTLS server sent a cookie (HelloVerifyRequest): wrap the socket again with \
                 the same context and client_id",
            ),
            Self::DtlsTimeout => f.write_str("the DTLS handshake timed out"),
            Self::Dtls(text) => write!(f, "DTLS failure: {text}"),
        }
    }
}

/// A value the API does not accept, decided by the engine (types are the front end's business).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgumentError {
    /// No longer raised: a `PROTOCOL_*` value with the DTLS bit (2) set was refused while
    /// mpssl had no DTLS.
    DtlsUnsupported,
    /// A `verify_mode` other than `CERT_NONE`, `CERT_OPTIONAL` or `CERT_REQUIRED`.
    VerifyMode(i64),
    /// `CERT_REQUIRED` on a client without a server host name to check.
    HostnameRequired,
    /// The server host name is longer than 255 bytes.
    HostnameTooLong,
    /// The server host name is not a valid DNS name or IP address.
    InvalidHostname(String),
    /// `server_side=True` on a `PROTOCOL_TLS_CLIENT` context: a client context cannot act as a
    /// server.
    ServerSideOnClientContext,
    /// `cert` without `key` or `key` without `cert` (module-level `wrap_socket`).
    KeyWithoutCert,
    /// An ALPN protocol name that is empty or longer than 255 bytes.
    AlpnProtocol,
    /// A channel binding type rustls cannot provide (`tls-unique`) or that does not exist.
    ChannelBinding(String),
    /// `verify_mode = CERT_NONE` after `check_hostname` was set to `true` (CPython's
    /// `ValueError`).
    CertNoneWithCheckHostname,
    /// A PSK key that is empty or longer than 48 bytes.
    PskKey,
    /// A PSK identity that is empty or longer than 4096 bytes.
    PskIdentity,
    /// A DTLS server socket wrapped without a `client_id` (or with one that is not a buffer).
    ClientIdRequired,
}

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DtlsUnsupported => {
                f.write_str("DTLS (PROTOCOL_DTLS_CLIENT/SERVER) is not supported by mpssl")
            }
            Self::VerifyMode(_) => {
                f.write_str("verify_mode must be CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED")
            }
            Self::HostnameRequired => f.write_str("CERT_REQUIRED requires server_hostname"),
            Self::HostnameTooLong => f.write_str("server_hostname is longer than 255 bytes"),
            Self::InvalidHostname(name) => {
                write!(
                    f,
                    "server_hostname {name:?} is not a DNS name or IP address"
                )
            }
            Self::ServerSideOnClientContext => f.write_str(
                "server_side=True needs a PROTOCOL_TLS_SERVER context; this context is \
                 PROTOCOL_TLS_CLIENT",
            ),
            Self::KeyWithoutCert => f.write_str("key and cert must be given together"),
            Self::AlpnProtocol => f.write_str("ALPN protocols must be 1 to 255 in length"),
            Self::ChannelBinding(kind) if kind == "tls-unique" => f.write_str(
                "the 'tls-unique' channel binding is not available (rustls does not expose \
                 the Finished messages); use 'tls-exporter' (RFC 9266, TLS 1.3)",
            ),
            Self::ChannelBinding(kind) => write!(f, "{kind} channel binding type not implemented"),
            Self::CertNoneWithCheckHostname => {
                f.write_str("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
            }
            Self::PskKey => f.write_str("psk_key must be 1 to 48 bytes"),
            Self::PskIdentity => f.write_str("psk_identity must be 1 to 4096 bytes"),
            Self::ClientIdRequired => f.write_str(
                "a DTLS server socket needs client_id (bytes identifying the client's address)",
            ),
        }
    }
}

/// Why a [`VerifyCallback`](crate::VerifyCallback) stopped the handshake.
#[derive(Debug, Clone)]
pub enum CallbackAbort {
    /// The callback returned this non-zero code for the certificate at `depth`.
    Code {
        /// The callback's result.
        code: i64,
        /// The certificate's depth in the chain (the leaf is 0).
        depth: usize,
    },
    /// The callback failed (in Python: raised); the payload is re-raised unchanged.
    Failed(Arc<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for CallbackAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code { code, depth } => write!(
                f,
                "the verify callback returned {code} for the certificate at depth {depth}"
            ),
            Self::Failed(e) => write!(f, "the verify callback failed: {e}"),
        }
    }
}

impl std::error::Error for CallbackAbort {}

/// Conditions our verifiers raise through rustls that are not verification flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// `CERT_REQUIRED` with an empty trust store. Only a client meets it during a handshake: a
    /// server context in that state fails before the handshake
    /// (`SslContext::handshake_precondition`).
    CaChainRequired,
    /// `CERT_REQUIRED` on a client connection that has no host name to check.
    HostnameRequired,
}

impl Marker {
    fn to_error(self) -> Error {
        match self {
            Self::CaChainRequired => Error::Config(ConfigError::CaChainRequired(Protocol::Client)),
            Self::HostnameRequired => Error::Argument(ArgumentError::HostnameRequired),
        }
    }

    /// Wrap the marker so that it travels through rustls's certificate error.
    pub(crate) fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            Arc::new(self),
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
