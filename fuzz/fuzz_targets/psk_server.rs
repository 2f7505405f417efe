//! Arbitrary bytes as the client's side of a TLS 1.2 PSK connection, into PSK server
//! `Session`s (`mpssl_fuzz::psk_server_contexts`: no hint, a hint), with every call a socket
//! makes in between. Errors are expected; a panic, abort, hang or leak is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::Session;

fuzz_target!(|data: &[u8]| {
    for ctx in mpssl_fuzz::psk_server_contexts() {
        let mut session = Session::new(ctx, None).expect("PSK server session");
        let _ = mpssl_fuzz::drive(&mut session, data);
    }
});
