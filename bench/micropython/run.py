"""``make bench-micropython``: bench.py on the mpssl firmware and on the Mbed TLS firmware
(same MicroPython tree, same flags), one run each, and the ratios mpssl / Mbed TLS.

Each firmware talks to itself over 127.0.0.1: a server process and a client process of the
same binary. Figures: full handshakes/s (TLS 1.2 ECDHE-ECDSA P-256 on both, TLS 1.3 on mpssl
too; the median of three runs of at least 200 handshakes and 2 s each), bulk MiB/s one way,
RSS per open client connection, the first handshake of new processes, text size, start-up
time, and the key-exchange group each firmware's client and server negotiate for the TLS 1.2
handshakes (read from one handshake through a relay: the bench cannot choose it, MicroPython's
`tls` has no setting for it; the table says when the two differ). The table is printed and written to ``target/micropython/bench.md``.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "target" / "micropython"
CERTS = OUT / "src" / "micropython" / "tests" / "multi_net"
SCRIPT = Path(__file__).resolve().parent / "bench.py"
FIRMWARES = {"mpssl": OUT / "micropython", "mbedtls": OUT / "micropython-mbedtls"}
TLS12 = "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"
HANDSHAKES = 200  # at least, in each run
HANDSHAKE_SECONDS = 2.0  # at least, in each run: a short run is at the mercy of a busy moment
HANDSHAKE_RUNS = 3  # the median run is reported
BULK_MIB = 64
CONNS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(fw: Path, *args: str) -> list[str]:
    out = subprocess.run(
        [str(fw), str(SCRIPT), *args], capture_output=True, text=True, timeout=600, check=True
    )
    return out.stdout.split()


def with_server(fw: Path, job):  # type: ignore[no-untyped-def]
    port = free_port()
    server = subprocess.Popen(
        [
            str(fw),
            str(SCRIPT),
            "server",
            str(port),
            str(CERTS / "ec_cert.der"),
            str(CERTS / "ec_key.der"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{fw}: server did not start")
        return job(str(port))
    finally:
        server.kill()
        server.wait()


# Key-exchange groups by their TLS code point (the ones either firmware can negotiate).
GROUPS = {0x0017: "secp256r1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001D: "x25519"}


def kx_group(fw: Path) -> str:
    """The key-exchange group a client and a server of `fw` negotiate for TLS12: one
    handshake through a loopback relay that reads the named curve of the server's
    ServerKeyExchange (in the clear in TLS 1.2)."""
    found: list[str] = []

    def sniff(data: bytes) -> None:
        # Plaintext handshake records from the server, up to its ChangeCipherSpec.
        pos = 0
        while pos + 5 <= len(data) and data[pos] == 22:
            end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
            body = data[pos + 5 : end]
            while len(body) >= 4:
                kind, n = body[0], int.from_bytes(body[1:4], "big")
                msg = body[4 : 4 + n]
                if kind == 12 and len(msg) >= 3 and msg[0] == 3:  # named_curve
                    group = int.from_bytes(msg[1:3], "big")
                    found.append(GROUPS.get(group, f"0x{group:04x}"))
                body = body[4 + n :]
            pos = end

    def pump(src: socket.socket, dst: socket.socket, seen: bytearray | None) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if seen is not None and len(seen) < 65536:
                    seen += data
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def job(port: str) -> None:
        with socket.socket() as relay:
            relay.bind(("127.0.0.1", 0))
            relay.listen(1)
            args = ["handshakes", str(relay.getsockname()[1]), str(CERTS / "ec_cert.der")]
            client_proc = subprocess.Popen(
                [str(fw), str(SCRIPT), *args, "1", "0", TLS12], stdout=subprocess.DEVNULL
            )
            try:
                relay.settimeout(30)
                conn, _ = relay.accept()
                upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
                seen = bytearray()
                up = threading.Thread(target=pump, args=(conn, upstream, None))
                up.start()
                pump(upstream, conn, seen)
                up.join(30)
                conn.close()
                upstream.close()
                sniff(bytes(seen))
            finally:
                client_proc.wait(timeout=30)

    with_server(fw, job)
    return found[0] if found else "unknown"


def text_size(fw: Path) -> int:
    out = subprocess.run(["size", str(fw)], capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[1].split()[0])


def startup_ms(fw: Path, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(fw), "-c", "import tls"], check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(name: str, fw: Path) -> dict[str, Any]:
    ca = str(CERTS / "ec_cert.der")
    r: dict[str, Any] = {}

    def handshakes(suite: str | None) -> tuple[float, float]:
        """Handshakes/s and the first handshake's ms: medians over HANDSHAKE_RUNS runs, each
        with a new server and client process."""

        def job(port: str) -> tuple[float, float]:
            args = ["handshakes", port, ca, str(HANDSHAKES), str(HANDSHAKE_SECONDS)]
            out = client(fw, *args, *([suite] if suite else []))
            print(f"  {name}: {' '.join(out)}", file=sys.stderr)
            return int(out[1]) / float(out[2]), float(out[5]) * 1000

        runs = [with_server(fw, job) for _ in range(HANDSHAKE_RUNS)]
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    r["hs12"], r["first"] = handshakes(TLS12)
    if name == "mpssl":
        r["hs13"], _ = handshakes(None)

    def bulk(port: str) -> float:
        out = client(fw, "bulk", port, ca, str(BULK_MIB), TLS12)
        return BULK_MIB / float(out[2])

    r["bulk"] = with_server(fw, bulk)

    def conns(port: str) -> tuple[float, float]:
        out = client(fw, "conns", port, ca, str(CONNS))
        first, before, after = int(out[1]), int(out[2]), int(out[3])
        # Per connection after a first one; and over all 1 + CONNS, the first one's one-time
        # costs included (the figure this bench gave before it opened a first connection).
        return (after - before) / CONNS, (after - first) / (CONNS + 1)

    r["rss"], r["rss_first"] = with_server(fw, conns)
    r["group"] = kx_group(fw)
    r["text"] = text_size(fw)
    r["startup"] = startup_ms(fw)
    return r


def main() -> int:
    for fw in FIRMWARES.values():
        if not fw.exists():
            print(f"{fw} is missing: run `make micropython micropython-mbedtls`", file=sys.stderr)
            return 1
    res = {name: measure(name, fw) for name, fw in FIRMWARES.items()}
    m, b = res["mpssl"], res["mbedtls"]
    rows = [
        ("full handshakes/s, TLS 1.2 ECDHE-ECDSA P-256", "hs12", "{:.0f}", True),
        ("bulk MiB/s one way, TLS 1.2 AES-128-GCM", "bulk", "{:.1f}", True),
        ("RSS per open client connection, KiB (after a first one)", "rss", "{:.1f}", False),
        (
            "RSS per open client connection, KiB, the first one's one-time costs included",
            "rss_first",
            "{:.1f}",
            False,
        ),
        (
            "first full handshake of a new server and client process, ms, TLS 1.2",
            "first",
            "{:.1f}",
            False,
        ),
        ("text size, bytes", "text", "{:.0f}", False),
        ("start-up (`-c 'import tls'`), ms, median of 20", "startup", "{:.1f}", False),
    ]
    lines = [
        "| figure | mpssl | Mbed TLS | mpssl / Mbed TLS |",
        "|---|---:|---:|---:|",
    ]
    for label, key, fmt, _ in rows:
        ratio = m[key] / b[key] if b[key] else float("nan")
        lines.append(f"| {label} | {fmt.format(m[key])} | {fmt.format(b[key])} | {ratio:.2f}x |")
    lines.append(f"| full handshakes/s, TLS 1.3 (mpssl only) | {m['hs13']:.0f} | - | - |")
    same = "same" if m["group"] == b["group"] else "differ"
    lines.append(
        f"| key-exchange group, TLS 1.2 handshakes | {m['group']} | {b['group']} | {same} |"
    )
    table = "\n".join(lines)
    print(table)
    (OUT / "bench.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
