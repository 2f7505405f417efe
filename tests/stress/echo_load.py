#!/usr/bin/env python3
"""Load test: N concurrent TLS connections to one ``selectors``-based mpssl echo server.

Every connection sends ``--size`` bytes of random data and reads the echo back; the echo is
checked by SHA-256 (0 bytes lost or corrupted is the pass condition). The server runs in a
child process (this script with ``--serve``) so client and server use separate CPUs.

    python tests/stress/echo_load.py --connections 1000 --size 102400
    python tests/stress/echo_load.py --connections 100 --json     # machine-readable

Prints throughput (payload MB/s, echoed both ways counted once) and handshake and
round-trip latency percentiles. Exit status 0 only if every connection was echoed intact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loadlib


def serve(cert_dir: Path, nodelay: bool) -> int:
    """Child: run the echo server until SIGTERM; print its statistics as JSON on exit."""
    loadlib.raise_nofile(65536)
    loadlib.NODELAY = nodelay
    pki = loadlib.Pki(
        (cert_dir / "ca.der").read_bytes(),
        (cert_dir / "leaf.der").read_bytes(),
        (cert_dir / "key.der").read_bytes(),
    )
    server = loadlib.EchoServer(pki.server_ctx())
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    print(f"PORT {server.address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        st = server.stats
        open_conns = len(server.conns)
        server.close()
        print(json.dumps({
            "accepted": st.accepted, "completed": st.completed, "errors": st.errors,
            "bytes_echoed": st.bytes_echoed, "error_kinds": st.error_kinds,
            "open_at_exit": open_conns, "rss_mb": round(loadlib.rss_bytes() / 2**20, 1),
        }), flush=True)
    return 0


def run(connections: int, size: int, timeout: float, seed: int | None, nodelay: bool = False
        ) -> dict[str, object]:
    loadlib.NODELAY = nodelay
    nofile = loadlib.raise_nofile(max(4096, 2 * connections + 256))
    if nofile < connections + 64:
        raise SystemExit(f"RLIMIT_NOFILE {nofile} is too low for {connections} connections")
    pki = loadlib.Pki.make()
    with tempfile.TemporaryDirectory(prefix="mpssl-load-") as d:
        cert_dir = Path(d)
        (cert_dir / "ca.der").write_bytes(pki.ca_der)
        (cert_dir / "leaf.der").write_bytes(pki.leaf_der)
        (cert_dir / "key.der").write_bytes(pki.key_der)
        child = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", str(cert_dir)]
            + (["--nodelay"] if nodelay else []),
            stdout=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line.startswith("PORT "):
                raise SystemExit(f"server did not start: {line!r}")
            address = ("127.0.0.1", int(line.split()[1]))
            rng = __import__("random").Random(seed)
            payloads = [rng.randbytes(size) if seed is not None else os.urandom(size)
                        for _ in range(connections)]
            digests = [hashlib.sha256(p).digest() for p in payloads]
            ctx = pki.client_ctx()
            t0 = time.monotonic()
            conns = loadlib.run_clients(ctx, address, payloads, t0 + timeout)
            elapsed = time.monotonic() - t0
        finally:
            child.send_signal(signal.SIGTERM)
            try:
                out, _ = child.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                out, _ = child.communicate()
        server_stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}

    ok = [c for c in conns if c.done and c.error is None
          and hashlib.sha256(c.received).digest() == digests[c.index]]
    errors: dict[str, int] = {}
    for c in conns:
        if c.error is not None:
            errors[c.error] = errors.get(c.error, 0) + 1
    lost = sum(len(c.payload) - len(c.received) for c in conns)
    corrupted = sum(1 for c in conns if c.done and
                    hashlib.sha256(c.received).digest() != digests[c.index])
    latencies = [c.latency for c in ok]
    handshakes = [c.handshake_time for c in conns if c.handshaken]
    return {
        "connections": connections,
        "size": size,
        "nodelay": nodelay,
        "ok": len(ok),
        "failed": connections - len(ok),
        "bytes_lost": lost,
        "corrupted": corrupted,
        "errors": errors,
        "elapsed_s": round(elapsed, 3),
        "throughput_MBps": round(size * len(ok) / elapsed / 1e6, 2),
        "latency_p50_ms": round(loadlib.percentile(latencies, 50) * 1000, 1),
        "latency_p99_ms": round(loadlib.percentile(latencies, 99) * 1000, 1),
        "latency_max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
        "handshake_p50_ms": round(loadlib.percentile(handshakes, 50) * 1000, 1),
        "handshake_p99_ms": round(loadlib.percentile(handshakes, 99) * 1000, 1),
        "client_rss_mb": round(loadlib.rss_bytes() / 2**20, 1),
        "server": server_stats,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--size", type=int, default=100 * 1024, help="bytes per connection")
    ap.add_argument("--timeout", type=float, default=300.0, help="overall deadline, seconds")
    ap.add_argument("--seed", type=int, default=None, help="deterministic payloads")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--nodelay", action="store_true",
                    help="set TCP_NODELAY on both ends (compare with the default)")
    ap.add_argument("--serve", metavar="CERT_DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        return serve(Path(args.serve), args.nodelay)
    r = run(args.connections, args.size, args.timeout, args.seed, args.nodelay)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"echo load: {r['connections']} concurrent connections x {r['size']} bytes"
              + (" (TCP_NODELAY)" if r["nodelay"] else ""))
        print(f"  ok {r['ok']}, failed {r['failed']}, bytes lost {r['bytes_lost']}, "
              f"corrupted {r['corrupted']}")
        print(f"  elapsed {r['elapsed_s']} s, throughput {r['throughput_MBps']} MB/s "
              f"(payload, echoed)")
        print(f"  round trip p50 {r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms, "
              f"max {r['latency_max_ms']} ms")
        print(f"  handshake p50 {r['handshake_p50_ms']} ms, p99 {r['handshake_p99_ms']} ms")
        print(f"  server: {r['server']}")
        if r["errors"]:
            print(f"  errors: {r['errors']}")
    passed = (r["ok"] == r["connections"] and r["bytes_lost"] == 0 and r["corrupted"] == 0)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
