//! In-memory DTLS client/server pairs: HelloVerify, data, loss and reordering, errors.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::code;
use crate::{ArgumentError, Error, Protocol, ProtocolError, Session, SslContext, VerifyMode};

const CA: &[u8] = include_bytes!("../../../../testdata/ecdsa-p256/ca.der");
const OTHER_CA: &[u8] = include_bytes!("../../../../testdata/ecdsa-p256/other-ca.der");
const SERVER: &[u8] = include_bytes!("../../../../testdata/ecdsa-p256/server.der");
const SERVER_KEY: &[u8] = include_bytes!("../../../../testdata/ecdsa-p256/server.key.der");

fn server_context() -> SslContext {
    let mut ctx = SslContext::new(Protocol::DtlsServer);
    ctx.load_cert_chain(SERVER, SERVER_KEY).unwrap();
    ctx
}

fn client_context(ca: &[u8]) -> SslContext {
    let mut ctx = SslContext::new(Protocol::DtlsClient);
    ctx.load_verify_locations(ca).unwrap();
    ctx
}

/// Every datagram `from` has queued, one by one.
fn datagrams(from: &mut Session) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        let datagram = from.take_tls().unwrap();
        if datagram.is_empty() {
            return all;
        }
        all.push(datagram);
    }
}

/// Run the client's first flight into a fresh server session for `id`: the cookie exchange.
/// Returns the server session for the second wrap (the same context and id).
fn hello_verify(client: &mut Session, server_ctx: &SslContext, id: &[u8]) -> Session {
    let mut first = Session::with_client_id(server_ctx, None, Some(id)).unwrap();
    let mut failed = None;
    for datagram in datagrams(client) {
        if let Err(e) = first.feed(&datagram) {
            failed = Some(e);
        }
    }
    assert!(matches!(
        failed,
        Some(Error::Protocol(ProtocolError::HelloVerifyRequired))
    ));
    let report = failed.map(|e| e.report());
    assert_eq!(
        report.map(|r| (r.code, r.text)),
        Some((-27264, "MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED".to_owned()))
    );
    // The HelloVerifyRequest still goes out from the failed session.
    let cookie = datagrams(&mut first);
    assert_eq!(cookie.len(), 1);
    for datagram in cookie {
        client.feed(&datagram).unwrap();
    }
    Session::with_client_id(server_ctx, None, Some(id)).unwrap()
}

/// Shuttle datagrams until both handshakes are done; `keep(direction, n)` says whether the
/// n-th datagram of a direction (0: client to server) is delivered, and `swap` reverses the
/// order of each batch in a direction whose batch has two or more. Waits for retransmissions.
fn drive(
    client: &mut Session,
    server: &mut Session,
    keep: impl Fn(usize, usize) -> bool,
    swap: bool,
) -> Result<(), Error> {
    let mut count = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.is_handshaking() || server.is_handshaking() {
        assert!(Instant::now() < deadline, "the handshake did not complete");
        let mut moved = false;
        for (direction, sent) in count.iter_mut().enumerate() {
            let (from, to) = if direction == 0 {
                (&mut *client, &mut *server)
            } else {
                (&mut *server, &mut *client)
            };
            let mut batch: VecDeque<Vec<u8>> = datagrams(from).into();
            if swap && batch.len() >= 2 {
                batch.swap(0, 1);
            }
            for datagram in batch {
                let n = *sent;
                *sent += 1;
                if keep(direction, n) {
                    to.feed(&datagram)?;
                    moved = true;
                }
            }
        }
        if !moved {
            let wait = [client.next_timeout(), server.next_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(Duration::from_millis(10));
            std::thread::sleep(wait.min(Duration::from_secs(2)) + Duration::from_millis(5));
            // Any call fires the due retransmissions.
            client.check()?;
            server.check()?;
        }
    }
    Ok(())
}

fn pair() -> (Session, Session) {
    let server_ctx = server_context();
    let client_ctx = client_context(CA);
    let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"client-1");
    drive(&mut client, &mut server, |_, _| true, false).unwrap();
    (client, server)
}

fn send(from: &mut Session, to: &mut Session, data: &[u8]) {
    assert_eq!(from.write_plaintext(data).unwrap(), data.len());
    let sent = datagrams(from);
    assert_eq!(sent.len(), 1, "one record, one datagram");
    to.feed(&sent[0]).unwrap();
}

#[test]
fn handshake_after_hello_verify_then_data_both_ways() {
    let (mut client, mut server) = pair();
    assert_eq!(
        client.cipher_name(),
        Some("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256")
    );
    assert_eq!(client.protocol_version(), Some("DTLSv1.2"));
    assert_eq!(server.protocol_version(), Some("DTLSv1.2"));
    assert_eq!(
        client.peer_certificates().map(|c| c[0].as_ref().to_vec()),
        Some(SERVER.to_vec())
    );
    assert_eq!(client.verify_result().map(|f| f.bits()), Some(0));
    assert!(server.peer_certificates().is_none());

    send(&mut client, &mut server, b"0123456789");
    // A record is never truncated: the rest comes with the next reads.
    let mut buf = [0u8; 3];
    assert_eq!(server.read_plaintext(&mut buf).unwrap(), Some(3));
    assert_eq!(&buf, b"012");
    let mut big = [0u8; 100];
    assert_eq!(server.read_plaintext(&mut big).unwrap(), Some(7));
    assert_eq!(&big[..7], b"3456789");
    assert_eq!(server.read_plaintext(&mut big).unwrap(), None);

    send(&mut server, &mut client, b"pong");
    assert_eq!(client.read_plaintext(&mut big).unwrap(), Some(4));
    assert_eq!(&big[..4], b"pong");

    // close_notify is one datagram; the peer sees the end of the stream.
    client.send_close_notify();
    let close = datagrams(&mut client);
    assert_eq!(close.len(), 1);
    server.feed(&close[0]).unwrap();
    assert_eq!(server.read_plaintext(&mut big).unwrap(), Some(0));
}

#[test]
fn lost_and_reordered_handshake_datagrams_are_retransmitted() {
    let server_ctx = server_context();
    let client_ctx = client_context(CA);
    let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"lossy");
    // Drop the first and third datagram each way, and swap pairs.
    drive(&mut client, &mut server, |_, n| n != 0 && n != 2, true).unwrap();
    send(&mut client, &mut server, b"after loss");
    let mut buf = [0u8; 32];
    assert_eq!(server.read_plaintext(&mut buf).unwrap(), Some(10));
}

#[test]
fn a_server_needs_a_client_id() {
    let server_ctx = server_context();
    let e = Session::with_client_id(&server_ctx, None, None).unwrap_err();
    assert!(matches!(
        e,
        Error::Argument(ArgumentError::ClientIdRequired)
    ));
    let report = e.report();
    assert_eq!(
        (report.code, report.text.as_str()),
        (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA")
    );
    // Session::new on a DTLS server is the same call without an id.
    assert!(Session::new(&server_ctx, None).is_err());
    // An empty id is an id.
    assert!(Session::with_client_id(&server_ctx, None, Some(b"")).is_ok());
}

#[test]
fn a_client_refuses_a_server_from_another_ca() {
    let server_ctx = server_context();
    let client_ctx = client_context(OTHER_CA);
    let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"c");
    let e = drive(&mut client, &mut server, |_, _| true, false).unwrap_err();
    let Error::Verify(flags) = e else {
        panic!("expected a verification failure, got {e:?}");
    };
    assert!(flags.contains(crate::VerifyFlags::NOT_TRUSTED));
    let report = Error::Verify(flags).report();
    assert_eq!(report.class, crate::ExceptionClass::Value);
}

#[test]
fn a_client_checks_the_host_name() {
    let server_ctx = server_context();
    let client_ctx = client_context(CA);
    let mut client = Session::with_client_id(&client_ctx, Some("wrong.example"), None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"c");
    let e = drive(&mut client, &mut server, |_, _| true, false).unwrap_err();
    let Error::Verify(flags) = e else {
        panic!("expected a verification failure, got {e:?}");
    };
    assert!(flags.contains(crate::VerifyFlags::CN_MISMATCH));
}

#[test]
fn cert_none_accepts_any_server() {
    let server_ctx = server_context();
    let mut client_ctx = SslContext::new(Protocol::DtlsClient);
    client_ctx.set_verify_mode(VerifyMode::None);
    let mut client = Session::with_client_id(&client_ctx, None, None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"c");
    drive(&mut client, &mut server, |_, _| true, false).unwrap();
    // Verification did not gate the handshake, but the verdict is still known.
    assert!(client.verify_result().is_some_and(|f| f.bits() != 0));
}

#[test]
fn parked_handshakes_are_bounded() {
    let server_ctx = server_context();
    let client_ctx = client_context(CA);
    for i in 0..(super::PARK_LIMIT + 8) {
        let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
        let id = format!("client-{i}");
        let mut first = Session::with_client_id(&server_ctx, None, Some(id.as_bytes())).unwrap();
        let hello = datagrams(&mut client);
        assert!(first.feed(&hello[0]).is_err());
    }
    assert_eq!(server_ctx.dtls_parked().len(), super::PARK_LIMIT);
    // The newest are kept: the last client's handshake resumes, the first one's is gone.
    let last = format!("client-{}", super::PARK_LIMIT + 7);
    Session::with_client_id(&server_ctx, None, Some(last.as_bytes())).unwrap();
    assert_eq!(server_ctx.dtls_parked().len(), super::PARK_LIMIT - 1);
    Session::with_client_id(&server_ctx, None, Some(b"client-0")).unwrap();
    assert_eq!(server_ctx.dtls_parked().len(), super::PARK_LIMIT - 1);
}

#[test]
fn a_server_without_a_certificate_fails_only_when_a_client_comes() {
    let server_ctx = SslContext::new(Protocol::DtlsServer);
    let mut server = Session::with_client_id(&server_ctx, None, Some(b"x")).unwrap();
    // No input: nothing to do, no error (the reference's tls_dtls.py).
    assert!(server.check().is_ok());
    assert!(server.take_tls().unwrap().is_empty());
    let client_ctx = client_context(CA);
    let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
    let hello = datagrams(&mut client);
    let e = server.feed(&hello[0]).unwrap_err();
    assert_eq!(
        e.report().code,
        i64::from(code::SSL_HANDSHAKE_FAILURE.value),
        "{e:?}"
    );
}

#[test]
fn garbage_datagrams_do_not_panic() {
    let server_ctx = server_context();
    for junk in [
        &b""[..],
        &[22u8; 13][..],
        &[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 1][..],
        &[0xffu8; 300][..],
    ] {
        let mut server = Session::with_client_id(&server_ctx, None, Some(b"j")).unwrap();
        let _ = server.feed(junk);
        let _ = server.take_tls();
    }
}

#[derive(Debug)]
struct Keys;

impl crate::PskKeyLookup for Keys {
    fn key(&self, identity: &[u8]) -> Option<Vec<u8>> {
        (identity == b"device").then(|| b"secret-key-16byt".to_vec())
    }
}

fn psk_pair(identity: &[u8]) -> (Session, Session, Result<(), Error>) {
    let mut server_ctx = SslContext::new(Protocol::DtlsServer);
    server_ctx.set_server_psk_keys(Some(std::sync::Arc::new(Keys)));
    let mut client_ctx = SslContext::new(Protocol::DtlsClient);
    client_ctx
        .set_psk_identity(Some(identity.to_vec()))
        .unwrap();
    client_ctx
        .set_psk_key(Some(b"secret-key-16byt".to_vec()))
        .unwrap();
    let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"psk");
    let result = drive(&mut client, &mut server, |_, _| true, false);
    (client, server, result)
}

#[test]
fn psk_handshake_and_data() {
    let (mut client, mut server, result) = psk_pair(b"device");
    result.unwrap();
    assert_eq!(
        client.cipher_name(),
        Some("TLS-PSK-WITH-AES-128-GCM-SHA256")
    );
    assert_eq!(
        server.cipher_name(),
        Some("TLS-PSK-WITH-AES-128-GCM-SHA256")
    );
    assert!(client.peer_certificates().is_none());
    send(&mut client, &mut server, b"psk data");
    let mut buf = [0u8; 16];
    assert_eq!(server.read_plaintext(&mut buf).unwrap(), Some(8));
}

#[test]
fn psk_unknown_identity_is_refused() {
    let (_, _, result) = psk_pair(b"stranger");
    let e = result.unwrap_err();
    assert!(
        matches!(e, Error::Protocol(ProtocolError::UnknownPskIdentity)),
        "{e:?}"
    );
}

#[test]
fn a_server_flight_lost_twice_is_sent_again() {
    let server_ctx = server_context();
    let client_ctx = client_context(CA);
    let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
    let mut server = hello_verify(&mut client, &server_ctx, b"twice");
    // The server's first flight and its first retransmission are lost.
    drive(&mut client, &mut server, |d, n| !(d == 1 && n < 2), false).unwrap();
}

#[test]
fn repeated_losses_in_either_direction_are_recovered() {
    // (direction, first lost, number lost): the server's flight three times; the client's
    // flight with the cookie twice; the client's key-exchange flight twice.
    for (direction, first, lost) in [(1, 0, 3), (0, 0, 2), (0, 1, 2)] {
        let server_ctx = server_context();
        let client_ctx = client_context(CA);
        let mut client = Session::with_client_id(&client_ctx, Some("localhost"), None).unwrap();
        let mut server = hello_verify(&mut client, &server_ctx, b"again");
        let keep = |d: usize, n: usize| !(d == direction && n >= first && n < first + lost);
        drive(&mut client, &mut server, keep, false)
            .unwrap_or_else(|e| panic!("{direction} {first} {lost}: {e:?}"));
        send(&mut client, &mut server, b"ok");
    }
}

#[test]
fn fatal_alerts_are_told_apart() {
    let alert = |description: u8| vec![21, 254, 253, 0, 0, 0, 0, 0, 0, 0, 3, 0, 2, 2, description];
    let handshake = vec![22u8; 30];
    // Received in plaintext: the peer's alert, with its description.
    assert!(matches!(
        super::alert_error(&alert(40), std::iter::empty()),
        Error::Protocol(ProtocolError::AlertReceived(
            rustls::AlertDescription::HandshakeFailure
        ))
    ));
    // Sent by us in reply to a record that did not decrypt: INVALID_MAC.
    for description in [20, 51, 115] {
        let sent = [alert(description)];
        let e = super::alert_error(&handshake, sent.iter());
        assert_eq!(e.report().code, -0x7180, "{description}: {e:?}");
    }
    // Sent by us for another reason: named in the text.
    let sent = [alert(47)];
    let e = super::alert_error(&handshake, sent.iter());
    assert!(e.report().text.contains("IllegalParameter"), "{e:?}");
}
