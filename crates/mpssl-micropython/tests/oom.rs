//! Allocation failure through the C ABI: with the system allocator made to fail after N bytes
//! (the test switch of `mpssl_micropython::oom`), every step of a connection — contexts,
//! sockets, handshake, a 16 KiB record each way — must come back as `MPSSL_ERROR` with
//! `Kind::NoMemory` (code 12, `OSError(ENOMEM)`), the socket must stay failed, the reserve must
//! be given back once the handles are freed, and new connections must work once memory is
//! available again. Before `oom.rs` existed the first failed allocation aborted the process
//! ("memory allocation of N bytes failed"), so this test could not pass.
#![allow(unsafe_code, reason = "calls the C ABI")]
#![allow(
    clippy::undocumented_unsafe_blocks,
    reason = "tests: each call passes live handles"
)]
#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup is a failed test"
)]

use std::ptr;

use mpssl_micropython::oom;
use mpssl_micropython::*;

mod common;
use common::*;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Everything succeeded.
    Completed,
    /// The named step failed with ENOMEM (and every check on it held).
    NoMemory(&'static str),
}

/// Check that a failed call is `OSError(ENOMEM)` and nothing else.
fn assert_no_memory(step: &str, rc: i32, err: &MpsslError) {
    assert_eq!(rc, MPSSL_ERROR, "{step}");
    assert_eq!(
        (err.kind, err.code, err.len),
        (Kind::NoMemory as i32, 12, 0),
        "{step}: {}",
        message(err)
    );
}

/// A socket that failed for lack of memory stays failed: every call repeats ENOMEM (even with
/// memory available again), the poll state says "failed", close works.
fn assert_socket_stays_failed(step: &str, sock: *mut MpsslSocket) {
    let saved = oom::test_system_budget_left();
    oom::test_fail_system_after(None);
    let mut err = new_error();
    let mut n = 0usize;
    let mut buf = [0u8; 8];
    unsafe {
        assert_no_memory(step, mpssl_socket_handshake(sock, &mut err), &err);
        err = new_error();
        let rc = mpssl_socket_read(sock, buf.as_mut_ptr(), buf.len(), &mut n, &mut err);
        assert_no_memory(step, rc, &err);
        err = new_error();
        let rc = mpssl_socket_write(sock, b"x".as_ptr(), 1, &mut n, &mut err);
        assert_no_memory(step, rc, &err);
        assert_eq!(mpssl_socket_poll_state(sock), 8, "{step}");
    }
    oom::test_fail_system_after(saved);
}

/// Handles of one run, freed at the end whatever happened.
struct Run {
    ctxs: Vec<*mut MpsslContext>,
    socks: Vec<*mut MpsslSocket>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for &s in &self.socks {
            unsafe {
                mpssl_socket_close(s);
                mpssl_socket_free(s);
            }
        }
        for &c in &self.ctxs {
            unsafe { mpssl_context_free(c) };
        }
    }
}

/// `rc` of a call on `sock`: OK or a would-block go on; ENOMEM ends the run (after checking
/// that the socket stays failed); anything else is a test failure.
fn step(name: &'static str, rc: i32, err: &MpsslError, sock: *mut MpsslSocket) -> Option<Outcome> {
    match rc {
        MPSSL_OK | MPSSL_WANT_READ | MPSSL_WANT_WRITE => None,
        _ => {
            assert_no_memory(name, rc, err);
            if !sock.is_null() {
                assert_socket_stays_failed(name, sock);
            }
            Some(Outcome::NoMemory(name))
        }
    }
}

macro_rules! go {
    ($e:expr) => {
        if let Some(outcome) = $e {
            return outcome;
        }
    };
}

/// One whole connection through the ABI, in memory, with the system allocator allowed
/// `budget` bytes on this thread (`None`: no limit).
fn connection(server_cert: &Cert, payload: &[u8], budget: Option<usize>) -> Outcome {
    let mut wires = Box::new((Wire::default(), Wire::default()));
    let mut received = Vec::with_capacity(payload.len());
    let mut buf = vec![0u8; 4096];
    let mut run = Run {
        ctxs: Vec::with_capacity(2),
        socks: Vec::with_capacity(2),
    };
    oom::test_fail_system_after(budget);
    let outcome = connection_steps(
        server_cert,
        payload,
        &mut wires,
        &mut received,
        &mut buf,
        &mut run,
    );
    oom::test_fail_system_after(None);
    drop(run);
    outcome
}

fn connection_steps(
    server_cert: &Cert,
    payload: &[u8],
    wires: &mut (Wire, Wire),
    received: &mut Vec<u8>,
    buf: &mut [u8],
    run: &mut Run,
) -> Outcome {
    let mut err = new_error();
    let (mut server, mut client) = (ptr::null_mut(), ptr::null_mut());
    let rc = unsafe { mpssl_context_new(1, &mut server, &mut err) };
    go!(step("server context", rc, &err, ptr::null_mut()));
    assert!(!server.is_null());
    run.ctxs.push(server);
    let rc = unsafe {
        mpssl_context_load_cert_chain(
            server,
            server_cert.der.as_ptr(),
            server_cert.der.len(),
            server_cert.key.as_ptr(),
            server_cert.key.len(),
            &mut err,
        )
    };
    go!(step("load_cert_chain", rc, &err, ptr::null_mut()));
    let rc = unsafe { mpssl_context_new(0, &mut client, &mut err) };
    go!(step("client context", rc, &err, ptr::null_mut()));
    assert!(!client.is_null());
    run.ctxs.push(client);
    let rc = unsafe {
        mpssl_context_load_verify_locations(
            client,
            server_cert.der.as_ptr(),
            server_cert.der.len(),
            &mut err,
        )
    };
    go!(step("load_verify_locations", rc, &err, ptr::null_mut()));

    let (cw, sw) = (&mut wires.0 as *mut Wire, &mut wires.1 as *mut Wire);
    let (mut c, mut s) = (ptr::null_mut(), ptr::null_mut());
    let host = b"localhost";
    let rc = unsafe {
        mpssl_socket_new(
            client,
            host.as_ptr(),
            host.len(),
            false,
            Some(wire_read),
            Some(wire_write),
            cw.cast(),
            &mut c,
            &mut err,
        )
    };
    go!(step("client socket", rc, &err, ptr::null_mut()));
    run.socks.push(c);
    let rc = unsafe {
        mpssl_socket_new(
            server,
            ptr::null(),
            0,
            true,
            Some(wire_read),
            Some(wire_write),
            sw.cast(),
            &mut s,
            &mut err,
        )
    };
    go!(step("server socket", rc, &err, ptr::null_mut()));
    run.socks.push(s);

    // Move each side's output to the other's input.
    let shuttle = |wires: &mut (Wire, Wire)| {
        let (cw, sw) = (&mut wires.0, &mut wires.1);
        sw.inbound.extend(cw.outbound.drain(..));
        cw.inbound.extend(sw.outbound.drain(..));
    };

    let (mut rc_c, mut rc_s) = (MPSSL_WANT_READ, MPSSL_WANT_READ);
    for _ in 0..20 {
        if rc_c != MPSSL_OK {
            rc_c = unsafe { mpssl_socket_handshake(c, &mut err) };
            go!(step("client handshake", rc_c, &err, c));
        }
        shuttle(wires);
        if rc_s != MPSSL_OK {
            rc_s = unsafe { mpssl_socket_handshake(s, &mut err) };
            go!(step("server handshake", rc_s, &err, s));
        }
        shuttle(wires);
        if rc_c == MPSSL_OK && rc_s == MPSSL_OK {
            break;
        }
    }
    assert_eq!(
        (rc_c, rc_s),
        (MPSSL_OK, MPSSL_OK),
        "handshake did not finish"
    );

    // The payload client -> server, then back.
    for (name_w, name_r, from, to) in [
        ("client write", "server read", c, s),
        ("server write", "client read", s, c),
    ] {
        let mut sent = 0;
        received.clear();
        for _ in 0..64 {
            if sent < payload.len() {
                let mut n = 0usize;
                let rest = &payload[sent..];
                let rc = unsafe {
                    mpssl_socket_write(from, rest.as_ptr(), rest.len(), &mut n, &mut err)
                };
                go!(step(name_w, rc, &err, from));
                if rc == MPSSL_OK {
                    sent += n;
                }
            }
            shuttle(wires);
            let mut n = 0usize;
            let rc =
                unsafe { mpssl_socket_read(to, buf.as_mut_ptr(), buf.len(), &mut n, &mut err) };
            go!(step(name_r, rc, &err, to));
            if rc == MPSSL_OK {
                received.extend_from_slice(&buf[..n]);
            }
            shuttle(wires);
            if received.len() == payload.len() {
                break;
            }
        }
        assert_eq!(received.as_slice(), payload, "{name_w} -> {name_r}");
    }
    Outcome::Completed
}

#[test]
fn allocation_failure_at_every_step_is_enomem_and_the_reserve_comes_back() {
    let server_cert = cert("localhost");
    let payload: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();

    // Measure what a whole connection takes from the system allocator on this thread.
    let start = usize::MAX - 2;
    let used = {
        let mut wires = Box::new((Wire::default(), Wire::default()));
        let mut received = Vec::with_capacity(payload.len());
        let mut buf = vec![0u8; 4096];
        let mut run = Run {
            ctxs: Vec::with_capacity(2),
            socks: Vec::with_capacity(2),
        };
        oom::test_fail_system_after(Some(start));
        let outcome = connection_steps(
            &server_cert,
            &payload,
            &mut wires,
            &mut received,
            &mut buf,
            &mut run,
        );
        let left = oom::test_system_budget_left().expect("switch on");
        oom::test_fail_system_after(None);
        drop(run);
        assert_eq!(outcome, Outcome::Completed);
        start - left
    };
    assert!(used > 0);
    assert_eq!(oom::reserve_in_use(), 0);

    // Fail the system allocator at 200 points spread over that, from the first byte on.
    let mut failures = std::collections::BTreeMap::new();
    let points = 200;
    for k in 0..points {
        let budget = used * k / points;
        let outcome = connection(&server_cert, &payload, Some(budget));
        if let Outcome::NoMemory(step) = outcome {
            *failures.entry(step).or_insert(0) += 1;
        }
        assert_eq!(
            oom::reserve_in_use(),
            0,
            "budget {budget}: reserve not given back ({outcome:?})"
        );
    }
    let high_water = oom::reserve_high_water();
    println!(
        "system bytes per connection: {used}; failures by step: {failures:?}; \
         reserve high-water: {high_water} of {}",
        oom::RESERVE_SIZE
    );
    // Every point before the end of the run failed somewhere, and cleanly.
    assert!(
        failures.values().sum::<i32>() >= points as i32 - 2,
        "{failures:?}"
    );
    for step in ["server context", "client handshake", "server handshake"] {
        assert!(
            failures.contains_key(step),
            "no failure in {step}: {failures:?}"
        );
    }
    assert!(
        high_water > 0 && high_water <= oom::RESERVE_SIZE / 2,
        "{high_water}"
    );

    // Memory available again: new contexts and sockets work.
    assert_eq!(connection(&server_cert, &payload, None), Outcome::Completed);
}
