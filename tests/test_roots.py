"""System trust store (``load_default_certs``, ``set_default_verify_paths``, through
rustls-native-certs, honouring ``SSL_CERT_FILE``/``SSL_CERT_DIR``), ``capath`` directories,
and ``load_verify_locations``' two argument orders (issue 11). No internet: the "system" store
is pointed at the committed test CA."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mpssl
import pki
import pytest
from support import Harness, handshake_pair, mpssl_server_ctx

TESTDATA = pki.TESTDATA / "ecdsa-p256"
NOT_TRUSTED = "\nThe certificate is not correctly signed by the trusted CA\n"

# Runs in a fresh interpreter with the environment the test gives it: a CERT_REQUIRED client
# that trusts only the "system" roots, against an mpssl server with the committed leaf, once
# per way of loading them. Prints one outcome per line.
SCRIPT = textwrap.dedent(
    """
    import socket, sys, threading
    import mpssl

    d = sys.argv[1]
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(d + "/server.chain.pem", d + "/server.key.pem")

    def attempt(load):
        a, b = socket.socketpair()
        a.settimeout(10)
        b.settimeout(10)
        t = threading.Thread(target=lambda: _serve(b), daemon=True)
        t.start()
        ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
        load(ctx)
        try:
            tls = ctx.wrap_socket(a, server_hostname="localhost")
            tls.write(b"x")
            out = "ok"
        except ValueError as e:
            out = "verify " + repr(str(e))
        except OSError as e:
            out = "oserror " + repr(e.args)
        a.close()
        t.join(10)
        print(out, flush=True)

    def _serve(b):
        try:
            s = sctx.wrap_socket(b, server_side=True)
            s.read(1)
        except Exception:
            pass
        b.close()

    attempt(lambda c: c.load_default_certs())
    attempt(lambda c: c.set_default_verify_paths())
    attempt(lambda c: c.load_default_certs(mpssl.Purpose.SERVER_AUTH))
    attempt(lambda c: None)
    """
)


def run(tmp_path: Path, **env: str) -> list[str]:
    script = tmp_path / "roots.py"
    script.write_text(SCRIPT)
    full = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, str(script), str(TESTDATA)],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


NO_CA = "oserror (-30336, 'MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED')"


def test_ssl_cert_file_is_the_system_store(tmp_path: Path) -> None:
    out = run(tmp_path, SSL_CERT_FILE=str(TESTDATA / "ca.pem"))
    assert out == ["ok", "ok", "ok", NO_CA]


def test_ssl_cert_dir_is_the_system_store(tmp_path: Path) -> None:
    d = tmp_path / "certs"
    d.mkdir()
    (d / "whatever.pem").write_bytes((TESTDATA / "ca.pem").read_bytes())
    out = run(tmp_path, SSL_CERT_DIR=str(d))
    assert out == ["ok", "ok", "ok", NO_CA]


def test_system_store_without_the_test_ca_does_not_trust_it(tmp_path: Path) -> None:
    out = run(tmp_path, SSL_CERT_FILE=str(TESTDATA / "other-ca.pem"))
    assert out == [f"verify {NOT_TRUSTED!r}"] * 3 + [NO_CA]


# ------------------------------------------------------------------ load_verify_locations


@pytest.fixture
def connect(harness: Harness, server_cert: pki.Cert) -> Any:
    """``connect(ctx)``: handshake ``ctx`` against an mpssl server with the committed leaf;
    returns the client side (an SSLSocket or the exception)."""

    def run(cctx: mpssl.SSLContext) -> Any:
        client, _ = handshake_pair(harness, mpssl_server_ctx(server_cert), cctx, ping=b"x")
        return client

    return run


def capath_dir(tmp_path: Path, ca: pki.Cert, name: str) -> Path:
    d = tmp_path / "capath"
    d.mkdir()
    (d / name).write_bytes(ca.pem)
    (d / "README").write_text("not a certificate: skipped\n")
    return d


@pytest.mark.parametrize("name", ["ca.pem", "0a1b2c3d.0"])  # any name, or c_rehash's
def test_capath_keyword(tmp_path: Path, ca: pki.Cert, connect: Any, name: str) -> None:
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(capath=capath_dir(tmp_path, ca, name))
    assert connect(cctx).version() == "TLSv1.3"


def test_cpython_positional_order(tmp_path: Path, ca: pki.Cert, connect: Any) -> None:
    """urllib3 calls ``load_verify_locations(ca_certs, ca_cert_dir, ca_cert_data)``."""
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(None, str(capath_dir(tmp_path, ca, "ca.pem")), None)
    assert connect(cctx).version() == "TLSv1.3"
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(None, None, ca.pem.decode())
    assert connect(cctx).version() == "TLSv1.3"


@pytest.mark.parametrize("data", ["der", "pem-bytes", "pem-text"])
def test_micropython_positional_order(ca: pki.Cert, connect: Any, data: str) -> None:
    """MicroPython's ``load_verify_locations(cafile, cadata)``: a second argument that is
    data is cadata."""
    value: Any = {"der": ca.der, "pem-bytes": ca.pem, "pem-text": ca.pem.decode()}[data]
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    cctx.load_verify_locations(None, value)
    assert connect(cctx).version() == "TLSv1.3"


def test_capath_errors(tmp_path: Path, ca: pki.Cert, connect: Any) -> None:
    cctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(FileNotFoundError):
        cctx.load_verify_locations(capath=str(tmp_path / "missing"))
    with pytest.raises(NotADirectoryError):
        (tmp_path / "f").write_bytes(ca.pem)
        cctx.load_verify_locations(capath=str(tmp_path / "f"))
    # An empty directory trusts nothing.
    (tmp_path / "empty").mkdir()
    cctx.load_verify_locations(capath=str(tmp_path / "empty"))
    assert isinstance(connect(cctx), OSError)
    with pytest.raises(TypeError, match="cannot both be None"):
        cctx.load_verify_locations(None, None, None)
