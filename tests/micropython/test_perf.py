"""Costs of the mpssl firmware that ``make bench-micropython`` measures, pinned where a test can
pin them without timing anything on the wall clock: CPU time of a whole firmware process, next
to the Mbed TLS build doing the same work (so a slower machine moves both)."""

from __future__ import annotations

import resource
import socket
import subprocess
from pathlib import Path

from test_firmware import MBEDTLS, MPSSL, TESTS, need

CERTS = TESTS / "multi_net"

# One process: a server thread and a client, one full handshake and one byte each way.
ONE_HANDSHAKE = """
import socket, tls, _thread

CERT = open(%(cert)r, "rb").read()
KEY = open(%(key)r, "rb").read()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(socket.getaddrinfo("127.0.0.1", %(port)d)[0][-1])
ls.listen(1)
done = _thread.allocate_lock()
done.acquire()

def serve():
    s, _ = ls.accept()
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    t = ctx.wrap_socket(s, server_side=True)
    t.write(t.read(1))
    t.close()
    done.release()

_thread.start_new_thread(serve, ())
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(CERT)
c = socket.socket()
c.connect(socket.getaddrinfo("127.0.0.1", %(port)d)[0][-1])
t = ctx.wrap_socket(c, server_hostname="micropython.local")
t.write(b"x")
print(t.read(1))
t.close()
done.acquire()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_cpu_seconds(firmware: Path, script: str) -> float:
    """User + system CPU time of one firmware process running ``script``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [str(need(firmware)), "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert out.returncode == 0 and out.stdout == "b'x'\n", out.stdout + out.stderr
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def one_handshake_cpu(firmware: Path) -> float:
    """The least of three runs (the others had a cold cache or a busy machine)."""
    runs = []
    for _ in range(3):
        script = ONE_HANDSHAKE % {
            "cert": str(CERTS / "ec_cert.der"),
            "key": str(CERTS / "ec_key.der"),
            "port": free_port(),
        }
        runs.append(process_cpu_seconds(firmware, script))
    return min(runs)


def test_the_first_handshake_of_a_process_costs_no_entropy_start_up() -> None:
    # aws-lc's CPU jitter entropy source, on by default, collects its root seed when the process
    # first asks for random bytes: about 70 ms of CPU (a one-handshake process took 73 ms,
    # against 42 ms for the Mbed TLS build's whole process and 5 ms without it). The firmware's
    # staticlib is built without it (seeded from the OS, as Mbed TLS is).
    mpssl = one_handshake_cpu(MPSSL)
    mbedtls = one_handshake_cpu(MBEDTLS)
    assert mpssl < mbedtls / 2, (
        f"one handshake in a fresh mpssl firmware: {mpssl * 1000:.1f} ms of CPU, "
        f"Mbed TLS build: {mbedtls * 1000:.1f} ms"
    )
