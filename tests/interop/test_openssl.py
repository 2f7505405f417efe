"""mpssl <-> the ``openssl`` command-line tool (``s_server`` / ``s_client``), TLS 1.3 and 1.2.

``s_server -rev`` echoes every line reversed and closes (with close_notify) on ``CLOSE``; it is
started on ``127.0.0.1:0`` and prints ``ACCEPT 127.0.0.1:<port>`` when it listens.
``s_client -brief -ign_eof`` sends its stdin, prints what it receives and the negotiated
protocol/suite, and exits when the server closes.
"""

from __future__ import annotations

from typing import Any

import mpssl
import pytest
from interop_support import (
    OPENSSL_TO_MPSSL,
    PROC_TIMEOUT,
    Case,
    Interop,
    WebPki,
    openssl_field,
    serve_echo,
    start_s_server,
)

pytestmark = pytest.mark.interop

VERSIONS = ["TLSv1.3", "TLSv1.2"]
AUTH = ["server-auth", "mutual"]
PEER = "openssl CLI"


def scenario(auth: str) -> str:
    return "mutual TLS (-Verify 1)" if auth == "mutual" else "CERT_REQUIRED + host name"


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_mpssl_client_openssl_s_server(
    iop: Interop, openssl: str, web_pki: WebPki, case: Any, version: str, auth: str
) -> None:
    row: Case = case(PEER, "mpssl client -> s_server", version, scenario(auth))
    mutual = auth == "mutual"
    proc, port = start_s_server(iop, web_pki.s_server_argv(openssl, version, mutual))

    ctx = web_pki.mpssl_client_ctx(mutual)
    c = iop.track_tls(ctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
    cipher = row.record(c.cipher())
    assert cipher[1] == version
    c.write(b"hello openssl\n")
    assert c.readline() == b"lssnepo olleh\n"
    c.write(b"CLOSE\n")
    assert c.read() == b""  # s_server closes with close_notify
    assert c.eof_was_clean is True
    c.close()

    assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()
    assert openssl_field(proc, "Protocol version") == version
    suite = openssl_field(proc, "Ciphersuite")
    assert OPENSSL_TO_MPSSL.get(suite) == cipher[0], (suite, cipher)
    if mutual:
        assert openssl_field(proc, "Peer certificate") == "CN = mpssl interop client"
        assert "Verification: OK" in proc.lines


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_s_client_mpssl_server(
    iop: Interop, openssl: str, web_pki: WebPki, case: Any, version: str, auth: str
) -> None:
    row: Case = case(PEER, "s_client -> mpssl server", version, scenario(auth))
    mutual = auth == "mutual"
    sctx = web_pki.mpssl_server_ctx(mutual)
    task, port = serve_echo(
        iop, lambda conn: sctx.wrap_socket(conn, server_side=True), peer_der=mutual
    )
    proc = iop.start(web_pki.s_client_argv(openssl, port, version, mutual), name="s_client")
    proc.send("hello from s_client\n")
    proc.close_stdin()
    info = task.join()
    assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()

    row.record(info["cipher"])
    assert info["got"] == b"hello from s_client\n"
    assert "echo:hello from s_client" in proc.lines, proc.transcript()
    assert info["cipher"][1] == version
    assert openssl_field(proc, "Protocol version") == version
    assert openssl_field(proc, "Verification") == "OK"
    assert openssl_field(proc, "Verified peername") == "localhost"
    assert OPENSSL_TO_MPSSL.get(openssl_field(proc, "Ciphersuite")) == info["cipher"][0]
    if mutual:
        assert info["peer_der"] == web_pki.client.der


@pytest.mark.parametrize("version", VERSIONS)
def test_mpssl_client_without_cert_openssl_requires_one(
    iop: Interop, openssl: str, web_pki: WebPki, case: Any, version: str
) -> None:
    """s_server -Verify 1 rejects a client without a certificate: mpssl reports the alert."""
    case(PEER, "mpssl client -> s_server", version, "client cert missing: s_server rejects")
    proc, port = start_s_server(iop, web_pki.s_server_argv(openssl, version, mutual=True))
    ctx = web_pki.mpssl_client_ctx()
    with pytest.raises(OSError) as ei:
        c = iop.track_tls(ctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
        # TLS 1.3: the client finishes its handshake before the server judges its
        # (empty) certificate; the alert arrives with the first read.
        c.write(b"x\n")
        c.read(1)
    assert ei.value.args == (-30592, "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE")
    proc.wait(PROC_TIMEOUT)


@pytest.mark.parametrize(
    ("version", "suite", "openssl_name"),
    [
        ("TLSv1.3", "TLS-CHACHA20-POLY1305-SHA256", "TLS_CHACHA20_POLY1305_SHA256"),
        ("TLSv1.3", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"),
        ("TLSv1.2", "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        (
            "TLSv1.2",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
        ),
    ],
    ids=["1.3-chacha", "1.3-aes128-iana", "1.2-aes128", "1.2-chacha-iana"],
)
def test_set_ciphers_mpssl_client_openssl_s_server(
    iop: Interop,
    openssl: str,
    web_pki: WebPki,
    case: Any,
    version: str,
    suite: str,
    openssl_name: str,
) -> None:
    """The suite chosen with set_ciphers (reference or IANA spelling) is what openssl sees."""
    row: Case = case(PEER, "mpssl client -> s_server", version, f"set_ciphers([{suite!r}])")
    proc, port = start_s_server(iop, web_pki.s_server_argv(openssl, version))
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=web_pki.ca.der)
    ctx.set_ciphers([suite])
    expected = suite.replace("_", "-")
    assert ctx.get_ciphers() == [expected]
    c = iop.track_tls(ctx.wrap_socket(iop.connect(port), server_hostname="127.0.0.1"))
    cipher = row.record(c.cipher())
    assert cipher == (expected, version)
    c.write(b"abc\n")
    assert c.readline() == b"cba\n"
    c.write(b"CLOSE\n")
    assert c.read() == b""
    c.close()
    assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()
    assert openssl_field(proc, "Ciphersuite") == openssl_name
    assert openssl_field(proc, "Protocol version") == version
