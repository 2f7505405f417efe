"""``SSLContext.wrap_bio`` and ``SSLObject``: TLS over ``ssl.MemoryBIO`` (issue 11, asyncio).

Each test pumps ciphertext between two memory-BIO ends by hand, as ``asyncio.sslproto``
does; the other end is CPython's own ``ssl.SSLObject`` or another mpssl one.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import mpssl
import pki
import pytest
from support import (
    Files,
    cpython_client_context,
    cpython_server_context,
    mpssl_client_ctx,
    mpssl_server_ctx,
)

NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"
CN_MISMATCH = "\nThe certificate Common Name (CN) does not match with the expected CN\n"


class End:
    """One TLS end over its own pair of memory BIOs."""

    def __init__(self, ctx: Any, server_side: bool, server_hostname: str | None = None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(
            self.incoming, self.outgoing, server_side=server_side, server_hostname=server_hostname
        )

    def send_to(self, other: End) -> int:
        data = self.outgoing.read()
        if data:
            other.incoming.write(data)
        return len(data)


def step(fn: Callable[[], Any]) -> tuple[bool, Any]:
    """Run one call; ``(False, None)`` for ``SSLWantReadError``."""
    try:
        return True, fn()
    except ssl.SSLWantReadError:
        return False, None


def handshake(client: End, server: End) -> None:
    """Pump until both ends completed the handshake (a bounded number of rounds)."""
    done = {"c": False, "s": False}
    for _ in range(10):
        if not done["c"]:
            done["c"], _ = step(client.obj.do_handshake)
        client.send_to(server)
        if not done["s"]:
            done["s"], _ = step(server.obj.do_handshake)
        server.send_to(client)
        if done["c"] and done["s"]:
            return
    raise AssertionError(f"handshake did not complete: {done}")



@pytest.fixture
def pair(
    session_files: Files, ca: pki.Cert, server_cert: pki.Cert, request: pytest.FixtureRequest
) -> tuple[End, End]:
    """(client, server): mpssl client against CPython's ssl server, or the reverse."""
    if request.param == "mpssl-client":
        return (
            End(mpssl_client_ctx(ca), False, "localhost"),
            End(cpython_server_context(session_files), True),
        )
    return (
        End(cpython_client_context(session_files), False, "localhost"),
        End(mpssl_server_ctx(server_cert), True),
    )


BOTH = pytest.mark.parametrize("pair", ["mpssl-client", "mpssl-server"], indirect=True)


@BOTH
def test_handshake_and_data_both_ways_against_cpython(pair: tuple[End, End]) -> None:
    client, server = pair
    mp = client.obj if isinstance(client.obj, mpssl.SSLObject) else server.obj
    assert mp.version() is None and mp.cipher() is None
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.read(10)  # nothing from the server yet (the ClientHello is queued)
    client.send_to(server)
    handshake(client, server)

    assert mp.version() == "TLSv1.3"
    name, version, bits = mp.cipher()
    assert (version, bits) == ("TLSv1.3", 256) and name.startswith("TLS-")
    if mp.server_side:  # the client's offer that the context enables, as on SSLSocket
        shared = mp.shared_ciphers()
        assert shared is not None and mp.cipher() in shared
    else:
        assert mp.shared_ciphers() is None
    assert mp.compression() is None
    assert mp.selected_alpn_protocol() is None
    binding = mp.get_channel_binding("tls-exporter")
    assert binding is not None and len(binding) == 32
    with pytest.raises(ValueError, match="tls-unique"):
        mp.get_channel_binding()
    with pytest.raises(ValueError):
        mp.get_channel_binding("tls-server-end-point")

    assert client.obj.write(b"ping" * 1000) == 4000
    client.send_to(server)
    got = b""
    while len(got) < 4000:
        got += server.obj.read(1024)
    assert got == b"ping" * 1000

    big = bytes(range(256)) * 1024  # 256 KiB: many records, more than one outgoing round
    assert server.obj.write(big) == len(big)
    server.send_to(client)
    buf = bytearray(len(big))
    view = memoryview(buf)
    n = 0
    while n < len(big):
        k = client.obj.read(len(big) - n, view[n:])
        assert k > 0
        n += k
    assert bytes(buf) == big
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.read(10)


@BOTH
def test_peer_certificate_and_attributes(pair: tuple[End, End]) -> None:
    client, server = pair
    handshake(client, server)
    if isinstance(client.obj, mpssl.SSLObject):
        obj = client.obj
        assert obj.server_side is False and obj.server_hostname == "localhost"
        cert = obj.getpeercert()
        assert ("commonName", "localhost") in [rdn[0] for rdn in cert["subject"]]
        assert obj.getpeercert(binary_form=True) == pki.load("server").der
    else:
        obj = server.obj
        assert obj.server_side is True and obj.server_hostname == "localhost"
        assert obj.getpeercert() is None  # no client certificate asked for
    assert isinstance(obj.context, mpssl.SSLContext)
    assert obj.session is None and obj.session_reused is False
    assert repr(obj).startswith("<SSLObject ") and "TLSv1.3" in repr(obj)


@BOTH
def test_clean_shutdown_with_unwrap(pair: tuple[End, End]) -> None:
    client, server = pair
    handshake(client, server)
    client.obj.write(b"last words")
    # The closing side sends close_notify and waits for the peer's.
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.unwrap()
    client.send_to(server)
    assert server.obj.read(100) == b"last words"
    assert server.obj.read(100) == b""  # close_notify: EOF, not an error
    server.obj.unwrap()  # answers with its own, and has the peer's already
    server.send_to(client)
    assert client.obj.unwrap() is None
    with (
        pytest.raises(ssl.SSLZeroReturnError)
        if isinstance(client.obj, mpssl.SSLObject)
        else pytest.raises(ssl.SSLError)
    ):
        client.obj.write(b"after close")


def test_read_after_close_notify_into_buffer_returns_zero(
    session_files: Files, server_cert: pki.Cert
) -> None:
    client = End(cpython_client_context(session_files), False, "localhost")
    server = End(mpssl_server_ctx(server_cert), True)
    handshake(client, server)
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.unwrap()
    client.send_to(server)
    assert server.obj.read(10, bytearray(10)) == 0


def test_eof_without_close_notify_is_ssleoferror(ca: pki.Cert, server_cert: pki.Cert) -> None:
    client = End(mpssl_client_ctx(ca), False, "localhost")
    server = End(mpssl_server_ctx(server_cert), True)
    handshake(client, server)
    server.obj.write(b"data")
    server.send_to(client)
    client.incoming.write_eof()
    assert client.obj.read(100) == b"data"  # what arrived before the EOF is kept
    with pytest.raises(ssl.SSLEOFError) as e:
        client.obj.read(100)
    assert isinstance(e.value, OSError)
    assert e.value.args == (-0x7280, "MBEDTLS_ERR_SSL_CONN_EOF")


def test_eof_during_handshake_is_ssleoferror(ca: pki.Cert) -> None:
    client = End(mpssl_client_ctx(ca), False, "localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.obj.do_handshake()
    client.incoming.write_eof()
    with pytest.raises(ssl.SSLEOFError):
        client.obj.do_handshake()
    with pytest.raises(ssl.SSLEOFError):  # sticky
        client.obj.do_handshake()


@pytest.mark.parametrize("server_kind", ["mpssl", "cpython"])
def test_untrusted_server_is_sslcertverificationerror_with_mpssl_text(
    server_kind: str, other_ca: pki.Cert, server_cert: pki.Cert, session_files: Files
) -> None:
    client = End(mpssl_client_ctx(other_ca), False, "localhost")
    server = (
        End(mpssl_server_ctx(server_cert), True)
        if server_kind == "mpssl"
        else End(cpython_server_context(session_files), True)
    )
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        handshake(client, server)
    err = e.value
    # Both the standard library's class (asyncio: "failed on verifying the certificate") and
    # MicroPython's ValueError with the Mbed TLS text.
    assert isinstance(err, ssl.SSLError) and isinstance(err, ValueError)
    assert isinstance(err, ssl.CertificateError)
    assert err.args == (NOT_TRUSTED,) and str(err) == NOT_TRUSTED
    assert err.verify_code == 0x08 and err.verify_message == NOT_TRUSTED
    # The alert rustls queued reaches the peer.
    client.send_to(server)
    with pytest.raises(ssl.SSLError):
        server.obj.do_handshake()


def test_host_name_mismatch(ca: pki.Cert, server_cert: pki.Cert) -> None:
    client = End(mpssl_client_ctx(ca), False, "wrong.example")
    server = End(mpssl_server_ctx(server_cert), True)
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        handshake(client, server)
    assert e.value.verify_code == 0x04 and str(e.value) == CN_MISMATCH


def test_protocol_error_is_sslerror_with_mpssl_code(server_cert: pki.Cert) -> None:
    server = End(mpssl_server_ctx(server_cert), True)
    # A handshake record holding a truncated ClientHello.
    server.incoming.write(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")
    with pytest.raises(ssl.SSLError) as e:
        server.obj.do_handshake()
    assert type(e.value) is ssl.SSLError
    code, text = e.value.args
    assert isinstance(code, int) and code < 0 and text.startswith("MBEDTLS_ERR_")
    assert e.value.errno == code  # an OSError(code, text), as SSLSocket raises
    assert server.outgoing.read() == b"\x15\x03\x03\x00\x02\x02\x32"  # fatal decode_error alert
    with pytest.raises(ssl.SSLError):  # sticky
        server.obj.read(10)


def test_incoming_is_read_only_as_far_as_needed(ca: pki.Cert, server_cert: pki.Cert) -> None:
    client = End(mpssl_client_ctx(ca), False, "localhost")
    server = End(mpssl_server_ctx(server_cert), True)
    handshake(client, server)
    for _ in range(64):
        server.obj.write(b"x" * 16384)
    server.send_to(client)
    total = client.incoming.pending
    assert client.obj.read(16384) == b"x" * 16384
    # One read took about one record from incoming, not all of it (asyncio's flow control
    # reads incoming.pending).
    assert client.incoming.pending > total - 3 * 16384
    assert client.obj.pending() == 0


def test_wrap_bio_arguments(ca: pki.Cert, server_cert: pki.Cert) -> None:
    cctx = mpssl_client_ctx(ca)
    bio = ssl.MemoryBIO()
    with pytest.raises(TypeError, match="incoming must be an ssl.MemoryBIO, not bytearray"):
        cctx.wrap_bio(bytearray(), bio, server_hostname="localhost")
    with pytest.raises(TypeError, match="outgoing must be an ssl.MemoryBIO"):
        cctx.wrap_bio(bio, None, server_hostname="localhost")
    with pytest.raises(ValueError, match="session objects are not supported"):
        cctx.wrap_bio(bio, ssl.MemoryBIO(), server_hostname="localhost", session=object())
    # The role and host-name rules are wrap_socket's.
    with pytest.raises(ValueError):
        cctx.wrap_bio(bio, ssl.MemoryBIO(), server_side=True, server_hostname="localhost")
    with pytest.raises(ValueError):
        cctx.wrap_bio(bio, ssl.MemoryBIO())
    obj = mpssl_server_ctx(server_cert).wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
    assert obj.server_side is True
    with pytest.raises(ValueError, match="before the handshake"):
        obj.unwrap()
    with pytest.raises(ValueError, match="negative"):
        obj.read(-1)
    assert obj.read(0) == b""


def test_verify_callback_cannot_reenter_its_object(ca: pki.Cert, server_cert: pki.Cert) -> None:
    cctx = mpssl_client_ctx(ca)
    seen: list[BaseException] = []
    holder: dict[str, Any] = {}

    def callback(cert: memoryview, depth: int) -> int:
        try:
            holder["obj"].pending()
        except ValueError as e:
            seen.append(e)
        return 0

    cctx.verify_callback = callback
    client = End(cctx, False, "localhost")
    holder["obj"] = client.obj
    server = End(mpssl_server_ctx(server_cert), True)
    handshake(client, server)
    assert seen and "in use by the current thread" in str(seen[0])


def test_verify_callback_rejection_is_sslcertverificationerror(
    ca: pki.Cert, server_cert: pki.Cert
) -> None:
    cctx = mpssl_client_ctx(ca)
    cctx.verify_callback = lambda cert, depth: 1 if depth == 0 else 0
    client = End(cctx, False, "localhost")
    server = End(mpssl_server_ctx(server_cert), True)
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        handshake(client, server)
    code, text = e.value.args
    assert (e.value.verify_code, e.value.verify_message) == (code, text)
    assert text.startswith("MBEDTLS_ERR_") and str(e.value) == text
    assert isinstance(e.value, ValueError)


def test_context_precondition_is_sslerror_with_its_note(server_cert: pki.Cert) -> None:
    """A server context that requires client certificates but has no CA fails the handshake
    with mpssl's code, text and explanatory note, as an ``ssl.SSLError`` asyncio reports."""
    server = End(mpssl_server_ctx(server_cert, mpssl.CERT_REQUIRED), True)
    with pytest.raises(ssl.SSLError) as e:
        server.obj.do_handshake()
    assert type(e.value) is ssl.SSLError
    assert e.value.args == (-0x7680, "MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED")
    assert "load_verify_locations" in "".join(getattr(e.value, "__notes__", []))
    assert server.outgoing.pending == 0  # nothing was sent
