"""`python -m mpssl demo|client|server` run as a user would, over loopback."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest

TIMEOUT = 30


@contextmanager
def popen(argv: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A process with pipes; killed (if still running) and its pipes closed at the end."""
    with subprocess.Popen(argv, **kwargs) as proc:
        try:
            yield proc
        finally:
            proc.kill()
            proc.wait(timeout=TIMEOUT)


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
        # The client ends at the end of its input: the reply is read before that.
        with popen(
            [sys.executable, "-m", "mpssl", "client", "127.0.0.1", str(port),
             "--cafile", str(ca), "--servername", "localhost"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ) as client:
            assert client.stdin is not None and client.stdout is not None
            assert client.stderr is not None
            client.stdin.write(b"hello server\n")
            client.stdin.flush()
            assert client.stdout.readline() == b"hello client\n"
            client.stdin.close()
            assert client.wait(timeout=TIMEOUT) == 0
            stderr = client.stderr.read()
    finally:
        thread.join(timeout=TIMEOUT)
        listener.close()
    assert got == [b"hello server\n"]
    assert b"TLSv1.3" in stderr


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


# --------------------------------------------------------------------------------------------
# Issue 11: one-line errors, end of input, --verbose, --alpn, --cert/--key, system roots
# --------------------------------------------------------------------------------------------

P256 = Path(__file__).resolve().parent.parent / "testdata" / "ecdsa-p256"
CA, OTHER_CA = str(P256 / "ca.pem"), str(P256 / "other-ca.pem")
SERVER_CERT, SERVER_KEY = str(P256 / "server.pem"), str(P256 / "server.key.pem")
CLIENT_CERT, CLIENT_KEY = str(P256 / "client.pem"), str(P256 / "client.key.pem")
MPSSL = [sys.executable, "-m", "mpssl"]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(extra)
    return env


def one_error_line(stderr: str, prog: str) -> str:
    """The whole of stderr is one ``mpssl <command>: what (detail)`` line, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"mpssl {prog}: " if prog else "mpssl: "), stderr
    return lines[0]


@contextmanager
def stdlib_server(
    handler: Callable[[ssl.SSLSocket], Any], configure: Callable[[ssl.SSLContext], None] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """A CPython ``ssl`` server for one connection in a thread; ``handler``'s result or
    exception lands in the dict."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(SERVER_CERT, SERVER_KEY)
    if configure:
        configure(ctx)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    out: dict[str, Any] = {}

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False) as tls:
                out["result"] = handler(tls)
        except Exception as e:  # noqa: BLE001 - the test looks at it
            out["error"] = e

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1], out
    finally:
        if "result" not in out and "error" not in out:
            # The client never connected (it failed earlier): wake the accept().
            socket.create_connection(listener.getsockname(), timeout=TIMEOUT).close()
        thread.join(timeout=TIMEOUT)
        listener.close()
        assert not thread.is_alive()


def read_until_close(tls: ssl.SSLSocket) -> bytes:
    """Everything until the peer's close_notify (a bare EOF raises ``SSLEOFError``)."""
    data = b""
    while chunk := tls.recv(4096):
        data += chunk
    return data


def test_client_with_stdlib_server_both_ways_and_close_notify_at_end_of_input() -> None:
    def handler(tls: ssl.SSLSocket) -> bytes:
        tls.sendall(b"greeting\n")
        line = tls.recv(100)
        tls.sendall(b"echo: " + line)
        return line + read_until_close(tls)

    with stdlib_server(handler) as (port, out), popen(
        [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername",
         "localhost"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=cli_env(),
    ) as client:
        assert client.stdin is not None and client.stdout is not None
        assert client.stdout.readline() == b"greeting\n"
        client.stdin.write(b"line one\n")
        client.stdin.flush()
        assert client.stdout.readline() == b"echo: line one\n"
        client.stdin.write(b"last line\n")
        client.stdin.close()  # end of input: close_notify, exit 0
        assert client.wait(timeout=TIMEOUT) == 0
        assert client.stderr is not None
        err = client.stderr.read().decode()
    assert "error" not in out, out
    assert out["result"] == b"line one\nlast line\n"  # then close_notify: no SSLEOFError
    assert err.startswith("mpssl client: connected to 127.0.0.1:")
    assert "Traceback" not in err


def test_server_with_stdlib_client_both_ways() -> None:
    with popen(
        [*MPSSL, "server", "--cert", SERVER_CERT, "--key", SERVER_KEY, "--port", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as server:
        assert server.stderr is not None and server.stdin is not None
        assert server.stdout is not None
        first = server.stderr.readline().decode()
        assert first.startswith("listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(CA)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            tls.sendall(b"from the stdlib client\n")
            assert server.stdout.readline() == b"from the stdlib client\n"
            server.stdin.write(b"from the mpssl server\n")
            server.stdin.flush()
            assert tls.recv(100) == b"from the mpssl server\n"
            tls.unwrap().close()  # close_notify; the server exits 0
            tls.close()
        assert server.wait(timeout=TIMEOUT) == 0
        err = server.stderr.read().decode()
        assert err.startswith("mpssl server: connected to 127.0.0.1:"), err
        assert "Traceback" not in err


def test_client_verbose_shows_the_handshake() -> None:
    with stdlib_server(read_until_close) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername",
             "localhost", "--verbose"],
            input=b"x", capture_output=True, timeout=TIMEOUT, check=False, env=cli_env(),
        )
    assert run.returncode == 0, run.stderr
    err = run.stderr.decode()
    for expected in ("protocol      TLSv1.3", "cipher        TLS", "key exchange  X25519",
                     "ALPN          none", "peer subject  commonName=localhost",
                     "peer issuer   commonName=mpssl test CA",
                     "peer valid    Jan  1 00:00:00 2025 GMT to Jan  1 00:00:00 2125 GMT",
                     "verify        OK", "end of input: close_notify sent"):
        assert expected in err, err
    assert out == {"result": b"x"}


def test_client_alpn_offers_and_shows_the_choice() -> None:
    with stdlib_server(
        read_until_close, lambda ctx: ctx.set_alpn_protocols(["http/1.1", "h2"])
    ) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername",
             "localhost", "--alpn", "h2,http/1.1", "-v"],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False, env=cli_env(),
        )
    assert run.returncode == 0, run.stderr
    # OpenSSL's server picks by its own preference among the client's offer.
    assert "ALPN          http/1.1" in run.stderr.decode()
    assert out == {"result": b""}


def test_client_certificate_authentication() -> None:
    def require_client_cert(ctx: ssl.SSLContext) -> None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(CA)

    def handler(tls: ssl.SSLSocket) -> Any:
        read_until_close(tls)
        return tls.getpeercert()["subject"]  # type: ignore[index]

    with stdlib_server(handler, require_client_cert) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername",
             "localhost", "--cert", CLIENT_CERT, "--key", CLIENT_KEY],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False, env=cli_env(),
        )
    assert run.returncode == 0, run.stderr
    assert out == {"result": ((("commonName", "mpssl client"),),)}


def test_client_uses_the_system_trust_store_by_default() -> None:
    # load_default_certs() honours SSL_CERT_FILE: the committed test CA stands in for the system's.
    with stdlib_server(read_until_close) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--servername", "localhost"],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False,
            env=cli_env(SSL_CERT_FILE=CA),
        )
    assert run.returncode == 0, run.stderr
    assert out == {"result": b""}


def test_client_system_trust_store_without_the_ca_fails_in_one_line() -> None:
    with stdlib_server(read_until_close) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--servername", "localhost"],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False,
            env=cli_env(SSL_CERT_FILE=OTHER_CA),
        )
    assert run.returncode == 1
    line = one_error_line(run.stderr.decode(), "client")
    assert line.startswith("mpssl client: certificate verification failed ("), line
    assert "not correctly signed by the trusted CA" in line
    assert isinstance(out.get("error"), ssl.SSLError)


def test_client_insecure_warns_and_still_connects() -> None:
    with stdlib_server(read_until_close) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--insecure", "-v"],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False, env=cli_env(),
        )
    assert run.returncode == 0, run.stderr
    err = run.stderr.decode().splitlines()
    assert err[0].startswith("mpssl client: WARNING: --insecure disables certificate verification")
    assert any(line.startswith("  verify        FAILED 0x8: not trusted") for line in err), err
    assert out == {"result": b""}


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "status", "start"),
    [
        (["client", "127.0.0.1", "x", "--cafile", CA], 2, "mpssl client: bad arguments (argument port"),
        (["client", "127.0.0.1"], 2, "mpssl client: bad arguments (the following arguments"),
        (["client", "127.0.0.1", "1", "--cafile", "/nonexistent/ca.pem"], 1,
         "mpssl client: cannot read --cafile /nonexistent/ca.pem (errno 2: No such file"),
        (["client", "127.0.0.1", "1", "--cafile", SERVER_KEY], 1,
         f"mpssl client: cannot use --cafile {SERVER_KEY} ("),
        (["client", "127.0.0.1", "1", "--cafile", CA, "--cert", CLIENT_CERT, "--key", CA], 1,
         f"mpssl client: cannot use --cert {CLIENT_CERT} --key {CA} ("),
        (["client", "127.0.0.1", "1", "--cafile", CA, "--cert", CLIENT_CERT], 2,
         "mpssl client: bad arguments (--cert and --key go together)"),
        (["client", "127.0.0.1", "REFUSED", "--cafile", CA], 1,
         "mpssl client: cannot connect to 127.0.0.1:REFUSED (errno 111: Connection refused)"),
        (["server", "--cert", SERVER_CERT], 2, "mpssl server: bad arguments (the following"),
        (["server", "--cert", SERVER_CERT, "--key", "/nonexistent/key.pem"], 1,
         "mpssl server: cannot read --key /nonexistent/key.pem (errno 2: No such file"),
        (["server", "--cert", CA, "--key", SERVER_KEY, "--port", "0"], 1,
         f"mpssl server: cannot use --cert {CA} --key {SERVER_KEY} ("),
        (["server", "--cert", SERVER_CERT, "--key", SERVER_KEY, "--port", "70000"], 2,
         "mpssl server: bad arguments (argument --port: port must be 0-65535"),
        (["nonsense"], 2, "mpssl: bad arguments (argument command: invalid choice"),
    ],
)
def test_error_is_one_line_and_an_exit_status(argv: list[str], status: int, start: str) -> None:
    port = str(_refused_port())
    argv = [a.replace("REFUSED", port) for a in argv]
    start = start.replace("REFUSED", port)
    run = subprocess.run([*MPSSL, *argv], capture_output=True, timeout=TIMEOUT, check=False,
                         stdin=subprocess.DEVNULL, env=cli_env())
    assert run.returncode == status, run.stderr
    line = one_error_line(run.stderr.decode(), argv[0] if argv[0] != "nonsense" else "")
    assert line.startswith(start), line
    assert run.stdout == b""


def test_server_port_in_use_is_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        run = subprocess.run(
            [*MPSSL, "server", "--cert", SERVER_CERT, "--key", SERVER_KEY, "--port", str(port)],
            capture_output=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL,
        )
    assert run.returncode == 1
    line = one_error_line(run.stderr.decode(), "server")
    assert line.startswith(
        f"mpssl server: cannot listen on 127.0.0.1:{port} (errno 98: Address already in use"
    ), line


def test_server_handshake_failure_is_one_line() -> None:
    with popen(
        [*MPSSL, "server", "--cert", SERVER_CERT, "--key", SERVER_KEY, "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as server:
        assert server.stderr is not None
        first = server.stderr.readline().decode()
        port = int(first.rsplit(":", 1)[1])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(OTHER_CA)  # the stdlib client rejects the server: an alert
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
                pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="localhost")
        assert server.wait(timeout=TIMEOUT) == 1
        line = one_error_line(server.stderr.read().decode(), "server")
        assert line.startswith("mpssl server: handshake with 127.0.0.1:"), line
        assert "failed (errno -30592: MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)" in line


def test_client_verification_failure_is_one_line() -> None:
    with stdlib_server(read_until_close) as (port, out):
        run = subprocess.run(
            [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername",
             "wrong.example"],
            input=b"", capture_output=True, timeout=TIMEOUT, check=False, env=cli_env(),
        )
    assert run.returncode == 1
    line = one_error_line(run.stderr.decode(), "client")
    assert line == ("mpssl client: certificate verification failed (The certificate Common Name "
                    "(CN) does not match with the expected CN)")
    assert isinstance(out.get("error"), ssl.SSLError)


def test_ctrl_c_is_one_line_and_exit_130() -> None:
    # A connected client waiting for data, then a server waiting for a client.
    with stdlib_server(read_until_close) as (port, _out), popen(
        [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername",
         "localhost"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
    ) as client:
        assert client.stderr is not None
        assert client.stderr.readline().startswith(b"mpssl client: connected to ")
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=TIMEOUT) == 130
        assert client.stderr.read() == b"mpssl client: interrupted (Ctrl-C)\n"
    with popen(
        [*MPSSL, "server", "--cert", SERVER_CERT, "--key", SERVER_KEY, "--port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as server:
        assert server.stderr is not None
        assert server.stderr.readline().startswith(b"listening on ")
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=TIMEOUT) == 130
        assert server.stderr.read() == b"mpssl server: interrupted (Ctrl-C)\n"


def test_client_exits_0_when_the_server_closes() -> None:
    def handler(tls: ssl.SSLSocket) -> bytes:
        tls.sendall(b"bye\n")
        tls.unwrap().close()  # close_notify: the client's stdin stays open
        return b""

    with stdlib_server(handler) as (port, out), popen(
        [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername", "localhost",
         "-v"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
    ) as client:
        assert client.stdout is not None and client.stderr is not None
        assert client.wait(timeout=TIMEOUT) == 0
        assert client.stdout.read() == b"bye\n"
        err = client.stderr.read().decode()
    assert "mpssl client: server closed\n" in err, err
    assert "Traceback" not in err
    assert out == {"result": b""}


def test_client_stdout_closed_is_one_line() -> None:
    def handler(tls: ssl.SSLSocket) -> bytes:
        tls.sendall(b"first\n")
        go = tls.recv(10)
        tls.sendall(b"second\n")  # arrives after the reader of the client's stdout left
        return go + read_until_close(tls)

    with stdlib_server(handler) as (port, out), popen(
        [*MPSSL, "client", "127.0.0.1", str(port), "--cafile", CA, "--servername", "localhost"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(),
    ) as client:
        assert client.stdout is not None and client.stderr is not None
        assert client.stdin is not None
        assert client.stdout.readline() == b"first\n"
        client.stdout.close()  # like `| head -n 1`
        client.stdin.write(b"go\n")
        client.stdin.flush()
        assert client.wait(timeout=TIMEOUT) == 1
        line = one_error_line(client.stderr.read().decode().split("\n", 1)[1], "client")
    assert line == "mpssl client: standard output closed (errno 32: Broken pipe)"
    assert out == {"result": b"go\n"}  # and close_notify on the way out
