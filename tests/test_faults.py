"""Faults: resets, EOFs, stalled and slow peers, Ctrl-C, and threads sharing contexts and sockets.

Expected outcomes (spec "Errors" and "The socket"; reference.md §3):

* a reset (RST) -> ``ConnectionResetError`` (``OSError(104)``), at any point;
* EOF without close_notify after the handshake -> ``b""`` with ``eof_was_clean is False``;
  after close_notify -> ``b""`` with ``eof_was_clean is True``;
* a socket time-out -> ``TimeoutError`` (``OSError(110)``), measured from the start of the
  call (a deadline, not per system call: a peer trickling bytes cannot extend it), and the
  connection stays usable;
* a non-blocking socket that cannot move -> ``None``.
"""

from __future__ import annotations

import hashlib
import os
import queue
import selectors
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import mpssl
import pytest
import tlspeer
from support import JOIN_TIMEOUT, Files, Harness
from tlspeer import CLIENT_HELLO, HANDSHAKE

CONN_EOF = (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")
Pair = Callable[..., tuple[Any, Any]]


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(JOIN_TIMEOUT)
        a = socket.create_connection(listener.getsockname(), timeout=JOIN_TIMEOUT)
        b, _ = listener.accept()
    a.settimeout(None)
    b.settimeout(None)
    return a, b


def reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def tls_tcp_pair(harness: Harness, sctx: Any, cctx: Any, timeout: float | None = None
                 ) -> tuple[Any, Any, socket.socket, socket.socket]:
    """(client SSLSocket, server SSLSocket, client raw, server raw) over TCP loopback."""
    a, b = tcp_pair()
    harness.track(a)
    harness.track(b)
    a.settimeout(timeout)
    b.settimeout(timeout)
    task = harness.spawn(sctx.wrap_socket, b, server_side=True)
    cli = harness.track_tls(cctx.wrap_socket(a, server_hostname="localhost"))
    srv = harness.track_tls(task.join())
    return cli, srv, a, b


# --------------------------------------------------------------------------------------------
# Resets


def test_reset_mid_handshake_client(harness: Harness, client_ctx: mpssl.SSLContext) -> None:
    a, b = tcp_pair()
    harness.track(a)
    a.settimeout(5)

    def peer() -> bytes:
        rec = tlspeer.read_record(b)
        reset(b)
        return rec[1] if rec else b""

    task = harness.spawn(peer)
    with pytest.raises(ConnectionResetError) as ei:
        client_ctx.wrap_socket(a, server_hostname="localhost")
    assert ei.value.errno == 104
    assert task.join()[5] == CLIENT_HELLO


def test_reset_mid_handshake_server(harness: Harness, server_ctx: mpssl.SSLContext) -> None:
    """The client sends half a ClientHello, then resets."""
    a, b = tcp_pair()
    harness.track(a)
    a.settimeout(5)
    hello = tlspeer.record(HANDSHAKE, tlspeer.client_hello_bytes(), b"\x03\x01")
    b.sendall(hello[:40])
    reset(b)
    with pytest.raises(ConnectionResetError):
        server_ctx.wrap_socket(a, server_side=True)


@pytest.mark.parametrize("direction", ["to_client", "to_server"])
def test_reset_mid_record(harness: Harness, server_ctx: mpssl.SSLContext,
                          client_ctx: mpssl.SSLContext, direction: str) -> None:
    """Half of a record arrives, then an RST: ConnectionResetError, and nothing of the
    half-record is returned as data."""
    cli, srv, a, b = tls_tcp_pair(harness, server_ctx, client_ctx, timeout=5)
    reader, writer_raw = (cli, b) if direction == "to_client" else (srv, a)
    # Take a complete record off the wire ourselves: mpssl writes to a socketpair we read.
    x, y = harness.socketpair()
    helper_srv = harness.spawn(server_ctx.wrap_socket, y, server_side=True)
    helper_cli = harness.track_tls(client_ctx.wrap_socket(x, server_hostname="localhost"))
    harness.track_tls(helper_srv.join())
    helper_cli.write(b"z" * 1000)
    rec = tlspeer.read_record(y)
    assert rec is not None and rec[0] == 23
    writer_raw.sendall(rec[1][: len(rec[1]) // 2])
    reset(writer_raw)
    with pytest.raises(ConnectionResetError):
        reader.read(1000)


def test_reset_while_writing_large(harness: Harness, server_ctx: mpssl.SSLContext,
                                   client_ctx: mpssl.SSLContext) -> None:
    cli, _srv, a, b = tls_tcp_pair(harness, server_ctx, client_ctx, timeout=5)
    writer = harness.spawn(cli.write, os.urandom(8 * 1024 * 1024))
    # Wait until the writer is blocked on a full socket, then reset the other end.
    deadline = time.monotonic() + JOIN_TIMEOUT
    while time.monotonic() < deadline and _sendq(a) < 64 * 1024:
        time.sleep(0.01)
    reset(b)
    err = writer.exception()
    assert isinstance(err, (ConnectionResetError, BrokenPipeError)), repr(err)


def _sendq(sock: socket.socket) -> int:
    import fcntl
    import termios

    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return int(struct.unpack("i", buf)[0])


# --------------------------------------------------------------------------------------------
# EOF with and without close_notify


def test_eof_without_close_notify_is_unclean(tls_pair: Pair, server_ctx: mpssl.SSLContext,
                                             client_ctx: mpssl.SSLContext) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=5)
    srv.write(b"partial")
    assert cli.eof_was_clean is None
    raw = srv_raw(srv)
    raw.shutdown(socket.SHUT_WR)  # FIN, no close_notify
    raw.close()
    assert cli.read(100) == b"partial"  # read(n) returns what came before EOF
    assert cli.eof_was_clean is False
    assert cli.read(10) == b""
    assert cli.eof_was_clean is False


def srv_raw(tls: Any) -> socket.socket:
    return socket.socket(fileno=os.dup(tls.fileno()))


def test_clean_close_is_distinguishable(tls_pair: Pair, server_ctx: mpssl.SSLContext,
                                        client_ctx: mpssl.SSLContext) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=5)
    srv.write(b"all of it")
    srv.close()  # close_notify, then the socket is closed
    assert cli.read() == b"all of it"
    assert cli.eof_was_clean is True


def test_truncated_record_then_fin_after_handshake(tls_pair: Pair,
                                                   server_ctx: mpssl.SSLContext,
                                                   client_ctx: mpssl.SSLContext) -> None:
    """A record cut short by FIN (a truncation attack on the last record): reads as EOF, and
    it is not a clean one."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=5)
    raw = srv_raw(srv)
    try:
        raw.sendall(b"\x17\x03\x03\x00\x40" + b"\x00" * 20)
        raw.shutdown(socket.SHUT_WR)
    finally:
        raw.close()
    assert cli.read(10) == b""
    assert cli.eof_was_clean is False


def test_eof_during_handshake_is_conn_eof(harness: Harness, client_ctx: mpssl.SSLContext
                                          ) -> None:
    a, b = harness.socketpair()
    a.settimeout(5)

    def peer() -> None:
        tlspeer.read_record(b)
        b.shutdown(socket.SHUT_WR)

    task = harness.spawn(peer)
    with pytest.raises(OSError) as ei:
        client_ctx.wrap_socket(a, server_hostname="localhost")
    assert ei.value.args == CONN_EOF
    task.join()


# --------------------------------------------------------------------------------------------
# A peer that stops reading while we write 100 MB


HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(HUNDRED_MB)


def test_blocking_write_honours_timeout(harness: Harness, server_ctx: mpssl.SSLContext,
                                        client_ctx: mpssl.SSLContext, payload: bytes) -> None:
    """write(100 MB) to a peer that reads nothing: TimeoutError after the socket time-out (from
    the start of the call); the connection stays usable and what the peer then reads is an
    intact prefix of the payload followed by the next write."""
    cli, srv, _a, _b = tls_tcp_pair(harness, server_ctx, client_ctx)
    cli.settimeout(1.0)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as ei:
        cli.write(payload)
    elapsed = time.monotonic() - t0
    assert ei.value.errno == 110
    assert 0.9 <= elapsed < 3.0, elapsed
    # The peer starts reading; we finish with a marker.
    marker = b"\x00MARKER-AFTER-TIMEOUT\x00"
    reader = harness.spawn(_read_until_marker, srv, marker)
    cli.settimeout(10.0)
    assert cli.write(marker) == len(marker)
    got = reader.join()
    prefix = got[: -len(marker)]
    assert got.endswith(marker)
    assert 0 < len(prefix) < len(payload)
    assert prefix == payload[: len(prefix)], "the bytes before the time-out were corrupted"


def _read_until_marker(tls: Any, marker: bytes) -> bytes:
    out = bytearray()
    while not out.endswith(marker):
        chunk = tls.recv(65536)
        assert chunk, "EOF before the marker"
        out += chunk
    return bytes(out)


def test_nonblocking_write_returns_none_then_completes(harness: Harness,
                                                       server_ctx: mpssl.SSLContext,
                                                       client_ctx: mpssl.SSLContext,
                                                       payload: bytes) -> None:
    """Non-blocking write(100 MB) to a stalled peer: a partial count, then None (not an
    exception, not a wait); once the peer reads, all 100 MB arrive intact."""
    cli, srv, _a, _b = tls_tcp_pair(harness, server_ctx, client_ctx)
    cli.setblocking(False)
    view = memoryview(payload)
    t0 = time.monotonic()
    first = cli.write(view)
    assert first is not None and 0 < first < len(payload), first
    sent = first
    assert cli.write(view[sent:]) is None  # the peer is not reading: nothing moves
    assert time.monotonic() - t0 < 2.0
    assert cli.wants() & selectors.EVENT_WRITE

    digest = harness.spawn(_drain_hash, srv, len(payload))
    sel = selectors.DefaultSelector()
    sel.register(cli.fileno(), selectors.EVENT_WRITE)
    deadline = time.monotonic() + 60
    try:
        while sent < len(payload):
            assert time.monotonic() < deadline, f"stuck at {sent} bytes"
            n = cli.write(view[sent:])
            if n is None:
                sel.select(1.0)
                continue
            sent += n
    finally:
        sel.close()
    assert digest.join(60) == hashlib.sha256(payload).hexdigest()


def _drain_hash(tls: Any, n: int) -> str:
    h = hashlib.sha256()
    got = 0
    while got < n:
        chunk = tls.recv(1 << 20)
        assert chunk, f"EOF after {got} bytes"
        h.update(chunk)
        got += len(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Slowloris: one byte a second


def _trickle(sock: socket.socket, data: bytes, stop: threading.Event) -> int:
    sent = 0
    for i in range(len(data)):
        if stop.wait(1.0 if i else 0.0):
            break
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            break
        sent += 1
    return sent


def test_slowloris_client_hello(harness: Harness, server_ctx: mpssl.SSLContext) -> None:
    """A ClientHello sent one byte a second; the server's 2 s time-out is a deadline for the
    whole handshake, so the trickle cannot keep it alive."""
    a, b = harness.socketpair()
    a.settimeout(2.0)
    hello = tlspeer.record(HANDSHAKE, tlspeer.client_hello_bytes(), b"\x03\x01")
    stop = threading.Event()
    trickler = harness.spawn(_trickle, b, hello, stop)
    t0 = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            server_ctx.wrap_socket(a, server_side=True)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
    assert 1.9 <= elapsed < 3.5, elapsed
    assert trickler.join() >= 2  # it did trickle


def test_slowloris_application_data(tls_pair: Pair, harness: Harness,
                                    server_ctx: mpssl.SSLContext,
                                    client_ctx: mpssl.SSLContext) -> None:
    """read(100) while the peer sends one byte a second: TimeoutError at 2 s with the bytes
    still buffered for the next read (the connection stays usable)."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=2.0)
    stop = threading.Event()

    def trickle() -> int:
        n = 0
        while not stop.wait(1.0 if n else 0.0) and n < 10:
            srv.write(b"x")
            n += 1
        return n

    task = harness.spawn(trickle)
    t0 = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            cli.read(100)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
    assert task.join() >= 2
    assert 1.9 <= elapsed < 3.5, elapsed




@pytest.mark.parametrize("call", ["read", "readinto", "readline"])
def test_read_timeout_loses_no_data(tls_pair: Pair, server_ctx: mpssl.SSLContext,
                                    client_ctx: mpssl.SSLContext, call: str) -> None:
    """Part of what read(100) waits for arrives, then the time-out fires: those bytes must
    come back from the next read (or the timed-out call must return them)."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=0.5)
    srv.write(b"abc")
    with pytest.raises(TimeoutError):
        if call == "read":
            cli.read(100)
        elif call == "readinto":
            cli.readinto(bytearray(100))
        else:
            cli.readline()
    srv.write(b"d" * 96 + b"\n")
    cli.settimeout(1.0)
    got = cli.read(100) if call != "readline" else cli.readline()
    assert got == b"abc" + b"d" * 96 + b"\n", got[:10]


def test_no_thread_stuck_after_slowloris(harness: Harness, server_ctx: mpssl.SSLContext
                                         ) -> None:
    """Eight slowloris connections at once against a threaded server with a 2 s time-out:
    every server thread ends by its deadline."""
    stop = threading.Event()
    hello = tlspeer.record(HANDSHAKE, tlspeer.client_hello_bytes(), b"\x03\x01")
    results: queue.Queue[tuple[str, float]] = queue.Queue()

    def server(sock: socket.socket) -> None:
        sock.settimeout(2.0)
        t0 = time.monotonic()
        try:
            server_ctx.wrap_socket(sock, server_side=True)
            results.put(("handshake completed?!", 0.0))
        except TimeoutError:
            results.put(("timeout", time.monotonic() - t0))

    for _ in range(8):
        a, b = harness.socketpair()
        harness.spawn(_trickle, b, hello, stop)
        harness.spawn(server, a)
    try:
        outcomes = [results.get(timeout=10) for _ in range(8)]
    finally:
        stop.set()
    assert all(kind == "timeout" and t < 3.5 for kind, t in outcomes), outcomes


# --------------------------------------------------------------------------------------------
# Ctrl-C during a blocking handshake

KBI_CHILD = textwrap.dedent(r"""
    import socket, sys, mpssl
    port, mode = int(sys.argv[1]), sys.argv[2]
    raw = socket.create_connection(("127.0.0.1", port))
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = mpssl.CERT_NONE
    tls = None
    print("wrapping", flush=True)
    try:
        if mode == "wrap":
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
        else:
            tls = ctx.wrap_socket(raw, server_hostname="localhost",
                                  do_handshake_on_connect=False)
            tls.do_handshake()
        print("handshake completed?!", flush=True)
    except KeyboardInterrupt:
        print("caught KeyboardInterrupt", flush=True)
    print("raw fileno after exception:", raw.fileno(), flush=True)
    if tls is not None:
        tls.close()
    raw.close()
    print("raw fileno after close:", raw.fileno(), flush=True)
    sys.exit(0)
""")


def _wait_blocked(pid: int, timeout: float = 5.0) -> str:
    """Wait (bounded) until the child sleeps in the kernel; return its wait channel."""
    deadline = time.monotonic() + timeout
    wchan = ""
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/wchan") as f:
                wchan = f.read().strip()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return "exited"
        if state == "S" and ("poll" in wchan or "select" in wchan or wchan in ("", "0")):
            return wchan or state
        time.sleep(0.01)
    return f"not blocked: {wchan}"


@pytest.mark.parametrize("mode", ["wrap", "do_handshake"])
def test_keyboard_interrupt_during_blocking_handshake(mode: str) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(JOIN_TIMEOUT)
    proc = subprocess.Popen(
        [sys.executable, "-c", KBI_CHILD, str(listener.getsockname()[1]), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    conn = None
    try:
        conn, _ = listener.accept()
        conn.settimeout(JOIN_TIMEOUT)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "wrapping"
        rec = tlspeer.read_record(conn)  # the ClientHello: the child is inside the handshake
        assert rec is not None and rec[1][5] == CLIENT_HELLO
        blocked = _wait_blocked(proc.pid)
        assert not blocked.startswith("not blocked") and blocked != "exited", blocked
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=JOIN_TIMEOUT)
        assert proc.returncode == 0, (out, err)
        lines = out.splitlines()
        assert "caught KeyboardInterrupt" in lines, (out, err)
        assert "raw fileno after close: -1" in lines, out
        # The socket really is closed: the peer sees EOF (close_notify first for do_handshake?
        # no: a handshake that never finished sends nothing more).
        assert tlspeer.wait_readable_eof(conn, 5.0) == b""
        # Report what mpssl did with the raw socket when wrap_socket raised.
        print("after the exception:", [ln for ln in lines if ln.startswith("raw fileno after e")])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if conn is not None:
            conn.close()
        listener.close()


# --------------------------------------------------------------------------------------------
# Threads


def _hs_worker(i: int, rounds: int, cctx: Any, jobs: queue.Queue[Any]) -> int:
    ok = 0
    for r in range(rounds):
        a, b = socket.socketpair()
        a.settimeout(JOIN_TIMEOUT)
        b.settimeout(JOIN_TIMEOUT)
        jobs.put(b)
        try:
            c = cctx.wrap_socket(a, server_hostname="localhost")
            data = os.urandom(4096 + (i * rounds + r) % 4096)
            c.write(struct.pack("!I", len(data)) + data)
            back = c.read(len(data))
            assert back == data[::-1], f"thread {i} round {r}: corrupted echo"
            c.close()
            ok += 1
        finally:
            a.close()
    return ok


def _hs_server(sctx: Any, jobs: queue.Queue[Any]) -> int:
    n = 0
    while True:
        b = jobs.get()
        if b is None:
            return n
        try:
            s = sctx.wrap_socket(b, server_side=True)
            (length,) = struct.unpack("!I", s.read(4))
            data = s.read(length)
            s.write(data[::-1])
            s.close()
            n += 1
        finally:
            b.close()


def test_sixteen_threads_share_one_context(harness: Harness, server_ctx: mpssl.SSLContext,
                                           client_ctx: mpssl.SSLContext) -> None:
    """16 client threads share one client SSLContext (16 server threads one server context);
    each does 200 handshakes with a checked 4-8 KB echo."""
    threads, rounds = 16, 200
    queues: list[queue.Queue[Any]] = [queue.Queue() for _ in range(threads)]
    servers = [harness.spawn(_hs_server, server_ctx, q) for q in queues]
    clients = [harness.spawn(_hs_worker, i, rounds, client_ctx, q)
               for i, q in enumerate(queues)]
    try:
        done = [c.join(120) for c in clients]
    finally:
        for q in queues:
            q.put(None)
    assert done == [rounds] * threads
    assert [s.join(30) for s in servers] == [rounds] * threads


def test_two_threads_write_one_socket(tls_pair: Pair, harness: Harness,
                                      server_ctx: mpssl.SSLContext,
                                      client_ctx: mpssl.SSLContext) -> None:
    """Two threads write framed messages (up to 16 KB, one write each) on one SSLSocket: each
    message arrives whole (writes are serialised), in order per thread."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=10)
    per_thread = 300

    def writer(tid: int) -> None:
        rng = __import__("random").Random(tid)
        for seq in range(per_thread):
            body = rng.randbytes(rng.randrange(1, 16384 - 48))
            msg = struct.pack("!BII", tid, seq, len(body)) + hashlib.sha256(body).digest() + body
            assert len(msg) <= 16384
            assert cli.write(msg) == len(msg)

    def reader() -> dict[int, int]:
        seen = {0: 0, 1: 0}
        for _ in range(2 * per_thread):
            tid, seq, n = struct.unpack("!BII", srv.read(9))
            h = srv.read(32)
            body = srv.read(n)
            assert hashlib.sha256(body).digest() == h, f"message {tid}/{seq} corrupted"
            assert seq == seen[tid], f"thread {tid}: got {seq}, expected {seen[tid]}"
            seen[tid] += 1
        return seen

    r = harness.spawn(reader)
    w = [harness.spawn(writer, t) for t in (0, 1)]
    for t in w:
        t.join(60)
    assert r.join(60) == {0: per_thread, 1: per_thread}


def test_two_threads_read_one_socket(tls_pair: Pair, harness: Harness,
                                     server_ctx: mpssl.SSLContext,
                                     client_ctx: mpssl.SSLContext) -> None:
    """Two threads read(128) from one SSLSocket while the peer sends 128-byte messages, one
    record each: every read is one whole message, none lost or duplicated."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=10)
    count = 4000
    msgs = [struct.pack("!I", i) + hashlib.sha256(struct.pack("!I", i)).digest() * 3 + bytes(28)
            for i in range(count)]
    assert all(len(m) == 128 for m in msgs)

    def reader() -> list[int]:
        got = []
        while True:
            m = cli.read(128)
            if not m:
                return got
            assert len(m) == 128, len(m)
            i = struct.unpack("!I", m[:4])[0]
            assert m == msgs[i], "a message was corrupted or split between readers"
            got.append(i)

    readers = [harness.spawn(reader) for _ in range(2)]
    for m in msgs:
        srv.write(m)
    srv.close()
    got = readers[0].join(60) + readers[1].join(60)
    assert sorted(got) == list(range(count))


def test_threads_hammer_one_socket_mixed(tls_pair: Pair, harness: Harness,
                                         server_ctx: mpssl.SSLContext,
                                         client_ctx: mpssl.SSLContext) -> None:
    """One thread echoes, one writes, one reads, and one polls the socket's state methods,
    then closes it from under the others: no crash, no hang, every thread ends."""
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=3)
    stop = threading.Event()
    total = 2 * 1024 * 1024

    def echo() -> None:
        while True:
            try:
                d = srv.recv(65536)
            except OSError:
                return
            if not d:
                return
            srv.write(d)

    def writer() -> None:
        data = bytes(range(256)) * (total // 256)
        for i in range(0, total, 10000):
            cli.write(data[i:i + 10000])

    def reader() -> bytes:
        return cli.read(total)

    def poker() -> int:
        n = 0
        while not stop.is_set():
            cli.pending()
            cli.cipher()
            cli.version()
            cli.getpeercert(True)
            cli.wants()
            n += 1
        return n

    tasks = [harness.spawn(echo), harness.spawn(writer), harness.spawn(reader),
             harness.spawn(poker)]
    got = tasks[2].join(60)
    assert got == (bytes(range(256)) * (total // 256))[:total]
    tasks[1].join(60)
    stop.set()
    assert tasks[3].join() > 0
    cli.close()
    tasks[0].join()


def test_close_from_another_thread_while_reading(tls_pair: Pair, harness: Harness,
                                                 server_ctx: mpssl.SSLContext,
                                                 client_ctx: mpssl.SSLContext) -> None:
    """close() while another thread is blocked in read(): the reader ends (at the latest at
    its 2 s time-out) with an OSError or b"", never hangs or crashes, and never touches the
    descriptor again (which may already belong to a new socket)."""
    cli, _srv = tls_pair(server_ctx, client_ctx, client_timeout=2)
    started = threading.Event()

    def reader() -> Any:
        started.set()
        try:
            return cli.read(10)
        except OSError as e:
            return e

    t = harness.spawn(reader)
    assert started.wait(JOIN_TIMEOUT)
    time.sleep(0.2)  # the test is about a read that is already blocked
    cli.close()
    # Reuse the descriptor number at once: the reader must not read from the new socket.
    x, y = socket.socketpair()
    try:
        y.sendall(b"NOT-TLS-DATA")
        res = t.join(5)
        assert res == b"" or isinstance(res, OSError), res
        assert not isinstance(res, bytes) or res == b""
        assert x.recv(100) == b"NOT-TLS-DATA"  # nothing was stolen from the new socket
    finally:
        x.close()
        y.close()


# --------------------------------------------------------------------------------------------
# File descriptors survive all of the above


def test_no_descriptor_leak_on_failures(harness: Harness, server_ctx: mpssl.SSLContext,
                                        client_ctx: mpssl.SSLContext, files: Files) -> None:
    """Failed handshakes (EOF, garbage, reset) followed by close(): no descriptor left open."""
    before = len(os.listdir("/proc/self/fd"))
    for i in range(100):
        a, b = socket.socketpair()
        a.settimeout(5)
        tls = client_ctx.wrap_socket(a, server_hostname="localhost",
                                     do_handshake_on_connect=False)
        if i % 3 == 0:
            b.close()
        elif i % 3 == 1:
            b.sendall(b"garbage" * 10)
        else:
            b.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
        with pytest.raises(OSError):
            tls.do_handshake()
        tls.close()
        assert a.fileno() == -1
        b.close()
    assert len(os.listdir("/proc/self/fd")) <= before
