//! Error conditions: bad keys and certificates, bad configuration, end of stream (clean and
//! not), EOF during the handshake, corrupted records, sticky errors, and use after close.

mod common;

use common::*;
use mpssl::{Error, Protocol, SslContext};

// --- loading keys and certificates ------------------------------------------------------------

#[test]
fn key_not_matching_certificate_is_invalid_key() {
    let f = fixture();
    let other = rcgen::KeyPair::generate().unwrap();
    let mut ctx = SslContext::new(Protocol::Server);
    match ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), other.serialize_pem().as_bytes()) {
        Err(Error::InvalidKey(why)) => assert!(why.contains("does not match"), "{why}"),
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    // Nothing was loaded.
    assert!(ctx.cert_chain().is_empty());
    // A key of another type (RSA for an ECDSA certificate) is refused too.
    let rsa = leaf_with_pem_key(
        &f.ca,
        &["x.test"],
        RSA2048_PKCS1_PEM,
        &rcgen::PKCS_RSA_SHA256,
    );
    assert!(matches!(
        ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), rsa.key_pem.as_bytes()),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn garbage_key_and_certificate() {
    let f = fixture();
    let mut ctx = SslContext::new(Protocol::Server);
    // Both bad: the key is checked first.
    assert!(matches!(
        ctx.load_cert_chain(b"not a cert", b"not a key"),
        Err(Error::InvalidKey(_))
    ));
    // Good key, bad certificate.
    assert!(matches!(
        ctx.load_cert_chain(b"not a cert", f.leaf.key_pem.as_bytes()),
        Err(Error::InvalidCert(_))
    ));
    // Bad key, good certificate.
    assert!(matches!(
        ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), b"\x30\x03\x02\x01\x00"),
        Err(Error::InvalidKey(_))
    ));
    // A certificate where the key should be.
    assert!(matches!(
        ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), f.leaf.cert_pem.as_bytes()),
        Err(Error::InvalidKey(_))
    ));
    // Empty inputs.
    assert!(matches!(
        ctx.load_cert_chain(b"", b""),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        ctx.load_verify_locations(b""),
        Err(Error::InvalidCert(_))
    ));
    assert!(matches!(
        ctx.load_verify_locations(b"garbage"),
        Err(Error::InvalidCert(_))
    ));
    // Truncated DER.
    let der = &f.ca.cert.cert_der;
    assert!(matches!(
        ctx.load_verify_locations(&der[..der.len() / 2]),
        Err(Error::InvalidCert(_))
    ));
    // PEM without a certificate section.
    assert!(matches!(
        ctx.load_verify_locations(f.leaf.key_pem.as_bytes()),
        Err(Error::InvalidCert(_))
    ));
    // A corrupted PEM body.
    let broken = f.ca.cert.cert_pem.replacen("MI", "!!", 1);
    assert!(matches!(
        ctx.load_verify_locations(broken.as_bytes()),
        Err(Error::InvalidCert(_))
    ));
    assert_eq!(ctx.ca_count(), 0);
}

#[test]
fn error_messages_name_the_problem() {
    let mut ctx = SslContext::new(Protocol::Server);
    let err = ctx.load_cert_chain(b"x", b"y").unwrap_err();
    assert!(err.to_string().starts_with("invalid key"), "{err}");
    let f = fixture();
    let err = ctx
        .load_cert_chain(b"x", f.leaf.key_pem.as_bytes())
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid cert"), "{err}");
}

#[test]
fn set_ciphers_rejects_unknown_unsupported_and_empty() {
    let mut ctx = SslContext::new(Protocol::Client);
    let before = ctx.ciphers();
    assert!(matches!(
        ctx.set_ciphers(&["NOT-A-SUITE"]),
        Err(Error::BadConfig(_))
    ));
    match ctx.set_ciphers(&["TLS-RSA-WITH-AES-128-CBC-SHA"]) {
        Err(Error::BadConfig(why)) => assert!(why.contains("not supported"), "{why}"),
        other => panic!("expected BadConfig, got {other:?}"),
    }
    assert!(matches!(
        ctx.set_ciphers::<&str>(&[]),
        Err(Error::BadConfig(_))
    ));
    // One bad name spoils the list.
    assert!(matches!(
        ctx.set_ciphers(&["TLS-AES-128-GCM-SHA256", "BOGUS"]),
        Err(Error::BadConfig(_))
    ));
    // The context is unchanged by failed calls.
    assert_eq!(ctx.ciphers(), before);
    ctx.set_ciphers(&["TLS_AES_128_GCM_SHA256", "TLS-AES-256-GCM-SHA384"])
        .unwrap();
    assert_eq!(
        ctx.ciphers(),
        ["TLS-AES-128-GCM-SHA256", "TLS-AES-256-GCM-SHA384"]
    );
}

#[test]
fn invalid_server_hostname() {
    let f = fixture();
    assert!(matches!(
        mpssl::Session::new(&f.client, Some("not a host name!")),
        Err(Error::InvalidHostname(_))
    ));
    let long = format!("{}.test", "a".repeat(300));
    assert!(matches!(
        mpssl::Session::new(&f.client, Some(&long)),
        Err(Error::InvalidHostname(_))
    ));
}

// --- end of stream --------------------------------------------------------------------------

#[test]
fn close_notify_reads_as_clean_eof() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.session().eof_was_clean(), None);
    s.close();
    let mut buf = [0u8; 8];
    assert_eq!(c.read_some(&mut buf).unwrap(), 0);
    assert_eq!(c.session().eof_was_clean(), Some(true));
    // EOF is not an error and repeats.
    assert_eq!(c.read_some(&mut buf).unwrap(), 0);
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(0));
    assert_eq!(c.read_stream_to_vec(usize::MAX).unwrap(), Some(Vec::new()));
    assert_eq!(c.session().eof_was_clean(), Some(true));
}

#[test]
fn close_notify_between_sessions() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(send(&mut s, &mut c, b"bye").unwrap(), b"bye");
    s.send_close_notify();
    assert!(transfer(&mut s, &mut c).unwrap().is_empty());
    assert_eq!(c.read_plaintext(&mut [0u8; 4]).unwrap(), Some(0));
    assert_eq!(c.eof_was_clean(), Some(true));
}

#[test]
fn transport_eof_after_handshake_is_unclean_eof() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    assert_eq!(s.write_stream(b"data").unwrap(), Some(4));
    // The server's side of the pipe goes away without close_notify.
    s.get_ref().tx.borrow_mut().closed = true;
    let mut buf = [0u8; 8];
    assert_eq!(c.read_stream(&mut buf).unwrap(), Some(4));
    assert_eq!(&buf[..4], b"data");
    assert_eq!(c.read_some(&mut buf).unwrap(), 0);
    assert_eq!(c.session().eof_was_clean(), Some(false));
    assert_eq!(c.read_some(&mut buf).unwrap(), 0);
    assert_eq!(c.read_line(None).unwrap(), Some(Vec::new()));
}

#[test]
fn transport_eof_during_handshake_is_handshake_eof() {
    let f = fixture();
    // The client sees EOF right after sending its ClientHello.
    let io = ScriptedIo::new();
    io.close_incoming();
    let mut tls = f.client.wrap(io.clone(), Some("server.test")).unwrap();
    assert!(matches!(tls.handshake(), Err(Error::HandshakeEof)));
    assert!(!io.take_outgoing().is_empty(), "the ClientHello was sent");
    // Sticky, whatever the call.
    assert!(matches!(
        tls.read_stream(&mut [0u8; 4]),
        Err(Error::HandshakeEof)
    ));
    assert!(matches!(tls.write_stream(b"x"), Err(Error::HandshakeEof)));
    assert!(matches!(tls.read_line(None), Err(Error::HandshakeEof)));

    // The server sees EOF after a partial ClientHello.
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    assert!(matches!(c.handshake(), Err(Error::WouldBlock)));
    {
        let mut q = s.get_ref().rx.borrow_mut();
        q.data.truncate(10);
        q.closed = true;
    }
    assert!(matches!(
        s.read_stream(&mut [0u8; 4]),
        Err(Error::HandshakeEof)
    ));
    assert!(matches!(s.handshake(), Err(Error::HandshakeEof)));
}

#[test]
fn eof_mid_handshake_through_sessions() {
    let f = fixture();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    let hello = c.take_tls().unwrap();
    feed_raw(&mut s, &hello).unwrap();
    // An empty feed is the transport's EOF.
    assert_eq!(c.feed(&[]).unwrap(), 0);
    assert!(c.is_handshaking());
    assert!(matches!(
        c.read_plaintext(&mut [0u8; 4]),
        Err(Error::HandshakeEof)
    ));
}

// --- corrupted data and sticky errors -------------------------------------------------------

#[test]
fn corrupted_record_is_a_sticky_tls_error() {
    for suite in [None, Some("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256")] {
        let mut f = fixture();
        if let Some(suite) = suite {
            f.client.set_ciphers(&[suite]).unwrap();
        }
        let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
        do_handshake(&mut c, &mut s).unwrap();
        // Deliver anything still queued (TLS 1.3 session tickets).
        assert!(transfer(&mut s, &mut c).unwrap().is_empty());

        assert_eq!(s.write_plaintext(b"application data").unwrap(), 16);
        let mut record = s.take_tls().unwrap();
        assert!(record.len() > 5 + 16, "one whole record");
        let mid = 5 + (record.len() - 5) / 2;
        record[mid] ^= 0x01;
        match feed_all(&mut c, &record) {
            Err(Error::Tls(rustls::Error::DecryptError)) => {}
            other => panic!("{suite:?}: expected DecryptError, got {other:?}"),
        }
        // Every later call returns the same error.
        for _ in 0..2 {
            assert!(matches!(
                c.read_plaintext(&mut [0u8; 16]),
                Err(Error::Tls(rustls::Error::DecryptError))
            ));
            assert!(matches!(
                c.write_plaintext(b"x"),
                Err(Error::Tls(rustls::Error::DecryptError))
            ));
            assert!(matches!(
                c.feed(b"\x17"),
                Err(Error::Tls(rustls::Error::DecryptError))
            ));
        }
        assert!(c.is_invalid());
        // The client told the server with an alert.
        assert!(matches!(
            transfer(&mut c, &mut s),
            Err(Error::Tls(rustls::Error::AlertReceived(_)))
        ));
    }
}

#[test]
fn corrupted_record_over_a_stream() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    // Let the client consume the session tickets first.
    assert_eq!(c.read_stream(&mut [0u8; 1]).unwrap(), None);
    assert_eq!(s.write_stream(b"payload").unwrap(), Some(7));
    {
        let mut q = c.get_ref().rx.borrow_mut();
        let last = q.data.len() - 1;
        q.data[last] ^= 0x80;
    }
    let mut buf = [0u8; 7];
    for _ in 0..2 {
        assert!(matches!(
            c.read_stream(&mut buf),
            Err(Error::Tls(rustls::Error::DecryptError))
        ));
    }
    assert!(matches!(
        c.write_stream(b"x"),
        Err(Error::Tls(rustls::Error::DecryptError))
    ));
    assert!(matches!(
        c.handshake(),
        Err(Error::Tls(rustls::Error::DecryptError))
    ));
    // The alert went out to the server, which now fails too.
    match s.read_stream(&mut buf) {
        Err(Error::Tls(rustls::Error::AlertReceived(_))) => {}
        other => panic!("expected an alert on the server, got {other:?}"),
    }
}

#[test]
fn garbage_from_the_peer_during_handshake() {
    let f = fixture();
    let io = ScriptedIo::new();
    io.push_incoming(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    let mut tls = f.client.wrap(io, Some("server.test")).unwrap();
    let err = tls.handshake().unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.is_fatal());
    let again = tls.handshake().unwrap_err();
    assert_eq!(format!("{err:?}"), format!("{again:?}"));
}

// --- close ----------------------------------------------------------------------------------

#[test]
fn every_call_after_close_is_closed() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.close();
    c.close(); // idempotent
    let mut buf = [0u8; 4];
    assert!(matches!(c.read_some(&mut buf), Err(Error::Closed)));
    assert!(matches!(c.write_some(b"x"), Err(Error::Closed)));
    assert!(matches!(c.read_stream(&mut buf), Err(Error::Closed)));
    assert!(matches!(c.write_stream(b"x"), Err(Error::Closed)));
    assert!(matches!(c.read_line(None), Err(Error::Closed)));
    assert!(matches!(
        c.read_stream_to_vec(usize::MAX),
        Err(Error::Closed)
    ));
    assert!(matches!(c.handshake(), Err(Error::Closed)));
    assert!(c.session().is_closed());
    assert!(c.session().is_invalid());
    // The peer saw a clean close.
    assert_eq!(s.read_some(&mut buf).unwrap(), 0);
    assert_eq!(s.session().eof_was_clean(), Some(true));
}

#[test]
fn close_before_handshake_sends_nothing_and_closes() {
    let f = fixture();
    let io = ScriptedIo::new();
    let mut tls = f.client.wrap(io.clone(), Some("server.test")).unwrap();
    tls.close();
    assert!(
        io.take_outgoing().is_empty(),
        "no close_notify before a handshake"
    );
    assert!(matches!(tls.handshake(), Err(Error::Closed)));
    assert!(matches!(tls.read_stream(&mut [0u8; 1]), Err(Error::Closed)));
}

#[test]
fn close_after_a_failure_reports_closed() {
    let f = fixture();
    let io = ScriptedIo::new();
    io.close_incoming();
    let mut tls = f.client.wrap(io, Some("server.test")).unwrap();
    assert!(matches!(tls.handshake(), Err(Error::HandshakeEof)));
    tls.close();
    assert!(matches!(tls.read_stream(&mut [0u8; 1]), Err(Error::Closed)));
}

#[test]
fn close_with_refused_writes_does_not_block() {
    let f = fixture();
    let (mut c, mut s) = stream_pair(&f.client, &f.server, Some("server.test"));
    pump_handshake(&mut c, &mut s).unwrap();
    c.get_ref().refuse_writes(true);
    c.close();
    assert!(matches!(c.write_stream(b"x"), Err(Error::Closed)));
    // The close_notify could not be sent: the server sees nothing yet.
    assert_eq!(s.read_stream(&mut [0u8; 1]).unwrap(), None);
}
