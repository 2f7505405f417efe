"""Scripted TLS peers for the hostile-network and fault tests (``test_hostile.py``,
``test_faults.py``).

* :func:`read_record` / :func:`record`: TLS record framing on a raw socket.
* :class:`ScriptedPeer`: a real TLS endpoint (CPython's ``ssl.SSLObject`` over ``MemoryBIO``)
  whose every record goes through our hands, so a test can forward, drop, tamper with or
  inject records. After the handshake it derives the traffic keys from CPython's key log and
  can encrypt records of its own (an alert, a HelloRequest, a ClientHello) and decrypt what
  mpssl sends, for TLS 1.2 (AES-GCM, ChaCha20-Poly1305) and TLS 1.3.
* :func:`client_hello_bytes`: a genuine ClientHello from CPython, to be edited.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import ssl
import struct
import tempfile
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from support import recv_exactly

# Record content types.
CCS, ALERT, HANDSHAKE, APPDATA = 20, 21, 22, 23
# Handshake message types.
HELLO_REQUEST, CLIENT_HELLO, SERVER_HELLO = 0, 1, 2


def read_record(sock: socket.socket) -> tuple[int, bytes] | None:
    """One TLS record ``(content_type, raw_record_bytes)``; None at EOF."""
    header = recv_exactly(sock, 5)
    if len(header) < 5:
        return None
    (length,) = struct.unpack("!H", header[3:5])
    body = recv_exactly(sock, length)
    if len(body) < length:
        return None
    return header[0], header + body


def split_records(data: bytes) -> list[bytes]:
    out = []
    while data:
        (length,) = struct.unpack("!H", data[3:5])
        out.append(data[: 5 + length])
        data = data[5 + length:]
    return out


def record(ctype: int, body: bytes, version: bytes = b"\x03\x03") -> bytes:
    return bytes([ctype]) + version + struct.pack("!H", len(body)) + body


def handshake_msg(htype: int, body: bytes) -> bytes:
    return bytes([htype]) + len(body).to_bytes(3, "big") + body


def alert(level: int, description: int) -> bytes:
    return record(ALERT, bytes([level, description]))


def wait_readable_eof(sock: socket.socket, timeout: float) -> bytes:
    """Everything the peer sends until it closes (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    out = bytearray()
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return bytes(out)


def alerts_in(data: bytes) -> list[tuple[int, int]]:
    """(level, description) of the plaintext alert records in ``data``."""
    out = []
    for rec in split_records(data):
        if rec[0] == ALERT and len(rec) == 7:
            out.append((rec[5], rec[6]))
    return out


# --------------------------------------------------------------------------------------------
# Key schedule


def _p_hash(digest: str, secret: bytes, seed: bytes, n: int) -> bytes:
    out = b""
    a = seed
    while len(out) < n:
        a = hmac.new(secret, a, digest).digest()
        out += hmac.new(secret, a + seed, digest).digest()
    return out[:n]


def _hkdf_expand_label(algo: hashes.HashAlgorithm, secret: bytes, label: str, n: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!H", n) + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(algo, n, info).derive(secret)


@dataclass
class Direction:
    """Keys and the record sequence number for one direction of a connection."""

    aead: AESGCM | ChaCha20Poly1305
    iv: bytes
    tls13: bool
    explicit_nonce: bool
    seq: int = 0

    def _nonce(self, explicit: bytes = b"") -> bytes:
        if self.explicit_nonce:
            return self.iv + explicit
        padded = self.seq.to_bytes(len(self.iv), "big")
        return bytes(a ^ b for a, b in zip(self.iv, padded))

    def seal(self, ctype: int, plaintext: bytes) -> bytes:
        if self.tls13:
            inner = plaintext + bytes([ctype])
            header = bytes([APPDATA]) + b"\x03\x03" + struct.pack("!H", len(inner) + 16)
            body = self.aead.encrypt(self._nonce(), inner, header)
            self.seq += 1
            return header + body
        explicit = self.seq.to_bytes(8, "big") if self.explicit_nonce else b""
        aad = self.seq.to_bytes(8, "big") + bytes([ctype]) + b"\x03\x03" + struct.pack(
            "!H", len(plaintext))
        body = explicit + self.aead.encrypt(self._nonce(explicit), plaintext, aad)
        self.seq += 1
        return record(ctype, body)

    def open(self, rec: bytes) -> tuple[int, bytes]:
        """Decrypt one record: ``(inner content type, plaintext)``."""
        header, body = rec[:5], rec[5:]
        if self.tls13:
            inner = self.aead.decrypt(self._nonce(), body, header)
            self.seq += 1
            inner = inner.rstrip(b"\x00")
            return inner[-1], inner[:-1]
        explicit = b""
        if self.explicit_nonce:
            explicit, body = body[:8], body[8:]
        aad = self.seq.to_bytes(8, "big") + header[:3] + struct.pack("!H", len(body) - 16)
        plain = self.aead.decrypt(self._nonce(explicit), body, aad)
        self.seq += 1
        return header[0], plain


def _aead(cipher: str, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if "CHACHA20" in cipher else AESGCM(key)


# --------------------------------------------------------------------------------------------
# A TLS endpoint whose records we hold


@dataclass
class ScriptedPeer:
    """CPython TLS over ``MemoryBIO`` on a raw socket; records are read and written by us.

    ``sent``/``received`` keep every raw record in order. ``handshake()`` runs CPython's side
    of the handshake to completion; then ``keys()`` gives the two :class:`Direction` objects
    (ours and the peer's) for crafting and reading records.
    """

    sock: socket.socket
    ctx: ssl.SSLContext
    server_side: bool
    server_hostname: str | None = None
    sent: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    sent_at_handshake_end: int = 0
    received_at_handshake_end: int = 0

    def __post_init__(self) -> None:
        fd, self.keylog = tempfile.mkstemp(prefix="mpssl-keylog-")
        os.close(fd)
        self.ctx.keylog_filename = self.keylog
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = self.ctx.wrap_bio(self.inc, self.out, server_side=self.server_side,
                                     server_hostname=self.server_hostname)

    def close_keylog(self) -> None:
        try:
            os.unlink(self.keylog)
        except FileNotFoundError:
            pass

    def pending_records(self) -> list[bytes]:
        """Records CPython has produced and we have not sent yet (taken out of the BIO)."""
        data = self.out.read()
        return split_records(data) if data else []

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def flush(self) -> None:
        for rec in self.pending_records():
            self.sent.append(rec)
            self.sock.sendall(rec)

    def feed_one(self) -> bool:
        rec = read_record(self.sock)
        if rec is None:
            return False
        self.received.append(rec[1])
        self.inc.write(rec[1])
        return True

    def handshake(self) -> None:
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.feed_one():
                    raise ConnectionError("peer closed during the scripted handshake") from None
        self.flush()
        self.sent_at_handshake_end = len(self.sent)
        self.received_at_handshake_end = len(self.received)

    def write_records(self, data: bytes) -> list[bytes]:
        """Encrypt ``data`` with CPython; return the records without sending them."""
        self.obj.write(data)
        recs = self.pending_records()
        self.sent.extend(recs)
        return recs

    @property
    def version(self) -> str:
        v = self.obj.version()
        assert v is not None
        return v

    def _keylog(self) -> dict[str, bytes]:
        out = {}
        with open(self.keylog) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    out[parts[0]] = bytes.fromhex(parts[2])
                    out["random"] = bytes.fromhex(parts[1])
        return out

    def keys(self) -> tuple[Direction, Direction]:
        """``(ours, theirs)``: the record protection of what we send and what the peer sends,
        with sequence numbers positioned after every record exchanged so far."""
        cipher = self.obj.cipher()
        assert cipher is not None
        name = cipher[0]
        log = self._keylog()
        sha = "sha384" if name.endswith("SHA384") else "sha256"
        algo: hashes.HashAlgorithm = hashes.SHA384() if sha == "sha384" else hashes.SHA256()
        if self.version == "TLSv1.3":
            keylen = 16 if "AES_128" in name else 32
            secrets = {
                "client": log["CLIENT_TRAFFIC_SECRET_0"],
                "server": log["SERVER_TRAFFIC_SECRET_0"],
            }

            def make(side: str, seq: int) -> Direction:
                key = _hkdf_expand_label(algo, secrets[side], "key", keylen)
                iv = _hkdf_expand_label(algo, secrets[side], "iv", 12)
                return Direction(_aead(name, key), iv, True, False, seq)

            sent_app = len(self.sent) - self.sent_at_handshake_end
            recv_app = self._peer_app_records()
            me, peer = ("server", "client") if self.server_side else ("client", "server")
            return make(me, sent_app), make(peer, recv_app)
        # TLS 1.2: master secret from the log; randoms from the hellos.
        master = log["CLIENT_RANDOM"]
        client_random = log["random"]
        server_random = self._server_random()
        chacha = "CHACHA20" in name
        keylen = 32 if (chacha or "AES256" in name) else 16
        ivlen = 12 if chacha else 4
        block = _p_hash(sha, master, b"key expansion" + server_random + client_random,
                        2 * keylen + 2 * ivlen)
        ck, sk = block[:keylen], block[keylen:2 * keylen]
        civ, siv = block[2 * keylen:2 * keylen + ivlen], block[2 * keylen + ivlen:]

        def after_ccs(records: list[bytes]) -> int:
            for i, rec in enumerate(records):
                if rec[0] == CCS:
                    return len(records) - i - 1
            raise AssertionError("no ChangeCipherSpec seen")

        client = (ck, civ)
        server = (sk, siv)
        mine, theirs = (server, client) if self.server_side else (client, server)
        return (
            Direction(_aead(name, mine[0]), mine[1], False, not chacha, after_ccs(self.sent)),
            Direction(_aead(name, theirs[0]), theirs[1], False, not chacha,
                      after_ccs(self.received)),
        )

    def _peer_app_records(self) -> int:
        # TLS 1.3: records the peer sent under its application keys. mpssl's server sends
        # session tickets after its Finished; the caller positions ``theirs`` itself when it
        # needs to (see test usage), so count only records received after the handshake.
        return len(self.received) - self.received_at_handshake_end

    def _server_random(self) -> bytes:
        records = self.sent if self.server_side else self.received
        for rec in records:
            if rec[0] == HANDSHAKE and rec[5] == SERVER_HELLO:
                return rec[5 + 4 + 2:5 + 4 + 2 + 32]
        raise AssertionError("no ServerHello seen")


def client_hello_bytes(ctx: ssl.SSLContext | None = None,
                       server_hostname: str | None = "localhost") -> bytes:
    """The handshake message (type 1, no record header) CPython would open with."""
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_hostname)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    recs = split_records(out.read())
    return b"".join(r[5:] for r in recs)


def replace_cipher_suites(hello: bytes, suites: bytes) -> bytes:
    """A ClientHello handshake message with its cipher_suites vector replaced."""
    assert hello[0] == CLIENT_HELLO
    body = hello[4:]
    pos = 2 + 32  # legacy_version, random
    sid_len = body[pos]
    pos += 1 + sid_len
    (cs_len,) = struct.unpack("!H", body[pos:pos + 2])
    new_body = body[:pos] + struct.pack("!H", len(suites)) + suites + body[pos + 2 + cs_len:]
    return handshake_msg(CLIENT_HELLO, new_body)


def cipher_suites_of(hello: bytes) -> bytes:
    body = hello[4:]
    pos = 2 + 32
    pos += 1 + body[pos]
    (cs_len,) = struct.unpack("!H", body[pos:pos + 2])
    return body[pos + 2:pos + 2 + cs_len]


def fragment(ctype: int, payload: bytes, size: int = 16384,
             version: bytes = b"\x03\x01") -> bytes:
    """``payload`` as records of at most ``size`` bytes."""
    return b"".join(record(ctype, payload[i:i + size], version)
                    for i in range(0, len(payload), size))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
