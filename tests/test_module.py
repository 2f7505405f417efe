"""Module surface: constants, absent names, and the module-level ``wrap_socket``."""

from __future__ import annotations

import socket
from pathlib import Path

import mpssl
import pki
import pytest
from mpssl import _mpssl
from support import Files, Harness

CN_MISMATCH = "\nThe certificate Common Name (CN) does not match with the expected CN\n"
NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"


def assert_nothing_sent(peer: socket.socket) -> None:
    peer.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            peer.recv(1)
    finally:
        peer.setblocking(True)


# --------------------------------------------------------------------------------------------
# Constants and names


def test_constants_have_reference_values() -> None:
    assert mpssl.PROTOCOL_TLS_CLIENT == 0
    assert mpssl.PROTOCOL_TLS_SERVER == 1
    assert mpssl.CERT_NONE == 0
    assert mpssl.CERT_OPTIONAL == 1
    assert mpssl.CERT_REQUIRED == 2
    for name in ("PROTOCOL_TLS_CLIENT", "PROTOCOL_TLS_SERVER", "CERT_NONE", "CERT_OPTIONAL",
                 "CERT_REQUIRED"):
        assert type(getattr(mpssl, name)) is int, name
        assert getattr(_mpssl, name) == getattr(mpssl, name)


def test_version_strings() -> None:
    assert isinstance(mpssl.RUSTLS_VERSION, str)
    assert "rustls" in mpssl.RUSTLS_VERSION.lower()
    assert isinstance(mpssl.__version__, str)
    assert mpssl.__version__.strip() != ""
    assert mpssl.__version__[0].isdigit()


@pytest.mark.parametrize(
    "name",
    ["MBEDTLS_VERSION", "psk_identity", "psk_key", "server_psk_keys"],
)
def test_absent_module_names(name: str) -> None:
    assert not hasattr(mpssl, name)
    assert not hasattr(_mpssl, name)


@pytest.mark.parametrize("protocol", [mpssl.PROTOCOL_TLS_CLIENT, mpssl.PROTOCOL_TLS_SERVER])
@pytest.mark.parametrize("name", ["psk_identity", "psk_key", "server_psk_keys"])
def test_psk_attributes_on_contexts(protocol: int, name: str) -> None:
    # Present (TLS 1.2 PSK, docs/psk.md), None until set, as in the reference.
    assert getattr(mpssl.SSLContext(protocol), name) is None
    assert getattr(_mpssl.SSLContext(protocol), name) is None


def test_public_names() -> None:
    for name in mpssl.__all__:
        assert hasattr(mpssl, name), name
    assert issubclass(mpssl.SSLContext, _mpssl.SSLContext)
    assert mpssl.SSLSocket is _mpssl.SSLSocket
    assert mpssl.SSLSocket.__name__ == "SSLSocket"
    assert callable(mpssl.wrap_socket)


# --------------------------------------------------------------------------------------------
# Module-level wrap_socket


def test_wrap_socket_all_positional(
    harness: Harness, server_cert: pki.Cert, ca: pki.Cert
) -> None:
    a, b = harness.socketpair()
    srv = harness.spawn(
        mpssl.wrap_socket, b, True, server_cert.key_bytes(), server_cert.chain_pem
    )
    cli = harness.track_tls(
        mpssl.wrap_socket(a, False, None, None, mpssl.CERT_REQUIRED, ca.der, "localhost", True)
    )
    s = harness.track_tls(srv.join())
    assert cli.context.verify_mode == mpssl.CERT_REQUIRED
    assert not cli.server_side
    assert s.server_side
    assert cli.server_hostname == "localhost"
    assert cli.getpeercert(True) == server_cert.der
    assert cli.write(b"positional") == 10
    assert s.read(10) == b"positional"


def test_wrap_socket_keywords_with_paths(harness: Harness, files: Files, ca: pki.Cert) -> None:
    a, b = harness.socketpair()
    srv = harness.spawn(
        mpssl.wrap_socket, b, server_side=True, key=str(files.server_key_pem),
        cert=str(files.server_pem),
    )
    cli = harness.track_tls(
        mpssl.wrap_socket(
            a, cert_reqs=mpssl.CERT_REQUIRED, cadata=ca.pem, server_hostname="localhost",
            do_handshake=True,
        )
    )
    s = harness.track_tls(srv.join())
    assert cli.cipher() is not None
    s.write(b"kw")
    assert cli.read(2) == b"kw"


@pytest.mark.parametrize("as_path", [str, Path])
def test_wrap_socket_keyfile_certfile_spellings(
    harness: Harness, files: Files, server_cert: pki.Cert, as_path: type
) -> None:
    a, b = harness.socketpair()
    srv = harness.spawn(
        mpssl.wrap_socket, b, server_side=True, keyfile=as_path(files.server_key_der),
        certfile=as_path(files.server_der),
    )
    cli = harness.track_tls(
        mpssl.wrap_socket(a, cert_reqs=mpssl.CERT_REQUIRED, cadata=files.ca_der.read_bytes(),
                          server_hostname="localhost")
    )
    harness.track_tls(srv.join())
    assert cli.getpeercert(True) == server_cert.der


def test_wrap_socket_defaults_to_cert_none(harness: Harness, other_ca: pki.Cert) -> None:
    """No cadata, untrusted server, no hostname: the default client does not verify."""
    untrusted = pki.make_cert("elsewhere", issuer=other_ca, dns=("elsewhere.example",))
    a, b = harness.socketpair()
    srv = harness.spawn(mpssl.wrap_socket, b, True, untrusted.key_bytes(), untrusted.pem)
    cli = harness.track_tls(mpssl.wrap_socket(a))
    harness.track_tls(srv.join())
    assert cli.context.verify_mode == mpssl.CERT_NONE
    assert cli.server_hostname is None
    assert cli.version() in ("TLSv1.3", "TLSv1.2")
    assert cli.getpeercert(True) == untrusted.der


def test_wrap_socket_cert_required_verifies(
    harness: Harness, server_cert: pki.Cert, other_ca: pki.Cert
) -> None:
    a, b = harness.socketpair()
    srv = harness.spawn(mpssl.wrap_socket, b, True, server_cert.key_bytes(), server_cert.pem)
    with pytest.raises(ValueError) as ei:
        mpssl.wrap_socket(a, cert_reqs=mpssl.CERT_REQUIRED, cadata=other_ca.der,
                          server_hostname="localhost")
    assert str(ei.value) == NOT_TRUSTED
    assert isinstance(srv.exception(), OSError)


@pytest.mark.parametrize("do_handshake", [True, False])
def test_wrap_socket_cert_required_needs_hostname(
    socket_pair: tuple[socket.socket, socket.socket], ca: pki.Cert, do_handshake: bool
) -> None:
    a, b = socket_pair
    with pytest.raises(ValueError) as ei:
        mpssl.wrap_socket(a, cert_reqs=mpssl.CERT_REQUIRED, cadata=ca.der,
                          do_handshake=do_handshake)
    assert str(ei.value) == "CERT_REQUIRED requires server_hostname"
    assert_nothing_sent(b)


def test_wrap_socket_do_handshake_false_defers(
    harness: Harness, server_cert: pki.Cert, ca: pki.Cert
) -> None:
    a, b = harness.socketpair()
    cli = harness.track_tls(
        mpssl.wrap_socket(a, cert_reqs=mpssl.CERT_REQUIRED, cadata=ca.der,
                          server_hostname="localhost", do_handshake=False)
    )
    assert_nothing_sent(b)
    assert cli.cipher() is None

    def server() -> bytes:
        s = mpssl.wrap_socket(b, True, server_cert.key_bytes(), server_cert.pem)
        data = s.read(5)
        s.close()
        return data

    srv = harness.spawn(server)
    assert cli.write(b"later") == 5  # drives the handshake
    assert srv.join() == b"later"
    assert cli.cipher() is not None


def test_wrap_socket_key_without_cert_is_type_error(
    socket_pair: tuple[socket.socket, socket.socket], server_cert: pki.Cert
) -> None:
    a, _ = socket_pair
    with pytest.raises(TypeError):
        mpssl.wrap_socket(a, True, server_cert.key_bytes())
    with pytest.raises(TypeError):
        mpssl.wrap_socket(a, True, server_cert.key_bytes(), server_cert.pem,
                          keyfile=server_cert.key_bytes())


def test_wrap_socket_bad_key_and_cert(
    socket_pair: tuple[socket.socket, socket.socket], server_cert: pki.Cert
) -> None:
    a, _ = socket_pair
    with pytest.raises(ValueError) as ei:
        mpssl.wrap_socket(a, True, b"!", server_cert.der)
    assert str(ei.value) == "invalid key"
    with pytest.raises(ValueError) as ei:
        mpssl.wrap_socket(a, True, server_cert.key_bytes("pkcs8", "der"), b"!")
    assert str(ei.value) == "invalid cert"
    with pytest.raises(ValueError) as ei:
        mpssl.wrap_socket(a, cadata=b"!")
    assert str(ei.value) == "invalid cert"
