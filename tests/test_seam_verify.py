"""Issue 9, verification defects 3-5 and the host-name seam, over loopback sockets.

- Defect 3: ``CERT_OPTIONAL`` accepted any peer certificate silently; now
  ``SSLSocket.verify_result()`` says whether the peer's chain verified (``0``) and why not
  (Mbed TLS's ``MBEDTLS_X509_BADCERT_*`` bits), on servers and clients, with or without a
  ``verify_callback``. Before the fix the method did not exist, and a client under
  ``CERT_OPTIONAL`` without a callback checked nothing at all.
- Defect 4: a certificate whose subjectAltName holds only an e-mail address was accepted for
  its CN.
- Defect 5: a pinned (trusted, self-signed) leaf with the wrong extendedKeyUsage was accepted.
- Seam: ``server_hostname="0.0.0.0"`` was taken for "no host name".
"""

from __future__ import annotations

from typing import Any

import mpssl
import pki
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

NOT_TRUSTED = 0x08
CN_MISMATCH = 0x04
EXT_KEY_USAGE = 0x1000


@pytest.fixture(scope="module")
def p() -> dict[str, pki.Cert]:
    root = pki.make_ca("seam verify CA")
    return {
        "root": root,
        "server": pki.make_cert("localhost", issuer=root, dns=("localhost",)),
        "client": pki.make_cert("client", issuer=root, dns=("client.test",)),
        # Self-signed, not trusted, with a subject an attacker chose.
        "forged": pki.make_cert("admin", dns=("client.test",)),
        "forged_server": pki.make_cert("localhost", dns=("localhost",)),
    }


def server_ctx(cert: pki.Cert, mode: int, *cas: pki.Cert) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.chain_pem, cert.key_bytes())
    for ca in cas:
        ctx.load_verify_locations(cadata=ca.der)
    ctx.verify_mode = mode
    return ctx


def client_ctx(mode: int, *cas: pki.Cert, cert: pki.Cert | None = None) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    for ca in cas:
        ctx.load_verify_locations(cadata=ca.der)
    if cert is not None:
        ctx.load_cert_chain(cert.chain_pem, cert.key_bytes())
    ctx.verify_mode = mode
    return ctx


def exchange(tls_server: Any, sctx: mpssl.SSLContext, cctx: mpssl.SSLContext,
             hostname: str | None = "localhost") -> tuple[Any, Any, int | None]:
    """Handshake over loopback, one byte each way. Returns the server's
    ``(verify_result(), getpeercert())`` (or its exception), the client's ``verify_result()``
    (or its exception), and the client's ``verify_result()`` before the handshake."""

    def handler(conn: Any) -> tuple[int | None, Any]:
        tls = sctx.wrap_socket(conn, server_side=True)
        try:
            assert tls.read(1) == b"?"
            tls.write(b"!")
            return tls.verify_result(), tls.getpeercert()
        finally:
            tls.close()

    srv = tls_server(handler)
    raw = srv.connect()
    tls = cctx.wrap_socket(raw, server_hostname=hostname, do_handshake_on_connect=False)
    before = tls.verify_result()
    client: Any
    try:
        tls.do_handshake()
        tls.write(b"?")
        assert tls.read(1) == b"!"
        client = tls.verify_result()
    except (OSError, ValueError) as e:
        client = e
        raw.close()
    finally:
        tls.close()
    server = srv.exception() or srv.join()
    return server, client, before


# ---------------------------------------------------------------------------------------------
# Defect 3: the verdict of CERT_OPTIONAL, observable on the socket


def test_server_optional_trusted_client_cert_verifies(tls_server: Any,
                                                      p: dict[str, pki.Cert]) -> None:
    sctx = server_ctx(p["server"], mpssl.CERT_OPTIONAL, p["root"])
    cctx = client_ctx(mpssl.CERT_REQUIRED, p["root"], cert=p["client"])
    (result, peer), client, before = exchange(tls_server, sctx, cctx)
    assert before is None
    assert result == 0
    assert client == 0
    assert peer["subject"] == ((("commonName", "client"),),)


def test_server_optional_forged_client_cert_is_reported(tls_server: Any,
                                                        p: dict[str, pki.Cert]) -> None:
    sctx = server_ctx(p["server"], mpssl.CERT_OPTIONAL, p["root"])
    cctx = client_ctx(mpssl.CERT_REQUIRED, p["root"], cert=p["forged"])
    (result, peer), client, _ = exchange(tls_server, sctx, cctx)
    # The handshake succeeded and the attacker's subject is visible, but not trusted.
    assert peer["subject"] == ((("commonName", "admin"),),)
    assert result == NOT_TRUSTED
    assert client == 0


def test_server_optional_with_callback_reports_too(tls_server: Any,
                                                   p: dict[str, pki.Cert]) -> None:
    sctx = server_ctx(p["server"], mpssl.CERT_OPTIONAL, p["root"])
    seen: list[int] = []
    sctx.verify_callback = lambda cert, depth: seen.append(depth) or 0
    cctx = client_ctx(mpssl.CERT_REQUIRED, p["root"], cert=p["forged"])
    (result, _), _, _ = exchange(tls_server, sctx, cctx)
    assert seen == [0]
    assert result == NOT_TRUSTED


def test_server_optional_without_client_cert_is_none(tls_server: Any,
                                                     p: dict[str, pki.Cert]) -> None:
    sctx = server_ctx(p["server"], mpssl.CERT_OPTIONAL, p["root"])
    cctx = client_ctx(mpssl.CERT_REQUIRED, p["root"])
    (result, peer), client, _ = exchange(tls_server, sctx, cctx)
    assert result is None
    assert peer is None
    assert client == 0


def test_server_required_unchanged(tls_server: Any, p: dict[str, pki.Cert]) -> None:
    sctx = server_ctx(p["server"], mpssl.CERT_REQUIRED, p["root"])
    (result, _), _, _ = exchange(
        tls_server, sctx, client_ctx(mpssl.CERT_REQUIRED, p["root"], cert=p["client"]))
    assert result == 0
    server, _, _ = exchange(
        tls_server, sctx, client_ctx(mpssl.CERT_REQUIRED, p["root"], cert=p["forged"]))
    assert isinstance(server, ValueError)
    assert "not correctly signed by the trusted CA" in str(server)


@pytest.mark.parametrize("mode", [mpssl.CERT_OPTIONAL, mpssl.CERT_NONE],
                         ids=["optional", "none"])
def test_client_records_the_server_verdict(tls_server: Any, p: dict[str, pki.Cert],
                                           mode: int) -> None:
    good = server_ctx(p["server"], mpssl.CERT_NONE)
    forged = server_ctx(p["forged_server"], mpssl.CERT_NONE)
    _, client, _ = exchange(tls_server, good, client_ctx(mode, p["root"]))
    assert client == 0
    _, client, _ = exchange(tls_server, good, client_ctx(mode, p["root"]), "other.test")
    assert client == CN_MISMATCH
    _, client, _ = exchange(tls_server, forged, client_ctx(mode, p["root"]))
    assert client == NOT_TRUSTED
    # No CA at all: nothing can be trusted.
    _, client, _ = exchange(tls_server, good, client_ctx(mode))
    assert client == NOT_TRUSTED


# ---------------------------------------------------------------------------------------------
# Defect 4: no CN fallback when a subjectAltName extension exists


def test_cn_is_ignored_when_the_san_holds_only_an_email(tls_server: Any,
                                                        p: dict[str, pki.Cert]) -> None:
    cert = pki.make_cert("localhost", issuer=p["root"], dns=None, emails=("a@localhost",))
    sctx = server_ctx(cert, mpssl.CERT_NONE)
    _, client, _ = exchange(tls_server, sctx, client_ctx(mpssl.CERT_REQUIRED, p["root"]))
    assert isinstance(client, ValueError)
    assert "CN" in str(client)
    _, client, _ = exchange(tls_server, sctx, client_ctx(mpssl.CERT_OPTIONAL, p["root"]))
    assert client == CN_MISMATCH
    # Without any subjectAltName the CN still serves (the reference's fallback).
    plain = pki.make_cert("localhost", issuer=p["root"], dns=None)
    _, client, _ = exchange(tls_server, server_ctx(plain, mpssl.CERT_NONE),
                            client_ctx(mpssl.CERT_REQUIRED, p["root"]))
    assert client == 0


# ---------------------------------------------------------------------------------------------
# Defect 5: a pinned self-signed leaf is checked for extendedKeyUsage


@pytest.mark.parametrize("eku", [(ExtendedKeyUsageOID.CODE_SIGNING,),
                                 (ExtendedKeyUsageOID.CLIENT_AUTH,)],
                         ids=["codeSigning", "clientAuth"])
def test_pinned_leaf_needs_server_auth(tls_server: Any, eku: Any) -> None:
    pinned = pki.make_cert("localhost", dns=("localhost",), eku=eku)
    sctx = server_ctx(pinned, mpssl.CERT_NONE)
    _, client, _ = exchange(tls_server, sctx, client_ctx(mpssl.CERT_REQUIRED, pinned))
    # The reference refuses it with MBEDTLS_ERR_SSL_BAD_CERTIFICATE (an EKU-only failure).
    assert_bad_certificate(client)
    _, client, _ = exchange(tls_server, sctx, client_ctx(mpssl.CERT_OPTIONAL, pinned))
    assert client == EXT_KEY_USAGE
    ok = pki.make_cert("localhost", dns=("localhost",), eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    _, client, _ = exchange(tls_server, server_ctx(ok, mpssl.CERT_NONE),
                            client_ctx(mpssl.CERT_REQUIRED, ok))
    assert client == 0


def test_pinned_client_leaf_needs_client_auth(tls_server: Any, p: dict[str, pki.Cert]) -> None:
    pinned = pki.make_cert("client", dns=("client.test",),
                           eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    sctx = server_ctx(p["server"], mpssl.CERT_OPTIONAL, pinned)
    cctx = client_ctx(mpssl.CERT_REQUIRED, p["root"], cert=pinned)
    (result, _), _, _ = exchange(tls_server, sctx, cctx)
    assert result == EXT_KEY_USAGE
    sctx.verify_mode = mpssl.CERT_REQUIRED
    server, _, _ = exchange(tls_server, sctx, cctx)
    assert_bad_certificate(server)


def assert_bad_certificate(error: object) -> None:
    assert type(error) is OSError, repr(error)
    assert error.args == (-31232, "MBEDTLS_ERR_SSL_BAD_CERTIFICATE")


# ---------------------------------------------------------------------------------------------
# Seam: "no host name" is not the address 0.0.0.0


@pytest.mark.parametrize("ip", ["0.0.0.0", "::"])
def test_unspecified_address_is_a_real_host_name(tls_server: Any, p: dict[str, pki.Cert],
                                                 ip: str) -> None:
    cert = pki.make_cert("ip", issuer=p["root"], dns=None, ips=(ip,))
    sctx = server_ctx(cert, mpssl.CERT_NONE)
    _, client, _ = exchange(tls_server, sctx, client_ctx(mpssl.CERT_REQUIRED, p["root"]), ip)
    assert client == 0
    other = server_ctx(p["server"], mpssl.CERT_NONE)
    _, client, _ = exchange(tls_server, other, client_ctx(mpssl.CERT_OPTIONAL, p["root"]), ip)
    assert client == CN_MISMATCH
