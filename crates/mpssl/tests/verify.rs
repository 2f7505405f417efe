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

// ---------------------------------------------------------------------------------------------
// Issue 9: the verdict of CERT_OPTIONAL / CERT_NONE sessions, CN fallback, pinned EKU, names
// ---------------------------------------------------------------------------------------------

/// A client context presenting `cert` (as its own certificate) and trusting `ca_pem`.
#[allow(clippy::unwrap_used)] // test setup
fn client_with_cert(ca_pem: Option<&str>, cert: &Cert, mode: VerifyMode) -> SslContext {
    let mut ctx = SslContext::new(Protocol::Client);
    if let Some(ca_pem) = ca_pem {
        ctx.load_verify_locations(ca_pem.as_bytes()).unwrap();
    }
    ctx.load_cert_chain(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
        .unwrap();
    ctx.set_verify_mode(mode);
    ctx
}

/// A self-signed leaf (not a CA) for `names`, with subject CN `cn` and the given EKUs.
#[allow(clippy::unwrap_used)] // test setup
fn self_signed(names: &[&str], cn: &str, eku: Vec<rcgen::ExtendedKeyUsagePurpose>) -> Cert {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = leaf_params(names);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = eku;
    let cert = params.self_signed(&key).unwrap();
    Cert {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    }
}

/// Issue 9, defect 3: a server under CERT_OPTIONAL records whether the client's chain
/// verified. Before the fix there was no verdict at all (and no `verify_result`).
#[test]
fn server_cert_optional_records_the_client_verdict() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    let mut server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    server
        .load_verify_locations(ca.cert.cert_pem.as_bytes())
        .unwrap();
    server.set_verify_mode(VerifyMode::Optional);

    // (a) a client certificate from the trusted CA: verified.
    let good = ca.leaf(&["client.test"]);
    let client = client_with_cert(Some(&ca.cert.cert_pem), &good, VerifyMode::Required);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    assert_eq!(s.verify_result(), None, "no verdict before the handshake");
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.verify_result(), Some(VerifyFlags::default()));
    assert_eq!(c.verify_result(), Some(VerifyFlags::default()));

    // (b) a self-signed certificate with an attacker-chosen subject: the handshake succeeds,
    // the verdict says it is not trusted.
    let forged = self_signed(&["client.test"], "admin", vec![]);
    let client = client_with_cert(Some(&ca.cert.cert_pem), &forged, VerifyMode::Required);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(send(&mut c, &mut s, b"hi").unwrap(), b"hi");
    assert!(s.peer_certificates().is_some());
    assert_eq!(s.verify_result(), Some(VerifyFlags::NOT_TRUSTED));

    // (c) no client certificate: no verdict.
    let client = client_ctx(&ca.cert.cert_pem);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.verify_result(), None);
}

/// Issue 9, defect 3: CERT_REQUIRED on a server is unchanged (the forged client certificate
/// is refused) and a verified client reads as verified.
#[test]
fn server_cert_required_still_refuses_an_untrusted_client() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    let mut server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    server
        .load_verify_locations(ca.cert.cert_pem.as_bytes())
        .unwrap();
    server.set_verify_mode(VerifyMode::Required);
    let forged = self_signed(&["client.test"], "admin", vec![]);
    let client = client_with_cert(Some(&ca.cert.cert_pem), &forged, VerifyMode::Required);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    assert_eq!(
        verify_flags(do_handshake(&mut c, &mut s)),
        VerifyFlags::NOT_TRUSTED
    );
    assert_eq!(s.verify_result(), None);

    let good = ca.leaf(&["client.test"]);
    let client = client_with_cert(Some(&ca.cert.cert_pem), &good, VerifyMode::Required);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.verify_result(), Some(VerifyFlags::default()));
}

/// Issue 9, defect 3: a client under CERT_OPTIONAL (and CERT_NONE) checks the server as
/// CERT_REQUIRED would and records it; the handshake goes on. Before the fix a client under
/// CERT_OPTIONAL without a callback checked nothing.
#[test]
fn client_cert_optional_and_none_record_the_server_verdict() {
    let ca = Ca::new("CA");
    for mode in [VerifyMode::Optional, VerifyMode::None] {
        let mut client = client_ctx(&ca.cert.cert_pem);
        client.set_verify_mode(mode);
        let good = ca.leaf(&["server.test"]);
        let server = server_ctx(&good.cert_pem, &good.key_pem);
        let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.verify_result(), Some(VerifyFlags::default()), "{mode:?}");
        for case in bad_cases(&ca) {
            let server = server_ctx(&case.chain, &case.key);
            let (mut c, mut s) = make_pair(&client, &server, Some(case.host));
            do_handshake(&mut c, &mut s).unwrap();
            assert_eq!(
                c.verify_result(),
                Some(case.required_verdict),
                "{mode:?} {}",
                case.name
            );
        }
        // A self-signed server certificate with a chosen subject.
        let forged = self_signed(&["server.test"], "server.test", vec![]);
        let server = server_ctx(&forged.cert_pem, &forged.key_pem);
        let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        assert_eq!(
            c.verify_result(),
            Some(VerifyFlags::NOT_TRUSTED),
            "{mode:?}"
        );
        // Without a host name only the chain is judged; the empty name matches nothing.
        let (mut c, mut s) = make_pair(&client, &server_ctx(&good.cert_pem, &good.key_pem), None);
        do_handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.verify_result(), Some(VerifyFlags::default()), "{mode:?}");
        let (mut c, mut s) = make_pair(
            &client,
            &server_ctx(&good.cert_pem, &good.key_pem),
            Some(""),
        );
        do_handshake(&mut c, &mut s).unwrap();
        assert_eq!(
            c.verify_result(),
            Some(VerifyFlags::CN_MISMATCH),
            "{mode:?}"
        );
    }
}

/// Issue 9, defect 4: the CN is ignored whenever a subjectAltName extension exists, even one
/// holding only an e-mail address or a URI (before the fix, such a certificate was accepted
/// for its CN).
#[test]
fn common_name_is_ignored_when_the_san_holds_no_dns_or_ip() {
    use rcgen::SanType;
    let ca = Ca::new("CA");
    let client = client_ctx(&ca.cert.cert_pem);
    let sans = [
        SanType::Rfc822Name("admin@server.test".try_into().unwrap()),
        SanType::URI("https://server.test/".try_into().unwrap()),
    ];
    for san in sans {
        let mut params = leaf_params(&[]);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "server.test");
        params.subject_alt_names = vec![san.clone()];
        let leaf = ca.leaf_with(params, &rcgen::KeyPair::generate().unwrap());
        let flags = verify_flags(connect(
            &client,
            &leaf.cert_pem,
            &leaf.key_pem,
            Some("server.test"),
        ));
        assert_eq!(flags, VerifyFlags::CN_MISMATCH, "{san:?}");
    }
    // Without any SAN extension the CN still serves (Mbed TLS's fallback).
    let mut params = leaf_params(&[]);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "server.test");
    let leaf = ca.leaf_with(params, &rcgen::KeyPair::generate().unwrap());
    connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("server.test")).unwrap();
}

/// Issue 9, defect 5: a self-signed leaf trusted as itself is still checked for
/// extendedKeyUsage. Before the fix, codeSigning or clientAuth-only was accepted for a server.
#[test]
fn a_pinned_self_signed_leaf_needs_the_right_eku() {
    use rcgen::ExtendedKeyUsagePurpose as Eku;
    for eku in [vec![Eku::CodeSigning], vec![Eku::ClientAuth]] {
        let cert = self_signed(&["server.test"], "server.test", eku.clone());
        let client = client_ctx(&cert.cert_pem);
        let flags = verify_flags(connect(
            &client,
            &cert.cert_pem,
            &cert.key_pem,
            Some("server.test"),
        ));
        assert_eq!(flags, VerifyFlags::EXT_KEY_USAGE, "{eku:?}");
    }
    for eku in [vec![Eku::ServerAuth], vec![Eku::Any], vec![]] {
        let cert = self_signed(&["server.test"], "server.test", eku.clone());
        let client = client_ctx(&cert.cert_pem);
        connect(&client, &cert.cert_pem, &cert.key_pem, Some("server.test"))
            .unwrap_or_else(|e| panic!("{eku:?}: {e:?}"));
    }
    // The other direction: a server trusting a pinned client certificate made for servers.
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    let pinned = self_signed(&["client.test"], "client.test", vec![Eku::ServerAuth]);
    let mut server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    server
        .load_verify_locations(pinned.cert_pem.as_bytes())
        .unwrap();
    server.set_verify_mode(VerifyMode::Required);
    let client = client_with_cert(Some(&ca.cert.cert_pem), &pinned, VerifyMode::Required);
    let (mut c, mut s) = make_pair(&client, &server, Some("server.test"));
    assert_eq!(
        verify_flags(do_handshake(&mut c, &mut s)),
        VerifyFlags::EXT_KEY_USAGE
    );
}

/// Issue 9 (seam): "no host name" and "empty host name" are not encoded as 0.0.0.0 / `::`.
/// Before, `server_hostname="0.0.0.0"` was taken for "no name" (the host-name-required error)
/// and `"::"` for the empty name (matching nothing).
#[test]
fn unspecified_addresses_are_real_ip_names() {
    let ca = Ca::new("CA");
    let client = client_ctx(&ca.cert.cert_pem);
    for ip in ["0.0.0.0", "::"] {
        let leaf = ca.leaf(&[ip]);
        connect(&client, &leaf.cert_pem, &leaf.key_pem, Some(ip))
            .unwrap_or_else(|e| panic!("{ip}: {e:?}"));
        let other = ca.leaf(&["server.test"]);
        let flags = verify_flags(connect(&client, &other.cert_pem, &other.key_pem, Some(ip)));
        assert_eq!(flags, VerifyFlags::CN_MISMATCH, "{ip}");
    }
    // No name at all is still refused under CERT_REQUIRED, and "" still matches nothing.
    let leaf = ca.leaf(&["0.0.0.0"]);
    assert!(matches!(
        connect(&client, &leaf.cert_pem, &leaf.key_pem, None),
        Err(Error::Argument(ArgumentError::HostnameRequired))
    ));
    let flags = verify_flags(connect(&client, &leaf.cert_pem, &leaf.key_pem, Some("")));
    assert_eq!(flags, VerifyFlags::CN_MISMATCH);
}

/// A resumed session keeps its verdict: the peer chain comes from the resumed session, on
/// both ends, so "no certificate" never stands for "not checked".
#[test]
fn a_resumed_session_has_the_same_verdict() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&["server.test"]);
    let mut server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    server
        .load_verify_locations(ca.cert.cert_pem.as_bytes())
        .unwrap();
    server.set_verify_mode(VerifyMode::Optional);
    let forged = self_signed(&["client.test"], "admin", vec![]);
    let mut client = client_with_cert(Some(&ca.cert.cert_pem), &forged, VerifyMode::Optional);
    for tls12 in [false, true] {
        if tls12 {
            client
                .set_ciphers(&["TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"])
                .unwrap();
        }
        let (mut c, mut s) = make_pair(&client, &server, Some("other.test"));
        do_handshake(&mut c, &mut s).unwrap();
        assert!(!c.session_reused());
        // Deliver the TLS 1.3 session tickets.
        assert!(transfer(&mut s, &mut c).unwrap().is_empty());
        let (mut c2, mut s2) = make_pair(&client, &server, Some("other.test"));
        do_handshake(&mut c2, &mut s2).unwrap();
        assert!(c2.session_reused(), "tls12={tls12}");
        assert_eq!(c2.verify_result(), Some(VerifyFlags::CN_MISMATCH));
        assert_eq!(s2.verify_result(), Some(VerifyFlags::NOT_TRUSTED));
    }
}
