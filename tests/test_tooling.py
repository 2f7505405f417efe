"""`make test` installs everything it checks (issue 9, defect 0).

A fresh clone in a fresh virtual environment once failed at `make lint`: mypy checks
`bench/run.py`, which imports matplotlib, and only `make bench` installed it. Every third-party
module imported by a file that mypy checks must be importable after `make tools`.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _checked_files() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    out: list[Path] = []
    for entry in config["tool"]["mypy"]["files"]:
        path = ROOT / entry
        out.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return out


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_mypy_checks_is_installed() -> None:
    files = _checked_files()
    assert any(f.name == "run.py" for f in files), "bench/run.py is no longer type-checked?"
    local = {"mpssl", "peer", "support", "pki"}
    missing = {}
    for path in files:
        for name in _top_level_imports(path) - local - set(sys.stdlib_module_names):
            if name == "typing_extensions" or importlib.util.find_spec(name) is not None:
                continue
            missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported by type-checked files but not installed by `make tools`: {missing}"
