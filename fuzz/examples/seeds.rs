//! Regenerates the committed seed corpus, `fuzz/corpus/<target>/seed-*`:
//! `cd fuzz && cargo run --example seeds`.
//!
//! Session seeds are real flights: an in-memory handshake between two mpssl sessions is pumped
//! to the end and each side's bytes are saved as input for the *other* side's target (what the
//! client sent seeds `server`, what the server sent seeds `client`). Certificate seeds are
//! rcgen certificates and keys in PEM and DER; cipher seeds are name lists.

use std::fs;
use std::path::Path;

use mpssl::{Protocol, Session, SslContext, VerifyMode};
use rcgen::{CertificateParams, KeyPair, SignatureAlgorithm};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Ident {
    cert_der: Vec<u8>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

fn ident(
    alg: &'static SignatureAlgorithm,
    name: &str,
    ca: Option<(&CertificateParams, &KeyPair)>,
) -> Res<(Ident, CertificateParams, KeyPair)> {
    let key = KeyPair::generate_for(alg)?;
    let mut params = CertificateParams::new(vec![name.to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = match ca {
        None => {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.self_signed(&key)?
        }
        Some((ca_params, ca_key)) => {
            let issuer = rcgen::Issuer::from_params(ca_params, ca_key);
            params.signed_by(&key, &issuer)?
        }
    };
    Ok((
        Ident {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        },
        params,
        key,
    ))
}

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

fn main() -> Res<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let (ca, ca_params, ca_key) = ident(&rcgen::PKCS_ECDSA_P256_SHA256, "mpssl seed CA", None)?;
    let (ec, _, _) = ident(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        "localhost",
        Some((&ca_params, &ca_key)),
    )?;
    let (ec384, _, _) = ident(
        &rcgen::PKCS_ECDSA_P384_SHA384,
        "localhost",
        Some((&ca_params, &ca_key)),
    )?;
    let (ed, _, _) = ident(
        &rcgen::PKCS_ED25519,
        "localhost",
        Some((&ca_params, &ca_key)),
    )?;
    let (rsa, _, _) = ident(
        &rcgen::PKCS_RSA_SHA256,
        "localhost",
        Some((&ca_params, &ca_key)),
    )?;
    let (client_id, _, _) = ident(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        "client",
        Some((&ca_params, &ca_key)),
    )?;

    // certs: certificates and keys, PEM and DER, single and bundled.
    let dir = root.join("certs");
    for (tag, id) in [
        ("ec", &ec),
        ("ec384", &ec384),
        ("ed25519", &ed),
        ("rsa", &rsa),
    ] {
        write(&dir, &format!("{tag}-cert.der"), &id.cert_der)?;
        write(&dir, &format!("{tag}-cert.pem"), &id.cert_pem)?;
        write(&dir, &format!("{tag}-key.der"), &id.key_der)?;
        write(&dir, &format!("{tag}-key.pem"), &id.key_pem)?;
        write(
            &dir,
            &format!("{tag}-bundle.pem"),
            format!("{}{}", id.cert_pem, id.key_pem),
        )?;
    }
    write(&dir, "chain.pem", format!("{}{}", ec.cert_pem, ca.cert_pem))?;
    write(&dir, "ca.der", &ca.cert_der)?;

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
        mpssl::SslContext::new(Protocol::Client).ciphers().join(":"),
    )?;

    // Sessions: real flights between mpssl sessions.
    let server_for = |id: &Ident, suites: Option<&[&str]>, mtls: bool| -> Res<SslContext> {
        let mut s = SslContext::new(Protocol::Server);
        s.load_cert_chain(&id.cert_der, &id.key_der)?;
        s.load_cert_chain(&ca.cert_der, &id.key_der).ok(); // chain of two (key checked vs leaf)
        if let Some(suites) = suites {
            s.set_ciphers(suites)?;
        }
        if mtls {
            s.load_verify_locations(&ca.cert_der)?;
            s.set_verify_mode(VerifyMode::Required);
        }
        Ok(s)
    };
    let client_for = |suites: Option<&[&str]>, mtls: bool| -> Res<SslContext> {
        let mut c = SslContext::new(Protocol::Client);
        // As the `client` target's contexts: a server flight answering a ClientHello that
        // offered tickets would carry extensions the target's client never asked for.
        c.set_session_resumption(false);
        if let Some(suites) = suites {
            // A TLS 1.2-only client, so the `server` target sees a TLS 1.2 ClientHello.
            c.set_ciphers(suites)?;
        }
        c.load_verify_locations(&ca.cert_der)?;
        if mtls {
            c.load_cert_chain(&client_id.cert_der, &client_id.key_der)?;
        }
        Ok(c)
    };
    let tls12: &[&str] = &[
        "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
        "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
        "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
        "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
    ];
    let cases: Vec<(&str, &Ident, Option<&[&str]>, bool)> = vec![
        ("tls13-ec", &ec, None, false),
        ("tls13-rsa", &rsa, None, false),
        ("tls13-ed25519", &ed, None, false),
        ("tls13-mtls", &ec, None, true),
        ("tls12-ec", &ec, Some(tls12), false),
        ("tls12-rsa", &rsa, Some(tls12), false),
        ("tls12-mtls", &ec384, Some(tls12), true),
    ];
    for (tag, id, suites, mtls) in cases {
        let (c2s, s2c) = transcript(
            &client_for(suites, mtls)?,
            &server_for(id, suites, mtls)?,
            Some("localhost"),
        )?;
        write(&root.join("server"), tag, &c2s)?;
        write(&root.join("client"), tag, &s2c)?;
    }
    // A ClientHello without SNI, and one with an IP address.
    let (c2s, _) = transcript(
        &{
            let mut c = SslContext::new(Protocol::Client);
            c.set_verify_mode(VerifyMode::None);
            c
        },
        &server_for(&ec, None, false)?,
        None,
    )?;
    write(&root.join("server"), "no-sni", &c2s)?;
    let mut c = Session::new(&client_for(None, false)?, Some("127.0.0.1"))?;
    write(&root.join("server"), "hello-ip", c.take_tls()?)?;
    println!("seeds written under {}", root.display());
    Ok(())
}
