"""Shared pieces of the load and soak scripts: PKI, a ``selectors`` echo server built on
non-blocking mpssl sockets, a non-blocking client driver, and process measurements.

Only mpssl and the standard library are needed (the PKI is the committed ``testdata/ecdsa-p256/``).
"""

from __future__ import annotations

import os
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mpssl

CHUNK = 64 * 1024
NODELAY = False  # set TCP_NODELAY on every socket (--nodelay: to compare)


def tune(sock: socket.socket) -> None:
    if NODELAY:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
MAX_BUFFER = 1 << 20  # per connection: stop reading while this much echo is unsent


def raise_nofile(want: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``want`` (bounded by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class Pki:
    ca_der: bytes
    leaf_der: bytes
    key_der: bytes

    @classmethod
    def make(cls) -> Pki:
        d = Path(__file__).resolve().parents[2] / "testdata" / "ecdsa-p256"
        return cls(*((d / n).read_bytes() for n in ("ca.der", "server.der", "server.key.der")))

    def server_ctx(self) -> mpssl.SSLContext:
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.leaf_der, self.key_der)
        return ctx

    def client_ctx(self) -> mpssl.SSLContext:
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=self.ca_der)
        return ctx


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100.0 * (len(s) - 1))))
    return s[k]


# --------------------------------------------------------------------------------------------
# The echo server


@dataclass
class _ServerConn:
    tls: Any
    raw: socket.socket
    handshaken: bool = False
    out: bytearray = field(default_factory=bytearray)
    eof: bool = False


@dataclass
class ServerStats:
    accepted: int = 0
    completed: int = 0
    errors: int = 0
    bytes_echoed: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)


class EchoServer:
    """A single-threaded ``selectors`` TLS echo server (non-blocking mpssl sockets).

    Each connection: deferred handshake driven by ``do_handshake()``, then everything read
    is written back; ``pending()`` is drained before waiting on the descriptor again. At EOF
    the echo is flushed and the connection closed (close_notify).
    """

    def __init__(self, ctx: mpssl.SSLContext, host: str = "127.0.0.1", backlog: int = 4096
                 ) -> None:
        self.ctx = ctx
        self.listener = socket.create_server((host, 0), backlog=backlog)
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.stats = ServerStats()
        self.stopping = threading.Event()
        self.conns: dict[int, _ServerConn] = {}
        # A self-pipe wakes the loop for stop().
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")

    def stop(self) -> None:
        self.stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def close(self) -> None:
        for c in list(self.conns.values()):
            self._drop(c)
        self.sel.close()
        self.listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def serve_forever(self, drain: float = 10.0) -> None:
        """Serve until ``stop()``; then keep serving the open connections until they close
        (clients that already have their echo are still sending close_notify), for at most
        ``drain`` seconds. Without this, a stop right after the last client finished raced
        the server's processing of those closes (``completed`` < ``accepted``)."""
        drain_until: float | None = None
        while True:
            if self.stopping.is_set():
                if drain_until is None:
                    drain_until = time.monotonic() + drain
                if not self.conns or time.monotonic() >= drain_until:
                    return
            for key, _ in self.sel.select(0.1 if self.stopping.is_set() else 1.0):
                if key.data is None:
                    self._accept()
                elif key.data == "wake":
                    try:
                        self._wake_r.recv(64)
                    except OSError:
                        pass
                else:
                    self._service(key.data)

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. EMFILE: count it, keep serving
                self._count(e)
                return
            raw.setblocking(False)
            tune(raw)
            tls = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            c = _ServerConn(tls, raw)
            self.conns[raw.fileno()] = c
            self.stats.accepted += 1
            self.sel.register(raw, selectors.EVENT_READ, c)

    def _count(self, e: BaseException) -> None:
        kind = f"{type(e).__name__}{getattr(e, 'args', '')}"[:80]
        self.stats.error_kinds[kind] = self.stats.error_kinds.get(kind, 0) + 1

    def _drop(self, c: _ServerConn) -> None:
        fd = c.raw.fileno()
        if fd != -1:
            try:
                self.sel.unregister(c.raw)
            except (KeyError, ValueError):
                pass
            self.conns.pop(fd, None)
        c.tls.close()

    def _service(self, c: _ServerConn) -> None:
        try:
            self._step(c)
        except OSError as e:
            self.stats.errors += 1
            self._count(e)
            self._drop(c)

    def _step(self, c: _ServerConn) -> None:
        if not c.handshaken:
            if c.tls.do_handshake() is None:
                self._want(c, c.tls.wants() or selectors.EVENT_READ)
                return
            c.handshaken = True
        while True:
            # Read while there is room (this also drains plaintext already decrypted).
            while not c.eof and len(c.out) < MAX_BUFFER:
                data = c.tls.recv(CHUNK)
                if data is None:
                    break
                if not data:
                    c.eof = True
                    break
                c.out += data
            while c.out:
                n = c.tls.write(memoryview(c.out)[:CHUNK * 4])
                if not n:
                    break
                self.stats.bytes_echoed += n
                del c.out[:n]
            if c.eof and not c.out:
                self.stats.completed += 1
                self._drop(c)
                return
            # Decrypted bytes do not make the descriptor readable: take them now.
            if not c.eof and len(c.out) < MAX_BUFFER and c.tls.pending():
                continue
            break
        events = 0
        if not c.eof and len(c.out) < MAX_BUFFER:
            events |= selectors.EVENT_READ
        if c.out:
            events |= selectors.EVENT_WRITE
        self._want(c, events or selectors.EVENT_READ)

    def _want(self, c: _ServerConn, events: int) -> None:
        self.sel.modify(c.raw, events, c)


def start_server_thread(ctx: mpssl.SSLContext) -> tuple[EchoServer, threading.Thread]:
    server = EchoServer(ctx)
    t = threading.Thread(target=server.serve_forever, name="echo-server", daemon=True)
    t.start()
    return server, t


# --------------------------------------------------------------------------------------------
# Non-blocking clients


@dataclass
class ClientConn:
    index: int
    payload: bytes
    tls: Any = None
    raw: socket.socket | None = None
    started: float = 0.0
    handshaken: bool = False
    sent: int = 0
    received: bytearray = field(default_factory=bytearray)
    done: bool = False
    error: str | None = None
    latency: float = 0.0
    handshake_time: float = 0.0


def run_clients(ctx: mpssl.SSLContext, address: tuple[Any, ...], payloads: list[bytes],
                deadline: float, on_done: Callable[[ClientConn], None] | None = None
                ) -> list[ClientConn]:
    """Open one connection per payload at once, send it, read the echo back; single thread,
    ``selectors`` driven. Returns the connections (``done``/``error``/``latency``)."""
    sel = selectors.DefaultSelector()
    conns = [ClientConn(i, p) for i, p in enumerate(payloads)]
    active = 0
    for c in conns:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setblocking(False)
        tune(raw)
        c.started = time.monotonic()
        err = raw.connect_ex(address)
        if err not in (0, 115):  # EINPROGRESS
            c.error = f"connect: {os.strerror(err)}"
            raw.close()
            continue
        c.raw = raw
        c.tls = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
        sel.register(raw, selectors.EVENT_WRITE, c)
        active += 1
    try:
        while active and time.monotonic() < deadline:
            for key, _ in sel.select(1.0):
                c = key.data
                try:
                    finished = _client_step(c, sel)
                except OSError as e:
                    c.error = f"{type(e).__name__}{e.args}"
                    finished = True
                if finished:
                    active -= 1
                    assert c.raw is not None
                    sel.unregister(c.raw)
                    c.tls.close()
                    if on_done is not None:
                        on_done(c)
    finally:
        for c in conns:
            if not c.done and c.error is None:
                c.error = "deadline"
                if c.raw is not None and c.raw.fileno() != -1:
                    sel.unregister(c.raw)
                    c.tls.close()
        sel.close()
    return conns


def _client_step(c: ClientConn, sel: selectors.BaseSelector) -> bool:
    assert c.raw is not None
    if not c.handshaken:
        if c.tls.do_handshake() is None:
            sel.modify(c.raw, c.tls.wants() or selectors.EVENT_READ, c)
            return False
        c.handshaken = True
        c.handshake_time = time.monotonic() - c.started
    view = memoryview(c.payload)
    while c.sent < len(c.payload):
        n = c.tls.write(view[c.sent:c.sent + CHUNK * 4])
        if not n:
            break
        c.sent += n
    while True:
        data = c.tls.recv(CHUNK)
        if data is None:
            break
        if not data:
            c.error = f"EOF after {len(c.received)} of {len(c.payload)} bytes"
            return True
        c.received += data
        if len(c.received) > len(c.payload):
            c.error = "more bytes echoed than sent"
            return True
    if len(c.received) == len(c.payload):
        c.latency = time.monotonic() - c.started
        c.done = True
        if bytes(c.received) != c.payload:
            c.error = "corrupted echo"
        return True
    events = selectors.EVENT_READ
    if c.sent < len(c.payload):
        events |= selectors.EVENT_WRITE
    sel.modify(c.raw, events, c)
    return False
