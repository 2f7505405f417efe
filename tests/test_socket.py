"""SSLSocket over blocking transports: stream semantics, close, peer info, timeouts, transports
that are not sockets, protocol versions, threads."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import mpssl
import pki
import pytest
from support import (
    JOIN_TIMEOUT,
    Files,
    Harness,
    PipeEnd,
    RecvSendOnly,
    Server,
    mpssl_client_ctx,
    mpssl_server_ctx,
    pipe_pair,
    read_all_cpython,
)

Pair = Callable[..., tuple[Any, Any]]
EBADF = 9


# --------------------------------------------------------------------------------------------
# Reading


def test_read_n_waits_for_n_bytes_or_eof(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    go = threading.Event()

    def server() -> None:
        srv.write(b"01234")  # two separate records
        srv.write(b"56789")
        assert go.wait(JOIN_TIMEOUT)
        srv.write(b"abc")
        srv.close()

    task = harness.spawn(server)
    assert cli.read(10) == b"0123456789"
    assert cli.eof_was_clean is None
    go.set()
    assert cli.read(10) == b"abc"  # EOF cut it short
    assert cli.read(10) == b""
    assert cli.read(0) == b""
    assert cli.eof_was_clean is True
    task.join()


def test_read_all_until_eof(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    payload = os.urandom(70000)

    def server() -> None:
        srv.write(payload[:10])
        srv.write(payload[10:40000])
        srv.write(payload[40000:])
        srv.close()

    task = harness.spawn(server)
    assert cli.read() == payload
    assert cli.read(-1) == b""
    task.join()


def test_readinto(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    task = harness.spawn(srv.write, b"abcdefghij" * 3)
    buf = bytearray(10)
    assert cli.readinto(buf) == 10
    assert buf == b"abcdefghij"
    big = bytearray(b"." * 20)
    mv = memoryview(big)[5:15]
    assert cli.readinto(mv) == 10
    assert big == b".....abcdefghij....."
    small = bytearray(b"*" * 8)
    assert cli.readinto(small, 4) == 4
    assert small == b"abcd****"
    assert cli.recv_into(small, 6) == 6  # blocking recv_into waits for its count
    assert small == b"efghij**"
    assert task.join() == 30
    srv.close()
    assert cli.readinto(bytearray(5)) == 0


def test_readline(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)

    def server() -> None:
        srv.write(b"line1\nline2\npar")
        srv.write(b"tial\nlimited line\nrest")
        srv.close()

    task = harness.spawn(server)
    assert cli.readline() == b"line1\n"
    assert cli.readline() == b"line2\n"
    assert cli.readline() == b"partial\n"  # across records
    assert cli.readline(7) == b"limited"
    assert cli.readline() == b" line\n"
    assert cli.readline() == b"rest"
    assert cli.readline() == b""
    task.join()


def test_recv_returns_what_is_available(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    # The raw time-out bounds the test if recv wrongly waited for the full count.
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=JOIN_TIMEOUT)
    go = threading.Event()

    def server() -> None:
        srv.write(b"01234")
        assert go.wait(JOIN_TIMEOUT)
        srv.write(b"more")

    task = harness.spawn(server)
    assert cli.recv(100) == b"01234"
    go.set()
    buf = bytearray(100)
    assert cli.recv_into(buf, 4) == 4
    assert buf[:4] == b"more"
    task.join()
    srv.write(b"x" * 3000)
    got = b""
    while len(got) < 3000:
        chunk = cli.recv()  # default size
        assert chunk
        assert len(chunk) <= 1024
        got += chunk
    assert got == b"x" * 3000


# --------------------------------------------------------------------------------------------
# Writing


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_write_buffer_types(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext, kind: Any,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    payload = os.urandom(100_000)
    task = harness.spawn(srv.read, len(payload) + 5)
    assert cli.write(kind(b"hello")) == 5
    assert cli.write(kind(payload)) == len(payload)
    assert cli.write(kind(b"")) == 0
    assert task.join() == b"hello" + payload


def test_send_is_one_record(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    assert cli.send(b"abc") == 3
    assert srv.read(3) == b"abc"
    payload = os.urandom(50_000)
    n = cli.send(payload)
    assert isinstance(n, int)
    assert 0 < n <= 16384
    assert srv.read(n) == payload[:n]


def test_sendall(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    payload = os.urandom(50_000)
    task = harness.spawn(srv.read, len(payload))
    assert cli.sendall(memoryview(payload)) == len(payload)
    assert task.join() == payload


def test_both_directions_server_side_writes(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    for i in range(20):
        msg = f"message {i}\n".encode()
        assert cli.write(msg) == len(msg)
        assert srv.readline() == msg
        assert srv.write(msg.upper()) == len(msg)
        assert cli.readline() == msg.upper()


# --------------------------------------------------------------------------------------------
# setblocking, fileno, close


def test_setblocking_is_forwarded(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
    harness: Harness,
) -> None:
    cli, _ = tls_pair(server_ctx, client_ctx)
    raw = harness.raw[-2]
    assert raw.getblocking()
    assert cli.setblocking(False) is None  # what socket.setblocking returns
    assert not raw.getblocking()
    cli.setblocking(True)
    assert raw.getblocking()
    cli.settimeout(2.5)
    assert raw.gettimeout() == 2.5
    assert cli.gettimeout() == 2.5
    cli.settimeout(None)
    assert raw.gettimeout() is None


def test_setblocking_forwarded_to_python_object(server_ctx: mpssl.SSLContext) -> None:
    end, _ = pipe_pair()
    s = server_ctx.wrap_socket(end, server_side=True, do_handshake_on_connect=False)
    assert s.setblocking(False) == "forwarded"
    assert s.setblocking(True) == "forwarded"
    assert end.blocking_calls == [False, True]
    s.close()
    assert end.closed


def test_fileno(tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
                harness: Harness) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    a, b = harness.raw[-2:]
    assert cli.fileno() == a.fileno() >= 0
    assert srv.fileno() == b.fileno() >= 0


def test_close_closes_wrapped_socket_and_is_idempotent(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
    harness: Harness,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    a = harness.raw[-2]
    assert cli.close() is None
    assert a.fileno() == -1
    cli.close()
    cli.close()
    assert srv.read() == b""
    assert srv.eof_was_clean is True


def test_io_after_close_is_ebadf(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, _ = tls_pair(server_ctx, client_ctx)
    cli.close()
    calls: list[Callable[[], Any]] = [
        lambda: cli.read(1), lambda: cli.read(), lambda: cli.readinto(bytearray(4)),
        lambda: cli.readline(), lambda: cli.write(b"x"), lambda: cli.recv(1),
        lambda: cli.recv_into(bytearray(1)), lambda: cli.send(b"x"),
        lambda: cli.sendall(b"x"), lambda: cli.setblocking(False),
    ]
    for call in calls:
        with pytest.raises(OSError) as ei:
            call()
        assert ei.value.errno == EBADF


@pytest.mark.interop
def test_close_notify_seen_by_cpython(
    tls_server: Callable[..., Server], cpython_server_ctx: ssl.SSLContext, ca: pki.Cert
) -> None:
    def handler(conn: socket.socket) -> bytes:
        with cpython_server_ctx.wrap_socket(conn, server_side=True,
                                            suppress_ragged_eofs=False) as s:
            return read_all_cpython(s)  # SSLEOFError unless close_notify arrived

    server = tls_server(handler)
    raw = server.connect()
    cli = mpssl_client_ctx(ca).wrap_socket(raw, server_hostname="localhost")
    cli.write(b"goodbye")
    cli.close()
    assert raw.fileno() == -1
    assert server.join() == b"goodbye"


@pytest.mark.interop
def test_bare_close_is_ragged_for_cpython(
    tls_server: Callable[..., Server], cpython_server_ctx: ssl.SSLContext, ca: pki.Cert,
    harness: Harness,
) -> None:
    """Control for the test above: without close_notify CPython does complain."""

    def handler(conn: socket.socket) -> bytes:
        with cpython_server_ctx.wrap_socket(conn, server_side=True,
                                            suppress_ragged_eofs=False) as s:
            return read_all_cpython(s)

    server = tls_server(handler)
    raw = server.connect()
    cli = harness.track_tls(mpssl_client_ctx(ca).wrap_socket(raw, server_hostname="localhost"))
    cli.write(b"x")
    raw.shutdown(socket.SHUT_RDWR)
    assert isinstance(server.exception(), ssl.SSLEOFError)


@pytest.mark.interop
def test_cpython_unwrap_gives_clean_eof(
    tls_server: Callable[..., Server], cpython_server_ctx: ssl.SSLContext, ca: pki.Cert,
    harness: Harness,
) -> None:
    def handler(conn: socket.socket) -> None:
        with cpython_server_ctx.wrap_socket(conn, server_side=True) as s:
            s.sendall(b"bye")
            s.unwrap()  # sends close_notify, then waits for ours

    server = tls_server(handler)
    raw = server.connect()
    cli = harness.track_tls(mpssl_client_ctx(ca).wrap_socket(raw, server_hostname="localhost"))
    assert cli.read() == b"bye"
    assert cli.eof_was_clean is True
    cli.close()  # our close_notify completes CPython's unwrap()
    server.join()


def test_bare_tcp_close_reads_as_unclean_eof(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    srv.write(b"data")
    harness.raw[-1].shutdown(socket.SHUT_RDWR)  # the server's raw socket, no close_notify
    assert cli.eof_was_clean is None
    assert cli.read() == b"data"
    assert cli.read(1) == b""
    assert cli.eof_was_clean is False


def test_context_manager(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
    harness: Harness,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    a = harness.raw[-2]
    with cli as s:
        assert s is cli
        s.write(b"in with")
    assert a.fileno() == -1
    with pytest.raises(OSError) as ei:
        cli.read(1)
    assert ei.value.errno == EBADF
    assert srv.read() == b"in with"
    assert srv.eof_was_clean is True


def test_repr_and_attributes(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    assert repr(cli).startswith("<SSLSocket")
    assert repr(srv).startswith("<SSLSocket")
    assert type(cli).__name__ == "SSLSocket"
    assert cli.context is client_ctx
    assert srv.context is server_ctx
    assert cli.server_side is False
    assert srv.server_side is True
    assert cli.server_hostname == "localhost"
    assert cli.session_reused is False


# --------------------------------------------------------------------------------------------
# Peer information


def test_getpeercert_binary(
    harness: Harness, server_cert: pki.Cert, client_cert: pki.Cert, ca: pki.Cert,
    tls_pair: Pair,
) -> None:
    sctx = mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED)
    sctx.load_verify_locations(cadata=ca.der)
    cctx = mpssl_client_ctx(ca)
    cctx.load_cert_chain(client_cert.pem, client_cert.key_bytes())
    cli, srv = tls_pair(sctx, cctx)
    assert cli.getpeercert(binary_form=True) == server_cert.der
    assert srv.getpeercert(True) == client_cert.der
    chain = cli.get_peer_cert_chain()
    assert chain is not None and chain[0] == server_cert.der


def test_getpeercert_without_client_certificate(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    _, srv = tls_pair(server_ctx, client_ctx)
    assert srv.getpeercert(True) is None


def test_getpeercert_dict_matches_cpython(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
    session_files: Files, tmp_path: Any, server_cert: pki.Cert,
) -> None:
    cli, _ = tls_pair(server_ctx, client_ctx)
    got = cli.getpeercert()
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(server_cert.pem)
    want = ssl._ssl._test_decode_cert(str(leaf))  # type: ignore[attr-defined]
    assert isinstance(got, dict)
    assert got["subject"] == ((("commonName", "localhost"),),)
    assert got["issuer"] == ((("commonName", "mpssl test CA"),),)
    assert ("DNS", "localhost") in got["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in got["subjectAltName"]
    for key in ("subject", "issuer", "notAfter", "notBefore", "subjectAltName"):
        assert got[key] == want[key], key
    assert ssl.cert_time_to_seconds(got["notAfter"]) > time.time()


def test_cipher_and_version_lifecycle(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    cli = harness.track_tls(client_ctx.wrap_socket(a, server_hostname="localhost",
                                                   do_handshake_on_connect=False))
    assert cli.cipher() is None
    assert cli.version() is None
    srv = harness.spawn(server_ctx.wrap_socket, b, server_side=True)
    assert cli.write(b"x") == 1
    s = harness.track_tls(srv.join())
    c = cli.cipher()
    assert isinstance(c, tuple) and len(c) == 2
    assert c[1] == "TLSv1.3"
    assert c[0] in client_ctx.get_ciphers()
    assert c == s.cipher()
    assert cli.version() == "TLSv1.3"
    cli.close()
    assert cli.cipher() is None


def test_key_exchange_group_between_mpssl_peers(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    assert cli.key_exchange_group() == "X25519MLKEM768"
    assert srv.key_exchange_group() == "X25519MLKEM768"


def test_tls12_between_mpssl_peers(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    client_ctx.set_ciphers(["TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
                            "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])
    cli, srv = tls_pair(server_ctx, client_ctx)
    assert cli.version() == srv.version() == "TLSv1.2"
    assert cli.cipher() == ("TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", "TLSv1.2")
    cli.write(b"twelve")
    assert srv.read(6) == b"twelve"
    srv.close()
    assert cli.read() == b""
    assert cli.eof_was_clean is True


# --------------------------------------------------------------------------------------------
# Real TCP on loopback, CPython peers, SNI, protocol versions


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_tcp_echo_with_ip_hostname(
    tls_server: Callable[..., Server], server_ctx: mpssl.SSLContext, ca: pki.Cert, host: str
) -> None:
    def handler(conn: socket.socket) -> bytes:
        s = server_ctx.wrap_socket(conn, server_side=True)
        line = s.readline()
        s.write(line[::-1])
        s.close()
        return line

    server = tls_server(handler, host=host)
    cli = mpssl_client_ctx(ca).wrap_socket(server.connect(), server_hostname=host)
    cli.write(b"hello over tcp\n")
    assert cli.read() == b"\npct revo olleh"
    cli.close()
    assert server.join() == b"hello over tcp\n"


@pytest.mark.interop
@pytest.mark.parametrize("hostname", ["localhost", None])
def test_sni_seen_by_cpython_server(
    tls_server: Callable[..., Server], cpython_server_ctx: ssl.SSLContext, ca: pki.Cert,
    hostname: str | None,
) -> None:
    seen: list[str | None] = []
    cpython_server_ctx.sni_callback = lambda sock, name, ctx: seen.append(name)  # type: ignore[assignment,misc]

    def handler(conn: socket.socket) -> bytes:
        with cpython_server_ctx.wrap_socket(conn, server_side=True) as s:
            data = s.recv(10)
            s.sendall(data)
            return data

    server = tls_server(handler)
    cctx = mpssl_client_ctx(ca)
    if hostname is None:
        cctx.verify_mode = mpssl.CERT_NONE
    cli = cctx.wrap_socket(server.connect(), server_hostname=hostname)
    cli.write(b"sni")
    assert cli.read(3) == b"sni"
    cli.close()
    assert server.join() == b"sni"
    assert seen == [hostname]


@pytest.mark.interop
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_mpssl_client_cpython_server_versions(
    tls_server: Callable[..., Server], cpython_server_ctx: ssl.SSLContext, ca: pki.Cert,
    maximum: ssl.TLSVersion,
) -> None:
    cpython_server_ctx.maximum_version = maximum

    def handler(conn: socket.socket) -> tuple[Any, Any]:
        with cpython_server_ctx.wrap_socket(conn, server_side=True) as s:
            s.sendall(s.recv(5))
            return s.version(), s.cipher()

    server = tls_server(handler)
    cli = mpssl_client_ctx(ca).wrap_socket(server.connect(), server_hostname="localhost")
    cli.write(b"12345")
    assert cli.read(5) == b"12345"
    want = "TLSv1.2" if maximum == ssl.TLSVersion.TLSv1_2 else "TLSv1.3"
    assert cli.version() == want
    name, version = cli.cipher()
    assert version == want
    assert name in cli.context.get_ciphers()
    if want == "TLSv1.2":
        assert name.startswith("TLS-ECDHE-ECDSA-WITH-")
    cli.close()
    assert server.join()[0] == want


@pytest.mark.interop
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_cpython_client_mpssl_server_versions(
    tls_server: Callable[..., Server], server_ctx: mpssl.SSLContext,
    cpython_client_ctx: ssl.SSLContext, maximum: ssl.TLSVersion,
) -> None:
    cpython_client_ctx.maximum_version = maximum

    def handler(conn: socket.socket) -> tuple[Any, Any]:
        s = server_ctx.wrap_socket(conn, server_side=True)
        s.write(s.read(4))
        result = (s.version(), s.cipher())
        s.close()
        return result

    server = tls_server(handler)
    with cpython_client_ctx.wrap_socket(server.connect(), server_hostname="localhost") as c:
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
        want = c.version()
        assert c.recv(1) == b""  # close_notify from mpssl
    version, cipher = server.join()
    assert version == want == ("TLSv1.2" if maximum == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
    assert cipher[1] == want


# --------------------------------------------------------------------------------------------
# Timeouts on blocking sockets


def test_timeout_is_reported_and_not_fatal(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=0.3)
    go = threading.Event()

    def server() -> bytes:
        assert go.wait(JOIN_TIMEOUT)
        srv.write(b"late")
        return srv.read(3)

    task = harness.spawn(server)
    for call in (lambda: cli.read(4), lambda: cli.recv(4)):
        t0 = time.monotonic()
        with pytest.raises(TimeoutError) as ei:
            call()
        elapsed = time.monotonic() - t0
        assert isinstance(ei.value, OSError)
        assert 0.2 <= elapsed < 3.0, elapsed
    go.set()
    assert cli.read(4) == b"late"
    assert cli.write(b"ack") == 3
    assert task.join() == b"ack"


def test_timeout_set_through_sslsocket(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    cli, srv = tls_pair(server_ctx, client_ctx)
    cli.settimeout(0.2)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        cli.readline()
    assert time.monotonic() - t0 < 3.0
    srv.write(b"line\n")
    assert cli.readline() == b"line\n"


# --------------------------------------------------------------------------------------------
# Wrapped objects that are not sockets


def test_blocking_pipe_transport(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
    server_cert: pki.Cert,
) -> None:
    c_end, s_end = pipe_pair()
    srv_task = harness.spawn(server_ctx.wrap_socket, s_end, server_side=True)
    cli = client_ctx.wrap_socket(c_end, server_hostname="localhost")
    srv = srv_task.join()
    assert cli.getpeercert(True) == server_cert.der
    assert c_end.read_calls > 0 and c_end.write_calls > 0

    # read(10) must keep waiting after the first record: observe it blocking in readinto.
    reader = harness.spawn(cli.read, 10)
    srv.write(b"01234")
    # Wait until the reader consumed that record and blocks on the empty pipe for more.
    assert c_end.rx.wait_drained_and_blocked()
    assert not reader.done.is_set()
    srv.write(b"56789")
    assert reader.join() == b"0123456789"

    cli.write(b"x" * 40000)
    assert srv.read(40000) == b"x" * 40000
    cli.close()
    assert c_end.closed
    assert srv.read() == b""
    assert srv.eof_was_clean is True
    srv.close()
    assert s_end.closed


def test_recv_into_send_only_transport(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    a, b = harness.socketpair()
    wrapped = RecvSendOnly(a)
    srv_task = harness.spawn(server_ctx.wrap_socket, b, server_side=True)
    cli = harness.track_tls(client_ctx.wrap_socket(wrapped, server_hostname="localhost"))
    srv = harness.track_tls(srv_task.join())
    payload = os.urandom(30000)
    task = harness.spawn(srv.read, len(payload))
    assert cli.write(payload) == len(payload)
    assert task.join() == payload
    srv.write(b"back")
    assert cli.read(4) == b"back"
    assert wrapped.recv_into_calls > 0 and wrapped.send_calls > 0
    cli.close()
    assert a.fileno() == -1


def test_pipe_transport_eof_during_handshake(server_ctx: mpssl.SSLContext) -> None:
    end, peer = pipe_pair()
    peer.close()
    with pytest.raises(OSError) as ei:
        server_ctx.wrap_socket(end, server_side=True)
    assert ei.value.args == (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")


# --------------------------------------------------------------------------------------------
# Threads


def test_one_context_eight_threads(
    harness: Harness, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    n = 8
    barrier = threading.Barrier(2 * n, timeout=JOIN_TIMEOUT)

    def server(sock: socket.socket) -> bytes:
        barrier.wait()
        s = server_ctx.wrap_socket(sock, server_side=True)
        line = s.readline()
        s.write(line.upper())
        s.close()
        return line

    def client(sock: socket.socket, i: int) -> bytes:
        barrier.wait()
        c = client_ctx.wrap_socket(sock, server_hostname="localhost")
        c.write(f"thread {i}\n".encode())
        data = c.read()
        c.close()
        return data

    tasks = []
    for i in range(n):
        a, b = harness.socketpair()
        tasks.append((i, harness.spawn(server, b), harness.spawn(client, a, i)))
    for i, st, ct in tasks:
        assert ct.join() == f"THREAD {i}\n".encode()
        assert st.join() == f"thread {i}\n".encode()


def test_one_socket_two_threads(
    harness: Harness, tls_pair: Pair, server_ctx: mpssl.SSLContext,
    client_ctx: mpssl.SSLContext,
) -> None:
    # The raw time-out bounds the test should the two threads deadlock on the socket.
    cli, srv = tls_pair(server_ctx, client_ctx, client_timeout=5.0)
    chunks = [bytes([i % 251]) * 4096 + i.to_bytes(4, "big") for i in range(200)]
    total = sum(len(c) for c in chunks)

    def echo() -> int:
        n = 0
        while True:
            data = srv.recv(65536)
            if not data:
                return n
            n += len(data)
            srv.write(data)

    def writer() -> None:
        for c in chunks:
            assert cli.write(c) == len(c)

    echo_task = harness.spawn(echo)
    writer_task = harness.spawn(writer)
    try:
        received = cli.read(total)
    except TimeoutError:
        pytest.fail("the reading and the writing thread deadlocked on one SSLSocket: "
                    "a blocking read() keeps the writer out")
    writer_task.join()
    assert received == b"".join(chunks)
    cli.close()
    assert echo_task.join() == total


def test_pipe_end_is_a_real_pipe() -> None:
    """Sanity check of the helper used above."""
    a, b = pipe_pair(blocking=False)
    assert a.readinto(bytearray(1)) is None
    assert b.write(b"xy") == 2
    buf = bytearray(5)
    assert a.readinto(buf) == 2 and buf[:2] == b"xy"
    assert isinstance(a, PipeEnd)
