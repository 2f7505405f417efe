//! The CPython-facing context features of issue 11, in memory: ALPN, certificates chosen by
//! SNI name, the server-name callback, shared suites, the `tls-exporter` channel binding and
//! the key log file.

// The helpers below are test code too: a failed setup step aborts the test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use mpssl::{
    ArgumentError, ChannelBinding, Error, ProtocolError, ServerCertificates, ServerNameCallback,
    Session, SniAbort, SslContext,
};

#[test]
fn alpn_server_preference_wins() {
    let mut f = fixture();
    f.client.set_alpn_protocols(&["http/1.1", "h2"]).unwrap();
    f.server.set_alpn_protocols(&["h2", "http/1.1"]).unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    assert_eq!(c.alpn_protocol(), None);
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(c.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(s.alpn_protocol(), Some(&b"h2"[..]));
}

#[test]
fn alpn_without_overlap_fails_with_no_application_protocol() {
    let mut f = fixture();
    f.client.set_alpn_protocols(&["http/1.1"]).unwrap();
    f.server.set_alpn_protocols(&["h2"]).unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    match do_handshake(&mut c, &mut s) {
        Err(Error::Protocol(ProtocolError::Other(rustls::Error::NoApplicationProtocol))) => {}
        other => panic!("expected NoApplicationProtocol, got {other:?}"),
    }
}

#[test]
fn alpn_names_must_be_1_to_255_bytes() {
    let mut ctx = SslContext::new(mpssl::Protocol::Client);
    for bad in [&b""[..], &[b'x'; 256][..]] {
        assert!(matches!(
            ctx.set_alpn_protocols(&[bad]),
            Err(Error::Argument(ArgumentError::AlpnProtocol))
        ));
    }
    ctx.set_alpn_protocols(&[[b'x'; 255]]).unwrap();
    assert_eq!(ctx.alpn_protocols().len(), 1);
}

/// A server with the fixture's "server.test" leaf first, then leaves for `a.test` and
/// `*.b.test` from the same CA.
fn several_names() -> (Fixture, Vec<Vec<u8>>) {
    let mut f = fixture();
    let mut leaves = vec![f.leaf.cert_der.clone()];
    for names in [&["a.test"][..], &["*.b.test"][..]] {
        let leaf = f.ca.leaf(names);
        f.server
            .load_cert_chain(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes())
            .unwrap();
        leaves.push(leaf.cert_der);
    }
    f.client.set_verify_mode(mpssl::VerifyMode::None);
    (f, leaves)
}

#[test]
fn certificate_chosen_by_sni_name() {
    let (f, leaves) = several_names();
    assert_eq!(f.server.server_certificates().unwrap().len(), 3);
    for (name, want) in [
        (Some("a.test"), 1),
        (Some("x.b.test"), 2),
        (Some("server.test"), 0),
        (Some("other.test"), 0),
        (None, 0),
    ] {
        let (mut c, mut s) = make_pair(&f.client, &f.server, name);
        do_handshake(&mut c, &mut s).unwrap();
        let leaf = c.peer_certificates().unwrap()[0].as_ref().to_vec();
        assert_eq!(leaf, leaves[want], "name {name:?}");
        assert_eq!(s.sni_hostname(), name);
    }
}

#[test]
fn same_key_again_extends_the_chain() {
    let f = fixture();
    let mut server = SslContext::new(mpssl::Protocol::Server);
    server
        .load_cert_chain(&f.leaf.cert_der, &f.leaf.key_der)
        .unwrap();
    server
        .load_cert_chain(&f.ca.cert.cert_der, &f.leaf.key_der)
        .unwrap();
    assert_eq!(server.cert_chain().len(), 2);
    assert_eq!(server.server_certificates().unwrap().len(), 1);
}

/// A callback that records the names it sees and gives a fixed answer.
#[derive(Debug)]
struct Hook {
    seen: Mutex<Vec<Option<String>>>,
    answer: Result<Option<ServerCertificates>, SniAbort>,
}

impl ServerNameCallback for Hook {
    fn server_name(&self, name: Option<&str>) -> Result<Option<ServerCertificates>, SniAbort> {
        self.seen.lock().unwrap().push(name.map(str::to_owned));
        self.answer.clone()
    }
}

fn hooked(server: &SslContext, hook: &Arc<Hook>) -> Session {
    Session::with_server_name_callback(server, None, Some(hook.clone() as Arc<_>)).unwrap()
}

#[test]
fn callback_switches_certificates() {
    let f = fixture();
    let other_leaf = f.ca.leaf(&["other.test"]);
    let other = server_ctx(&other_leaf.cert_pem, &other_leaf.key_pem);
    let certs = other.server_certificates().unwrap();
    let hook = Arc::new(Hook {
        seen: Mutex::new(Vec::new()),
        answer: Ok(Some(certs)),
    });
    let mut c = Session::new(&f.client, Some("other.test")).unwrap();
    let mut s = hooked(&f.server, &hook);
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        c.peer_certificates().unwrap()[0].as_ref(),
        &other_leaf.cert_der[..]
    );
    assert_eq!(*hook.seen.lock().unwrap(), [Some("other.test".to_owned())]);
}

#[test]
fn callback_abort_fails_the_server_with_its_reason() {
    let f = fixture();
    let hook = Arc::new(Hook {
        seen: Mutex::new(Vec::new()),
        answer: Err(SniAbort::Alert(112)),
    });
    let mut c = Session::new(&f.client, Some("server.test")).unwrap();
    let mut s = hooked(&f.server, &hook);
    let hello = c.take_tls().unwrap();
    match feed_raw(&mut s, &hello) {
        Err(Error::ServerName(SniAbort::Alert(112))) => {}
        other => panic!("expected the callback's abort, got {other:?}"),
    }
    // The client is told with a fatal alert.
    let alert = s.take_tls().unwrap();
    assert!(matches!(
        feed_raw(&mut c, &alert),
        Err(Error::Protocol(ProtocolError::AlertReceived(
            rustls::AlertDescription::AccessDenied
        )))
    ));
}

#[test]
fn shared_suites_are_the_offer_the_server_enables() {
    let mut f = fixture();
    f.server
        .set_ciphers(&[
            "TLS-AES-128-GCM-SHA256",
            "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
        ])
        .unwrap();
    f.client
        .set_ciphers(&["TLS-AES-256-GCM-SHA384", "TLS-AES-128-GCM-SHA256"])
        .unwrap();
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    assert_eq!(s.shared_ciphers(), None);
    do_handshake(&mut c, &mut s).unwrap();
    assert_eq!(
        s.shared_ciphers().unwrap(),
        [("TLS-AES-128-GCM-SHA256", "TLSv1.3", 128)]
    );
    assert_eq!(c.shared_ciphers(), None);
}

#[test]
fn tls_exporter_binding_agrees_and_differs_per_connection() {
    let f = fixture();
    let mut values = Vec::new();
    for _ in 0..2 {
        let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
        assert_eq!(
            c.channel_binding(ChannelBinding::TlsExporter).unwrap(),
            None
        );
        do_handshake(&mut c, &mut s).unwrap();
        let cb = c.channel_binding(ChannelBinding::TlsExporter).unwrap();
        assert!(cb.is_some());
        assert_eq!(cb, s.channel_binding(ChannelBinding::TlsExporter).unwrap());
        values.push(cb);
        assert!(matches!(
            c.channel_binding(ChannelBinding::TlsUnique),
            Err(Error::Argument(ArgumentError::ChannelBinding(_)))
        ));
    }
    assert_ne!(values[0], values[1]);
}

#[test]
fn key_log_lines_for_both_ends_agree() {
    let dir = std::env::temp_dir().join(format!("mpssl-keylog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (client_log, server_log) = (dir.join("client.keys"), dir.join("server.keys"));
    let _ = std::fs::remove_file(&client_log);
    let _ = std::fs::remove_file(&server_log);
    let mut f = fixture();
    f.client.set_keylog_filename(Some(&client_log)).unwrap();
    f.server.set_keylog_filename(Some(&server_log)).unwrap();
    assert_eq!(f.client.keylog_filename(), Some(client_log.as_path()));
    let (mut c, mut s) = make_pair(&f.client, &f.server, Some("server.test"));
    do_handshake(&mut c, &mut s).unwrap();
    let lines = |p: &std::path::Path| {
        let mut l: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        l.sort();
        l
    };
    let client = lines(&client_log);
    assert_eq!(client.len(), 5, "{client:?}");
    assert_eq!(client, lines(&server_log));
    std::fs::remove_dir_all(&dir).unwrap();
}
