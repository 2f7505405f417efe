"""Test PKI made at test time (nothing committed can expire): CAs, leaves, keys in every format.

Uses pyca/cryptography. Every certificate is valid from one day ago for 30 days unless told
otherwise.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field

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
) -> Cert:
    """A certificate signed by ``issuer`` (self-signed when None)."""
    private = new_key(key)
    subject = _name(cn)
    signer_key = issuer.key if issuer else private
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
    elif eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    algorithm = None if isinstance(signer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(signer_key, algorithm)  # type: ignore[arg-type,unused-ignore]
    chain = ([issuer.cert] + issuer.chain) if issuer else []
    return Cert(cert, private, chain)


def make_ca(cn: str = "mpssl test CA", key: str = "ec256", **kw: object) -> Cert:
    return make_cert(cn, key=key, dns=None, is_ca=True, **kw)  # type: ignore[arg-type]


def reference_style(cn: str = "micropython.local", key: str = "ec256") -> Cert:
    """Like the reference's test certificates: self-signed, CA:TRUE, CN only, no SAN."""
    return make_cert(cn, key=key, dns=None, is_ca=True)
