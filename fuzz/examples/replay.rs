//! Replays inputs through a target without libFuzzer and says how each session ended:
//! `cd fuzz && cargo run --example replay -- <certs|client|server|ciphers|psk_client|psk_server> FILE...`.
//! Useful to triage an artifact (a panic shows its backtrace with `RUST_BACKTRACE=1`) and to see
//! how far the seeds get: "plaintext reads" counts the application data `drive` read out of the
//! session (non-zero: the input reached the application-data path).

use std::sync::atomic::Ordering;

use mpssl::{certs, ciphers, Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .ok_or("usage: replay <certs|client|server|ciphers|psk_client|psk_server> FILE...")?;
    for path in args {
        let data = std::fs::read(&path)?;
        println!("{path} ({} bytes)", data.len());
        match target.as_str() {
            "client" | "server" => {
                let (contexts, name) = if target == "client" {
                    (mpssl_fuzz::client_contexts(), Some("localhost"))
                } else {
                    (mpssl_fuzz::server_contexts(), None)
                };
                for (ctx, mode) in contexts.iter().zip(["CERT_NONE", "CERT_REQUIRED"]) {
                    let mut session = Session::new(ctx, name)?;
                    let before = mpssl_fuzz::PLAINTEXT_READS.load(Ordering::Relaxed);
                    let end = mpssl_fuzz::drive(&mut session, &data);
                    let reads = mpssl_fuzz::PLAINTEXT_READS.load(Ordering::Relaxed) - before;
                    println!(
                        "  {mode}: handshaking={} version={:?} plaintext reads={reads} -> {}",
                        session.is_handshaking(),
                        session.protocol_version(),
                        end.map_or("no error".into(), |e| format!("{e} ({e:?})"))
                    );
                }
            }
            "psk_client" | "psk_server" => {
                let (contexts, name, modes) = if target == "psk_client" {
                    (
                        mpssl_fuzz::psk_client_contexts(),
                        Some("localhost"),
                        ["both suites", "AES-128-GCM"],
                    )
                } else {
                    (mpssl_fuzz::psk_server_contexts(), None, ["no hint", "hint"])
                };
                for (ctx, mode) in contexts.iter().zip(modes) {
                    let mut session = Session::new(ctx, name)?;
                    let before = mpssl_fuzz::PLAINTEXT_READS.load(Ordering::Relaxed);
                    let end = mpssl_fuzz::drive(&mut session, &data);
                    let reads = mpssl_fuzz::PLAINTEXT_READS.load(Ordering::Relaxed) - before;
                    println!(
                        "  {mode}: handshaking={} suite={:?} plaintext reads={reads} -> {}",
                        session.is_handshaking(),
                        session.cipher_name(),
                        end.map_or("no error".into(), |e| format!("{e} ({e:?})"))
                    );
                }
            }
            "certs" => {
                println!(
                    "  certificates: {:?}",
                    certs::parse_certificates(&data).map(|c| c.len())
                );
                let provider = rustls::crypto::aws_lc_rs::default_provider();
                let key = certs::parse_private_key(&data, &provider);
                println!("  key: {:?}", key.map(|_| "loaded"));
            }
            "ciphers" => {
                let text = String::from_utf8_lossy(&data);
                let names: Vec<&str> = text.split([':', ',', ' ', '\0']).collect();
                println!(
                    "  {:?}",
                    ciphers::parse_suite_names(&names).map(|s| s.len())
                );
            }
            other => return Err(format!("unknown target {other}").into()),
        }
    }
    Ok(())
}
