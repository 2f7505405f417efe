//! DTLS through the C ABI, driven as `micropython/modtls_mpssl.c` drives it: contexts of
//! `PROTOCOL_DTLS_CLIENT` (2) / `PROTOCOL_DTLS_SERVER` (3), `mpssl_socket_new_with_client_id`,
//! an in-memory datagram wire behind the I/O callbacks (each read returns one datagram, each
//! write sends one), the HelloVerify twice-wrap of the reference and the client_id rules.
#![allow(unsafe_code, reason = "calls the C ABI")]
#![allow(
    clippy::undocumented_unsafe_blocks,
    reason = "tests: each call passes live handles"
)]
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed setup is a failed test"
)]

use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;

use mpssl_micropython::*;

mod common;
use common::*;

const HELLO_VERIFY_REQUIRED: i32 = -27264;
const BAD_INPUT_DATA: i32 = -28928;

/// One endpoint's datagrams: what it will read and what it wrote.
#[derive(Default)]
struct Datagrams {
    inbound: VecDeque<Vec<u8>>,
    outbound: VecDeque<Vec<u8>>,
    /// The largest buffer a read was given (the engine must offer room for any datagram).
    smallest_read: Option<usize>,
}

extern "C" fn dgram_read(user: *mut c_void, buf: *mut u8, len: usize, out_n: *mut usize) -> i32 {
    let wire = unsafe { &mut *user.cast::<Datagrams>() };
    wire.smallest_read = Some(wire.smallest_read.map_or(len, |m| m.min(len)));
    let Some(datagram) = wire.inbound.pop_front() else {
        return MPSSL_IO_WOULD_BLOCK;
    };
    // As a UDP socket: the datagram is cut to the buffer (the test checks it never is).
    let n = datagram.len().min(len);
    unsafe {
        ptr::copy_nonoverlapping(datagram.as_ptr(), buf, n);
        *out_n = n;
    }
    MPSSL_IO_OK
}

extern "C" fn dgram_write(user: *mut c_void, buf: *const u8, len: usize, out_n: *mut usize) -> i32 {
    let wire = unsafe { &mut *user.cast::<Datagrams>() };
    let data = unsafe { std::slice::from_raw_parts(buf, len) };
    wire.outbound.push_back(data.to_vec());
    unsafe { *out_n = len };
    MPSSL_IO_OK
}

fn context(protocol: i32) -> *mut MpsslContext {
    let mut ctx = ptr::null_mut();
    let mut err = new_error();
    assert_eq!(
        unsafe { mpssl_context_new(protocol, &mut ctx, &mut err) },
        MPSSL_OK,
        "{}",
        message(&err)
    );
    assert!(!ctx.is_null());
    ctx
}

/// A DTLS server context with a fresh certificate for `localhost`, and a client context
/// trusting it; the certificate is returned for getpeercert.
fn contexts() -> (*mut MpsslContext, *mut MpsslContext, Cert) {
    let server_cert = cert("localhost");
    let server = context(3);
    let client = context(2);
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
            MPSSL_OK,
            "{}",
            message(&err)
        );
        assert_eq!(
            mpssl_context_load_verify_locations(
                client,
                server_cert.der.as_ptr(),
                server_cert.der.len(),
                &mut err
            ),
            MPSSL_OK,
            "{}",
            message(&err)
        );
    }
    (server, client, server_cert)
}

fn try_socket(
    ctx: *mut MpsslContext,
    host: Option<&str>,
    client_id: Option<&[u8]>,
    server: bool,
    wire: &mut Datagrams,
) -> Result<*mut MpsslSocket, Box<MpsslError>> {
    let mut sock = ptr::null_mut();
    let mut err = new_error();
    let (p, n) = host.map_or((ptr::null(), 0), |h| (h.as_ptr(), h.len()));
    // A non-null pointer for an empty id, as the C side passes it.
    let (id, id_len) = client_id.map_or((ptr::null(), 0), |i| {
        (
            if i.is_empty() {
                [0u8].as_ptr()
            } else {
                i.as_ptr()
            },
            i.len(),
        )
    });
    let rc = unsafe {
        mpssl_socket_new_with_client_id(
            ctx,
            p,
            n,
            id,
            id_len,
            server,
            Some(dgram_read),
            Some(dgram_write),
            ptr::from_mut(wire).cast(),
            &mut sock,
            &mut err,
        )
    };
    if rc == MPSSL_OK {
        assert!(!sock.is_null());
        Ok(sock)
    } else {
        assert_eq!(rc, MPSSL_ERROR);
        Err(Box::new(err))
    }
}

fn socket(
    ctx: *mut MpsslContext,
    host: Option<&str>,
    client_id: Option<&[u8]>,
    server: bool,
    wire: &mut Datagrams,
) -> *mut MpsslSocket {
    try_socket(ctx, host, client_id, server, wire)
        .unwrap_or_else(|e| panic!("wrap failed: {} {}", e.code, message(&e)))
}

/// Step both handshakes, moving datagrams between the wires, until neither wants more.
fn pump(
    c: *mut MpsslSocket,
    cw: &mut Datagrams,
    s: *mut MpsslSocket,
    sw: &mut Datagrams,
) -> (i32, i32, MpsslError, MpsslError) {
    let (mut ce, mut se) = (new_error(), new_error());
    let (mut rc_c, mut rc_s) = (MPSSL_WANT_READ, MPSSL_WANT_READ);
    for _ in 0..40 {
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

fn write(sock: *mut MpsslSocket, data: &[u8]) -> usize {
    let (mut n, mut err) = (0usize, new_error());
    let rc = unsafe { mpssl_socket_write(sock, data.as_ptr(), data.len(), &mut n, &mut err) };
    assert_eq!(rc, MPSSL_OK, "{}", message(&err));
    n
}

fn read(sock: *mut MpsslSocket, cap: usize) -> (i32, Vec<u8>) {
    let mut buf = vec![0u8; cap];
    let (mut n, mut err) = (0usize, new_error());
    let rc = unsafe { mpssl_socket_read(sock, buf.as_mut_ptr(), buf.len(), &mut n, &mut err) };
    buf.truncate(if rc == MPSSL_OK { n } else { 0 });
    (rc, buf)
}

#[test]
fn hello_verify_then_second_wrap_handshake_transfer_and_cipher() {
    let (server, client, server_cert) = contexts();
    let id: &[u8] = b"('127.0.0.1', 40000)";
    let (mut cw, mut sw) = (Datagrams::default(), Datagrams::default());
    let c = socket(client, Some("localhost"), None, false, &mut cw);

    // First wrap from a new client: the cookie exchange, then HELLO_VERIFY_REQUIRED.
    let s1 = socket(server, None, Some(id), true, &mut sw);
    let (rc_c, rc_s, _, se) = pump(c, &mut cw, s1, &mut sw);
    assert_eq!(rc_c, MPSSL_WANT_READ, "the client waits for the server");
    assert_eq!(rc_s, MPSSL_ERROR);
    assert_eq!(
        (se.kind, se.code, message(&se).as_str()),
        (
            Kind::OsErrorArgs as i32,
            HELLO_VERIFY_REQUIRED,
            "MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED"
        )
    );
    unsafe { mpssl_socket_free(s1) };

    // Second wrap, same context and client_id, same wire: completes.
    let s2 = socket(server, None, Some(id), true, &mut sw);
    let (rc_c, rc_s, ce, se) = pump(c, &mut cw, s2, &mut sw);
    assert_eq!(
        (rc_c, rc_s),
        (MPSSL_OK, MPSSL_OK),
        "{} / {}",
        message(&ce),
        message(&se)
    );
    // Reads were always offered room for a whole datagram.
    assert!(
        cw.smallest_read.unwrap_or(0) >= 16384,
        "{:?}",
        cw.smallest_read
    );
    assert!(
        sw.smallest_read.unwrap_or(0) >= 16384,
        "{:?}",
        sw.smallest_read
    );

    // cipher(): a DTLS version; getpeercert: the server's certificate.
    let (mut suite, mut suite_len, mut ver, mut ver_len) = (ptr::null(), 0, ptr::null(), 0);
    assert_eq!(
        unsafe { mpssl_socket_cipher(c, &mut suite, &mut suite_len, &mut ver, &mut ver_len) },
        MPSSL_OK
    );
    let version = unsafe { std::slice::from_raw_parts(ver, ver_len) };
    assert_eq!(version, b"DTLSv1.2");
    let suite = unsafe { std::slice::from_raw_parts(suite, suite_len) };
    assert!(
        suite.starts_with(b"TLS-ECDHE-"),
        "{}",
        String::from_utf8_lossy(suite)
    );
    let mut der = vec![0u8; server_cert.der.len()];
    let mut len = 0usize;
    assert_eq!(
        unsafe { mpssl_socket_peer_cert(c, der.as_mut_ptr(), der.len(), &mut len) },
        MPSSL_OK
    );
    assert_eq!(der, server_cert.der);

    // Data both ways: each send is one datagram; a record is never truncated by a short
    // read (the rest comes with the next read), as the reference's recv(3) then recv(100).
    assert_eq!(write(c, b"0123456789"), 10);
    assert_eq!(cw.outbound.len(), 1, "one send, one datagram");
    sw.inbound.extend(cw.outbound.drain(..));
    assert_eq!(read(s2, 3), (MPSSL_OK, b"012".to_vec()));
    assert_eq!(read(s2, 100), (MPSSL_OK, b"3456789".to_vec()));
    assert_eq!(read(s2, 100).0, MPSSL_WANT_READ);
    for i in 0..4u8 {
        let msg = [b's', b'v', b'r', b'0' + i];
        assert_eq!(write(s2, &msg), 4);
        cw.inbound.extend(sw.outbound.drain(..));
        assert_eq!(read(c, 32), (MPSSL_OK, msg.to_vec()));
    }

    // close(): close_notify as one datagram; the peer reads the end of the stream.
    assert_eq!(unsafe { mpssl_socket_close(c) }, MPSSL_OK);
    assert_eq!(cw.outbound.len(), 1, "close_notify in one datagram");
    sw.inbound.extend(cw.outbound.drain(..));
    assert_eq!(read(s2, 32), (MPSSL_OK, Vec::new()));
    unsafe {
        mpssl_socket_free(c);
        mpssl_socket_free(s2);
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
}

#[test]
fn dtls_server_needs_a_client_id_and_takes_an_empty_one() {
    let (server, client, _) = contexts();
    let mut wire = Datagrams::default();
    // Missing (None, or a non-buffer on the C side): BAD_INPUT_DATA, whatever server_side is.
    for server_side in [true, false] {
        let err = try_socket(server, None, None, server_side, &mut wire)
            .expect_err("a DTLS server without client_id must fail");
        assert_eq!(
            (err.kind, err.code, message(&err).as_str()),
            (
                Kind::OsErrorArgs as i32,
                BAD_INPUT_DATA,
                "MBEDTLS_ERR_SSL_BAD_INPUT_DATA"
            )
        );
    }
    // mpssl_socket_new is the same as no client_id.
    let mut sock = ptr::null_mut();
    let mut err = new_error();
    let rc = unsafe {
        mpssl_socket_new(
            server,
            ptr::null(),
            0,
            true,
            Some(dgram_read),
            Some(dgram_write),
            ptr::from_mut(&mut wire).cast(),
            &mut sock,
            &mut err,
        )
    };
    assert_eq!((rc, err.code), (MPSSL_ERROR, BAD_INPUT_DATA));
    // Empty and non-empty ids are accepted; nothing is sent before the handshake.
    for id in [&b""[..], b"x"] {
        let s = socket(server, None, Some(id), true, &mut wire);
        unsafe { mpssl_socket_free(s) };
    }
    assert!(wire.outbound.is_empty());
    // A client ignores client_id; its host name rule comes first (CERT_REQUIRED, no name).
    let c = socket(
        client,
        Some("localhost"),
        Some(b"ignored"),
        false,
        &mut wire,
    );
    unsafe { mpssl_socket_free(c) };
    let err = try_socket(client, None, Some(b"ignored"), false, &mut wire)
        .expect_err("CERT_REQUIRED without server_hostname must fail");
    assert_eq!(
        (err.kind, message(&err).as_str()),
        (
            Kind::ValueError as i32,
            "CERT_REQUIRED requires server_hostname"
        )
    );
    unsafe {
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
}

#[test]
fn a_new_client_id_on_the_same_context_needs_its_own_cookie() {
    let (server, client, _) = contexts();
    for id in [&b"peer-a"[..], b"peer-b"] {
        let (mut cw, mut sw) = (Datagrams::default(), Datagrams::default());
        let c = socket(client, Some("localhost"), None, false, &mut cw);
        let s1 = socket(server, None, Some(id), true, &mut sw);
        let (_, rc_s, _, se) = pump(c, &mut cw, s1, &mut sw);
        assert_eq!((rc_s, se.code), (MPSSL_ERROR, HELLO_VERIFY_REQUIRED));
        let s2 = socket(server, None, Some(id), true, &mut sw);
        let (rc_c, rc_s, ce, se) = pump(c, &mut cw, s2, &mut sw);
        assert_eq!(
            (rc_c, rc_s),
            (MPSSL_OK, MPSSL_OK),
            "{} / {}",
            message(&ce),
            message(&se)
        );
        unsafe {
            mpssl_socket_free(s1);
            mpssl_socket_free(s2);
            mpssl_socket_free(c);
        }
    }
    unsafe {
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
}

#[test]
fn dtls_client_with_a_wrong_ca_fails_with_the_verify_text() {
    let (server, _, _) = contexts();
    let other = cert("localhost");
    let client = context(2);
    let mut err = new_error();
    assert_eq!(
        unsafe {
            mpssl_context_load_verify_locations(
                client,
                other.der.as_ptr(),
                other.der.len(),
                &mut err,
            )
        },
        MPSSL_OK
    );
    let id: &[u8] = b"peer";
    let (mut cw, mut sw) = (Datagrams::default(), Datagrams::default());
    let c = socket(client, Some("localhost"), None, false, &mut cw);
    let s1 = socket(server, None, Some(id), true, &mut sw);
    let (_, rc_s, _, _) = pump(c, &mut cw, s1, &mut sw);
    assert_eq!(rc_s, MPSSL_ERROR);
    let s2 = socket(server, None, Some(id), true, &mut sw);
    let (rc_c, _, ce, _) = pump(c, &mut cw, s2, &mut sw);
    assert_eq!(rc_c, MPSSL_ERROR);
    assert_eq!(ce.kind, Kind::ValueError as i32, "{}", message(&ce));
    assert!(
        message(&ce).contains("The certificate is not correctly signed by the trusted CA"),
        "{}",
        message(&ce)
    );
    unsafe {
        mpssl_socket_free(s1);
        mpssl_socket_free(s2);
        mpssl_socket_free(c);
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
}

/// The server's flight is lost twice while the client keeps retransmitting its ClientHello
/// (fresh record numbers each time, as a real client does): the server must keep re-sending
/// its flight, and the third copy completes the handshake. Driven as the C module's handshake
/// loop drives it (a call every millisecond); the engine's clock runs the retransmissions.
#[test]
fn server_flight_lost_twice_is_sent_again_while_the_client_retransmits() {
    let (server, client, _) = contexts();
    let id: &[u8] = b"peer";
    let (mut cw, mut sw) = (Datagrams::default(), Datagrams::default());
    let c = socket(client, Some("localhost"), None, false, &mut cw);
    let s1 = socket(server, None, Some(id), true, &mut sw);
    let (_, rc_s, _, se) = pump(c, &mut cw, s1, &mut sw);
    assert_eq!((rc_s, se.code), (MPSSL_ERROR, HELLO_VERIFY_REQUIRED));
    let s2 = socket(server, None, Some(id), true, &mut sw);
    let (mut ce, mut se) = (new_error(), new_error());
    let mut flights = 0;
    // A safety net against a hang, not a speed check: retransmissions come about 1 s apart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let (mut rc_c, mut rc_s) = (MPSSL_WANT_READ, MPSSL_WANT_READ);
    while (rc_c > 0 || rc_s > 0) && std::time::Instant::now() < deadline {
        if rc_c > 0 {
            rc_c = unsafe { mpssl_socket_handshake(c, &mut ce) };
        }
        sw.inbound.extend(cw.outbound.drain(..));
        if rc_s > 0 {
            rc_s = unsafe { mpssl_socket_handshake(s2, &mut se) };
        }
        for datagram in sw.outbound.drain(..) {
            // The first two copies of the server's first flight (handshake records) are lost.
            if flights < 2 && datagram.first() == Some(&22) {
                flights += 1;
            } else {
                cw.inbound.push_back(datagram);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(flights, 2);
    assert_eq!(
        (rc_c, rc_s),
        (MPSSL_OK, MPSSL_OK),
        "{} / {}",
        message(&ce),
        message(&se)
    );
    unsafe {
        mpssl_socket_free(s1);
        mpssl_socket_free(s2);
        mpssl_socket_free(c);
        mpssl_context_free(client);
        mpssl_context_free(server);
    }
}
