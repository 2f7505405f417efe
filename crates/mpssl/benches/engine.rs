//! The engine alone, in memory: TLS handshakes and bulk transfer between two [`Session`]s
//! shuttling ciphertext through `Vec<u8>`s, with no sockets, no threads and no Python.
//!
//! `bench/run.py` runs this (`cargo bench -p mpssl --bench engine -- --output-format bencher`)
//! and divides the Python figures by these, so the cost of the Python edge and the socket layer
//! shows as a ratio to the engine. Same material as the loopback benchmark: the committed ECDSA
//! P-256 CA and leaf (`testdata/ecdsa-p256/`), the client verifying the chain and the host name
//! (`CERT_REQUIRED`).
//!
//! Benchmark names (the harness parses them):
//!
//! - `handshake/tls13_full`, `handshake/tls12_full`: one full handshake per iteration
//!   (fresh client and server sessions; the client context has resumption off).
//! - `handshake/tls13_resumed`, `handshake/tls12_resumed`: one resumed handshake per
//!   iteration (ticket or session ID from the previous one).
//! - `handshake/tls13x_full`, `handshake/tls13x_resumed`: the TLS 1.3 ones with X25519 as the
//!   only key-exchange group on both ends (the default is X25519MLKEM768 first).
//! - `bulk/write_16k`, `bulk/write_1k`: one iteration moves [`BULK_BYTES`] of plaintext one way
//!   over an established TLS 1.3 connection, written in 16 KiB (or 1 KiB) pieces, encrypted,
//!   fed to the server session and read out as plaintext.
//!
//! Setting `MPSSL_BENCH_TLS13_SUITE` to a suite name (default `TLS-AES-128-GCM-SHA256`) changes
//! the TLS 1.3 suite, so the engine can be matched to what the loopback peers negotiate.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, Criterion, Throughput};
use mpssl::{Error, Protocol, Session, SslContext, VerifyMode};

/// Plaintext moved per bulk iteration: 1 MiB (`data` holds exactly this much).
const BULK_BYTES: usize = 1 << 20;

/// The TLS 1.2 suite both loopback peers use.
const TLS12_SUITE: &str = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256";

/// CA certificate, leaf certificate and leaf key, all DER.
struct Pki {
    ca: Vec<u8>,
    leaf: Vec<u8>,
    key: Vec<u8>,
}

/// The committed test PKI: `testdata/ecdsa-p256/{ca,server}` (`localhost`, `127.0.0.1`, `::1`).
fn make_pki() -> Pki {
    Pki {
        ca: include_bytes!("../../../testdata/ecdsa-p256/ca.der").to_vec(),
        leaf: include_bytes!("../../../testdata/ecdsa-p256/server.der").to_vec(),
        key: include_bytes!("../../../testdata/ecdsa-p256/server.key.der").to_vec(),
    }
}

/// A server and a client context for `suite`; `resume` turns client resumption on or off;
/// `x25519` makes X25519 the only key-exchange group on both ends.
fn contexts(
    pki: &Pki,
    suite: &str,
    resume: bool,
    x25519: bool,
) -> Result<(SslContext, SslContext), Error> {
    let mut server = SslContext::new(Protocol::Server);
    server.load_cert_chain(&pki.leaf, &pki.key)?;
    server.set_ciphers(&[suite])?;
    let mut client = SslContext::new(Protocol::Client);
    client.load_verify_locations(&pki.ca)?;
    client.set_verify_mode(VerifyMode::Required);
    client.set_ciphers(&[suite])?;
    client.set_session_resumption(resume);
    if x25519 {
        server.set_key_exchange_groups(&["X25519"])?;
        client.set_key_exchange_groups(&["X25519"])?;
    }
    Ok((server, client))
}

/// Feed all of `data` to `to`, reading out any plaintext it produces into `sink` (so the
/// session's received-plaintext buffer never fills). Returns the plaintext byte count.
fn deliver(data: &[u8], to: &mut Session, sink: &mut [u8]) -> Result<usize, Error> {
    let mut rest = data;
    let mut plain = 0;
    while !rest.is_empty() {
        let n = to.feed(rest)?;
        rest = &rest[n..];
        plain += drain(to, sink)?;
    }
    Ok(plain)
}

/// Read every decrypted byte `session` holds; returns how many.
fn drain(session: &mut Session, sink: &mut [u8]) -> Result<usize, Error> {
    let mut total = 0;
    while let Some(n) = session.read_plaintext(sink)? {
        if n == 0 {
            break;
        }
        total += n;
    }
    Ok(total)
}

/// Run a handshake between fresh sessions of `server` and `client` to completion, including
/// the TLS 1.3 session tickets, which the client processes (so it can resume next time).
fn handshake(server: &SslContext, client: &SslContext) -> Result<(Session, Session), Error> {
    let mut s = Session::new(server, None)?;
    let mut c = Session::new(client, Some("localhost"))?;
    let mut sink = [0u8; 4096];
    loop {
        let to_server = c.take_tls()?;
        deliver(&to_server, &mut s, &mut sink)?;
        let to_client = s.take_tls()?;
        deliver(&to_client, &mut c, &mut sink)?;
        if to_server.is_empty()
            && to_client.is_empty()
            && !c.is_handshaking()
            && !s.is_handshaking()
        {
            return Ok((s, c));
        }
    }
}

/// Move [`BULK_BYTES`] from `c` to `s` in `chunk`-byte writes; returns the plaintext count the
/// server read.
fn bulk(
    c: &mut Session,
    s: &mut Session,
    chunk: usize,
    data: &[u8],
    sink: &mut [u8],
) -> Result<usize, Error> {
    let mut received = 0;
    let mut sent = 0;
    while sent < BULK_BYTES {
        let end = (sent + chunk).min(BULK_BYTES);
        let taken = c.write_plaintext(&data[sent..end])?;
        sent += taken;
        let wire = c.take_tls()?;
        if taken == 0 && wire.is_empty() {
            return Err(Error::WouldBlock);
        }
        received += deliver(&wire, s, sink)?;
    }
    Ok(received)
}

/// Stop the benchmark with a message (criterion has no way to fail an iteration).
fn abort(what: &str, e: &dyn std::fmt::Display) -> ! {
    eprintln!("engine bench: {what}: {e}");
    std::process::exit(1);
}

fn benches(crit: &mut Criterion) {
    let suite13 = std::env::var("MPSSL_BENCH_TLS13_SUITE")
        .unwrap_or_else(|_| "TLS-AES-128-GCM-SHA256".to_owned());
    let pki = make_pki();
    let setup = (|| -> Result<_, String> {
        let make = |suite: &str, resume, x25519| {
            contexts(&pki, suite, resume, x25519).map_err(|e| e.to_string())
        };
        Ok([
            ("tls13_full", make(&suite13, false, false)?),
            ("tls13x_full", make(&suite13, false, true)?),
            ("tls12_full", make(TLS12_SUITE, false, false)?),
            ("tls13_resumed", make(&suite13, true, false)?),
            ("tls13x_resumed", make(&suite13, true, true)?),
            ("tls12_resumed", make(TLS12_SUITE, true, false)?),
        ])
    })();
    let pairs = match setup {
        Ok(all) => all,
        Err(e) => abort("setup", &e),
    };

    // Report what is negotiated, once, on stderr (the harness records it); a resumed pair
    // must really resume (checked after a few handshakes, once the client holds a ticket).
    for (name, (server, client)) in &pairs {
        let mut last = None;
        for _ in 0..3 {
            match handshake(server, client) {
                Ok((_, c)) => last = Some(c),
                Err(e) => abort(name, &e),
            }
        }
        if let Some(c) = last {
            eprintln!(
                "engine {name}: {} {} group {} reused {}",
                c.protocol_version().unwrap_or("-"),
                c.cipher_name().unwrap_or("-"),
                c.key_exchange_group().unwrap_or_default(),
                c.session_reused()
            );
            if name.ends_with("_resumed") != c.session_reused() {
                abort(name, &"resumption is not as the benchmark's name says");
            }
        }
    }

    let mut group = crit.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    for (name, (server, client)) in &pairs {
        group.bench_function(*name, |b| {
            b.iter(|| match handshake(server, client) {
                Ok((_, c)) => black_box(c.session_reused()),
                Err(e) => abort(name, &e),
            })
        });
    }
    group.finish();

    let data: Vec<u8> = (0..BULK_BYTES).map(|i| (i % 251) as u8).collect();
    let mut sink = vec![0u8; 64 * 1024];
    let mut group = crit.benchmark_group("bulk");
    group.throughput(Throughput::Bytes(BULK_BYTES as u64));
    for (name, chunk) in [("write_16k", 16384usize), ("write_1k", 1024usize)] {
        let (_, (server, client)) = &pairs[0];
        let (mut s, mut c) = match handshake(server, client) {
            Ok(pair) => pair,
            Err(e) => abort(name, &e),
        };
        match bulk(&mut c, &mut s, chunk, &data, &mut sink) {
            Ok(n) if n == BULK_BYTES => {}
            Ok(n) => abort(name, &format!("server read {n} of {BULK_BYTES} bytes")),
            Err(e) => abort(name, &e),
        }
        group.bench_function(name, |b| {
            b.iter(|| match bulk(&mut c, &mut s, chunk, &data, &mut sink) {
                Ok(n) => black_box(n),
                Err(e) => abort(name, &e),
            })
        });
    }
    group.finish();
}

/// Every benchmark, with short defaults (1 s warm-up, 3 s measurement, 20 samples) that the
/// command line can override (`--warm-up-time`, `--measurement-time`, `--sample-size`).
fn engine() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    benches(&mut criterion);
}

criterion_main!(engine);
