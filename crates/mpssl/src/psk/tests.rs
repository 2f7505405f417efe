//! Unit tests: the TLS 1.2 PRF against the published test vectors, the key block and
//! premaster layout, and message parsing bounds.

use super::keys::{premaster, Schedule};
use super::messages::{ClientHello, ServerHello};
use super::PskSuite;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The TLS 1.2 PRF test vector with SHA-256 (IETF TLS WG, "TLS 1.2 PRF test vectors",
/// https://www.ietf.org/mail-archive/web/tls/current/msg03416.html).
#[test]
fn prf_sha256_vector() {
    let s = Schedule::for_suite(PskSuite::Aes128GcmSha256).unwrap();
    let mut out = [0u8; 100];
    s.prf(
        &mut out,
        &hex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        &hex("a0ba9f936cda311827a6f796ffd5198c"),
    );
    assert_eq!(
        out.to_vec(),
        hex(
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a
             6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab
             4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701
             87347b66"
        )
    );
}

/// The same source's SHA-384 vector.
#[test]
fn prf_sha384_vector() {
    let s = Schedule::for_suite(PskSuite::Aes256GcmSha384).unwrap();
    let mut out = [0u8; 148];
    s.prf(
        &mut out,
        &hex("b80b733d6ceefcdc71566ea48e5567df"),
        b"test label",
        &hex("cd665cf6a8447dd6ff8b27555edb7465"),
    );
    assert_eq!(
        out.to_vec(),
        hex(
            "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd
             e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd
             8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425
             9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6
             91c8f3a26854308d5eaa3be85e0990703d73e56f"
        )
    );
}

/// RFC 4279 §2: `uint16 N || N zeros || uint16 N || psk`.
#[test]
fn premaster_layout() {
    assert_eq!(premaster(b"abc"), hex("0003 000000 0003 616263"));
}

/// Master secret and key block with SHA-256, against values computed independently with
/// Python's `hmac` (P_SHA256 of RFC 5246 §5) for these inputs:
/// premaster = premaster(b"secret-shared-key"), client_random = 32 x 0x01, server_random =
/// 32 x 0x02; master = PRF(pms, "master secret", cr + sr)[..48]; key block =
/// PRF(master, "key expansion", sr + cr)[..40].
#[test]
fn key_block_sha256() {
    let s = Schedule::for_suite(PskSuite::Aes128GcmSha256).unwrap();
    let pms = premaster(b"secret-shared-key");
    let master = s.master_secret(&pms, None, &[1; 32], &[2; 32]);
    assert_eq!(master.to_vec(), hex(MASTER_256));
    let block = s.key_block(&master, &[1; 32], &[2; 32], 40);
    assert_eq!(block, hex(BLOCK_256));
    // Extended master secret: PRF(pms, "extended master secret", SHA-256(transcript)).
    let ems = s.master_secret(&pms, Some(b"transcript"), &[1; 32], &[2; 32]);
    assert_eq!(ems.to_vec(), hex(EMS_256));
}

const MASTER_256: &str = "f26e0be8bbcfdc92ba3ab6b02eebb3c1d7b968038d2bd079fe22670b05ed800260880c5fee1b6c0e1e17b8e5985fedb4";
const BLOCK_256: &str =
    "352f2da30d487a253b4e5f0b56316add7f1421297243857fa05524c208a631531e48dd3d483de177";
const EMS_256: &str = "f389450fe2ad3d29b5959f9af6d56c292f2263c785949205f0358709361a3087bfaf6a92d9d73aff96db191d1d5668ad";

#[test]
fn hellos_reject_truncation_and_trailing_bytes() {
    let ch = ClientHello::encode(&[7; 32], &PskSuite::ALL);
    let body = &ch[4..];
    let parsed = ClientHello::parse(body).unwrap();
    assert!(parsed.ext.ems && parsed.null_compression);
    assert_eq!(parsed.suites, [0x00a9, 0x00a8, 0x00ff]);
    for cut in 0..body.len() {
        if cut == 45 {
            // Without the extensions block at all, a ClientHello is complete.
            continue;
        }
        assert!(ClientHello::parse(&body[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = body.to_vec();
    long.push(0);
    assert!(ClientHello::parse(&long).is_err());

    let sh = ServerHello::encode(&[9; 32], PskSuite::Aes128GcmSha256, true, true);
    let body = &sh[4..];
    let parsed = ServerHello::parse(body).unwrap();
    assert!(parsed.ext.ems && parsed.ext.reneg && !parsed.unsolicited);
    for cut in 1..body.len() {
        if cut == 38 {
            // Without the extensions block at all, a ServerHello is complete.
            continue;
        }
        assert!(ServerHello::parse(&body[..cut]).is_err(), "cut at {cut}");
    }
}
