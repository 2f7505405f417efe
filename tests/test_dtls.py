"""DTLS 1.2 (``PROTOCOL_DTLS_CLIENT``/``PROTOCOL_DTLS_SERVER``) through the Python API.

mpssl against itself over loopback UDP (HelloVerify as the reference, data, ``recv`` that never
truncates a record, ``client_id`` errors, verification failures, a lossy and reordering relay),
against ``openssl s_server``/``s_client -dtls1_2`` and the reference ``micropython`` in both
directions, and MicroPython's own ``extmod/tls_dtls.py`` and ``multi_net/tls_dtls_server_client.py``
run unmodified on CPython with mpssl as ``tls``.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import mpssl
import pytest
from support import Task
from test_psk import cpython_instance, finish, micropython, micropython_tests, openssl, start

ROOT = Path(__file__).resolve().parents[1]
SHIM = ROOT / "tests" / "micropython" / "cpython"
PKI = ROOT / "testdata" / "ecdsa-p256"
CA = (PKI / "ca.der").read_bytes()
OTHER_CA = (PKI / "other-ca.der").read_bytes()
CERT = (PKI / "server.der").read_bytes()
KEY = (PKI / "server.key.der").read_bytes()
BAD_INPUT = (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA")
HELLO_VERIFY = (-27264, "MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED")
SUITE = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"
JOIN = 30


def server_ctx() -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_DTLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


def client_ctx(ca: bytes = CA) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_DTLS_CLIENT)
    ctx.load_verify_locations(cadata=ca)
    return ctx


def udp(bind: bool = True) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if bind:
        s.bind(("127.0.0.1", 0))
    return s


def serve(sock: socket.socket, ctx: mpssl.SSLContext, body: Any, attempts: int = 6) -> Any:
    """The reference's server idiom: peek at the client's address, connect to it, wrap; a
    HelloVerify error means wrap again (with the same context). Returns (errors, body's result)."""
    errors = []
    for _ in range(attempts):
        _, addr = sock.recvfrom(1, socket.MSG_PEEK)
        sock.connect(addr)
        try:
            tls = ctx.wrap_socket(sock, server_side=True, client_id=repr(addr).encode())
        except OSError as e:
            errors.append(tuple(e.args))
            continue
        try:
            return errors, body(tls)
        finally:
            tls.close()
    raise AssertionError(f"no handshake after {attempts} wraps: {errors}")


def test_constants_and_contexts() -> None:
    assert (mpssl.PROTOCOL_DTLS_CLIENT, mpssl.PROTOCOL_DTLS_SERVER) == (2, 3)
    assert mpssl.SSLContext(mpssl.PROTOCOL_DTLS_CLIENT).verify_mode == mpssl.CERT_REQUIRED
    assert mpssl.SSLContext(mpssl.PROTOCOL_DTLS_SERVER).verify_mode == mpssl.CERT_NONE
    # The reference reads the protocol as bits: bit 0 the server role, bit 1 DTLS.
    assert "dtls server" in repr(mpssl.SSLContext(-1))
    assert "dtls client" in repr(mpssl.SSLContext(6))


def test_hello_verify_then_data_both_ways() -> None:
    sock = udp()

    def body(tls: Any) -> Any:
        got = [tls.recv(32) for _ in range(2)]
        tls.send(b"server to client")
        return got, tls.cipher(), tls.getpeercert(True)

    srv = Task(serve, sock, server_ctx(), body)
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
    assert tls.cipher() == (SUITE, "DTLSv1.2")
    assert tls.getpeercert(True) == CERT
    assert tls.send(b"client to server 0") == 18
    tls.write(b"client to server 1")
    assert tls.recv(32) == b"server to client"
    errors, (got, cipher, peer) = srv.join(JOIN)
    # Exactly as multi_net/tls_dtls_server_client.py: one HelloVerify, then the handshake.
    assert errors == [HELLO_VERIFY]
    assert got == [b"client to server 0", b"client to server 1"]
    assert cipher == (SUITE, "DTLSv1.2")
    assert peer is None
    tls.close()
    sock.close()


def test_recv_returns_the_rest_of_a_record_later() -> None:
    sock = udp()

    def body(tls: Any) -> Any:
        first = tls.recv(3)
        rest = tls.recv(100)
        buf = bytearray(4)
        n = tls.recv_into(buf)
        return first, rest, bytes(buf[:n]), tls.recv(10)

    srv = Task(serve, sock, server_ctx(), body)
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
    tls.send(b"0123456789")
    tls.send(b"abcdefgh")
    _, result = srv.join(JOIN)
    assert result == (b"012", b"3456789", b"abcd", b"efgh")
    tls.close()


def test_close_notify_ends_the_peers_stream() -> None:
    sock = udp()
    srv = Task(serve, sock, server_ctx(), lambda tls: (tls.recv(10), tls.recv(10)))
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
    tls.send(b"last")
    tls.close()
    _, result = srv.join(JOIN)
    assert result == (b"last", b"")


@pytest.mark.parametrize("client_id", [b"id", bytearray(b"id"), "id", memoryview(b"id"), b""])
def test_client_id_accepts_buffers_and_str(client_id: Any) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        tls = server_ctx().wrap_socket(a, do_handshake_on_connect=False, client_id=client_id)
        tls.close()


@pytest.mark.parametrize("client_id", [None, 4, 1.5, object()])
def test_client_id_missing_or_not_a_buffer(client_id: Any) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        with pytest.raises(OSError) as info:
            server_ctx().wrap_socket(a, server_side=True, client_id=client_id)
        assert info.value.args == BAD_INPUT
        # Client contexts and TLS contexts ignore it.
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_DTLS_CLIENT)
        ctx.verify_mode = mpssl.CERT_NONE
        ctx.wrap_socket(a, do_handshake_on_connect=False, client_id=client_id).close()


def test_wrap_bio_is_tls_only() -> None:
    with pytest.raises(ValueError, match="DTLS"):
        server_ctx().wrap_bio(mpssl_bio(), mpssl_bio(), server_side=True)


def mpssl_bio() -> Any:
    import ssl

    return ssl.MemoryBIO()


@pytest.mark.parametrize(
    ("ca", "hostname", "text"),
    [
        (OTHER_CA, "localhost", "The certificate is not correctly signed by the trusted CA"),
        (CA, "wrong.example", "The certificate Common Name (CN) does not match"),
    ],
)
def test_verification_failure_is_the_reference_value_error(
    ca: bytes, hostname: str, text: str
) -> None:
    sock = udp()
    srv = Task(serve, sock, server_ctx(), lambda tls: None, 2)
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    with pytest.raises(ValueError) as info:
        client_ctx(ca).wrap_socket(raw, server_hostname=hostname)
    assert text in str(info.value)
    error = srv.exception(JOIN)
    assert isinstance(error, (OSError, AssertionError)), error
    raw.close()
    sock.close()


def test_a_socket_timeout_still_applies() -> None:
    # Nobody answers: the blocking wrap retransmits, and the socket's time-out ends it.
    silent = udp()
    raw = udp(bind=False)
    raw.connect(silent.getsockname())
    raw.settimeout(0.3)
    with pytest.raises(TimeoutError):
        client_ctx().wrap_socket(raw, server_hostname="localhost")
    # The ClientHello was sent (at least once).
    silent.settimeout(1)
    assert silent.recv(2048)[0] == 22
    silent.close()
    raw.close()


class Relay:
    """A loopback UDP relay that drops the 1st and 3rd datagram of each direction and
    delivers the 4th after the 5th (or after 0.3 s without a 5th)."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.front = udp()  # the client talks to this
        self.back = udp()  # this talks to the server
        self.back.connect(server)
        self.client: Any = None
        self.count = [0, 0]
        self.dropped = [0, 0]
        self.held: list[Any] = [None, None]
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def address(self) -> tuple[str, int]:
        return self.front.getsockname()  # type: ignore[no-any-return]

    def send(self, direction: int, data: bytes) -> None:
        if direction == 0:
            self.back.send(data)
        elif self.client is not None:
            self.front.sendto(data, self.client)

    def run(self) -> None:
        while not self.stop:
            ready, _, _ = select.select([self.front, self.back], [], [], 0.05)
            now = time.monotonic()
            for d in (0, 1):
                held = self.held[d]
                if held is not None and now - held[1] > 0.3:
                    self.held[d] = None
                    self.send(d, held[0])
            for s in ready:
                try:
                    if s is self.front:
                        data, self.client = self.front.recvfrom(65536)
                        d = 0
                    else:
                        data = self.back.recv(65536)
                        d = 1
                except ConnectionRefusedError:
                    continue  # an ICMP port unreachable from a peer that has closed
                n = self.count[d]
                self.count[d] += 1
                if n in (0, 2):
                    self.dropped[d] += 1
                elif n == 3:
                    self.held[d] = (data, now)
                elif n == 4 and self.held[d] is not None:
                    self.send(d, data)
                    self.send(d, self.held[d][0])
                    self.held[d] = None
                else:
                    self.send(d, data)

    def close(self) -> None:
        self.stop = True
        self.thread.join(5)
        self.front.close()
        self.back.close()


@pytest.mark.timeout(120)
def test_lossy_reordering_relay() -> None:
    sock = udp()
    relay = Relay(sock.getsockname())
    try:
        srv = Task(serve, sock, server_ctx(), lambda tls: tls.recv(64))
        raw = udp(bind=False)
        raw.connect(relay.address())
        tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
        assert tls.cipher() == (SUITE, "DTLSv1.2")
        # Datagrams 0 and 2 of each direction were lost during the handshake.
        assert relay.dropped == [2, 2]
        # Application data is not retransmitted: send until one copy gets through.
        deadline = time.monotonic() + JOIN
        while not srv.done.is_set() and time.monotonic() < deadline:
            tls.send(b"through the relay")
            srv.done.wait(0.2)
        errors, got = srv.join(JOIN)
        assert got == b"through the relay"
        assert all(e == HELLO_VERIFY for e in errors) and errors
        tls.close()
    finally:
        relay.close()
        sock.close()


# ------------------------------------------------------------------------------------------
# openssl s_server / s_client -dtls1_2


@pytest.mark.interop
def test_mpssl_client_openssl_s_server() -> None:
    proc = start([
        openssl(), "s_server", "-dtls1_2", "-accept", "127.0.0.1:0", "-naccept", "1",
        "-cert", str(PKI / "server.pem"), "-key", str(PKI / "server.key.pem"),
    ])
    try:
        assert proc.stdout is not None and proc.stdin is not None
        lines: list[str] = []
        while not (m := re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", lines[-1] if lines else "")):
            lines.append(proc.stdout.readline())
            assert lines[-1], "".join(lines)
        raw = udp(bind=False)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", int(m.group(1))))
        tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
        assert tls.cipher() == (SUITE, "DTLSv1.2")
        tls.send(b"hello openssl\n")
        proc.stdin.write("hello mpssl\n")
        proc.stdin.flush()
        assert tls.recv(100) == b"hello mpssl\n"
        tls.close()
    finally:
        out = finish(proc)
    assert "CIPHER is ECDHE-ECDSA-AES128-GCM-SHA256" in out, out
    assert "hello openssl" in out, out
    assert proc.returncode == 0, out


@pytest.mark.interop
def test_openssl_s_client_mpssl_server() -> None:
    sock = udp()

    def body(tls: Any) -> Any:
        line = tls.recv(100)
        tls.send(b"bye\n")
        return line, tls.cipher()

    srv = Task(serve, sock, server_ctx(), body)
    proc = start([
        openssl(), "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{sock.getsockname()[1]}",
        "-CAfile", str(PKI / "ca.pem"), "-servername", "localhost", "-verify_return_error",
        "-brief", "-ign_eof",
    ])
    out = finish(proc, "hello from s_client\n")
    errors, (line, cipher) = srv.join(JOIN)
    assert errors == [HELLO_VERIFY]
    assert line == b"hello from s_client\n"
    assert cipher[1] == "DTLSv1.2"
    assert "Verification: OK" in out, out
    assert "bye" in out, out
    sock.close()


# ------------------------------------------------------------------------------------------
# The reference micropython, over loopback

# instance0 of multi_net/tls_dtls_server_client.py, on loopback with the port and PKI given.
MP_SERVER = """
import socket, sys, tls
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
ctx = tls.SSLContext(tls.PROTOCOL_DTLS_SERVER)
ctx.load_cert_chain(open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read())
print("ready")
for _ in range(2):
    _, addr = s.recvfrom(1, socket.MSG_PEEK)
    s.connect(addr)
    try:
        s = ctx.wrap_socket(s, server_side=1, client_id=repr(addr).encode())
    except OSError as e:
        print(e)
        continue
    print(s.recv(64))
    s.send(b"from micropython")
    s.close()
    break
"""

MP_CLIENT = """
import socket, sys, tls
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
ctx = tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)
ctx.verify_mode = tls.CERT_REQUIRED
ctx.load_verify_locations(open(sys.argv[2], "rb").read())
t = ctx.wrap_socket(s, server_hostname="localhost")
print(t.cipher())
t.send(b"from micropython")
print(t.recv(64))
t.close()
"""


@pytest.mark.interop
def test_reference_micropython_client_mpssl_server(tmp_path: Path) -> None:
    sock = udp()

    def body(tls: Any) -> Any:
        line = tls.recv(64)
        tls.send(b"from mpssl")
        return line

    srv = Task(serve, sock, server_ctx(), body)
    script = tmp_path / "client.py"
    script.write_text(MP_CLIENT)
    proc = start([micropython(), str(script), str(sock.getsockname()[1]), str(PKI / "ca.der")])
    out = finish(proc)
    errors, line = srv.join(JOIN)
    assert errors == [HELLO_VERIFY]
    assert line == b"from micropython"
    assert "'DTLSv1.2')" in out and "b'from mpssl'" in out, out
    sock.close()


@pytest.mark.interop
def test_mpssl_client_reference_micropython_server(tmp_path: Path) -> None:
    probe = udp()
    port = probe.getsockname()[1]
    probe.close()
    script = tmp_path / "server.py"
    script.write_text(MP_SERVER)
    proc = start([micropython(), str(script), str(port), str(PKI / "server.der"),
                  str(PKI / "server.key.der")])
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        raw = udp(bind=False)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
        tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
        assert tls.cipher() == (SUITE, "DTLSv1.2")
        assert tls.getpeercert(True) == CERT
        tls.send(b"from mpssl")
        assert tls.recv(64) == b"from micropython"
        tls.close()
    finally:
        out = finish(proc)
    assert out == "(-27264, 'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')\nb'from mpssl'\n", out


@pytest.fixture(scope="module")
def mp_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return micropython_tests(tmp_path_factory.mktemp("micropython-src"))


def test_extmod_tls_dtls_on_cpython(mp_tests: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SHIM)}
    out = subprocess.run(
        [sys.executable, "extmod/tls_dtls.py"], cwd=mp_tests, env=env, capture_output=True,
        text=True, timeout=JOIN, check=False,
    )
    assert out.stdout == (mp_tests / "extmod" / "tls_dtls.py.exp").read_text(), out.stderr


# CPython prints OSError(-27264, 'MBEDTLS_…') as "[Errno -27264] MBEDTLS_…": the only
# difference from MicroPython's output a CPython instance can have in this test.
PRINT_DIFF = {
    "-(-27264, 'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')",
    "+[Errno -27264] MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED",
}


@pytest.mark.interop
@pytest.mark.timeout(120)
@pytest.mark.parametrize("peer", ["cpython", "reference"])
def test_multi_net_dtls_test_on_cpython(mp_tests: Path, peer: str) -> None:
    test = "multi_net/tls_dtls_server_client.py"
    instances = ["-t", cpython_instance(mp_tests)]
    if peer == "cpython":
        instances += ["-t", cpython_instance(mp_tests)]
    else:
        instances = ["-p", "2", *instances, "-t", f"exec:{micropython()}"]
    env = {**os.environ, "MICROPY_CPYTHON3": sys.executable}
    out = subprocess.run(
        [sys.executable, "run-multitests.py", *instances, test], cwd=mp_tests, env=env,
        capture_output=True, text=True, timeout=100, check=False,
    )
    results = re.findall(r"^(\S+) on (\S+): (pass|FAIL|skip)$", out.stdout, re.MULTILINE)
    assert len(results) == (1 if peer == "cpython" else 2), out.stdout[-3000:] + out.stderr
    for _, order, result in results:
        if result == "pass":
            # Only an order whose server (instance0) is the reference can match exactly.
            assert order.startswith("micropython"), out.stdout
    # Every failure is only the printing of the HelloVerify OSError by CPython.
    for diff in re.findall(r"### DIFF ###\n(.*?)\n\d+ tests performed", out.stdout, re.DOTALL):
        changed = {
            line for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("---", "+++"))
        }
        assert changed == PRINT_DIFF, diff
    assert sum(r[2] == "FAIL" for r in results) == out.stdout.count("### DIFF ###")


# ------------------------------------------------------------------------------------------
# PSK over DTLS (TLS-PSK-WITH-AES-128-GCM-SHA256)

PSK_IDENTITY = b"micropython"
PSK_KEY = b"secret-shared-key"
PSK_SUITE = "TLS-PSK-WITH-AES-128-GCM-SHA256"


def psk_server_ctx() -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_DTLS_SERVER)
    ctx.server_psk_keys = {PSK_IDENTITY: PSK_KEY}
    return ctx


def psk_client_ctx(identity: bytes = PSK_IDENTITY) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_DTLS_CLIENT)
    ctx.psk_identity = identity
    ctx.psk_key = PSK_KEY
    return ctx


def test_psk_mpssl_both_ends() -> None:
    sock = udp()
    srv = Task(serve, sock, psk_server_ctx(), lambda tls: (tls.recv(32), tls.cipher()))
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    tls = psk_client_ctx().wrap_socket(raw, server_hostname="localhost")
    assert tls.cipher() == (PSK_SUITE, "DTLSv1.2")
    assert tls.getpeercert(True) is None
    tls.send(b"psk over dtls")
    errors, (got, cipher) = srv.join(JOIN)
    assert errors == [HELLO_VERIFY]
    assert (got, cipher) == (b"psk over dtls", (PSK_SUITE, "DTLSv1.2"))
    tls.close()


def test_psk_unknown_identity() -> None:
    sock = udp()
    srv = Task(serve, sock, psk_server_ctx(), lambda tls: None, 2)
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    with pytest.raises(OSError) as info:
        psk_client_ctx(b"stranger").wrap_socket(raw, server_hostname="localhost")
    assert info.value.args == (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
    error = srv.exception(JOIN)
    assert isinstance(error, AssertionError), error
    assert "(-27776, 'MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY')" in str(error)
    raw.close()
    sock.close()


def test_psk_wrong_key() -> None:
    sock = udp()
    srv = Task(serve, sock, psk_server_ctx(), lambda tls: None, 2)
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    ctx = psk_client_ctx()
    ctx.psk_key = b"another key"
    with pytest.raises(OSError) as info:
        ctx.wrap_socket(raw, server_hostname="localhost")
    assert info.value.args == (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
    error = srv.exception(JOIN)
    # The Finished does not decrypt: the reference's (and TLS PSK's) INVALID_MAC.
    assert "(-29056, 'MBEDTLS_ERR_SSL_INVALID_MAC')" in str(error), error
    raw.close()
    sock.close()


@pytest.mark.interop
def test_psk_mpssl_client_openssl_s_server() -> None:
    proc = start([
        openssl(), "s_server", "-dtls1_2", "-accept", "127.0.0.1:0", "-naccept", "1", "-nocert",
        "-psk", PSK_KEY.hex(), "-psk_identity", PSK_IDENTITY.decode(),
        "-cipher", "PSK-AES128-GCM-SHA256",
    ])
    try:
        assert proc.stdout is not None and proc.stdin is not None
        lines: list[str] = []
        while not (m := re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", lines[-1] if lines else "")):
            lines.append(proc.stdout.readline())
            assert lines[-1], "".join(lines)
        raw = udp(bind=False)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", int(m.group(1))))
        tls = psk_client_ctx().wrap_socket(raw, server_hostname="localhost")
        assert tls.cipher() == (PSK_SUITE, "DTLSv1.2")
        tls.send(b"hello openssl\n")
        proc.stdin.write("hello mpssl\n")
        proc.stdin.flush()
        assert tls.recv(100) == b"hello mpssl\n"
        tls.close()
    finally:
        out = finish(proc)
    assert "CIPHER is PSK-AES128-GCM-SHA256" in out, out
    assert "hello openssl" in out, out


@pytest.mark.interop
def test_psk_openssl_s_client_mpssl_server() -> None:
    sock = udp()

    def body(tls: Any) -> Any:
        line = tls.recv(100)
        tls.send(b"bye\n")
        return line, tls.cipher()

    srv = Task(serve, sock, psk_server_ctx(), body)
    proc = start([
        openssl(), "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{sock.getsockname()[1]}",
        "-psk", PSK_KEY.hex(), "-psk_identity", PSK_IDENTITY.decode(),
        "-cipher", "PSK-AES128-GCM-SHA256", "-brief", "-ign_eof",
    ])
    out = finish(proc, "hello from s_client\n")
    errors, (line, cipher) = srv.join(JOIN)
    assert errors == [HELLO_VERIFY]
    assert line == b"hello from s_client\n"
    assert cipher == (PSK_SUITE, "DTLSv1.2")
    assert "Ciphersuite: PSK-AES128-GCM-SHA256" in out, out
    assert "bye" in out, out
    sock.close()


MP_PSK_CLIENT = """
import socket, sys, tls
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
ctx = tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)
ctx.verify_mode = tls.CERT_NONE
ctx.psk_identity = b"micropython"
ctx.psk_key = b"secret-shared-key"
t = ctx.wrap_socket(s, server_hostname="localhost")
print(t.cipher())
t.send(b"psk from micropython")
print(t.recv(64))
t.close()
"""


@pytest.mark.interop
def test_psk_reference_micropython_client_mpssl_server(tmp_path: Path) -> None:
    sock = udp()

    def body(tls: Any) -> Any:
        line = tls.recv(64)
        tls.send(b"psk from mpssl")
        return line

    srv = Task(serve, sock, psk_server_ctx(), body)
    script = tmp_path / "client.py"
    script.write_text(MP_PSK_CLIENT)
    proc = start([micropython(), str(script), str(sock.getsockname()[1])])
    out = finish(proc)
    errors, line = srv.join(JOIN)
    assert errors == [HELLO_VERIFY]
    assert line == b"psk from micropython"
    assert f"('{PSK_SUITE}', 'DTLSv1.2')" in out and "b'psk from mpssl'" in out, out
    sock.close()


# ------------------------------------------------------------------------------------------
# Client certificates, non-blocking sockets, socket-like objects, IPv6


def test_client_certificate_required_and_verified() -> None:
    sock = udp()
    sctx = server_ctx()
    sctx.verify_mode = mpssl.CERT_REQUIRED
    sctx.load_verify_locations(cadata=CA)
    srv = Task(serve, sock, sctx, lambda tls: (tls.recv(16), tls.getpeercert(True)))
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    cctx = client_ctx()
    cctx.load_cert_chain((PKI / "client.der").read_bytes(), (PKI / "client.key.der").read_bytes())
    tls = cctx.wrap_socket(raw, server_hostname="localhost")
    tls.send(b"with a cert")
    errors, (got, peer) = srv.join(JOIN)
    assert errors == [HELLO_VERIFY]
    assert (got, peer) == (b"with a cert", (PKI / "client.der").read_bytes())
    tls.close()


def test_client_certificate_required_but_missing() -> None:
    sock = udp()
    sctx = server_ctx()
    sctx.verify_mode = mpssl.CERT_REQUIRED
    sctx.load_verify_locations(cadata=CA)
    srv = Task(serve, sock, sctx, lambda tls: None, 2)
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    raw.settimeout(5)
    with pytest.raises(OSError):
        client_ctx().wrap_socket(raw, server_hostname="localhost")
    error = srv.exception(JOIN)
    assert "(-29824, 'MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE')" in str(error), error
    raw.close()
    sock.close()


def test_non_blocking_client() -> None:
    sock = udp()
    srv = Task(serve, sock, server_ctx(), lambda tls: (tls.recv(16), tls.send(b"pong")))
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    raw.setblocking(False)
    tls = client_ctx().wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    deadline = time.monotonic() + JOIN
    while tls.do_handshake() is None:
        assert time.monotonic() < deadline
        select.select([raw], [], [], 0.05)  # the DTLS timers only run inside calls
    assert tls.send(b"ping") == 4
    while (data := tls.recv(16)) is None:
        assert time.monotonic() < deadline
        select.select([raw], [], [], 0.05)
    assert data == b"pong"
    _, (got, _) = srv.join(JOIN)
    assert got == b"ping"
    tls.close()


class Datagrams:
    """A socket-like object (not a socket): recv_into/send over a connected UDP socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def recv_into(self, b: Any, nbytes: int = 0) -> int:
        return self.sock.recv_into(b, nbytes)

    def send(self, b: Any) -> int:
        return self.sock.send(b)

    def close(self) -> None:
        self.sock.close()


def test_over_socket_like_objects() -> None:
    sock = udp()
    srv = Task(serve, sock, server_ctx(), lambda tls: tls.recv(32))
    raw = udp(bind=False)
    raw.connect(sock.getsockname())
    tls = client_ctx().wrap_socket(Datagrams(raw), server_hostname="localhost")
    assert tls.cipher() == (SUITE, "DTLSv1.2")
    tls.send(b"through an object")
    _, got = srv.join(JOIN)
    assert got == b"through an object"
    tls.close()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.fail("IPv6 is not available on this host")
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", 0))
    srv = Task(serve, sock, server_ctx(), lambda tls: tls.recv(32))
    raw = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    raw.connect(sock.getsockname()[:2])
    tls = client_ctx().wrap_socket(raw, server_hostname="::1")
    tls.send(b"over ::1")
    errors, got = srv.join(JOIN)
    assert (errors, got) == ([HELLO_VERIFY], b"over ::1")
    tls.close()
    sock.close()


def test_verify_callback_sees_the_chain_and_can_refuse() -> None:
    for verdict, outcome in [(0, "ok"), (-1, "refused")]:
        sock = udp()
        srv = Task(serve, sock, server_ctx(), lambda tls: tls.recv(8), 2)
        raw = udp(bind=False)
        raw.connect(sock.getsockname())
        raw.settimeout(5)
        seen: list[tuple[bytes, int]] = []
        ctx = client_ctx()
        ctx.verify_callback = (
            lambda cert, depth, v=verdict, seen=seen: seen.append((bytes(cert), depth)) or v
        )
        if outcome == "ok":
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            tls.send(b"checked")
            assert srv.join(JOIN)[1] == b"checked"
            tls.close()
        else:
            with pytest.raises(OSError):
                ctx.wrap_socket(raw, server_hostname="localhost")
            srv.exception(JOIN)
        # The reference's order: the trusted root first, down to the leaf at depth 0; a
        # refusal stops at the first certificate.
        if outcome == "ok":
            assert seen == [(CA, 1), (CERT, 0)], [d for _, d in seen]
        else:
            assert seen == [(CA, 1)], [d for _, d in seen]
        raw.close()
        sock.close()


MP_PSK_SERVER = """
import socket, sys, tls
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
ctx = tls.SSLContext(tls.PROTOCOL_DTLS_SERVER)
ctx.server_psk_keys = {b"micropython": b"secret-shared-key"}
print("ready")
for _ in range(2):
    _, addr = s.recvfrom(1, socket.MSG_PEEK)
    s.connect(addr)
    try:
        s = ctx.wrap_socket(s, server_side=1, client_id=repr(addr).encode())
    except OSError as e:
        print(e)
        continue
    print(s.recv(64))
    s.send(b"psk from micropython")
    s.close()
    break
"""


@pytest.mark.interop
def test_psk_mpssl_client_reference_micropython_server(tmp_path: Path) -> None:
    probe = udp()
    port = probe.getsockname()[1]
    probe.close()
    script = tmp_path / "server.py"
    script.write_text(MP_PSK_SERVER)
    proc = start([micropython(), str(script), str(port)])
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        raw = udp(bind=False)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
        tls = psk_client_ctx().wrap_socket(raw, server_hostname="localhost")
        assert tls.cipher() == (PSK_SUITE, "DTLSv1.2")
        tls.send(b"psk from mpssl")
        assert tls.recv(64) == b"psk from micropython"
        tls.close()
    finally:
        out = finish(proc)
    assert out == "(-27264, 'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')\nb'psk from mpssl'\n", out
