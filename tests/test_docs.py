"""The docs site (``make docs`` -> target/docs/html): its examples run, and its API reference
covers every public name, each with a docstring.

Guide pages mark an example as runnable with an HTML comment on the line before its fence::

    <!-- runnable -->
    ```python
    ...
    ```

Each such block is run on its own, in a fresh interpreter, against loopback; it must exit 0
(the examples assert their results). ``make test`` builds the docs (``make docs``) before
pytest; the API-reference checks read that build and fail when it is older than its sources.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import mpssl
import pytest
from mpssl import _mpssl

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
STUB = ROOT / "python" / "mpssl" / "_mpssl.pyi"
API_HTML = ROOT / "target" / "docs" / "html" / "api.html"

RUNNABLE = re.compile(r"^<!-- runnable -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Guide pages written with runnable examples; each must keep at least one.
GUIDES = ["index.md", "from-micropython.md", "from-cpython.md", "nonblocking.md"]


def runnable_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted(DOCS.glob("*.md")):
        for i, m in enumerate(RUNNABLE.finditer(page.read_text(encoding="utf-8"))):
            blocks.append((f"{page.name}#{i + 1}", m.group(1)))
    return blocks


BLOCKS = runnable_blocks()


def test_guides_have_runnable_examples() -> None:
    for page in GUIDES:
        assert any(name.startswith(page + "#") for name, _ in BLOCKS), page


@pytest.mark.parametrize("code", [c for _, c in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_example_runs(code: str, tmp_path: Path) -> None:
    # Not `-I`: the interpreter must see the same mpssl as the tests (a development install).
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Development mode shows unclosed sockets and other misuse as warnings.
    assert "Warning" not in proc.stderr, proc.stderr


def test_runnable_marker_is_seen_failing(tmp_path: Path) -> None:
    """The extraction and the runner report a failing example (so the ones above can fail)."""
    page = "<!-- runnable -->\n```python\nassert 1 == 2, 'example failed'\n```\n"
    [code] = [m.group(1) for m in RUNNABLE.finditer(page)]
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          cwd=tmp_path, timeout=30)
    assert proc.returncode != 0 and "example failed" in proc.stderr


# ---- docstrings and the API reference ----------------------------------------------------


def stub_members() -> dict[str, bool]:
    """``{qualified name: has a docstring}`` for every module attribute, class and member of
    the stub (a property's setter shares the getter's docstring; a module constant's docstring
    is the string literal that follows it)."""
    out: dict[str, bool] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for i, node in enumerate(body):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                nxt = body[i + 1] if i + 1 < len(body) else None
                out[prefix + node.target.id] = (
                    isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)
                )
            elif isinstance(node, ast.ClassDef):
                out[prefix + node.name] = ast.get_docstring(node) is not None
                walk(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.FunctionDef):
                if any(isinstance(d, ast.Attribute) and d.attr == "setter"
                       for d in node.decorator_list):
                    continue
                out[prefix + node.name] = ast.get_docstring(node) is not None

    walk(ast.parse(STUB.read_text(encoding="utf-8")).body, "")
    return out


def test_every_stub_member_has_a_docstring() -> None:
    members = stub_members()
    assert "SSLSocket.read" in members and "CERT_NONE" in members
    assert [name for name, documented in members.items() if not documented] == []


def public_names() -> list[str]:
    """Every public name of ``mpssl`` and every public member of its classes."""
    names = []
    for name in mpssl.__all__:
        names.append(name)
        obj = getattr(mpssl, name)
        if isinstance(obj, type):
            names += [f"{name}.{m}" for m in dir(obj) if not m.startswith("_")]
    stub = stub_members()
    # Stub members the runtime hides from dir()'s public part (__new__, __enter__, ...).
    names += [n for n in stub if "." in n and n not in names and n.split(".")[0] in mpssl.__all__]
    return sorted(set(names))


def test_every_public_name_has_a_docstring() -> None:
    stub = stub_members()
    missing = []
    for name in public_names():
        if stub.get(name):
            continue
        obj = mpssl
        for part in name.split("."):
            obj = getattr(obj, part)
        # Constants (ints, strs) carry their type's docstring: only the stub's counts.
        own = obj.__doc__ if not isinstance(obj, (int, str)) else None
        if not (own or "").strip():
            missing.append(name)
    assert missing == []


def test_stub_and_module_agree_on_public_names() -> None:
    public = {n for n in _mpssl.__all__ if not n.startswith("_")}  # `_install_sockio`: internal
    assert public <= set(mpssl.__all__)
    stub = stub_members()
    for name in public:
        assert name in stub, name


def test_api_reference_lists_every_public_name() -> None:
    assert API_HTML.exists(), f"{API_HTML} is missing: run `make docs`"
    sources = [*DOCS.rglob("*.md"), *DOCS.rglob("*.rst"), *DOCS.rglob("*.py"),
               *(ROOT / "python" / "mpssl").glob("*.py*")]
    stamp = ROOT / "target" / "docs" / "built.stamp"  # `make docs` touches it when done
    assert stamp.exists(), "run `make docs`"
    built = stamp.stat().st_mtime
    stale = [str(p.relative_to(ROOT)) for p in sources if p.stat().st_mtime > built]
    assert stale == [], f"the docs build is older than {stale}: run `make docs`"
    html = API_HTML.read_text(encoding="utf-8")
    missing = [n for n in public_names() if f'id="mpssl.{n}"' not in html]
    assert missing == []
    assert 'href="rustdoc/mpssl/index.html"' in html
    assert (API_HTML.parent / "rustdoc" / "mpssl" / "index.html").is_file()
