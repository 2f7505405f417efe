"""CPython's socket file API over an :class:`mpssl.SSLSocket`: ``makefile`` and ``sendfile``.

The extension calls these helpers (installed by ``mpssl/__init__.py``); they follow CPython's
``socket.makefile``/``socket.SocketIO`` and ``socket._sendfile_use_send``, with one change: a
raw read is one TLS read (``SSLSocket.recv``), not MicroPython's ``readinto`` that waits for the
whole buffer, so that ``http.client`` can read a response line without waiting for 8 KiB.
"""

from __future__ import annotations

import io
import os
from typing import Any

_BLOCKING_ERRNOS = {11, 115}  # EAGAIN/EWOULDBLOCK, EINPROGRESS (as socket._blocking_errnos)


class SocketIO(io.RawIOBase):
    """A raw I/O stream over an ``SSLSocket`` (CPython's ``socket.SocketIO``)."""

    def __init__(self, sock: Any, mode: str) -> None:
        if mode not in ("r", "w", "rw", "rb", "wb", "rwb"):
            raise ValueError(f"invalid mode: {mode!r}")
        io.RawIOBase.__init__(self)
        self._sock = sock
        if "b" not in mode:
            mode += "b"
        self._mode = mode
        self._reading = "r" in mode
        self._writing = "w" in mode

    def readinto(self, b: Any) -> int | None:
        """One TLS read into ``b``: the count, 0 at EOF, None if it would block."""
        self._checkClosed()
        self._checkReadable()  # type: ignore[attr-defined]
        with memoryview(b) as view, view.cast("B") as target:
            if len(target) == 0:
                return 0
            try:
                data = self._sock.recv(len(target))
            except OSError as e:
                if e.errno in _BLOCKING_ERRNOS:
                    return None
                raise
            if data is None:
                return None
            n = len(data)
            target[:n] = data
            return n

    def write(self, b: Any) -> int | None:
        """One TLS record of ``b``: the count taken, None if it would block."""
        self._checkClosed()
        self._checkWritable()  # type: ignore[attr-defined]
        try:
            n: int | None = self._sock.send(b)
        except OSError as e:
            if e.errno in _BLOCKING_ERRNOS:
                return None
            raise
        return n

    def readable(self) -> bool:
        """True when opened for reading."""
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._reading

    def writable(self) -> bool:
        """True when opened for writing."""
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._writing

    def seekable(self) -> bool:
        """False: a socket cannot seek."""
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return False

    def fileno(self) -> int:
        """The socket's descriptor."""
        self._checkClosed()
        fd: int = self._sock.fileno()
        return fd

    @property
    def name(self) -> int:
        """The descriptor while open, else -1 (as CPython)."""
        return -1 if self.closed else self.fileno()

    @property
    def mode(self) -> str:
        """The raw mode (``"rb"``, ``"wb"`` or ``"rwb"``)."""
        return self._mode

    def close(self) -> None:
        """Close this file; the socket's own ``close()`` takes effect after its last file."""
        if self.closed:
            return
        io.RawIOBase.close(self)
        self._sock._decref_socketios()
        self._sock = None


def makefile(sock: Any, options: tuple[str, int | None, str | None, str | None, str | None]) -> Any:
    """``sock.makefile(mode, buffering, encoding=, errors=, newline=)`` as CPython's socket."""
    mode, buffering, encoding, errors, newline = options
    if not set(mode) <= {"r", "w", "b"}:
        raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
    writing = "w" in mode
    reading = "r" in mode or not writing
    binary = "b" in mode
    if buffering is None or buffering < 0:
        buffering = io.DEFAULT_BUFFER_SIZE
    if buffering == 0 and not binary:
        raise ValueError("unbuffered streams must be binary")
    rawmode = ("r" if reading else "") + ("w" if writing else "")
    raw = SocketIO(sock, rawmode)
    # The caller counts the file once this returns: a failure below must not decrement.
    try:
        if buffering == 0:
            return raw
        buffer: io.BufferedIOBase
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        text = io.TextIOWrapper(buffer, io.text_encoding(encoding), errors, newline)  # type: ignore[type-var]
        text.mode = mode  # type: ignore[misc]
        return text
    except BaseException:
        raw._sock = None
        io.RawIOBase.close(raw)
        raise


def sendfile(sock: Any, args: tuple[Any, int, int | None]) -> int:
    """``sock.sendfile(file, offset=0, count=None)`` with ``send`` (CPython's
    ``socket._sendfile_use_send``)."""
    file, offset, count = args
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.gettimeout() == 0:
        raise ValueError("non-blocking sockets are not supported")
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if offset:
        file.seek(offset)
    blocksize = min(count, 16384) if count else 16384
    total_sent = 0
    try:
        while True:
            if count:
                blocksize = min(count - total_sent, blocksize)
                if blocksize <= 0:
                    break
            data = memoryview(file.read(blocksize))
            if not data:
                break
            while data:
                sent = sock.send(data)
                if sent is None:
                    continue
                total_sent += sent
                data = data[sent:]
        return total_sent
    finally:
        if total_sent > 0 and hasattr(file, "seek"):
            file.seek(offset + total_sent, os.SEEK_SET)
