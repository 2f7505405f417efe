//! Arbitrary datagrams from "the client" into DTLS server `Session`s (the `dtls` module on
//! rtc-dtls), wrapping again after a HelloVerifyRequest or a failure as the reference's
//! server does (`mpssl_fuzz::drive_dtls_server`). Errors are expected; a panic, abort, hang or
//! leak is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = mpssl_fuzz::dtls_server_context();
    mpssl_fuzz::drive_dtls_server(&ctx, data);
});
