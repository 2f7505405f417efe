//! The PSK attributes through the C ABI (`src/psk.rs`), driven as `modtls_mpssl.c` drives
//! them: client identity and key, the server's key lookup callback (found, unknown, declined,
//! over-long), the reference's error for an over-long key, null arguments.
#![allow(unsafe_code, reason = "calls the C ABI")]
#![allow(
    clippy::undocumented_unsafe_blocks,
    reason = "tests: each call passes live handles"
)]
#![allow(
    clippy::expect_used,
    reason = "the shared test helpers: a failed setup is a failed test"
)]

use std::ffi::c_void;
use std::ptr;

use mpssl_micropython::psk::*;
use mpssl_micropython::*;

mod common;
use common::*;

const IDENTITY: &[u8] = b"micropython";
const KEY: &[u8] = b"secret-shared-key";

fn context(protocol: i32) -> *mut MpsslContext {
    let mut ctx = ptr::null_mut();
    assert_eq!(
        unsafe { mpssl_context_new(protocol, &mut ctx, ptr::null_mut()) },
        MPSSL_OK
    );
    assert!(!ctx.is_null());
    ctx
}

fn socket(ctx: *mut MpsslContext, server: bool, wire: &mut Wire) -> *mut MpsslSocket {
    let mut sock = ptr::null_mut();
    let mut err = new_error();
    let host = "psk";
    let rc = unsafe {
        mpssl_socket_new(
            ctx,
            host.as_ptr(),
            host.len(),
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

/// What the server's lookup callback answers: the key it returns (`None`: declines).
struct Store {
    key: Option<Vec<u8>>,
    asked: Vec<Vec<u8>>,
}

extern "C" fn lookup(
    ctx_user: *mut c_void,
    identity: *const u8,
    identity_len: usize,
    key: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
) -> i32 {
    let store = unsafe { &mut *ctx_user.cast::<Store>() };
    store
        .asked
        .push(unsafe { std::slice::from_raw_parts(identity, identity_len) }.to_vec());
    let Some(k) = &store.key else {
        return 1;
    };
    let n = k.len().min(key_cap);
    unsafe { ptr::copy_nonoverlapping(k.as_ptr(), key, n) };
    unsafe { *key_len = k.len() };
    0
}

fn set_client(ctx: *mut MpsslContext, identity: &[u8], key: &[u8]) -> (i32, MpsslError) {
    let mut err = new_error();
    let rc =
        unsafe { mpssl_context_set_psk_identity(ctx, identity.as_ptr(), identity.len(), &mut err) };
    assert_eq!(rc, MPSSL_OK, "{}", message(&err));
    let rc = unsafe { mpssl_context_set_psk_key(ctx, key.as_ptr(), key.len(), &mut err) };
    (rc, err)
}

/// A PSK handshake with the server's callback answering `server_key`: the client's and the
/// server's result codes and errors, the identities the callback was asked, and the suite.
fn handshake(server_key: Option<&[u8]>) -> (i32, i32, MpsslError, Vec<Vec<u8>>, String) {
    let client = context(0);
    let server = context(1);
    assert_eq!(set_client(client, IDENTITY, KEY).0, MPSSL_OK);
    let mut store = Store {
        key: server_key.map(<[u8]>::to_vec),
        asked: Vec::new(),
    };
    let cb: MpsslPskKeyCb = lookup;
    assert_eq!(
        unsafe {
            mpssl_context_set_server_psk_keys(server, Some(cb), ptr::from_mut(&mut store).cast())
        },
        MPSSL_OK
    );
    let (mut cw, mut sw) = (Wire::default(), Wire::default());
    let c = socket(client, false, &mut cw);
    let s = socket(server, true, &mut sw);
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
    let mut suite = String::new();
    if rc_c == MPSSL_OK {
        let (mut p, mut n, mut v, mut vn) = (ptr::null(), 0, ptr::null(), 0);
        assert_eq!(
            unsafe { mpssl_socket_cipher(c, &mut p, &mut n, &mut v, &mut vn) },
            MPSSL_OK
        );
        suite = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(p, n) }).into_owned();
    }
    unsafe {
        mpssl_socket_free(c);
        mpssl_socket_free(s);
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
    (rc_c, rc_s, se, store.asked, suite)
}

#[test]
fn psk_handshake_through_the_callback() {
    let (rc_c, rc_s, se, asked, suite) = handshake(Some(KEY));
    assert_eq!((rc_c, rc_s), (MPSSL_OK, MPSSL_OK), "{}", message(&se));
    assert_eq!(asked, vec![IDENTITY.to_vec()]);
    assert!(suite.contains("PSK"), "{suite}");
}

#[test]
fn declined_wrong_or_over_long_server_keys_fail_the_handshake() {
    // Declined (None, a raise on the C side): unknown_psk_identity.
    let (rc_c, rc_s, se, asked, _) = handshake(None);
    assert_eq!((rc_c, rc_s), (MPSSL_ERROR, MPSSL_ERROR));
    assert_eq!(asked, vec![IDENTITY.to_vec()]);
    assert_eq!(
        message(&se),
        "MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY",
        "{}",
        se.code
    );
    // A different key: the Finished messages do not match.
    let (rc_c, rc_s, _, _, _) = handshake(Some(b"another-key"));
    assert_eq!((rc_c, rc_s), (MPSSL_ERROR, MPSSL_ERROR));
    // Longer than the room the C side is given (and than any key the engine accepts).
    let long = vec![b'k'; 300];
    let (rc_c, rc_s, _, asked, _) = handshake(Some(&long));
    assert_eq!((rc_c, rc_s), (MPSSL_ERROR, MPSSL_ERROR));
    assert_eq!(asked.len(), 1);
}

#[test]
fn over_long_client_key_is_the_reference_error_in_either_order() {
    let long = [b'x'; 49];
    let ctx = context(0);
    let (rc, err) = set_client(ctx, IDENTITY, &long);
    assert_eq!(rc, MPSSL_ERROR);
    assert_eq!(err.kind, Kind::OsErrorArgs as i32);
    assert_eq!(
        (err.code, message(&err).as_str()),
        (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA")
    );
    unsafe { mpssl_context_free(ctx) };

    // Key first: a no-op until the identity is set, which then fails.
    let ctx = context(0);
    let mut err = new_error();
    assert_eq!(
        unsafe { mpssl_context_set_psk_key(ctx, long.as_ptr(), long.len(), &mut err) },
        MPSSL_OK
    );
    assert_eq!(
        unsafe { mpssl_context_set_psk_identity(ctx, IDENTITY.as_ptr(), IDENTITY.len(), &mut err) },
        MPSSL_ERROR
    );
    assert_eq!(err.code, -28928);
    // Clearing the key (null) makes the identity alone valid again.
    assert_eq!(
        unsafe { mpssl_context_set_psk_key(ctx, ptr::null(), 0, &mut err) },
        MPSSL_OK
    );
    assert_eq!(
        unsafe { mpssl_context_set_psk_identity(ctx, IDENTITY.as_ptr(), IDENTITY.len(), &mut err) },
        MPSSL_OK
    );
    // The maximum length is accepted.
    assert_eq!(
        unsafe { mpssl_context_set_psk_key(ctx, long.as_ptr(), 48, &mut err) },
        MPSSL_OK
    );
    unsafe { mpssl_context_free(ctx) };
}

#[test]
fn null_arguments_never_crash() {
    let mut err = new_error();
    unsafe {
        assert_eq!(
            mpssl_context_set_psk_identity(ptr::null(), IDENTITY.as_ptr(), 1, &mut err),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_set_psk_key(ptr::null(), KEY.as_ptr(), 1, ptr::null_mut()),
            MPSSL_NULL_ARG
        );
        assert_eq!(
            mpssl_context_set_server_psk_keys(ptr::null(), None, ptr::null_mut()),
            MPSSL_NULL_ARG
        );
    }
    let ctx = context(1);
    unsafe {
        // Removing a lookup that was never set, and errors without an error out-parameter.
        assert_eq!(
            mpssl_context_set_server_psk_keys(ctx, None, ptr::null_mut()),
            MPSSL_OK
        );
        assert_eq!(
            mpssl_context_set_psk_identity(ctx, IDENTITY.as_ptr(), IDENTITY.len(), ptr::null_mut()),
            MPSSL_OK
        );
        assert_eq!(
            mpssl_context_set_psk_key(ctx, [0u8; 49].as_ptr(), 49, ptr::null_mut()),
            MPSSL_ERROR
        );
        mpssl_context_free(ctx);
    }
}
