"""Helpers shared by the loopback tests (threads, sockets, contexts, pipes).

Imported by ``conftest.py`` and the test modules (``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mpssl
import pki

JOIN_TIMEOUT = 10.0


class Task:
    """A function running in a thread; ``join()`` returns its result or re-raises its error.

    ``join_timeout`` bounds the waits that are not given a time-out (``Harness.spawn`` sets
    it to the harness's own)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.join_timeout = JOIN_TIMEOUT
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            self.error = e
        finally:
            self.done.set()

    def wait(self, timeout: float | None = None) -> None:
        timeout = self.join_timeout if timeout is None else timeout
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"helper thread did not finish within {timeout} s"

    def join(self, timeout: float | None = None) -> Any:
        self.wait(timeout)
        if self.error is not None:
            raise self.error
        return self.result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self.wait(timeout)
        return self.error


class Harness:
    """Owns the raw sockets, TLS objects and helper threads of one test; ``teardown`` shuts
    the raw sockets down (waking any thread blocked on them), joins every thread within
    ``join_timeout`` (one still alive fails the test), then closes everything."""

    join_timeout = JOIN_TIMEOUT

    def __init__(self) -> None:
        self.raw: list[socket.socket] = []
        self.tls: list[Any] = []
        self.tasks: list[Task] = []
        self.close_errors: list[BaseException] = []  # from closing TLS objects in teardown

    def track(self, s: socket.socket) -> socket.socket:
        self.raw.append(s)
        return s

    def track_tls(self, s: Any) -> Any:
        self.tls.append(s)
        return s

    def spawn(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Task:
        t = Task(fn, *args, **kwargs)
        t.join_timeout = self.join_timeout
        self.tasks.append(t)
        return t

    def socketpair(self) -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair()
        self.track(a)
        self.track(b)
        return a, b

    def teardown(self) -> None:
        for s in self.raw:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        stuck = []
        for t in self.tasks:
            t.thread.join(self.join_timeout)
            if t.thread.is_alive():
                stuck.append(t)
        for s in self.tls:
            try:
                s.close()
            except Exception as e:  # noqa: BLE001 - best effort in teardown
                self.close_errors.append(e)
        for s in self.raw:
            s.close()
        assert not stuck, f"{len(stuck)} helper thread(s) still running at teardown"


@dataclass
class Server:
    task: Task
    address: tuple[Any, ...]
    family: socket.AddressFamily
    harness: Harness

    def connect(self, timeout: float | None = None) -> socket.socket:
        s = self.harness.track(socket.socket(self.family, socket.SOCK_STREAM))
        s.settimeout(JOIN_TIMEOUT)
        s.connect(self.address)
        s.settimeout(timeout)
        return s

    def join(self, timeout: float | None = None) -> Any:
        return self.task.join(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.task.exception(timeout)


@dataclass
class Files:
    ca_pem: Path
    ca_der: Path
    server_pem: Path  # leaf + CA, PEM
    server_der: Path  # leaf only, DER
    server_key_pem: Path  # PKCS#8 PEM
    server_key_der: Path  # PKCS#8 DER
    client_pem: Path
    client_key_pem: Path


def write_files(d: Path, ca: pki.Cert, server: pki.Cert, client: pki.Cert) -> Files:
    f = Files(
        ca_pem=d / "ca.pem",
        ca_der=d / "ca.der",
        server_pem=d / "server.pem",
        server_der=d / "server.der",
        server_key_pem=d / "server.key",
        server_key_der=d / "server.key.der",
        client_pem=d / "client.pem",
        client_key_pem=d / "client.key",
    )
    f.ca_pem.write_bytes(ca.pem)
    f.ca_der.write_bytes(ca.der)
    f.server_pem.write_bytes(server.chain_pem)
    f.server_der.write_bytes(server.der)
    f.server_key_pem.write_bytes(server.key_bytes("pkcs8", "pem"))
    f.server_key_der.write_bytes(server.key_bytes("pkcs8", "der"))
    f.client_pem.write_bytes(client.chain_pem)
    f.client_key_pem.write_bytes(client.key_bytes("pkcs8", "pem"))
    return f


def mpssl_server_ctx(cert: pki.Cert, verify_mode: int | None = None) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.chain_pem, cert.key_bytes())
    if verify_mode is not None:
        ctx.verify_mode = verify_mode
    return ctx


def mpssl_client_ctx(*cas: pki.Cert) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    for c in cas:
        ctx.load_verify_locations(cadata=c.der)
    return ctx


def cpython_server_context(files: Files) -> ssl.SSLContext:
    """CPython's ``ssl`` server context with the server certificate of ``files``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files.server_pem, files.server_key_pem)
    return ctx


def cpython_client_context(files: Files) -> ssl.SSLContext:
    """CPython's ``ssl`` client context trusting the CA of ``files``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(files.ca_pem))
    return ctx


def _send(s: Any, data: bytes) -> None:
    if isinstance(s, ssl.SSLSocket):
        s.sendall(data)
    else:
        s.write(data)


def _recv(s: Any, n: int) -> bytes:
    data: bytes = s.recv(n) if isinstance(s, ssl.SSLSocket) else s.read(n)
    return data


def handshake_pair(
    harness: Harness,
    sctx: Any,
    cctx: Any,
    server_hostname: str | None = "localhost",
    *,
    ping: bytes = b"",
    pong: bytes = b"",
    server_first: bool = False,
    timeout: float | None = None,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> tuple[Any, Any]:
    """Handshake a pair over ``harness.socketpair()`` and capture each side:
    ``(client, server)``, each the side's SSL socket (tracked for teardown) or the exception it
    raised. The server (``sctx.wrap_socket(server_side=True)``) runs in a harness thread, the
    client (``cctx.wrap_socket(server_hostname=...)``) in the caller; either context may be
    mpssl's or CPython's ``ssl``.

    After the handshake, when ``ping``/``pong`` are given, the client writes ``ping`` and the
    server checks it reads exactly that (one ``read``/``recv`` of its length), then the server
    writes ``pong`` and the client checks it; ``server_first`` turns the order round (the
    server writes ``pong`` first). In TLS 1.3 this is what lets the server see the client's
    certificate checked and the client see the server's alert. A side that fails shuts its raw
    socket down for writing, so that the other reads the end after any alert instead of
    waiting. ``timeout``: set on both raw sockets. ``catch``: the exceptions of the client
    side that are captured as its outcome (others propagate); the server's are all captured.
    """
    a, b = harness.socketpair()
    if timeout is not None:
        a.settimeout(timeout)
        b.settimeout(timeout)

    def server() -> Any:
        try:
            s = harness.track_tls(sctx.wrap_socket(b, server_side=True))
            if pong and server_first:
                _send(s, pong)
            if ping:
                got = _recv(s, len(ping))
                assert got == ping, got
            if pong and not server_first:
                _send(s, pong)
            return s
        except BaseException:
            with contextlib.suppress(OSError):  # CPython's wrap detaches ``b``
                b.shutdown(socket.SHUT_WR)
            raise

    task = harness.spawn(server)
    client: Any
    try:
        client = harness.track_tls(cctx.wrap_socket(a, server_hostname=server_hostname))
        if ping and not server_first:
            _send(client, ping)
        if pong:
            got = _recv(client, len(pong))
        if ping and server_first:
            _send(client, ping)
        if pong:
            assert got == pong, got
    except catch as e:
        client = e
        with contextlib.suppress(OSError):  # CPython's wrap detaches ``a``
            a.shutdown(socket.SHUT_WR)
    task.wait()
    return client, (task.error if task.error is not None else task.result)


def recv_exactly(s: Any, n: int) -> bytes:
    """Read ``n`` bytes from a socket (raw or CPython ssl), fewer only at EOF."""
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def read_all_cpython(s: Any) -> bytes:
    out = bytearray()
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return bytes(out)
        out += chunk


# --------------------------------------------------------------------------------------------
# Transports that are not sockets


class _Channel:
    """One direction of an in-memory pipe."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.eof = False
        self.written = 0  # bytes ever written into the channel
        self.taken = 0  # bytes ever read out of it
        self.waiters = 0  # blocking readers currently waiting for data

    def wait_drained_and_blocked(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """True once everything written so far was read and a reader waits for more."""
        with self.cond:
            mark = self.written
            return self.cond.wait_for(
                lambda: self.taken >= mark and self.waiters > 0, timeout
            )


class PipeEnd:
    """One end of an in-memory byte pipe with the ``readinto``/``write``/``close`` protocol.

    Blocking ends wait (bounded) for data; non-blocking ends return ``None`` from ``readinto``
    when nothing is buffered. ``close()`` signals EOF to the peer; writing after ``close()``
    raises ``BrokenPipeError``.
    """

    def __init__(self, rx: _Channel, tx: _Channel, blocking: bool = True) -> None:
        self.rx = rx
        self.tx = tx
        self.blocking = blocking
        self.closed = False
        self.read_calls = 0
        self.write_calls = 0
        self.blocking_calls: list[bool] = []

    def readinto(self, b: Any) -> int | None:
        self.read_calls += 1
        mv = memoryview(b).cast("B")
        with self.rx.cond:
            if self.blocking:
                deadline = JOIN_TIMEOUT
                while not self.rx.buf and not self.rx.eof:
                    self.rx.waiters += 1
                    self.rx.cond.notify_all()
                    try:
                        if not self.rx.cond.wait(deadline):
                            raise TimeoutError("PipeEnd.readinto waited too long")
                    finally:
                        self.rx.waiters -= 1
            elif not self.rx.buf and not self.rx.eof:
                return None
            n = min(len(mv), len(self.rx.buf))
            mv[:n] = self.rx.buf[:n]
            del self.rx.buf[:n]
            self.rx.taken += n
            return n

    def write(self, b: Any) -> int:
        self.write_calls += 1
        data = bytes(b)
        with self.tx.cond:
            if self.tx.eof:
                raise BrokenPipeError(32, "pipe closed")
            self.tx.buf += data
            self.tx.written += len(data)
            self.tx.cond.notify_all()
        return len(data)

    def setblocking(self, flag: bool) -> str:
        self.blocking_calls.append(flag)
        self.blocking = flag
        return "forwarded"

    def close(self) -> None:
        self.closed = True
        with self.tx.cond:  # the peer reads EOF; like shutdown(SHUT_WR)
            self.tx.eof = True
            self.tx.cond.notify_all()


def pipe_pair(blocking: bool = True) -> tuple[PipeEnd, PipeEnd]:
    ab, ba = _Channel(), _Channel()
    return PipeEnd(ba, ab, blocking), PipeEnd(ab, ba, blocking)


class RecvSendOnly:
    """A socket seen only through ``recv_into``/``send`` (no fileno, no readinto/write)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.recv_into_calls = 0
        self.send_calls = 0

    def recv_into(self, b: Any, nbytes: int = 0) -> int:
        self.recv_into_calls += 1
        return self._sock.recv_into(b, nbytes)

    def send(self, b: Any) -> int:
        self.send_calls += 1
        return self._sock.send(b)

    def close(self) -> None:
        self._sock.close()
