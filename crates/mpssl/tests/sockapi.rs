//! CPython's socket API as the engine decides it: `check_hostname` and its interplay with the
//! verify mode, `unwrap` (close_notify both ways, then the transport in the clear) and the
//! half-close of `shutdown(SHUT_WR)`.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

use common::*;
use mpssl::{ArgumentError, Error, Protocol, SslContext, VerifyMode};

#[test]
fn check_hostname_follows_the_verify_mode_until_set() {
    let mut client = SslContext::new(Protocol::Client);
    assert!(client.check_hostname());
    assert!(!SslContext::new(Protocol::Server).check_hostname());
    // MicroPython programs set CERT_NONE on a client context: accepted, nothing is checked.
    client.set_verify_mode_value(0).unwrap();
    assert!(!client.check_hostname());
    client.set_verify_mode_value(1).unwrap();
    assert!(client.check_hostname());
}

#[test]
fn check_hostname_true_enables_verification_and_refuses_cert_none() {
    let mut client = SslContext::new(Protocol::Client);
    client.set_verify_mode(VerifyMode::None);
    client.set_check_hostname(true);
    assert_eq!(client.verify_mode(), VerifyMode::Required);
    assert!(matches!(
        client.set_verify_mode_value(0),
        Err(Error::Argument(ArgumentError::CertNoneWithCheckHostname))
    ));
    assert_eq!(client.verify_mode(), VerifyMode::Required);
    client.set_check_hostname(false);
    client.set_verify_mode_value(0).unwrap();
    assert!(!client.check_hostname());
}

#[test]
fn check_hostname_false_verifies_the_chain_but_not_the_name() {
    let f = fixture();
    let mut client = f.client;
    client.set_check_hostname(false);
    assert_eq!(client.verify_mode(), VerifyMode::Required);
    // No name needed, a wrong name accepted.
    assert_eq!(client.wrap_role(false, None).unwrap(), Protocol::Client);
    for host in [Some("wrong.test"), None] {
        let (mut c, mut s) = make_pair(&client, &f.server, host);
        do_handshake(&mut c, &mut s).unwrap();
        assert_eq!(c.verify_result().map(|v| v.bits()), Some(0));
        assert_eq!(send(&mut c, &mut s, b"ok").unwrap(), b"ok");
    }
    // An untrusted chain still fails.
    let mut stranger = SslContext::new(Protocol::Client);
    stranger
        .load_verify_locations(Ca::new("stranger CA").cert.cert_pem.as_bytes())
        .unwrap();
    stranger.set_check_hostname(false);
    let (mut c, mut s) = make_pair(&stranger, &f.server, Some("server.test"));
    assert!(matches!(
        do_handshake(&mut c, &mut s),
        Err(Error::Verify(_))
    ));
}

#[test]
fn check_hostname_default_still_checks_the_name() {
    let f = fixture();
    assert!(matches!(
        f.client.wrap_role(false, None),
        Err(Error::Argument(ArgumentError::HostnameRequired))
    ));
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("wrong.test"));
    assert!(matches!(
        do_handshake(&mut c, &mut s),
        Err(Error::Verify(_))
    ));
}

#[test]
fn unwrap_exchanges_close_notify_and_leaves_the_transport_in_the_clear() {
    let f = fixture();
    let (a, b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut tls = f.server.wrap(b, None).unwrap();
        let mut buf = [0u8; 5];
        let mut got = 0;
        while got < 5 {
            got += tls.read_some(&mut buf[got..]).unwrap();
        }
        assert_eq!(&buf, b"hello");
        // Data sent before our close_notify is discarded by the client's unwrap.
        tls.write_some(b"ignored").unwrap();
        tls.unwrap().unwrap();
        let mut plain = tls.into_inner();
        plain.write_all(b"clear").unwrap();
    });
    let mut tls = f.client.wrap(a, Some("server.test")).unwrap();
    tls.write_some(b"hello").unwrap();
    tls.unwrap().unwrap();
    assert!(matches!(tls.read_some(&mut [0u8; 4]), Err(Error::Closed)));
    let mut plain = tls.into_inner();
    let mut clear = [0u8; 5];
    plain.read_exact(&mut clear).unwrap();
    assert_eq!(&clear, b"clear");
    server.join().unwrap();
}

#[test]
fn unwrap_without_the_peers_close_notify_is_an_unexpected_eof() {
    let f = fixture();
    let (a, b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut tls = f.server.wrap(b, None).unwrap();
        tls.handshake().unwrap();
        let mut one = [0u8; 1];
        // Wait for the client's close_notify, then drop the connection without answering.
        assert_eq!(tls.read_some(&mut one).unwrap(), 0);
    });
    let mut tls = f.client.wrap(a, Some("server.test")).unwrap();
    let err = tls.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
        "{err:?}"
    );
    server.join().unwrap();
}

#[test]
fn close_write_half_closes_and_reads_go_on() {
    let f = fixture();
    let (a, b) = UnixStream::pair().unwrap();
    let server = thread::spawn(move || {
        let mut tls = f.server.wrap(b, None).unwrap();
        let mut one = [0u8; 1];
        assert_eq!(tls.read_some(&mut one).unwrap(), 0);
        assert_eq!(tls.session().eof_was_clean(), Some(true));
        tls.write_some(b"after").unwrap();
        tls.close();
    });
    let mut tls = f.client.wrap(a, Some("server.test")).unwrap();
    tls.handshake().unwrap();
    tls.close_write();
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < 5 {
        got += tls.read_some(&mut buf[got..]).unwrap();
    }
    assert_eq!(&buf, b"after");
    server.join().unwrap();
}

#[test]
fn loading_the_same_cas_again_adds_nothing_and_keeps_resumption() {
    // urllib3/requests call load_verify_locations with the same bundle for every connection.
    let f = fixture();
    let mut client = f.client;
    assert_eq!(client.ca_count(), 1);
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(send(&mut s, &mut c, b"ticket").unwrap(), b"ticket");
    for _ in 0..3 {
        client
            .load_verify_locations(f.ca.cert.cert_pem.as_bytes())
            .unwrap();
    }
    assert_eq!(client.ca_count(), 1);
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert!(c.session_reused());
}
