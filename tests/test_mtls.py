"""Mutual TLS (reference.md §2.2, server column): a ``CERT_REQUIRED`` server demands and
verifies a client certificate against its loaded CAs; ``CERT_OPTIONAL`` asks but accepts none
or an untrusted one; ``CERT_NONE`` does not ask. Failures give the reference's error on each
side. mpssl <-> mpssl over loopback, plus CPython ``ssl`` as the other side."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
import verify_cases as vc
from support import JOIN_TIMEOUT, Harness, handshake_pair

FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
NO_CLIENT_CERT = (-29824, "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE")
CA_CHAIN_REQUIRED = (-30336, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED")
TLS12 = "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"
VERSIONS = pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])


@pytest.fixture(scope="module")
def p() -> dict[str, pki.Cert]:
    root, (inter,), server = pki.make_chain(1)
    return {
        "root": root, "inter": inter, "server": server,
        "client": pki.make_cert("mtls client", issuer=inter, dns=("client.test",)),
        "stranger": pki.make_cert("stranger", issuer=vc.other_root(), dns=("s.test",)),
        "expired": pki.make_cert("expired client", issuer=inter, dns=("client.test",),
                                 not_before=vc.PAST, not_after=vc.YESTERDAY),
    }


def mp_server(p: dict[str, pki.Cert], mode: int, ca: bool = True,
              tls12: bool = False) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(p["server"].pem + p["inter"].pem, p["server"].key_bytes())
    ctx.verify_mode = mode
    if ca:
        ctx.load_verify_locations(cadata=p["root"].der)
    if tls12:
        ctx.set_ciphers([TLS12])
    return ctx


def mp_client(p: dict[str, pki.Cert], cert: str | None) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=p["root"].der)
    if cert is not None:
        c = p[cert]
        extra = p["inter"].pem if c.chain and c.chain[0] == p["inter"].cert else b""
        ctx.load_cert_chain(c.pem + extra, c.key_bytes())
    return ctx


def files(tmp: Path, p: dict[str, pki.Cert], cert: str) -> tuple[str, str]:
    c = p[cert]
    chain, key = tmp / f"{cert}.pem", tmp / f"{cert}.key"
    extra = p["inter"].pem if c.chain and c.chain[0] == p["inter"].cert else b""
    chain.write_bytes(c.pem + extra)
    key.write_bytes(c.key_bytes())
    return str(chain), str(key)


def exchange(harness: Harness, sctx: Any, cctx: Any,
             server_first: bool = False) -> tuple[Any, Any]:
    """Handshake, client writes b'?', server answers b'!' (``server_first``: the other way
    round). Each side's socket or exception; a side that fails shuts its socket down for
    writing so the other sees the end.

    ``server_first`` is for a CPython server, which closes the connection when its handshake
    fails: a TLS 1.3 client that wrote first could meet EPIPE before reading the alert."""
    return handshake_pair(harness, sctx, cctx, ping=b"?", pong=b"!", server_first=server_first,
                          timeout=JOIN_TIMEOUT, catch=(OSError, ValueError))


# --------------------------------------------------------------------------------------------
# mpssl <-> mpssl


@VERSIONS
def test_required_trusted_client(harness: Harness, p: dict[str, pki.Cert], tls12: bool) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED, tls12=tls12),
                              mp_client(p, "client"))
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert server.getpeercert(True) == p["client"].der
    assert server.get_peer_cert_chain() == [p["client"].der, p["inter"].der]
    assert client.version() == ("TLSv1.2" if tls12 else "TLSv1.3")


@VERSIONS
def test_required_without_client_certificate(harness: Harness, p: dict[str, pki.Cert],
                                             tls12: bool) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED, tls12=tls12),
                              mp_client(p, None))
    assert isinstance(server, OSError) and server.args == NO_CLIENT_CERT, repr(server)
    assert isinstance(client, OSError) and client.args == FATAL_ALERT, repr(client)


@VERSIONS
def test_required_untrusted_client(harness: Harness, p: dict[str, pki.Cert],
                                   tls12: bool) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED, tls12=tls12),
                              mp_client(p, "stranger"))
    assert type(server) is ValueError, repr(server)
    assert str(server) == "\nThe certificate is not correctly signed by the trusted CA\n"
    assert isinstance(client, OSError) and client.args == FATAL_ALERT, repr(client)


def test_required_expired_client(harness: Harness, p: dict[str, pki.Cert]) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED),
                              mp_client(p, "expired"))
    assert type(server) is ValueError and str(server) == vc.EXPIRED, repr(server)
    assert isinstance(client, OSError) and client.args == FATAL_ALERT, repr(client)


def test_required_without_ca_loaded(harness: Harness, p: dict[str, pki.Cert]) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED, ca=False),
                              mp_client(p, "client"))
    assert isinstance(server, OSError) and server.args == CA_CHAIN_REQUIRED, repr(server)
    assert isinstance(client, OSError), repr(client)


@pytest.mark.parametrize("cert", [None, "stranger", "expired", "client"])
def test_optional_asks_but_accepts_anything(harness: Harness, p: dict[str, pki.Cert],
                                            cert: str | None) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_OPTIONAL), mp_client(p, cert))
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    # the certificate was asked for: a client that has one sent it
    assert server.getpeercert(True) == (p[cert].der if cert else None)


def test_optional_without_ca_loaded(harness: Harness, p: dict[str, pki.Cert]) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_OPTIONAL, ca=False),
                              mp_client(p, "client"))
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert server.getpeercert(True) == p["client"].der


def test_none_does_not_ask(harness: Harness, p: dict[str, pki.Cert]) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_NONE), mp_client(p, "client"))
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert server.getpeercert(True) is None


# --------------------------------------------------------------------------------------------
# CPython on the other side


def cpy_client(tmp: Path, p: dict[str, pki.Cert], cert: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=p["root"].der)
    if cert is not None:
        ctx.load_cert_chain(*files(tmp, p, cert))
    return ctx


def cpy_server(tmp: Path, p: dict[str, pki.Cert], mode: ssl.VerifyMode) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*files(tmp, p, "server"))
    ctx.verify_mode = mode
    ctx.load_verify_locations(cadata=p["root"].der)
    return ctx


def test_cpython_client_trusted(harness: Harness, p: dict[str, pki.Cert],
                                tmp_path: Path) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED),
                              cpy_client(tmp_path, p, "client"))
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert server.getpeercert(True) == p["client"].der


def test_cpython_client_without_certificate(harness: Harness, p: dict[str, pki.Cert],
                                            tmp_path: Path) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED),
                              cpy_client(tmp_path, p, None))
    assert isinstance(server, OSError) and server.args == NO_CLIENT_CERT, repr(server)
    assert isinstance(client, ssl.SSLError), repr(client)
    assert "CERTIFICATE_REQUIRED" in str(client) or "HANDSHAKE_FAILURE" in str(client), client


def test_cpython_client_untrusted(harness: Harness, p: dict[str, pki.Cert],
                                  tmp_path: Path) -> None:
    client, server = exchange(harness, mp_server(p, mpssl.CERT_REQUIRED),
                              cpy_client(tmp_path, p, "stranger"))
    assert type(server) is ValueError and str(server) == vc.NOT_TRUSTED, repr(server)
    assert isinstance(client, ssl.SSLError), repr(client)


def test_mpssl_client_to_cpython_server_requiring_cert(harness: Harness, p: dict[str, pki.Cert],
                                                       tmp_path: Path) -> None:
    client, server = exchange(harness, cpy_server(tmp_path, p, ssl.CERT_REQUIRED),
                              mp_client(p, "client"), server_first=True)
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert server.getpeercert(True) == p["client"].der


@pytest.mark.parametrize("cert", [None, "stranger"])
def test_mpssl_client_rejected_by_cpython_server(harness: Harness, p: dict[str, pki.Cert],
                                                 tmp_path: Path, cert: str | None) -> None:
    client, server = exchange(harness, cpy_server(tmp_path, p, ssl.CERT_REQUIRED),
                              mp_client(p, cert), server_first=True)
    assert isinstance(server, ssl.SSLError), repr(server)
    assert isinstance(client, OSError) and client.args == FATAL_ALERT, repr(client)
