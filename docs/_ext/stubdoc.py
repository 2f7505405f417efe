"""Sphinx extension: docstrings and signatures of ``mpssl._mpssl`` members from its stubs.

The compiled extension carries short docstrings (from the Rust doc comments) and text
signatures without types; the stubs (``mpssl/_mpssl.pyi``, installed with the package) carry
the reference text and the types. For every documented ``mpssl.X`` or ``mpssl.X.member``
whose defining class is in the extension, the stub's docstring and signature are used;
members written in Python (``mpssl.SSLContext.load_cert_chain``, ...) keep their own.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util.docstrings import prepare_docstring


def _is_doc_expr(node: ast.AST | None) -> str | None:
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ):
        return node.value.value
    return None


def _signature(fn: ast.FunctionDef) -> tuple[str, str | None]:
    args = copy.deepcopy(fn.args)
    if args.posonlyargs:
        del args.posonlyargs[0]
    elif args.args:
        del args.args[0]
    ret = ast.unparse(fn.returns) if fn.returns is not None else None
    return f"({ast.unparse(args)})", ret


def parse_stub(path: Path) -> tuple[dict[str, str], dict[str, tuple[str, str | None]]]:
    """``{qualified name: docstring}`` and ``{qualified name: (signature, return)}``."""
    docs: dict[str, str] = {}
    sigs: dict[str, tuple[str, str | None]] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for i, node in enumerate(body):
            nxt = body[i + 1] if i + 1 < len(body) else None
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                doc = _is_doc_expr(nxt)
                if doc is not None:
                    docs[prefix + node.target.id] = doc
            elif isinstance(node, ast.ClassDef):
                doc = ast.get_docstring(node, clean=False)
                if doc is not None:
                    docs[prefix + node.name] = doc
                walk(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.FunctionDef):
                setter = any(
                    isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter")
                    for d in node.decorator_list
                )
                if setter:
                    continue
                doc = ast.get_docstring(node, clean=False)
                if doc is not None:
                    docs[prefix + node.name] = doc
                is_property = any(
                    isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
                )
                if not is_property:
                    sigs[prefix + node.name] = _signature(node)

    walk(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return docs, sigs


def _stub_key(name: str) -> str | None:
    """The stub's name for the documented ``mpssl...`` object, when the extension defines it."""
    import mpssl
    from mpssl import _mpssl

    parts = name.split(".")
    if parts[0] != "mpssl" or len(parts) not in (2, 3):
        return None
    obj = getattr(mpssl, parts[1], None)
    if len(parts) == 2:
        if isinstance(obj, type):
            return parts[1] if getattr(_mpssl, parts[1], None) is obj else None
        return parts[1] if hasattr(_mpssl, parts[1]) else None
    if not isinstance(obj, type):
        return None
    for owner in obj.__mro__:
        if parts[2] in owner.__dict__:
            if getattr(_mpssl, owner.__name__, None) is owner:
                return f"{owner.__name__}.{parts[2]}"
            return None
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    import mpssl

    stub = Path(mpssl.__file__).with_name("_mpssl.pyi")
    docs, sigs = parse_stub(stub)

    def docstring(_app: Sphinx, what: str, name: str, obj: Any, _opts: Any, lines: list[str]
                  ) -> None:
        key = _stub_key(name)
        if key is not None and key in docs:
            lines[:] = prepare_docstring(docs[key])
            # Rebuild the page when the stub changes (Sphinx tracks the .py files itself).
            _app.env.note_dependency(str(stub))

    def signature(_app: Sphinx, what: str, name: str, obj: Any, _opts: Any, sig: str | None,
                  ret: str | None) -> tuple[str | None, str | None] | None:
        key = _stub_key(name)
        if key is None:
            return None
        if what == "class":
            key = f"{key}.__new__"
        if key in sigs:
            return sigs[key]
        return None

    app.connect("autodoc-process-docstring", docstring)
    app.connect("autodoc-process-signature", signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
