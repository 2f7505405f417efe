"""Allocation failure in the firmware is ``OSError(ENOMEM)``, as in the reference (issue 10).

The firmware runs under an address-space limit (``RLIMIT_AS``) a few MB above what it needs to
start, with a GC heap large enough that MicroPython itself does not run out first; the script
keeps TLS connections open until the engine's memory runs out. Before ``oom.rs`` the first
failed Rust allocation aborted the process (``memory allocation of N bytes failed``, SIGABRT).
Memory that aws-lc allocates itself (C ``malloc``, not the Rust allocator) fails with its own
error (``OSError(-28160, 'TLS failure: unexpected error: key generation failed')``) when it
happens to be the allocation that fails first; the script then goes on until ENOMEM."""

from __future__ import annotations

import resource
import subprocess

import pytest
from test_firmware import MPSSL, need

HEAP = "16M"

VMSIZE = """print(open("/proc/self/status").read().split("VmSize:")[1].split()[0])"""

EXHAUST = """
import gc, io, tls

class Sink(io.IOBase):
    def write(self, buf):
        return len(buf)
    def readinto(self, buf):
        return None
    def ioctl(self, cmd, arg):
        return 0

def connect(keep):
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_NONE
    s = ctx.wrap_socket(Sink(), do_handshake_on_connect=False)
    keep.append((ctx, s))
    try:
        s.write(b"x" * 1000)
    except OSError as e:
        if e.errno != 11:
            raise

keep = []
others = []
for _ in range(20000):
    try:
        connect(keep)
    except OSError as e:
        if e.args == (12,):
            print("ENOMEM after", len(keep) > 0)
            break
        others.append(repr(e))
    except Exception as e:
        others.append(repr(e))
if len(others) > 3:
    print("other errors:", others[:3])
for c, s in keep:
    s.close()
keep = []
for attempt in range(3):
    gc.collect()
    try:
        connect(keep)
        print("after freeing: a new connection works")
        break
    except OSError as e:
        print("after freeing:", repr(e))
"""

EXPECTED = "ENOMEM after True\nafter freeing: a new connection works\n"


def run_limited(script: str, limit: int | None) -> subprocess.CompletedProcess[str]:
    def lower() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [str(need(MPSSL)), "-X", f"heapsize={HEAP}", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lower,
    )


@pytest.mark.parametrize("extra_mb", [4, 16])
def test_engine_memory_exhausted_is_enomem_and_memory_comes_back(extra_mb: int) -> None:
    start = run_limited(VMSIZE, None)
    assert start.returncode == 0, start.stderr
    limit = (int(start.stdout.strip()) + extra_mb * 1024) * 1024
    proc = run_limited(EXHAUST, limit)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, EXPECTED, "")
