"""Standard-library TLS clients on an ``mpssl.SSLContext`` (issue 11): ``http.client``,
``urllib.request``, ``smtplib.SMTP_SSL`` and ``ftplib.FTP_TLS`` against small servers on
127.0.0.1 whose TLS is CPython's ``ssl`` with the committed ``testdata/`` PKI.

Each consumer moves real data both ways, and fails with mpssl's verification ``ValueError``
for a wrong host name and for an untrusted CA. The snippets are those of
``docs/cpython-consumers.md``.
"""

from __future__ import annotations

import contextlib
import ftplib
import http.client
import http.server
import smtplib
import socket
import ssl
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
from support import JOIN_TIMEOUT, Harness

HOST = "127.0.0.1"
BODY = b"hello from https\n" * 100
NAME_MISMATCH = "does not match with the expected CN"
NOT_TRUSTED = "not correctly signed by the trusted CA"


def cpython_server_context(tmp: Path, leaf: str = "server") -> ssl.SSLContext:
    """A CPython server context presenting ``testdata/ecdsa-p256/<leaf>`` (``server``: SAN
    localhost/127.0.0.1/::1; ``server-test``: SAN server.test)."""
    cert = pki.load(leaf)
    (tmp / f"{leaf}.pem").write_bytes(cert.chain_pem)
    (tmp / f"{leaf}.key").write_bytes(cert.key_bytes("pkcs8", "pem"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / f"{leaf}.pem", tmp / f"{leaf}.key")
    return ctx


def client_context(ca: str = "ca") -> mpssl.SSLContext:
    """What the docs show: a CERT_REQUIRED mpssl client context trusting ``ca``."""
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pki.load(ca).pem)
    return ctx


# --------------------------------------------------------------------------------------------
# HTTPS


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: several requests per connection

    def do_GET(self) -> None:
        body = BODY if self.path != "/close" else b"last"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[::-1])

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpsServer:
    def __init__(self, ctx: ssl.SSLContext) -> None:
        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(JOIN_TIMEOUT)
        assert not self.thread.is_alive()


def https_servers(tmp_path: Path) -> Iterator[Callable[[str], HttpsServer]]:
    """Yield ``start(leaf)``, which starts an :class:`HttpsServer`; stop them all after."""
    servers: list[HttpsServer] = []

    def start(leaf: str = "server") -> HttpsServer:
        servers.append(HttpsServer(cpython_server_context(tmp_path, leaf)))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[Callable[[str], HttpsServer]]:
    yield from https_servers(tmp_path)


def test_http_client_keep_alive_get_and_post(https_server: Callable[[str], HttpsServer]) -> None:
    port = https_server("server").port
    conn = http.client.HTTPSConnection("localhost", port, context=client_context(), timeout=10)
    conn.request("GET", "/")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, BODY)
    first = conn.sock
    conn.request("POST", "/echo", body=b"abc" * 5000)
    assert conn.getresponse().read() == (b"abc" * 5000)[::-1]
    assert conn.sock is first  # the same TLS connection served both requests
    assert isinstance(first, mpssl.SSLSocket)
    # "Connection: close": http.client closes the socket while the response is unread.
    conn.request("GET", "/close")
    resp = conn.getresponse()
    assert conn.sock is None
    assert resp.read() == b"last"
    resp.close()
    assert first.fileno() == -1
    conn.close()


@pytest.mark.parametrize(
    ("leaf", "ca", "text"),
    [("server-test", "ca", NAME_MISMATCH), ("server", "other-ca", NOT_TRUSTED)],
    ids=["wrong-host", "untrusted-ca"],
)
def test_http_client_refuses_a_bad_server(
    https_server: Callable[[str], HttpsServer], leaf: str, ca: str, text: str
) -> None:
    port = https_server(leaf).port
    conn = http.client.HTTPSConnection("localhost", port, context=client_context(ca), timeout=10)
    with pytest.raises(ValueError, match=text):
        conn.request("GET", "/")
    conn.close()


def test_http_client_check_hostname_false_verifies_only_the_chain(
    https_server: Callable[[str], HttpsServer],
) -> None:
    port = https_server("server-test").port
    ctx = client_context()
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == BODY
    conn.close()
    untrusted = client_context("other-ca")
    untrusted.check_hostname = False
    conn = http.client.HTTPSConnection("localhost", port, context=untrusted, timeout=10)
    with pytest.raises(ValueError, match=NOT_TRUSTED):
        conn.request("GET", "/")
    conn.close()


def test_urlopen_and_https_handler(https_server: Callable[[str], HttpsServer]) -> None:
    url = f"https://localhost:{https_server('server').port}/"
    with urllib.request.urlopen(url, context=client_context(), timeout=10) as resp:
        assert resp.read() == BODY
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=client_context()))
    with opener.open(url, data=b"posted", timeout=10) as resp:
        assert resp.read() == b"detsop"


@pytest.mark.parametrize(
    ("leaf", "ca", "text"),
    [("server-test", "ca", NAME_MISMATCH), ("server", "other-ca", NOT_TRUSTED)],
    ids=["wrong-host", "untrusted-ca"],
)
def test_urlopen_refuses_a_bad_server(
    https_server: Callable[[str], HttpsServer], leaf: str, ca: str, text: str
) -> None:
    url = f"https://localhost:{https_server(leaf).port}/"
    # mpssl's verification error is a ValueError, not an OSError: urllib does not wrap it in
    # URLError (CPython's ssl.SSLCertVerificationError is both, and gets wrapped).
    with pytest.raises(ValueError, match=text):
        urllib.request.urlopen(url, context=client_context(ca), timeout=10)


# --------------------------------------------------------------------------------------------
# SMTP over TLS


def smtp_responder(harness: Harness, ctx: ssl.SSLContext) -> tuple[int, Any]:
    """Accept one SMTPS connection; answer EHLO/MAIL/RCPT/DATA/QUIT; return the message."""
    listener = harness.track(socket.create_server((HOST, 0)))
    listener.settimeout(JOIN_TIMEOUT)

    def serve() -> bytes:
        conn, _ = listener.accept()
        harness.track(conn)
        with ctx.wrap_socket(conn, server_side=True) as tls, tls.makefile("rb") as rfile:
            tls.sendall(b"220 localhost ESMTP test\r\n")
            message = b""
            while line := rfile.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    tls.sendall(b"250-localhost\r\n250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT"):
                    tls.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    tls.sendall(b"354 go on\r\n")
                    while (data := rfile.readline()) != b".\r\n":
                        assert data, "EOF in DATA"
                        message += data
                    tls.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    tls.sendall(b"221 bye\r\n")
                    break
                else:
                    tls.sendall(b"502 what\r\n")
            return message

    return listener.getsockname()[1], harness.spawn(serve)


def test_smtp_ssl_sends_a_message(harness: Harness, tmp_path: Path) -> None:
    port, server = smtp_responder(harness, cpython_server_context(tmp_path))
    with smtplib.SMTP_SSL("localhost", port, context=client_context(), timeout=10) as smtp:
        code, _ = smtp.ehlo()
        assert code == 250
        smtp.sendmail("a@localhost", ["b@localhost"], "Subject: hi\r\n\r\nbody text\r\n")
    message = server.join()
    assert b"Subject: hi\r\n" in message and b"body text\r\n" in message


@pytest.mark.parametrize(
    ("leaf", "ca", "text"),
    [("server-test", "ca", NAME_MISMATCH), ("server", "other-ca", NOT_TRUSTED)],
    ids=["wrong-host", "untrusted-ca"],
)
def test_smtp_ssl_refuses_a_bad_server(
    harness: Harness, tmp_path: Path, leaf: str, ca: str, text: str
) -> None:
    port, server = smtp_responder(harness, cpython_server_context(tmp_path, leaf))
    with pytest.raises(ValueError, match=text) as failed:
        smtplib.SMTP_SSL("localhost", port, context=client_context(ca), timeout=10)
    assert isinstance(server.exception(), ssl.SSLError)
    # The documented limit: mpssl's wrap_socket leaves the wrapped socket open when the
    # handshake fails (as MicroPython), and SMTP_SSL does not close it (CPython's ssl does).
    leaked = [e.frame.f_locals.get("new_socket") for e in failed.traceback]
    sockets = [s for s in leaked if isinstance(s, socket.socket)]
    assert len(sockets) == 1 and sockets[0].fileno() != -1
    sockets[0].close()


# --------------------------------------------------------------------------------------------
# FTP with TLS (AUTH TLS on the control connection, PROT P data connections)


class FtpResponder:
    """One FTP session: AUTH TLS, USER/PASS, PBSZ/PROT, PASV + NLST/RETR/STOR, QUIT."""

    def __init__(self, harness: Harness, ctx: ssl.SSLContext, files: dict[str, bytes]) -> None:
        self.harness = harness
        self.ctx = ctx
        self.files = files
        self.stored: dict[str, bytes] = {}
        self.listener = harness.track(socket.create_server((HOST, 0)))
        self.listener.settimeout(JOIN_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.task = harness.spawn(self.serve)

    def serve(self) -> list[str]:
        conn, _ = self.listener.accept()
        self.harness.track(conn)
        commands: list[str] = []
        ctrl: Any = conn
        ctrl.sendall(b"220 test FTP\r\n")
        rfile = ctrl.makefile("rb")
        data_listener: socket.socket | None = None
        prot_p = False
        try:
            while line := rfile.readline():
                cmd, _, arg = line.decode().strip().partition(" ")
                cmd = cmd.upper()
                commands.append(cmd)
                if cmd == "AUTH":
                    ctrl.sendall(b"234 AUTH TLS ok\r\n")
                    rfile.close()
                    ctrl = self.ctx.wrap_socket(conn, server_side=True)
                    rfile = ctrl.makefile("rb")
                elif cmd == "USER":
                    ctrl.sendall(b"331 password please\r\n")
                elif cmd == "PASS":
                    ctrl.sendall(b"230 logged in\r\n")
                elif cmd == "PBSZ":
                    ctrl.sendall(b"200 PBSZ=0\r\n")
                elif cmd == "PROT":
                    prot_p = arg == "P"
                    ctrl.sendall(b"200 protection set\r\n")
                elif cmd == "TYPE":
                    ctrl.sendall(b"200 type set\r\n")
                elif cmd == "PASV":
                    data_listener = self.harness.track(socket.create_server((HOST, 0)))
                    data_listener.settimeout(JOIN_TIMEOUT)
                    p = data_listener.getsockname()[1]
                    ctrl.sendall(f"227 passive (127,0,0,1,{p >> 8},{p & 255})\r\n".encode())
                elif cmd in ("NLST", "RETR", "STOR"):
                    assert data_listener is not None
                    ctrl.sendall(b"150 opening data connection\r\n")
                    raw, _ = data_listener.accept()
                    self.harness.track(raw)
                    data: Any = self.ctx.wrap_socket(raw, server_side=True) if prot_p else raw
                    if cmd == "STOR":
                        chunks = []
                        while chunk := data.recv(65536):
                            chunks.append(chunk)
                        self.stored[arg] = b"".join(chunks)
                    else:
                        payload = (
                            "".join(f"{n}\r\n" for n in self.files).encode()
                            if cmd == "NLST"
                            else self.files[arg]
                        )
                        data.sendall(payload)
                    if prot_p and cmd != "STOR":
                        # The sender ends with close_notify both ways, as FTPS servers do.
                        data = data.unwrap()
                    elif prot_p:
                        # Answer the client's close_notify (a client that unwraps waits for
                        # it; one that closed already makes this fail).
                        with contextlib.suppress(OSError):
                            data = data.unwrap()
                    data.close()
                    data_listener.close()
                    ctrl.sendall(b"226 transfer complete\r\n")
                elif cmd == "QUIT":
                    ctrl.sendall(b"221 bye\r\n")
                    break
                else:
                    ctrl.sendall(b"502 not implemented\r\n")
        finally:
            rfile.close()
            if ctrl is not conn:
                ctrl.close()
        return commands


def test_ftp_tls_prot_p_list_retr_stor(harness: Harness, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 1000
    ctx = cpython_server_context(tmp_path)
    # No TLS 1.3 session tickets: see test_ftp_tls_upload_unwrap_with_session_tickets.
    ctx.num_tickets = 0
    server = FtpResponder(harness, ctx, {"a.txt": b"text\r\n", "blob.bin": blob})
    ftp = ftplib.FTP_TLS(context=client_context(), timeout=10)
    try:
        ftp.connect("localhost", server.port)
        ftp.login("user", "secret")  # sends AUTH TLS first, then USER/PASS over TLS
        assert isinstance(ftp.sock, mpssl.SSLSocket)
        ftp.prot_p()
        assert sorted(ftp.nlst()) == ["a.txt", "blob.bin"]
        got = bytearray()
        ftp.retrbinary("RETR blob.bin", got.extend)
        assert bytes(got) == blob
        upload = tmp_path / "up.bin"
        upload.write_bytes(blob[::-1])
        with upload.open("rb") as f:
            ftp.storbinary("STOR up.bin", f)
        ftp.quit()
    finally:
        ftp.close()
    assert server.task.join()[:3] == ["AUTH", "USER", "PASS"]
    assert server.stored == {"up.bin": blob[::-1]}


def test_ftp_tls_upload_unwrap_with_session_tickets(harness: Harness, tmp_path: Path) -> None:
    """The documented way to upload: ``storbinary`` calls ``unwrap()`` only on CPython's
    ``ssl.SSLSocket``; without it, a TLS 1.3 server's session tickets can reach the closed
    data socket, whose kernel then resets the connection and the server loses the upload's
    end. Unwrapping (close_notify both ways) before closing avoids that."""
    blob = bytes(range(256)) * 1000
    server = FtpResponder(harness, cpython_server_context(tmp_path), {})
    upload = tmp_path / "up.bin"
    upload.write_bytes(blob)
    ftp = ftplib.FTP_TLS(context=client_context(), timeout=10)
    try:
        ftp.connect("localhost", server.port)
        ftp.login("user", "secret")
        ftp.prot_p()
        with upload.open("rb") as f, ftp.transfercmd("STOR up.bin") as conn:
            assert conn.sendfile(f) == len(blob)
            conn.unwrap()
        assert ftp.voidresp().startswith("226")
        ftp.quit()
    finally:
        ftp.close()
    server.task.join()
    assert server.stored == {"up.bin": blob}


@pytest.mark.parametrize(
    ("leaf", "ca", "text"),
    [("server-test", "ca", NAME_MISMATCH), ("server", "other-ca", NOT_TRUSTED)],
    ids=["wrong-host", "untrusted-ca"],
)
def test_ftp_tls_refuses_a_bad_server(
    harness: Harness, tmp_path: Path, leaf: str, ca: str, text: str
) -> None:
    server = FtpResponder(harness, cpython_server_context(tmp_path, leaf), {})
    ftp = ftplib.FTP_TLS(context=client_context(ca), timeout=10)
    ftp.connect("localhost", server.port)
    with pytest.raises(ValueError, match=text):
        ftp.login("user", "secret")
    ftp.close()
    assert isinstance(server.task.exception(), ssl.SSLError)
