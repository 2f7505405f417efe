"""DTLS in the firmware (reference.md §2.10) beyond MicroPython's own ``tls_dtls`` tests,
each run on the mpssl firmware and on the Mbed TLS build of the same tree (the reference):

* one process drives a DTLS client and server over two non-blocking UDP sockets on loopback:
  the HelloVerify failure of the first server wrap, the second wrap completing, ``recv(3)``
  then ``recv(100)`` of one 10-byte record, ``recv_into``/``send``/``sendall``, the version,
  ``getpeercert``, and the ``client_id`` rules (which values a DTLS server takes, the host
  name rule first, a client and a TLS server ignoring it). Both firmwares must print the same
  lines, except the one deliberate difference: mpssl's ``close()`` sends close_notify (the
  peer reads ``b''``), the reference frees its state without sending it (the peer sees
  nothing);
* datagram loss and reordering: a Python UDP relay between two firmware processes drops the
  client's ClientHello with the cookie and the server's first flight twice, holds the
  client's key-exchange flight back behind its next datagram and swaps two application
  datagrams (certificates, and PSK: the context's ``psk_identity``/``psk_key``/
  ``server_psk_keys`` over DTLS); the handshake completes through the retransmission timers
  (which run because the sockets are non-blocking and the handshake's 1 ms wait loop keeps
  calling into the engine) and the data arrives, reordered as sent, in every pairing of the
  two firmwares.
"""

from __future__ import annotations

import select
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from test_firmware import MBEDTLS, MPSSL, TESTS, need

CERTS = TESTS / "multi_net"

PAIR = """
import socket, time, tls

with open(%(cert)r, "rb") as f:
    cert = f.read()
with open(%(key)r, "rb") as f:
    key = f.read()


def addr(port):
    return socket.getaddrinfo("127.0.0.1", port)[0][-1]


def until(step, done=lambda r: r):
    r = None
    for _ in range(10000):
        r = step()
        if done(r):
            break
        time.sleep_ms(1)
    return r


srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(addr(%(sp)d))
srv.connect(addr(%(cp)d))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.bind(addr(%(cp)d))
cli.connect(addr(%(sp)d))
srv.setblocking(False)
cli.setblocking(False)

sctx = tls.SSLContext(tls.PROTOCOL_DTLS_SERVER)
sctx.load_cert_chain(cert, key)
cctx = tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)
cctx.load_verify_locations(cert)
print("protocols", tls.PROTOCOL_DTLS_CLIENT, tls.PROTOCOL_DTLS_SERVER, cctx.verify_mode,
      sctx.verify_mode)

c = cctx.wrap_socket(cli, server_hostname="micropython.local", do_handshake_on_connect=False)
s = sctx.wrap_socket(srv, server_side=True, client_id=b"client", do_handshake_on_connect=False)
print("methods", [hasattr(s, m) for m in ("recv", "recv_into", "send", "sendall")])

# One process drives both ends: the client's write and the server's read step the handshake.
sent = None
got = None
for _ in range(10000):
    if sent is None:
        sent = c.write(b"0123456789")
    try:
        got = s.recv(3)
    except OSError as e:
        print("server wrap 1:", e)
        s = sctx.wrap_socket(srv, server_side=True, client_id=b"client",
                             do_handshake_on_connect=False)
        continue
    if got:
        break
    time.sleep_ms(1)
print("sent", sent)
print("recv(3)", got)
print("recv(100)", s.recv(100))
print("versions", c.cipher()[1], s.cipher()[1])
print("send", s.send(b"pong"))
buf = bytearray(8)
n = until(lambda: c.recv_into(buf))
print("recv_into", n, bytes(buf[:n]))
print("sendall", c.sendall(b"all"))
print("got", until(lambda: s.recv(10)))
print("peer cert", c.getpeercert(True) == cert if hasattr(c, "getpeercert") else True)
s.close()
r = None
for _ in range(300):
    r = c.recv(10)
    if r is not None:
        break
    time.sleep_ms(1)
print("after close", r)
c.close()

# client_id rules (no handshake).
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for cid in (None, 4, "str", b"", bytearray(b"x"), memoryview(b"m"), 1.5):
    try:
        sctx.wrap_socket(u, server_side=True, client_id=cid, do_handshake_on_connect=False)
        print("client_id", repr(cid), "ok")
    except OSError as e:
        print("client_id", repr(cid), e)
try:
    sctx.wrap_socket(u, server_side=True, do_handshake_on_connect=False)
except OSError as e:
    print("no client_id", e)
try:
    sctx.wrap_socket(u, do_handshake_on_connect=False)
except OSError as e:
    print("server_side=False", e)
cctx.wrap_socket(u, server_hostname="x", client_id=4, do_handshake_on_connect=False)
print("dtls client client_id=4 ok")
tctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
tctx.wrap_socket(u, server_side=True, client_id=4, do_handshake_on_connect=False)
print("tls server client_id=4 ok")
try:
    cctx.wrap_socket(u, do_handshake_on_connect=False)
except ValueError as e:
    print("client", e)
u.close()
print("done")
"""

EXPECTED = """\
protocols 2 3 2 0
methods [True, True, True, True]
server wrap 1: (-27264, 'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')
sent 10
recv(3) b'012'
recv(100) b'3456789'
versions DTLSv1.2 DTLSv1.2
send 4
recv_into 4 b'pong'
sendall 3
got b'all'
peer cert True
after close {after_close}
client_id None (-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')
client_id 4 (-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')
client_id 'str' ok
client_id b'' ok
client_id bytearray(b'x') ok
client_id <memoryview> ok
client_id 1.5 (-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')
no client_id (-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')
server_side=False (-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')
dtls client client_id=4 ok
tls server client_id=4 ok
client CERT_REQUIRED requires server_hostname
done
"""

FIRMWARES = {"mpssl": MPSSL, "mbedtls": MBEDTLS}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(template: str, values: dict[str, object]) -> str:
    text = template
    for name, value in values.items():
        text = text.replace(f"%({name})r", repr(value)).replace(f"%({name})d", str(value))
    return text


@pytest.mark.timeout(120)
@pytest.mark.parametrize("firmware", ["mpssl", "mbedtls"])
def test_dtls_pair_in_one_process(firmware: str, tmp_path: Path) -> None:
    script = tmp_path / "pair.py"
    script.write_text(
        fill(
            PAIR,
            {
                "cert": str(CERTS / "ec_cert.der"),
                "key": str(CERTS / "ec_key.der"),
                "sp": free_udp_port(),
                "cp": free_udp_port(),
            },
        )
    )
    proc = subprocess.run(
        [str(need(FIRMWARES[firmware])), str(script)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    # mpssl's close() sends close_notify (the peer reads the end: b''); the reference's frees
    # the state without a word, so its peer's non-blocking recv keeps giving None.
    after_close = "b''" if firmware == "mpssl" else "None"
    assert proc.stdout + proc.stderr == EXPECTED.format(after_close=after_close)
    assert proc.returncode == 0


SERVER = """
import socket, time, tls

with open(%(cert)r, "rb") as f:
    cert = f.read()
with open(%(key)r, "rb") as f:
    key = f.read()


def until(step):
    for _ in range(30000):
        r = step()
        if r:
            return r
        time.sleep_ms(1)


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(socket.getaddrinfo("127.0.0.1", %(port)d)[0][-1])
ctx = tls.SSLContext(tls.PROTOCOL_DTLS_SERVER)
if %(psk)d:
    ctx.server_psk_keys = {b"device-7": b"dtls-psk-key-0123456789"}
else:
    ctx.load_cert_chain(cert, key)
print("ready")
t = None
for attempt in range(10):
    s.setblocking(True)
    _, peer = s.recvfrom(1, socket.MSG_PEEK)
    s.connect(peer)
    s.setblocking(False)
    try:
        t = ctx.wrap_socket(s, server_side=True, client_id=repr(peer).encode())
        break
    except OSError as e:
        print("wrap:", e)
for i in range(3):
    print(until(lambda: t.recv(32)))
for i in range(3):
    until(lambda: t.send(b"server to client %d" % i))
t.close()
"""

CLIENT = """
import socket, time, tls

with open(%(cert)r, "rb") as f:
    cert = f.read()


def until(step):
    for _ in range(30000):
        r = step()
        if r:
            return r
        time.sleep_ms(1)


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(socket.getaddrinfo("127.0.0.1", %(port)d)[0][-1])
s.setblocking(False)
ctx = tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)
if %(psk)d:
    ctx.psk_identity = b"device-7"
    ctx.psk_key = b"dtls-psk-key-0123456789"
else:
    ctx.load_verify_locations(cert)
t = ctx.wrap_socket(s, server_hostname="micropython.local")
print(t.cipher()[1], t.cipher()[0].startswith("TLS-PSK-"))
for i in range(3):
    until(lambda: t.send(b"client to server %d" % i))
for i in range(3):
    print(until(lambda: t.recv(32)))
t.close()
"""


def key_exchange(data: bytes) -> bool:
    """A datagram that starts with a DTLS handshake record (content type 22) carrying a
    ClientKeyExchange (handshake type 16): the client's second flight."""
    return len(data) > 13 and data[0] == 22 and data[13] == 16


def application_data(data: bytes) -> bool:
    """A datagram that starts with a DTLS application-data record (content type 23)."""
    return len(data) > 13 and data[0] == 23


class LossyRelay:
    """A UDP relay on loopback: the client talks to ``port``, the relay to the server's port
    from a socket of its own. Datagrams are counted per direction from 1; those numbered in
    ``drop`` are dropped; for each predicate of ``hold`` in turn, the first client datagram it
    accepts is held back and sent right after the next client datagram: a swap."""

    def __init__(
        self,
        server_port: int,
        drop: dict[str, set[int]],
        hold: list[Callable[[bytes], bool]],
    ) -> None:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = int(self.front.getsockname()[1])
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(("127.0.0.1", server_port))
        self.drop = drop
        self.hold = list(hold)
        self.count = {"up": 0, "down": 0}
        self.dropped: list[tuple[str, int]] = []
        self.swapped: list[tuple[str, int]] = []
        self.client: tuple[str, int] | None = None
        self.held: dict[str, bytes] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def send(self, way: str, data: bytes) -> None:
        try:
            if way == "up":
                self.back.send(data)
            elif self.client is not None:
                self.front.sendto(data, self.client)
        except ConnectionRefusedError:
            pass

    def forward(self, way: str, data: bytes) -> None:
        self.count[way] += 1
        n = self.count[way]
        if n in self.drop.get(way, set()):
            self.dropped.append((way, n))
            return
        if way == "up" and not self.held and self.hold and self.hold[0](data):
            self.hold.pop(0)
            self.held[way] = data
            return
        self.send(way, data)
        if way in self.held:
            self.swapped.append((way, n))
            self.send(way, self.held.pop(way))

    def run(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.05)
            for sock in ready:
                try:
                    data, peer = sock.recvfrom(65536)
                except ConnectionRefusedError:
                    # An ICMP port-unreachable for an earlier datagram (an end that exited).
                    continue
                if sock is self.front:
                    self.client = peer
                    self.forward("up", data)
                else:
                    self.forward("down", data)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.front.close()
        self.back.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("psk", [False, True], ids=["cert", "psk"])
@pytest.mark.parametrize(
    ("server", "client"), [("mpssl", "mpssl"), ("mpssl", "mbedtls"), ("mbedtls", "mpssl")]
)
def test_handshake_survives_loss_and_reordering(
    server: str, client: str, psk: bool, tmp_path: Path
) -> None:
    server_fw, client_fw = need(FIRMWARES[server]), need(FIRMWARES[client])
    cert, key = str(CERTS / "ec_cert.der"), str(CERTS / "ec_key.der")
    server_port = free_udp_port()
    # Client -> server: the ClientHello with the cookie (2nd datagram) is lost; the client's
    # key-exchange flight is held back until its next datagram (the flight again, sent when
    # its timer fires or the server's flight comes again) has passed; the first application
    # datagram is held back until the second has passed (the client sends three at once):
    # the server reads them as they come, 1 before 0. Server -> client: the server's first
    # flight is lost twice (2nd and 3rd datagrams). Each loss is repaired by a retransmission.
    relay = LossyRelay(
        server_port, drop={"up": {2}, "down": {2, 3}}, hold=[key_exchange, application_data]
    )
    (tmp_path / "server.py").write_text(
        fill(SERVER, {"cert": cert, "key": key, "port": server_port, "psk": int(psk)})
    )
    (tmp_path / "client.py").write_text(
        fill(CLIENT, {"cert": cert, "port": relay.port, "psk": int(psk)})
    )
    srv = subprocess.Popen(
        [str(server_fw), str(tmp_path / "server.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert srv.stdout is not None
        assert srv.stdout.readline() == "ready\n"
        cli = subprocess.run(
            [str(client_fw), str(tmp_path / "client.py")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        server_out, _ = srv.communicate(timeout=60)
    finally:
        srv.kill()
        srv.wait()
        if srv.stdout is not None:
            srv.stdout.close()
        relay.close()
    assert cli.stdout + cli.stderr == (
        f"DTLSv1.2 {psk}\n" + "".join(f"b'server to client {i}'\n" for i in range(3))
    )
    lines = server_out.splitlines()
    assert lines[0] == "wrap: (-27264, 'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')", server_out
    # A lost ClientHello may cost one more HelloVerify round (as with Mbed TLS); then the data.
    data = [line for line in lines if not line.startswith("wrap: ")]
    assert data == [f"b'client to server {i}'" for i in (1, 0, 2)], server_out
    assert all(
        line == "wrap: (-27264, 'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')"
        for line in lines
        if line.startswith("wrap: ")
    ), server_out
    assert relay.dropped == [("up", 2), ("down", 2), ("down", 3)]
    assert [way for way, _ in relay.swapped] == ["up", "up"], relay.swapped
    assert cli.returncode == 0
    assert srv.returncode == 0
