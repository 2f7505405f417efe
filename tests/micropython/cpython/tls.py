"""MicroPython's ``tls`` module for a CPython instance of MicroPython's multitest runner.

``run-multitests.py`` runs CPython (``-t cpython``) with this directory first on
``PYTHONPATH``: ``import tls`` then gives mpssl's extension module, which is the ``tls``
contract (data, not paths; ``CERT_REQUIRED`` by default for clients), and micropython-lib's
``ssl.py`` (also put on ``PYTHONPATH`` by the wrapper) wraps it as on MicroPython.
"""

from mpssl._mpssl import *
