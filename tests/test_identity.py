"""Peer identity after the handshake, in every verify mode: ``getpeercert(True)`` (leaf DER),
``getpeercert()`` (CPython-style dict), ``get_peer_cert_chain()`` (DER list as sent),
``cipher()``, ``version()``, ``key_exchange_group()``."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
import verify_cases as vc
from cryptography.hazmat.primitives.serialization import Encoding
from support import JOIN_TIMEOUT, Harness, handshake_pair

MODES = [mpssl.CERT_NONE, mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED]
SERVER_MODES = [mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED]
TLS12 = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"


@pytest.fixture(scope="module")
def pkis() -> dict[str, Any]:
    root, (inter,), leaf = pki.make_chain(
        1, leaf_kw={"dns": ("localhost",), "ips": ("127.0.0.1", "::1")})
    client = pki.make_cert("identity client", issuer=inter, dns=("client.test",),
                           emails=("c@example.test",))
    return {"root": root, "inter": inter, "leaf": leaf, "client": client}


def pair(harness: Harness, p: dict[str, Any], cmode: int, smode: int,
         tls12: bool = False) -> tuple[Any, Any]:
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(p["leaf"].pem + p["inter"].pem, p["leaf"].key_bytes())
    sctx.verify_mode = smode
    sctx.load_verify_locations(cadata=p["root"].der)
    if tls12:
        sctx.set_ciphers([TLS12])
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.verify_mode = cmode
    cctx.load_verify_locations(cadata=p["root"].der)
    cctx.load_cert_chain(p["client"].pem + p["inter"].pem, p["client"].key_bytes())
    # ping: TLS 1.3: the server finishes its handshake on the client's Finished
    cli, srv = handshake_pair(harness, sctx, cctx, ping=b"x", timeout=JOIN_TIMEOUT, catch=())
    if isinstance(srv, BaseException):
        raise srv
    return cli, srv


def decode(tmp: Path, cert: pki.Cert) -> dict[str, Any]:
    f = tmp / "c.pem"
    f.write_bytes(cert.pem)
    return ssl._ssl._test_decode_cert(str(f))  # type: ignore[attr-defined,no-any-return]


def check_dict(got: Any, want: dict[str, Any]) -> None:
    assert isinstance(got, dict)
    for key in ("subject", "issuer", "version", "serialNumber", "notBefore", "notAfter",
                "subjectAltName"):
        assert got[key] == want[key], key


@pytest.mark.parametrize("cmode", MODES)
def test_client_sees_server_identity(harness: Harness, pkis: dict[str, Any], tmp_path: Path,
                                     cmode: int) -> None:
    cli, _ = pair(harness, pkis, cmode, mpssl.CERT_NONE)
    assert cli.getpeercert(binary_form=True) == pkis["leaf"].der
    assert cli.getpeercert(True) == pkis["leaf"].der
    check_dict(cli.getpeercert(), decode(tmp_path, pkis["leaf"]))
    assert cli.getpeercert()["subjectAltName"] == (
        ("DNS", "localhost"), ("IP Address", "127.0.0.1"), ("IP Address", "0:0:0:0:0:0:0:1"))
    assert cli.get_peer_cert_chain() == [pkis["leaf"].der, pkis["inter"].der]


@pytest.mark.parametrize("smode", SERVER_MODES)
def test_server_sees_client_identity(harness: Harness, pkis: dict[str, Any], tmp_path: Path,
                                     smode: int) -> None:
    _, srv = pair(harness, pkis, mpssl.CERT_REQUIRED, smode)
    assert srv.getpeercert(True) == pkis["client"].der
    got = srv.getpeercert()
    check_dict(got, decode(tmp_path, pkis["client"]))
    assert got["subjectAltName"] == (("DNS", "client.test"), ("email", "c@example.test"))
    assert srv.get_peer_cert_chain() == [pkis["client"].der, pkis["inter"].der]


def test_server_cert_none_has_no_client_identity(harness: Harness,
                                                 pkis: dict[str, Any]) -> None:
    _, srv = pair(harness, pkis, mpssl.CERT_REQUIRED, mpssl.CERT_NONE)
    assert srv.getpeercert(True) is None
    assert srv.getpeercert() is None
    assert srv.get_peer_cert_chain() is None


def test_untrusted_peer_identity_under_cert_none(harness: Harness, tmp_path: Path) -> None:
    """CERT_NONE: the identity of a peer nobody vouches for is still reported in full."""
    mat = vc.b_untrusted_root("client")
    stranger = pki.Cert(mat.presented[0], mat.key)
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pki.to_pem(*mat.presented), stranger.key_bytes())
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.verify_mode = mpssl.CERT_NONE
    a, b = harness.socketpair()
    a.settimeout(JOIN_TIMEOUT)
    task = harness.spawn(sctx.wrap_socket, b, server_side=True)
    cli = harness.track_tls(cctx.wrap_socket(a))
    harness.track_tls(task.join())
    assert cli.getpeercert(True) == stranger.der
    check_dict(cli.getpeercert(), decode(tmp_path, stranger))
    chain = cli.get_peer_cert_chain()
    assert chain == [c.public_bytes(Encoding.DER) for c in mat.presented]


def test_chain_is_reported_as_sent(harness: Harness) -> None:
    """get_peer_cert_chain() is the wire order, even when that order is not the chain's."""
    root, (i1, i2), leaf = pki.make_chain(2)
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(leaf.pem + i1.pem + i2.pem, leaf.key_bytes())
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=root.der)
    a, b = harness.socketpair()
    a.settimeout(JOIN_TIMEOUT)
    task = harness.spawn(sctx.wrap_socket, b, server_side=True)
    cli = harness.track_tls(cctx.wrap_socket(a, server_hostname="localhost"))
    harness.track_tls(task.join())
    assert cli.get_peer_cert_chain() == [leaf.der, i1.der, i2.der]


@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
def test_cipher_version_group(harness: Harness, pkis: dict[str, Any], tls12: bool) -> None:
    cli, srv = pair(harness, pkis, mpssl.CERT_REQUIRED, mpssl.CERT_REQUIRED, tls12)
    for s in (cli, srv):
        c = s.cipher()
        assert isinstance(c, tuple) and len(c) == 2
        assert c[1] == s.version()
        assert c[0] in s.context.get_ciphers()
        assert isinstance(s.key_exchange_group(), str)
    assert cli.cipher() == srv.cipher()
    assert cli.key_exchange_group() == srv.key_exchange_group()
    if tls12:
        assert cli.cipher() == (TLS12, "TLSv1.2")
        assert cli.key_exchange_group() in ("X25519", "secp256r1", "secp384r1")
    else:
        assert cli.version() == "TLSv1.3"
        assert cli.key_exchange_group() == "X25519MLKEM768"


def test_identity_before_handshake_and_after_close(harness: Harness,
                                                   pkis: dict[str, Any]) -> None:
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pkis["leaf"].pem + pkis["inter"].pem, pkis["leaf"].key_bytes())
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=pkis["root"].der)
    a, b = harness.socketpair()
    a.settimeout(JOIN_TIMEOUT)
    cli = harness.track_tls(cctx.wrap_socket(a, server_hostname="localhost",
                                             do_handshake_on_connect=False))
    assert cli.getpeercert(True) is None
    assert cli.getpeercert() is None
    assert cli.get_peer_cert_chain() is None
    assert cli.cipher() is None and cli.version() is None and cli.key_exchange_group() is None
    task = harness.spawn(sctx.wrap_socket, b, server_side=True)
    assert cli.do_handshake() is True
    harness.track_tls(task.join())
    assert cli.getpeercert(True) == pkis["leaf"].der
    cli.close()
    assert cli.cipher() is None


def test_identity_from_cpython_server(harness: Harness, pkis: dict[str, Any],
                                      tmp_path: Path) -> None:
    """OpenSSL as the server: same leaf, same chain as sent, TLS 1.3 names."""
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(pkis["leaf"].pem + pkis["inter"].pem)
    key.write_bytes(pkis["leaf"].key_bytes())
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(chain), str(key))
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(cadata=pkis["root"].der)
    a, b = harness.socketpair()
    a.settimeout(JOIN_TIMEOUT)
    b.settimeout(JOIN_TIMEOUT)

    def server() -> str | None:
        s = sctx.wrap_socket(b, server_side=True)
        try:
            assert s.recv(1) == b"x"
            c = s.cipher()
            return c[0] if c else None
        finally:
            s.close()

    task = harness.spawn(server)
    cli = harness.track_tls(cctx.wrap_socket(a, server_hostname="localhost"))
    cli.write(b"x")
    openssl_name = task.join()
    assert cli.getpeercert(True) == pkis["leaf"].der
    assert cli.get_peer_cert_chain() == [pkis["leaf"].der, pkis["inter"].der]
    assert cli.version() == "TLSv1.3"
    name, version = cli.cipher()
    assert version == "TLSv1.3"
    assert name.replace("-", "_") == openssl_name  # TLS 1.3 names agree with OpenSSL's
    a.shutdown(socket.SHUT_RDWR)
