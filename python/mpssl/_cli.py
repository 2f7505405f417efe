"""``python -m mpssl client|server|bench``: a tiny ``openssl s_client``/``s_server`` and the
benchmark launcher.

Every failure ends in exactly one line on standard error, ``mpssl client: <what>
(<errno/text>)`` (or ``mpssl server: ...``), and a non-zero exit status, never a traceback:

* 1: the connection, the handshake, verification or a file failed;
* 2: bad arguments (and ``bench`` outside the source repository);
* 130: interrupted (Ctrl-C).

The client verifies the server against the operating system's trust store
(``load_default_certs()``, which honours ``SSL_CERT_FILE``/``SSL_CERT_DIR``) unless ``--cafile``
names the CAs to trust instead; ``--insecure`` turns verification off and says so on every run.
At the end of its standard input the client sends close_notify and exits 0 (as ``openssl
s_client`` does); it also exits 0 when the server closes the connection.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import mpssl

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
CONNECT_TIMEOUT = 30.0  # connect and handshake; the relay itself waits as long as it takes


class CliError(Exception):
    """One failure, shown as ``mpssl <command>: <what> (<detail>)``."""

    def __init__(self, what: str, detail: str = "", status: int = EXIT_FAILURE) -> None:
        super().__init__(what)
        self.what = what
        self.detail = detail
        self.status = status


def detail(exc: BaseException) -> str:
    """An exception as one line: ``errno N: text`` for an ``OSError`` with an errno (mpssl's
    own, e.g. ``errno -30592: MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE``, or the system's, e.g.
    ``errno 111: Connection refused``); otherwise its text with the lines joined by ``; ``
    (a verification failure lists one reason per line)."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return f"errno {exc.errno}: {exc.strerror}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``mpssl client: bad arguments (...)``), exit 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError("bad arguments", f"{message}; see {self.prog} --help", EXIT_USAGE)


def _file_data(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {option} {path}", detail(e)) from None


def _alpn(ctx: Any, value: str | None) -> None:
    if not value:
        return
    protocols = [p for p in value.split(",") if p]
    if not protocols:
        raise CliError("bad arguments", "--alpn needs at least one protocol name", EXIT_USAGE)
    if not hasattr(ctx, "set_alpn_protocols"):
        raise CliError("--alpn is not supported", "this mpssl build has no set_alpn_protocols")
    try:
        ctx.set_alpn_protocols(protocols)
    except (ValueError, TypeError, OSError) as e:
        raise CliError(f"bad --alpn {value!r}", detail(e), EXIT_USAGE) from None


def _load_chain(ctx: Any, cert: str, key: str) -> None:
    cert_data = _file_data(cert, "--cert")
    key_data = _file_data(key, "--key")
    try:
        ctx.load_cert_chain(cert_data, key_data)
    except (ValueError, TypeError, OSError) as e:
        raise CliError(f"cannot use --cert {cert} --key {key}", detail(e)) from None


def _load_cafile(ctx: Any, cafile: str) -> None:
    data = _file_data(cafile, "--cafile")
    try:
        ctx.load_verify_locations(cadata=data)
    except (ValueError, TypeError, OSError) as e:
        raise CliError(f"cannot use --cafile {cafile}", detail(e)) from None


def _name(subject: Any) -> str:
    """``getpeercert()``'s subject/issuer (a tuple of RDNs of (key, value) pairs) as text."""
    try:
        return ", ".join(f"{k}={v}" for rdn in subject for k, v in rdn) or "-"
    except (TypeError, ValueError):
        return str(subject)


VERIFY_BITS = {
    0x01: "expired",
    0x04: "host name mismatch",
    0x08: "not trusted",
    0x100: "other",
    0x200: "not yet valid",
    0x1000: "extended key usage",
    0x4000: "signature algorithm",
    0x10000: "key",
}


def _verify_text(tls: mpssl.SSLSocket, ctx: Any) -> str:
    try:
        result = tls.verify_result()
    except (ValueError, OSError) as e:
        return f"unknown ({detail(e)})"
    if result is None:
        return "no peer certificate"
    if result == 0:
        mode = "" if ctx.verify_mode == mpssl.CERT_REQUIRED else " (checked on request only)"
        return f"OK{mode}"
    reasons = ", ".join(text for bit, text in VERIFY_BITS.items() if result & bit) or "?"
    return f"FAILED 0x{result:x}: {reasons}"


def _report(tls: mpssl.SSLSocket, ctx: Any, prog: str, peer: str, verbose: bool) -> None:
    cipher = tls.cipher()
    suite, version = (cipher[0], cipher[1]) if cipher else ("-", tls.version() or "-")
    print(f"{prog}: connected to {peer}, {version} {suite}", file=sys.stderr)
    if not verbose:
        return
    alpn = getattr(tls, "selected_alpn_protocol", None)
    lines = [
        ("protocol", version),
        ("cipher", suite),
        ("key exchange", tls.key_exchange_group() or "-"),
        ("ALPN", (alpn() if alpn else None) or "none"),
        ("resumed", "yes" if tls.session_reused else "no"),
    ]
    try:
        cert = tls.getpeercert()
    except (ValueError, OSError) as e:
        cert = None
        lines.append(("peer cert", f"unreadable ({detail(e)})"))
    chain = tls.get_peer_cert_chain()
    if cert:
        lines += [
            ("peer subject", _name(cert.get("subject", ()))),
            ("peer issuer", _name(cert.get("issuer", ()))),
            ("peer valid", f"{cert.get('notBefore', '?')} to {cert.get('notAfter', '?')}"),
        ]
        san = cert.get("subjectAltName")
        if san:
            lines.append(("peer SAN", ", ".join(f"{k}:{v}" for k, v in san)))
    elif chain:
        lines.append(("peer cert", f"{len(chain[0])} bytes (not decoded: not verified)"))
    else:
        lines.append(("peer cert", "none"))
    if chain:
        lines.append(("peer chain", f"{len(chain)} certificate(s)"))
    lines.append(("verify", _verify_text(tls, ctx)))
    for key, value in lines:
        print(f"  {key:<13} {value}", file=sys.stderr)


def _handshake_error(exc: BaseException, peer: str) -> CliError:
    if isinstance(exc, ValueError):
        return CliError("certificate verification failed", detail(exc))
    if isinstance(exc, TimeoutError):
        return CliError(f"handshake with {peer} timed out", detail(exc))
    return CliError(f"handshake with {peer} failed", detail(exc))


def _stdin_pollable(fd: int) -> bool:
    """epoll refuses regular files (and /dev/null): those never block, so they are read
    without waiting."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)))


def relay(tls: mpssl.SSLSocket, raw: socket.socket, *, close_at_eof: bool) -> str:
    """Copy standard input to the TLS connection and the connection to standard output.

    Returns ``"peer"`` when the peer ended the stream, ``"stdin"`` when standard input ended
    and ``close_at_eof`` is true (the caller then closes with close_notify). Errors propagate.
    """
    raw.setblocking(False)
    out = sys.stdout.buffer
    try:
        in_fd: int | None = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        in_fd = None  # no standard input at all: only relay the peer's data
    pollable = in_fd is not None and _stdin_pollable(in_fd)
    pending = b""
    with selectors.DefaultSelector() as sel:
        while True:
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
            sel.register(raw, want, "tls")
            read_stdin = in_fd is not None and not pending
            if in_fd is not None and read_stdin and pollable:
                sel.register(in_fd, selectors.EVENT_READ, "stdin")
            if tls.pending():
                # Plaintext already decrypted does not make the descriptor readable.
                ready = {"tls"}
            else:
                timeout = 0 if read_stdin and not pollable else None
                ready = {key.data for key, _ in sel.select(timeout)}
                if read_stdin and not pollable:
                    ready.add("stdin")
            for key in list(sel.get_map().values()):
                sel.unregister(key.fileobj)
            if "tls" in ready:
                # Until it would block: records already read from the socket (a close_notify
                # right behind the data, say) make neither the descriptor readable nor
                # pending() non-zero.
                while True:
                    data = tls.recv(16384)
                    if data == b"":
                        return "peer"
                    if not data:
                        break
                    try:
                        out.write(data)
                        out.flush()
                    except BrokenPipeError as e:
                        _quiet_stdout()
                        raise CliError("standard output closed", detail(e)) from None
            if "stdin" in ready and in_fd is not None:
                chunk = os.read(in_fd, 16384)
                if chunk:
                    pending += chunk
                else:
                    in_fd = None
                    if close_at_eof and not pending:
                        return "stdin"
            while pending:
                n = tls.write(pending)
                if not n:
                    break
                pending = pending[n:]
            if in_fd is None and close_at_eof and not pending:
                return "stdin"


# --------------------------------------------------------------------------------------------
# client
# --------------------------------------------------------------------------------------------


def danger_disable_verification(ctx: Any) -> None:
    """``--insecure``: DANGER, ``CERT_NONE``: the server is not authenticated at all. Says so on
    standard error every time."""
    print(
        "mpssl client: WARNING: --insecure disables certificate verification: the server "
        "is not authenticated (anyone on the path can read and change the data)",
        file=sys.stderr,
    )
    ctx.verify_mode = mpssl.CERT_NONE


def client_context(args: argparse.Namespace) -> Any:
    ctx: Any = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    if args.insecure:
        danger_disable_verification(ctx)
    if args.cafile:
        _load_cafile(ctx, args.cafile)
    elif not args.insecure:
        if not hasattr(ctx, "load_default_certs"):
            raise CliError(
                "no system trust store", "this mpssl build has no load_default_certs; use --cafile"
            )
        try:
            ctx.load_default_certs()
        except (ValueError, OSError) as e:
            raise CliError("cannot load the system trust store", detail(e)) from None
    if (args.cert is None) != (args.key is None):
        raise CliError("bad arguments", "--cert and --key go together", EXIT_USAGE)
    if args.cert:
        _load_chain(ctx, args.cert, args.key)
    _alpn(ctx, args.alpn)
    return ctx


def client(args: argparse.Namespace) -> int:
    ctx = client_context(args)
    peer = f"{args.host}:{args.port}"
    try:
        raw = socket.create_connection((args.host, args.port), timeout=CONNECT_TIMEOUT)
    except OSError as e:
        raise CliError(f"cannot connect to {peer}", detail(e)) from None
    with raw:
        name = args.servername or args.host
        try:
            tls = ctx.wrap_socket(raw, server_hostname=name)
        except (ValueError, OSError) as e:
            raise _handshake_error(e, peer) from None
        try:
            _report(tls, ctx, "mpssl client", peer, args.verbose)
            try:
                how = relay(tls, raw, close_at_eof=True)
            except (ValueError, OSError) as e:
                raise CliError(f"connection to {peer} failed", detail(e)) from None
            if args.verbose:
                if how == "stdin":
                    end = "end of input: close_notify sent"
                else:
                    clean = tls.eof_was_clean
                    end = "server closed" + ("" if clean else " (without close_notify)")
                print(f"mpssl client: {end}", file=sys.stderr)
        finally:
            tls.close()
    return 0


# --------------------------------------------------------------------------------------------
# server
# --------------------------------------------------------------------------------------------


def server_context(args: argparse.Namespace) -> Any:
    ctx: Any = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    _load_chain(ctx, args.cert, args.key)
    if args.cafile:
        _load_cafile(ctx, args.cafile)
        ctx.verify_mode = mpssl.CERT_REQUIRED
    _alpn(ctx, args.alpn)
    return ctx


def server(args: argparse.Namespace) -> int:
    ctx = server_context(args)
    try:
        listener = socket.create_server((args.host, args.port))
    except OSError as e:
        raise CliError(f"cannot listen on {args.host}:{args.port}", detail(e)) from None
    with listener:
        host, port = listener.getsockname()[:2]
        print(f"listening on {host}:{port}", file=sys.stderr, flush=True)
        conn, addr = listener.accept()
    peer = f"{addr[0]}:{addr[1]}"
    with conn:
        conn.settimeout(CONNECT_TIMEOUT)
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except (ValueError, OSError) as e:
            raise _handshake_error(e, peer) from None
        try:
            _report(tls, ctx, "mpssl server", peer, args.verbose)
            try:
                relay(tls, conn, close_at_eof=False)
            except (ValueError, OSError) as e:
                raise CliError(f"connection with {peer} failed", detail(e)) from None
            if args.verbose:
                clean = tls.eof_was_clean
                end = "client closed" + ("" if clean else " (without close_notify)")
                print(f"mpssl server: {end}", file=sys.stderr)
        finally:
            tls.close()
    return 0


# --------------------------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------------------------


def bench_script() -> Path | None:
    """``bench/run.py`` of the source tree the package was imported from (an editable install
    or ``PYTHONPATH=python``), else of the current directory (an installed wheel run from a
    clone's root, as ``make bench`` does)."""
    here = Path(mpssl.__file__).resolve().parent
    for root in (here.parent.parent, Path.cwd()):
        script = root / "bench" / "run.py"
        if script.is_file():
            return script
    return None


def bench(argv: list[str]) -> int:
    """Run ``bench/run.py`` with ``argv`` passed through as given."""
    import runpy

    script = bench_script()
    if script is None:
        here = Path(mpssl.__file__).resolve().parent
        raise CliError(
            "the benchmark is not installed with the package",
            f"no bench/run.py next to {here} nor in {Path.cwd()}; clone the mpssl repository "
            "and run `make bench` (or `python -m mpssl bench`) from its root",
            EXIT_USAGE,
        )
    sys.argv = [str(script), *argv]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return EXIT_FAILURE
    return 0


# --------------------------------------------------------------------------------------------
# Arguments and the one-line error
# --------------------------------------------------------------------------------------------


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m mpssl", description="mpssl: demo, s_client, s_server, bench")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("demo", help="run the in-memory CA / server / client demo")
    c = sub.add_parser(
        "client",
        help="connect and relay stdin/stdout (like openssl s_client)",
        description="Connect, verify the server (system trust store unless --cafile), relay "
        "standard input to the server and the server's data to standard output. At the end of "
        "standard input: close_notify, exit 0.",
    )
    c.add_argument("host")
    c.add_argument("port", type=port_number)
    c.add_argument("--cafile", help="trust these CA certificates (PEM or DER) instead of the "
                   "system trust store")
    c.add_argument("--insecure", action="store_true",
                   help="DANGER: CERT_NONE, do not verify the server at all")
    c.add_argument("--servername", help="SNI and host name to check (default: HOST)")
    c.add_argument("--cert", help="client certificate chain (PEM or DER), with --key")
    c.add_argument("--key", help="client private key (PEM or DER), with --cert")
    c.add_argument("--alpn", help="ALPN protocols to offer, comma-separated (h2,http/1.1)")
    c.add_argument("-v", "--verbose", action="store_true",
                   help="show the handshake: version, cipher, group, ALPN, peer certificate, "
                   "verification")
    s = sub.add_parser(
        "server",
        help="accept one client and relay (like openssl s_server)",
        description="Accept one client on HOST:PORT, relay standard input to it and its data "
        "to standard output, exit 0 when it closes.",
    )
    s.add_argument("--cert", required=True, help="certificate chain (PEM or DER)")
    s.add_argument("--key", required=True, help="private key (PEM or DER)")
    s.add_argument("--port", type=port_number, default=4433)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--cafile", help="require a client certificate issued by these CAs")
    s.add_argument("--alpn", help="ALPN protocols to accept, comma-separated, in preference "
                   "order")
    s.add_argument("-v", "--verbose", action="store_true", help="show the handshake")
    sub.add_parser("bench", help="benchmark against CPython's ssl (options: bench/run.py --help)")
    return p


def _prog(argv: list[str]) -> str:
    return f"mpssl {argv[0]}" if argv and argv[0] in ("client", "server", "bench") else "mpssl"


def main(argv: list[str] | None = None, demo: Callable[[], int] | None = None) -> int:
    """Run one command; every failure is one line on standard error and the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    prog = _prog(argv)
    try:
        if argv[:1] == ["bench"]:
            # Everything after "bench" belongs to the harness, options included.
            return bench(argv[1:])
        args = parser().parse_args(argv)
        if args.command == "demo":
            if demo is None:
                raise CliError("demo is run by python -m mpssl", "", EXIT_USAGE)
            return demo()
        if args.command == "client":
            return client(args)
        return server(args)
    except CliError as e:
        print(f"{prog}: {e.what}" + (f" ({e.detail})" if e.detail else ""), file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError as e:
        _quiet_stdout()
        print(f"{prog}: standard output closed ({detail(e)})", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as e:  # noqa: BLE001 - the promise is one line, never a traceback
        print(f"{prog}: internal error ({type(e).__name__}: {detail(e)})", file=sys.stderr)
        return EXIT_FAILURE


def _quiet_stdout() -> None:
    """After EPIPE on stdout, the interpreter's final flush would print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
