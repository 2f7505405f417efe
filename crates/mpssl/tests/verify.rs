//! Verification of the server's certificate by the client in each verify mode, with Mbed
//! TLS-style verdicts: chains, dates, host names (DNS, IP, wildcard, CN fallback), trust.

mod common;

use common::*;
use mpssl::{
    ArgumentError, ConfigError, Error, Protocol, ProtocolError, Session, SslContext, VerifyFlags,
    VerifyMode,
};

/// Handshake a client context against a server presenting `chain_pem` with `key`.
fn connect(
    client: &SslContext,
    chain_pem: &str,
    key: &str,
    host: Option<&str>,
) -> Result<(), Error> {
    let server = server_ctx(chain_pem, key);
    let (mut c, mut s) = make_pair(client, &server, host);
    do_handshake(&mut c, &mut s)?;
    // The connection works afterwards.
    assert_eq!(send(&mut c, &mut s, b"ok")?, b"ok");
    Ok(())
}

/// The bad cases every mode other than `CERT_REQUIRED` accepts: (name, chain, key, host).
struct Case {
    name: &'static str,
    chain: String,
    key: String,
    host: &'static str,
    required_verdict: VerifyFlags,
}

fn bad_cases(ca: &Ca) -> Vec<Case> {
    let stranger = Ca::new("stranger CA");
    let good = ca.leaf(&["server.test"]);
    let expired = ca.expired_leaf(&["server.test"]);
    let future = ca.future_leaf(&["server.test"]);
    let untrusted = stranger.leaf(&["server.test"]);
    vec![
        Case {
            name: "wrong host",
            chain: good.cert_pem.clone(),
            key: good.key_pem.clone(),
            host: "other.test",
            required_verdict: VerifyFlags::CN_MISMATCH,
        },
        Case {
            name: "expired",
            chain: expired.cert_pem,
            key: expired.key_pem,
            host: "server.test",
            required_verdict: VerifyFlags::EXPIRED,
        },
        Case {
            name: "not yet valid",
            chain: future.cert_pem,
            key: future.key_pem,
            host: "server.test",
            required_verdict: VerifyFlags::FUTURE,
        },
        Case {
            name: "untrusted",
            chain: untrusted.cert_pem,
            key: untrusted.key_pem,
            host: "server.test",
            required_verdict: VerifyFlags::NOT_TRUSTED,
        },
    ]
}

#[test]
fn cert_required_good_chain_with_intermediate() {
    let root = Ca::new("root");
    let inter = root.intermediate("intermediate");
    let leaf = inter.leaf(&["server.test", "alt.server.test"]);
    let chain = format!("{}{}", leaf.cert_pem, inter.cert.cert_pem);
    let client = client_ctx(&root.cert.cert_pem);
    assert_eq!(
        client.verify_mode(),
        VerifyMode::Required,
        "clients verify by default"
    );
    connect(&client, &chain, &leaf.key_pem, Some("server.test")).unwrap();
    connect(&client, &chain, &leaf.key_pem, Some("ALT.Server.Test")).unwrap();
}

#[test]
fn cert_required_rejects_each_bad_case_with_its_flag() {
    let ca = Ca::new("CA");
    let client = client_ctx(&ca.cert.cert_pem);
    for case in bad_cases(&ca) {
        let flags = verify_flags(connect(&client, &case.chain, &case.key, Some(case.host)));
        assert_eq!(flags, case.required_verdict, "{}: {flags}", case.name);
    }
}

#[test]
fn verdict_is_sticky_and_alerts_the_server() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    let server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    let client = client_ctx(&ca.cert.cert_pem);
    let (mut c, mut s) = make_pair(&client, &server, Some("wrong.test"));
    let flags = verify_flags(do_handshake(&mut c, &mut s));
    assert!(flags.contains(VerifyFlags::CN_MISMATCH));
    assert_eq!(verify_flags(c.check()), flags);
    // The client's alert tells the server.
    match transfer(&mut c, &mut s) {
        Err(Error::Protocol(ProtocolError::AlertReceived(_))) => {}
        other => panic!("expected an alert on the server, got {other:?}"),
    }
}

#[test]
fn several_reasons_are_reported_together() {
    let stranger = Ca::new("stranger");
    let leaf = stranger.expired_leaf(&["server.test"]);
    let client = client_ctx(&Ca::new("CA").cert.cert_pem);
    let flags = verify_flags(connect(
        &client,
        &leaf.cert_pem,
        &leaf.key_pem,
        Some("x.test"),
    ));
    assert_eq!(
        flags,
        VerifyFlags::EXPIRED | VerifyFlags::CN_MISMATCH | VerifyFlags::NOT_TRUSTED,
        "{flags}"
    );
}

#[test]
fn cert_optional_and_none_accept_every_bad_case() {
    let ca = Ca::new("CA");
    for mode in [VerifyMode::Optional, VerifyMode::None] {
        let mut client = client_ctx(&ca.cert.cert_pem);
        client.set_verify_mode(mode);
        for case in bad_cases(&ca) {
            connect(&client, &case.chain, &case.key, Some(case.host))
                .unwrap_or_else(|e| panic!("{mode:?} {}: {e:?}", case.name));
        }
        // Also with no CA at all and no host name.
        let mut bare = SslContext::new(Protocol::Client);
        bare.set_verify_mode(mode);
        let leaf = ca.leaf(&["server.test"]);
        connect(&bare, &leaf.cert_pem, &leaf.key_pem, None).unwrap();
        connect(&bare, &leaf.cert_pem, &leaf.key_pem, Some("server.test")).unwrap();
    }
}

#[test]
fn cert_required_without_ca_is_ca_chain_required() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    let client = SslContext::new(Protocol::Client);
    assert_eq!(client.ca_count(), 0);
    assert!(matches!(
        connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("server.test")),
        Err(Error::Config(ConfigError::CaChainRequired(_)))
    ));
}

#[test]
fn cert_required_without_host_name_is_refused() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, None);
    assert!(matches!(
        do_handshake(&mut c, &mut s),
        Err(Error::Argument(ArgumentError::HostnameRequired))
    ));
}

#[test]
fn reference_style_self_signed_ca_cert_trusted_as_itself() {
    let cert = reference_style("micropython.local");
    let client = client_ctx(&cert.cert_pem);
    connect(
        &client,
        &cert.cert_pem,
        &cert.key_pem,
        Some("micropython.local"),
    )
    .unwrap();
    // Host names are case-insensitive.
    connect(
        &client,
        &cert.cert_pem,
        &cert.key_pem,
        Some("MicroPython.LOCAL"),
    )
    .unwrap();
    // The CN is still checked.
    let flags = verify_flags(connect(
        &client,
        &cert.cert_pem,
        &cert.key_pem,
        Some("other.local"),
    ));
    assert_eq!(flags, VerifyFlags::CN_MISMATCH);
}

#[test]
fn reference_style_cert_fails_without_common_name_fallback() {
    let cert = reference_style("micropython.local");
    let mut client = client_ctx(&cert.cert_pem);
    assert!(client.hostname_checks_common_name());
    client.set_hostname_checks_common_name(false);
    let flags = verify_flags(connect(
        &client,
        &cert.cert_pem,
        &cert.key_pem,
        Some("micropython.local"),
    ));
    assert_eq!(flags, VerifyFlags::CN_MISMATCH);
}

#[test]
fn reference_style_cert_not_in_trust_store_is_untrusted() {
    let cert = reference_style("micropython.local");
    let other = reference_style("micropython.local");
    let client = client_ctx(&other.cert_pem);
    let flags = verify_flags(connect(
        &client,
        &cert.cert_pem,
        &cert.key_pem,
        Some("micropython.local"),
    ));
    assert_eq!(flags, VerifyFlags::NOT_TRUSTED);
}

#[test]
fn non_self_signed_leaf_in_trust_store_is_not_enough() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    // Trust the leaf itself, not its issuer.
    let client = client_ctx(&leaf.cert_pem);
    let flags = verify_flags(connect(
        &client,
        &leaf.cert_pem,
        &leaf.key_pem,
        Some("server.test"),
    ));
    assert!(flags.contains(VerifyFlags::NOT_TRUSTED), "{flags}");
}

#[test]
fn common_name_is_ignored_when_sans_exist() {
    let ca = Ca::new("CA");
    let mut params = leaf_params(&["server.test"]);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cn.test");
    let leaf = ca.leaf_with(params, &rcgen::KeyPair::generate().unwrap());
    let client = client_ctx(&ca.cert.cert_pem);
    connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("server.test")).unwrap();
    let flags = verify_flags(connect(
        &client,
        &leaf.cert_pem,
        &leaf.key_pem,
        Some("cn.test"),
    ));
    assert_eq!(flags, VerifyFlags::CN_MISMATCH);
}

#[test]
fn ip_address_sans_match_v4_and_v6() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["127.0.0.1", "::1"]);
    let client = client_ctx(&ca.cert.cert_pem);
    connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("127.0.0.1")).unwrap();
    connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("::1")).unwrap();
    for wrong in ["127.0.0.2", "::2", "localhost"] {
        let flags = verify_flags(connect(&client, &leaf.cert_pem, &leaf.key_pem, Some(wrong)));
        assert_eq!(flags, VerifyFlags::CN_MISMATCH, "{wrong}");
    }
}

#[test]
fn dns_san_does_not_match_an_ip_host() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["localhost"]);
    let client = client_ctx(&ca.cert.cert_pem);
    connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("localhost")).unwrap();
    let flags = verify_flags(connect(
        &client,
        &leaf.cert_pem,
        &leaf.key_pem,
        Some("127.0.0.1"),
    ));
    assert_eq!(flags, VerifyFlags::CN_MISMATCH);
}

#[test]
fn wildcard_san_matches_one_label() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["*.example.test"]);
    let client = client_ctx(&ca.cert.cert_pem);
    connect(
        &client,
        &leaf.cert_pem,
        &leaf.key_pem,
        Some("a.example.test"),
    )
    .unwrap();
    for wrong in ["example.test", "a.b.example.test"] {
        let flags = verify_flags(connect(&client, &leaf.cert_pem, &leaf.key_pem, Some(wrong)));
        assert_eq!(flags, VerifyFlags::CN_MISMATCH, "{wrong}");
    }
}

#[test]
fn verify_mode_change_applies_to_later_sessions() {
    let ca = Ca::new("CA");
    let untrusted = Ca::new("stranger").leaf(&["server.test"]);
    let mut client = client_ctx(&ca.cert.cert_pem);
    assert!(connect(
        &client,
        &untrusted.cert_pem,
        &untrusted.key_pem,
        Some("server.test")
    )
    .is_err());
    client.set_verify_mode(VerifyMode::None);
    connect(
        &client,
        &untrusted.cert_pem,
        &untrusted.key_pem,
        Some("server.test"),
    )
    .unwrap();
    client.set_verify_mode(VerifyMode::Required);
    assert!(connect(
        &client,
        &untrusted.cert_pem,
        &untrusted.key_pem,
        Some("server.test")
    )
    .is_err());
}

// --- Chains remembered by a context (`verified.rs`) -----------------------------------------

#[test]
fn a_remembered_chain_still_needs_the_servers_key() {
    let f = fixture();
    for version in ["TLSv1.3", "TLSv1.2"] {
        let suite = if version == "TLSv1.3" {
            "TLS-AES-128-GCM-SHA256"
        } else {
            "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"
        };
        let mut client = client_ctx(&f.ca.cert.cert_pem);
        client.set_ciphers(&[suite]).unwrap();
        // Full handshakes only: a resumed one has no certificate to check.
        client.set_session_resumption(false);
        // The real server: the chain passes every check and is remembered.
        let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.protocol_version(), Some(version));
        // The same chain from a server without its key: refused, remembered chain or not.
        let stranger = f.ca.leaf(&["other.test"]);
        let mut fake = impostor(std::slice::from_ref(&f.leaf.cert_der), &stranger.key_der);
        let mut c = Session::new(&client, Some("server.test")).unwrap();
        let err = handshake_with(&mut c, &mut fake).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Protocol(ProtocolError::PeerCertificate(
                    rustls::CertificateError::BadSignature
                ))
            ),
            "{version}: {err:?}"
        );
        // And the real server is still accepted.
        let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
    }
}

#[test]
fn a_remembered_chain_is_not_accepted_for_another_name() {
    let f = fixture();
    let mut client = client_ctx(&f.ca.cert.cert_pem);
    client.set_session_resumption(false);
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    let (mut c, mut s) = make_pair(&client, &f.server, Some("elsewhere.test"));
    let flags = verify_flags(do_handshake(&mut c, &mut s));
    assert_eq!(flags, VerifyFlags::CN_MISMATCH);
}

#[test]
fn a_verify_callback_sees_every_handshake_of_a_remembered_chain() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Debug, Default)]
    struct Count(AtomicUsize);
    impl mpssl::VerifyCallback for Count {
        fn verify(&self, _cert: &[u8], _depth: usize) -> Result<(), mpssl::CallbackAbort> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    // A context with a callback remembers no chain: the callback sees every handshake's.
    let f = fixture();
    let mut client = client_ctx(&f.ca.cert.cert_pem);
    client.set_session_resumption(false);
    let count = Arc::new(Count::default());
    client.set_verify_callback(Some(count.clone()));
    for round in 1..=3 {
        let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        // Leaf and root, every time.
        assert_eq!(count.0.load(Ordering::SeqCst), 2 * round);
    }
}
