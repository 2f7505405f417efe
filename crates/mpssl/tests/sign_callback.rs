//! `ecdsa_sign_callback`: handshake signatures through a callback (as a secure element would
//! make them), between two in-memory sessions, TLS 1.2 and 1.3, server and client sides.
// The test callback and handshake helpers unwrap: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{self, EcdsaKeyPair, EcdsaSigningAlgorithm};
use common::*;
use mpssl::{EcdsaSignCallback, Error, ExceptionClass, SignError, SslContext, VerifyMode};

const TLS12_SUITE: &str = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256";

/// What the test callback does.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Sign the hash with aws-lc-rs (as a secure element would).
    Sign,
    /// Return `None`: mpssl signs in software.
    Decline,
    /// Fail (a Python callback raising).
    Fail,
    /// Return bytes that are not a DER signature.
    Garbage,
    /// Return more bytes than any signature on the curve.
    TooLong,
    /// Return a well-formed signature of a different hash.
    WrongHash,
}

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

/// A callback holding the key pair it signs with; it records every call's (scalar, hash).
#[derive(Debug)]
struct Element {
    pair: EcdsaKeyPair,
    digest: &'static digest::Algorithm,
    answer: Answer,
    calls: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl Element {
    fn new(key_der: &[u8], alg: &'static EcdsaSigningAlgorithm, answer: Answer) -> Arc<Self> {
        let digest = if std::ptr::eq(alg, &signature::ECDSA_P384_SHA384_ASN1_SIGNING) {
            &digest::SHA384
        } else {
            &digest::SHA256
        };
        Arc::new(Self {
            pair: EcdsaKeyPair::from_private_key_der(alg, key_der).unwrap(),
            digest,
            answer,
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.calls.lock().unwrap().clone()
    }

    fn scalar(&self) -> Vec<u8> {
        self.pair
            .private_key()
            .as_be_bytes()
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn sign_hash(&self, hash: &[u8]) -> Vec<u8> {
        let digest = Digest::import_less_safe(hash, self.digest).unwrap();
        self.pair.sign_digest(&digest).unwrap().as_ref().to_vec()
    }
}

impl EcdsaSignCallback for Element {
    fn sign(
        &self,
        private_key: &[u8],
        hash: &[u8],
    ) -> Result<Option<Vec<u8>>, Arc<dyn std::error::Error + Send + Sync>> {
        self.calls
            .lock()
            .unwrap()
            .push((private_key.to_vec(), hash.to_vec()));
        Ok(match self.answer {
            Answer::Sign => Some(self.sign_hash(hash)),
            Answer::Decline => None,
            Answer::Fail => return Err(Arc::new(Boom)),
            Answer::Garbage => Some(b"\x30\x03\x02\x01\x01".to_vec()),
            Answer::TooLong => Some(vec![0x30; 200]),
            Answer::WrongHash => Some(self.sign_hash(&vec![0x55; hash.len()])),
        })
    }
}

fn p256_element(answer: Answer) -> Arc<Element> {
    let leaf = Cert::testdata("ecdsa-p256", "server-test");
    Element::new(
        &leaf.key_der,
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        answer,
    )
}

/// Handshake the fixture's pair with `element` signing on the server; TLS 1.2 when `tls12`.
fn server_handshake(element: &Arc<Element>, tls12: bool) -> Result<(), Error> {
    let mut f = fixture();
    f.server
        .set_ecdsa_sign_callback(Some(element.clone() as Arc<dyn EcdsaSignCallback>));
    if tls12 {
        f.client.set_ciphers(&[TLS12_SUITE]).unwrap();
    }
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    let result = do_handshake(&mut c, &mut s);
    if result.is_ok() {
        let want = if tls12 { "TLSv1.2" } else { "TLSv1.3" };
        assert_eq!(c.protocol_version(), Some(want));
        assert_eq!(send(&mut c, &mut s, b"ping").unwrap(), b"ping");
    }
    result
}

/// Handshake with client authentication, `element` signing the client's CertificateVerify.
fn client_handshake(element: &Arc<Element>, tls12: bool) -> Result<(), Error> {
    let f = fixture();
    let mut server = f.server;
    server.set_verify_mode(VerifyMode::Required);
    server
        .load_verify_locations(f.ca.cert.cert_pem.as_bytes())
        .unwrap();
    let mut client = f.client;
    let cert = Cert::testdata("ecdsa-p256", "client");
    client
        .load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .unwrap();
    client.set_ecdsa_sign_callback(Some(element.clone() as Arc<dyn EcdsaSignCallback>));
    if tls12 {
        client.set_ciphers(&[TLS12_SUITE]).unwrap();
    }
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    let result = do_handshake(&mut c, &mut s);
    if result.is_ok() {
        assert!(
            s.peer_certificates().is_some(),
            "the client was authenticated"
        );
    }
    result
}

fn client_element(answer: Answer) -> Arc<Element> {
    let cert = Cert::testdata("ecdsa-p256", "client");
    Element::new(
        &cert.key_der,
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        answer,
    )
}

fn assert_one_call(element: &Element, hash_len: usize) {
    let calls = element.calls();
    assert_eq!(calls.len(), 1, "one handshake signature, one call");
    assert_eq!(
        calls[0].0,
        element.scalar(),
        "the private scalar, big-endian"
    );
    assert_eq!(calls[0].1.len(), hash_len);
}

fn sign_error(result: Result<(), Error>) -> SignError {
    match result {
        Err(Error::Sign(e)) => e,
        other => panic!("expected a sign error, got {other:?}"),
    }
}

#[test]
fn server_signs_through_the_callback() {
    for tls12 in [false, true] {
        let element = p256_element(Answer::Sign);
        server_handshake(&element, tls12).unwrap();
        assert_one_call(&element, 32);
    }
}

#[test]
fn client_signs_certificate_verify_through_the_callback() {
    for tls12 in [false, true] {
        let element = client_element(Answer::Sign);
        client_handshake(&element, tls12).unwrap();
        assert_one_call(&element, 32);
    }
}

#[test]
fn p384_key_gets_a_sha384_hash() {
    let ca = Ca::testdata("ecdsa-p384");
    let leaf = Cert::testdata("ecdsa-p384", "server");
    let element = Element::new(
        &leaf.key_der,
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        Answer::Sign,
    );
    let mut server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    server.set_ecdsa_sign_callback(Some(element.clone() as Arc<dyn EcdsaSignCallback>));
    let mut client = client_ctx(&ca.cert.cert_pem);
    client.set_verify_mode(VerifyMode::None);
    let (mut c, mut s) = make_pair(&client, &server, Some("localhost"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_one_call(&element, 48);
}

#[test]
fn declining_falls_back_to_software_signing() {
    for tls12 in [false, true] {
        let element = p256_element(Answer::Decline);
        server_handshake(&element, tls12).unwrap();
        assert_one_call(&element, 32);
        let element = client_element(Answer::Decline);
        client_handshake(&element, tls12).unwrap();
        assert_one_call(&element, 32);
    }
}

#[test]
fn a_failing_callback_fails_the_handshake_and_carries_its_error() {
    for tls12 in [false, true] {
        for client_side in [false, true] {
            let element = if client_side {
                client_element(Answer::Fail)
            } else {
                p256_element(Answer::Fail)
            };
            let result = if client_side {
                client_handshake(&element, tls12)
            } else {
                server_handshake(&element, tls12)
            };
            let e = result.unwrap_err();
            assert!(e.carried().unwrap().downcast_ref::<Boom>().is_some());
            let report = e.report();
            assert_eq!(report.class, ExceptionClass::Os);
            assert_eq!(
                (report.code, report.text.as_str()),
                (-20352, "MBEDTLS_ERR_ECP_BAD_INPUT_DATA")
            );
            assert!(matches!(sign_error(Err(e)), SignError::Failed(_)));
            assert_eq!(element.calls().len(), 1);
        }
    }
}

#[test]
fn a_signature_that_does_not_verify_is_refused_before_it_is_sent() {
    for answer in [Answer::Garbage, Answer::WrongHash] {
        for tls12 in [false, true] {
            let element = p256_element(answer);
            let e = sign_error(server_handshake(&element, tls12));
            assert!(matches!(e, SignError::Invalid), "{e:?}");
            let element = client_element(answer);
            let e = sign_error(client_handshake(&element, tls12));
            assert!(matches!(e, SignError::Invalid), "{e:?}");
        }
    }
    let report = Error::Sign(SignError::Invalid).report();
    assert_eq!(
        (report.code, report.text.as_str()),
        (-19968, "MBEDTLS_ERR_ECP_VERIFY_FAILED")
    );
}

#[test]
fn a_signature_longer_than_the_curve_allows_is_refused() {
    let element = p256_element(Answer::TooLong);
    let e = sign_error(server_handshake(&element, false));
    assert!(
        matches!(e, SignError::TooLong { len: 200, max: 72 }),
        "{e:?}"
    );
    let report = Error::Sign(e).report();
    assert_eq!(
        (report.code, report.text.as_str()),
        (-20224, "MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL")
    );
}

#[test]
fn non_ecdsa_keys_never_call_the_callback() {
    for kind in ["rsa-2048", "ed25519"] {
        let ca = Ca::testdata(kind);
        let leaf = Cert::testdata(kind, "server");
        let element = p256_element(Answer::Fail);
        let mut server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
        server.set_ecdsa_sign_callback(Some(element.clone() as Arc<dyn EcdsaSignCallback>));
        let mut client = client_ctx(&ca.cert.cert_pem);
        client.set_verify_mode(VerifyMode::None);
        let (mut c, mut s) = make_pair(&client, &server, Some("localhost"));
        do_handshake(&mut c, &mut s).unwrap();
        assert!(element.calls().is_empty(), "{kind}");
    }
}

#[test]
fn removing_the_callback_signs_in_software_again() {
    let element = p256_element(Answer::Fail);
    let mut f = fixture();
    f.server
        .set_ecdsa_sign_callback(Some(element.clone() as Arc<dyn EcdsaSignCallback>));
    let server: SslContext = f.server.clone();
    let (mut c, mut s) = make_pair(&f.client, &server, Some("server.test"));
    assert!(do_handshake(&mut c, &mut s).is_err());
    f.server.set_ecdsa_sign_callback(None);
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(element.calls().len(), 1);
}
