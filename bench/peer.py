"""One end of one benchmark workload, for mpssl or CPython's ``ssl``.

Run by ``bench/run.py``; each role is its own process::

    python bench/peer.py server --impl mpssl  --workload hs13 --certdir D
    python bench/peer.py client --impl stdlib --workload hs13 --certdir D --port P

The server prints ``{"port": P}`` on its first stdout line once it listens; the client prints
one JSON object (its figures) as its last stdout line. The ``idle`` server also prints a JSON
line with its memory figures. Everything is on 127.0.0.1; every loop is bounded by a count or a
deadline.

Workloads (both implementations run the same code path; only the TLS calls differ):

``hs13``, ``hs12``
    Full handshakes, one connection at a time: connect, handshake (the client verifies chain
    and host name), the server writes one byte, the client reads it, both close. The client
    never offers a session (mpssl: ``session_resumption = False`` on the client context;
    stdlib: no ``session=``).
``resume13``, ``resume12``
    The same, with TLS 1.3 resumption: mpssl resumes per context by itself; the stdlib client
    passes the previous connection's ``session`` (read after the one-byte read, so the
    session ticket has arrived).
``bulk``
    One connection; the client writes ``--bytes`` in ``--chunk``-byte writes, the server reads
    into a 64 KiB buffer and acknowledges with one byte; timed on the client from the first
    write to the acknowledgement (after a warm-up phase).
``readline``
    The server writes 100-byte lines (in 65,500-byte writes); the client reads ``--lines`` of
    them with ``readline()`` (stdlib: ``makefile("rb").readline()``, CPython's buffered
    reader, as its SSLSocket has no readline).
``idle``
    The client opens ``--conns`` connections, completes each handshake and keeps them all open;
    the server holds them and reports its RSS growth per connection (VmRSS from
    /proc/self/status, after ``gc.collect()``).
``concurrent``
    One non-blocking ``selectors`` server (mpssl: ``do_handshake_on_connect=False``,
    ``do_handshake()``/``write()`` returning None and ``wants()``; stdlib:
    ``SSLWantReadError``/``SSLWantWriteError``); ``--threads`` client threads each run
    ``--per-thread`` full TLS 1.3 handshakes; the client reports latency percentiles.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
TLS12_MPSSL = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"
TLS12_OPENSSL = "ECDHE-ECDSA-AES128-GCM-SHA256"
LINE = b"x" * 99 + b"\n"
LINES_PER_WRITE = 655  # 65,500 bytes per server write
READ_BUF = 64 * 1024
IO_TIMEOUT = 30.0  # no blocking call in the benchmark may wait longer than this


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def nodelay(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# --------------------------------------------------------------------------------------------
# The two implementations behind one small interface
# --------------------------------------------------------------------------------------------


def read_socket_exact(sock: Any, n: int) -> bytes:
    """``n`` bytes from anything with ``recv`` (a socket, CPython's SSLSocket)."""
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise RuntimeError(f"EOF after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


class Impl:
    """What a workload needs from a TLS implementation."""

    name = ""

    def __init__(self, certdir: Path, tls12: bool, suite13: str | None) -> None:
        self.ca = str(certdir / "ca.pem")
        self.cert = str(certdir / "leaf.pem")
        self.key = str(certdir / "key.pem")
        self.tls12 = tls12
        self.suite13 = suite13

    def server_context(self) -> Any:
        raise NotImplementedError

    def client_context(self, resume: bool) -> Any:
        raise NotImplementedError

    def wrap_server(self, ctx: Any, conn: socket.socket, deferred: bool = False) -> Any:
        raise NotImplementedError

    def wrap_client(self, ctx: Any, sock: socket.socket, session: Any = None) -> Any:
        raise NotImplementedError

    def read_exact(self, tls: Any, n: int) -> bytes:
        raise NotImplementedError

    def write_all(self, tls: Any, data: bytes | memoryview) -> None:
        raise NotImplementedError

    def readinto(self, tls: Any, buf: bytearray, n: int) -> int:
        raise NotImplementedError

    def line_reader(self, tls: Any) -> Callable[[], bytes]:
        raise NotImplementedError

    def session(self, tls: Any) -> Any:
        return None

    def info(self, tls: Any) -> dict[str, Any]:
        raise NotImplementedError

    # Non-blocking server steps: True when done, else the selector events to wait for.
    def step_handshake(self, tls: Any) -> bool | int:
        raise NotImplementedError

    def step_write(self, tls: Any, data: bytes) -> bool | int:
        raise NotImplementedError


class MpsslImpl(Impl):
    name = "mpssl"

    def __init__(self, certdir: Path, tls12: bool, suite13: str | None) -> None:
        super().__init__(certdir, tls12, suite13)
        import mpssl

        self.mod = mpssl

    def _suites(self) -> list[str] | None:
        if self.tls12:
            return [TLS12_MPSSL]
        return [self.suite13] if self.suite13 else None

    groups: list[str] | None = None

    def server_context(self) -> Any:
        ctx = self.mod.SSLContext(self.mod.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        suites = self._suites()
        if suites:
            ctx.set_ciphers(suites)
        if self.groups:
            ctx.set_groups(self.groups)
        return ctx

    def client_context(self, resume: bool) -> Any:
        ctx = self.mod.SSLContext(self.mod.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.ca)
        suites = self._suites()
        if suites:
            ctx.set_ciphers(suites)
        if self.groups:
            ctx.set_groups(self.groups)
        if not resume:
            # mpssl resumes per context by itself; a full-handshake workload must opt out.
            ctx.session_resumption = False
        return ctx

    def wrap_server(self, ctx: Any, conn: socket.socket, deferred: bool = False) -> Any:
        return ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=not deferred)

    def wrap_client(self, ctx: Any, sock: socket.socket, session: Any = None) -> Any:
        return ctx.wrap_socket(sock, server_hostname=SERVER_NAME)

    def read_exact(self, tls: Any, n: int) -> bytes:
        data = tls.read(n)  # blocking: n bytes or EOF
        if data is None or len(data) != n:
            raise RuntimeError(f"read({n}) gave {data!r}")
        return bytes(data)

    def write_all(self, tls: Any, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = tls.write(view)
            if not n:
                raise RuntimeError(f"write returned {n!r} on a blocking socket")
            view = view[n:]

    def readinto(self, tls: Any, buf: bytearray, n: int) -> int:
        got = tls.readinto(buf, n)
        return int(got or 0)

    def line_reader(self, tls: Any) -> Callable[[], bytes]:
        return tls.readline  # type: ignore[no-any-return]

    def info(self, tls: Any) -> dict[str, Any]:
        cipher = tls.cipher()
        return {
            "suite": cipher[0] if cipher else None,
            "version": tls.version(),
            "group": tls.key_exchange_group(),
            "reused": bool(tls.session_reused),
        }

    def step_handshake(self, tls: Any) -> bool | int:
        if tls.do_handshake():
            return True
        return int(tls.wants() or selectors.EVENT_READ)

    def step_write(self, tls: Any, data: bytes) -> bool | int:
        if tls.write(data):
            return True
        return int(tls.wants() or selectors.EVENT_WRITE)


class StdlibImpl(Impl):
    name = "stdlib"
    module = "ssl"

    def __init__(self, certdir: Path, tls12: bool, suite13: str | None) -> None:
        super().__init__(certdir, tls12, suite13)
        import importlib

        self.ssl: Any = importlib.import_module(self.module)

    def _restrict(self, ctx: Any) -> None:
        if self.tls12:
            ctx.maximum_version = self.ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(TLS12_OPENSSL)

    def server_context(self) -> Any:
        ctx = self.ssl.SSLContext(self.ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self._restrict(ctx)
        return ctx

    def client_context(self, resume: bool) -> Any:
        ctx = self.ssl.SSLContext(self.ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.ca)
        self._restrict(ctx)
        return ctx

    def wrap_server(self, ctx: Any, conn: socket.socket, deferred: bool = False) -> Any:
        return ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=not deferred)

    def wrap_client(self, ctx: Any, sock: socket.socket, session: Any = None) -> Any:
        return ctx.wrap_socket(sock, server_hostname=SERVER_NAME, session=session)

    def read_exact(self, tls: Any, n: int) -> bytes:
        return read_socket_exact(tls, n)

    def write_all(self, tls: Any, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = tls.write(view)
            view = view[n:]

    def readinto(self, tls: Any, buf: bytearray, n: int) -> int:
        return int(tls.recv_into(buf, n))

    def line_reader(self, tls: Any) -> Callable[[], bytes]:
        return tls.makefile("rb").readline  # type: ignore[no-any-return]

    def session(self, tls: Any) -> Any:
        return tls.session

    def info(self, tls: Any) -> dict[str, Any]:
        cipher = tls.cipher()
        return {
            "suite": cipher[0] if cipher else None,
            "version": tls.version(),
            "group": None,  # CPython 3.11's ssl cannot tell; run.py probes with openssl s_client
            "reused": bool(tls.session_reused),
        }

    def step_handshake(self, tls: Any) -> bool | int:
        try:
            tls.do_handshake()
            return True
        except self.ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except self.ssl.SSLWantWriteError:
            return selectors.EVENT_WRITE

    def step_write(self, tls: Any, data: bytes) -> bool | int:
        try:
            tls.write(data)
            return True
        except self.ssl.SSLWantReadError:
            return selectors.EVENT_READ
        except self.ssl.SSLWantWriteError:
            return selectors.EVENT_WRITE


class RtlsImpl(StdlibImpl):
    """rtls: a rustls-based drop-in for CPython's ``ssl`` module, run through the very same
    code as the stdlib peers. Its TLS 1.3 suite cannot be chosen (``set_ciphers`` takes no
    TLS 1.3 names and it reads no OpenSSL configuration): the report shows what it negotiated.
    It has no session resumption (``wrap_socket`` takes no ``session``) and no way to choose
    key-exchange groups; run.py does not ask it for those workloads."""

    name = "rtls"
    module = "rtls"

    def wrap_client(self, ctx: Any, sock: socket.socket, session: Any = None) -> Any:
        return ctx.wrap_socket(sock, server_hostname=SERVER_NAME)


class PyrtlsConn:
    """A pyrtls socket and the socket it wraps (pyrtls's own has no ``close``: closing the
    wrapped socket ends the connection, without close_notify)."""

    __slots__ = ("raw", "tls")

    def __init__(self, tls: Any, raw: socket.socket) -> None:
        self.tls = tls
        self.raw = raw

    def recv(self, n: int) -> bytes:
        return bytes(self.tls.recv(n))

    def close(self) -> None:
        self.raw.close()


class PyrtlsImpl(Impl):
    """pyrtls: rustls bindings with their own API (``ClientConfig``/``ServerConfig``, sockets
    with ``do_handshake``/``send``/``recv`` only). It cannot choose protocol versions, suites
    or groups, resume on request or report what was negotiated, and its blocking calls hold the
    GIL; run.py does not ask it for the workloads that need those. A reused ``ClientConfig``
    resumes by itself (rustls's session cache), so every full handshake gets a new one."""

    name = "pyrtls"

    def __init__(self, certdir: Path, tls12: bool, suite13: str | None) -> None:
        super().__init__(certdir, tls12, suite13)
        import importlib

        self.mod: Any = importlib.import_module("pyrtls")
        self.ca_pem = Path(self.ca).read_text()

    def server_context(self) -> Any:
        return self.mod.ServerConfig([Path(self.cert).read_text()], Path(self.key).read_text())

    def client_context(self, resume: bool) -> Any:
        return None  # a new ClientConfig per connection (see the class docstring)

    def wrap_server(self, ctx: Any, conn: socket.socket, deferred: bool = False) -> Any:
        conn.settimeout(None)  # pyrtls reads the descriptor itself: it must block
        tls = ctx.wrap_socket(conn)
        tls.do_handshake()
        return PyrtlsConn(tls, conn)

    def wrap_client(self, ctx: Any, sock: socket.socket, session: Any = None) -> Any:
        config = ctx or self.mod.ClientConfig(platform_verifier=False, custom_roots=[self.ca_pem])
        sock.settimeout(None)  # pyrtls reads the descriptor itself: it must block
        tls = config.wrap_socket(sock, SERVER_NAME, do_handshake_on_connect=False)
        tls.do_handshake()
        return PyrtlsConn(tls, sock)

    def read_exact(self, tls: Any, n: int) -> bytes:
        return read_socket_exact(tls, n)

    def write_all(self, tls: Any, data: bytes | memoryview) -> None:
        chunk = data if isinstance(data, bytes) else bytes(data)  # send takes bytes only
        while chunk:
            n = tls.tls.send(chunk)
            chunk = chunk[n:]

    def readinto(self, tls: Any, buf: bytearray, n: int) -> int:
        data = tls.tls.recv(n)  # no recv_into: one copy more than the others
        buf[: len(data)] = data
        return len(data)

    def info(self, tls: Any) -> dict[str, Any]:
        return {"suite": None, "version": None, "group": None, "reused": False}


class PlainImpl(Impl):
    """No TLS at all: the same Python loops over the bare socket (baselines for the handshake
    loop, where it is the cost of connect/accept/one byte/close, and for bulk).

    ``round_trips`` > 1 adds that many minus one one-byte ping-pongs before the server's byte,
    the round trips a TLS handshake adds to the loop (one, for every handshake measured here)."""

    name = "tcp"
    round_trips = 1

    def server_context(self) -> Any:
        return None

    def client_context(self, resume: bool) -> Any:
        return None

    def wrap_server(self, ctx: Any, conn: socket.socket, deferred: bool = False) -> Any:
        for _ in range(self.round_trips - 1):
            if self.read_exact(conn, 1) != b"p":
                raise RuntimeError("bad ping from client")
            conn.sendall(b"q")
        return conn

    def wrap_client(self, ctx: Any, sock: socket.socket, session: Any = None) -> Any:
        for _ in range(self.round_trips - 1):
            sock.sendall(b"p")
            if self.read_exact(sock, 1) != b"q":
                raise RuntimeError("bad pong from server")
        return sock

    def read_exact(self, tls: Any, n: int) -> bytes:
        return read_socket_exact(tls, n)

    def write_all(self, tls: Any, data: bytes | memoryview) -> None:
        tls.sendall(data)

    def readinto(self, tls: Any, buf: bytearray, n: int) -> int:
        return int(tls.recv_into(buf, n))

    def info(self, tls: Any) -> dict[str, Any]:
        return {"suite": None, "version": "plain TCP", "group": None, "reused": False}


def make_impl(args: argparse.Namespace) -> Impl:
    classes: dict[str, type[Impl]] = {
        "mpssl": MpsslImpl,
        "stdlib": StdlibImpl,
        "rtls": RtlsImpl,
        "pyrtls": PyrtlsImpl,
        "tcp": PlainImpl,
    }
    cls = classes[args.impl]
    impl = cls(Path(args.certdir), args.workload in ("hs12", "resume12"), args.suite13)
    if args.groups and isinstance(impl, MpsslImpl):
        impl.groups = args.groups.split(",")
    if isinstance(impl, PlainImpl):
        impl.round_trips = args.round_trips
    return impl


def close_quietly(obj: Any) -> None:
    try:
        obj.close()
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


def listen(backlog: int = 1024) -> socket.socket:
    lst = socket.create_server((HOST, 0), backlog=backlog)
    emit({"port": lst.getsockname()[1], "pid": os.getpid()})
    return lst


def serve_handshakes(impl: Impl, args: argparse.Namespace) -> None:
    """hs13, hs12, resume13: one connection at a time until killed."""
    ctx = impl.server_context()
    lst = listen()
    while True:
        conn = accept(lst)
        tls: Any = conn
        try:
            tls = impl.wrap_server(ctx, conn)
            impl.write_all(tls, b"k")
        except OSError as e:
            print(f"server: connection failed: {e!r}", file=sys.stderr)
        finally:
            close_quietly(tls)


def serve_bulk(impl: Impl, args: argparse.Namespace) -> None:
    ctx = impl.server_context()
    lst = listen()
    conn = accept(lst)
    tls = impl.wrap_server(ctx, conn)
    buf = bytearray(READ_BUF)
    for phase, total in ((b"w", args.warmup_bytes), (b"k", args.bytes)):
        left = total
        while left:
            n = impl.readinto(tls, buf, min(READ_BUF, left))
            if n <= 0:
                raise RuntimeError(f"server: EOF with {left} bytes to go")
            left -= n
        impl.write_all(tls, phase)
    impl.read_exact(tls, 1)  # the client's "done"
    close_quietly(tls)


def serve_readline(impl: Impl, args: argparse.Namespace) -> None:
    ctx = impl.server_context()
    lst = listen()
    conn = accept(lst)
    tls = impl.wrap_server(ctx, conn)
    impl.read_exact(tls, 1)  # "go"
    block = LINE * LINES_PER_WRITE
    left = args.lines + args.warmup_lines
    while left:
        k = min(left, LINES_PER_WRITE)
        impl.write_all(tls, block if k == LINES_PER_WRITE else LINE * k)
        left -= k
    impl.read_exact(tls, 1)  # the client's "done"
    close_quietly(tls)


def serve_idle(impl: Impl, args: argparse.Namespace) -> None:
    raise_nofile(args.conns + args.warmup_conns + 64)
    ctx = impl.server_context()
    lst = listen()
    held: list[Any] = []

    def accept_one() -> Any:
        conn = accept(lst)
        tls = impl.wrap_server(ctx, conn)
        impl.write_all(tls, b"k")
        return tls

    for _ in range(args.warmup_conns):  # warm lazily built state (configs, caches, allocator)
        close_quietly(accept_one())
    gc.collect()
    before = rss_kib()
    for _ in range(args.conns):
        held.append(accept_one())
    gc.collect()
    after = rss_kib()
    emit(
        {
            "rss_before_kib": before,
            "rss_after_kib": after,
            "conns": len(held),
            "per_conn_kib": (after - before) / len(held),
        }
    )
    # Keep every connection open until the harness ends this process.
    time.sleep(IO_TIMEOUT * 4)


class Conn:
    __slots__ = ("events", "fd", "phase", "tls")

    def __init__(self, tls: Any, fd: int) -> None:
        self.tls = tls
        self.fd = fd
        self.phase = "handshake"
        self.events = selectors.EVENT_READ


def serve_concurrent(impl: Impl, args: argparse.Namespace) -> None:
    raise_nofile(4096)
    ctx = impl.server_context()
    lst = listen()
    lst.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lst, selectors.EVENT_READ, None)
    failures = 0

    def finish(c: Conn) -> None:
        sel.unregister(c.fd)
        close_quietly(c.tls)

    def advance(c: Conn) -> None:
        nonlocal failures
        try:
            if c.phase == "handshake":
                r = impl.step_handshake(c.tls)
                if r is not True:
                    want = int(r)
                    if want != c.events:
                        c.events = want
                        sel.modify(c.fd, want, c)
                    return
                c.phase = "write"
            r = impl.step_write(c.tls, b"k")
            if r is not True:
                want = int(r)
                if want != c.events:
                    c.events = want
                    sel.modify(c.fd, want, c)
                return
            finish(c)
        except OSError as e:
            failures += 1
            print(f"server: connection failed: {e!r}", file=sys.stderr)
            finish(c)

    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data is None:
                while True:
                    try:
                        conn, _ = lst.accept()
                    except BlockingIOError:
                        break
                    nodelay(conn)
                    conn.setblocking(False)
                    tls = impl.wrap_server(ctx, conn, deferred=True)
                    c = Conn(tls, tls.fileno())
                    sel.register(c.fd, c.events, c)
                    advance(c)
            else:
                advance(key.data)


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def accept(lst: socket.socket) -> socket.socket:
    """The next connection on ``lst``, set up as every blocking server here uses it."""
    conn, _ = lst.accept()
    nodelay(conn)
    conn.settimeout(IO_TIMEOUT)
    return conn


def connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    nodelay(sock)
    return sock


def client_handshakes(impl: Impl, args: argparse.Namespace) -> dict[str, Any]:
    resume = args.workload in ("resume13", "resume12")
    ctx = impl.client_context(resume=resume)
    session: Any = None
    info: dict[str, Any] = {}

    def one() -> bool:
        nonlocal session, info
        tls = impl.wrap_client(ctx, connect(args.port), session)
        try:
            if impl.read_exact(tls, 1) != b"k":
                raise RuntimeError("bad byte from server")
            reused = bool(getattr(tls, "session_reused", False))
            if resume:
                session = impl.session(tls)
            if not info:
                info = impl.info(tls)
            return reused
        finally:
            close_quietly(tls)

    deadline = time.perf_counter() + args.warmup
    warm = 0
    while warm < 2 or time.perf_counter() < deadline:
        one()
        warm += 1
    info = {}  # describe a measured connection, not a warm-up one
    count = reused = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + args.seconds
    while True:
        reused += one()
        count += 1
        now = time.perf_counter()
        if now >= end and count >= args.min_count:
            break
    elapsed = now - start
    return {
        "value": count / elapsed,
        "count": count,
        "total": warm + count,
        "elapsed": elapsed,
        "client_cpu_us": 1e6 * (time.process_time() - cpu0) / count,
        "reused": reused,
        "info": info,
    }


def client_bulk(impl: Impl, args: argparse.Namespace) -> dict[str, Any]:
    ctx = impl.client_context(resume=False)
    tls = impl.wrap_client(ctx, connect(args.port))
    info = impl.info(tls)
    data = bytes(range(256)) * (args.chunk // 256 + 1)
    piece = memoryview(data)[: args.chunk]

    def send(total: int) -> None:
        left = total
        while left >= args.chunk:
            impl.write_all(tls, piece)
            left -= args.chunk
        if left:
            impl.write_all(tls, piece[:left])

    send(args.warmup_bytes)
    if impl.read_exact(tls, 1) != b"w":
        raise RuntimeError("bad warm-up acknowledgement")
    cpu0 = time.process_time()
    start = time.perf_counter()
    send(args.bytes)
    if impl.read_exact(tls, 1) != b"k":
        raise RuntimeError("bad acknowledgement")
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    impl.write_all(tls, b"d")
    close_quietly(tls)
    return {
        "value": args.bytes / elapsed / (1 << 20),
        "bytes": args.bytes,
        "total_bytes": args.warmup_bytes + args.bytes,
        "elapsed": elapsed,
        "client_cpu_us_per_mib": 1e6 * cpu / (args.bytes / (1 << 20)),
        "info": info,
    }


def client_readline(impl: Impl, args: argparse.Namespace) -> dict[str, Any]:
    ctx = impl.client_context(resume=False)
    tls = impl.wrap_client(ctx, connect(args.port))
    info = impl.info(tls)
    readline = impl.line_reader(tls)
    impl.write_all(tls, b"g")
    for _ in range(args.warmup_lines):
        readline()
    bad = 0
    start = time.perf_counter()
    for _ in range(args.lines):
        line = readline()
        if len(line) != 100:
            bad += 1
    elapsed = time.perf_counter() - start
    if bad:
        raise RuntimeError(f"{bad} lines were not 100 bytes long")
    impl.write_all(tls, b"d")
    close_quietly(tls)
    return {
        "value": args.lines / elapsed,
        "mib_s": args.lines * 100 / elapsed / (1 << 20),
        "lines": args.lines,
        "elapsed": elapsed,
        "info": info,
    }


def client_idle(impl: Impl, args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile(args.conns + args.warmup_conns + 64)
    ctx = impl.client_context(resume=False)
    info: dict[str, Any] = {}
    for _ in range(args.warmup_conns):
        tls = impl.wrap_client(ctx, connect(args.port))
        impl.read_exact(tls, 1)
        info = impl.info(tls)
        close_quietly(tls)
    gc.collect()
    before = rss_kib()
    held = []
    for _ in range(args.conns):
        tls = impl.wrap_client(ctx, connect(args.port))
        impl.read_exact(tls, 1)
        held.append(tls)
    gc.collect()
    after = rss_kib()
    emit(
        {
            "client_rss_before_kib": before,
            "client_rss_after_kib": after,
            "client_per_conn_kib": (after - before) / len(held),
            "info": info,
        }
    )
    # Hold the connections until the harness has the server's figure and ends this process.
    time.sleep(IO_TIMEOUT * 4)
    return {}


def client_concurrent(impl: Impl, args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile(4096)
    ctx = impl.client_context(resume=False)
    started: list[float] = []
    barrier = threading.Barrier(args.threads, action=lambda: started.append(time.perf_counter()))
    latencies: list[list[float]] = [[] for _ in range(args.threads)]
    errors: list[str] = []
    info: dict[str, Any] = {}

    def one() -> float:
        nonlocal info
        t0 = time.perf_counter()
        tls = impl.wrap_client(ctx, connect(args.port))
        try:
            if impl.read_exact(tls, 1) != b"k":
                raise RuntimeError("bad byte from server")
            dt = time.perf_counter() - t0
            if not info:
                info = impl.info(tls)
            return dt
        finally:
            close_quietly(tls)

    def worker(i: int) -> None:
        try:
            one()  # warm-up, not recorded
            barrier.wait(timeout=IO_TIMEOUT)
            for _ in range(args.per_thread):
                latencies[i].append(one())
        except Exception as e:  # noqa: BLE001 - reported to the harness
            errors.append(repr(e))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=IO_TIMEOUT * 4)
    elapsed = time.perf_counter() - (started[0] if started else 0.0)
    if errors:
        raise RuntimeError(f"{len(errors)} client threads failed, first: {errors[0]}")
    flat = sorted(x for per in latencies for x in per)
    if not flat:
        raise RuntimeError("no handshake completed")

    def pct(p: float) -> float:
        k = min(len(flat) - 1, max(0, round(p / 100 * (len(flat) - 1))))
        return flat[k] * 1000

    return {
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "count": len(flat),
        "rate": len(flat) / elapsed,
        "info": info,
    }


SERVERS = {
    "hs13": serve_handshakes,
    "hs12": serve_handshakes,
    "resume13": serve_handshakes,
    "resume12": serve_handshakes,
    "bulk": serve_bulk,
    "readline": serve_readline,
    "idle": serve_idle,
    "concurrent": serve_concurrent,
}
CLIENTS = {
    "hs13": client_handshakes,
    "hs12": client_handshakes,
    "resume13": client_handshakes,
    "resume12": client_handshakes,
    "bulk": client_bulk,
    "readline": client_readline,
    "idle": client_idle,
    "concurrent": client_concurrent,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--impl", choices=["mpssl", "stdlib", "rtls", "pyrtls", "tcp"], required=True)
    p.add_argument("--workload", choices=sorted(SERVERS), required=True)
    p.add_argument("--certdir", required=True, help="directory with ca.pem, leaf.pem, key.pem")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    p.add_argument("--suite13", default=None, help="mpssl TLS 1.3 suite (matches the stdlib's)")
    p.add_argument("--groups", default=None,
                   help="mpssl key-exchange groups, comma-separated (default: mpssl's own order)")
    p.add_argument("--seconds", type=float, default=2.0, help="handshake loops: measured time")
    p.add_argument("--warmup", type=float, default=0.3, help="handshake loops: warm-up time")
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--round-trips", type=int, default=1, help="tcp handshake loops: ping-pongs")
    p.add_argument("--bytes", type=int, default=256 << 20)
    p.add_argument("--warmup-bytes", type=int, default=16 << 20)
    p.add_argument("--chunk", type=int, default=16384)
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--warmup-lines", type=int, default=20_000)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--warmup-conns", type=int, default=20)
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--per-thread", type=int, default=20)
    args = p.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    impl = make_impl(args)
    if args.role == "server":
        SERVERS[args.workload](impl, args)
        return 0
    result = CLIENTS[args.workload](impl, args)
    if result:
        emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
