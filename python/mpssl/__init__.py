"""MicroPython's ``ssl`` module, implemented in Rust on rustls, for CPython.

The mechanism lives in the extension ``mpssl._mpssl`` (the part MicroPython writes in C as the
``tls`` module); this file is the policy layer (MicroPython's ``ssl.py``): turning paths into
bytes, the module-level :func:`wrap_socket`, and the public names.

Which calls verify the peer:

* ``SSLContext(PROTOCOL_TLS_CLIENT)`` starts with ``CERT_REQUIRED`` (chain, dates, host name).
* ``SSLContext(PROTOCOL_TLS_SERVER)`` starts with ``CERT_NONE`` (no client certificate asked).
* :func:`wrap_socket` defaults to ``cert_reqs=CERT_NONE``: **no verification** unless you pass
  ``cert_reqs=CERT_REQUIRED``, ``cadata`` and ``server_hostname``, as MicroPython documents.
"""

from __future__ import annotations

import enum
import os
import sys
from typing import TYPE_CHECKING, Any

from . import _mpssl, _sockio
from ._mpssl import (
    CERT_NONE,
    CERT_OPTIONAL,
    CERT_REQUIRED,
    PROTOCOL_DTLS_CLIENT,
    PROTOCOL_DTLS_SERVER,
    PROTOCOL_TLS_CLIENT,
    PROTOCOL_TLS_SERVER,
    RUSTLS_VERSION,
    SSLObject,
    SSLSocket,
    __version__,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

    Source = str | os.PathLike[str] | os.PathLike[bytes] | Buffer

__all__ = [
    "CERT_NONE",
    "CERT_OPTIONAL",
    "CERT_REQUIRED",
    "PROTOCOL_DTLS_CLIENT",
    "PROTOCOL_DTLS_SERVER",
    "PROTOCOL_TLS_CLIENT",
    "PROTOCOL_TLS_SERVER",
    "RUSTLS_VERSION",
    "Purpose",
    "SSLContext",
    "SSLObject",
    "SSLSocket",
    "__version__",
    "create_default_context",
    "wrap_socket",
]

# SSLSocket.makefile/sendfile are written in Python (CPython's socket.SocketIO semantics).
_mpssl._install_sockio(_sockio)

_PEM_MARKER = "-----BEGIN "


def _data(source: Any, what: str) -> Any:
    """Key, certificate or CA material as data.

    bytes-like objects are data; a ``str`` containing ``-----BEGIN `` is PEM text; any other
    ``str`` or ``os.PathLike`` is a path whose file is read (a missing file raises
    ``FileNotFoundError``, an ``OSError`` with errno 2).
    """
    if isinstance(source, str):
        if _PEM_MARKER in source:
            return source.encode("ascii", "strict")
        with open(source, "rb") as f:
            return f.read()
    if isinstance(source, os.PathLike):
        with open(source, "rb") as f:
            return f.read()
    if source is None:
        raise TypeError(f"{what} must be a path, PEM text or bytes-like data, not None")
    return source


def _contiguous_buffer(obj: Any) -> bool:
    try:
        with memoryview(obj) as view:
            return view.contiguous
    except TypeError:
        return False


class SSLContext(_mpssl.SSLContext):
    """A TLS configuration shared by sockets: role, verify mode, CAs, own certificate, suites.

    ``SSLContext(PROTOCOL_TLS_CLIENT)`` verifies the server (``CERT_REQUIRED``);
    ``SSLContext(PROTOCOL_TLS_SERVER)`` asks nothing of clients (``CERT_NONE``).
    """

    __slots__ = ()

    def load_cert_chain(self, certfile: Source, keyfile: Source) -> None:
        """Load this end's certificate chain and private key (path, PEM text, or PEM/DER bytes).

        A second call replaces the key and appends the certificates (leaf first). Bad data
        raises ``ValueError("invalid key")`` / ``ValueError("invalid cert")``; the key is
        checked first, even when ``certfile`` is missing (as the reference).
        """
        self._load_cert_chain(
            certfile, keyfile, "certfile must be a path, PEM text or bytes-like data, not None"
        )

    def _load_cert_chain(self, certfile: Source | None, keyfile: Source, missing: str) -> None:
        key = _data(keyfile, "keyfile")
        if certfile is None:
            # The extension parses the key before it looks at the certificate, so a bad key
            # is reported as such (issue 9, defect 10); a good key then meets a TypeError,
            # which is about the missing certificate unless the key itself is not usable data.
            try:
                super().load_cert_chain(None, key)  # type: ignore[arg-type]
            except TypeError:
                if not _contiguous_buffer(key):
                    raise
                raise TypeError(missing) from None
            return
        super().load_cert_chain(_data(certfile, "certfile"), key)

    # CPython's positional order; the native method keeps MicroPython's `tls` order.
    def load_verify_locations(  # type: ignore[override]
        self,
        cafile: Source | None = None,
        capath: Source | None = None,
        cadata: Source | None = None,
    ) -> None:
        """Add trusted CA certificates: one DER certificate or any number of PEM ones.

        CPython's order ``(cafile, capath, cadata)``. ``cafile`` and ``cadata`` follow the
        same rule (path, PEM text or bytes); ``capath`` is a directory whose files are all
        read as PEM (OpenSSL's hashed names or any others). MicroPython's order is
        ``(cafile, cadata)``: a second argument that is data (bytes-like that is not the name
        of a directory, or PEM text) is taken as ``cadata``, so MicroPython-style calls keep
        working. Give at least one. Repeated calls add to the trust store.
        """
        if capath is not None and cadata is None and _is_data(capath):
            capath, cadata = None, capath
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile and cadata cannot both be None")
        if cafile is not None:
            super().load_verify_locations(_data(cafile, "cafile"))
        if capath is not None:
            path = capath if isinstance(capath, str | bytes | os.PathLike) else bytes(capath)
            super().load_verify_locations(capath=os.fsdecode(path))
        if cadata is not None:
            super().load_verify_locations(_data(cadata, "cadata"))


def _is_data(value: Any) -> bool:
    """True for certificate data (PEM text, bytes-like), False for a directory name."""
    if isinstance(value, str):
        return _PEM_MARKER in value
    if isinstance(value, os.PathLike):
        return False
    return not (isinstance(value, bytes) and value and os.path.isdir(value))


class Purpose(enum.Enum):
    """CPython's ``ssl.Purpose``: what the peer's certificate is checked for (by OID).
    ``create_default_context`` also takes CPython's own ``ssl.Purpose`` values."""

    SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
    """Verify servers: make a client context."""
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
    """Verify clients: make a server context."""


def create_default_context(
    purpose: Any = Purpose.SERVER_AUTH,
    *,
    cafile: Source | None = None,
    capath: Source | None = None,
    cadata: Source | None = None,
) -> SSLContext:
    """A context as CPython's ``ssl.create_default_context`` makes it.

    ``Purpose.SERVER_AUTH`` (default): a client context (``CERT_REQUIRED``, host names
    checked); ``Purpose.CLIENT_AUTH``: a server context. CA certificates from
    ``cafile``/``capath``/``cadata`` when given, else the system's (:meth:`SSLContext.
    load_default_certs`, honouring ``SSL_CERT_FILE``/``SSL_CERT_DIR``). As in CPython, the
    ``SSLKEYLOGFILE`` environment variable (unless ``python -E``) sets ``keylog_filename``:
    this is the only place mpssl reads it; ``SSLContext(...)`` never logs keys unless
    ``keylog_filename`` is set.
    """
    oid = getattr(purpose, "oid", getattr(purpose, "value", purpose))
    if oid == Purpose.SERVER_AUTH.value:
        ctx = SSLContext(PROTOCOL_TLS_CLIENT)
    elif oid == Purpose.CLIENT_AUTH.value:
        ctx = SSLContext(PROTOCOL_TLS_SERVER)
    else:
        raise ValueError(f"unknown purpose {purpose!r}")
    if cafile or capath or cadata:
        ctx.load_verify_locations(cafile, capath, cadata)
    elif ctx.verify_mode != CERT_NONE:
        ctx.load_default_certs(purpose)
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        ctx.keylog_filename = keylog
    return ctx


def wrap_socket(
    sock: Any,
    server_side: bool = False,
    key: Source | None = None,
    cert: Source | None = None,
    cert_reqs: int = CERT_NONE,
    cadata: Source | None = None,
    server_hostname: str | bytes | None = None,
    do_handshake: bool = True,
    *,
    keyfile: Source | None = None,
    certfile: Source | None = None,
) -> SSLSocket:
    """Wrap ``sock`` in TLS, as MicroPython's ``ssl.wrap_socket``.

    Builds an :class:`SSLContext` for the side ``server_side`` selects, loads ``cert``/``key``
    (also spelled ``certfile``/``keyfile``) when either is given and ``cadata`` when given
    (empty values count as not given, as in micropython-lib's ``ssl.py``; the key is checked
    first), sets ``verify_mode = cert_reqs`` and calls :meth:`SSLContext.wrap_socket`.
    **The default ``cert_reqs=CERT_NONE`` does not verify the peer.**
    """
    if keyfile is not None:
        if key is not None:
            raise TypeError("give key or keyfile, not both")
        key = keyfile
    if certfile is not None:
        if cert is not None:
            raise TypeError("give cert or certfile, not both")
        cert = certfile
    ctx = SSLContext(PROTOCOL_TLS_SERVER if server_side else PROTOCOL_TLS_CLIENT)
    # As micropython-lib's ssl.py: load when either is given (truthy); the key is parsed
    # first, so key=b"!" alone is ValueError('invalid key') as in the reference.
    if cert or key:
        if key is None:
            raise TypeError("key and cert must be given together")
        ctx._load_cert_chain(cert, key, "key and cert must be given together")
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    ctx.verify_mode = cert_reqs
    return ctx.wrap_socket(
        sock,
        server_side=server_side,
        do_handshake_on_connect=do_handshake,
        server_hostname=server_hostname,
    )
