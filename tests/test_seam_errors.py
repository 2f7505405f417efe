"""Issue 9 at the engine/front-end seam: argument checks in the reference's order (defect 10),
the one role decision, notes on errors a person cannot act on (defect 11), and set_groups /
set_ecdh_curve failing as set_ciphers does (item 6).

Each test failed before the change it covers (checked by running this file against the code
before it); the reference's behaviour was checked with the reference binary (``micropython``).
"""

from __future__ import annotations

import socket
from typing import Any

import mpssl
import pki
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from mpssl import _mpssl
from support import Harness, mpssl_client_ctx, mpssl_server_ctx

CA_CHAIN_REQUIRED = (-30336, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED")
BAD_CONFIG = (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG")
CN_MISMATCH = "\nThe certificate Common Name (CN) does not match with the expected CN\n"
EXT_KEY_USAGE = "\nUsage does not match the extendedKeyUsage extension\n"


def loopback_pair(harness: Harness) -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair on 127.0.0.1 (client end, server end), tracked for teardown."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = harness.track(socket.create_connection(listener.getsockname()))
        server, _ = listener.accept()
    return client, harness.track(server)


def handshake(
    harness: Harness, sctx: Any, cctx: Any, hostname: str | None = "localhost",
    server_side: bool = True,
) -> tuple[Any, Any]:
    """Handshake both ends over loopback; return each side's SSLSocket or exception."""
    a, b = loopback_pair(harness)

    def server() -> Any:
        try:
            return sctx.wrap_socket(b, server_side=server_side)
        except BaseException:
            b.shutdown(socket.SHUT_WR)  # after any alert: the client sees EOF next
            raise

    srv = harness.spawn(server)
    client: Any
    try:
        client = harness.track_tls(cctx.wrap_socket(a, server_hostname=hostname))
    except Exception as e:  # noqa: BLE001 - the outcome is what we test
        client = e
        a.shutdown(socket.SHUT_WR)
    srv.wait()
    server_end = srv.error if srv.error is not None else harness.track_tls(srv.result)
    return client, server_end


def notes(e: BaseException) -> str:
    return "\n".join(getattr(e, "__notes__", []))


# --------------------------------------------------------------------------------------------
# Defect 10: argument checks in the reference's order (reference results in comments)


def test_module_wrap_socket_bad_key_alone_is_invalid_key(harness: Harness) -> None:
    # reference: ssl.wrap_socket(sock, key=b"!") -> ValueError('invalid key')
    a, _ = loopback_pair(harness)
    with pytest.raises(ValueError) as e:
        mpssl.wrap_socket(a, key=b"!")
    assert e.value.args == ("invalid key",)


def test_module_wrap_socket_cert_alone_is_type_error(harness: Harness,
                                                     server_cert: pki.Cert) -> None:
    # reference: TypeError("can't convert 'NoneType' object to str implicitly")
    a, _ = loopback_pair(harness)
    with pytest.raises(TypeError, match="key and cert must be given together"):
        mpssl.wrap_socket(a, cert=server_cert.der, do_handshake=False)
    with pytest.raises(TypeError, match="key and cert must be given together"):
        mpssl.wrap_socket(a, cert=b"!", do_handshake=False)


def test_module_wrap_socket_empty_key_alone_loads_nothing(harness: Harness) -> None:
    # reference (ssl.py: `if cert or key`): key=b"" is falsy, nothing is loaded, no error
    a, _ = loopback_pair(harness)
    tls = harness.track_tls(mpssl.wrap_socket(a, key=b"", do_handshake=False))
    assert tls.cipher() is None


def test_module_wrap_socket_empty_cadata_loads_nothing(harness: Harness) -> None:
    # reference (ssl.py: `if cadata`): cadata=b"" is not loaded, no error
    a, _ = loopback_pair(harness)
    tls = harness.track_tls(mpssl.wrap_socket(a, cadata=b"", do_handshake=False))
    assert tls.cipher() is None


def test_load_cert_chain_checks_the_key_before_a_missing_cert() -> None:
    # reference: tls.SSLContext(0).load_cert_chain(None, b"!") -> ValueError('invalid key')
    for ctx in (mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER),
                _mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)):
        with pytest.raises(ValueError) as e:
            ctx.load_cert_chain(None, b"!")  # type: ignore[arg-type]
        assert e.value.args == ("invalid key",)


def test_load_cert_chain_good_key_missing_cert_is_type_error(server_cert: pki.Cert) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(TypeError, match="certfile"):
        ctx.load_cert_chain(None, server_cert.key_bytes())  # type: ignore[arg-type]
    # A key of the wrong type is reported as the key's problem, as the reference converts
    # the key first.
    with pytest.raises(TypeError, match="keyfile must be a bytes-like object, not 'list'"):
        ctx.load_cert_chain(None, [1])  # type: ignore[arg-type]
    assert ctx.get_ciphers()  # the context still answers


def test_client_context_refuses_server_side(harness: Harness, ca: pki.Cert) -> None:
    # The reference silently acts as a client; CPython refuses (ssl.SSLError). mpssl refuses,
    # with a ValueError naming both, before touching the socket.
    a, _ = loopback_pair(harness)
    ctx = mpssl_client_ctx(ca)
    for mode in (mpssl.CERT_NONE, mpssl.CERT_REQUIRED):
        ctx.verify_mode = mode
        with pytest.raises(ValueError, match="server_side=True needs a PROTOCOL_TLS_SERVER"):
            ctx.wrap_socket(a, server_side=True, server_hostname="localhost",
                            do_handshake_on_connect=False)
    assert a.fileno() >= 0


def test_server_context_without_server_side_is_a_server(
    harness: Harness, server_cert: pki.Cert, client_cert: pki.Cert, ca: pki.Cert
) -> None:
    # The role is the context's: a CERT_REQUIRED server context wrapped with the default
    # server_side=False acts as a server and says so (the reference asked it for a host name).
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED)
    sctx.load_verify_locations(cadata=ca.der)
    cctx = mpssl_client_ctx(ca)
    cctx.load_cert_chain(client_cert.chain_pem, client_cert.key_bytes())
    client, server = handshake(harness, sctx, cctx, server_side=False)
    assert not isinstance(server, BaseException), repr(server)
    assert not isinstance(client, BaseException), repr(client)
    assert server.server_side is True
    assert client.server_side is False
    client.write(b"ping")
    assert server.read(4) == b"ping"


# --------------------------------------------------------------------------------------------
# Defect 11: the reference's codes and texts, plus a note a person can act on


def test_ca_chain_required_on_a_client_explains_the_default(
    harness: Harness, server_ctx: mpssl.SSLContext
) -> None:
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    client, _server = handshake(harness, server_ctx, cctx)
    assert isinstance(client, OSError), repr(client)
    assert client.args == CA_CHAIN_REQUIRED
    text = notes(client)
    assert "verifies the server by default" in text, text
    assert "load_verify_locations" in text and "CERT_NONE" in text, text


def test_host_name_mismatch_explains_san_and_cn(harness: Harness, server_cert: pki.Cert,
                                                ca: pki.Cert) -> None:
    client, _server = handshake(harness, mpssl_server_ctx(server_cert), mpssl_client_ctx(ca),
                                "wrong.example")
    assert type(client) is ValueError, repr(client)
    assert client.args == (CN_MISMATCH,)
    text = notes(client)
    assert "subjectAltName" in text, text
    assert "only when the certificate has no subjectAltName extension" in text, text


@pytest.mark.parametrize("depth", [0])
def test_verify_callback_rejection_explains_the_result(
    harness: Harness, server_ctx: mpssl.SSLContext, ca: pki.Cert, depth: int
) -> None:
    cctx = mpssl_client_ctx(ca)
    cctx.verify_callback = lambda cert, d: 1 if d == depth else 0
    client, _server = handshake(harness, server_ctx, cctx)
    assert isinstance(client, PermissionError), repr(client)
    assert client.args == (1, "MBEDTLS_ERR_ERROR_GENERIC_ERROR")
    text = notes(client)
    assert f"returned 1 for the certificate at depth {depth}" in text, text
    assert "non-zero result rejects" in text, text


def test_usage_alone_is_bad_certificate(harness: Harness, ca: pki.Cert) -> None:
    # Mbed TLS rule (ssl_tls.c), seen on the reference binary: a chain that is fine except
    # for its extendedKeyUsage fails with SSL_BAD_CERTIFICATE, not the verify text.
    leaf = pki.make_cert(issuer=ca, eku=(ExtendedKeyUsageOID.CODE_SIGNING,))
    client, _server = handshake(harness, mpssl_server_ctx(leaf), mpssl_client_ctx(ca))
    assert type(client) is OSError, repr(client)
    assert client.args == (-31232, "MBEDTLS_ERR_SSL_BAD_CERTIFICATE")
    assert "serverAuth" in notes(client)
    # With a wrong host name too, the reference's ValueError names both reasons.
    client, _server = handshake(harness, mpssl_server_ctx(leaf), mpssl_client_ctx(ca),
                                "wrong.example")
    assert type(client) is ValueError, repr(client)
    assert client.args == (CN_MISMATCH + EXT_KEY_USAGE,)


# --------------------------------------------------------------------------------------------
# Item 6: one cause, one error, whichever call


@pytest.mark.parametrize("call", [
    lambda c: c.set_ciphers(["nope"]),
    lambda c: c.set_ciphers([]),
    lambda c: c.set_groups(["nope"]),
    lambda c: c.set_groups([]),
    lambda c: c.set_ecdh_curve("nope"),
], ids=["ciphers-unknown", "ciphers-empty", "groups-unknown", "groups-empty", "curve-unknown"])
def test_unknown_or_empty_names_fail_alike(call: Any) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(OSError) as e:
        call(ctx)
    assert type(e.value) is OSError
    assert e.value.args == BAD_CONFIG
    text = notes(e.value)
    assert "unknown" in text or "empty" in text, text
