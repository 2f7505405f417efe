"""Sphinx configuration of the mpssl docs (``make docs`` -> target/docs/html).

The API reference is autodoc over the *installed* package (``make build-dev`` or
``maturin develop`` first); members of the extension take their docstrings and signatures
from the stubs that ship with it (``_ext/stubdoc.py``), so IDEs and these pages say the same.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

try:
    import mpssl
except ImportError as e:  # pragma: no cover - a clear message instead of autodoc warnings
    raise SystemExit(f"the docs need mpssl installed (make build-dev): {e}") from e

project = "mpssl"
copyright = "The mpssl contributors"
release = version = mpssl.__version__

extensions = ["sphinx.ext.autodoc", "myst_parser", "stubdoc"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "separated"

html_theme = "alabaster"
html_title = f"mpssl {release}"
html_static_path = ["_static"]
html_css_files = ["mpssl.css"]
html_theme_options = {"description": "MicroPython's ssl module on rustls, for CPython"}
