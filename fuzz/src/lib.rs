//! Shared by the session fuzz targets: the fixed certificates (from the committed test PKI,
//! `testdata/ecdsa-p256/`), the contexts (built once, on the deterministic [`provider`]), and
//! the loop that feeds fuzzer bytes into a [`Session`] as if they came from the peer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use std::sync::Arc;

use mpssl::{Protocol, PskKeyLookup, Session, SslContext, Until, VerifyMode};

pub mod provider;

/// The CA (DER) of `testdata/ecdsa-p256/`.
pub const CA: &[u8] = include_bytes!("../../testdata/ecdsa-p256/ca.der");
/// The server leaf (`localhost`, `127.0.0.1`, `::1`), DER.
pub const SERVER: &[u8] = include_bytes!("../../testdata/ecdsa-p256/server.der");
/// The server leaf's key, PKCS#8 DER (any key loads with the fuzzing provider; this one also
/// loads with aws-lc-rs, so the seeds' certificates are real).
pub const SERVER_KEY: &[u8] = include_bytes!("../../testdata/ecdsa-p256/server.key.der");
/// The client leaf (`client.local`), DER.
pub const CLIENT: &[u8] = include_bytes!("../../testdata/ecdsa-p256/client.der");
/// The client leaf's key, PKCS#8 DER.
pub const CLIENT_KEY: &[u8] = include_bytes!("../../testdata/ecdsa-p256/client.key.der");

/// How many times `drive` read application data (a non-empty `read_plaintext` or a line) out
/// of a session: the evidence that inputs reach the application-data path (`replay` prints it).
pub static PLAINTEXT_READS: AtomicUsize = AtomicUsize::new(0);

/// A context of `protocol` on the deterministic fuzzing [`provider::provider`].
pub fn context(protocol: Protocol) -> SslContext {
    SslContext::dangerous_with_provider(protocol, provider::provider())
}

/// The client contexts of the `client` target: `CERT_NONE`, and `CERT_REQUIRED` against the
/// fixed CA (the verifier runs on whatever certificates the input carries; signatures always
/// verify with the fuzzing provider, names and dates are checked). Session resumption is off,
/// so that no ticket or session ID from one run changes the next.
pub fn client_contexts() -> &'static [SslContext; 2] {
    static CONTEXTS: OnceLock<[SslContext; 2]> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let mut none = context(Protocol::Client);
        none.set_verify_mode(VerifyMode::None);
        none.set_session_resumption(false);
        let mut required = context(Protocol::Client);
        required.set_session_resumption(false);
        required.load_verify_locations(CA).expect("fixed CA");
        [none, required]
    })
}

/// The server contexts of the `server` target, both with the fixed `localhost` certificate:
/// `CERT_NONE`, and `CERT_REQUIRED` against the fixed CA (asks for a client certificate).
/// Resumption stays on (the default), so tickets and session IDs in the input are looked up.
pub fn server_contexts() -> &'static [SslContext; 2] {
    static CONTEXTS: OnceLock<[SslContext; 2]> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let mut none = context(Protocol::Server);
        none.load_cert_chain(SERVER, SERVER_KEY)
            .expect("fixed cert");
        let mut required = context(Protocol::Server);
        required
            .load_cert_chain(SERVER, SERVER_KEY)
            .expect("fixed cert");
        required.load_verify_locations(CA).expect("fixed CA");
        required.set_verify_mode(VerifyMode::Required);
        [none, required]
    })
}

/// The identity of the PSK targets' client, which their server knows.
pub const PSK_IDENTITY: &[u8] = b"fuzz";
/// The PSK targets' key.
pub const PSK_KEY: &[u8] = b"fuzzing-pre-shared-key";

/// The PSK server's key store: [`PSK_KEY`] for [`PSK_IDENTITY`], no key for anything else.
#[derive(Debug)]
struct FixedKeys;

impl PskKeyLookup for FixedKeys {
    fn key(&self, identity: &[u8]) -> Option<Vec<u8>> {
        (identity == PSK_IDENTITY).then(|| PSK_KEY.to_vec())
    }
}

/// The client contexts of the `psk_client` target (TLS 1.2 PSK, the `psk` module): both PSK
/// suites, and AES-128-GCM only. Only their randomness comes from the fuzzing provider (the
/// PSK module uses the real PRF and AES-GCM), which is enough for a recorded conversation to
/// replay: with fixed randoms, every key and record comes out the same.
pub fn psk_client_contexts() -> &'static [SslContext; 2] {
    static CONTEXTS: OnceLock<[SslContext; 2]> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let make = || {
            let mut c = context(Protocol::Client);
            c.set_psk_identity(Some(PSK_IDENTITY.to_vec()))
                .expect("fixed identity");
            c.set_psk_key(Some(PSK_KEY.to_vec())).expect("fixed key");
            c
        };
        let both = make();
        let mut aes128 = make();
        aes128
            .set_ciphers(&["TLS-PSK-WITH-AES-128-GCM-SHA256"])
            .expect("PSK suite");
        [both, aes128]
    })
}

/// The server contexts of the `psk_server` target: without and with an identity hint.
pub fn psk_server_contexts() -> &'static [SslContext; 2] {
    static CONTEXTS: OnceLock<[SslContext; 2]> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let make = || {
            let mut s = context(Protocol::Server);
            s.set_server_psk_keys(Some(Arc::new(FixedKeys)));
            s
        };
        let plain = make();
        let mut hint = make();
        hint.set_psk_identity_hint(Some(b"fuzz hint".to_vec()))
            .expect("fixed hint");
        [plain, hint]
    })
}

/// Feed `data` to `session` as bytes from the peer, in chunks whose size depends on the input
/// (whole, 1 byte, or 700 bytes through `read_tls` as a transport read), exercising every call a socket would make in between:
/// taking output, reading plaintext (whole and line-wise), writing plaintext once the handshake
/// is done, the getters, and finally EOF and close_notify. Errors end the feeding; they are
/// expected. Anything else (a panic, an abort, a hang) is a bug.
///
/// Returns the first error the session failed with, if any (for `examples/replay.rs`).
pub fn drive(session: &mut Session, data: &[u8]) -> Option<mpssl::Error> {
    let step = match data.len() % 3 {
        0 => data.len().max(1),
        1 => 1,
        _ => 700,
    };
    let _ = session.take_tls();
    let mut buf = [0u8; 2048];
    let mut line = Vec::new();
    let mut failed = None;
    // The 700-byte chunks go in as a transport would give them (`read_tls`); the others
    // through `feed`.
    let as_transport = step == 700;
    for chunk in data.chunks(step) {
        let mut rest = chunk;
        // Calls that take nothing new are bounded.
        let mut idle_calls = 0;
        while !rest.is_empty() {
            let taken = if as_transport {
                let mut transport = rest;
                session
                    .read_tls(&mut transport)
                    .map(|_| rest.len() - transport.len())
            } else {
                session.feed(rest)
            };
            match taken {
                Ok(0) if as_transport && idle_calls < 64 => idle_calls += 1,
                Ok(0) => break,
                Ok(n) => {
                    rest = &rest[n..];
                    idle_calls = 0;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            let _ = session.take_tls();
            if let Ok(Some(n)) = session.read_plaintext(&mut buf) {
                if n > 0 {
                    PLAINTEXT_READS.fetch_add(1, Ordering::Relaxed);
                }
            }
            line.clear();
            if matches!(
                session.read_plaintext_until(b'\n', &mut line, 100),
                Ok(Until::Found)
            ) {
                PLAINTEXT_READS.fetch_add(1, Ordering::Relaxed);
            }
            if !session.is_handshaking() {
                let _ = session.write_plaintext(b"GET / HTTP/1.0\r\n\r\n");
                let _ = session.take_tls();
            }
        }
        if failed.is_some() {
            break;
        }
    }
    let _ = (
        session.cipher_name(),
        session.protocol_version(),
        session.cipher_bits(),
        session.key_exchange_group(),
        session.session_reused(),
        session.peer_certificates().map(<[_]>::len),
        session.sni_hostname().map(str::len),
        session.is_invalid(),
    );
    let _ = session.pending();
    // The peer goes away: transport EOF, then our close_notify.
    let _ = session.feed(&[]);
    let _ = session.read_plaintext(&mut buf);
    let _ = session.eof_was_clean();
    session.send_close_notify();
    let _ = session.take_tls();
    session.mark_closed();
    let _ = session.take_tls();
    failed
}

/// A fresh DTLS server context of the `dtls_server` target, with the fixed `localhost`
/// certificate on aws-lc-rs (the DTLS crate does its own cryptography; the fuzzing provider
/// does not reach it). Fresh for every input: a context keeps the handshakes parked after a
/// HelloVerifyRequest, which must not carry over from one input to the next.
pub fn dtls_server_context() -> SslContext {
    let mut ctx = SslContext::new(Protocol::DtlsServer);
    ctx.load_cert_chain(SERVER, SERVER_KEY).expect("fixed cert");
    ctx
}

/// Feed `data` to DTLS server sessions as datagrams, each a big-endian 2-byte length and that
/// many bytes (the last one cut short). When a datagram fails the session (the
/// HelloVerifyRequest of a first ClientHello, or any error), a new session for the same client
/// id takes over, as the reference's server wraps again. After each datagram: take every
/// datagram queued, read plaintext, look at the timer and the getters.
pub fn drive_dtls_server(ctx: &SslContext, mut data: &[u8]) {
    let id: &[u8] = b"fuzz";
    let Ok(mut session) = Session::with_client_id(ctx, None, Some(id)) else {
        return;
    };
    while data.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        let (datagram, rest) = data[2..].split_at(n);
        data = rest;
        let failed = session.feed(datagram).is_err();
        while let Ok(out) = session.take_tls() {
            if out.is_empty() {
                break;
            }
        }
        let mut buf = [0u8; 64];
        if let Ok(Some(n)) = session.read_plaintext(&mut buf) {
            if n > 0 {
                PLAINTEXT_READS.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = session.next_timeout();
        let _ = (session.cipher_name(), session.peer_certificates());
        if failed {
            match Session::with_client_id(ctx, None, Some(id)) {
                Ok(next) => session = next,
                Err(_) => return,
            }
        }
    }
    session.send_close_notify();
    let _ = session.take_tls();
}
