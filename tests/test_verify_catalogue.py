"""The verification catalogue (``verify_cases.py``) run over loopback, in every verify mode.

* ``CERT_REQUIRED``: each case's verdict and, when rejected, the exact ``str(ValueError)``;
  the presenting peer sees the rejection as a fatal alert.
* ``CERT_OPTIONAL`` / ``CERT_NONE``: every case completes the handshake (the client still
  verifies the handshake signatures; see the certificate-swap test at the end).

Directions: ``client`` (an mpssl client verifies the server's certificate) and ``server`` (an
mpssl server verifies the client's certificate). The observations are written to
``tests/VERIFY_CATALOGUE.md`` when this module finishes.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
import verify_cases as vc
from cryptography.hazmat.primitives import serialization
from support import JOIN_TIMEOUT, Harness, handshake_pair

FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
MODES = {"REQUIRED": mpssl.CERT_REQUIRED, "OPTIONAL": mpssl.CERT_OPTIONAL,
         "NONE": mpssl.CERT_NONE}
CATALOGUE_MD = Path(__file__).with_name("VERIFY_CATALOGUE.md")

# (case id, direction, mode) -> (verdict, detail)
OBSERVED: dict[tuple[str, str, str], tuple[str, str]] = {}


def _pem(certs: list[Any]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _key_pem(key: pki.PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _der(cert: Any) -> bytes:
    return bytes(cert.public_bytes(serialization.Encoding.DER))


def _expected_detail(case: vc.Case) -> str:
    if case.os_error is not None:
        return f"OSError{case.os_error!r}"
    return "ValueError(" + repr(case.text) + ")"


def _describe(e: BaseException) -> str:
    if type(e) is ValueError:
        return "ValueError(" + repr(str(e)) + ")"
    return f"{type(e).__name__}{e.args!r}"


# --------------------------------------------------------------------------------------------
# Endpoints


def _server_identity() -> pki.Cert:
    """What the mpssl server presents when the client's certificate is under test."""
    return _identity


_identity = pki.make_cert("localhost", issuer=vc.inter(), dns=("localhost",))


def _cpython_ctx(side: int, mat: vc.Material | None, tmp: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(side)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # lets OpenSSL present an RSA-1024 leaf
    if side == ssl.PROTOCOL_TLS_CLIENT:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if mat is not None:
        chain, key = tmp / "chain.pem", tmp / "key.pem"
        chain.write_bytes(_pem(mat.presented))
        key.write_bytes(_key_pem(mat.key))
        ctx.load_cert_chain(str(chain), str(key))
    return ctx


@dataclass
class Outcome:
    verifier: Any  # the verifying mpssl SSLSocket, or its exception
    peer: Any  # the presenting peer's socket, or its exception
    peer_cert: bytes | None = None  # the verifier's getpeercert(True) after success


def run_case(harness: Harness, case: vc.Case, direction: str, mode: int,
             tmp: Path) -> Outcome:
    mat = case.build(direction)
    cpython = case.peer == "cpython"

    if direction == "client":
        cctx: Any = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
        cctx.verify_mode = mode
        cctx.hostname_checks_common_name = mat.cn_check
        for t in mat.trust:
            cctx.load_verify_locations(cadata=_der(t))
        if cpython:
            sctx: Any = _cpython_ctx(ssl.PROTOCOL_TLS_SERVER, mat, tmp)
        else:
            sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(_pem(mat.presented), _key_pem(mat.key))
        hostname = mat.hostname
    else:
        ident = _server_identity()
        sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(ident.chain_pem, ident.key_bytes())
        sctx.verify_mode = mode
        for t in mat.trust:
            sctx.load_verify_locations(cadata=_der(t))
        if cpython:
            cctx = _cpython_ctx(ssl.PROTOCOL_TLS_CLIENT, mat, tmp)
        else:
            cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
            cctx.verify_mode = mpssl.CERT_NONE
            cctx.load_cert_chain(_pem(mat.presented), _key_pem(mat.key))
        hostname = "localhost"

    client, srv = handshake_pair(harness, sctx, cctx, hostname, ping=b"ping", pong=b"pong",
                                 timeout=JOIN_TIMEOUT, catch=(OSError, ValueError, TypeError))
    if direction == "client":
        out = Outcome(client, srv)
    else:
        out = Outcome(srv, client)
    if not isinstance(out.verifier, BaseException):
        out.peer_cert = out.verifier.getpeercert(True)
    return out


# --------------------------------------------------------------------------------------------
# Parametrization


def _params(modes: list[str]) -> list[Any]:
    out = []
    for case in vc.CASES:
        for direction in case.directions:
            for mode in modes:
                out.append(pytest.param(case, direction, mode,
                                        id=f"{case.id}-{direction}-{mode}"))
    return out


@pytest.fixture(scope="module", autouse=True)
def catalogue_report() -> Iterator[None]:
    """Write ``VERIFY_CATALOGUE.md`` from what this module observed."""
    OBSERVED.clear()
    yield
    if not OBSERVED:
        return
    lines = [
        "# Verification catalogue (generated by `tests/test_verify_catalogue.py`)",
        "",
        "Do not edit: rewritten by every run of the catalogue tests. Each row is what the",
        "verifying mpssl endpoint actually did. *Direction* `client`: an mpssl client verifies",
        "the server's certificate; `server`: an mpssl server verifies the client's certificate.",
        "Texts are `str(e)` with newlines shown as `\\n`. *Expected* is the catalogue's",
        "CERT_REQUIRED expectation; a ✗ in *as expected* is a failing test.",
        "",
        (f"mpssl {mpssl.__version__}, {mpssl.RUSTLS_VERSION}; generated "
         f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}."),
        "",
        "| case | direction | peer | mode | verdict | observed error | expected | as expected"
        + " | basis |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in vc.CASES:
        for direction in case.directions:
            for mode in MODES:
                key = (case.id, direction, mode)
                if key not in OBSERVED:
                    continue
                verdict, detail = OBSERVED[key]
                if mode == "REQUIRED":
                    want = "accept" if case.ok else "reject: " + repr(case.os_error or case.text)
                    good = (verdict == "accept") == case.ok and (
                        case.ok or detail == _expected_detail(case))
                else:
                    lax = _lax_ok(case, direction, mode)
                    want = "accept" if lax else "reject"
                    good = (verdict == "accept") == lax
                cells = [case.id, direction, case.peer, mode, verdict,
                         detail.replace("|", "\\|"), want.replace("|", "\\|"),
                         "✓" if good else "✗", case.why.replace("|", "\\|")]
                lines.append("| " + " | ".join(f"`{c}`" if i == 5 and c else c
                                                for i, c in enumerate(cells)) + " |")
    extra = [k for k in OBSERVED if k[0] not in vc.BY_ID]
    if extra:
        lines += ["", "Outside the table (handshake signatures; expected: refused in every mode):",
                  "", "| case | direction | mode | verdict | observed error |",
                  "|---|---|---|---|---|"]
        for key in extra:
            verdict, detail = OBSERVED[key]
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {verdict} | `{detail}` |")
    CATALOGUE_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _lax_ok(case: vc.Case, direction: str, mode: str) -> bool:
    # a CERT_NONE server asks for no certificate, so nothing about it can fail
    return case.lax_ok or (direction == "server" and mode == "NONE")


def _record(case: vc.Case, direction: str, mode: str, out: Outcome) -> None:
    if isinstance(out.verifier, BaseException):
        OBSERVED[(case.id, direction, mode)] = ("reject", _describe(out.verifier))
    else:
        OBSERVED[(case.id, direction, mode)] = ("accept", "")


@pytest.mark.parametrize("case,direction,mode", _params(["REQUIRED"]))
def test_cert_required(harness: Harness, tmp_path: Path, case: vc.Case, direction: str,
                       mode: str) -> None:
    mat = case.build(direction)
    out = run_case(harness, case, direction, MODES[mode], tmp_path)
    _record(case, direction, mode, out)
    if case.ok:
        assert not isinstance(out.verifier, BaseException), (
            f"false reject: {_describe(out.verifier)}")
        assert not isinstance(out.peer, BaseException), _describe(out.peer)
        assert out.peer_cert == _der(mat.leaf)
        return
    assert isinstance(out.verifier, BaseException), "FALSE ACCEPT: the handshake succeeded"
    assert _describe(out.verifier) == _expected_detail(case), (
        f"wrong error: {_describe(out.verifier)}")
    if case.os_error is None:
        assert type(out.verifier) is ValueError
        assert str(out.verifier) == case.text
        assert out.verifier.args == (case.text,)
    # the presenting side learns of the rejection through a fatal alert
    if case.peer == "cpython":
        assert isinstance(out.peer, ssl.SSLError), repr(out.peer)
    else:
        assert isinstance(out.peer, OSError), repr(out.peer)
        assert out.peer.args == FATAL_ALERT


@pytest.mark.parametrize("case,direction,mode", _params(["OPTIONAL", "NONE"]))
def test_lower_modes_accept(harness: Harness, tmp_path: Path, case: vc.Case, direction: str,
                            mode: str) -> None:
    """CERT_OPTIONAL / CERT_NONE: no identity verdict stops the handshake."""
    mat = case.build(direction)
    out = run_case(harness, case, direction, MODES[mode], tmp_path)
    _record(case, direction, mode, out)
    if not _lax_ok(case, direction, mode):
        # rustls cannot check the handshake signature: the verdict names the weak key.
        assert isinstance(out.verifier, ValueError), repr(out.verifier)
        assert str(out.verifier) == case.text, repr(out.verifier)
        return
    assert not isinstance(out.verifier, BaseException), _describe(out.verifier)
    assert not isinstance(out.peer, BaseException), _describe(out.peer)
    if direction == "server" and mode == "NONE":
        assert out.peer_cert is None  # a CERT_NONE server does not ask for a certificate
    else:
        assert out.peer_cert == _der(mat.leaf)


def test_catalogue_is_complete() -> None:
    """Every kind of case the issue lists is in the table (guards against silent removal)."""
    ids = set(vc.BY_ID)
    for needed in ["good-chain", "chain-out-of-order", "intermediate-missing", "expired-leaf",
                   "not-yet-valid-leaf", "expired-intermediate", "wrong-hostname",
                   "wildcard-two-labels", "wildcard-partial", "ipv4-san", "ipv6-san",
                   "ip-host-vs-dns-san", "cn-only-check-on", "cn-only-check-off",
                   "cn-ignored-when-san", "untrusted-root", "self-signed-untrusted",
                   "self-signed-trusted", "issuer-ca-false", "pathlen-intermediate-exceeded",
                   "name-constraints-root-violated", "eku-wrong-purpose", "sha1-rsa-leaf",
                   "rsa1024-leaf"]:
        assert needed in ids, needed
    rejected = [c for c in vc.CASES if not c.ok]
    assert all(c.text for c in rejected), "every rejection states its reason"


# --------------------------------------------------------------------------------------------
# CERT_NONE still verifies the handshake signatures


def _records(buf: bytearray) -> Iterator[tuple[int, bytes, bytes]]:
    """Complete TLS records at the front of ``buf`` (consumed): (type, header, payload)."""
    while len(buf) >= 5:
        n = int.from_bytes(buf[3:5], "big")
        if len(buf) < 5 + n:
            return
        header, payload = bytes(buf[:5]), bytes(buf[5:5 + n])
        del buf[:5 + n]
        yield header[0], header, payload


def _swap_certificate(flight: bytes, chain: list[bytes]) -> bytes:
    """Replace the Certificate message (type 11) in a TLS 1.2 handshake byte stream."""
    out = b""
    pos = 0
    while pos < len(flight):
        kind, n = flight[pos], int.from_bytes(flight[pos + 1:pos + 4], "big")
        body = flight[pos + 4:pos + 4 + n]
        if kind == 11:
            certs = b"".join(len(c).to_bytes(3, "big") + c for c in chain)
            body = len(certs).to_bytes(3, "big") + certs
        out += bytes([kind]) + len(body).to_bytes(3, "big") + body
        pos += 4 + n
    return out


def cert_swap_proxy(client_side: socket.socket, server_side: socket.socket,
                    chain: list[bytes]) -> int:
    """Relay TLS 1.2 between two sockets, replacing the certificate the server sends (which
    travels in clear in TLS 1.2) by ``chain``. Returns the number of swaps made."""
    sel = selectors.DefaultSelector()
    sel.register(client_side, selectors.EVENT_READ, server_side)
    sel.register(server_side, selectors.EVENT_READ, client_side)
    from_server = bytearray()
    handshake = b""
    swapped = 0
    swapping = True
    deadline = time.monotonic() + JOIN_TIMEOUT
    open_ends = 2
    try:
        while open_ends and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                dst: socket.socket = key.data
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(src)
                    open_ends -= 1
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                if src is server_side and swapping:
                    from_server += data
                    for kind, header, payload in _records(from_server):
                        assert kind == 22, "TLS 1.2 server flight expected"
                        handshake += payload
                        if b"\x0e\x00\x00\x00" in handshake[-4:]:  # ServerHelloDone
                            new = _swap_certificate(handshake, chain)
                            swapped += 1
                            swapping = False
                            for i in range(0, len(new), 16384):
                                part = new[i:i + 16384]
                                dst.sendall(header[:3] + len(part).to_bytes(2, "big") + part)
                    if not swapping and from_server:
                        dst.sendall(bytes(from_server))
                        from_server.clear()
                    continue
                try:
                    dst.sendall(data)
                except OSError:  # the other end is gone: the relay is over
                    return swapped
    finally:
        sel.close()
    return swapped


@pytest.mark.parametrize("mode", ["NONE", "OPTIONAL", "REQUIRED"])
def test_handshake_signature_still_verified(harness: Harness, mode: str) -> None:
    """A server whose certificate does not match the key it signs with is refused in every
    mode. Built by swapping the (clear-text, TLS 1.2) Certificate message in flight for
    another valid, trusted certificate for the same name: only the ServerKeyExchange
    signature can tell."""
    real = pki.make_cert("localhost", issuer=vc.inter(), dns=("localhost",))
    impostor = pki.make_cert("localhost", issuer=vc.inter(), dns=("localhost",))
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(real.chain_pem, real.key_bytes())
    sctx.set_ciphers(["TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"])  # TLS 1.2 only
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.verify_mode = MODES[mode]
    cctx.load_verify_locations(cadata=vc.root().der)

    c_app, c_proxy = harness.socketpair()
    s_proxy, s_app = harness.socketpair()
    for s in (c_app, s_app):
        s.settimeout(JOIN_TIMEOUT)

    def server() -> Any:
        try:
            return sctx.wrap_socket(s_app, server_side=True)
        finally:
            s_app.shutdown(socket.SHUT_WR)

    proxy = harness.spawn(cert_swap_proxy, c_proxy, s_proxy,
                          [impostor.der, vc.inter().der])
    srv = harness.spawn(server)
    with pytest.raises(OSError) as ei:
        harness.track_tls(cctx.wrap_socket(c_app, server_hostname="localhost"))
    c_app.shutdown(socket.SHUT_WR)
    err: BaseException = ei.value
    assert not isinstance(err, ValueError)  # not a certificate verdict
    OBSERVED[("handshake-signature-mismatch (TLS 1.2 cert swap)", "client", mode)] = (
        "reject", _describe(err))
    assert "signature" in str(err).lower(), repr(err)
    assert proxy.join() == 1
    server_err = srv.exception()
    assert isinstance(server_err, OSError), repr(server_err)


def test_cert_swap_proxy_is_transparent_without_swap(harness: Harness) -> None:
    """Control for the test above: swapping in the *same* certificate chain changes nothing,
    so the failure there comes from the signature, not from the proxy."""
    real = pki.make_cert("localhost", issuer=vc.inter(), dns=("localhost",))
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(real.chain_pem, real.key_bytes())
    sctx.set_ciphers(["TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"])
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=vc.root().der)
    c_app, c_proxy = harness.socketpair()
    s_proxy, s_app = harness.socketpair()
    for s in (c_app, s_app):
        s.settimeout(JOIN_TIMEOUT)

    def server() -> bytes:
        s = harness.track_tls(sctx.wrap_socket(s_app, server_side=True))
        data: bytes = s.read(2)
        s.close()
        return data

    same = [real.der, vc.inter().der, vc.root().der]  # exactly what the server sends
    proxy = harness.spawn(cert_swap_proxy, c_proxy, s_proxy, same)
    srv = harness.spawn(server)
    cli = harness.track_tls(cctx.wrap_socket(c_app, server_hostname="localhost"))
    assert cli.version() == "TLSv1.2"
    cli.write(b"ok")
    assert srv.join() == b"ok"
    assert cli.read() == b""
    cli.close()
    assert proxy.join() == 1
