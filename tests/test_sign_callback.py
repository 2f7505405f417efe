"""``SSLContext.ecdsa_sign_callback`` (reference.md §2.9, issue 12): handshake signatures made
by a Python callback (as a secure element's driver would make them), here with the
``cryptography`` package, against CPython's ``ssl`` on the other side, which verifies them.
TLS 1.2 and 1.3, server signature and client CertificateVerify; ``None`` falls back to
software signing; an exception or a bad signature fails the handshake locally."""

from __future__ import annotations

import ssl
from typing import Any

import mpssl
import pki
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from support import JOIN_TIMEOUT, Files, Harness, handshake_pair

VERSIONS = pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
BAD_INPUT = (-20352, "MBEDTLS_ERR_ECP_BAD_INPUT_DATA")
TOO_LONG = (-20224, "MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL")
VERIFY_FAILED = (-19968, "MBEDTLS_ERR_ECP_VERIFY_FAILED")


class Element:
    """A "secure element": signs a hash with the scalar it is given, recording each call.
    ``answer`` replaces the signature (``None`` declines, an exception is raised)."""

    def __init__(self, answer: Any = "sign") -> None:
        self.answer = answer
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, private_key: Any, digest: Any) -> Any:
        self.calls.append((private_key, digest))
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer != "sign":
            return self.answer
        key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256R1())
        return key.sign(bytes(digest), ec.ECDSA(utils.Prehashed(hashes.SHA256())))

    def assert_one_call(self, cert: pki.Cert) -> None:
        assert len(self.calls) == 1, self.calls
        private_key, digest = self.calls[0]
        assert type(private_key) is bytearray and type(digest) is bytearray
        assert isinstance(cert.key, ec.EllipticCurvePrivateKey)
        assert int.from_bytes(private_key, "big") == cert.key.private_numbers().private_value
        assert len(private_key) == 32
        assert len(digest) == 32  # P-256: SHA-256


def cpython_client(ca: pki.Cert, tls12: bool, files: Files | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca.der)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if files is not None:
        ctx.load_cert_chain(files.client_pem, files.client_key_pem)
    return ctx


def mp_server(cert: pki.Cert, callback: Any) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert.chain_pem, cert.key_bytes())
    ctx.ecdsa_sign_callback = callback
    return ctx


def exchange(harness: Harness, sctx: Any, cctx: Any, server_first: bool = False) -> tuple[Any, Any]:
    return handshake_pair(harness, sctx, cctx, ping=b"?", pong=b"!", server_first=server_first,
                          timeout=JOIN_TIMEOUT, catch=(OSError, ValueError))


def test_attribute_defaults_to_none_and_takes_callables_only() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    assert ctx.ecdsa_sign_callback is None
    element = Element()
    ctx.ecdsa_sign_callback = element
    assert ctx.ecdsa_sign_callback is element
    with pytest.raises(TypeError, match="callable or None"):
        ctx.ecdsa_sign_callback = b"not callable"
    assert ctx.ecdsa_sign_callback is element
    ctx.ecdsa_sign_callback = None
    assert ctx.ecdsa_sign_callback is None


@VERSIONS
def test_server_signature_by_the_callback_verifies_in_cpython(
        harness: Harness, ca: pki.Cert, server_cert: pki.Cert, tls12: bool) -> None:
    element = Element()
    client, server = exchange(harness, mp_server(server_cert, element), cpython_client(ca, tls12))
    assert isinstance(server, mpssl.SSLSocket), server
    assert client.version() == ("TLSv1.2" if tls12 else "TLSv1.3")
    element.assert_one_call(server_cert)


@VERSIONS
def test_client_certificate_verify_by_the_callback_verifies_in_cpython(
        harness: Harness, ca: pki.Cert, client_cert: pki.Cert, files: Files, tls12: bool) -> None:
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(files.server_pem, files.server_key_pem)
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.load_verify_locations(cadata=ca.der)
    if tls12:
        sctx.maximum_version = ssl.TLSVersion.TLSv1_2
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=ca.der)
    cctx.load_cert_chain(client_cert.chain_pem, client_cert.key_bytes())
    element = Element()
    cctx.ecdsa_sign_callback = element
    client, server = exchange(harness, sctx, cctx, server_first=True)
    assert isinstance(server, ssl.SSLSocket), server
    assert isinstance(client, mpssl.SSLSocket), client
    assert server.getpeercert()["subject"] == ((("commonName", "mpssl client"),),)
    element.assert_one_call(client_cert)


@VERSIONS
def test_none_falls_back_to_software_signing(
        harness: Harness, ca: pki.Cert, server_cert: pki.Cert, tls12: bool) -> None:
    element = Element(None)
    client, server = exchange(harness, mp_server(server_cert, element), cpython_client(ca, tls12))
    assert isinstance(server, mpssl.SSLSocket), server
    assert isinstance(client, ssl.SSLSocket), client
    element.assert_one_call(server_cert)


@VERSIONS
def test_a_raising_callback_fails_the_handshake_with_the_exception_as_cause(
        harness: Harness, ca: pki.Cert, server_cert: pki.Cert, tls12: bool) -> None:
    boom = RuntimeError("secure element offline")
    element = Element(boom)
    client, server = exchange(harness, mp_server(server_cert, element), cpython_client(ca, tls12))
    assert isinstance(client, OSError), client
    assert isinstance(server, OSError) and server.args == BAD_INPUT, server
    assert server.__cause__ is boom
    assert "ecdsa_sign_callback" in "\n".join(getattr(server, "__notes__", []))
    assert len(element.calls) == 1


@pytest.mark.parametrize(("answer", "expected", "cause"), [
    (b"\x30\x06\x02\x01\x01\x02\x01\x01", VERIFY_FAILED, None),  # well-formed, wrong values
    (bytearray(b"garbage"), VERIFY_FAILED, None),
    (b"\x30" * 200, TOO_LONG, None),
    (12345, BAD_INPUT, TypeError),
], ids=["wrong-signature", "not-der", "too-long", "not-a-buffer"])
def test_a_bad_result_fails_the_handshake_before_anything_is_sent(
        harness: Harness, ca: pki.Cert, server_cert: pki.Cert,
        answer: Any, expected: tuple[int, str], cause: type[BaseException] | None) -> None:
    element = Element(answer)
    client, server = exchange(harness, mp_server(server_cert, element), cpython_client(ca, False))
    assert isinstance(client, OSError), client
    assert isinstance(server, OSError) and server.args == expected, server
    if cause is None:
        assert server.__cause__ is None
    else:
        assert isinstance(server.__cause__, cause)
    assert len(element.calls) == 1


def test_an_rsa_key_never_calls_the_callback(harness: Harness) -> None:
    ca = pki.load("ca", "rsa-2048")
    cert = pki.load("server", "rsa-2048")
    element = Element(RuntimeError("must not be called"))
    client, server = exchange(harness, mp_server(cert, element), cpython_client(ca, False))
    assert isinstance(server, mpssl.SSLSocket), server
    assert isinstance(client, ssl.SSLSocket), client
    assert element.calls == []
