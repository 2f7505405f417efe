//! In-memory test helpers, modelled on rustls's own (`rustls/tests/common`):
//!
//! - the committed test PKI (`testdata/`, see its README): [`testdata`], [`Cert::testdata`],
//!   [`Ca::testdata`] (which can also sign new leaves); [`fixture`] uses it;
//! - a small PKI made with rcgen for certificates that are the point of a test: [`Ca`] (root or
//!   intermediate), leaves with DNS/IP SANs, expired and not-yet-valid leaves, and the
//!   reference's style of certificate (self-signed, CA:TRUE, subject CN only, no SAN) from
//!   [`reference_style`];
//! - fixed keys in formats rcgen does not write (PKCS#1 RSA, SEC1 EC, RSA-1024);
//! - [`make_pair`], [`do_handshake`], [`transfer`], [`send`]: two [`Session`]s shuttling bytes
//!   in memory;
//! - [`ScriptedIo`] and [`pipe_pair`]: a `Read + Write` transport over shared in-memory queues
//!   that returns `WouldBlock` when empty or when told to refuse writes, so that
//!   [`TlsStream`]s can be driven non-blockingly in one thread.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]
// The module is private to each test binary; `pub` here means "for the test files".
#![allow(unreachable_pub)]
// Helpers are test code: a failed setup step should abort the test with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::rc::Rc;

use mpssl::{Error, Protocol, ProtocolError, Session, SslContext, TlsStream, VerifyMode};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SignatureAlgorithm,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/// A certificate with its private key, in PEM and DER.
#[derive(Debug, Clone)]
pub struct Cert {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

/// The bytes of `testdata/<path>` (the committed test PKI), e.g. `"ecdsa-p256/ca.der"`.
pub fn testdata(path: &str) -> Vec<u8> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn testdata_string(path: &str) -> String {
    String::from_utf8(testdata(path)).unwrap()
}

impl Cert {
    /// The committed certificate `testdata/<kind>/<name>` (`kind` e.g. `"ecdsa-p256"`, `name`
    /// e.g. `"server"`), with its PKCS#8 key.
    pub fn testdata(kind: &str, name: &str) -> Self {
        Self {
            cert_pem: testdata_string(&format!("{kind}/{name}.pem")),
            cert_der: testdata(&format!("{kind}/{name}.der")),
            key_pem: testdata_string(&format!("{kind}/{name}.key.pem")),
            key_der: testdata(&format!("{kind}/{name}.key.der")),
        }
    }
}

/// A certificate authority that can sign leaves and intermediates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub cert: Cert,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn key_pem_der(key: &KeyPair) -> (String, Vec<u8>) {
    (key.serialize_pem(), key.serialize_der())
}

impl Ca {
    /// The committed root CA `testdata/<kind>/ca` (`mpssl test CA`); it signs new leaves too.
    pub fn testdata(kind: &str) -> Self {
        let cert = Cert::testdata(kind, "ca");
        let key = KeyPair::from_pem(&cert.key_pem).unwrap();
        Self {
            issuer: Issuer::from_ca_cert_pem(&cert.cert_pem, key).unwrap(),
            cert,
        }
    }

    /// A new self-signed root CA.
    pub fn new(cn: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn);
        let cert = params.self_signed(&key).unwrap();
        let (key_pem, key_der) = key_pem_der(&key);
        let cert = Cert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem,
            key_der,
        };
        Self {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, cn: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (key_pem, key_der) = key_pem_der(&key);
        let cert = Cert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem,
            key_der,
        };
        Self {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// A P-256 leaf for `names` (DNS names or IP addresses), valid 1975..4096.
    pub fn leaf(&self, names: &[&str]) -> Cert {
        self.leaf_with(leaf_params(names), &KeyPair::generate().unwrap())
    }

    /// A leaf from explicit parameters and key.
    pub fn leaf_with(&self, params: CertificateParams, key: &KeyPair) -> Cert {
        let cert = params.signed_by(key, &self.issuer).unwrap();
        let (key_pem, key_der) = key_pem_der(key);
        Cert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem,
            key_der,
        }
    }

    /// A leaf for `names` that expired in 2001.
    pub fn expired_leaf(&self, names: &[&str]) -> Cert {
        let mut params = leaf_params(names);
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        self.leaf_with(params, &KeyPair::generate().unwrap())
    }

    /// A leaf for `names` that becomes valid in 2090.
    pub fn future_leaf(&self, names: &[&str]) -> Cert {
        let mut params = leaf_params(names);
        params.not_before = rcgen::date_time_ymd(2090, 1, 1);
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        self.leaf_with(params, &KeyPair::generate().unwrap())
    }

    /// A leaf whose public key is `spki` (for keys rcgen cannot load), with a given private key.
    pub fn leaf_for_public_key(&self, names: &[&str], spki: &ForeignKey, key_pem: &str) -> Cert {
        let cert = leaf_params(names).signed_by(spki, &self.issuer).unwrap();
        Cert {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key_pem.to_owned(),
            key_der: pem_body(key_pem),
        }
    }
}

/// Leaf parameters: the SANs, CN "mpssl test leaf".
pub fn leaf_params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name = dn("mpssl test leaf");
    params
}

/// A certificate like the reference's test certificates: self-signed, CA:TRUE, the host name
/// only in the subject CN, no subjectAltName.
pub fn reference_style(cn: &str) -> Cert {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let (key_pem, key_der) = key_pem_der(&key);
    Cert {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem,
        key_der,
    }
}

/// A leaf signed by `ca` with a key of the given algorithm (generated by rcgen, PKCS#8).
pub fn leaf_with_alg(ca: &Ca, names: &[&str], alg: &'static SignatureAlgorithm) -> Cert {
    ca.leaf_with(leaf_params(names), &KeyPair::generate_for(alg).unwrap())
}

/// A leaf signed by `ca` for a fixed PEM key (PKCS#1 or SEC1), returned in that key format.
pub fn leaf_with_pem_key(
    ca: &Ca,
    names: &[&str],
    key_pem: &str,
    alg: &'static SignatureAlgorithm,
) -> Cert {
    let key = KeyPair::from_pem_and_sign_algo(key_pem, alg).unwrap();
    let mut cert = ca.leaf_with(leaf_params(names), &key);
    cert.key_pem = key_pem.to_owned();
    cert.key_der = pem_body(key_pem);
    cert
}

/// The DER body of the first PEM section of `pem`.
pub fn pem_body(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::SectionKind;
    let (_, der) = <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a PEM section")
        .unwrap();
    der
}

/// A public key rcgen cannot generate or load (RSA-1024), from its SubjectPublicKeyInfo.
pub struct ForeignKey {
    bits: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl ForeignKey {
    /// The public key of an RSA SubjectPublicKeyInfo in PEM.
    pub fn rsa_from_spki_pem(pem: &str) -> Self {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).unwrap();
        let (_, parsed) =
            <x509_parser::x509::SubjectPublicKeyInfo<'_> as x509_parser::prelude::FromDer<
                '_,
                x509_parser::error::X509Error,
            >>::from_der(spki.as_ref())
            .unwrap();
        Self {
            bits: parsed.subject_public_key.data.to_vec(),
            alg: &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl PublicKeyData for ForeignKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// A 2048-bit RSA key in PKCS#1 form (`openssl genrsa -traditional 2048`).
pub const RSA2048_PKCS1_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAvcJe3tNFqKr4V60Eq8v2ikgMssmt85t1xRBS0od38zI7WVzI
BPnlOnyoINJTVqrH07GoExkZbkfynaT+mEQz3raBltG8vWGRHCdU2IrQekFSMwc8
LRP6FzWkbMn7omtXQwZdsNndizbuFj6+D+Vf4YIju/HpbggnBRRwlQ5NsOngr8ZH
7mNqbWXscVE5pYmYAgBzwm3PwbhqOi8kxfCRW17/VNlbNUM3m+uRuVa5KBr6KF8d
uNB4okQIAMIX9LAvJqHOMwhDVrmnep5PVlODmVEcBslQQtaRAqGmF1okX0kOmi/i
3N1TokV83eyUBIC4lx4eJ+aeescuVZfehHsuLwIDAQABAoIBADQU+pv26coS7umF
g+AxMYAfqViS8SsJEqhdRBYjd2Eo+tAano17FxbX6v9jKtuBMSphuutO+sNhfO4W
wIgDRCdO+T9vXnmuIzlSdD+gzfqYHhsCU9pdfslLAE+ZmnaoNoGfaCynh15z26IA
Y4MSZiALa4pkqbh5BVioFQRcMiepd7sVaH+JC3V80R2ASBJ5EEVXIa8nuWfLlKFk
5Nck2ZbaWa9nIu/aIOqsrvs2O6qcuBPVtwwSFsT8kGzboaYFtVrX67De2K7mMOOB
3Tz2fkLzNkwJpI0tak15UBptpV+0uxQ5dPLKrloSW8uUjgjQ7ojdpZ33JYkheH2V
7MuH7UUCgYEA9d7hKxDpCbB3vMySWTzBEyVkeiDQQsJIwJM0yzPv+FgauYVTaOAf
kxC80Pkq+7GD1tzj5wM45mKgNu0qqaXUYLKHfS6xPC9xHmMCIBAwgGYd00uY2wWK
iNqzfFl4n8XrTDhj2DTMiT8+jCd/BWQxMCh5YS5/CArAnu8jtcDsTwsCgYEAxZOz
uecrY8iBGkijC2+71a/vo2Fzh5ULVaP3rZMlMwluF9vSgrBhXRKmRZ2wxsQg5uZv
scqpKEZ3cTegXIerCOdvlJ2FAthBFokCBq+8VsHrlhuMcidUiSvtivjXS4X5ODtK
pA+S59KEt+nD6nmV6a7dAUs6dvk8vXRaQ/9mo+0CgYEAuiA7PKrUfy1Dt3z13PAN
CT1pTrrAbYk+IepOMPXkV4/6yy6O8fmYbXBiP6AgVeEP+PvG2v6peF55ApuPjFWo
7Hq57p4GNZWEgIha94LJ9KlZMrcrw8HyGZ/V9/CTTAA8G7skemud2tgxtU/A7Ifo
ZJh/Kn5UU/Yv0yEdW13shfkCgYAcYj60m1AxcpGRfBPoRbH/XdoYZ5yYQsIxGHAx
gG0cquMlDFBus/YYz+ARKjlGJNDxOvOa4BlzDsSEAFDKWjco/U6bVBHSucyH90DS
QxbUg+FbXDPOBnZvil8C0wLi96k4+dOcRBx/r0+fuDaMDdGKk7NuRydsBhxCv19k
W2GcdQKBgDOc5ap3nv+S/VoVmzc1uFGUhTPKBhLunrHJNrpbYTVwdZRceBEOu2ly
QJ6GXY1MXVw34UWl2sCQLPu2f79rpiRU0c/ykK/bjQVhmbZVeyydlCxb+txqX858
LDPAQ9YXfV4eL3StcRY//TZhRXlkneLpaIXso5uSL/aUS0cltHH+
-----END RSA PRIVATE KEY-----
";

/// A P-256 key in SEC1 form with curve parameters (`openssl ecparam -genkey -noout`).
pub const EC_SEC1_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIEy9To72mIlhtDmbrf/U0cVpwkUyJCPOp49QI26G1nR5oAoGCCqGSM49
AwEHoUQDQgAEW5zsIF2OqHg1b4S3DY12jQB+d+/PXwNfNYEetUE6ZSD3DnizHJaS
H2ngDbzoX54O3vk7DwdxA4kvBdTDdwHjFA==
-----END EC PRIVATE KEY-----
";

/// A 1024-bit RSA key in PKCS#8 form (the reference's own tests load keys this small).
pub const RSA1024_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIICeAIBADANBgkqhkiG9w0BAQEFAASCAmIwggJeAgEAAoGBANq7HnSaGnyeVfVO
/EBoALHYAYB0X3L2THm8zHLJvndlvHQxEsSGdDjBotuFpREjxHOiWHIO3PElqWDM
YFGLz6TtsJ9/mDzJ4hPWlRlGZh5TCmM4550UmOwofU9vd2x4RutpxcVXnRTrGR48
aZXdoEAMpf3FaBdOZ/mEX20FNatFAgMBAAECgYBzS2jNS6GkiI2ExcKfbHLZS6PX
AwCBB6TeEo+t/fug0gaZNHjREJJYjHD8x6BvvWvDDBMU5BLAJfr3JCOtOEYVjx7e
RGP0Yfkh180fedKJj8CY2uFUL0oKd8P2SiP11TwdaxvZ1qja1fnXR8/8unKXrNz1
XqeaDSvAPRP++PPVgQJBAO7LVs94msxSYAihujmtKztGdFMF0Ecb7ZDHtkd4Gd4H
akN5u1Ny7MafPWq6711lkuRrwAYuod+Rdvo9e+41c2UCQQDqfbPpDshe4Zk5G8lq
L2Xs+49sYix77N349K87Uolo+aeOpN7j20vzrfVKLzS1IZr31Njp2b7K22uNl3Oe
9wphAkEAiQMszR/zGdcN+QXqlxtQGdOj/NryFUrl9VNRuBImLWntw8d9/zSKvLAz
iiC2JM2aCev1Itbw1Blfvdc3W4dZrQJBANnzMG+kj9Swt2v/SbxqhcA5KVvB/DrL
NJ4bP2xSEOoDchwBXjJHOFcsD1t+eO0KaTGFIoBpJQ8D1vnqFUthrsECQQDYyTCc
OORSi2bI7ORJLT0iKlr2o+sS/BXXcpFLjtH0QFftyQG+3+zisB8UQdk1Rn8NpLyr
lxK9EnOLTdSsMYH5
-----END PRIVATE KEY-----
";

/// The public key of [`RSA1024_PKCS8_PEM`].
pub const RSA1024_SPKI_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDaux50mhp8nlX1TvxAaACx2AGA
dF9y9kx5vMxyyb53Zbx0MRLEhnQ4waLbhaURI8RzolhyDtzxJalgzGBRi8+k7bCf
f5g8yeIT1pUZRmYeUwpjOOedFJjsKH1Pb3dseEbracXFV50U6xkePGmV3aBADKX9
xWgXTmf5hF9tBTWrRQIDAQAB
-----END PUBLIC KEY-----
";

// ---------------------------------------------------------------------------------------------
// Contexts and in-memory session pairs
// ---------------------------------------------------------------------------------------------

/// A server context presenting `chain_pem` (leaf first) with `key`.
pub fn server_ctx(chain_pem: &str, key: &str) -> SslContext {
    let mut ctx = SslContext::new(Protocol::Server);
    ctx.load_cert_chain(chain_pem.as_bytes(), key.as_bytes())
        .unwrap();
    ctx
}

/// A `CERT_REQUIRED` client context trusting `ca_pem`.
pub fn client_ctx(ca_pem: &str) -> SslContext {
    let mut ctx = SslContext::new(Protocol::Client);
    ctx.load_verify_locations(ca_pem.as_bytes()).unwrap();
    ctx
}

/// A `CERT_NONE` client context with nothing loaded.
pub fn insecure_client_ctx() -> SslContext {
    let mut ctx = SslContext::new(Protocol::Client);
    ctx.set_verify_mode(VerifyMode::None);
    ctx
}

/// A CA, a leaf for "server.test" (both from `testdata/ecdsa-p256/`) and matching client and
/// server contexts.
pub struct Fixture {
    pub ca: Ca,
    pub leaf: Cert,
    pub client: SslContext,
    pub server: SslContext,
}

/// The usual setup: CA → leaf "server.test" (`testdata/ecdsa-p256/{ca,server-test}`), the
/// client trusting the CA.
pub fn fixture() -> Fixture {
    let ca = Ca::testdata("ecdsa-p256");
    let leaf = Cert::testdata("ecdsa-p256", "server-test");
    let server = server_ctx(&leaf.cert_pem, &leaf.key_pem);
    let client = client_ctx(&ca.cert.cert_pem);
    Fixture {
        ca,
        leaf,
        client,
        server,
    }
}

/// A client session (for `hostname`) and a server session.
pub fn make_pair(
    client: &SslContext,
    server: &SslContext,
    hostname: Option<&str>,
) -> (Session, Session) {
    (
        Session::new(client, hostname).unwrap(),
        Session::new(server, None).unwrap(),
    )
}

/// Feed all of `data` into `to`, reading plaintext as it decrypts (so rustls's plaintext
/// buffer never fills); returns the plaintext.
pub fn feed_all(to: &mut Session, mut data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut plain = Vec::new();
    while !data.is_empty() {
        let n = to.feed(data)?;
        assert!(n > 0, "a session took no bytes of a non-empty feed");
        data = &data[n..];
        if !to.is_handshaking() {
            drain_plaintext(to, &mut plain)?;
        }
    }
    if !to.is_handshaking() {
        drain_plaintext(to, &mut plain)?;
    }
    Ok(plain)
}

/// Feed all of `data` into `to` without reading plaintext (for handshake messages; an empty
/// feed would mean EOF, so it is skipped).
pub fn feed_raw(to: &mut Session, mut data: &[u8]) -> Result<(), Error> {
    while !data.is_empty() {
        let n = to.feed(data)?;
        assert!(n > 0, "a session took no bytes of a non-empty feed");
        data = &data[n..];
    }
    Ok(())
}

fn drain_plaintext(to: &mut Session, plain: &mut Vec<u8>) -> Result<(), Error> {
    let mut buf = [0u8; 4096];
    while let Some(n) = to.read_plaintext(&mut buf)? {
        if n == 0 {
            break;
        }
        plain.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// Move every queued ciphertext byte of `from` into `to`; returns the plaintext `to` decrypted.
pub fn transfer(from: &mut Session, to: &mut Session) -> Result<Vec<u8>, Error> {
    let data = from.take_tls()?;
    feed_all(to, &data)
}

/// Write all of `data` on `from` and deliver it to `to`; returns what `to` read.
pub fn send(from: &mut Session, to: &mut Session, data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = from.write_plaintext(rest)?;
        rest = &rest[n..];
        out.extend(transfer(from, to)?);
    }
    out.extend(transfer(from, to)?);
    Ok(out)
}

/// Shuttle handshake messages between two sessions until neither is handshaking.
///
/// Plaintext that arrives with the last flight stays buffered in the receiving session.
///
/// Returns the first error of either side (the other side's queued alert is left in place, so a
/// test can deliver it with [`transfer`]).
pub fn do_handshake(client: &mut Session, server: &mut Session) -> Result<(), Error> {
    for _ in 0..32 {
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
        let to_server = client.take_tls()?;
        feed_raw(server, &to_server)?;
        let to_client = server.take_tls()?;
        feed_raw(client, &to_client)?;
        if to_server.is_empty() && to_client.is_empty() {
            panic!("handshake stalled: neither side has anything to send");
        }
    }
    panic!("handshake did not finish in 32 rounds");
}

/// Unwrap the verification flags of a verification error.
pub fn verify_flags(result: Result<(), Error>) -> mpssl::VerifyFlags {
    match result {
        Err(Error::Verify(flags)) => flags,
        other => panic!("expected a verification error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Scripted transport
// ---------------------------------------------------------------------------------------------

/// One direction of an in-memory transport.
#[derive(Debug, Default)]
pub struct Queue {
    /// Bytes written and not yet read.
    pub data: VecDeque<u8>,
    /// The writer has gone: reads of an empty queue return EOF (`Ok(0)`) instead of blocking.
    pub closed: bool,
    /// Writes fail with `WouldBlock`.
    pub refuse_writes: bool,
    /// Most bytes the queue holds; writes beyond it are short or `WouldBlock`.
    pub capacity: Option<usize>,
    /// The next read fails with this error kind (once).
    pub fail_next_read: Option<io::ErrorKind>,
    /// Number of read calls that reached this queue.
    pub reads: usize,
    /// Number of write calls that reached this queue.
    pub writes: usize,
}

/// A shared queue.
pub type Shared = Rc<RefCell<Queue>>;

/// A `Read + Write` transport: reads come from `rx`, writes go to `tx`.
///
/// Reading an empty, open queue gives `WouldBlock`, as a non-blocking socket does. Clone it to
/// keep a handle on the queues after giving it to a [`TlsStream`].
#[derive(Debug, Clone, Default)]
pub struct ScriptedIo {
    pub rx: Shared,
    pub tx: Shared,
}

impl ScriptedIo {
    /// A transport with its own two empty queues; script them through `rx` and `tx`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue bytes for the stream to read.
    pub fn push_incoming(&self, data: &[u8]) {
        self.rx.borrow_mut().data.extend(data);
    }

    /// Make reads of the empty incoming queue return EOF.
    pub fn close_incoming(&self) {
        self.rx.borrow_mut().closed = true;
    }

    /// Everything written so far, removed from the queue.
    pub fn take_outgoing(&self) -> Vec<u8> {
        self.tx.borrow_mut().data.drain(..).collect()
    }

    /// Refuse (or accept again) writes with `WouldBlock`.
    pub fn refuse_writes(&self, refuse: bool) {
        self.tx.borrow_mut().refuse_writes = refuse;
    }

    /// Read and write calls that reached the transport.
    pub fn calls(&self) -> (usize, usize) {
        (self.rx.borrow().reads, self.tx.borrow().writes)
    }
}

impl Read for ScriptedIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut q = self.rx.borrow_mut();
        q.reads += 1;
        if let Some(kind) = q.fail_next_read.take() {
            return Err(io::Error::new(kind, "scripted failure"));
        }
        if q.data.is_empty() {
            return if q.closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(q.data.len());
        for (dst, src) in buf.iter_mut().zip(q.data.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl Write for ScriptedIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut q = self.tx.borrow_mut();
        q.writes += 1;
        if q.closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let room = q
            .capacity
            .map_or(usize::MAX, |cap| cap.saturating_sub(q.data.len()));
        if q.refuse_writes || (room == 0 && !buf.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(room);
        q.data.extend(&buf[..n]);
        Ok(n)
    }

    /// Like a socket's `sendmsg`: all the buffers in one call (one count in `writes`).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        self.write(&joined)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Two connected transports: what one writes, the other reads.
pub fn pipe_pair() -> (ScriptedIo, ScriptedIo) {
    let a_to_b = Shared::default();
    let b_to_a = Shared::default();
    (
        ScriptedIo {
            rx: b_to_a.clone(),
            tx: a_to_b.clone(),
        },
        ScriptedIo {
            rx: a_to_b,
            tx: b_to_a,
        },
    )
}

/// A client and a server [`TlsStream`] connected by a [`pipe_pair`].
pub fn stream_pair(
    client: &SslContext,
    server: &SslContext,
    hostname: Option<&str>,
) -> (TlsStream<ScriptedIo>, TlsStream<ScriptedIo>) {
    let (a, b) = pipe_pair();
    (
        client.wrap(a, hostname).unwrap(),
        server.wrap(b, None).unwrap(),
    )
}

/// Step both streams' handshakes, alternately, until both are done; returns the number of
/// rounds taken. Each call may only complete or report would-block.
pub fn pump_handshake(
    client: &mut TlsStream<ScriptedIo>,
    server: &mut TlsStream<ScriptedIo>,
) -> Result<usize, Error> {
    for round in 1..=32 {
        let c = step(client.handshake())?;
        let s = step(server.handshake())?;
        if c && s && !client.session().is_handshaking() && !server.session().is_handshaking() {
            return Ok(round);
        }
    }
    panic!("stream handshake did not finish in 32 rounds");
}

/// `Ok(true)` for done, `Ok(false)` for would-block, the error otherwise.
pub fn step(r: Result<(), Error>) -> Result<bool, Error> {
    match r {
        Ok(()) => Ok(true),
        Err(Error::WouldBlock) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Read from `stream` until `want` bytes arrived, pumping nothing else (the peer must have
/// written everything already). Panics if the stream would block before that.
pub fn read_exactly(stream: &mut TlsStream<ScriptedIo>, want: usize) -> Vec<u8> {
    let mut buf = vec![0u8; want];
    let got = stream.read_stream(&mut buf).unwrap().expect("data ready");
    assert_eq!(got, want, "short read");
    buf
}

/// Deterministic test data of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// A rustls server presenting `chain` but signing with `key`, which need not match: what an
/// impostor replaying a real server's certificates looks like.
pub fn impostor(chain: &[Vec<u8>], key_der: &[u8]) -> rustls::ServerConnection {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::server::{ClientHello, ResolvesServerCert};
    use rustls::sign::CertifiedKey;
    use std::sync::Arc;

    #[derive(Debug)]
    struct Always(Arc<CertifiedKey>);
    impl ResolvesServerCert for Always {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let key = PrivateKeyDer::try_from(key_der.to_vec()).unwrap();
    let signer = provider.key_provider.load_private_key(key).unwrap();
    let chain = chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(Arc::new(CertifiedKey::new(chain, signer)))));
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

/// Run a client session against a raw rustls server until one of them fails or both finish.
pub fn handshake_with(c: &mut Session, s: &mut rustls::ServerConnection) -> Result<(), Error> {
    for _ in 0..16 {
        let to_server = c.take_tls()?;
        let mut rd = &to_server[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
        }
        let server_ok = s.process_new_packets().is_ok();
        let mut to_client = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut to_client).unwrap();
        }
        feed_raw(c, &to_client)?;
        if !server_ok {
            return Err(Error::Protocol(ProtocolError::HandshakeEof));
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}
