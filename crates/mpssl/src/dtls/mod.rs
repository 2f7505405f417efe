//! DTLS 1.2 (`PROTOCOL_DTLS_CLIENT` / `PROTOCOL_DTLS_SERVER`) on the sans-IO `rtc-dtls` crate.
//!
//! A `DtlsConnection` is what a [`Session`](crate::Session) drives for a DTLS context, behind
//! the same calls as a TLS connection, with datagram semantics: each transport read is one
//! whole datagram ([`MAX_DATAGRAM`] bytes of room), each transport write one datagram, and a
//! record's plaintext is handed out in pieces without losing the rest (`recv(3)` then
//! `recv(100)` of a 10-byte record gives `b'012'` then `b'3456789'`, as the reference).
//!
//! The crate runs the handshake state machine, the record layer, retransmission and
//! anti-replay. This module adds what MicroPython's `tls` module does around Mbed TLS:
//!
//! - the clock: every call into a session first fires the retransmissions that are due
//!   ([`Session::next_timeout`](crate::Session::next_timeout) says when the next is due);
//! - HelloVerifyRequest as the reference: a server's first handshake from a `client_id` sends
//!   the cookie, parks its half-done handshake in the context (at most
//!   [`PARK_LIMIT`] entries, each for [`PARK_TTL`]) and fails with
//!   `MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED`; the next session of the same context and
//!   `client_id` resumes it and completes;
//! - verification exactly as TLS: the crate's own chain check is off and its
//!   `verify_peer_certificate` hook calls mpssl's rustls verifiers (verify mode, CAs, host
//!   name, `verify_callback`, the same verdicts and error table);
//! - the context's key, through the `ecdsa_sign_callback` when one is set (a rustls signing key
//!   seen as the crate's `SigningKey`).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc_dtls::cipher_suite::CipherSuiteId;
use rtc_dtls::config::{
    ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig,
    VerifyPeerCertificateFn,
};
use rtc_dtls::crypto::{Certificate, CryptoPrivateKey};
use rtc_dtls::crypto_provider as rtc_crypto;
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rustls::client::danger::ServerCertVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::context::{Built, SslContext};
use crate::error::{ArgumentError, Error, ProtocolError};
use crate::psk::PskRole;
use crate::verify::names::PeerName;
use crate::verify::verifiers::{ClientVerifier, PeerCheck, ServerVerifier};

#[cfg(test)]
mod tests;

/// Room for one datagram: a full record (2^14 bytes of plaintext plus expansion) and its
/// 13-byte header. A transport read for a DTLS session gets a buffer this large.
pub const MAX_DATAGRAM: usize = 16384 + 2048 + 13;

/// Most plaintext one write puts in one record (one datagram).
pub const MAX_PLAINTEXT: usize = 16384;

/// Most handshakes a context keeps parked after a HelloVerifyRequest (oldest evicted).
pub const PARK_LIMIT: usize = 32;

/// How long a parked handshake waits for the client's second ClientHello (Mbed TLS's cookie
/// lifetime, `MBEDTLS_SSL_COOKIE_TIMEOUT`, is 60 s).
pub const PARK_TTL: Duration = Duration::from_secs(60);

/// The crate's endpoint is keyed by transport address; a session has exactly one peer, known
/// to the front end only, so the engine uses fixed placeholders.
const PEER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 9));
const LOCAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 10));

/// The suites offered: AEAD only, certificates (ECDSA first, as Mbed TLS prefers).
const SUITES: [CipherSuiteId; 5] = [
    CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256,
    CipherSuiteId::Tls_Ecdhe_Rsa_With_Aes_128_Gcm_Sha256,
    CipherSuiteId::Tls_Ecdhe_Ecdsa_With_ChaCha20_Poly1305_Sha256,
    CipherSuiteId::Tls_Ecdhe_Rsa_With_ChaCha20_Poly1305_Sha256,
    CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Ccm,
];

/// The suite's name as the reference prints it.
fn suite_name(id: CipherSuiteId) -> &'static str {
    match id {
        CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256 => {
            "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"
        }
        CipherSuiteId::Tls_Ecdhe_Rsa_With_Aes_128_Gcm_Sha256 => {
            "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"
        }
        CipherSuiteId::Tls_Ecdhe_Ecdsa_With_ChaCha20_Poly1305_Sha256 => {
            "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"
        }
        CipherSuiteId::Tls_Ecdhe_Rsa_With_ChaCha20_Poly1305_Sha256 => {
            "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256"
        }
        CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Ccm => "TLS-ECDHE-ECDSA-WITH-AES-128-CCM",
        CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Ccm_8 => "TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8",
        CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_256_Cbc_Sha => {
            "TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA"
        }
        CipherSuiteId::Tls_Ecdhe_Rsa_With_Aes_256_Cbc_Sha => "TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA",
        CipherSuiteId::Tls_Psk_With_Aes_128_Ccm => "TLS-PSK-WITH-AES-128-CCM",
        CipherSuiteId::Tls_Psk_With_Aes_128_Ccm_8 => "TLS-PSK-WITH-AES-128-CCM-8",
        CipherSuiteId::Tls_Psk_With_Aes_128_Gcm_Sha256 => "TLS-PSK-WITH-AES-128-GCM-SHA256",
        _ => "unknown",
    }
}

/// Where the crate's hooks (verify, sign) leave the mpssl error they failed with: the crate
/// only reports its own error type.
type Verdict = Arc<Mutex<Option<Error>>>;

fn leave(verdict: &Verdict, e: Error) -> rtc_shared::error::Error {
    let text = e.to_string();
    *verdict.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    rtc_shared::error::Error::Other(text)
}

/// One association of the crate, and where its hooks leave their errors.
struct Engine {
    endpoint: Endpoint,
    verdict: Verdict,
}

/// A server context's handshakes parked after a HelloVerifyRequest, by `client_id`.
#[derive(Default)]
pub(crate) struct Parked {
    slots: Mutex<VecDeque<(Vec<u8>, Instant, Engine)>>,
}

impl fmt::Debug for Parked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        write!(f, "Parked({n})")
    }
}

impl Parked {
    fn park(&self, id: Vec<u8>, engine: Engine) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        slots.retain(|(key, at, _)| *key != id && now.duration_since(*at) < PARK_TTL);
        while slots.len() >= PARK_LIMIT {
            slots.pop_front();
        }
        slots.push_back((id, now, engine));
    }

    fn take(&self, id: &[u8]) -> Option<Engine> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        slots.retain(|(_, at, _)| now.duration_since(*at) < PARK_TTL);
        let i = slots.iter().position(|(key, _, _)| key == id)?;
        slots.remove(i).map(|(_, _, engine)| engine)
    }

    /// How many handshakes are parked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The rustls scheme for a crate scheme.
fn rustls_scheme(scheme: rtc_crypto::SignatureScheme) -> Option<rustls::SignatureScheme> {
    use rtc_crypto::SignatureScheme as S;
    use rustls::SignatureScheme as R;
    Some(match scheme {
        S::Ed25519 => R::ED25519,
        S::EcdsaP256Sha256 => R::ECDSA_NISTP256_SHA256,
        S::EcdsaP384Sha384 => R::ECDSA_NISTP384_SHA384,
        S::RsaPkcs1Sha1 => R::RSA_PKCS1_SHA1,
        S::RsaPkcs1Sha256 => R::RSA_PKCS1_SHA256,
        S::RsaPkcs1Sha384 => R::RSA_PKCS1_SHA384,
        S::RsaPkcs1Sha512 => R::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

/// The context's rustls signing key (the `ecdsa_sign_callback` included) as the crate's key.
struct RustlsKey {
    key: Arc<dyn rustls::sign::SigningKey>,
    spki: Vec<u8>,
    verdict: Verdict,
}

impl rtc_crypto::SigningKey for RustlsKey {
    fn supports(&self, scheme: rtc_crypto::SignatureScheme) -> bool {
        rustls_scheme(scheme).is_some_and(|s| self.key.choose_scheme(&[s]).is_some())
    }

    fn public_key(&self) -> rtc_crypto::PublicKey<'_> {
        rtc_crypto::PublicKey {
            encoding: rtc_crypto::PublicKeyEncoding::SubjectPublicKeyInfoDer,
            bytes: &self.spki,
        }
    }

    fn sign(
        &self,
        scheme: rtc_crypto::SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, rtc_crypto::CryptoError> {
        let signer = rustls_scheme(scheme)
            .and_then(|s| self.key.choose_scheme(&[s]))
            .ok_or(rtc_crypto::CryptoError::UnsupportedAlgorithm(
                rtc_crypto::CryptoAlgorithm::Signature(scheme),
            ))?;
        signer.sign(message).map_err(|e| {
            let text = e.to_string();
            *self.verdict.lock().unwrap_or_else(PoisonError::into_inner) = Some(Error::from(e));
            rtc_crypto::CryptoError::Provider(text)
        })
    }
}

/// The crate's error as an mpssl error.
fn from_crate(e: &rtc_shared::error::Error) -> Error {
    use rtc_shared::error::Error as E;
    Error::Protocol(match e {
        E::ErrAlertFatalOrClose => {
            ProtocolError::AlertReceived(rustls::AlertDescription::HandshakeFailure)
        }
        E::ErrClientCertificateRequired => ProtocolError::NoClientCertificate,
        E::ErrTimeout => ProtocolError::DtlsTimeout,
        other => ProtocolError::Dtls(other.to_string()),
    })
}

/// The description of a plaintext alert record at the start of `datagram`.
fn plaintext_alert(datagram: &[u8]) -> Option<u8> {
    // type 21, epoch 0, length 2, level, description
    match datagram {
        [21, _, _, 0, 0, _, _, _, _, _, _, 0, 2, _, description, ..] => Some(*description),
        _ => None,
    }
}

/// The error for a handshake the crate ended with a fatal alert: one the peer sent
/// (`received`), or one sent in reply (in `sent`): `bad_record_mac`/`decrypt_error`, and the
/// `unknown_psk_identity` the crate sends for any record of a PSK association that does not
/// decrypt (a wrong key: mpssl's own identity lookup reports an unknown identity before this),
/// as the reference's `INVALID_MAC`.
fn alert_error<'a>(received: &[u8], mut sent: impl Iterator<Item = &'a Vec<u8>>) -> Error {
    if let Some(description) = plaintext_alert(received) {
        return Error::Protocol(ProtocolError::AlertReceived(
            rustls::AlertDescription::from(description),
        ));
    }
    match sent.find_map(|d| plaintext_alert(d)) {
        Some(20 | 51 | 115) => Error::Protocol(ProtocolError::BadMac),
        Some(description) => Error::Protocol(ProtocolError::Dtls(format!(
            "the handshake failed; mpssl sent the alert {:?}",
            rustls::AlertDescription::from(description)
        ))),
        None => Error::Protocol(ProtocolError::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        )),
    }
}

/// What a new DTLS session is made of.
pub(crate) struct Parts {
    pub(crate) conn: DtlsConnection,
    pub(crate) peer_check: Option<Arc<PeerCheck>>,
    pub(crate) peer_name: PeerName,
}

/// The DTLS engine of one session (see the module documentation).
pub(crate) struct DtlsConnection {
    is_client: bool,
    /// `None` on a server until the first datagram (or after parking).
    engine: Option<Engine>,
    /// A server's configuration, or the error its handshake fails with when the first
    /// datagram arrives (no certificate: a server that never hears from a client does not
    /// fail, as the reference).
    config: Result<Arc<HandshakeConfig>, Error>,
    verdict: Verdict,
    /// A server's context table and client id, for the HelloVerifyRequest.
    park: Option<(Arc<Parked>, Vec<u8>)>,
    complete: bool,
    peer_closed: bool,
    /// Datagrams read from the transport, not processed yet.
    inbox: VecDeque<Vec<u8>>,
    /// Datagrams to send.
    out: VecDeque<Vec<u8>>,
    /// Decrypted records, the first one partly read up to `plain_off`.
    plain: VecDeque<Vec<u8>>,
    plain_off: usize,
    peer_certs: Vec<CertificateDer<'static>>,
    suite: Option<&'static str>,
    /// The datagrams of our latest handshake flight, and when to send them again ourselves:
    /// see [`DtlsConnection::resend_due`].
    flight: Vec<Vec<u8>>,
    resend_at: Option<Instant>,
    resends: usize,
}

/// How often and how many times an unanswered flight is sent again (the crate's values).
const RESEND_INTERVAL: Duration = Duration::from_secs(1);
const RESEND_LIMIT: usize = 7;

impl fmt::Debug for DtlsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsConnection")
            .field("is_client", &self.is_client)
            .field("complete", &self.complete)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

fn provider() -> Result<Arc<dyn rtc_crypto::RTCCryptoProvider>, Error> {
    rtc_crypto::default_provider().map_err(|e| Error::Protocol(ProtocolError::Dtls(e.to_string())))
}

fn own_certificate(context: &SslContext, verdict: &Verdict) -> Option<Certificate> {
    let (chain, key) = context.own_certified()?;
    let spki = key
        .public_key()
        .map(|k| k.as_ref().to_vec())
        .unwrap_or_default();
    Some(Certificate {
        certificate: chain,
        private_key: CryptoPrivateKey::from_signing_key(Arc::new(RustlsKey {
            key,
            spki,
            verdict: verdict.clone(),
        })),
    })
}

fn builder(context: &SslContext, verdict: &Verdict) -> Result<ConfigBuilder, Error> {
    let mut builder = ConfigBuilder::default()
        .with_crypto_provider(provider()?)
        .with_cipher_suites(SUITES.to_vec())
        .with_extended_master_secret(ExtendedMasterSecretType::Request)
        // The chain is checked by mpssl's verifiers, in the hook below.
        .with_insecure_skip_verify(true);
    if let Some(cert) = own_certificate(context, verdict) {
        builder = builder.with_certificates(vec![cert]);
    }
    Ok(builder)
}

/// A PSK configuration when the context does PSK (as TLS: identity and key on a client, a
/// lookup on a server): `TLS-PSK-WITH-AES-128-GCM-SHA256` only, no certificates.
fn psk_builder(context: &SslContext, verdict: &Verdict) -> Result<Option<ConfigBuilder>, Error> {
    let Some(config) = context.psk_config()? else {
        return Ok(None);
    };
    let builder = ConfigBuilder::default()
        .with_crypto_provider(provider()?)
        .with_cipher_suites(vec![CipherSuiteId::Tls_Psk_With_Aes_128_Gcm_Sha256])
        .with_extended_master_secret(ExtendedMasterSecretType::Request)
        .with_insecure_skip_verify(true);
    Ok(Some(match config.role {
        PskRole::Client { identity, key } => builder
            .with_psk(Some(Arc::new(move |_hint: &[u8]| Ok(key.clone()))))
            .with_psk_identity_hint(Some(identity)),
        PskRole::Server { lookup, hint } => {
            let verdict = verdict.clone();
            builder
                .with_psk(Some(Arc::new(move |identity: &[u8]| {
                    match lookup
                        .key(identity)
                        .filter(|k| !k.is_empty() && k.len() <= crate::psk::MAX_KEY_LEN)
                    {
                        Some(key) => Ok(key),
                        None => Err(leave(
                            &verdict,
                            Error::Protocol(ProtocolError::UnknownPskIdentity),
                        )),
                    }
                })))
                .with_psk_identity_hint(hint)
        }
    }))
}

fn der_chain(certs: &[Vec<u8>]) -> Vec<CertificateDer<'static>> {
    certs
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect()
}

fn built_error(e: &rtc_shared::error::Error) -> Error {
    use rtc_shared::error::Error as E;
    match e {
        E::ErrServerMustHaveCertificate => Error::Config(crate::error::ConfigError::NoCertificate),
        other => Error::Protocol(ProtocolError::Dtls(other.to_string())),
    }
}

impl DtlsConnection {
    /// A client session: the ClientHello is queued at once.
    pub(crate) fn client(context: &SslContext, name: PeerName) -> Result<Parts, Error> {
        let verdict = Verdict::default();
        let (mut builder, check) = match psk_builder(context, &verdict)? {
            Some(psk) => (psk, None),
            None => {
                let Built::Client(_, check) = context.built()? else {
                    return Err(Error::Protocol(ProtocolError::Dtls(
                        "a DTLS client session needs a client context".to_owned(),
                    )));
                };
                let verifier = ServerVerifier {
                    check: check.clone(),
                    rule: name.rule(),
                };
                let server_name = name.for_rustls();
                let hook_verdict = verdict.clone();
                let hook: VerifyPeerCertificateFn = Arc::new(move |certs, _| {
                    let chain = der_chain(certs);
                    let Some((leaf, intermediates)) = chain.split_first() else {
                        return Err(rtc_shared::error::Error::ErrInvalidCertificate);
                    };
                    verifier
                        .verify_server_cert(leaf, intermediates, &server_name, &[], UnixTime::now())
                        .map(|_| ())
                        .map_err(|e| leave(&hook_verdict, Error::from(e)))
                });
                let builder = builder(context, &verdict)?.with_verify_peer_certificate(Some(hook));
                (builder, Some(check))
            }
        };
        if let PeerName::Given(rustls_pki_types::ServerName::DnsName(dns)) = &name {
            builder = builder.with_server_name(dns.as_ref().to_owned());
        }
        let config = builder.build(true, None).map_err(|e| built_error(&e))?;
        let mut endpoint = Endpoint::new(LOCAL, Default::default(), None);
        endpoint
            .connect(Instant::now(), PEER, Arc::new(config), None)
            .map_err(|e| from_crate(&e))?;
        let checked = match &check {
            Some(check) if check.check_names => name,
            _ => PeerName::Absent,
        };
        let mut conn = Self::new(true, Err(Error::Closed), verdict.clone(), None);
        conn.engine = Some(Engine { endpoint, verdict });
        conn.drain();
        Ok(Parts {
            conn,
            peer_check: check,
            peer_name: checked,
        })
    }

    /// A server session for the client `client_id`: resumes the handshake parked for it, if any.
    pub(crate) fn server(context: &SslContext, client_id: &[u8]) -> Result<Parts, Error> {
        let verdict = Verdict::default();
        let psk = psk_builder(context, &verdict)?;
        let check = match psk {
            Some(_) => None,
            None => {
                let Built::Server(_, check, _) = context.built()? else {
                    return Err(Error::Protocol(ProtocolError::Dtls(
                        "a DTLS server session needs a server context".to_owned(),
                    )));
                };
                Some(check)
            }
        };
        let parked = context.dtls_parked().clone();
        let park = Some((parked.clone(), client_id.to_vec()));
        if let Some(engine) = parked.take(client_id) {
            let verdict = engine.verdict.clone();
            let mut conn = Self::new(false, Err(Error::Closed), verdict, park);
            conn.engine = Some(engine);
            return Ok(Parts {
                conn,
                peer_check: check,
                peer_name: PeerName::Absent,
            });
        }
        let config = match (psk, &check, context.handshake_precondition()) {
            (Some(psk), _, _) => psk
                .build(false, None)
                .map(Arc::new)
                .map_err(|e| built_error(&e)),
            (None, _, Some(e)) => Err(e),
            (None, Some(check), None) => Self::server_config(context, check, &verdict),
            (None, None, None) => Err(Error::Closed),
        };
        Ok(Parts {
            conn: Self::new(false, config, verdict, park),
            peer_check: check,
            peer_name: PeerName::Absent,
        })
    }

    fn server_config(
        context: &SslContext,
        check: &Arc<PeerCheck>,
        verdict: &Verdict,
    ) -> Result<Arc<HandshakeConfig>, Error> {
        let verifier = ClientVerifier {
            check: check.clone(),
        };
        let auth = match check.mode {
            crate::VerifyMode::None => ClientAuthType::NoClientCert,
            crate::VerifyMode::Optional => ClientAuthType::RequestClientCert,
            crate::VerifyMode::Required => ClientAuthType::RequireAnyClientCert,
        };
        let hook_verdict = verdict.clone();
        let hook: VerifyPeerCertificateFn = Arc::new(move |certs, _| {
            let chain = der_chain(certs);
            let Some((leaf, intermediates)) = chain.split_first() else {
                return Ok(());
            };
            verifier
                .verify_client_cert(leaf, intermediates, UnixTime::now())
                .map(|_| ())
                .map_err(|e| leave(&hook_verdict, Error::from(e)))
        });
        let config = builder(context, verdict)?
            .with_client_auth(auth)
            .with_verify_peer_certificate(Some(hook))
            .build(false, None)
            .map_err(|e| built_error(&e))?;
        Ok(Arc::new(config))
    }

    fn new(
        is_client: bool,
        config: Result<Arc<HandshakeConfig>, Error>,
        verdict: Verdict,
        park: Option<(Arc<Parked>, Vec<u8>)>,
    ) -> Self {
        Self {
            is_client,
            engine: None,
            config,
            verdict,
            park,
            complete: false,
            peer_closed: false,
            inbox: VecDeque::new(),
            out: VecDeque::new(),
            plain: VecDeque::new(),
            plain_off: 0,
            peer_certs: Vec::new(),
            suite: None,
            flight: Vec::new(),
            resend_at: None,
            resends: 0,
        }
    }

    /// Move the crate's queued datagrams to ours; true when one is a HelloVerifyRequest.
    fn drain(&mut self) -> bool {
        let mut hello_verify = false;
        let mut batch = Vec::new();
        if let Some(engine) = self.engine.as_mut() {
            while let Some(message) = engine.endpoint.poll_transmit() {
                let datagram = message.message.to_vec();
                // A handshake record (22) whose first message is hello_verify_request (3).
                if datagram.len() > 13 && datagram[0] == 22 && datagram[13] == 3 {
                    hello_verify = true;
                }
                batch.push(datagram.clone());
                self.out.push_back(datagram);
            }
        }
        if !batch.is_empty() && !self.complete {
            self.flight = batch;
            self.resend_at = None;
            self.resends = 0;
        }
        hello_verify
    }

    /// The error a failed crate call stands for: what a hook left, else the crate's.
    fn failure(&mut self, e: &rtc_shared::error::Error) -> Error {
        match self
            .verdict
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(left) => left,
            None => from_crate(e),
        }
    }

    /// The crate stops retransmitting a flight once any handshake datagram arrived that did not
    /// complete the peer's next flight (its `wait()` disarms the timer before parsing, and an
    /// incomplete flight leaves it disarmed): a server whose first flight is lost twice would
    /// then never send it again, though the client keeps repeating its ClientHello. So while
    /// the handshake runs and the crate has no timer, mpssl sends the flight's datagrams again
    /// itself, every [`RESEND_INTERVAL`], at most [`RESEND_LIMIT`] times (as the crate would);
    /// a peer that already has them drops the copies as replays. Arms that timer when needed;
    /// true when it is due.
    fn resend_due(&mut self, now: Instant) -> bool {
        let crate_timer = self
            .engine
            .as_ref()
            .and_then(|e| e.endpoint.poll_timeout(&PEER));
        if self.complete || self.flight.is_empty() || crate_timer.is_some() {
            self.resend_at = None;
            return false;
        }
        match self.resend_at {
            Some(at) => now >= at,
            None => {
                self.resend_at = Some(now + RESEND_INTERVAL);
                false
            }
        }
    }

    /// Fire the retransmissions that are due.
    pub(crate) fn tick(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if self.resend_due(now) {
            self.resends += 1;
            if self.resends > RESEND_LIMIT {
                return Err(Error::Protocol(ProtocolError::DtlsTimeout));
            }
            self.out.extend(self.flight.iter().cloned());
            self.resend_at = Some(now + RESEND_INTERVAL);
            return Ok(());
        }
        let Some(engine) = self.engine.as_mut() else {
            return Ok(());
        };
        let due = engine
            .endpoint
            .poll_timeout(&PEER)
            .is_some_and(|at| now >= at);
        if !due {
            return Ok(());
        }
        let result = engine.endpoint.handle_timeout(PEER, now);
        self.drain();
        result.map_err(|e| match self.failure(&e) {
            Error::Protocol(ProtocolError::Dtls(_)) => Error::Protocol(ProtocolError::DtlsTimeout),
            other => other,
        })
    }

    /// How long until [`DtlsConnection::tick`] has work (`None`: no timer is armed).
    pub(crate) fn next_timeout(&self) -> Option<Duration> {
        let crate_timer = self.engine.as_ref()?.endpoint.poll_timeout(&PEER);
        let at = match (crate_timer, self.resend_at) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(at.saturating_duration_since(Instant::now()))
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        !self.complete
    }

    pub(crate) fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    pub(crate) fn is_client(&self) -> bool {
        self.is_client
    }

    /// One transport read: one datagram (0: the transport ended).
    pub(crate) fn read_tls(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let n = rd.read(&mut buf)?;
        let n = n.min(buf.len());
        if n > 0 {
            buf.truncate(n);
            self.inbox.push_back(buf);
        }
        Ok(n)
    }

    /// Process the datagrams read.
    pub(crate) fn process_new_packets(&mut self) -> Result<(), Error> {
        while let Some(datagram) = self.inbox.pop_front() {
            self.feed(&datagram)?;
        }
        Ok(())
    }

    fn feed(&mut self, datagram: &[u8]) -> Result<(), Error> {
        if self.peer_closed {
            return Ok(());
        }
        let now = Instant::now();
        if self.engine.is_none() {
            let config = self.config.clone()?;
            self.engine = Some(Engine {
                endpoint: Endpoint::new(LOCAL, Default::default(), Some(config)),
                verdict: self.verdict.clone(),
            });
        }
        let Some(engine) = self.engine.as_mut() else {
            return Ok(());
        };
        let result = engine
            .endpoint
            .read(now, PEER, None, BytesMut::from(datagram));
        let sent_before = self.out.len();
        let hello_verify = self.drain();
        let events = result.map_err(|e| {
            let left = self
                .verdict
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match (left, &e) {
                (Some(left), _) => left,
                // The crate reports a fatal alert the same way whether the peer sent it or it
                // sent one itself: tell them apart from the records (plaintext alerts only).
                (None, rtc_shared::error::Error::ErrAlertFatalOrClose) => {
                    alert_error(datagram, self.out.iter().skip(sent_before))
                }
                (None, other) => from_crate(other),
            }
        })?;
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete => self.completed(),
                EndpointEvent::ApplicationData(data) if !data.is_empty() => {
                    self.plain.push_back(data.to_vec());
                }
                EndpointEvent::PeerClosed => self.peer_closed = true,
                _ => {}
            }
        }
        if hello_verify && !self.is_client && !self.complete {
            if let (Some((parked, id)), Some(engine)) = (self.park.as_ref(), self.engine.take()) {
                parked.park(id.clone(), engine);
            }
            return Err(Error::Protocol(ProtocolError::HelloVerifyRequired));
        }
        // Arm our own resend timer if the crate disarmed its own.
        self.resend_due(now);
        Ok(())
    }

    fn completed(&mut self) {
        self.complete = true;
        let Some(engine) = self.engine.as_ref() else {
            return;
        };
        if let Some(state) = engine.endpoint.get_connection_state(PEER) {
            self.peer_certs = der_chain(&state.peer_certificates);
            self.suite = state.cipher_suite().map(|s| suite_name(s.id()));
        }
    }

    /// Send one datagram (a short write is an error).
    pub(crate) fn write_tls(&mut self, wr: &mut dyn Write) -> io::Result<usize> {
        let Some(datagram) = self.out.pop_front() else {
            return Ok(0);
        };
        match wr.write(&datagram) {
            Ok(n) if n == datagram.len() => Ok(n),
            Ok(n) => Err(io::Error::other(format!(
                "the transport took {n} bytes of a {}-byte datagram",
                datagram.len()
            ))),
            Err(e) => {
                self.out.push_front(datagram);
                Err(e)
            }
        }
    }

    /// As rustls's reader `read`: data, `Ok(0)` after close_notify, else `WouldBlock`.
    pub(crate) fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.fill_plain()?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume_plain(n);
        Ok(n)
    }

    pub(crate) fn fill_plain(&mut self) -> io::Result<&[u8]> {
        match self.plain.front() {
            Some(record) => Ok(record.get(self.plain_off..).unwrap_or_default()),
            None if self.peer_closed => Ok(&[]),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    pub(crate) fn consume_plain(&mut self, n: usize) {
        let Some(record) = self.plain.front() else {
            return;
        };
        self.plain_off += n;
        if self.plain_off >= record.len() {
            self.plain.pop_front();
            self.plain_off = 0;
        }
    }

    /// One record of plaintext (at most [`MAX_PLAINTEXT`] bytes); 0 while `limit` bytes are
    /// queued.
    pub(crate) fn write_plain(&mut self, buf: &[u8], limit: usize) -> io::Result<usize> {
        if !self.complete {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if self.out.iter().map(Vec::len).sum::<usize>() >= limit {
            return Ok(0);
        }
        let take = buf.len().min(MAX_PLAINTEXT);
        let Some(engine) = self.engine.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        engine
            .endpoint
            .write(Instant::now(), PEER, &buf[..take])
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.drain();
        Ok(take)
    }

    /// Queue close_notify (one datagram).
    pub(crate) fn send_close_notify(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.endpoint.stop(Instant::now(), PEER);
        }
        self.drain();
    }

    pub(crate) fn cipher_name(&self) -> Option<&'static str> {
        self.suite
    }

    pub(crate) fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        if self.peer_certs.is_empty() {
            None
        } else {
            Some(&self.peer_certs)
        }
    }
}

/// A DTLS server session needs the client's transport address as `client_id`.
pub(crate) fn missing_client_id() -> Error {
    Error::Argument(ArgumentError::ClientIdRequired)
}
