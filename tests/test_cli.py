"""`python -m mpssl demo|client|server` run as a user would, over loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import mpssl
import pki

TIMEOUT = 30


def test_demo_runs_and_verifies() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mpssl", "demo"],
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "verify_mode=CERT_REQUIRED" in out.stdout
    assert "protocol        TLSv1.3" in out.stdout
    assert "key exchange    X25519MLKEM768" in out.stdout
    assert "commonName=localhost" in out.stdout
    assert "result          OK" in out.stdout


def _pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca, cert, key = (pki.testdata(f"ecdsa-p256/{n}") for n in ("ca.der", "server.der",
                                                                 "server.key.der"))
    paths = (tmp_path / "ca.der", tmp_path / "cert.der", tmp_path / "key.der")
    for path, data in zip(paths, (ca, cert, key)):
        path.write_bytes(data)
    return paths


def test_server_relays_stdin_and_stdout(tmp_path: Path) -> None:
    ca, cert, key = _pki(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mpssl", "server", "--cert", str(cert), "--key", str(key),
         "--port", str(port)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert server.stderr is not None and server.stdin is not None
        assert server.stderr.readline().startswith(b"listening on 127.0.0.1:")
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=ca)
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.write(b"to the server\n")
        server.stdin.write(b"to the client\n")
        server.stdin.flush()
        assert tls.readline() == b"to the client\n"
        tls.close()
        stdout, _ = server.communicate(timeout=TIMEOUT)
        assert stdout == b"to the server\n"
        assert server.returncode == 0
    finally:
        server.kill()
        server.wait(timeout=TIMEOUT)


def test_client_relays_and_verifies(tmp_path: Path) -> None:
    ca, cert, key = _pki(tmp_path)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    got: list[bytes | None] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        tls = ctx.wrap_socket(conn, server_side=True)
        got.append(tls.readline())
        tls.write(b"hello client\n")
        tls.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "mpssl", "client", "127.0.0.1", str(port),
             "--cafile", str(ca), "--servername", "localhost"],
            input=b"hello server\n", capture_output=True, timeout=TIMEOUT, check=False,
        )
    finally:
        thread.join(timeout=TIMEOUT)
        listener.close()
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"hello client\n"
    assert got == [b"hello server\n"]
    assert b"TLSv1.3" in out.stderr


def test_client_refuses_wrong_name(tmp_path: Path) -> None:
    ca, cert, key = _pki(tmp_path)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        try:
            ctx.wrap_socket(conn, server_side=True)
        except OSError as e:
            errors.append(e)
        finally:
            conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "mpssl", "client", "127.0.0.1", str(port),
             "--cafile", str(ca), "--servername", "wrong.example"],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False,
        )
    finally:
        thread.join(timeout=TIMEOUT)
        listener.close()
    assert out.returncode != 0
    assert b"does not match with the expected CN" in out.stderr
    assert errors and errors[0].args == (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
