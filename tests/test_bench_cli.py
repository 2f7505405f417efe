"""``python -m mpssl bench``: progress with an estimate of the time left, and a clear message
(and exit 2) when the package runs outside the source repository."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mpssl

TIMEOUT = 240


def test_bench_outside_the_repository_says_what_to_do(tmp_path: Path) -> None:
    # The package as a wheel installs it: no bench/ next to it, run from elsewhere.
    site = tmp_path / "site"
    shutil.copytree(
        Path(mpssl.__file__).resolve().parent, site / "mpssl",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import mpssl; print(mpssl.__file__)"],
        capture_output=True, text=True, timeout=TIMEOUT, check=True, cwd=elsewhere, env=env,
    )
    assert where.stdout.strip() == str(site / "mpssl" / "__init__.py")
    run = subprocess.run(
        [sys.executable, "-m", "mpssl", "bench"],
        capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=elsewhere, env=env,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(
        "mpssl bench: the benchmark is not installed with the package (no bench/run.py next to "
        f"{site / 'mpssl'} nor in {elsewhere}; clone the mpssl repository and run `make bench`"
    ), lines[0]


def test_bench_progress_and_peers(tmp_path: Path) -> None:
    """Progress with an estimate of the time left; rtls and pyrtls (``make bench-tools``) beside
    mpssl and the stdlib: a peer that cannot run a workload, or is not installed, is shown as
    such in the report, not dropped."""
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "mpssl", "bench", "--", "--quick", "--only", "hs12,bulk16k",
         "--no-rust", "--peers", "rtls,pyrtls", "--out", str(out)],
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert run.returncode == 0, run.stderr
    # Progress: one line per step (peer pairs, the plain-TCP loop, openssl speed), each with the
    # steps done, the percentage, the time elapsed and an estimate of the time left.
    total = int(re.search(r"^(\d+) steps: 1 run\(s\) of \1$", run.stderr, re.MULTILINE)[1])
    steps = re.findall(
        r"\[(\d+)/(\d+) steps, (\d+) %, [^,\]]+ elapsed, about ([^\]]+) left\]", run.stderr
    )
    assert [int(n) for n, *_ in steps] == list(range(1, total + 1)), run.stderr
    assert all(int(t) == total for _, t, _, _ in steps)
    assert [int(p) for _, _, p, _ in steps] == [round(100 * n / total) for n in range(1, total + 1)]
    assert steps[-1][3] == "0 s"
    assert all(re.fullmatch(r"\d+ s|\d+ min \d\d s", left) for *_, left in steps)
    report = (out / "results.md").read_text()
    installed = [p for p in ("rtls", "pyrtls") if importlib.util.find_spec(p) is not None]
    header = "| Figure | unit | mpssl | " + " | ".join(f"{p} | mpssl / {p}" for p in installed)
    assert (header + " |" in report) == bool(installed), report
    peer_rows = report.split(header, 1)[1].split("\n\n", 1)[0].splitlines() if installed else []
    for peer, pin in (("rtls", "rtls==2026.9.21"), ("pyrtls", "pyrtls==0.1.3")):
        if importlib.util.find_spec(peer) is None:
            assert f"- {peer}: not installed (`pip install {pin}`; `make bench` installs it)." \
                in report, report
            continue
        assert re.search(rf"^run 1/1 bulk16k +{peer} .*steps", run.stderr, re.MULTILINE), run.stderr
        row = next(r for r in peer_rows if r.startswith("| Bulk one-way, 16 KiB writes |"))
        assert "cannot" not in row and "n/a" not in row, row
    if importlib.util.find_spec("pyrtls") is not None:
        assert ("- pyrtls cannot run hs12: no way to choose the protocol version or the cipher "
                "suites.") in report, report
        hs12 = next(r for r in peer_rows if r.startswith("| Full handshakes/s, TLS 1.2"))
        assert hs12.endswith("| cannot |  |"), hs12
