"""The committed test PKI (``testdata/``) against the reference MicroPython (Mbed TLS 3.6):
a ``CERT_REQUIRED`` reference client trusting a kind's CA accepts an mpssl server presenting
that kind's ``localhost`` leaf, directly under the CA and under the intermediate. This is the
check that Mbed TLS takes the committed dates (2025 to 2125; GeneralizedTime after 2049) and
chains. The reference's Mbed TLS has no Ed25519, so that kind is left to CPython and the
openssl CLI (``test_matrix.py``, which uses the same files).
"""

from __future__ import annotations

import socket
from typing import Any

import mpssl
import pki
import pytest
from interop_support import Interop, serve_one

pytestmark = pytest.mark.interop

CLIENT = """\
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=open(sys.argv[2], "rb").read())
s = socket.socket()
s.connect(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
t = ctx.wrap_socket(s, server_hostname="localhost")
t.write(b"ping\\n")
print("got", t.read(4))
t.close()
"""


@pytest.mark.parametrize("name", ["server", "server-inter"])
@pytest.mark.parametrize("kind", ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-4096"])
def test_reference_client_accepts_the_committed_pki(
    iop: Interop, micropython: str, kind: str, name: str
) -> None:
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(
        pki.testdata(f"{kind}/{name}.chain.pem"), pki.testdata(f"{kind}/{name}.key.pem")
    )

    def handler(conn: socket.socket) -> Any:
        tls = iop.track_tls(sctx.wrap_socket(conn, server_side=True))
        got = tls.read(5)
        tls.write(b"pong")
        return got

    task, port = serve_one(iop, handler)
    script = iop.write("client.py", CLIENT)
    ca = iop.write("ca.der", pki.testdata(f"{kind}/ca.der"))
    proc = iop.start([micropython, str(script), str(port), str(ca)])
    proc.expect(r"^got b'pong'$")
    assert proc.wait() == 0, proc.transcript()
    assert task.join() == b"ping\n"
