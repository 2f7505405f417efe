"""The native half of mpssl (MicroPython's ``tls``): contexts, sockets, constants.

Import :mod:`mpssl` rather than this module: its ``SSLContext`` adds path handling.
"""

import os
import ssl
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any, Protocol, Self, final, overload

from typing_extensions import Buffer, disjoint_base

__all__ = [
    "CERT_NONE",
    "CERT_OPTIONAL",
    "CERT_REQUIRED",
    "PROTOCOL_DTLS_CLIENT",
    "PROTOCOL_DTLS_SERVER",
    "PROTOCOL_TLS_CLIENT",
    "PROTOCOL_TLS_SERVER",
    "RUSTLS_VERSION",
    "SSLContext",
    "SSLObject",
    "SSLSocket",
    "__version__",
    "_install_sockio",
]

__version__: str
"""mpssl's version (the Cargo package version), e.g. ``"0.1.0"``."""
RUSTLS_VERSION: str
"""The rustls release mpssl is built on, e.g. ``"rustls 0.23.46 (aws-lc-rs)"`` (in place of
MicroPython's ``MBEDTLS_VERSION``)."""
PROTOCOL_TLS_CLIENT: int
"""``SSLContext`` role: a client (verify mode starts at ``CERT_REQUIRED``)."""
PROTOCOL_TLS_SERVER: int
"""``SSLContext`` role: a server (verify mode starts at ``CERT_NONE``)."""
PROTOCOL_DTLS_CLIENT: int
"""``SSLContext`` role: a DTLS 1.2 client over a connected UDP socket (``CERT_REQUIRED``)."""
PROTOCOL_DTLS_SERVER: int
"""``SSLContext`` role: a DTLS 1.2 server; ``wrap_socket`` needs ``client_id``
(``CERT_NONE``)."""
CERT_NONE: int
"""Verify mode: no identity check in the handshake (handshake signatures are still checked);
a server asks for no client certificate."""
CERT_OPTIONAL: int
"""Verify mode: the ``CERT_REQUIRED`` checks are made but a failure does not stop the
handshake; see :meth:`SSLSocket.verify_result`."""
CERT_REQUIRED: int
"""Verify mode: the peer's chain must lead to a loaded CA, with valid dates, key usage and
(on a client) the ``server_hostname``."""

def _install_sockio(module: ModuleType) -> None:
    """Internal: give the extension ``mpssl._sockio`` (``makefile``/``sendfile`` are written
    in Python); ``import mpssl`` calls it."""

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

    def __new__(cls, protocol: int, /) -> Self:
        """A new context for ``PROTOCOL_TLS_CLIENT`` or ``PROTOCOL_TLS_SERVER``."""
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
    def check_hostname(self) -> bool:
        """CPython's ``check_hostname``: whether a client checks the server's certificate
        against ``server_hostname`` (and, under ``CERT_REQUIRED``, requires one).

        Until set it follows the verify mode (MicroPython's behaviour): True on a client
        context unless ``verify_mode`` is ``CERT_NONE``, False on a server context. ``False``
        on a ``CERT_REQUIRED`` client still verifies the chain (trusted CA, dates, key usage)
        but not the name, and ``server_hostname`` may be omitted. As in CPython, setting it to
        True under ``CERT_NONE`` switches to ``CERT_REQUIRED``, and ``verify_mode = CERT_NONE``
        after it was set to True raises ``ValueError``. Under ``CERT_OPTIONAL`` a wrong name
        does not stop the handshake (MicroPython's ``CERT_OPTIONAL``); ``verify_result()``
        reports it."""
    @check_hostname.setter
    def check_hostname(self, value: bool) -> None: ...
    @property
    def ecdsa_sign_callback(self) -> Callable[[bytearray, bytearray], Buffer | None] | None:
        """Called as ``f(private_key, hash)`` (both ``bytearray``: the private scalar,
        big-endian, and the handshake message's hash) for each ECDSA handshake signature; it
        returns the DER ECDSA signature, or ``None`` to sign in software. An exception, a
        non-buffer result or a signature that does not verify fails the handshake with an
        ``OSError`` (the exception as its ``__cause__``). Never called for RSA or Ed25519 keys."""
    @ecdsa_sign_callback.setter
    def ecdsa_sign_callback(
        self, value: Callable[[bytearray, bytearray], Buffer | None] | None
    ) -> None: ...
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
        self,
        cafile: Buffer | None = None,
        cadata: Buffer | None = None,
        *,
        capath: str | os.PathLike[str] | None = None,
    ) -> None:
        """Add trusted CA certificates from data (one DER certificate, or PEM); ``cafile`` and
        ``cadata`` are data here (``mpssl.SSLContext`` adds paths and CPython's argument
        order). ``capath``: a directory whose files are all read as PEM (hashed names or any
        names); an unreadable directory raises ``OSError``."""
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
        session: None = None,
        client_id: Buffer | str | None = None,
    ) -> SSLSocket:
        """Wrap a connected socket (or any object with readinto/write or recv_into/send).

        DTLS (``PROTOCOL_DTLS_*``): ``sock`` is a connected UDP socket (or an object whose
        reads return one datagram each). A DTLS server needs ``client_id`` (bytes, bytearray,
        str or memoryview naming the client's address, e.g. ``repr(addr).encode()``); missing
        or not a buffer raises ``OSError(-28928, 'MBEDTLS_ERR_SSL_BAD_INPUT_DATA')``. The first
        wrap for a client sends a cookie and raises ``OSError(-27264,
        'MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED')``; wrap again with the same context and
        ``client_id`` to complete. ``client_id`` is ignored by other contexts.

        The role is the context's: ``server_side=True`` on a ``PROTOCOL_TLS_CLIENT`` context
        raises ValueError; a ``PROTOCOL_TLS_SERVER`` context acts as a server even with the
        default ``server_side=False``. A ``CERT_REQUIRED`` client needs ``server_hostname``
        unless ``check_hostname`` is False. ``session`` must be None (what
        ``SSLSocket.session`` returns; ``ftplib.FTP_TLS`` passes it): sessions resume through
        the context; anything else raises TypeError."""
    def set_alpn_protocols(self, alpn_protocols: Iterable[str | bytes], /) -> None:
        """Offer (client) or accept (server) these ALPN protocols, in preference order; each
        1 to 255 bytes, else ``ValueError('ALPN protocols must be 1 to 255 in length')``. A
        server whose list shares nothing with the client's aborts the handshake with a
        ``no_application_protocol`` alert (rustls; OpenSSL would go on without ALPN)."""
    @property
    def keylog_filename(self) -> str | None:
        """Append every session's TLS secrets to this file (NSS key log format, as CPython and
        Wireshark); None (the default) logs nothing. Setting it opens the file (OSError if it
        cannot). Anyone who can read the file can decrypt those connections."""
    @keylog_filename.setter
    def keylog_filename(self, value: str | os.PathLike[str] | None) -> None: ...
    def load_default_certs(self, purpose: Any = None) -> None:
        """Trust the operating system's CA certificates: those in ``SSL_CERT_FILE`` and/or
        ``SSL_CERT_DIR`` when set, else the platform store. ``purpose`` is accepted for
        CPython compatibility; the same roots serve both purposes."""
    def set_default_verify_paths(self) -> None:
        """Trust the operating system's CA certificates, as :meth:`load_default_certs`."""
    @property
    def sni_callback(self) -> Callable[[SSLSocket, str | None, SSLContext], int | None] | None:
        """Server only: ``f(sslsocket, server_name, sslcontext)`` called when a client's hello
        arrives (``server_name`` is None without SNI). Setting ``sslsocket.context`` to another
        server context presents that context's certificate; returning an int (an alert) or
        raising aborts the handshake (the client gets ``access_denied``, whatever the
        int; the server's
        handshake raises the callback's exception, or ``OSError(-28160,
        'MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE')`` for an int)."""
    @sni_callback.setter
    def sni_callback(
        self, value: Callable[[SSLSocket, str | None, SSLContext], int | None] | None
    ) -> None: ...
    @property
    def post_handshake_auth(self) -> bool:
        """Accepted for CPython consumers (``http.client`` sets it to True) and stored; it
        does nothing: rustls has no TLS 1.3 post-handshake client authentication."""
    @post_handshake_auth.setter
    def post_handshake_auth(self, value: bool) -> None: ...
    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: None = None,
    ) -> SSLObject:
        """CPython's ``wrap_bio``: TLS over two ``ssl.MemoryBIO`` objects, as asyncio uses it.

        ``asyncio.open_connection(..., ssl=ctx)`` and ``asyncio.start_server(..., ssl=ctx)``
        call it. Role and host-name rules are those of :meth:`wrap_socket`. ``session`` must
        be None (sessions are resumed through the context). See :class:`SSLObject`."""
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
    def context(self) -> SSLContext:
        """The context the socket was wrapped by, or the one an ``sni_callback`` set."""
    @context.setter
    def context(self, value: SSLContext) -> None: ...
    @property
    def server_side(self) -> bool:
        """True for the server end of the connection."""
    @property
    def server_hostname(self) -> str | None:
        """A client's ``server_hostname``; on the server side, the name the client sent (SNI),
        None when it sent none or before the handshake read it."""
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
    def setblocking(self, flag: bool, /) -> Any:
        """Forward to the wrapped object's ``setblocking`` and return its result."""
    def settimeout(self, value: float | None, /) -> Any:
        """Forward to the wrapped object's ``settimeout``. A blocking call that runs out of
        time raises ``TimeoutError`` (errno 110) and the connection stays usable."""
    def gettimeout(self) -> float | None:
        """The wrapped object's ``gettimeout()``."""
    def fileno(self) -> int:
        """The wrapped socket's ``fileno()``. Once the application has closed the wrapped
        socket itself (``sock.close()``, which ends the connection), it is -1 and every I/O
        call raises ``OSError(EBADF)``; nothing reaches a socket that reuses the number."""
    def pending(self) -> int:
        """Decrypted bytes readable without touching the socket (bytes only: an end of stream
        that arrived with the last data is not counted, so non-blocking code reads until a
        call returns None before waiting on the descriptor). Raises
        ``OSError(EDEADLK)`` when called from this socket's own ``verify_callback``, as every
        method that needs the connection's state does (``repr`` does not raise)."""
    def wants(self) -> int:
        """``selectors.EVENT_READ``/``EVENT_WRITE`` bits the last unfinished call waits on."""
    def cipher(self) -> tuple[str, str] | None:
        """``(suite, version)``, e.g. ``('TLS-AES-256-GCM-SHA384', 'TLSv1.3')`` (reference
        suite names); None before the handshake or after close."""
    def version(self) -> str | None:
        """``'TLSv1.3'`` or ``'TLSv1.2'`` once the handshake is done, else None."""
    def key_exchange_group(self) -> str | None:
        """The negotiated key-exchange group, e.g. ``'X25519MLKEM768'``; None before the
        handshake."""
    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's leaf certificate: DER bytes with ``binary_form=True``, else CPython's
        dict (``subject``, ``issuer``, ``notBefore``, ``subjectAltName``, ...). Available in
        every verify mode: authenticated only when :meth:`verify_result` is ``0``."""
    def get_peer_cert_chain(self) -> list[bytes] | None:
        """The peer's certificate chain as DER bytes, leaf first; None when there is none."""
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
    def selected_alpn_protocol(self) -> str | None:
        """The ALPN protocol agreed in the handshake, None when none was (or before it)."""
    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """Server side, after the handshake: the suites the client offered that the context
        enables, as ``(name, protocol, secret_bits)``; None on the client side."""
    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """``'tls-exporter'`` (RFC 9266): 32 bytes on TLS 1.3, None on TLS 1.2 or before the
        handshake. ``'tls-unique'`` raises ValueError: rustls does not expose the Finished
        messages it needs. Other types raise ValueError."""
    def close(self) -> None:
        """Send close_notify (once, best effort), then close the wrapped object. Idempotent.
        If the application closed the wrapped socket itself, close sends nothing. While files
        from :meth:`makefile` are open, the close happens when the last of them closes."""
    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """CPython's ``socket.makefile``: a file object over this socket, binary with ``"b"``
        in ``mode`` (``"r"``, ``"w"``, ``"rw"``), else text; buffered unless ``buffering=0``
        (binary only). A raw read is one TLS read (``recv``), so a line is returned as soon as
        it arrived. As in CPython, ``close()`` on the socket takes effect when the last file
        from ``makefile`` is closed (``http.client`` relies on it)."""
    def unwrap(self) -> Any:
        """CPython's ``unwrap()``: send close_notify, wait for the peer's, and return the
        wrapped socket, now in the clear. Plaintext the peer sends before its close_notify
        is discarded; the transport is read record by record, so bytes the peer sends in
        the clear after its close_notify stay in the socket. A peer that closes without
        close_notify raises ``OSError(-29312, 'MBEDTLS_ERR_SSL_CONN_EOF')``. This socket's
        TLS I/O then raises ``OSError(EBADF)``; its ``close()`` closes the returned socket, as
        in CPython. Non-blocking: None until done (call again). (Difference to CPython:
        returns the wrapped socket object, not this one.)"""
    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        """CPython's ``sendfile``: send a binary file's bytes from ``offset`` (all, or
        ``count``) with :meth:`send`; returns the count sent and leaves the file positioned
        after the last byte sent. Non-blocking sockets raise ValueError, as in CPython."""
    def shutdown(self, how: int, /) -> Any:
        """Shut the wrapped socket down (``socket.SHUT_RD``/``SHUT_WR``/``SHUT_RDWR``). For
        ``SHUT_WR`` and ``SHUT_RDWR`` a close_notify is sent first (once, best effort); after
        ``SHUT_WR`` reads go on until the peer's close_notify (Difference to CPython, which
        sends none and drops TLS)."""
    def getpeername(self) -> Any:
        """The wrapped socket's ``getpeername()``."""
    def getsockname(self) -> Any:
        """The wrapped socket's ``getsockname()``."""
    @property
    def session(self) -> None:
        """Always None: sessions resume through the context (keyed by server name), so
        there is no session object to pass around; ``wrap_socket(session=None)`` takes it."""
    def __enter__(self) -> SSLSocket:
        """Return this socket (``with ctx.wrap_socket(sock) as tls:``)."""
    def __exit__(self, *exc: object) -> None:
        """:meth:`close` the socket."""

@final
class SSLObject:
    """CPython's ``ssl.SSLObject`` over mpssl, made by :meth:`SSLContext.wrap_bio`.

    Ciphertext is read from ``incoming`` and written to ``outgoing``; nothing blocks. Raises
    the standard library's exceptions: ``ssl.SSLWantReadError`` when more ciphertext is
    needed, ``ssl.SSLEOFError`` when ``incoming`` ended without close_notify,
    ``ssl.SSLZeroReturnError`` for a write after :meth:`unwrap`,
    ``ssl.SSLCertVerificationError`` (also a ``ValueError``, carrying mpssl's verify text)
    when the peer's certificate fails verification, and ``ssl.SSLError(code, text)`` (an
    ``OSError`` with mpssl's code and text) for other TLS failures.
    """

    @property
    def context(self) -> SSLContext:
        """The context this object was made by; an ``sni_callback`` may set another server
        context, whose certificate the handshake then presents."""
    @context.setter
    def context(self, value: SSLContext) -> None: ...
    @property
    def server_side(self) -> bool:
        """True for the server end."""
    @property
    def server_hostname(self) -> str | None:
        """The ``server_hostname`` given to ``wrap_bio``; on the server side, the name the
        client sent (SNI) once the handshake has read it."""
    @property
    def session_reused(self) -> bool:
        """True when the handshake resumed an earlier session."""
    @property
    def session(self) -> None:
        """Always None: sessions are resumed through the context, not session objects."""
    def do_handshake(self) -> None:
        """Advance the handshake; ``ssl.SSLWantReadError`` until it is complete."""
    @overload
    def read(self, len: int = 1024, buffer: None = None) -> bytes:
        """Up to ``len`` bytes of plaintext; ``b""`` after the peer's close_notify."""
    @overload
    def read(self, len: int, buffer: Buffer) -> int:
        """Up to ``len`` bytes of plaintext (``bytes``), or into ``buffer`` (returns the count).
        ``b""``/``0`` after the peer's close_notify; ``ssl.SSLWantReadError`` when more
        ciphertext is needed; ``ssl.SSLEOFError`` when ``incoming`` ended without
        close_notify."""
    def write(self, data: Buffer, /) -> int:
        """Encrypt all of ``data`` into ``outgoing`` (completing the handshake first, or
        ``ssl.SSLWantReadError``); returns ``len(data)``."""
    def unwrap(self) -> None:
        """Send close_notify; ``ssl.SSLWantReadError`` until the peer's close_notify has
        arrived, then None. Application data arriving meanwhile is discarded."""
    def pending(self) -> int:
        """Decrypted bytes waiting to be read."""
    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate: DER bytes with ``binary_form=True``, else CPython's dict;
        None if the peer sent none. Returned in every verify mode (Difference to CPython)."""
    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, version, secret_bits)`` with mpssl's suite name, e.g.
        ``('TLS-AES-256-GCM-SHA384', 'TLSv1.3', 256)``; None before the handshake."""
    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """The negotiated suite alone, as a one-element list (rustls does not expose the
        peer's offer); None before the handshake."""
    def compression(self) -> None:
        """Always None (no TLS compression)."""
    def version(self) -> str | None:
        """``'TLSv1.3'`` or ``'TLSv1.2'`` once the handshake is done, else None."""
    def selected_alpn_protocol(self) -> str | None:
        """The ALPN protocol the handshake selected, or None."""
    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """As :meth:`SSLSocket.get_channel_binding`: ``'tls-exporter'`` on TLS 1.3, None on
        TLS 1.2 or before the handshake; ``'tls-unique'`` and unknown types raise ValueError."""
