//! Error conditions: bad keys and certificates, bad configuration, end of stream (clean and
//! not), EOF during the handshake, corrupted records, sticky errors, and use after close.

mod common;

use common::*;
use mpssl::{ArgumentError, ConfigError, Error, KeyError, Protocol, ProtocolError, SslContext};

// --- loading keys and certificates ------------------------------------------------------------

#[test]
fn key_not_matching_certificate_is_invalid_key() {
    let f = fixture();
    let other = rcgen::KeyPair::generate().unwrap();
    let mut ctx = SslContext::new(Protocol::Server);
    match ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), other.serialize_pem().as_bytes()) {
        Err(Error::Key(KeyError::Mismatch)) => {}
        other => panic!("expected KeyError::Mismatch, got {other:?}"),
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
        Err(Error::Key(_))
    ));
}

#[test]
fn garbage_key_and_certificate() {
    let f = fixture();
    let mut ctx = SslContext::new(Protocol::Server);
    // Both bad: the key is checked first.
    assert!(matches!(
        ctx.load_cert_chain(b"not a cert", b"not a key"),
        Err(Error::Key(_))
    ));
    // Good key, bad certificate.
    assert!(matches!(
        ctx.load_cert_chain(b"not a cert", f.leaf.key_pem.as_bytes()),
        Err(Error::Cert(_))
    ));
    // Bad key, good certificate.
    assert!(matches!(
        ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), b"\x30\x03\x02\x01\x00"),
        Err(Error::Key(_))
    ));
    // A certificate where the key should be.
    assert!(matches!(
        ctx.load_cert_chain(f.leaf.cert_pem.as_bytes(), f.leaf.cert_pem.as_bytes()),
        Err(Error::Key(_))
    ));
    // Empty inputs.
    assert!(matches!(ctx.load_cert_chain(b"", b""), Err(Error::Key(_))));
    assert!(matches!(
        ctx.load_verify_locations(b""),
        Err(Error::Cert(_))
    ));
    assert!(matches!(
        ctx.load_verify_locations(b"garbage"),
        Err(Error::Cert(_))
    ));
    // Truncated DER.
    let der = &f.ca.cert.cert_der;
    assert!(matches!(
        ctx.load_verify_locations(&der[..der.len() / 2]),
        Err(Error::Cert(_))
    ));
    // PEM without a certificate section.
    assert!(matches!(
        ctx.load_verify_locations(f.leaf.key_pem.as_bytes()),
        Err(Error::Cert(_))
    ));
    // A corrupted PEM body.
    let broken = f.ca.cert.cert_pem.replacen("MI", "!!", 1);
    assert!(matches!(
        ctx.load_verify_locations(broken.as_bytes()),
        Err(Error::Cert(_))
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
        Err(Error::Config(ConfigError::UnknownCipher(_)))
    ));
    assert!(matches!(
        ctx.set_ciphers(&["TLS-RSA-WITH-AES-128-CBC-SHA"]),
        Err(Error::Config(ConfigError::UnsupportedCipher(_)))
    ));
    assert!(matches!(
        ctx.set_ciphers::<&str>(&[]),
        Err(Error::Config(ConfigError::EmptyCipherList))
    ));
    // One bad name spoils the list.
    assert!(matches!(
        ctx.set_ciphers(&["TLS-AES-128-GCM-SHA256", "BOGUS"]),
        Err(Error::Config(_))
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
        Err(Error::Argument(ArgumentError::InvalidHostname(_)))
    ));
    let long = format!("{}.test", "a".repeat(300));
    assert!(matches!(
        mpssl::Session::new(&f.client, Some(&long)),
        Err(Error::Argument(ArgumentError::HostnameTooLong))
    ));
}

#[test]
fn groups_fail_like_ciphers() {
    // Same causes, same kinds of error as set_ciphers (issue 9, item 6).
    let mut ctx = SslContext::new(Protocol::Client);
    let before = ctx.key_exchange_groups();
    assert!(matches!(
        ctx.set_key_exchange_groups(&["brainpoolP256r1"]),
        Err(Error::Config(ConfigError::UnknownGroup(name))) if name == "brainpoolP256r1"
    ));
    assert!(matches!(
        ctx.set_key_exchange_groups::<&str>(&[]),
        Err(Error::Config(ConfigError::EmptyGroupList))
    ));
    assert_eq!(ctx.key_exchange_groups(), before);
    let unknown_cipher = ctx.set_ciphers(&["BAR"]).unwrap_err().report();
    let unknown_group = ctx.set_key_exchange_groups(&["BAR"]).unwrap_err().report();
    assert_eq!(
        (
            unknown_cipher.class,
            unknown_cipher.code,
            unknown_cipher.text
        ),
        (unknown_group.class, unknown_group.code, unknown_group.text)
    );
}

#[test]
fn the_key_is_parsed_before_the_certificate_is_looked_at() {
    // The reference's load_cert_chain(None, b"!") is ValueError('invalid key'): a front end
    // parses the key through the engine before it converts the certificate argument.
    let f = fixture();
    let ctx = SslContext::new(Protocol::Server);
    assert!(matches!(ctx.parse_private_key(b"!"), Err(Error::Key(_))));
    let key = ctx.parse_private_key(f.leaf.key_pem.as_bytes()).unwrap();
    let mut ctx = ctx;
    assert!(matches!(
        ctx.load_cert_chain_with_key(b"!", key.clone()),
        Err(Error::Cert(_))
    ));
    ctx.load_cert_chain_with_key(f.leaf.cert_pem.as_bytes(), key)
        .unwrap();
    assert_eq!(ctx.cert_chain().len(), 1);
}

#[test]
fn protocol_values_are_a_bit_field() {
    assert_eq!(Protocol::from_bits(0).unwrap(), Protocol::Client);
    assert_eq!(Protocol::from_bits(1).unwrap(), Protocol::Server);
    assert_eq!(Protocol::from_bits(4).unwrap(), Protocol::Client);
    assert_eq!(Protocol::from_bits(5).unwrap(), Protocol::Server);
    // Bit 1 is DTLS.
    assert_eq!(Protocol::from_bits(2).unwrap(), Protocol::DtlsClient);
    assert_eq!(Protocol::from_bits(3).unwrap(), Protocol::DtlsServer);
    assert_eq!(Protocol::from_bits(-1).unwrap(), Protocol::DtlsServer);
    assert_eq!(Protocol::from_bits(6).unwrap(), Protocol::DtlsClient);
}

#[test]
fn verify_mode_values_are_checked() {
    let mut ctx = SslContext::new(Protocol::Client);
    for bad in [3, -1, 1 << 40] {
        assert!(matches!(
            ctx.set_verify_mode_value(bad),
            Err(Error::Argument(ArgumentError::VerifyMode(v))) if v == bad
        ));
    }
    assert_eq!(ctx.verify_mode(), mpssl::VerifyMode::Required);
    ctx.set_verify_mode_value(0).unwrap();
    assert_eq!(ctx.verify_mode(), mpssl::VerifyMode::None);
}

#[test]
fn the_role_is_decided_once() {
    let client = SslContext::new(Protocol::Client);
    let server = SslContext::new(Protocol::Server);
    // A client context cannot act as a server.
    assert!(matches!(
        client.wrap_role(true, Some("x.test")),
        Err(Error::Argument(ArgumentError::ServerSideOnClientContext))
    ));
    // The default server_side=False does not turn a server context into a client.
    assert_eq!(server.wrap_role(false, None).unwrap(), Protocol::Server);
    assert_eq!(server.wrap_role(true, None).unwrap(), Protocol::Server);
    // Host-name rule: only a CERT_REQUIRED client needs one.
    assert!(matches!(
        client.wrap_role(false, None),
        Err(Error::Argument(ArgumentError::HostnameRequired))
    ));
    assert_eq!(
        client.wrap_role(false, Some("x.test")).unwrap(),
        Protocol::Client
    );
    let mut required = SslContext::new(Protocol::Server);
    required.set_verify_mode(mpssl::VerifyMode::Required);
    assert_eq!(required.wrap_role(false, None).unwrap(), Protocol::Server);
    let mut optional = SslContext::new(Protocol::Client);
    optional.set_verify_mode(mpssl::VerifyMode::Optional);
    assert_eq!(optional.wrap_role(false, None).unwrap(), Protocol::Client);
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
    assert!(matches!(
        tls.handshake(),
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));
    assert!(!io.take_outgoing().is_empty(), "the ClientHello was sent");
    // Sticky, whatever the call.
    assert!(matches!(
        tls.read_stream(&mut [0u8; 4]),
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));
    assert!(matches!(
        tls.write_stream(b"x"),
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));
    assert!(matches!(
        tls.read_line(None),
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));

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
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));
    assert!(matches!(
        s.handshake(),
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));
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
        Err(Error::Protocol(ProtocolError::HandshakeEof))
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
            Err(Error::Protocol(ProtocolError::BadMac)) => {}
            other => panic!("{suite:?}: expected DecryptError, got {other:?}"),
        }
        // Every later call returns the same error.
        for _ in 0..2 {
            assert!(matches!(
                c.read_plaintext(&mut [0u8; 16]),
                Err(Error::Protocol(ProtocolError::BadMac))
            ));
            assert!(matches!(
                c.write_plaintext(b"x"),
                Err(Error::Protocol(ProtocolError::BadMac))
            ));
            assert!(matches!(
                c.feed(b"\x17"),
                Err(Error::Protocol(ProtocolError::BadMac))
            ));
        }
        assert!(c.is_invalid());
        // The client told the server with an alert.
        assert!(matches!(
            transfer(&mut c, &mut s),
            Err(Error::Protocol(ProtocolError::AlertReceived(_)))
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
            Err(Error::Protocol(ProtocolError::BadMac))
        ));
    }
    assert!(matches!(
        c.write_stream(b"x"),
        Err(Error::Protocol(ProtocolError::BadMac))
    ));
    assert!(matches!(
        c.handshake(),
        Err(Error::Protocol(ProtocolError::BadMac))
    ));
    // The alert went out to the server, which now fails too.
    match s.read_stream(&mut buf) {
        Err(Error::Protocol(ProtocolError::AlertReceived(_))) => {}
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
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
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
    assert!(matches!(
        tls.handshake(),
        Err(Error::Protocol(ProtocolError::HandshakeEof))
    ));
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

// --- the table, on errors from real handshakes -----------------------------------------------

#[test]
fn a_client_without_a_ca_reports_ca_chain_required_with_a_note() {
    let f = fixture();
    let client = SslContext::new(Protocol::Client);
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    let err = do_handshake(&mut c, &mut s).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(ConfigError::CaChainRequired(Protocol::Client))
        ),
        "{err:?}"
    );
    let report = err.report();
    assert_eq!(
        (report.code, report.text.as_str()),
        (-30336, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED")
    );
    assert!(report
        .note
        .unwrap_or_default()
        .contains("verifies the server by default"));
}

#[test]
fn a_rejecting_verify_callback_reports_code_and_depth() {
    #[derive(Debug)]
    struct RejectLeaf;
    impl mpssl::VerifyCallback for RejectLeaf {
        fn verify(&self, _cert: &[u8], depth: usize) -> Result<(), mpssl::CallbackAbort> {
            match depth {
                0 => Err(mpssl::CallbackAbort::Code { code: 1, depth }),
                _ => Ok(()),
            }
        }
    }
    let f = fixture();
    let mut client = f.client.clone();
    client.set_verify_callback(Some(std::sync::Arc::new(RejectLeaf)));
    let (mut c, mut s) = make_pair(&client, &f.server, Some("server.test"));
    let err = do_handshake(&mut c, &mut s).unwrap_err();
    let report = err.report();
    assert_eq!(
        (report.class, report.code, report.text.as_str()),
        (
            mpssl::ExceptionClass::Os,
            1,
            "MBEDTLS_ERR_ERROR_GENERIC_ERROR"
        )
    );
    assert!(report
        .note
        .unwrap_or_default()
        .contains("returned 1 for the certificate at depth 0"));
}
