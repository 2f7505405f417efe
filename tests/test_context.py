"""SSLContext: construction, verify_mode, loading keys/certs/CAs, cipher suites."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
from mpssl import _mpssl
from support import Harness, mpssl_client_ctx, mpssl_server_ctx

NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"
BAD_CONFIG = (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG")

Pair = Callable[..., tuple[Any, Any]]


# --------------------------------------------------------------------------------------------
# Construction and attributes


def test_constructor_requires_protocol() -> None:
    with pytest.raises(TypeError):
        mpssl.SSLContext()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _mpssl.SSLContext()  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", ["x", "0", None, 1.5])
def test_constructor_rejects_non_int(bad: Any) -> None:
    with pytest.raises(TypeError):
        mpssl.SSLContext(bad)


def test_constructor_protocol_is_positional_only() -> None:
    with pytest.raises(TypeError):
        mpssl.SSLContext(protocol=0)  # type: ignore[call-arg]


def test_defaults() -> None:
    client = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    server = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    assert client.verify_mode == mpssl.CERT_REQUIRED
    assert server.verify_mode == mpssl.CERT_NONE
    assert client.protocol == mpssl.PROTOCOL_TLS_CLIENT
    assert server.protocol == mpssl.PROTOCOL_TLS_SERVER
    assert client.hostname_checks_common_name is True
    assert isinstance(client, _mpssl.SSLContext)


@pytest.mark.parametrize("protocol", [mpssl.PROTOCOL_TLS_CLIENT, mpssl.PROTOCOL_TLS_SERVER])
def test_verify_mode_accepts_the_three_constants(protocol: int) -> None:
    ctx = mpssl.SSLContext(protocol)
    for mode in (mpssl.CERT_NONE, mpssl.CERT_OPTIONAL, mpssl.CERT_REQUIRED, mpssl.CERT_NONE):
        ctx.verify_mode = mode
        assert ctx.verify_mode == mode


@pytest.mark.parametrize("bad", [5, -1, 3])
def test_verify_mode_out_of_range_is_value_error(bad: int) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ValueError):
        ctx.verify_mode = bad
    assert ctx.verify_mode == mpssl.CERT_REQUIRED


@pytest.mark.parametrize("bad", ["x", None, 1.0])
def test_verify_mode_wrong_type_is_type_error(bad: Any) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(TypeError):
        ctx.verify_mode = bad
    assert ctx.verify_mode == mpssl.CERT_NONE


def test_verify_mode_cannot_be_deleted() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = mpssl.CERT_OPTIONAL
    with pytest.raises(AttributeError):
        del ctx.verify_mode
    assert ctx.verify_mode == mpssl.CERT_OPTIONAL


def test_unknown_attributes() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(AttributeError):
        ctx.no_such_attribute  # noqa: B018
    with pytest.raises(AttributeError):
        ctx.no_such_attribute = 1  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# load_cert_chain


@pytest.fixture(scope="session")
def leaf_of(ca: pki.Cert) -> Callable[[str], pki.Cert]:
    @functools.cache
    def make(kind: str) -> pki.Cert:
        return pki.make_cert("localhost", issuer=ca, key=kind, dns=("localhost",))

    return make


def serve_and_check(tls_pair: Pair, sctx: mpssl.SSLContext, cctx: mpssl.SSLContext,
                    leaf: pki.Cert) -> None:
    cli, srv = tls_pair(sctx, cctx)
    assert cli.getpeercert(True) == leaf.der
    cli.write(b"ping")
    assert srv.read(4) == b"ping"


def _as(form: str, data: bytes, tmp_path: Path, name: str) -> Any:
    if form == "str-path":
        p = tmp_path / name
        p.write_bytes(data)
        return str(p)
    if form == "pathlib":
        p = tmp_path / name
        p.write_bytes(data)
        return p
    if form == "pem-str":
        return data.decode("ascii")
    if form == "bytes":
        return bytes(data)
    if form == "bytearray":
        return bytearray(data)
    if form == "memoryview":
        return memoryview(data)
    raise AssertionError(form)


FORMS = ["str-path", "pathlib", "pem-str", "bytes", "bytearray", "memoryview"]


@pytest.mark.parametrize("form", FORMS)
def test_load_cert_chain_argument_forms_pem(
    tls_pair: Pair, tmp_path: Path, server_cert: pki.Cert, client_ctx: mpssl.SSLContext,
    form: str,
) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(
        _as(form, server_cert.chain_pem, tmp_path, "c.pem"),
        _as(form, server_cert.key_bytes("pkcs8", "pem"), tmp_path, "k.pem"),
    )
    serve_and_check(tls_pair, ctx, client_ctx, server_cert)


@pytest.mark.parametrize("form", [f for f in FORMS if f != "pem-str"])
def test_load_cert_chain_argument_forms_der(
    tls_pair: Pair, tmp_path: Path, server_cert: pki.Cert, client_ctx: mpssl.SSLContext,
    form: str,
) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(
        _as(form, server_cert.der, tmp_path, "c.der"),
        _as(form, server_cert.key_bytes("pkcs8", "der"), tmp_path, "k.der"),
    )
    serve_and_check(tls_pair, ctx, client_ctx, server_cert)


def test_load_cert_chain_keywords_and_native(
    tls_pair: Pair, server_cert: pki.Cert, client_ctx: mpssl.SSLContext
) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(keyfile=server_cert.key_bytes(), certfile=server_cert.pem)
    serve_and_check(tls_pair, ctx, client_ctx, server_cert)
    native = _mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    native.load_cert_chain(server_cert.der, server_cert.key_bytes("pkcs8", "der"))
    serve_and_check(tls_pair, native, client_ctx, server_cert)  # type: ignore[arg-type]


KEY_CASES = [
    (kind, fmt, enc)
    for kind in ("ec256", "ec384", "rsa2048", "ed25519")
    for fmt in ("pkcs8", "traditional")
    for enc in ("pem", "der")
    if not (kind == "ed25519" and fmt == "traditional")  # no traditional form exists
]


@pytest.mark.parametrize("kind,fmt,enc", KEY_CASES)
def test_key_formats(
    tls_pair: Pair, leaf_of: Callable[[str], pki.Cert], client_ctx: mpssl.SSLContext,
    kind: str, fmt: str, enc: str,
) -> None:
    leaf = leaf_of(kind)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf.pem if enc == "pem" else leaf.der, leaf.key_bytes(fmt, enc))
    serve_and_check(tls_pair, ctx, client_ctx, leaf)


def test_pem_chain_with_intermediate(
    tls_pair: Pair, ca: pki.Cert, client_ctx: mpssl.SSLContext
) -> None:
    inter = pki.make_cert("mpssl intermediate", issuer=ca, dns=None, is_ca=True)
    leaf = pki.make_cert("localhost", issuer=inter, dns=("localhost",))
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf.chain_pem, leaf.key_bytes())  # leaf, intermediate, root
    cli, _ = tls_pair(ctx, client_ctx)
    chain = cli.get_peer_cert_chain()
    assert chain is not None
    assert chain[:2] == [leaf.der, inter.der]


def test_der_chain_built_by_repeated_loads(
    tls_pair: Pair, ca: pki.Cert, client_ctx: mpssl.SSLContext
) -> None:
    inter = pki.make_cert("mpssl intermediate", issuer=ca, dns=None, is_ca=True)
    leaf = pki.make_cert("localhost", issuer=inter, dns=("localhost",))
    key = leaf.key_bytes("traditional", "der")
    # The leaf alone does not chain to the root the client trusts.
    alone = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    alone.load_cert_chain(leaf.der, key)
    with pytest.raises(ValueError) as ei:
        tls_pair(alone, client_ctx)
    assert str(ei.value) == NOT_TRUSTED
    # Leaf first, then the intermediate: the chain verifies.
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(leaf.der, key)
    ctx.load_cert_chain(inter.der, key)
    cli, _ = tls_pair(ctx, client_ctx)
    assert cli.getpeercert(True) == leaf.der


@pytest.mark.parametrize("bad_key", [b"!", b"", b"-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_garbage_key_is_invalid_key(server_cert: pki.Cert, bad_key: bytes) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError) as ei:
        ctx.load_cert_chain(server_cert.pem, bad_key)
    assert str(ei.value) == "invalid key"


@pytest.mark.parametrize("bad_cert", [b"!", b"", b"-----BEGIN CERTIFICATE-----\nAAAA\n"])
def test_garbage_cert_is_invalid_cert(server_cert: pki.Cert, bad_cert: bytes) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError) as ei:
        ctx.load_cert_chain(bad_cert, server_cert.key_bytes())
    assert str(ei.value) == "invalid cert"


def test_both_bad_reports_the_key() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError) as ei:
        ctx.load_cert_chain(b"!", b"!")
    assert str(ei.value) == "invalid key"


def test_encrypted_key(server_cert: pki.Cert) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError) as ei:
        ctx.load_cert_chain(server_cert.pem, server_cert.key_bytes("encrypted", "pem"))
    assert str(ei.value.args[0]).startswith("invalid key")
    assert "encrypted" in " ".join(str(a) for a in ei.value.args).lower()
    with pytest.raises(ValueError) as ei:
        ctx.load_cert_chain(server_cert.der, server_cert.key_bytes("encrypted", "der"))
    assert str(ei.value.args[0]).startswith("invalid key")


def test_key_cert_mismatch(server_cert: pki.Cert, client_cert: pki.Cert) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError) as ei:
        ctx.load_cert_chain(server_cert.pem, client_cert.key_bytes())
    assert str(ei.value.args[0]).startswith("invalid key")


def test_missing_files(tmp_path: Path, server_cert: pki.Cert) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    missing = tmp_path / "nope.pem"
    with pytest.raises(FileNotFoundError) as ei:
        ctx.load_cert_chain(str(missing), server_cert.key_bytes())
    assert ei.value.errno == 2
    with pytest.raises(FileNotFoundError):
        ctx.load_cert_chain(server_cert.pem, missing)
    with pytest.raises(FileNotFoundError):
        ctx.load_verify_locations(cafile=str(missing))


def test_rsa1024_loads_but_handshake_fails(harness: Harness, ca: pki.Cert) -> None:
    weak = pki.make_cert("localhost", issuer=ca, key="rsa1024", dns=("localhost",))
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(weak.pem, weak.key_bytes("traditional", "pem"))  # no error
    a, b = harness.socketpair()

    def server() -> None:
        try:
            ctx.wrap_socket(b, server_side=True)
        finally:
            b.shutdown(socket.SHUT_RDWR)

    srv = harness.spawn(server)
    with pytest.raises(OSError):
        mpssl_client_ctx(ca).wrap_socket(a, server_hostname="localhost")
    err = srv.exception()
    assert isinstance(err, OSError), repr(err)
    assert "1024" in str(err)


# --------------------------------------------------------------------------------------------
# load_verify_locations


CA_FORMS = ["cafile-str", "cafile-path", "cadata-der", "cadata-pem", "cadata-pem-str",
            "cadata-bytearray", "cadata-memoryview", "positional-path", "positional-der"]


@pytest.mark.parametrize("form", CA_FORMS)
def test_load_verify_locations_forms(
    tls_pair: Pair, tmp_path: Path, ca: pki.Cert, server_ctx: mpssl.SSLContext,
    server_cert: pki.Cert, form: str,
) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    pem_file = tmp_path / "ca.pem"
    pem_file.write_bytes(ca.pem)
    der_file = tmp_path / "ca.der"
    der_file.write_bytes(ca.der)
    if form == "cafile-str":
        ctx.load_verify_locations(cafile=str(pem_file))
    elif form == "cafile-path":
        ctx.load_verify_locations(cafile=der_file)
    elif form == "cadata-der":
        ctx.load_verify_locations(cadata=ca.der)
    elif form == "cadata-pem":
        ctx.load_verify_locations(cadata=ca.pem)
    elif form == "cadata-pem-str":
        ctx.load_verify_locations(cadata=ca.pem.decode())
    elif form == "cadata-bytearray":
        ctx.load_verify_locations(cadata=bytearray(ca.der))
    elif form == "cadata-memoryview":
        ctx.load_verify_locations(cadata=memoryview(ca.pem))
    elif form == "positional-path":
        ctx.load_verify_locations(str(pem_file))
    elif form == "positional-der":
        ctx.load_verify_locations(ca.der)
    serve_and_check(tls_pair, server_ctx, ctx, server_cert)


def test_load_verify_locations_pem_bundle(
    tls_pair: Pair, ca: pki.Cert, other_ca: pki.Cert, server_cert: pki.Cert,
    server_ctx: mpssl.SSLContext,
) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=other_ca.pem + ca.pem)  # the right CA comes second
    serve_and_check(tls_pair, server_ctx, ctx, server_cert)


def test_load_verify_locations_appends(
    tls_pair: Pair, ca: pki.Cert, other_ca: pki.Cert, server_cert: pki.Cert
) -> None:
    other_leaf = pki.make_cert("localhost", issuer=other_ca, dns=("localhost",))
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca.der)
    # Only the first CA so far: the other server is not trusted.
    with pytest.raises(ValueError) as ei:
        tls_pair(mpssl_server_ctx(other_leaf), ctx)
    assert str(ei.value) == NOT_TRUSTED
    ctx.load_verify_locations(cadata=other_ca.der)
    serve_and_check(tls_pair, mpssl_server_ctx(server_cert), ctx, server_cert)
    serve_and_check(tls_pair, mpssl_server_ctx(other_leaf), ctx, other_leaf)


@pytest.mark.parametrize("bad", [b"!", b"", b"-----BEGIN CERTIFICATE-----\n!!\n", "not a cert"])
def test_load_verify_locations_garbage(tmp_path: Path, bad: Any) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    if isinstance(bad, str):  # a str without a PEM marker is a path: make it exist
        p = tmp_path / "garbage.pem"
        p.write_text(bad)
        bad = str(p)
        with pytest.raises(ValueError) as ei:
            ctx.load_verify_locations(cafile=bad)
    else:
        with pytest.raises(ValueError) as ei:
            ctx.load_verify_locations(cadata=bad)
    assert str(ei.value) == "invalid cert"


def test_load_verify_locations_needs_an_argument() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(TypeError):
        ctx.load_verify_locations()
    with pytest.raises(TypeError):
        ctx.load_verify_locations(None, None)


# --------------------------------------------------------------------------------------------
# Cipher suites


TLS13 = ["TLS-AES-256-GCM-SHA384", "TLS-AES-128-GCM-SHA256", "TLS-CHACHA20-POLY1305-SHA256"]


@pytest.mark.parametrize("protocol", [mpssl.PROTOCOL_TLS_CLIENT, mpssl.PROTOCOL_TLS_SERVER])
def test_get_ciphers_default(protocol: int) -> None:
    ciphers = mpssl.SSLContext(protocol).get_ciphers()
    assert isinstance(ciphers, list)
    assert all(isinstance(c, str) for c in ciphers)
    assert "TLS-AES-256-GCM-SHA384" in ciphers
    assert "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256" in ciphers
    assert "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384" in ciphers
    assert not [c for c in ciphers if "CBC" in c or c.startswith(("TLS-RSA-", "TLS-PSK-"))]
    assert len(set(ciphers)) == len(ciphers)
    assert all(c.startswith("TLS-") and "_" not in c for c in ciphers)
    # Preference order: TLS 1.3 suites before the TLS 1.2 ones.
    first12 = min(i for i, c in enumerate(ciphers) if "-WITH-" in c)
    assert set(ciphers[:first12]) == set(TLS13)


def test_set_ciphers_reference_names() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    chosen = ["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS-AES-128-GCM-SHA256"]
    assert ctx.set_ciphers(chosen) is None
    assert ctx.get_ciphers() == chosen
    ctx.set_ciphers(tuple(reversed(chosen)))
    assert ctx.get_ciphers() == list(reversed(chosen))
    # Another context is not affected.
    assert "TLS-AES-256-GCM-SHA384" in mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT).get_ciphers()


def test_set_ciphers_iana_names() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers(["TLS_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"])
    assert ctx.get_ciphers() == ["TLS-AES-256-GCM-SHA384",
                                 "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"]


def test_set_ciphers_accepts_every_default_name() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    names = ctx.get_ciphers()
    ctx.set_ciphers(list(reversed(names)))
    assert ctx.get_ciphers() == list(reversed(names))


def test_set_ciphers_str_is_type_error() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    before = ctx.get_ciphers()
    with pytest.raises(TypeError):
        ctx.set_ciphers("TLS-AES-256-GCM-SHA384")  # type: ignore[arg-type]
    assert ctx.get_ciphers() == before


@pytest.mark.parametrize("names", [["BAR"], ["TLS-AES-256-GCM-SHA384", "BAR"],
                                   ["tls-aes-256-gcm-sha384"]])
def test_set_ciphers_unknown_name(names: list[str]) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(OSError) as ei:
        ctx.set_ciphers(names)
    assert ei.value.args == BAD_CONFIG
    assert ei.value.errno == -24192


@pytest.mark.parametrize("name", ["TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256",
                                  "TLS-RSA-WITH-AES-128-GCM-SHA256",
                                  "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"])
def test_set_ciphers_known_but_unsupported(name: str) -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(OSError) as ei:
        ctx.set_ciphers([name])
    assert ei.value.errno == -24192
    assert "not supported" in str(ei.value)


def test_set_ciphers_empty_list() -> None:
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(OSError) as ei:
        ctx.set_ciphers([])
    assert ei.value.errno == -24192


@pytest.mark.parametrize(
    "suite,version",
    [
        ("TLS-AES-128-GCM-SHA256", "TLSv1.3"),
        ("TLS-CHACHA20-POLY1305-SHA256", "TLSv1.3"),
        ("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLSv1.2"),
        ("TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256", "TLSv1.2"),
    ],
)
@pytest.mark.parametrize("side", ["client", "server"])
def test_handshake_negotiates_chosen_suite(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext,
    suite: str, version: str, side: str,
) -> None:
    (client_ctx if side == "client" else server_ctx).set_ciphers([suite])
    cli, srv = tls_pair(server_ctx, client_ctx)
    assert cli.cipher() == (suite, version)
    assert srv.cipher() == (suite, version)
    assert cli.version() == srv.version() == version


def test_no_shared_suite_fails(
    tls_pair: Pair, server_ctx: mpssl.SSLContext, client_ctx: mpssl.SSLContext
) -> None:
    server_ctx.set_ciphers(["TLS-AES-128-GCM-SHA256"])
    client_ctx.set_ciphers(["TLS-AES-256-GCM-SHA384"])
    with pytest.raises(OSError):
        tls_pair(server_ctx, client_ctx)


# --------------------------------------------------------------------------------------------
# SSLContext.wrap_socket arguments


def test_wrap_socket_keyword_only(
    socket_pair: tuple[socket.socket, socket.socket], client_ctx: mpssl.SSLContext
) -> None:
    a, b = socket_pair
    with pytest.raises(TypeError):
        client_ctx.wrap_socket(a, False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        client_ctx.wrap_socket(a, False, False, "localhost")  # type: ignore[misc]
    with pytest.raises(TypeError):
        client_ctx.wrap_socket(a, no_such_keyword=1)  # type: ignore[call-arg]
    b.setblocking(False)
    with pytest.raises(BlockingIOError):
        b.recv(1)


@pytest.mark.parametrize("deferred", [False, True])
def test_cert_required_client_needs_hostname(
    socket_pair: tuple[socket.socket, socket.socket], client_ctx: mpssl.SSLContext,
    deferred: bool,
) -> None:
    a, b = socket_pair
    with pytest.raises(ValueError) as ei:
        client_ctx.wrap_socket(a, do_handshake_on_connect=not deferred)
    assert type(ei.value) is ValueError
    assert str(ei.value) == "CERT_REQUIRED requires server_hostname"
    b.setblocking(False)
    with pytest.raises(BlockingIOError):
        b.recv(1)  # raised before any I/O


def test_hostname_not_needed_below_cert_required(
    harness: Harness, client_ctx: mpssl.SSLContext, server_ctx: mpssl.SSLContext,
    ca: pki.Cert,
) -> None:
    for mode in (mpssl.CERT_OPTIONAL, mpssl.CERT_NONE):
        client_ctx.verify_mode = mode
        a, _ = harness.socketpair()
        s = harness.track_tls(client_ctx.wrap_socket(a, do_handshake_on_connect=False))
        assert s.server_hostname is None
    server_ctx.verify_mode = mpssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cadata=ca.der)
    _, b = harness.socketpair()
    s = harness.track_tls(
        server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    )
    assert s.server_side
