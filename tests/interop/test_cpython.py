"""mpssl <-> CPython's ``ssl`` (OpenSSL) over 127.0.0.1, both directions.

TLS 1.3 and TLS 1.2 (pinned on the CPython side), CERT_REQUIRED with a host name check on the
client, mutual TLS, a data round trip, the negotiated version on both ends, and a clean close:
mpssl's ``close()`` sends close_notify, so a CPython peer with ``suppress_ragged_eofs=False``
reads ``b""`` instead of raising ``SSLEOFError``.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import mpssl
import pytest
from interop_support import Case, Interop, WebPki, recv_line, serve_echo, serve_one
from support import recv_exactly

pytestmark = pytest.mark.interop

VERSIONS = ["TLSv1.3", "TLSv1.2"]
AUTH = ["server-auth", "mutual"]
PEER = "CPython ssl"


def clean_eof(s: ssl.SSLSocket) -> Any:
    """What a CPython socket with suppress_ragged_eofs=False reads at the end: b"" after a
    close_notify, the exception otherwise."""
    try:
        return s.recv(1024)
    except (ssl.SSLError, OSError) as e:
        return e


def scenario(auth: str) -> str:
    return (
        "mutual TLS, CERT_REQUIRED both ends" if auth == "mutual" else ("CERT_REQUIRED + host name")
    )


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_mpssl_client_cpython_server(
    iop: Interop, web_pki: WebPki, case: Any, version: str, auth: str
) -> None:
    row: Case = case(PEER, "mpssl client -> ssl server", version, scenario(auth))
    mutual = auth == "mutual"

    sctx = web_pki.cpython_server_ctx(version, mutual)

    def serve(conn: socket.socket) -> dict[str, Any]:
        s = iop.track_tls(sctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False))
        info: dict[str, Any] = {"version": s.version(), "peercert": s.getpeercert()}
        line = recv_line(s)
        info["got"] = line
        s.sendall(b"echo:" + line)
        info["eof"] = clean_eof(s)
        s.close()
        return info

    task, port = serve_one(iop, serve)
    raw = iop.connect(port)
    cctx = web_pki.mpssl_client_ctx(mutual)
    c = iop.track_tls(cctx.wrap_socket(raw, server_hostname="localhost"))
    cipher = row.record(c.cipher())
    assert cipher[1] == version
    assert c.version() == version
    assert c.write(b"hello from mpssl\n") == len(b"hello from mpssl\n")
    assert c.readline() == b"echo:hello from mpssl\n"
    c.close()

    info = task.join()
    assert info["version"] == version
    assert info["got"] == b"hello from mpssl\n"
    assert info["eof"] == b"", (
        f"CPython server did not see a clean close (close_notify) from mpssl: {info['eof']!r}"
    )
    if mutual:
        subject = dict(x[0] for x in info["peercert"]["subject"])
        assert subject["commonName"] == "mpssl interop client"


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_cpython_client_mpssl_server(
    iop: Interop, web_pki: WebPki, case: Any, version: str, auth: str
) -> None:
    row: Case = case(PEER, "ssl client -> mpssl server", version, scenario(auth))
    mutual = auth == "mutual"

    sctx = web_pki.mpssl_server_ctx(mutual)
    task, port = serve_echo(
        iop,
        lambda conn: sctx.wrap_socket(conn, server_side=True),
        version=True,
        peercert=mutual,
        peer_der=mutual,
    )
    cctx = web_pki.cpython_client_ctx(version, mutual)
    raw = iop.connect(port)
    c = iop.track_tls(
        cctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    )
    assert c.version() == version
    c.sendall(b"hello from CPython\n")
    assert recv_line(c) == b"echo:hello from CPython\n"
    eof = clean_eof(c)
    info = task.join()
    assert eof == b"", f"CPython client did not see close_notify from mpssl close(): {eof!r}"
    c.close()

    row.record(info["cipher"])
    assert info["cipher"][1] == version
    assert info["version"] == version
    assert info["got"] == b"hello from CPython\n"
    if mutual:
        subject = dict(x[0] for x in info["peercert"]["subject"])
        assert subject["commonName"] == "mpssl interop client"
        assert info["peer_der"] == web_pki.client.der


@pytest.mark.parametrize("version", VERSIONS)
def test_mpssl_client_rejects_wrong_host_cpython_server(
    iop: Interop, web_pki: WebPki, case: Any, version: str
) -> None:
    """The CN/SAN mismatch text (reference) and the alert CPython's server receives."""
    case(PEER, "mpssl client -> ssl server", version, "wrong host name: mpssl rejects")
    sctx = web_pki.cpython_server_ctx(version)

    def serve(conn: socket.socket) -> BaseException | None:
        try:
            s = iop.track_tls(sctx.wrap_socket(conn, server_side=True))
            s.recv(1)
        except (ssl.SSLError, OSError) as e:
            return e
        return None

    task, port = serve_one(iop, serve)
    raw = iop.connect(port)
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=web_pki.ca.der)
    with pytest.raises(ValueError) as ei:
        cctx.wrap_socket(raw, server_hostname="wrong.example")
    assert str(ei.value) == (
        "\nThe certificate Common Name (CN) does not match with the expected CN\n"
    )
    err = task.join()
    raw.close()
    assert isinstance(err, ssl.SSLError), f"CPython server saw {err!r}"
    assert "ALERT" in str(err).upper(), f"CPython server did not receive an alert: {err!r}"


@pytest.mark.parametrize("version", VERSIONS)
def test_bulk_and_ip_address_host_name(
    iop: Interop, web_pki: WebPki, case: Any, version: str
) -> None:
    """1 MB each way (many full records) with the host name checked against an IP SAN."""
    row: Case = case(
        PEER,
        "mpssl client -> ssl server",
        version,
        "1 MB each way, server_hostname='127.0.0.1' (IP SAN)",
    )
    size = 1 << 20
    payload = bytes(i % 251 for i in range(size))
    sctx = web_pki.cpython_server_ctx(version)

    def serve(conn: socket.socket) -> Any:
        s = iop.track_tls(sctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False))
        data = recv_exactly(s, size)
        s.sendall(data)
        eof = clean_eof(s)
        s.close()
        return data, eof

    task, port = serve_one(iop, serve)
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=web_pki.ca.pem)
    c = iop.track_tls(cctx.wrap_socket(iop.connect(port), server_hostname="127.0.0.1"))
    cipher = row.record(c.cipher())
    assert cipher[1] == version
    if version == "TLSv1.3":
        # X25519MLKEM768 is offered first; OpenSSL before 3.5 settles on X25519
        assert c.key_exchange_group() in ("X25519MLKEM768", "X25519")
    assert c.write(payload) == size
    assert c.read(size) == payload
    c.close()
    data, eof = task.join()
    assert data == payload
    assert eof == b""
