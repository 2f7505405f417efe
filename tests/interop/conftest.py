"""Fixtures for the interop tests: mpssl against CPython's ``ssl``, the ``openssl`` CLI and the
reference MicroPython (``micropython`` on PATH, installed by ``make tools``).

Everything runs over 127.0.0.1 with ephemeral ports. No sleeps: peers are synchronised through
their stdout (``Proc.expect``), thread joins and sockets. Every socket has a time-out, every
subprocess is killed and every helper thread joined in teardown (``iop`` fixture).

``interop_matrix`` (session scope) collects one row per interop case (``case`` fixture) and
writes ``tests/interop/MATRIX.md`` when the session ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from interop_support import (
    _OUTCOMES,
    HERE,
    MP_PEER,
    Case,
    Interop,
    Matrix,
    RefCert,
    RefPeer,
    WebPki,
    listening_port,
    make_ref_certs,
    make_web_pki,
    micropython_binary,
    openssl_binary,
)


@pytest.fixture(scope="session")
def micropython() -> str:
    """Path of the reference ``micropython``; fails (never skips) when it is missing."""
    return micropython_binary()


@pytest.fixture(scope="session")
def openssl() -> str:
    return openssl_binary()


@pytest.fixture
def iop(tmp_path: Path) -> Iterator[Interop]:
    h = Interop(tmp_path)
    yield h
    h.teardown()


@pytest.fixture(scope="session")
def web_pki(tmp_path_factory: pytest.TempPathFactory) -> WebPki:
    """A CA, a server leaf (SAN localhost, 127.0.0.1) and a client leaf, as PEM files."""
    return make_web_pki(tmp_path_factory.mktemp("interop-web-pki"))


@pytest.fixture(scope="session")
def ref_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RefCert]:
    """``ec256`` (SEC1 DER key), ``rsa2048`` (PKCS#8 DER key): CN=micropython.local, no SAN;
    ``client`` (CN=client.local); ``expired`` (CN=micropython.local, expired 30 days ago)."""
    return make_ref_certs(tmp_path_factory.mktemp("interop-ref-pki"))


@pytest.fixture
def ref_peer(iop: Interop, micropython: str) -> Callable[..., RefPeer]:
    """``ref_peer(role, mode="bytes"|"path", cert=RefCert|None, ca=RefCert|None, verify=0..2,
    hostname=None, port=None, message="hello\\n", deferred=False)`` starts the reference
    and, for a server, waits for "ready" and finds its port. ``deferred`` wraps with
    ``do_handshake_on_connect=False`` (the handshake then runs in the first read); ``bulk=n``
    sends n bytes of ``pattern(n)`` each way instead of a line."""
    script = iop.write("mp_peer.py", MP_PEER)
    counter = [0]

    def start(
        role: str,
        *,
        mode: str = "bytes",
        cert: RefCert | None = None,
        ca: RefCert | None = None,
        verify: int = 0,
        hostname: str | None = None,
        port: int | None = None,
        message: str = "hello\n",
        deferred: bool = False,
        bulk: int = 0,
    ) -> RefPeer:
        counter[0] += 1
        cfg = {
            "role": role,
            "mode": mode,
            "cert": str(cert.cert_path) if cert else None,
            "key": str(cert.key_path) if cert else None,
            "ca": str(ca.cert_path) if ca else None,
            "verify": verify,
            "hostname": hostname,
            "port": port,
            "message": message,
            "deferred": deferred,
            "bulk": bulk,
        }
        cfg_path = iop.write(f"mp_peer_{counter[0]}.json", json.dumps(cfg))
        proc = iop.start(
            [micropython, str(script), str(cfg_path)], cwd=iop.tmp, name=f"micropython-{role}"
        )
        peer = RefPeer(proc)
        if role == "server":
            proc.expect(r"^ready$")
            peer.port = listening_port(proc.pid)
        return peer

    return start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    prev = _OUTCOMES.get(item.nodeid)
    if rep.failed:
        _OUTCOMES[item.nodeid] = "FAIL" if rep.when == "call" else f"ERROR ({rep.when})"
    elif rep.skipped and prev is None:
        _OUTCOMES[item.nodeid] = "skipped"
    elif rep.when == "call" and rep.passed and prev is None:
        _OUTCOMES[item.nodeid] = "pass"
    return rep


@pytest.fixture(scope="session", autouse=True)
def interop_matrix() -> Iterator[Matrix]:
    """Autouse, so that tests failing before they register their row still get one."""
    m = Matrix()
    yield m
    if m.cases or _OUTCOMES:
        (HERE / "MATRIX.md").write_text(m.render())


@pytest.fixture
def case(request: pytest.FixtureRequest, interop_matrix: Matrix) -> Callable[..., Case]:
    """``case(peer, direction, version, scenario)`` registers this test in the matrix; set
    ``.negotiated`` / ``.cipher`` on the returned row when known."""

    def make(peer: str, direction: str, version: str, scenario: str) -> Case:
        c = Case(request.node.nodeid, peer, direction, version, scenario)
        interop_matrix.cases.append(c)
        return c

    return make
