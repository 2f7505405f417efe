//! Handshakes between two in-memory sessions: protocol versions, cipher suites, SNI, key and
//! certificate formats, resumption, and server-side client authentication.

mod common;

use common::*;
use mpssl::{
    ConfigError, Error, KeyError, Protocol, ProtocolError, SslContext, VerifyFlags, VerifyMode,
};

#[test]
fn tls13_by_default() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    assert_eq!(c.protocol_version(), None);
    assert_eq!(c.cipher_name(), None);
    do_handshake(&mut c, &mut s).unwrap();
    for side in [&c, &s] {
        assert_eq!(side.protocol_version(), Some("TLSv1.3"));
        // Our preference order puts AES-256-GCM first.
        assert_eq!(side.cipher_name(), Some("TLS-AES-256-GCM-SHA384"));
        assert_eq!(side.cipher_bits(), Some(256));
    }
    assert_eq!(s.sni_hostname(), Some("server.test"));
    assert!(c.key_exchange_group().is_some());
    let peer = c.peer_certificates().expect("server certificate");
    assert_eq!(peer[0].as_ref(), f.leaf.cert_der.as_slice());
    assert!(
        s.peer_certificates().is_none(),
        "no client certificate was asked for"
    );
}

#[test]
fn tls12_when_only_tls12_suites_are_enabled() {
    let mut f = fixture();
    f.client
        .set_ciphers(&["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])
        .unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    for side in [&c, &s] {
        assert_eq!(side.protocol_version(), Some("TLSv1.2"));
        assert_eq!(
            side.cipher_name(),
            Some("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256")
        );
        assert_eq!(side.cipher_bits(), Some(128));
    }
    // Data flows over TLS 1.2 too.
    assert_eq!(send(&mut c, &mut s, b"ping").unwrap(), b"ping");
    assert_eq!(send(&mut s, &mut c, b"pong").unwrap(), b"pong");
}

#[test]
fn tls12_forced_by_the_server() {
    let mut f = fixture();
    f.server
        .set_ciphers(&["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"])
        .unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.protocol_version(), Some("TLSv1.2"));
    assert_eq!(
        c.cipher_name(),
        Some("TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256")
    );
}

#[test]
fn chosen_tls13_suite_is_negotiated() {
    let mut f = fixture();
    f.client
        .set_ciphers(&["TLS-CHACHA20-POLY1305-SHA256"])
        .unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.cipher_name(), Some("TLS-CHACHA20-POLY1305-SHA256"));
    assert_eq!(c.protocol_version(), Some("TLSv1.3"));
}

#[test]
fn no_shared_suite_fails_with_a_tls_error() {
    let mut f = fixture();
    // The server's key is ECDSA; an RSA-only suite list cannot be served.
    f.client
        .set_ciphers(&["TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"])
        .unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    let err = do_handshake(&mut c, &mut s).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    // The server's alert reaches the client as a received alert.
    match transfer(&mut s, &mut c) {
        Err(Error::Protocol(ProtocolError::AlertReceived(_))) => {}
        other => panic!("expected an alert on the client, got {other:?}"),
    }
}

#[test]
fn ip_address_host_sends_no_sni() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    let client = client_ctx(&ca.cert.cert_pem);
    let (mut c, mut s) = make_pair(&client, &server, Some("127.0.0.1"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.sni_hostname(), None);
}

#[test]
fn resumption_reuses_the_session() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert!(!c.session_reused());
    // Deliver the TLS 1.3 session tickets.
    assert!(transfer(&mut s, &mut c).unwrap().is_empty());
    let (mut c2, mut s2) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c2, &mut s2).unwrap();
    assert!(c2.session_reused());
    assert!(s2.session_reused());
}

#[test]
fn chain_with_intermediate_in_pem_and_der() {
    let root = Ca::new("root");
    let inter = root.intermediate("intermediate");
    let leaf = inter.leaf(&["server.test"]);
    let client = client_ctx(&root.cert.cert_pem);

    // One PEM holding the leaf and the intermediate.
    let pem_chain = format!("{}{}", leaf.cert_pem, inter.cert.cert_pem);
    let server = server_ctx(&pem_chain, &leaf.key_pem);
    assert_eq!(server.cert_chain().len(), 2);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.peer_certificates().map(<[_]>::len), Some(2));

    // The same chain built one DER certificate at a time, leaf first.
    let mut server = SslContext::new(Protocol::Server);
    server
        .load_cert_chain(&leaf.cert_der, &leaf.key_der)
        .unwrap();
    server
        .load_cert_chain(&inter.cert.cert_der, &leaf.key_der)
        .unwrap();
    assert_eq!(server.cert_chain().len(), 2);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();

    // Without the intermediate the chain does not reach the root.
    let server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    assert_eq!(
        verify_flags(do_handshake(&mut c, &mut s)),
        VerifyFlags::NOT_TRUSTED
    );
}

#[test]
fn several_cas_in_one_pem() {
    let other = Ca::new("other CA");
    let f = fixture();
    let bundle = format!("{}{}", other.cert.cert_pem, f.ca.cert.cert_pem);
    let mut client = SslContext::new(Protocol::Client);
    client.load_verify_locations(bundle.as_bytes()).unwrap();
    assert_eq!(client.ca_count(), 2);
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
}

#[test]
fn der_ca_and_der_key() {
    let f = fixture();
    let mut client = SslContext::new(Protocol::Client);
    client.load_verify_locations(&f.ca.cert.cert_der).unwrap();
    assert_eq!(client.ca_count(), 1);
    let mut server = SslContext::new(Protocol::Server);
    server
        .load_cert_chain(&f.leaf.cert_der, &f.leaf.key_der)
        .unwrap();
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
}

/// Handshake against a server using `cert`, with both TLS 1.3 and the given TLS 1.2 suite.
fn handshake_with_key(ca: &Ca, cert: &Cert, tls12_suite: &str, use_der: bool) -> Result<(), Error> {
    let mut server = SslContext::new(Protocol::Server);
    if use_der {
        server.load_cert_chain(&cert.cert_der, &cert.key_der)?;
    } else {
        server.load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())?;
    }
    let mut client = client_ctx(&ca.cert.cert_pem);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s)?;
    assert_eq!(c.protocol_version(), Some("TLSv1.3"));
    client.set_ciphers(&[tls12_suite])?;
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s)?;
    assert_eq!(c.cipher_name(), Some(tls12_suite));
    Ok(())
}

#[test]
fn pkcs8_ecdsa_key_pem_and_der() {
    let ca = Ca::new("CA");
    let cert = ca.leaf(&["server.test"]);
    assert!(cert.key_pem.contains("BEGIN PRIVATE KEY"));
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", false).unwrap();
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", true).unwrap();
}

#[test]
fn ecdsa_p384_key() {
    let ca = Ca::new("CA");
    let cert = leaf_with_alg(&ca, &["server.test"], &rcgen::PKCS_ECDSA_P384_SHA384);
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", false).unwrap();
}

#[test]
fn pkcs8_rsa_key() {
    let ca = Ca::new("CA");
    let cert = leaf_with_alg(&ca, &["server.test"], &rcgen::PKCS_RSA_SHA256);
    handshake_with_key(&ca, &cert, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", false).unwrap();
}

#[test]
fn pkcs1_rsa_key_pem_and_der() {
    let ca = Ca::new("CA");
    let cert = leaf_with_pem_key(
        &ca,
        &["server.test"],
        RSA2048_PKCS1_PEM,
        &rcgen::PKCS_RSA_SHA256,
    );
    assert!(cert.key_pem.contains("BEGIN RSA PRIVATE KEY"));
    handshake_with_key(&ca, &cert, "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384", false).unwrap();
    handshake_with_key(
        &ca,
        &cert,
        "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
        true,
    )
    .unwrap();
}

#[test]
fn sec1_ec_key_pem_and_der() {
    let ca = Ca::new("CA");
    let cert = leaf_with_pem_key(
        &ca,
        &["server.test"],
        EC_SEC1_PEM,
        &rcgen::PKCS_ECDSA_P256_SHA256,
    );
    assert!(cert.key_pem.contains("BEGIN EC PRIVATE KEY"));
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", false).unwrap();
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", true).unwrap();
}

#[test]
fn ed25519_key() {
    let ca = Ca::new("CA");
    let cert = leaf_with_alg(&ca, &["server.test"], &rcgen::PKCS_ED25519);
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", false).unwrap();
    handshake_with_key(&ca, &cert, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", true).unwrap();
}

#[test]
fn rsa_1024_key_loads_but_the_handshake_fails() {
    let ca = Ca::new("CA");
    let spki = ForeignKey::rsa_from_spki_pem(RSA1024_SPKI_PEM);
    let cert = ca.leaf_for_public_key(&["server.test"], &spki, RSA1024_PKCS8_PEM);
    let mut server = SslContext::new(Protocol::Server);
    server
        .load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .unwrap();
    let client = client_ctx(&ca.cert.cert_pem);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    match do_handshake(&mut c, &mut s) {
        Err(Error::Key(KeyError::Unusable { bits })) => assert_eq!(bits, 1024),
        other => panic!("expected UnusableKey, got {other:?}"),
    }
    // Sticky: the server session keeps failing the same way.
    assert!(matches!(
        s.check(),
        Err(Error::Key(KeyError::Unusable { .. }))
    ));

    // The same key as DER loads too.
    let mut server = SslContext::new(Protocol::Server);
    server
        .load_cert_chain(&cert.cert_der, &cert.key_der)
        .unwrap();
}

#[test]
fn rsa_1024_client_key_fails_the_client_before_io() {
    let ca = Ca::new("CA");
    let spki = ForeignKey::rsa_from_spki_pem(RSA1024_SPKI_PEM);
    let cert = ca.leaf_for_public_key(&["client.test"], &spki, RSA1024_PKCS8_PEM);
    let mut client = client_ctx(&ca.cert.cert_pem);
    client
        .load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .unwrap();
    let io = ScriptedIo::new();
    let mut tls = client.wrap(io.clone(), Some("server.test")).unwrap();
    match tls.handshake() {
        Err(Error::Key(KeyError::Unusable { bits })) => assert_eq!(bits, 1024),
        other => panic!("expected UnusableKey, got {other:?}"),
    }
    assert_eq!(io.calls(), (0, 0), "nothing may reach the transport");
}

#[test]
fn server_without_certificate_fails_before_io() {
    let server = SslContext::new(Protocol::Server);
    let io = ScriptedIo::new();
    io.push_incoming(b"\x16\x03\x01\x00\x05hello");
    let mut tls = server.wrap(io.clone(), None).unwrap();
    assert!(matches!(
        tls.handshake(),
        Err(Error::Config(ConfigError::NoCertificate))
    ));
    assert_eq!(io.calls(), (0, 0), "nothing may reach the transport");
    // Sticky.
    assert!(matches!(
        tls.read_stream(&mut [0u8; 4]),
        Err(Error::Config(ConfigError::NoCertificate))
    ));
    // The same error through the sans-IO session.
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &server, Some("server.test"));
    assert!(matches!(
        do_handshake(&mut c, &mut s),
        Err(Error::Config(ConfigError::NoCertificate))
    ));
}

// --- server-side client authentication -------------------------------------------------------

struct Mutual {
    client: SslContext,
    server: SslContext,
}

/// Server with `mode` trusting `ca`; client trusting the server's CA, with `client_cert`.
fn mutual(mode: VerifyMode, client_cert: Option<&Cert>) -> Result<(Mutual, Ca), Error> {
    let f = fixture();
    let mut server = f.server;
    server.set_verify_mode(mode);
    server.load_verify_locations(f.ca.cert.cert_pem.as_bytes())?;
    let mut client = f.client;
    if let Some(cert) = client_cert {
        client.load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())?;
    }
    Ok((Mutual { client, server }, f.ca))
}

#[test]
fn mutual_tls_with_client_certificate() {
    let (m, ca) = mutual(VerifyMode::Required, None).unwrap();
    let client_cert = ca.leaf(&["client.test"]);
    let mut client = m.client;
    client
        .load_cert_chain(
            client_cert.cert_pem.as_bytes(),
            client_cert.key_pem.as_bytes(),
        )
        .unwrap();
    for tls12 in [false, true] {
        if tls12 {
            client
                .set_ciphers(&["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])
                .unwrap();
        }
        let (mut c, mut s) = make_pair(&client, &m.server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        let peer = s.peer_certificates().expect("client certificate");
        assert_eq!(peer[0].as_ref(), client_cert.cert_der.as_slice());
        assert_eq!(send(&mut c, &mut s, b"hi").unwrap(), b"hi");
    }
}

#[test]
fn mutual_tls_without_client_certificate_tls13() {
    let (m, _) = mutual(VerifyMode::Required, None).unwrap();
    let (mut c, mut s) = make_pair(&m.client, &m.server, Some("server.test"));
    match do_handshake(&mut c, &mut s) {
        Err(Error::Protocol(ProtocolError::NoClientCertificate)) => {}
        other => panic!("expected NoCertificatesPresented on the server, got {other:?}"),
    }
    // In TLS 1.3 the client finished its side; it learns of the failure when it reads.
    assert!(!c.is_handshaking());
    match transfer(&mut s, &mut c) {
        Err(Error::Protocol(ProtocolError::AlertReceived(_))) => {}
        other => panic!("expected an alert on the client, got {other:?}"),
    }
    // Both sides are sticky.
    assert!(matches!(
        s.check(),
        Err(Error::Protocol(ProtocolError::NoClientCertificate))
    ));
    assert!(matches!(
        c.check(),
        Err(Error::Protocol(ProtocolError::AlertReceived(_)))
    ));
}

#[test]
fn mutual_tls_without_client_certificate_tls12() {
    let (mut m, _) = mutual(VerifyMode::Required, None).unwrap();
    m.client
        .set_ciphers(&["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])
        .unwrap();
    let (mut c, mut s) = make_pair(&m.client, &m.server, Some("server.test"));
    assert!(matches!(
        do_handshake(&mut c, &mut s),
        Err(Error::Protocol(ProtocolError::NoClientCertificate))
    ));
    assert!(matches!(
        transfer(&mut s, &mut c),
        Err(Error::Protocol(ProtocolError::AlertReceived(_)))
    ));
}

#[test]
fn mutual_tls_over_streams_client_sees_alert_on_read() {
    let (m, _) = mutual(VerifyMode::Required, None).unwrap();
    let (mut c, mut s) = stream_pair(&m.client, &m.server, Some("server.test"));
    let mut buf = [0u8; 8];
    let mut server_err = None;
    let mut client_err = None;
    for _ in 0..16 {
        if client_err.is_none() {
            match c.read_stream(&mut buf) {
                Ok(None) => {}
                Ok(Some(n)) => panic!("client read {n} bytes"),
                Err(e) => client_err = Some(e),
            }
        }
        if server_err.is_none() {
            match s.read_stream(&mut buf) {
                Ok(None) => {}
                Ok(Some(n)) => panic!("server read {n} bytes"),
                Err(e) => server_err = Some(e),
            }
        }
        if client_err.is_some() && server_err.is_some() {
            break;
        }
    }
    assert!(
        matches!(
            server_err,
            Some(Error::Protocol(ProtocolError::NoClientCertificate))
        ),
        "{server_err:?}"
    );
    assert!(
        matches!(
            client_err,
            Some(Error::Protocol(ProtocolError::AlertReceived(_)))
        ),
        "{client_err:?}"
    );
}

#[test]
fn mutual_tls_untrusted_client_certificate() {
    let stranger = Ca::new("stranger");
    let cert = stranger.leaf(&["client.test"]);
    let (m, _) = mutual(VerifyMode::Required, Some(&cert)).unwrap();
    let (mut c, mut s) = make_pair(&m.client, &m.server, Some("server.test"));
    assert_eq!(
        verify_flags(do_handshake(&mut c, &mut s)),
        VerifyFlags::NOT_TRUSTED
    );
}

#[test]
fn server_cert_optional_accepts_no_or_untrusted_client_certificate() {
    let (m, _) = mutual(VerifyMode::Optional, None).unwrap();
    let (mut c, mut s) = make_pair(&m.client, &m.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert!(s.peer_certificates().is_none());

    let stranger = Ca::new("stranger");
    let cert = stranger.expired_leaf(&["client.test"]);
    let (m, _) = mutual(VerifyMode::Optional, Some(&cert)).unwrap();
    let (mut c, mut s) = make_pair(&m.client, &m.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert!(
        s.peer_certificates().is_some(),
        "the certificate was asked for and sent"
    );
}

#[test]
fn server_cert_none_does_not_ask_for_a_client_certificate() {
    let f = fixture();
    let cert = f.ca.leaf(&["client.test"]);
    let mut client = f.client;
    client
        .load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .unwrap();
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert!(s.peer_certificates().is_none());
}

#[test]
fn server_cert_required_without_ca_fails_before_io() {
    let mut server = fixture().server;
    server.set_verify_mode(VerifyMode::Required);
    let io = ScriptedIo::new();
    let mut tls = server.wrap(io.clone(), None).unwrap();
    assert!(matches!(
        tls.handshake(),
        Err(Error::Config(ConfigError::CaChainRequired(_)))
    ));
    assert_eq!(io.calls(), (0, 0));
}
