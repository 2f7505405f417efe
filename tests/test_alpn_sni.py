"""ALPN, SNI (several certificates, ``sni_callback``, the server's ``server_hostname``),
``shared_ciphers``, ``get_channel_binding`` and ``post_handshake_auth`` (issue 11), against
CPython's ``ssl`` on the other side where it can be."""

from __future__ import annotations

import ssl
from typing import Any

import mpssl
import pki
import pytest
from support import Harness, handshake_pair, mpssl_client_ctx, mpssl_server_ctx

# MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE, MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE
HANDSHAKE_FAILURE = -0x6E00
FATAL_ALERT = -0x7780


@pytest.fixture(scope="module")
def names_pki() -> dict[str, pki.Cert]:
    """Leaves for ``a.test`` and ``*.b.test``, issued by the committed test CA."""
    ca = pki.load("ca")
    return {
        "a": pki.make_cert("a.test", issuer=ca, dns=("a.test",)),
        "b": pki.make_cert("b.test", issuer=ca, dns=("*.b.test",)),
    }


def cpython_client(ca: pki.Cert, alpn: list[str] | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca.pem.decode())
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def cpython_server(cert: pki.Cert, tmp_path: Any, alpn: list[str] | None = None) -> ssl.SSLContext:
    certfile, keyfile = tmp_path / "s.pem", tmp_path / "s.key"
    certfile.write_bytes(cert.chain_pem)
    keyfile.write_bytes(cert.key_bytes())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def leaf_cn(sock: Any) -> str:
    """The CN of the certificate the peer presented."""
    der = sock.getpeercert(binary_form=True)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.rfc4514_string())


# ------------------------------------------------------------------------------------ ALPN


def test_alpn_mpssl_client_cpython_server(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert, tmp_path: Any
) -> None:
    sctx = cpython_server(server_cert, tmp_path, alpn=["h2", "http/1.1"])
    cctx = mpssl_client_ctx(ca)
    cctx.set_alpn_protocols(["http/1.1", "h2"])
    client, server = handshake_pair(harness, sctx, cctx, ping=b"x", pong=b"y")
    # The server's preference wins (OpenSSL's selection walks its own list).
    assert server.selected_alpn_protocol() == "h2"
    assert client.selected_alpn_protocol() == "h2"


def test_alpn_cpython_client_mpssl_server(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert)
    sctx.set_alpn_protocols([b"spdy/1", "http/1.1"])
    cctx = cpython_client(ca, alpn=["h2", "http/1.1"])
    client, server = handshake_pair(harness, sctx, cctx, ping=b"x", pong=b"y")
    assert client.selected_alpn_protocol() == "http/1.1"
    assert server.selected_alpn_protocol() == "http/1.1"


def test_alpn_absent_on_one_side_is_none(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert)
    sctx.set_alpn_protocols(["h2"])
    cctx = mpssl_client_ctx(ca)  # offers nothing
    client, server = handshake_pair(harness, sctx, cctx, ping=b"x", pong=b"y")
    assert client.selected_alpn_protocol() is None
    assert server.selected_alpn_protocol() is None


def test_alpn_no_overlap_aborts_with_no_application_protocol(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    """rustls follows RFC 7301: a server with no protocol in common sends the fatal alert
    no_application_protocol (OpenSSL would go on without ALPN)."""
    sctx = mpssl_server_ctx(server_cert)
    sctx.set_alpn_protocols(["h2"])
    cctx = cpython_client(ca, alpn=["http/1.1"])
    client, server = handshake_pair(harness, sctx, cctx)
    assert isinstance(client, ssl.SSLError)
    assert "no application protocol" in str(client)
    assert isinstance(server, OSError)
    assert server.args[0] == HANDSHAKE_FAILURE
    assert server.args[1] == "TLS failure: peer doesn't support any known protocol"


def test_alpn_no_overlap_mpssl_client_sees_fatal_alert(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert)
    sctx.set_alpn_protocols(["h2"])
    cctx = mpssl_client_ctx(ca)
    cctx.set_alpn_protocols(["http/1.1"])
    client, _server = handshake_pair(harness, sctx, cctx)
    assert isinstance(client, OSError)
    assert client.args == (FATAL_ALERT, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")


def test_alpn_validation() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError, match="ALPN protocols must be 1 to 255 in length"):
        ctx.set_alpn_protocols(["h2", ""])
    with pytest.raises(ValueError, match="ALPN protocols must be 1 to 255 in length"):
        ctx.set_alpn_protocols(["x" * 256])
    with pytest.raises(TypeError):
        ctx.set_alpn_protocols([1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        ctx.set_alpn_protocols(None)  # type: ignore[arg-type]
    ctx.set_alpn_protocols(["x" * 255, b"h2"])
    ctx.set_alpn_protocols([])  # turns ALPN off


# ------------------------------------------------------------------------------------ SNI


def two_name_server(server_cert: pki.Cert, names_pki: dict[str, pki.Cert]) -> mpssl.SSLContext:
    sctx = mpssl_server_ctx(server_cert)  # localhost: the default
    for leaf in (names_pki["a"], names_pki["b"]):
        sctx.load_cert_chain(leaf.chain_pem, leaf.key_bytes())
    return sctx


@pytest.mark.parametrize(
    ("name", "cn"),
    [("a.test", "CN=a.test"), ("x.b.test", "CN=b.test"), ("localhost", "CN=localhost")],
)
def test_second_load_cert_chain_serves_another_name(
    harness: Harness,
    ca: pki.Cert,
    server_cert: pki.Cert,
    names_pki: dict[str, pki.Cert],
    name: str,
    cn: str,
) -> None:
    sctx = two_name_server(server_cert, names_pki)
    client, server = handshake_pair(
        harness, sctx, cpython_client(ca), server_hostname=name, ping=b"x", pong=b"y"
    )
    assert leaf_cn(client) == cn
    assert server.server_hostname == name


def test_unknown_name_gets_the_default_certificate(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert, names_pki: dict[str, pki.Cert]
) -> None:
    sctx = two_name_server(server_cert, names_pki)
    cctx = cpython_client(ca)
    cctx.check_hostname = False
    client, server = handshake_pair(
        harness, sctx, cctx, server_hostname="c.test", ping=b"x", pong=b"y"
    )
    assert leaf_cn(client) == "CN=localhost"
    assert server.server_hostname == "c.test"


def test_server_hostname_is_none_without_sni(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    cctx = mpssl_client_ctx(ca)
    cctx.verify_mode = mpssl.CERT_NONE
    client, server = handshake_pair(
        harness, mpssl_server_ctx(server_cert), cctx, server_hostname=None, ping=b"x"
    )
    assert server.server_hostname is None
    assert client.server_hostname is None


def test_chain_built_one_der_certificate_at_a_time_still_works(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    """MicroPython's single-certificate case: the same key again appends to the chain."""
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(server_cert.der, server_cert.key_bytes())
    sctx.load_cert_chain(ca.der, server_cert.key_bytes())
    client, _ = handshake_pair(harness, sctx, mpssl_client_ctx(ca), ping=b"x")
    assert client.get_peer_cert_chain() == [server_cert.der, ca.der]


def test_second_identity_only_on_servers(
    server_cert: pki.Cert, names_pki: dict[str, pki.Cert]
) -> None:
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_cert_chain(server_cert.chain_pem, server_cert.key_bytes())
    leaf = names_pki["a"]
    with pytest.raises(ValueError, match="does not match the certificate"):
        cctx.load_cert_chain(leaf.chain_pem, leaf.key_bytes())
    # On a server, a key that matches neither the first chain nor its own data is refused.
    sctx = mpssl_server_ctx(server_cert)
    with pytest.raises(ValueError, match="does not match the certificate"):
        sctx.load_cert_chain(leaf.chain_pem, names_pki["b"].key_bytes())


def test_sni_callback_switches_context(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert, names_pki: dict[str, pki.Cert]
) -> None:
    sctx = mpssl_server_ctx(server_cert)
    other = mpssl_server_ctx(names_pki["a"])
    calls: list[tuple[Any, ...]] = []

    def pick(sock: Any, name: str | None, ctx: Any) -> None:
        calls.append((type(sock).__name__, name, ctx is sctx, sock.server_side))
        if name == "a.test":
            sock.context = other

    sctx.sni_callback = pick
    assert sctx.sni_callback is pick
    client, server = handshake_pair(
        harness, sctx, cpython_client(ca), server_hostname="a.test", ping=b"x", pong=b"y"
    )
    assert leaf_cn(client) == "CN=a.test"
    assert calls == [("SSLSocket", "a.test", True, True)]
    assert server.context is other
    assert server.server_hostname == "a.test"


def test_sni_callback_sees_none_without_sni(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert)
    names: list[str | None] = []
    sctx.sni_callback = lambda sock, name, ctx: names.append(name)
    cctx = cpython_client(ca)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    handshake_pair(harness, sctx, cctx, server_hostname=None, ping=b"x", pong=b"y")
    assert names == [None]


def test_sni_callback_alert_aborts(harness: Harness, ca: pki.Cert, server_cert: pki.Cert) -> None:
    sctx = mpssl_server_ctx(server_cert)
    sctx.sni_callback = lambda sock, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    client, server = handshake_pair(harness, sctx, cpython_client(ca))
    assert isinstance(client, ssl.SSLError)
    assert "ACCESS_DENIED" in str(client)  # what rustls sends when no certificate is chosen
    assert isinstance(server, OSError)
    assert server.args == (HANDSHAKE_FAILURE, "MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE")
    assert any("returned alert 112" in n for n in server.__notes__)


def test_sni_callback_exception_is_raised_on_the_server(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    class Boom(Exception):
        pass

    def fail(sock: Any, name: str | None, ctx: Any) -> None:
        raise Boom(name)

    sctx = mpssl_server_ctx(server_cert)
    sctx.sni_callback = fail
    client, server = handshake_pair(harness, sctx, cpython_client(ca))
    assert isinstance(client, ssl.SSLError)
    assert isinstance(server, Boom)
    assert server.args == ("localhost",)


def test_sni_callback_argument_checks(server_cert: pki.Cert) -> None:
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError, match="PROTOCOL_TLS_CLIENT"):
        cctx.sni_callback = lambda *a: None
    sctx = mpssl_server_ctx(server_cert)
    with pytest.raises(TypeError):
        sctx.sni_callback = 42  # type: ignore[assignment]
    sctx.sni_callback = None
    assert sctx.sni_callback is None


# ------------------------------------------------- shared_ciphers, channel binding, PHA


def test_shared_ciphers_on_the_server(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    sctx = mpssl_server_ctx(server_cert)
    sctx.set_ciphers(["TLS-AES-128-GCM-SHA256", "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"])
    cctx = cpython_client(ca)
    cctx.set_ciphers("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256")
    _client, server = handshake_pair(harness, sctx, cctx, ping=b"x", pong=b"y")
    shared = server.shared_ciphers()
    assert ("TLS-AES-128-GCM-SHA256", "TLSv1.3", 128) in shared
    assert ("TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", "TLSv1.2", 256) in shared
    assert all(name in sctx.get_ciphers() for name, _, _ in shared)
    assert len(shared) == 2


def test_shared_ciphers_none_on_the_client(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    client, _ = handshake_pair(harness, mpssl_server_ctx(server_cert), mpssl_client_ctx(ca))
    assert client.shared_ciphers() is None


def test_tls_exporter_channel_binding_agrees(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    client, server = handshake_pair(
        harness, mpssl_server_ctx(server_cert), mpssl_client_ctx(ca), ping=b"x"
    )
    cb = client.get_channel_binding("tls-exporter")
    assert isinstance(cb, bytes) and len(cb) == 32
    assert server.get_channel_binding("tls-exporter") == cb
    # Another connection has another value.
    client2, _ = handshake_pair(
        harness, mpssl_server_ctx(server_cert), mpssl_client_ctx(ca), ping=b"x"
    )
    assert client2.get_channel_binding("tls-exporter") not in (None, cb)


def test_channel_binding_types(harness: Harness, ca: pki.Cert, server_cert: pki.Cert) -> None:
    sctx = mpssl_server_ctx(server_cert)
    sctx.set_ciphers(["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])  # TLS 1.2
    client, _ = handshake_pair(harness, sctx, mpssl_client_ctx(ca), ping=b"x")
    assert client.version() == "TLSv1.2"
    assert client.get_channel_binding("tls-exporter") is None
    with pytest.raises(ValueError, match="tls-unique"):
        client.get_channel_binding()
    with pytest.raises(ValueError, match="not implemented"):
        client.get_channel_binding("tls-server-end-point")


def test_post_handshake_auth_is_accepted(
    harness: Harness, ca: pki.Cert, server_cert: pki.Cert
) -> None:
    cctx = mpssl_client_ctx(ca)
    assert cctx.post_handshake_auth is False
    # What http.client (and urllib3) do with a context.
    if cctx.post_handshake_auth is not None:
        cctx.post_handshake_auth = True
    assert cctx.post_handshake_auth is True
    client, _ = handshake_pair(harness, mpssl_server_ctx(server_cert), cctx, ping=b"x", pong=b"y")
    assert client.version() == "TLSv1.3"


# ----------------------------------------------------------------- over memory BIOs (asyncio)


def bio_handshake(client: Any, server: Any, c_io: tuple[Any, Any], s_io: tuple[Any, Any]) -> None:
    """Drive two SSLObjects over memory BIOs until both handshakes are done (bounded)."""
    done = [False, False]
    for _ in range(20):
        for i, (obj, (_, out), (peer_in, _)) in enumerate(
            ((client, c_io, s_io), (server, s_io, c_io))
        ):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done):
            return
    raise AssertionError("the handshake did not finish")


def test_wrap_bio_honours_sni_callback_and_alpn(
    ca: pki.Cert, server_cert: pki.Cert, names_pki: dict[str, pki.Cert]
) -> None:
    """asyncio's path (wrap_bio): the sni_callback gets the SSLObject and can switch its
    context; ALPN and the client's SNI are reported as on SSLSocket."""
    sctx = mpssl_server_ctx(server_cert)
    other = mpssl_server_ctx(names_pki["a"])
    other.set_alpn_protocols(["h2", "http/1.1"])
    sctx.set_alpn_protocols(["h2", "http/1.1"])
    calls: list[tuple[str, str | None]] = []

    def pick(obj: Any, name: str | None, ctx: Any) -> None:
        calls.append((type(obj).__name__, name))
        if name == "a.test":
            obj.context = other

    sctx.sni_callback = pick
    c_io = (ssl.MemoryBIO(), ssl.MemoryBIO())
    s_io = (ssl.MemoryBIO(), ssl.MemoryBIO())
    client = cpython_client(ca, alpn=["http/1.1"]).wrap_bio(*c_io, server_hostname="a.test")
    server = sctx.wrap_bio(*s_io, server_side=True)
    bio_handshake(client, server, c_io, s_io)
    assert calls == [("SSLObject", "a.test")]
    assert leaf_cn(client) == "CN=a.test"
    assert server.context is other
    assert server.server_hostname == "a.test"
    assert server.selected_alpn_protocol() == client.selected_alpn_protocol() == "http/1.1"
