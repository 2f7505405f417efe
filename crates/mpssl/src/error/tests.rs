use std::io;
use std::sync::Arc;

use super::table::verify_text;
use super::*;

#[test]
fn would_block_and_timeouts_are_not_fatal() {
    assert!(!Error::WouldBlock.is_fatal());
    assert!(!Error::Io(io::ErrorKind::TimedOut.into()).is_fatal());
    assert!(!Error::Io(io::ErrorKind::Interrupted.into()).is_fatal());
    assert!(Error::Io(io::Error::from_raw_os_error(104).into()).is_fatal());
    assert!(Error::Protocol(ProtocolError::HandshakeEof).is_fatal());
    assert!(Error::Closed.is_fatal());
}

#[test]
fn clone_keeps_os_error_number() {
    let e = Error::Io(io::Error::from_raw_os_error(32).into());
    match e.clone() {
        Error::Io(d) => assert_eq!(d.raw_os_error(), Some(32)),
        other => panic!("unexpected {other:?}"),
    }
}

/// A front end's own error, as the binding carries a Python exception.
#[derive(Debug)]
struct FrontEnd(u32);

impl fmt::Display for FrontEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "front end error {}", self.0)
    }
}

impl std::error::Error for FrontEnd {}

#[test]
fn clone_keeps_the_carried_payload() {
    let e = Error::from(io::Error::other(FrontEnd(7)));
    let copy = e.clone();
    for e in [&e, &copy] {
        let carried = e.carried().and_then(|p| p.downcast_ref::<FrontEnd>());
        assert_eq!(carried.map(|f| f.0), Some(7));
        assert_eq!(e.report().class, ExceptionClass::Carried);
    }
    let callback = Error::Callback(CallbackAbort::Failed(Arc::new(FrontEnd(8))));
    let carried = callback.clone();
    let carried = carried.carried().and_then(|p| p.downcast_ref::<FrontEnd>());
    assert_eq!(carried.map(|f| f.0), Some(8));
    assert_eq!(callback.report().class, ExceptionClass::Carried);
}

#[test]
fn transport_would_block_is_recognised() {
    let e = Error::from(io::Error::from(io::ErrorKind::WouldBlock));
    assert!(matches!(e, Error::WouldBlock));
}

#[test]
fn verify_flags_travel_through_rustls() {
    let flags = VerifyFlags::EXPIRED | VerifyFlags::CN_MISMATCH;
    let e = Error::from(flags.into_rustls());
    match e {
        Error::Verify(f) => assert_eq!(f, flags),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn markers_travel_through_rustls() {
    assert!(matches!(
        Error::from(Marker::CaChainRequired.into_rustls()),
        Error::Config(ConfigError::CaChainRequired(Protocol::Client))
    ));
    assert!(matches!(
        Error::from(Marker::HostnameRequired.into_rustls()),
        Error::Argument(ArgumentError::HostnameRequired)
    ));
}

#[test]
fn rustls_errors_are_classified() {
    use rustls::{AlertDescription, ContentType, Error as R, HandshakeType, InvalidMessage};
    fn kind(p: &ProtocolError) -> &'static str {
        match p {
            ProtocolError::AlertReceived(_) => "alert",
            ProtocolError::NoClientCertificate => "no client certificate",
            ProtocolError::InvalidRecord => "invalid record",
            ProtocolError::BadMac => "bad mac",
            ProtocolError::UnexpectedMessage => "unexpected message",
            ProtocolError::HandshakeEof => "handshake eof",
            ProtocolError::PeerCertificate(_) => "peer certificate",
            ProtocolError::Other(_) => "other",
            ProtocolError::UnknownPskIdentity => "unknown psk identity",
            ProtocolError::HelloVerifyRequired
            | ProtocolError::DtlsTimeout
            | ProtocolError::Dtls(_) => "dtls",
        }
    }
    let cases = [
        (
            R::AlertReceived(AlertDescription::HandshakeFailure),
            "alert",
        ),
        (R::NoCertificatesPresented, "no client certificate"),
        (
            R::InvalidMessage(InvalidMessage::InvalidContentType),
            "invalid record",
        ),
        (R::DecryptError, "bad mac"),
        (
            R::InappropriateMessage {
                expect_types: vec![ContentType::Handshake],
                got_type: ContentType::ApplicationData,
            },
            "unexpected message",
        ),
        (
            R::InappropriateHandshakeMessage {
                expect_types: vec![HandshakeType::Finished],
                got_type: HandshakeType::ClientHello,
            },
            "unexpected message",
        ),
        (
            R::InvalidCertificate(rustls::CertificateError::BadSignature),
            "peer certificate",
        ),
        (
            R::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
            "other",
        ),
    ];
    for (rustls_error, expected) in cases {
        match Error::from(rustls_error.clone()) {
            Error::Protocol(p) => assert_eq!(kind(&p), expected, "{rustls_error:?}"),
            other => panic!("{rustls_error:?} gave {other:?}"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The table, one test per row

fn os(code: i64, text: &str) -> (ExceptionClass, i64, String) {
    (ExceptionClass::Os, code, text.to_owned())
}

fn shape(e: &Error) -> (ExceptionClass, i64, String) {
    let r = e.report();
    (r.class, r.code, r.text)
}

#[test]
fn codes_have_the_reference_values() {
    // reference.md §1.8: the decimal values MicroPython prints.
    assert_eq!(code::SSL_BAD_CONFIG.value, -24192);
    assert_eq!(code::SSL_CONN_EOF.value, -29312);
    assert_eq!(code::SSL_FATAL_ALERT.value, -30592);
    assert_eq!(code::SSL_NO_CLIENT_CERTIFICATE.value, -29824);
    assert_eq!(code::SSL_CA_CHAIN_REQUIRED.value, -30336);
    assert_eq!(code::SSL_HANDSHAKE_FAILURE.value, -28160);
    assert_eq!(code::SSL_BAD_INPUT_DATA.value, -28928);
    assert_eq!(code::SSL_INVALID_RECORD.value, -29184);
    assert_eq!(code::SSL_INVALID_MAC.value, -29056);
    assert_eq!(code::SSL_UNEXPECTED_MESSAGE.value, -30464);
    assert_eq!(code::X509_CERT_VERIFY_FAILED.value, -9984);
}

#[test]
fn row_io_errno() {
    let e = Error::Io(io::Error::from_raw_os_error(libc::ECONNRESET).into());
    let r = e.report();
    assert_eq!(r.class, ExceptionClass::Errno);
    assert_eq!(r.code, i64::from(libc::ECONNRESET));
    assert_eq!(r.text, "Connection reset by peer");
    assert_eq!(r.note, None);
}

#[test]
fn row_io_timeout_and_eof() {
    let timeout = Error::Io(io::ErrorKind::TimedOut.into());
    assert_eq!(
        shape(&timeout),
        (
            ExceptionClass::Errno,
            i64::from(libc::ETIMEDOUT),
            "timed out".into()
        )
    );
    let eof = Error::Io(io::ErrorKind::UnexpectedEof.into());
    assert_eq!(shape(&eof), os(-29312, "MBEDTLS_ERR_SSL_CONN_EOF"));
}

#[test]
fn row_would_block_closed() {
    assert_eq!(Error::WouldBlock.report().code, i64::from(libc::EAGAIN));
    let closed = Error::Closed.report();
    assert_eq!(closed.class, ExceptionClass::Errno);
    assert_eq!(closed.code, i64::from(libc::EBADF));
    assert_eq!(closed.text, "Bad file descriptor");
}

#[test]
fn row_keys() {
    for key in [
        KeyError::Empty,
        KeyError::Malformed("x".into()),
        KeyError::Refused("y".into()),
    ] {
        let r = Error::Key(key.clone()).report();
        assert_eq!(
            (r.class, r.text.as_str()),
            (ExceptionClass::Value, "invalid key")
        );
        assert_eq!(r.note, Some(key.to_string()));
    }
    assert_eq!(
        Error::Key(KeyError::Encrypted).report().text,
        "invalid key: encrypted keys are not supported"
    );
    assert_eq!(
        Error::Key(KeyError::Mismatch).report().text,
        "invalid key: the private key does not match the certificate"
    );
    let unusable = Error::Key(KeyError::Unusable { bits: 1024 }).report();
    assert_eq!(unusable.code, -28160);
    assert!(unusable
        .text
        .starts_with("MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE: RSA key of 1024 bits"));
}

#[test]
fn row_certs() {
    let r = Error::Cert(CertError::NoPemCertificate).report();
    assert_eq!(
        (r.class, r.text.as_str()),
        (ExceptionClass::Value, "invalid cert")
    );
    assert_eq!(
        r.note.as_deref(),
        Some("no CERTIFICATE section in the PEM data")
    );
    assert_eq!(
        Error::Cert(CertError::Empty).report().note.as_deref(),
        Some("no data")
    );
}

#[test]
fn row_cipher_and_group_errors_are_one_kind() {
    // set_ciphers, set_groups and set_ecdh_curve: same cause, same report.
    for (e, note) in [
        (
            ConfigError::UnknownCipher("BAR".into()),
            "unknown cipher suite \"BAR\"",
        ),
        (
            ConfigError::EmptyCipherList,
            "the cipher suite list is empty",
        ),
        (
            ConfigError::UnknownGroup("BAR".into()),
            "unknown key-exchange group \"BAR\"",
        ),
        (
            ConfigError::EmptyGroupList,
            "the key-exchange group list is empty",
        ),
    ] {
        let r = Error::Config(e).report();
        assert_eq!(
            (r.class, r.code, r.text.as_str()),
            (ExceptionClass::Os, -24192, "MBEDTLS_ERR_SSL_BAD_CONFIG")
        );
        assert_eq!(r.note.as_deref(), Some(note));
    }
    let r = Error::Config(ConfigError::UnsupportedCipher(
        "TLS-RSA-WITH-AES-128-CBC-SHA".into(),
    ))
    .report();
    assert_eq!(r.code, -24192);
    assert!(r.text.starts_with("MBEDTLS_ERR_SSL_BAD_CONFIG: cipher suite TLS-RSA-WITH-AES-128-CBC-SHA is known but not supported"));
}

#[test]
fn row_ca_chain_required_has_a_note_per_role() {
    let client = Error::Config(ConfigError::CaChainRequired(Protocol::Client)).report();
    assert_eq!(
        (client.class, client.code, client.text.as_str()),
        (
            ExceptionClass::Os,
            -30336,
            "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED"
        )
    );
    let note = client.note.unwrap_or_default();
    assert!(note.contains("verifies the server by default"), "{note}");
    assert!(note.contains("load_verify_locations"), "{note}");
    assert!(note.contains("CERT_NONE"), "{note}");
    let server = Error::Config(ConfigError::CaChainRequired(Protocol::Server)).report();
    assert_eq!(server.code, -30336);
    assert!(server
        .note
        .unwrap_or_default()
        .contains("client certificates"));
}

#[test]
fn row_no_certificate() {
    assert_eq!(
        shape(&Error::Config(ConfigError::NoCertificate)),
        os(
            -28160,
            "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE: the server context has no certificate (call \
             load_cert_chain)"
        )
    );
}

#[test]
fn row_verify_texts_in_flag_order() {
    let flags = VerifyFlags::NOT_TRUSTED | VerifyFlags::EXPIRED | VerifyFlags::CN_MISMATCH;
    let r = Error::Verify(flags).report();
    assert_eq!(r.class, ExceptionClass::Value);
    assert_eq!(
        r.text,
        "\nThe certificate validity has expired\n\nThe certificate Common Name (CN) does not \
         match with the expected CN\n\nThe certificate is not correctly signed by the trusted \
         CA\n"
    );
    for (flag, text) in VERIFY_TEXTS_FOR_TEST {
        assert_eq!(verify_text(*flag), format!("\n{text}\n"));
    }
    assert_eq!(
        Error::Verify(VerifyFlags::from_bits(0x40)).report().text,
        "\nUnknown reason (flags 0x40)\n"
    );
}

const VERIFY_TEXTS_FOR_TEST: &[(VerifyFlags, &str)] = &[
    (VerifyFlags::EXPIRED, "The certificate validity has expired"),
    (
        VerifyFlags::CN_MISMATCH,
        "The certificate Common Name (CN) does not match with the expected CN",
    ),
    (
        VerifyFlags::NOT_TRUSTED,
        "The certificate is not correctly signed by the trusted CA",
    ),
    (
        VerifyFlags::OTHER,
        "Other reason (can be used by verify callback)",
    ),
    (
        VerifyFlags::FUTURE,
        "The certificate validity starts in the future",
    ),
    (
        VerifyFlags::EXT_KEY_USAGE,
        "Usage does not match the extendedKeyUsage extension",
    ),
    (
        VerifyFlags::BAD_MD,
        "The certificate is signed with an unacceptable hash.",
    ),
    (
        VerifyFlags::BAD_KEY,
        "The certificate is signed with an unacceptable key (eg bad curve, RSA too short).",
    ),
];

#[test]
fn row_usage_alone_is_bad_certificate() {
    // Mbed TLS: a chain that is fine except for its extendedKeyUsage is BAD_CERTIFICATE.
    let alone = Error::Verify(VerifyFlags::EXT_KEY_USAGE).report();
    assert_eq!(
        (alone.class, alone.code, alone.text.as_str()),
        (
            ExceptionClass::Os,
            -31232,
            "MBEDTLS_ERR_SSL_BAD_CERTIFICATE"
        )
    );
    assert!(alone.note.unwrap_or_default().contains("serverAuth"));
    // With another failure, the verify text lists both.
    let both = Error::Verify(VerifyFlags::EXT_KEY_USAGE | VerifyFlags::CN_MISMATCH).report();
    assert_eq!(both.class, ExceptionClass::Value);
    assert_eq!(
        both.text,
        "\nThe certificate Common Name (CN) does not match with the expected CN\n\nUsage does \
         not match the extendedKeyUsage extension\n"
    );
}

#[test]
fn row_host_name_mismatch_explains_san_and_cn() {
    let note = Error::Verify(VerifyFlags::CN_MISMATCH)
        .report()
        .note
        .unwrap_or_default();
    assert!(note.contains("subjectAltName"), "{note}");
    assert!(
        note.contains("only when the certificate has no subjectAltName extension"),
        "{note}"
    );
    assert_eq!(Error::Verify(VerifyFlags::EXPIRED).report().note, None);
}

#[test]
fn row_protocol_errors() {
    let rows = [
        (
            ProtocolError::AlertReceived(rustls::AlertDescription::BadCertificate),
            -30592,
            "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE",
        ),
        (
            ProtocolError::NoClientCertificate,
            -29824,
            "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE",
        ),
        (
            ProtocolError::InvalidRecord,
            -29184,
            "MBEDTLS_ERR_SSL_INVALID_RECORD",
        ),
        (ProtocolError::BadMac, -29056, "MBEDTLS_ERR_SSL_INVALID_MAC"),
        (
            ProtocolError::UnexpectedMessage,
            -30464,
            "MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE",
        ),
        (
            ProtocolError::HandshakeEof,
            -29312,
            "MBEDTLS_ERR_SSL_CONN_EOF",
        ),
    ];
    for (p, code, text) in rows {
        assert_eq!(shape(&Error::Protocol(p)), os(code, text));
    }
    let other = Error::Protocol(ProtocolError::Other(rustls::Error::PeerIncompatible(
        rustls::PeerIncompatible::NoCipherSuitesInCommon,
    )))
    .report();
    assert_eq!(other.code, -28160);
    assert!(other.text.starts_with("TLS failure: "));
    assert!(other.note.is_some());
    let cert = Error::Protocol(ProtocolError::PeerCertificate(
        rustls::CertificateError::BadSignature,
    ))
    .report();
    assert_eq!(cert.code, -9984);
    assert_eq!(
        cert.text,
        "MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: BadSignature"
    );
}

#[test]
fn row_callback_codes() {
    let rejected = |code| Error::Callback(CallbackAbort::Code { code, depth: 0 }).report();
    let minus_one = rejected(-1);
    assert_eq!(
        (minus_one.class, minus_one.code),
        (ExceptionClass::Errno, 1)
    );
    assert_eq!(
        shape(&Error::Callback(CallbackAbort::Code { code: 1, depth: 2 })),
        os(1, "MBEDTLS_ERR_ERROR_GENERIC_ERROR")
    );
    assert_eq!(
        (rejected(2).code, rejected(2).text),
        (2, "MBEDTLS_ERR_MPI_FILE_IO_ERROR".to_owned())
    );
    assert_eq!(rejected(-9984).text, "MBEDTLS_ERR_UNKNOWN (0x2700)");
    assert_eq!(rejected(-256).class, ExceptionClass::Os);
    let note = Error::Callback(CallbackAbort::Code { code: 1, depth: 2 })
        .report()
        .note
        .unwrap_or_default();
    assert!(
        note.contains("returned 1 for the certificate at depth 2"),
        "{note}"
    );
    assert!(note.contains("non-zero result rejects"), "{note}");
}

#[test]
fn row_arguments() {
    for (a, class) in [
        (ArgumentError::DtlsUnsupported, ExceptionClass::Value),
        (ArgumentError::VerifyMode(5), ExceptionClass::Value),
        (ArgumentError::HostnameRequired, ExceptionClass::Value),
        (
            ArgumentError::ServerSideOnClientContext,
            ExceptionClass::Value,
        ),
        (ArgumentError::KeyWithoutCert, ExceptionClass::Type),
        (
            ArgumentError::CertNoneWithCheckHostname,
            ExceptionClass::Value,
        ),
    ] {
        let r = Error::Argument(a.clone()).report();
        assert_eq!((r.class, r.text), (class, a.to_string()));
    }
    assert_eq!(
        Error::Argument(ArgumentError::HostnameRequired)
            .report()
            .text,
        "CERT_REQUIRED requires server_hostname"
    );
    let long = Error::Argument(ArgumentError::HostnameTooLong).report();
    assert_eq!(
        (long.code, long.text.as_str()),
        (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA")
    );
    assert!(long
        .note
        .unwrap_or_default()
        .contains("longer than 255 bytes"));
}

#[test]
fn display_is_readable() {
    assert_eq!(
        Error::Argument(ArgumentError::HostnameRequired).to_string(),
        "CERT_REQUIRED requires server_hostname"
    );
    assert!(Error::Key(KeyError::Empty)
        .to_string()
        .starts_with("invalid key"));
}

#[test]
fn psk_rows() {
    let r = Error::Protocol(ProtocolError::UnknownPskIdentity).report();
    assert_eq!((r.class, r.code), (ExceptionClass::Os, -0x6C80));
    assert_eq!(r.text, "MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY");
    for a in [ArgumentError::PskKey, ArgumentError::PskIdentity] {
        let r = Error::Argument(a).report();
        assert_eq!((r.class, r.code), (ExceptionClass::Os, -0x7100));
        assert_eq!(r.text, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA");
    }
}

#[test]
fn dtls_rows() {
    for (e, code, text) in [
        (
            Error::Protocol(ProtocolError::HelloVerifyRequired),
            -27264,
            "MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED",
        ),
        (
            Error::Protocol(ProtocolError::DtlsTimeout),
            -26624,
            "MBEDTLS_ERR_SSL_TIMEOUT",
        ),
        (
            Error::Argument(ArgumentError::ClientIdRequired),
            -28928,
            "MBEDTLS_ERR_SSL_BAD_INPUT_DATA",
        ),
    ] {
        let r = e.report();
        assert_eq!(
            (r.class, r.code, r.text.as_str()),
            (ExceptionClass::Os, code, text)
        );
    }
    let other = Error::Protocol(ProtocolError::Dtls("no shared suite".to_owned())).report();
    assert_eq!(other.code, -0x6E00);
    assert!(other.text.contains("no shared suite"), "{}", other.text);
}
