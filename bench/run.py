"""mpssl against CPython's ``ssl``: same workloads, same certificates, same process layout.

Run from the repository root::

    python -m mpssl bench [--quick] [--runs N] [--out DIR] [--no-rust] [--pin]
    python bench/run.py ...                       # the same

For every workload and both implementations a server process and a client process
(``bench/peer.py``) talk over 127.0.0.1; each figure is measured ``--runs`` times (the two
implementations alternate who goes first) and reported as median and min–max, next to the
ratio mpssl / stdlib. ``cargo bench -p mpssl --bench engine`` measures the Rust engine alone,
in memory, so the Python edge shows as a ratio to it; ``openssl speed`` gives the machine's
single-core AES-GCM rate. Writes ``results.md``, ``results.json`` and ``chart.png`` to
``--out`` (default ``bench/out``). See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER = HERE / "peer.py"
IMPLS = ("mpssl", "stdlib")
# Other peers run the same workloads in the same run (``--peers``), where they can; they are
# compared with mpssl in a table of their own. Version pins: ``make bench-tools``.
PEERS = ("rtls", "pyrtls")
PEER_PINS = {"rtls": "rtls==2026.9.21", "pyrtls": "pyrtls==0.1.3"}
_NO_GROUPS = "no way to choose the key-exchange groups"
# Workloads a peer cannot run, and why (shown in the report; never silently dropped).
CANNOT: dict[str, dict[str, str]] = {
    "rtls": {
        "hs13x": _NO_GROUPS,
        "resume13": "no session resumption (`session` not implemented, `session_reused` "
        "always False)",
        "resume13x": _NO_GROUPS + "; no session resumption",
        "resume12": "no session resumption",
    },
    "pyrtls": {
        "hs13x": _NO_GROUPS,
        "hs12": "no way to choose the protocol version or the cipher suites",
        "resume13": "no way to resume on request or to tell whether a handshake resumed",
        "resume13x": _NO_GROUPS + "; no resumption control",
        "resume12": "no way to choose the protocol version; no resumption control",
        "bulk1k": "its `recv()` can wait on the socket while records it has already read "
        "are still undecrypted: with 1 KiB writes the receiver stalls before the end",
        "readline": "no `makefile()`/`readline()`",
        "concurrent": "no non-blocking API (and its blocking calls hold the GIL)",
    },
}
TLS13_OPENSSL_SUITE = "TLS_AES_128_GCM_SHA256"
PORT_TIMEOUT = 30.0


# --------------------------------------------------------------------------------------------
# Workloads and the figures derived from them
# --------------------------------------------------------------------------------------------


def workloads(quick: bool) -> dict[str, dict[str, Any]]:
    """Workload name -> peer.py arguments (both roles get the same ones). ``quick`` (the CI
    smoke run) only makes the counts and times smaller."""

    def pick(full: float, small: float) -> str:
        return str(small if quick else full)

    hs = ["--seconds", pick(2, 0.3), "--warmup", pick(0.3, 0.1)]
    x25519 = ["--groups", "X25519"]

    def bulk(chunk: int, mib: int, warm_mib: int, small: int) -> dict[str, Any]:
        total, warm = (small, max(1, small // 8)) if quick else (mib, warm_mib)
        sizes = ["--bytes", str(total << 20), "--warmup-bytes", str(warm << 20)]
        return {"workload": "bulk", "args": ["--chunk", str(chunk), *sizes]}

    return {
        "hs13": {"workload": "hs13", "args": hs},
        "hs13x": {"workload": "hs13", "args": [*hs, *x25519]},
        "hs12": {"workload": "hs12", "args": hs},
        "resume13": {"workload": "resume13", "args": hs},
        "resume13x": {"workload": "resume13", "args": [*hs, *x25519]},
        "resume12": {"workload": "resume12", "args": hs},
        "bulk16k": bulk(16384, 512, 32, small=32),
        "bulk1k": bulk(1024, 128, 8, small=8),
        "bulk256k": bulk(256 * 1024, 1024, 64, small=64),
        "readline": {
            "workload": "readline",
            "args": ["--lines", pick(2_000_000, 100_000), "--warmup-lines", pick(100_000, 10_000)],
        },
        "idle": {
            "workload": "idle",
            "args": ["--conns", pick(1000, 200), "--warmup-conns", pick(20, 5)],
        },
        "concurrent": {
            "workload": "concurrent",
            "args": ["--threads", "32", "--per-thread", pick(20, 3)],
        },
    }


# key, label, unit, workload, field of the client's (or idle server's) JSON, higher is better,
# target (ratio mpssl / stdlib; "≤" for lower-is-better figures), engine benchmark name.
# The bound of a figure (see `bound`) comes from the engine for handshake loops and from the
# plain-TCP run of the same loop for bulk.
METRICS: list[dict[str, Any]] = [
    {
        "key": "hs13",
        "label": "Full handshakes/s, TLS 1.3 (ECDSA P-256)",
        "unit": "/s",
        "workload": "hs13",
        "field": "value",
        "higher": True,
        "target": 3.0,
        "engine": "handshake/tls13_full",
        "short": "full hs 1.3",
    },
    {
        "key": "hs13x",
        "label": "Full handshakes/s, TLS 1.3, X25519 on both ends (mpssl's default is X25519MLKEM768)",
        "unit": "/s",
        "workload": "hs13x",
        "field": "value",
        "higher": True,
        "target": 3.0,
        "engine": "handshake/tls13x_full",
        "short": "full hs 1.3 X25519",
    },
    {
        "key": "hs12",
        "label": "Full handshakes/s, TLS 1.2 (ECDHE-ECDSA-AES128-GCM)",
        "unit": "/s",
        "workload": "hs12",
        "field": "value",
        "higher": True,
        "target": 3.0,
        "engine": "handshake/tls12_full",
        "short": "full hs 1.2",
    },
    {
        "key": "resume13",
        "label": "Resumed handshakes/s, TLS 1.3",
        "unit": "/s",
        "workload": "resume13",
        "field": "value",
        "higher": True,
        "target": None,
        "engine": "handshake/tls13_resumed",
        "short": "resumed hs",
    },
    {
        "key": "resume13x",
        "label": "Resumed handshakes/s, TLS 1.3, X25519 on both ends",
        "unit": "/s",
        "workload": "resume13x",
        "field": "value",
        "higher": True,
        "target": None,
        "engine": "handshake/tls13x_resumed",
        "short": "resumed hs X25519",
    },
    {
        "key": "resume12",
        "label": "Resumed handshakes/s, TLS 1.2 (session tickets / IDs: no key exchange)",
        "unit": "/s",
        "workload": "resume12",
        "field": "value",
        "higher": True,
        "target": None,
        "engine": "handshake/tls12_resumed",
        "short": "resumed hs 1.2",
    },
    {
        "key": "bulk16k",
        "label": "Bulk one-way, 16 KiB writes",
        "unit": "MiB/s",
        "workload": "bulk16k",
        "field": "value",
        "higher": True,
        "target": 1.5,
        "engine": "bulk/write_16k",
        "short": "bulk 16K",
    },
    {
        "key": "bulk1k",
        "label": "Bulk one-way, 1 KiB writes",
        "unit": "MiB/s",
        "workload": "bulk1k",
        "field": "value",
        "higher": True,
        "target": 1.2,
        "engine": "bulk/write_1k",
        "short": "bulk 1K",
    },
    {
        "key": "bulk256k",
        "label": "Bulk one-way, 256 KiB writes",
        "unit": "MiB/s",
        "workload": "bulk256k",
        "field": "value",
        "higher": True,
        "target": None,
        "engine": None,
        "short": "bulk 256K",
    },
    {
        "key": "readline",
        "label": "readline, 100-byte lines",
        "unit": "lines/s",
        "workload": "readline",
        "field": "value",
        "higher": True,
        "target": None,
        "engine": None,
        "short": "readline",
    },
    {
        "key": "idle",
        "label": "Idle server RSS per connection (1,000 open)",
        "unit": "KiB",
        "workload": "idle",
        "field": "per_conn_kib",
        "higher": False,
        "target": 0.5,
        "engine": None,
        "short": "idle RSS/conn",
    },
    {
        "key": "idle_client",
        "label": "Idle client RSS per connection (same run)",
        "unit": "KiB",
        "workload": "idle",
        "field": "client_per_conn_kib",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "client RSS/conn",
    },
    {
        "key": "conc_p50",
        "label": "Handshake latency p50, 32 clients, non-blocking server",
        "unit": "ms",
        "workload": "concurrent",
        "field": "p50_ms",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "p50 latency",
    },
    {
        "key": "conc_p99",
        "label": "Handshake latency p99, 32 clients, non-blocking server",
        "unit": "ms",
        "workload": "concurrent",
        "field": "p99_ms",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "p99 latency",
    },
    {
        "key": "conc_rate",
        "label": "Handshakes/s, 32 clients, non-blocking server",
        "unit": "/s",
        "workload": "concurrent",
        "field": "rate",
        "higher": True,
        "target": None,
        "engine": None,
        "short": "32-client hs/s",
    },
    {
        "key": "bulk16k_cpu_server",
        "label": "CPU per MiB received, server process (bulk16k, `readinto` 64 KiB)",
        "unit": "µs",
        "workload": "bulk16k",
        "field": "server_cpu_us_per_mib",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "receiver CPU/MiB",
    },
    {
        "key": "bulk16k_cpu_client",
        "label": "CPU per MiB sent, client process (bulk16k, 16 KiB writes)",
        "unit": "µs",
        "workload": "bulk16k",
        "field": "client_cpu_us_per_mib",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "sender CPU/MiB",
    },
    {
        "key": "hs13_cpu_server",
        "label": "CPU per full TLS 1.3 handshake, server process (hs13 loop)",
        "unit": "µs",
        "workload": "hs13",
        "field": "server_cpu_us",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "server CPU/hs",
    },
    {
        "key": "hs13_cpu_client",
        "label": "CPU per full TLS 1.3 handshake, client process (hs13 loop)",
        "unit": "µs",
        "workload": "hs13",
        "field": "client_cpu_us",
        "higher": False,
        "target": None,
        "engine": None,
        "short": "client CPU/hs",
    },
]

# The same loops without TLS: name (figure "tcp_<name>"), workload, extra peer.py arguments.
# "hs2rt" adds the one round trip every TLS handshake here adds to the connect loop.
TCP_BASELINES = [
    ("hs13", "hs13", []),
    ("hs2rt", "hs13", ["--round-trips", "2"]),
    ("bulk16k", "bulk16k", []),
    ("bulk1k", "bulk1k", []),
]

# "Resumed (mpssl) ÷ full (stdlib)" figures: derived key, resumed figure, full figure.
DERIVED_RESUMED = [
    ("resumed_vs_stdlib_full", "resume13", "hs13"),
    ("resumed_vs_stdlib_full_x25519", "resume13x", "hs13x"),
    ("resumed12_vs_stdlib_full12", "resume12", "hs12"),
]

# Bulk figure -> its plain-TCP baseline (the bound: TLS costing nothing). None for 256 KiB
# writes: there the plain loop's receiver (`recv_into` returning what has arrived, one Python
# call each) is slower than mpssl's `readinto` filling 64 KiB per call, so it bounds nothing.
BULK_TCP = {"bulk16k": "tcp_bulk16k", "bulk1k": "tcp_bulk1k"}


# --------------------------------------------------------------------------------------------
# Certificates and the OpenSSL configuration for the stdlib peers
# --------------------------------------------------------------------------------------------


def write_pki(directory: Path) -> None:
    """The committed ECDSA P-256 CA and leaf (localhost, 127.0.0.1, ::1; testdata/ecdsa-p256/),
    copied as the PEM files both sides load."""
    testdata = Path(__file__).resolve().parent.parent / "testdata" / "ecdsa-p256"
    for name, source in [("ca.pem", "ca.pem"), ("leaf.pem", "server.pem"),
                         ("key.pem", "server.key.pem")]:  # the key is PKCS#8
        (directory / name).write_bytes((testdata / source).read_bytes())


def write_openssl_conf(directory: Path) -> Path:
    """CPython 3.11 cannot choose TLS 1.3 suites (no set_ciphersuites); OpenSSL's own
    configuration file can, for every SSL_CTX of the process (the stdlib peers only)."""
    path = directory / "openssl.cnf"
    path.write_text(
        "openssl_conf = openssl_init\n"
        "[openssl_init]\nssl_conf = ssl_module\n"
        "[ssl_module]\nsystem_default = tls_defaults\n"
        f"[tls_defaults]\nCiphersuites = {TLS13_OPENSSL_SUITE}\n"
    )
    return path


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Proc:
    """A peer process whose stdout lines arrive on a queue; killed by :meth:`stop`."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.err = open(log, "wb")  # noqa: SIM115 - open as long as the process; closed in stop()
        self.p = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self.err, env=env, cwd=ROOT, start_new_session=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for raw in self.p.stdout:
            self.lines.put(raw.decode(errors="replace").strip())
        self.lines.put(None)

    def json_line(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no result within {timeout:.0f} s{self.stderr_tail()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.p.wait(timeout=5)
                raise RuntimeError(f"exited with {self.p.returncode}{self.stderr_tail()}")
            if line.startswith("{"):
                return json.loads(line)  # type: ignore[no-any-return]

    def stderr_tail(self) -> str:
        self.err.flush()
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return (": " + " | ".join(text[-3:])) if text else ""

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        self.err.close()


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``1 h 05 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """The steps of a run (one per peer pair, plain-TCP loop and ``openssl speed``), and after
    each one how many are done and an estimate of the time left: every remaining step is
    expected to take as long as the same step took in the earlier runs, or the mean step so
    far when it has not run yet."""

    def __init__(self, steps: list[str]) -> None:
        self.todo = list(steps)
        self.total = len(steps)
        self.took: dict[str, list[float]] = {}
        self.started = time.monotonic()

    def done(self, step: str, seconds: float) -> str:
        if step in self.todo:
            self.todo.remove(step)
        self.took.setdefault(step, []).append(seconds)
        return self.text()

    def left(self) -> float | None:
        known = [v for values in self.took.values() for v in values]
        if not known:
            return None
        mean = statistics.mean(known)
        return sum(statistics.mean(self.took[s]) if s in self.took else mean for s in self.todo)

    def text(self) -> str:
        n = self.total - len(self.todo)
        left = self.left()
        eta = "" if left is None else f", about {duration(left)} left"
        elapsed = duration(time.monotonic() - self.started)
        return f"[{n}/{self.total} steps, {100 * n / self.total:.0f} %, {elapsed} elapsed{eta}]"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (``/proc/PID/stat``, clock-tick resolution)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_pair(impl: str, spec: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """Start the server, run the client, return the client's figures (and the idle server's)."""
    common = [
        "--impl",
        impl,
        "--workload",
        spec["workload"],
        "--certdir",
        str(ctx["certdir"]),
        *spec["args"],
    ]
    if impl == "mpssl" and ctx.get("suite13"):
        common += ["--suite13", ctx["suite13"]]
    pin_s = ["--cpu", "0"] if ctx["pin"] else []
    pin_c = ["--cpu", "1"] if ctx["pin"] else []
    logs = ctx["logdir"]
    name = f"{spec['workload']}-{impl}"
    server = client = None
    try:
        server = Proc(
            [sys.executable, str(PEER), "server", *common, *pin_s],
            ctx["env"],
            logs / f"{name}-server.log",
        )
        port = server.json_line(PORT_TIMEOUT)["port"]
        cpu_before = cpu_seconds(server.p.pid)
        client = Proc(
            [sys.executable, str(PEER), "client", *common, *pin_c, "--port", str(port)],
            ctx["env"],
            logs / f"{name}-client.log",
        )
        result = client.json_line(ctx["timeout"])
        cpu_after = cpu_seconds(server.p.pid)
        if cpu_before is not None and cpu_after is not None:
            # Every connection of a handshake loop, and every byte of a bulk run (warm-up
            # included), was served in between.
            if result.get("total"):
                result["server_cpu_us"] = 1e6 * (cpu_after - cpu_before) / result["total"]
            if result.get("total_bytes"):
                mib = result["total_bytes"] / (1 << 20)
                result["server_cpu_us_per_mib"] = 1e6 * (cpu_after - cpu_before) / mib
        if spec["workload"] == "idle":
            result.update(server.json_line(ctx["timeout"]))
        return result
    finally:
        for proc in (client, server):
            if proc is not None:
                proc.stop()


# --------------------------------------------------------------------------------------------
# Probes: negotiated parameters, openssl speed, the Rust engine
# --------------------------------------------------------------------------------------------


def probe_stdlib_group(ctx: dict[str, Any], workload: str) -> str | None:
    """CPython 3.11 cannot report the key-exchange group; ask ``openssl s_client`` (same
    OpenSSL library and defaults as the stdlib client) against the stdlib server."""
    if not shutil.which("openssl"):
        return None
    server = None
    try:
        server = Proc(
            [
                sys.executable,
                str(PEER),
                "server",
                "--impl",
                "stdlib",
                "--workload",
                workload,
                "--certdir",
                str(ctx["certdir"]),
            ],
            ctx["env"],
            ctx["logdir"] / f"probe-group-{workload}.log",
        )
        port = server.json_line(PORT_TIMEOUT)["port"]
        out = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{port}",
                "-servername",
                "localhost",
                "-CAfile",
                str(ctx["certdir"] / "ca.pem"),
                "-brief",
            ],
            input=b"",
            capture_output=True,
            timeout=20,
            env=ctx["env"],
            check=False,
        )
        text = (out.stdout + out.stderr).decode(errors="replace")
        m = re.search(
            r"(?:Server Temp Key|Peer Temp Key|Negotiated TLS1\.3 group):\s*([^\n]+)", text
        )
        return m.group(1).strip() if m else None
    except (OSError, subprocess.SubprocessError, TimeoutError, RuntimeError):
        return None
    finally:
        if server is not None:
            server.stop()


def openssl_speed(cipher: str) -> float | None:
    """Single-core rate of ``openssl speed -evp CIPHER`` on 16 KiB blocks, MiB/s."""
    if not shutil.which("openssl"):
        return None
    env = {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}
    try:
        out = subprocess.run(
            ["openssl", "speed", "-evp", cipher, "-seconds", "1", "-bytes", "16384"],
            capture_output=True,
            timeout=60,
            check=False,
            env=env,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.stdout.decode(errors="replace").splitlines():
        if line.lower().startswith(cipher.lower()):
            m = re.search(r"([\d.]+)k\s*$", line.strip())
            if m:
                return float(m.group(1)) * 1000 / (1 << 20)  # "1000s of bytes per second"
    return None


BENCHER = re.compile(r"^test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter \(\+/- ([\d,]+)\)")


def run_engine(quick: bool, suite13: str | None, logdir: Path) -> dict[str, Any]:
    """``cargo bench -p mpssl --bench engine`` (criterion, bencher output) -> figures."""
    cargo = shutil.which("cargo")
    if not cargo:
        return {"error": "cargo not found"}
    argv = [cargo, "bench", "-p", "mpssl", "--bench", "engine", "--", "--output-format", "bencher"]
    if quick:
        argv += ["--warm-up-time", "0.3", "--measurement-time", "1", "--sample-size", "10"]
    env = dict(os.environ)
    if suite13:
        env["MPSSL_BENCH_TLS13_SUITE"] = suite13
    print(
        "engine: " + " ".join(argv[1:]) + " (minutes; the loopback steps and their estimate follow)",
        file=sys.stderr,
        flush=True,
    )
    try:
        out = subprocess.run(
            argv, cwd=ROOT, capture_output=True, timeout=1800, env=env, check=False
        )
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": f"cargo bench failed: {e}"}
    stdout = out.stdout.decode(errors="replace")
    stderr = out.stderr.decode(errors="replace")
    (logdir / "engine.log").write_text(stdout + "\n--- stderr ---\n" + stderr)
    if out.returncode != 0:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        return {"error": f"cargo bench exited {out.returncode}: {tail}"}
    figures: dict[str, Any] = {}
    for line in stdout.splitlines():
        m = BENCHER.match(line.strip())
        if not m:
            continue
        name = m.group(1)
        ns = float(m.group(2).replace(",", ""))
        dev = float(m.group(3).replace(",", ""))
        if name.startswith("handshake/"):
            value, lo, hi = 1e9 / ns, 1e9 / (ns + dev), 1e9 / max(ns - dev, 1.0)
        else:  # bulk: one iteration moves 1 MiB
            value, lo, hi = 1e9 / ns, 1e9 / (ns + dev), 1e9 / max(ns - dev, 1.0)
        figures[name] = {"ns_per_iter": ns, "dev_ns": dev, "value": value, "lo": lo, "hi": hi}
    notes = [ln for ln in stderr.splitlines() if ln.startswith("engine ")]
    return {"figures": figures, "notes": notes}


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "values": values,
    }


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "n/a"
    if unit in ("ms", "KiB"):
        return f"{x:.2f}" if x < 10 else f"{x:.1f}"
    if x >= 100_000:
        return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x:,.0f}"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def fmt_summary(s: dict[str, Any] | None, unit: str) -> str:
    if not s:
        return "n/a"
    if s["n"] == 1:
        return fmt(s["median"], unit)
    return f"{fmt(s['median'], unit)} ({fmt(s['min'], unit)}–{fmt(s['max'], unit)})"


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import mpssl

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "mpssl": mpssl.__version__,
        "rustls": mpssl.RUSTLS_VERSION,
        "kernel": platform.release(),
    }


def collect(
    results: dict[str, dict[str, list[dict[str, Any]]]], peers: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Per metric: summaries per implementation, paired per-run ratios, and their summary;
    for every other peer (``peers``) its summary, mpssl / it, or why it cannot run it."""
    out: dict[str, Any] = {}
    for m in METRICS:
        per_impl: dict[str, list[float | None]] = {}
        for impl in IMPLS:
            runs = results.get(m["workload"], {}).get(impl, [])
            per_impl[impl] = [r.get(m["field"]) if "error" not in r else None for r in runs]
        sums = {
            impl: summary([v for v in vals if v is not None]) for impl, vals in per_impl.items()
        }
        ratios = [
            a / b
            for a, b in zip(per_impl["mpssl"], per_impl["stdlib"], strict=True)
            if a is not None and b
        ]
        med_ratio = (
            sums["mpssl"]["median"] / sums["stdlib"]["median"]
            if sums["mpssl"] and sums["stdlib"] and sums["stdlib"]["median"]
            else None
        )
        others: dict[str, Any] = {}
        for peer in peers:
            runs = results.get(m["workload"], {}).get(peer, [])
            cannot = next((r["cannot"] for r in runs if "cannot" in r), None)
            if cannot:
                others[peer] = {"cannot": cannot}
                continue
            theirs = summary([r[m["field"]] for r in runs if r.get(m["field"]) is not None])
            others[peer] = {
                "summary": theirs,
                "ratio": sums["mpssl"]["median"] / theirs["median"]
                if sums["mpssl"] and theirs and theirs["median"]
                else None,
            }
        out[m["key"]] = {
            "mpssl": sums["mpssl"],
            "stdlib": sums["stdlib"],
            "ratio": med_ratio,
            "ratio_runs": summary(ratios),
            "peers": others,
        }
    return out


def peer_table(report: dict[str, Any]) -> list[str]:
    """mpssl against the other peers: same run, same workloads; a workload a peer cannot run
    says so, with the reason under the table."""
    peers = report.get("peers") or []
    lines: list[str] = []
    missing = report.get("peers_missing") or {}
    if peers:
        head = "| Figure | unit | mpssl | " + " | ".join(
            f"{p} | mpssl / {p}" for p in peers
        ) + " |"
        lines += ["", head, "|---|---|---|" + "---|---|" * len(peers)]
        cannot: dict[str, dict[str, str]] = {}
        for m in METRICS:
            if m["workload"] not in report["workloads"]:
                continue
            f = report["figures"][m["key"]]
            unit = m["unit"]
            cells = []
            for p in peers:
                o = f.get("peers", {}).get(p, {})
                if "cannot" in o:
                    cannot.setdefault(p, {})[m["workload"]] = o["cannot"]
                    cells.append("cannot | ")
                    continue
                ratio = o.get("ratio")
                cells.append(
                    f"{fmt_summary(o.get('summary'), unit)} | "
                    + ("n/a" if ratio is None else f"{ratio:.2f}×")
                )
            lines.append(
                f"| {m['label']} | {unit} | {fmt_summary(f['mpssl'], unit)} | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
        lines.append(
            "mpssl / peer above 1 is better for mpssl for rates, below 1 for memory, latency "
            "and CPU. The peers run the same peer.py code as the stdlib (rtls through the same "
            "`ssl` calls; pyrtls through its own API), against themselves."
        )
        for p, why in cannot.items():
            for reason in sorted(set(why.values())):
                wls = ", ".join(w for w, r in why.items() if r == reason)
                lines.append(f"- {p} cannot run {wls}: {reason}.")
    for p, why in missing.items():
        lines.append(f"- {p}: {why}.")
    return lines


def target_text(m: dict[str, Any]) -> str:
    if m["target"] is None:
        return ""
    return f"≥ {m['target']:g}×" if m["higher"] else f"≤ {m['target']:g}×"


def verdict(ratio: float | None, m: dict[str, Any]) -> str:
    if ratio is None or m["target"] is None:
        return ""
    ok = ratio >= m["target"] if m["higher"] else ratio <= m["target"]
    return " ✅" if ok else " ❌"


def bounds(
    figures: dict[str, Any], engine: dict[str, Any], speed: float | None
) -> dict[str, float]:
    """The best result this harness allows mpssl, per figure (as mpssl / stdlib, or % for the
    `openssl speed` row), measured in the same run:

    - a handshake loop: the plain-TCP loop with the round trip a TLS handshake adds
      (``tcp_hs2rt``) plus the engine's in-memory time for the same handshake, both ends'
      crypto run one after the other as in the loop: what mpssl would reach if its Python
      edge and sockets cost nothing beyond a bare socket's;
    - bulk: the plain-TCP run of the same loop, as if encryption cost nothing.

    A target above its bound cannot be met on this machine by any implementation."""
    out: dict[str, float] = {}

    def stdlib(key: str) -> float | None:
        f = figures.get(key, {}).get("stdlib")
        return f["median"] if f else None

    floor = figures.get("tcp_hs2rt")
    if floor:
        for m in METRICS:
            eng = engine.get(m["engine"] or "")
            std = stdlib(m["key"])
            if m["key"] in BULK_TCP or not eng or not std:
                continue
            out[m["key"]] = (1 / std) / (1 / floor["median"] + eng["ns_per_iter"] * 1e-9)
        for derived, resumed, full in DERIVED_RESUMED:
            eng = engine.get(next(m["engine"] for m in METRICS if m["key"] == resumed) or "")
            std = stdlib(full)
            if eng and std:
                out[derived] = (1 / std) / (1 / floor["median"] + eng["ns_per_iter"] * 1e-9)
    for key, tcp_key in BULK_TCP.items():
        tcp, std = figures.get(tcp_key), stdlib(key)
        if tcp and std:
            out[key] = tcp["median"] / std
    tcp = figures.get("tcp_bulk16k")
    if tcp and speed:
        out["bulk_pct_of_openssl_speed"] = 100 * tcp["median"] / speed
    return out


def bound_text(report: dict[str, Any], key: str, pct: bool = False) -> str:
    b = report.get("bounds", {}).get(key)
    if b is None:
        return ""
    return f"{b:.0f} %" if pct else f"{b:.2f}×"


def markdown(report: dict[str, Any]) -> str:
    figs = report["figures"]
    engine = report["engine"].get("figures", {}) if report["engine"] else {}
    lines = [
        (
            "| Figure | unit | mpssl | CPython ssl | mpssl / stdlib | target | bound | engine "
            "(Rust, in memory) | mpssl / engine |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        if m["workload"] not in report["workloads"]:
            continue
        f = figs[m["key"]]
        ratio = f["ratio"]
        rr = f["ratio_runs"]
        ratio_txt = "n/a" if ratio is None else f"{ratio:.2f}×"
        if ratio is not None and rr and rr["n"] > 1:
            ratio_txt += f" ({rr['min']:.2f}–{rr['max']:.2f})"
        eng = engine.get(m["engine"]) if m["engine"] else None
        eng_txt = fmt(eng["value"], m["unit"]) if eng else ("n/a" if m["engine"] else "")
        over = ""
        if eng and f["mpssl"]:
            over = f"{f['mpssl']['median'] / eng['value']:.2f}×"
        unit = m["unit"]
        lines.append(
            f"| {m['label']} | {unit} | {fmt_summary(f['mpssl'], unit)} | "
            f"{fmt_summary(f['stdlib'], unit)} | {ratio_txt}{verdict(ratio, m)} | "
            f"{target_text(m)} | {bound_text(report, m['key'])} | {eng_txt} | {over} |"
        )
    # Derived rows with their own targets.
    d = report["derived"]
    wls = report["workloads"]
    for key, resumed, full in DERIVED_RESUMED:
        if resumed not in wls or full not in wls:
            continue
        r = d.get(key)
        what = next(m["label"] for m in METRICS if m["key"] == resumed).removeprefix(
            "Resumed handshakes/s, "
        )
        lines.append(
            f"| Resumed handshakes/s (mpssl) ÷ full handshakes/s (stdlib), {what} | ratio | | | "
            f"{'n/a' if r is None else f'{r:.2f}×'}"
            f"{verdict(r, {'target': 6.0, 'higher': True})} | ≥ 6× | "
            f"{bound_text(report, key)} | | |"
        )
    pct = d.get("bulk_pct_of_openssl_speed")
    std_pct = d.get("stdlib_pct")
    speed = d.get("openssl_speed")
    pct_txt = "n/a" if pct is None else f"{pct:.0f} %"
    std_txt = "n/a" if std_pct is None else f"{std_pct:.0f} %"
    mark = "" if pct is None else (" ✅" if pct >= 45 else " ❌")
    if "bulk16k" in wls:
        lines.append(
            f"| Bulk (16 KiB writes) as % of `openssl speed -evp {d.get('speed_cipher')}` "
            f"({fmt(speed['median'] if speed else None)} MiB/s, one core) | % | "
            f"{pct_txt}{mark} | {std_txt} | | ≥ 45 % (mpssl) | "
            f"{bound_text(report, 'bulk_pct_of_openssl_speed', pct=True)} | | |"
        )
    above = d.get("hs13_us_above_tcp") or {}
    if above:
        a_m, a_s = above.get("mpssl"), above.get("stdlib")
        ratio_txt = f"{a_m / a_s:.2f}×" if a_m is not None and a_s else "n/a"
        eng13 = engine.get("handshake/tls13_full")
        eng_us = f"{fmt(1e6 / eng13['value'], 'µs')} (both ends)" if eng13 else ""
        lines.append(
            f"| Full TLS 1.3 handshake: time per connection above the plain-TCP floor | µs | "
            f"{fmt(a_m, 'µs')} | {fmt(a_s, 'µs')} | {ratio_txt} | | | "
            f"{eng_us} | |"
        )
    for name, label, unit in (
        ("hs13", "Plain TCP, no TLS, same loop: connect, 1-byte reply, close (floor)", "/s"),
        ("hs2rt", "Plain TCP, the same loop plus one 1-byte round trip (a handshake's)", "/s"),
        ("bulk16k", "Plain TCP, no TLS, same loop, 16 KiB writes (loopback ceiling)", "MiB/s"),
        ("bulk1k", "Plain TCP, no TLS, same loop, 1 KiB writes", "MiB/s"),
    ):
        tcp = figs.get(f"tcp_{name}")
        if tcp:
            lines.append(f"| {label} | {unit} | {fmt_summary(tcp, unit)} | | | | | | |")
    lines.append("")
    lines.append(
        "Median of {runs} runs (min–max in brackets; the ratio range pairs the runs). "
        "mpssl / stdlib above 1 is better for rates, below 1 for memory, latency and CPU. "
        "Bound: the best mpssl / stdlib this harness allows (handshakes: the plain-TCP loop "
        "with a handshake's round trip plus the engine's in-memory handshake; a target above "
        "it cannot be met here); for bulk, the same loop over plain TCP (a bound while that "
        "loop is not slower than mpssl's, see bench/README.md). Engine: criterion, in-memory client and server sessions in one thread.".format(
            runs=report["runs"]
        )
    )
    lines += peer_table(report)
    lines.append("")
    lines.append("Negotiated (client's view, one measured connection per workload):")
    lines.append("")
    for wl, per in report["negotiated"].items():
        parts = []
        for impl in (*IMPLS, *(report.get("peers") or [])):
            info = per.get(impl)
            if not info:
                continue
            if impl == "pyrtls":
                parts.append("pyrtls: not reported (no API for it)")
                continue
            group = info.get("group")
            if not group and impl == "stdlib":
                probed = report.get("stdlib_group12" if wl == "hs12" else "stdlib_group")
                group = f"{probed} (openssl s_client probe)" if probed else "?"
            parts.append(f"{impl}: {info.get('version')} {info.get('suite')} / {group or '?'}")
        lines.append(f"- {wl}: " + "; ".join(parts))
    res = report.get("resumption", {})
    if res:
        lines.append(
            "- resumption: "
            + "; ".join(
                f"{impl} {v['reused']}/{v['count']} handshakes resumed" for impl, v in res.items()
            )
        )
    if report["engine"].get("notes"):
        lines.append(
            "- engine: " + "; ".join(n.removeprefix("engine ") for n in report["engine"]["notes"])
        )
    if report["engine"].get("error"):
        lines.append(f"- engine: n/a ({report['engine']['error']})")
    for err in report["errors"]:
        lines.append(f"- n/a: {err}")
    mach = report["machine"]
    lines.append("")
    lines.append(
        f"Machine: {mach['cpu']}, {mach['cpus']} CPUs, load average {report['load_before']} "
        f"before / {report['load_after']} after; Python {mach['python']}, {mach['openssl']}, "
        f"mpssl {mach['mpssl']} on {mach['rustls']}, extension {report['extension']}; "
        f"{report['mode']}; "
        f"{'server pinned to CPU 0, client to CPU 1' if report['pin'] else 'no CPU pinning'}."
    )
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib not available ({e}); pip install matplotlib"
    figs = report["figures"]
    engine = report["engine"].get("figures", {}) if report["engine"] else {}
    bnd = report.get("bounds", {})
    labels, vs_std, err_lo, err_hi, vs_eng, targets = [], [], [], [], [], []
    bound_of: list[float | None] = []
    for m in METRICS:
        if m["key"] == "idle_client" or m["workload"] not in report["workloads"]:
            continue
        f = figs[m["key"]]
        labels.append(m["short"] + ("" if m["higher"] else "\n(lower is better)"))
        r = f["ratio"]
        vs_std.append(r if r is not None else 0.0)
        rr = f["ratio_runs"]
        err_lo.append(max(0.0, r - rr["min"]) if r is not None and rr else 0.0)
        err_hi.append(max(0.0, rr["max"] - r) if r is not None and rr else 0.0)
        eng = engine.get(m["engine"]) if m["engine"] else None
        vs_eng.append(f["mpssl"]["median"] / eng["value"] if eng and f["mpssl"] else None)
        targets.append(m["target"])
        bound_of.append(bnd.get(m["key"]))
    d = report["derived"]
    for key, resumed, _full in DERIVED_RESUMED:
        if key in d:
            short = next(m["short"] for m in METRICS if m["key"] == resumed)
            labels.append(f"{short} mpssl ÷\nfull stdlib")
            vs_std.append(d[key])
            err_lo.append(0.0)
            err_hi.append(0.0)
            vs_eng.append(None)
            targets.append(6.0)
            bound_of.append(bnd.get(key))
    if not labels:
        return "nothing to chart"

    x = list(range(len(labels)))
    w = 0.38
    fig, ax = plt.subplots(figsize=(13, 5.2), dpi=110)
    ax.bar(
        [i - w / 2 for i in x],
        vs_std,
        w,
        yerr=[err_lo, err_hi],
        capsize=3,
        label="mpssl / CPython ssl (median, min–max of runs)",
        color="#3b7dd8",
    )
    ax.bar(
        [i + w / 2 for i in x],
        [v or 0.0 for v in vs_eng],
        w,
        label="mpssl over loopback / Rust engine in memory",
        color="#9bbce8",
    )
    first = True
    for i, t in enumerate(targets):
        if t is None:
            continue
        ax.plot(
            [i - w, i], [t, t], color="#d62728", linewidth=2.5, label="target" if first else None
        )
        first = False
    first = True
    for i, b in enumerate(bound_of):
        if b is None:
            continue
        ax.plot(
            [i - w, i],
            [b, b],
            color="#444444",
            linewidth=1.5,
            linestyle="--",
            label="bound (best this harness allows)" if first else None,
        )
        first = False
    ax.axhline(1.0, color="black", linewidth=1)
    for i, v in enumerate(vs_std):
        if v:
            ax.annotate(
                f"{v:.2f}",
                (i - w / 2, v + err_hi[i]),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=8,
            )
    for i, v in enumerate(vs_eng):
        if v:
            ax.annotate(
                f"{v:.2f}",
                (i + w / 2, v),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
                color="#555555",
            )
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8, rotation=30, ha="right")
    ax.set_ylabel("ratio")
    ax.set_title(
        f"mpssl vs CPython ssl ({report['mode']}, median of {report['runs']} runs, "
        f"{report['machine']['cpus']} CPUs)"
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def render(saved: Path, out: Path) -> int:
    """Table and chart of a saved ``results.json`` with this file's presentation (bounds
    included), so a presentation change needs no new measurement."""
    report: dict[str, Any] = json.loads(saved.read_text())
    engine = report["engine"].get("figures", {}) if report["engine"] else {}
    speed = report["derived"].get("openssl_speed")
    report["bounds"] = bounds(report["figures"], engine, speed["median"] if speed else None)
    out.mkdir(parents=True, exist_ok=True)
    return 1 if write_report(report, out) else 0


def write_report(report: dict[str, Any], out: Path) -> str | None:
    """results.md, results.json and chart.png into ``out``; the table on stdout. Returns why
    the chart could not be drawn, if it could not."""
    md = markdown(report)
    (out / "results.md").write_text(md)
    (out / "results.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    problem = chart(report, out / "chart.png")
    print(md)
    if problem:
        print(f"chart: {problem}", file=sys.stderr)
    return problem


def extension_id() -> str:
    """Short hash and time of the installed ``mpssl._mpssl`` (another engineer's
    ``make build-dev`` can replace it during a run; the report says so)."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec("mpssl._mpssl")
    if spec is None or not spec.origin:
        return "?"
    path = Path(spec.origin)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(path.stat().st_mtime))
    return f"{digest} (installed {stamp} UTC)"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small counts, one run, no Rust engine (CI smoke, < 60 s)",
    )
    p.add_argument("--runs", type=int, default=None, help="runs per figure (default 5; 1 quick)")
    p.add_argument("--out", default=str(HERE / "out"), help="output directory (bench/out)")
    p.add_argument("--no-rust", action="store_true", help="skip cargo bench (engine figures)")
    p.add_argument("--rust", action="store_true", help="run the engine even with --quick")
    p.add_argument(
        "--pin", action="store_true", help="pin the server to CPU 0 and the client to CPU 1"
    )
    p.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    p.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="other implementations to run beside mpssl and the stdlib, comma-separated, or "
        f"'none' (default: {','.join(PEERS)}; a missing one is reported as such)",
    )
    p.add_argument(
        "--render",
        metavar="RESULTS_JSON",
        help="measure nothing: rebuild the table and chart (into --out) from a saved run",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `python -m mpssl bench -- --quick` passes the separator on
        argv = argv[1:]
    args = p.parse_args(argv)
    if args.render:
        return render(Path(args.render), Path(args.out))
    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    rust = (not args.no_rust) and (args.rust or not args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logdir = out / "logs"
    logdir.mkdir(exist_ok=True)
    specs = workloads(args.quick)
    if args.only:
        keep = set(args.only.split(","))
        specs = {k: v for k, v in specs.items() if k in keep}
    asked = [] if args.peers in ("", "none") else args.peers.split(",")
    unknown = [p for p in asked if p not in PEERS]
    if unknown:
        p.error(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    import importlib.util

    peers = tuple(p for p in asked if importlib.util.find_spec(p) is not None)
    peers_missing = {
        p: f"not installed (`pip install {PEER_PINS[p]}`; `make bench` installs it)"
        for p in asked
        if p not in peers
    }
    for why in peers_missing.values():
        print(f"peer {why}", file=sys.stderr)
    pin = args.pin and (os.cpu_count() or 1) >= 2
    load_before = loadavg()
    ext_seen = extension_id()
    started = time.monotonic()

    tmp = Path(tempfile.mkdtemp(prefix="mpssl-bench-"))
    try:
        write_pki(tmp)
        env = dict(os.environ)
        env["OPENSSL_CONF"] = str(write_openssl_conf(tmp))
        env["PYTHONUNBUFFERED"] = "1"
        ctx: dict[str, Any] = {
            "certdir": tmp,
            "env": env,
            "pin": pin,
            "logdir": logdir,
            "timeout": 60.0 if args.quick else 300.0,
            "suite13": None,
        }

        # Which TLS 1.3 suite does the stdlib negotiate? mpssl is restricted to the same.
        probe = run_pair(
            "stdlib", {"workload": "hs13", "args": ["--seconds", "0.05", "--warmup", "0"]}, ctx
        )
        std_suite = probe["info"]["suite"]
        ctx["suite13"] = std_suite.replace("_", "-")
        stdlib_group = probe_stdlib_group(ctx, "hs13")
        stdlib_group12 = probe_stdlib_group(ctx, "hs12")
        print(
            f"stdlib negotiates {probe['info']['version']} {std_suite} / "
            f"{stdlib_group or '?'}; mpssl restricted to {ctx['suite13']}",
            file=sys.stderr,
        )

        engine: dict[str, Any] = {}
        if rust:
            engine = run_engine(args.quick, ctx["suite13"], logdir)
            if engine.get("error"):
                print(f"engine: {engine['error']}", file=sys.stderr)

        tcp_steps = [(name, wl, extra) for name, wl, extra in TCP_BASELINES if wl in specs]
        everyone = (*IMPLS, *peers)
        steps_per_run = [
            *(
                f"{wl}/{impl}"
                for wl in specs
                for impl in everyone
                if wl not in CANNOT.get(impl, {})
            ),
            *(f"tcp/{name}" for name, _wl, _extra in tcp_steps),
            "openssl speed",
        ]
        progress = Progress(steps_per_run * runs)
        print(f"{progress.total} steps: {runs} run(s) of {len(steps_per_run)}", file=sys.stderr)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {}
        tcp_runs: dict[str, list[float]] = {}
        speeds: list[float] = []
        speed_cipher = "aes-256-gcm" if "AES_256" in std_suite else "aes-128-gcm"
        errors: list[str] = []
        for run in range(runs):
            order = everyone if run % 2 == 0 else tuple(reversed(everyone))
            for wl, spec in specs.items():
                for impl in order:
                    reason = CANNOT.get(impl, {}).get(wl)
                    if reason:
                        results.setdefault(wl, {}).setdefault(impl, []).append({"cannot": reason})
                        continue
                    t0 = time.monotonic()
                    try:
                        res = run_pair(impl, spec, ctx)
                    except Exception as e:  # noqa: BLE001 - recorded, shown as n/a
                        res = {"error": f"{type(e).__name__}: {e}"}
                        errors.append(f"{wl}/{impl} run {run + 1}: {res['error']}")
                    results.setdefault(wl, {}).setdefault(impl, []).append(res)
                    now_ext = extension_id()
                    if now_ext != ext_seen:
                        errors.append(
                            f"the installed mpssl extension changed ({ext_seen} -> {now_ext}) "
                            f"by the end of {wl}/{impl} run {run + 1} (another build was "
                            "installed): mpssl figures from later pairs use the new build"
                        )
                        ext_seen = now_ext
                    shown = {
                        k: (round(v, 3) if isinstance(v, float) else v)
                        for k, v in res.items()
                        if k != "info"
                    }
                    took = time.monotonic() - t0
                    print(
                        f"run {run + 1}/{runs} {wl:<10} {impl:<6} {took:5.1f}s {shown} "
                        f"{progress.done(f'{wl}/{impl}', took)}",
                        file=sys.stderr,
                        flush=True,
                    )
            for name, wl, extra in tcp_steps:
                t0 = time.monotonic()
                spec = {**specs[wl], "args": [*specs[wl]["args"], *extra]}
                try:
                    res = run_pair("tcp", spec, ctx)
                    tcp_runs.setdefault(name, []).append(res["value"])
                except Exception as e:  # noqa: BLE001
                    errors.append(f"plain TCP baseline {name} run {run + 1}: {e}")
                took = time.monotonic() - t0
                print(
                    f"run {run + 1}/{runs} plain TCP {name:<8} {took:5.1f}s "
                    f"{progress.done(f'tcp/{name}', took)}",
                    file=sys.stderr,
                    flush=True,
                )
            t0 = time.monotonic()
            speed = openssl_speed(speed_cipher)
            if speed is not None:
                speeds.append(speed)
            took = time.monotonic() - t0
            print(
                f"run {run + 1}/{runs} openssl speed {took:5.1f}s "
                f"{progress.done('openssl speed', took)}",
                file=sys.stderr,
                flush=True,
            )

        figures = collect(results, peers)
        for wl, values in tcp_runs.items():
            figures[f"tcp_{wl}"] = summary(values)
        derived: dict[str, Any] = {"speed_cipher": speed_cipher, "openssl_speed": summary(speeds)}
        for key, resumed, full in DERIVED_RESUMED:
            res_f, full_f = figures.get(resumed, {}), figures.get(full, {})
            if res_f.get("mpssl") and full_f.get("stdlib"):
                derived[key] = res_f["mpssl"]["median"] / full_f["stdlib"]["median"]
        floor = figures.get("tcp_hs13")
        if floor and "hs13" in results:
            above: dict[str, Any] = {}
            for impl in IMPLS:
                hs = figures["hs13"][impl]
                if hs:
                    above[impl] = 1e6 / hs["median"] - 1e6 / floor["median"]
            derived["hs13_us_above_tcp"] = above
        if speeds:
            for impl, key in (("mpssl", "bulk_pct_of_openssl_speed"), ("stdlib", "stdlib_pct")):
                b = figures["bulk16k"][impl]
                if b:
                    derived[key] = 100 * b["median"] / statistics.median(speeds)
        negotiated: dict[str, dict[str, Any]] = {}
        resumption: dict[str, dict[str, int]] = {}
        for wl, per in results.items():
            for impl, runs_ in per.items():
                for r in runs_:
                    if r.get("info"):
                        negotiated.setdefault(wl, {})[impl] = r["info"]
                        break
        for impl, runs_ in results.get("resume13", {}).items():
            ok = [r for r in runs_ if "error" not in r and "cannot" not in r]
            if not ok:
                continue
            resumption[impl] = {
                "reused": sum(r["reused"] for r in ok),
                "count": sum(r["count"] for r in ok),
            }
            if ok and resumption[impl]["reused"] == 0:
                errors.append(f"{impl} never resumed a session in the resume13 workload")
        ext_after = extension_id()
        if ext_after != ext_seen:
            errors.append(f"the installed mpssl extension changed at the end ({ext_after})")
        report = {
            "bounds": bounds(
                figures,
                engine.get("figures", {}) if engine else {},
                statistics.median(speeds) if speeds else None,
            ),
            "extension": ext_after,
            "mode": "quick" if args.quick else "full",
            "runs": runs,
            "workloads": list(specs),
            "peers": list(peers),
            "peers_missing": peers_missing,
            "pin": pin,
            "machine": machine(),
            "load_before": load_before,
            "load_after": loadavg(),
            "seconds": round(time.monotonic() - started, 1),
            "stdlib_suite": std_suite,
            "stdlib_group": stdlib_group,
            "stdlib_group12": stdlib_group12,
            "mpssl_suite13": ctx["suite13"],
            "figures": figures,
            "derived": derived,
            "engine": engine,
            "negotiated": negotiated,
            "resumption": resumption,
            "errors": errors,
            "raw": results,
        }
        problem = write_report(report, out)
        print(
            f"wrote {out / 'results.md'}, {out / 'results.json'}"
            f"{'' if problem else ', ' + str(out / 'chart.png')} "
            f"in {report['seconds']} s",
            file=sys.stderr,
        )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
