"""The certificate catalogue: every verification case, how to build it, and what must happen.

Used by ``test_verify_catalogue.py`` (each case under every verify mode, in both directions
where it applies) and by ``test_verify_callback.py``. Everything is generated at test time by
``pki.py``, so nothing committed can expire.

Directions:

* ``client``: an mpssl client (``CERT_REQUIRED``) verifies the certificate a server presents;
* ``server``: an mpssl server (``CERT_REQUIRED``) verifies the certificate a client presents.

``peer`` is who presents the certificate: another mpssl endpoint, or CPython's ``ssl`` when
mpssl cannot present it (rustls cannot sign with an RSA-1024 key).

Expected texts are the reference's (Mbed TLS ``mbedtls_x509_crt_verify_info``, reference.md
Appendix B): ``"\\n" + text + "\\n"`` per reason, in flag order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import pki
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

EXPIRED = "\nThe certificate validity has expired\n"
CN_MISMATCH = "\nThe certificate Common Name (CN) does not match with the expected CN\n"
NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"
OTHER = "\nOther reason (can be used by verify callback)\n"
FUTURE = "\nThe certificate validity starts in the future\n"
EXT_KEY_USAGE = "\nUsage does not match the extendedKeyUsage extension\n"
BAD_MD = "\nThe certificate is signed with an unacceptable hash.\n"
BAD_KEY = (
    "\nThe certificate is signed with an unacceptable key (eg bad curve, RSA too short).\n"
)

PAST = pki.NOW - 10 * pki.DAY
YESTERDAY = pki.NOW - pki.DAY
TOMORROW = pki.NOW + pki.DAY
LATER = pki.NOW + 10 * pki.DAY


@dataclass
class Material:
    """What one case puts on the wire and what the verifier trusts."""

    presented: list[x509.Certificate]  # leaf first, in the order sent
    key: pki.PrivateKey  # the leaf's key
    trust: list[x509.Certificate]  # loaded into the verifying context
    hostname: str = "localhost"  # client direction only
    cn_check: bool = True  # hostname_checks_common_name (client direction only)

    @property
    def leaf(self) -> x509.Certificate:
        return self.presented[0]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[str], Material]  # direction -> material
    ok: bool  # verdict under CERT_REQUIRED
    text: str | None  # str(ValueError) when rejected
    directions: tuple[str, ...] = ("client", "server")
    peer: str = "mpssl"  # who presents: "mpssl" or "cpython"
    why: str = ""  # where the expectation comes from
    lax_ok: bool = True  # CERT_NONE / CERT_OPTIONAL complete the handshake
    tags: tuple[str, ...] = field(default=())
    # The reference's OSError args when the rejection is an OSError, not ValueError(text)
    # (then `text` is only the verify reason).
    os_error: tuple[int, str] | None = None


# --------------------------------------------------------------------------------------------
# Shared PKI (built once per test session)


@functools.cache
def root() -> pki.Cert:
    return pki.make_ca("catalogue root")


@functools.cache
def inter() -> pki.Cert:
    return pki.make_cert("catalogue intermediate", issuer=root(), dns=None, is_ca=True)


@functools.cache
def other_root() -> pki.Cert:
    return pki.make_ca("catalogue other root")


@functools.cache
def rsa_root() -> pki.Cert:
    return pki.make_ca("catalogue RSA root", key="rsa2048")


def _eku_for(direction: str) -> tuple[x509.ObjectIdentifier, ...]:
    return ((ExtendedKeyUsageOID.SERVER_AUTH,) if direction == "client"
            else (ExtendedKeyUsageOID.CLIENT_AUTH,))


def _wrong_eku_for(direction: str) -> tuple[x509.ObjectIdentifier, ...]:
    return ((ExtendedKeyUsageOID.CLIENT_AUTH,) if direction == "client"
            else (ExtendedKeyUsageOID.SERVER_AUTH,))


def _leaf(issuer: pki.Cert | None, **kw: object) -> pki.Cert:
    kw.setdefault("dns", ("localhost",))
    cn = str(kw.pop("cn", "localhost"))
    return pki.make_cert(cn, issuer=issuer, **kw)  # type: ignore[arg-type]


def _mat(leaf: pki.Cert, chain: list[pki.Cert | x509.Certificate], trust: list[pki.Cert],
         hostname: str = "localhost", cn_check: bool = True) -> Material:
    def c(x: pki.Cert | x509.Certificate) -> x509.Certificate:
        return x.cert if isinstance(x, pki.Cert) else x

    return Material([leaf.cert] + [c(x) for x in chain], leaf.key, [c(t) for t in trust],
                    hostname, cn_check)


def _cached(fn: Callable[[str], Material]) -> Callable[[str], Material]:
    return functools.cache(fn)


# --------------------------------------------------------------------------------------------
# Builders (one per case; the direction only matters for EKU)


@_cached
def b_good(d: str) -> Material:
    return _mat(_leaf(inter()), [inter()], [root()])


@_cached
def b_good_with_root(d: str) -> Material:
    return _mat(_leaf(inter()), [inter(), root()], [root()])


@functools.cache
def _two_level() -> tuple[pki.Cert, list[pki.Cert], pki.Cert]:
    return pki.make_chain(2, root=root())


@_cached
def b_out_of_order(d: str) -> Material:
    _, (i1, i2), leaf = _two_level()
    return _mat(leaf, [i1, i2], [root()])  # i1 (top) sent before i2 (the leaf's issuer)


@_cached
def b_root_first(d: str) -> Material:
    return _mat(_leaf(inter()), [root(), inter()], [root()])


@_cached
def b_missing_intermediate(d: str) -> Material:
    return _mat(_leaf(inter()), [], [root()])


@_cached
def b_missing_intermediate_trusted(d: str) -> Material:
    return _mat(_leaf(inter()), [], [root(), inter()])


@_cached
def b_expired_leaf(d: str) -> Material:
    return _mat(_leaf(inter(), not_before=PAST, not_after=YESTERDAY), [inter()], [root()])


@_cached
def b_future_leaf(d: str) -> Material:
    return _mat(_leaf(inter(), not_before=TOMORROW, not_after=LATER), [inter()], [root()])


@_cached
def b_expired_intermediate(d: str) -> Material:
    i = pki.make_cert("expired intermediate", issuer=root(), dns=None, is_ca=True,
                      not_before=PAST, not_after=YESTERDAY)
    return _mat(_leaf(i), [i], [root()])


@_cached
def b_future_intermediate(d: str) -> Material:
    i = pki.make_cert("future intermediate", issuer=root(), dns=None, is_ca=True,
                      not_before=TOMORROW, not_after=LATER)
    return _mat(_leaf(i), [i], [root()])


@_cached
def b_expired_root(d: str) -> Material:
    r = pki.make_ca("expired root", not_before=PAST, not_after=YESTERDAY)
    return _mat(_leaf(r), [], [r])


@_cached
def b_future_root(d: str) -> Material:
    r = pki.make_ca("future root", not_before=TOMORROW, not_after=LATER)
    return _mat(_leaf(r), [], [r])


def _host(host: str, cn_check: bool = True, **kw: object) -> Callable[[str], Material]:
    @functools.cache
    def build(d: str) -> Material:
        return _mat(_leaf(inter(), **kw), [inter()], [root()], host, cn_check)

    return build


@_cached
def b_untrusted_root(d: str) -> Material:
    i = pki.make_cert("stranger intermediate", issuer=other_root(), dns=None, is_ca=True)
    return _mat(_leaf(i), [i, other_root()], [root()])


@functools.cache
def _self_signed() -> pki.Cert:
    return _leaf(None, cn="localhost")


@_cached
def b_self_signed_untrusted(d: str) -> Material:
    return _mat(_self_signed(), [], [root()])


@_cached
def b_self_signed_trusted(d: str) -> Material:
    return _mat(_self_signed(), [], [root(), _self_signed()])


@_cached
def b_self_signed_ca_trusted(d: str) -> Material:
    ref = pki.reference_style("micropython.local")
    return _mat(ref, [], [ref], "MicroPython.Local")


@_cached
def b_self_signed_trusted_expired(d: str) -> Material:
    leaf = _leaf(None, not_before=PAST, not_after=YESTERDAY)
    return _mat(leaf, [], [leaf])


@_cached
def b_leaf_in_store_not_self_signed(d: str) -> Material:
    leaf = _leaf(other_root())
    return _mat(leaf, [], [root(), leaf])


@_cached
def b_issuer_ca_false(d: str) -> Material:
    notca = pki.make_cert("not a CA", issuer=root(), dns=("notca.test",))
    return _mat(_leaf(notca), [notca], [root()])


@_cached
def b_issuer_ca_false_trusted(d: str) -> Material:
    notca = pki.make_cert("self-signed not a CA", dns=("notca.test",))
    return _mat(_leaf(notca), [], [notca])


@_cached
def b_pathlen_intermediate(d: str) -> Material:
    _, (i1, i2), leaf = pki.make_chain(2, root=root(), inter_kw=[{"path_len": 0}, {}])
    return _mat(leaf, [i2, i1], [root()])


@_cached
def b_pathlen_root(d: str) -> Material:
    r = pki.make_ca("pathlen 0 root", path_len=0)
    _, (i1,), leaf = pki.make_chain(1, root=r)
    return _mat(leaf, [i1], [r])


@_cached
def b_pathlen_ok(d: str) -> Material:
    r = pki.make_ca("pathlen 1 root", path_len=1)
    _, (i1,), leaf = pki.make_chain(1, root=r, inter_kw=[{"path_len": 0}])
    return _mat(leaf, [i1], [r])


@_cached
def b_name_constraints_root(d: str) -> Material:
    r = pki.make_ca("constrained root", permitted_dns=("allowed.test",))
    return _mat(_leaf(r), [], [r])


@_cached
def b_name_constraints_intermediate(d: str) -> Material:
    i = pki.make_cert("constrained intermediate", issuer=root(), dns=None, is_ca=True,
                      permitted_dns=("allowed.test",))
    return _mat(_leaf(i), [i], [root()])


@_cached
def b_name_constraints_ok(d: str) -> Material:
    i = pki.make_cert("constrained intermediate ok", issuer=root(), dns=None, is_ca=True,
                      permitted_dns=("allowed.test",))
    leaf = _leaf(i, cn="www.allowed.test", dns=("www.allowed.test",))
    return _mat(leaf, [i], [root()], "www.allowed.test")


@_cached
def b_eku_wrong(d: str) -> Material:
    return _mat(_leaf(inter(), eku=_wrong_eku_for(d)), [inter()], [root()])


@_cached
def b_eku_right_only(d: str) -> Material:
    return _mat(_leaf(inter(), eku=_eku_for(d)), [inter()], [root()])


@_cached
def b_eku_absent(d: str) -> Material:
    return _mat(_leaf(inter(), eku=None), [inter()], [root()])


@_cached
def b_sha1_rsa(d: str) -> Material:
    return _mat(_leaf(rsa_root(), hash_alg="sha1"), [], [rsa_root()])


@_cached
def b_sha1_ecdsa(d: str) -> Material:
    return _mat(_leaf(root(), hash_alg="sha1"), [], [root()])


@_cached
def b_sha1_intermediate(d: str) -> Material:
    i = pki.make_cert("sha1 intermediate", issuer=rsa_root(), dns=None, is_ca=True,
                      key="rsa2048", hash_alg="sha1")
    return _mat(_leaf(i), [i], [rsa_root()])


@_cached
def b_bad_signature(d: str) -> Material:
    leaf = _leaf(inter(), sign_with=pki.new_key("ec256"))
    return _mat(leaf, [inter()], [root()])


@_cached
def b_rsa1024_leaf(d: str) -> Material:
    return _mat(_leaf(inter(), key="rsa1024"), [inter()], [root()])


@_cached
def b_rsa1024_ca(d: str) -> Material:
    r = pki.make_ca("RSA-1024 root", key="rsa1024")
    return _mat(_leaf(r), [], [r])


@_cached
def b_rsa2048_leaf(d: str) -> Material:
    return _mat(_leaf(inter(), key="rsa2048"), [inter()], [root()])


@_cached
def b_ca_true_leaf(d: str) -> Material:
    leaf = pki.make_cert("localhost", issuer=inter(), dns=("localhost",), is_ca=True)
    return _mat(leaf, [inter()], [root()])


@_cached
def b_several_reasons(d: str) -> Material:
    leaf = _leaf(inter(), not_before=PAST, not_after=YESTERDAY)
    return _mat(leaf, [inter()], [other_root()], "other.test")


C = ("client",)
REF = "reference (Mbed TLS)"

CASES: list[Case] = [
    # chains
    Case("good-chain", b_good, True, None, why="valid leaf + intermediate, root trusted"),
    Case("good-chain-root-sent", b_good_with_root, True, None,
         why="the trusted root is also sent"),
    Case("chain-out-of-order", b_out_of_order, True, None,
         why="two intermediates sent top one first; path building reorders"),
    Case("chain-out-of-order-cpython", b_out_of_order, True, None, peer="cpython",
         why="same, presented by OpenSSL"),
    Case("chain-root-sent-first", b_root_first, True, None,
         why="root sent before the intermediate"),
    Case("intermediate-missing", b_missing_intermediate, False, NOT_TRUSTED,
         why=f"{REF}: no parent found"),
    Case("intermediate-missing-but-trusted", b_missing_intermediate_trusted, True, None,
         why="the intermediate is in the trust store"),
    # dates
    Case("expired-leaf", b_expired_leaf, False, EXPIRED, why=REF),
    Case("not-yet-valid-leaf", b_future_leaf, False, FUTURE, why=REF),
    Case("expired-intermediate", b_expired_intermediate, False, EXPIRED,
         why=f"{REF}: dates of every chain certificate"),
    Case("not-yet-valid-intermediate", b_future_intermediate, False, FUTURE, why=REF),
    Case("expired-root", b_expired_root, False, EXPIRED,
         why=f"{REF} and OpenSSL check the trusted root's dates too"),
    Case("not-yet-valid-root", b_future_root, False, FUTURE,
         why=f"{REF} and OpenSSL check the trusted root's dates too"),
    # host names (client direction only)
    Case("wrong-hostname", _host("other.test"), False, CN_MISMATCH, C, why=REF),
    Case("hostname-case-insensitive", _host("LocalHost"), True, None, C, why=REF),
    Case("wildcard-one-label", _host("a.example.test", dns=("*.example.test",)), True, None, C,
         why="RFC 6125"),
    Case("wildcard-uppercase", _host("A.Example.TEST", dns=("*.example.test",)), True, None,
         C, why="RFC 6125, case-insensitive"),
    Case("wildcard-two-labels", _host("a.b.example.test", dns=("*.example.test",)), False,
         CN_MISMATCH, C, why="RFC 6125 / reference: * covers one label"),
    Case("wildcard-bare-domain", _host("example.test", dns=("*.example.test",)), False,
         CN_MISMATCH, C, why="RFC 6125 / reference"),
    Case("wildcard-partial", _host("foo.example.test", dns=("f*.example.test",)), False,
         CN_MISMATCH, C, why="reference: only a whole leftmost '*' label"),
    Case("wildcard-not-leftmost", _host("a.b.example.test", dns=("a.*.example.test",)), False,
         CN_MISMATCH, C, why="RFC 6125"),
    Case("wildcard-public-suffix", _host("example.test", dns=("*.test",)), False,
         CN_MISMATCH, C, why="spec (RFC 6125; stricter than Mbed TLS, which accepts *.tld)"),
    Case("ipv4-san", _host("127.0.0.1", dns=("localhost",), ips=("127.0.0.1",)), True, None,
         C, why=REF),
    Case("ipv4-san-mismatch", _host("127.0.0.2", ips=("127.0.0.1",)), False, CN_MISMATCH, C,
         why=REF),
    Case("ipv6-san", _host("::1", ips=("::1",)), True, None, C, why="reference (IP SAN)"),
    Case("ipv6-san-long-form", _host("0:0:0:0:0:0:0:1", ips=("::1",)), True, None, C,
         why="same address, other spelling"),
    Case("ipv6-san-mismatch", _host("::2", ips=("::1",)), False, CN_MISMATCH, C, why=REF),
    Case("ipv4-host-vs-ipv6-san", _host("127.0.0.1", dns=None, ips=("::1",)), False,
         CN_MISMATCH, C, why="different address families never match"),
    Case("ip-host-vs-dns-san", _host("127.0.0.1", dns=("127.0.0.1",)), False, CN_MISMATCH, C,
         why="spec/CPython: an IP is matched against IP SANs only (Mbed TLS would compare "
             "the text)"),
    Case("dns-host-vs-ip-san", _host("localhost", dns=None, ips=("127.0.0.1",)), False,
         CN_MISMATCH, C, why="IP SAN present: CN 'localhost' is not consulted"),
    Case("cn-only-check-on", _host("cn.example.test", cn="cn.example.test", dns=None), True,
         None, C, why="spec: CN fallback when no SAN DNS/IP"),
    Case("cn-only-check-off",
         _host("cn.example.test", False, cn="cn.example.test", dns=None), False,
         CN_MISMATCH, C, why="spec: hostname_checks_common_name=False"),
    Case("cn-only-wildcard", _host("a.example.test", cn="*.example.test", dns=None), True,
         None, C, why=REF),
    Case("cn-only-ip", _host("127.0.0.1", cn="127.0.0.1", dns=None), True, None, C,
         why="CN fallback for an IP host"),
    Case("cn-ignored-when-san", _host("cn.example.test", cn="cn.example.test",
                                      dns=("san.example.test",)), False, CN_MISMATCH, C,
         why="spec/reference: CN only without SAN"),
    Case("cn-with-email-only-san", _host("localhost", dns=None, emails=("a@example.test",)),
         False, CN_MISMATCH, C,
         why="reference/Mbed TLS: any SAN extension disables the CN (issue 9, defect 4)"),
    Case("empty-hostname", _host(""), False, CN_MISMATCH, C,
         why="reference: an empty name is accepted and fails to match"),
    # trust
    Case("untrusted-root", b_untrusted_root, False, NOT_TRUSTED, why=REF),
    Case("self-signed-untrusted", b_self_signed_untrusted, False, NOT_TRUSTED, why=REF),
    Case("self-signed-trusted", b_self_signed_trusted, True, None,
         why="spec: self-signed leaf in the trust store"),
    Case("self-signed-ca-trusted-cn", b_self_signed_ca_trusted, True, None,
         why="spec: the reference's test certificates (CA:TRUE, CN only)"),
    Case("self-signed-trusted-expired", b_self_signed_trusted_expired, False, EXPIRED,
         why=REF),
    Case("leaf-in-store-not-self-signed", b_leaf_in_store_not_self_signed, False, NOT_TRUSTED,
         why="spec: a non-self-signed leaf in the trust store is not enough"),
    Case("issuer-ca-false", b_issuer_ca_false, False, NOT_TRUSTED,
         why=f"{REF}: a parent needs CA:TRUE"),
    Case("issuer-ca-false-trusted", b_issuer_ca_false_trusted, False, NOT_TRUSTED,
         why=f"{REF} (x509_crt_check_parent) and OpenSSL: a trusted parent needs CA:TRUE too"),
    Case("ca-true-leaf", b_ca_true_leaf, False, OTHER,
         why=f"design: {REF} and OpenSSL accept a CA:TRUE leaf signed by a trusted CA; "
             "rustls-webpki refuses a CA certificate as the end entity, reported as "
             "'Other reason' with an exception note (README: differences)"),
    Case("pathlen-intermediate-exceeded", b_pathlen_intermediate, False, NOT_TRUSTED,
         why=f"{REF}: no acceptable parent (design: NOT_TRUSTED text)"),
    Case("pathlen-root-exceeded", b_pathlen_root, False, NOT_TRUSTED,
         why=f"{REF}: the trusted root's pathLenConstraint is enforced too"),
    Case("pathlen-within-limit", b_pathlen_ok, True, None, why="RFC 5280"),
    Case("name-constraints-root-violated", b_name_constraints_root, False, NOT_TRUSTED,
         why="design (Mbed TLS has no name constraints): NOT_TRUSTED text"),
    Case("name-constraints-intermediate-violated", b_name_constraints_intermediate, False,
         NOT_TRUSTED, why="design: NOT_TRUSTED text"),
    Case("name-constraints-satisfied", b_name_constraints_ok, True, None, C, why="RFC 5280"),
    # usage, algorithms, keys
    Case("eku-wrong-purpose", b_eku_wrong, False, EXT_KEY_USAGE,
         why=f"{REF}: serverAuth (client dir.) / clientAuth (server dir.) missing; Mbed TLS "
             "fails a chain that is fine but for its usage with SSL_BAD_CERTIFICATE (checked "
             "with the reference binary, both directions)",
         os_error=(-31232, "MBEDTLS_ERR_SSL_BAD_CERTIFICATE")),
    Case("eku-right-purpose-only", b_eku_right_only, True, None, why="RFC 5280"),
    Case("eku-absent", b_eku_absent, True, None, why="no EKU extension: any purpose"),
    Case("sha1-rsa-leaf", b_sha1_rsa, False, NOT_TRUSTED + BAD_MD,
         why="design: unverifiable SHA-1 signature (reference: BAD_MD)"),
    Case("sha1-ecdsa-leaf", b_sha1_ecdsa, False, NOT_TRUSTED + BAD_MD,
         why="design: unverifiable SHA-1 signature (reference: BAD_MD)"),
    Case("sha1-intermediate", b_sha1_intermediate, False, NOT_TRUSTED + BAD_MD,
         why="design: unverifiable SHA-1 signature (reference: BAD_MD)"),
    Case("bad-leaf-signature", b_bad_signature, False, NOT_TRUSTED,
         why=f"{REF}: signature does not verify"),
    Case("rsa1024-leaf", b_rsa1024_leaf, False, BAD_KEY, peer="cpython", lax_ok=False,
         why=f"{REF}: default profile needs RSA >= 2048 for the end-entity key. "
             "CERT_NONE/OPTIONAL: rustls cannot verify the RSA-1024 handshake signature, "
             "so the handshake fails with the same BAD_KEY ValueError"),
    Case("rsa1024-ca", b_rsa1024_ca, False, NOT_TRUSTED + BAD_KEY,
         why=f"{REF}: BAD_KEY (the parent's key is too short); design as for SHA-1: "
             "the signature cannot be verified, so also NOT_TRUSTED"),
    Case("rsa2048-leaf", b_rsa2048_leaf, True, None, why="RSA leaf of acceptable size"),
    Case("several-reasons", b_several_reasons, False, EXPIRED + CN_MISMATCH + NOT_TRUSTED, C,
         why=f"{REF}: reasons concatenated in flag order"),
]

BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case id"
