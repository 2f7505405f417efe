"""Property-based fuzzing of the Python API (hypothesis): random call sequences on ``SSLContext``
and on a connected ``SSLSocket`` may only raise the documented exceptions.

Documented: ``OSError`` and its subclasses (``TimeoutError``, ``FileNotFoundError``,
``BlockingIOError``, ``ConnectionError`` …), ``ValueError``, ``TypeError``, ``AttributeError``
(deleting an attribute). ``OverflowError`` is accepted only when an argument is a number out of
the platform's range (an int beyond 64 bits, an infinite or huge time-out), which is what
CPython's own ``socket`` raises for the same arguments. Anything else (``SystemError``,
``RuntimeError``, pyo3's ``PanicException``, a crash, a hang) fails the test.

Never a blocking call without a time-out: every socket has a time-out or is non-blocking, so a
lost byte becomes ``TimeoutError`` instead of a hang; hypothesis' ``deadline`` bounds each case.
Run longer with ``MPSSL_FUZZ_EXAMPLES=2000 python -m pytest -q --timeout=0 tests/test_api_fuzz.py``
(the suite-wide 60 s ``timeout`` applies to a whole test, i.e. all its examples).
"""

from __future__ import annotations

import io
import math
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import mpssl
import pki
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpssl import _mpssl

EXAMPLES = int(os.environ.get("MPSSL_FUZZ_EXAMPLES", "0")) or None
DOCUMENTED: tuple[type[BaseException], ...] = (OSError, ValueError, TypeError)

CA_DER, LEAF_DER, KEY_DER = (pki.testdata(f"ecdsa-p256/{n}") for n in ("ca.der", "server.der",
                                                                         "server.key.der"))


def _pem(kind: str, der: bytes) -> bytes:
    import base64

    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    head = f"-----BEGIN {kind}-----\n".encode()
    return head + b"\n".join(lines) + f"\n-----END {kind}-----\n".encode()


CA_PEM = _pem("CERTIFICATE", CA_DER)
LEAF_PEM = _pem("CERTIFICATE", LEAF_DER)
KEY_PEM = _pem("PRIVATE KEY", KEY_DER)

HUGE_INTS = [2**31, 2**32 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]


def _out_of_range(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**63
    if isinstance(value, float):
        return not math.isfinite(value) or abs(value) > 1e9
    if isinstance(value, (list, tuple)):
        return any(_out_of_range(v) for v in value)
    if isinstance(value, dict):
        return any(_out_of_range(v) for v in value.values())
    return False


def call(
    fn: Callable[..., Any], *args: Any, extra: tuple[type[BaseException], ...] = (), **kw: Any
) -> Any:
    """Call ``fn``; swallow documented exceptions, fail on anything else."""
    allowed = DOCUMENTED + extra
    if _out_of_range(args) or _out_of_range(kw):
        allowed += (OverflowError,)
    try:
        return fn(*args, **kw)
    except allowed:
        return None
    except BaseException as e:  # the point of the test
        raise AssertionError(
            f"{getattr(fn, '__qualname__', fn)}{args!r} {kw!r} raised undocumented "
            f"{type(e).__module__}.{type(e).__qualname__}: {e!r}"
        ) from e


# --------------------------------------------------------------------------------------------
# Strategies

ints = st.one_of(st.integers(min_value=-5, max_value=70_000), st.sampled_from(HUGE_INTS))
junk_objects = st.sampled_from([None, 0, -1, 1.5, object(), [], {}, (), "x", b"", True])
random_bytes = st.binary(max_size=600)
material = st.one_of(
    st.sampled_from([CA_DER, LEAF_DER, KEY_DER, CA_PEM, LEAF_PEM, KEY_PEM, LEAF_PEM + KEY_PEM]),
    st.sampled_from([CA_PEM.decode(), LEAF_PEM.decode(), KEY_PEM.decode()]),  # PEM text
    random_bytes,
    random_bytes.map(bytearray),
    random_bytes.map(memoryview),
    # Mangled real material: a flipped byte or a truncation.
    st.tuples(st.sampled_from([LEAF_DER, KEY_DER, LEAF_PEM, KEY_PEM]), st.integers(0, 2000)).map(
        lambda t: t[0][: t[1]] + bytes([(t[0][t[1] % len(t[0])] ^ 0x41)]) + t[0][t[1] + 1 :]
    ),
    # str that is not PEM: a path. Random text, a missing file, a directory, NUL bytes.
    st.sampled_from(["", "/nonexistent/mpssl-fuzz", "/", "a\0b", "-----BEGIN \0"]),
    st.text(max_size=30),
    junk_objects,
    ints,
)
cipher_names = st.one_of(
    st.sampled_from(
        [
            "TLS-AES-256-GCM-SHA384",
            "TLS_AES_128_GCM_SHA256",
            "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
            "TLS-RSA-WITH-AES-128-CBC-SHA",
            "",
        ]
    ),
    st.text(max_size=40),
    st.binary(max_size=40),
    junk_objects,
)
cipher_lists = st.one_of(
    st.lists(cipher_names, max_size=6),
    st.lists(cipher_names, max_size=6).map(tuple),
    st.text(max_size=40),
    junk_objects,
)
hostnames = st.one_of(
    st.sampled_from([None, "localhost", "127.0.0.1", "::1", "", "a" * 300, "bad name", "x\0y"]),
    st.text(max_size=20),
    st.binary(max_size=20),
    junk_objects,
)
verify_modes = st.one_of(st.integers(-3, 5), junk_objects, st.sampled_from(HUGE_INTS))
context_classes = st.sampled_from([mpssl.SSLContext, _mpssl.SSLContext])

ContextOp = tuple[str, Any]
context_ops = st.one_of(
    st.tuples(st.just("verify_mode"), verify_modes),
    st.tuples(st.just("del"), st.sampled_from(["verify_mode", "protocol", "verify_callback", "x"])),
    st.tuples(st.just("hostname_checks_common_name"), junk_objects),
    st.tuples(st.just("session_resumption"), junk_objects),
    st.tuples(
        st.just("verify_callback"), st.sampled_from(["none", "zero", "one", "raise", "junk"])
    ),
    st.tuples(st.just("load_cert_chain"), st.tuples(material, material)),
    st.tuples(st.just("load_verify_locations"), st.tuples(material, material, st.booleans())),
    st.tuples(st.just("set_ciphers"), cipher_lists),
    st.tuples(st.just("get_ciphers"), st.none()),
    st.tuples(
        st.just("wrap_socket"),
        st.tuples(
            st.sampled_from(
                ["none", "int", "object", "bytesio", "closed", "unconnected", "peer-gone"]
            ),
            st.booleans(),
            hostnames,
            st.booleans(),
        ),
    ),
)

CALLBACKS: dict[str, Any] = {
    "none": None,
    "zero": lambda cert, depth: 0,
    "one": lambda cert, depth: 1,
    "raise": lambda cert, depth: 1 / 0,
    "junk": 42,
}


def wrap_target(kind: str, opened: list[socket.socket]) -> Any:
    if kind == "none":
        return None
    if kind == "int":
        return 3
    if kind == "object":
        return object()
    if kind == "bytesio":
        return io.BytesIO(b"\x16\x03\x01\x00\x05hello")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    opened.append(s)
    s.settimeout(0.5)
    if kind == "closed":
        s.close()
    elif kind == "peer-gone":
        a, b = socket.socketpair()
        opened += [a, b]
        a.settimeout(0.5)
        b.close()
        return a
    return s


def apply_context_op(ctx: Any, op: ContextOp, opened: list[socket.socket]) -> None:
    name, arg = op
    if name == "del":
        call(delattr, ctx, arg, extra=(AttributeError,))
    elif name == "verify_callback":
        call(setattr, ctx, name, CALLBACKS[arg])
    elif name in ("verify_mode", "hostname_checks_common_name", "session_resumption"):
        call(setattr, ctx, name, arg)
    elif name == "load_cert_chain":
        call(ctx.load_cert_chain, *arg)
    elif name == "load_verify_locations":
        cafile, cadata, both = arg
        if both:
            call(ctx.load_verify_locations, cafile=cafile, cadata=cadata)
        else:
            call(ctx.load_verify_locations, cadata)
    elif name == "set_ciphers":
        call(ctx.set_ciphers, arg)
    elif name == "get_ciphers":
        ciphers = ctx.get_ciphers()
        assert isinstance(ciphers, list) and ciphers
    elif name == "wrap_socket":
        kind, server_side, hostname, handshake = arg
        target = wrap_target(kind, opened)
        s = call(
            ctx.wrap_socket,
            target,
            server_side=server_side,
            server_hostname=hostname,
            do_handshake_on_connect=handshake and kind in ("closed", "unconnected", "peer-gone"),
        )
        if s is not None:
            call(s.close)
    # Whatever happened, the context still answers.
    assert ctx.verify_mode in (mpssl.CERT_NONE, mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED)
    assert ctx.protocol in (
        mpssl.PROTOCOL_TLS_CLIENT,
        mpssl.PROTOCOL_TLS_SERVER,
        mpssl.PROTOCOL_DTLS_CLIENT,
        mpssl.PROTOCOL_DTLS_SERVER,
    )


@settings(
    max_examples=EXAMPLES or 150,
    deadline=5000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cls=context_classes,
    protocol=st.one_of(st.sampled_from([0, 1]), verify_modes),
    ops=st.lists(context_ops, max_size=12),
)
def test_context_call_sequences(cls: Any, protocol: Any, ops: list[ContextOp]) -> None:
    ctx = call(cls, protocol)
    if ctx is None:
        return
    opened: list[socket.socket] = []
    try:
        for op in ops:
            apply_context_op(ctx, op, opened)
    finally:
        for s in opened:
            s.close()


# --------------------------------------------------------------------------------------------
# SSLSocket over a socketpair, the peer an mpssl server echoing in a thread

SERVER_CTX = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
SERVER_CTX.load_cert_chain(LEAF_DER, KEY_DER)
CLIENT_CTX = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
CLIENT_CTX.load_verify_locations(cadata=CA_DER)

sizes = st.one_of(st.integers(-3, 20_000), st.sampled_from([-1, 0, 1, 16384, 16385] + HUGE_INTS))
payloads = st.one_of(
    st.binary(max_size=3000), st.binary(max_size=3000).map(bytearray), st.just(b"line\n" * 3)
)
timeouts = st.one_of(
    st.sampled_from([0.0, 0.001, 0.05, -1.0, float("nan"), float("inf"), 1e300, "1", 2**64]),
    st.floats(min_value=0.0, max_value=0.1),
)
socket_ops = st.one_of(
    st.tuples(st.sampled_from(["read", "recv", "readline"]), sizes),
    st.tuples(st.just("read_default"), st.none()),
    st.tuples(
        st.sampled_from(["readinto", "recv_into"]),
        st.tuples(
            st.integers(0, 5000),
            st.one_of(st.none(), sizes),
            st.sampled_from(["bytearray", "memoryview", "bytes", "strided"]),
        ),
    ),
    st.tuples(
        st.sampled_from(["write", "send", "sendall"]),
        st.one_of(payloads, junk_objects, st.text(max_size=5)),
    ),
    st.tuples(st.just("settimeout"), timeouts),
    st.tuples(st.just("setblocking"), st.just(False)),
    st.tuples(
        st.sampled_from(
            [
                "pending",
                "wants",
                "cipher",
                "version",
                "key_exchange_group",
                "getpeercert",
                "getpeercert_bin",
                "get_peer_cert_chain",
                "fileno",
                "do_handshake",
                "gettimeout",
                "attrs",
                "close",
                "peer_close",
                "peer_shutdown_write",
            ]
        ),
        st.none(),
    ),
)


def _buffer(size: int, kind: str) -> Any:
    if kind == "bytearray":
        return bytearray(size)
    if kind == "memoryview":
        return memoryview(bytearray(size))
    if kind == "bytes":
        return bytes(size)
    return memoryview(bytearray(size * 2 + 2))[::2]


def echo_server(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.05)
    try:
        s = SERVER_CTX.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        while not stop.is_set():
            try:
                data = s.recv(4096)
            except TimeoutError:
                continue
            if not data:
                break
            s.write(data)
        s.close()
    except DOCUMENTED:
        pass


def apply_socket_op(tls: Any, op: tuple[str, Any], peer: socket.socket) -> None:
    name, arg = op
    if name in ("read", "recv", "readline"):
        result = call(getattr(tls, name), arg)
        if result is not None:
            assert isinstance(result, bytes)
            if isinstance(arg, int) and arg >= 0:
                assert len(result) <= arg
    elif name == "read_default":
        call(tls.read)
    elif name in ("readinto", "recv_into"):
        size, nbytes, kind = arg
        buf = _buffer(size, kind)
        args = (buf,) if nbytes is None else (buf, nbytes)
        n = call(getattr(tls, name), *args)
        if n is not None:
            assert isinstance(n, int) and 0 <= n <= len(buf)
    elif name in ("write", "send", "sendall"):
        n = call(getattr(tls, name), arg)
        if n is not None and isinstance(arg, (bytes, bytearray)):
            assert 0 <= n <= len(arg)
    elif name == "settimeout":
        call(tls.settimeout, arg)
        # A blocking socket with no time-out could wait for ever: keep one.
        if tls.gettimeout() is None or tls.gettimeout() > 0.1:
            call(tls.settimeout, 0.05)
    elif name == "setblocking":
        call(tls.setblocking, arg)
    elif name == "getpeercert":
        call(tls.getpeercert)
    elif name == "getpeercert_bin":
        call(tls.getpeercert, True)
    elif name == "attrs":
        for attr in (
            "context",
            "server_side",
            "server_hostname",
            "session_reused",
            "eof_was_clean",
        ):
            call(getattr, tls, attr)
        call(delattr, tls, "server_side", extra=(AttributeError,))
    elif name == "peer_close":
        call(peer.shutdown, socket.SHUT_RDWR)
    elif name == "peer_shutdown_write":
        call(peer.shutdown, socket.SHUT_WR)
    else:
        call(getattr(tls, name))


@settings(
    max_examples=EXAMPLES or 60,
    deadline=5000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    handshake_first=st.booleans(),
    ops=st.lists(socket_ops, max_size=15),
)
def test_socket_call_sequences(handshake_first: bool, ops: list[tuple[str, Any]]) -> None:
    a, b = socket.socketpair()
    stop = threading.Event()
    server = threading.Thread(target=echo_server, args=(b, stop), daemon=True)
    server.start()
    a.settimeout(2.0)
    try:
        tls = CLIENT_CTX.wrap_socket(
            a, server_hostname="localhost", do_handshake_on_connect=handshake_first
        )
        tls.settimeout(0.05)
        for op in ops:
            apply_socket_op(tls, op, b)
        call(tls.close)
        call(tls.close)  # twice is fine
        call(tls.read, 1)
    finally:
        stop.set()
        server.join(5.0)
        a.close()
        b.close()
    assert not server.is_alive(), "echo server thread did not stop"
