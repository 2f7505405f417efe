"""The native half of mpssl (MicroPython's ``tls``): contexts, sockets, constants.

Import :mod:`mpssl` rather than this module: its ``SSLContext`` adds path handling.
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol, Self, final

from typing_extensions import Buffer, disjoint_base

__all__ = [
    "CERT_NONE",
    "CERT_OPTIONAL",
    "CERT_REQUIRED",
    "PROTOCOL_TLS_CLIENT",
    "PROTOCOL_TLS_SERVER",
    "RUSTLS_VERSION",
    "SSLContext",
    "SSLSocket",
    "__version__",
]

__version__: str
RUSTLS_VERSION: str
PROTOCOL_TLS_CLIENT: int
PROTOCOL_TLS_SERVER: int
CERT_NONE: int
CERT_OPTIONAL: int
CERT_REQUIRED: int

class _PskKeyStore(Protocol):
    """What ``server_psk_keys`` takes: a dict, or anything with ``get(identity)``."""

    def get(self, identity: bytes, /) -> Buffer | None:
        """The key for ``identity`` (bytes), or None to reject the client."""

@disjoint_base
class SSLContext:
    """TLS configuration: role, verify mode, trusted CAs, own certificate and key, suites.

    ``protocol`` is ``PROTOCOL_TLS_CLIENT`` (verify mode starts at ``CERT_REQUIRED``) or
    ``PROTOCOL_TLS_SERVER`` (starts at ``CERT_NONE``). rustls configurations are built once and
    reused by every socket until the context changes; a socket keeps the configuration it was
    wrapped with (Difference to MicroPython: later changes do not reach existing sockets).
    A configuration remembers up to 16 peer chains that passed every ``CERT_REQUIRED`` check
    (exact bytes, host name, direction) and then re-checks only their dates; the handshake
    signature is verified every time, and a context with a ``verify_callback`` remembers none.
    """

    def __new__(cls, protocol: int, /) -> Self: ...
    @property
    def protocol(self) -> int:
        """The ``PROTOCOL_*`` value this context was made with."""
    @property
    def verify_mode(self) -> int:
        """``CERT_NONE``, ``CERT_OPTIONAL`` or ``CERT_REQUIRED``; anything else raises ValueError."""
    @verify_mode.setter
    def verify_mode(self, value: int) -> None: ...
    @property
    def hostname_checks_common_name(self) -> bool:
        """Match the subject CN when a certificate has no SAN DNS/IP entries (default True)."""
    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None: ...
    @property
    def verify_callback(self) -> Callable[[memoryview, int], int] | None:
        """Called as ``f(cert, depth)`` for each certificate of the peer's chain (top down,
        leaf at depth 0) under CERT_OPTIONAL/CERT_REQUIRED; non-zero or an exception aborts."""
    @verify_callback.setter
    def verify_callback(self, value: Callable[[memoryview, int], int] | None) -> None: ...
    @property
    def session_resumption(self) -> bool:
        """Resume earlier sessions (TLS 1.3 tickets, TLS 1.2 IDs and tickets); default True."""
    @session_resumption.setter
    def session_resumption(self, value: bool) -> None: ...
    def load_cert_chain(self, certfile: Buffer, keyfile: Buffer) -> None:
        """Load certificate(s) and private key from data (PEM or DER). The key is parsed
        first, before the certificate argument is looked at (a bad key is ``invalid key``
        whatever the certificate argument is, as in the reference)."""
    def load_verify_locations(
        self, cafile: Buffer | None = None, cadata: Buffer | None = None
    ) -> None:
        """Add trusted CA certificates from data (one DER certificate, or PEM); both arguments
        are data here (``mpssl.SSLContext`` adds paths)."""
    def get_ciphers(self) -> list[str]:
        """The suites enabled on this context, in preference order (reference names)."""
    def set_ciphers(self, ciphers: Sequence[str | bytes], /) -> None:
        """Restrict the context to these suites (reference or IANA names), in this order."""
    def get_groups(self) -> list[str]:
        """Key-exchange groups offered, in preference order (X25519MLKEM768 first)."""
    def set_groups(self, groups: list[str], /) -> None:
        """Offer only these groups, in this order. An unknown name or an empty list raises
        ``OSError(-24192, 'MBEDTLS_ERR_SSL_BAD_CONFIG')`` with a note, as ``set_ciphers``."""
    def set_ecdh_curve(self, curve_name: str, /) -> None:
        """CPython's spelling: offer only this group (e.g. ``"X25519"``, ``"prime256v1"``);
        errors as :meth:`set_groups` (CPython raises ValueError)."""
    def wrap_socket(
        self,
        sock: Any,
        *,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        server_hostname: str | bytes | None = None,
    ) -> SSLSocket:
        """Wrap a connected socket (or any object with readinto/write or recv_into/send).

        The role is the context's: ``server_side=True`` on a ``PROTOCOL_TLS_CLIENT`` context
        raises ValueError; a ``PROTOCOL_TLS_SERVER`` context acts as a server even with the
        default ``server_side=False``. A ``CERT_REQUIRED`` client needs ``server_hostname``."""
    @property
    def psk_identity(self) -> bytes | str | None:
        """The identity a PSK client presents (bytes, or str sent as UTF-8; default None).

        With ``psk_key`` also set (in either order) the context does TLS 1.2 PSK
        (``TLS-PSK-WITH-AES-256-GCM-SHA384``/``-128-GCM-SHA256``) and only that, unless
        ``set_ciphers`` was called first. An empty identity or one over 4096 bytes raises
        ``OSError(-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')`` when the pair is applied; the
        value is kept, as in the reference."""
    @psk_identity.setter
    def psk_identity(self, value: Buffer | str | None) -> None: ...
    @property
    def psk_key(self) -> Buffer | None:
        """The PSK client's key (bytes-like, 1 to 48 bytes; default None). Over 48 bytes raises
        ``OSError(-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')`` once the identity is set too."""
    @psk_key.setter
    def psk_key(self, value: Buffer | None) -> None: ...
    @property
    def server_psk_keys(self) -> _PskKeyStore | None:
        """A PSK server's keys: any object with ``get(identity) -> key or None`` (a dict
        works), called with the client's identity as bytes during the handshake. None, a
        value that is not bytes-like (or empty, or over 48 bytes) or an exception from
        ``get`` rejects the client with an ``unknown_psk_identity`` alert. Setting it limits
        the context to the PSK suites unless ``set_ciphers`` was called first."""
    @server_psk_keys.setter
    def server_psk_keys(self, value: _PskKeyStore | None) -> None: ...

@final
class SSLSocket:
    """A TLS stream over a socket, with MicroPython's stream semantics.

    Blocking sockets: ``read(n)``/``readinto`` wait for n bytes or EOF. Non-blocking sockets:
    calls return ``None`` when nothing can move yet; see :meth:`wants` and :meth:`pending`.
    """

    @property
    def context(self) -> SSLContext: ...
    @property
    def server_side(self) -> bool: ...
    @property
    def server_hostname(self) -> str | None: ...
    @property
    def session_reused(self) -> bool:
        """True when the handshake resumed an earlier session."""
    @property
    def eof_was_clean(self) -> bool | None:
        """After EOF: True if the peer sent close_notify, False for a bare TCP EOF; else None."""
    def read(self, n: int = -1, /) -> bytes | None:
        """Read ``n`` bytes: on a blocking socket wait for all of them or EOF (``b""``);
        ``read()`` (or a negative ``n``) reads to EOF. Non-blocking: what is there, or None
        when nothing is. Bytes taken before a time-out are kept for the next read.
        ``read()`` holds about as much memory as the peer sends before EOF (see
        :meth:`readline`)."""
    def readinto(self, buf: Buffer, nbytes: int | None = None, /) -> int | None:
        """Read into ``buf`` (at most ``nbytes``; None or a negative ``nbytes``: all of
        ``buf``, as MicroPython's ``size_t``), waiting for all of it or EOF when blocking.
        Returns the count, or None on a non-blocking socket with nothing to read."""
    def readline(self, limit: int = -1, /) -> bytes | None:
        """Read a line, up to and including ``b"\\n"``, EOF or ``limit`` bytes.

        Without a limit (``-1`` or negative) the line may be as long as the peer makes it:
        memory grows with it, to about the line's size (a 128 MiB line holds about 128 MiB
        while it is read, then the returned bytes). Pass a ``limit`` when the peer is not
        trusted. Non-blocking: the part that arrived, or None when nothing did."""
    def write(
        self, buf: Buffer | str, off_or_n: int | None = None, n: int | None = None, /
    ) -> int | None:
        """Write all of ``buf`` on a blocking socket (records of 16 KiB, up to four per
        socket write). MicroPython's forms: ``write(buf, n)`` writes at most ``n`` bytes,
        ``write(buf, off, n)`` starts at ``off`` (past the end: nothing; a negative ``n``
        is no limit), and a ``str`` is written as its UTF-8 encoding.

        On a non-blocking socket: the count sent, or None when nothing could be; after None
        or a short count, call again with the rest of the same data (as with Mbed TLS): a
        record the socket took only part of is counted when the repeat finishes it."""
    def recv(self, n: int = 1024, /) -> bytes | None:
        """One TLS read: returns as soon as any plaintext is available."""
    def recv_into(self, buf: Buffer, nbytes: int | None = None, /) -> int | None:
        """:meth:`readinto`, under CPython's name (it waits for all of ``buf``)."""
    def send(
        self, buf: Buffer | str, off_or_n: int | None = None, n: int | None = None, /
    ) -> int | None:
        """One TLS record (at most 16384 bytes) of ``buf``, in :meth:`write`'s forms;
        returns the count sent (non-blocking: None until the socket has taken the whole
        record; repeat with the same data)."""
    def sendall(
        self, buf: Buffer | str, off_or_n: int | None = None, n: int | None = None, /
    ) -> int | None:
        """:meth:`write`, under CPython's name."""
    def do_handshake(self) -> bool | None:
        """Advance the handshake: True when complete, None if the socket would block."""
    def setblocking(self, flag: bool, /) -> Any: ...
    def settimeout(self, value: float | None, /) -> Any: ...
    def gettimeout(self) -> float | None: ...
    def fileno(self) -> int:
        """The wrapped socket's ``fileno()``. Once the application has closed the wrapped
        socket itself (``sock.close()``, which ends the connection), it is -1 and every I/O
        call raises ``OSError(EBADF)``; nothing reaches a socket that reuses the number."""
    def pending(self) -> int:
        """Decrypted bytes readable without touching the socket. Raises
        ``OSError(EDEADLK)`` when called from this socket's own ``verify_callback``, as every
        method that needs the connection's state does (``repr`` does not raise)."""
    def wants(self) -> int:
        """``selectors.EVENT_READ``/``EVENT_WRITE`` bits the last unfinished call waits on."""
    def cipher(self) -> tuple[str, str] | None: ...
    def version(self) -> str | None: ...
    def key_exchange_group(self) -> str | None: ...
    def getpeercert(self, binary_form: bool = False) -> Any: ...
    def get_peer_cert_chain(self) -> list[bytes] | None: ...
    def verify_result(self) -> int | None:
        """Whether the peer's certificate chain verified, as Mbed TLS's
        ``mbedtls_ssl_get_verify_result``: ``0`` when it did; otherwise the
        ``MBEDTLS_X509_BADCERT_*`` bits of every reason (``0x01`` expired, ``0x04`` host name
        mismatch, ``0x08`` not trusted, ``0x100`` other, ``0x200`` not yet valid, ``0x1000``
        extended key usage, ``0x4000`` signature algorithm, ``0x10000`` key); ``None`` before
        the handshake completed or when the peer sent no certificate.

        Under ``CERT_REQUIRED`` a completed handshake means ``0``. Under ``CERT_OPTIONAL``
        and ``CERT_NONE`` the handshake does not depend on it: the chain is checked as
        ``CERT_REQUIRED`` would (loaded CAs, dates, key usage, key strength, and on a client
        the ``server_hostname``) when this is first called, and the answer is kept. A peer
        certificate (``getpeercert()``) is authenticated only when this returns ``0``."""
    def close(self) -> None:
        """Send close_notify (once, best effort), then close the wrapped object. Idempotent.
        If the application closed the wrapped socket itself, close sends nothing."""
    def __enter__(self) -> SSLSocket: ...
    def __exit__(self, *exc: object) -> None: ...
