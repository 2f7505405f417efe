"""Non-blocking SSLSockets: None instead of blocking, deferred handshakes, pending(), wants(),
selector-driven exchanges on both sides, and in-memory non-blocking transports."""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable
from typing import Any

import mpssl
import pytest
from support import JOIN_TIMEOUT, Harness, pipe_pair

Pair = Callable[..., tuple[Any, Any]]
QUICK = 0.5  # a call that must not block returns well within this


def wait_for(sock: Any, events: int = 0, timeout: float = JOIN_TIMEOUT) -> None:
    """Wait until ``sock``'s descriptor is ready for ``events`` (default: what it wants)."""
    events = events or sock.wants() or selectors.EVENT_READ
    with selectors.DefaultSelector() as sel:
        sel.register(sock.fileno(), events)
        assert sel.select(timeout), f"not ready for {events} within {timeout} s"


def drive(sock: Any, op: Callable[[], Any], timeout: float = JOIN_TIMEOUT) -> Any:
    """Repeat ``op`` until it returns something other than None, waiting on ``wants()``."""
    deadline = time.monotonic() + timeout
    while True:
        result = op()
        if result is not None:
            return result
        wants = sock.wants()
        assert wants & (selectors.EVENT_READ | selectors.EVENT_WRITE), wants
        wait_for(sock, wants, max(0.0, deadline - time.monotonic()))


def nonblocking_pair(tls_pair: Pair, sctx: Any, cctx: Any) -> tuple[Any, Any]:
    cli, srv = tls_pair(sctx, cctx)
    cli.setblocking(False)
    return cli, srv


def test_deferred_client_calls_return_none(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    a.setblocking(False)
    cli = harness.track_tls(
        client_ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    )
    calls: list[Callable[[], Any]] = [
        lambda: cli.read(10), lambda: cli.read(), lambda: cli.readinto(bytearray(10)),
        lambda: cli.readline(), lambda: cli.write(b"hello"), lambda: cli.recv(10),
        lambda: cli.recv_into(bytearray(4)), lambda: cli.send(b"x"), lambda: cli.sendall(b"x"),
        lambda: cli.do_handshake(),
    ]
    for call in calls:
        t0 = time.monotonic()
        assert call() is None
        assert time.monotonic() - t0 < QUICK
    assert cli.wants() == selectors.EVENT_READ  # ClientHello sent, waiting for the server
    assert cli.cipher() is None
    b.setblocking(False)
    assert b.recv(1) == b"\x16"  # the ClientHello's first byte reached the peer
    b.setblocking(True)


def test_deferred_client_completes_with_selector(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    cli = harness.track_tls(
        client_ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    )
    cli.setblocking(False)
    assert not a.getblocking()

    def server() -> bytes:
        s = server_ctx.wrap_socket(b, server_side=True)
        data = s.read(5)
        s.write(b"reply")
        return data

    task = harness.spawn(server)
    assert drive(cli, lambda: cli.write(b"hello")) == 5
    assert task.join() == b"hello"
    assert cli.version() == "TLSv1.3"
    assert drive(cli, lambda: cli.read(5)) == b"reply"


def test_deferred_server_nonblocking(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    b.setblocking(False)
    srv = harness.track_tls(
        server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    )
    t0 = time.monotonic()
    assert srv.read(4) is None  # no ClientHello yet
    assert srv.write(b"x") is None
    assert time.monotonic() - t0 < QUICK
    assert srv.wants() & selectors.EVENT_READ

    def client() -> bytes:
        c = client_ctx.wrap_socket(a, server_hostname="localhost")
        c.write(b"ping")
        data = c.read(4)
        c.close()
        return data

    task = harness.spawn(client)
    assert drive(srv, lambda: srv.read(4)) == b"ping"
    assert drive(srv, lambda: srv.write(b"pong")) == 4
    assert task.join() == b"pong"
    assert drive(srv, lambda: srv.read()) == b""
    assert srv.eof_was_clean is True


def test_do_handshake_nonblocking(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    a.setblocking(False)
    cli = harness.track_tls(
        client_ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    )
    task = harness.spawn(server_ctx.wrap_socket, b, server_side=True)
    assert drive(cli, cli.do_handshake) is True
    harness.track_tls(task.join())
    assert cli.cipher() is not None
    assert cli.do_handshake() is True


def test_pending_buffered_plaintext(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    assert cli.pending() == 0
    payload = bytes(range(100))
    assert srv.write(payload) == 100  # one record
    wait_for(cli, selectors.EVENT_READ)
    assert cli.read(10) == payload[:10]
    assert cli.pending() == 90
    # Nothing is left on the wire: a selector would not wake, yet the data is readable.
    with selectors.DefaultSelector() as sel:
        sel.register(cli.fileno(), selectors.EVENT_READ)
        assert sel.select(0) == []
    t0 = time.monotonic()
    assert cli.read(100) == payload[10:]
    assert cli.pending() == 0
    assert cli.read(1) is None
    assert time.monotonic() - t0 < QUICK


def test_pending_then_select_never_misses_a_record(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    # Whatever a socket read took beyond the record asked for must show in pending(), or a
    # caller that selects when pending() is 0 would wait forever.
    cli, srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    record = 16 * 1024
    payload = bytes(i % 251 for i in range(2 * record))
    srv.setblocking(True)
    assert srv.write(payload) == len(payload)  # two full records
    got = bytearray()
    deadline = time.monotonic() + 5
    while len(got) < record:  # exactly the first record, however it arrives
        wait_for(cli, selectors.EVENT_READ)
        chunk = cli.read(record - len(got))
        if chunk:
            got += chunk
        assert time.monotonic() < deadline
    assert bytes(got) == payload[:record]
    with selectors.DefaultSelector() as sel:
        sel.register(cli.fileno(), selectors.EVENT_READ)
        on_the_wire = bool(sel.select(0.2))
    if not on_the_wire:  # the second record was taken with the first
        assert cli.pending() == record
    rest = bytearray()
    while len(rest) < record:
        if not cli.pending():
            wait_for(cli, selectors.EVENT_READ)
        chunk = cli.read(record)
        if chunk:
            rest += chunk
        assert time.monotonic() < deadline
    assert bytes(rest) == payload[record:]
    assert cli.pending() == 0
    assert cli.read(1) is None


def test_readline_nonblocking_partial(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    srv.write(b"abc")
    wait_for(cli, selectors.EVENT_READ)
    assert cli.readline() == b"abc"  # a partial line rather than blocking
    assert cli.readline() is None
    srv.write(b"def\nghi\n")
    wait_for(cli, selectors.EVENT_READ)
    assert cli.readline() == b"def\n"
    assert cli.pending() == 4
    assert cli.readline() == b"ghi\n"
    assert cli.readline() is None


def test_readinto_nonblocking(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    buf = bytearray(10)
    assert cli.readinto(buf) is None
    assert cli.recv_into(memoryview(buf)) is None
    srv.write(b"1234")
    wait_for(cli, selectors.EVENT_READ)
    assert cli.readinto(buf) == 4  # what there is, without waiting for 10
    assert buf[:4] == b"1234"


def test_nonblocking_eof(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    srv.write(b"last")
    srv.close()
    assert drive(cli, lambda: cli.read(100)) == b"last"
    assert drive(cli, cli.read) == b""
    assert cli.eof_was_clean is True


def test_write_when_peer_does_not_read(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, _srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    chunk = b"z" * 65536
    t0 = time.monotonic()
    for _ in range(2000):
        n = cli.write(chunk)
        if n is None:
            break
        assert 0 < n <= len(chunk)
    else:
        pytest.fail("write never reported that it would block")
    assert time.monotonic() - t0 < 5.0
    assert cli.wants() & selectors.EVENT_WRITE
    assert cli.send(b"more") is None


def test_selector_echo_both_sides_nonblocking(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    cli = harness.track_tls(
        client_ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    )
    srv = harness.track_tls(
        server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    )
    payload = os.urandom(300_000)
    to_send = memoryview(payload)
    echo = bytearray()
    received = bytearray()
    deadline = time.monotonic() + JOIN_TIMEOUT
    with selectors.DefaultSelector() as sel:
        while len(received) < len(payload):
            assert time.monotonic() < deadline, "exchange did not finish"
            progress = False
            if to_send:
                n = cli.write(to_send[:20000])
                if n:
                    to_send = to_send[n:]
                    progress = True
            data = srv.read(65536)
            if data:
                echo += data
                progress = True
            if echo:
                n = srv.write(echo[:20000])
                if n:
                    del echo[:n]
                    progress = True
            data = cli.read(65536)
            if data:
                received += data
                progress = True
            if not progress and srv.pending() == 0 and cli.pending() == 0:
                for s in (cli, srv):
                    sel.register(s.fileno(), s.wants() or selectors.EVENT_READ, s)
                ready = sel.select(max(0.0, deadline - time.monotonic()))
                for s in (cli, srv):
                    sel.unregister(s.fileno())
                assert ready, "neither side became ready"
    assert bytes(received) == payload
    assert cli.version() == srv.version() == "TLSv1.3"
    cli.close()
    assert drive(srv, srv.read) == b""
    assert srv.eof_was_clean is True


def test_nonblocking_pipe_transport(
    server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    c_end, s_end = pipe_pair(blocking=False)
    cli = client_ctx.wrap_socket(c_end, server_hostname="localhost",
                                 do_handshake_on_connect=False)
    srv = server_ctx.wrap_socket(s_end, server_side=True, do_handshake_on_connect=False)
    t0 = time.monotonic()
    got = None
    for _ in range(100):
        if cli.write(b"over a pipe") is not None:
            break
        assert srv.read(1) is None
    else:
        pytest.fail("client handshake did not complete over the pipe")
    for _ in range(100):
        got = srv.read(11)
        if got is not None:
            break
        cli.read(1)
    assert got == b"over a pipe"
    assert time.monotonic() - t0 < 5.0
    assert srv.write(b"and back") == 8
    assert cli.read(8) == b"and back"
    assert cli.read(8) is None
    cli.close()
    srv.close()
    assert c_end.closed and s_end.closed


def test_setblocking_false_then_true_blocks_again(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = nonblocking_pair(tls_pair, server_ctx, client_ctx)
    assert cli.read(3) is None
    cli.setblocking(True)
    task = harness.spawn(srv.write, b"abc")
    assert cli.read(3) == b"abc"  # blocking again: waits for the data
    task.join()


def test_wants_is_an_event_mask(
    harness: Harness, client_ctx: mpssl.SSLContext
) -> None:
    a, _ = harness.socketpair()
    a.setblocking(False)
    cli = harness.track_tls(
        client_ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    )
    assert isinstance(cli.wants(), int)
    assert cli.wants() & ~(selectors.EVENT_READ | selectors.EVENT_WRITE) == 0
    assert cli.read(1) is None
    assert cli.wants() == selectors.EVENT_READ
