"""``SSLContext.ecdsa_sign_callback`` in the firmware (reference.md §2.9): the callback, run
by the C module under ``nlr_push``, signs with pure-MicroPython ECDSA P-256 (as a secure
element's Python driver would); CPython's ``ssl`` on the other end verifies the signatures.
TLS 1.3 and 1.2, ``None`` falls back to software signing, an exception is printed (as the
reference prints it) and fails the handshake with ``MBEDTLS_ERR_ECP_BAD_INPUT_DATA``, a bad
signature fails it before it is sent."""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from test_firmware import MPSSL, need

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "ecdsa-p256"

# mode of the callback, TLS 1.2 (else 1.3), the handshake completes
CASES = [
    ("sign", False, True),
    ("sign", True, True),
    ("none", False, True),
    ("raise", False, False),
    ("garbage", True, False),
]

SERVER = """
import os, socket, tls

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

def add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0]:
        if (p[1] + q[1]) % P == 0:
            return None
        m = (3 * p[0] * p[0] - 3) * pow(2 * p[1], P - 2, P) % P
    else:
        m = (q[1] - p[1]) * pow(q[0] - p[0], P - 2, P) % P
    x = (m * m - p[0] - q[0]) % P
    return (x, (m * (p[0] - x) - p[1]) % P)

def mul(k, p):
    r = None
    while k:
        if k & 1:
            r = add(r, p)
        p = add(p, p)
        k >>= 1
    return r

def der_int(v):
    b = v.to_bytes(33, "big")
    i = 0
    while i < 32 and b[i] == 0 and b[i + 1] < 0x80:
        i += 1
    return bytes([2, 33 - i]) + b[i:]

def ecdsa_sign(d, h):
    d = int.from_bytes(d, "big")
    z = int.from_bytes(h, "big")
    while True:
        k = int.from_bytes(os.urandom(32), "big") % N
        if k:
            r = mul(k, G)[0] % N
            s = pow(k, N - 2, N) * (z + r * d) % N
            if r and s:
                break
    body = der_int(r) + der_int(s)
    return bytes([0x30, len(body)]) + body

CERT = open(%(cert)r, "rb").read()
KEY = open(%(key)r, "rb").read()
calls = []

def callback(mode):
    def cb(d, h):
        calls.append((type(d).__name__, type(h).__name__, len(d), len(h)))
        if mode == "sign":
            return ecdsa_sign(d, h)
        if mode == "raise":
            raise ValueError("secure element offline")
        if mode == "garbage":
            return b"garbage"
        return None
    return cb

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(socket.getaddrinfo("127.0.0.1", %(port)d)[0][-1])
ls.listen(1)
print("listening")
for mode in %(modes)r:
    s, _ = ls.accept()
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    first = ctx.ecdsa_sign_callback
    ctx.ecdsa_sign_callback = callback(mode)
    calls.clear()
    try:
        t = ctx.wrap_socket(s, server_side=True)
        t.write(t.read(4))
        t.close()
        print(mode, first, "ok", calls)
    except OSError as e:
        print(mode, first, "error", e.args, calls)
        s.close()
ls.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(120)
def test_ecdsa_sign_callback_in_the_firmware_against_cpython(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "sign_server.py"
    fill = {
        "%(cert)r": repr(str(TESTDATA / "server.der")),
        "%(key)r": repr(str(TESTDATA / "server.key.der")),
        "%(port)d": str(port),
        "%(modes)r": repr([mode for mode, _, _ in CASES]),
    }
    text = SERVER
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    script.write_text(text)
    proc = subprocess.Popen([str(need(MPSSL)), str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "listening\n"
        outcomes = []
        for _, tls12, _ in CASES:
            ctx = ssl.create_default_context(cadata=(TESTDATA / "ca.pem").read_text())
            if tls12:
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
                try:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        s.sendall(b"ping")
                        assert s.recv(4) == b"ping"
                        outcomes.append(s.version())
                except (ssl.SSLError, OSError) as e:
                    outcomes.append(type(e).__name__)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert outcomes[:3] == ["TLSv1.3", "TLSv1.2", "TLSv1.3"], (outcomes, out)
    assert all(not o.startswith("TLS") for o in outcomes[3:]), (outcomes, out)
    call = "[('bytearray', 'bytearray', 32, 32)]"
    lines = out.splitlines()
    assert lines[:3] == [f"sign None ok {call}", f"sign None ok {call}", f"none None ok {call}"], out
    assert lines[3] == "Traceback (most recent call last):", out
    assert lines[-3] == "ValueError: secure element offline", out
    assert lines[-2] == f"raise None error (-20352, 'MBEDTLS_ERR_ECP_BAD_INPUT_DATA') {call}", out
    assert lines[-1] == f"garbage None error (-19968, 'MBEDTLS_ERR_ECP_VERIFY_FAILED') {call}", out
    assert proc.returncode == 0, out
