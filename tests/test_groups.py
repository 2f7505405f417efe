"""Key-exchange groups: X25519MLKEM768 preferred by default; set_groups / set_ecdh_curve."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

import mpssl
import pki
import pytest

TIMEOUT = 10


def _pki() -> tuple[bytes, bytes, bytes]:
    return (pki.testdata("ecdsa-p256/ca.der"), pki.testdata("ecdsa-p256/server.der"),
            pki.testdata("ecdsa-p256/server.key.der"))


def _pair(server: Any, client: Any) -> tuple[Any, BaseException | None]:
    """Handshake over loopback; returns the client socket and the server's error, if any."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        try:
            tls = server.wrap_socket(conn, server_side=True)
            tls.write(b"x")
            tls.read(1)
        except (OSError, ValueError) as e:
            errors.append(e)
        finally:
            conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        tls = client.wrap_socket(raw, server_hostname="localhost")
        assert tls.read(1) == b"x"
        tls.write(b"y")
        return tls, None
    except (OSError, ValueError) as e:
        raw.close()
        thread.join(TIMEOUT)
        return e, errors[0] if errors else None
    finally:
        thread.join(TIMEOUT)
        listener.close()


def _contexts() -> tuple[mpssl.SSLContext, mpssl.SSLContext, bytes]:
    ca, cert, key = _pki()
    server = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cadata=ca)
    return server, client, ca


def test_default_order_prefers_hybrid() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    assert ctx.get_groups() == ["X25519MLKEM768", "X25519", "secp256r1", "secp384r1"]
    server, client, _ = _contexts()
    tls, _ = _pair(server, client)
    assert tls.key_exchange_group() == "X25519MLKEM768"
    tls.close()


@pytest.mark.parametrize(
    "name,expected",
    [("X25519", "X25519"), ("prime256v1", "secp256r1"), ("P-384", "secp384r1")],
)
def test_set_ecdh_curve_is_negotiated(name: str, expected: str) -> None:
    server, client, _ = _contexts()
    client.set_ecdh_curve(name)
    assert client.get_groups() == [expected]
    tls, _ = _pair(server, client)
    assert tls.key_exchange_group() == expected
    tls.close()


def test_set_groups_keeps_order_and_drops_duplicates() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.set_groups(["secp384r1", "X25519", "secp384r1"])
    assert ctx.get_groups() == ["secp384r1", "X25519"]


@pytest.mark.parametrize("bad", [[], ["nope"], ["X25519", "brainpool"]])
def test_bad_group_names_raise_the_set_ciphers_error(bad: list[str]) -> None:
    # Changed on purpose (issue 9, item 6): set_groups and set_ecdh_curve fail as set_ciphers
    # does for the same cause, OSError(-24192, 'MBEDTLS_ERR_SSL_BAD_CONFIG') (was ValueError).
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(OSError) as e:
        ctx.set_groups(bad)
    assert e.value.args == (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG")
    assert ctx.get_groups()[0] == "X25519MLKEM768"
    with pytest.raises(OSError) as e:
        ctx.set_ecdh_curve("nope")
    assert e.value.args == (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG")


def test_no_shared_group_fails_both_sides() -> None:
    server, client, _ = _contexts()
    server.set_groups(["secp384r1"])
    client.set_groups(["X25519"])
    client_error, server_error = _pair(server, client)
    assert isinstance(client_error, OSError)
    assert client_error.args == (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
    assert isinstance(server_error, OSError)
    assert server_error.errno == -28160  # MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, nearest code


@pytest.mark.interop
def test_cpython_peer_negotiates_x25519_with_default_order() -> None:
    ca, cert, key = _pki()
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    cpython = ssl.create_default_context(cadata=ca)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: list[str | None] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        with ctx.wrap_socket(conn, server_side=True) as tls:
            seen.append(tls.key_exchange_group())
            tls.write(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with cpython.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT),
            server_hostname="localhost",
        ) as c:
            assert c.recv(2) == b"ok"
    finally:
        thread.join(TIMEOUT)
        listener.close()
    assert seen == ["X25519"]
