"""Short versions of the load and soak scripts in ``tests/stress/`` (the full ones run with
``make stress``: 1,000 connections; 10 minutes of churn from 8 clients).

Each script runs in its own process (``--json``), so its memory and descriptor figures are its
own and a crash there cannot take pytest down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

STRESS = Path(__file__).parent / "stress"


def run_script(name: str, *args: str, timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(STRESS / name), "--json", *args],
        check=False, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.stdout.strip(), f"no output; exit {proc.returncode}; stderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["exit"] = proc.returncode
    result["stderr"] = proc.stderr
    return result


def test_echo_load_short() -> None:
    """100 concurrent connections x 100 KB through one selectors-based mpssl echo server:
    every byte back, checked by SHA-256."""
    r = run_script("echo_load.py", "--connections", "100", "--size", str(100 * 1024),
                   "--timeout", "60", timeout=90)
    assert r["ok"] == 100, r
    assert r["bytes_lost"] == 0 and r["corrupted"] == 0, r
    assert r["errors"] == {}, r["errors"]
    assert r["server"]["completed"] == 100 and r["server"]["errors"] == 0, r["server"]
    assert r["server"]["open_at_exit"] == 0
    assert r["exit"] == 0, r["stderr"]
    print(f"\n100 x 100 KB: {r['throughput_MBps']} MB/s, p99 {r['latency_p99_ms']} ms")


@pytest.mark.parametrize("size", [1, 16384, 16385, 1 << 20])
def test_echo_load_record_boundaries(size: int) -> None:
    """Payload sizes around the record size and a 1 MB one, 20 connections each."""
    r = run_script("echo_load.py", "--connections", "20", "--size", str(size), "--seed", "1",
                   "--timeout", "60", timeout=90)
    assert r["ok"] == 20 and r["bytes_lost"] == 0 and r["corrupted"] == 0, r
    assert r["exit"] == 0


def test_churn_short() -> None:
    """10 s of connect/transfer/close from 2 client threads: RSS within 5 % of the baseline
    after warm-up, descriptors back to where they started, every echo intact."""
    r = run_script("churn.py", "--duration", "10", "--clients", "2", "--sample", "1",
                   "--warmup", "4", timeout=60)
    assert r["connections"] > 50, r
    assert r["corrupted"] == 0 and r["errors"] == 0 and r["server_errors"] == 0, r
    assert r["fds_end"] <= r["fds_start"], (r["fds_start"], r["fds_end"])
    assert r["rss_growth_pct"] <= 5.0, r["samples"]
    assert not r["stuck_threads"]
    assert r["passed"] and r["exit"] == 0, r
    print(f"\nchurn 10 s: {r['connections']} connections, RSS growth {r['rss_growth_pct']} %")




def test_tcp_handshake_is_not_delayed_by_nagle() -> None:
    """Median of 10 handshakes plus a one-byte round trip over TCP loopback, default socket
    options: well under a delayed-ACK period (40 ms on Linux)."""
    import socket
    import statistics
    import threading
    import time

    sys.path.insert(0, str(STRESS))
    import loadlib

    pki = loadlib.Pki.make()
    sctx, cctx = pki.server_ctx(), pki.client_ctx()
    times = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        for _ in range(10):
            a = socket.create_connection(listener.getsockname(), timeout=10)
            b, _ = listener.accept()
            out: dict[str, Any] = {}
            t = threading.Thread(target=lambda out=out, b=b: out.setdefault(
                "s", sctx.wrap_socket(b, server_side=True)))
            t0 = time.monotonic()
            t.start()
            c = cctx.wrap_socket(a, server_hostname="localhost")
            t.join(10)
            s = out["s"]
            c.write(b"x")
            assert s.read(1) == b"x"
            s.write(b"y")
            assert c.read(1) == b"y"
            times.append(time.monotonic() - t0)
            c.close()
            s.close()
    assert statistics.median(times) < 0.015, [round(x * 1000, 1) for x in times]
