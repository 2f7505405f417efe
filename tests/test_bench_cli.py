"""``python -m mpssl bench``: progress with an estimate of the time left, and a clear message
(and exit 2) when the package runs outside the source repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mpssl

TIMEOUT = 240


def test_bench_shows_progress_and_time_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "mpssl", "bench", "--", "--quick", "--only", "hs13", "--no-rust",
         "--out", str(out)],
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert run.returncode == 0, run.stderr
    assert "5 steps: 1 run(s) of 5" in run.stderr
    steps = re.findall(
        r"\[(\d+)/5 steps, (\d+) %, [^,\]]+ elapsed, about ([^\]]+) left\]", run.stderr
    )
    # One line per step (mpssl, stdlib, two plain-TCP loops, openssl speed), each with an estimate.
    assert [int(n) for n, _, _ in steps] == [1, 2, 3, 4, 5], run.stderr
    assert [int(p) for _, p, _ in steps] == [20, 40, 60, 80, 100]
    assert steps[-1][2] == "0 s"
    assert re.fullmatch(r"\d+ s", steps[0][2])
    assert (out / "results.md").is_file()


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
