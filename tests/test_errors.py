"""Error mapping: verification texts, reference error codes, sticky errors, peer outcomes."""

from __future__ import annotations

import socket
from typing import Any

import mpssl
import pki
import pytest
from support import Harness, handshake_pair, mpssl_client_ctx, mpssl_server_ctx

EXPIRED = "\nThe certificate validity has expired\n"
CN_MISMATCH = "\nThe certificate Common Name (CN) does not match with the expected CN\n"
NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"
FUTURE = "\nThe certificate validity starts in the future\n"

FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
CONN_EOF = (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")
CA_CHAIN_REQUIRED = (-30336, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED")
NO_CLIENT_CERT = (-29824, "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE")


def handshake(
    harness: Harness, sctx: Any, cctx: Any, hostname: str | None = "localhost"
) -> tuple[Any, Any]:
    """Run both handshakes; return each side's SSLSocket or exception."""
    return handshake_pair(harness, sctx, cctx, hostname)


def expect_verify_failure(
    harness: Harness, leaf: pki.Cert, cctx: Any, text: str, hostname: str = "localhost"
) -> None:
    client, server = handshake(harness, mpssl_server_ctx(leaf), cctx, hostname)
    assert type(client) is ValueError, repr(client)
    assert str(client) == text
    assert client.args == (text,)
    assert isinstance(server, OSError), repr(server)
    assert server.args == FATAL_ALERT


# --------------------------------------------------------------------------------------------
# Client-side verification (CERT_REQUIRED)


def test_wrong_hostname(harness: Harness, server_cert: pki.Cert, ca: pki.Cert) -> None:
    expect_verify_failure(harness, server_cert, mpssl_client_ctx(ca), CN_MISMATCH,
                          "wrong.example")


def test_expired_certificate(harness: Harness, ca: pki.Cert) -> None:
    leaf = pki.make_cert(issuer=ca, not_before=pki.NOW - 10 * pki.DAY,
                         not_after=pki.NOW - pki.DAY)
    expect_verify_failure(harness, leaf, mpssl_client_ctx(ca), EXPIRED)


def test_not_yet_valid_certificate(harness: Harness, ca: pki.Cert) -> None:
    leaf = pki.make_cert(issuer=ca, not_before=pki.NOW + pki.DAY,
                         not_after=pki.NOW + 10 * pki.DAY)
    expect_verify_failure(harness, leaf, mpssl_client_ctx(ca), FUTURE)


def test_untrusted_certificate(harness: Harness, server_cert: pki.Cert,
                               other_ca: pki.Cert) -> None:
    expect_verify_failure(harness, server_cert, mpssl_client_ctx(other_ca), NOT_TRUSTED)


def test_several_reasons_in_flag_order(harness: Harness, ca: pki.Cert,
                                       other_ca: pki.Cert) -> None:
    leaf = pki.make_cert(issuer=ca, not_before=pki.NOW - 10 * pki.DAY,
                         not_after=pki.NOW - pki.DAY)
    expect_verify_failure(harness, leaf, mpssl_client_ctx(other_ca),
                          EXPIRED + CN_MISMATCH + NOT_TRUSTED, "wrong.example")


def test_no_ca_loaded_client(harness: Harness, server_ctx: mpssl.SSLContext) -> None:
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    assert cctx.verify_mode == mpssl.CERT_REQUIRED
    client, server = handshake(harness, server_ctx, cctx)
    assert isinstance(client, OSError), repr(client)
    assert client.args == CA_CHAIN_REQUIRED
    assert client.errno == -30336
    assert isinstance(server, OSError), repr(server)


def test_no_ca_loaded_server_cert_required(
    harness: Harness, server_cert: pki.Cert, client_cert: pki.Cert, ca: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED)
    cctx = mpssl_client_ctx(ca)
    cctx.load_cert_chain(client_cert.chain_pem, client_cert.key_bytes())
    _client, server = handshake(harness, sctx, cctx)
    assert isinstance(server, OSError), repr(server)
    assert server.args == CA_CHAIN_REQUIRED


@pytest.mark.parametrize(
    "hostname", ["localhost", "LocalHost", "127.0.0.1", "::1"]
)
def test_hostname_matches(harness: Harness, server_ctx: mpssl.SSLContext, ca: pki.Cert,
                          server_cert: pki.Cert, hostname: str) -> None:
    client, _server = handshake(harness, server_ctx, mpssl_client_ctx(ca), hostname)
    assert not isinstance(client, BaseException), repr(client)
    assert client.getpeercert(True) == server_cert.der
    assert client.server_hostname == hostname


@pytest.mark.parametrize("hostname", ["127.0.0.2", "::2", "other", ""])
def test_hostname_mismatches(harness: Harness, server_cert: pki.Cert, ca: pki.Cert,
                             hostname: str) -> None:
    client, _server = handshake(harness, mpssl_server_ctx(server_cert), mpssl_client_ctx(ca),
                               hostname)
    assert isinstance(client, (ValueError, OSError)), repr(client)
    if hostname != "":  # may be rejected as a name before the handshake
        assert str(client) == CN_MISMATCH


@pytest.mark.parametrize("hostname,ok", [("a.example.test", True), ("A.EXAMPLE.TEST", True),
                                         ("a.b.example.test", False), ("example.test", False)])
def test_wildcard_san(harness: Harness, ca: pki.Cert, hostname: str, ok: bool) -> None:
    leaf = pki.make_cert("wild", issuer=ca, dns=("*.example.test",))
    client, _ = handshake(harness, mpssl_server_ctx(leaf), mpssl_client_ctx(ca), hostname)
    if ok:
        assert not isinstance(client, BaseException), repr(client)
    else:
        assert type(client) is ValueError and str(client) == CN_MISMATCH, repr(client)


def test_common_name_fallback(harness: Harness) -> None:
    """A self-signed CA:TRUE certificate without SAN, itself trusted (the reference's style)."""
    ref = pki.reference_style("micropython.local")
    sctx = mpssl_server_ctx(ref)
    cctx = mpssl_client_ctx(ref)
    client, _ = handshake(harness, sctx, cctx, "MicroPython.Local")
    assert not isinstance(client, BaseException), repr(client)
    assert client.getpeercert(True) == ref.der
    cctx.hostname_checks_common_name = False
    assert cctx.hostname_checks_common_name is False
    client, _ = handshake(harness, sctx, cctx, "micropython.local")
    assert type(client) is ValueError and str(client) == CN_MISMATCH, repr(client)


def test_cn_ignored_when_san_present(harness: Harness, ca: pki.Cert) -> None:
    leaf = pki.make_cert("cn.example", issuer=ca, dns=("san.example",))
    client, _ = handshake(harness, mpssl_server_ctx(leaf), mpssl_client_ctx(ca), "cn.example")
    assert type(client) is ValueError and str(client) == CN_MISMATCH, repr(client)


@pytest.mark.parametrize("mode", [mpssl.CERT_NONE, mpssl.CERT_OPTIONAL])
def test_lower_modes_accept_bad_certificates(harness: Harness, other_ca: pki.Cert,
                                             mode: int) -> None:
    leaf = pki.make_cert("x", issuer=other_ca, dns=("x.example",),
                         not_before=pki.NOW - 10 * pki.DAY, not_after=pki.NOW - pki.DAY)
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)  # no CA at all
    cctx.verify_mode = mode
    client, server = handshake(harness, mpssl_server_ctx(leaf), cctx, "wrong.example")
    assert not isinstance(client, BaseException), repr(client)
    assert not isinstance(server, BaseException), repr(server)
    client.write(b"ok")
    assert server.read(2) == b"ok"


# --------------------------------------------------------------------------------------------
# Server-side verification of clients


def _client_with_cert(ca: pki.Cert, cert: pki.Cert | None) -> mpssl.SSLContext:
    cctx = mpssl_client_ctx(ca)
    if cert is not None:
        cctx.load_cert_chain(cert.chain_pem, cert.key_bytes())
    return cctx


def test_server_requires_client_certificate(
    harness: Harness, server_cert: pki.Cert, ca: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED)
    sctx.load_verify_locations(cadata=ca.der)
    client, server = handshake(harness, sctx, _client_with_cert(ca, None))
    assert isinstance(server, OSError), repr(server)
    assert server.args == NO_CLIENT_CERT
    if isinstance(client, BaseException):  # TLS 1.2: the client sees the alert in wrap
        assert isinstance(client, OSError)
        assert client.args == FATAL_ALERT
        return
    # TLS 1.3: the client finishes first and meets the alert on its next read; sticky after.
    for _ in range(2):
        with pytest.raises(OSError) as ei:
            client.read(1)
        assert ei.value.args == FATAL_ALERT
    with pytest.raises(OSError) as ei:
        client.write(b"x")
    assert ei.value.args == FATAL_ALERT


def test_server_rejects_untrusted_client(
    harness: Harness, server_cert: pki.Cert, ca: pki.Cert, other_ca: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED)
    sctx.load_verify_locations(cadata=ca.der)
    stranger = pki.make_cert("stranger", issuer=other_ca, dns=("stranger.example",))
    _, server = handshake(harness, sctx, _client_with_cert(ca, stranger))
    assert type(server) is ValueError, repr(server)
    assert str(server) == NOT_TRUSTED


def test_server_accepts_trusted_client(
    harness: Harness, server_cert: pki.Cert, client_cert: pki.Cert, ca: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED)
    sctx.load_verify_locations(cadata=ca.pem)
    client, server = handshake(harness, sctx, _client_with_cert(ca, client_cert))
    assert not isinstance(server, BaseException), repr(server)
    assert server.getpeercert(True) == client_cert.der
    assert ((("commonName", "mpssl client"),),) == server.getpeercert()["subject"]
    client.write(b"authenticated")
    assert server.read(13) == b"authenticated"


@pytest.mark.parametrize("which", ["none", "untrusted", "trusted"])
def test_server_optional_client_certificate(
    harness: Harness, server_cert: pki.Cert, client_cert: pki.Cert, ca: pki.Cert,
    other_ca: pki.Cert, which: str,
) -> None:
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_OPTIONAL)
    sctx.load_verify_locations(cadata=ca.der)
    cert = {"none": None, "untrusted": pki.make_cert("s", issuer=other_ca, dns=("s.example",)),
            "trusted": client_cert}[which]
    client, server = handshake(harness, sctx, _client_with_cert(ca, cert))
    assert not isinstance(client, BaseException), repr(client)
    assert not isinstance(server, BaseException), repr(server)
    client.write(b"x")
    assert server.read(1) == b"x"
    assert server.getpeercert(True) == (cert.der if cert is not None else None)


# --------------------------------------------------------------------------------------------
# Other failure rows of the error table


def test_server_without_certificate(harness: Harness, ca: pki.Cert) -> None:
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    a, b = harness.socketpair()

    def server() -> None:
        try:
            sctx.wrap_socket(b, server_side=True)
        finally:
            b.shutdown(socket.SHUT_RDWR)

    srv = harness.spawn(server)
    with pytest.raises(OSError):
        mpssl_client_ctx(ca).wrap_socket(a, server_hostname="localhost")
    err = srv.exception()
    assert isinstance(err, OSError), repr(err)
    assert "certificate" in str(err).lower()


def test_peer_closes_before_handshake(harness: Harness, server_ctx: mpssl.SSLContext) -> None:
    a, b = harness.socketpair()
    a.close()
    with pytest.raises(OSError) as ei:
        server_ctx.wrap_socket(b, server_side=True)
    assert ei.value.args == CONN_EOF


def test_client_peer_closes_during_handshake(harness: Harness, client_ctx: mpssl.SSLContext
                                             ) -> None:
    a, b = harness.socketpair()

    def server() -> bytes:
        hello = b.recv(5)  # the ClientHello's record header, then vanish
        b.shutdown(socket.SHUT_RDWR)
        return hello

    srv = harness.spawn(server)
    with pytest.raises(OSError) as ei:
        client_ctx.wrap_socket(a, server_hostname="localhost")
    assert srv.join()[:1] == b"\x16"  # it was a TLS handshake record
    assert ei.value.errno in (CONN_EOF[0], 104, 32)


def test_non_tls_peer(harness: Harness, client_ctx: mpssl.SSLContext) -> None:
    a, b = harness.socketpair()

    def server() -> None:
        b.recv(4096)
        b.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    srv = harness.spawn(server)
    with pytest.raises(OSError) as ei:
        client_ctx.wrap_socket(a, server_hostname="localhost")
    srv.join()
    assert ei.value.errno == -29184
    assert ei.value.args[1].startswith("MBEDTLS_ERR_SSL_INVALID_RECORD")


@pytest.mark.parametrize("bad", [object(), 5, "socket", None])
@pytest.mark.parametrize("protocol", [mpssl.PROTOCOL_TLS_CLIENT, mpssl.PROTOCOL_TLS_SERVER])
def test_wrap_object_without_stream_methods(server_cert: pki.Cert, bad: Any,
                                            protocol: int) -> None:
    ctx = mpssl.SSLContext(protocol)
    ctx.verify_mode = mpssl.CERT_NONE
    if protocol == mpssl.PROTOCOL_TLS_SERVER:
        ctx.load_cert_chain(server_cert.pem, server_cert.key_bytes())
    with pytest.raises(OSError):
        ctx.wrap_socket(bad, server_side=protocol == mpssl.PROTOCOL_TLS_SERVER)


def test_deferred_handshake_failure_then_sticky_and_close(
    harness: Harness, server_ctx: mpssl.SSLContext, ca: pki.Cert
) -> None:
    a, b = harness.socketpair()
    srv = harness.spawn(server_ctx.wrap_socket, b, server_side=True)
    cli = mpssl_client_ctx(ca).wrap_socket(a, server_hostname="wrong.example",
                                           do_handshake_on_connect=False)
    with pytest.raises(ValueError) as ei:
        cli.write(b"hello")
    assert str(ei.value) == CN_MISMATCH
    assert isinstance(srv.exception(), OSError)
    with pytest.raises((OSError, ValueError)):
        cli.read(1)
    with pytest.raises((OSError, ValueError)):
        cli.write(b"again")
    assert a.fileno() != -1
    cli.close()
    assert a.fileno() == -1  # close() also closes the wrapped socket after a failure
    cli.close()
