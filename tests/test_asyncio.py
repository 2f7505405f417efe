"""asyncio with mpssl contexts (issue 11): ``open_connection``/``start_server`` over loopback,
against CPython's asyncio+``ssl`` on the other side and mpssl on both sides.

asyncio drives TLS through ``SSLContext.wrap_bio`` (``asyncio.sslproto``); the object itself is
tested in ``test_wrap_bio.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
from support import (
    Files,
    Harness,
    cpython_client_context,
    cpython_server_context,
    mpssl_client_ctx,
    mpssl_server_ctx,
)

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent
NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Run ``coro`` in a fresh event loop, bounded so that a hang fails instead of stalling."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())



def server_ctx(kind: str, files: Files, cert: pki.Cert) -> Any:
    return mpssl_server_ctx(cert) if kind == "mpssl" else cpython_server_context(files)


def client_ctx(kind: str, files: Files, ca: pki.Cert) -> Any:
    return mpssl_client_ctx(ca) if kind == "mpssl" else cpython_client_context(files)


async def serve(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ctx: Any,
    **kw: Any,
) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ctx, **kw)
    return server, server.sockets[0].getsockname()[1]


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize(
    ("server_kind", "client_kind"),
    [("cpython", "mpssl"), ("mpssl", "cpython"), ("mpssl", "mpssl")],
)
def test_echo(
    server_kind: str,
    client_kind: str,
    session_files: Files,
    ca: pki.Cert,
    server_cert: pki.Cert,
) -> None:
    sctx = server_ctx(server_kind, session_files, server_cert)
    cctx = client_ctx(client_kind, session_files, ca)
    server_objects: list[Any] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_objects.append(writer.get_extra_info("ssl_object"))
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        await close(writer)

    async def main() -> None:
        server, port = await serve(echo, sctx)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=cctx)
            writer.write(b"hello over asyncio\n")
            assert await reader.readline() == b"HELLO OVER ASYNCIO\n"
            assert await reader.read() == b""
            obj = writer.get_extra_info("ssl_object")
            cipher = writer.get_extra_info("cipher")
            peercert = writer.get_extra_info("peercert")
            await close(writer)
        assert obj.version() == "TLSv1.3" and cipher[1:] == ("TLSv1.3", 256)
        assert ("commonName", "localhost") in [rdn[0] for rdn in peercert["subject"]]
        mp = obj if client_kind == "mpssl" else server_objects[0]
        assert isinstance(mp, mpssl.SSLObject)
        assert mp.cipher() is not None and mp.cipher()[0].startswith("TLS-")  # mpssl's names

    run(main())


def test_200_concurrent_clients(ca: pki.Cert, server_cert: pki.Cert) -> None:
    sctx = mpssl_server_ctx(server_cert)
    cctx = mpssl_client_ctx(ca)
    clients = 200

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readexactly(1024)
        writer.write(data)
        await writer.drain()
        await close(writer)

    async def client(i: int, port: int) -> bytes:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=cctx, server_hostname="localhost"
        )
        message = hashlib.sha256(str(i).encode()).digest() * 32
        writer.write(message)
        echoed = await reader.readexactly(len(message))
        assert await reader.read() == b""
        await close(writer)
        return echoed == message

    async def main() -> list[bool]:
        server, port = await serve(echo, sctx, backlog=clients + 10)
        async with server:
            return await asyncio.gather(*(client(i, port) for i in range(clients)))

    assert run(main(), timeout=50) == [True] * clients


def test_backpressure_with_a_slow_reader(ca: pki.Cert, server_cert: pki.Cert) -> None:
    """The server writes 8 MiB; the client reads nothing until the server's writer is paused
    (every buffer on the way is full), then reads everything: nothing is lost."""
    sctx = mpssl_server_ctx(server_cert)
    cctx = mpssl_client_ctx(ca)
    total = 8 * 2**20
    chunk = 64 * 1024
    high = 256 * 1024
    blocked = asyncio.Event()
    state: dict[str, Any] = {}

    def piece(i: int) -> bytes:
        return hashlib.sha256(i.to_bytes(4, "big")).digest() * (chunk // 32)

    expected = hashlib.sha256(b"".join(piece(i) for i in range(total // chunk))).hexdigest()

    async def producer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, chunk)
        writer.transport.set_write_buffer_limits(high=high)
        for i in range(total // chunk):
            writer.write(piece(i))
            if "paused_at" not in state and writer.transport.get_write_buffer_size() >= high:
                state["paused_at"] = (i + 1) * chunk  # drain() waits: the client reads nothing
                blocked.set()
            await writer.drain()
        await close(writer)

    async def main() -> None:
        server, port = await serve(producer, sctx)
        async with server:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, chunk)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=cctx, server_hostname="localhost", limit=chunk
            )
            await blocked.wait()
            assert state["paused_at"] < total
            digest = hashlib.sha256()
            received = 0
            while data := await reader.read(chunk):
                digest.update(data)
                received += len(data)
            assert received == total
            assert digest.hexdigest() == expected
            await close(writer)

    run(main())


def test_buffered_protocol(ca: pki.Cert, server_cert: pki.Cert) -> None:
    """An ``asyncio.BufferedProtocol`` application: asyncio reads plaintext straight into the
    application's buffer (``SSLObject.read(n, buffer)``)."""
    sctx = mpssl_server_ctx(server_cert)
    cctx = mpssl_client_ctx(ca)
    payload = hashlib.sha256(b"buffered").digest() * 32768  # 1 MiB

    class Collect(asyncio.BufferedProtocol):
        def __init__(self, done: asyncio.Future[bytes]) -> None:
            self.buffer = bytearray(4096)
            self.data = bytearray()
            self.done = done

        def get_buffer(self, sizehint: int) -> bytearray:
            return self.buffer

        def buffer_updated(self, nbytes: int) -> None:
            self.data += self.buffer[:nbytes]

        def eof_received(self) -> None:
            self.done.set_result(bytes(self.data))

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(payload)
        await writer.drain()
        await close(writer)

    async def main() -> bytes:
        server, port = await serve(send, sctx)
        async with server:
            done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            transport, _ = await asyncio.get_running_loop().create_connection(
                lambda: Collect(done), "127.0.0.1", port, ssl=cctx, server_hostname="localhost"
            )
            data = await done
            transport.close()
            return data

    assert run(main()) == payload


# ---------------------------------------------------------------------------------------------
# Closing: CPython's blocking ssl in a thread is the peer, the asyncio side is mpssl or (for
# comparison) CPython's ssl.


def peer_server(
    harness: Harness, files: Files, action: Callable[[ssl.SSLSocket], Any]
) -> tuple[int, Any]:
    listener = harness.track(socket.create_server(("127.0.0.1", 0)))
    ctx = cpython_server_context(files)

    def serve_one() -> Any:
        conn, _ = listener.accept()
        harness.track(conn)
        tls = ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
        try:
            return action(tls)
        finally:
            tls.close()

    return listener.getsockname()[1], harness.spawn(serve_one)


def peer_sends_then_closes(clean: bool) -> Callable[[ssl.SSLSocket], None]:
    def action(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"bye")
        if clean:
            tls.unwrap()  # close_notify, and waits for the client's
        else:
            socket.socket.shutdown(tls, socket.SHUT_RDWR)  # TCP FIN, no close_notify

    return action


@pytest.mark.parametrize("clean", [True, False], ids=["close_notify", "bare-eof"])
def test_peer_closing_is_eof_as_with_cpython_ssl(
    clean: bool, harness: Harness, session_files: Files, ca: pki.Cert
) -> None:
    """What the asyncio application sees when the peer ends the connection, with and without
    close_notify: the same as with CPython's ssl (data, then EOF; no exception)."""

    async def client(cctx: Any, port: int) -> tuple[bytes, str | None]:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=cctx, server_hostname="localhost"
        )
        try:
            data = await reader.read()
            error = None
        except Exception as e:  # noqa: BLE001 - the outcome is compared
            data, error = b"", type(e).__name__
        await close(writer)
        return data, error

    outcomes = {}
    for kind in ("mpssl", "cpython"):
        port, task = peer_server(harness, session_files, peer_sends_then_closes(clean))
        outcomes[kind] = run(client(client_ctx(kind, session_files, ca), port))
        task.join()
    assert outcomes["mpssl"] == outcomes["cpython"] == (b"bye", None)


def peer_reads_until_end(tls: ssl.SSLSocket) -> tuple[bytes, str]:
    data = b""
    try:
        while chunk := tls.recv(1024):
            data += chunk
    except ssl.SSLEOFError:
        return data, "SSLEOFError"
    tls.unwrap()
    return data, "close_notify"


@pytest.mark.parametrize("abort", [False, True], ids=["close", "abort"])
def test_closing_the_asyncio_side(
    abort: bool, harness: Harness, session_files: Files, ca: pki.Cert
) -> None:
    """``writer.close()`` sends close_notify (the peer reads EOF); ``transport.abort()`` does
    not (the peer's ssl reports ``SSLEOFError``), as with CPython's ssl."""

    async def client(port: int) -> None:
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=mpssl_client_ctx(ca), server_hostname="localhost"
        )
        writer.write(b"hi")
        await writer.drain()
        if abort:
            writer.transport.abort()
        await close(writer)

    port, task = peer_server(harness, session_files, peer_reads_until_end)
    run(client(port))
    assert task.join() == (b"hi", "SSLEOFError" if abort else "close_notify")


# ---------------------------------------------------------------------------------------------
# Verification failure


@pytest.mark.parametrize("server_kind", ["mpssl", "cpython"])
def test_verification_failure_reaches_the_caller(
    server_kind: str, session_files: Files, other_ca: pki.Cert, server_cert: pki.Cert
) -> None:
    sctx = server_ctx(server_kind, session_files, server_cert)
    handled: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handled.append(1)
        await close(writer)

    async def main() -> BaseException:
        server, port = await serve(handler, sctx)
        async with server:
            with pytest.raises(ssl.SSLCertVerificationError) as e:
                await asyncio.open_connection(
                    "127.0.0.1", port, ssl=mpssl_client_ctx(other_ca), server_hostname="localhost"
                )
        return e.value

    err = run(main())
    # The standard library's class (so asyncio and CPython-style code handle it), and a
    # ValueError whose text is MicroPython's (so MicroPython-style code does too).
    assert isinstance(err, ValueError) and isinstance(err, ssl.SSLError)
    assert str(err) == NOT_TRUSTED and err.verify_message == NOT_TRUSTED
    assert err.verify_code == 0x08
    assert handled == []


# ---------------------------------------------------------------------------------------------
# loop.start_tls: the documented limit


def test_start_tls_refuses_an_mpssl_context(ca: pki.Cert) -> None:
    """``loop.start_tls`` (and ``StreamWriter.start_tls``) accept only ``ssl.SSLContext``
    instances: an mpssl context is refused with asyncio's own TypeError, and the plain
    connection stays usable (docs/asyncio.md)."""
    cctx = mpssl_client_ctx(ca)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        await close(writer)

    async def main() -> None:
        server, port = await serve(echo, None)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            loop = asyncio.get_running_loop()
            protocol = writer.transport.get_protocol()
            message = re.escape(
                "sslcontext is expected to be an instance of ssl.SSLContext, got "
                "<SSLContext client verify_mode=2>"
            )
            with pytest.raises(TypeError, match=f"^{message}$"):
                await loop.start_tls(writer.transport, protocol, cctx, server_hostname="localhost")
            with pytest.raises(TypeError, match=f"^{message}$"):
                await writer.start_tls(cctx, server_hostname="localhost")
            writer.write(b"still plain\n")
            assert await reader.readline() == b"still plain\n"
            await close(writer)

    run(main())


# ---------------------------------------------------------------------------------------------
# The documentation's example


def test_docs_example_runs() -> None:
    text = (ROOT / "docs" / "asyncio.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    example = next(b for b in blocks if "asyncio.run(" in b)
    out = subprocess.run(
        [sys.executable, "-c", example],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.splitlines() == [
        "b'hello\\n'",
        "('TLS-AES-256-GCM-SHA384', 'TLSv1.3', 256)",
    ]
