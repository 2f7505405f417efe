use std::io;

use super::*;

#[test]
fn would_block_and_timeouts_are_not_fatal() {
    assert!(!Error::WouldBlock.is_fatal());
    assert!(!Error::Io(io::ErrorKind::TimedOut.into()).is_fatal());
    assert!(!Error::Io(io::ErrorKind::Interrupted.into()).is_fatal());
    assert!(Error::Io(io::Error::from_raw_os_error(104)).is_fatal());
    assert!(Error::HandshakeEof.is_fatal());
    assert!(Error::Closed.is_fatal());
}

#[test]
fn duplicate_keeps_os_error_number() {
    let e = Error::Io(io::Error::from_raw_os_error(32));
    match e.duplicate() {
        Error::Io(d) => assert_eq!(d.raw_os_error(), Some(32)),
        other => panic!("unexpected {other:?}"),
    }
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
        Error::CaChainRequired
    ));
    assert!(matches!(
        Error::from(Marker::HostnameRequired.into_rustls()),
        Error::HostnameRequired
    ));
}

#[test]
fn display_is_readable() {
    assert_eq!(
        Error::HostnameRequired.to_string(),
        "CERT_REQUIRED requires server_hostname"
    );
    assert!(Error::InvalidKey("empty".into())
        .to_string()
        .starts_with("invalid key"));
}
