"""Bad input to every entry point: a catalogue of malformed arguments, each with the exception
type and message it must produce (exact, or a prefix), checked one row per test.

Messages follow the reference where it has one (``invalid key``/``invalid cert``,
``(-24192, 'MBEDTLS_ERR_SSL_BAD_CONFIG')``, ``CERT_REQUIRED requires server_hostname``, the
``TypeError`` texts of reference.md §1.8) and mpssl's documented choices elsewhere (README
"Differences"; ``crates/mpssl-python/src/error.rs``). The parser's reason for a rejected key
or certificate is attached as an exception note (``__notes__``); rows check part of it where
it tells the user something (encrypted, PEM section, size).
"""

from __future__ import annotations

import array
import datetime
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import mpssl
import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID
from mpssl import _mpssl
from support import JOIN_TIMEOUT, mpssl_client_ctx, mpssl_server_ctx

BAD_CONFIG = (-24192, "MBEDTLS_ERR_SSL_BAD_CONFIG")
BAD_INPUT = (-28928, "MBEDTLS_ERR_SSL_BAD_INPUT_DATA")
NOT_SUPPORTED = "MBEDTLS_ERR_SSL_BAD_CONFIG: cipher suite "
VERIFY_MODE = "verify_mode must be CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED"
STR_HINT = "must be a bytes-like object, not str (encode it, e.g. s.encode())"


def self_signed(key: Any, algo: hashes.HashAlgorithm | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, PKCS#8 key PEM) for ``key``."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, algo)
    )
    return (cert.public_bytes(ser.Encoding.PEM),
            key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))


def pkcs8(key: Any, encoding: ser.Encoding = ser.Encoding.PEM) -> bytes:
    return key.private_bytes(encoding, ser.PrivateFormat.PKCS8, ser.NoEncryption())


@dataclass
class Env:
    """Material for the rows, made lazily; sockets and threads are cleaned up by the fixture."""

    ca: pki.Cert
    leaf: pki.Cert
    sockets: list[socket.socket] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    tls: list[Any] = field(default_factory=list)

    # ---- material
    @property
    def cert(self) -> bytes:
        return self.leaf.pem

    @property
    def key(self) -> bytes:
        return self.leaf.key_bytes()

    @cached_property
    def other_key(self) -> bytes:
        return pki.new_key("ec256").private_bytes(  # type: ignore[union-attr]
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())

    @cached_property
    def intermediate(self) -> pki.Cert:
        return pki.make_ca("mpssl intermediate", issuer=self.ca)

    @cached_property
    def leaf2(self) -> pki.Cert:
        return pki.make_cert("localhost", issuer=self.intermediate)

    # ---- contexts
    def server(self) -> mpssl.SSLContext:
        return mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)

    def native(self, protocol: int = mpssl.PROTOCOL_TLS_SERVER) -> _mpssl.SSLContext:
        return _mpssl.SSLContext(protocol)

    def client(self) -> mpssl.SSLContext:
        return mpssl_client_ctx(self.ca)

    # ---- sockets
    def track(self, s: socket.socket) -> socket.socket:
        self.sockets.append(s)
        s.settimeout(1.0)
        return s

    def closed_socket(self) -> socket.socket:
        s = self.track(socket.socket())
        s.close()
        return s

    def listening_socket(self) -> socket.socket:
        s = self.track(socket.socket())
        s.bind(("127.0.0.1", 0))
        s.listen()
        return s

    def pair_end(self) -> socket.socket:
        a, b = socket.socketpair()
        self.track(b)
        return self.track(a)

    @cached_property
    def conn(self) -> Any:
        """A connected client SSLSocket; the server wrote 64 bytes and stays open."""
        a, b = socket.socketpair()
        self.track(a)
        self.track(b)
        out: dict[str, Any] = {}

        def srv() -> None:
            s = mpssl_server_ctx(self.leaf).wrap_socket(b, server_side=True)
            s.write(bytes(range(64)))
            out["s"] = s

        t = threading.Thread(target=srv, daemon=True)
        t.start()
        self.threads.append(t)
        c = mpssl_client_ctx(self.ca).wrap_socket(a, server_hostname="localhost")
        t.join(JOIN_TIMEOUT)
        self.tls += [c, out["s"]]
        return c

    def cleanup(self) -> None:
        for t in self.tls:
            t.close()
        for s in self.sockets:
            s.close()
        for t in self.threads:
            t.join(JOIN_TIMEOUT)
            assert not t.is_alive()


@dataclass
class Row:
    """One catalogue entry: ``call(env)`` must raise ``exc`` whose message is ``msg``.

    ``msg``: a tuple is compared with ``e.args``; a str with ``e.args[0]`` (or ``args[1]`` for a
    two-argument OSError), exactly or as a prefix (``prefix=True``). ``note``: a substring of
    one of the exception's notes. ``exc=None``: the call must succeed and ``ok(result, env)``
    hold.
    """

    id: str
    entry: str
    call: Callable[[Env], Any]
    exc: type[BaseException] | None
    msg: str | tuple[Any, ...] | None = None
    prefix: bool = False
    note: str | None = None
    ok: Callable[[Any, Env], bool] | None = None


def lcc(cert: Callable[[Env], Any], key: Callable[[Env], Any]) -> Callable[[Env], Any]:
    return lambda e: e.server().load_cert_chain(cert(e), key(e))


def lcc_native(cert: Callable[[Env], Any], key: Callable[[Env], Any]) -> Callable[[Env], Any]:
    return lambda e: e.native().load_cert_chain(cert(e), key(e))


def lvl(cadata: Callable[[Env], Any]) -> Callable[[Env], Any]:
    return lambda e: e.server().load_verify_locations(cadata=cadata(e))


def cert(e: Env) -> bytes:
    return e.cert


def key(e: Env) -> bytes:
    return e.key


def ciphers(names: Any) -> Callable[[Env], Any]:
    def call(e: Env) -> list[str]:
        ctx = e.native(mpssl.PROTOCOL_TLS_CLIENT)
        ctx.set_ciphers(names)
        return ctx.get_ciphers()
    return call


def set_attr(name: str, value: Any) -> Callable[[Env], Any]:
    def call(e: Env) -> Any:
        ctx = e.native(mpssl.PROTOCOL_TLS_CLIENT)
        setattr(ctx, name, value)
        return getattr(ctx, name)
    return call


def wrap_client(sock: Callable[[Env], Any], **kw: Any) -> Callable[[Env], Any]:
    kw.setdefault("server_hostname", "localhost")

    def call(e: Env) -> Any:
        s = e.client().wrap_socket(sock(e), **kw)
        e.tls.append(s)
        return s
    return call


def on_conn(fn: Callable[[Any], Any]) -> Callable[[Env], Any]:
    return lambda e: fn(e.conn)


def key_of(make: Callable[[], Any], encoding: ser.Encoding = ser.Encoding.PEM
           ) -> Callable[[Env], bytes]:
    cache: dict[str, bytes] = {}

    def get(e: Env) -> bytes:
        if "k" not in cache:
            cache["k"] = pkcs8(make(), encoding)
        return cache["k"]
    return get


def encrypted_traditional(e: Env) -> bytes:
    return e.leaf.key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL,
                                    ser.BestAvailableEncryption(b"secret"))


def pair_of(make: Callable[[], Any], algo: hashes.HashAlgorithm | None
            ) -> Callable[[Env], None]:
    def call(e: Env) -> None:
        c, k = self_signed(make(), algo)
        e.server().load_cert_chain(c, k)
    return call


JUNK_10MB = os.urandom(10 * 1024 * 1024)
PEM_JUNK_10MB = (b"-----BEGIN CERTIFICATE-----\n" + b"QUFB\n" * (2 * 1024 * 1024)
                 + b"-----END CERTIFICATE-----\n")

ROWS: list[Row] = [
    # ---------------------------------------------------------------- SSLContext(protocol)
    Row("ctx-no-arg", "SSLContext", lambda e: _mpssl.SSLContext(), TypeError,  # type: ignore[call-arg]
        "SSLContext.__new__() missing 1 required positional argument: 'protocol'"),
    Row("ctx-str", "SSLContext", lambda e: _mpssl.SSLContext("0"), TypeError,  # type: ignore[arg-type]
        "can't convert str to int"),
    Row("ctx-none", "SSLContext", lambda e: _mpssl.SSLContext(None), TypeError,  # type: ignore[arg-type]
        "can't convert NoneType to int"),
    Row("ctx-float", "SSLContext", lambda e: _mpssl.SSLContext(1.0), TypeError,  # type: ignore[arg-type]
        "can't convert float to int"),
    Row("ctx-keyword", "SSLContext", lambda e: _mpssl.SSLContext(protocol=0), TypeError,  # type: ignore[call-arg]
        "SSLContext.__new__() got some positional-only arguments passed as keyword "
        "arguments: 'protocol'"),
    Row("ctx-huge-int", "SSLContext", lambda e: _mpssl.SSLContext(2**70), OverflowError, None,
        ),
    # ---------------------------------------------------------------- attributes
    Row("verify-mode-3", "verify_mode", set_attr("verify_mode", 3), ValueError, VERIFY_MODE),
    Row("verify-mode-negative", "verify_mode", set_attr("verify_mode", -1), ValueError,
        VERIFY_MODE),
    Row("verify-mode-str", "verify_mode", set_attr("verify_mode", "2"), TypeError,
        "can't convert str to int"),
    Row("verify-mode-none", "verify_mode", set_attr("verify_mode", None), TypeError,
        "can't convert NoneType to int"),
    Row("verify-mode-float", "verify_mode", set_attr("verify_mode", 2.0), TypeError,
        "can't convert float to int"),
    Row("verify-callback-not-callable", "verify_callback", set_attr("verify_callback", 5),
        TypeError, None,
        ),
    # ---------------------------------------------------------------- load_cert_chain: keys
    Row("key-empty", "load_cert_chain", lcc(cert, lambda e: b""), ValueError, "invalid key",
        note="no data"),
    Row("key-garbage", "load_cert_chain", lcc(cert, lambda e: b"garbage"), ValueError,
        "invalid key"),
    Row("key-and-cert-garbage", "load_cert_chain", lcc(lambda e: b"x", lambda e: b"y"),
        ValueError, "invalid key"),  # the key is checked first, as the reference
    Row("key-pem-truncated", "load_cert_chain", lcc(cert, lambda e: e.key[:100]), ValueError,
        "invalid key"),
    Row("key-pem-garbled-base64", "load_cert_chain",
        lcc(cert, lambda e: e.key.replace(b"M", b"!", 5)), ValueError, "invalid key"),
    Row("key-der-truncated", "load_cert_chain",
        lcc(cert, lambda e: e.leaf.key_bytes("pkcs8", "der")[:40]), ValueError, "invalid key"),
    Row("key-pem-label-certificate", "load_cert_chain", lcc(cert, cert), ValueError,
        "invalid key", note="no usable private key"),
    Row("key-pem-label-public-key", "load_cert_chain",
        lcc(cert, lambda e: e.leaf.key.public_key().public_bytes(
            ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)),
        ValueError, "invalid key"),
    Row("key-openssh-format", "load_cert_chain",
        lcc(cert, lambda e: e.leaf.key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH,
                                                     ser.NoEncryption())),
        ValueError, "invalid key"),
    Row("key-does-not-match-cert", "load_cert_chain", lcc(cert, lambda e: e.other_key),
        ValueError, "invalid key: ", prefix=True),
    Row("key-does-not-match-cert-text", "load_cert_chain", lcc(cert, lambda e: e.other_key),
        ValueError, "invalid key: the private key does not match the certificate"),
    Row("key-encrypted-pkcs8-pem", "load_cert_chain",
        lcc(cert, lambda e: e.leaf.key_bytes("encrypted")), ValueError, "invalid key: encrypted",
        prefix=True),
    Row("key-encrypted-traditional-pem", "load_cert_chain", lcc(cert, encrypted_traditional),
        ValueError, "invalid key: encrypted", prefix=True),
    Row("key-encrypted-pkcs8-der", "load_cert_chain",
        lcc(cert, lambda e: e.leaf.key_bytes("encrypted", "der")), ValueError,
        "invalid key: encrypted", prefix=True,
        ),
    Row("key-secp256k1", "load_cert_chain", lcc(cert, key_of(
        lambda: ec.generate_private_key(ec.SECP256K1()))), ValueError, "invalid key",
        note="the key was not accepted"),
    Row("key-secp224r1", "load_cert_chain", lcc(cert, key_of(
        lambda: ec.generate_private_key(ec.SECP224R1()))), ValueError, "invalid key"),
    Row("key-brainpool", "load_cert_chain", lcc(cert, key_of(
        lambda: ec.generate_private_key(ec.BrainpoolP256R1()))), ValueError, "invalid key"),
    Row("key-dsa", "load_cert_chain", lcc(cert, key_of(lambda: dsa.generate_private_key(2048))),
        ValueError, "invalid key"),
    Row("key-ed448", "load_cert_chain", lcc(cert, key_of(ed448.Ed448PrivateKey.generate)),
        ValueError, "invalid key"),
    Row("key-x25519-not-for-signing", "load_cert_chain",
        lcc(cert, key_of(x25519.X25519PrivateKey.generate, ser.Encoding.DER)),
        ValueError, "invalid key"),
    Row("pair-secp256k1", "load_cert_chain",
        pair_of(lambda: ec.generate_private_key(ec.SECP256K1()), hashes.SHA256()),
        ValueError, "invalid key"),
    Row("pair-ed448", "load_cert_chain", pair_of(ed448.Ed448PrivateKey.generate, None),
        ValueError, "invalid key"),
    Row("pair-p521-loads", "load_cert_chain",
        pair_of(lambda: ec.generate_private_key(ec.SECP521R1()), hashes.SHA512()), None),
    Row("pair-ed25519-loads", "load_cert_chain", pair_of(ed25519.Ed25519PrivateKey.generate,
                                                         None), None),
    Row("key-rsa1024-loads", "load_cert_chain",  # spec: loads; the handshake names the reason
        pair_of(lambda: rsa.generate_private_key(65537, 1024), hashes.SHA256()), None),
    # ---------------------------------------------------------------- load_cert_chain: certs
    Row("cert-empty", "load_cert_chain", lcc(lambda e: b"", key), ValueError, "invalid cert",
        note="no data"),
    Row("cert-garbage", "load_cert_chain", lcc(lambda e: b"garbage", key), ValueError,
        "invalid cert"),
    Row("cert-pem-truncated", "load_cert_chain", lcc(lambda e: e.cert[:200], key), ValueError,
        "invalid cert"),
    Row("cert-pem-garbled-base64", "load_cert_chain",
        lcc(lambda e: e.cert.replace(b"M", b"!", 3), key), ValueError, "invalid cert"),
    Row("cert-der-truncated", "load_cert_chain", lcc(lambda e: e.leaf.der[:100], key),
        ValueError, "invalid cert"),
    Row("cert-pem-label-private-key", "load_cert_chain", lcc(key, key), ValueError,
        "invalid cert", note="no CERTIFICATE section"),
    Row("cert-pem-label-certificate-request", "load_cert_chain",
        lcc(lambda e: e.cert.replace(b"CERTIFICATE", b"CERTIFICATE REQUEST"), key),
        ValueError, "invalid cert"),
    Row("cert-pem-second-block-bad", "load_cert_chain",
        lcc(lambda e: e.cert + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            key), ValueError, "invalid cert"),
    Row("cert-nul-prefix", "load_cert_chain", lcc(lambda e: b"\x00" + e.cert, key), ValueError,
        "invalid cert"),
    Row("chain-wrong-order-ca-first", "load_cert_chain",
        lcc(lambda e: e.ca.pem + e.cert, key), ValueError,
        "invalid key: the private key does not match the certificate"),
    Row("chain-wrong-order-three", "load_cert_chain",
        lambda e: e.server().load_cert_chain(e.ca.pem + e.intermediate.pem + e.leaf2.pem,
                                             e.leaf2.key_bytes()),
        ValueError, "invalid key: the private key does not match the certificate"),
    Row("cert-der-trailing-junk-ignored", "load_cert_chain",  # reference: DER = first cert
        lcc(lambda e: e.leaf.der + b"junk", key), None),
    # ---------------------------------------------------------------- types
    Row("native-cert-str", "load_cert_chain", lcc_native(lambda e: e.cert.decode(), key),
        TypeError, "certfile " + STR_HINT),
    Row("native-key-str", "load_cert_chain", lcc_native(cert, lambda e: e.key.decode()),
        TypeError, "keyfile " + STR_HINT),
    Row("native-cert-int", "load_cert_chain", lcc_native(lambda e: 5, key), TypeError,
        "certfile must be a bytes-like object, not 'int'"),
    Row("native-cert-none", "load_cert_chain", lcc_native(lambda e: None, key), TypeError,
        "certfile must be a bytes-like object, not 'NoneType'"),
    Row("wrapper-cert-none", "load_cert_chain", lcc(lambda e: None, key), TypeError,
        "certfile must be a path, PEM text or bytes-like data, not None"),
    Row("wrapper-key-none", "load_cert_chain", lcc(cert, lambda e: None), TypeError,
        "keyfile must be a path, PEM text or bytes-like data, not None"),
    Row("wrapper-cert-list", "load_cert_chain", lcc(lambda e: [1, 2], key), TypeError,
        "certfile must be a bytes-like object, not 'list'"),
    Row("wrapper-cert-missing-path", "load_cert_chain",
        lcc(lambda e: "/nonexistent/mpssl/cert.pem", key), FileNotFoundError,
        (2, "No such file or directory")),
    Row("wrapper-cert-directory", "load_cert_chain", lcc(lambda e: "/", key),
        IsADirectoryError, (21, "Is a directory")),
    Row("wrapper-cert-empty-path", "load_cert_chain", lcc(lambda e: "", key),
        FileNotFoundError, (2, "No such file or directory")),
    Row("wrapper-pem-str-non-ascii", "load_cert_chain",
        lcc(lambda e: "-----BEGIN CERTIFICATE-----\né\n", key), ValueError, None),
    Row("cert-non-contiguous-buffer", "load_cert_chain",
        lcc(lambda e: memoryview(e.cert * 2)[::2], key), TypeError,
        "certfile must be a contiguous buffer"),
    Row("load-cert-chain-password-kw", "load_cert_chain",
        lambda e: e.server().load_cert_chain(e.cert, e.key, password=b"x"),  # type: ignore[call-arg]
        TypeError, "SSLContext.load_cert_chain() got an unexpected keyword argument 'password'"),
    # ---------------------------------------------------------------- load_verify_locations
    Row("ca-empty", "load_verify_locations", lvl(lambda e: b""), ValueError, "invalid cert",
        note="no data"),
    Row("ca-garbage", "load_verify_locations", lvl(lambda e: b"!"), ValueError, "invalid cert"),
    Row("ca-10mb-random", "load_verify_locations", lvl(lambda e: JUNK_10MB), ValueError,
        "invalid cert"),
    Row("ca-10mb-zeros", "load_verify_locations", lvl(lambda e: bytes(10 * 1024 * 1024)),
        ValueError, "invalid cert"),
    Row("ca-10mb-pem-junk", "load_verify_locations", lvl(lambda e: PEM_JUNK_10MB), ValueError,
        "invalid cert"),
    Row("ca-private-key", "load_verify_locations", lvl(key), ValueError, "invalid cert"),
    Row("ca-truncated-pem", "load_verify_locations", lvl(lambda e: e.ca.pem[:-40]), ValueError,
        "invalid cert"),
    Row("ca-both-none", "load_verify_locations", lambda e: e.server().load_verify_locations(),
        TypeError, "cafile and cadata cannot both be None"),
    Row("native-ca-none", "load_verify_locations",
        lambda e: e.native().load_verify_locations(None), TypeError,
        "cafile and cadata cannot both be None"),
    Row("native-ca-str", "load_verify_locations",  # the reference calls its argument cadata
        lambda e: e.native().load_verify_locations(e.ca.pem.decode()), TypeError,  # type: ignore[arg-type]
        "cadata " + STR_HINT),
    Row("native-cadata-str", "load_verify_locations",
        lambda e: e.native().load_verify_locations(cadata=e.ca.pem.decode()), TypeError,  # type: ignore[arg-type]
        "cadata " + STR_HINT),
    Row("ca-int", "load_verify_locations", lvl(lambda e: 5), TypeError,
        "cadata must be a bytes-like object, not 'int'"),
    Row("ca-missing-path", "load_verify_locations", lvl(lambda e: "/nonexistent/mpssl/ca.pem"),
        FileNotFoundError, (2, "No such file or directory")),
    Row("ca-10000-copies", "load_verify_locations", lvl(lambda e: e.ca.pem * 10_000), None),
    # ---------------------------------------------------------------- set_ciphers
    Row("ciphers-empty-list", "set_ciphers", ciphers([]), OSError, BAD_CONFIG,
        note="empty"),
    Row("ciphers-empty-tuple", "set_ciphers", ciphers(()), OSError, BAD_CONFIG),
    Row("ciphers-unknown", "set_ciphers", ciphers(["BAR"]), OSError, BAD_CONFIG,
        note='unknown cipher suite "BAR"'),
    Row("ciphers-mixed-valid-invalid", "set_ciphers",
        ciphers(["TLS-AES-128-GCM-SHA256", "BAR"]), OSError, BAD_CONFIG),
    Row("ciphers-lower-case", "set_ciphers", ciphers(["tls-aes-128-gcm-sha256"]), OSError,
        BAD_CONFIG),
    Row("ciphers-openssl-name", "set_ciphers", ciphers(["ECDHE-ECDSA-AES128-GCM-SHA256"]),
        OSError, BAD_CONFIG),
    Row("ciphers-empty-name", "set_ciphers", ciphers([""]), OSError, BAD_CONFIG),
    Row("ciphers-nul-suffix", "set_ciphers", ciphers(["TLS-AES-128-GCM-SHA256\x00"]), OSError,
        BAD_CONFIG),
    Row("ciphers-non-utf8-bytes", "set_ciphers", ciphers([b"\xff\xfe"]), OSError, BAD_CONFIG),
    Row("ciphers-cbc-known-unsupported", "set_ciphers",
        ciphers(["TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256"]), OSError,
        (-24192, NOT_SUPPORTED), prefix=True),
    Row("ciphers-psk-known-unsupported", "set_ciphers",
        ciphers(["TLS-PSK-WITH-AES-128-CBC-SHA256"]), OSError, (-24192, NOT_SUPPORTED),
        prefix=True),
    Row("ciphers-unsupported-plus-valid", "set_ciphers",
        ciphers(["TLS-RSA-WITH-AES-128-GCM-SHA256", "TLS-AES-128-GCM-SHA256"]), OSError,
        (-24192, NOT_SUPPORTED), prefix=True),
    Row("ciphers-str", "set_ciphers", ciphers("TLS-AES-128-GCM-SHA256"), TypeError,
        "object 'str' isn't a tuple or list"),
    Row("ciphers-generator", "set_ciphers", ciphers(n for n in ["TLS-AES-128-GCM-SHA256"]),
        TypeError, "object 'generator' isn't a tuple or list"),
    Row("ciphers-none", "set_ciphers", ciphers(None), TypeError,
        "object 'NoneType' isn't a tuple or list"),
    Row("ciphers-int-element", "set_ciphers", ciphers([5]), TypeError,
        "cipher names must be str or bytes"),
    Row("ciphers-bytearray-element", "set_ciphers", ciphers([bytearray(b"TLS-AES-128-GCM-SHA256")]),
        TypeError, "cipher names must be str or bytes"),
    Row("ciphers-duplicates-dropped", "set_ciphers",
        ciphers(["TLS-AES-128-GCM-SHA256", "TLS_AES_128_GCM_SHA256", "TLS-AES-128-GCM-SHA256"]),
        None, ok=lambda r, e: r == ["TLS-AES-128-GCM-SHA256"]),
    Row("ciphers-10000-duplicates", "set_ciphers",
        ciphers(["TLS-CHACHA20-POLY1305-SHA256"] * 10_000), None,
        ok=lambda r, e: r == ["TLS-CHACHA20-POLY1305-SHA256"]),
    # ---------------------------------------------------------------- wrap_socket
    Row("wrap-closed-socket", "wrap_socket", wrap_client(lambda e: e.closed_socket()), OSError,
        (9, "the socket is closed")),
    Row("wrap-closed-socket-deferred", "wrap_socket",
        wrap_client(lambda e: e.closed_socket(), do_handshake_on_connect=False), OSError,
        (9, "the socket is closed")),
    Row("wrap-listening-socket", "wrap_socket", wrap_client(lambda e: e.listening_socket()),
        BrokenPipeError, (32, "Broken pipe")),
    Row("wrap-listening-socket-server", "wrap_socket",
        lambda e: mpssl_server_ctx(e.leaf).wrap_socket(e.listening_socket(), server_side=True),
        OSError, (107, "Transport endpoint is not connected")),
    Row("wrap-unconnected-socket", "wrap_socket", wrap_client(lambda e: e.track(socket.socket())),
        BrokenPipeError, (32, "Broken pipe")),
    Row("wrap-unconnected-udp", "wrap_socket",
        wrap_client(lambda e: e.track(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))),
        OSError, (89, "Destination address required")),
    Row("wrap-int", "wrap_socket", wrap_client(lambda e: 5), OSError, None),
    Row("wrap-hostname-int", "wrap_socket", wrap_client(lambda e: e.pair_end(),
                                                        server_hostname=5),
        TypeError, "server_hostname must be str or bytes, not int"),
    Row("wrap-hostname-empty-accepted", "wrap_socket",  # as the reference: fails to match later
        wrap_client(lambda e: e.pair_end(), server_hostname="", do_handshake_on_connect=False),
        None, ok=lambda r, e: r.server_hostname == ""),
    Row("wrap-hostname-256-bytes", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), server_hostname="a" * 256), OSError, BAD_INPUT,
        note="longer than 255 bytes"),
    Row("wrap-hostname-nul", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), server_hostname="localhost\x00evil.example"),
        OSError, BAD_INPUT),
    Row("wrap-hostname-space", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), server_hostname="bad host"), OSError, BAD_INPUT),
    Row("wrap-hostname-bytes-not-utf8", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), server_hostname=b"\xff"), ValueError,
        "server_hostname is not valid UTF-8"),
    Row("wrap-hostname-bracketed-ipv6", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), server_hostname="[::1]"), OSError, BAD_INPUT),
    Row("wrap-no-hostname-cert-required", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), server_hostname=None), ValueError,
        "CERT_REQUIRED requires server_hostname"),
    Row("wrap-positional-server-side", "wrap_socket",
        lambda e: e.client().wrap_socket(e.pair_end(), True),  # type: ignore[misc]
        TypeError, "SSLContext.wrap_socket() takes 1 positional arguments but 2 were given"),
    Row("wrap-unknown-keyword", "wrap_socket",
        wrap_client(lambda e: e.pair_end(), do_handshake_on_connect=False, suppress_ragged_eofs=1),
        TypeError, "SSLContext.wrap_socket() got an unexpected keyword argument "
                   "'suppress_ragged_eofs'"),
    Row("wrap-do-handshake-none-is-false", "wrap_socket",
        lambda e: e.client().wrap_socket(e.pair_end(), server_hostname="localhost",
                                         do_handshake_on_connect=None),  # type: ignore[arg-type]
        None, ok=lambda r, e: r.cipher() is None,
        ),
    # ---------------------------------------------------------------- module wrap_socket
    Row("module-cert-reqs-7", "mpssl.wrap_socket",
        lambda e: mpssl.wrap_socket(e.pair_end(), cert_reqs=7, do_handshake=False), ValueError,
        VERIFY_MODE),
    Row("module-key-without-cert", "mpssl.wrap_socket",
        lambda e: mpssl.wrap_socket(e.pair_end(), key=e.key, do_handshake=False), TypeError,
        "key and cert must be given together"),
    Row("module-key-and-keyfile", "mpssl.wrap_socket",
        lambda e: mpssl.wrap_socket(e.pair_end(), key=e.key, keyfile=e.key, do_handshake=False),
        TypeError, "give key or keyfile, not both"),
    Row("module-cadata-10mb-junk", "mpssl.wrap_socket",
        lambda e: mpssl.wrap_socket(e.pair_end(), cadata=JUNK_10MB, do_handshake=False),
        ValueError, "invalid cert"),
    Row("module-cadata-bang", "mpssl.wrap_socket",  # the reference's ssl_cadata test
        lambda e: mpssl.wrap_socket(e.pair_end(), cadata=b"!", do_handshake=False), ValueError,
        "invalid cert"),
    Row("module-key-bang", "mpssl.wrap_socket",  # the reference's ssl_keycert test
        lambda e: mpssl.wrap_socket(e.pair_end(), key=b"!", cert=e.cert, do_handshake=False),
        ValueError, "invalid key"),
    # ---------------------------------------------------------------- SSLSocket methods
    Row("read-str", "SSLSocket.read", on_conn(lambda c: c.read("x")), TypeError,
        "'str' object cannot be interpreted as an integer", note="while processing 'n'"),
    Row("read-none", "SSLSocket.read", on_conn(lambda c: c.read(None)), TypeError,
        "'NoneType' object cannot be interpreted as an integer"),
    Row("read-float", "SSLSocket.read", on_conn(lambda c: c.read(1.5)), TypeError,
        "'float' object cannot be interpreted as an integer"),
    Row("read-2-pow-63", "SSLSocket.read", on_conn(lambda c: c.read(2**63)), OverflowError,
        "Python int too large to convert to C long"),
    Row("read-huge-is-bounded-by-data", "SSLSocket.read",  # no 2**62-byte allocation
        on_conn(lambda c: c.recv(2**62)), None, ok=lambda r, e: r == bytes(range(64))),
    Row("recv-negative", "SSLSocket.recv", on_conn(lambda c: c.recv(-1)), ValueError,
        "negative buffersize in recv"),
    Row("recv-minus-huge", "SSLSocket.recv", on_conn(lambda c: c.recv(-(2**40))), ValueError,
        "negative buffersize in recv"),
    Row("readinto-bytes-read-only", "SSLSocket.readinto", on_conn(lambda c: c.readinto(b"xxxx")),
        TypeError, "buf must be a writable bytes-like object (bytearray, memoryview), not a "
                   "read-only buffer"),
    Row("readinto-readonly-memoryview", "SSLSocket.readinto",
        on_conn(lambda c: c.readinto(memoryview(b"xxxx"))), TypeError,
        "buf must be a writable bytes-like object (bytearray, memoryview), not a read-only "
        "buffer"),
    Row("recv-into-bytes-read-only", "SSLSocket.recv_into",
        on_conn(lambda c: c.recv_into(b"xxxx")), TypeError,
        "buf must be a writable bytes-like object (bytearray, memoryview), not a read-only "
        "buffer"),
    Row("readinto-str", "SSLSocket.readinto", on_conn(lambda c: c.readinto("xxxx")), TypeError,
        "buf must be a writable bytes-like object"),
    Row("readinto-none", "SSLSocket.readinto", on_conn(lambda c: c.readinto(None)), TypeError,
        "buf must be a writable bytes-like object"),
    Row("readinto-negative-nbytes-whole-buffer", "SSLSocket.readinto",  # MicroPython's size_t
        on_conn(lambda c: (c.readinto(b := bytearray(4), -1), bytes(b))), None,
        ok=lambda r, e: r == (4, bytes(range(4)))),
    Row("readinto-non-contiguous", "SSLSocket.readinto",
        on_conn(lambda c: c.readinto(memoryview(bytearray(8))[::2])), TypeError,
        "buf must be a contiguous buffer"),
    Row("readinto-nbytes-over-len-clamped", "SSLSocket.readinto",  # as MicroPython's stream
        on_conn(lambda c: (c.readinto(b := bytearray(4), 1000), bytes(b))), None,
        ok=lambda r, e: r == (4, bytes(range(4)))),
    Row("readline-str", "SSLSocket.readline", on_conn(lambda c: c.readline("x")), TypeError,
        "'str' object cannot be interpreted as an integer"),
    Row("write-str-utf8", "SSLSocket.write", on_conn(lambda c: c.write("abc")), None,  # as MicroPython
        ok=lambda r, e: r == 3),
    Row("write-none", "SSLSocket.write", on_conn(lambda c: c.write(None)), TypeError,
        "buf must be a bytes-like object, not 'NoneType'"),
    Row("write-int", "SSLSocket.write", on_conn(lambda c: c.write(5)), TypeError,
        "buf must be a bytes-like object, not 'int'"),
    Row("send-str-utf8", "SSLSocket.send", on_conn(lambda c: c.send("abc")), None,
        ok=lambda r, e: r == 3),
    Row("sendall-str-utf8", "SSLSocket.sendall", on_conn(lambda c: c.sendall("abc")), None,
        ok=lambda r, e: r == 3),
    Row("write-non-contiguous", "SSLSocket.write",
        on_conn(lambda c: c.write(memoryview(b"abcdef")[::2])), TypeError,
        "buf must be a contiguous buffer"),
    Row("write-array-of-shorts", "SSLSocket.write",
        on_conn(lambda c: c.write(array.array("H", [0x4142, 0x4344]))), None,
        ok=lambda r, e: r == 4,
        ),
    Row("settimeout-negative", "SSLSocket.settimeout", on_conn(lambda c: c.settimeout(-1)),
        ValueError, "Timeout value out of range"),
    Row("settimeout-nan", "SSLSocket.settimeout", on_conn(lambda c: c.settimeout(float("nan"))),
        ValueError, "Invalid value NaN (not a number)"),
]


def _check(row: Row, e: BaseException) -> None:
    assert isinstance(e, row.exc), f"{type(e).__name__}: {e!r}"  # type: ignore[arg-type]
    if row.msg is not None:
        if isinstance(row.msg, tuple):
            if row.prefix:
                assert e.args[:-1] == row.msg[:-1], e.args
                assert str(e.args[-1]).startswith(row.msg[-1]), e.args
            else:
                assert e.args == row.msg, e.args
        else:
            text = e.args[1] if isinstance(e, OSError) and len(e.args) == 2 else e.args[0]
            if row.prefix:
                assert str(text).startswith(row.msg), e.args
            else:
                assert text == row.msg, e.args
            assert len(e.args) == (2 if isinstance(e, OSError) and len(e.args) == 2 else 1)
    if row.note is not None:
        notes = getattr(e, "__notes__", [])
        assert any(row.note in n for n in notes), notes


def _params() -> Iterator[Any]:
    for row in ROWS:
        yield pytest.param(row, id=row.id)


@pytest.fixture
def env(ca: pki.Cert, server_cert: pki.Cert) -> Iterator[Env]:
    e = Env(ca, server_cert)
    yield e
    e.cleanup()


@pytest.mark.parametrize("row", list(_params()))
def test_bad_input(env: Env, row: Row) -> None:
    try:
        result = row.call(env)
    except Exception as e:
        if row.exc is None:
            raise
        _check(row, e)
        return
    assert row.exc is None, f"accepted: {row.entry} returned {result!r}; expected {row.exc}"
    if row.ok is not None:
        assert row.ok(result, env), result


def test_catalogue_size() -> None:
    errors = [r for r in ROWS if r.exc is not None]
    assert len(errors) >= 50, len(errors)
    assert len({r.id for r in ROWS}) == len(ROWS)
    entries = {r.entry for r in ROWS}
    for entry in ("SSLContext", "verify_mode", "load_cert_chain", "load_verify_locations",
                  "set_ciphers", "wrap_socket", "mpssl.wrap_socket", "SSLSocket.read",
                  "SSLSocket.readinto", "SSLSocket.write"):
        assert entry in entries


def test_rejected_material_leaves_context_usable(harness: Any, ca: pki.Cert,
                                                 server_cert: pki.Cert) -> None:
    """After each kind of rejected load the context still works: nothing half-loaded."""
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    for bad_cert, bad_key in [(b"x", server_cert.key_bytes()), (server_cert.pem, b"y"),
                              (server_cert.pem, server_cert.key_bytes("encrypted"))]:
        with pytest.raises(ValueError):
            ctx.load_cert_chain(bad_cert, bad_key)
    with pytest.raises(ValueError):
        ctx.load_verify_locations(cadata=JUNK_10MB)
    with pytest.raises(OSError):
        ctx.set_ciphers(["BAR"])
    ctx.load_cert_chain(server_cert.chain_pem, server_cert.key_bytes())
    a, b = harness.socketpair()
    task = harness.spawn(ctx.wrap_socket, b, server_side=True)
    cli = harness.track_tls(mpssl_client_ctx(ca).wrap_socket(a, server_hostname="localhost"))
    srv = harness.track_tls(task.join())
    cli.write(b"ok")
    assert srv.read(2) == b"ok"


def test_rsa1024_key_fails_at_handshake_with_reason(harness: Any) -> None:
    """spec: a key the engine cannot sign with loads, and the handshake names the reason."""
    cert, key = self_signed(rsa.generate_private_key(65537, 1024), hashes.SHA256())
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.verify_mode = mpssl.CERT_NONE
    a, b = harness.socketpair()
    a.settimeout(JOIN_TIMEOUT)

    def server() -> Any:
        try:
            return sctx.wrap_socket(b, server_side=True)
        finally:
            b.shutdown(socket.SHUT_RDWR)

    task = harness.spawn(server)
    with pytest.raises(OSError):
        cctx.wrap_socket(a, server_hostname="localhost")
    err = task.exception()
    assert isinstance(err, OSError) and err.errno == -28160, repr(err)
    assert "RSA key of 1024 bits is too small" in str(err), err.args
