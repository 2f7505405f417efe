//! The committed test PKI (`testdata/`) as the engine sees it: every kind's server leaf, directly
//! under its CA and under the intermediate, loads (PEM chain and PKCS#8 key, and DER) and
//! passes `CERT_REQUIRED` verification for `localhost`, `127.0.0.1` and `::1`; the client leaf
//! passes as a client certificate; the other CA is not trusted.

mod common;

use common::{do_handshake, make_pair, server_ctx, testdata, verify_flags};
use mpssl::{Protocol, SslContext, VerifyFlags, VerifyMode};

const KINDS: [&str; 5] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "ed25519",
    "rsa-2048",
    "rsa-4096",
];

fn text(path: &str) -> String {
    String::from_utf8_lossy(&testdata(path)).into_owned()
}

/// A `CERT_REQUIRED` client trusting `kind`'s CA.
fn client_trusting(kind: &str) -> SslContext {
    common::client_ctx(&text(&format!("{kind}/ca.pem")))
}

#[test]
fn every_server_leaf_verifies_under_its_ca() {
    for kind in KINDS {
        for name in ["server", "server-inter"] {
            let server = server_ctx(
                &text(&format!("{kind}/{name}.chain.pem")),
                &text(&format!("{kind}/{name}.key.pem")),
            );
            for host in ["localhost", "127.0.0.1", "::1"] {
                let (mut c, mut s) = make_pair(&client_trusting(kind), &server, Some(host));
                do_handshake(&mut c, &mut s)
                    .unwrap_or_else(|e| panic!("{kind}/{name} for {host}: {e:?}"));
                let leaf = testdata(&format!("{kind}/{name}.der"));
                assert_eq!(c.peer_certificates().unwrap()[0].as_ref(), leaf.as_slice());
            }
        }
    }
}

#[test]
fn der_leaf_and_key_load() {
    for kind in KINDS {
        let mut server = SslContext::new(Protocol::Server);
        server
            .load_cert_chain(
                &testdata(&format!("{kind}/server.der")),
                &testdata(&format!("{kind}/server.key.der")),
            )
            .unwrap();
        let (mut c, mut s) = make_pair(&client_trusting(kind), &server, Some("localhost"));
        do_handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
    }
}

#[test]
fn client_leaf_verifies_as_a_client_certificate() {
    for kind in KINDS {
        let mut server = server_ctx(
            &text(&format!("{kind}/server.chain.pem")),
            &text(&format!("{kind}/server.key.pem")),
        );
        server
            .load_verify_locations(&testdata(&format!("{kind}/ca.der")))
            .unwrap();
        server.set_verify_mode(VerifyMode::Required);
        let mut client = client_trusting(kind);
        client
            .load_cert_chain(
                text(&format!("{kind}/client.chain.pem")).as_bytes(),
                text(&format!("{kind}/client.key.pem")).as_bytes(),
            )
            .unwrap();
        let (mut c, mut s) = make_pair(&client, &server, Some("localhost"));
        do_handshake(&mut c, &mut s).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        let leaf = testdata(&format!("{kind}/client.der"));
        assert_eq!(s.peer_certificates().unwrap()[0].as_ref(), leaf.as_slice());
    }
}

#[test]
fn other_ca_is_not_trusted() {
    let server = server_ctx(
        &text("ecdsa-p256/server.chain.pem"),
        &text("ecdsa-p256/server.key.pem"),
    );
    let mut client = SslContext::new(Protocol::Client);
    client
        .load_verify_locations(&testdata("ecdsa-p256/other-ca.der"))
        .unwrap();
    let (mut c, mut s) = make_pair(&client, &server, Some("localhost"));
    let flags = verify_flags(do_handshake(&mut c, &mut s));
    assert!(flags.contains(VerifyFlags::NOT_TRUSTED), "{flags:?}");
}
