//! The C ABI, driven as the C front end drives it: in-memory client/server pairs through the
//! I/O callbacks, error reports, verify-callback aborts, use after close, null and bad
//! arguments. Nothing here may crash; every failure must come back as a result code.
#![allow(unsafe_code, reason = "calls the C ABI")]
#![allow(
    clippy::undocumented_unsafe_blocks,
    reason = "tests: each call passes live handles"
)]
#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup is a failed test"
)]

use std::ffi::c_void;
use std::ptr;

use mpssl_micropython::*;

mod common;
use common::*;

extern "C" fn verify_with(
    ctx_user: *mut c_void,
    _sock_user: *mut c_void,
    _der: *const u8,
    _len: usize,
    _depth: i32,
    result: *mut i64,
) -> i32 {
    let wanted = unsafe { *ctx_user.cast::<i64>() };
    if wanted == i64::MIN {
        return 1;
    }
    unsafe { *result = wanted };
    0
}

fn context(protocol: i32) -> *mut MpsslContext {
    let mut ctx = ptr::null_mut();
    assert_eq!(
        unsafe { mpssl_context_new(protocol, &mut ctx, ptr::null_mut()) },
        MPSSL_OK
    );
    assert!(!ctx.is_null());
    ctx
}

fn socket(
    ctx: *mut MpsslContext,
    host: Option<&str>,
    server: bool,
    wire: &mut Wire,
) -> *mut MpsslSocket {
    let mut sock = ptr::null_mut();
    let mut err = new_error();
    let (p, n) = host.map_or((ptr::null(), 0), |h| (h.as_ptr(), h.len()));
    let rc = unsafe {
        mpssl_socket_new(
            ctx,
            p,
            n,
            server,
            Some(wire_read),
            Some(wire_write),
            ptr::from_mut(wire).cast(),
            &mut sock,
            &mut err,
        )
    };
    assert_eq!(rc, MPSSL_OK, "{}", message(&err));
    sock
}

/// Move bytes between the two wires until nothing moves, stepping both handshakes.
fn pump(
    c: *mut MpsslSocket,
    cw: &mut Wire,
    s: *mut MpsslSocket,
    sw: &mut Wire,
) -> (i32, i32, MpsslError, MpsslError) {
    let (mut ce, mut se) = (new_error(), new_error());
    let (mut rc_c, mut rc_s) = (MPSSL_WANT_READ, MPSSL_WANT_READ);
    for _ in 0..20 {
        if rc_c > 0 {
            rc_c = unsafe { mpssl_socket_handshake(c, &mut ce) };
        }
        sw.inbound.extend(cw.outbound.drain(..));
        if rc_s > 0 {
            rc_s = unsafe { mpssl_socket_handshake(s, &mut se) };
        }
        cw.inbound.extend(sw.outbound.drain(..));
        if rc_c <= 0 && rc_s <= 0 {
            break;
        }
    }
    (rc_c, rc_s, ce, se)
}

#[test]
fn handshake_transfer_cipher_and_peer_cert_through_the_abi() {
    let server_cert = cert("localhost");
    let server = context(1);
    let client = context(0);
    let mut err = new_error();
    unsafe {
        assert_eq!(mpssl_context_verify_mode(client), 2);
        assert_eq!(mpssl_context_verify_mode(server), 0);
        assert_eq!(
            mpssl_context_load_cert_chain(
                server,
                server_cert.der.as_ptr(),
                server_cert.der.len(),
                server_cert.key.as_ptr(),
                server_cert.key.len(),
                &mut err
            ),
            MPSSL_OK
        );
        assert_eq!(
            mpssl_context_load_verify_locations(
                client,
                server_cert.der.as_ptr(),
                server_cert.der.len(),
                &mut err
            ),
            MPSSL_OK
        );
    }
    let (mut cw, mut sw) = (Wire::default(), Wire::default());
    let c = socket(client, Some("localhost"), false, &mut cw);
    let s = socket(server, None, true, &mut sw);
    let (rc_c, rc_s, ce, se) = pump(c, &mut cw, s, &mut sw);
    assert_eq!(
        (rc_c, rc_s),
        (MPSSL_OK, MPSSL_OK),
        "{} / {}",
        message(&ce),
        message(&se)
    );

    let mut n = 0usize;
    unsafe {
        assert_eq!(
            mpssl_socket_write(c, b"hello".as_ptr(), 5, &mut n, &mut err),
            MPSSL_OK
        );
    }
    assert_eq!(n, 5);
    sw.inbound.extend(cw.outbound.drain(..));
    let mut buf = [0u8; 16];
    // The server may first see the client's last handshake flight, then the data.
    let mut got = Vec::new();
    for _ in 0..4 {
        let rc = unsafe { mpssl_socket_read(s, buf.as_mut_ptr(), buf.len(), &mut n, &mut err) };
        if rc == MPSSL_OK {
            got.extend_from_slice(&buf[..n]);
            break;
        }
        assert_eq!(rc, MPSSL_WANT_READ, "{}", message(&err));
    }
    assert_eq!(got, b"hello");
    // Nothing more: would block, and the poll state says "waits for readability".
    let rc = unsafe { mpssl_socket_read(s, buf.as_mut_ptr(), buf.len(), &mut n, &mut err) };
    assert_eq!(rc, MPSSL_WANT_READ);
    assert_eq!(unsafe { mpssl_socket_poll_state(s) } & 2, 2);

    let (mut suite, mut suite_len, mut ver, mut ver_len) = (ptr::null(), 0, ptr::null(), 0);
    unsafe {
        assert_eq!(
            mpssl_socket_cipher(c, &mut suite, &mut suite_len, &mut ver, &mut ver_len),
            MPSSL_OK
        );
        let ver = std::slice::from_raw_parts(ver, ver_len);
        assert_eq!(ver, b"TLSv1.3");
        let suite = std::slice::from_raw_parts(suite, suite_len);
        assert!(suite.starts_with(b"TLS-AES-"), "{suite:?}");
    }
    let mut len = 0usize;
    unsafe {
        assert_eq!(
            mpssl_socket_peer_cert(c, ptr::null_mut(), 0, &mut len),
            MPSSL_BAD_ARG
        );
        assert_eq!(len, server_cert.der.len());
        let mut der = vec![0u8; len];
        assert_eq!(
            mpssl_socket_peer_cert(c, der.as_mut_ptr(), len, &mut len),
            MPSSL_OK
        );
        assert_eq!(der, server_cert.der);
        // The server asked for no client certificate.
        assert_eq!(
            mpssl_socket_peer_cert(s, ptr::null_mut(), 0, &mut len),
            MPSSL_OK
        );
        assert_eq!(len, 0);
    }

    // Close the client: close_notify reaches the server, which reads the end of stream.
    unsafe { assert_eq!(mpssl_socket_close(c), MPSSL_OK) };
    sw.inbound.extend(cw.outbound.drain(..));
    let rc = unsafe { mpssl_socket_read(s, buf.as_mut_ptr(), buf.len(), &mut n, &mut err) };
    assert_eq!((rc, n), (MPSSL_OK, 0));

    // Use after close: an error (EBADF), not a crash, for every call.
    let rc = unsafe { mpssl_socket_read(c, buf.as_mut_ptr(), buf.len(), &mut n, &mut err) };
    assert_eq!(rc, MPSSL_ERROR);
    assert_eq!((err.kind, err.code), (Kind::OsErrorErrno as i32, 9));
    let rc = unsafe { mpssl_socket_write(c, b"x".as_ptr(), 1, &mut n, &mut err) };
    assert_eq!((rc, err.code), (MPSSL_ERROR, 9));
    assert_eq!(unsafe { mpssl_socket_handshake(c, &mut err) }, MPSSL_ERROR);
    assert_eq!(unsafe { mpssl_socket_poll_state(c) }, 8);
    assert_eq!(unsafe { mpssl_socket_close(c) }, MPSSL_OK);

    unsafe {
        mpssl_socket_free(c);
        mpssl_socket_free(s);
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
}

/// A client handshake against `server_cert` with `client` configured by the caller; returns
/// the client's result and report.
fn client_handshake(client: *mut MpsslContext, server_cert: &Cert) -> (i32, MpsslError) {
    let server = context(1);
    let mut err = new_error();
    unsafe {
        mpssl_context_load_cert_chain(
            server,
            server_cert.der.as_ptr(),
            server_cert.der.len(),
            server_cert.key.as_ptr(),
            server_cert.key.len(),
            &mut err,
        );
    }
    let (mut cw, mut sw) = (Wire::default(), Wire::default());
    let c = socket(client, Some("localhost"), false, &mut cw);
    let s = socket(server, None, true, &mut sw);
    let (rc_c, _, ce, _) = pump(c, &mut cw, s, &mut sw);
    unsafe {
        mpssl_socket_free(c);
        mpssl_socket_free(s);
        mpssl_context_free(server);
    }
    (rc_c, ce)
}

#[test]
fn untrusted_server_is_a_value_error_with_the_reference_text() {
    let client = context(0);
    let other = cert("localhost");
    let mut err = new_error();
    unsafe {
        mpssl_context_load_verify_locations(client, other.der.as_ptr(), other.der.len(), &mut err);
    }
    let (rc, e) = client_handshake(client, &cert("localhost"));
    assert_eq!(rc, MPSSL_ERROR);
    assert_eq!(e.kind, Kind::ValueError as i32);
    assert_eq!(
        message(&e),
        "\nThe certificate is not correctly signed by the trusted CA\n"
    );
    unsafe { mpssl_context_free(client) };
}

#[test]
fn no_ca_is_ca_chain_required() {
    let client = context(0);
    let (rc, e) = client_handshake(client, &cert("localhost"));
    assert_eq!(rc, MPSSL_ERROR);
    assert_eq!(
        (e.kind, e.code, message(&e).as_str()),
        (
            Kind::OsErrorArgs as i32,
            -30336,
            "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED"
        )
    );
    unsafe { mpssl_context_free(client) };
}

#[test]
fn verify_callback_codes_and_raise_abort_the_handshake() {
    let server_cert = cert("localhost");
    for (wanted, kind, code) in [
        (-1i64, Kind::OsErrorErrno, 1),
        (1, Kind::OsErrorArgs, 1),
        (i64::MIN, Kind::Raised, 0),
    ] {
        let client = context(0);
        let mut wanted = wanted;
        unsafe {
            assert_eq!(
                mpssl_context_set_verify_mode(client, 0, ptr::null_mut()),
                MPSSL_OK
            );
            assert_eq!(
                mpssl_context_set_verify_mode(client, 1, ptr::null_mut()),
                MPSSL_OK
            );
            assert_eq!(
                mpssl_context_set_verify_callback(
                    client,
                    Some(verify_with),
                    ptr::from_mut(&mut wanted).cast()
                ),
                MPSSL_OK
            );
        }
        let (rc, e) = client_handshake(client, &server_cert);
        assert_eq!(rc, MPSSL_ERROR, "{wanted}");
        assert_eq!(
            (e.kind, e.code),
            (kind as i32, code),
            "{wanted}: {}",
            message(&e)
        );
        unsafe { mpssl_context_free(client) };
    }
    // A callback that accepts lets CERT_OPTIONAL through.
    let client = context(0);
    let mut accept = 0i64;
    unsafe {
        mpssl_context_set_verify_mode(client, 1, ptr::null_mut());
        mpssl_context_set_verify_callback(
            client,
            Some(verify_with),
            ptr::from_mut(&mut accept).cast(),
        );
    }
    let (rc, e) = client_handshake(client, &server_cert);
    assert_eq!(rc, MPSSL_OK, "{}", message(&e));
    unsafe { mpssl_context_free(client) };
}

#[test]
fn io_callback_raise_and_bogus_codes_are_errors() {
    for (raise, bogus, kind) in [
        (true, None, Kind::Raised as i32),
        (false, Some(104), Kind::OsErrorErrno as i32),
        (false, Some(-99), Kind::OsErrorArgs as i32),
    ] {
        let client = context(0);
        unsafe { mpssl_context_set_verify_mode(client, 0, ptr::null_mut()) };
        let mut wire = Wire {
            raise_on_read: raise,
            bogus_read: bogus,
            ..Wire::default()
        };
        let c = socket(client, None, false, &mut wire);
        let mut err = new_error();
        let rc = unsafe { mpssl_socket_handshake(c, &mut err) };
        assert_eq!((rc, err.kind), (MPSSL_ERROR, kind), "{}", message(&err));
        if bogus == Some(104) {
            assert_eq!(err.code, 104);
        }
        unsafe {
            mpssl_socket_free(c);
            mpssl_context_free(client);
        }
    }
}

#[test]
fn hostname_required_and_bad_config_errors() {
    let client = context(0);
    let mut wire = Wire::default();
    let mut sock = ptr::null_mut();
    let mut err = new_error();
    let rc = unsafe {
        mpssl_socket_new(
            client,
            ptr::null(),
            0,
            false,
            Some(wire_read),
            Some(wire_write),
            ptr::from_mut(&mut wire).cast(),
            &mut sock,
            &mut err,
        )
    };
    assert_eq!(rc, MPSSL_ERROR);
    assert_eq!(
        (err.kind, message(&err).as_str()),
        (
            Kind::ValueError as i32,
            "CERT_REQUIRED requires server_hostname"
        )
    );
    assert!(sock.is_null());

    let name = b"BAR";
    let names = [name.as_ptr()];
    let lens = [name.len()];
    let rc =
        unsafe { mpssl_context_set_ciphers(client, names.as_ptr(), lens.as_ptr(), 1, &mut err) };
    assert_eq!((rc, err.code), (MPSSL_ERROR, -24192));
    let rc = unsafe { mpssl_context_set_ciphers(client, ptr::null(), ptr::null(), 0, &mut err) };
    assert_eq!((rc, err.code), (MPSSL_ERROR, -24192));

    let rc = unsafe {
        mpssl_context_load_cert_chain(client, b"!".as_ptr(), 1, b"!".as_ptr(), 1, &mut err)
    };
    assert_eq!(
        (rc, err.kind, message(&err).as_str()),
        (MPSSL_ERROR, Kind::ValueError as i32, "invalid key")
    );
    let rc = unsafe { mpssl_context_load_verify_locations(client, b"!".as_ptr(), 1, &mut err) };
    assert_eq!(
        (rc, err.kind, message(&err).as_str()),
        (MPSSL_ERROR, Kind::ValueError as i32, "invalid cert")
    );
    // A null error pointer is allowed: only the result code comes back.
    let rc =
        unsafe { mpssl_context_load_verify_locations(client, b"!".as_ptr(), 1, ptr::null_mut()) };
    assert_eq!(rc, MPSSL_ERROR);
    unsafe { mpssl_context_free(client) };
}

#[test]
fn null_and_bad_arguments_never_crash() {
    let mut err = new_error();
    let mut n = 0usize;
    let mut out_ctx = ptr::null_mut();
    let mut out_sock = ptr::null_mut();
    unsafe {
        assert_eq!(
            mpssl_context_new(0, ptr::null_mut(), ptr::null_mut()),
            MPSSL_NULL_ARG
        );
        // Any int is a protocol, read as the reference reads it: bit 0 server, bit 1 DTLS
        // (-1 is a DTLS server); the default verify mode follows the role.
        for (protocol, mode) in [(2, 2), (3, 0), (-1, 0)] {
            assert_eq!(
                mpssl_context_new(protocol, &mut out_ctx, &mut err),
                MPSSL_OK,
                "{}",
                message(&err)
            );
            assert_eq!(mpssl_context_verify_mode(out_ctx), mode);
            mpssl_context_free(out_ctx);
            out_ctx = ptr::null_mut();
        }
        let ctx = context(0);
        assert_eq!(mpssl_context_set_verify_mode(ctx, 3, &mut err), MPSSL_ERROR);
        assert_eq!(err.kind, Kind::ValueError as i32, "{}", message(&err));
        mpssl_context_free(ctx);
        mpssl_context_free(ptr::null_mut());
        mpssl_socket_free(ptr::null_mut());
        assert_eq!(mpssl_context_verify_mode(ptr::null()), MPSSL_NULL_ARG);
        assert_eq!(
            mpssl_context_set_verify_mode(ptr::null(), 0, ptr::null_mut()),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_set_verify_callback(ptr::null(), None, ptr::null_mut()),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_load_cert_chain(ptr::null(), ptr::null(), 0, ptr::null(), 0, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_load_verify_locations(ptr::null(), ptr::null(), 0, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_set_ciphers(ptr::null(), ptr::null(), ptr::null(), 0, &mut err),
            MPSSL_NULL_ARG
        );
        let mut name = ptr::null();
        assert_eq!(
            mpssl_context_cipher(ptr::null(), 0, &mut name, &mut n),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_new(
                ptr::null(),
                ptr::null(),
                0,
                false,
                Some(wire_read),
                Some(wire_write),
                ptr::null_mut(),
                &mut out_sock,
                &mut err
            ),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_handshake(ptr::null(), &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_read(ptr::null(), ptr::null_mut(), 0, &mut n, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_write(ptr::null(), ptr::null(), 0, &mut n, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(mpssl_socket_poll_state(ptr::null()), MPSSL_NULL_ARG);
        assert_eq!(mpssl_socket_close(ptr::null()), MPSSL_NULL_ARG);
        assert_eq!(
            mpssl_socket_peer_cert(ptr::null(), ptr::null_mut(), 0, &mut n),
            MPSSL_NULL_ARG
        );
    }

    let ctx = context(0);
    unsafe {
        assert_eq!(
            mpssl_context_set_verify_mode(ctx, 5, ptr::null_mut()),
            MPSSL_ERROR
        );
        assert_eq!(
            mpssl_context_set_verify_mode(ctx, -1, ptr::null_mut()),
            MPSSL_ERROR
        );
        assert_eq!(mpssl_context_verify_mode(ctx), 2);
        // Null data with a length, null name arrays, null out-pointers.
        assert_eq!(
            mpssl_context_load_verify_locations(ctx, ptr::null(), 5, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_set_ciphers(ctx, ptr::null(), ptr::null(), 2, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_cipher(ctx, 0, ptr::null_mut(), &mut n),
            MPSSL_NULL_ARG
        );
        let mut name = ptr::null();
        assert_eq!(
            mpssl_context_cipher(ctx, 1000, &mut name, &mut n),
            MPSSL_BAD_ARG
        );
        assert_eq!(mpssl_context_cipher(ctx, 0, &mut name, &mut n), MPSSL_OK);
        assert!(n > 0);
        // Missing callbacks.
        assert_eq!(
            mpssl_socket_new(
                ctx,
                ptr::null(),
                0,
                true,
                None,
                Some(wire_write),
                ptr::null_mut(),
                &mut out_sock,
                &mut err
            ),
            MPSSL_NULL_ARG
        );
    }
    mpssl_set_verify_none_and_poke(ctx);
    unsafe { mpssl_context_free(ctx) };
}

/// A socket before its handshake: cipher() is unavailable, reads with a null buffer and a
/// length are refused, a zero-length read is fine.
fn mpssl_set_verify_none_and_poke(ctx: *mut MpsslContext) {
    let mut wire = Wire::default();
    unsafe { mpssl_context_set_verify_mode(ctx, 0, ptr::null_mut()) };
    let s = socket(ctx, None, false, &mut wire);
    let mut err = new_error();
    let mut n = 7usize;
    let (mut a, mut al, mut b, mut bl) = (ptr::null(), 0, ptr::null(), 0);
    unsafe {
        assert_eq!(
            mpssl_socket_cipher(s, &mut a, &mut al, &mut b, &mut bl),
            MPSSL_BAD_ARG
        );
        assert_eq!(
            mpssl_socket_cipher(s, ptr::null_mut(), &mut al, &mut b, &mut bl),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_read(s, ptr::null_mut(), 4, &mut n, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_read(s, ptr::null_mut(), 0, ptr::null_mut(), &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_socket_read(s, ptr::null_mut(), 0, &mut n, &mut err),
            MPSSL_OK
        );
        assert_eq!(n, 0);
        assert_eq!(
            mpssl_socket_write(s, ptr::null(), 3, &mut n, &mut err),
            MPSSL_NULL_ARG
        );
        mpssl_socket_free(s);
    }
}

#[test]
fn a_panic_becomes_a_result_code() {
    #[allow(
        clippy::panic,
        reason = "the test is that a panic does not unwind further"
    )]
    let rc = guard(|| panic!("boom"));
    assert_eq!(rc, MPSSL_PANIC);
    assert_eq!(guard(|| MPSSL_OK), MPSSL_OK);
}
