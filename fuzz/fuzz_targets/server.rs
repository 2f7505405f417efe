//! Arbitrary bytes as the client's side of a connection, into server `Session`s with a fixed
//! certificate generated once per process (`CERT_NONE` and `CERT_REQUIRED`, see
//! `mpssl_fuzz::server_contexts`). Errors are expected; a panic, abort, hang or leak is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpssl::Session;

fuzz_target!(|data: &[u8]| {
    for ctx in mpssl_fuzz::server_contexts() {
        let mut session = Session::new(ctx, None).expect("server session");
        let _ = mpssl_fuzz::drive(&mut session, data);
    }
});
