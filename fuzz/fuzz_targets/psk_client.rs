//! Arbitrary bytes as the server's side of a TLS 1.2 PSK connection, into PSK client
//! `Session`s (`mpssl_fuzz::psk_client_contexts`: both suites, AES-128-GCM only), with every
//! call a socket makes in between. Errors are expected; a panic, abort, hang or leak is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::Session;

fuzz_target!(|data: &[u8]| {
    for ctx in mpssl_fuzz::psk_client_contexts() {
        let mut session = Session::new(ctx, Some("localhost")).expect("PSK client session");
        let _ = mpssl_fuzz::drive(&mut session, data);
    }
});
