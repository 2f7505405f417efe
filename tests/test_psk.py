"""TLS 1.2 PSK (``psk_identity``, ``psk_key``, ``server_psk_keys``) through the Python API.

mpssl against itself over socket pairs, against ``openssl s_server``/``s_client -psk``, the
reference ``micropython`` and CPython 3.13's ``ssl`` over loopback in both directions, and MicroPython's own
``extmod/tls_psk.py`` and ``multi_net/sslcontext_server_client_psk*.py`` run unmodified on
CPython with mpssl as ``tls`` (alone, and paired with the reference), from the MicroPython
source tree the firmware tests use.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import mpssl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import Harness, handshake_pair

ROOT = Path(__file__).resolve().parents[1]
SHIM = ROOT / "tests" / "micropython" / "cpython"
IDENTITY = b"micropython"
KEY = b"secret-shared-key"
BAD_INPUT = (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA")
UNKNOWN_IDENTITY = (-27776, "MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY")
FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
INVALID_MAC = (-29056, "MBEDTLS_ERR_SSL_INVALID_MAC")
PSK_SUITES = ["TLS-PSK-WITH-AES-256-GCM-SHA384", "TLS-PSK-WITH-AES-128-GCM-SHA256"]
OPENSSL_SUITE = {
    "TLS-PSK-WITH-AES-128-GCM-SHA256": "PSK-AES128-GCM-SHA256",
    "TLS-PSK-WITH-AES-256-GCM-SHA384": "PSK-AES256-GCM-SHA384",
}
PROC_TIMEOUT = 30


def client_ctx(identity: Any = IDENTITY, key: Any = KEY) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.psk_identity = identity
    ctx.psk_key = key
    return ctx


def server_ctx(keys: Any = None) -> mpssl.SSLContext:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.server_psk_keys = {IDENTITY: KEY} if keys is None else keys
    return ctx


def os_error(outcome: Any) -> tuple[Any, ...]:
    assert isinstance(outcome, OSError), outcome
    return tuple(outcome.args)


# ------------------------------------------------------------------------------------------
# The attributes (as extmod/tls_psk.py checks them)


def test_attributes_default_to_none_and_read_back() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    assert (ctx.psk_identity, ctx.psk_key, ctx.server_psk_keys) == (None, None, None)
    keys = {IDENTITY: KEY}
    ctx.psk_identity = IDENTITY
    ctx.psk_key = KEY
    ctx.server_psk_keys = keys
    assert (ctx.psk_identity, ctx.psk_key) == (IDENTITY, KEY)
    assert ctx.server_psk_keys is keys
    ctx.psk_key = None
    assert ctx.psk_key is None


def test_over_long_key_fails_once_both_are_set_in_either_order() -> None:
    ctx = client_ctx()
    with pytest.raises(OSError) as e:
        ctx.psk_key = b"x" * 49
    assert e.value.args == BAD_INPUT
    assert ctx.psk_key == b"x" * 49  # kept, as the reference keeps it
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.psk_key = b"x" * 49
    with pytest.raises(OSError) as e:
        ctx.psk_identity = IDENTITY
    assert e.value.args == BAD_INPUT
    ctx.psk_key = b"x" * 48  # the longest key Mbed TLS takes
    with pytest.raises(OSError) as e:
        ctx.psk_key = b""
    assert e.value.args == BAD_INPUT


def test_attribute_types(harness: Harness) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(TypeError, match="psk_key must be a bytes-like object, not str"):
        ctx.psk_key = "secret"
    with pytest.raises(TypeError, match="psk_identity must be bytes or str"):
        ctx.psk_identity = 5
    ctx.psk_identity = "micropython"  # str, sent as UTF-8 (mp_obj_str_get_data)
    ctx.psk_key = bytearray(KEY)
    sctx = server_ctx()
    client, server = handshake_pair(harness, sctx, ctx, "micropython.local")
    assert client.cipher() == server.cipher() == (PSK_SUITES[0], "TLSv1.2")


def test_psk_limits_the_suites_unless_set_ciphers_came_first() -> None:
    assert client_ctx().get_ciphers() == PSK_SUITES
    assert server_ctx().get_ciphers() == PSK_SUITES
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(["TLS-PSK-WITH-AES-128-GCM-SHA256"])
    ctx.psk_identity = IDENTITY
    ctx.psk_key = KEY
    assert ctx.get_ciphers() == ["TLS-PSK-WITH-AES-128-GCM-SHA256"]
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers(["TLS-AES-128-GCM-SHA256"])
    ctx.server_psk_keys = {}
    assert ctx.get_ciphers() == ["TLS-AES-128-GCM-SHA256"]
    # The CBC PSK suites stay "known but not supported".
    with pytest.raises(OSError, match="TLS-PSK-WITH-AES-128-CBC-SHA256 is known but not"):
        ctx.set_ciphers(["TLS-PSK-WITH-AES-128-CBC-SHA256"])


VALUES = st.one_of(
    st.none(), st.binary(max_size=80), st.text(max_size=80), st.integers(),
    st.binary(max_size=80).map(bytearray), st.binary(max_size=80).map(memoryview),
    st.lists(st.integers(0, 255), max_size=4), st.dictionaries(st.binary(max_size=8),
                                                               st.binary(max_size=8)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["psk_identity", "psk_key", "server_psk_keys"]),
                          VALUES), max_size=6),
       st.sampled_from([mpssl.PROTOCOL_TLS_CLIENT, mpssl.PROTOCOL_TLS_SERVER]))
def test_any_value_is_taken_or_refused_cleanly(ops: list[tuple[str, Any]], protocol: int) -> None:
    ctx = mpssl.SSLContext(protocol)
    for name, value in ops:
        try:
            setattr(ctx, name, value)
        except TypeError:
            pass
        except OSError as e:
            assert e.args == BAD_INPUT
    ctx.get_ciphers()


# ------------------------------------------------------------------------------------------
# mpssl <-> mpssl (the multi_net scenarios, over socket pairs)

@pytest.mark.parametrize("suite", PSK_SUITES)
def test_mpssl_pair_both_suites(harness: Harness, suite: str) -> None:
    cctx = client_ctx()
    cctx.set_ciphers([suite])
    client, server = handshake_pair(
        harness, server_ctx(), cctx, "micropython.local", ping=b"client to server",
        pong=b"server to client",
    )
    for side in (client, server):
        assert side.cipher() == (suite, "TLSv1.2")
        assert side.getpeercert(True) is None


def test_binary_identity_and_a_store_object(harness: Harness) -> None:
    seen: list[Any] = []

    class Store:
        def get(self, identity: Any) -> bytes | None:
            seen.append(identity)
            return KEY if identity == b"\xff\xfe\xfd" else None

    client, server = handshake_pair(
        harness, server_ctx(Store()), client_ctx(b"\xff\xfe\xfd"), "micropython.local",
        ping=b"x", pong=b"y",
    )
    assert client.cipher() == server.cipher() == (PSK_SUITES[0], "TLSv1.2")
    assert seen == [b"\xff\xfe\xfd"]
    assert type(seen[0]) is bytes


class NotBytes:
    def get(self, identity: bytes) -> Any:
        return 12345


class Raises:
    def get(self, identity: bytes) -> Any:
        raise KeyError(identity)


@pytest.mark.parametrize(
    "keys",
    [{b"other": KEY}, NotBytes(), Raises(), object(), {IDENTITY: "str key"}, {IDENTITY: b""},
     {IDENTITY: b"k" * 49}],
    ids=["unknown", "not-bytes", "raises", "no-get", "str", "empty", "too-long"],
)
def test_rejected_identity(harness: Harness, keys: Any) -> None:
    client, server = handshake_pair(harness, server_ctx(keys), client_ctx(), "micropython.local")
    assert os_error(server) == UNKNOWN_IDENTITY
    assert os_error(client) == FATAL_ALERT


def test_wrong_key(harness: Harness) -> None:
    client, server = handshake_pair(harness, server_ctx(), client_ctx(key=b"wrong"), "micropython.local")
    assert os_error(server) == INVALID_MAC
    assert os_error(client) == FATAL_ALERT


def test_no_fallback_to_certificates(
    harness: Harness, server_cert: Any, ca: Any
) -> None:
    cert_server = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    cert_server.load_cert_chain(server_cert.chain_pem, server_cert.key_bytes())
    trusting = client_ctx()
    trusting.load_verify_locations(cadata=ca.pem)
    client, server = handshake_pair(harness, cert_server, trusting, "localhost")
    assert isinstance(client, OSError) and isinstance(server, OSError)

    # A PSK server with a certificate too, and a certificate client that trusts it.
    both = server_ctx()
    both.load_cert_chain(server_cert.chain_pem, server_cert.key_bytes())
    cert_client = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cert_client.load_verify_locations(cadata=ca.pem)
    client, server = handshake_pair(harness, both, cert_client, "localhost")
    assert isinstance(server, OSError) and server.args[0] == -28160  # HANDSHAKE_FAILURE
    assert os_error(client) == FATAL_ALERT


# ------------------------------------------------------------------------------------------
# openssl s_server / s_client -psk, over loopback


def openssl() -> str:
    path = shutil.which("openssl") or "/usr/bin/openssl"
    if not os.path.exists(path):
        pytest.fail("the `openssl` command-line tool (OpenSSL 3) is not installed")
    return path


def start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(proc: subprocess.Popen[str], text: str = "") -> str:
    """Send ``text`` to the process's stdin, close it, wait for the exit (killing it after
    ``PROC_TIMEOUT``); gives the rest of its output."""
    try:
        out, _ = proc.communicate(text, timeout=PROC_TIMEOUT)
    finally:
        proc.kill()
        proc.communicate()
    return out


@pytest.mark.interop
@pytest.mark.parametrize("suite", PSK_SUITES)
def test_mpssl_client_openssl_s_server(suite: str) -> None:
    proc = start([
        openssl(), "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-nocert", "-rev",
        "-tls1_2", "-cipher", OPENSSL_SUITE[suite], "-psk", KEY.hex(), "-psk_identity",
        IDENTITY.decode(), "-psk_hint", "a hint",
    ])
    try:
        assert proc.stdout is not None
        lines = []
        while not (m := re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", lines[-1] if lines else "")):
            lines.append(proc.stdout.readline())
            assert lines[-1], "".join(lines)
        with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10) as raw:
            tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
            assert tls.cipher() == (suite, "TLSv1.2")
            tls.write(b"hello openssl\n")
            assert tls.readline() == b"lssnepo olleh\n"
            tls.write(b"CLOSE\n")
            assert tls.read() == b""
            tls.close()
    finally:
        out = finish(proc)
    assert proc.returncode == 0, out


@pytest.mark.interop
@pytest.mark.parametrize("suite", PSK_SUITES)
def test_openssl_s_client_mpssl_server(tls_server: Any, suite: str) -> None:
    def handler(conn: socket.socket) -> tuple[bytes, Any]:
        s = server_ctx().wrap_socket(conn, server_side=True)
        line = s.readline()
        s.write(b"bye\n")
        cipher = s.cipher()
        s.close()
        return line, cipher

    srv = tls_server(handler)
    proc = start([
        openssl(), "s_client", "-connect", f"127.0.0.1:{srv.address[1]}", "-brief", "-ign_eof",
        "-tls1_2", "-cipher", OPENSSL_SUITE[suite], "-psk", KEY.hex(), "-psk_identity",
        IDENTITY.decode(),
    ])
    out = finish(proc, "hello from s_client\n")
    line, cipher = srv.join()
    assert line == b"hello from s_client\n"
    assert cipher == (suite, "TLSv1.2")
    assert f"Ciphersuite: {OPENSSL_SUITE[suite]}" in out
    assert "bye" in out


@pytest.mark.interop
def test_openssl_s_client_with_the_wrong_key(tls_server: Any) -> None:
    srv = tls_server(lambda conn: server_ctx().wrap_socket(conn, server_side=True))
    proc = start([
        openssl(), "s_client", "-connect", f"127.0.0.1:{srv.address[1]}", "-brief", "-tls1_2",
        "-psk", b"other key".hex(), "-psk_identity", IDENTITY.decode(),
    ])
    out = finish(proc)
    error = srv.exception()
    assert isinstance(error, OSError) and error.args == INVALID_MAC
    assert "bad record mac" in out


# ------------------------------------------------------------------------------------------
# The reference micropython, over loopback

MP_CLIENT = """
import socket, sys, tls
s = socket.socket()
s.connect(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.psk_identity = b"micropython"
ctx.psk_key = sys.argv[2].encode()
try:
    t = ctx.wrap_socket(s, server_hostname="micropython.local")
    t.write(b"client to server")
    print(t.read(16), t.cipher())
    t.close()
except OSError as e:
    print("error", e.args)
"""

MP_SERVER = """
import socket, sys, tls
ai = socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(ai)
s.listen(1)
print("ready")
c, _ = s.accept()
ctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
ctx.server_psk_keys = {b"micropython": sys.argv[2].encode()}
try:
    t = ctx.wrap_socket(c, server_side=True)
    print(t.read(16), t.cipher())
    t.write(b"server to client")
    t.close()
except OSError as e:
    print("error", e.args)
s.close()
"""


def micropython() -> str:
    path = shutil.which("micropython")
    if path is None:
        pytest.fail("the reference `micropython` (make tools) is not on PATH")
    return path


@pytest.mark.interop
@pytest.mark.parametrize("key", [KEY, b"wrong"], ids=["same-key", "wrong-key"])
def test_reference_client_mpssl_server(tls_server: Any, tmp_path: Path, key: bytes) -> None:
    script = tmp_path / "client.py"
    script.write_text(MP_CLIENT)

    def handler(conn: socket.socket) -> Any:
        s = server_ctx().wrap_socket(conn, server_side=True)
        got = s.read(16)
        s.write(b"server to client")
        s.close()
        return got

    srv = tls_server(handler)
    proc = start([micropython(), str(script), str(srv.address[1]), key.decode()])
    out = finish(proc)
    if key == KEY:
        assert srv.join() == b"client to server"
        assert "b'server to client' ('TLS-PSK-WITH-AES-256-GCM-SHA384', 'TLSv1.2')" in out, out
    else:
        assert os_error(srv.exception()) == INVALID_MAC
        assert f"error {FATAL_ALERT}" in out, out


def free_port() -> int:
    # The reference has no getsockname: give it a port that was free a moment ago. A clash
    # shows as the reference's bind error in the assertion message.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.interop
@pytest.mark.parametrize("key", [KEY, b"wrong"], ids=["same-key", "wrong-key"])
def test_mpssl_client_reference_server(tmp_path: Path, key: bytes) -> None:
    script = tmp_path / "server.py"
    script.write_text(MP_SERVER)
    port = free_port()
    proc = start([micropython(), str(script), str(port), key.decode()])
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            try:
                tls = client_ctx().wrap_socket(raw, server_hostname="micropython.local")
                tls.write(b"client to server")
                got: Any = tls.read(16)
                cipher = tls.cipher()
                tls.close()
            except OSError as e:
                got = e
    finally:
        out = finish(proc)
    if key == KEY:
        assert got == b"server to client", out
        assert cipher == ("TLS-PSK-WITH-AES-256-GCM-SHA384", "TLSv1.2")
        assert "b'client to server' ('TLS-PSK-WITH-AES-256-GCM-SHA384', 'TLSv1.2')" in out
    else:
        # The reference finds our Finished undecryptable and closes without an alert.
        assert os_error(got) == (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")
        assert f"error {INVALID_MAC}" in out, out


# ------------------------------------------------------------------------------------------
# CPython 3.13+'s ssl (set_psk_client_callback / set_psk_server_callback), over loopback

CP_SERVER = """
import socket, ssl, sys
key = bytes.fromhex(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("PSK")
ctx.set_psk_server_callback(lambda identity: key if identity == "micropython" else b"", "a hint")
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
try:
    t = ctx.wrap_socket(c, server_side=True)
    print(t.recv(16), t.cipher()[:2], flush=True)
    t.sendall(b"server to client")
    t.close()
except ssl.SSLError as e:
    print("error", e.reason, flush=True)
"""

CP_CLIENT = """
import socket, ssl, sys
key = bytes.fromhex(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("PSK")
ctx.set_psk_client_callback(lambda hint: ("micropython", key))
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
    try:
        t = ctx.wrap_socket(raw)
        t.sendall(b"client to server")
        print(t.recv(16), t.cipher()[:2], flush=True)
        t.close()
    except ssl.SSLError as e:
        print("error", e.reason, flush=True)
"""


def cpython_with_psk() -> str:
    """A CPython >= 3.13 (``set_psk_*_callback``): ``MPSSL_PYTHON313``, ``python3.13`` or
    pyenv's; the tests skip (visibly) when there is none, since ``make tools`` installs none."""
    candidates = [os.environ.get("MPSSL_PYTHON313", ""), shutil.which("python3.13") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[3-9]*/bin/python3"))
    for c in filter(None, candidates):
        probe = subprocess.run(
            [c, "-c", "import ssl; ssl.SSLContext.set_psk_client_callback"],
            capture_output=True, timeout=PROC_TIMEOUT, check=False,
        )
        if probe.returncode == 0:
            return c
    pytest.skip("no CPython >= 3.13 with set_psk_client_callback found (set MPSSL_PYTHON313)")


@pytest.mark.interop
@pytest.mark.parametrize("key", [KEY, b"wrong"], ids=["same-key", "wrong-key"])
def test_mpssl_client_cpython313_server(tmp_path: Path, key: bytes) -> None:
    script = tmp_path / "server.py"
    script.write_text(CP_SERVER)
    proc = start([cpython_with_psk(), str(script), KEY.hex()])
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            try:
                tls = client_ctx(key=key).wrap_socket(raw, server_hostname="localhost")
                tls.write(b"client to server")
                got: Any = (tls.read(16), tls.cipher())
                tls.close()
            except OSError as e:
                got = e
    finally:
        out = finish(proc)
    if key == KEY:
        assert got == (b"server to client", ("TLS-PSK-WITH-AES-256-GCM-SHA384", "TLSv1.2")), out
        assert "b'client to server' ('PSK-AES256-GCM-SHA384', 'TLSv1.2')" in out
    else:
        assert os_error(got) == FATAL_ALERT
        assert "error DECRYPTION_FAILED_OR_BAD_RECORD_MAC" in out, out


@pytest.mark.interop
@pytest.mark.parametrize("key", [KEY, b"wrong"], ids=["same-key", "wrong-key"])
def test_cpython313_client_mpssl_server(tls_server: Any, tmp_path: Path, key: bytes) -> None:
    script = tmp_path / "client.py"
    script.write_text(CP_CLIENT)

    def handler(conn: socket.socket) -> Any:
        s = server_ctx().wrap_socket(conn, server_side=True)
        got = (s.read(16), s.cipher())
        s.write(b"server to client")
        s.close()
        return got

    python = cpython_with_psk()
    srv = tls_server(handler)
    out = finish(start([python, str(script), str(srv.address[1]), key.hex()]))
    if key == KEY:
        assert srv.join() == (b"client to server", ("TLS-PSK-WITH-AES-256-GCM-SHA384", "TLSv1.2"))
        assert "b'server to client' ('PSK-AES256-GCM-SHA384', 'TLSv1.2')" in out, out
    else:
        assert os_error(srv.exception()) == INVALID_MAC
        assert "error SSLV3_ALERT_BAD_RECORD_MAC" in out, out


# ------------------------------------------------------------------------------------------
# MicroPython's own PSK tests, unmodified, on CPython with mpssl as `tls`


def micropython_tests(tmp: Path) -> Path:
    """``tests/`` of the MicroPython tree the firmware tests use (``make micropython-src``),
    or one extracted from the same subset tarball (with its loopback patch)."""
    built = ROOT / "target" / "micropython" / "src" / "micropython" / "tests"
    if (built / "run-multitests.py").exists():
        return built
    shared = [Path(os.environ["MPY_SHARED"])] if "MPY_SHARED" in os.environ else []
    shared += [ROOT.parent / "shared" / "micropython", ROOT.parents[1] / "shared" / "micropython",
               Path("/work/shared/micropython")]
    for d in shared:
        tarballs = sorted(d.glob("micropython-*-subset.tar.gz"))
        if tarballs:
            with tarfile.open(tarballs[0]) as tar:
                tar.extractall(tmp, filter="data")
            src = tmp / "micropython"
            subprocess.run(
                ["patch", "-s", "-p1", "-i", str(d / "loopback.patch")], cwd=src, check=True
            )
            return src / "tests"
    pytest.fail("no MicroPython source: run `make micropython-src` or set MPY_SHARED")


@pytest.fixture(scope="module")
def mp_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return micropython_tests(tmp_path_factory.mktemp("micropython-src"))


def cpython_instance(tests: Path) -> str:
    ssl_py = tests.parent / "lib" / "micropython-lib" / "python-stdlib" / "ssl"
    return f"cpython,PYTHONPATH={os.pathsep.join([str(SHIM), str(ssl_py)])}"


def test_extmod_tls_psk_on_cpython(mp_tests: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SHIM)}
    out = subprocess.run(
        [sys.executable, "extmod/tls_psk.py"], cwd=mp_tests, env=env, capture_output=True,
        text=True, timeout=PROC_TIMEOUT, check=False,
    )
    assert out.stdout == (mp_tests / "extmod" / "tls_psk.py.exp").read_text(), out.stderr


@pytest.mark.interop
@pytest.mark.timeout(300)
@pytest.mark.parametrize("peer", ["cpython", "reference"])
def test_multi_net_psk_tests_on_cpython(mp_tests: Path, peer: str) -> None:
    files = sorted(p.relative_to(mp_tests).as_posix()
                   for p in (mp_tests / "multi_net").glob("sslcontext_server_client_psk*.py"))
    assert len(files) == 10
    instances = ["-t", cpython_instance(mp_tests)]
    if peer == "cpython":
        instances += ["-t", cpython_instance(mp_tests)]
    else:
        instances = ["-p", "2", *instances, "-t", f"exec:{micropython()}"]
    env = {**os.environ, "MICROPY_CPYTHON3": sys.executable}
    out = subprocess.run(
        [sys.executable, "run-multitests.py", *instances, *files], cwd=mp_tests, env=env,
        capture_output=True, text=True, timeout=280, check=False,
    )
    results = re.findall(r"^(\S+) on \S+: (pass|FAIL|skip)$", out.stdout, re.MULTILINE)
    orders = 1 if peer == "cpython" else 2
    assert len(results) == orders * len(files), out.stdout[-3000:] + out.stderr[-3000:]
    failed = [r for r in results if r[1] != "pass"]
    assert not failed, out.stdout[-5000:]
