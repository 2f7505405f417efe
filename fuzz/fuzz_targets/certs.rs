//! Arbitrary bytes into the certificate and key loaders (PEM and DER): the parsers, and the
//! `SslContext` methods that use them. Errors are fine; panics, hangs and leaks are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::{certs, Protocol, SslContext};

fuzz_target!(|data: &[u8]| {
    let _ = certs::is_pem(data);
    let _ = certs::parse_certificates(data);
    let _ = certs::parse_private_key(data, &rustls::crypto::aws_lc_rs::default_provider());

    let mut client = SslContext::new(Protocol::Client);
    let _ = client.load_verify_locations(data);

    // The same bytes as certificate and as key (a PEM bundle can hold both), then split in two
    // at a point chosen by the input, as a certificate and a separate key.
    let mut server = SslContext::new(Protocol::Server);
    let _ = server.load_cert_chain(data, data);
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (cert, key) = data.split_at(cut);
    let _ = server.load_cert_chain(cert, key);
    let _ = server.load_cert_chain(key, cert);
    let _ = server.load_verify_locations(key);
    let _ = server.cert_chain().len() + server.ca_count();
});
