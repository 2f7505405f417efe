//! # mpssl: MicroPython's `ssl` module semantics on rustls
//!
//! The engine behind the `mpssl` Python package, usable on its own from Rust. It offers the
//! concepts of MicroPython's `ssl`/`tls` module: an [`SslContext`] (role, [`VerifyMode`],
//! trusted CAs, own certificate and key, cipher suites) and a TLS stream ([`TlsStream`]) over
//! any `Read + Write` transport with MicroPython's stream semantics.
//!
//! ```text
//!            TLS side (ciphertext)                     plaintext side
//!  transport ──read_tls──▶ ┌─────────────┐ ──read_plaintext──▶ application
//!  (socket,                │   Session   │
//!   pipe, …) ◀─write_tls── │  (rustls)   │ ◀─write_plaintext── application
//!                          └─────────────┘
//!        TlsStream = Session + transport + the read/write loops (blocking or not)
//! ```
//!
//! [`Session`] is sans-IO: it never touches a socket. [`TlsStream`] drives it over a
//! transport; a transport that reports `WouldBlock` makes the stream non-blocking.
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use mpssl::{Protocol, SslContext, VerifyMode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = rcgen::KeyPair::generate()?;
//! let cert = rcgen::CertificateParams::new(vec!["localhost".into()])?.self_signed(&key)?;
//!
//! let mut server = SslContext::new(Protocol::Server);
//! server.load_cert_chain(cert.der(), &key.serialize_der())?;
//! let mut client = SslContext::new(Protocol::Client);
//! client.load_verify_locations(cert.der())?;
//! assert_eq!(client.verify_mode(), VerifyMode::Required);
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let thread = std::thread::spawn(move || -> Result<Vec<u8>, mpssl::Error> {
//!     let (sock, _) = listener.accept()?;
//!     let mut tls = server.wrap(sock, None)?;
//!     let mut buf = [0u8; 5];
//!     tls.read_stream(&mut buf)?;
//!     tls.close();
//!     Ok(buf.to_vec())
//! });
//! let mut tls = client.wrap(TcpStream::connect(addr)?, Some("localhost"))?;
//! tls.write_stream(b"hello")?;
//! assert_eq!(tls.session().protocol_version(), Some("TLSv1.3"));
//! assert_eq!(thread.join().map_err(|_| "server thread")??, b"hello");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod certs;
pub mod ciphers;
mod conn;
mod context;
mod danger;
pub mod dtls;
mod error;
pub mod keylog;
pub mod peer;
pub mod psk;
pub mod roots;
mod session;
pub mod signer;
pub mod sni;
pub mod stream;
mod verified;
mod verify;

pub use context::{Protocol, SslContext};
pub use error::{
    code, ArgumentError, CallbackAbort, CertError, ConfigError, Error, ExceptionClass, IoFailure,
    KeyError, ProtocolError, Report,
};
pub use psk::{PskKeyLookup, PskSuite};
pub use session::{ChannelBinding, Session, Until};
pub use signer::{EcdsaSignCallback, SignError};
pub use sni::{ServerCertificates, ServerNameCallback, SniAbort};
pub use stream::{Driver, Interest, TlsStream, MAX_RECORD, WRITE_BATCH};
pub use verify::{TrustStore, VerifyCallback, VerifyFlags, VerifyMode};

/// The rustls version mpssl is built on.
pub const RUSTLS_VERSION: &str = "rustls 0.23.46 (aws-lc-rs)";
