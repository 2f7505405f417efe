//! Arbitrary bytes as the server's side of a connection, into client `Session`s (`CERT_NONE`
//! and `CERT_REQUIRED`, see `mpssl_fuzz::client_contexts`), in chunks, with every call a socket
//! makes in between. Errors are expected; a panic, abort, hang or leak is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::Session;

fuzz_target!(|data: &[u8]| {
    for ctx in mpssl_fuzz::client_contexts() {
        let mut session = Session::new(ctx, Some("localhost")).expect("client session");
        let _ = mpssl_fuzz::drive(&mut session, data);
    }
});
