"""mpssl <-> the ``openssl`` command-line tool (``s_server`` / ``s_client``), TLS 1.3 and 1.2.

``s_server -rev`` echoes every line reversed and closes (with close_notify) on ``CLOSE``; it is
started on ``127.0.0.1:0`` and prints ``ACCEPT 127.0.0.1:<port>`` when it listens.
``s_client -brief -ign_eof`` sends its stdin, prints what it receives and the negotiated
protocol/suite, and exits when the server closes.
"""

from __future__ import annotations

import re
from typing import Any

import mpssl
import pytest
from interop_support import PROC_TIMEOUT, Case, Interop, Proc, WebPki

pytestmark = pytest.mark.interop

VERSIONS = ["TLSv1.3", "TLSv1.2"]
AUTH = ["server-auth", "mutual"]
PEER = "openssl CLI"

# OpenSSL suite names -> the reference's (Mbed TLS) names that mpssl's cipher() uses.
OPENSSL_TO_REFERENCE = {
    "TLS_AES_256_GCM_SHA384": "TLS-AES-256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": "TLS-AES-128-GCM-SHA256",
    "TLS_CHACHA20_POLY1305_SHA256": "TLS-CHACHA20-POLY1305-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384": "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256": "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305": "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
}


def flag(version: str) -> str:
    return "-tls1_3" if version == "TLSv1.3" else "-tls1_2"


def scenario(auth: str) -> str:
    return "mutual TLS (-Verify 1)" if auth == "mutual" else "CERT_REQUIRED + host name"


def field(proc: Proc, name: str) -> str:
    """A ``Name: value`` line from openssl's summary."""
    for line in proc.lines:
        m = re.match(rf"^{re.escape(name)}: (.*)$", line)
        if m:
            return m.group(1).strip()
    raise AssertionError(f"openssl printed no {name!r} line\n{proc.transcript()}")


def start_s_server(
    iop: Interop, openssl: str, web_pki: WebPki, version: str, mutual: bool
) -> tuple[Proc, int]:
    argv = [
        openssl,
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-naccept",
        "1",
        "-rev",
        "-cert",
        str(web_pki.server_pem),
        "-key",
        str(web_pki.server_key),
        flag(version),
    ]
    if mutual:
        argv += ["-Verify", "1", "-CAfile", str(web_pki.ca_pem), "-verify_return_error"]
    proc = iop.start(argv, name="s_server")
    port = int(proc.expect(r"^ACCEPT 127\.0\.0\.1:(\d+)$").group(1))
    return proc, port


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_mpssl_client_openssl_s_server(
    iop: Interop, openssl: str, web_pki: WebPki, case: Any, version: str, auth: str
) -> None:
    row: Case = case(PEER, "mpssl client -> s_server", version, scenario(auth))
    mutual = auth == "mutual"
    proc, port = start_s_server(iop, openssl, web_pki, version, mutual)

    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(web_pki.ca_pem))
    if mutual:
        ctx.load_cert_chain(str(web_pki.client_pem), str(web_pki.client_key))
    c = iop.track_obj(ctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
    cipher = c.cipher()
    assert cipher is not None
    row.negotiated, row.cipher = cipher[1], cipher[0]
    assert cipher[1] == version
    c.write(b"hello openssl\n")
    assert c.readline() == b"lssnepo olleh\n"
    c.write(b"CLOSE\n")
    assert c.read() == b""  # s_server closes with close_notify
    assert c.eof_was_clean is True
    c.close()

    assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()
    assert field(proc, "Protocol version") == version
    suite = field(proc, "Ciphersuite")
    assert OPENSSL_TO_REFERENCE.get(suite) == cipher[0], (suite, cipher)
    if mutual:
        assert field(proc, "Peer certificate") == "CN = mpssl interop client"
        assert "Verification: OK" in proc.lines


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_s_client_mpssl_server(
    iop: Interop, openssl: str, web_pki: WebPki, case: Any, version: str, auth: str
) -> None:
    row: Case = case(PEER, "s_client -> mpssl server", version, scenario(auth))
    mutual = auth == "mutual"
    sctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(web_pki.server_pem), str(web_pki.server_key))
    if mutual:
        sctx.verify_mode = mpssl.CERT_REQUIRED
        sctx.load_verify_locations(cafile=str(web_pki.ca_pem))
    ls, port = iop.listener()

    def serve() -> dict[str, Any]:
        conn = iop.accept(ls)
        s = iop.track_obj(sctx.wrap_socket(conn, server_side=True))
        info: dict[str, Any] = {"cipher": s.cipher()}
        if mutual:
            info["peer_der"] = s.getpeercert(binary_form=True)
        info["got"] = s.readline()
        s.write(b"echo:" + info["got"])
        s.close()
        return info

    task = iop.spawn(serve)
    argv = [
        openssl,
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        flag(version),
        "-CAfile",
        str(web_pki.ca_pem),
        "-servername",
        "localhost",
        "-verify_hostname",
        "localhost",
        "-verify_return_error",
        "-brief",
        "-ign_eof",
    ]
    if mutual:
        argv += ["-cert", str(web_pki.client_pem), "-key", str(web_pki.client_key)]
    proc = iop.start(argv, name="s_client")
    proc.send("hello from s_client\n")
    proc.close_stdin()
    info = task.join()
    assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()

    row.negotiated, row.cipher = info["cipher"][1], info["cipher"][0]
    assert info["got"] == b"hello from s_client\n"
    assert "echo:hello from s_client" in proc.lines, proc.transcript()
    assert info["cipher"][1] == version
    assert field(proc, "Protocol version") == version
    assert field(proc, "Verification") == "OK"
    assert field(proc, "Verified peername") == "localhost"
    assert OPENSSL_TO_REFERENCE.get(field(proc, "Ciphersuite")) == info["cipher"][0]
    if mutual:
        assert info["peer_der"] == web_pki.client.der


@pytest.mark.parametrize("version", VERSIONS)
def test_mpssl_client_without_cert_openssl_requires_one(
    iop: Interop, openssl: str, web_pki: WebPki, case: Any, version: str
) -> None:
    """s_server -Verify 1 rejects a client without a certificate: mpssl reports the alert."""
    case(PEER, "mpssl client -> s_server", version, "client cert missing: s_server rejects")
    proc, port = start_s_server(iop, openssl, web_pki, version, mutual=True)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(web_pki.ca_pem))
    with pytest.raises(OSError) as ei:
        c = iop.track_obj(ctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
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
    proc, port = start_s_server(iop, openssl, web_pki, version, mutual=False)
    ctx = mpssl.SSLContext(mpssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=web_pki.ca.der)
    ctx.set_ciphers([suite])
    expected = suite.replace("_", "-")
    assert ctx.get_ciphers() == [expected]
    c = iop.track_obj(ctx.wrap_socket(iop.connect(port), server_hostname="127.0.0.1"))
    cipher = c.cipher()
    assert cipher is not None
    row.negotiated, row.cipher = cipher[1], cipher[0]
    assert cipher == (expected, version)
    c.write(b"abc\n")
    assert c.readline() == b"cba\n"
    c.write(b"CLOSE\n")
    assert c.read() == b""
    c.close()
    assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()
    assert field(proc, "Ciphersuite") == openssl_name
    assert field(proc, "Protocol version") == version
