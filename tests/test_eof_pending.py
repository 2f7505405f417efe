"""Non-blocking reads: an end of stream that arrived with the last data is held inside mpssl.

``pending()`` counts decrypted bytes only. When the peer's close_notify arrives in the same
flight as its last data, the read that returns the data also takes the close_notify off the
socket: ``pending()`` is then 0, the descriptor does not become readable again, and the next
read returns ``b""``. The documented rule is therefore "read until a call returns ``None``"
(README, docs/nonblocking.md), not "drain ``pending()``".
"""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
from pathlib import Path

import mpssl

PKI = Path(__file__).resolve().parent.parent / "testdata" / "ecdsa-p256"


def test_eof_with_the_last_data_is_not_counted_by_pending() -> None:
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(PKI / "server.pem", PKI / "server.key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with sctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"bye\n")
            tls.unwrap()  # close_notify right behind the data; waits for the client's
        done.set()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(PKI / "ca.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    raw.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(raw, selectors.EVENT_READ)
    got = b""
    try:
        while got != b"bye\n":
            assert sel.select(10), "no data from the server"
            data = tls.recv(16384)
            if data:
                got += data
        # Both records (data, close_notify) were read from the socket by now when they
        # arrived together; wait until the close_notify is surely in the kernel buffer or
        # already taken, then check what a "drain pending()" loop would see.
        assert tls.pending() == 0
        data = tls.recv(16384)
        if data is None:
            # The close_notify came in a later segment: the socket is readable for it.
            assert sel.select(10)
            data = tls.recv(16384)
        assert data == b"", data
        assert tls.eof_was_clean is True
    finally:
        sel.close()
        tls.close()
        listener.close()
    server.join(10)
    assert done.is_set()
