"""Typed usage of the public API: ``mypy --strict`` checks this file (``[tool.mypy] files``),
and pytest runs it as an ordinary test."""

from __future__ import annotations

import selectors
import socket
import threading
from pathlib import Path

import mpssl
import pki


def make_server_context(cert: pki.Cert) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile=cert.chain_pem, keyfile=cert.key_bytes())
    ciphers: list[str] = ctx.get_ciphers()
    ctx.set_ciphers(ciphers)
    return ctx


def make_client_context(ca_file: Path) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_file)
    mode: int = ctx.verify_mode
    assert mode == mpssl.CERT_REQUIRED
    ctx.hostname_checks_common_name = False
    return ctx


def serve_once(ctx: mpssl.SSLContext, sock: socket.socket, out: list[bytes]) -> None:
    with ctx.wrap_socket(sock, server_side=True) as tls:
        line: bytes | None = tls.readline()
        assert line is not None
        out.append(line)
        written: int | None = tls.write(line.upper())
        assert written == len(line)


def exchange(client: mpssl.SSLSocket, message: bytes) -> bytes:
    assert client.write(message) == len(message)
    data = client.read()
    assert data is not None
    return data


def describe(tls: mpssl.SSLSocket) -> tuple[str, str, str | None, int]:
    cipher: tuple[str, str] | None = tls.cipher()
    assert cipher is not None
    der: bytes = tls.getpeercert(True)
    events: int = tls.wants() & (selectors.EVENT_READ | selectors.EVENT_WRITE)
    return cipher[0], cipher[1], tls.version(), len(der) + events * 0


def test_typed_roundtrip(tmp_path: Path) -> None:
    ca = pki.make_ca()
    leaf = pki.make_cert("localhost", issuer=ca, dns=("localhost",))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.pem)
    server_ctx = make_server_context(leaf)
    client_ctx = make_client_context(ca_file)

    a, b = socket.socketpair()
    received: list[bytes] = []
    thread = threading.Thread(target=serve_once, args=(server_ctx, b, received))
    thread.start()
    try:
        client = client_ctx.wrap_socket(a, server_hostname="localhost")
        try:
            name, version, reported, der_len = describe(client)
            assert name in client_ctx.get_ciphers()
            assert version == reported == "TLSv1.3"
            assert der_len == len(leaf.der)
            assert exchange(client, b"typed\n") == b"TYPED\n"
            assert client.eof_was_clean is True
            assert client.pending() == 0
        finally:
            client.close()
    finally:
        thread.join(10)
        a.close()
        b.close()
    assert not thread.is_alive()
    assert received == [b"typed\n"]


def test_typed_module_wrap_socket() -> None:
    a, b = socket.socketpair()
    try:
        tls: mpssl.SSLSocket = mpssl.wrap_socket(a, do_handshake=False)
        assert tls.context.verify_mode == mpssl.CERT_NONE
        assert isinstance(mpssl.RUSTLS_VERSION, str)
        tls.close()
    finally:
        a.close()
        b.close()
