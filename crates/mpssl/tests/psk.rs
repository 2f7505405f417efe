//! TLS 1.2 PSK sessions in memory: both suites, the identity hint, wrong keys, unknown
//! identities, PSK against certificate ends, reordered, truncated and garbage input.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use mpssl::{ArgumentError, Error, Protocol, ProtocolError, PskKeyLookup, Session, SslContext};
use rustls::AlertDescription;

#[derive(Debug)]
struct Keys(Vec<(Vec<u8>, Vec<u8>)>);

impl PskKeyLookup for Keys {
    fn key(&self, identity: &[u8]) -> Option<Vec<u8>> {
        self.0
            .iter()
            .find(|(id, _)| id == identity)
            .map(|(_, k)| k.clone())
    }
}

fn server(keys: &[(&[u8], &[u8])]) -> SslContext {
    let mut ctx = SslContext::new(Protocol::Server);
    let keys = keys.iter().map(|(i, k)| (i.to_vec(), k.to_vec())).collect();
    ctx.set_server_psk_keys(Some(Arc::new(Keys(keys))));
    ctx
}

fn client(identity: &[u8], key: &[u8]) -> SslContext {
    let mut ctx = SslContext::new(Protocol::Client);
    ctx.set_psk_identity(Some(identity.to_vec())).unwrap();
    ctx.set_psk_key(Some(key.to_vec())).unwrap();
    ctx
}

fn pair(c: &SslContext, s: &SslContext) -> (Session, Session) {
    make_pair(c, s, Some("micropython.local"))
}

/// Split a flight into its records.
fn records(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while data.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([data[3], data[4]]));
        out.push(data[..5 + len].to_vec());
        data = &data[5 + len..];
    }
    out
}

#[test]
fn both_suites_handshake_and_transfer() {
    for suite in [
        "TLS-PSK-WITH-AES-128-GCM-SHA256",
        "TLS-PSK-WITH-AES-256-GCM-SHA384",
    ] {
        let mut c = client(b"micropython", b"secret-shared-key");
        c.set_ciphers(&[suite]).unwrap();
        let s = server(&[(b"micropython", b"secret-shared-key")]);
        let (mut cs, mut ss) = pair(&c, &s);
        do_handshake(&mut cs, &mut ss).unwrap();
        for side in [&cs, &ss] {
            assert_eq!(side.cipher_name(), Some(suite));
            assert_eq!(side.protocol_version(), Some("TLSv1.2"));
            assert!(side.peer_certificates().is_none());
            assert!(side.verify_result().is_none());
        }
        assert_eq!(
            send(&mut cs, &mut ss, b"client to server").unwrap(),
            b"client to server"
        );
        let big = vec![0x5a; 100_000];
        assert_eq!(send(&mut ss, &mut cs, &big).unwrap(), big);
        cs.send_close_notify();
        transfer(&mut cs, &mut ss).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(ss.read_plaintext(&mut buf).unwrap(), Some(0));
        assert_eq!(ss.eof_was_clean(), Some(true));
    }
}

#[test]
fn default_psk_context_prefers_aes256_and_lists_only_psk_suites() {
    let c = client(b"id", b"k");
    assert_eq!(
        c.ciphers(),
        [
            "TLS-PSK-WITH-AES-256-GCM-SHA384",
            "TLS-PSK-WITH-AES-128-GCM-SHA256"
        ]
    );
    let s = server(&[(b"id", b"k")]);
    let (mut cs, mut ss) = pair(&c, &s);
    do_handshake(&mut cs, &mut ss).unwrap();
    assert_eq!(cs.cipher_name(), Some("TLS-PSK-WITH-AES-256-GCM-SHA384"));
}

#[test]
fn identity_hint_and_binary_identity() {
    let mut s = server(&[(b"\xff\xfe\xfd", b"secret-shared-key")]);
    s.set_psk_identity_hint(Some(b"hint".to_vec())).unwrap();
    let c = client(b"\xff\xfe\xfd", b"secret-shared-key");
    let (mut cs, mut ss) = pair(&c, &s);
    do_handshake(&mut cs, &mut ss).unwrap();
    assert_eq!(send(&mut cs, &mut ss, b"x").unwrap(), b"x");
}

#[test]
fn plaintext_written_during_the_handshake_goes_after_it() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    assert_eq!(cs.write_plaintext(b"early").unwrap(), 5);
    do_handshake(&mut cs, &mut ss).unwrap();
    assert_eq!(transfer(&mut cs, &mut ss).unwrap(), b"early");
}

#[test]
fn wrong_key_fails_both_ends() {
    let c = client(b"micropython", b"wrong-key");
    let s = server(&[(b"micropython", b"secret-shared-key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    let e = do_handshake(&mut cs, &mut ss).unwrap_err();
    assert!(matches!(e, Error::Protocol(ProtocolError::BadMac)), "{e:?}");
    let e = transfer(&mut ss, &mut cs).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol(ProtocolError::AlertReceived(AlertDescription::BadRecordMac))
        ),
        "{e:?}"
    );
    assert_eq!(e.report().text, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE");
}

#[test]
fn unknown_identity_is_rejected_with_unknown_psk_identity() {
    let c = client(b"stranger", b"secret-shared-key");
    let s = server(&[(b"micropython", b"secret-shared-key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    let e = do_handshake(&mut cs, &mut ss).unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::UnknownPskIdentity)),
        "{e:?}"
    );
    assert_eq!(
        (e.report().code, e.report().text.as_str()),
        (-0x6C80, "MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY")
    );
    let e = transfer(&mut ss, &mut cs).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol(ProtocolError::AlertReceived(
                AlertDescription::UnknownPSKIdentity
            ))
        ),
        "{e:?}"
    );
}

#[test]
fn bad_keys_from_the_lookup_are_rejected() {
    for key in [&b""[..], &[7u8; 49][..]] {
        let c = client(b"id", b"k");
        let s = server(&[(b"id", key)]);
        let (mut cs, mut ss) = pair(&c, &s);
        let e = do_handshake(&mut cs, &mut ss).unwrap_err();
        assert!(
            matches!(e, Error::Protocol(ProtocolError::UnknownPskIdentity)),
            "{e:?}"
        );
    }
}

#[test]
fn psk_ends_do_not_fall_back_to_certificates() {
    let f = fixture();
    let c = client(b"id", b"key");
    let (mut cs, mut ss) = make_pair(&c, &f.server, Some("server.test"));
    assert!(do_handshake(&mut cs, &mut ss).is_err());
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = make_pair(&f.client, &s, Some("server.test"));
    let e = do_handshake(&mut cs, &mut ss).unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::Other(_))),
        "{e:?}"
    );
    let e = transfer(&mut ss, &mut cs).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol(ProtocolError::AlertReceived(
                AlertDescription::HandshakeFailure
            ))
        ),
        "{e:?}"
    );
}

#[test]
fn key_and_identity_are_checked_once_both_are_set() {
    let mut ctx = SslContext::new(Protocol::Client);
    ctx.set_psk_key(Some(vec![b'x'; 49])).unwrap();
    let e = ctx
        .set_psk_identity(Some(b"micropython".to_vec()))
        .unwrap_err();
    assert!(matches!(e, Error::Argument(ArgumentError::PskKey)));
    assert_eq!(e.report().text, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA");
    // Kept, as the reference keeps it.
    assert_eq!(ctx.psk_key(), Some(&[b'x'; 49][..]));
    let e = ctx.set_psk_key(Some(Vec::new())).unwrap_err();
    assert!(matches!(e, Error::Argument(ArgumentError::PskKey)));
    ctx.set_psk_key(Some(vec![b'x'; 48])).unwrap();
}

#[test]
fn set_ciphers_first_keeps_the_choice() {
    let mut ctx = SslContext::new(Protocol::Client);
    ctx.set_ciphers(&["TLS-AES-128-GCM-SHA256"]).unwrap();
    ctx.set_psk_identity(Some(b"id".to_vec())).unwrap();
    ctx.set_psk_key(Some(b"key".to_vec())).unwrap();
    assert_eq!(ctx.ciphers(), ["TLS-AES-128-GCM-SHA256"]);
    // No PSK suite enabled: the session is a certificate one (it checks the name it is given).
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&ctx, &s);
    assert!(do_handshake(&mut cs, &mut ss).is_err());
}

#[test]
fn reordered_client_flight_is_an_unexpected_message() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    feed_raw(&mut ss, &cs.take_tls().unwrap()).unwrap();
    feed_raw(&mut cs, &ss.take_tls().unwrap()).unwrap();
    let flight = records(&cs.take_tls().unwrap());
    assert_eq!(
        flight.len(),
        3,
        "ClientKeyExchange, ChangeCipherSpec, Finished"
    );
    // ChangeCipherSpec before ClientKeyExchange.
    let e = feed_raw(&mut ss, &[flight[1].clone(), flight[0].clone()].concat()).unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::UnexpectedMessage)),
        "{e:?}"
    );
    // The server told the client why.
    let e = transfer(&mut ss, &mut cs).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol(ProtocolError::AlertReceived(
                AlertDescription::UnexpectedMessage
            ))
        ),
        "{e:?}"
    );
}

#[test]
fn finished_without_change_cipher_spec_is_refused() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    feed_raw(&mut ss, &cs.take_tls().unwrap()).unwrap();
    feed_raw(&mut cs, &ss.take_tls().unwrap()).unwrap();
    let flight = records(&cs.take_tls().unwrap());
    let e = feed_raw(&mut ss, &[flight[0].clone(), flight[2].clone()].concat()).unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::UnexpectedMessage)),
        "{e:?}"
    );
}

#[test]
fn server_hello_replayed_to_the_server_is_refused() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    feed_raw(&mut ss, &cs.take_tls().unwrap()).unwrap();
    let server_flight = ss.take_tls().unwrap();
    let (_, mut ss2) = pair(&c, &s);
    let e = feed_raw(&mut ss2, &server_flight).unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::UnexpectedMessage)),
        "{e:?}"
    );
}

#[test]
fn truncated_hello_then_eof_is_a_handshake_eof() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    let hello = cs.take_tls().unwrap();
    feed_raw(&mut ss, &hello[..hello.len() / 2]).unwrap();
    let e = ss.feed(&[]).unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::HandshakeEof)),
        "{e:?}"
    );
}

#[test]
fn garbage_and_every_single_byte_change_fail_cleanly() {
    let s = server(&[(b"id", b"key")]);
    let (_, mut ss) = pair(&client(b"id", b"key"), &s);
    let e = feed_raw(&mut ss, b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::InvalidRecord)),
        "{e:?}"
    );

    // Flip each byte of each flight in turn: the handshake must fail or still complete
    // correctly (bytes nobody reads), never panic or hang.
    let c = client(b"id", b"key");
    let (mut cs, mut ss) = pair(&c, &s);
    let hello = cs.take_tls().unwrap();
    for i in 0..hello.len() {
        let mut bad = hello.clone();
        bad[i] ^= 0x41;
        let (_, mut ss) = pair(&c, &s);
        let _ = feed_raw(&mut ss, &bad);
    }
    feed_raw(&mut ss, &hello).unwrap();
    let server_flight = ss.take_tls().unwrap();
    for i in 0..server_flight.len() {
        let mut bad = server_flight.clone();
        bad[i] ^= 0x41;
        let (mut cs2, _) = pair(&c, &s);
        let _ = cs2.take_tls();
        let _ = feed_raw(&mut cs2, &bad);
    }
    feed_raw(&mut cs, &server_flight).unwrap();
    let client_flight = cs.take_tls().unwrap();
    for i in 0..client_flight.len() {
        let mut bad = client_flight.clone();
        bad[i] ^= 0x41;
        // A fresh server that has seen the same hello (the randoms differ, so the Finished
        // cannot verify anyway; what matters is a clean error).
        let (_, mut ss2) = pair(&c, &s);
        feed_raw(&mut ss2, &hello).unwrap();
        let _ = ss2.take_tls();
        // (A longer record length leaves the server waiting for the rest.)
        let fed = feed_raw(&mut ss2, &bad);
        assert!(fed.is_err() || ss2.is_handshaking(), "byte {i}");
    }
}

#[test]
fn application_data_after_the_handshake_is_authenticated() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    do_handshake(&mut cs, &mut ss).unwrap();
    cs.write_plaintext(b"hello").unwrap();
    let mut rec = cs.take_tls().unwrap();
    let last = rec.len() - 1;
    rec[last] ^= 1;
    let e = feed_all(&mut ss, &rec).unwrap_err();
    assert!(matches!(e, Error::Protocol(ProtocolError::BadMac)), "{e:?}");
}

#[test]
fn bytes_after_close_notify_are_dropped() {
    let c = client(b"id", b"key");
    let s = server(&[(b"id", b"key")]);
    let (mut cs, mut ss) = pair(&c, &s);
    do_handshake(&mut cs, &mut ss).unwrap();
    cs.write_plaintext(b"last").unwrap();
    cs.send_close_notify();
    let mut tail = cs.take_tls().unwrap();
    tail.extend_from_slice(&[0xff; 40_000]);
    assert_eq!(feed_all(&mut ss, &tail).unwrap(), b"last");
    assert_eq!(ss.eof_was_clean(), Some(true));
}

#[test]
fn a_psk_client_still_refuses_a_bad_server_hostname() {
    let c = client(b"id", b"key");
    let e = Session::new(&c, Some(&"a".repeat(256))).unwrap_err();
    assert!(
        matches!(e, Error::Argument(ArgumentError::HostnameTooLong)),
        "{e:?}"
    );
}
