"""Defect 8: interpreter exit while a daemon thread is inside an mpssl call.

On CPython < 3.14, once ``Py_FinalizeEx`` has set the "finalizing" flag, a thread that takes
the GIL is ended with ``pthread_exit``, a forced unwind; when that unwind ran through mpssl's
Rust frames it aborted the process (``FATAL: exception not rethrown`` from PyO3's
``catch_unwind``, or ``Fatal Python error: PyThreadState_Get`` after PyO3's
``PyGILState_Release`` ran on the dying thread): SIGABRT, exit code 134 in a shell.

Each scenario runs a child interpreter (``CHILD``) with a daemon thread ("the worker") blocked
inside an mpssl call, the GIL released; the main script ends; during module teardown (after the
finalizing flag is set) an object's ``__del__`` wakes the worker (data arrives, the peer goes
away, or an event is set) and waits until the worker has settled: parked (sleeping in a futex
with no further wake-ups, which is where the fix leaves it), or gone. The child must exit 0 and
report the worker parked.

Before the fix (``crates/mpssl-python/src/gil.rs``), ``object-read``, ``object-write``,
``object-handshake``, ``verify`` and ``close`` were killed by SIGABRT in every run (10/10
each, one of the 10 ``object-write`` runs by SIGSEGV; ``close`` printed the reported
``FATAL: exception not rethrown``);
``read``, ``write`` and ``handshake`` (the descriptor path, where the worker only takes the GIL
back at the end of ``py.detach``) already passed thanks to PyO3 0.30's parking
``PyEval_RestoreThread``: they guard that path against regressions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pki
import pytest

RUNS = int(os.environ.get("MPSSL_EXIT_RUNS", "10"))

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="observes threads through /proc (Linux)"
)

CHILD = r'''
import os, socket, sys, threading, time, types
import mpssl

scenario, certdir = sys.argv[1], sys.argv[2]
with open(os.path.join(certdir, "server.pem"), "rb") as f:
    cert = f.read()
with open(os.path.join(certdir, "server.key"), "rb") as f:
    key = f.read()
server_ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
client_ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
client_ctx.verify_mode = mpssl.CERT_NONE

listener = socket.create_server(("127.0.0.1", 0))
craw = socket.create_connection(listener.getsockname())
sraw, _ = listener.accept()
listener.close()

entered = threading.Event()  # the worker is inside Python code that mpssl called
gate = threading.Event()     # ... and blocks there (GIL released) until the kick


class Stream:
    """An object transport: mpssl calls these methods from its own (detached) frames."""

    def __init__(self, sock):
        self.sock = sock

    def recv_into(self, buf):
        return self.sock.recv_into(buf)

    def send(self, data):
        return self.sock.send(data)


class GatedClose(socket.socket):
    """A socket whose close() (called by SSLSocket.close) blocks with the GIL released."""

    def close(self):
        entered.set()
        gate.wait()
        super().close()


def task(tid, name):
    try:
        with open(f"/proc/self/task/{tid}/{name}") as f:
            return f.read()
    except OSError:
        return None


def switches(tid):
    status = task(tid, "status") or ""
    for line in status.splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    return -1


def blocked(tid):
    """Asleep in the kernel (poll, a socket wait or a futex), not running."""
    stat = task(tid, "stat")
    return stat is not None and stat.rsplit(")", 1)[1].split()[0] in ("S", "D")


server = None
if scenario in ("read", "object-read", "write", "object-write"):
    transport = Stream(craw) if scenario.startswith("object-") else craw
    got = {}
    peer = threading.Thread(target=lambda: got.setdefault("s", server_ctx.wrap_socket(sraw, server_side=True)))
    peer.start()
    tls = client_ctx.wrap_socket(transport)
    peer.join()
    server = got["s"]
    if scenario.endswith("read"):
        work = lambda: tls.read(5)
    else:
        work = lambda: tls.write(b"x" * (64 << 20))
elif scenario in ("handshake", "object-handshake"):
    transport = Stream(craw) if scenario.startswith("object-") else craw
    work = lambda: client_ctx.wrap_socket(transport)
elif scenario == "verify":
    def callback(cert, depth):
        entered.set()
        gate.wait()
        return 0
    client_ctx.verify_mode = mpssl.CERT_OPTIONAL
    client_ctx.verify_callback = callback
    work = lambda: client_ctx.wrap_socket(craw)
    threading.Thread(target=lambda: server_ctx.wrap_socket(sraw, server_side=True), daemon=True).start()
elif scenario == "close":
    got = {}
    peer = threading.Thread(target=lambda: got.setdefault("s", server_ctx.wrap_socket(sraw, server_side=True)))
    peer.start()
    tls = client_ctx.wrap_socket(GatedClose(fileno=craw.detach()))
    peer.join()
    work = tls.close
else:
    raise SystemExit(f"unknown scenario {scenario}")

worker = threading.Thread(target=work, daemon=True)
worker.start()
tid = worker.native_id
if scenario in ("verify", "close") and not entered.wait(10):
    raise SystemExit(f"{scenario}: the worker never reached the Python code")


def quiet(tid):
    """Blocked in an untimed wait: no wake-up for 20 ms (a thread waiting for the GIL wakes
    every 5 ms)."""
    n = switches(tid)
    if not blocked(tid):
        return False
    time.sleep(0.02)
    return blocked(tid) and switches(tid) == n


deadline = time.monotonic() + 10
while not quiet(tid):  # inside the mpssl call, waiting with the GIL released
    if time.monotonic() > deadline:
        raise SystemExit(f"{scenario}: the worker never blocked")
    time.sleep(0.001)


def make_late():
    # Everything __del__ needs is bound here: module globals are None by then.
    write, monotonic, sleep = os.write, time.monotonic, time.sleep
    sc, srv, sr, g, t = scenario, server, sraw, gate, tid
    shut = socket.SHUT_RDWR
    get_switches, get_blocked, get = switches, blocked, task

    def kick():
        if sc in ("read", "object-read"):
            srv.write(b"hello")  # data arrives: the worker decrypts it and takes the GIL
        elif sc in ("verify", "close"):
            g.set()  # the Python code mpssl called returns into the eval loop
        else:
            sr.shutdown(shut)  # the peer goes away: the blocked write/handshake fails

    def settle(before):
        # The worker woke up and went back to sleep, and stays asleep: parked.
        deadline = monotonic() + 10
        while monotonic() < deadline:
            if get(t, "stat") is None:
                return "gone"
            n = get_switches(t)
            if n > before and get_blocked(t):
                sleep(0.05)
                if get_switches(t) == n and get_blocked(t):
                    return "parked in " + (get(t, "wchan") or "?")
            sleep(0.002)
        return "still running"

    class Late:
        def __del__(self):
            write(2, b"teardown: finalizing\n")
            before = get_switches(t)
            kick()
            write(2, ("worker " + settle(before) + "\n").encode())

    return Late()


# Dropped when sys.modules is cleared at teardown, after the finalizing flag is set.
holder = types.ModuleType("_mpssl_exit_holder")
holder.late = make_late()
sys.modules[holder.__name__] = holder
del holder
os.write(2, b"main: done\n")
'''

SCENARIOS = [
    "read",
    "write",
    "handshake",
    "object-read",
    "object-write",
    "object-handshake",
    "verify",
    "close",
]


@pytest.fixture(scope="module")
def certdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("exit")
    leaf = pki.make_cert("localhost", issuer=pki.make_ca())
    (d / "server.pem").write_bytes(leaf.chain_pem)
    (d / "server.key").write_bytes(leaf.key_bytes("pkcs8", "pem"))
    yield d


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_exit_with_daemon_thread_inside_mpssl(scenario: str, certdir: Path) -> None:
    for run in range(RUNS):
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, scenario, str(certdir)],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        detail = f"run {run + 1}/{RUNS}, exit code {proc.returncode}, stderr:\n{proc.stderr}"
        assert proc.returncode == 0, detail
        assert "teardown: finalizing" in proc.stderr, detail
        assert "worker parked" in proc.stderr, detail
