"""The oracle: one MicroPython-compatible script, run as server + client on the reference
``micropython`` (reference <-> reference, TLS 1.2) and on CPython with ``import mpssl as ssl``
(mpssl <-> mpssl, TLS 1.3). Each role must print exactly the same lines on both.

The script uses only what both support: ``import ssl``/``socket``, DER data, module-level
``ssl.wrap_socket`` and ``ssl.SSLContext``, the native context for ``set_ciphers``,
CERT_REQUIRED, read/write/readline, and printed exception types and args. It prints nothing
that legitimately differs (suite names and versions, reprs, addresses).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from interop_support import PROC_TIMEOUT, Interop, Proc, RefCert, listening_port

pytestmark = pytest.mark.interop

ORACLE = r"""
import sys
import socket

if sys.implementation.name == "micropython":
    import ssl
    import tls as native
else:
    import mpssl as ssl
    native = ssl  # mpssl's SSLContext is the native context (set_ciphers and all)

HOST = "micropython.local"


def data(path):
    f = open(path, "rb")
    d = f.read()
    f.close()
    return d


def drain(sock):
    # wait for the peer to close, so it has read everything we sent (alerts included)
    try:
        while sock.recv(256):
            pass
    except OSError:
        pass


ROLE = sys.argv[1]
CERT = data(sys.argv[2])
KEY = data(sys.argv[3])


def server():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
    ls.listen(1)
    print("ready")

    # 1. a successful exchange, module-level wrap_socket with DER key/cert
    c, _ = ls.accept()
    ss = ssl.wrap_socket(c, server_side=True, key=KEY, cert=CERT)
    line = ss.readline()
    print("1 server readline", line)
    print("1 server write", ss.write(b"pong:" + line))
    print("1 server read", ss.read(4))
    print("1 server eof", ss.read(4))
    ss.close()

    # 2. the client rejects our certificate (wrong host name)
    c, _ = ls.accept()
    try:
        ss = ssl.wrap_socket(c, server_side=True, key=KEY, cert=CERT)
        print("2 server unexpected", ss.read(1))
    except OSError as e:
        print("2 server wrong host", type(e).__name__, e.args)
    c.close()

    # 3. CERT_REQUIRED server, the client has no certificate. The handshake runs inside
    # read (as asyncio servers do): only then does the reference send its alert.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    ctx.load_verify_locations(cadata=CERT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    c, _ = ls.accept()
    try:
        ss = ctx.wrap_socket(c, server_side=True, do_handshake_on_connect=False)
        print("3 server unexpected", ss.read(1))
    except OSError as e:
        print("3 server no client cert", type(e).__name__, e.args)
    drain(c)
    c.close()

    # 4. mutual TLS with the same context
    c, _ = ls.accept()
    ss = ctx.wrap_socket(c, server_side=True)
    print("4 server mutual readline", ss.readline())
    print("4 server mutual write", ss.write(b"mutual ok\n"))
    print("4 server mutual eof", ss.read(1))
    ss.close()
    ls.close()
    print("server done")


def connect():
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", int(sys.argv[4]))[0][-1])
    return s


def client():
    # 1
    c = connect()
    ss = ssl.wrap_socket(c, cert_reqs=ssl.CERT_REQUIRED, cadata=CERT, server_hostname=HOST)
    cipher = ss.cipher()
    print("1 client cipher", type(cipher) is tuple, len(cipher),
          cipher[1] in ("TLSv1.2", "TLSv1.3"))
    print("1 client write", ss.write(b"ping\n"))
    print("1 client readline", ss.readline())
    print("1 client write", ss.write(b"1234"))
    ss.close()

    # 2
    c = connect()
    try:
        ss = ssl.wrap_socket(c, cert_reqs=ssl.CERT_REQUIRED, cadata=CERT,
                             server_hostname="wrong.local")
        print("2 client unexpected", ss.cipher())
    except ValueError as e:
        print("2 client wrong host", type(e).__name__, repr(str(e)))
    drain(c)
    c.close()

    # 3 (TLS 1.3: the handshake completes on the client; the alert comes with the read)
    c = connect()
    try:
        ss = ssl.wrap_socket(c, cert_reqs=ssl.CERT_REQUIRED, cadata=CERT, server_hostname=HOST)
        ss.write(b"x\n")
        print("3 client unexpected", ss.read(1))
    except OSError as e:
        print("3 client no cert", type(e).__name__, e.args)
    c.close()

    # 4
    c = connect()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(CERT, KEY)
    ctx.load_verify_locations(cadata=CERT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ss = ctx.wrap_socket(c, server_hostname=HOST)
    print("4 client mutual write", ss.write(b"mutual\n"))
    print("4 client mutual readline", ss.readline())
    ss.close()

    # 5. errors raised before any I/O
    s = socket.socket()
    for label, kw in (
        ("bad key", {"key": b"!", "cert": CERT}),
        ("bad cert", {"key": KEY, "cert": b"!"}),
        ("bad cadata", {"cadata": b"!"}),
        ("no hostname", {"cert_reqs": ssl.CERT_REQUIRED, "cadata": CERT}),
    ):
        try:
            ssl.wrap_socket(s, **kw)
            print("5", label, "no error")
        except Exception as e:
            print("5", label, type(e).__name__, e.args)
    try:
        native.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers(["BAR"])
        print("5 set_ciphers no error")
    except Exception as e:
        print("5 set_ciphers", type(e).__name__, e.args)
    try:
        native.SSLContext(ssl.PROTOCOL_TLS_CLIENT).wrap_socket(s, do_handshake_on_connect=False)
        print("5 native no hostname no error")
    except Exception as e:
        print("5 native no hostname", type(e).__name__, e.args)
    s.close()
    print("5 native verify_mode", native.SSLContext(ssl.PROTOCOL_TLS_CLIENT).verify_mode,
          native.SSLContext(ssl.PROTOCOL_TLS_SERVER).verify_mode)
    print("5 constants", ssl.CERT_NONE, ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED,
          ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER)
    print("client done")


if ROLE == "server":
    server()
else:
    client()
"""

# What the reference prints (checked so that the oracle itself is known to be meaningful).
EXPECTED_SERVER = [
    "ready",
    "1 server readline b'ping\\n'",
    "1 server write 10",
    "1 server read b'1234'",
    "1 server eof b''",
    "2 server wrong host OSError (-30592, 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE')",
    "3 server no client cert OSError (-29824, 'MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE')",
    "4 server mutual readline b'mutual\\n'",
    "4 server mutual write 10",
    "4 server mutual eof b''",
    "server done",
]
EXPECTED_CLIENT = [
    "1 client cipher True 2 True",
    "1 client write 5",
    "1 client readline b'pong:ping\\n'",
    "1 client write 4",
    (
        "2 client wrong host ValueError "
        "'\\nThe certificate Common Name (CN) does not match with the expected CN\\n'"
    ),
    "3 client no cert OSError (-30592, 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE')",
    "4 client mutual write 7",
    "4 client mutual readline b'mutual ok\\n'",
    "5 bad key ValueError ('invalid key',)",
    "5 bad cert ValueError ('invalid cert',)",
    "5 bad cadata ValueError ('invalid cert',)",
    "5 no hostname ValueError ('CERT_REQUIRED requires server_hostname',)",
    "5 set_ciphers OSError (-24192, 'MBEDTLS_ERR_SSL_BAD_CONFIG')",
    "5 native no hostname ValueError ('CERT_REQUIRED requires server_hostname',)",
    "5 native verify_mode 2 0",
    "5 constants 0 1 2 0 1",
    "client done",
]


def run_pair(
    iop: Interop, interpreter: list[str], script: str, cert: RefCert, name: str
) -> tuple[list[str], list[str]]:
    """Run the oracle's server, then its client against it; return both outputs."""
    args = [script, str(cert.cert_path), str(cert.key_path)]
    server: Proc = iop.start(
        interpreter + [args[0], "server", *args[1:]], cwd=iop.tmp, name=f"{name}-server"
    )
    server.expect(r"^ready$")
    port = listening_port(server.pid)
    client: Proc = iop.start(
        interpreter + [args[0], "client", *args[1:], str(port)], cwd=iop.tmp, name=f"{name}-client"
    )
    rc_client = client.wait(PROC_TIMEOUT)
    rc_server = server.wait(PROC_TIMEOUT)
    assert rc_client == 0, client.transcript()
    assert rc_server == 0, server.transcript()
    return server.lines, client.lines


def test_oracle_reference_and_mpssl_print_the_same(
    iop: Interop, micropython: str, ref_certs: dict[str, RefCert], case: Any
) -> None:
    row = case(
        "oracle script",
        "reference<->reference vs mpssl<->mpssl",
        "TLSv1.2 / TLSv1.3",
        "same printed output (exchange, verify errors, ValueErrors, BAD_CONFIG)",
    )
    script = str(iop.write("oracle.py", ORACLE))
    cert = ref_certs["ec256"]

    ref_server, ref_client = run_pair(iop, [micropython], script, cert, "micropython")
    assert ref_server == EXPECTED_SERVER, "\n".join(ref_server)
    assert ref_client == EXPECTED_CLIENT, "\n".join(ref_client)

    mp_server, mp_client = run_pair(iop, [sys.executable, "-u"], script, cert, "cpython-mpssl")
    row.negotiated = "(not printed)"
    assert mp_server == ref_server
    assert mp_client == ref_client
