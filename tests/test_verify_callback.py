"""``verify_callback`` (reference.md §2.7): ``f(cert: memoryview, depth: int) -> int``, called
for each certificate of the verified chain from the top down to the leaf (depth 0), under
CERT_OPTIONAL and CERT_REQUIRED only, on clients and servers; non-zero or an exception aborts
the handshake (even under CERT_OPTIONAL) and the peer sees a fatal alert."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import sys
from typing import Any

import mpssl
import pki
import pytest
import verify_cases as vc
from support import JOIN_TIMEOUT, Harness, Task, handshake_pair

FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")


class Recorder:
    def __init__(self, result: Any = 0, raise_at: int | None = None,
                 exc: BaseException | None = None) -> None:
        self.calls: list[tuple[bytes, int]] = []
        self.types: list[tuple[type, str]] = []
        self.result = result
        self.raise_at = raise_at
        self.exc = exc

    def __call__(self, cert: Any, depth: int) -> Any:
        self.types.append((type(cert), cert.format))
        self.calls.append((bytes(cert), depth))
        if self.exc is not None and (self.raise_at is None or depth == self.raise_at):
            raise self.exc
        if callable(self.result):
            return self.result(depth)
        return self.result

    @property
    def depths(self) -> list[int]:
        return [d for _, d in self.calls]


def server_ctx(cert: pki.Cert, chain: list[pki.Cert] | None = None) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    pem = cert.pem + b"".join(c.pem for c in (chain if chain is not None else []))
    ctx.load_cert_chain(pem, cert.key_bytes())
    return ctx


def client_ctx(mode: int, *trust: pki.Cert, cb: Any = None) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = mode
    for t in trust:
        ctx.load_verify_locations(cadata=t.der)
    if cb is not None:
        ctx.verify_callback = cb
    return ctx


def handshake(harness: Harness, sctx: Any, cctx: Any,
              hostname: str | None = "localhost") -> tuple[Any, Any]:
    """Both handshakes plus a one-byte round trip; each side's socket or exception."""
    return handshake_pair(harness, sctx, cctx, hostname, ping=b"?", pong=b"!",
                          timeout=JOIN_TIMEOUT)


@pytest.fixture(scope="module")
def chain() -> tuple[pki.Cert, pki.Cert, pki.Cert]:
    """(root, intermediate, leaf) for localhost."""
    root, (inter,), leaf = pki.make_chain(1)
    return root, inter, leaf


# --------------------------------------------------------------------------------------------
# When and how it is called


@pytest.mark.parametrize("mode", [mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED])
def test_called_top_down_with_depth(harness: Harness, chain: Any, mode: int) -> None:
    root, inter, leaf = chain
    rec = Recorder()
    client, server = handshake(harness, server_ctx(leaf, [inter]),
                               client_ctx(mode, root, cb=rec))
    assert not isinstance(client, BaseException), repr(client)
    assert not isinstance(server, BaseException), repr(server)
    assert rec.calls == [(root.der, 2), (inter.der, 1), (leaf.der, 0)]
    assert all(t == (memoryview, "B") for t in rec.types)


def test_server_side_callback(harness: Harness, chain: Any) -> None:
    root, inter, leaf = chain
    client_cert = pki.make_cert("client", issuer=inter, dns=("client.test",))
    rec = Recorder()
    sctx = server_ctx(leaf, [inter])
    sctx.verify_mode = mpssl.CERT_REQUIRED
    sctx.load_verify_locations(cadata=root.der)
    sctx.verify_callback = rec
    cctx = client_ctx(mpssl.CERT_REQUIRED, root)
    cctx.load_cert_chain(client_cert.pem + inter.pem, client_cert.key_bytes())
    client, server = handshake(harness, sctx, cctx)
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert rec.calls == [(root.der, 2), (inter.der, 1), (client_cert.der, 0)]


def test_self_signed_trusted_single_call(harness: Harness) -> None:
    ref = pki.reference_style("micropython.local")
    rec = Recorder()
    client, _ = handshake(harness, server_ctx(ref), client_ctx(mpssl.CERT_REQUIRED, ref, cb=rec),
                          "micropython.local")
    assert not isinstance(client, BaseException), repr(client)
    assert rec.calls == [(ref.der, 0)]


def test_not_called_under_cert_none(harness: Harness, chain: Any) -> None:
    root, inter, leaf = chain
    rec = Recorder(result=1)  # would abort if it were called
    client, _ = handshake(harness, server_ctx(leaf, [inter]),
                          client_ctx(mpssl.CERT_NONE, root, cb=rec))
    assert not isinstance(client, BaseException), repr(client)
    assert rec.calls == []


def test_optional_without_ca_sees_presented_chain(harness: Harness, chain: Any) -> None:
    """The reference's net_hosted/ssl_verify_callback.py on loopback: CERT_OPTIONAL, no CA,
    no host name: depth 1 (intermediate) then depth 0 (leaf)."""
    _, inter, leaf = chain
    rec = Recorder()
    client, _ = handshake(harness, server_ctx(leaf, [inter]),
                          client_ctx(mpssl.CERT_OPTIONAL, cb=rec), None)
    assert not isinstance(client, BaseException), repr(client)
    assert rec.calls == [(inter.der, 1), (leaf.der, 0)]


def test_depth_follows_chain_not_wire_order(harness: Harness) -> None:
    """Out-of-order chain: the reference numbers certificates by their place in the verified
    chain (root 3, top intermediate 2, lower intermediate 1, leaf 0), whatever the order on the
    wire."""
    root, (i1, i2), leaf = pki.make_chain(2)
    rec = Recorder()
    client, _ = handshake(harness, server_ctx(leaf, [i1, i2]),
                          client_ctx(mpssl.CERT_REQUIRED, root, cb=rec))
    assert not isinstance(client, BaseException), repr(client)
    names = {root.der: "root", i1.der: "i1", i2.der: "i2", leaf.der: "leaf"}
    seen = [(names.get(der, "?"), depth) for der, depth in rec.calls]
    assert seen == [("root", 3), ("i1", 2), ("i2", 1), ("leaf", 0)]


# --------------------------------------------------------------------------------------------
# Return values


def test_zero_cannot_override_a_failure(harness: Harness, chain: Any) -> None:
    _, inter, leaf = chain
    rec = Recorder(result=0)
    client, server = handshake(harness, server_ctx(leaf, [inter]),
                               client_ctx(mpssl.CERT_REQUIRED, vc.other_root(), cb=rec))
    assert type(client) is ValueError and str(client) == vc.NOT_TRUSTED, repr(client)
    assert rec.depths == [1, 0]
    assert isinstance(server, OSError) and server.args == FATAL_ALERT, repr(server)


@pytest.mark.parametrize("mode", [mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED])
@pytest.mark.parametrize("result,args", [
    (1, (1, "MBEDTLS_ERR_ERROR_GENERIC_ERROR")),
    (2, (2, "MBEDTLS_ERR_MPI_FILE_IO_ERROR")),
])
def test_nonzero_rejects(harness: Harness, chain: Any, mode: int, result: int,
                         args: tuple[int, str]) -> None:
    root, inter, leaf = chain
    rec = Recorder(result=result)
    client, server = handshake(harness, server_ctx(leaf, [inter]),
                               client_ctx(mode, root, cb=rec))
    assert isinstance(client, OSError), repr(client)
    assert client.args == args
    assert isinstance(server, OSError) and server.args == FATAL_ALERT, repr(server)
    assert rec.depths == [2]  # the first non-zero result stops the walk


def test_minus_one_is_errno_1(harness: Harness, chain: Any) -> None:
    root, inter, leaf = chain
    client, _ = handshake(harness, server_ctx(leaf, [inter]),
                          client_ctx(mpssl.CERT_REQUIRED, root, cb=Recorder(result=-1)))
    assert isinstance(client, OSError), repr(client)
    assert client.errno == 1  # the reference: OSError(1,)


def test_reject_at_one_depth(harness: Harness, chain: Any) -> None:
    """Accept the root and the intermediate, reject the leaf: the handshake fails and the
    callback saw every certificate down to the leaf."""
    root, inter, leaf = chain
    rec = Recorder(result=lambda depth: 1 if depth == 0 else 0)
    client, _ = handshake(harness, server_ctx(leaf, [inter]),
                          client_ctx(mpssl.CERT_OPTIONAL, root, cb=rec))
    assert isinstance(client, OSError) and client.args[0] == 1, repr(client)
    assert rec.depths == [2, 1, 0]


def test_non_int_result_is_type_error(harness: Harness, chain: Any) -> None:
    root, inter, leaf = chain
    client, server = handshake(harness, server_ctx(leaf, [inter]),
                               client_ctx(mpssl.CERT_REQUIRED, root, cb=Recorder(result=None)))
    assert type(client) is TypeError, repr(client)
    assert str(client) == "can't convert NoneType to int"
    assert isinstance(server, OSError), repr(server)


# --------------------------------------------------------------------------------------------
# Exceptions


class Boom(Exception):
    pass


@pytest.mark.parametrize("mode", [mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED])
def test_exception_propagates_unchanged(harness: Harness, chain: Any, mode: int) -> None:
    root, inter, leaf = chain
    exc = Boom("no thanks", 42)
    rec = Recorder(exc=exc, raise_at=1)
    client, server = handshake(harness, server_ctx(leaf, [inter]),
                               client_ctx(mode, root, cb=rec))
    assert client is exc
    assert client.args == ("no thanks", 42)
    assert rec.depths == [2, 1]
    assert isinstance(server, OSError) and server.args == FATAL_ALERT, repr(server)


def test_exception_on_server_side(harness: Harness, chain: Any) -> None:
    root, inter, leaf = chain
    client_cert = pki.make_cert("client", issuer=root, dns=("client.test",))
    exc = KeyError("server-side callback")
    sctx = server_ctx(leaf, [inter])
    sctx.verify_mode = mpssl.CERT_OPTIONAL
    sctx.load_verify_locations(cadata=root.der)
    sctx.verify_callback = Recorder(exc=exc)
    cctx = client_ctx(mpssl.CERT_REQUIRED, root)
    cctx.load_cert_chain(client_cert.pem, client_cert.key_bytes())
    client, server = handshake(harness, sctx, cctx)
    assert server is exc
    assert isinstance(client, OSError) and client.args == FATAL_ALERT, repr(client)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_exception_leaks_nothing(chain: Any) -> None:
    """Many handshakes aborted by a raising callback: no descriptor, thread or reference is
    left behind (the callback, the context and the raised exceptions are all released)."""
    import weakref

    root, inter, leaf = chain
    sctx = server_ctx(leaf, [inter])

    def cb(cert: Any, depth: int) -> int:
        raise Boom(depth)

    cctx = client_ctx(mpssl.CERT_REQUIRED, root, cb=cb)

    def one() -> weakref.ref[BaseException]:
        a, b = socket.socketpair()
        a.settimeout(JOIN_TIMEOUT)
        b.settimeout(JOIN_TIMEOUT)
        task = Task(lambda: sctx.wrap_socket(b, server_side=True))
        try:
            with pytest.raises(Boom) as ei:
                cctx.wrap_socket(a, server_hostname="localhost")
            a.shutdown(socket.SHUT_WR)
            assert isinstance(task.exception(), OSError)
            return weakref.ref(ei.value)
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    one()  # warm up (imports, caches)
    gc.collect()
    fds, refs = _fds(), sys.getrefcount(cb)
    dead = [one() for _ in range(30)]
    gc.collect()
    assert _fds() == fds
    assert sys.getrefcount(cb) == refs
    assert all(r() is None for r in dead), "the raised exceptions are still referenced"
