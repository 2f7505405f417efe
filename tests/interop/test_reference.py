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


def finish_ok(ref: RefPeer) -> None:
    ref.proc.expect(r"^done$")
    assert ref.proc.wait(PROC_TIMEOUT) == 0, ref.proc.transcript()


# ------------------------------------------------------------------------------------------
# Successful exchanges


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_reference_server_mpssl_client(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    kind: str,
    mode: str,
) -> None:
    row: Case = case(
        PEER,
        "mpssl client -> reference server",
        "TLSv1.2",
        f"CERT_REQUIRED + CN, {kind}, DER {mode}",
    )
    cert = ref_certs[kind]
    ref = ref_peer("server", mode=mode, cert=cert)
    assert ref.port is not None
    c = iop.track_obj(mpssl_client(iop.connect(ref.port), mode, cert, REFERENCE_HOST))
    cipher = c.cipher()
    assert cipher is not None
    row.negotiated, row.cipher = cipher[1], cipher[0]
    assert cipher == (SUITE[kind], "TLSv1.2")
    assert c.write(b"hello reference\n") == 16
    assert ref.cipher() == cipher
    ref.proc.expect(r"^got b'hello reference\\n'$")
    assert c.readline() == b"echo:hello reference\n"
    c.close()
    # mpssl's close_notify (or at worst the FIN) ends the reference's read(16) with b''
    ref.proc.expect(r"^eof b''$")
    finish_ok(ref)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_mpssl_server_reference_client(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    kind: str,
    mode: str,
) -> None:
    row: Case = case(
        PEER,
        "reference client -> mpssl server",
        "TLSv1.2",
        f"CERT_REQUIRED + CN, {kind}, DER {mode}",
    )
    cert = ref_certs[kind]
    ls, port = iop.listener()

    def serve() -> dict[str, Any]:
        s = iop.track_obj(mpssl_server(iop.accept(ls), mode, cert))
        info: dict[str, Any] = {"cipher": s.cipher()}
        info["got"] = s.readline()
        s.write(b"echo:" + info["got"])
        s.close()
        return info

    task = iop.spawn(serve)
    ref = ref_peer(
        "client",
        mode=mode,
        ca=cert,
        verify=mpssl.CERT_REQUIRED,
        hostname=REFERENCE_HOST,
        port=port,
        message="hello mpssl\n",
    )
    ref_cipher = ref.cipher()
    info = task.join()
    row.negotiated, row.cipher = info["cipher"][1], info["cipher"][0]
    assert info["cipher"] == (SUITE[kind], "TLSv1.2")
    assert ref_cipher == info["cipher"]
    assert info["got"] == b"hello mpssl\n"
    ref.proc.expect(r"^got b'echo:hello mpssl\\n'$")
    ref.proc.expect(r"^eof b''$")
    finish_ok(ref)


@pytest.mark.parametrize("mode", MODES)
def test_mutual_reference_server_mpssl_client(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    mode: str,
) -> None:
    row: Case = case(PEER, "mpssl client -> reference server", "TLSv1.2", f"mutual TLS, DER {mode}")
    server, client = ref_certs["ec256"], ref_certs["client"]
    ref = ref_peer("server", mode=mode, cert=server, ca=client, verify=mpssl.CERT_REQUIRED)
    assert ref.port is not None
    c = iop.track_obj(mpssl_client(iop.connect(ref.port), mode, server, REFERENCE_HOST, client))
    cipher = c.cipher()
    assert cipher is not None
    row.negotiated, row.cipher = cipher[1], cipher[0]
    assert cipher[1] == "TLSv1.2"
    c.write(b"mutual\n")
    assert ref.cipher() == cipher
    assert c.readline() == b"echo:mutual\n"
    c.close()
    ref.proc.expect(r"^eof b''$")
    finish_ok(ref)


@pytest.mark.parametrize("mode", MODES)
def test_mutual_mpssl_server_reference_client(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    mode: str,
) -> None:
    row: Case = case(PEER, "reference client -> mpssl server", "TLSv1.2", f"mutual TLS, DER {mode}")
    server, client = ref_certs["ec256"], ref_certs["client"]
    ls, port = iop.listener()

    def serve() -> dict[str, Any]:
        s = iop.track_obj(mpssl_server(iop.accept(ls), mode, server, ca=client))
        info: dict[str, Any] = {"cipher": s.cipher(), "peer": s.getpeercert(binary_form=True)}
        info["got"] = s.readline()
        s.write(b"echo:" + info["got"])
        s.close()
        return info

    task = iop.spawn(serve)
    # the reference-style client certificate (self-signed, CA:TRUE) is its own trust anchor
    ref = ref_peer(
        "client",
        mode=mode,
        cert=client,
        ca=server,
        verify=mpssl.CERT_REQUIRED,
        hostname=REFERENCE_HOST,
        port=port,
        message="mutual\n",
    )
    ref_cipher = ref.cipher()
    info = task.join()
    row.negotiated, row.cipher = info["cipher"][1], info["cipher"][0]
    assert info["cipher"][1] == "TLSv1.2"
    assert ref_cipher == info["cipher"]
    assert info["peer"] == client.cert_der
    assert info["got"] == b"mutual\n"
    ref.proc.expect(r"^got b'echo:mutual\\n'$")
    finish_ok(ref)


# ------------------------------------------------------------------------------------------
# Verification failures


@pytest.mark.parametrize("kind", KINDS)
def test_reference_server_mpssl_client_wrong_hostname(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    kind: str,
) -> None:
    case(
        PEER,
        "mpssl client -> reference server",
        "TLSv1.2",
        f"wrong host name: mpssl rejects ({kind})",
    )
    cert = ref_certs[kind]
    ref = ref_peer("server", cert=cert)
    assert ref.port is not None
    raw = iop.connect(ref.port)
    with pytest.raises(ValueError) as ei:
        mpssl_client(raw, "bytes", cert, "wrong.local")
    assert str(ei.value) == CN_MISMATCH
    assert ei.value.args == (CN_MISMATCH,)
    # mpssl must have sent a fatal alert: the reference reads it (the raw socket stays open
    # until the reference has reported)
    assert ref.error() == ("OSError", FATAL_ALERT)
    raw.close()
    ref.release()
    assert ref.proc.wait(PROC_TIMEOUT) == 0


def test_mpssl_server_reference_client_wrong_hostname(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
) -> None:
    case(PEER, "reference client -> mpssl server", "TLSv1.2", "wrong host name: reference rejects")
    cert = ref_certs["ec256"]
    ls, port = iop.listener()
    task = iop.spawn(lambda: mpssl_server(iop.accept(ls), "bytes", cert))
    ref = ref_peer("client", ca=cert, verify=mpssl.CERT_REQUIRED, hostname="wrong.local", port=port)
    assert ref.error() == ("ValueError", (CN_MISMATCH,))
    err = task.exception()
    ref.release()
    assert isinstance(err, OSError), f"mpssl server: expected the alert as OSError, got {err!r}"
    assert err.args == FATAL_ALERT
    assert ref.proc.wait(PROC_TIMEOUT) == 0


def test_mpssl_server_expired_cert_reference_client(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
) -> None:
    case(
        PEER,
        "reference client -> mpssl server",
        "TLSv1.2",
        "expired server cert: reference rejects",
    )
    cert = ref_certs["expired"]
    ls, port = iop.listener()
    task = iop.spawn(lambda: mpssl_server(iop.accept(ls), "path", cert))
    ref = ref_peer(
        "client",
        mode="path",
        ca=cert,
        verify=mpssl.CERT_REQUIRED,
        hostname=REFERENCE_HOST,
        port=port,
    )
    typ, args = ref.error()
    assert typ == "ValueError"
    assert "The certificate validity has expired" in args[0]
    assert args == (EXPIRED,)
    err = task.exception()
    ref.release()
    assert isinstance(err, OSError), f"mpssl server: expected the alert as OSError, got {err!r}"
    assert err.args == FATAL_ALERT
    assert ref.proc.wait(PROC_TIMEOUT) == 0


def test_mpssl_client_expired_cert_reference_server(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
) -> None:
    case(PEER, "mpssl client -> reference server", "TLSv1.2", "expired server cert: mpssl rejects")
    cert = ref_certs["expired"]
    ref = ref_peer("server", cert=cert)
    assert ref.port is not None
    raw = iop.connect(ref.port)
    with pytest.raises(ValueError) as ei:
        mpssl_client(raw, "path", cert, REFERENCE_HOST)
    assert str(ei.value) == EXPIRED
    assert ref.error() == ("OSError", FATAL_ALERT)
    raw.close()
    ref.release()
    assert ref.proc.wait(PROC_TIMEOUT) == 0


def test_mpssl_server_requires_cert_reference_client_has_none(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
) -> None:
    case(PEER, "reference client -> mpssl server", "TLSv1.2", "client cert missing: mpssl rejects")
    server, client = ref_certs["ec256"], ref_certs["client"]
    ls, port = iop.listener()
    conns: list[Any] = []

    def serve() -> Any:
        conn = iop.accept(ls)
        conns.append(conn)
        return mpssl_server(conn, "bytes", server, ca=client)

    task = iop.spawn(serve)
    ref = ref_peer(
        "client", ca=server, verify=mpssl.CERT_REQUIRED, hostname=REFERENCE_HOST, port=port
    )
    err = task.exception()
    assert isinstance(err, OSError), f"mpssl server: expected OSError, got {err!r}"
    assert err.args == NO_CLIENT_CERT
    # the accepted socket is still open: the reference reads mpssl's alert, not a reset
    assert ref.error() == ("OSError", FATAL_ALERT)
    ref.release()
    assert ref.proc.wait(PROC_TIMEOUT) == 0


@pytest.mark.parametrize("handshake", ["deferred", "blocking"])
def test_reference_server_requires_cert_mpssl_client_has_none(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    handshake: str,
) -> None:
    """The reference sends its handshake_failure alert only when the handshake runs inside a
    read/write (``do_handshake_on_connect=False``, as asyncio servers do); a blocking
    ``wrap_socket`` just fails and leaves the socket to its caller, so mpssl sees the close."""
    case(
        PEER,
        "mpssl client -> reference server",
        "TLSv1.2",
        f"client cert missing: reference rejects ({handshake} handshake)",
    )
    server, client = ref_certs["ec256"], ref_certs["client"]
    ref = ref_peer(
        "server",
        cert=server,
        ca=client,
        verify=mpssl.CERT_REQUIRED,
        deferred=handshake == "deferred",
    )
    assert ref.port is not None
    raw = iop.connect(ref.port)
    task = iop.spawn(mpssl_client, raw, "bytes", server, REFERENCE_HOST)
    assert ref.error() == ("OSError", NO_CLIENT_CERT)
    if handshake == "deferred":
        err = task.exception()
        ref.release()
        assert isinstance(err, OSError), f"mpssl client: expected OSError, got {err!r}"
        assert err.args == FATAL_ALERT
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
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
) -> None:
    row: Case = case(PEER, "mpssl client -> reference server", "TLSv1.2", f"{BULK} bytes each way")
    cert = ref_certs["ec256"]
    ref = ref_peer("server", cert=cert, bulk=BULK)
    assert ref.port is not None
    c = iop.track_obj(mpssl_client(iop.connect(ref.port), "bytes", cert, REFERENCE_HOST))
    row.negotiated, row.cipher = c.cipher()[1], c.cipher()[0]
    assert c.write(pattern(BULK)) == BULK
    assert c.read(BULK) == pattern(BULK)
    ref.proc.expect(rf"^bulk {BULK} True$")
    ref.proc.expect(rf"^wrote {BULK}$")
    c.close()
    ref.proc.expect(r"^eof b''$")
    finish_ok(ref)


def test_bulk_mpssl_server_reference_client(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
) -> None:
    row: Case = case(PEER, "reference client -> mpssl server", "TLSv1.2", f"{BULK} bytes each way")
    cert = ref_certs["rsa2048"]
    ls, port = iop.listener()

    def serve() -> tuple[Any, bytes, int]:
        s = iop.track_obj(mpssl_server(iop.accept(ls), "path", cert))
        data = s.read(BULK)
        n = s.write(data)
        cipher = s.cipher()
        s.close()
        return cipher, data, n

    task = iop.spawn(serve)
    ref = ref_peer(
        "client", ca=cert, verify=mpssl.CERT_REQUIRED, hostname=REFERENCE_HOST, port=port, bulk=BULK
    )
    ref.proc.expect(rf"^wrote {BULK}$")
    ref.proc.expect(rf"^bulk {BULK} True$")
    cipher, data, n = task.join()
    row.negotiated, row.cipher = cipher[1], cipher[0]
    assert data == pattern(BULK)
    assert n == BULK
    ref.proc.expect(r"^eof b''$")
    finish_ok(ref)


@pytest.mark.parametrize(
    "suite",
    ["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"],
    ids=["reference-name", "iana-name"],
)
def test_set_ciphers_mpssl_client_reference_server(
    iop: Interop,
    ref_peer: RefPeerFactory,
    ref_certs: dict[str, RefCert],
    case: Any,
    suite: str,
) -> None:
    """mpssl's set_ciphers (reference or IANA spelling) decides the suite; both ends agree."""
    row: Case = case(
        PEER, "mpssl client -> reference server", "TLSv1.2", f"set_ciphers([{suite!r}])"
    )
    cert = ref_certs["ec256"]
    expected = suite.replace("_", "-")
    ref = ref_peer("server", cert=cert)
    assert ref.port is not None
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=cert.cert_der)
    ctx.set_ciphers([suite])
    assert ctx.get_ciphers() == [expected]
    raw = iop.connect(ref.port)
    if "CHACHA20" in suite:
        # the reference is built without ChaCha20-Poly1305: no shared suite
        with pytest.raises(OSError) as ei:
            ctx.wrap_socket(raw, server_hostname=REFERENCE_HOST)
        assert ei.value.args == FATAL_ALERT
        assert ref.error() == ("OSError", (-28160, "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE"))
        raw.close()
        ref.release()
        assert ref.proc.wait(PROC_TIMEOUT) == 0
        row.negotiated = "none (no shared suite)"
        return
    c = iop.track_obj(ctx.wrap_socket(raw, server_hostname=REFERENCE_HOST))
    row.negotiated, row.cipher = c.cipher()[1], c.cipher()[0]
    assert c.cipher() == (expected, "TLSv1.2")
    c.write(b"suite\n")
    assert ref.cipher() == (expected, "TLSv1.2")
    assert c.readline() == b"echo:suite\n"
    c.close()
    ref.proc.expect(r"^eof b''$")
    finish_ok(ref)
