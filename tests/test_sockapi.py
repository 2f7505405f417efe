"""CPython's socket API on mpssl: ``check_hostname``, ``makefile``, ``unwrap``, ``sendfile``,
``shutdown``, ``getpeername``/``getsockname``, ``session`` (issue 11)."""

from __future__ import annotations

import io
import select
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
from support import Harness, handshake_pair, mpssl_client_ctx

Pair = Callable[..., tuple[Any, Any]]


# --------------------------------------------------------------------------------------------
# check_hostname


def test_check_hostname_defaults_follow_cpython_and_micropython() -> None:
    client = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    assert client.check_hostname is True
    assert client.verify_mode == mpssl.CERT_REQUIRED
    assert mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER).check_hostname is False
    # MicroPython programs only set verify_mode: CERT_NONE is accepted and checks nothing.
    client.verify_mode = mpssl.CERT_NONE
    assert client.check_hostname is False
    client.verify_mode = mpssl.CERT_OPTIONAL
    assert client.check_hostname is True


def test_check_hostname_true_switches_cert_none_to_required_and_refuses_cert_none() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = mpssl.CERT_NONE
    ctx.check_hostname = True
    assert ctx.verify_mode == mpssl.CERT_REQUIRED
    with pytest.raises(
        ValueError, match="Cannot set verify_mode to CERT_NONE when check_hostname is enabled"
    ):
        ctx.verify_mode = mpssl.CERT_NONE
    assert ctx.verify_mode == mpssl.CERT_REQUIRED
    ctx.check_hostname = False
    ctx.verify_mode = mpssl.CERT_NONE
    assert (ctx.check_hostname, ctx.verify_mode) == (False, mpssl.CERT_NONE)


def test_check_hostname_false_verifies_the_chain_not_the_name(
    harness: Harness, server_ctx: mpssl.SSLContext, ca: pki.Cert, other_ca: pki.Cert
) -> None:
    ctx = mpssl_client_ctx(ca)
    ctx.check_hostname = False
    for name in ("wrong.example", None):
        client, _server = handshake_pair(harness, server_ctx, ctx, name, ping=b"hi", pong=b"ok")
        assert not isinstance(client, BaseException), client
        assert client.verify_result() == 0
    stranger = mpssl_client_ctx(other_ca)
    stranger.check_hostname = False
    client, _ = handshake_pair(harness, server_ctx, stranger, "localhost")
    assert isinstance(client, ValueError), client
    assert "not correctly signed by the trusted CA" in str(client)


def test_check_hostname_default_still_checks_the_name(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, _ = handshake_pair(harness, server_ctx, client_ctx, "wrong.example")
    assert isinstance(client, ValueError), client
    a, _b = harness.socketpair()
    with pytest.raises(ValueError, match="server_hostname"):
        client_ctx.wrap_socket(a)


# --------------------------------------------------------------------------------------------
# makefile


def test_makefile_binary_reads_lines_without_waiting_for_a_full_buffer(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, server = tls_pair(server_ctx, client_ctx)
    server.write(b"HTTP/1.1 200 OK\r\nlen: 3\r\n\r\nabc")
    rfile = client.makefile("rb")
    assert rfile.readline() == b"HTTP/1.1 200 OK\r\n"
    assert rfile.readline() == b"len: 3\r\n"
    assert rfile.readline() == b"\r\n"
    assert rfile.read(3) == b"abc"
    wfile = client.makefile("wb")
    wfile.write(b"reply\n")
    wfile.flush()
    assert server.readline() == b"reply\n"
    rfile.close()
    wfile.close()
    # The socket stays usable after its files are closed.
    client.write(b"more")
    assert server.read(4) == b"more"


def test_makefile_text_and_rw_modes(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, server = tls_pair(server_ctx, client_ctx)
    f = client.makefile("rw", encoding="utf-8", newline="")
    f.write("grüß\r\n")
    f.flush()
    assert server.readline() == "grüß\r\n".encode()
    server.write("ça va\r\n".encode())
    assert f.readline() == "ça va\r\n"
    assert f.mode == "rw"
    f.close()
    raw = client.makefile("rb", buffering=0)
    assert isinstance(raw, io.RawIOBase)
    assert raw.fileno() == client.fileno()
    server.write(b"xy")
    buf = bytearray(10)
    assert raw.readinto(buf) == 2 and buf[:2] == b"xy"
    raw.close()


def test_makefile_bad_arguments(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, _server = tls_pair(server_ctx, client_ctx)
    with pytest.raises(ValueError, match="invalid mode"):
        client.makefile("rx")
    with pytest.raises(ValueError, match="unbuffered streams must be binary"):
        client.makefile("r", buffering=0)
    # Failed calls hold no reference: close() closes at once.
    client.close()
    assert client.fileno() == -1


def test_close_waits_for_the_last_makefile_file(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    """As CPython's socket (what http.client relies on): ``sock.close()`` while a makefile'd
    file is open leaves the connection open until that file closes."""
    client, server = tls_pair(server_ctx, client_ctx)
    rfile = client.makefile("rb")
    client.close()
    server.write(b"still here\n")
    assert rfile.readline() == b"still here\n"
    assert client.fileno() != -1
    rfile.close()
    assert client.fileno() == -1
    assert server.read() == b""  # close_notify went out with the real close
    assert server.eof_was_clean is True


# --------------------------------------------------------------------------------------------
# unwrap, shutdown


def test_unwrap_both_ends_then_plain_bytes(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()

    def serve() -> bytes:
        tls = harness.track_tls(server_ctx.wrap_socket(b, server_side=True))
        assert tls.read(5) == b"hello"
        plain = tls.unwrap()
        assert plain is b
        plain.sendall(b"in the clear")
        return bytes(plain.recv(100))

    task = harness.spawn(serve)
    tls = client_ctx.wrap_socket(a, server_hostname="localhost")
    tls.write(b"hello")
    plain = tls.unwrap()
    assert plain is a
    assert recv_exactly(plain, 12) == b"in the clear"
    with pytest.raises(OSError):
        tls.write(b"x")
    plain.sendall(b"bye")
    assert task.join() == b"bye"
    tls.close()  # closes the plain socket too, as in CPython (where they are one object)
    assert plain.fileno() == -1


def test_unwrap_against_cpython_ssl(
    harness: Harness, cpython_server_ctx: ssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()

    def serve() -> bytes:
        tls = cpython_server_ctx.wrap_socket(b, server_side=True)
        assert tls.recv(5) == b"hello"
        plain = tls.unwrap()
        plain.sendall(b"clear")
        data = plain.recv(100)
        plain.close()
        return data

    task = harness.spawn(serve)
    tls = client_ctx.wrap_socket(a, server_hostname="localhost")
    tls.write(b"hello")
    plain = tls.unwrap()
    assert recv_exactly(plain, 5) == b"clear"
    plain.sendall(b"back")
    assert task.join() == b"back"


def test_unwrap_without_close_notify_from_the_peer_fails(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()

    def serve() -> None:
        tls = harness.track_tls(server_ctx.wrap_socket(b, server_side=True))
        assert tls.read(1) == b""  # the client's close_notify
        b.shutdown(socket.SHUT_RDWR)  # no answer

    task = harness.spawn(serve)
    tls = harness.track_tls(client_ctx.wrap_socket(a, server_hostname="localhost"))
    with pytest.raises(OSError) as e:
        tls.unwrap()
    assert e.value.args == (-0x7280, "MBEDTLS_ERR_SSL_CONN_EOF")
    task.join()


def test_shutdown_wr_sends_close_notify_and_reads_go_on(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, server = tls_pair(server_ctx, client_ctx)
    client.shutdown(socket.SHUT_WR)
    assert server.read() == b""
    assert server.eof_was_clean is True
    server.write(b"answer")
    assert client.read(6) == b"answer"


def test_peer_and_sock_names_and_session(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, _server = tls_pair(server_ctx, client_ctx)
    raw = harness.raw[-2]
    assert client.getpeername() == raw.getpeername()
    assert client.getsockname() == raw.getsockname()
    assert client.session is None
    a, _b = harness.socketpair()
    with pytest.raises(TypeError, match="session must be None"):
        client_ctx.wrap_socket(a, server_hostname="localhost", session=object())


# --------------------------------------------------------------------------------------------
# sendfile


def test_sendfile_offset_and_count(
    tmp_path: Path, tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client, server = tls_pair(server_ctx, client_ctx)
    data = bytes(range(256)) * 200  # 51200 bytes: several records
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with path.open("rb") as f:
        assert client.sendfile(f) == len(data)
        assert f.tell() == len(data)
        assert server.read(len(data)) == data
        assert client.sendfile(f, 100, 1000) == 1000
        assert f.tell() == 1100
        assert server.read(1000) == data[100:1100]
    with path.open("r") as text, pytest.raises(ValueError, match="binary mode"):
        client.sendfile(text)


def recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "EOF"
        out += chunk
    return out


def test_close_with_unread_peer_bytes_still_delivers_everything(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    """Regression (an FTP upload over TLS lost data): the peer sent bytes this end never reads
    (TLS 1.3 session tickets from CPython's ssl; here a message); closing with them unread
    made the kernel reset the TCP connection, and the peer lost what it had not read yet."""
    listener = harness.track(socket.create_server(("127.0.0.1", 0)))
    listener.settimeout(10)
    data = bytes(range(256)) * 2048

    def serve() -> tuple[int, bool, bool | None]:
        conn, _ = listener.accept()
        harness.track(conn)
        tls = harness.track_tls(server_ctx.wrap_socket(conn, server_side=True))
        tls.write(b"never read by the client")
        assert tls.read(1) == b"!"
        got = tls.read()
        return len(got), got == data, tls.eof_was_clean

    task = harness.spawn(serve)
    a = harness.track(socket.create_connection(listener.getsockname(), timeout=10))
    tls = client_ctx.wrap_socket(a, server_hostname="localhost")
    tls.write(b"!")
    assert select.select([a], [], [], 10)[0]  # the server's bytes wait, unread
    tls.write(data)
    tls.close()
    assert task.join() == (len(data), True, True)
