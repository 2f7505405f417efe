"""The interop matrix: mpssl against CPython's ``ssl`` and the ``openssl`` CLI, cell by cell.

peer (CPython ssl, openssl CLI) x direction (mpssl client -> peer server, peer client ->
mpssl server) x version (TLS 1.3, TLS 1.2) x key type (RSA-2048, RSA-4096, ECDSA P-256,
ECDSA P-384, Ed25519) x client authentication (off, on) x every suite mpssl offers for that
version and key type (TLS 1.3: the three TLS 1.3 suites with every key; TLS 1.2: the
ECDHE-ECDSA suites with EC and Ed25519 keys, the ECDHE-RSA suites with RSA keys).

Each cell restricts mpssl to its one suite (``set_ciphers([suite])``, which also pins the
version) and pins the peer's version (CPython ``minimum_version``/``maximum_version``,
openssl ``-tls1_3``/``-tls1_2``). It asserts mpssl's ``cipher() == (suite, version)``, the
peer's view of version and suite (CPython ``version()``/``cipher()``, openssl's summary
lines), the server certificate the mpssl client saw, and a data round trip both ways. With
client authentication on, the server (mpssl ``CERT_REQUIRED``, CPython ``CERT_REQUIRED``,
``s_server -Verify 1 -verify_return_error``) verifies a client certificate of the cell's key
type. Each key type has its own CA, server and client certificate, all of that key type, so
the certificate signatures are of that type too.

Cells a peer cannot do are listed in ``NOT_APPLICABLE`` with the reason; such a cell asserts
that the failure is the documented one (nothing is skipped). At the end of the session the
module writes ``tests/interop/INTEROP_MATRIX.md`` (only when some of its tests ran) and takes
its rows out of the generic ``MATRIX.md`` (which lists the scenario tests).
"""

from __future__ import annotations

import datetime
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import mpssl
import pytest
from interop_support import (
    _OUTCOMES,
    HERE,
    OPENSSL_TO_MPSSL,
    PROC_TIMEOUT,
    Interop,
    WebPki,
    committed_web_pki,
    openssl_binary,
    openssl_field,
    recv_line,
    serve_echo,
    serve_one,
    start_s_server,
)

pytestmark = pytest.mark.interop

# ------------------------------------------------------------------------------------------
# The axes

CPY = "CPython ssl"
OSSL = "openssl CLI"
PEERS = [CPY, OSSL]
DIRECTIONS = {
    (CPY, "to-peer"): "mpssl client → ssl server",
    (CPY, "from-peer"): "ssl client → mpssl server",
    (OSSL, "to-peer"): "mpssl client → s_server",
    (OSSL, "from-peer"): "s_client → mpssl server",
}
VERSIONS = ["TLSv1.3", "TLSv1.2"]
KEYS = {
    "rsa2048": "RSA-2048",
    "rsa4096": "RSA-4096",
    "ec256": "ECDSA P-256",
    "ec384": "ECDSA P-384",
    "ed25519": "Ed25519",
}
AUTHS = ["server-auth", "mtls"]

# The columns of the table: the bulk cipher. The suite of a cell is fixed by version, key
# type and column.
BULK = ["AES-256-GCM-SHA384", "AES-128-GCM-SHA256", "CHACHA20-POLY1305-SHA256"]


def suite_of(version: str, key: str, bulk: str) -> str:
    """mpssl's (reference) name of the suite in this column."""
    if version == "TLSv1.3":
        return f"TLS-{bulk}"
    family = "RSA" if key.startswith("rsa") else "ECDSA"
    return f"TLS-ECDHE-{family}-WITH-{bulk}"


@dataclass(frozen=True)
class Cell:
    peer: str
    direction: str  # "to-peer" (mpssl client) or "from-peer" (mpssl server)
    version: str
    key: str
    bulk: str
    auth: str

    @property
    def suite(self) -> str:
        return suite_of(self.version, self.key, self.bulk)

    @property
    def mtls(self) -> bool:
        return self.auth == "mtls"

    @property
    def row(self) -> tuple[str, str, str, str]:
        return (self.peer, DIRECTIONS[(self.peer, self.direction)], self.version, KEYS[self.key])


# Cells a peer cannot do: (peer, direction, version, key, auth) -> (short reason for the
# table's footnote, predicate the failure must satisfy); an entry covers every suite of the
# row. Empty: with OpenSSL 3.0 (CLI and CPython's) every cell works, Ed25519 in TLS 1.2
# included (ECDHE-ECDSA suites, both directions, client certificates too).
NotApplicable = tuple[str, Callable[[BaseException], bool]]
NOT_APPLICABLE: dict[tuple[str, str, str, str, str], NotApplicable] = {}


def not_applicable(cell: Cell) -> NotApplicable | None:
    return NOT_APPLICABLE.get((cell.peer, cell.direction, cell.version, cell.key, cell.auth))


def cells(peer: str, direction: str) -> list[Any]:
    out = []
    for version in VERSIONS:
        for key in KEYS:
            for bulk in BULK:
                for auth in AUTHS:
                    c = Cell(peer, direction, version, key, bulk, auth)
                    short = bulk.split("-")[0].lower() + ("" if "CHACHA" in bulk else bulk[4:7])
                    cid = f"{version[-3:]}-{key}-{short}-{auth}"
                    out.append(pytest.param(c, id=cid))
    return out


# ------------------------------------------------------------------------------------------
# PKI: per key type the committed testdata/ CA, server leaf (SAN localhost, 127.0.0.1, ::1) and
# client leaf, all of that key type, copied as PEM files (lazily, per key type)


@pytest.fixture(scope="session")
def matrix_pki(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], WebPki]:
    made: dict[str, WebPki] = {}
    base = tmp_path_factory.mktemp("interop-matrix-pki")

    def get(key: str) -> WebPki:
        if key not in made:
            d = base / key
            d.mkdir()
            made[key] = committed_web_pki(d, key)
        return made[key]

    return get


# ------------------------------------------------------------------------------------------
# The table (tests/interop/INTEROP_MATRIX.md)


@dataclass
class Result:
    nodeid: str
    cell: Cell
    na: str | None = None  # the reason, when the cell is not applicable


@dataclass
class Table:
    results: list[Result] = field(default_factory=list)

    def add(self, nodeid: str, cell: Cell) -> Result:
        r = Result(nodeid, cell)
        self.results.append(r)
        return r

    def render(self) -> str:
        by_cell: dict[tuple[tuple[str, str, str, str], str, str], str] = {}
        reasons: list[str] = []
        counts = {"✓": 0, "n/a": 0, "✗": 0}
        for r in self.results:
            outcome = _OUTCOMES.get(r.nodeid, "not run")
            if outcome == "pass" and r.na is None:
                mark = "✓"
            elif outcome == "pass" and r.na is not None:
                if r.na not in reasons:
                    reasons.append(r.na)
                mark = f"n/a{_sup(reasons.index(r.na) + 1)}"
            elif outcome == "not run":
                mark = "–"
            else:
                mark = "✗"
            key = "n/a" if mark.startswith("n/a") else mark
            if key in counts:
                counts[key] += 1
            by_cell[(r.cell.row, r.cell.bulk, r.cell.auth)] = mark

        rows: list[tuple[str, str, str, str]] = []
        for peer in PEERS:
            for direction in ("to-peer", "from-peer"):
                for version in VERSIONS:
                    for key in KEYS:
                        rows.append(Cell(peer, direction, version, key, BULK[0], AUTHS[0]).row)
        ossl = _openssl_cli_version()
        out = [
            "# mpssl interop matrix: versions × key types × suites × client auth",
            "",
            (
                "Generated by `tests/interop/test_matrix.py` (`make test-interop`); do not edit "
                f"by hand. {datetime.date.today().isoformat()}: mpssl {mpssl.__version__} "
                f"({mpssl.RUSTLS_VERSION}); CPython {sys.version.split()[0]} `ssl` with "
                f"{ssl.OPENSSL_VERSION}; `openssl` CLI {ossl}."
            ),
            "",
            (
                "Each cell: server authentication only / mutual TLS (the server verifies a "
                "client certificate of the same key type). mpssl is restricted to the one "
                "suite with `set_ciphers`, the peer is pinned to the version; a cell checks "
                "the negotiated version and suite on both ends and a round trip each way. "
                "✓ works, ✗ fails, n/a cannot work (footnote), – not run. Suites: TLS 1.3 "
                "`TLS-<column>`; TLS 1.2 `TLS-ECDHE-ECDSA-WITH-<column>` (EC and Ed25519 "
                "keys) or `TLS-ECDHE-RSA-WITH-<column>` (RSA keys)."
            ),
            "",
            "| Peer | Direction | Version | Key | " + " | ".join(BULK) + " |",
            "|---|---|---|---|" + "---|" * len(BULK),
        ]
        for row in rows:
            marks = []
            for bulk in BULK:
                off = by_cell.get((row, bulk, AUTHS[0]), "–")
                on = by_cell.get((row, bulk, AUTHS[1]), "–")
                marks.append(f"{off}/{on}")
            out.append(f"| {' | '.join(row)} | " + " | ".join(marks) + " |")
        out += [
            "",
            (
                f"{len(self.results)} cells: {counts['✓']} pass, {counts['n/a']} n/a, "
                f"{counts['✗']} fail."
            ),
        ]
        for i, reason in enumerate(reasons, 1):
            out.append(f"{_sup(i)} {reason}")
        out.append("")
        return "\n".join(out)


    def summary(self) -> str | None:
        """A short table for the README: cells passed per peer, direction and version; `None`
        unless every cell of the matrix ran."""
        if any(_OUTCOMES.get(r.nodeid, "not run") == "not run" for r in self.results):
            return None
        passed: dict[tuple[str, str, str], list[int]] = {}
        for r in self.results:
            peer, direction, version, _key = r.cell.row
            slot = passed.setdefault((peer, direction, version), [0, 0])
            slot[1] += 1
            if _OUTCOMES.get(r.nodeid) == "pass":
                slot[0] += 1
        lines = [
            "| Peer | Direction | TLS 1.3 cells passed | TLS 1.2 cells passed |",
            "|---|---|---|---|",
        ]
        pairs = dict.fromkeys((peer, direction) for peer, direction, _ in passed)
        for peer, direction in pairs:
            cells = [passed.get((peer, direction, v), [0, 0]) for v in ("TLSv1.3", "TLSv1.2")]
            lines.append(
                f"| {peer} | {direction} | " + " | ".join(f"{p}/{n}" for p, n in cells) + " |"
            )
        total = sum(n for _, n in passed.values())
        ok = sum(p for p, _ in passed.values())
        lines += [
            "",
            (
                f"{ok} of {total} cells pass: RSA-2048, RSA-4096, ECDSA P-256, ECDSA P-384 and "
                "Ed25519 keys × every suite mpssl offers for the version × client "
                "authentication off and on; the full table is "
                "`tests/interop/INTEROP_MATRIX.md`. Generated by "
                f"`tests/interop/test_matrix.py` on {datetime.date.today().isoformat()}."
            ),
        ]
        return "\n".join(lines)


README_START = "<!-- interop-matrix:start (generated by tests/interop/test_matrix.py) -->"
README_END = "<!-- interop-matrix:end -->"


def _update_readme(summary: str) -> None:
    readme = HERE.parent.parent / "README.md"
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return
    new = text[: start + len(README_START)] + "\n" + summary + "\n" + text[end:]
    if new != text:
        readme.write_text(new)


def _sup(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _openssl_cli_version() -> str:
    try:
        out = subprocess.run(
            [openssl_binary(), "version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError, pytest.fail.Exception):
        return "(not found)"
    return out.removeprefix("OpenSSL ").split(" (")[0]


@pytest.fixture(scope="session")
def matrix_table() -> Iterator[Table]:
    t = Table()
    yield t
    if t.results:
        (HERE / "INTEROP_MATRIX.md").write_text(t.render())
        summary = t.summary()
        if summary is not None:
            _update_readme(summary)
    # the matrix has its own file; keep the generic MATRIX.md to the scenario tests
    for nodeid in list(_OUTCOMES):
        if "test_matrix.py::" in nodeid:
            del _OUTCOMES[nodeid]


@pytest.fixture
def kp(request: pytest.FixtureRequest, matrix_pki: Callable[[str], WebPki]) -> WebPki:
    """The PKI of the cell's key type."""
    return matrix_pki(request.node.callspec.params["cell"].key)


@pytest.fixture
def result(request: pytest.FixtureRequest, matrix_table: Table) -> Result:
    cell = request.node.callspec.params["cell"]
    return matrix_table.add(request.node.nodeid, cell)


# ------------------------------------------------------------------------------------------
# Helpers

MESSAGE = b"hello from the matrix\n"


def mpssl_client_ctx(cell: Cell, kp: WebPki) -> mpssl.SSLContext:
    ctx = kp.mpssl_client_ctx(cell.mtls)
    ctx.set_ciphers([cell.suite])
    assert ctx.get_ciphers() == [cell.suite]
    return ctx


def mpssl_server_ctx(cell: Cell, kp: WebPki) -> mpssl.SSLContext:
    ctx = kp.mpssl_server_ctx(cell.mtls)
    ctx.set_ciphers([cell.suite])
    assert ctx.get_ciphers() == [cell.suite]
    return ctx


def serve_mpssl(iop: Interop, cell: Cell, kp: WebPki) -> tuple[Any, int]:
    """The cell's mpssl echo server: its thread and port."""
    sctx = mpssl_server_ctx(cell, kp)
    return serve_echo(iop, lambda conn: sctx.wrap_socket(conn, server_side=True), peer_der=True)


def run_cell(result: Result, body: Callable[[], None]) -> None:
    """Run the cell; a not-applicable cell must fail in its documented way."""
    na = not_applicable(result.cell)
    if na is None:
        body()
        return
    reason, check = na
    try:
        body()
    except Exception as e:  # noqa: BLE001 - the kind is checked here
        assert check(e), f"cell documented as n/a ({reason}) failed otherwise: {e!r}"
    else:
        pytest.fail(f"cell documented as n/a ({reason}) works: take it out of NOT_APPLICABLE")
    result.na = reason


# ------------------------------------------------------------------------------------------
# CPython ssl


@pytest.mark.parametrize("cell", cells(CPY, "to-peer"))
def test_mpssl_client_cpython_server(iop: Interop, kp: WebPki, result: Result, cell: Cell) -> None:
    def body() -> None:
        sctx = kp.cpython_server_ctx(cell.version, cell.mtls)

        def serve(conn: socket.socket) -> dict[str, Any]:
            s = iop.track_tls(sctx.wrap_socket(conn, server_side=True))
            info: dict[str, Any] = {
                "version": s.version(),
                "cipher": s.cipher(),
                "peer_der": s.getpeercert(binary_form=True),
            }
            info["got"] = recv_line(s, 1024)
            s.sendall(b"echo:" + info["got"])
            info["eof"] = s.recv(16)
            s.close()
            return info

        task, port = serve_one(iop, serve)
        ctx = mpssl_client_ctx(cell, kp)
        c = iop.track_tls(ctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
        assert c.cipher() == (cell.suite, cell.version)
        assert c.getpeercert(binary_form=True) == kp.server.der
        assert c.write(MESSAGE) == len(MESSAGE)
        assert c.readline() == b"echo:" + MESSAGE
        c.close()
        info = task.join()
        assert info["version"] == cell.version
        assert OPENSSL_TO_MPSSL.get(info["cipher"][0]) == cell.suite, info["cipher"]
        assert info["got"] == MESSAGE
        assert info["eof"] == b""
        assert info["peer_der"] == (kp.client.der if cell.mtls else None)

    run_cell(result, body)


@pytest.mark.parametrize("cell", cells(CPY, "from-peer"))
def test_cpython_client_mpssl_server(iop: Interop, kp: WebPki, result: Result, cell: Cell) -> None:
    def body() -> None:
        task, port = serve_mpssl(iop, cell, kp)
        cctx = kp.cpython_client_ctx(cell.version, cell.mtls)
        c = iop.track_tls(cctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
        assert c.version() == cell.version
        cipher = c.cipher()
        assert cipher is not None
        assert OPENSSL_TO_MPSSL.get(cipher[0]) == cell.suite, cipher
        assert c.getpeercert(binary_form=True) == kp.server.der
        c.sendall(MESSAGE)
        assert recv_line(c, 1024) == b"echo:" + MESSAGE
        eof = c.recv(16)
        info = task.join()
        c.close()
        assert eof == b""
        assert info["cipher"] == (cell.suite, cell.version)
        assert info["got"] == MESSAGE
        assert info["peer_der"] == (kp.client.der if cell.mtls else None)

    run_cell(result, body)


# ------------------------------------------------------------------------------------------
# openssl s_server / s_client


@pytest.mark.parametrize("cell", cells(OSSL, "to-peer"))
def test_mpssl_client_openssl_s_server(
    iop: Interop, openssl: str, kp: WebPki, result: Result, cell: Cell
) -> None:
    def body() -> None:
        proc, port = start_s_server(iop, kp.s_server_argv(openssl, cell.version, cell.mtls))

        ctx = mpssl_client_ctx(cell, kp)
        c = iop.track_tls(ctx.wrap_socket(iop.connect(port), server_hostname="localhost"))
        assert c.cipher() == (cell.suite, cell.version)
        assert c.getpeercert(binary_form=True) == kp.server.der
        c.write(MESSAGE)
        assert c.readline() == MESSAGE[-2::-1] + b"\n"  # -rev: the line reversed
        c.write(b"CLOSE\n")
        assert c.read() == b""  # s_server closes with close_notify
        c.close()
        assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()
        assert openssl_field(proc, "Protocol version") == cell.version, proc.transcript()
        assert OPENSSL_TO_MPSSL.get(openssl_field(proc, "Ciphersuite")) == cell.suite
        if cell.mtls:
            assert openssl_field(proc, "Peer certificate") == f"CN = {kp.client_cn}"
            assert openssl_field(proc, "Verification") == "OK"

    run_cell(result, body)


@pytest.mark.parametrize("cell", cells(OSSL, "from-peer"))
def test_openssl_s_client_mpssl_server(
    iop: Interop, openssl: str, kp: WebPki, result: Result, cell: Cell
) -> None:
    def body() -> None:
        task, port = serve_mpssl(iop, cell, kp)
        proc = iop.start(kp.s_client_argv(openssl, port, cell.version, cell.mtls), name="s_client")
        proc.send(MESSAGE.decode())
        proc.close_stdin()
        info = task.join()
        assert proc.wait(PROC_TIMEOUT) == 0, proc.transcript()
        assert info["cipher"] == (cell.suite, cell.version)
        assert info["got"] == MESSAGE
        assert info["peer_der"] == (kp.client.der if cell.mtls else None)
        assert "echo:" + MESSAGE.decode().strip() in proc.lines, proc.transcript()
        assert openssl_field(proc, "Protocol version") == cell.version
        assert OPENSSL_TO_MPSSL.get(openssl_field(proc, "Ciphersuite")) == cell.suite
        assert openssl_field(proc, "Verification") == "OK"
        assert openssl_field(proc, "Verified peername") == "localhost"

    run_cell(result, body)
