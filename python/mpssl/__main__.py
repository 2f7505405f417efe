"""``python -m mpssl``: demo, a tiny s_client / s_server, and the benchmark.

* ``python -m mpssl demo``: run a TLS server on 127.0.0.1 with the demo certificate (a committed
  demo CA, ``mpssl/_demo_pki.py``), connect a ``CERT_REQUIRED`` client, exchange data both ways
  and report.
* ``python -m mpssl client HOST PORT [--cafile F] [--cert F --key F] [--alpn P,Q] [--verbose]
  [--servername N] [--insecure]``: verifies the server (system trust store unless ``--cafile``),
  relays standard input and output, ends with close_notify at the end of standard input.
* ``python -m mpssl server --cert F --key F [--port P] [--cafile F] [--alpn P,Q] [--verbose]``
* ``python -m mpssl bench [...]``: see ``bench/README.md`` (needs the source repository).

Errors are one line on standard error and a non-zero exit status (see :mod:`mpssl._cli`).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

import mpssl

from . import _cli, _demo_pki


def demo() -> int:
    server_ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(_demo_pki.CHAIN_PEM, _demo_pki.KEY_PEM)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: dict[str, Any] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            data = tls.readline()
            received["server got"] = data
            tls.write(b"pong: " + (data or b""))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    client_ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(cadata=_demo_pki.CA_PEM)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    start = time.perf_counter()
    tls = client_ctx.wrap_socket(raw, server_hostname="localhost")
    handshake_ms = (time.perf_counter() - start) * 1000
    message = b"ping from a CERT_REQUIRED client\n"
    sent = tls.write(message)
    reply = tls.read()
    peer = tls.getpeercert()
    cipher = tls.cipher()
    group = tls.key_exchange_group()
    tls.close()
    thread.join(timeout=10)
    listener.close()

    subject = ", ".join(f"{k}={v}" for rdn in peer["subject"] for k, v in rdn) if peer else "-"
    print(f"mpssl {mpssl.__version__} on {mpssl.RUSTLS_VERSION}")
    print(f"server          127.0.0.1:{port} (certificate from the demo CA)")
    print("client          verify_mode=CERT_REQUIRED, server_hostname='localhost'")
    print(f"protocol        {cipher[1] if cipher else '-'}")
    print(f"cipher          {cipher[0] if cipher else '-'}")
    print(f"key exchange    {group}")
    print(f"peer subject    {subject}")
    print(f"peer SAN        {peer.get('subjectAltName') if peer else '-'}")
    print(f"handshake       {handshake_ms:.2f} ms")
    print(f"client sent     {sent} bytes: {message!r}")
    print(f"server got      {len(received.get('server got') or b'')} bytes")
    print(f"client got      {len(reply or b'')} bytes: {reply!r}")
    ok = reply == b"pong: " + message
    print("result          OK" if ok else "result          MISMATCH")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m mpssl ...``: see :mod:`mpssl._cli`."""
    return _cli.main(argv, demo=demo)


if __name__ == "__main__":
    sys.exit(main())
