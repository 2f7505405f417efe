//! Server certificates chosen by the name the client sends (SNI), and the front end's
//! server-name callback (CPython's `sni_callback`).
//!
//! A server context holds one or more certificates ([`ServerCertificates`]): the first one
//! loaded is the default; each further one (a `load_cert_chain` whose key does not belong to
//! the first certificate) is presented to clients whose SNI name it is valid for (its
//! subjectAltName DNS names, wildcards included, as rustls-webpki decides), the first match in
//! load order. A client that sends no name, or a name no certificate is valid for, gets the
//! default.
//!
//! Before the choice, a session's [`ServerNameCallback`] (if any) sees the name and may hand
//! over another context's certificates, or abort the handshake ([`SniAbort`]). It runs inside
//! the handshake, once per ClientHello (twice after a TLS 1.3 HelloRetryRequest).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::CipherSuite;
use rustls_pki_types::ServerName;

/// The certificates (with their keys) a server context presents, default first.
#[derive(Debug, Clone, Default)]
pub struct ServerCertificates(pub(crate) Arc<Vec<Arc<CertifiedKey>>>);

impl ServerCertificates {
    /// How many certificates there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is none (a server context before `load_cert_chain`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The index of the certificate presented to a client that sent `name` (see the module
    /// doc), `None` when there is none.
    pub fn choose_index(&self, name: Option<&str>) -> Option<usize> {
        match self.0.len() {
            0 => return None,
            // One certificate is the default whatever the name: no need to parse it.
            1 => return Some(0),
            _ => {}
        }
        let Some(name) = name.and_then(|n| ServerName::try_from(n).ok()) else {
            return Some(0);
        };
        let valid = |key: &Arc<CertifiedKey>| {
            key.end_entity_cert().is_ok_and(|leaf| {
                webpki::EndEntityCert::try_from(leaf)
                    .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(&name).is_ok())
            })
        };
        Some(self.0.iter().position(valid).unwrap_or(0))
    }

    fn choose(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        self.choose_index(name).and_then(|i| self.0.get(i).cloned())
    }
}

/// Asked by a server session, during its handshake, for the name the client sent (`None`:
/// no SNI). A front end implements it to run its application's callback (CPython's
/// `sni_callback`).
pub trait ServerNameCallback: Send + Sync + fmt::Debug {
    /// `Ok(None)`: go on with the session's own context's certificates; `Ok(Some(certs))`:
    /// choose among `certs` instead (another context's, [`SslContext::server_certificates`]);
    /// `Err`: abort the handshake (the client gets an `access_denied` alert, the server's
    /// handshake fails with [`Error::ServerName`]).
    ///
    /// [`SslContext::server_certificates`]: crate::SslContext::server_certificates
    /// [`Error::ServerName`]: crate::Error::ServerName
    fn server_name(&self, name: Option<&str>) -> Result<Option<ServerCertificates>, SniAbort>;
}

/// Why a [`ServerNameCallback`] stopped the handshake.
#[derive(Debug, Clone)]
pub enum SniAbort {
    /// The callback asked for this TLS alert (CPython: it returned an `ALERT_DESCRIPTION_*`
    /// int). rustls sends `access_denied` whatever the number.
    Alert(i64),
    /// The callback failed (in Python: raised); the payload is re-raised unchanged.
    Failed(Arc<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for SniAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alert(alert) => write!(
                f,
                "the sni_callback returned alert {alert}: the handshake was aborted"
            ),
            Self::Failed(e) => write!(f, "the sni_callback failed: {e}"),
        }
    }
}

impl std::error::Error for SniAbort {}

/// What a server session's resolver saw in the ClientHello.
#[derive(Debug, Default)]
pub(crate) struct Hello {
    /// The cipher suites the session's context enables.
    pub(crate) enabled: Vec<CipherSuite>,
    /// The cipher suites the client offered, in its order.
    pub(crate) offered: Vec<CipherSuite>,
    /// The callback's abort, to replace rustls's generic "no certificate" error.
    pub(crate) abort: Option<SniAbort>,
}

/// The certificate resolver of one server session.
#[derive(Debug)]
pub(crate) struct SessionResolver {
    pub(crate) certs: ServerCertificates,
    pub(crate) callback: Option<Arc<dyn ServerNameCallback>>,
    pub(crate) hello: Arc<Mutex<Hello>>,
}

impl ResolvesServerCert for SessionResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = client_hello.server_name();
        let mut hello = self.hello.lock().unwrap_or_else(PoisonError::into_inner);
        hello.offered = client_hello.cipher_suites().to_vec();
        let certs = match &self.callback {
            None => None,
            Some(callback) => {
                // Not holding our lock while the front end's code runs.
                drop(hello);
                let answer = callback.server_name(name);
                hello = self.hello.lock().unwrap_or_else(PoisonError::into_inner);
                match answer {
                    Ok(certs) => certs,
                    Err(abort) => {
                        hello.abort = Some(abort);
                        return None;
                    }
                }
            }
        };
        certs.as_ref().unwrap_or(&self.certs).choose(name)
    }
}
