//! Regenerates the committed seed corpus, `fuzz/corpus/<target>/seed-*`:
//! `cd fuzz && cargo run --example seeds`.
//!
//! Session seeds are complete conversations on the deterministic fuzzing provider (see
//! `src/provider.rs`): an in-memory handshake between two mpssl sessions, then application
//! data both ways and close_notify; each side's bytes are saved as input for the *other* side's
//! target (what the client sent seeds `server`, what the server sent seeds `client`). Since
//! the provider is deterministic, the target's session answers exactly as the recorded one did,
//! so a seed takes it through the handshake into application data. Certificate seeds are the
//! committed test PKI (`testdata/`); cipher seeds are name lists.

use std::fs;
use std::path::Path;

use mpssl::{Protocol, Session, SslContext, VerifyMode};
use mpssl_fuzz::provider;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Pump a handshake plus one exchange of application data and close_notify; return the bytes
/// (client → server, server → client).
fn transcript(
    client: &SslContext,
    server: &SslContext,
    sni: Option<&str>,
) -> Res<(Vec<u8>, Vec<u8>)> {
    let mut c = Session::new(client, sni)?;
    let mut s = Session::new(server, None)?;
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let mut sent_data = false;
    for _ in 0..20 {
        let out = c.take_tls()?;
        if !out.is_empty() {
            s.feed(&out)?;
            c2s.extend_from_slice(&out);
        }
        let out = s.take_tls()?;
        if !out.is_empty() {
            c.feed(&out)?;
            s2c.extend_from_slice(&out);
        }
        if !c.is_handshaking() && !s.is_handshaking() && !sent_data {
            c.write_plaintext(b"GET / HTTP/1.0\r\n\r\n")?;
            s.write_plaintext(b"HTTP/1.0 200 OK\r\n\r\nhello\n")?;
            c.send_close_notify();
            s.send_close_notify();
            sent_data = true;
        }
    }
    assert!(sent_data, "the seed handshake did not complete");
    Ok((c2s, s2c))
}

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> Res<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("seed-{name}")), data)?;
    Ok(())
}

/// A context on the fuzzing provider (`tls12_only`: the provider with only the TLS 1.2 suite).
fn context(protocol: Protocol, tls12_only: bool) -> SslContext {
    let p = if tls12_only {
        provider::provider_tls12()
    } else {
        provider::provider()
    };
    SslContext::dangerous_with_provider(protocol, p)
}

/// As the `client` target's client (`mtls`: with the client certificate).
fn client(tls12_only: bool, mtls: bool) -> Res<SslContext> {
    let mut c = context(Protocol::Client, tls12_only);
    c.set_session_resumption(false);
    c.load_verify_locations(mpssl_fuzz::CA)?;
    if mtls {
        c.load_cert_chain(mpssl_fuzz::CLIENT, mpssl_fuzz::CLIENT_KEY)?;
    }
    Ok(c)
}

/// As the `server` target's servers (`mtls`: `CERT_REQUIRED`).
fn server(tls12_only: bool, mtls: bool) -> Res<SslContext> {
    let mut s = context(Protocol::Server, tls12_only);
    s.load_cert_chain(mpssl_fuzz::SERVER, mpssl_fuzz::SERVER_KEY)?;
    if mtls {
        s.load_verify_locations(mpssl_fuzz::CA)?;
        s.set_verify_mode(VerifyMode::Required);
    }
    Ok(s)
}

fn main() -> Res<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");

    // certs: the committed test PKI, PEM and DER, single and bundled.
    let dir = root.join("certs");
    for (tag, kind) in [
        ("ec", "ecdsa-p256"),
        ("ec384", "ecdsa-p384"),
        ("ed25519", "ed25519"),
        ("rsa", "rsa-2048"),
    ] {
        let read = |name: &str| fs::read(testdata.join(kind).join(name));
        write(&dir, &format!("{tag}-cert.der"), read("server.der")?)?;
        write(&dir, &format!("{tag}-cert.pem"), read("server.pem")?)?;
        write(&dir, &format!("{tag}-key.der"), read("server.key.der")?)?;
        write(&dir, &format!("{tag}-key.pem"), read("server.key.pem")?)?;
        write(
            &dir,
            &format!("{tag}-bundle.pem"),
            [read("server.pem")?, read("server.key.pem")?].concat(),
        )?;
    }
    write(
        &dir,
        "chain.pem",
        fs::read(testdata.join("ecdsa-p256/server-inter.chain.pem"))?,
    )?;
    write(&dir, "ca.der", mpssl_fuzz::CA)?;

    // ciphers: name lists as the fuzz target splits them (':', ',', ' ', NUL).
    let dir = root.join("ciphers");
    write(&dir, "one-dashed", "TLS-AES-256-GCM-SHA384")?;
    write(&dir, "one-iana", "TLS_CHACHA20_POLY1305_SHA256")?;
    write(&dir, "mixed", "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256:TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,TLS-AES-128-GCM-SHA256")?;
    write(
        &dir,
        "unsupported",
        "TLS-RSA-WITH-AES-128-CBC-SHA TLS-PSK-WITH-AES-256-GCM-SHA384",
    )?;
    write(
        &dir,
        "all",
        SslContext::new(Protocol::Client).ciphers().join(":"),
    )?;

    // Sessions. The seeds of one target come from a conversation whose other end is that
    // target's own context; in TLS 1.2 the end that is not the target's offers only TLS 1.2
    // (a server that could do TLS 1.3 would mark a 1.2 ServerHello as a downgrade).
    let old = [
        "tls13-ec",
        "tls13-rsa",
        "tls13-ed25519",
        "tls12-ec",
        "tls12-rsa",
    ];
    for target in ["client", "server"] {
        for name in old {
            let _ = fs::remove_file(root.join(target).join(format!("seed-{name}")));
        }
    }
    for (tag, tls12, mtls) in [
        ("tls13", false, false),
        ("tls13-mtls", false, true),
        ("tls12", true, false),
        ("tls12-mtls", true, true),
    ] {
        // For the `client` target: its client, the other end's server. In TLS 1.2 that server
        // has resumption off, so it sends an empty session ID: with the fixed randomness, the
        // ID it would pick is the client's TLS 1.3 compatibility ID, which a client refuses
        // to see echoed in a TLS 1.2 ServerHello.
        let mut other_server = server(tls12, mtls)?;
        if tls12 {
            other_server.set_session_resumption(false);
        }
        let (_, s2c) = transcript(&client(false, mtls)?, &other_server, Some("localhost"))?;
        write(&root.join("client"), tag, &s2c)?;
        // For the `server` target: the other end's client, its server.
        let (c2s, _) = transcript(
            &client(tls12, mtls)?,
            &server(false, mtls)?,
            Some("localhost"),
        )?;
        write(&root.join("server"), tag, &c2s)?;
    }
    // A ClientHello without SNI, and one with an IP address.
    let mut none = client(false, false)?;
    none.set_verify_mode(VerifyMode::None);
    let (c2s, _) = transcript(&none, &server(false, false)?, None)?;
    write(&root.join("server"), "no-sni", &c2s)?;
    let mut c = Session::new(&client(false, false)?, Some("127.0.0.1"))?;
    write(&root.join("server"), "hello-ip", c.take_tls()?)?;
    // PSK: each target's first context against the other target's first context (the
    // randoms are fixed, so the other end's bytes replay), and with the hint server.
    let (psk_clients, psk_servers) = (
        mpssl_fuzz::psk_client_contexts(),
        mpssl_fuzz::psk_server_contexts(),
    );
    let (c2s, s2c) = transcript(&psk_clients[0], &psk_servers[0], Some("localhost"))?;
    write(&root.join("psk_client"), "psk", &s2c)?;
    write(&root.join("psk_server"), "psk", &c2s)?;
    let (_, s2c) = transcript(&psk_clients[0], &psk_servers[1], Some("localhost"))?;
    write(&root.join("psk_client"), "psk-hint", &s2c)?;
    let (c2s, _) = transcript(&psk_clients[1], &psk_servers[0], Some("localhost"))?;
    write(&root.join("psk_server"), "psk-aes128", &c2s)?;
    println!("seeds written under {}", root.display());
    Ok(())
}
