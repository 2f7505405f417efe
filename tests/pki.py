"""The test PKI: the committed one in ``testdata/`` (``load``, ``testdata``), and certificates
made at test time (``make_cert``, ``make_ca``, ``make_chain``) for tests whose point is a special
certificate (expired, wrong EKU, weak key, ...).

Uses pyca/cryptography. A certificate made here is valid from one day ago for 30 days unless told
otherwise; the committed ones from 2025 to 2125 (``testdata/README.md``).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def new_key(kind: str = "ec256") -> PrivateKey:
    """kind: ec256, ec384, rsa1024, rsa2048, rsa4096, ed25519."""
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


@dataclass
class Cert:
    cert: x509.Certificate
    key: PrivateKey
    chain: list[x509.Certificate] = field(default_factory=list)  # issuers, nearest first

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        """Leaf then issuers, PEM."""
        return self.pem + b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in self.chain
        )

    def key_bytes(self, fmt: str = "pkcs8", encoding: str = "pem") -> bytes:
        """fmt: pkcs8, traditional (PKCS#1 for RSA, SEC1 for EC), encrypted (PKCS#8 + password)."""
        enc = serialization.Encoding.PEM if encoding == "pem" else serialization.Encoding.DER
        algo: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if fmt == "pkcs8":
            f = serialization.PrivateFormat.PKCS8
        elif fmt == "traditional":
            f = serialization.PrivateFormat.TraditionalOpenSSL
        elif fmt == "encrypted":
            f = serialization.PrivateFormat.PKCS8
            algo = serialization.BestAvailableEncryption(b"secret")
        else:
            raise ValueError(fmt)
        return self.key.private_bytes(enc, f, algo)


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def make_cert(
    cn: str | None = "localhost",
    *,
    issuer: Cert | None = None,
    key: str = "ec256",
    dns: tuple[str, ...] | None = ("localhost",),
    ips: tuple[str, ...] = (),
    is_ca: bool = False,
    path_len: int | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] | None = (
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ),
    hash_alg: str = "sha256",
    permitted_dns: tuple[str, ...] | None = None,
    emails: tuple[str, ...] = (),
    ca_eku: tuple[x509.ObjectIdentifier, ...] | None = None,
    sign_with: PrivateKey | None = None,
) -> Cert:
    """A certificate signed by ``issuer`` (self-signed when None).

    Extras (defaults keep the original behaviour): ``hash_alg`` ("sha256", "sha1", "sha384")
    for the signature; ``permitted_dns``: a critical nameConstraints extension permitting only
    these DNS subtrees; ``emails``: rfc822Name SAN entries; ``ca_eku``: an EKU extension on a
    CA certificate; ``sign_with``: sign with this key instead of the issuer's (a certificate
    whose signature does not verify).
    """
    private = new_key(key)
    subject = _name(cn)
    signer_key = issuer.key if issuer else private
    if sign_with is not None:
        signer_key = sign_with
    issuer_name = issuer.cert.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_len), critical=True)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or ()]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    sans += [x509.RFC822Name(e) for e in emails]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        if ca_eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(ca_eku)), critical=False)
    elif eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if permitted_dns is not None:
        builder = builder.add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(d) for d in permitted_dns],
                excluded_subtrees=None,
            ),
            critical=True,
        )
    hashers = {"sha256": hashes.SHA256, "sha1": hashes.SHA256, "sha384": hashes.SHA384}
    algorithm = (
        None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashers[hash_alg]()
    )
    cert = builder.sign(signer_key, algorithm)  # type: ignore[arg-type,unused-ignore]
    if hash_alg == "sha1":  # cryptography no longer signs certificates with SHA-1
        cert = _resign_sha1(cert, signer_key)
    chain = ([issuer.cert] + issuer.chain) if issuer else []
    return Cert(cert, private, chain)


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


# AlgorithmIdentifier DER: (SHA-256 form made by cryptography, SHA-1 replacement)
_SHA1_ALGIDS = {
    "rsa": (bytes.fromhex("300d06092a864886f70d01010b0500"),
            bytes.fromhex("300d06092a864886f70d0101050500")),
    "ec": (bytes.fromhex("300a06082a8648ce3d040302"), bytes.fromhex("300906072a8648ce3d0401")),
}


def _resign_sha1(cert: x509.Certificate, key: PrivateKey) -> x509.Certificate:
    """The same certificate signed with sha1WithRSAEncryption / ecdsa-with-SHA1."""
    from cryptography.hazmat.primitives.asymmetric import padding

    kind = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ec"
    old, new = _SHA1_ALGIDS[kind]
    tbs = cert.tbs_certificate_bytes
    # skip the TBS SEQUENCE header, swap the inner signature AlgorithmIdentifier
    hdr = 2 + (tbs[1] & 0x7F if tbs[1] & 0x80 else 0)
    body = tbs[hdr:]
    assert old in body, "unexpected signature algorithm"
    tbs = _tlv(0x30, body.replace(old, new, 1))
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        sig = key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    der = _tlv(0x30, tbs + new + _tlv(0x03, b"\x00" + sig))
    return x509.load_der_x509_certificate(der)


def make_ca(cn: str = "mpssl test CA", key: str = "ec256", **kw: object) -> Cert:
    return make_cert(cn, key=key, dns=None, is_ca=True, **kw)  # type: ignore[arg-type]


def reference_style(cn: str = "micropython.local", key: str = "ec256") -> Cert:
    """Like the reference's test certificates: self-signed, CA:TRUE, CN only, no SAN."""
    return make_cert(cn, key=key, dns=None, is_ca=True)


def make_chain(
    depth: int = 1,
    *,
    root: Cert | None = None,
    leaf_cn: str = "localhost",
    leaf_kw: dict[str, object] | None = None,
    inter_kw: list[dict[str, object]] | None = None,
) -> tuple[Cert, list[Cert], Cert]:
    """``(root, intermediates top-down, leaf)``: ``root`` (a new CA when None) signs
    ``depth`` intermediates in a line, the last of which signs the leaf. ``inter_kw[i]`` adds
    keyword arguments for intermediate i (0 = the one the root signs); ``leaf_kw`` for the
    leaf (default SAN ``localhost``). The leaf's ``chain`` is its issuers, nearest first,
    root last."""
    root = root or make_ca("mpssl chain root")
    inters: list[Cert] = []
    parent = root
    for i in range(depth):
        kw = dict((inter_kw or [{}] * depth)[i])
        cn = str(kw.pop("cn", f"mpssl intermediate {i + 1}"))
        parent = make_cert(cn, issuer=parent, dns=None, is_ca=True, **kw)  # type: ignore[arg-type]
        inters.append(parent)
    lkw: dict[str, object] = {"dns": ("localhost",)}
    lkw.update(leaf_kw or {})
    leaf = make_cert(leaf_cn, issuer=parent, **lkw)  # type: ignore[arg-type]
    return root, inters, leaf


TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def testdata(path: str) -> bytes:
    """The bytes of ``testdata/<path>``, e.g. ``testdata("ecdsa-p256/ca.der")``."""
    return (TESTDATA / path).read_bytes()


def load(name: str, kind: str = "ecdsa-p256") -> Cert:
    """A committed certificate with its key and its issuers: ``load("server")`` is
    ``testdata/ecdsa-p256/server.*`` (see ``testdata/README.md`` for the names and kinds)."""
    cert = x509.load_pem_x509_certificate(testdata(f"{kind}/{name}.pem"))
    key = serialization.load_pem_private_key(testdata(f"{kind}/{name}.key.pem"), None)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                      | ed25519.Ed25519PrivateKey)
    chain_file = TESTDATA / kind / f"{name}.chain.pem"
    chain = []
    if chain_file.exists():
        chain = x509.load_pem_x509_certificates(chain_file.read_bytes())[1:]
    return Cert(cert, key, chain)


def to_pem(*certs: Cert | x509.Certificate) -> bytes:
    """PEM of these certificates, in the given order."""
    out = b""
    for c in certs:
        cert = c.cert if isinstance(c, Cert) else c
        out += cert.public_bytes(serialization.Encoding.PEM)
    return out
