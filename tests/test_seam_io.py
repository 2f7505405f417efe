"""Socket I/O at the seam (issue 9): whose descriptor is used, which objects take the
descriptor fast path, re-entry from a ``verify_callback``, ``readline`` memory, and the stream
call forms MicroPython's ``py/stream.c`` accepts.

Each test here failed before its fix (see the commit that added it)."""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pki
import pytest
from support import JOIN_TIMEOUT, Harness, Task, mpssl_client_ctx, mpssl_server_ctx

# --------------------------------------------------------------------------------------------
# Defect 1: a descriptor that is no longer ours


def _new_pair_on(harness: Harness, fd: int) -> tuple[socket.socket, socket.socket]:
    """A fresh connected pair whose first end reuses descriptor number ``fd``."""
    x, y = harness.socketpair()
    if x.fileno() != fd:  # usually the lowest free number is reused; make sure of it
        os.dup2(x.fileno(), fd)
        x = harness.track(socket.socket(fileno=fd))
    return x, y


def _assert_nothing_to_read(s: socket.socket) -> None:
    s.setblocking(False)
    with pytest.raises(BlockingIOError):
        s.recv(65536)


def test_write_after_the_socket_was_closed_is_ebadf(
    harness: Harness, tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    """``sock.close()`` (not ``tls.close()``), then a new socket takes the same descriptor
    number: ``tls.write`` must not send a TLS record into that unrelated connection."""
    cli, _srv = tls_pair(server_ctx, client_ctx)
    raw = harness.raw[-2]  # the client's end of the socketpair
    fd = raw.fileno()
    raw.close()
    _x, y = _new_pair_on(harness, fd)
    with pytest.raises(OSError) as info:
        cli.write(b"secret")
    assert info.value.errno == errno.EBADF
    _assert_nothing_to_read(y)


def test_read_after_the_socket_was_closed_is_ebadf(
    harness: Harness, tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    """``tls.read`` after ``sock.close()`` must not consume the bytes of the connection that
    now has the descriptor number (nor answer them with an alert)."""
    cli, _srv = tls_pair(server_ctx, client_ctx)
    raw = harness.raw[-2]
    fd = raw.fileno()
    raw.close()
    x, y = _new_pair_on(harness, fd)
    y.sendall(b"GET / HTTP/1.0\r\n\r\n")
    for call in (lambda: cli.read(5), lambda: cli.readinto(bytearray(5)), cli.readline,
                 cli.do_handshake, cli.recv):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF, call
    assert x.recv(100) == b"GET / HTTP/1.0\r\n\r\n"
    _assert_nothing_to_read(y)


def _blocked_in_syscall(native_id: int) -> bool:
    """True when the thread sleeps in the kernel (waiting in poll/recv)."""
    stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "S"


def test_thread_blocked_in_read_never_touches_the_next_socket(
    harness: Harness, tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    """One thread blocks in ``tls.read()``; another closes the wrapped socket and opens a new
    one with the same number. The blocked read must not read or write that new connection."""
    cli, srv = tls_pair(server_ctx, client_ctx)
    raw = harness.raw[-2]
    fd = raw.fileno()
    ids: list[int] = []

    def reader() -> Any:
        ids.append(threading.get_native_id())
        try:
            return cli.read(5)
        except OSError as e:
            return e

    task = harness.spawn(reader)
    deadline = time.monotonic() + JOIN_TIMEOUT
    while not (ids and _blocked_in_syscall(ids[0])):
        assert time.monotonic() < deadline, "the reader never blocked"
        select.select([], [], [], 0.001)  # yield the GIL to the reader
    raw.close()
    x, y = _new_pair_on(harness, fd)
    y.sendall(b"unrelated bytes")
    srv.write(b"hello")
    result = task.join()
    # Either the read finished on the connection it started on, or it was refused.
    assert result == b"hello" or (isinstance(result, OSError) and result.errno == errno.EBADF)
    assert x.recv(100) == b"unrelated bytes"
    _assert_nothing_to_read(y)
    with pytest.raises(OSError) as info:
        cli.write(b"x")
    assert info.value.errno == errno.EBADF


def test_closing_the_wrapped_socket_ends_the_connection(
    harness: Harness, tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    """What a user sees: ``sock.close()`` ends the connection at once, as on the reference
    (the SSLSocket holds no descriptor between calls); ``tls.close()`` then sends nothing."""
    cli, srv = tls_pair(server_ctx, client_ctx)
    harness.raw[-1].settimeout(JOIN_TIMEOUT)  # the server's end
    raw = harness.raw[-2]
    raw.close()
    assert cli.fileno() == -1
    try:
        end: Any = srv.read(10)
    except ConnectionResetError as e:  # the client had unread bytes (session tickets)
        end = e
    assert end == b"" or isinstance(end, ConnectionResetError), end
    assert srv.eof_was_clean is not True  # no close_notify
    cli.close()
    with pytest.raises(OSError) as info:
        cli.write(b"x")
    assert info.value.errno == errno.EBADF


def test_timeouts_still_follow_the_wrapped_socket(
    harness: Harness, tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    """The time-out set on the socket after wrapping still applies (README: before or after)."""
    cli, _srv = tls_pair(server_ctx, client_ctx)
    raw = harness.raw[-2]
    raw.settimeout(0.05)
    with pytest.raises(TimeoutError):
        cli.read(5)
    cli.settimeout(0)
    assert raw.gettimeout() == 0.0
    assert cli.read(5) is None
    assert cli.fileno() == raw.fileno()


# --------------------------------------------------------------------------------------------
# Defect 2: TLS inside TLS goes out in clear

INNER_SNI = "inner-sni-marker.test"
INNER_SECRET = b"inner-plaintext-marker"


def _pump(src: socket.socket, dst: socket.socket, log: bytearray) -> None:
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        log += data
        dst.sendall(data)


def _relay_tls(outer: ssl.SSLSocket, inner: socket.socket) -> None:
    """Move bytes between a CPython TLS socket and a plain one, in one thread."""
    outer.setblocking(False)
    deadline = time.monotonic() + JOIN_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([outer, inner], [], [], 0.5)
        if outer in ready or outer.pending():
            try:
                data = outer.recv(65536)
            except ssl.SSLWantReadError:
                data = None
            if data == b"":
                return
            if data:
                inner.sendall(data)
        if inner in ready:
            data = inner.recv(65536)
            if not data:
                return
            while data:
                try:
                    n = outer.send(data)
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    select.select([], [outer], [], 0.5)
                    continue
                data = data[n:]


def test_tls_inside_cpython_ssl_socket_goes_through_it(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert, cpython_server_ctx: ssl.SSLContext,
    cpython_client_ctx: ssl.SSLContext,
) -> None:
    """An HTTPS-proxy tunnel: mpssl over CPython's ``ssl.SSLSocket``. The inner handshake
    must go through the outer TLS layer: no inner SNI or plaintext on the wire."""
    inner_cert = pki.make_cert("inner", issuer=ca, dns=(INNER_SNI,))
    inner_ctx = mpssl_server_ctx(inner_cert)

    # outer TLS server (CPython ssl) relaying to the inner mpssl server
    listener = harness.track(socket.create_server(("127.0.0.1", 0)))
    listener.settimeout(JOIN_TIMEOUT)
    inner_a, inner_b = harness.socketpair()

    def inner_server() -> bytes:
        tls = inner_ctx.wrap_socket(inner_b, server_side=True)
        line = tls.readline()
        tls.write(b"echo:" + line)
        tls.close()
        return line

    def outer_server() -> None:
        conn, _ = listener.accept()
        harness.track(conn)
        outer = cpython_server_ctx.wrap_socket(conn, server_side=True)
        try:
            _relay_tls(outer, inner_a)
        finally:
            outer.close()

    # a plain TCP relay that records the wire
    wire = bytearray()
    front = harness.track(socket.create_server(("127.0.0.1", 0)))
    front.settimeout(JOIN_TIMEOUT)

    def capture() -> None:
        c, _ = front.accept()
        harness.track(c)
        up = harness.track(socket.create_connection(listener.getsockname()))
        back = bytearray()
        t = Task(_pump, up, c, back)
        _pump(c, up, wire)
        t.join()
        wire.extend(back)

    inner_task = harness.spawn(inner_server)
    harness.spawn(outer_server)
    cap = harness.spawn(capture)
    raw = harness.track(socket.create_connection(front.getsockname()))
    raw.settimeout(JOIN_TIMEOUT)
    outer = cpython_client_ctx.wrap_socket(raw, server_hostname="localhost")
    tls = mpssl_client_ctx(ca).wrap_socket(outer, server_hostname=INNER_SNI)
    tls.write(INNER_SECRET + b"\n")
    assert tls.readline() == b"echo:" + INNER_SECRET + b"\n"
    assert inner_task.join() == INNER_SECRET + b"\n"
    tls.close()
    raw.close()
    cap.join()
    assert INNER_SNI.encode() not in wire
    assert INNER_SECRET not in wire


def test_plain_socket_subclass_with_own_methods_goes_through_them(
    tls_pair: Any, harness: Harness, server_ctx: Any, client_ctx: Any
) -> None:
    """A ``socket.socket`` subclass that overrides ``recv_into``/``send`` is driven through
    them, not through its descriptor."""
    calls: list[str] = []

    class Counting(socket.socket):
        def recv_into(self, *a: Any) -> int:
            calls.append("recv_into")
            return super().recv_into(*a)

        def send(self, *a: Any) -> int:
            calls.append("send")
            return super().send(*a)

    a, b = socket.socketpair()
    ca_ = Counting(fileno=a.detach())
    harness.track(ca_)
    harness.track(b)
    task = harness.spawn(server_ctx.wrap_socket, b, server_side=True)
    cli = harness.track_tls(client_ctx.wrap_socket(ca_, server_hostname="localhost"))
    srv = harness.track_tls(task.join())
    cli.write(b"ping")
    assert srv.read(4) == b"ping"
    assert "send" in calls and "recv_into" in calls


# --------------------------------------------------------------------------------------------
# Defect 6: a verify_callback that touches its own socket


@pytest.mark.timeout(30)
def test_verify_callback_touching_its_own_socket_raises_not_hangs(
    harness: Harness, ca: pki.Cert, server_ctx: Any
) -> None:
    holder: list[Any] = []
    seen: list[tuple[str, Any]] = []

    def cb(cert: Any, depth: int) -> int:
        tls = holder[0]
        for name, call in (("repr", lambda: repr(tls)), ("pending", tls.pending),
                           ("write", lambda: tls.write(b"x")), ("cipher", tls.cipher),
                           ("wants", tls.wants)):
            try:
                seen.append((name, call()))
            except OSError as e:
                seen.append((name, e))
        return 0

    cctx = mpssl_client_ctx(ca)
    cctx.verify_callback = cb
    a, b = harness.socketpair()
    srv_task = harness.spawn(server_ctx.wrap_socket, b, server_side=True)
    tls = harness.track_tls(
        cctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
    )
    holder.append(tls)
    task = Task(tls.do_handshake)
    assert task.join(JOIN_TIMEOUT) is True
    srv = harness.track_tls(srv_task.join())
    assert seen, "the callback ran"
    by_name = dict(seen)
    assert isinstance(by_name["repr"], str) and "SSLSocket" in by_name["repr"]
    for name in ("pending", "write", "cipher", "wants"):
        e = by_name[name]
        assert isinstance(e, OSError) and e.errno == errno.EDEADLK, (name, e)
        assert "verify_callback" in str(e), e
    # the socket works afterwards, from this thread and another
    tls.write(b"after")
    assert srv.read(5) == b"after"
    assert Task(tls.pending).join() == 0


# --------------------------------------------------------------------------------------------
# Defect 7: readline() memory

_READLINE_CHILD = textwrap.dedent(
    """
    import resource, socket, sys
    import mpssl
    port, ca, how = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca)
    tls = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                          server_hostname="localhost")
    assert tls.readline() == b"ready\\n"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = tls.readline() if how == "readline" else tls.read()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(line), line.endswith(b"\\n"), (after - before) * 1024)
    tls.close()
    """
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["readline", "read"])
def test_unbounded_read_peaks_near_the_data_size(
    harness: Harness, tmp_path: Path, ca: pki.Cert, server_ctx: Any, how: str
) -> None:
    """``readline()`` of a 64 MiB line (``read()`` of 64 MiB to EOF) in a fresh process:
    the peak RSS grows by about the size of the returned bytes, not three times it."""
    size = 64 * 1024 * 1024
    block = bytes(range(32, 127)) * (1024 * 1024 // 95 + 1)
    block = block[: 1024 * 1024]
    listener = harness.track(socket.create_server(("127.0.0.1", 0)))
    listener.settimeout(JOIN_TIMEOUT * 3)

    def serve() -> None:
        conn, _ = listener.accept()
        harness.track(conn)
        tls = server_ctx.wrap_socket(conn, server_side=True)
        tls.write(b"ready\n")
        for _ in range(size // len(block)):
            tls.write(block)
        tls.write(b"\n")
        if how == "readline":
            tls.read(1)  # until the client closes
        tls.close()

    task = harness.spawn(serve)
    (tmp_path / "ca.der").write_bytes(ca.der)
    out = subprocess.run(
        [sys.executable, "-c", _READLINE_CHILD, str(listener.getsockname()[1]),
         str(tmp_path / "ca.der"), how],
        capture_output=True, text=True, timeout=100, check=False,
    )
    assert out.returncode == 0, out.stderr
    n, complete, grew = out.stdout.split()
    task.join(30)
    assert int(n) == size + 1 and complete == "True"
    # the returned bytes object itself is 1x; allow a quarter more for buffers
    assert int(grew) < 1.25 * size, f"peak grew by {int(grew) / size:.2f}x the line"


# --------------------------------------------------------------------------------------------
# Defect 9: MicroPython's stream call forms (py/stream.c)


def test_write_forms_of_micropython_streams(
    tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    assert cli.write(b"abcdef", 2) == 2  # write(buf, n)
    assert cli.write(b"abcdef", 1, 3) == 3  # write(buf, off, n)
    assert cli.write(b"abcdef", 4, 100) == 2  # n past the end is clamped
    assert cli.write(b"abcdef", 100, 1) == 0  # off past the end is clamped
    assert cli.write(b"abcdef", -1) == 6  # a negative n is no limit (size_t)
    assert cli.write("h\u00e9") == 3  # write(str): its UTF-8 encoding
    assert cli.sendall("x", 1) == 1
    assert cli.send(memoryview(b"yz"), 1, 1) == 1
    assert srv.read(2 + 3 + 2 + 6 + 3 + 1 + 1) == b"ab" + b"bcd" + b"ef" + b"abcdef" + \
        "h\u00e9".encode() + b"x" + b"z"


def test_readinto_forms_of_micropython_streams(
    tls_pair: Any, server_ctx: Any, client_ctx: Any
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    srv.write(b"0123456789")
    buf = bytearray(4)
    assert cli.readinto(buf) == 4 and buf == b"0123"
    assert cli.readinto(buf, 2) == 2 and buf == b"4523"
    assert cli.readinto(buf, -1) == 4 and buf == b"6789"  # negative: the whole buffer
    with pytest.raises(TypeError):
        cli.readinto(buf, 0, 1)  # readinto takes at most (buf, n)
    with pytest.raises(TypeError):
        cli.write(b"x", 0, 1, 2)


def test_stream_errors_unchanged(tls_pair: Any, server_ctx: Any, client_ctx: Any) -> None:
    """A str is still no writable buffer, and other objects are still refused."""
    cli, _srv = tls_pair(server_ctx, client_ctx)
    with pytest.raises(TypeError):
        cli.readinto("abc")
    with pytest.raises(TypeError):
        cli.write(None)
    with pytest.raises(TypeError):
        cli.write(b"abc", "1")



@pytest.mark.parametrize("how", ["readline", "read"])
def test_long_read_interrupted_by_a_timeout_loses_nothing(
    tls_pair: Any, server_ctx: Any, client_ctx: Any, how: str
) -> None:
    """A read gathered in several 1 MiB pieces that times out gives every piece back."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=1.0)
    first = bytes(range(32, 127)) * (2_600_000 // 95)
    rest = b"tail\n"
    done = Task(srv.write, first)
    call = (lambda: cli.readline()) if how == "readline" else (lambda: cli.read(len(first) + 5))
    with pytest.raises(TimeoutError):
        call()
    done.join()
    srv.write(rest)
    assert call() == first + rest
