"""``python -m mpssl``: demo, a tiny s_client / s_server, and the benchmark.

* ``python -m mpssl demo``: run a TLS server on 127.0.0.1 with the demo certificate (a committed
  demo CA, ``mpssl/_demo_pki.py``), connect a ``CERT_REQUIRED`` client, exchange data both ways
  and report.
* ``python -m mpssl client HOST PORT [--cafile F] [--insecure] [--servername N]``
* ``python -m mpssl server --cert F --key F [--port P]``
* ``python -m mpssl bench [...]``: see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
import threading
import time
from typing import Any

import mpssl

from . import _demo_pki


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


def _relay(tls: mpssl.SSLSocket, raw: socket.socket) -> None:
    """Copy stdin to the TLS socket and the TLS socket to stdout until the peer closes."""
    raw.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(raw, selectors.EVENT_READ, "tls")
    try:
        sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    except (ValueError, PermissionError):
        pass  # stdin is not pollable (e.g. a regular file): only relay the peer's data
    pending = b""
    while True:
        # Plaintext already decrypted does not make the descriptor readable: drain it first.
        ready = {"tls"} if tls.pending() else {key.data for key, _ in sel.select()}
        if "stdin" in ready:
            line = sys.stdin.buffer.readline()
            if line:
                pending += line
            else:
                sel.unregister(sys.stdin)
        if "tls" in ready:
            data = tls.recv(16384)
            if data == b"":
                return
            if data:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
        while pending:
            n = tls.write(pending)
            if n is None:
                break
            pending = pending[n:]


def client(args: argparse.Namespace) -> int:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    if args.insecure:
        ctx.verify_mode = mpssl.CERT_NONE
    if args.cafile:
        ctx.load_verify_locations(cafile=args.cafile)
    raw = socket.create_connection((args.host, args.port), timeout=30)
    raw.settimeout(None)
    name = args.servername or (None if args.insecure else args.host)
    tls = ctx.wrap_socket(raw, server_hostname=name)
    print(f"connected: {tls.cipher()}", file=sys.stderr)
    try:
        _relay(tls, raw)
    finally:
        tls.close()
    return 0


def server(args: argparse.Namespace) -> int:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    listener = socket.create_server((args.host, args.port))
    print(f"listening on {listener.getsockname()[0]}:{listener.getsockname()[1]}", file=sys.stderr)
    conn, addr = listener.accept()
    tls = ctx.wrap_socket(conn, server_side=True)
    print(f"accepted {addr[0]}:{addr[1]}: {tls.cipher()}", file=sys.stderr)
    try:
        _relay(tls, conn)
    finally:
        tls.close()
        listener.close()
    return 0


def bench(args: list[str]) -> int:
    """Run ``bench/run.py`` (from the repository root) with ``args`` passed through as given."""
    import runpy
    from pathlib import Path

    script = Path("bench") / "run.py"
    if not script.exists():
        print("run from the repository root: bench/run.py not found", file=sys.stderr)
        return 2
    sys.argv = [str(script), *args]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        # Everything after "bench" belongs to the harness, options included.
        return bench(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m mpssl")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the in-memory CA / server / client demo")
    c = sub.add_parser("client", help="connect and relay stdin/stdout (like openssl s_client)")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--cafile")
    c.add_argument("--insecure", action="store_true", help="CERT_NONE: do not verify the server")
    c.add_argument("--servername", help="SNI and host name to check (default: HOST)")
    s = sub.add_parser("server", help="accept one client and relay (like openssl s_server)")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--port", type=int, default=4433)
    s.add_argument("--host", default="127.0.0.1")
    sub.add_parser("bench", help="benchmark against CPython's ssl (options: bench/run.py --help)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    if args.command == "client":
        return client(args)
    if args.command == "server":
        return server(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
