"""The firmware tests run from ``make test-micropython`` (part of ``make test``), which builds
both firmwares first and sets ``MPSSL_MICROPYTHON_TESTS=1``. A plain ``pytest tests`` (the
``test-python`` target) leaves them out so they do not run twice; it does not skip them."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("MPSSL_MICROPYTHON_TESTS") == "1" else ["test_*.py"]
