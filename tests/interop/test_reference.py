"""mpssl <-> the reference MicroPython (Mbed TLS 3.6, TLS 1.2 only, DER only), both directions.

The reference runs ``MP_PEER`` (``interop_support.py``) as a subprocess and reports through its
stdout: "ready" (server listening; its port is read from /proc), "cipher (...)", "got ...",
"eof ...", "done", or "error <Type> <args>" after which it keeps its socket open until
released (so the side that failed second reads the alert rather than a reset).

Certificates are reference-style (self-signed, CA:TRUE, CN=micropython.local, no SAN), EC P-256
and RSA-2048, given as DER bytes or as file paths on both sides.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

import mpssl
import pytest
from interop_support import (
    PROC_TIMEOUT,
    REFERENCE_HOST,
    Case,
    Interop,
    RefCert,
    RefPeer,
    pattern,
    serve_echo,
    serve_one,
)

pytestmark = pytest.mark.interop

PEER = "reference MicroPython"
KINDS = ["ec256", "rsa2048"]
MODES = ["bytes", "path"]
CN_MISMATCH = "\nThe certificate Common Name (CN) does not match with the expected CN\n"
EXPIRED = "\nThe certificate validity has expired\n"
FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
NO_CLIENT_CERT = (-29824, "MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE")
SUITE = {
    "ec256": "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
    "rsa2048": "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
}

RefPeerFactory = Callable[..., RefPeer]
RefCerts = dict[str, RefCert]
TO_REF = "mpssl client -> reference server"
FROM_REF = "reference client -> mpssl server"


def mpssl_client(
    raw: Any, mode: str, ca: RefCert, hostname: str, own: RefCert | None = None
) -> Any:
    """A CERT_REQUIRED mpssl client: ``bytes`` uses the module-level ``wrap_socket`` with DER
    data, ``path`` an ``SSLContext`` loading the same DER files by path."""
    if mode == "bytes":
        kw: dict[str, Any] = {}
        if own is not None:
            kw = {"key": own.key_der, "cert": own.cert_der}
        return mpssl.wrap_socket(
            raw, cert_reqs=mpssl.CERT_REQUIRED, cadata=ca.cert_der, server_hostname=hostname, **kw
        )
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca.cert_path))
    if own is not None:
        ctx.load_cert_chain(str(own.cert_path), str(own.key_path))
    return ctx.wrap_socket(raw, server_hostname=hostname)


def mpssl_server(raw: Any, mode: str, own: RefCert, ca: RefCert | None = None) -> Any:
    """An mpssl server (CERT_REQUIRED when ``ca`` is given)."""
    if mode == "bytes":
        kw: dict[str, Any] = {}
        if ca is not None:
            kw = {"cert_reqs": mpssl.CERT_REQUIRED, "cadata": ca.cert_der}
        return mpssl.wrap_socket(raw, server_side=True, key=own.key_der, cert=own.cert_der, **kw)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(own.cert_path), str(own.key_path))
    if ca is not None:
        ctx.load_verify_locations(cafile=str(ca.cert_path))
        ctx.verify_mode = mpssl.CERT_REQUIRED
    return ctx.wrap_socket(raw, server_side=True)


def reference_server(
    iop: Interop, ref_peer: RefPeerFactory, cert: RefCert, **kw: Any
) -> tuple[RefPeer, socket.socket]:
    """Start the reference as a server presenting ``cert``; returns it and a raw socket
    connected to it."""
    ref = ref_peer("server", cert=cert, **kw)
    assert ref.port is not None
    return ref, iop.connect(ref.port)


def reference_client(
    ref_peer: RefPeerFactory, port: int, ca: RefCert, hostname: str = REFERENCE_HOST, **kw: Any
) -> RefPeer:
    """Start the reference as a CERT_REQUIRED client of 127.0.0.1:``port`` trusting ``ca``."""
    return ref_peer("client", ca=ca, verify=mpssl.CERT_REQUIRED, hostname=hostname, port=port, **kw)


def finish_ok(ref: RefPeer, eof: bool = False) -> None:
    """The reference (after reading b"" at the end, with ``eof``) prints "done" and exits 0."""
    if eof:
        ref.proc.expect(r"^eof b''$")
    ref.proc.expect(r"^done$")
    assert ref.proc.wait(PROC_TIMEOUT) == 0, ref.proc.transcript()


def assert_oserror(err: BaseException | None, args: tuple[Any, ...], who: str) -> None:
    """What ``who`` (an mpssl end) raised is the OSError with ``args``."""
    assert isinstance(err, OSError), f"{who}: expected OSError{args}, got {err!r}"
    assert err.args == args


def release_ok(ref: RefPeer) -> None:
    """Let the failed reference close its socket; it exits 0."""
    ref.release()
    assert ref.proc.wait(PROC_TIMEOUT) == 0


# ------------------------------------------------------------------------------------------
# Successful exchanges


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_reference_server_mpssl_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, kind: str, mode: str
) -> None:
    row: Case = case(PEER, TO_REF, "TLSv1.2", f"CERT_REQUIRED + CN, {kind}, DER {mode}")
    cert = ref_certs[kind]
    ref, raw = reference_server(iop, ref_peer, cert, mode=mode)
    c = iop.track_tls(mpssl_client(raw, mode, cert, REFERENCE_HOST))
    cipher = row.record(c.cipher())
    assert cipher == (SUITE[kind], "TLSv1.2")
    assert c.write(b"hello reference\n") == 16
    assert ref.cipher() == cipher
    ref.proc.expect(r"^got b'hello reference\\n'$")
    assert c.readline() == b"echo:hello reference\n"
    c.close()
    # mpssl's close_notify (or at worst the FIN) ends the reference's read(16) with b''
    finish_ok(ref, eof=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_mpssl_server_reference_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, kind: str, mode: str
) -> None:
    row: Case = case(PEER, FROM_REF, "TLSv1.2", f"CERT_REQUIRED + CN, {kind}, DER {mode}")
    cert = ref_certs[kind]
    task, port = serve_echo(iop, lambda conn: mpssl_server(conn, mode, cert))
    ref = reference_client(ref_peer, port, cert, mode=mode, message="hello mpssl\n")
    ref_cipher = ref.cipher()
    info = task.join()
    assert row.record(info["cipher"]) == (SUITE[kind], "TLSv1.2")
    assert ref_cipher == info["cipher"]
    assert info["got"] == b"hello mpssl\n"
    ref.proc.expect(r"^got b'echo:hello mpssl\\n'$")
    finish_ok(ref, eof=True)


@pytest.mark.parametrize("mode", MODES)
def test_mutual_reference_server_mpssl_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, mode: str
) -> None:
    row: Case = case(PEER, TO_REF, "TLSv1.2", f"mutual TLS, DER {mode}")
    server, client = ref_certs["ec256"], ref_certs["client"]
    ref, raw = reference_server(
        iop, ref_peer, server, mode=mode, ca=client, verify=mpssl.CERT_REQUIRED
    )
    c = iop.track_tls(mpssl_client(raw, mode, server, REFERENCE_HOST, client))
    cipher = row.record(c.cipher())
    assert cipher[1] == "TLSv1.2"
    c.write(b"mutual\n")
    assert ref.cipher() == cipher
    assert c.readline() == b"echo:mutual\n"
    c.close()
    finish_ok(ref, eof=True)


@pytest.mark.parametrize("mode", MODES)
def test_mutual_mpssl_server_reference_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, mode: str
) -> None:
    row: Case = case(PEER, FROM_REF, "TLSv1.2", f"mutual TLS, DER {mode}")
    server, client = ref_certs["ec256"], ref_certs["client"]
    task, port = serve_echo(
        iop, lambda conn: mpssl_server(conn, mode, server, ca=client), peer_der=True
    )
    # the reference-style client certificate (self-signed, CA:TRUE) is its own trust anchor
    ref = reference_client(ref_peer, port, server, mode=mode, cert=client, message="mutual\n")
    ref_cipher = ref.cipher()
    info = task.join()
    assert row.record(info["cipher"])[1] == "TLSv1.2"
    assert ref_cipher == info["cipher"]
    assert info["peer_der"] == client.cert_der
    assert info["got"] == b"mutual\n"
    ref.proc.expect(r"^got b'echo:mutual\\n'$")
    finish_ok(ref)


# ------------------------------------------------------------------------------------------
# Verification failures


@pytest.mark.parametrize("kind", KINDS)
def test_reference_server_mpssl_client_wrong_hostname(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, kind: str
) -> None:
    case(PEER, TO_REF, "TLSv1.2", f"wrong host name: mpssl rejects ({kind})")
    cert = ref_certs[kind]
    ref, raw = reference_server(iop, ref_peer, cert)
    with pytest.raises(ValueError) as ei:
        mpssl_client(raw, "bytes", cert, "wrong.local")
    assert str(ei.value) == CN_MISMATCH
    assert ei.value.args == (CN_MISMATCH,)
    # mpssl must have sent a fatal alert: the reference reads it (the raw socket stays open
    # until the reference has reported)
    assert ref.error() == ("OSError", FATAL_ALERT)
    raw.close()
    release_ok(ref)


def test_mpssl_server_reference_client_wrong_hostname(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any
) -> None:
    case(PEER, FROM_REF, "TLSv1.2", "wrong host name: reference rejects")
    cert = ref_certs["ec256"]
    task, port = serve_one(iop, lambda conn: mpssl_server(conn, "bytes", cert))
    ref = reference_client(ref_peer, port, cert, hostname="wrong.local")
    assert ref.error() == ("ValueError", (CN_MISMATCH,))
    err = task.exception()
    release_ok(ref)
    assert_oserror(err, FATAL_ALERT, "mpssl server")


def test_mpssl_server_expired_cert_reference_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any
) -> None:
    case(PEER, FROM_REF, "TLSv1.2", "expired server cert: reference rejects")
    cert = ref_certs["expired"]
    task, port = serve_one(iop, lambda conn: mpssl_server(conn, "path", cert))
    ref = reference_client(ref_peer, port, cert, mode="path")
    typ, args = ref.error()
    assert typ == "ValueError"
    assert "The certificate validity has expired" in args[0]
    assert args == (EXPIRED,)
    err = task.exception()
    release_ok(ref)
    assert_oserror(err, FATAL_ALERT, "mpssl server")


def test_mpssl_client_expired_cert_reference_server(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any
) -> None:
    case(PEER, TO_REF, "TLSv1.2", "expired server cert: mpssl rejects")
    cert = ref_certs["expired"]
    ref, raw = reference_server(iop, ref_peer, cert)
    with pytest.raises(ValueError) as ei:
        mpssl_client(raw, "path", cert, REFERENCE_HOST)
    assert str(ei.value) == EXPIRED
    assert ref.error() == ("OSError", FATAL_ALERT)
    raw.close()
    release_ok(ref)


def test_mpssl_server_requires_cert_reference_client_has_none(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any
) -> None:
    case(PEER, FROM_REF, "TLSv1.2", "client cert missing: mpssl rejects")
    server, client = ref_certs["ec256"], ref_certs["client"]
    task, port = serve_one(iop, lambda conn: mpssl_server(conn, "bytes", server, ca=client))
    ref = reference_client(ref_peer, port, server)
    err = task.exception()
    assert_oserror(err, NO_CLIENT_CERT, "mpssl server")
    # the accepted socket is still open (``iop`` holds it until teardown): the reference reads
    # mpssl's alert, not a reset
    assert ref.error() == ("OSError", FATAL_ALERT)
    release_ok(ref)


@pytest.mark.parametrize("handshake", ["deferred", "blocking"])
def test_reference_server_requires_cert_mpssl_client_has_none(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, handshake: str
) -> None:
    """The reference sends its handshake_failure alert only when the handshake runs inside a
    read/write (``do_handshake_on_connect=False``, as asyncio servers do); a blocking
    ``wrap_socket`` just fails and leaves the socket to its caller, so mpssl sees the close."""
    case(PEER, TO_REF, "TLSv1.2", f"client cert missing: reference rejects ({handshake} handshake)")
    server, client = ref_certs["ec256"], ref_certs["client"]
    ref, raw = reference_server(
        iop,
        ref_peer,
        server,
        ca=client,
        verify=mpssl.CERT_REQUIRED,
        deferred=handshake == "deferred",
    )
    task = iop.spawn(mpssl_client, raw, "bytes", server, REFERENCE_HOST)
    assert ref.error() == ("OSError", NO_CLIENT_CERT)
    if handshake == "deferred":
        err = task.exception()
        ref.release()
        assert_oserror(err, FATAL_ALERT, "mpssl client")
    else:
        ref.release()  # the reference closes its socket (unread data: maybe a reset)
        err = task.exception()
        assert isinstance(err, OSError), f"mpssl client: expected OSError, got {err!r}"
        # as reference.md 2.2 lists for a peer that closed: CONN_EOF, ECONNRESET or EPIPE
        # (EPIPE when the rest of the client's flight is written after the reset)
        assert err.args[0] in (-29312, errno.ECONNRESET, errno.EPIPE), err.args
        if err.args[0] == -29312:
            assert err.args == (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")
    raw.close()
    assert ref.proc.wait(PROC_TIMEOUT) == 0


# ------------------------------------------------------------------------------------------
# Bulk data and suite selection

BULK = 40000  # several full-size records each way (reference: 16 KiB in, 4 KiB out)


def test_bulk_reference_server_mpssl_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any
) -> None:
    row: Case = case(PEER, TO_REF, "TLSv1.2", f"{BULK} bytes each way")
    cert = ref_certs["ec256"]
    ref, raw = reference_server(iop, ref_peer, cert, bulk=BULK)
    c = iop.track_tls(mpssl_client(raw, "bytes", cert, REFERENCE_HOST))
    row.record(c.cipher())
    assert c.write(pattern(BULK)) == BULK
    assert c.read(BULK) == pattern(BULK)
    ref.proc.expect(rf"^bulk {BULK} True$")
    ref.proc.expect(rf"^wrote {BULK}$")
    c.close()
    finish_ok(ref, eof=True)


def test_bulk_mpssl_server_reference_client(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any
) -> None:
    row: Case = case(PEER, FROM_REF, "TLSv1.2", f"{BULK} bytes each way")
    cert = ref_certs["rsa2048"]

    def serve(conn: socket.socket) -> tuple[Any, bytes, int]:
        s = iop.track_tls(mpssl_server(conn, "path", cert))
        data = s.read(BULK)
        n = s.write(data)
        cipher = s.cipher()
        s.close()
        return cipher, data, n

    task, port = serve_one(iop, serve)
    ref = reference_client(ref_peer, port, cert, bulk=BULK)
    ref.proc.expect(rf"^wrote {BULK}$")
    ref.proc.expect(rf"^bulk {BULK} True$")
    cipher, data, n = task.join()
    row.record(cipher)
    assert data == pattern(BULK)
    assert n == BULK
    finish_ok(ref, eof=True)


@pytest.mark.parametrize(
    "suite",
    ["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
    ids=["reference-name", "iana-name"],
)
def test_set_ciphers_mpssl_client_reference_server(
    iop: Interop, ref_peer: RefPeerFactory, ref_certs: RefCerts, case: Any, suite: str
) -> None:
    """mpssl's set_ciphers (reference or IANA spelling) decides the suite; both ends agree."""
    row: Case = case(PEER, TO_REF, "TLSv1.2", f"set_ciphers([{suite!r}])")
    cert = ref_certs["ec256"]
    expected = suite.replace("_", "-")
    ref, raw = reference_server(iop, ref_peer, cert)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=cert.cert_der)
    ctx.set_ciphers([suite])
    assert ctx.get_ciphers() == [expected]
    if "CHACHA20" in suite:
        # the reference is built without ChaCha20-Poly1305: no shared suite
        with pytest.raises(OSError) as ei:
            ctx.wrap_socket(raw, server_hostname=REFERENCE_HOST)
        assert ei.value.args == FATAL_ALERT
        assert ref.error() == ("OSError", (-28160, "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE"))
        raw.close()
        release_ok(ref)
        row.negotiated = "none (no shared suite)"
        return
    c = iop.track_tls(ctx.wrap_socket(raw, server_hostname=REFERENCE_HOST))
    assert row.record(c.cipher()) == (expected, "TLSv1.2")
    c.write(b"suite\n")
    assert ref.cipher() == (expected, "TLSv1.2")
    assert c.readline() == b"echo:suite\n"
    c.close()
    finish_ok(ref, eof=True)
