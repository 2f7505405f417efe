"""Shared fixtures for the loopback test suite (helpers live in ``support.py``).

* PKI (session scope, the committed ``testdata/ecdsa-p256/`` loaded by ``pki.load``): a CA, a
  server leaf with SAN ``localhost``/``127.0.0.1``/``::1``, a client leaf, another (untrusted)
  CA, and the same material written to files.
* ``harness``: owns every raw socket, SSLSocket and helper thread a test makes. Teardown shuts
  the raw sockets down (which wakes any thread blocked on them), joins every thread with a
  time-out (a thread still alive fails the test), then closes everything.
* ``tls_server``: runs a handler on one accepted TCP connection (127.0.0.1 or ::1, port 0) in a
  thread; ``socket_pair``/``tls_pair``: ``socket.socketpair()`` based pairs.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import mpssl
import pki
from support import (
    JOIN_TIMEOUT,
    Files,
    Harness,
    Server,
    cpython_client_context,
    cpython_server_context,
    mpssl_client_ctx,
    mpssl_server_ctx,
    write_files,
)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.teardown()


@pytest.fixture
def socket_pair(harness: Harness) -> tuple[socket.socket, socket.socket]:
    """Two connected stream sockets (``socket.socketpair()``), closed at teardown."""
    return harness.socketpair()


@pytest.fixture
def tls_server(harness: Harness) -> Callable[..., Server]:
    """``tls_server(handler, host="127.0.0.1")``: accept one connection on port 0 and run
    ``handler(conn)`` in a thread (``conn`` is closed afterwards). ``Server.connect()`` gives a
    connected client socket; ``Server.join()`` the handler's result (or its exception)."""

    def start(handler: Callable[[socket.socket], Any], host: str = "127.0.0.1") -> Server:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = harness.track(socket.socket(family, socket.SOCK_STREAM))
        listener.bind((host, 0))
        listener.listen(1)
        listener.settimeout(JOIN_TIMEOUT)

        def run() -> Any:
            conn, _ = listener.accept()
            harness.track(conn)
            conn.setblocking(True)
            try:
                return handler(conn)
            finally:
                conn.close()

        task = harness.spawn(run)
        return Server(task, listener.getsockname(), family, harness)

    return start


# --------------------------------------------------------------------------------------------
# PKI


@pytest.fixture(scope="session")
def ca() -> pki.Cert:
    """``mpssl test CA`` (ECDSA P-256)."""
    return pki.load("ca")


@pytest.fixture(scope="session")
def other_ca() -> pki.Cert:
    """``mpssl other CA``: unrelated to ``ca``."""
    return pki.load("other-ca")


@pytest.fixture(scope="session")
def server_cert(ca: pki.Cert) -> pki.Cert:
    """``localhost`` leaf (SAN ``localhost``, ``127.0.0.1``, ``::1``) signed by ``ca``."""
    return pki.load("server")


@pytest.fixture(scope="session")
def client_cert(ca: pki.Cert) -> pki.Cert:
    """``mpssl client`` leaf (SAN ``client.local``) signed by ``ca``."""
    return pki.load("client")


@pytest.fixture
def files(tmp_path: Path, ca: pki.Cert, server_cert: pki.Cert, client_cert: pki.Cert) -> Files:
    """The PKI written to ``tmp_path`` (for path-loading tests)."""
    return write_files(tmp_path, ca, server_cert, client_cert)


@pytest.fixture(scope="session")
def session_files(
    tmp_path_factory: pytest.TempPathFactory,
    ca: pki.Cert,
    server_cert: pki.Cert,
    client_cert: pki.Cert,
) -> Files:
    return write_files(tmp_path_factory.mktemp("pki"), ca, server_cert, client_cert)


# --------------------------------------------------------------------------------------------
# Contexts


@pytest.fixture
def server_ctx(server_cert: pki.Cert) -> mpssl.SSLContext:
    """mpssl server context presenting ``server_cert`` (+ CA), CERT_NONE."""
    return mpssl_server_ctx(server_cert)


@pytest.fixture
def client_ctx(ca: pki.Cert) -> mpssl.SSLContext:
    """mpssl client context, CERT_REQUIRED, trusting ``ca``."""
    return mpssl_client_ctx(ca)


@pytest.fixture
def cpython_server_ctx(session_files: Files) -> ssl.SSLContext:
    return cpython_server_context(session_files)


@pytest.fixture
def cpython_client_ctx(session_files: Files) -> ssl.SSLContext:
    return cpython_client_context(session_files)


# --------------------------------------------------------------------------------------------
# Connected TLS pairs


@pytest.fixture
def tls_pair(harness: Harness) -> Callable[..., tuple[Any, Any]]:
    """``tls_pair(server_ctx, client_ctx, server_hostname="localhost", **client_kw)``:
    handshake both ends over a socketpair (server in a thread); returns ``(client, server)``
    SSLSockets, tracked for teardown."""

    def make(
        sctx: Any,
        cctx: Any,
        server_hostname: str | None = "localhost",
        client_timeout: float | None = None,
        **client_kw: Any,
    ) -> tuple[Any, Any]:
        a, b = harness.socketpair()
        a.settimeout(client_timeout)
        task = harness.spawn(sctx.wrap_socket, b, server_side=True)
        try:
            client = harness.track_tls(
                cctx.wrap_socket(a, server_hostname=server_hostname, **client_kw)
            )
        except BaseException:
            a.shutdown(socket.SHUT_RDWR)
            task.exception()
            raise
        server = harness.track_tls(task.join())
        return client, server

    return make
