"""Hostile network peers: every one ends in the documented ``OSError`` within a bounded time.

Each peer is a raw socket in a helper thread, scripted byte by byte, or a real TLS endpoint
(CPython's ``ssl`` over ``MemoryBIO``, see ``tlspeer.py``) whose records we tamper with or
add to. mpssl's socket gets a time-out (``BOUND``) so a hang shows up as ``TimeoutError``
instead of a stuck test; every test also checks the time taken.

Expected errors (``crates/mpssl-python/src/error.rs``; reference.md §1.8, Appendix A):

* not TLS at all, bad framing, oversized record -> ``(-29184, 'MBEDTLS_ERR_SSL_INVALID_RECORD')``
* a record whose AEAD tag does not verify -> ``(-29056, 'MBEDTLS_ERR_SSL_INVALID_MAC')``
* a fatal alert from the peer -> ``(-30592, 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE')``
* a message out of place (TLS 1.3 HelloRequest) -> ``(-30464, 'MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE')``
* EOF during the handshake -> ``(-29312, 'MBEDTLS_ERR_SSL_CONN_EOF')``; a reset -> errno 104
* conditions with no reference code -> ``-28160`` (HANDSHAKE_FAILURE) with English text
"""

from __future__ import annotations

import random
import socket
import ssl
import struct
import time
from collections.abc import Callable
from typing import Any

import pki
import pytest
import tlspeer
from support import Files, Harness, mpssl_client_ctx, mpssl_server_ctx
from tlspeer import ALERT, APPDATA, CLIENT_HELLO, HANDSHAKE, HELLO_REQUEST, ScriptedPeer

BOUND = 5.0  # seconds: mpssl's socket time-out, and the most any test may take per outcome

INVALID_RECORD = (-29184, "MBEDTLS_ERR_SSL_INVALID_RECORD")
INVALID_MAC = (-29056, "MBEDTLS_ERR_SSL_INVALID_MAC")
FATAL_ALERT = (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
UNEXPECTED_MESSAGE = (-30464, "MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE")
CONN_EOF = (-29312, "MBEDTLS_ERR_SSL_CONN_EOF")
HANDSHAKE_FAILURE = -28160

TLS12_SUITE = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"


def timed(fn: Callable[[], Any]) -> tuple[BaseException | None, float]:
    t0 = time.monotonic()
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - the outcome is what we test
        return e, time.monotonic() - t0
    return None, time.monotonic() - t0


def assert_oserror(err: BaseException | None, elapsed: float, args: tuple[int, str]) -> None:
    assert not isinstance(err, TimeoutError), f"no answer within {BOUND} s: {err!r}"
    assert isinstance(err, OSError), repr(err)
    assert type(err) is OSError, f"{type(err).__name__}: {err!r}"
    assert err.args == args, err.args
    assert elapsed < BOUND, elapsed


def victim_client(harness: Harness, ca: pki.Cert, peer: Callable[[socket.socket], Any],
                  tls12: bool = False, bound: float = BOUND
                  ) -> tuple[BaseException | None, float, Any]:
    """An mpssl client handshaking with ``peer`` (run on the other end in a thread)."""
    a, b = harness.socketpair()
    a.settimeout(bound)
    task = harness.spawn(peer, b)
    ctx = mpssl_client_ctx(ca)
    if tls12:
        ctx.set_ciphers([TLS12_SUITE])
    err, elapsed = timed(lambda: harness.track_tls(ctx.wrap_socket(a, server_hostname="localhost")))
    a.close()  # mpssl closes nothing after a failed handshake unless close() is called
    return err, elapsed, task.join()


def victim_server(harness: Harness, leaf: pki.Cert, peer: Callable[[socket.socket], Any]
                  ) -> tuple[BaseException | None, float, Any]:
    a, b = harness.socketpair()
    a.settimeout(BOUND)
    task = harness.spawn(peer, b)
    ctx = mpssl_server_ctx(leaf)
    err, elapsed = timed(lambda: harness.track_tls(ctx.wrap_socket(a, server_side=True)))
    a.close()
    return err, elapsed, task.join()


def rest(sock: socket.socket) -> bytes:
    """What the other end sends until it closes (bounded: the harness shuts sockets down)."""
    return tlspeer.wait_readable_eof(sock, BOUND + 1)


# --------------------------------------------------------------------------------------------
# Not TLS at all


HTTP_RESPONSE = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_plaintext_http_server(harness: Harness, ca: pki.Cert) -> None:
    def peer(s: socket.socket) -> bytes:
        first = tlspeer.read_record(s)
        s.sendall(HTTP_RESPONSE)
        rest(s)
        return first[1] if first else b""

    err, elapsed, hello = victim_client(harness, ca, peer)
    assert_oserror(err, elapsed, INVALID_RECORD)
    assert hello[0] == HANDSHAKE and hello[5] == CLIENT_HELLO


def test_plaintext_http_client(harness: Harness, server_cert: pki.Cert) -> None:
    def peer(s: socket.socket) -> bytes:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return rest(s)

    err, elapsed, answer = victim_server(harness, server_cert, peer)
    assert_oserror(err, elapsed, INVALID_RECORD)
    # rustls answers garbage with a fatal alert only once it has a record layer; nothing or an
    # alert record is acceptable, but never a ServerHello.
    assert b"\x16\x03\x03" not in answer


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_from_server(harness: Harness, ca: pki.Cert, seed: int) -> None:
    junk = random.Random(seed).randbytes(4096)
    if junk[0] in (CCS_T := 20, ALERT, HANDSHAKE, APPDATA):  # keep it "not a record"
        junk = b"\xff" + junk[1:]
    del CCS_T

    def peer(s: socket.socket) -> None:
        tlspeer.read_record(s)
        s.sendall(junk)
        rest(s)

    err, elapsed, _ = victim_client(harness, ca, peer)
    assert_oserror(err, elapsed, INVALID_RECORD)


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_from_client(harness: Harness, server_cert: pki.Cert, seed: int) -> None:
    junk = random.Random(100 + seed).randbytes(4096)

    def peer(s: socket.socket) -> None:
        s.sendall(junk)
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    # Random bytes that happen to start like a record header may be read as one (and then
    # fail as framing, or wait for a body that never comes and end at EOF); either way the
    # reference's record error or CONN_EOF, never a hang.
    assert not isinstance(err, TimeoutError), err
    assert isinstance(err, OSError) and err.args in (INVALID_RECORD, CONN_EOF), repr(err)
    assert elapsed < BOUND


def test_random_record_bodies_from_client(harness: Harness, server_cert: pki.Cert) -> None:
    """Well-framed handshake records full of random bytes: a parse error, not a crash."""
    def peer(s: socket.socket) -> None:
        s.sendall(tlspeer.record(HANDSHAKE, random.Random(7).randbytes(300), b"\x03\x01"))
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    assert isinstance(err, OSError) and err.args == INVALID_RECORD, repr(err)
    assert elapsed < BOUND


def test_sslv2_client_hello(harness: Harness, server_cert: pki.Cert) -> None:
    """An SSLv2-format ClientHello (what ancient scanners send)."""
    v2 = bytes.fromhex("80 2e 01 0002 0015 0000 0010") + b"\x00\x00\x2f" * 7 + b"\x00" * 16

    def peer(s: socket.socket) -> None:
        s.sendall(v2)
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    assert_oserror(err, elapsed, INVALID_RECORD)


# --------------------------------------------------------------------------------------------
# Framing: truncated and oversized records


def test_truncated_record_then_eof(harness: Harness, ca: pki.Cert) -> None:
    """A ServerHello record header promising 200 bytes, 50 of them, then FIN: the handshake
    ends at EOF, so CONN_EOF (the reference's code for EOF during a handshake)."""
    def peer(s: socket.socket) -> None:
        tlspeer.read_record(s)
        s.sendall(b"\x16\x03\x03\x00\xc8" + b"\x02" + b"\x00" * 49)
        s.shutdown(socket.SHUT_WR)
        rest(s)

    err, elapsed, _ = victim_client(harness, ca, peer)
    assert_oserror(err, elapsed, CONN_EOF)


def test_truncated_client_hello_then_eof(harness: Harness, server_cert: pki.Cert) -> None:
    hello = tlspeer.client_hello_bytes()

    def peer(s: socket.socket) -> None:
        s.sendall(tlspeer.record(HANDSHAKE, hello, b"\x03\x01")[:60])
        s.shutdown(socket.SHUT_WR)
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    assert_oserror(err, elapsed, CONN_EOF)


@pytest.mark.parametrize("length", [0xFFFF, 16384 + 2048 + 1])
def test_oversized_record_from_server(harness: Harness, ca: pki.Cert, length: int) -> None:
    """A record header longer than TLS allows (2^14 + 2048 for ciphertext): rejected from the
    header alone, without waiting for (or buffering) the body."""
    def peer(s: socket.socket) -> None:
        tlspeer.read_record(s)
        s.sendall(b"\x16\x03\x03" + struct.pack("!H", length) + b"\x02" * 100)
        rest(s)

    err, elapsed, _ = victim_client(harness, ca, peer)
    assert_oserror(err, elapsed, INVALID_RECORD)


def test_oversized_plaintext_handshake_record(harness: Harness, server_cert: pki.Cert) -> None:
    """A plaintext record of 2^14 + 1 bytes: over the plaintext limit (RFC 8446 §5.1)."""
    hello = tlspeer.client_hello_bytes()
    body = hello + b"\x00" * (16385 - len(hello))

    def peer(s: socket.socket) -> None:
        s.sendall(tlspeer.record(HANDSHAKE, body, b"\x03\x01"))
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    assert isinstance(err, OSError), repr(err)
    assert err.args == INVALID_RECORD or err.errno == HANDSHAKE_FAILURE, err.args
    assert elapsed < BOUND


def test_zero_length_records_flood(harness: Harness, server_cert: pki.Cert) -> None:
    """Thousands of empty handshake records (a known CPU-exhaustion trick): rejected."""
    def peer(s: socket.socket) -> None:
        try:
            s.sendall(tlspeer.record(HANDSHAKE, b"", b"\x03\x01") * 20000)
        except OSError:
            pass
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    assert isinstance(err, OSError) and not isinstance(err, TimeoutError), repr(err)
    assert err.args == INVALID_RECORD or err.errno in (HANDSHAKE_FAILURE, 104, 32), err.args
    assert elapsed < BOUND


# --------------------------------------------------------------------------------------------
# Alerts


@pytest.mark.parametrize("level,description", [(2, 40), (2, 10), (2, 255)])
def test_alert_instead_of_server_hello(harness: Harness, ca: pki.Cert, level: int,
                                       description: int) -> None:
    """A peer that answers the ClientHello with a fatal alert (known or unknown kind)."""
    def peer(s: socket.socket) -> None:
        tlspeer.read_record(s)
        s.sendall(tlspeer.alert(level, description))
        rest(s)

    err, elapsed, _ = victim_client(harness, ca, peer)
    assert_oserror(err, elapsed, FATAL_ALERT)


def test_warning_alert_then_eof_during_handshake(harness: Harness, ca: pki.Cert) -> None:
    """A warning-level handshake_failure before the version is negotiated: rustls ignores
    warning alerts there (RFC 5246 calls handshake_failure "always fatal"; a waiting client
    then relies on its time-out), so the peer's EOF ends it: CONN_EOF."""
    def peer(s: socket.socket) -> None:
        tlspeer.read_record(s)
        s.sendall(tlspeer.alert(1, 40))
        s.shutdown(socket.SHUT_WR)
        rest(s)

    err, elapsed, _ = victim_client(harness, ca, peer)
    assert isinstance(err, OSError) and not isinstance(err, TimeoutError), repr(err)
    assert err.args in (CONN_EOF, FATAL_ALERT), err.args
    assert elapsed < BOUND


def test_close_notify_alert_during_handshake(harness: Harness, ca: pki.Cert) -> None:
    """close_notify before the handshake completes (the peer keeps the TCP connection open):
    the handshake cannot finish, so it must end now, as CONN_EOF (the reference's code for a
    peer that ends the connection during the handshake); FATAL_ALERT is also defensible."""
    def peer(s: socket.socket) -> None:
        tlspeer.read_record(s)
        s.sendall(tlspeer.alert(1, 0))
        rest(s)

    err, elapsed, _ = victim_client(harness, ca, peer, bound=2.0)
    assert isinstance(err, OSError) and not isinstance(err, TimeoutError), repr(err)
    assert err.args in (CONN_EOF, FATAL_ALERT), err.args
    assert elapsed < BOUND


def test_alert_from_client_instead_of_hello(harness: Harness, server_cert: pki.Cert) -> None:
    def peer(s: socket.socket) -> None:
        s.sendall(tlspeer.alert(2, 80))
        rest(s)

    err, elapsed, _ = victim_server(harness, server_cert, peer)
    assert_oserror(err, elapsed, FATAL_ALERT)


# --------------------------------------------------------------------------------------------
# A real TLS peer whose records we tamper with


def cpython_server(files: Files, version: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files.server_pem, files.server_key_pem)
    ctx.num_tickets = 0
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    return ctx


def cpython_client(files: Files, version: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(files.ca_pem))
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    return ctx


class Scripted:
    """An mpssl socket connected to a :class:`ScriptedPeer` that has completed its handshake."""

    def __init__(self, harness: Harness, files: Files, ca: pki.Cert, server_cert: pki.Cert,
                 version: str, mpssl_side: str) -> None:
        a, b = harness.socketpair()
        a.settimeout(BOUND)
        b.settimeout(BOUND)
        self.raw = b
        if mpssl_side == "client":
            self.peer = ScriptedPeer(b, cpython_server(files, version), server_side=True)
            task = harness.spawn(self.peer.handshake)
            ctx = mpssl_client_ctx(ca)
            self.tls = harness.track_tls(ctx.wrap_socket(a, server_hostname="localhost"))
        else:
            self.peer = ScriptedPeer(b, cpython_client(files, version), server_side=False,
                                     server_hostname="localhost")
            task = harness.spawn(self.peer.handshake)
            self.tls = harness.track_tls(mpssl_server_ctx(server_cert).wrap_socket(
                a, server_side=True))
        task.join()
        assert self.tls.version() == self.peer.version == f"TLSv{version}"
        # A round trip, so every record of the handshake (mpssl's TLS 1.3 tickets too) has
        # been seen before we position the sequence numbers.
        self.tls.write(b"ping")
        assert self.peer_read(4) == b"ping"

    def peer_read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            try:
                out += self.peer.obj.read(n - len(out))
            except ssl.SSLWantReadError:
                assert self.peer.feed_one(), "mpssl closed the connection"
        return out

    def close(self) -> None:
        self.peer.close_keylog()


@pytest.fixture
def scripted(harness: Harness, files: Files, ca: pki.Cert, server_cert: pki.Cert
             ) -> Any:
    made: list[Scripted] = []

    def make(version: str, mpssl_side: str) -> Scripted:
        s = Scripted(harness, files, ca, server_cert, version, mpssl_side)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("mpssl_side", ["client", "server"])
@pytest.mark.parametrize("where", ["tag", "ciphertext", "explicit_nonce_or_first"])
def test_corrupted_record(scripted: Any, version: str, mpssl_side: str, where: str) -> None:
    """One flipped bit in an application-data record: the AEAD tag fails, INVALID_MAC, and
    nothing of the tampered record reaches the caller."""
    s = scripted(version, mpssl_side)
    (rec,) = s.peer.write_records(b"secret payload " * 10)
    pos = {"tag": len(rec) - 1, "ciphertext": len(rec) - 40, "explicit_nonce_or_first": 5}[where]
    bad = bytearray(rec)
    bad[pos] ^= 0x01
    s.raw.sendall(bytes(bad))
    err, elapsed = timed(lambda: s.tls.read(150))
    assert_oserror(err, elapsed, INVALID_MAC)
    # Sticky: the session is dead, later reads fail the same way.
    with pytest.raises(OSError) as ei:
        s.tls.read(1)
    assert ei.value.args == INVALID_MAC
    # The peer learns why: a fatal bad_record_mac alert (20), in TLS 1.3 encrypted.
    assert s.raw.recv(1)[:1] in (b"\x15", b"\x17")


@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_corrupted_record_length(scripted: Any, mpssl_side: str) -> None:
    """A record whose length field was shortened: the tag no longer lines up."""
    s = scripted("1.3", mpssl_side)
    (rec,) = s.peer.write_records(b"x" * 100)
    (length,) = struct.unpack("!H", rec[3:5])
    bad = rec[:3] + struct.pack("!H", length - 10) + rec[5:-10]
    s.raw.sendall(bad)
    err, elapsed = timed(lambda: s.tls.read(100))
    assert_oserror(err, elapsed, INVALID_MAC)


@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_replayed_record(scripted: Any, mpssl_side: str) -> None:
    """The same valid record twice: the second is under the wrong sequence number."""
    s = scripted("1.3", mpssl_side)
    (rec,) = s.peer.write_records(b"once")
    s.raw.sendall(rec)
    assert s.tls.read(4) == b"once"
    s.raw.sendall(rec)
    err, elapsed = timed(lambda: s.tls.read(4))
    assert_oserror(err, elapsed, INVALID_MAC)


@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_plaintext_record_after_handshake(scripted: Any, mpssl_side: str) -> None:
    """Unencrypted application data once the keys are in place (a downgrade attempt)."""
    s = scripted("1.3", mpssl_side)
    s.raw.sendall(tlspeer.record(APPDATA, b"unencrypted"))
    err, elapsed = timed(lambda: s.tls.read(11))
    assert_oserror(err, elapsed, INVALID_MAC)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_encrypted_fatal_alert_after_handshake(scripted: Any, version: str,
                                               mpssl_side: str) -> None:
    """A properly encrypted fatal alert (internal_error) in the middle of the data stream."""
    s = scripted(version, mpssl_side)
    ours, _ = s.peer.keys()
    (data,) = s.peer.write_records(b"before")
    ours.seq += 1
    s.raw.sendall(data)
    assert s.tls.read(6) == b"before"
    s.raw.sendall(ours.seal(ALERT, bytes([2, 80])))
    err, elapsed = timed(lambda: s.tls.read(1))
    assert_oserror(err, elapsed, FATAL_ALERT)




@pytest.mark.parametrize("tail", ["fatal_alert", "bad_record"])
@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_data_before_error_in_same_segment_is_delivered(scripted: Any, mpssl_side: str,
                                                        tail: str) -> None:
    """Valid data and then a fatal alert (or a replayed record) in one TCP segment: the
    valid data is the peer's last word and must be readable; the error comes on the next
    read (what CPython's ssl does: OpenSSL delivers records in order)."""
    s = scripted("1.3", mpssl_side)
    ours, _ = s.peer.keys()
    (data,) = s.peer.write_records(b"last words")
    ours.seq += 1
    bad = ours.seal(ALERT, bytes([2, 80])) if tail == "fatal_alert" else data
    s.raw.sendall(data + bad)
    got_list: list[bytes] = []
    err, _ = timed(lambda: got_list.append(s.tls.read(10)))
    assert err is None, f"the 10 valid bytes were lost: {err!r}"
    assert got_list == [b"last words"]
    err, _ = timed(lambda: s.tls.read(1))
    assert isinstance(err, OSError) and err.args in (FATAL_ALERT, INVALID_MAC), repr(err)


@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_unknown_content_type_after_handshake(scripted: Any, mpssl_side: str) -> None:
    """An encrypted TLS 1.3 record whose inner content type is not a TLS content type."""
    s = scripted("1.3", mpssl_side)
    ours, _ = s.peer.keys()
    s.raw.sendall(ours.seal(99, b"?"))
    err, elapsed = timed(lambda: s.tls.read(1))
    assert isinstance(err, OSError) and not isinstance(err, TimeoutError), repr(err)
    assert err.args in (INVALID_RECORD, UNEXPECTED_MESSAGE), err.args
    assert elapsed < BOUND


def _peer_alerts(s: Scripted, theirs: tlspeer.Direction) -> list[tuple[int, int]]:
    """Decrypt what mpssl sent after our injection: the alerts among it."""
    out = []
    s.raw.settimeout(1.0)
    while True:
        try:
            rec = tlspeer.read_record(s.raw)
        except TimeoutError:
            break
        if rec is None:
            break
        ctype, plain = theirs.open(rec[1])
        if ctype == ALERT:
            out.append((plain[0], plain[1]))
            if plain[0] == 2:
                break
    return out


@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_tls12_renegotiation_refused(scripted: Any, mpssl_side: str) -> None:
    """TLS 1.2 renegotiation: a HelloRequest from a server, or a new ClientHello from a
    client, properly encrypted. RFC 5746/5246 allow refusing with a no_renegotiation warning
    (100) and carrying on; rustls does that once and treats a second request as an attack:
    ``OSError(-28160, 'TLS failure: peer misbehaved: …Renegotiation…')`` (no reference code: the
    reference build has no renegotiation at all)."""
    s = scripted("1.2", mpssl_side)
    ours, theirs = s.peer.keys()
    request = (tlspeer.handshake_msg(HELLO_REQUEST, b"") if mpssl_side == "client"
               else tlspeer.client_hello_bytes())
    s.raw.sendall(ours.seal(HANDSHAKE, request) + ours.seal(APPDATA, b"still here"))
    assert s.tls.read(10) == b"still here"  # the connection carries on
    s.tls.write(b"ack")  # flushes the alert rustls queued, then our data
    s.raw.settimeout(BOUND)
    got = []
    while True:
        rec = tlspeer.read_record(s.raw)
        assert rec is not None
        ctype, plain = theirs.open(rec[1])
        got.append((ctype, plain))
        if ctype == APPDATA:
            break
    assert got[0] == (ALERT, bytes([1, 100])), got  # warning: no_renegotiation
    assert got[-1] == (APPDATA, b"ack")
    # A second attempt is fatal.
    s.raw.sendall(ours.seal(HANDSHAKE, request))
    err, elapsed = timed(lambda: s.tls.read(1))
    assert isinstance(err, OSError) and type(err) is OSError, repr(err)
    assert err.errno == HANDSHAKE_FAILURE, err.args
    assert "renegotiation" in str(err).lower(), err.args
    assert elapsed < BOUND


@pytest.mark.parametrize("mpssl_side", ["client", "server"])
def test_tls13_renegotiation_is_unexpected(scripted: Any, mpssl_side: str) -> None:
    """TLS 1.3 has no renegotiation: a HelloRequest / ClientHello after the handshake is an
    unexpected message (fatal unexpected_message alert to the peer)."""
    s = scripted("1.3", mpssl_side)
    ours, _ = s.peer.keys()
    request = (tlspeer.handshake_msg(HELLO_REQUEST, b"") if mpssl_side == "client"
               else tlspeer.client_hello_bytes())
    s.raw.sendall(ours.seal(HANDSHAKE, request))
    err, elapsed = timed(lambda: s.tls.read(1))
    assert_oserror(err, elapsed, UNEXPECTED_MESSAGE)


def test_warning_alert_flood_after_handshake(scripted: Any) -> None:
    """TLS 1.2 warning alerts (user_canceled, 90) without end: tolerated a few times, then
    fatal, rather than spinning forever."""
    s = scripted("1.2", "client")
    ours, _ = s.peer.keys()
    s.raw.sendall(b"".join(ours.seal(ALERT, bytes([1, 90])) for _ in range(50)))
    err, elapsed = timed(lambda: s.tls.read(1))
    assert isinstance(err, OSError) and type(err) is OSError, repr(err)
    assert err.errno in (HANDSHAKE_FAILURE, FATAL_ALERT[0], UNEXPECTED_MESSAGE[0]), err.args
    assert elapsed < BOUND


# --------------------------------------------------------------------------------------------
# A ClientHello with 10,000 cipher suites


def _huge_hello(with_real_suites: bool) -> bytes:
    hello = tlspeer.client_hello_bytes()
    rng = random.Random(10_000)
    junk = bytearray()
    while len(junk) < 20_000:
        suite = rng.randrange(0x0100, 0xFF00)
        # no real suite (TLS 1.3: 0x1301-0x1305; ECDHE AEAD 0xC02B/0xC02F/0xCCA8/0xCCA9 …)
        if 0x1300 <= suite <= 0x13FF or 0xC000 <= suite <= 0xCCFF:
            continue
        junk += struct.pack("!H", suite)
    suites = bytes(junk) + (tlspeer.cipher_suites_of(hello) if with_real_suites else b"")
    assert len(suites) // 2 >= 10_000
    return tlspeer.replace_cipher_suites(hello, suites)


def test_client_hello_with_10000_suites_and_a_real_one(harness: Harness,
                                                        server_cert: pki.Cert) -> None:
    """20 KB of unknown suites (two records) before the real ones: the server skips them and
    answers with a ServerHello; our client then vanishes, so the server ends in CONN_EOF."""
    hello = _huge_hello(True)

    def peer(s: socket.socket) -> bytes:
        s.sendall(tlspeer.fragment(HANDSHAKE, hello))
        s.settimeout(BOUND)
        rec = tlspeer.read_record(s)
        s.shutdown(socket.SHUT_RDWR)
        return rec[1] if rec else b""

    err, elapsed, answer = victim_server(harness, server_cert, peer)
    assert answer[:1] == b"\x16" and answer[5] == 2, answer[:16]  # ServerHello
    assert isinstance(err, OSError), repr(err)
    assert err.args == CONN_EOF or err.errno in (104, 32), err.args
    assert elapsed < BOUND


def test_client_hello_with_10000_unknown_suites(harness: Harness, server_cert: pki.Cert) -> None:
    """Only unknown suites: handshake_failure alert (40) to the client; the server reports
    the missing common suite with the nearest reference code (-28160)."""
    hello = _huge_hello(False)

    def peer(s: socket.socket) -> bytes:
        s.sendall(tlspeer.fragment(HANDSHAKE, hello))
        return rest(s)

    err, elapsed, answer = victim_server(harness, server_cert, peer)
    assert isinstance(err, OSError) and type(err) is OSError, repr(err)
    assert err.errno == HANDSHAKE_FAILURE, err.args
    assert "cipher" in str(err).lower(), err.args
    assert elapsed < BOUND
    assert tlspeer.alerts_in(answer) == [(2, 40)]


def test_client_hello_with_65534_bytes_of_suites(harness: Harness,
                                                 server_cert: pki.Cert) -> None:
    """The largest cipher_suites vector the length field allows (32,767 suites)."""
    hello = tlspeer.client_hello_bytes()
    suites = b"\x00\xff" * 32766 + b"\x13\x01"
    big = tlspeer.replace_cipher_suites(hello, suites)

    def peer(s: socket.socket) -> bytes:
        try:
            s.sendall(tlspeer.fragment(HANDSHAKE, big))
        except OSError:
            pass
        return rest(s)

    err, elapsed, _answer = victim_server(harness, server_cert, peer)
    assert isinstance(err, OSError) and not isinstance(err, TimeoutError), repr(err)
    # Over rustls's handshake-message size limit, or accepted and then EOF: both bounded.
    assert err.args in (INVALID_RECORD, CONN_EOF) or err.errno in (HANDSHAKE_FAILURE, 104, 32)
    assert elapsed < BOUND


# --------------------------------------------------------------------------------------------
# A peer that closes at every step of the handshake


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair on 127.0.0.1 (an RST needs TCP; socketpair() is AF_UNIX)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(BOUND)
        a = socket.create_connection(listener.getsockname(), timeout=BOUND)
        b, _ = listener.accept()
    return a, b


def _relay_until(victim: socket.socket, other: socket.socket, cut_after: int, how: str
                 ) -> int:
    """Forward records both ways between ``victim`` and ``other`` (lock step, as the handshake
    is); after ``cut_after`` records have been delivered to the victim, close the victim's
    connection (``fin``: orderly; ``rst``: abortive). Returns the records delivered."""
    import selectors

    delivered = 0
    sel = selectors.DefaultSelector()
    sel.register(victim, selectors.EVENT_READ)
    sel.register(other, selectors.EVENT_READ)
    try:
        while delivered < cut_after:
            events = sel.select(BOUND)
            if not events:
                break
            for key, _ in events:
                src = key.fileobj
                dst = other if src is victim else victim
                try:
                    rec = tlspeer.read_record(src)  # type: ignore[arg-type]
                    if rec is None:
                        return delivered
                    if dst is victim:
                        if delivered >= cut_after:
                            continue
                        delivered += 1
                    dst.sendall(rec[1])
                except OSError:  # either end gave up first: the victim reports it
                    return delivered
    finally:
        sel.close()
        if how == "rst":
            victim.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            victim.shutdown(socket.SHUT_RDWR)
        victim.close()
    return delivered


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize("victim_side", ["client", "server"])
def test_peer_closes_at_every_handshake_step(harness: Harness, ca: pki.Cert,
                                             server_cert: pki.Cert, version: str, how: str,
                                             victim_side: str) -> None:
    """For k = 0, 1, 2, …: a relay passes k records to the mpssl side under test, then closes
    on it. Until the victim has what it needs it must fail with CONN_EOF (FIN) or
    ConnectionResetError (RST) within the bound; from then on the handshake succeeds."""
    outcomes = []
    for k in range(12):
        v_sock, v_relay = tcp_pair()
        o_relay, o_sock = socket.socketpair()
        for s in (v_sock, v_relay, o_relay, o_sock):
            harness.track(s)
            s.settimeout(BOUND)
        cctx = mpssl_client_ctx(ca)
        if version == "1.2":
            cctx.set_ciphers([TLS12_SUITE])
        sctx = mpssl_server_ctx(server_cert)

        def other_end(
            sock: socket.socket = o_sock, sctx: Any = sctx, cctx: Any = cctx
        ) -> None:
            try:
                if victim_side == "client":
                    t = sctx.wrap_socket(sock, server_side=True)
                else:
                    t = cctx.wrap_socket(sock, server_hostname="localhost")
                t.close()
            except OSError:
                pass
            finally:
                sock.close()

        helper = harness.spawn(other_end)
        relay = harness.spawn(_relay_until, v_relay, o_relay, k, how)
        made: list[Any] = []
        if victim_side == "client":
            err, elapsed = timed(lambda made=made, cctx=cctx, v_sock=v_sock: made.append(
                cctx.wrap_socket(v_sock, server_hostname="localhost")))
        else:
            err, elapsed = timed(lambda made=made, sctx=sctx, v_sock=v_sock: made.append(
                sctx.wrap_socket(v_sock, server_side=True)))
        delivered = relay.join()
        o_relay.close()
        helper.join()
        for t in made:
            t.close()
        v_sock.close()
        assert elapsed < BOUND, (k, elapsed, err)
        if err is None:
            outcomes.append((k, "ok"))
            continue
        assert not isinstance(err, TimeoutError), (k, err)
        assert isinstance(err, OSError), (k, repr(err))
        if how == "fin":
            # An RST can still win the race when the victim writes into the closed socket.
            assert err.args == CONN_EOF or err.errno in (104, 32), (k, err.args)
        else:
            assert err.errno in (104, 32) or err.args == CONN_EOF, (k, err.args)
        outcomes.append((k, "fail"))
        assert delivered <= k
    kinds = [o for _, o in outcomes]
    assert kinds[0] == "fail"
    if how == "rst":
        # An RST discards what the victim has not read yet, so even "all records delivered"
        # may end in ECONNRESET; what matters is that every step ended as above, in time.
        return
    assert "ok" in kinds, outcomes  # the relay passes enough records eventually
    first_ok = kinds.index("ok")
    assert all(o == "ok" for o in kinds[first_ok:]), outcomes  # never fails once it has all
    assert first_ok >= 1, outcomes
