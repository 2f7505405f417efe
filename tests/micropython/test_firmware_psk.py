"""``server_psk_keys`` in the firmware (reference.md §2.8): the C module calls the object's
``get(identity)`` under ``nlr_push`` and hands the engine the key. What MicroPython's PSK
multitests do not reach: a binary identity arrives as the exact ``bytes``; any buffer is a key
(a ``str`` too, as in the reference); ``None``, a non-buffer value, an over-long key, a missing
``get`` and an exception from ``get`` each reject the client with
``MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY``, the exception swallowed and the server going on to the
next connection. The client is the Python package's PSK client."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import mpssl
import pytest
from test_firmware import MPSSL, need

IDENTITY = b"\x00dev\xff17"
KEY = b"secret-shared-key"

# mode of the server's key store, the handshake completes
CASES = [
    ("dict", True),
    ("str", True),
    ("bytearray", True),
    ("none", False),
    ("int", False),
    ("long", False),
    ("noget", False),
    ("raise", False),
]

SERVER = """
import socket, tls

KEY = %(key)r
asked = []

class Store:
    def __init__(self, mode):
        self.mode = mode
    def get(self, identity):
        asked.append(identity)
        m = self.mode
        if m == "str":
            return KEY.decode()
        if m == "bytearray":
            return bytearray(KEY)
        if m == "none":
            return None
        if m == "int":
            return 12345
        if m == "long":
            return b"k" * 300
        if m == "raise":
            raise KeyError("no such device")
        return {%(identity)r: KEY}.get(identity)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(socket.getaddrinfo("127.0.0.1", %(port)d)[0][-1])
ls.listen(1)
print("listening")
for mode in %(modes)r:
    s, _ = ls.accept()
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
    ctx.server_psk_keys = object() if mode == "noget" else Store(mode)
    asked.clear()
    try:
        t = ctx.wrap_socket(s, server_side=True)
        t.write(t.read(4))
        t.close()
        print(mode, "ok", asked)
    except OSError as e:
        print(mode, "error", e.args, asked)
        s.close()
ls.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(120)
def test_server_psk_keys_lookup_in_the_firmware(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "psk_server.py"
    fill = {
        "%(key)r": repr(KEY),
        "%(identity)r": repr(IDENTITY),
        "%(port)d": str(port),
        "%(modes)r": repr([mode for mode, _ in CASES]),
    }
    text = SERVER
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    script.write_text(text)
    proc = subprocess.Popen(
        [str(need(MPSSL)), str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "listening\n"
        outcomes = []
        for _ in CASES:
            ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
            ctx.psk_identity = IDENTITY
            ctx.psk_key = KEY
            with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
                try:
                    t = ctx.wrap_socket(raw, server_hostname="localhost")
                    t.write(b"ping")
                    assert t.read(4) == b"ping"
                    outcomes.append(t.cipher()[0])
                    t.close()
                except OSError as e:
                    outcomes.append(e.args)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    asked = repr([IDENTITY])
    lines = out.splitlines()
    assert len(lines) == len(CASES), out
    for (mode, completes), outcome, line in zip(CASES, outcomes, lines, strict=True):
        if completes:
            assert isinstance(outcome, str), (mode, outcome, out)
            assert outcome.startswith("TLS-PSK-WITH-AES-"), (mode, outcome)
            assert line == f"{mode} ok {asked}", out
        else:
            assert outcome == (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE"), (mode, outcome)
            # The lookup was called with the identity (no get: nothing to call).
            who = "[]" if mode == "noget" else asked
            assert line == f"{mode} error (-27776, 'MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY') {who}", out
    assert proc.returncode == 0, out
