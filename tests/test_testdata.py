"""The committed test PKI (``testdata/``) and the demo PKI shipped in the package: every file
parses, every chain verifies, every key matches its certificate, the dates cover 2025..2125,
and the directory holds exactly what ``testdata/regen.py`` writes (so a file cannot be added or
left behind without the script knowing)."""

from __future__ import annotations

import datetime
import importlib.util
import ipaddress
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

TESTDATA = pki.TESTDATA


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


regen = _load_module("mpssl_testdata_regen", TESTDATA / "regen.py")
PLAN = regen.plan()


def _public_der(key: object) -> bytes:
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                      | ed25519.Ed25519PrivateKey)
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_directory_holds_exactly_the_scripts_files() -> None:
    on_disk = sorted(
        str(p.relative_to(TESTDATA)) for p in TESTDATA.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert on_disk == regen.expected_files()


def test_readme_lists_every_name() -> None:
    readme = (TESTDATA / "README.md").read_text()
    for d, name, _, _ in PLAN:
        assert f"`{d}/`" in readme or f"`{d}/`," in readme
        assert f"`{name}`" in readme


@pytest.mark.parametrize(("kind", "name", "issuer"), [(d, n, i) for d, n, i, _ in PLAN])
def test_file_parses_chains_and_matches_its_key(kind: str, name: str, issuer: str | None) -> None:
    cert = pki.load(name, kind)
    # PEM and DER are the same certificate, and the same key.
    assert pki.testdata(f"{kind}/{name}.der") == cert.der
    key_der = serialization.load_der_private_key(pki.testdata(f"{kind}/{name}.key.der"), None)
    assert _public_der(key_der) == _public_der(cert.key)
    # The key belongs to the certificate.
    assert _public_der(cert.key) == cert.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Dates: fixed, a century.
    assert cert.cert.not_valid_before_utc == datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    assert cert.cert.not_valid_after_utc == datetime.datetime(2125, 1, 1, tzinfo=datetime.UTC)
    # The chain: each certificate signed by the next, ending in a self-signed root.
    if issuer is None:
        assert cert.chain == []
        cert.cert.verify_directly_issued_by(cert.cert)
        return
    parent = pki.load(issuer, kind)
    assert cert.chain[0] == parent.cert
    links = [cert.cert, *cert.chain]
    for child, signer in itertools.pairwise(links):
        child.verify_directly_issued_by(signer)
    links[-1].verify_directly_issued_by(links[-1])
    assert links[-1] == pki.load("ca", kind).cert or name == "other-ca"


@pytest.mark.parametrize("kind", list(regen.KINDS))
def test_server_leaf_names_and_key_type(kind: str) -> None:
    server = pki.load("server", kind)
    san = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")
    ]
    expected = {
        "ecdsa-p256": (ec.EllipticCurvePrivateKey, 256),
        "ecdsa-p384": (ec.EllipticCurvePrivateKey, 384),
        "ed25519": (ed25519.Ed25519PrivateKey, None),
        "rsa-2048": (rsa.RSAPrivateKey, 2048),
        "rsa-4096": (rsa.RSAPrivateKey, 4096),
    }[kind]
    assert isinstance(server.key, expected[0])
    if expected[1] is not None:
        assert server.key.key_size == expected[1]  # type: ignore[union-attr]


def test_demo_pki_chains() -> None:
    demo = _load_module("mpssl_demo_pki", pki.TESTDATA.parent / "python/mpssl/_demo_pki.py")
    ca = x509.load_pem_x509_certificate(demo.CA_PEM)
    leaf, issuer = x509.load_pem_x509_certificates(demo.CHAIN_PEM)
    key = serialization.load_pem_private_key(demo.KEY_PEM, None)
    assert issuer == ca
    leaf.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    assert _public_der(key) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert leaf.not_valid_after_utc.year == 2125


def test_mpssl_handshakes_with_every_kind(tls_pair: object) -> None:
    """Each kind's server leaf (with the intermediate, too) is accepted by mpssl's
    CERT_REQUIRED client trusting that kind's CA."""
    import mpssl

    make = tls_pair
    for kind in regen.KINDS:
        ca = pki.load("ca", kind)
        for name in ("server", "server-inter"):
            leaf = pki.load(name, kind)
            sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(pki.testdata(f"{kind}/{name}.chain.pem"),
                                 pki.testdata(f"{kind}/{name}.key.pem"))
            cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
            cctx.load_verify_locations(cadata=ca.der)
            client, _server = make(sctx, cctx)  # type: ignore[operator]
            assert client.getpeercert(True) == leaf.der
