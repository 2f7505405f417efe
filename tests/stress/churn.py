#!/usr/bin/env python3
"""Soak test: connect, transfer, close in a loop from several client threads, for a while.

One process holds both ends (a ``selectors`` mpssl echo server thread and ``--clients``
client threads, each with blocking mpssl sockets), so its resident memory and descriptor
count cover everything mpssl allocates. Every ``--sample`` seconds it records RSS and open
descriptors. After ``--warmup`` seconds the first sample is the baseline; the run passes if
no later sample exceeds it by more than ``--max-growth`` (5 %), the descriptor count returns
to its starting value, and every transfer was echoed intact.

Every ``--new-context-every`` connections a client makes a fresh SSLContext (context churn),
and the client closes as soon as it has its echo (before the server's close_notify), so
contexts, sessions, tickets and half-closed connections are all part of the loop.

    python tests/stress/churn.py --duration 600 --clients 8
    python tests/stress/churn.py --duration 20 --clients 2 --sample 2 --warmup 8 --json
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loadlib


def client_loop(i: int, pki: loadlib.Pki, address: tuple[Any, ...], stop: threading.Event,
                size: int, new_ctx_every: int, counts: dict[str, int],
                errors: list[str], lock: threading.Lock) -> None:
    rng = random.Random(i)
    ctx = pki.client_ctx()
    n = 0
    while not stop.is_set():
        if n and n % new_ctx_every == 0:
            ctx = pki.client_ctx()
        n += 1
        payload = rng.randbytes(rng.randrange(1, size))
        raw = socket.create_connection(address, timeout=30)
        loadlib.tune(raw)
        try:
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            try:
                tls.write(payload)
                back = tls.read(len(payload))
                intact = hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
            finally:
                tls.close()
            with lock:
                counts["connections"] += 1
                counts["bytes"] += len(payload)
                if tls.session_reused:
                    counts["resumed"] += 1
                if not intact:
                    counts["corrupted"] += 1
        except OSError as e:
            with lock:
                counts["errors"] += 1
                if len(errors) < 20:
                    errors.append(f"client {i}: {type(e).__name__}{e.args}")
        finally:
            raw.close()


def run(duration: float, clients: int, size: int, sample: float, warmup: float,
        max_growth: float, new_ctx_every: int) -> dict[str, Any]:
    loadlib.raise_nofile(4096)
    pki = loadlib.Pki.make()
    gc.collect()
    fds_start = loadlib.open_fds()
    server, server_thread = loadlib.start_server_thread(pki.server_ctx())
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"connections": 0, "bytes": 0, "resumed": 0, "corrupted": 0, "errors": 0}
    errors: list[str] = []
    threads = [threading.Thread(target=client_loop, name=f"churn-{i}", daemon=True,
                                args=(i, pki, server.address, stop, size, new_ctx_every,
                                      counts, errors, lock))
               for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    samples: list[dict[str, float]] = []
    try:
        next_sample = t0 + sample
        while True:
            now = time.monotonic()
            if now >= t0 + duration:
                break
            time.sleep(max(0.0, min(next_sample, t0 + duration) - now))
            if time.monotonic() >= next_sample:
                with lock:
                    conns = counts["connections"]
                samples.append({"t": round(time.monotonic() - t0, 1),
                                "rss_mb": round(loadlib.rss_bytes() / 2**20, 2),
                                "fds": loadlib.open_fds(), "connections": conns})
                next_sample += sample
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        stuck = [t.name for t in threads if t.is_alive()]
        server.stop()
        server_thread.join(30)
        server_stats = server.stats
        server.close()
    elapsed = time.monotonic() - t0
    gc.collect()
    fds_end = loadlib.open_fds()

    after = [s for s in samples if s["t"] >= warmup]
    baseline = after[0]["rss_mb"] if after else float("nan")
    peak = max((s["rss_mb"] for s in after), default=float("nan"))
    growth = (peak - baseline) / baseline if after else float("nan")
    result = {
        "duration_s": round(elapsed, 1),
        "clients": clients,
        "connections": counts["connections"],
        "connections_per_s": round(counts["connections"] / elapsed, 1),
        "resumed": counts["resumed"],
        "bytes": counts["bytes"],
        "corrupted": counts["corrupted"],
        "errors": counts["errors"],
        "error_samples": errors,
        "server_errors": server_stats.errors,
        "server_error_kinds": server_stats.error_kinds,
        "rss_baseline_mb": baseline,
        "rss_peak_after_warmup_mb": peak,
        "rss_growth_pct": round(100 * growth, 2),
        "fds_start": fds_start,
        "fds_end": fds_end,
        "fds_max": max((s["fds"] for s in samples), default=0),
        "stuck_threads": stuck,
        "samples": samples,
    }
    result["passed"] = bool(
        after and growth <= max_growth and fds_end <= fds_start and not stuck
        and counts["corrupted"] == 0 and counts["errors"] == 0 and server_stats.errors == 0
        and counts["connections"] > 0
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--size", type=int, default=64 * 1024, help="max bytes per transfer")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline")
    ap.add_argument("--max-growth", type=float, default=0.05, help="RSS growth allowed")
    ap.add_argument("--new-context-every", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--nodelay", action="store_true", help="set TCP_NODELAY on both ends")
    args = ap.parse_args(argv)
    if args.warmup >= args.duration:
        ap.error("--warmup must be shorter than --duration")
    loadlib.NODELAY = args.nodelay
    r = run(args.duration, args.clients, args.size, args.sample, args.warmup,
            args.max_growth, args.new_context_every)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"churn: {r['clients']} clients for {r['duration_s']} s: "
              f"{r['connections']} connections ({r['connections_per_s']}/s, "
              f"{r['resumed']} resumed), {r['bytes'] / 1e6:.1f} MB")
        print(f"  corrupted {r['corrupted']}, client errors {r['errors']}, "
              f"server errors {r['server_errors']}")
        print(f"  RSS baseline {r['rss_baseline_mb']} MB (at {args.warmup:g} s), peak after "
              f"warm-up {r['rss_peak_after_warmup_mb']} MB, growth {r['rss_growth_pct']} % "
              f"(limit {100 * args.max_growth:g} %)")
        print(f"  descriptors: start {r['fds_start']}, max {r['fds_max']}, end {r['fds_end']}")
        print("  samples (t s: RSS MB, fds): " + ", ".join(
            f"{s['t']:g}: {s['rss_mb']}, {s['fds']}" for s in r["samples"]))
        if r["error_samples"]:
            print(f"  errors: {r['error_samples']}")
        print("  PASS" if r["passed"] else "  FAIL")
    return 0 if r["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
