//! `SslContext::dangerous_with_provider`: a context on a given rustls `CryptoProvider` (for
//! testing and fuzzing) takes that provider's suites and groups, and handshakes with them.

mod common;

use std::sync::Arc;

use common::{do_handshake, make_pair, testdata};
use mpssl::{Protocol, SslContext};
use rustls::crypto::{aws_lc_rs, CryptoProvider};

fn narrow_provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![aws_lc_rs::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
        kx_groups: vec![aws_lc_rs::kx_group::SECP384R1],
        ..aws_lc_rs::default_provider()
    })
}

#[test]
fn context_takes_the_providers_suites_and_groups() {
    let ctx = SslContext::dangerous_with_provider(Protocol::Client, narrow_provider());
    assert_eq!(ctx.ciphers(), ["TLS-CHACHA20-POLY1305-SHA256"]);
    assert_eq!(ctx.key_exchange_groups(), ["secp384r1"]);
    assert_eq!(ctx.protocol(), Protocol::Client);
    // Everything else as `SslContext::new`.
    let plain = SslContext::new(Protocol::Client);
    assert_eq!(ctx.verify_mode(), plain.verify_mode());
    assert_eq!(ctx.session_resumption(), plain.session_resumption());
}

#[test]
fn handshake_on_the_providers_suite_and_group() {
    let mut server = SslContext::dangerous_with_provider(Protocol::Server, narrow_provider());
    server
        .load_cert_chain(
            &testdata("ecdsa-p256/server.der"),
            &testdata("ecdsa-p256/server.key.der"),
        )
        .unwrap();
    let mut client = SslContext::new(Protocol::Client);
    client
        .load_verify_locations(&testdata("ecdsa-p256/ca.der"))
        .unwrap();
    let (mut c, mut s) = make_pair(&client, &server, Some("localhost"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.cipher_name(), Some("TLS-CHACHA20-POLY1305-SHA256"));
    assert_eq!(c.key_exchange_group().as_deref(), Some("secp384r1"));
}
